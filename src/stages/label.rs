//! Text labels on images (track numbers on redaction previews, timecodes on contact sheets) in a
//! built-in 5x7 bitmap font: digits and a few symbols, so no font file or font crate is needed.

use image::{Rgb, RgbImage};

/// Glyph rows, top to bottom; bit 4 is the leftmost pixel.
fn glyph(c: char) -> Option<[u8; 7]> {
    Some(match c {
        '0' => [0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e],
        '1' => [0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e],
        '2' => [0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f],
        '3' => [0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e],
        '4' => [0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02],
        '5' => [0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e],
        '6' => [0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e],
        '7' => [0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e],
        '9' => [0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c],
        '#' => [0x0a, 0x0a, 0x1f, 0x0a, 0x1f, 0x0a, 0x0a],
        '-' => [0x00, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x00],
        ':' => [0x00, 0x0c, 0x0c, 0x00, 0x0c, 0x0c, 0x00],
        '.' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x0c],
        's' => [0x00, 0x00, 0x0e, 0x10, 0x0e, 0x01, 0x1e],
        'f' => [0x06, 0x09, 0x08, 0x1c, 0x08, 0x08, 0x08],
        ' ' => [0; 7],
        _ => return None,
    })
}

/// Size in pixels of `text` drawn at `scale`.
pub fn text_size(text: &str, scale: u32) -> (u32, u32) {
    let n = text.chars().count() as u32;
    ((n * 6).saturating_sub(1) * scale, 7 * scale)
}

/// Draws `text` with its top-left at (x, y) on a dark box, clipped to the image. Characters the
/// font lacks are drawn as blanks.
pub fn draw(img: &mut RgbImage, x: u32, y: u32, text: &str, scale: u32) {
    let (tw, th) = text_size(text, scale);
    let pad = scale;
    let put = |img: &mut RgbImage, px: u32, py: u32, c: Rgb<u8>| {
        if px < img.width() && py < img.height() {
            img.put_pixel(px, py, c);
        }
    };
    for py in y..y + th + 2 * pad {
        for px in x..x + tw + 2 * pad {
            put(img, px, py, Rgb([0, 0, 0]));
        }
    }
    for (i, c) in text.chars().enumerate() {
        let Some(rows) = glyph(c) else { continue };
        let gx = x + pad + i as u32 * 6 * scale;
        for (row, bits) in rows.iter().enumerate() {
            for col in 0..5u32 {
                if bits & (0x10 >> col) != 0 {
                    for dy in 0..scale {
                        for dx in 0..scale {
                            put(
                                img,
                                gx + col * scale + dx,
                                y + pad + row as u32 * scale + dy,
                                Rgb([255, 255, 255]),
                            );
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_are_distinct_and_drawn_in_place() {
        let all: Vec<[u8; 7]> = "0123456789#-:.sf".chars().filter_map(glyph).collect();
        assert_eq!(all.len(), 16);
        for (i, a) in all.iter().enumerate() {
            assert!(all[i + 1..].iter().all(|b| a != b), "glyph {i} repeated");
        }
        let mut img = RgbImage::from_pixel(40, 20, Rgb([100, 100, 100]));
        draw(&mut img, 2, 2, "#1", 1);
        // The box is dark, the '1' stem is white, and nothing outside the box changed.
        assert_eq!(img.get_pixel(2, 2), &Rgb([0, 0, 0]));
        let white = img.pixels().filter(|p| **p == Rgb([255, 255, 255])).count();
        assert!(white > 15, "{white}");
        assert_eq!(img.get_pixel(39, 19), &Rgb([100, 100, 100]));
        assert_eq!(text_size("#1", 2), (22, 14));
    }
}
