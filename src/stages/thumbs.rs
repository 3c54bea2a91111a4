//! Thumbnails from the one decode: a poster frame, one JPEG every `interval` of stream time
//! (starting at 0), and a contact sheet of them. Selected frames are scaled and converted by
//! GStreamer's video converter straight from the decoder's native format.

use std::path::{Path, PathBuf};

use gst_video::prelude::*;
use gstreamer as gst;
use gstreamer_video as gst_video;
use image::{RgbImage, codecs::jpeg::JpegEncoder};

use crate::error::{Error, Result, Stage};
use crate::media::pipeline::Frame;

/// Seconds between thumbnails.
pub const DEFAULT_INTERVAL_S: u64 = 10;
/// Thumbnail width in pixels.
pub const DEFAULT_WIDTH: u32 = 320;
/// The poster is the first frame at or after this time (or frame 0 for shorter clips).
pub const DEFAULT_POSTER_AT_MS: u64 = 1000;
/// JPEG quality.
pub const DEFAULT_QUALITY: u8 = 85;
/// Contact sheet columns.
pub const DEFAULT_SHEET_COLUMNS: u32 = 4;
/// Most tiles on a contact sheet; longer recordings take every k-th thumbnail.
pub const DEFAULT_SHEET_MAX_TILES: u64 = 48;

/// Frozen thumbnail settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Nanoseconds between thumbnails.
    pub interval_ns: u64,
    /// Output width.
    pub width: u32,
    /// Poster time in nanoseconds.
    pub poster_at_ns: u64,
    /// JPEG quality (1-100).
    pub quality: u8,
    /// Contact sheet columns.
    pub sheet_columns: u32,
    /// Contact sheet tile limit.
    pub sheet_max_tiles: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            interval_ns: DEFAULT_INTERVAL_S * 1_000_000_000,
            width: DEFAULT_WIDTH,
            poster_at_ns: DEFAULT_POSTER_AT_MS * 1_000_000,
            quality: DEFAULT_QUALITY,
            sheet_columns: DEFAULT_SHEET_COLUMNS,
            sheet_max_tiles: DEFAULT_SHEET_MAX_TILES,
        }
    }
}

impl Settings {
    /// Parameters recorded with the artefacts.
    pub fn params(&self) -> serde_json::Value {
        serde_json::json!({
            "interval_ns": self.interval_ns, "width": self.width, "poster_at_ns": self.poster_at_ns,
            "quality": self.quality, "sheet_columns": self.sheet_columns, "sheet_max_tiles": self.sheet_max_tiles,
        })
    }
}

/// Running thumbnail state.
#[derive(Debug)]
pub struct Thumbnailer {
    settings: Settings,
    dir: PathBuf,
    converter: Option<(
        gst_video::VideoInfo,
        gst_video::VideoConverter,
        gst_video::VideoInfo,
    )>,
    next_ns: u64,
    sheet_every: u64,
    poster: Option<PathBuf>,
    thumbs: Vec<PathBuf>,
    tiles: Vec<RgbImage>,
    first: Option<RgbImage>,
}

/// What the thumbnailer wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThumbReport {
    /// The poster JPEG.
    pub poster: PathBuf,
    /// Thumbnail JPEGs in time order.
    pub thumbnails: Vec<PathBuf>,
    /// The contact sheet JPEG.
    pub sheet: PathBuf,
}

impl Thumbnailer {
    /// Starts a thumbnailer writing into `dir`; `expected_ns` (the probed duration) sizes the sheet.
    pub fn new(settings: Settings, dir: &Path, expected_ns: Option<u64>) -> Self {
        let expected = expected_ns.unwrap_or(0) / settings.interval_ns.max(1) + 1;
        Self {
            settings,
            dir: dir.to_owned(),
            converter: None,
            next_ns: 0,
            sheet_every: expected.div_ceil(settings.sheet_max_tiles.max(1)).max(1),
            poster: None,
            thumbs: Vec::new(),
            tiles: Vec::new(),
            first: None,
        }
    }

