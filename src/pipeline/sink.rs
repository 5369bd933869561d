//! Sinks: consumers of what a run produces (alert reports, a statistics snapshot once a
//! second of packet time, and the final summary), each on its own thread behind its own
//! bounded queue.
//!
//! A slow or failing sink never stalls capture or detection: on a live capture a message
//! that finds the queue full is dropped and counted; on a file the queue waits (a replay
//! loses nothing by waiting). A sink's first error is kept and shown (summary warnings,
//! TUI header); a failed sink gets nothing more. `--alerts` is [`NdjsonAlerts`]; the
//! Records and Reports issues add theirs here.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crossbeam_channel::{Receiver, Sender, TrySendError, bounded};

use super::Handoff;
use super::minutes::Minute;
use crate::capture::Nanos;
use crate::decode::Proto;
use crate::detect::Alert;
use crate::records::FlowRecord;
use crate::stats::{Counter, HostStats};

/// Messages a sink's queue holds.
const QUEUE: usize = 4096;

/// How long a sink waits for a message before its [`Sink::tick`].
pub const TICK: std::time::Duration = std::time::Duration::from_millis(500);

/// The statistics at one second of packet time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// Packet time of the snapshot (a whole second).
    pub ts: Nanos,
    /// Packets and bytes counted so far.
    pub totals: Counter,
    /// The same per protocol class, by [`Proto::index`].
    pub protocols: [Counter; Proto::COUNT],
    /// Hosts and flows tracked now.
    pub hosts: usize,
    /// Flows tracked now.
    pub flows: usize,
    /// Packets (or, for sinks, messages) lost so far, by stage: `kernel`, `interface`,
    /// `ring`, `detector`, and `sink_<name>` for each sink.
    pub drops: Vec<(String, u64)>,
    /// The engine's tables: size, cap, evictions.
    pub tables: Vec<(&'static str, crate::stats::table::Fill)>,
}

/// A consumer of a run's output. Every method may fail; the first failure is kept and
/// the sink gets nothing more.
pub trait Sink: Send {
    /// Short name, for the summary and the header (`alerts`, later `db`, `mail`...).
    fn name(&self) -> &'static str;

    /// One alert report (new, update, end), with the packets' own times.
    fn alert(&mut self, _report: &Alert) -> Result<(), String> {
        Ok(())
    }

    /// The statistics at a second of packet time.
    fn snapshot(&mut self, _snapshot: &Snapshot) -> Result<(), String> {
        Ok(())
    }

    /// Flow records that ended, each once, tagged with the incidents that involved them.
    fn flows(&mut self, _records: &[FlowRecord]) -> Result<(), String> {
        Ok(())
    }

    /// Whether this sink takes flow records (the run follows connections only when one
    /// does).
    fn wants_flows(&self) -> bool {
        false
    }

    /// The run is over: every host's final figures (just before [`Sink::finish`]), for
    /// a sink that [`wants_hosts`](Sink::wants_hosts).
    fn hosts(&mut self, _hosts: &[(std::net::IpAddr, HostStats)]) -> Result<(), String> {
        Ok(())
    }

    /// Whether this sink takes the final host figures.
    fn wants_hosts(&self) -> bool {
        false
    }

    /// A minute of packet time ended with these protocol figures (the last one when the
    /// run ends), for a sink that [`wants_minutes`](Sink::wants_minutes).
    fn minute(&mut self, _minute: &Minute) -> Result<(), String> {
        Ok(())
    }

    /// Whether this sink takes per-minute figures.
    fn wants_minutes(&self) -> bool {
        false
    }

    /// Whether this sink wants per-host figures in its minutes (they cost the counting
    /// thread two lookups a packet).
    fn wants_host_minutes(&self) -> bool {
        false
    }

    /// Whether this sink takes the once-a-second snapshots (delivery sinks do not).
    fn wants_snapshots(&self) -> bool {
        true
    }

    /// A delivery sink's counters (messages sent and failed), read while it runs.
    fn delivery_counts(&self) -> Option<Arc<DeliveryCounts>> {
        None
    }

    /// Called when no message came for [`TICK`]: a sink that batches writes commits
    /// them here.
    fn tick(&mut self) -> Result<(), String> {
        Ok(())
    }

    /// The run is over: the JSON summary (the `--json` contract).
    fn finish(&mut self, _summary: &serde_json::Value) -> Result<(), String> {
        Ok(())
    }
}

