//! Wiring: turn the parsed flags into a source, a filter and an engine, run it, and
//! print the result.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::capture::live::{self, LiveConfig, LiveSource};
use crate::capture::{FileSource, Filter, LinkType, Next, PacedSource, PacketRing, PacketSource, ReplayControl};
use crate::cli::Cli;
use crate::detect::Detectors;
use crate::detect::outlier::{Model, OutlierDetector, SharedOutliers};
use crate::export::summary::CaptureJson;
use crate::export::{RunInfo, Summary, report};
use crate::pipeline::{self, Handoff, Options};
use crate::privs;
use crate::stats::{Stats, StatsConfig};
use crate::ui;

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
        run_interactive(cli)?;
        return Ok(ExitCode::SUCCESS);
    }
    let stop = stop_on_signals(true)?;
    let mut stats = Stats::new(stats_config(cli));
    let info = match cli.read.as_deref() {
        Some(path) => read_file(cli, path, &mut stats, &stop)?,
        None => capture_live(cli, &mut stats, &stop)?,
    };
    print_summary(cli, &stats, &info)?;
    Ok(ExitCode::SUCCESS)
}

/// The ring of recent raw packets that `w`, `d` and `--dump-alerts` write from: as much
/// of the last day as fits in --ring-mb.
fn packet_ring(cli: &Cli) -> Arc<std::sync::Mutex<PacketRing>> {
    let bytes = usize::try_from(cli.ring_mb << 20).unwrap_or(usize::MAX);
    Arc::new(std::sync::Mutex::new(PacketRing::new(bytes, 86_400 * crate::capture::NANOS_PER_SEC)))
}

/// The detectors that run (scans and sweeps, floods and spikes, outliers; none with
/// --no-detect), writing their reports to `--alerts` if asked, and each ended incident's
/// pcap to `--dump-alerts` from `ring`. Also the outlier detector's shared view (host
/// clusters and model status), when it runs.
fn detectors(
    cli: &Cli,
    ring: Option<Arc<std::sync::Mutex<PacketRing>>>,
    headless: bool,
    live: bool,
) -> anyhow::Result<(Detectors, Option<SharedOutliers>)> {
    let mut list: Vec<Box<dyn crate::detect::Detector>> = Vec::new();
    let mut shared = None;
    if !cli.detect.no_detect {
        list.push(Box::new(crate::detect::scan::ScanDetector::new(cli.detect.scan_config())));
        list.push(Box::new(crate::detect::flood::FloodDetector::new(cli.detect.flood_config())));
        if !cli.outliers.no_outliers {
            let outliers = outlier_detector(cli, live)?;
            shared = Some(outliers.shared());
            list.push(Box::new(outliers));
        }
    }
    let mut set = Detectors::new(list);
    if let (Some(dir), Some(ring)) = (cli.dump_alerts.clone(), ring) {
        if !dir.is_dir() {
            bail!("--dump-alerts {}: not a directory", dir.display());
        }
        set = set.with_hook(Box::new(move |alert| dump_ended_alert(alert, &ring, &dir, headless)));
    }
    let set = match cli.alerts.as_deref() {
        None => set,
        Some("-") => set.with_sink(Box::new(std::io::stdout())),
        Some(path) => {
            let file = std::fs::File::create(path).map_err(|e| {
                anyhow::anyhow!("cannot write alerts to {path}: {}", crate::capture::file::io_reason(&e))
            })?;
            set.with_sink(Box::new(std::io::BufWriter::new(file)))
        }
    };
    Ok((set, shared))
}

