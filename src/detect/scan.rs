//! Port scans and host sweeps: one source, many attempts that fail.
//!
//! Only failed or unanswered attempts count, so a busy client or server is not a scanner:
//!
//! - TCP: a SYN that gets no SYN-ACK within the probe timeout; a RST from a tuple that
//!   never sent anything else (the answer to a SYN, FIN, NULL, Xmas or ACK probe); a
//!   segment with none of SYN, ACK and RST (FIN/NULL/Xmas probes have no other use).
//! - UDP: a datagram that opens a conversation and gets nothing back on it within the
//!   probe timeout (a reply, even one sent before, answers it), or an ICMP unreachable.
//!   Traceroute's ports (33434-33534) are left out, and an ICMP time-exceeded answers.
//! - IP protocols: an ICMP protocol-unreachable.
//! - ICMP echo: every echo request (sweeps only): a host that pings many others in a
//!   few seconds is sweeping whether or not they answer.
//! - ARP: a who-has that gets no reply within the probe timeout.
//!
//! Failed attempts are tallied per (source, target, protocol) in ports — a port scan —
//! and per (source, protocol, port) in hosts — a host sweep. A tally fires when it gains
//! `*_fast` new ports/hosts within the fast window (fast scans, caught in well under a
//! second), or reaches `*_slow` in all while it stays active (slow scans: a tally lives
//! until the source has been idle for `idle`, so a few probes a minute add up).

use std::collections::VecDeque;
use std::hash::Hash;
use std::net::IpAddr;

use super::book::{Book, IncidentKey};
use super::memory::{Recent, hash_of, is_unicast, tuple};
use super::{Alert, AlertKind, AlertProto, Detector};
use crate::decode::{PacketMeta, Proto, TcpFlags};
use crate::packet::{NANOS_PER_SEC, Nanos};
use crate::stats::table::CappedTable;

/// Thresholds and windows of the scan and sweep detector.
#[derive(Clone, Debug)]
pub struct ScanConfig {
    /// How long a probe may wait for its answer before it counts as unanswered.
    pub probe_timeout: Nanos,
    /// The short window for fast scans.
    pub fast_window: Nanos,
    /// A tally ends after the source has been this long without a failed attempt.
    pub idle: Nanos,
    /// New failed ports on one host within the fast window that make a scan.
    pub ports_fast: u32,
    /// Failed ports on one host in all (while active) that make a scan.
    pub ports_slow: u32,
    /// New failed hosts on one service within the fast window that make a sweep.
    pub hosts_fast: u32,
    /// Failed hosts on one service in all (while active) that make a sweep.
    pub hosts_slow: u32,
    /// Most tallies kept at once (each kind); the least recently active are evicted.
    pub max_tallies: usize,
    /// Reports of one incident at most this often.
    pub update_every: Nanos,
    /// An incident ends after this long without a failed attempt.
    pub quiet: Nanos,
}

impl Default for ScanConfig {
    fn default() -> Self {
        ScanConfig {
            probe_timeout: NANOS_PER_SEC,
            fast_window: 3 * NANOS_PER_SEC,
            idle: 300 * NANOS_PER_SEC,
            ports_fast: 10,
            ports_slow: 15,
            hosts_fast: 10,
            hosts_slow: 25,
            max_tallies: 4096,
            update_every: 5 * NANOS_PER_SEC,
            quiet: 60 * NANOS_PER_SEC,
        }
    }
}

/// Probes waiting for an answer at most; beyond it new ones are not tracked.
const PENDING_CAP: usize = 1 << 18;
/// Traceroute's default UDP ports.
const TRACEROUTE: std::ops::RangeInclusive<u16> = 33434..=33534;

/// What was probed with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Class {
    Tcp,
    Udp,
    Ip,
    Icmp,
    Icmpv6,
    Arp,
}

