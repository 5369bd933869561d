//! Wiring: turn the parsed flags into a source, a filter and an engine, run it, and
//! print the result.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

mod detectors;
mod open;

use crate::capture::live;
use crate::capture::{Filter, LinkType, PacedSource, PacketRing, PacketSource, ReplayControl};
use crate::cli::Cli;
use crate::detect::Detectors;
use crate::detect::outlier::SharedOutliers;
use crate::export::summary::CaptureJson;
use crate::export::{RunInfo, Summary, report};
use crate::pipeline::{self, Handoff, Options};
use crate::stats::{Stats, StatsConfig};
use crate::ui;
use open::Input;

/// Exit status after a second Ctrl-C (128 + SIGINT).
const EXIT_INTERRUPTED: i32 = 130;

/// Runs ntop-rs with parsed flags.
pub fn run(cli: &Cli) -> anyhow::Result<ExitCode> {
    if cli.list_interfaces {
        return list_interfaces();
    }
    if cli.read.is_some() && cli.duration.is_some() {
        bail!("--duration applies to live capture (-i), not to files");
    }
    if !cli.headless {
        if cli.json || cli.duration.is_some() {
            bail!("--json and --duration go with --headless");
        }
        if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
            bail!("the interactive view needs a terminal; use --headless for a report (and --json for JSON)");
        }
        let stop = stop_on_signals(false)?;
        let opened = open::open(cli, true)?;
        run_interactive(cli, opened, stop)?;
        return Ok(ExitCode::SUCCESS);
    }
    let stop = stop_on_signals(true)?;
    let opened = open::open(cli, false)?;
    let mut stats = Stats::new(stats_config(cli));
    let info = match opened.input {
        Input::File(_) => read_file(cli, opened, &mut stats, &stop)?,
        Input::Live(_) => capture_live(cli, opened, &mut stats, &stop)?,
    };
    print_summary(cli, &stats, &info)?;
    Ok(ExitCode::SUCCESS)
}

/// Prints one line on stderr; a closed or broken stderr is not an error.
pub(crate) fn note_line(msg: &str) {
    let _ = writeln!(std::io::stderr(), "ntop-rs: {msg}");
}

/// Prints one warning line on stderr (see [`note_line`]).
pub(crate) fn warn_line(msg: &str) {
    let _ = writeln!(std::io::stderr(), "ntop-rs: warning: {msg}");
}

/// The ring of recent raw packets that `w`, `d` and `--dump-alerts` write from: as much
/// of the last day as fits in --ring-mb.
fn packet_ring(cli: &Cli) -> Arc<std::sync::Mutex<PacketRing>> {
    let bytes = usize::try_from(cli.ring_mb << 20).unwrap_or(usize::MAX);
    Arc::new(std::sync::Mutex::new(PacketRing::new(bytes, 86_400 * crate::capture::NANOS_PER_SEC)))
}

/// Adds a failure of the `--alerts` stream to the run's warnings (and stderr).
fn note_sink_error(detectors: &Detectors, info: &mut RunInfo) {
    if let Some(e) = detectors.sink_error() {
        warn(&mut info.warnings, format!("writing alerts failed: {e}"));
    }
}

/// Prints a warning on stderr and keeps it for the summary's `warnings`.
fn warn(warnings: &mut Vec<String>, warning: String) {
    warn_line(&warning);
    warnings.push(warning);
}

fn stats_config(cli: &Cli) -> StatsConfig {
    StatsConfig {
        max_hosts: usize::try_from(cli.max_hosts).unwrap_or(usize::MAX),
        max_flows: usize::try_from(cli.max_flows).unwrap_or(usize::MAX),
        window_secs: cli.window as usize,
    }
}