/// The outlier detector, ready at once from `--baseline` or an existing `--model`, or
/// learning from the first `--learn` seconds. Live, new models are adopted when ready;
/// on a file, at a fixed packet time (reproducible).
fn outlier_detector(cli: &Cli, live: bool) -> anyhow::Result<OutlierDetector> {
    let args = &cli.outliers;
    let mut cfg = args.config(cli.detect.alert_update, !live);
    let mut train_ms = None;
    let model = match (&args.baseline, &args.model) {
        (Some(baseline), _) => {
            let mut source =
                FileSource::open(&baseline.to_string_lossy()).map_err(|e| anyhow::anyhow!("--baseline: {e}"))?;
            let mut failed = None;
            let packets = std::iter::from_fn(|| match source.next_frame() {
                Ok(Next::Frame(frame)) => Some(crate::decode::decode(&frame)),
                Ok(_) => None,
                Err(e) => {
                    failed = Some(e);
                    None
                }
            });
            let started = std::time::Instant::now();
            let learned = crate::detect::outlier::learn_from(packets, &cfg);
            train_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
            if let Some(e) = failed {
                bail!("--baseline: {e}");
            }
            let model = learned.map_err(|e| anyhow::anyhow!("--baseline {}: {e}", baseline.display()))?;
            if let Some(path) = &args.model {
                model.save(path).map_err(|e| anyhow::anyhow!("--model: {e}"))?;
            }
            cfg.learned_from = format!("baseline {} ({} host windows)", baseline.display(), model.trained_on);
            Some(model)
        }
        (None, Some(path)) if path.exists() => {
            let model = Model::load(path).map_err(|e| anyhow::anyhow!("--model {}: {e}", path.display()))?;
            if (model.window_secs - args.outlier_window as f64).abs() > f64::EPSILON {
                bail!(
                    "--model {}: trained on {} s windows; run with --outlier-window {}",
                    path.display(),
                    model.window_secs,
                    model.window_secs
                );
            }
            cfg.learned_from = format!("model {} ({} host windows)", path.display(), model.trained_on);
            Some(model)
        }
        (None, _) => None,
    };
    let detector = OutlierDetector::new(cfg, model);
    Ok(match train_ms {
        Some(ms) => detector.trained_here(ms),
        None => detector,
    })
}

/// `--dump-alerts`: when an incident ends, writes its pcap and notes the file (or the
/// failure) in its evidence as `pcap` (or `pcap_error`).
fn dump_ended_alert(alert: &mut crate::detect::Alert, ring: &std::sync::Mutex<PacketRing>, dir: &Path, headless: bool) {
    if alert.state != crate::detect::AlertState::End {
        return;
    }
    let result = match ring.lock() {
        Ok(ring) => crate::export::dump::write_alert(&ring, alert, dir).map_err(|e| e.to_string()),
        Err(_) => Err("the packet ring is unavailable".to_string()),
    };
    let Some(evidence) = alert.evidence.as_object_mut() else { return };
    match result {
        Ok(d) => {
            evidence.insert("pcap".into(), d.path.display().to_string().into());
        }
        Err(e) => {
            if headless {
                eprintln!("ntop-rs: warning: alert {} pcap: {e}", alert.id);
            }
            evidence.insert("pcap_error".into(), e.into());
        }
    }
}

/// Adds a failure of the `--alerts` stream to the run's warnings (and stderr).
fn note_sink_error(detectors: &Detectors, info: &mut RunInfo) {
    if let Some(e) = detectors.sink_error() {
        warn(&mut info.warnings, format!("writing alerts failed: {e}"));
    }
}