enum Msg {
    Alert(Box<Alert>),
    Snapshot(Arc<Snapshot>),
    Flows(Arc<Vec<FlowRecord>>),
    Hosts(Arc<Vec<(std::net::IpAddr, HostStats)>>),
    Minute(Arc<Minute>),
    Finish(Arc<serde_json::Value>),
}

impl Msg {
    /// What a drop of this message loses, in the unit the summary counts.
    fn items(&self) -> u64 {
        match self {
            Msg::Flows(r) => r.len() as u64,
            _ => 1,
        }
    }
}

/// What became of one sink.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SinkStatus {
    /// The sink's name.
    pub name: &'static str,
    /// Items (alert reports, flow records, minutes, snapshots) it never wrote: its queue
    /// was full, or it had failed.
    pub dropped: u64,
    /// Its first error, if any.
    pub error: Option<String>,
    /// A delivery sink's messages sent and failed, and its last failure.
    pub delivery: Option<(u64, u64, Option<String>)>,
}

/// What a delivery sink (mail, webhook, syslog) counts while it runs.
#[derive(Debug, Default)]
pub struct DeliveryCounts {
    /// Messages delivered.
    pub sent: AtomicU64,
    /// Messages given up on after their retries.
    pub failed: AtomicU64,
    /// Messages dropped because the transport's outbox was full.
    pub dropped: AtomicU64,
    /// The latest failure.
    pub last_error: Mutex<Option<String>>,
}

struct Shared {
    name: &'static str,
    dropped: AtomicU64,
    error: Mutex<Option<String>>,
    delivery: Option<Arc<DeliveryCounts>>,
}

impl Shared {
    /// The sink failed with `e` on `lost` items: what is queued for it, and everything
    /// sent to it until the queue closes, is lost too, and counted so that the summary
    /// says how much.
    fn fail(&self, e: String, lost: u64, rx: &Receiver<Msg>) {
        *self.error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
        self.dropped.fetch_add(lost, Ordering::Relaxed);
        for rest in rx.iter() {
            self.dropped.fetch_add(rest.items(), Ordering::Relaxed);
        }
    }

    fn status(&self) -> SinkStatus {
        let d = self.delivery.as_deref();
        SinkStatus {
            name: self.name,
            dropped: self.dropped.load(Ordering::Relaxed) + d.map_or(0, |d| d.dropped.load(Ordering::Relaxed)),
            error: self.error.lock().unwrap_or_else(|p| p.into_inner()).clone(),
            delivery: d.map(|d| {
                let last = d.last_error.lock().unwrap_or_else(|p| p.into_inner()).clone();
                (d.sent.load(Ordering::Relaxed), d.failed.load(Ordering::Relaxed), last)
            }),
        }
    }
}

struct Running {
    tx: Sender<Msg>,
    shared: Arc<Shared>,
    thread: std::thread::JoinHandle<()>,
}

/// The sinks of a run, each on its own thread.
pub struct SinkSet {
    sinks: Vec<Running>,
    handoff: Handoff,
    /// Which sinks take flow records.
    flows: Vec<bool>,
    /// Which sinks take the final host figures.
    hosts: Vec<bool>,
    /// Which sinks take per-minute figures.
    minutes: Vec<bool>,
    /// Which sinks take the per-second snapshots.
    snapshots: Vec<bool>,
    /// Whether one wants per-host figures in them.
    host_minutes: bool,
}

