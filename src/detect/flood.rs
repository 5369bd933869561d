//! Floods and rate spikes: volume at one victim, or in one protocol.
//!
//! Per destination the detector keeps a one-second sliding window (ten 100 ms slots)
//! of SYNs, completed handshakes, UDP in and out, and ICMP. A flood is a rate at or
//! above `max(fixed threshold, baseline_factor × the victim's learned baseline)` plus:
//!
//! - `syn_flood`: at least `half_open` of those SYNs never complete a handshake;
//! - `udp_flood`: spread over several flows (a single transfer, however fast, is not a
//!   flood) and the victim answers less than half of it;
//! - `icmp_flood` (and `icmpv6_flood`, the same for ICMPv6): nothing more (echo replies do not count: they answer the receiver's
//!   own pings).
//!
//! Sources are counted approximately in fixed space: one source is named, many
//! (spoofed) sources give one incident keyed by the victim with `src` null.
//!
//! `rate_spike` watches each protocol's packets per second against its learned
//! baseline (after a warm-up), or against a fixed per-protocol threshold when one is
//! set; a spike that a flood incident already explains is not reported twice.

use std::net::IpAddr;

use super::book::{Book, IncidentKey};
use super::memory::{Distinct, Recent, hash_of, tuple};
use super::{Alert, Detector};
use crate::decode::{PacketMeta, Proto, TcpFlags};
use crate::packet::{NANOS_PER_SEC, Nanos};
use crate::stats::table::{CappedTable, LastSeen};

/// Thresholds of the flood and rate-spike detector.
#[derive(Clone, Debug)]
pub struct FloodConfig {
    /// SYNs per second to one victim.
    pub syn_pps: u32,
    /// Share of those SYNs that never complete a handshake (0..=1).
    pub half_open: f64,
    /// UDP packets per second to one victim.
    pub udp_pps: u32,
    /// ICMP packets per second to one victim.
    pub icmp_pps: u32,
    /// A victim's threshold is at least this many times its learned rate.
    pub baseline_factor: f64,
    /// Victims tracked at once; the least recently seen are evicted.
    pub max_victims: usize,
    /// Protocol rate spike: this many times the learned rate...
    pub spike_factor: f64,
    /// ...and at least this many packets per second.
    pub spike_min_pps: u64,
    /// Seconds of learning before learned spikes are reported.
    pub spike_warmup: u32,
    /// Fixed packets-per-second thresholds per protocol (index: `Proto::index`).
    pub spike_fixed: [Option<u64>; Proto::COUNT],
    /// Reports of one incident at most this often.
    pub update_every: Nanos,
    /// An incident ends after this long below its threshold.
    pub quiet: Nanos,
}

impl FloodConfig {
    /// The fixed packets-per-second threshold of a flood kind.
    fn fixed_pps(&self, kind: Kind) -> u32 {
        match kind {
            Kind::Syn => self.syn_pps,
            Kind::Udp => self.udp_pps,
            Kind::Icmp | Kind::Icmpv6 => self.icmp_pps,
        }
    }
}

impl Default for FloodConfig {
    fn default() -> Self {
        FloodConfig {
            syn_pps: 1000,
            half_open: 0.8,
            udp_pps: 2000,
            icmp_pps: 1000,
            baseline_factor: 4.0,
            max_victims: 8192,
            spike_factor: 5.0,
            spike_min_pps: 1000,
            spike_warmup: 30,
            spike_fixed: [None; Proto::COUNT],
            update_every: 5 * NANOS_PER_SEC,
            quiet: 10 * NANOS_PER_SEC,
        }
    }
}

const SLOT: Nanos = NANOS_PER_SEC / 10;
/// Slots in the window: one second, so a slot's second is `slot / SLOTS`.
const SLOTS: usize = 10;
/// Per-second smoothing of learned rates: about a minute of memory.
const ALPHA: f64 = 1.0 / 60.0;

/// A sliding second of counts in 100 ms slots.
#[derive(Clone, Copy, Default)]
struct Window([u32; SLOTS]);

impl Window {
    fn sum(&self) -> u32 {
        self.0.iter().sum()
    }
}

/// Flood kinds, in the order of [`Victim::kinds`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Syn,
    Udp,
    Icmp,
    Icmpv6,
}