impl Class {
    fn proto(self) -> AlertProto {
        match self {
            Class::Tcp => AlertProto::Tcp,
            Class::Udp => AlertProto::Udp,
            Class::Ip => AlertProto::Ip,
            Class::Icmp => AlertProto::Icmp,
            Class::Icmpv6 => AlertProto::Icmpv6,
            Class::Arp => AlertProto::Arp,
        }
    }

    fn service(self, port: u16) -> String {
        match self {
            Class::Tcp => format!("TCP port {port}"),
            Class::Udp => format!("UDP port {port}"),
            Class::Ip => format!("IP protocol {port}"),
            Class::Icmp => "ICMP echo".into(),
            Class::Icmpv6 => "ICMPv6 echo".into(),
            Class::Arp => "ARP who-has".into(),
        }
    }
}

/// A probe waiting for its answer.
struct Probe {
    ts: Nanos,
    scanner: IpAddr,
    target: IpAddr,
    class: Class,
    port: u16,
    /// Seeing either of these means it was answered (or already counted).
    answers: [u64; 2],
}

/// The port scan and host sweep detector.
pub struct ScanDetector {
    cfg: ScanConfig,
    /// Directed tuples that sent something other than a RST; answers; resolved probes.
    /// A probe is queued only by the first packet of its tuple, so no probe twice.
    seen: Recent,
    pending: VecDeque<Probe>,
    ports: CappedTable<(IpAddr, IpAddr, Class), Tally<u16>>,
    hosts: CappedTable<(IpAddr, Class, u16), Tally<IpAddr>>,
    /// Items held by all tallies together.
    budget: Budget,
    /// First failures of would-be tallies (see [`Singles`]).
    port_singles: Singles<u16>,
    host_singles: Singles<IpAddr>,
    book: Book,
}

impl ScanDetector {
    /// A detector with these thresholds.
    pub fn new(cfg: ScanConfig) -> Self {
        ScanDetector {
            seen: Recent::new(17),
            pending: VecDeque::new(),
            ports: CappedTable::new(cfg.max_tallies),
            hosts: CappedTable::new(cfg.max_tallies),
            budget: Budget::default(),
            port_singles: Singles::new(15),
            host_singles: Singles::new(15),
            book: Book::new(cfg.update_every, cfg.quiet),
            cfg,
        }
    }

    /// Marker: the probe of `target`'s `port` by `scanner` was answered or already counted.
    fn resolved(scanner: IpAddr, target: IpAddr, class: Class, port: u16) -> u64 {
        hash_of((b'r', scanner, target, class, port))
    }

    fn queue(&mut self, probe: Probe) {
        if self.pending.len() < PENDING_CAP {
            self.pending.push_back(probe);
        }
    }

    fn expire(&mut self, now: Nanos, out: &mut Vec<Alert>) {
        while let Some(p) = self.pending.front() {
            if p.ts + self.cfg.probe_timeout > now {
                break;
            }
            let p = self.pending.pop_front().expect("front exists");
            if !p.answers.iter().any(|&h| self.seen.contains(h)) {
                self.failed(p.ts, p.scanner, p.target, p.class, p.port, out);
            }
        }
    }

    /// One failed attempt: `scanner` probed `target` (`port`, when the class has one).
    fn failed(&mut self, ts: Nanos, scanner: IpAddr, target: IpAddr, class: Class, port: u16, out: &mut Vec<Alert>) {
        if scanner == target || !is_unicast(target) || !is_unicast(scanner) {
            return;
        }
        let cfg = &self.cfg;
        if matches!(class, Class::Tcp | Class::Udp | Class::Ip) {
            // Only new ports move a scan on; retries and floods of known ones do not.
            let key = (scanner, target, class);
            if let Some(tally) =
                count(&mut self.ports, &mut self.port_singles, key, port, ts, cfg.fast_window, &mut self.budget)
                && let Some(crossed) = tally.check(cfg.ports_fast, cfg.ports_slow)
            {
                let key = IncidentKey {
                    kind: AlertKind::PortScan,
                    src: Some(scanner),
                    dst: Some(target),
                    proto: class.proto(),
                    port: None,
                };
                self.book.observe(key, ts, |a| fill_scan(a, tally, class, crossed, cfg), out);
            }
        }
        if class != Class::Ip {
            let key = (scanner, class, port);
            if let Some(tally) =
                count(&mut self.hosts, &mut self.host_singles, key, target, ts, cfg.fast_window, &mut self.budget)
                && let Some(crossed) = tally.check(cfg.hosts_fast, cfg.hosts_slow)
            {
                let port = matches!(class, Class::Tcp | Class::Udp).then_some(port);
                let key = IncidentKey {
                    kind: AlertKind::HostSweep,
                    src: Some(scanner),
                    dst: None,
                    proto: class.proto(),
                    port,
                };
                self.book.observe(key, ts, |a| fill_sweep(a, tally, class, crossed, cfg), out);
            }
        }
    }

