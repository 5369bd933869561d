//! Detection: detectors watch decoded packets on their own thread and raise alerts.
//!
//! A [`Detector`] sees every packet (after the filter) in order, with packet time only,
//! so a replay at any speed and a live capture raise the same alerts. [`Detectors`] runs
//! a set of them and keeps the latest report of each incident. The scan, sweep, flood
//! and outlier detectors plug in here.

pub mod alert;
pub mod book;
pub mod clock;
pub mod evidence;
pub mod features;
pub mod flood;
pub mod groups;
pub mod incidents;
pub mod memory;
pub mod outlier;
pub mod scan;

use crate::decode::PacketMeta;
use crate::packet::Nanos;
pub use alert::{Alert, AlertKind, AlertProto, AlertState, Severity};
pub use book::{Book, IncidentKey};
pub use evidence::{Evidence, Figures};
pub use memory::Tuples;

/// How many packets ahead of the one observed [`Detector::prefetch`] is called: enough
/// cache misses in flight to hide memory latency, few enough to stay in cache.
const PREFETCH_AHEAD: usize = 8;
/// The packets whose [`Tuples`] are held: those from the one observed to the one prefetched.
const TUPLES_HELD: usize = 16;
const _: () = assert!(TUPLES_HELD > PREFETCH_AHEAD, "the tuples of every packet between are held");

/// One detector: fed every packet, and a clock tick in packet time.
pub trait Detector: Send {
    /// Short name, for logs and evidence.
    fn name(&self) -> &'static str;

    /// Looks at one packet (`tuples`: its [`Tuples::of`], hashed once for every
    /// detector); pushes any alert reports it produces onto `out`.
    fn observe(&mut self, meta: &PacketMeta, tuples: &Tuples, out: &mut Vec<Alert>);

    /// A packet a few places ahead of the next [`observe`](Self::observe): start loading
    /// the memory observing it will touch. A hint only, that must change nothing.
    fn prefetch(&self, _meta: &PacketMeta, _tuples: &Tuples) {}

    /// Packet time moved on to `now` (about once a second of packet time): close quiet
    /// incidents, emit rate-limited updates.
    fn tick(&mut self, _now: Nanos, _out: &mut Vec<Alert>) {}

    /// The capture is over at `now`: end every open incident with its final figures.
    fn finish(&mut self, _now: Nanos, _out: &mut Vec<Alert>) {}

    /// The id (the detector's own, as in its reports) of an open incident of this
    /// detector that stands for another detector's new alert `a`: a flood from many
    /// sources claims the outliers among them, and their scans of its victim. `a` is then
    /// folded into that incident instead of reported.
    fn claims(&self, _a: &Alert) -> Option<u64> {
        None
    }
    /// The detector's bounded structures (name, size, cap, evictions), for `tables`.
    fn tables(&self) -> Vec<(&'static str, crate::stats::table::Fill)> {
        Vec::new()
    }
}

/// Packet time between two ticks.
const TICK: Nanos = crate::packet::NANOS_PER_SEC;

/// A set of detectors and the incidents they reported.
pub struct Detectors {
    list: Vec<Box<dyn Detector>>,
    /// Ids, explanations and the latest report of each incident (bounded).
    incidents: incidents::Incidents,
    next_tick: Option<Nanos>,
    /// Detection time (packet time made monotonic and sane; see [`clock`]).
    clock: clock::Clock,
}

impl Detectors {
    /// Runs `list`.
    pub fn new(list: Vec<Box<dyn Detector>>) -> Self {
        Detectors { list, incidents: incidents::Incidents::default(), next_tick: None, clock: clock::Clock::default() }
    }

