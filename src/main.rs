//! The `ntop-rs` binary: parse flags, run, and report any error in one line.

use std::process::ExitCode;

use clap::Parser;
use ntop_rs::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match ntop_rs::app::run(&cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ntop-rs: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
