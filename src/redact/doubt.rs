//! What the detector was unsure of and nothing masks. A candidate that scored from
//! [`DOUBT_FROM`](super::detect::DOUBT_FROM) up to the threshold, was not found on a closer look either, and whose centre
//! no track's mask covers is left sharp. A face the detector misses at every detection frame shows up here
//! instead of as a silent exposure: the plan and the redaction report list these candidates,
//! grouped into regions over frame ranges, for a reviewer to check (and to hide with `--box`
//! when one is a face).

use serde::{Deserialize, Serialize};

use super::detect::{Detection, covers, iou};
use super::mask::{DEFAULT_GROW, Ellipse};
use super::track::Track;

/// A region where the detector scored something just under the threshold, on one or more
/// detection frames, and no track's mask (at the default size) covers its centre.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unmasked {
    /// First detection frame it was seen on.
    pub first_frame: u64,
    /// Last detection frame it was seen on.
    pub last_frame: u64,
    /// Detection frames it was seen on.
    pub seen: u64,
    /// Its highest score.
    pub best_score: f32,
    /// The frame of that score.
    pub best_frame: u64,
    /// The box of that score, in frame pixels: x, y, width, height.
    pub region: [u32; 4],
}

/// Candidates seen again within this many frames of the last sighting, overlapping it, are one
/// region.
pub const REGION_GAP: u64 = 15;

/// The regions of `candidates` (frame, detection; in frame order) whose centre no track's mask
/// covers in their frame: the mask as a render draws it by default ([`Ellipse::around_face`]
/// in a frame of `size`).
pub fn unmasked(
    candidates: &[(u64, Detection)],
    tracks: &[Track],
    size: (f32, f32),
) -> Vec<Unmasked> {
    let masked = |frame: u64, d: &Detection| {
        let (cx, cy) = ((d.x0 + d.x1) / 2.0, (d.y0 + d.y1) / 2.0);
        tracks.iter().filter_map(|t| t.box_at(frame)).any(|b| {
            Ellipse::around_face(b.x0, b.y0, b.x1, b.y1, DEFAULT_GROW, size).contains(cx, cy)
        })
    };
    // Each open region with its latest box.
    let mut regions: Vec<(Unmasked, Detection)> = Vec::new();
    for (frame, d) in candidates.iter().filter(|(f, d)| !masked(*f, d)) {
        let near = regions.iter_mut().rev().find(|(r, last)| {
            frame - r.last_frame <= REGION_GAP
                && (iou(last, d) > 0.3 || covers(last, d) || covers(d, last))
        });
        match near {
            Some((r, last)) => {
                r.seen += u64::from(*frame != r.last_frame);
                r.last_frame = *frame;
                if d.score > r.best_score {
                    r.best_score = d.score;
                    r.best_frame = *frame;
                    r.region = pixels(d);
                }
                *last = *d;
            }
            None => regions.push((
                Unmasked {
                    first_frame: *frame,
                    last_frame: *frame,
                    seen: 1,
                    best_score: d.score,
                    best_frame: *frame,
                    region: pixels(d),
                },
                *d,
            )),
        }
    }
    regions.into_iter().map(|(r, _)| r).collect()
}

/// A box as whole pixels (x, y, width, height), grown outwards to whole pixels.
fn pixels(d: &Detection) -> [u32; 4] {
    let (x0, y0) = (d.x0.max(0.0).floor(), d.y0.max(0.0).floor());
    let (x1, y1) = (d.x1.max(0.0).ceil(), d.y1.max(0.0).ceil());
    [x0 as u32, y0 as u32, (x1 - x0) as u32, (y1 - y0) as u32]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::track::TrackBox;

    fn det(x: f32, y: f32, score: f32) -> Detection {
        Detection {
            x0: x,
            y0: y,
            x1: x + 20.0,
            y1: y + 24.0,
            score,
        }
    }

    #[test]
    fn candidates_no_track_covers_become_regions_over_frames() {
        let track = Track {
            id: 1,
            first_frame: 0,
            last_frame: 9,
            detections: 4,
            best_score: 0.9,
            best_frame: 0,
            boxes: (0..10)
                .map(|f| TrackBox::from_det(f, &det(100.0, 100.0, 0.9)))
                .collect(),
        };
        let candidates = [
            // Under the track's mask (its box grown 1.3 times): masked, not listed.
            (3, det(102.0, 101.0, 0.15)),
            (3, det(88.0, 100.0, 0.15)),
            // One region, moving a little, seen three times.
            (3, det(300.5, 50.2, 0.12)),
            (6, det(303.0, 52.0, 0.18)),
            (9, det(306.0, 54.0, 0.11)),
            // Elsewhere at once: its own region.
            (6, det(10.0, 400.0, 0.14)),
            // Just outside the mask: listed.
            (9, det(80.0, 100.0, 0.12)),
            // Where the first was, but long after it: a new region.
            (40, det(306.0, 54.0, 0.13)),
            // Where the track was, after it ended: not masked.
            (12, det(100.0, 100.0, 0.19)),
        ];
        let mut sorted = candidates.to_vec();
        sorted.sort_by_key(|(f, _)| *f);
        let regions = unmasked(&sorted, &[track], (1920.0, 1080.0));
        let brief: Vec<_> = regions
            .iter()
            .map(|r| (r.first_frame, r.last_frame, r.seen, r.best_frame, r.region))
            .collect();
        assert_eq!(
            brief,
            [
                (3, 9, 3, 6, [303, 52, 20, 24]),
                (6, 6, 1, 6, [10, 400, 20, 24]),
                (9, 9, 1, 9, [80, 100, 20, 24]),
                (12, 12, 1, 12, [100, 100, 20, 24]),
                (40, 40, 1, 40, [306, 54, 20, 24]),
            ]
        );
        assert_eq!(regions[0].best_score, 0.18);
        assert_eq!(pixels(&det(300.5, 50.2, 0.1)), [300, 50, 21, 25]);
    }
}