impl Kind {
    const ALL: [Kind; 4] = [Kind::Syn, Kind::Udp, Kind::Icmp, Kind::Icmpv6];

    fn name(self) -> &'static str {
        match self {
            Kind::Syn => "syn_flood",
            Kind::Udp => "udp_flood",
            Kind::Icmp => "icmp_flood",
            Kind::Icmpv6 => "icmpv6_flood",
        }
    }

    fn proto(self) -> Proto {
        match self {
            Kind::Syn => Proto::Tcp,
            Kind::Udp => Proto::Udp,
            Kind::Icmp => Proto::Icmp,
            Kind::Icmpv6 => Proto::Icmpv6,
        }
    }
}

/// One kind of traffic at one victim.
#[derive(Default)]
struct Load {
    window: Window,
    /// Distinct sources, flows and ports: this second and the one before.
    sources: [Distinct; 2],
    flows: [Distinct; 2],
    ports: [Distinct; 2],
    /// Majority votes (Boyer-Moore) for the source and the port.
    top_src: Option<(IpAddr, i64)>,
    /// Packets that voted.
    votes: i64,
    top_port: (u16, i64),
    baseline: f64,
    /// An incident is running: packets are counted into it.
    active: bool,
    /// Packet time it was last running at.
    active_at: Nanos,
    packets: u64,
    /// `packets` as last given to the book.
    reported: u64,
    peak: u32,
    last_report_slot: i64,
    /// The window as last reported.
    facts: Option<Facts>,
}

impl Load {
    /// Counts a packet; `warm` (the rate is near a threshold) also counts its source,
    /// flow and port, which only a possible flood needs.
    fn count(&mut self, slot: usize, src: IpAddr, sport: u16, dport: u16, warm: bool) {
        self.window.0[slot] += 1;
        if warm {
            self.sources[0].insert(hash_of(src));
            self.flows[0].insert(hash_of((src, sport)));
            self.ports[0].insert(hash_of(dport));
        }
        self.votes += 1;
        self.top_src = match self.top_src {
            Some((s, n)) if s == src => Some((s, n + 1)),
            Some((s, n)) if n > 1 => Some((s, n - 1)),
            _ => Some((src, 1)),
        };
        self.top_port = match self.top_port {
            (p, n) if p == dport => (p, n + 1),
            (p, n) if n > 1 => (p, n - 1),
            _ => (dport, 1),
        };
        if self.active {
            self.packets += 1;
        }
    }

    fn estimate(pair: &[Distinct; 2]) -> u32 {
        pair[0].union(pair[1]).estimate()
    }

    /// A second passed (or `seconds` of them): learn the rate, age the distinct counts.
    fn roll(&mut self, seconds: i64) {
        if !self.active {
            let rate = f64::from(self.window.sum());
            self.baseline += ALPHA * (rate - self.baseline);
            if seconds > 1 {
                self.baseline *= (1.0 - ALPHA).powi((seconds - 1).min(10_000) as i32);
            }
        }
        // The majority votes fade, so they speak of recent traffic.
        self.votes /= 2;
        if let Some((_, n)) = &mut self.top_src {
            *n /= 2;
        }
        self.top_port.1 /= 2;
        for pair in [&mut self.sources, &mut self.flows, &mut self.ports] {
            pair[1] = if seconds > 1 { Distinct::default() } else { pair[0] };
            pair[0] = Distinct::default();
        }
    }
}

/// Everything counted for one destination.
struct Victim {
    /// The current 100 ms slot (`ts / SLOT`); its second is `slot / SLOTS`.
    slot: i64,
    last: Nanos,
    loads: [Option<Box<Load>>; 4],
    completed: Window,
    udp_out: Window,
}

impl LastSeen for Victim {
    fn last_seen(&self) -> Nanos {
        self.last
    }
}

impl Victim {
    fn new(ts: Nanos) -> Self {
        Victim {
            slot: ts.div_euclid(SLOT),
            last: ts,
            loads: [None, None, None, None],
            completed: Window::default(),
            udp_out: Window::default(),
        }
    }