/// Prints a warning on stderr and keeps it for the summary's `warnings`.
fn warn(warnings: &mut Vec<String>, warning: String) {
    eprintln!("ntop-rs: warning: {warning}");
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

/// The TUI: everything that can fail on bad flags or permissions fails here, before the
/// terminal enters raw mode.
fn run_interactive(cli: &Cli) -> anyhow::Result<()> {
    let stop = stop_on_signals(false)?;
    let stats = Stats::new(stats_config(cli));
    let ring = packet_ring(cli);
    let dump_dir = cli.dump_dir.clone();
    if !dump_dir.is_dir() {
        bail!("--dump-dir {}: not a directory", dump_dir.display());
    }
    match cli.read.as_deref() {
        Some(path) => {
            let mut source = FileSource::open(path)?;
            let filter = match cli.filter_expr() {
                Some(e) => Some(Filter::new(&e, source.first_linktype().unwrap_or(LinkType::ETHERNET))?),
                None => None,
            };
            let control = ReplayControl::new(cli.speed, Arc::clone(&stop));
            let source = PacedSource::new(source, Arc::clone(&control));
            let (detectors, outliers) = detectors(cli, Some(Arc::clone(&ring)), false, false)?;
            ui::run(ui::Session {
                source,
                filter,
                outliers,
                stats,
                detectors,
                live: false,
                replay: Some(control),
                stop,
                ring,
                dump_dir,
                resolve: !cli.no_resolve,
            })
        }
        None => {
            let source = open_live(cli)?;
            let (detectors, outliers) = detectors(cli, Some(Arc::clone(&ring)), false, true)?;
            ui::run(ui::Session {
                source,
                filter: None,
                outliers,
                stats,
                detectors,
                live: true,
                replay: None,
                stop,
                ring,
                dump_dir,
                resolve: !cli.no_resolve,
            })
        }
    }
}

fn read_file(cli: &Cli, path: &str, stats: &mut Stats, stop: &AtomicBool) -> anyhow::Result<RunInfo> {
    let mut source = FileSource::open(path)?;
    let expr = cli.filter_expr();
    let mut filter = match &expr {
        Some(e) => Some(Filter::new(e, source.first_linktype().unwrap_or(LinkType::ETHERNET))?),
        None => None,
    };
    let bar = progress_bar(cli, source.progress().and_then(|p| p.total));
    // The packet ring is only needed headless when alerts get their own pcaps.
    let ring = cli.dump_alerts.as_ref().map(|_| packet_ring(cli));
    let options = Options { handoff: Handoff::Block, stop: Some(stop), shared: None, ring: ring.as_deref() };
    let (mut detectors, outliers) = detectors(cli, ring.clone(), true, false)?;
    let report =
        pipeline::run(&mut source, filter.as_mut(), stats, &mut detectors, options, |p| bar.set_position(p.done))?;
    bar.finish_and_clear();

    let mut info = run_info(source.name(), expr, &report, &detectors, outliers.as_ref());
    note_sink_error(&detectors, &mut info);
    if let Some(w) = source.warning() {
        eprintln!(
            "ntop-rs: warning: {}: {w}; the summary covers the {} packets before it",
            source.name(),
            stats.totals.packets
        );
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
    RunInfo {
        source: source.to_string(),
        filter,
        frames_read: report.frames,
        alerts: detectors.incidents(),
        outliers,
        warnings,
        ..Default::default()
    }
}

/// Opens the live device and gives up root: everything that needs privileges.
fn open_live(cli: &Cli) -> anyhow::Result<LiveSource> {
    let config = LiveConfig {
        device: cli.interface.clone(),
        promisc: !cli.no_promisc,
        snaplen: cli.snaplen,
        buffer_mib: cli.buffer_mib,
        filter: cli.filter_expr(),
    };
    let source = LiveSource::open(config)?;
    eprintln!(
        "ntop-rs: listening on {}, link-type {}, snapshot length {}",
        source.name(),
        source.linktype(),
        cli.snaplen
    );
    if let Some(user) = privs::drop_privileges(cli.user.as_deref())? {
        eprintln!("ntop-rs: running as {user}");
    }
    Ok(source)
}

fn capture_live(cli: &Cli, stats: &mut Stats, stop: &Arc<AtomicBool>) -> anyhow::Result<RunInfo> {
    let expr = cli.filter_expr();
    let mut source = open_live(cli)?;
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
    let ring = cli.dump_alerts.as_ref().map(|_| packet_ring(cli));
    let (mut detectors, outliers) = detectors(cli, ring.clone(), true, true)?;
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
                Some(problem) => eprintln!("ntop-rs: warning: {problem}"),
                None => eprintln!("ntop-rs: {device}: capturing again"),
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
