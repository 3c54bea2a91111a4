//! Linking per-frame detections into tracks so nothing flashes through: detections are matched to
//! tracks by overlap with a motion-predicted box (or, for small fast faces, by centre distance),
//! gaps are filled by interpolation, and every track is extended a few frames before its first
//! and after its last detection. Deterministic: the same detections give the same tracks.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::detect::{Detection, iou};

/// Tracker settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrackSettings {
    /// Minimum IoU with the predicted box to continue a track.
    pub min_iou: f32,
    /// Otherwise, maximum centre distance as a fraction of the face's size, per frame since the
    /// track was last seen (up to 4 frames).
    pub max_centre_jump: f32,
    /// Frames a track may go undetected before it ends (gaps up to this are filled).
    pub max_gap: u64,
    /// Frames each mask starts before a track's first detection.
    pub pad_before: u64,
    /// Frames each mask lasts after a track's last detection.
    pub pad_after: u64,
    /// Frames at least that a mask lasts after the last detection of a face lost well inside
    /// the picture (gone behind someone, turned away), not leaving it; large faces otherwise
    /// get a short tail. Absent from older plans: 0.
    #[serde(default)]
    pub hold_inside: u64,
    /// A track whose last detection scored under this was fading from view (turning away,
    /// going behind something, half out of the picture) rather than gone at once: its mask
    /// gets the whole `pad_after`, whatever the face's size. Absent from older plans: 0.
    #[serde(default)]
    pub fading_below: f32,
}

/// Defaults: IoU 0.2 or a centre jump under 0.7 face sizes; gaps up to 15 frames (0.5 s at
/// 30 fps) filled; masks extended up to 10 frames either side (a small face entering the
/// picture is often found only once most of it is in), fewer for large faces, but at least
/// 6 after a face lost inside the picture: two detection frames at the default spacing (a
/// face going behind another is lost while a third of it still shows), and all 10 after a
/// last detection scoring under 0.5 (a fading face is often still a third visible 9 frames on).
pub const DEFAULT_TRACKING: TrackSettings = TrackSettings {
    min_iou: 0.2,
    max_centre_jump: 0.7,
    max_gap: 15,
    pad_before: 10,
    pad_after: 10,
    hold_inside: 6,
    fading_below: 0.5,
};

impl Default for TrackSettings {
    fn default() -> Self {
        DEFAULT_TRACKING
    }
}

/// The shortest span, in frames, over which a track's motion is measured when its detections
/// allow: detections one frame apart (a new track confirmed on the next frame) give the
/// direction, but the detector's jitter of a pixel or two would dominate the speed.
const MOTION_BASE: u64 = 3;

/// A box in one frame of a track.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrackBox {
    /// Frame index.
    pub frame: u64,
    /// Left.
    pub x0: f32,
    /// Top.
    pub y0: f32,
    /// Right.
    pub x1: f32,
    /// Bottom.
    pub y1: f32,
    /// Detector score, or 0 for a filled or extended box.
    pub score: f32,
}

impl TrackBox {
    pub(crate) fn from_det(frame: u64, d: &Detection) -> Self {
        Self {
            frame,
            x0: d.x0,
            y0: d.y0,
            x1: d.x1,
            y1: d.y1,
            score: d.score,
        }
    }

    fn as_det(&self) -> Detection {
        Detection {
            x0: self.x0,
            y0: self.y0,
            x1: self.x1,
            y1: self.y1,
            score: self.score,
        }
    }

    fn lerp(a: &Self, b: &Self, frame: u64) -> Self {
        let t = (frame - a.frame) as f32 / (b.frame - a.frame) as f32;
        let mix = |p: f32, q: f32| p + (q - p) * t;
        Self {
            frame,
            x0: mix(a.x0, b.x0),
            y0: mix(a.y0, b.y0),
            x1: mix(a.x1, b.x1),
            y1: mix(a.y1, b.y1),
            score: 0.0,
        }
    }
}

/// A face followed across frames.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Track {
    /// 1-based id, in order of first appearance.
    pub id: u32,
    /// First frame masked (including the lead-in).
    pub first_frame: u64,
    /// Last frame masked (including the tail).
    pub last_frame: u64,
    /// Frames where the detector found it.
    pub detections: u64,
    /// Highest detector score.
    pub best_score: f32,
    /// Frame of the best detection (for the preview crop).
    pub best_frame: u64,
    /// One box per frame from `first_frame` to `last_frame`.
    pub boxes: Vec<TrackBox>,
}

impl Track {
    /// The box in `frame`, if the track covers it.
    pub fn box_at(&self, frame: u64) -> Option<&TrackBox> {
        frame
            .checked_sub(self.first_frame)
            .and_then(|i| self.boxes.get(i as usize))
    }
}

