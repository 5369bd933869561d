//! Rate spikes: each protocol's packets per second against its learned baseline (after
//! a warm-up), or against a fixed per-protocol threshold when one is set. Part of the
//! flood detector, which holds a spiking second back for a second and reports it only
//! when no flood incident explains it by then.
//!
//! A burst carried by one conversation (a download, a backup: at least half of the
//! second's packets, by a majority vote) is a transfer, not a spike: a flood or a scan
//! spreads over many, and a single flow is for the flood detector to judge.
//!
//! Bursts are learned too: a protocol's usual bursts (a download now and then) are not
//! spikes. Each burst that no flood explains is remembered (the latest [`BURSTS`], one
//! per episode). Over a learned threshold, a new burst is a spike unless [`RECUR`] of
//! those were at least 1/[`USUAL_BURST`] of it and happened within [`BURST_MEMORY`]: the
//! first downloads are reported, the ones like them after them are not, and a new kind
//! of burst (bigger by half than any usual one) still is.

use super::FloodConfig;
use crate::decode::Proto;
use crate::detect::evidence::{Figures, RateSpikeFigures, ThresholdKind};
use crate::detect::{Alert, Severity};
use crate::packet::{NANOS_PER_SEC, Nanos};

/// A burst up to this many times a remembered one is like it.
const USUAL_BURST: f64 = 1.5;
/// Bursts remembered per protocol.
const BURSTS: usize = 8;
/// Bursts like it before that make a burst usual.
const RECUR: usize = 2;
/// Seconds a burst is remembered.
const BURST_MEMORY: i64 = 3600;

/// Per-second smoothing of a protocol's learned rate: about a minute of memory.
const ALPHA: f64 = 1.0 / 60.0;

/// Learned packet rate of one protocol.
#[derive(Clone, Copy, Default)]
struct ProtoRate {
    this_second: u64,
    mean: f64,
    learned: u32,
    /// A spiking second held back for a second.
    held: Option<Held>,
    /// The last second that spiked.
    last_active: i64,
    peak: u64,
    packets: u64,
    /// Past bursts no flood explained: (second, peak packets in a second), latest last.
    bursts: [(i64, u64); BURSTS],
    /// This second's majority vote (Boyer-Moore) over conversations: candidate, margin.
    vote: (u64, u64),
}

/// A spiking second: its packets and the threshold they crossed.
#[derive(Clone, Copy, Debug)]
pub(super) struct Held {
    second: i64,
    count: u64,
    threshold: f64,
}

impl Held {
    /// Packet time at which the spiking second began.
    pub(super) fn start(&self) -> Nanos {
        self.second * NANOS_PER_SEC
    }
}

/// A spike to report: the second and the protocol's figures after counting it.
pub(super) struct Spike {
    rate: ProtoRate,
    held: Held,
    fixed: bool,
}

/// Per-protocol rates, counted second by second of packet time.
pub(super) struct Spikes {
    rates: [ProtoRate; Proto::COUNT],
    second: Option<i64>,
    /// Packet time at which `second` is over.
    next_second: Nanos,
}

impl Spikes {
    pub(super) fn new() -> Self {
        Spikes { rates: [ProtoRate::default(); Proto::COUNT], second: None, next_second: Nanos::MIN }
    }

    /// The second being counted, once a packet was.
    pub(super) fn second(&self) -> Option<i64> {
        self.second
    }

    /// Moves on to the second of `ts`; when that ends earlier ones, returns the last
    /// second counted and how many seconds are over (to judge, before counting `ts`).
    #[inline]
    pub(super) fn advance(&mut self, ts: Nanos) -> Option<(i64, i64)> {
        if ts < self.next_second {
            return None;
        }
        let second = ts.div_euclid(NANOS_PER_SEC);
        let last = *self.second.get_or_insert(second);
        self.second = Some(second);
        self.next_second = (second + 1) * NANOS_PER_SEC;
        (second > last).then_some((last, second - last))
    }

    /// Counts one packet of `p`, of conversation `conv`, in the current second.
    #[inline]
    pub(super) fn count(&mut self, p: Proto, conv: u64) {
        let r = &mut self.rates[p.index()];
        r.this_second += 1;
        r.vote = match r.vote {
            (c, n) if c == conv => (c, n + 1),
            (c, n) if n > 0 => (c, n - 1),
            _ => (conv, 1),
        };
    }

