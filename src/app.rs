//! Wiring: turn the parsed flags into a source, a filter and an engine, run it, and
//! print the result.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::capture::{FileSource, Filter, LinkType, PacketSource};
use crate::cli::Cli;
use crate::export::{RunInfo, Summary, report};
use crate::pipeline;
use crate::stats::{Stats, StatsConfig};

/// Runs ntop-rs with parsed flags.
pub fn run(cli: &Cli) -> anyhow::Result<ExitCode> {
    let Some(path) = cli.read.as_deref() else {
        bail!("nothing to read: give a capture file with -r FILE (or -r - for standard input)");
    };
    if !cli.headless {
        bail!("the interactive view is not in this build yet: add --headless for a report (and --json for JSON)");
    }
    let mut source = FileSource::open(path)?;
    let expr = cli.filter_expr();
    let mut filter = match &expr {
        Some(e) => Some(Filter::new(e, source.first_linktype().unwrap_or(LinkType::ETHERNET))?),
        None => None,
    };
    let config = StatsConfig {
        max_hosts: usize::try_from(cli.max_hosts).unwrap_or(usize::MAX),
        max_flows: usize::try_from(cli.max_flows).unwrap_or(usize::MAX),
        window_secs: cli.window as usize,
    };
    let mut stats = Stats::new(config);
    let bar = progress_bar(cli, source.progress().and_then(|p| p.total));
    let frames = pipeline::run(&mut source, filter.as_mut(), &mut stats, |p| bar.set_position(p.done))?;
    bar.finish_and_clear();

    let mut info =
        RunInfo { source: source.name().to_string(), filter: expr, frames_read: frames, warnings: Vec::new() };
    if let Some(w) = source.warning() {
        eprintln!(
            "ntop-rs: warning: {}: {w}; the summary covers the {} packets before it",
            source.name(),
            stats.totals.packets
        );
        info.warnings.push(w.to_string());
    }
    let summary = Summary::new(&stats, &info, cli.top);
    let text = if cli.json { summary.to_json() + "\n" } else { report::render(&summary) };
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        r => r.context("cannot write the summary to standard output")?,
    }
    Ok(ExitCode::SUCCESS)
}

/// A byte-based progress bar on stderr, only for a terminal and a file of known size.
fn progress_bar(cli: &Cli, total: Option<u64>) -> ProgressBar {
    let show = !cli.no_progress && std::io::stderr().is_terminal();
    match total {
        Some(total) if show && total > (8 << 20) => {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr_with_hz(10));
            let style = ProgressStyle::with_template(
                "{spinner} reading [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar
        }
        _ => ProgressBar::hidden(),
    }
}