/// A track being built: its detections in frame order (never empty).
#[derive(Debug)]
struct Open {
    id: u32,
    seen: Vec<TrackBox>,
    /// A frame before the first detection where the detector looked for this face around
    /// where it was first seen, and did not find it (see [`Tracker::extend_back`]).
    absent_at: Option<u64>,
}

impl Open {
    fn first(&self) -> &TrackBox {
        &self.seen[0]
    }

    fn last(&self) -> &TrackBox {
        &self.seen[self.seen.len() - 1]
    }

    /// The detection to measure the motion at the end of the track against: the latest one
    /// at least [`MOTION_BASE`] frames before the last, else the one just before it.
    fn before_last(&self) -> Option<&TrackBox> {
        let last = self.last().frame;
        let earlier = &self.seen[..self.seen.len() - 1];
        earlier
            .iter()
            .rev()
            .find(|b| b.frame + MOTION_BASE <= last)
            .or(earlier.last())
    }

    /// The detection to measure the motion at the start of the track against: the earliest
    /// one at least [`MOTION_BASE`] frames after the first, else the one just after it.
    fn after_first(&self) -> Option<&TrackBox> {
        let first = self.first().frame;
        let later = &self.seen[1..];
        later
            .iter()
            .find(|b| b.frame >= first + MOTION_BASE)
            .or(later.first())
    }

    /// Whether the motion at the start, which the lead-in follows, is final: once a
    /// detection [`MOTION_BASE`] frames after the first exists, no later one changes
    /// [`Self::after_first`].
    fn start_settled(&self) -> bool {
        let first = self.first().frame;
        self.seen.iter().any(|b| b.frame >= first + MOTION_BASE)
    }

    /// The box predicted for `frame` from the motion at the end of the track.
    fn predict(&self, frame: u64) -> Detection {
        let last = self.last();
        let Some(prev) = self.before_last() else {
            return last.as_det();
        };
        let dt = (last.frame - prev.frame) as f32;
        let ahead = (frame - last.frame) as f32;
        let (vx, vy) = (
            ((last.x0 + last.x1) - (prev.x0 + prev.x1)) / 2.0 / dt,
            ((last.y0 + last.y1) - (prev.y0 + prev.y1)) / 2.0 / dt,
        );
        Detection {
            x0: last.x0 + vx * ahead,
            y0: last.y0 + vy * ahead,
            x1: last.x1 + vx * ahead,
            y1: last.y1 + vy * ahead,
            score: last.score,
        }
    }

    /// First frame masked: the lead-in before the first detection. The lead-in of a large
    /// face first seen clearly (scoring at least `fading_below`) stops after a frame where
    /// the detector looked for it and did not find it: it came into view at once (from
    /// behind something, or a quick turn of the camera). A face first seen weakly may have
    /// been coming into view for a while, too faint to find; small faces may be missed.
    /// Both keep the whole lead-in.
    fn start(&self, s: &TrackSettings) -> u64 {
        let first = self.first();
        let mut lead = pad(s.pad_before, first);
        let clear = lead < s.pad_before && first.score >= s.fading_below;
        if let Some(absent) = self.absent_at.filter(|_| clear) {
            lead = lead.min(first.frame - absent - 1);
        }
        first.frame.saturating_sub(lead)
    }

    /// Last frame masked (before clipping to the recording's length): the tail after the last
    /// detection, in a frame of `size` if known.
    fn end(&self, s: &TrackSettings, size: Option<(f32, f32)>) -> u64 {
        let last = self.last();
        let mut tail = pad(s.pad_after, last);
        // One detection (perhaps a false one) is not held.
        if self.seen.len() > 1 {
            if inside(last, size) {
                tail = tail.max(s.hold_inside);
            }
            if last.score < s.fading_below {
                tail = tail.max(s.pad_after);
            }
        }
        last.frame + tail
    }

    /// The box in `frame`: a detection, interpolated between two, or carried along the motion
    /// before the first and after the last.
    fn box_at(&self, frame: u64) -> TrackBox {
        let seen = &self.seen;
        let (first, last) = (self.first(), self.last());
        if frame < first.frame {
            return extrapolate(first, self.after_first(), frame);
        }
        if frame > last.frame {
            return extrapolate(last, self.before_last(), frame);
        }
        match seen.binary_search_by_key(&frame, |b| b.frame) {
            Ok(i) => seen[i],
            // first.frame < frame < last.frame, so 0 < i < len.
            Err(i) => TrackBox::lerp(&seen[i - 1], &seen[i], frame),
        }
    }

