//! The `ntop-rs` binary: parse flags, run, and report any error in one line.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use ntop_rs::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match ntop_rs::app::run(&cli) {
        Ok(code) => code,
        Err(e) => {
            // A closed stderr is no reason to panic: the exit status still says it failed.
            let _ = writeln!(std::io::stderr(), "ntop-rs: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