    /// Looks at one frame, converting it only when it is selected.
    pub fn push(&mut self, f: &Frame<'_>) -> std::result::Result<(), (Stage, String)> {
        let want_thumb = f.pts_ns >= self.next_ns;
        let want_poster = self.poster.is_none() && f.pts_ns >= self.settings.poster_at_ns;
        if !(want_thumb || want_poster) {
            return Ok(());
        }
        let img = self.convert(f.video).map_err(|r| (Stage::Thumbnails, r))?;
        if want_poster {
            let p = self.dir.join("poster.jpg");
            self.write(&img, &p)?;
            self.poster = Some(p);
        }
        if want_thumb {
            let n = self.thumbs.len();
            let p = self.dir.join(format!("thumb_{n:04}.jpg"));
            self.write(&img, &p)?;
            self.thumbs.push(p);
            if (n as u64).is_multiple_of(self.sheet_every) {
                // Sheet tiles carry their time into the recording (stream time, H:MM:SS).
                let mut tile = img.clone();
                let text = timecode(f.pts_ns);
                let (_, th) = super::label::text_size(&text, 1);
                let y = tile.height().saturating_sub(th + 4);
                super::label::draw(&mut tile, 2, y, &text, 1);
                self.tiles.push(tile);
            }
            if n == 0 {
                self.first = Some(img.clone());
            }
            while self.next_ns <= f.pts_ns {
                self.next_ns += self.settings.interval_ns.max(1);
            }
        }
        Ok(())
    }

    fn write(&self, img: &RgbImage, path: &Path) -> std::result::Result<(), (Stage, String)> {
        write_jpeg(img, path, self.settings.quality).map_err(|e| (Stage::Thumbnails, e.to_string()))
    }

    fn convert(
        &mut self,
        src: &gst_video::VideoFrameRef<&gst::BufferRef>,
    ) -> std::result::Result<RgbImage, String> {
        let in_info = src.info();
        if self.converter.as_ref().is_none_or(|(i, _, _)| i != in_info) {
            let par = in_info.par();
            let display_w =
                in_info.width() as u64 * par.numer().max(1) as u64 / par.denom().max(1) as u64;
            let h = ((in_info.height() as u64 * self.settings.width as u64 + display_w / 2)
                / display_w.max(1))
            .max(2) as u32;
            let out_info =
                gst_video::VideoInfo::builder(gst_video::VideoFormat::Rgb, self.settings.width, h)
                    .fps(in_info.fps())
                    .interlace_mode(in_info.interlace_mode())
                    .build()
                    .map_err(|e| format!("thumbnail format: {e}"))?;
            let conv = gst_video::VideoConverter::new(in_info, &out_info, None)
                .map_err(|e| format!("no converter from {}: {e}", in_info.format().to_str()))?;
            self.converter = Some((in_info.clone(), conv, out_info));
        }
        let Some((_, conv, out_info)) = self.converter.as_ref() else {
            return Err("no converter".into());
        };
        let mut buffer = gst::Buffer::with_size(out_info.size()).map_err(|e| e.to_string())?;
        let (w, h) = (out_info.width(), out_info.height());
        let buffer_ref = buffer.get_mut().ok_or("new buffer is not writable")?;
        let mut dest = gst_video::VideoFrameRef::from_buffer_ref_writable(buffer_ref, out_info)
            .map_err(|_| "cannot map thumbnail buffer".to_string())?;
        conv.frame_ref(src, &mut dest);
        let stride = dest.plane_stride()[0] as usize;
        let data = dest.plane_data(0).map_err(|e| e.to_string())?;
        let row = w as usize * 3;
        let mut pixels = Vec::with_capacity(row * h as usize);
        for r in data.chunks(stride).take(h as usize) {
            pixels.extend_from_slice(&r[..row]);
        }
        RgbImage::from_raw(w, h, pixels).ok_or_else(|| "thumbnail buffer too small".into())
    }

