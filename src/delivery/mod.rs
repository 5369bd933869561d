//! Alert delivery (issue "Reports"): mail, webhook and syslog, each a [`Sink`] with a
//! minimum severity and a rate limit.
//!
//! Each sink sends one message when an incident at or above its floor opens (and, with
//! `--notify-end`, one when it ends); past its limit of messages per hour, incidents go
//! into a digest, sent as one message when the hour frees a slot or when the run ends.
//! A transport's network work runs on a worker thread of its own behind a small bounded
//! outbox, with retries and backoff: a dead server never stalls detection or the other
//! sinks, and what it costs shows as `failed` (and `dropped`, for a full outbox) in the
//! summary and the TUI header.

pub mod mail;
pub mod syslog;
pub mod webhook;

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError, bounded};
use serde_json::Value;

use crate::detect::{Alert, AlertKind, AlertState, Severity};
use crate::pipeline::Sink;
use crate::pipeline::sink::DeliveryCounts;

/// Messages waiting for a transport.
const OUTBOX: usize = 64;
/// Incidents a digest lists (the rest are counted).
const DIGEST_MAX: usize = 200;
/// Incident ids remembered as delivered.
const REMEMBERED: usize = 8192;
/// Tries per message: the first and three retries, 1, 2 and 4 s apart.
const TRIES: u32 = 4;
/// After the run ends, how long the worker may still try to deliver what is queued.
const FINISH_GRACE: Duration = Duration::from_secs(10);
/// Longest one attempt takes (the transports' own timeouts).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// When a sink sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Incidents below this severity are not sent.
    pub min_severity: Severity,
    /// Most messages an hour (digests included); the rest wait in the digest.
    pub per_hour: u32,
    /// Also send when an incident ends.
    pub on_end: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy { min_severity: Severity::Medium, per_hour: 20, on_end: false }
    }
}

/// What a message is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Occasion {
    /// An incident opened (or first reached the floor).
    Opened,
    /// An incident ended.
    Ended,
    /// Incidents held back by the rate limit.
    Digest,
}

impl Occasion {
    /// `opened`, `ended`, `digest`.
    pub fn name(self) -> &'static str {
        match self {
            Occasion::Opened => "opened",
            Occasion::Ended => "ended",
            Occasion::Digest => "digest",
        }
    }
}

/// One message, for any transport.
#[derive(Clone, Debug)]
pub struct Message {
    /// What it is about.
    pub occasion: Occasion,
    /// One line: what, who.
    pub subject: String,
    /// The whole text: what, who, when, the evidence, what to do next.
    pub body: String,
    /// The alert reports it is about (one, or a digest's).
    pub alerts: Vec<Alert>,
    /// Incidents the digest had no room to list.
    pub left_out: u64,
}

/// A sink to start: its name, its policy and its transport.
pub type Planned = (&'static str, Policy, Box<dyn Transport>);

/// A way out: sends one message or says why it could not.
pub trait Transport: Send + 'static {
    /// Sends `m` (one attempt).
    fn send(&mut self, m: &Message) -> Result<(), String>;
}

/// The name of a severity, as the JSON has it.
pub fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Low => "low",
        Severity::Medium => "medium",
        Severity::High => "high",
        Severity::Critical => "critical",
    }
}

/// What to do about an incident of this kind.
fn next_step(a: &Alert) -> String {
    let src = a.src.map_or("the source".to_string(), |s| s.to_string());
    let dst = a.dst.map_or("the target".to_string(), |d| d.to_string());
    match a.kind {
        AlertKind::PortScan | AlertKind::HostSweep => format!(
            "Check whether {src} is an authorised scanner. If not, isolate it and review what it reached; the incident's pcap (--dump-alerts) holds every probe."
        ),
        AlertKind::SynFlood | AlertKind::UdpFlood | AlertKind::IcmpFlood | AlertKind::Icmpv6Flood => format!(
            "Check that {dst}'s service still answers; filter or rate-limit the flood upstream (the evidence lists its top source and ports)."
        ),
        AlertKind::RateSpike => "See which hosts and flows carry the extra traffic (the TUI's talkers, or the report) and whether it is expected.".into(),
        AlertKind::Outlier => format!(
            "Look at what {src} did that it usually does not (the figures above) and confirm it with the host's owner."
        ),
    }
}

fn when(ts: i64) -> String {
    crate::export::report::utc(crate::units::epoch_secs(ts))
}