    /// Moves the window to `ts`; returns the slot index to count into.
    fn advance(&mut self, ts: Nanos) -> usize {
        self.last = self.last.max(ts);
        let slot = ts.div_euclid(SLOT).max(self.slot);
        let gone = (slot - self.slot).min(SLOTS as i64);
        for s in 1..=gone {
            let i = (self.slot + s).rem_euclid(SLOTS as i64) as usize;
            for w in self.windows() {
                w.0[i] = 0;
            }
        }
        let seconds = slot.div_euclid(SLOTS as i64) - self.slot.div_euclid(SLOTS as i64);
        if seconds > 0 {
            for load in self.loads.iter_mut().flatten() {
                load.roll(seconds);
            }
        }
        self.slot = slot;
        slot.rem_euclid(SLOTS as i64) as usize
    }

    fn windows(&mut self) -> impl Iterator<Item = &mut Window> {
        let loads = self.loads.iter_mut().flatten().map(|l| &mut l.window);
        loads.chain([&mut self.completed, &mut self.udp_out])
    }

    fn load(&mut self, kind: Kind) -> &mut Load {
        self.loads[kind as usize].get_or_insert_with(Box::default)
    }
}

/// Learned packet rate of one protocol.
#[derive(Clone, Copy, Default)]
struct ProtoRate {
    this_second: u64,
    mean: f64,
    learned: u32,
    /// A spiking second held back for a second: (second, packets, threshold).
    held: Option<(i64, u64, f64)>,
    /// The last second that spiked.
    last_active: i64,
    peak: u64,
    packets: u64,
}

/// The flood and rate-spike detector.
pub struct FloodDetector {
    cfg: FloodConfig,
    victims: CappedTable<IpAddr, Victim>,
    /// SYNs waiting for the ACK that completes their handshake.
    half_open: Recent,
    rates: [ProtoRate; Proto::COUNT],
    second: Option<i64>,
    /// Packet time at which `second` is over.
    next_second: Nanos,
    /// Packet time a UDP load was last near its threshold.
    udp_warm_at: Nanos,
    book: Book,
}

impl FloodDetector {
    /// A detector with these thresholds.
    pub fn new(cfg: FloodConfig) -> Self {
        FloodDetector {
            victims: CappedTable::new(cfg.max_victims),
            half_open: Recent::new(16),
            rates: [ProtoRate::default(); Proto::COUNT],
            second: None,
            next_second: Nanos::MIN,
            udp_warm_at: Nanos::MIN / 2,
            book: Book::new(cfg.update_every, cfg.quiet),
            cfg,
        }
    }

    fn victim_packet(&mut self, m: &PacketMeta, kind: Kind, (src, dst): (IpAddr, IpAddr), out: &mut Vec<Alert>) {
        let (sport, dport) = m.ports.unwrap_or((0, 0));
        let fixed = self.cfg.fixed_pps(kind);
        let cfg = &self.cfg;
        let victim = self.victims.entry_or_insert_with(dst, || Victim::new(m.ts));
        let slot = victim.advance(m.ts);
        let (completed, udp_out) = (victim.completed.sum(), victim.udp_out.sum());
        let load = victim.load(kind);
        let warm = 4 * load.window.sum() >= fixed;
        if warm && kind == Kind::Udp {
            self.udp_warm_at = m.ts;
        }
        load.count(slot, src, sport, dport, warm);
        let rate = load.window.sum();
        let threshold = f64::from(fixed).max(cfg.baseline_factor * load.baseline);
        let over = f64::from(rate) >= threshold;
        if !(load.active || over) {
            return;
        }
        let flows = Load::estimate(&load.flows);
        let half_open = 1.0 - f64::from(completed.min(rate)) / f64::from(rate.max(1));
        let answered = f64::from(udp_out) / f64::from(rate.max(1));
        // One source spread over many ports is a port scan (the scan detector's), not a flood.
        let one_source = load.top_src.is_some_and(|(_, n)| 2 * n >= load.votes);
        let scan_like = one_source && Load::estimate(&load.ports) > 64;
        let shaped = match kind {
            Kind::Syn => half_open >= cfg.half_open && !scan_like,
            Kind::Udp => flows >= 8 && answered < 0.5 && !scan_like,
            Kind::Icmp | Kind::Icmpv6 => true,
        };
        if !(load.active || shaped) {
            return;
        }
        if load.active && f64::from(rate) < threshold / 2.0 {
            load.active = false;
            return;
        }
        if !load.active {
            load.active = true;
            load.packets = u64::from(rate);
        }
        load.peak = load.peak.max(rate);
        load.active_at = m.ts;
        let now_slot = m.ts.div_euclid(SLOT);
        if load.last_report_slot == now_slot {
            return;
        }
        load.last_report_slot = now_slot;
        let (sources, ports) = (Load::estimate(&load.sources), Load::estimate(&load.ports));
        // One source, or one that outnumbers all others together by half the votes.
        let top_src = load.top_src.filter(|&(_, n)| sources <= 1 || 2 * n >= load.votes).map(|(s, _)| s);
        let top_port = Some(load.top_port).filter(|&(_, n)| ports <= 1 || 2 * n >= load.votes).map(|(p, _)| p);
        load.facts =
            Some(Facts { kind, rate, threshold, half_open, answered, flows, sources, ports, top_src, top_port });
        load.reported = load.packets;
        self.book.observe(flood_key(kind, dst), m.ts, |a| fill_flood(a, load, cfg), out);
    }