/// SIGINT, SIGTERM and SIGHUP set the returned flag (a clean stop with the summary).
/// Headless, a second SIGINT exits at once; in the TUI it must not (the terminal has
/// to be restored first), and Ctrl-C arrives there as a key anyway.
fn stop_on_signals(second_sigint_exits: bool) -> anyhow::Result<Arc<AtomicBool>> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let stop = Arc::new(AtomicBool::new(false));
    if second_sigint_exits {
        signal_hook::flag::register_conditional_shutdown(SIGINT, EXIT_INTERRUPTED, Arc::clone(&stop))
            .context("cannot install the SIGINT handler")?;
    }
    for sig in [SIGINT, SIGTERM, SIGHUP] {
        signal_hook::flag::register(sig, Arc::clone(&stop)).context("cannot install a signal handler")?;
    }
    Ok(stop)
}

/// The TUI: everything that can fail on bad flags or permissions fails before the
/// terminal enters raw mode (opening, the drop, the detectors).
fn run_interactive(cli: &Cli, opened: open::Opened, stop: Arc<AtomicBool>) -> anyhow::Result<()> {
    let stats = Stats::new(stats_config(cli));
    let ring = packet_ring(cli);
    let dump_dir = opened.dump_dir.clone().context("the dump directory is open")?;
    let live = matches!(opened.input, Input::Live(_));
    let (detectors, outliers, input) = detectors::build(cli, opened, Some(Arc::clone(&ring)), false)?;
    match input {
        Input::File(mut source) => {
            let filter = match cli.filter_expr() {
                Some(e) => Some(Filter::new(&e, source.first_linktype().unwrap_or(LinkType::ETHERNET))?),
                None => None,
            };
            let control = ReplayControl::new(cli.speed, Arc::clone(&stop));
            let source = PacedSource::new(source, Arc::clone(&control));
            ui::run(ui::Session {
                source,
                filter,
                outliers,
                stats,
                detectors,
                live,
                replay: Some(control),
                stop,
                ring,
                dump_dir,
                resolve: !cli.no_resolve,
            })
        }
        Input::Live(source) => ui::run(ui::Session {
            source,
            filter: None,
            outliers,
            stats,
            detectors,
            live,
            replay: None,
            stop,
            ring,
            dump_dir,
            resolve: !cli.no_resolve,
        }),
    }
}

fn read_file(cli: &Cli, opened: open::Opened, stats: &mut Stats, stop: &AtomicBool) -> anyhow::Result<RunInfo> {
    // The packet ring is only needed headless when alerts get their own pcaps.
    let ring = cli.dump_alerts.as_ref().map(|_| packet_ring(cli));
    let (mut detectors, outliers, input) = detectors::build(cli, opened, ring.clone(), true)?;
    let Input::File(mut source) = input else { bail!("not a file") };
    let expr = cli.filter_expr();
    let mut filter = match &expr {
        Some(e) => Some(Filter::new(e, source.first_linktype().unwrap_or(LinkType::ETHERNET))?),
        None => None,
    };
    let bar = progress_bar(cli, source.progress().and_then(|p| p.total));
    let options = Options { handoff: Handoff::Block, stop: Some(stop), shared: None, ring: ring.as_deref() };
    let report =
        pipeline::run(&mut source, filter.as_mut(), stats, &mut detectors, options, |p| bar.set_position(p.done))?;
    bar.finish_and_clear();

    let mut info = run_info(source.name(), expr, &report, &detectors, outliers.as_ref());
    note_sink_error(&detectors, &mut info);
    if let Some(w) = source.warning() {
        warn_line(&format!(
            "{}: {w}; the summary covers the {} packets before it",
            source.name(),
            stats.totals.packets
        ));
        info.warnings.push(w.to_string());
    }
    Ok(info)
}

