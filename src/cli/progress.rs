//! Progress bars for a terminal: one overall bar and one per item being decoded. Hidden when
//! stderr is not a terminal.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;

use bwv::progress::{Progress, ProgressEvent};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Debug)]
pub struct Bars {
    multi: MultiProgress,
    overall: ProgressBar,
    items: Mutex<HashMap<usize, ProgressBar>>,
}

impl Bars {
    pub fn new() -> Self {
        let bars = Self::one();
        let overall = bars.multi.add(ProgressBar::new(0));
        overall.set_style(
            ProgressStyle::with_template("{prefix:>8} [{bar:30}] {pos}/{len} files {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        overall.set_prefix("ingest");
        Self { overall, ..bars }
    }

    /// Bars for one decode at a time (a redaction), without the overall count of files.
    pub fn one() -> Self {
        let target = if std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        Self {
            multi: MultiProgress::with_draw_target(target),
            overall: ProgressBar::hidden(),
            items: Mutex::new(HashMap::new()),
        }
    }

    pub fn finish(&self) {
        self.overall.finish_and_clear();
    }

    fn items(&self) -> std::sync::MutexGuard<'_, HashMap<usize, ProgressBar>> {
        self.items.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Progress for Bars {
    fn event(&self, event: ProgressEvent) {
        match event {
            ProgressEvent::Batch { items } => self.overall.set_length(items as u64),
            ProgressEvent::Started { item, name, frames } => {
                let bar = self.multi.add(ProgressBar::new(frames.unwrap_or(0)));
                bar.set_style(
                    ProgressStyle::with_template(
                        "{prefix:>8} [{bar:30}] {pos}/{len} frames {per_sec} {msg}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                bar.set_prefix(format!("#{}", item + 1));
                bar.set_message(super::shown(&name).into_owned());
                self.items().insert(item, bar);
            }
            ProgressEvent::Frames { item, done } => {
                if let Some(bar) = self.items().get(&item) {
                    if done > bar.length().unwrap_or(0) {
                        bar.set_length(done);
                    }
                    bar.set_position(done);
                }
            }
            ProgressEvent::Finished { item } => {
                if let Some(bar) = self.items().remove(&item) {
                    bar.finish_and_clear();
                }
                self.overall.inc(1);
            }
        }
    }
}