    fn rate_packet(&mut self, m: &PacketMeta, out: &mut Vec<Alert>) {
        if m.ts >= self.next_second {
            let second = m.ts.div_euclid(NANOS_PER_SEC);
            let last = *self.second.get_or_insert(second);
            if second > last {
                self.roll_rates(m.ts, last, second - last, out);
            }
            self.second = Some(second);
            self.next_second = (second + 1) * NANOS_PER_SEC;
        }
        self.rates[m.proto.index()].this_second += 1;
    }

    /// Whether a flood incident ran in this protocol since `since`, or one is building.
    fn flood_explains(&self, p: Proto, since: Nanos) -> bool {
        self.victims.iter().any(|(_, v)| {
            Kind::ALL.iter().any(|&k| {
                k.proto() == p
                    && v.loads[k as usize]
                        .as_ref()
                        .is_some_and(|l| l.active_at >= since || 2 * l.window.sum() >= self.cfg.fixed_pps(k))
            })
        })
    }

    /// Second `done` is over (and `seconds - 1` empty ones after it): judge each
    /// protocol's rate in it, and learn from the ordinary ones. A spike is reported a
    /// second later, unless a flood incident has explained it by then.
    fn roll_rates(&mut self, now: Nanos, done: i64, seconds: i64, out: &mut Vec<Alert>) {
        let idle = (seconds - 1).min(10_000);
        for p in Proto::ALL {
            self.report_spike(p, now, out);
            let r = self.rates[p.index()];
            let count = r.this_second;
            let threshold = match self.cfg.spike_fixed[p.index()] {
                Some(t) => Some(t as f64),
                None if r.learned >= self.cfg.spike_warmup => {
                    Some((self.cfg.spike_min_pps as f64).max(self.cfg.spike_factor * r.mean))
                }
                None => None,
            };
            let r = &mut self.rates[p.index()];
            match threshold.filter(|&t| count as f64 >= t) {
                Some(t) => r.held = Some((done, count, t)),
                None => {
                    r.mean += ALPHA * (count as f64 - r.mean);
                    r.learned = r.learned.saturating_add(1);
                }
            }
            r.mean *= (1.0 - ALPHA).powi(idle as i32);
            r.learned = r.learned.saturating_add(idle as u32);
            r.this_second = 0;
        }
    }

    /// Reports the spike held back for protocol `p`, if no flood explains it.
    fn report_spike(&mut self, p: Proto, now: Nanos, out: &mut Vec<Alert>) {
        let Some((second, count, threshold)) = self.rates[p.index()].held.take() else { return };
        let start = second * NANOS_PER_SEC;
        if self.flood_explains(p, start) {
            return;
        }
        let fixed = self.cfg.spike_fixed[p.index()].is_some();
        let r = &mut self.rates[p.index()];
        if second - r.last_active > self.cfg.quiet / NANOS_PER_SEC {
            r.packets = 0;
            r.peak = 0;
        }
        r.last_active = second;
        r.packets += count;
        r.peak = r.peak.max(count);
        let r = *r;
        let key = IncidentKey { kind: "rate_spike", src: None, dst: None, proto: p.name(), port: None };
        self.book.observe(key, now, |a| fill_spike(a, &r, start, count, threshold, fixed), out);
    }