    fn tcp(&mut self, m: &PacketMeta, (src, dst): (IpAddr, IpAddr), (sport, dport): (u16, u16), out: &mut Vec<Alert>) {
        let flags = m.tcp_flags;
        let own = tuple(6, src, sport, dst, dport);
        if flags.has(TcpFlags::RST) {
            // A reset from a tuple that never said anything else answers a probe.
            if !self.seen.contains(own) {
                self.failed(m.ts, dst, src, Class::Tcp, sport, out);
                self.seen.insert(Self::resolved(dst, src, Class::Tcp, sport));
            }
            return;
        }
        let first = self.seen.insert_new(own);
        let back = tuple(6, dst, dport, src, sport);
        if flags.is_syn_only() {
            if first && !self.seen.contains(back) {
                let answers = [back, Self::resolved(src, dst, Class::Tcp, dport)];
                self.queue(Probe { ts: m.ts, scanner: src, target: dst, class: Class::Tcp, port: dport, answers });
            }
        } else if flags.0 & (TcpFlags::SYN | TcpFlags::ACK) == 0 {
            // FIN, NULL, Xmas and friends: no connection sends these.
            self.failed(m.ts, src, dst, Class::Tcp, dport, out);
        }
    }

    fn udp(&mut self, m: &PacketMeta, (src, dst): (IpAddr, IpAddr), (sport, dport): (u16, u16)) {
        let own = tuple(17, src, sport, dst, dport);
        if !self.seen.insert_new(own) {
            return; // not the first datagram of this conversation: nothing new to ask
        }
        let back = tuple(17, dst, dport, src, sport);
        if self.seen.contains(back) || TRACEROUTE.contains(&dport) || !is_unicast(dst) {
            return;
        }
        let answers = [back, Self::resolved(src, dst, Class::Udp, dport)];
        self.queue(Probe { ts: m.ts, scanner: src, target: dst, class: Class::Udp, port: dport, answers });
    }

    fn icmp(&mut self, m: &PacketMeta, (src, dst): (IpAddr, IpAddr), out: &mut Vec<Alert>) {
        let Some((kind, code)) = m.icmp else { return };
        let v6 = m.proto == Proto::Icmpv6;
        let (echo, unreachable, expired) = if v6 { (128, 1, 3) } else { (8, 3, 11) };
        if kind == echo {
            let class = if v6 { Class::Icmpv6 } else { Class::Icmp };
            self.failed(m.ts, src, dst, class, 0, out);
            return;
        }
        let Some(q) = m.quoted else { return };
        // The error goes back to whoever sent the probe.
        let scanner = dst;
        let (class, port) = match (q.ip_proto, q.dport) {
            (6, Some(p)) => (Class::Tcp, p),
            (17, Some(p)) => (Class::Udp, p),
            (6 | 17, None) => return,
            (n, _) if !v6 && kind == 3 && code == 2 => (Class::Ip, u16::from(n)),
            (n, _) if v6 && kind == 4 && code == 1 => (Class::Ip, u16::from(n)),
            _ => return,
        };
        let marker = Self::resolved(scanner, q.dst, class, port);
        if kind == expired {
            self.seen.insert(marker);
        } else if kind == unreachable || class == Class::Ip {
            if !(class == Class::Udp && TRACEROUTE.contains(&port)) {
                self.failed(m.ts, scanner, q.dst, class, port, out);
            }
            self.seen.insert(marker);
        }
    }

