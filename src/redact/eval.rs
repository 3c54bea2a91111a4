//! Measuring a redaction against per-frame ground truth (the sidecar format of the project's
//! `make_clip.py`): recall over face instances, the longest run of frames any one face was
//! exposed, and the share of non-face pixels that changed.
//!
//! Definitions (luma only, frame by frame):
//! - a face instance is *covered* when the middle of its box (the box less 10 % each side) lost
//!   its detail: the redacted copy keeps at most half of the original's gradient energy there
//!   (sum of absolute horizontal and vertical differences). A box whose original holds almost no
//!   detail (under 1 per pixel) has nothing to reveal and counts as covered;
//! - *non-face pixels* are those outside every face box grown to 1.3× (the mask size the issue
//!   asks for) and outside the sidecar's `ignore` regions; one has *changed* when its value moved
//!   by more than 12 levels (compression moves most pixels by a few).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One frame of the sidecar.
#[derive(Debug, Clone, Deserialize)]
pub struct TruthFrame {
    /// Frame index.
    pub frame: u64,
    /// Face boxes `[x, y, w, h]`.
    pub boxes: Vec<[i64; 4]>,
    /// Stable face ids, one per box.
    #[serde(default)]
    pub ids: Vec<i64>,
    /// Regions to count neither way.
    #[serde(default)]
    pub ignore: Vec<[i64; 4]>,
}

/// The sidecar.
#[derive(Debug, Clone, Deserialize)]
pub struct Truth {
    /// Frame width.
    pub width: usize,
    /// Frame height.
    pub height: usize,
    /// Per-frame boxes.
    pub frames: Vec<TruthFrame>,
}

/// Running totals.
#[derive(Debug, Clone, Default)]
pub struct Evaluator {
    faces: u64,
    covered: u64,
    runs: BTreeMap<i64, u64>,
    longest: u64,
    longest_id: Option<i64>,
    non_face: u64,
    changed: u64,
    frames: u64,
    exposures: Vec<Exposure>,
    per_frame_changed: Vec<(u64, f64)>,
    by_height: [(u64, u64); 4],
}

/// Face-height buckets of the size breakdown, in pixels: below 24, 24–47, 48–95, 96 and up.
pub const HEIGHT_BUCKETS: [&str; 4] = ["<24", "24-47", "48-95", ">=96"];

fn bucket(h: i64) -> usize {
    match h {
        ..24 => 0,
        24..48 => 1,
        48..96 => 2,
        _ => 3,
    }
}

/// Recall of one size bucket.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SizeRecall {
    /// Face heights covered, e.g. "24-47".
    pub heights: &'static str,
    /// Instances.
    pub faces: u64,
    /// Covered.
    pub covered: u64,
}

/// One face instance left exposed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Exposure {
    /// Frame.
    pub frame: u64,
    /// Face id.
    pub id: i64,
    /// Its box `[x, y, w, h]`.
    pub r#box: [i64; 4],
    /// Detail kept (redacted / original gradient energy).
    pub detail_kept: f64,
}

/// Exposures listed in a report at most.
const MAX_EXPOSURES: usize = 100;

/// The result.
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    /// Frames compared.
    pub frames: u64,
    /// Face instances in the ground truth.
    pub faces: u64,
    /// Instances covered.
    pub covered: u64,
    /// covered / faces.
    pub recall: f64,
    /// Longest run of consecutive frames one face was exposed.
    pub longest_exposed_run: u64,
    /// Which face that was.
    pub longest_exposed_id: Option<i64>,
    /// Share of non-face pixels changed, in percent.
    pub non_face_changed_percent: f64,
    /// The first exposed face instances.
    pub exposures: Vec<Exposure>,
    /// The frames with the most non-face change: (frame, percent).
    pub most_changed_frames: Vec<(u64, f64)>,
    /// Recall by face height (truncated boxes count by their visible height).
    pub by_height: Vec<SizeRecall>,
}

/// Clips a box to the frame: (x0, y0, x1, y1).
fn clip(b: [i64; 4], w: usize, h: usize, grow: f64) -> (usize, usize, usize, usize) {
    let (cx, cy) = (
        b[0] as f64 + b[2] as f64 / 2.0,
        b[1] as f64 + b[3] as f64 / 2.0,
    );
    let (hw, hh) = (b[2] as f64 * grow / 2.0, b[3] as f64 * grow / 2.0);
    let c = |v: f64, max: usize| v.round().clamp(0.0, max as f64) as usize;
    (c(cx - hw, w), c(cy - hh, h), c(cx + hw, w), c(cy + hh, h))
}

/// Gradient energy of a region: (sum, pixels).
fn detail(f: &[u8], w: usize, (x0, y0, x1, y1): (usize, usize, usize, usize)) -> (u64, u64) {
    let mut sum = 0u64;
    for y in y0..y1.saturating_sub(1) {
        for x in x0..x1.saturating_sub(1) {
            let p = f[y * w + x];
            sum +=
                u64::from(p.abs_diff(f[y * w + x + 1])) + u64::from(p.abs_diff(f[(y + 1) * w + x]));
        }
    }
    (sum, ((x1 - x0) * (y1 - y0)) as u64)
}

