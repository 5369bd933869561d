//! The `ntop-rs` binary: parse flags, run, and report any error in one line.

use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    return_freed_memory();
    let cli = match ntop_rs::cli::parse_with_config(std::env::args_os().collect()) {
        Ok(cli) => cli,
        Err(ntop_rs::cli::ConfigError::Clap(e)) => e.exit(),
        Err(ntop_rs::cli::ConfigError::File(e)) => {
            let _ = writeln!(std::io::stderr(), "ntop-rs: error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match ntop_rs::app::run(&cli) {
        Ok(code) => code,
        Err(e) => {
            // A closed stderr is no reason to panic: the exit status still says it failed.
            let _ = writeln!(std::io::stderr(), "ntop-rs: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// glibc raises its mmap threshold each time a large block is freed, up to 32 MB, after
/// which the big per-window and training buffers come from the heap and their memory is
/// kept after they are freed: under a flood of one-shot hosts that doubled the peak RSS.
/// A fixed threshold keeps every large buffer in its own mapping, given back when freed.
fn return_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt with documented parameters, before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 4 << 20);
    }
}
