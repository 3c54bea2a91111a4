//! The `bwv` command: parse, build a Config, run, exit with 0 (all ok), 1 (fatal) or 2 (some
//! items failed, each named on stderr and in the custody index).

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    restore_sigpipe();
    match cli::run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("bwv: {}", cli::shown(&format!("{e:#}")));
            ExitCode::from(1)
        }
    }
}

/// Restores SIGPIPE's default action, which Rust's runtime sets to ignore: a reader that stops
/// early (`bwv list | head`) then ends bwv as it ends any Unix filter, instead of every later
/// print panicking on the broken pipe. Ending there is safe: the store survives a process
/// killed at any point (each step commits in its own transaction; tested with SIGKILL).
fn restore_sigpipe() {
    // SAFETY: signal() with SIG_DFL installs no handler; it runs first in main, before any
    // thread starts.
    #[allow(unsafe_code)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
