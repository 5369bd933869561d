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
//! `rate_spike` ([`spike`]) watches each protocol's packets per second; a spike that a
//! flood incident already explains is not reported twice.

use std::net::IpAddr;

use super::book::{Book, IncidentKey};
use super::memory::Recent;
use super::{Alert, AlertKind, Detector, Tuples};
use crate::decode::{PacketMeta, Proto, TcpFlags};
use crate::packet::{NANOS_PER_SEC, Nanos};
use crate::stats::flows::endpoint_le;
use crate::stats::table::CappedTable;

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
    /// ...but never above this many packets per second: a flood that ramps up slowly
    /// enough for the baseline to follow still alerts here.
    pub ceiling_pps: u32,
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
            ceiling_pps: 20_000,
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

/// Handshake steps awaited in `half_open`: a SYN-ACK acknowledging a SYN, then the ACK
/// acknowledging that SYN-ACK.
const SYNACK_DUE: u64 = 0x5359_4e41;
const ACK_DUE: u64 = 0x0041_434b;

/// The marker of a handshake step: the client's tuple, the step, the number awaited.
#[inline]
fn step(client: u64, what: u64, number: u32) -> u64 {
    super::memory::number(client ^ (what << 32 | u64::from(number)))
}

/// Which conversation a packet belongs to, whichever way it goes (addresses and ports):
/// the one of its [`Tuples`] that goes from the lower endpoint.
#[inline]
fn conversation(m: &PacketMeta, t: &Tuples) -> u64 {
    let (Some(src), Some(dst)) = (m.src, m.dst) else { return 0 };
    let (sp, dp) = m.ports.unwrap_or((0, 0));
    if endpoint_le((src, sp), (dst, dp)) { t.own } else { t.back }
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

    fn alert(self) -> AlertKind {
        match self {
            Kind::Syn => AlertKind::SynFlood,
            Kind::Udp => AlertKind::UdpFlood,
            Kind::Icmp => AlertKind::IcmpFlood,
            Kind::Icmpv6 => AlertKind::Icmpv6Flood,
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

/// The flood and rate-spike detector.
pub struct FloodDetector {
    cfg: FloodConfig,
    victims: CappedTable<IpAddr, Victim>,
    /// Handshakes in progress: the SYN-ACK or ACK each awaits ([`step`]).
    half_open: Recent,
    spikes: Spikes,
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
            spikes: Spikes::new(),
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
        victim.learn_mac(m.dst_mac);
        let slot = victim.advance(m.ts);
        let (completed, udp_out) = (victim.completed.sum(), victim.udp_out.sum());
        let load = victim.load(kind);
        let warm = 4 * load.window.sum() >= fixed;
        if warm && kind == Kind::Udp {
            self.udp_warm_at = m.ts;
        }
        load.count(slot, src, sport, dport, warm);
        if !(warm || load.active) && load.members.is_some() && m.ts - load.active_at > victim::HOLD_MEMBERS {
            load.members = None;
        }
        let rate = load.window.sum();
        let ceiling = f64::from(cfg.ceiling_pps.max(fixed));
        let threshold = f64::from(fixed).max(cfg.baseline_factor * load.baseline).min(ceiling);
        let over = f64::from(rate) >= threshold;
        if !(load.active || over) {
            return;
        }
        let half_open = || 1.0 - f64::from(completed.min(rate)) / f64::from(rate.max(1));
        let answered = || f64::from(udp_out) / f64::from(rate.max(1));
        if load.active {
            if f64::from(rate) < threshold / 2.0 {
                load.stop();
                return;
            }
        } else {
            // Whether the load looks like a flood: judged only until an incident runs
            // (the estimates cost a count of bits and a logarithm each, per packet).
            // One source spread over many ports is a port scan (the scan detector's), not a
            // flood; so are a few sources each spread over them (a scan among decoys,
            // `nmap -D`: every port probed from each decoy's address).
            let one_source = load.top_src.is_some_and(|(_, n)| 2 * n >= load.votes);
            let scan_like = || {
                let (ports, sources) = (Load::estimate(&load.ports), Load::estimate(&load.sources));
                ports > 64 && (one_source || (sources <= 32 && ports > 16 * sources))
            };
            let shaped = match kind {
                Kind::Syn => half_open() >= cfg.half_open && !scan_like(),
                Kind::Udp => Load::estimate(&load.flows) >= 8 && answered() < 0.5 && !scan_like(),
                Kind::Icmp | Kind::Icmpv6 => true,
            };
            if !shaped {
                return;
            }
            // A flood that pauses and resumes while its incident is open is one incident:
            // its count goes on (the window's packets were not counted while it paused).
            let open = self.book.id_of(&flood_key(kind, dst)).is_some();
            load.packets = if open { load.packets + u64::from(rate) } else { u64::from(rate) };
            load.active = true;
        }
        load.peak = load.peak.max(rate);
        load.active_at = m.ts;
        let now_slot = m.ts.div_euclid(SLOT);
        if load.last_report_slot == now_slot {
            return;
        }
        load.last_report_slot = now_slot;
        let (sources, ports, flows) =
            (Load::estimate(&load.sources), Load::estimate(&load.ports), Load::estimate(&load.flows));
        let (half_open, answered) = (half_open(), answered());
        // One source, or one that outnumbers all others together by half the votes.
        let top_src = load.top_src.filter(|&(_, n)| sources <= 1 || 2 * n >= load.votes).map(|(s, _)| s);
        let top_port = Some(load.top_port).filter(|&(_, n)| ports <= 1 || 2 * n >= load.votes).map(|(p, _)| p);
        load.facts =
            Some(Facts { kind, rate, threshold, half_open, answered, flows, sources, ports, top_src, top_port });
        load.reported = load.packets;
        self.book.observe(flood_key(kind, dst), m.ts, |a| fill_flood(a, load, cfg), out);
    }

    /// Moves the protocol rates on to `m`'s time and, when `counted`, counts it.
    fn rate_packet(&mut self, m: &PacketMeta, t: &Tuples, counted: bool, out: &mut Vec<Alert>) {
        if let Some((done, seconds)) = self.spikes.advance(m.ts) {
            self.roll_rates(m.ts, done, seconds, out);
        }
        if counted {
            self.spikes.count(m.proto, conversation(m, t));
        }
    }

    /// Whether ICMP packet `m` is an error its sender, a flood's victim, sends back about
    /// a packet of that flood (a port unreachable for each datagram of a UDP flood, as
    /// fast as the victim's rate limit allows): an answer to the flood, neither a flood
    /// of the flood's source nor a spike of its own. Only from the victim's own MAC, only
    /// about packets sent to it, and never more errors than the victim is receiving of
    /// the traffic they quote: forged errors beyond that are still a flood.
    fn answers_a_flood(&self, m: &PacketMeta) -> bool {
        let (Some(src), Some(dst), Some(q)) = (m.src, m.dst, m.quoted()) else { return false };
        let error =
            matches!((m.proto, m.icmp), (Proto::Icmp, Some((3 | 11 | 12, _))) | (Proto::Icmpv6, Some((1..=4, _))));
        let quoted = match q.ip_proto {
            6 => Kind::Syn,
            17 => Kind::Udp,
            _ => return false,
        };
        if !error || q.src != dst || q.dst != src {
            return false;
        }
        let Some(answerer) = self.victims.get(&src).filter(|v| v.sent_by_it(m.src_mac)) else { return false };
        let inbound = answerer.loads[quoted as usize].as_ref().map_or(0, |l| l.window.sum());
        let icmp = if m.proto == Proto::Icmp { Kind::Icmp } else { Kind::Icmpv6 };
        let errors = self.victims.get(&dst).and_then(|v| v.loads[icmp as usize].as_ref()).map_or(0, |l| l.window.sum());
        inbound > errors
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

    /// Second `done` is over (and `seconds - 1` empty ones after it): report the spikes
    /// held back a second ago, then judge each protocol's rate in `done`.
    fn roll_rates(&mut self, now: Nanos, done: i64, seconds: i64, out: &mut Vec<Alert>) {
        for p in Proto::ALL {
            self.report_spike(p, now, out);
            self.spikes.judge(p, seconds, done, &self.cfg);
        }
    }

    /// Reports the spike held back for protocol `p`, if no flood explains it.
    fn report_spike(&mut self, p: Proto, now: Nanos, out: &mut Vec<Alert>) {
        let Some(held) = self.spikes.take_held(p) else { return };
        if self.flood_explains(p, held.start()) {
            return;
        }
        self.spikes.learn_burst(p, held, &self.cfg);
        let spike = self.spikes.reported(p, held, &self.cfg);
        let key = IncidentKey { kind: AlertKind::RateSpike, src: None, dst: None, proto: p.into(), port: None };
        self.book.observe(key, now, |a| spike.fill(a), out);
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
                if load.active && load.window.sum() == 0 {
                    load.stop();
                }
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

    fn prefetch(&self, m: &PacketMeta, t: &Tuples) {
        if m.proto == Proto::Tcp && m.src.is_some() && m.dst.is_some() && m.ports.is_some() {
            let f = m.tcp_flags;
            let key = if f.is_syn_only() {
                step(t.own, SYNACK_DUE, m.tcp_seq.wrapping_add(1))
            } else if f.is_syn_ack() {
                step(t.back, SYNACK_DUE, m.tcp_ack)
            } else {
                step(t.own, ACK_DUE, m.tcp_ack)
            };
            self.half_open.prefetch(key);
        }
    }

    fn observe(&mut self, m: &PacketMeta, t: &Tuples, out: &mut Vec<Alert>) {
        let answer = matches!(m.proto, Proto::Icmp | Proto::Icmpv6) && self.answers_a_flood(m);
        self.rate_packet(m, t, !answer, out);
        let (Some(src), Some(dst)) = (m.src, m.dst) else { return };
        match m.proto {
            Proto::Tcp => {
                if m.ports.is_none() {
                    return;
                }
                let flags = m.tcp_flags;
                // A handshake completes only in order, each step acknowledging the last:
                // SYN (seq x), SYN-ACK (ack x+1, seq y), ACK (ack y+1). A blind ACK after
                // a spoofed SYN completes nothing.
                let forward = t.own;
                if flags.is_syn_only() {
                    self.half_open.insert(step(forward, SYNACK_DUE, m.tcp_seq.wrapping_add(1)));
                    self.victim_packet(m, Kind::Syn, (src, dst), out);
                } else if flags.is_syn_ack() {
                    let client = t.back;
                    let due = step(client, SYNACK_DUE, m.tcp_ack);
                    // Only the victim's own SYN-ACK (from the MAC its traffic goes to)
                    // moves a handshake on: a forged one cannot complete it.
                    let own = self.victims.get(&src).is_none_or(|v| v.sent_by_it(m.src_mac));
                    if own && self.half_open.contains(due) {
                        self.half_open.remove(due);
                        self.half_open.insert(step(client, ACK_DUE, m.tcp_seq.wrapping_add(1)));
                    }
                } else if flags.has(TcpFlags::ACK) && !flags.has(TcpFlags::SYN) && !flags.has(TcpFlags::RST) {
                    let due = step(forward, ACK_DUE, m.tcp_ack);
                    if self.half_open.contains(due) {
                        self.half_open.remove(due);
                        if let Some(v) = self.victims.get_mut(&dst) {
                            let slot = v.advance(m.ts);
                            v.completed.0[slot] += 1;
                        }
                    }
                }
            }
            Proto::Udp => {
                // What a victim sends back only matters while some UDP load is warm.
                // Only from the victim's own MAC (the one its traffic is sent to).
                if m.ts.saturating_sub(self.udp_warm_at) < 2 * NANOS_PER_SEC
                    && let Some(v) = self.victims.get_mut(&src)
                    && v.sent_by_it(m.src_mac)
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
                if !(reply || answer) {
                    self.victim_packet(m, kind, (src, dst), out);
                }
            }
            _ => {}
        }
    }

    fn claims(&self, a: &Alert) -> Option<u64> {
        let host = a.src?;
        if a.kind == AlertKind::HostSweep && a.proto == super::AlertProto::Arp {
            // A victim resolving the spoofed sources of its flood to answer them.
            let v = self.victims.get(&host)?;
            return Kind::ALL.iter().find_map(|&k| {
                let facts = v.loads[k as usize].as_ref()?.facts.as_ref()?;
                (facts.sources > 1).then(|| self.book.id_of(&flood_key(k, host)))?
            });
        }
        // A flood's spoofed sources: not its one named attacker, and no scan of another host.
        let target = match a.kind {
            AlertKind::Outlier => None,
            AlertKind::PortScan => Some(a.dst?),
            _ => return None,
        };
        let h = super::memory::address(host);
        self.victims.iter().filter(|(dst, _)| target.is_none_or(|t| t == **dst)).find_map(|(dst, v)| {
            Kind::ALL.iter().find_map(|&k| {
                let load = v.loads[k as usize].as_ref()?;
                let (members, facts) = (load.members.as_ref()?, load.facts.as_ref()?);
                let many = facts.sources > 1 && facts.top_src != Some(host);
                (many && members.reliable() && members.contains(h)).then(|| self.book.id_of(&flood_key(k, *dst)))?
            })
        })
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
        if let Some(second) = self.spikes.second() {
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
use report::{Facts, fill_flood, flood_key};

#[path = "flood_victim.rs"]
mod victim;
use victim::{Load, SLOT, Victim};

#[path = "spike.rs"]
mod spike;
use spike::Spikes;

#[cfg(test)]
#[path = "flood_tests.rs"]
mod tests;