/// One incident, described for a person.
pub fn describe(a: &Alert, occasion: Occasion, sensor: &str) -> (String, String) {
    let sev = severity_name(a.severity).to_uppercase();
    let verb = if occasion == Occasion::Ended { "ended: " } else { "" };
    let subject = format!("[ntop-rs] {sev} {} {verb}{}", a.kind, a.summary);
    let who = match (a.src, a.dst) {
        (Some(s), Some(d)) => format!("{s} -> {d}"),
        (Some(s), None) => s.to_string(),
        (None, Some(d)) => format!("-> {d}"),
        (None, None) => "-".into(),
    };
    let evidence = serde_json::to_value(&a.evidence).unwrap_or(Value::Null);
    let lines = crate::detect::evidence::lines(&evidence);
    let mut body = format!(
        "{}\n\nIncident #{} ({}, severity {}), {}\nWho:   {who}\nWhen:  {} to {}\nSeen by: {sensor}\n\nEvidence:\n",
        a.summary,
        a.id,
        a.kind,
        severity_name(a.severity),
        match occasion {
            Occasion::Ended => "ended",
            _ => "opened",
        },
        when(a.first_ts),
        when(a.last_ts)
    );
    for l in lines {
        body.push_str(&format!("  - {l}\n"));
    }
    body.push_str(&format!("\nWhat to do next: {}\n", next_step(a)));
    (subject, body)
}

/// The digest of incidents held back.
pub fn digest(alerts: &[Alert], left_out: u64, sensor: &str) -> (String, String) {
    let n = alerts.len() as u64 + left_out;
    let subject = format!("[ntop-rs] digest: {n} more incidents (rate limit reached)");
    let mut body = format!("The rate limit held back {n} incidents seen by {sensor}:\n\n");
    for a in alerts {
        body.push_str(&format!(
            "  #{} {} {} at {}: {}\n",
            a.id,
            severity_name(a.severity),
            a.kind,
            when(a.first_ts),
            a.summary
        ));
    }
    if left_out > 0 {
        body.push_str(&format!("  ... and {left_out} more\n"));
    }
    body.push_str("\nWhat to do next: read each incident in the run's alerts (--alerts, --db or the report).\n");
    (subject, body)
}

/// This machine's name, for "seen by" and the default sender (`localhost` without one).
pub fn hostname() -> String {
    Some(crate::sinks::events::hostname()).filter(|h| !h.is_empty()).unwrap_or_else(|| "localhost".into())
}

/// Decides what to send and when (no I/O: testable with any clock).
#[derive(Debug)]
pub struct Gate {
    policy: Policy,
    delivered: VecDeque<u64>,
    sent_at: VecDeque<Instant>,
    held: Vec<Alert>,
    left_out: u64,
    sensor: String,
}

impl Gate {
    /// A gate for `policy`.
    pub fn new(policy: Policy, sensor: String) -> Gate {
        Gate { policy, delivered: VecDeque::new(), sent_at: VecDeque::new(), held: Vec::new(), left_out: 0, sensor }
    }

    fn room(&mut self, now: Instant) -> bool {
        while self.sent_at.front().is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(3600)) {
            self.sent_at.pop_front();
        }
        (self.sent_at.len() as u64) < u64::from(self.policy.per_hour)
    }

    fn delivered(&self, id: u64) -> bool {
        self.delivered.contains(&id)
    }

    /// What one alert report gives: a message now, or nothing (skipped, or held for the digest).
    pub fn consider(&mut self, a: &Alert, now: Instant) -> Option<Message> {
        // The floor decides what opens; an incident that was sent gets its end whatever
        // its severity has become.
        let occasion = match a.state {
            AlertState::New | AlertState::Update if a.severity >= self.policy.min_severity && !self.delivered(a.id) => {
                Occasion::Opened
            }
            AlertState::End if self.policy.on_end && self.delivered(a.id) => Occasion::Ended,
            _ => return None,
        };
        if occasion == Occasion::Opened {
            if self.delivered.len() == REMEMBERED {
                self.delivered.pop_front();
            }
            self.delivered.push_back(a.id);
        }
        if self.room(now) {
            self.sent_at.push_back(now);
            let (subject, body) = describe(a, occasion, &self.sensor);
            return Some(Message { occasion, subject, body, alerts: vec![a.clone()], left_out: 0 });
        }
        if self.held.len() < DIGEST_MAX {
            self.held.push(a.clone());
        } else {
            self.left_out += 1;
        }
        None
    }

    /// The digest, if incidents wait and a slot is free (or `force`: the run is over).
    pub fn flush(&mut self, now: Instant, force: bool) -> Option<Message> {
        if self.held.is_empty() && self.left_out == 0 {
            return None;
        }
        if !force && !self.room(now) {
            return None;
        }
        self.sent_at.push_back(now);
        let alerts = std::mem::take(&mut self.held);
        let left_out = std::mem::take(&mut self.left_out);
        let (subject, body) = digest(&alerts, left_out, &self.sensor);
        Some(Message { occasion: Occasion::Digest, subject, body, alerts, left_out })
    }
}

