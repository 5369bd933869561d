//! The counting thread: every decoded batch is counted into [`Stats`], passed on to the
//! detectors, and, once a second of packet time, summed up in a [`Snapshot`] for the
//! sinks. For the TUI it also publishes a [`View`] of the current [`ViewSpec`] a few
//! times a second (at once when the spec changes), and goes on serving views after the
//! source has ended, until the UI hangs up.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, never, select, tick};

use super::minutes::{Minute, Minutes};
use super::sink::{SinkSet, SinkWatch, Snapshot};
use super::{Handoff, SourceState, forward};
use crate::capture::{NANOS_PER_SEC, Nanos};
use crate::decode::PacketMeta;
use crate::detect::Alert;
use crate::detect::outlier::SharedOutliers;
use crate::export::summary::CaptureJson;
use crate::records::{FlowRecord, RecordCounts, Tracker};
use crate::stats::table::Fill;
use crate::stats::{Counter, Stats};
use crate::view::{Context, View, ViewSpec};

/// Wall time without a batch after which the sinks get a snapshot of what was counted.
const IDLE_SNAPSHOT: Duration = Duration::from_secs(1);

/// How often a view is published while data changes.
const PUBLISH: Duration = Duration::from_millis(250);

/// The TUI's side of the engine: specs in, views out.
pub struct ViewIo {
    /// View specs from the UI (the engine ends when the UI drops its sender).
    pub specs: Receiver<ViewSpec>,
    /// Views to the UI.
    pub views: Sender<Arc<View>>,
    /// Host clusters and model status from the outlier detector, if it runs.
    pub outliers: Option<SharedOutliers>,
    /// Source name and whether it is live.
    pub source: String,
    /// Live capture (or a replay).
    pub live: bool,
    /// Writes a report of what has been counted so far (key `R`), returning a line to show.
    pub report: Option<ReportHook>,
}

/// Writes a report from the counters and the incidents so far; returns what to tell the user.
pub type ReportHook = Box<dyn Fn(&Stats, &[Alert]) -> String + Send>;

/// The engine's channels.
pub struct EngineIo<'a> {
    /// Decoded batches from the capture side.
    pub batches: Receiver<Vec<PacketMeta>>,
    /// Counted batches on to the detectors (none when nothing detects), each with the
    /// flow records that ended by its packets.
    pub detect: Option<Sender<Work>>,
    /// Emptied batches back to the capture side.
    pub recycle: Sender<Vec<PacketMeta>>,
    /// Incident lists from the alert stage (views only).
    pub incidents: Receiver<Vec<Alert>>,
    /// The sinks, for snapshots.
    pub sinks: &'a SinkSet,
    /// What the capture side shares.
    pub shared: Option<&'a Mutex<SourceState>>,
    /// The connection tracker (when a sink takes flow records).
    pub records: Option<Records>,
    /// Straight to the alert stage: flow records and minutes when nothing detects, or
    /// when the detectors dropped the batch they came with.
    pub stage: Sender<Ended>,
}

/// The connection tracker, on the counting thread.
pub struct Records {
    /// The tracker.
    pub tracker: Tracker,
}

/// What a counted batch ended, on its way to the sinks behind the detectors' reports of
/// that batch: flow records and closed minutes. One way for both, in packet order, so a
/// file that interleaves alerts, flows and statistics (ECS, EVE) is the same in every
/// replay. `last` marks the capture's end, which the detectors finish before passing on.
#[derive(Debug, Default)]
pub struct Ended {
    /// Records, oldest last packet first.
    pub records: Vec<FlowRecord>,
    /// Closed minutes, oldest first.
    pub minutes: Vec<super::minutes::Minute>,
    /// The final batch.
    pub last: bool,
}

/// A counted batch and the flow records its packets ended: the detectors see the batch,
/// report, and pass the records on after their reports, so a record is tagged with the
/// incidents reported up to its last packet, the same in every replay.
pub type Work = (Vec<PacketMeta>, Vec<Ended>);

impl Records {
    /// Follows a counted batch; returns the records it ended.
    fn after(&mut self, batch: &[PacketMeta]) -> Vec<Ended> {
        self.tracker.observe_batch(batch);
        ended(self.tracker.take_chunks(), false)
    }

    /// The capture is over: every connection still open ends.
    fn finish(&mut self) -> Vec<Ended> {
        ended(self.tracker.finish_chunks(), true)
    }

    fn counts(&self) -> (RecordCounts, Fill) {
        (self.tracker.counts(), self.tracker.fill())
    }
}