    /// The finished track for a recording of `frames` frames.
    fn finish(self, frames: u64, s: &TrackSettings, size: Option<(f32, f32)>) -> Track {
        let start = self.start(s);
        let end = self
            .end(s, size)
            .min(frames.saturating_sub(1))
            .max(self.last().frame);
        let boxes = (start..=end).map(|f| self.box_at(f)).collect();
        let best = self
            .seen
            .iter()
            .max_by(|a, b| a.score.total_cmp(&b.score).then(b.frame.cmp(&a.frame)))
            .copied()
            .unwrap_or(*self.first());
        Track {
            id: self.id,
            first_frame: start,
            last_frame: end,
            detections: self.seen.len() as u64,
            best_score: best.score,
            best_frame: best.frame,
            boxes,
        }
    }
}

/// Lead-in or tail length for a face of `b`'s size. Large faces are found as soon as they show;
/// small ones often only once they are well in view. So the padding shrinks with size: full
/// for faces up to 96 px tall, then with the square of the size, never under 2 frames.
fn pad(n: u64, b: &TrackBox) -> u64 {
    let k = (96.0 / (b.y1 - b.y0).max(1.0)).min(1.0);
    ((n as f32 * k * k).round() as u64).clamp(n.min(2), n)
}

/// Whether `d` lies well inside a frame of `size`: at least half its width from every edge,
/// so that the face, if lost next, cannot have just left the picture.
fn inside(d: &TrackBox, size: Option<(f32, f32)>) -> bool {
    let margin = (d.x1 - d.x0) / 2.0;
    size.is_some_and(|(w, h)| {
        d.x0 >= margin && d.y0 >= margin && d.x1 <= w - margin && d.y1 <= h - margin
    })
}

/// Affinity of a detection to a predicted box `gap` frames after the track was last seen: IoU,
/// or a centre-distance score for small fast faces whose boxes no longer overlap (the allowed
/// jump grows with the gap, as the face had longer to move); `None` when they cannot be the
/// same face.
fn affinity(pred: &Detection, d: &Detection, gap: u64, s: &TrackSettings) -> Option<f32> {
    let overlap = iou(pred, d);
    if overlap >= s.min_iou {
        return Some(1.0 + overlap);
    }
    let size = ((pred.w() + pred.h() + d.w() + d.h()) / 4.0).max(1.0);
    let ratio = (d.h() / pred.h().max(1.0)).max(pred.h() / d.h().max(1.0));
    let (dx, dy) = (
        (pred.x0 + pred.x1 - d.x0 - d.x1) / 2.0,
        (pred.y0 + pred.y1 - d.y0 - d.y1) / 2.0,
    );
    let jump = (dx * dx + dy * dy).sqrt() / size;
    let limit = s.max_centre_jump * gap.clamp(1, 4) as f32;
    (jump <= limit && ratio <= 2.0).then(|| 1.0 - jump / limit)
}

/// Links detections into tracks as frames arrive, so a render can mask a frame as soon as no
/// later detection can change its boxes (see [`Tracker::settled`]) while the decode goes on.
/// Fed the same detections, it gives exactly the tracks of [`track`].
#[derive(Debug)]
pub struct Tracker {
    s: TrackSettings,
    open: Vec<Open>,
    done: Vec<Open>,
    next_id: u32,
    /// Frame width and height, once known.
    size: Option<(f32, f32)>,
}

impl Tracker {
    /// An empty tracker.
    pub fn new(s: TrackSettings) -> Self {
        Self {
            s,
            open: Vec::new(),
            done: Vec::new(),
            next_id: 1,
            size: None,
        }
    }

    /// The tracker for frames of `width`×`height`, so that it knows a face lost inside the
    /// picture from one leaving it (without a size, every face counts as leaving).
    pub fn in_frame(self, width: f32, height: f32) -> Self {
        Self {
            size: Some((width, height)),
            ..self
        }
    }