    /// Writes the poster (if not yet written) and the contact sheet.
    pub fn finish(mut self) -> Result<ThumbReport> {
        let sheet = self.dir.join("contact_sheet.jpg");
        let fail = |p: &Path, reason: String| Error::Media {
            path: p.to_owned(),
            stage: Stage::Thumbnails,
            reason,
        };
        let poster = match self.poster.take() {
            Some(p) => p,
            None => {
                let p = self.dir.join("poster.jpg");
                // Clips shorter than the poster time: frame 0, which is always thumbnail 0.
                let first = self
                    .first
                    .as_ref()
                    .ok_or_else(|| fail(&p, "no frame to make a poster from".into()))?;
                write_jpeg(first, &p, self.settings.quality)?;
                p
            }
        };
        write_jpeg(
            &contact_sheet(&self.tiles, self.settings.sheet_columns),
            &sheet,
            self.settings.quality,
        )?;
        Ok(ThumbReport {
            poster,
            thumbnails: self.thumbs,
            sheet,
        })
    }
}

/// Stream time as `H:MM:SS`.
pub fn timecode(ns: u64) -> String {
    let s = ns / 1_000_000_000;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// Lays tiles out in a grid with a 4-pixel dark border.
pub fn contact_sheet(tiles: &[RgbImage], columns: u32) -> RgbImage {
    const GAP: u32 = 4;
    let (tw, th) = tiles
        .iter()
        .fold((1, 1), |(w, h), t| (w.max(t.width()), h.max(t.height())));
    let cols = columns.clamp(1, tiles.len().max(1) as u32);
    let rows = (tiles.len() as u32).div_ceil(cols).max(1);
    let mut sheet = RgbImage::from_pixel(
        cols * (tw + GAP) + GAP,
        rows * (th + GAP) + GAP,
        image::Rgb([24, 24, 24]),
    );
    for (i, t) in tiles.iter().enumerate() {
        let (c, r) = (i as u32 % cols, i as u32 / cols);
        image::imageops::replace(
            &mut sheet,
            t,
            (GAP + c * (tw + GAP)) as i64,
            (GAP + r * (th + GAP)) as i64,
        );
    }
    sheet
}

/// Writes and fsyncs a JPEG.
/// Writes `img` as a new JPEG file: never over an existing file, nor through a link.
pub(crate) fn write_jpeg(img: &RgbImage, path: &Path, quality: u8) -> Result<()> {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(Error::io(path, Stage::Thumbnails, "create"))?;
    let mut w = std::io::BufWriter::new(file);
    JpegEncoder::new_with_quality(&mut w, quality)
        .encode_image(img)
        .map_err(|e| Error::Media {
            path: path.to_owned(),
            stage: Stage::Thumbnails,
            reason: format!("JPEG encode: {e}"),
        })?;
    let file = w
        .into_inner()
        .map_err(|e| Error::io(path, Stage::Thumbnails, "flush")(e.into_error()))?;
    file.sync_all()
        .map_err(Error::io(path, Stage::Thumbnails, "fsync"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timecodes() {
        assert_eq!(timecode(0), "0:00:00");
        assert_eq!(timecode(61_500_000_000), "0:01:01");
        assert_eq!(timecode(3_725_000_000_000), "1:02:05");
    }

    #[test]
    fn sheet_grid_geometry() {
        let tiles: Vec<RgbImage> = (0..5)
            .map(|i| RgbImage::from_pixel(32, 18, image::Rgb([i * 40, 0, 0])))
            .collect();
        let s = contact_sheet(&tiles, 4);
        assert_eq!((s.width(), s.height()), (4 * 36 + 4, 2 * 22 + 4));
        assert_eq!(s.get_pixel(4 + 36, 4).0, [40, 0, 0], "second tile in place");
        assert_eq!(
            s.get_pixel(4, 4 + 22).0,
            [160, 0, 0],
            "fifth tile wraps to row two"
        );
        assert_eq!(s.get_pixel(0, 0).0, [24, 24, 24], "border");
    }
}