/// A delivery sink: the gate on the sink's thread, the transport on a worker of its own.
pub struct Delivery {
    name: &'static str,
    gate: Gate,
    outbox: Option<Sender<Message>>,
    worker: Option<std::thread::JoinHandle<()>>,
    counts: Arc<DeliveryCounts>,
    /// Set when the run ends: the worker tries no more after it.
    deadline: Arc<Mutex<Option<Instant>>>,
    /// The worker says here that it is done.
    done: Receiver<()>,
}

impl Delivery {
    /// Starts the worker for `transport`.
    pub fn start(name: &'static str, policy: Policy, transport: Box<dyn Transport>) -> std::io::Result<Delivery> {
        let (tx, rx) = bounded::<Message>(OUTBOX);
        let counts = Arc::new(DeliveryCounts::default());
        let deadline = Arc::new(Mutex::new(None));
        let (done_tx, done) = bounded::<()>(1);
        let (c, d) = (Arc::clone(&counts), Arc::clone(&deadline));
        let worker = std::thread::Builder::new().name(format!("ntop-send-{name}")).spawn(move || {
            work(rx, transport, &c, &d);
            let _ = done_tx.send(());
        })?;
        Ok(Delivery {
            name,
            gate: Gate::new(policy, hostname()),
            outbox: Some(tx),
            worker: Some(worker),
            counts,
            deadline,
            done,
        })
    }

    fn post(&self, m: Message) {
        let Some(tx) = &self.outbox else { return };
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) = tx.try_send(m) {
            self.counts.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The worker: each message tried up to [`TRIES`] times with backoff; once the run has
/// ended, only until its deadline.
fn work(
    rx: Receiver<Message>,
    mut transport: Box<dyn Transport>,
    counts: &DeliveryCounts,
    deadline: &Mutex<Option<Instant>>,
) {
    let deadline = || *deadline.lock().unwrap_or_else(|p| p.into_inner());
    for m in rx {
        let mut last = String::new();
        let mut ok = false;
        for attempt in 0..TRIES {
            if let Some(d) = deadline() {
                if Instant::now() >= d {
                    last = if last.is_empty() {
                        "not sent: the run ended first".into()
                    } else {
                        format!("{last} (given up when the run ended)")
                    };
                    break;
                }
            }
            match transport.send(&m) {
                Ok(()) => {
                    ok = true;
                    break;
                }
                Err(e) => last = e,
            }
            if attempt + 1 < TRIES {
                // The backoff, cut short by the end of the run.
                let backoff = Duration::from_secs(1 << attempt);
                let wait = deadline().map_or(backoff, |d| backoff.min(d.saturating_duration_since(Instant::now())));
                std::thread::sleep(wait);
            }
        }
        if ok {
            counts.sent.fetch_add(1, Ordering::Relaxed);
        } else {
            counts.failed.fetch_add(1, Ordering::Relaxed);
            *counts.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(last);
        }
    }
}

impl Sink for Delivery {
    fn name(&self) -> &'static str {
        self.name
    }

    fn alert(&mut self, report: &Alert) -> Result<(), String> {
        // A held digest goes first when a slot is free (a busy run may never tick).
        let now = Instant::now();
        if let Some(d) = self.gate.flush(now, false) {
            self.post(d);
        }
        if let Some(m) = self.gate.consider(report, now) {
            self.post(m);
        }
        Ok(())
    }

    fn wants_snapshots(&self) -> bool {
        false
    }

    fn tick(&mut self) -> Result<(), String> {
        if let Some(m) = self.gate.flush(Instant::now(), false) {
            self.post(m);
        }
        Ok(())
    }

    fn delivery_counts(&self) -> Option<Arc<DeliveryCounts>> {
        Some(Arc::clone(&self.counts))
    }

    fn finish(&mut self, _summary: &Value) -> Result<(), String> {
        let end = Instant::now() + FINISH_GRACE;
        *self.deadline.lock().unwrap_or_else(|p| p.into_inner()) = Some(end);
        if let (Some(m), Some(tx)) = (self.gate.flush(Instant::now(), true), &self.outbox) {
            // The last digest waits for room in the outbox, as long as the grace lasts.
            if tx.send_timeout(m, FINISH_GRACE).is_err() {
                self.counts.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.outbox = None;
        // One attempt under way may outlast the grace by its own timeout; past that the
        // worker is left behind (the process is ending) and its messages count as failed.
        let limit = end.saturating_duration_since(Instant::now()) + ATTEMPT_TIMEOUT;
        match self.done.recv_timeout(limit) {
            Ok(()) => {
                if let Some(w) = self.worker.take() {
                    let _ = w.join();
                }
            }
            Err(_) => {
                self.worker = None;
                self.counts.failed.fetch_add(1, Ordering::Relaxed);
                *self.counts.last_error.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some("the server did not answer before the run ended".into());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
