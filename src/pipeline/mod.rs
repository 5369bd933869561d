//! The one pipeline runner, for every mode (headless or TUI, file or live): source →
//! filter → decode → stats → detectors → alert stage → sinks.
//!
//! Threads: the calling thread reads, filters and decodes (the capture side, which also
//! keeps raw packets in the lock-free ring), `ntop-stats` counts (and serves the TUI's
//! views, [`engine`]), `ntop-detect` runs the detectors and, at the end, finishes them,
//! and `ntop-alerts` writes incident pcaps and hands reports to the [`sink`]s. Decoded
//! [`PacketMeta`]s travel in batches over bounded channels, capture → stats → detect,
//! and emptied batches come back to the capture side to be reused, so the steady state
//! allocates nothing and each packet is copied once. On a file the channel applies back-pressure (nothing
//! is lost, the reader just waits); on a live capture the capture thread never waits:
//! a batch that finds the channel full is dropped and counted ([`RunReport`]).

pub mod alerts;
pub mod engine;
pub mod minutes;
pub mod sink;

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_channel::{Receiver, Sender, TrySendError, bounded};

use crate::capture::{CaptureError, Filter, KernelStats, Next, PacketRing, PacketSource, Progress};
use crate::decode::{PacketMeta, decode_onto};
use crate::detect::{Alert, Detectors};
use crate::stats::Stats;
pub use engine::{ReportHook, ViewIo};
pub use sink::{Sink, SinkSet, SinkStatus};

/// Packets per batch.
const BATCH: usize = 1024;
/// Batches in flight between two threads: few for files, which wait rather than drop
/// (fewer in flight stay in cache), more for live capture, to absorb bursts.
pub const fn depth(handoff: Handoff) -> usize {
    match handoff {
        Handoff::Block => 16,
        Handoff::DropWhenFull => 64,
    }
}
/// Starts fetching the recycled memory a batch will be decoded into, some packets
/// ahead: another core wrote it last, and a write that waits for it stalls the reader.
#[inline]
fn prefetch_spare(batch: &Vec<PacketMeta>) {
    const AHEAD: usize = 8;
    if batch.len() + AHEAD < batch.capacity() {
        crate::stats::table::prefetch_lines(batch.as_ptr().wrapping_add(batch.len() + AHEAD));
    }
}

/// How often (in frames) the progress callback runs.
const PROGRESS_EVERY: u64 = 1 << 16;

/// How the capture side hands batches on when the counting side is behind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handoff {
    /// Wait: right for files, where waiting loses nothing.
    Block,
    /// Drop the batch and count it: right for live capture, where waiting loses more.
    DropWhenFull,
}

/// What a run did besides counting.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunReport {
    /// Frames read from the source, before the filter.
    pub frames: u64,
    /// Decoded packets dropped because the stats ring was full.
    pub dropped_ring: u64,
    /// Packets the detectors missed because they fell behind (live only).
    pub dropped_detector: u64,
    /// The latest report of every incident held, newest first (with `pcap` evidence).
    pub alerts: Vec<Alert>,
    /// Incidents reported.
    pub alerts_total: u64,
    /// Alert pcaps that could not be written, one line each.
    pub warnings: Vec<String>,
    /// Flow records ended, and the connection table (when records were followed).
    pub records: Option<(crate::records::RecordCounts, crate::stats::table::Fill)>,
}

/// What the capture side tells the rest while it runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceState {
    /// Kernel-side counters (live sources).
    pub kernel: Option<KernelStats>,
    /// A problem the source is working around.
    pub status: Option<String>,
    /// Frames read so far.
    pub frames: u64,
    /// Decoded packets dropped because the ring was full.
    pub dropped_ring: u64,
    /// Packets the detectors missed by lagging.
    pub dropped_detector: u64,
    /// The source has ended.
    pub finished: bool,
}

/// Runs until the source ends or `stop` is set.
pub struct Options<'a> {
    /// Back-pressure policy.
    pub handoff: Handoff,
    /// Set from elsewhere (a signal, a timer) to end the run cleanly.
    pub stop: Option<&'a AtomicBool>,
    /// Refreshed while the source is idle and every few thousand frames.
    pub shared: Option<&'a Mutex<SourceState>>,
    /// Keeps the raw bytes of every packet that passes the filter (for dumps).
    pub ring: Option<&'a PacketRing>,
    /// Writes each ended incident's pcap here, from `ring` (`--dump-alerts`).
    pub dump_alerts: Option<crate::files::OutDir>,
    /// Where reports and snapshots go.
    pub sinks: Option<&'a SinkSet>,
    /// The TUI: publish views, and keep serving them after the source ends.
    pub views: Option<ViewIo>,
    /// Follow connections into flow records with these timeouts (when a sink takes them).
    pub records: Option<crate::records::RecordConfig>,
}

