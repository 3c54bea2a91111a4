//! The `bwv` command: parse, build a Config, run, exit with 0 (all ok), 1 (fatal) or 2 (some
//! items failed, each named on stderr and in the custody index).

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    match cli::run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("bwv: {e:#}");
            ExitCode::from(1)
        }
    }
}