/// The tracker's chunks of records as messages to the alert stage.
fn ended(chunks: Vec<Vec<FlowRecord>>, last: bool) -> Vec<Ended> {
    chunks.into_iter().map(|records| Ended { records, minutes: Vec::new(), last }).collect()
}

/// What the counting thread leaves: packets the detectors missed, and the flow records'
/// counts and connection table (when connections were followed).
pub type Counted = (u64, Option<(RecordCounts, Fill)>);

/// Runs the engine until the batches end (or, with views, until the UI hangs up).
pub fn run(stats: &mut Stats, io: EngineIo<'_>, handoff: Handoff, views: Option<ViewIo>) -> Counted {
    let EngineIo { mut batches, detect, recycle, mut incidents, sinks, shared, mut records, stage } = io;
    let to_stage = |ended: Vec<Ended>| {
        for e in ended {
            let _ = stage.send(e);
        }
    };
    let mut lagged = 0u64;
    let mut next_snapshot: Option<Nanos> = None;
    let mut minutes = match (sinks.wants_minutes(), sinks.wants_host_minutes()) {
        (_, true) => Some(Minutes::with_hosts()),
        (true, false) => Some(Minutes::default()),
        (false, false) => None,
    };
    let mut count = |stats: &mut Stats,
                     records: &mut Option<Records>,
                     minutes: &mut Option<Minutes>,
                     batch: Vec<PacketMeta>,
                     lagged: &mut u64| {
        stats.record_batch(&batch);
        let mut ended = records.as_mut().map(|r| r.after(&batch)).unwrap_or_default();
        if let Some(minutes) = minutes {
            let tracked = (stats.hosts.len(), stats.flows.len());
            let closed: Vec<_> = batch.iter().filter_map(|m| minutes.add(m)).map(|m| Minute { tracked, ..m }).collect();
            if !closed.is_empty() {
                ended.push(Ended { records: Vec::new(), minutes: closed, last: false });
            }
        }
        if let Some(ts) = batch.last().map(|m| m.ts) {
            let second = ts - ts.rem_euclid(NANOS_PER_SEC);
            let due = *next_snapshot.get_or_insert(second + NANOS_PER_SEC);
            if ts >= due {
                sinks.snapshot(snapshot(stats, second, shared, *lagged, sinks));
                next_snapshot = Some(second + NANOS_PER_SEC);
            }
        }
        match &detect {
            Some(tx) => {
                let (missed, undelivered) = forward((batch, ended), tx, &recycle, handoff);
                *lagged += missed;
                to_stage(undelivered);
            }
            None => {
                let mut batch = batch;
                batch.clear();
                let _ = recycle.try_send(batch);
                to_stage(ended);
            }
        }
    };
    // The batches have ended: the last records, then the last minute (after everything
    // else the detectors see).
    let end_of_batches = |stats: &Stats, records: &mut Option<Records>, minutes: &mut Option<Minutes>| {
        let mut last = records.as_mut().map(Records::finish).unwrap_or_default();
        if let Some(m) = minutes.as_mut().and_then(Minutes::finish) {
            let tracked = (stats.hosts.len(), stats.flows.len());
            last.push(Ended { records: Vec::new(), minutes: vec![Minute { tracked, ..m }], last: true });
        }
        if last.is_empty() {
            return;
        }
        match &detect {
            Some(tx) => {
                if let Err(e) = tx.send((Vec::new(), last)) {
                    to_stage(e.into_inner().1);
                }
            }
            None => to_stage(last),
        }
    };
    // A quiet source still gets its last figures to the sinks: a snapshot when a second of
    // wall time passes without a batch and something was counted since the last one.
    let idle_snapshot = |stats: &Stats, lagged: u64, sent: &mut Counter| {
        if let Some(ts) = stats.last_ts
            && stats.totals != *sent
        {
            *sent = stats.totals;
            sinks.snapshot(snapshot(stats, ts - ts.rem_euclid(NANOS_PER_SEC), shared, lagged, sinks));
        }
    };
    let mut idle_sent = Counter::default();
    let Some(v) = views else {
        loop {
            match batches.recv_timeout(IDLE_SNAPSHOT) {
                Ok(batch) => count(stats, &mut records, &mut minutes, batch, &mut lagged),
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => idle_snapshot(stats, lagged, &mut idle_sent),
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
            }
        }
        end_of_batches(stats, &mut records, &mut minutes);
        return (lagged, records.map(|r| r.counts()));
    };
    let watch = sinks.watch();
    let ticker = tick(PUBLISH);
    let mut spec = ViewSpec::default();
    let (mut dirty, mut last_state, mut list) = (true, SourceState::default(), Vec::new());
    let mut finished = false;
    let mut idle_at = std::time::Instant::now();
    let (mut reports, mut notice) = (0u32, None::<(u32, String)>);
    loop {
        let mut publish = false;
        select! {
            recv(batches) -> msg => match msg {
                Ok(batch) => {
                    count(stats, &mut records, &mut minutes, batch, &mut lagged);
                    idle_at = std::time::Instant::now();
                    dirty = true;
                }
                Err(_) => {
                    batches = never();
                    if !finished {
                        end_of_batches(stats, &mut records, &mut minutes);
                        finished = true;
                    }
                    dirty = true;
                }
            },
            recv(incidents) -> msg => match msg {
                Ok(l) => {
                    list = l;
                    dirty = true;
                }
                Err(_) => incidents = never(),
            },
            recv(v.specs) -> msg => match msg {
                Ok(s) => {
                    if s.report > reports {
                        reports = s.report;
                        let told = v.report.as_ref().map_or_else(|| "no report writer".to_string(), |hook| hook(stats, &list));
                        notice = Some((reports, told));
                    }
                    spec = s;
                    publish = true;
                }
                Err(_) => return (lagged, records.map(|r| r.counts())), // the UI is gone
            },
            recv(ticker) -> _ => {
                if idle_at.elapsed() >= IDLE_SNAPSHOT {
                    idle_snapshot(stats, lagged, &mut idle_sent);
                    idle_at = std::time::Instant::now();
                }
                let mut state = shared.and_then(|s| s.lock().ok().map(|s| s.clone())).unwrap_or_default();
                state.dropped_detector = lagged;
                dirty |= state != last_state;
                last_state = state;
                publish = dirty;
            }
        }
        if publish {
            let mut view = build(stats, &spec, &v, &last_state, &list, &watch);
            view.notice.clone_from(&notice);
            // A full slot means the UI has not taken the last view yet: try next tick.
            dirty = v.views.try_send(Arc::new(view)).is_err();
        }
    }
}