impl SinkSet {
    /// Starts a thread per sink.
    pub fn new(list: Vec<Box<dyn Sink>>, handoff: Handoff) -> std::io::Result<SinkSet> {
        let mut sinks = Vec::new();
        let flows = list.iter().map(|s| s.wants_flows()).collect();
        let hosts = list.iter().map(|s| s.wants_hosts()).collect();
        let minutes = list.iter().map(|s| s.wants_minutes()).collect();
        let snapshots = list.iter().map(|s| s.wants_snapshots()).collect();
        let host_minutes = list.iter().any(|s| s.wants_host_minutes());
        for mut sink in list {
            let (tx, rx) = bounded::<Msg>(QUEUE);
            let shared = Arc::new(Shared {
                name: sink.name(),
                dropped: AtomicU64::new(0),
                error: Mutex::new(None),
                delivery: sink.delivery_counts(),
            });
            let mine = Arc::clone(&shared);
            let thread = std::thread::Builder::new().name(format!("ntop-sink-{}", sink.name())).spawn(move || {
                loop {
                    let msg = match rx.recv_timeout(TICK) {
                        Ok(msg) => msg,
                        Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                            if let Err(e) = sink.tick() {
                                mine.fail(e, 0, &rx);
                                break;
                            }
                            continue;
                        }
                        Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
                    };
                    let result = match &msg {
                        Msg::Alert(a) => sink.alert(a),
                        Msg::Snapshot(s) => sink.snapshot(s),
                        Msg::Flows(r) => sink.flows(r),
                        Msg::Hosts(h) => sink.hosts(h),
                        Msg::Minute(m) => sink.minute(m),
                        Msg::Finish(s) => sink.finish(s),
                    };
                    if let Err(e) = result {
                        mine.fail(e, msg.items(), &rx);
                        break;
                    }
                }
            })?;
            sinks.push(Running { tx, shared, thread });
        }
        Ok(SinkSet { sinks, handoff, flows, hosts, minutes, snapshots, host_minutes })
    }

    /// No sinks at all.
    pub fn none() -> SinkSet {
        SinkSet {
            sinks: Vec::new(),
            handoff: Handoff::Block,
            flows: Vec::new(),
            hosts: Vec::new(),
            minutes: Vec::new(),
            snapshots: Vec::new(),
            host_minutes: false,
        }
    }

    /// Whether any sink takes flow records.
    pub fn wants_flows(&self) -> bool {
        self.flows.iter().any(|&f| f)
    }

    fn send(&self, msg: impl Fn() -> Msg) {
        self.send_to(|_| true, msg);
    }

    fn send_to(&self, which: impl Fn(usize) -> bool, msg: impl Fn() -> Msg) {
        for (_, s) in self.sinks.iter().enumerate().filter(|(i, _)| which(*i)) {
            let sent = match self.handoff {
                Handoff::Block => s.tx.send(msg()).is_ok(),
                Handoff::DropWhenFull => match s.tx.try_send(msg()) {
                    Ok(()) => true,
                    Err(TrySendError::Full(m)) => {
                        s.shared.dropped.fetch_add(m.items(), Ordering::Relaxed);
                        true
                    }
                    Err(TrySendError::Disconnected(_)) => false,
                },
            };
            let _ = sent; // a sink that failed has stopped taking messages: its error says so
        }
    }

    /// Passes alert reports on.
    pub fn alerts(&self, reports: &[Alert]) {
        for a in reports {
            self.send(|| Msg::Alert(Box::new(a.clone())));
        }
    }

    /// Passes ended flow records on, to the sinks that take them.
    pub fn flows(&self, records: Vec<FlowRecord>) {
        if records.is_empty() || !self.wants_flows() {
            return;
        }
        let records = Arc::new(records);
        self.send_to(|i| self.flows[i], || Msg::Flows(Arc::clone(&records)));
    }

    /// Whether any sink takes per-minute figures.
    pub fn wants_minutes(&self) -> bool {
        self.minutes.iter().any(|&m| m)
    }

    /// Whether any sink wants per-host figures in its minutes.
    pub fn wants_host_minutes(&self) -> bool {
        self.host_minutes
    }

    /// Passes a closed minute on, to the sinks that take them.
    pub fn minute(&self, minute: Minute) {
        let minute = Arc::new(minute);
        self.send_to(|i| self.minutes[i], || Msg::Minute(Arc::clone(&minute)));
    }

    /// Passes a statistics snapshot on.
    pub fn snapshot(&self, snapshot: Snapshot) {
        if self.sinks.is_empty() {
            return;
        }
        let snapshot = Arc::new(snapshot);
        self.send_to(|i| self.snapshots[i], || Msg::Snapshot(Arc::clone(&snapshot)));
    }

    /// Every sink's drops and first error so far.
    pub fn status(&self) -> Vec<SinkStatus> {
        self.sinks.iter().map(|s| s.shared.status()).collect()
    }

    /// A handle that reads the status from elsewhere (the TUI's header).
    pub fn watch(&self) -> SinkWatch {
        SinkWatch(self.sinks.iter().map(|s| Arc::clone(&s.shared)).collect())
    }

    /// Gives every sink the final host figures and summary (waiting: the run is over),
    /// closes the queues and waits for the sinks to finish; returns what became of each.
    pub fn finish(
        self,
        hosts: impl FnOnce() -> Vec<(std::net::IpAddr, HostStats)>,
        summary: &serde_json::Value,
    ) -> Vec<SinkStatus> {
        let hosts = if self.hosts.iter().any(|&h| h) { Arc::new(hosts()) } else { Arc::default() };
        let summary = Arc::new(summary.clone());
        for (s, &wants_hosts) in self.sinks.iter().zip(&self.hosts) {
            if wants_hosts {
                let _ = s.tx.send(Msg::Hosts(Arc::clone(&hosts)));
            }
            let _ = s.tx.send(Msg::Finish(Arc::clone(&summary)));
        }
        let mut done = Vec::new();
        for s in self.sinks {
            drop(s.tx);
            let _ = s.thread.join();
            done.push(s.shared);
        }
        // After the joins: errors of the final messages, and every delivery, count too.
        done.iter().map(|s| s.status()).collect()
    }
}