    /// Adds the detections of `frame` (frames in increasing order; a frame the detector ran
    /// on and found nothing may be pushed with none). Returns the track id each detection
    /// joined or started.
    pub fn push(&mut self, frame: u64, dets: &[Detection]) -> Vec<u32> {
        let s = self.s;
        // Retire tracks not seen for longer than the gap allows.
        let (keep, retire): (Vec<Open>, Vec<Open>) = std::mem::take(&mut self.open)
            .into_iter()
            .partition(|t| frame - t.last().frame <= s.max_gap + 1);
        self.done.extend(retire);
        self.open = keep;
        let matched = self.match_to(dets, |t| Some((t.predict(frame), frame - t.last().frame)));
        let mut ids = vec![0u32; dets.len()];
        for (t, m) in self.open.iter_mut().zip(matched) {
            if let Some(di) = m {
                ids[di] = t.id;
                t.seen.push(TrackBox::from_det(frame, &dets[di]));
            }
        }
        // New tracks, left to right for stable ids.
        let mut fresh: Vec<usize> = (0..dets.len()).filter(|&i| ids[i] == 0).collect();
        fresh.sort_by(|&a, &b| {
            (dets[a].x0.total_cmp(&dets[b].x0)).then(dets[a].y0.total_cmp(&dets[b].y0))
        });
        for i in fresh {
            ids[i] = self.next_id;
            self.open.push(Open {
                id: self.next_id,
                seen: vec![TrackBox::from_det(frame, &dets[i])],
                absent_at: None,
            });
            self.next_id += 1;
        }
        ids
    }

    /// The tracks started by a detection at `frame` and seen nowhere else yet, with that
    /// detection. One detection gives no motion, so the caller should look for these faces
    /// again on the next frame: faces that move more than their own size between detection
    /// frames (a crowd passing the camera, a quick pan) are then linked by their motion rather
    /// than to a neighbour that happens to lie where they went. It may also look for them on
    /// the frames before ([`Tracker::extend_back`]).
    pub fn started_at(&self, frame: u64) -> Vec<(u32, Detection)> {
        self.open
            .iter()
            .filter(|t| t.seen.len() == 1 && t.first().frame == frame)
            .map(|t| (t.id, t.first().as_det()))
            .collect()
    }

    /// Where each open track's face should be in `frame` (after every frame pushed so far),
    /// by its motion: where to look for the faces already followed.
    pub fn expected_at(&self, frame: u64) -> Vec<Detection> {
        let s = self.s;
        self.open
            .iter()
            .filter(|t| frame - t.last().frame <= s.max_gap + 1)
            .map(|t| t.predict(frame))
            .collect()
    }

    /// Matches `dets` to the open tracks: `expect` gives, for each track to consider, the box
    /// where its face should be and the frames since that box was seen. Greedy, best affinity
    /// first, ties broken by track then detection order. Returns each open track's detection.
    fn match_to(
        &self,
        dets: &[Detection],
        expect: impl Fn(&Open) -> Option<(Detection, u64)>,
    ) -> Vec<Option<usize>> {
        let mut pairs: Vec<(f32, usize, usize)> = Vec::new();
        for (ti, t) in self.open.iter().enumerate() {
            let Some((pred, gap)) = expect(t) else {
                continue;
            };
            for (di, d) in dets.iter().enumerate() {
                if let Some(a) = affinity(&pred, d, gap, &self.s) {
                    pairs.push((a, ti, di));
                }
            }
        }
        pairs.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        let mut matched = vec![None; self.open.len()];
        let mut det_used = vec![false; dets.len()];
        for (_, ti, di) in pairs {
            if matched[ti].is_none() && !det_used[di] {
                matched[ti] = Some(di);
                det_used[di] = true;
            }
        }
        matched
    }

    /// Looks back: `dets` were found in `frame`, earlier than the first detection of each
    /// track in `ids`, around those detections. Each track takes the detection that best
    /// matches its first box (matched as [`Tracker::push`] matches), which becomes its new
    /// first detection; a track that matches none was looked for in `frame` and is absent
    /// there, which ends its lead-in (see [`Open::start`]). Returns the tracks found and their
    /// new first detections, to look for one frame further back.
    pub fn extend_back(
        &mut self,
        frame: u64,
        ids: &[u32],
        dets: &[Detection],
    ) -> Vec<(u32, Detection)> {
        let looked_for = |t: &Open| ids.contains(&t.id) && t.first().frame > frame;
        let matched = self.match_to(dets, |t| {
            looked_for(t).then(|| (t.first().as_det(), t.first().frame - frame))
        });
        let mut earlier = Vec::new();
        for (t, m) in self.open.iter_mut().zip(matched) {
            if !looked_for(t) {
                continue;
            }
            match m {
                Some(di) => {
                    t.seen.insert(0, TrackBox::from_det(frame, &dets[di]));
                    earlier.push((t.id, dets[di]));
                }
                None => t.absent_at = Some(frame),
            }
        }
        earlier
    }

