//! Progress as data: the library reports, the CLI (or a service) draws.

/// Something the library has got to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProgressEvent {
    /// The batch has this many items.
    Batch {
        /// Items in the batch.
        items: usize,
    },
    /// An item started decoding; `frames` is the expected frame count when known.
    Started {
        /// Item index in the batch.
        item: usize,
        /// Display name.
        name: String,
        /// Expected frames.
        frames: Option<u64>,
    },
    /// Frames decoded so far for an item.
    Frames {
        /// Item index.
        item: usize,
        /// Frames done.
        done: u64,
    },
    /// An item finished (whatever the outcome).
    Finished {
        /// Item index.
        item: usize,
    },
}

/// Receives progress events from any thread.
pub trait Progress: Send + Sync + std::fmt::Debug {
    /// Handles one event; must be cheap.
    fn event(&self, event: ProgressEvent);
}

/// Discards progress.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn event(&self, _: ProgressEvent) {}
}