    /// Second `done` is over (and `seconds - 1` empty ones after it): holds `p`'s count
    /// back when it crossed the threshold, or learns from it when it did not.
    pub(super) fn judge(&mut self, p: Proto, seconds: i64, done: i64, cfg: &FloodConfig) {
        let idle = (seconds - 1).min(10_000);
        let r = &mut self.rates[p.index()];
        let count = r.this_second;
        let threshold = match cfg.spike_fixed[p.index()] {
            Some(t) => Some(t as f64),
            None if r.learned >= cfg.spike_warmup => Some((cfg.spike_min_pps as f64).max(cfg.spike_factor * r.mean)),
            None => None,
        };
        match threshold.filter(|&t| count as f64 >= t) {
            Some(threshold) => {
                let fixed = cfg.spike_fixed[p.index()].is_some();
                // A spike going on goes on; a new one must be unlike the usual bursts.
                let going_on = r.last_active > 0 && done - r.last_active <= cfg.quiet / NANOS_PER_SEC;
                let like = |&(at, peak): &(i64, u64)| {
                    peak > 0 && done - at <= BURST_MEMORY && USUAL_BURST * peak as f64 >= count as f64
                };
                let usual = r.bursts.iter().filter(|b| like(b)).count() >= RECUR;
                // The margin is at least twice the majority's share less the rest: half or
                // more of the second means one conversation carried at least half of it.
                let transfer = 2 * r.vote.1 >= count;
                if fixed || going_on || !(usual || transfer) {
                    r.held = Some(Held { second: done, count, threshold });
                }
            }
            None => {
                r.mean += ALPHA * (count as f64 - r.mean);
                r.learned = r.learned.saturating_add(1);
            }
        }
        r.mean *= (1.0 - ALPHA).powi(idle as i32);
        r.learned = r.learned.saturating_add(idle as u32);
        r.this_second = 0;
        r.vote = (0, 0);
    }

    /// The spiking second held back for `p`, taken.
    pub(super) fn take_held(&mut self, p: Proto) -> Option<Held> {
        self.rates[p.index()].held.take()
    }

    /// Remembers a burst no flood explains (a new episode after a quiet gap, else the
    /// latest one's peak).
    pub(super) fn learn_burst(&mut self, p: Proto, held: Held, cfg: &FloodConfig) {
        let bursts = &mut self.rates[p.index()].bursts;
        let latest = &mut bursts[BURSTS - 1];
        if latest.1 > 0 && held.second - latest.0 <= cfg.quiet / NANOS_PER_SEC {
            *latest = (held.second, latest.1.max(held.count));
        } else {
            bursts.rotate_left(1);
            bursts[BURSTS - 1] = (held.second, held.count);
        }
    }

    /// Counts `held` into `p`'s incident figures (a quiet gap starts them afresh).
    pub(super) fn reported(&mut self, p: Proto, held: Held, cfg: &FloodConfig) -> Spike {
        let r = &mut self.rates[p.index()];
        if held.second - r.last_active > cfg.quiet / NANOS_PER_SEC {
            r.packets = 0;
            r.peak = 0;
        }
        r.last_active = held.second;
        r.packets += held.count;
        r.peak = r.peak.max(held.count);
        Spike { rate: *r, held, fixed: cfg.spike_fixed[p.index()].is_some() }
    }
}

impl Spike {
    /// Fills a `rate_spike` report.
    pub(super) fn fill(&self, a: &mut Alert) {
        let (r, Held { count, threshold, .. }) = (&self.rate, self.held);
        a.first_ts = a.first_ts.min(self.held.start());
        a.packets = r.packets;
        let times = r.peak as f64 / r.mean.max(1.0);
        a.severity = if times >= 50.0 {
            Severity::High
        } else if times >= 10.0 {
            Severity::Medium
        } else {
            Severity::Low
        };
        let against =
            if self.fixed { format!("the fixed {threshold:.0}/s") } else { format!("a learned {:.0}/s", r.mean) };
        a.summary = format!("{} traffic spiked to {count} packets/s against {against}", a.proto.name().to_uppercase());
        a.evidence.figures = Figures::RateSpike(RateSpikeFigures {
            rate_pps: count,
            peak_pps: r.peak,
            baseline_pps: (r.mean * 10.0).round() / 10.0,
            threshold_pps: threshold.round(),
            threshold_kind: if self.fixed { ThresholdKind::Fixed } else { ThresholdKind::Learned },
            packets: r.packets,
        });
    }
}