fn build(stats: &Stats, spec: &ViewSpec, v: &ViewIo, state: &SourceState, alerts: &[Alert], sinks: &SinkWatch) -> View {
    let sink_problems: Vec<String> = sinks
        .status()
        .into_iter()
        .filter_map(|s| match (&s.error, s.dropped, s.delivery.as_ref().map_or(0, |d| d.1)) {
            (Some(e), _, _) => Some(format!("{} sink failed: {e}", s.name)),
            (None, 0, 0) => None,
            (None, n, 0) => Some(format!("{} sink dropped {n}", s.name)),
            (None, n, f) => Some(format!("{}: {f} not delivered, {n} dropped", s.name)),
        })
        .collect();
    let status = state.status.iter().cloned().chain(sink_problems).collect::<Vec<_>>().join("; ");
    let context = Context {
        source: v.source.clone(),
        live: v.live,
        capture: state.kernel.map(|k| CaptureJson::new(&v.source, k, state.dropped_ring, state.dropped_detector)),
        status: (!status.is_empty()).then_some(status),
        finished: state.finished,
        alerts: alerts.to_vec(),
        outliers: None,
    };
    let mut view = View::build(stats, spec, context);
    if let Some(shared) = &v.outliers
        && let Ok(o) = shared.lock()
    {
        view.add_outliers(&o);
    }
    view
}

/// The figures of a second.
fn snapshot(stats: &Stats, ts: Nanos, shared: Option<&Mutex<SourceState>>, lagged: u64, sinks: &SinkSet) -> Snapshot {
    let state = shared.and_then(|s| s.lock().ok().map(|s| s.clone())).unwrap_or_default();
    let kernel = state.kernel.unwrap_or_default();
    let mut drops = vec![
        ("kernel".to_string(), kernel.dropped_kernel),
        ("interface".to_string(), kernel.dropped_interface),
        ("ring".to_string(), state.dropped_ring),
        ("detector".to_string(), lagged),
    ];
    drops.extend(sinks.status().into_iter().map(|s| (format!("sink_{}", s.name), s.dropped)));
    Snapshot {
        ts,
        totals: stats.totals,
        protocols: stats.protocols,
        hosts: stats.hosts.len(),
        flows: stats.flows.len(),
        drops,
        tables: vec![("hosts", stats.hosts.fill()), ("flows", stats.flows.fill())],
    }
}