    /// Whether no detector is registered.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Feeds a batch; returns the alert reports it produced, in order.
    pub fn observe(&mut self, batch: &[PacketMeta]) -> Vec<Alert> {
        let mut out = Vec::new();
        if self.list.is_empty() {
            return out;
        }
        // Each packet's tuples, hashed once (when it is prefetched) for every detector.
        let mut held = [Tuples::default(); TUPLES_HELD];
        for (n, meta) in batch.iter().enumerate().take(PREFETCH_AHEAD) {
            held[n % TUPLES_HELD] = Tuples::of(meta);
        }
        for (n, meta) in batch.iter().enumerate() {
            // The batch was written on another core: fetch the packets ahead of the ones
            // the detectors prefetch for, so that those hints do not wait for them.
            if let Some(further) = batch.get(n + 2 * PREFETCH_AHEAD) {
                crate::stats::table::prefetch_lines(further);
            }
            if let Some(ahead) = batch.get(n + PREFETCH_AHEAD) {
                let tuples = Tuples::of(ahead);
                held[(n + PREFETCH_AHEAD) % TUPLES_HELD] = tuples;
                for d in &self.list {
                    d.prefetch(ahead, &tuples);
                }
            }
            let tuples = held[n % TUPLES_HELD];
            let t = self.clock.place(meta.ts);
            let placed;
            let meta = if t == meta.ts {
                meta
            } else {
                placed = meta.with_ts(t);
                &placed
            };
            let due = *self.next_tick.get_or_insert(meta.ts + TICK);
            for i in 0..self.list.len() {
                let before = out.len();
                if meta.ts >= due {
                    self.list[i].tick(meta.ts, &mut out);
                }
                self.list[i].observe(meta, &tuples, &mut out);
                if out.len() > before {
                    self.renumber(i, &mut out, before);
                }
            }
            if meta.ts >= due {
                self.incidents.tick(meta.ts, &mut out);
                self.next_tick = Some(meta.ts + TICK);
            }
        }
        self.record(&mut out);
        out
    }

    /// The capture is over: ends every open incident (at the last packet's time) and
    /// returns those final reports.
    pub fn finish(&mut self) -> Vec<Alert> {
        let mut out = Vec::new();
        if let Some(now) = self.clock.now() {
            for i in 0..self.list.len() {
                let before = out.len();
                self.list[i].finish(now, &mut out);
                self.renumber(i, &mut out, before);
            }
            self.incidents.finish(now, &mut out);
        }
        self.record(&mut out);
        out
    }

    fn renumber(&mut self, i: usize, out: &mut Vec<Alert>, from: usize) {
        self.incidents.renumber(i, out, from, &self.list);
    }

    fn record(&mut self, out: &mut [Alert]) {
        // Reports were made in detection time: keep them so (explanations compare
        // detection times), and give what leaves here the packets' own times.
        let detection: Vec<(Nanos, Nanos, Nanos)> = out.iter().map(|a| (a.ts, a.first_ts, a.last_ts)).collect();
        for a in out.iter_mut() {
            self.to_real(a);
        }
        for (a, (ts, first_ts, last_ts)) in out.iter().zip(detection) {
            self.incidents.keep(Alert { ts, first_ts, last_ts, ..a.clone() });
        }
    }

    fn to_real(&self, a: &mut Alert) {
        (a.ts, a.first_ts, a.last_ts) =
            (self.clock.to_real(a.ts), self.clock.to_real(a.first_ts), self.clock.to_real(a.last_ts));
    }

    /// The latest report of every incident held (all open ones and the latest ended
    /// ones), newest incident first.
    pub fn incidents(&self) -> Vec<Alert> {
        let mut all = self.incidents.latest();
        for a in &mut all {
            self.to_real(a);
        }
        all
    }

    /// Incidents reported in this run, including ended ones no longer held.
    pub fn incidents_total(&self) -> u64 {
        self.incidents.total()
    }

    /// Size, cap and drops of the detection structures (for the summary's `tables`).
    pub fn tables(&self) -> Vec<(&'static str, crate::stats::table::Fill)> {
        let mut t = self.incidents.tables().to_vec();
        t.extend(self.list.iter().flat_map(|d| d.tables()));
        t
    }

    /// Packets dated far from their neighbours, which the detectors saw at the
    /// detection clock's time instead of their own ([`clock`]).
    pub fn clock_held(&self) -> u64 {
        self.clock.held()
    }
}

#[cfg(test)]
pub(crate) mod tests;