impl Default for Options<'_> {
    fn default() -> Self {
        Options {
            handoff: Handoff::Block,
            stop: None,
            shared: None,
            ring: None,
            dump_alerts: None,
            sinks: None,
            views: None,
            records: None,
        }
    }
}

/// Frames between looks at the clock for a refresh of [`SourceState`].
const SHARE_EVERY: u64 = 8192;
/// Most often [`SourceState`] is refreshed while the source runs (the view is published
/// a few times a second; the final refresh is always made).
const SHARE_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);
/// Most frames read after a stop request (what the kernel already held).
const DRAIN_MAX: usize = 1 << 20;
/// On a quiet link, a partial batch is passed on at most this often, so the view stays
/// current without flooding the channel with one-packet batches.
const IDLE_HANDOFF: std::time::Duration = std::time::Duration::from_millis(20);

/// Reads `source` to its end (or until stopped), counting every frame that passes
/// `filter` into `stats` and running `detectors` on it; at the end the detectors are
/// finished (open incidents end), every report has reached the sinks, and (with views)
/// the UI has hung up.
///
/// `on_progress` is called every few tens of thousands of frames and once at the end.
pub fn run<S: PacketSource + ?Sized>(
    source: &mut S,
    filter: Option<&mut Filter>,
    stats: &mut Stats,
    detectors: &mut Detectors,
    mut options: Options<'_>,
    on_progress: impl FnMut(Progress),
) -> Result<RunReport, CaptureError> {
    let handoff = options.handoff;
    let (full_tx, full_rx) = bounded::<Vec<PacketMeta>>(depth(handoff));
    let (detect_tx, detect_rx) = bounded::<engine::Work>(depth(handoff));
    let (empty_tx, empty_rx) = bounded::<Vec<PacketMeta>>(2 * depth(handoff) + 2);
    // Reports are few: a deep queue, so that detection never waits on a slow dump.
    let (report_tx, report_rx) = bounded::<StageMsg>(1024);
    let (list_tx, list_rx) = bounded::<Vec<Alert>>(16);
    let none = SinkSet::none();
    let sinks = options.sinks.unwrap_or(&none);
    let views = options.views.take();
    let lists = views.as_ref().map(|_| list_tx);
    let dumps = match (options.dump_alerts.take(), options.ring) {
        (Some(dir), Some(ring)) => Some(alerts::AlertDumps { ring, dir }),
        _ => None,
    };
    // With no detectors registered, batches skip the detector hop altogether.
    let detecting = !detectors.is_empty();
    let tracker = options.records.filter(|_| sinks.wants_flows()).map(crate::records::Tracker::new);
    let (stage_tx, stage_rx) = bounded::<engine::Ended>(256);
    std::thread::scope(|scope| {
        let engine_io = engine::EngineIo {
            batches: full_rx,
            detect: detecting.then_some(detect_tx),
            recycle: empty_tx.clone(),
            incidents: list_rx,
            sinks,
            shared: options.shared,
            records: tracker.map(|tracker| engine::Records { tracker }),
            stage: stage_tx,
        };
        let counter = std::thread::Builder::new()
            .name("ntop-stats".into())
            .spawn_scoped(scope, move || engine::run(stats, engine_io, handoff, views))
            .expect("spawning the stats thread");
        let detector = std::thread::Builder::new()
            .name("ntop-detect".into())
            .spawn_scoped(scope, move || {
                let (mut lost, mut finished) = (0u64, false);
                for (mut batch, ended) in detect_rx {
                    let reports = detectors.observe(&batch);
                    if !reports.is_empty() {
                        lost += pass_reports(&report_tx, reports, handoff);
                    }
                    // The capture's last records come after the detectors' last reports.
                    if !finished && ended.iter().any(|e| e.last) {
                        let last = detectors.finish();
                        if !last.is_empty() {
                            let _ = report_tx.send(StageMsg::Reports(last));
                        }
                        finished = true;
                    }
                    for e in ended {
                        let _ = report_tx.send(StageMsg::Records(e));
                    }
                    batch.clear();
                    let _ = empty_tx.try_send(batch);
                }
                if !finished {
                    let last = detectors.finish();
                    if !last.is_empty() {
                        let _ = report_tx.send(StageMsg::Reports(last));
                    }
                }
                (lost, detectors.incidents_total())
            })
            .expect("spawning the detector thread");
        let stage = std::thread::Builder::new()
            .name("ntop-alerts".into())
            .spawn_scoped(scope, move || alerts::stage(report_rx, stage_rx, dumps, sinks, lists))
            .expect("spawning the alert thread");
        let result = capture_loop(source, filter, &full_tx, &empty_rx, &options, on_progress);
        drop(full_tx);
        let (lagged, records) = joined(counter.join());
        let (lost_reports, total) = joined(detector.join());
        let done = joined(stage.join());
        let mut warnings = done.warnings;
        if lost_reports > 0 {
            warnings.push(format!("{lost_reports} alert reports were dropped: the alert stage fell behind"));
        }
        result.map(|r| RunReport {
            records,
            dropped_detector: lagged,
            alerts: done.latest.list(),
            alerts_total: total.max(done.latest.total()),
            warnings,
            ..r
        })
    })
}