    /// The boxes of `frame`, in track-id order, once later detections can no longer change
    /// them; `None` while they still can. `latest` is the last frame the caller has handed to
    /// the detector or skipped; `ended` says the recording has no more frames.
    pub fn settled(&self, frame: u64, latest: u64, ended: bool) -> Option<Vec<(u32, TrackBox)>> {
        // A track first detected after `latest` could still lead in to `frame`.
        if !ended && latest < frame + self.s.pad_before {
            return None;
        }
        let mut boxes = Vec::new();
        for t in &self.done {
            if (t.start(&self.s)..=t.end(&self.s, self.size)).contains(&frame) {
                boxes.push((t.id, t.box_at(frame)));
            }
        }
        for t in &self.open {
            if frame < t.start(&self.s) {
                continue;
            }
            if !ended {
                // Its next detection, or its retirement, decides the boxes after the last
                // detection; the detection that the motion at its start is measured against
                // (see [`Open::after_first`]) decides the lead-in's.
                if frame > t.last().frame || (frame < t.first().frame && !t.start_settled()) {
                    return None;
                }
            } else if frame > t.end(&self.s, self.size) {
                continue;
            }
            boxes.push((t.id, t.box_at(frame)));
        }
        boxes.sort_by_key(|(id, _)| *id);
        Some(boxes)
    }

    /// Every track, for a recording of `frames` frames, in id order.
    pub fn finish(self, frames: u64) -> Vec<Track> {
        let (s, size) = (self.s, self.size);
        let mut tracks: Vec<Track> = self
            .done
            .into_iter()
            .chain(self.open)
            .map(|t| t.finish(frames, &s, size))
            .collect();
        tracks.sort_by_key(|t| t.id);
        tracks
    }
}

/// Links detections (frame → boxes, for the frames the detector ran on) into tracks covering
/// `frames` frames in total.
pub fn track(
    detections: &BTreeMap<u64, Vec<Detection>>,
    frames: u64,
    s: &TrackSettings,
) -> Vec<Track> {
    let mut tracker = Tracker::new(*s);
    for (&frame, dets) in detections {
        tracker.push(frame, dets);
    }
    tracker.finish(frames)
}