    /// Gives the book the packets counted since each flood's last report (reports are
    /// at most one per slot); with `now`, first moves every window on to it.
    fn report_pending(&mut self, now: Option<Nanos>, out: &mut Vec<Alert>) {
        let cfg = &self.cfg;
        for (dst, v) in self.victims.iter_mut() {
            let last = v.last;
            if let Some(now) = now {
                v.advance(now);
                v.last = last;
            }
            for (kind, load) in Kind::ALL.iter().zip(v.loads.iter_mut()) {
                let Some(load) = load else { continue };
                load.active &= load.window.sum() > 0;
                if load.packets != load.reported && load.facts.is_some() {
                    load.reported = load.packets;
                    self.book.observe(flood_key(*kind, *dst), last, |a| fill_flood(a, load, cfg), out);
                }
            }
        }
    }
}

impl Detector for FloodDetector {
    fn name(&self) -> &'static str {
        "flood"
    }

    fn prefetch(&self, m: &PacketMeta) {
        if let (Proto::Tcp, Some(src), Some(dst), Some((sport, dport))) = (m.proto, m.src, m.dst, m.ports) {
            self.half_open.prefetch(tuple(6, src, sport, dst, dport));
        }
    }

    fn observe(&mut self, m: &PacketMeta, out: &mut Vec<Alert>) {
        self.rate_packet(m, out);
        let (Some(src), Some(dst)) = (m.src, m.dst) else { return };
        match m.proto {
            Proto::Tcp => {
                let Some((sport, dport)) = m.ports else { return };
                let flags = m.tcp_flags;
                if flags.is_syn_only() {
                    self.half_open.insert(tuple(6, src, sport, dst, dport));
                    self.victim_packet(m, Kind::Syn, (src, dst), out);
                } else if flags.has(TcpFlags::ACK) && !flags.has(TcpFlags::SYN) && !flags.has(TcpFlags::RST) {
                    let h = tuple(6, src, sport, dst, dport);
                    if self.half_open.contains(h) {
                        self.half_open.remove(h);
                        if let Some(v) = self.victims.get_mut(&dst) {
                            let slot = v.advance(m.ts);
                            v.completed.0[slot] += 1;
                        }
                    }
                }
            }
            Proto::Udp => {
                // What a victim sends back only matters while some UDP load is warm.
                if m.ts.saturating_sub(self.udp_warm_at) < 2 * NANOS_PER_SEC
                    && let Some(v) = self.victims.get_mut(&src)
                {
                    let slot = v.advance(m.ts);
                    v.udp_out.0[slot] += 1;
                }
                self.victim_packet(m, Kind::Udp, (src, dst), out);
            }
            // Echo replies answer the receiver's own pings: never a flood *of* it.
            Proto::Icmp | Proto::Icmpv6 => {
                let reply = matches!((m.proto, m.icmp), (Proto::Icmp, Some((0, _))) | (Proto::Icmpv6, Some((129, _))));
                let kind = if m.proto == Proto::Icmp { Kind::Icmp } else { Kind::Icmpv6 };
                if !reply {
                    self.victim_packet(m, kind, (src, dst), out);
                }
            }
            _ => {}
        }
    }

    fn tables(&self) -> Vec<(&'static str, crate::stats::table::Fill)> {
        vec![("flood_victims", self.victims.fill())]
    }

    fn tick(&mut self, now: Nanos, out: &mut Vec<Alert>) {
        self.report_pending(Some(now), out);
        // A victim idle for a minute has nothing left to say but its baseline.
        self.victims.retain(|_, v| now - v.last < 60 * NANOS_PER_SEC);
        self.book.tick(now, out);
    }

    fn finish(&mut self, now: Nanos, out: &mut Vec<Alert>) {
        self.report_pending(None, out);
        if let Some(second) = self.second {
            self.roll_rates(now, second, 1, out);
            for p in Proto::ALL {
                self.report_spike(p, now, out);
            }
        }
        self.book.finish(now, out);
    }
}

#[path = "flood_report.rs"]
mod report;
use report::{Facts, fill_flood, fill_spike, flood_key};

#[cfg(test)]
#[path = "flood_tests.rs"]
mod tests;