/// A joined thread's result, or its panic passed on.
fn joined<T>(r: std::thread::Result<T>) -> T {
    r.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// What reaches the alert stage from the detector thread, in order: a batch's reports,
/// then the flow records that batch ended.
pub enum StageMsg {
    /// Alert reports.
    Reports(Vec<Alert>),
    /// Flow records, to tag and pass on.
    Records(engine::Ended),
}

/// Hands a batch of reports to the alert stage: waiting on a file; on a live capture,
/// dropping (and counting) them if the stage is a thousand batches behind.
fn pass_reports(tx: &Sender<StageMsg>, reports: Vec<Alert>, handoff: Handoff) -> u64 {
    let n = reports.len() as u64;
    match handoff {
        Handoff::Block => {
            let _ = tx.send(StageMsg::Reports(reports));
            0
        }
        Handoff::DropWhenFull => match tx.try_send(StageMsg::Reports(reports)) {
            Err(TrySendError::Full(_)) => n,
            _ => 0,
        },
    }
}

/// Passes a counted batch (and the records it ended) on to the detectors (waiting, or
/// dropping the batch when they are behind on a live capture); returns how many packets
/// they missed, and the records they did not get (for the caller to send on directly).
pub fn forward(
    work: engine::Work,
    detect: &Sender<engine::Work>,
    recycle: &Sender<Vec<PacketMeta>>,
    handoff: Handoff,
) -> (u64, Vec<engine::Ended>) {
    let ((mut batch, ended), missed) = match handoff {
        Handoff::Block => match detect.send(work) {
            Ok(()) => return (0, Vec::new()),
            Err(e) => (e.into_inner(), 0),
        },
        Handoff::DropWhenFull => match detect.try_send(work) {
            Ok(()) => return (0, Vec::new()),
            Err(TrySendError::Full(w)) => {
                let n = w.0.len() as u64;
                (w, n)
            }
            Err(TrySendError::Disconnected(w)) => (w, 0),
        },
    };
    batch.clear();
    let _ = recycle.try_send(batch);
    (missed, ended)
}

/// The capture side: read, filter, decode, and hand batches to `full` (emptied batches
/// come back on `empty`). Returns when the source ends, `stop` is set, or the receiver
/// is gone.
pub fn capture_loop<S: PacketSource + ?Sized>(
    source: &mut S,
    mut filter: Option<&mut Filter>,
    full: &Sender<Vec<PacketMeta>>,
    empty: &Receiver<Vec<PacketMeta>>,
    options: &Options<'_>,
    mut on_progress: impl FnMut(Progress),
) -> Result<RunReport, CaptureError> {
    let fresh = || Vec::with_capacity(BATCH);
    let stopped = || options.stop.is_some_and(|s| s.load(Ordering::Relaxed));
    let mut batch = fresh();
    let mut report = RunReport::default();
    let mut last_handoff = std::time::Instant::now();
    let mut shared_at: Option<std::time::Instant> = None;
    while !stopped() {
        let frame = match source.next_frame()? {
            Next::Frame(f) => f,
            Next::Idle => {
                // A quiet link: pass on what we have now and then so the view stays
                // current. Nothing is dropped here: if the channel is full, keep it.
                if !batch.is_empty() && last_handoff.elapsed() >= IDLE_HANDOFF {
                    match full.try_send(std::mem::take(&mut batch)) {
                        Ok(()) => batch = empty.try_recv().unwrap_or_else(|_| fresh()),
                        Err(TrySendError::Full(kept)) => batch = kept,
                        Err(TrySendError::Disconnected(_)) => break,
                    }
                    last_handoff = std::time::Instant::now();
                }
                if due(&mut shared_at) {
                    share(source, options, &report, false);
                }
                continue;
            }
            Next::End => break,
        };
        report.frames += 1;
        if filter.as_deref_mut().is_none_or(|f| f.matches(&frame)) {
            if let Some(ring) = options.ring {
                ring.push(&frame);
            }
            prefetch_spare(&batch);
            decode_onto(&frame, &mut batch);
            if batch.len() == BATCH {
                if !hand_off(full, &mut batch, empty, options.handoff, &mut report) {
                    break;
                }
                last_handoff = std::time::Instant::now();
            }
        }
        if report.frames % SHARE_EVERY == 0 && due(&mut shared_at) {
            share(source, options, &report, false);
        }
        if report.frames % PROGRESS_EVERY == 0
            && let Some(p) = source.progress()
        {
            on_progress(p);
        }
    }
    // A live capture told to stop first takes in what the kernel already holds, so the
    // summary covers every packet that arrived (a file just stops where it is).
    if options.handoff == Handoff::DropWhenFull && stopped() {
        for _ in 0..DRAIN_MAX {
            let Next::Frame(frame) = source.next_frame()? else { break };
            report.frames += 1;
            if filter.as_deref_mut().is_none_or(|f| f.matches(&frame)) {
                if let Some(ring) = options.ring {
                    ring.push(&frame);
                }
                decode_onto(&frame, &mut batch);
                if batch.len() == BATCH && !hand_off(full, &mut batch, empty, Handoff::Block, &mut report) {
                    break;
                }
            }
        }
    }
    if !batch.is_empty() {
        let _ = full.send(batch);
    }
    share(source, options, &report, true);
    if let Some(p) = source.progress() {
        on_progress(p);
    }
    Ok(report)
}

/// Whether the shared state is due for a refresh (at most every [`SHARE_INTERVAL`]: a
/// refresh reads the kernel's counters, which costs syscalls and, for libpcap, files in
/// /sys); marks it done when it is.
fn due(shared_at: &mut Option<std::time::Instant>) -> bool {
    let now = std::time::Instant::now();
    if shared_at.is_some_and(|t| now.duration_since(t) < SHARE_INTERVAL) {
        return false;
    }
    *shared_at = Some(now);
    true
}

/// Refreshes the shared state, if anyone asked for it.
fn share<S: PacketSource + ?Sized>(source: &mut S, options: &Options<'_>, report: &RunReport, finished: bool) {
    let Some(shared) = options.shared else { return };
    let kernel = source.kernel_stats();
    let status = source.status().map(str::to_string);
    if let Ok(mut st) = shared.lock() {
        let dropped_detector = st.dropped_detector;
        *st = SourceState {
            kernel,
            status,
            frames: report.frames,
            dropped_ring: report.dropped_ring,
            dropped_detector,
            finished,
        };
    }
}

/// Sends the batch on (replacing it with an empty one); false when the receiver is gone.
fn hand_off(
    full: &Sender<Vec<PacketMeta>>,
    batch: &mut Vec<PacketMeta>,
    empty: &Receiver<Vec<PacketMeta>>,
    handoff: Handoff,
    report: &mut RunReport,
) -> bool {
    let out = std::mem::take(batch);
    let sent = match handoff {
        Handoff::Block => full.send(out).is_ok(),
        Handoff::DropWhenFull => match full.try_send(out) {
            Ok(()) => true,
            Err(TrySendError::Full(mut lost)) => {
                report.dropped_ring += lost.len() as u64;
                lost.clear();
                *batch = lost;
                return true;
            }
            Err(TrySendError::Disconnected(_)) => false,
        },
    };
    *batch = empty.try_recv().unwrap_or_else(|_| Vec::with_capacity(BATCH));
    sent
}

#[cfg(test)]
mod tests;