impl Evaluator {
    /// Adds one frame: the original's and the redacted copy's luma (`w`×`h`, packed).
    pub fn frame(
        &mut self,
        truth: Option<&TruthFrame>,
        orig: &[u8],
        red: &[u8],
        w: usize,
        h: usize,
    ) {
        self.frames += 1;
        let empty = TruthFrame {
            frame: 0,
            boxes: Vec::new(),
            ids: Vec::new(),
            ignore: Vec::new(),
        };
        let t = truth.unwrap_or(&empty);
        let mut seen = Vec::new();
        for (i, b) in t.boxes.iter().enumerate() {
            let inner = clip(*b, w, h, 0.8);
            if inner.2 <= inner.0 + 1 || inner.3 <= inner.1 + 1 {
                continue;
            }
            self.faces += 1;
            let (d0, n) = detail(orig, w, inner);
            let (d1, _) = detail(red, w, inner);
            let covered = d0 < n || d1 * 2 <= d0;
            let slot = &mut self.by_height[bucket(b[3])];
            slot.0 += 1;
            slot.1 += u64::from(covered);
            let id = t.ids.get(i).copied().unwrap_or(-(i as i64) - 1);
            seen.push(id);
            if covered {
                self.covered += 1;
                self.runs.insert(id, 0);
            } else {
                if self.exposures.len() < MAX_EXPOSURES {
                    self.exposures.push(Exposure {
                        frame: t.frame,
                        id,
                        r#box: *b,
                        detail_kept: d1 as f64 / d0.max(1) as f64,
                    });
                }
                let run = self.runs.entry(id).or_insert(0);
                *run += 1;
                if *run > self.longest {
                    self.longest = *run;
                    self.longest_id = Some(id);
                }
            }
        }
        // A face that left the frame ends its run.
        self.runs.retain(|id, _| seen.contains(id));

        let mut face = vec![false; w * h];
        for (b, grow) in t
            .boxes
            .iter()
            .map(|b| (b, 1.3))
            .chain(t.ignore.iter().map(|b| (b, 1.0)))
        {
            let (x0, y0, x1, y1) = clip(*b, w, h, grow);
            for y in y0..y1 {
                face[y * w + x0..y * w + x1].fill(true);
            }
        }
        let (mut n, mut c) = (0u64, 0u64);
        for ((o, r), f) in orig.iter().zip(red).zip(&face) {
            if !f {
                n += 1;
                if o.abs_diff(*r) > 12 {
                    c += 1;
                }
            }
        }
        self.non_face += n;
        self.changed += c;
        self.per_frame_changed.push((
            t.frame,
            if n == 0 {
                0.0
            } else {
                100.0 * c as f64 / n as f64
            },
        ));
    }

    /// The totals.
    pub fn report(&self) -> EvalReport {
        EvalReport {
            frames: self.frames,
            faces: self.faces,
            covered: self.covered,
            recall: if self.faces == 0 {
                1.0
            } else {
                self.covered as f64 / self.faces as f64
            },
            longest_exposed_run: self.longest,
            longest_exposed_id: self.longest_id,
            non_face_changed_percent: if self.non_face == 0 {
                0.0
            } else {
                100.0 * self.changed as f64 / self.non_face as f64
            },
            exposures: self.exposures.clone(),
            by_height: HEIGHT_BUCKETS
                .iter()
                .zip(self.by_height)
                .map(|(h, (faces, covered))| SizeRecall {
                    heights: h,
                    faces,
                    covered,
                })
                .collect(),
            most_changed_frames: {
                let mut v = self.per_frame_changed.clone();
                v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                v.truncate(10);
                v
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covered_exposed_and_changed_are_counted() {
        let (w, h) = (40, 20);
        // Original: a checkerboard "face" at x 5..15, plain elsewhere.
        let mut orig = vec![100u8; w * h];
        for y in 5..15 {
            for x in 5..15 {
                orig[y * w + x] = if (x + y) % 2 == 0 { 0 } else { 200 };
            }
        }
        let truth = TruthFrame {
            frame: 0,
            boxes: vec![[5, 5, 10, 10]],
            ids: vec![7],
            ignore: vec![],
        };
        let mut covered = orig.clone();
        for y in 5..15 {
            covered[y * w + 5..y * w + 15].fill(100);
        }
        let mut e = Evaluator::default();
        e.frame(Some(&truth), &orig, &orig, w, h); // exposed
        e.frame(Some(&truth), &orig, &orig, w, h); // exposed
        e.frame(Some(&truth), &orig, &covered, w, h); // covered
        e.frame(Some(&truth), &orig, &orig, w, h); // exposed again: run restarts
        let mut changed = covered.clone();
        changed[19 * w + 39] = 255; // one background pixel changed
        e.frame(Some(&truth), &orig, &changed, w, h);
        let r = e.report();
        assert_eq!((r.faces, r.covered), (5, 2));
        assert_eq!((r.longest_exposed_run, r.longest_exposed_id), (2, Some(7)));
        assert!(r.non_face_changed_percent > 0.0 && r.non_face_changed_percent < 1.0);
        assert_eq!((r.by_height[0].faces, r.by_height[0].covered), (5, 2));
    }
}