/// The box of `anchor` carried to `frame` along the motion between `anchor` and `other` (at
/// most 0.6 of the face's size a frame), and grown 2 % a frame (at most 1.2×) for the
/// growing uncertainty.
fn extrapolate(anchor: &TrackBox, other: Option<&TrackBox>, frame: u64) -> TrackBox {
    let (w, h) = (anchor.x1 - anchor.x0, anchor.y1 - anchor.y0);
    let centre = |b: &TrackBox| ((b.x0 + b.x1) / 2.0, (b.y0 + b.y1) / 2.0);
    let (cx, cy) = centre(anchor);
    let (vx, vy) = other.map_or((0.0, 0.0), |o| {
        let (ox, oy) = centre(o);
        let dt = anchor.frame as f32 - o.frame as f32;
        let limit = 0.6 * w.min(h);
        (
            ((cx - ox) / dt).clamp(-limit, limit),
            ((cy - oy) / dt).clamp(-limit, limit),
        )
    });
    let steps = frame as f32 - anchor.frame as f32;
    let grow = (1.0 + 0.02 * steps.abs()).min(1.2);
    let (nx, ny) = (cx + vx * steps, cy + vy * steps);
    TrackBox {
        frame,
        x0: nx - w * grow / 2.0,
        y0: ny - h * grow / 2.0,
        x1: nx + w * grow / 2.0,
        y1: ny + h * grow / 2.0,
        score: 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(x: f32, y: f32, size: f32) -> Detection {
        Detection {
            x0: x,
            y0: y,
            x1: x + size,
            y1: y + size * 1.2,
            score: 0.9,
        }
    }

    /// Face A moves right, face B moves left; detection every 3rd frame; A missed at 9.
    fn crossing() -> BTreeMap<u64, Vec<Detection>> {
        let mut dets = BTreeMap::new();
        for f in (0..30u64).step_by(3) {
            let t = f as f32;
            let mut v = vec![
                d(100.0 + 4.0 * t, 100.0, 40.0),
                d(400.0 - 4.0 * t, 300.0, 40.0),
            ];
            if f == 9 {
                v.remove(0);
            }
            dets.insert(f, v);
        }
        dets
    }

    /// Seen twice, gone for 39 frames, seen again.
    fn absence() -> BTreeMap<u64, Vec<Detection>> {
        let mut dets = BTreeMap::new();
        dets.insert(20, vec![d(50.0, 50.0, 30.0)]);
        dets.insert(21, vec![d(51.0, 50.0, 30.0)]);
        dets.insert(60, vec![d(52.0, 50.0, 30.0)]);
        dets
    }

    /// A face found at 12, looked for again (and found, 4 px off: the detector's jitter) at
    /// 13, then seen every 3rd frame as it moves: the motion its lead-in follows is measured
    /// against 15, not 13.
    fn confirmed() -> BTreeMap<u64, Vec<Detection>> {
        let mut dets = BTreeMap::new();
        for f in [12u64, 13, 15, 18, 21, 24, 27] {
            let jitter = if f == 13 { 4.0 } else { 0.0 };
            dets.insert(f, vec![d(100.0 + 6.0 * f as f32 + jitter, 200.0, 40.0)]);
        }
        dets
    }

    /// A 24 px face moving 14 px right and 12 px up a frame, detected every 2nd frame: boxes
    /// of consecutive detections do not overlap at all.
    fn small_fast() -> BTreeMap<u64, Vec<Detection>> {
        let mut dets = BTreeMap::new();
        for f in (0..30u64).step_by(2) {
            let t = f as f32;
            dets.insert(f, vec![d(100.0 + 14.0 * t, 600.0 - 12.0 * t, 24.0)]);
        }
        dets
    }

    /// Faces of many sizes coming and going at random (a fixed seed), with missed detections,
    /// detected every 3rd frame.
    fn crowd(seed: u64) -> BTreeMap<u64, Vec<Detection>> {
        let mut x = seed;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % 1000) as f32 / 1000.0
        };
        let faces: Vec<(u64, u64, f32, f32, f32, f32)> = (0..8)
            .map(|_| {
                let from = (rnd() * 150.0) as u64;
                let len = 5 + (rnd() * 80.0) as u64;
                (
                    from,
                    from + len,
                    rnd() * 1500.0,
                    rnd() * 800.0,
                    8.0 * rnd() - 4.0,
                    16.0 + rnd() * 200.0,
                )
            })
            .collect();
        let mut dets = BTreeMap::new();
        for f in (0..240u64).step_by(3) {
            let v: Vec<Detection> = faces
                .iter()
                .filter(|&&(from, to, ..)| (from..to).contains(&f))
                .filter(|_| rnd() > 0.15)
                .map(|&(from, _, x, y, v, size)| d(x + v * (f - from) as f32, y, size))
                .collect();
            dets.insert(f, v);
        }
        dets
    }

    #[test]
    fn two_faces_crossing_keep_their_ids_and_gaps_are_filled() {
        let dets = crossing();
        let tracks = track(&dets, 40, &TrackSettings::default());
        assert_eq!(tracks.len(), 2, "{tracks:#?}");
        let (a, b) = (&tracks[0], &tracks[1]);
        assert!(a.box_at(0).expect("a").x0 < 110.0 && b.box_at(0).expect("b").x0 > 390.0);
        assert_eq!((a.detections, b.detections), (9, 10));
        // Every frame 0..=27 has a box for both; frame 9 for A is interpolated from 6 and 12.
        for f in 0..=27 {
            assert!(a.box_at(f).is_some() && b.box_at(f).is_some(), "frame {f}");
        }
        let filled = a.box_at(9).expect("filled");
        assert!((filled.x0 - (100.0 + 36.0)).abs() < 1e-3 && filled.score == 0.0);
        // Extended 10 frames after the last detection (27 → 37), moving on and growing.
        assert_eq!(a.last_frame, 37);
        let (end, at_last) = (a.box_at(37).expect("tail"), a.box_at(27).expect("last"));
        assert!(
            end.x0 + end.x1 > at_last.x0 + at_last.x1,
            "keeps moving right"
        );
        assert!(end.x1 - end.x0 > at_last.x1 - at_last.x0, "grows");
        assert_eq!(a.first_frame, 0);
    }

    #[test]
    fn a_long_absence_starts_a_new_track_and_padding_leads_in() {
        let tracks = track(&absence(), 100, &TrackSettings::default());
        assert_eq!(tracks.len(), 2);
        assert_eq!((tracks[0].first_frame, tracks[0].last_frame), (10, 31));
        assert_eq!((tracks[1].first_frame, tracks[1].last_frame), (50, 70));
        assert_eq!(tracks[0].boxes.len(), 22);
    }

    #[test]
    fn a_large_face_lost_inside_the_picture_is_held_longer_than_one_leaving_it() {
        // A 300 px face seen on frames 0..=12 (every third), then lost: its own tail is the
        // shortest (2 frames), but lost well inside a 1920x1080 picture it is held 6.
        let ends = |x: f32, size: Option<(f32, f32)>| {
            let mut tracker = Tracker::new(TrackSettings::default());
            if let Some((w, h)) = size {
                tracker = tracker.in_frame(w, h);
            }
            for f in (0..=12).step_by(3) {
                tracker.push(f, &[d(x, 300.0, 250.0)]);
            }
            tracker.finish(100)[0].last_frame
        };
        assert_eq!(ends(800.0, Some((1920.0, 1080.0))), 12 + 6);
        // Near the left edge it may have left: the short tail.
        assert_eq!(ends(40.0, Some((1920.0, 1080.0))), 12 + 2);
        // A tracker never told the frame size keeps the short tail everywhere.
        assert_eq!(ends(800.0, None), 12 + 2);
        // Seen weakly at the end (fading from view), it gets the whole tail, edge or not.
        let mut tracker = Tracker::new(TrackSettings::default()).in_frame(1920.0, 1080.0);
        for f in (0..=12).step_by(3) {
            let score = if f == 12 { 0.3 } else { 0.9 };
            tracker.push(
                f,
                &[Detection {
                    score,
                    ..d(40.0, 300.0, 250.0)
                }],
            );
        }
        assert_eq!(tracker.finish(100)[0].last_frame, 12 + 10);
        // A single detection (perhaps a false one) is not held.
        let mut tracker = Tracker::new(TrackSettings::default()).in_frame(1920.0, 1080.0);
        tracker.push(0, &[d(800.0, 300.0, 250.0)]);
        assert_eq!(tracker.finish(100)[0].last_frame, 2);
    }

    #[test]
    fn a_small_fast_face_is_followed_by_centre_distance() {
        let tracks = track(&small_fast(), 30, &TrackSettings::default());
        assert_eq!(tracks.len(), 1, "{tracks:#?}");
        assert_eq!(tracks[0].detections, 15);
        // The filled frame between two detections sits halfway.
        let mid = tracks[0].box_at(5).expect("frame 5");
        assert!((mid.x0 - (100.0 + 70.0)).abs() < 1e-3, "{mid:?}");
    }

    /// Three 40 px faces side by side, 70 px apart, moving 15 px left and 14 px down a frame
    /// (a group passing close to the camera), detected on `frames`. Returns, per track, which
    /// face each of its detections was.
    fn row_of_fast_faces(frames: &[u64]) -> Vec<Vec<i64>> {
        let at = |i: usize, f: u64| {
            let t = f as f32;
            d(500.0 + 70.0 * i as f32 - 15.0 * t, 100.0 + 14.0 * t, 40.0)
        };
        let mut tracker = Tracker::new(TrackSettings::default());
        let mut faces: BTreeMap<u32, Vec<i64>> = BTreeMap::new();
        for &f in frames {
            let dets: Vec<Detection> = (0..3).map(|i| at(i, f)).collect();
            for (i, id) in tracker.push(f, &dets).into_iter().enumerate() {
                faces.entry(id).or_default().push(i as i64);
            }
        }
        faces.into_values().collect()
    }

    #[test]
    fn a_new_face_seen_again_on_the_next_frame_is_followed_by_its_motion() {
        let every_third: Vec<u64> = (0..=30).step_by(3).collect();
        let confirmed: Vec<u64> = [0, 1].into_iter().chain((3..=30).step_by(3)).collect();
        // Seen only every third frame, each face moves 45 px, more than its width, towards
        // where its left neighbour was: the tracks jump from face to face.
        let swapped = row_of_fast_faces(&every_third);
        assert!(
            swapped.iter().any(|t| t.iter().any(|&i| i != t[0])),
            "{swapped:?}"
        );
        // Seen again on the next frame, each track's motion is known and it keeps its face.
        let kept = row_of_fast_faces(&confirmed);
        assert_eq!(kept.len(), 3, "{kept:?}");
        for t in &kept {
            assert_eq!(t.len(), confirmed.len());
            assert!(t.iter().all(|&i| i == t[0]), "{kept:?}");
        }
    }

    #[test]
    fn tracks_started_at_a_frame_are_listed_for_confirmation() {
        let mut tracker = Tracker::new(TrackSettings::default());
        tracker.push(0, &[d(10.0, 10.0, 40.0)]);
        assert_eq!(tracker.started_at(0).len(), 1);
        // Seen again: confirmed; a second face starts.
        tracker.push(1, &[d(12.0, 10.0, 40.0), d(300.0, 10.0, 40.0)]);
        let started = tracker.started_at(1);
        assert_eq!(started.len(), 1);
        assert_eq!((started[0].0, started[0].1.x0), (2, 300.0));
        assert!(tracker.started_at(0).is_empty());
    }

    #[test]
    fn looking_back_finds_where_a_face_came_into_view() {
        let s = TrackSettings::default();
        // A 150x180 face found at 9 (lead-in 3 frames: 10·(96/180)²), a 40 px one at 9 too.
        let (big, small) = (d(500.0, 100.0, 150.0), d(100.0, 100.0, 40.0));
        let looked = |back: &[(u64, Vec<Detection>)], first_score: f32| {
            let mut tracker = Tracker::new(s);
            let ids = tracker.push(
                9,
                &[
                    Detection {
                        score: first_score,
                        ..big
                    },
                    small,
                ],
            );
            let mut first: Vec<u32> = tracker.started_at(9).iter().map(|t| t.0).collect();
            first.sort();
            assert_eq!(first, [1, 2]);
            let mut found = Vec::new();
            for (frame, dets) in back {
                found.push(tracker.extend_back(*frame, &ids, dets).len());
            }
            let tracks = tracker.finish(30);
            let start = |id: u32| tracks.iter().find(|t| t.id == id).map(|t| t.first_frame);
            (found, start(ids[0]), start(ids[1]))
        };
        let seen = |x: f32, score: f32| Detection {
            score,
            ..d(x, 100.0, 150.0)
        };
        // Not looked for: the fixed lead-ins.
        assert_eq!(looked(&[], 0.9), (vec![], Some(6), Some(0)));
        // The large face found at 8 and 7 and not at 6: it came into view at 7. The small
        // one, never found back, keeps its whole lead-in (small faces are often missed).
        let back = |score: f32| {
            [
                (8, vec![seen(498.0, score)]),
                (7, vec![seen(496.0, score)]),
                (6, vec![]),
            ]
        };
        assert_eq!(looked(&back(0.8), 0.9), (vec![1, 1, 0], Some(7), Some(0)));
        // First seen weakly (coming into view, perhaps for a while): the lead-in before 7.
        assert_eq!(looked(&back(0.3), 0.9).1, Some(4));
        assert_eq!(looked(&[(8, vec![])], 0.3).1, Some(6));
        // A detection elsewhere in the frame is not this face.
        assert_eq!(
            looked(&[(8, vec![seen(900.0, 0.8)])], 0.9),
            (vec![0], Some(9), Some(0))
        );
    }

    #[test]
    fn deterministic() {
        let mut dets = BTreeMap::new();
        for f in 0..20u64 {
            let t = f as f32;
            dets.insert(
                f,
                vec![
                    d(300.0 - t, 80.0, 50.0),
                    d(10.0 + t, 80.0, 50.0),
                    d(150.0, 300.0, 20.0),
                ],
            );
        }
        let a = track(&dets, 20, &TrackSettings::default());
        let b = track(&dets, 20, &TrackSettings::default());
        assert_eq!(a, b);
        assert_eq!(a.len(), 3);
        assert!(
            a[0].boxes[0].x0 < a[1].boxes[0].x0,
            "ids left to right at first appearance"
        );
    }

    /// The boxes of every frame as the finished tracks give them.
    fn by_frame(tracks: &[Track], frames: u64) -> Vec<Vec<(u32, TrackBox)>> {
        (0..frames)
            .map(|f| {
                tracks
                    .iter()
                    .filter_map(|t| t.box_at(f).map(|b| (t.id, *b)))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn streaming_settles_each_frame_as_the_finished_tracks_do_with_bounded_delay() {
        let s = TrackSettings::default();
        // The longest a frame can wait: a lead-in, a gap, and the next detection frame.
        let bound = s.pad_before + s.max_gap + 2 + 3;
        let scenarios = [
            (crossing(), 40),
            (absence(), 100),
            (small_fast(), 30),
            (confirmed(), 40),
            (crowd(7), 240),
            (crowd(99), 240),
        ];
        for (n, (dets, frames)) in scenarios.into_iter().enumerate() {
            let want = by_frame(&track(&dets, frames, &s), frames);
            let mut tracker = Tracker::new(s);
            let (mut got, mut waited) = (Vec::new(), 0);
            for f in 0..frames {
                // The detector runs on every 3rd frame at least (finding nothing changes no
                // track, but retires the lost ones sooner).
                if let Some(v) = dets.get(&f) {
                    tracker.push(f, v);
                } else if f % 3 == 0 {
                    tracker.push(f, &[]);
                }
                while let Some(b) = (got.len() as u64 <= f)
                    .then(|| tracker.settled(got.len() as u64, f, false))
                    .flatten()
                {
                    got.push(b);
                }
                waited = waited.max(f + 1 - got.len() as u64);
            }
            while (got.len() as u64) < frames {
                let b = tracker.settled(got.len() as u64, frames - 1, true);
                got.push(b.expect("everything is settled at the end"));
            }
            assert_eq!(got, want, "scenario {n}");
            assert!(
                waited <= bound,
                "scenario {n}: a frame waited {waited} frames"
            );
            assert!(want.iter().any(|b| !b.is_empty()), "scenario {n} has faces");
        }
    }
}