    fn arp(&mut self, m: &PacketMeta) {
        let Some(arp) = m.arp else { return };
        let (sender, target) = (IpAddr::V4(arp.sender), IpAddr::V4(arp.target));
        match arp.op {
            1 if !arp.sender.is_unspecified() && arp.sender != arp.target => {
                let id = hash_of((b'q', sender, target));
                if !self.seen.insert_new(id) {
                    return; // a retry of a who-has already waiting
                }
                let answers = [hash_of((b'a', target, sender)), Self::resolved(sender, target, Class::Arp, 0)];
                self.queue(Probe { ts: m.ts, scanner: sender, target, class: Class::Arp, port: 0, answers });
            }
            2 => self.seen.insert(hash_of((b'a', sender, target))),
            _ => {}
        }
    }
}

impl Detector for ScanDetector {
    fn name(&self) -> &'static str {
        "scan"
    }

    fn observe(&mut self, m: &PacketMeta, out: &mut Vec<Alert>) {
        if self.pending.front().is_some_and(|p| p.ts + self.cfg.probe_timeout <= m.ts) {
            self.expire(m.ts, out);
        }
        if m.fragment == crate::decode::Fragment::Later {
            return;
        }
        let addrs = match (m.src, m.dst) {
            (Some(s), Some(d)) => (s, d),
            _ => {
                if m.proto == Proto::Arp {
                    self.arp(m);
                }
                return;
            }
        };
        match (m.proto, m.ports) {
            (Proto::Tcp, Some(ports)) => self.tcp(m, addrs, ports, out),
            (Proto::Udp, Some(ports)) => self.udp(m, addrs, ports),
            (Proto::Icmp | Proto::Icmpv6, _) => self.icmp(m, addrs, out),
            _ => {}
        }
    }

    fn prefetch(&self, m: &PacketMeta) {
        if let (Some(src), Some(dst), Some((sport, dport)), Some(p @ (6 | 17))) = (m.src, m.dst, m.ports, m.ip_proto) {
            self.seen.prefetch(tuple(p, src, sport, dst, dport));
            self.seen.prefetch(tuple(p, dst, dport, src, sport));
        }
    }

    fn tables(&self) -> Vec<(&'static str, crate::stats::table::Fill)> {
        use crate::stats::table::Fill;
        let items = Fill { len: self.budget.used, cap: MAX_ITEMS, evicted: self.budget.refused };
        vec![("scan_port_tallies", self.ports.fill()), ("scan_host_tallies", self.hosts.fill()), ("scan_items", items)]
    }

    fn tick(&mut self, now: Nanos, out: &mut Vec<Alert>) {
        self.expire(now, out);
        let idle = self.cfg.idle;
        self.ports.retain(|_, t| now - t.last < idle);
        self.hosts.retain(|_, t| now - t.last < idle);
        self.budget.used = self.ports.iter().map(|(_, t)| t.distinct()).sum::<usize>()
            + self.hosts.iter().map(|(_, t)| t.distinct()).sum::<usize>();
        self.book.tick(now, out);
    }

    fn finish(&mut self, now: Nanos, out: &mut Vec<Alert>) {
        // Probes still waiting are left undecided: the capture ended, not their chance.
        self.book.finish(now, out);
    }
}

#[path = "scan_tally.rs"]
mod tally;
pub use tally::MAX_ITEMS;
use tally::{Budget, Singles, Tally, count};

#[path = "scan_report.rs"]
mod report;
use report::{fill_scan, fill_sweep};

#[cfg(test)]
#[path = "scan_tests.rs"]
mod tests;
