//! The `bwv` command: parse, build a Config, run, exit with 0 (all ok), 2 (some items failed,
//! each named on stderr and in the custody index) or the kind of a fatal error
//! ([`bwv::ErrorKind::exit_code`]: 1 invalid, 3 not found, 4 conflict, 5 integrity, 6 busy,
//! 7 internal).

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    restore_sigpipe();
    match cli::run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("bwv: {}", cli::shown(&format!("{e:#}")));
            // The library's errors say what kind of failure they are; any other (a file the
            // command line named, a usage check) is the caller's to correct: 1.
            let kind = e.chain().find_map(|c| c.downcast_ref::<bwv::Error>());
            ExitCode::from(kind.map_or(1, |k| k.kind().exit_code()))
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
