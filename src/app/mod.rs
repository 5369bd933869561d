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
use crate::detect::outlier::SharedOutliers;
use crate::export::summary::CaptureJson;
use crate::export::{RunInfo, Summary, report};
use crate::pipeline::SinkSet;
use crate::pipeline::{self, Handoff, Options};
use crate::stats::{Stats, StatsConfig};
use crate::ui;
use open::Input;

/// Exit status after a second Ctrl-C (128 + SIGINT).
const EXIT_INTERRUPTED: i32 = 130;

/// Runs ntop-rs with parsed flags.
pub fn run(cli: &Cli) -> anyhow::Result<ExitCode> {
    if cli.config.print_config {
        let text = crate::cli::print_config(std::env::args_os().collect(), cli).map_err(|e| anyhow::anyhow!(e))?;
        std::io::stdout().lock().write_all(text.as_bytes()).context("cannot write the configuration")?;
        return Ok(ExitCode::SUCCESS);
    }
    for w in &cli.config.extras.warnings {
        warn_line(w);
    }
    if cli.list_interfaces {
        return list_interfaces();
    }
    if cli.read.is_some() && cli.duration.is_some() {
        bail!("--duration applies to live capture (-i), not to files");
    }
    open::distinct_files(cli)?;
    if cli.report.report.is_some() && cli.read.is_none() && cli.interface.is_none() && cli.records.db.is_some() {
        return report_stored(cli);
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
    run_headless(cli, opened, &stop)?;
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
fn packet_ring(cli: &Cli) -> Arc<PacketRing> {
    let bytes = usize::try_from(cli.ring_mb << 20).unwrap_or(usize::MAX);
    Arc::new(PacketRing::new(bytes, 86_400 * crate::capture::NANOS_PER_SEC))
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

/// A user-space BPF filter for a file (live filters run in the kernel).
fn file_filter(cli: &Cli, source: &mut crate::capture::FileSource) -> anyhow::Result<Option<Filter>> {
    Ok(match cli.filter_expr() {
        Some(e) => Some(Filter::new(&e, source.first_linktype().unwrap_or(LinkType::ETHERNET))?),
        None => None,
    })
}

/// Sleeps `secs`, then sets `stop` (`--duration`).
fn stop_after(secs: u64, stop: &Arc<AtomicBool>) -> anyhow::Result<()> {
    let stop = Arc::clone(stop);
    std::thread::Builder::new()
        .name("ntop-timer".into())
        .spawn(move || {
            std::thread::sleep(Duration::from_secs(secs));
            stop.store(true, Ordering::Relaxed);
        })
        .context("cannot start the duration timer")?;
    Ok(())
}

/// The TUI: everything that can fail on bad flags or permissions fails before the
/// terminal enters raw mode (opening, the drop, the detectors).
fn run_interactive(cli: &Cli, opened: open::Opened, stop: Arc<AtomicBool>) -> anyhow::Result<()> {
    let live = matches!(opened.input, Input::Live(_));
    let built = detectors::build(cli, opened)?;
    let handoff = if live { Handoff::DropWhenFull } else { Handoff::Block };
    let sinks = SinkSet::new(built.sinks, handoff).context("cannot start the sinks")?;
    let ring = packet_ring(cli);
    let dump_dir = built.dump_dir.clone().context("the dump directory is open")?;
    let source_name = match &built.input {
        Input::File(s) => s.name().to_string(),
        Input::Live(l) => l.name().to_string(),
    };
    let hook = report_hook(cli, source_name, built.report.clone(), dump_dir.clone(), built.outliers.clone());
    let session = |stats| ui::Session {
        stats,
        filter: None,
        detectors: built.detectors,
        live,
        replay: None,
        stop: Arc::clone(&stop),
        ring: Arc::clone(&ring),
        dump_dir,
        dump_alerts: built.dump_alerts,
        sinks: &sinks,
        resolve: !cli.no_resolve,
        outliers: built.outliers.clone(),
        records: cli.records.config(cli.max_flows),
        report: Some(hook),
        look: ui::Look { keys: cli.config.extras.keys.clone(), colours: cli.config.extras.colours.clone() },
    };
    let stats = Stats::new(stats_config(cli));
    let (name, stats, report) = match built.input {
        Input::File(mut source) => {
            let filter = file_filter(cli, &mut source)?;
            let control = ReplayControl::new(cli.speed, Arc::clone(&stop));
            let source = PacedSource::new(source, Arc::clone(&control));
            let name = source.name().to_string();
            let (stats, report) = ui::run(source, ui::Session { filter, replay: Some(control), ..session(stats) })?;
            (name, stats, report)
        }
        Input::Live(source) => {
            let name = source.name().to_string();
            let (stats, report) = ui::run(source, session(stats))?;
            (name, stats, report)
        }
    };
    // The sinks get the final summary too, as headless.
    let mut info = run_info(&name, cli.filter_expr(), &report, built.outliers.as_ref(), &sinks);
    clamped_warning(&stats, &mut info.warnings);
    let summary = Summary::new(&stats, &info, cli.top);
    let done = sinks.finish(|| stats.hosts.top(0), &serde_json::to_value(&summary).unwrap_or_default());
    write_report(built.report.as_ref(), &stats, &summary, &info)?;
    sinks_failed(&done)
}

/// Says so when packets were dated outside the times kept (1970 to 2116) and clamped.
fn clamped_warning(stats: &Stats, warnings: &mut Vec<String>) {
    if stats.clamped_ts > 0 {
        let n = stats.clamped_ts;
        warn(
            warnings,
            format!(
                "{n} packets were dated at the edge of the times kept (epoch 0, or 2116 for any later date): their timestamps were missing or out of range"
            ),
        );
    }
}

/// Whether a sink's error fails the run: a reader that went away (`| head`) is how a
/// pipe ends, not a failure.
fn fails_the_run(error: &str) -> bool {
    error != crate::files::io_reason(&std::io::Error::from(std::io::ErrorKind::BrokenPipe))
}

/// A run whose sinks failed (a full disk, a broken pipe) fails too, after the summary:
/// one line naming each, with what it did not write.
fn sinks_failed(done: &[crate::pipeline::SinkStatus]) -> anyhow::Result<()> {
    let failed: Vec<String> = done
        .iter()
        .filter(|s| s.error.as_deref().is_some_and(fails_the_run))
        .map(|s| format!("{} ({}; {} items not written)", s.name, s.error.as_deref().unwrap_or(""), s.dropped))
        .collect();
    if failed.is_empty() {
        return Ok(());
    }
    bail!("{} failed: {}", if failed.len() == 1 { "a sink" } else { "sinks" }, failed.join(", "))
}

/// The TUI's `R`: a report of what has been counted so far, to `--report` (rewritten,
/// and rewritten again at the end) or, without it, to a new file in `--dump-dir`.
fn report_hook(
    cli: &Cli,
    source: String,
    out: Option<crate::files::OutFile>,
    dir: crate::files::OutDir,
    outliers: Option<SharedOutliers>,
) -> pipeline::ReportHook {
    let (filter, top) = (cli.filter_expr(), cli.top);
    Box::new(move |stats, alerts| {
        let outliers = outliers.as_ref().and_then(|o| o.lock().ok().map(|v| v.clone()));
        let info = RunInfo {
            source: source.clone(),
            filter: filter.clone(),
            alerts: alerts.to_vec(),
            alerts_total: alerts.len() as u64,
            outliers,
            ..Default::default()
        };
        let summary = Summary::new(stats, &info, top);
        let parts = crate::report::RunParts { summary: &summary, outliers: info.outliers.as_ref(), partial: true };
        let data = crate::report::ReportData::from_run(stats, parts);
        let written = match &out {
            Some(f) => crate::report::write(&data, f),
            None => dir.create_unique(
                "ntop-rs-report",
                "html",
                crate::report::html::render(&data, Some(dir.path())).as_bytes(),
            ),
        };
        match written {
            Ok(path) => format!("report written to {}", path.display()),
            Err(e) => format!("report not written: {e}"),
        }
    })
}

/// `--report`: the run's report, written at its end (a one-line error when it cannot be).
fn write_report(
    out: Option<&crate::files::OutFile>,
    stats: &Stats,
    summary: &Summary,
    info: &RunInfo,
) -> anyhow::Result<()> {
    let Some(out) = out else { return Ok(()) };
    let parts = crate::report::RunParts { summary, outliers: info.outliers.as_ref(), partial: false };
    let data = crate::report::ReportData::from_run(stats, parts);
    let path =
        crate::report::write(&data, out).map_err(|e| anyhow::anyhow!("--report {}: {e}", out.path().display()))?;
    note_line(&format!("report written to {}", path.display()));
    Ok(())
}

/// `--db FILE --report FILE.html` without a capture: the report of a stored run.
fn report_stored(cli: &Cli) -> anyhow::Result<ExitCode> {
    let (Some(db), Some(out)) = (cli.records.db.as_deref(), open::report_file(cli)?) else {
        bail!("--report on a stored run needs --db FILE");
    };
    let conn = crate::report::stored::open(db).map_err(|e| anyhow::anyhow!("--db {}: {e}", db.display()))?;
    open::drop_for_report(cli, &out)?;
    let data = crate::report::stored::load(&conn, cli.report.run)
        .map_err(|e| anyhow::anyhow!("--db {}: {e}", db.display()))?;
    let path =
        crate::report::write(&data, &out).map_err(|e| anyhow::anyhow!("--report {}: {e}", out.path().display()))?;
    note_line(&format!("report on run {} written to {}", data.run_id.unwrap_or_default(), path.display()));
    Ok(ExitCode::SUCCESS)
}

/// Headless: run to the end (of the file, `--duration`, or a signal), then the summary.
fn run_headless(cli: &Cli, opened: open::Opened, stop: &Arc<AtomicBool>) -> anyhow::Result<()> {
    let live = matches!(opened.input, Input::Live(_));
    let built = detectors::build(cli, opened)?;
    let handoff = if live { Handoff::DropWhenFull } else { Handoff::Block };
    let sinks = SinkSet::new(built.sinks, handoff).context("cannot start the sinks")?;
    // The packet ring is only needed headless when alerts get their own pcaps.
    let ring = built.dump_alerts.as_ref().map(|_| packet_ring(cli));
    let mut stats = Stats::new(stats_config(cli));
    let mut detectors = built.detectors;
    let options = |shared| Options {
        handoff,
        stop: Some(stop),
        shared,
        ring: ring.as_deref(),
        dump_alerts: built.dump_alerts.clone(),
        sinks: Some(&sinks),
        views: None,
        records: Some(cli.records.config(cli.max_flows)),
    };
    let mut info = match built.input {
        Input::File(mut source) => {
            let mut filter = file_filter(cli, &mut source)?;
            let bar = progress_bar(cli, source.progress().and_then(|p| p.total));
            let report = pipeline::run(&mut source, filter.as_mut(), &mut stats, &mut detectors, options(None), |p| {
                bar.set_position(p.done)
            })?;
            bar.finish_and_clear();
            let mut info = run_info(source.name(), cli.filter_expr(), &report, built.outliers.as_ref(), &sinks);
            if let Some(w) = source.warning() {
                warn_line(&format!(
                    "{}: {w}; the summary covers the {} packets before it",
                    source.name(),
                    stats.totals.packets
                ));
                info.warnings.push(w.to_string());
            }
            info
        }
        Input::Live(mut source) => {
            if let Some(secs) = cli.duration {
                stop_after(secs, stop)?;
            }
            // Source problems (a device that went down, and its return) go to stderr as they happen.
            let shared = std::sync::Mutex::new(pipeline::SourceState::default());
            let report = std::thread::scope(|scope| {
                let (shared, name) = (&shared, source.name().to_string());
                scope.spawn(move || report_status_changes(&name, shared, stop));
                let report =
                    pipeline::run(&mut source, None, &mut stats, &mut detectors, options(Some(shared)), |_| {});
                stop.store(true, Ordering::Relaxed);
                report
            })?;
            let kernel = source.kernel_stats().unwrap_or_default();
            let mut info = run_info(source.name(), cli.filter_expr(), &report, built.outliers.as_ref(), &sinks);
            if let Some(status) = source.status() {
                info.warnings.push(status.to_string());
            }
            info.capture = Some(CaptureJson::new(source.name(), kernel, report.dropped_ring, report.dropped_detector));
            info
        }
    };
    info.detect_tables = detectors.tables();
    clamped_warning(&stats, &mut info.warnings);
    if detectors.clock_held() > 0 {
        warn(
            &mut info.warnings,
            format!(
                "{} packets were dated far from their neighbours; the detectors saw them at their neighbours' time",
                detectors.clock_held()
            ),
        );
    }
    let mut summary = Summary::new(&stats, &info, cli.top);
    let done = sinks.finish(|| stats.hosts.top(0), &serde_json::to_value(&summary).unwrap_or_default());
    for s in &done {
        // Deliveries finish with the sinks: the printed summary has their final counts.
        if let Some((_, failed, last)) = &s.delivery
            && *failed > 0
        {
            let w =
                format!("{} sink: {failed} messages not delivered (last: {})", s.name, last.as_deref().unwrap_or(""));
            if !summary.warnings.contains(&w) {
                warn(&mut summary.warnings, w);
            }
        }
    }
    summary.sinks = sink_json(&done);
    print_summary(cli, &summary)?;
    write_report(built.report.as_ref(), &stats, &summary, &info)?;
    sinks_failed(&done)
}

/// What a run reports besides the counters.
fn run_info(
    source: &str,
    filter: Option<String>,
    report: &pipeline::RunReport,
    outliers: Option<&SharedOutliers>,
    sinks: &SinkSet,
) -> RunInfo {
    let outliers = outliers.and_then(|o| o.lock().ok().map(|v| v.clone()));
    let mut warnings = Vec::new();
    if let Some(e) = outliers.as_ref().and_then(|o| o.status.error.as_ref()) {
        warn(&mut warnings, format!("outlier model: {e}"));
    }
    for w in &report.warnings {
        warn(&mut warnings, w.clone());
    }
    let statuses = sinks.status();
    for s in &statuses {
        if let Some(e) = &s.error {
            let what = if s.name == "alerts" {
                "writing alerts failed".to_string()
            } else {
                format!("{} sink failed", s.name)
            };
            // A failure that fails the run is said once, by the run's last line; the
            // summary's warnings still list it.
            let line = format!("{what}: {e}");
            if fails_the_run(e) {
                warnings.push(line);
            } else {
                warn(&mut warnings, line);
            }
        }
        if s.dropped > 0 && s.error.is_none() {
            warn(&mut warnings, format!("{} sink fell behind: {} messages dropped", s.name, s.dropped));
        }
        if let Some((_, failed, last)) = &s.delivery
            && *failed > 0
        {
            let last = last.as_deref().unwrap_or("");
            warn(&mut warnings, format!("{} sink: {failed} messages not delivered (last: {last})", s.name));
        }
    }
    RunInfo {
        source: source.to_string(),
        filter,
        frames_read: report.frames,
        alerts: report.alerts.clone(),
        alerts_total: report.alerts_total,
        sinks: sink_json(&statuses),
        outliers,
        warnings,
        records: report.records,
        ..Default::default()
    }
}

/// The summary's `sinks`, from what became of each.
fn sink_json(
    statuses: &[crate::pipeline::SinkStatus],
) -> std::collections::BTreeMap<&'static str, crate::export::summary::SinkJson> {
    statuses
        .iter()
        .map(|s| {
            let (sent, failed, last_failure) = match &s.delivery {
                Some((sent, failed, last)) => (Some(*sent), Some(*failed), last.clone()),
                None => (None, None, None),
            };
            let json = crate::export::summary::SinkJson {
                dropped: s.dropped,
                error: s.error.clone(),
                sent,
                failed,
                last_failure,
            };
            (s.name, json)
        })
        .collect()
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

fn print_summary(cli: &Cli, summary: &Summary) -> anyhow::Result<()> {
    let text = if cli.json { summary.to_json() + "\n" } else { report::render(summary) };
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