/// Reads the sinks' drops and errors while they run.
#[derive(Clone, Default)]
pub struct SinkWatch(Vec<Arc<Shared>>);

impl SinkWatch {
    /// Drops and first error of each sink.
    pub fn status(&self) -> Vec<SinkStatus> {
        self.0.iter().map(|s| s.status()).collect()
    }
}

/// `--alerts`: every report as one JSON line, flushed as it comes.
pub struct NdjsonAlerts {
    out: Box<dyn Write + Send>,
}

impl NdjsonAlerts {
    /// Writes to `out`.
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        NdjsonAlerts { out }
    }
}

impl Sink for NdjsonAlerts {
    fn name(&self) -> &'static str {
        "alerts"
    }

    fn alert(&mut self, report: &Alert) -> Result<(), String> {
        let line = serde_json::to_string(report).map_err(|e| e.to_string())?;
        self.out
            .write_all(line.as_bytes())
            .and_then(|()| self.out.write_all(b"\n"))
            .and_then(|()| self.out.flush())
            .map_err(|e| crate::files::io_reason(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::AlertState;

    fn alert(id: u64, state: AlertState) -> Alert {
        Alert { state, summary: "x".into(), ..Alert::sample(id, None, None, 1, 1) }
    }

    /// A writer whose bytes the test can read back.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_report_is_one_ndjson_line() {
        let out = Shared::default();
        let set = SinkSet::new(vec![Box::new(NdjsonAlerts::new(Box::new(out.clone())))], Handoff::Block).unwrap();
        set.alerts(&[alert(1, AlertState::New), alert(1, AlertState::Update), alert(1, AlertState::End)]);
        let status = set.finish(Vec::new, &serde_json::json!({}));
        assert_eq!(status, [SinkStatus { name: "alerts", dropped: 0, error: None, delivery: None }]);
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let states: Vec<String> = text
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["state"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(states, ["new", "update", "end"]);
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            for key in [
                "id", "state", "kind", "severity", "ts", "first_ts", "last_ts", "src", "dst", "proto", "port",
                "packets", "summary", "evidence",
            ] {
                assert!(v.get(key).is_some(), "{key} missing in {line}");
            }
        }
    }

    struct Broken;

    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk full"))
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failing_sink_is_reported_not_fatal() {
        let set = SinkSet::new(vec![Box::new(NdjsonAlerts::new(Box::new(Broken)))], Handoff::DropWhenFull).unwrap();
        set.alerts(&[alert(1, AlertState::New)]);
        let status = set.finish(Vec::new, &serde_json::json!({}));
        assert_eq!(status[0].error.as_deref(), Some("disk full"));
    }

    /// A sink that never finishes its first message until told to.
    struct Stuck(crossbeam_channel::Receiver<()>);

    impl Sink for Stuck {
        fn name(&self) -> &'static str {
            "stuck"
        }

        fn alert(&mut self, _: &Alert) -> Result<(), String> {
            let _ = self.0.recv();
            Ok(())
        }
    }

    #[test]
    fn a_stuck_sink_on_a_live_capture_drops_and_counts_and_never_blocks() {
        let (release, wait) = bounded(1);
        let set = SinkSet::new(vec![Box::new(Stuck(wait))], Handoff::DropWhenFull).unwrap();
        let reports: Vec<Alert> = (0..QUEUE as u64 + 100).map(|i| alert(i, AlertState::New)).collect();
        let started = std::time::Instant::now();
        set.alerts(&reports);
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "sending never waits");
        let dropped = set.status()[0].dropped;
        assert!((99..=101).contains(&dropped), "{dropped}");
        drop(release);
        set.finish(Vec::new, &serde_json::json!({}));
    }
}