/// What a run reports besides the counters.
fn run_info(
    source: &str,
    filter: Option<String>,
    report: &pipeline::RunReport,
    detectors: &Detectors,
    outliers: Option<&SharedOutliers>,
) -> RunInfo {
    let outliers = outliers.and_then(|o| o.lock().ok().map(|v| v.clone()));
    let mut warnings = Vec::new();
    if let Some(e) = outliers.as_ref().and_then(|o| o.status.error.as_ref()) {
        warn(&mut warnings, format!("outlier model: {e}"));
    }
    if detectors.clock_held() > 0 {
        warn(
            &mut warnings,
            format!(
                "{} packets were dated far from their neighbours; the detectors saw them at their neighbours' time",
                detectors.clock_held()
            ),
        );
    }
    RunInfo {
        source: source.to_string(),
        filter,
        frames_read: report.frames,
        alerts: detectors.incidents(),
        alerts_total: detectors.incidents_total(),
        detect_tables: detectors.tables(),
        outliers,
        warnings,
        ..Default::default()
    }
}

fn capture_live(cli: &Cli, opened: open::Opened, stats: &mut Stats, stop: &Arc<AtomicBool>) -> anyhow::Result<RunInfo> {
    let expr = cli.filter_expr();
    let ring = cli.dump_alerts.as_ref().map(|_| packet_ring(cli));
    let (mut detectors, outliers, input) = detectors::build(cli, opened, ring.clone(), true)?;
    let Input::Live(mut source) = input else { bail!("not a live source") };
    if let Some(secs) = cli.duration {
        let stop = Arc::clone(stop);
        std::thread::Builder::new()
            .name("ntop-timer".into())
            .spawn(move || {
                std::thread::sleep(Duration::from_secs(secs));
                stop.store(true, Ordering::Relaxed);
            })
            .context("cannot start the duration timer")?;
    }
    // Source problems (a device that went down, and its return) go to stderr as they happen.
    let shared = std::sync::Mutex::new(pipeline::SourceState::default());
    let report = std::thread::scope(|scope| {
        let (shared, name) = (&shared, source.name().to_string());
        scope.spawn(move || report_status_changes(&name, shared, stop));
        let ring = ring.as_deref();
        let options = Options { handoff: Handoff::DropWhenFull, stop: Some(stop), shared: Some(shared), ring };
        let report = pipeline::run(&mut source, None, stats, &mut detectors, options, |_| {});
        stop.store(true, Ordering::Relaxed);
        report
    })?;
    let kernel = source.kernel_stats().unwrap_or_default();
    let mut info = run_info(source.name(), expr, &report, &detectors, outliers.as_ref());
    note_sink_error(&detectors, &mut info);
    if let Some(status) = source.status() {
        info.warnings.push(status.to_string());
    }
    info.capture = Some(CaptureJson::new(source.name(), kernel, report.dropped_ring, report.dropped_detector));
    Ok(info)
}

/// Prints the source's status whenever it changes, until `stop` (headless live runs).
fn report_status_changes(device: &str, shared: &std::sync::Mutex<pipeline::SourceState>, stop: &AtomicBool) {
    let mut last: Option<String> = None;
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(200));
        let now = shared.lock().ok().and_then(|s| s.status.clone());
        if now != last {
            match &now {
                Some(problem) => warn_line(problem),
                None => note_line(&format!("{device}: capturing again")),
            }
            last = now;
        }
    }
}

fn print_summary(cli: &Cli, stats: &Stats, info: &RunInfo) -> anyhow::Result<()> {
    let summary = Summary::new(stats, info, cli.top);
    let text = if cli.json { summary.to_json() + "\n" } else { report::render(&summary) };
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.context("cannot write the summary to standard output"),
    }
}

fn list_interfaces() -> anyhow::Result<ExitCode> {
    let mut out = String::new();
    for (i, d) in live::list_devices()?.iter().enumerate() {
        out.push_str(&format!("{}.{}", i + 1, d.name));
        if let Some(desc) = &d.description {
            out.push_str(&format!(" ({desc})"));
        }
        if !d.flags.is_empty() {
            out.push_str(&format!(" [{}]", d.flags.join(", ")));
        }
        if !d.addresses.is_empty() {
            out.push_str(&format!(" {}", d.addresses.join(" ")));
        }
        out.push('\n');
    }
    std::io::stdout().lock().write_all(out.as_bytes()).context("cannot write the interface list")?;
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
