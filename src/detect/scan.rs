//! Port scans and host sweeps: one source, many attempts that fail.
//!
//! Only failed or unanswered attempts count, so a busy client or server is not a scanner;
//! and a host is named a scanner only from packets it sent, or from answers to probes
//! the sensor saw it send ([`probes`]):
//!
//! - TCP: a SYN that gets no SYN-ACK acknowledging it within the probe timeout; a RST
//!   that acknowledges a SYN, FIN, NULL, Xmas or ACK probe seen on its tuple; a segment
//!   with none of SYN, ACK and RST (FIN/NULL/Xmas probes have no other use). A SYN-ACK
//!   or RST for no probe seen (a one-sided view, or forgery) names no one.
//! - UDP: a datagram that opens a conversation and gets nothing back on it within the
//!   probe timeout, or an ICMP unreachable that quotes it. Traceroute's ports
//!   (33434-33534) are left out, and an ICMP time-exceeded answers.
//! - IP protocols: the first packet of each protocol other than TCP, UDP and ICMP from a
//!   source to a unicast target (answers are rate-limited to one a second or so, and
//!   no conversation uses more than a few such protocols).
//! - ICMP echo: every echo request (sweeps only): a host that pings many others in a
//!   few seconds is sweeping whether or not they answer.
//! - ARP: a who-has that gets no reply within the probe timeout.
//!
//! An answer hides a probe only if it is the target's own: contradicting answers (a
//! SYN-ACK and a RST, a reply and an unreachable) and answers from a MAC or TTL unlike
//! the one the address used before count the probe as failed, and the tally counts them
//! (`forged_answers`).
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
use super::evidence::Technique;
use super::memory::{Recent, address, hash_of, is_group_mac, is_unicast, tuple};
use super::{Alert, AlertKind, AlertProto, Detector, Tuples};
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
    /// ICMPv6 neighbor discovery (solicitations answered by advertisements).
    Nd,
}

/// A port tally's key: the scanner, its target and the class of its probes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct PortsKey(IpAddr, IpAddr, Class);

/// A host tally's key: the sweeper, the class of its probes and their port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct HostsKey(IpAddr, Class, u16);

/// Both keys are hashed as words for IPv4 (the common case, a lookup or two per failed
/// probe): the derived hash of a tuple wrote each piece, an address's bytes one by one.
/// Equal keys always take the same branch, so it agrees with `Eq`.
impl Hash for PortsKey {
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        match (self.0, self.1) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                h.write_u64(u64::from(a.to_bits()) << 32 | u64::from(b.to_bits()));
                h.write_u8(self.2 as u8);
            }
            _ => (self.0, self.1, self.2).hash(h),
        }
    }
}

impl Hash for HostsKey {
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        match self.0 {
            IpAddr::V4(a) => h.write_u64(u64::from(a.to_bits()) << 32 | u64::from(self.2) << 8 | self.1 as u64),
            _ => (self.0, self.1, self.2).hash(h),
        }
    }
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
            Class::Nd => AlertProto::Icmpv6,
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
            Class::Nd => "ICMPv6 neighbor solicitations".into(),
        }
    }
}

/// How a failed attempt was sent and answered.
#[derive(Clone, Copy, Debug)]
struct How {
    /// Its answers contradicted each other or were not the target's.
    forged: bool,
    technique: Technique,
}

/// A probe waiting for its answer.
struct Probe {
    ts: Nanos,
    scanner: IpAddr,
    target: IpAddr,
    class: Class,
    port: u16,
    /// Its [`Record`] in `probes`.
    key: u64,
}

/// How far ahead in the queue of pending probes their records are prefetched.
const EXPIRE_AHEAD: usize = 8;
/// Probe records held (two ways of 2^17 buckets, 6 MB).
const PROBE_BITS: u32 = 18;
/// Addresses whose MAC and TTL are remembered.
const MAX_IDENTS: usize = 65_536;
/// MACs whose ARP claims are counted.
const MAX_ARP_MACS: usize = 4096;
/// More addresses than this claimed in ARP by one MAC make none of them a veteran (a
/// forger announcing spoofed sources; a router answering for a subnet).
const MAX_CLAIMS: u32 = 16;

/// The addresses one MAC claimed in ARP.
#[derive(Clone, Copy, Debug, Default)]
struct Claims {
    ips: crate::detect::memory::Distinct,
    /// Claims of an address known at another MAC (an ARP spoofer's, or a takeover).
    took: u32,
    last: Nanos,
}

impl crate::stats::table::LastSeen for Claims {
    fn last_seen(&self) -> Nanos {
        self.last
    }
}

/// The port scan and host sweep detector.
pub struct ScanDetector {
    cfg: ScanConfig,
    /// Directed tuples that sent something other than a RST, ARP who-has asked, and
    /// (source, target, IP protocol) sent.
    seen: Recent,
    /// Probes seen sent, with the numbers their answers must carry.
    probes: Probes,
    /// The MAC and TTL each address answered with first.
    idents: Idents,
    /// Addresses with a history on the LAN: seen announcing or asking in ARP, from a MAC
    /// that does not claim many addresses. Their tallies outlast any newcomer's, so
    /// fresh spoofed sources, which never ARP, cannot flush a slow scan out.
    veterans: Recent,
    /// Answered SYNs whose prober's ACK is awaited: (tuple, number it must acknowledge).
    handshakes: Recent,
    /// How many addresses each MAC claimed in ARP.
    arp_macs: CappedTable<[u8; 6], Claims>,
    pending: VecDeque<Probe>,
    ports: CappedTable<PortsKey, Tally<u16>>,
    hosts: CappedTable<HostsKey, Tally<IpAddr>>,
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
            probes: Probes::new(PROBE_BITS),
            idents: Idents::new(MAX_IDENTS),
            veterans: Recent::new(16),
            handshakes: Recent::new(HANDSHAKE_BITS),
            arp_macs: CappedTable::new(MAX_ARP_MACS),
            pending: VecDeque::new(),
            ports: CappedTable::new(cfg.max_tallies),
            hosts: CappedTable::new(cfg.max_tallies),
            budget: Budget::default(),
            port_singles: Singles::new(15),
            host_singles: Singles::new(15),
            book: Book::new(cfg.update_every, cfg.quiet).folding_by_source(cfg.fast_window),
            cfg,
        }
    }

    /// Records a probe and queues it for its timeout.
    /// (A full queue still records it: its RST or unreachable can still be matched.)
    fn probe(&mut self, record: Record, scanner: IpAddr, target: IpAddr, class: Class, port: u16) {
        let (ts, key) = (record.ts, record.key());
        self.probes.insert(record);
        if self.pending.len() < PENDING_CAP {
            self.pending.push_back(Probe { ts, scanner, target, class, port, key });
        }
    }

    /// Probes whose time is up: those neither answered by their target nor already
    /// counted have failed (the ones pushed out of `probes` are left undecided).
    fn expire(&mut self, now: Nanos, out: &mut Vec<Alert>) {
        while let Some(p) = self.pending.front() {
            if p.ts + self.cfg.probe_timeout > now {
                break;
            }
            // The records of the probes due next are far apart in memory: ask for one
            // a few places on while this one is judged.
            if let Some(ahead) = self.pending.get(EXPIRE_AHEAD) {
                self.probes.prefetch(ahead.key);
            }
            let p = self.pending.pop_front().expect("front exists");
            let Some(r) = self.probes.get_mut(p.key).filter(|r| r.ts == p.ts) else { continue };
            if r.has(Record::FAILED) || r.has(Record::ANSWERED) {
                continue;
            }
            r.state |= Record::FAILED;
            let how = How { forged: r.has(Record::FORGED), technique: r.technique };
            if matches!(p.class, Class::Arp | Class::Nd) && self.own_address(p.scanner, p.target) {
                continue; // a multi-homed host asking for one of its own addresses
            }
            self.failed(p.ts, (p.scanner, p.target), p.class, p.port, how, out);
        }
    }

    /// Whether `target` is known as an address of the same machine (MAC) as `asker`, and
    /// that machine never claimed an address known at another MAC: a multi-homed host
    /// claims addresses nobody else has, while a sweeper that announces the whole range
    /// first (to make its who-has look like a host checking its own) claims the live
    /// hosts' addresses too.
    fn own_address(&self, asker: IpAddr, target: IpAddr) -> bool {
        self.idents
            .mac_of(target)
            .is_some_and(|t| self.idents.mac_of(asker) == Some(t) && self.arp_macs.get(&t).is_none_or(|c| c.took == 0))
    }

    /// A probe already counted as failed got an answer after all: the answers contradict
    /// each other, which the tally counts.
    fn contradicted(&mut self, scanner: IpAddr, target: IpAddr, class: Class) {
        if let Some(t) = self.ports.get_mut(&PortsKey(scanner, target, class)) {
            t.forged += 1;
        }
    }

    /// One failed attempt: `scanner` probed `target` (`port`, when the class has one);
    /// `how` it was sent and answered.
    fn failed(
        &mut self,
        ts: Nanos,
        (scanner, target): (IpAddr, IpAddr),
        class: Class,
        port: u16,
        how: How,
        out: &mut Vec<Alert>,
    ) {
        if scanner == target || !is_unicast(target) || !is_unicast(scanner) {
            return;
        }
        let cfg = &self.cfg;
        let veteran = self.veterans.contains(address(scanner));
        let f = Failure { ts, forged: how.forged, veteran, technique: how.technique };
        if matches!(class, Class::Tcp | Class::Udp | Class::Ip) {
            // Only new ports move a scan on; retries and floods of known ones do not.
            let key = PortsKey(scanner, target, class);
            let (singles, budget) = (&mut self.port_singles, &mut self.budget);
            if let Some(tally) = count(&mut self.ports, singles, key, port, f, cfg.fast_window, budget)
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
            let key = HostsKey(scanner, class, port);
            let (singles, budget) = (&mut self.host_singles, &mut self.budget);
            if let Some(tally) = count(&mut self.hosts, singles, key, target, f, cfg.fast_window, budget)
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

    /// A TCP packet; `own` and `back` are its tuples ([`Tuples`]).
    fn tcp(
        &mut self,
        m: &PacketMeta,
        (src, dst): (IpAddr, IpAddr),
        (sport, dport): (u16, u16),
        &Tuples { own, back }: &Tuples,
        out: &mut Vec<Alert>,
    ) {
        let flags = m.tcp_flags;
        if flags.has(TcpFlags::RST) {
            // The answer to a probe the sensor saw `dst` send, if it acknowledges it.
            let Some(r) = self.probes.get_mut(back).filter(|r| r.ts <= m.ts && r.rst_matches(m)) else { return };
            if r.has(Record::FAILED) {
                return;
            }
            let own_rst = self.idents.agrees(src, m);
            if !own_rst && r.has(Record::COMPLETED) {
                // A RST unlike the target (another MAC or TTL) against a connection the
                // prober completed with the target's SYN-ACK: a forgery meant to make a
                // client look like a scanner. It fails nothing.
                r.state |= Record::FORGED;
                return;
            }
            // Otherwise a RST counts, forged or not: answers that contradict each other
            // never hide a probe (they are counted in the evidence).
            r.state |= Record::FAILED;
            let technique = r.technique;
            let forged = r.has(Record::ANSWERED) || r.has(Record::FORGED) || !own_rst;
            self.failed(m.ts, (dst, src), Class::Tcp, sport, How { forged, technique }, out);
            return;
        }
        if !flags.is_syn_ack() && self.idents.foreign_sender(src, m) {
            // A probe sent "as" a host the sensor knows from another MAC: not that host's,
            // and no host can be named for it. (Answers are judged below, as answers.)
            return;
        }
        let first = self.seen.insert_new(own);
        if flags.is_syn_only() {
            // A new probe, unless it is a retransmission of the one held.
            if self.probes.get_mut(own).is_none_or(|r| r.sent != Sent::Syn || r.number != m.tcp_seq) {
                let record = Record::new(own, m.ts, m.tcp_seq, Sent::Syn, Technique::Syn);
                self.probe(record, src, dst, Class::Tcp, dport);
            }
        } else if flags.is_syn_ack() {
            // Answers the SYN it acknowledges, if it comes from the target itself.
            if let Some(r) = self
                .probes
                .get_mut(back)
                .filter(|r| r.sent == Sent::Syn && r.ts <= m.ts && m.tcp_ack == r.number.wrapping_add(1))
            {
                let contradicts = r.answer(self.idents.agrees(src, m));
                if r.has(Record::ANSWERED) {
                    self.handshakes.insert(completion(back, m.tcp_seq.wrapping_add(1)));
                }
                if contradicts {
                    self.contradicted(dst, src, Class::Tcp);
                }
            }
        } else if flags.has(TcpFlags::ACK) && self.handshakes.contains(completion(own, m.tcp_ack)) {
            // The prober acknowledges the target's SYN-ACK: its probe became a connection.
            self.handshakes.remove(completion(own, m.tcp_ack));
            if let Some(r) = self.probes.get_mut(own).filter(|r| r.sent == Sent::Syn) {
                r.state |= Record::COMPLETED;
            }
        } else if flags.0 & (TcpFlags::SYN | TcpFlags::ACK) == 0 {
            // FIN, NULL, Xmas and friends: no connection sends these.
            let technique = Technique::of_tcp(flags.0);
            let mut counted = Record::new(own, m.ts, m.tcp_seq, Sent::Stealth, technique);
            counted.state = Record::FAILED;
            self.probes.insert(counted);
            self.failed(m.ts, (src, dst), Class::Tcp, dport, How { forged: false, technique }, out);
        } else if !self.seen.contains(back)
            && self
                .probes
                .get_mut(own)
                .map_or(first, |r| r.sent == Sent::Ack || r.has(Record::FAILED | Record::ANSWERED))
        {
            // An ACK out of nowhere (the other side never said anything but RST): an ACK
            // probe, or a connection the capture joined late; only a RST taking its number
            // can tell. It never takes the place of a SYN still waiting for its answer: an
            // ACK the target drops (a bad checksum) would otherwise hide the SYN's RST.
            self.probes.insert(Record::new(own, m.ts, m.tcp_ack, Sent::Ack, Technique::of_tcp(flags.0)));
        }
    }

    /// A UDP datagram; `own` and `back` are its tuples ([`Tuples`]).
    fn udp(&mut self, m: &PacketMeta, (src, dst): (IpAddr, IpAddr), dport: u16, &Tuples { own, back }: &Tuples) {
        if !self.seen.insert_new(own) {
            return; // not the first datagram of this conversation: nothing new to ask
        }
        if let Some(r) = self.probes.get_mut(back).filter(|r| r.sent == Sent::Udp && r.ts <= m.ts) {
            // The first datagram back answers, if it comes from the target itself.
            if r.answer(self.idents.agrees(src, m)) {
                self.contradicted(dst, src, Class::Udp);
            }
            return;
        }
        if TRACEROUTE.contains(&dport) || !self.may_probe(m, src, dst) {
            return; // traceroute
        }
        self.probe(Record::new(own, m.ts, 0, Sent::Udp, Technique::Udp), src, dst, Class::Udp, dport);
    }

    fn icmp(&mut self, m: &PacketMeta, (src, dst): (IpAddr, IpAddr), out: &mut Vec<Alert>) {
        let Some((kind, code)) = m.icmp else { return };
        let v6 = m.proto == Proto::Icmpv6;
        let (echo, unreachable, expired) = if v6 { (128, 1, 3) } else { (8, 3, 11) };
        if kind == echo {
            if !self.may_probe(m, src, dst) {
                return;
            }
            let (class, technique) =
                if v6 { (Class::Icmpv6, Technique::Icmpv6Echo) } else { (Class::Icmp, Technique::IcmpEcho) };
            self.failed(m.ts, (src, dst), class, 0, How { forged: false, technique }, out);
            return;
        }
        // An error answers a probe only if it quotes one the sensor saw its receiver send.
        let Some(q) = m.quoted().filter(|q| q.src == dst) else { return };
        let proto_unreachable = (!v6 && kind == 3 && code == 2) || (v6 && kind == 4 && code == 1);
        // Only TCP and UDP probes wait for theirs: any other protocol was counted when it
        // was sent (see `ip_protocol`).
        let (p @ (6 | 17), Some(sport), Some(dport)) = (q.ip_proto, q.sport, q.dport) else { return };
        let class = if p == 6 { Class::Tcp } else { Class::Udp };
        let Some(r) = self.probes.get_mut(tuple(p, q.src, sport, q.dst, dport)) else { return };
        if kind == expired || (class == Class::Udp && TRACEROUTE.contains(&dport)) {
            r.state |= Record::ANSWERED; // traceroute's hops, and its last one
        } else if (kind == unreachable || proto_unreachable) && !r.has(Record::FAILED) {
            r.state |= Record::FAILED;
            let how = How { forged: r.has(Record::ANSWERED) || r.has(Record::FORGED), technique: r.technique };
            self.failed(m.ts, (q.src, q.dst), class, dport, how, out);
        }
    }

    /// The first packet of IP protocol `n` (not TCP, UDP or ICMP) from `src` to `dst`.
    /// It counts as an attempt on that protocol as it is sent: hosts speak one or two
    /// such protocols to a peer (GRE, ESP, SCTP), and only a protocol scan (`nmap -sO`)
    /// tries many. Its answers cannot be waited for: Linux sends an ICMP
    /// protocol-unreachable once a second or so (a scan of 256 protocols gets a dozen),
    /// and a protocol it speaks answers in that protocol, or not at all.
    fn ip_protocol(&mut self, m: &PacketMeta, (src, dst): (IpAddr, IpAddr), n: u8, out: &mut Vec<Alert>) {
        // Looked up first: the other packets of a tunnel or VPN end here, with no lookup
        // of the sender's identity.
        let sent = ip_sent(src, dst, n);
        if self.seen.contains(sent) || !self.may_probe(m, src, dst) {
            return; // not its first, or routing protocols' multicasts
        }
        self.seen.insert(sent);
        let how = How { forged: false, technique: Technique::IpProtocol };
        self.failed(m.ts, (src, dst), Class::Ip, u16::from(n), how, out);
    }

    /// Whether `m` may be a probe of `dst` by `src`: sent to one host (not to a group or
    /// broadcast, by address or MAC), and not "as" a host the sensor knows from another
    /// MAC (that names no one).
    fn may_probe(&self, m: &PacketMeta, src: IpAddr, dst: IpAddr) -> bool {
        is_unicast(dst) && !is_group_mac(m.dst_mac) && !self.idents.foreign_sender(src, m)
    }

    /// Whether `m` came from the MAC `asker` showed itself with: the asker speaking for the
    /// address it asked about. That tells nothing of the address, and must not tie it to
    /// the asker's MAC (that would make the asker's question one about its own address,
    /// and a sweep answered by the sweeper itself no sweep).
    fn sent_by_asker(&self, asker: IpAddr, m: &PacketMeta) -> bool {
        m.src_mac != [0; 6] && self.idents.mac_of(asker) == Some(m.src_mac)
    }

    /// `m`'s MAC spoke for `ip` in ARP or neighbor discovery.
    fn claim(&mut self, m: &PacketMeta, ip: IpAddr) {
        if m.src_mac == [0; 6] {
            return;
        }
        let took = self.idents.foreign_sender(ip, m);
        let claims = self.arp_macs.entry_or_insert_with(m.src_mac, Claims::default);
        claims.last = claims.last.max(m.ts);
        claims.took = claims.took.saturating_add(u32::from(took));
        claims.ips.insert(address(ip));
        if claims.ips.estimate() <= MAX_CLAIMS {
            self.veterans.insert(address(ip));
        }
    }

    /// An ICMPv6 neighbor solicitation or advertisement: IPv6's ARP, judged as ARP is.
    /// A solicitation from a unicast address asks for its target (one from `::`, duplicate
    /// address detection, asks nothing); the advertisement sent back to the asker answers
    /// it if it comes from the target's own MAC. Only hop limit 255 counts: hosts drop
    /// neighbor discovery from any other (RFC 4861 §7.1), so it cannot have come from off
    /// the link.
    fn neighbor(&mut self, m: &PacketMeta, (src, dst): (IpAddr, IpAddr)) {
        let (Some(t), Some((kind, _))) = (m.nd_target(), m.icmp) else { return };
        if m.ttl != 255 {
            return;
        }
        let target = IpAddr::V6(t);
        // Neighbor discovery always has hop limit 255: that says nothing of a host's TTL.
        let unstamped = PacketMeta { ttl: 0, ..*m };
        match kind {
            135 if is_unicast(src) && src != target => {
                self.claim(m, src);
                self.idents.agrees(src, &unstamped);
                if self.own_address(src, target) {
                    return; // a host checking one of its own addresses
                }
                let id = hash_of((b'n', src, target));
                if self.seen.insert_new(id) {
                    self.probe(Record::new(id, m.ts, 0, Sent::Nd, Technique::Nd), src, target, Class::Nd, 0);
                }
            }
            136 => {
                // The advertisement's source may be the target's link-local address: the
                // target address is what it speaks for.
                let self_answer = self.sent_by_asker(dst, m);
                let own = !self_answer && self.idents.agrees(target, &unstamped);
                if !self_answer {
                    self.claim(m, target);
                }
                if let Some(r) =
                    self.probes.get_mut(hash_of((b'n', dst, target))).filter(|r| r.sent == Sent::Nd && r.ts <= m.ts)
                {
                    r.answer(own);
                }
            }
            _ => {}
        }
    }

    fn arp(&mut self, m: &PacketMeta) {
        let Some(arp) = m.arp else { return };
        let (sender, target) = (IpAddr::V4(arp.sender), IpAddr::V4(arp.target));
        if !arp.sender.is_unspecified() {
            self.claim(m, sender);
        }
        // Every stack broadcasts its announcements (sender = target); one sent to a single
        // MAC tells the LAN nothing, and must not tie the address to this MAC (that would
        // make a sweep of the announced addresses a host asking for its own).
        let quiet_announcement = arp.sender == arp.target && !is_group_mac(m.dst_mac);
        // A reply (not an announcement) from the MAC of the host it is addressed to.
        let self_answer = arp.op == 2 && arp.sender != arp.target && self.sent_by_asker(target, m);
        let own_answer =
            arp.sender.is_unspecified() || (!quiet_announcement && !self_answer && self.idents.agrees(sender, m));
        match arp.op {
            1 if !arp.sender.is_unspecified() && arp.sender != arp.target && !self.own_address(sender, target) => {
                let id = hash_of((b'q', sender, target));
                if self.seen.insert_new(id) {
                    self.probe(Record::new(id, m.ts, 0, Sent::Arp, Technique::Arp), sender, target, Class::Arp, 0);
                } // else a retry of a who-has already waiting
            }
            2 => {
                let asked = hash_of((b'q', target, sender));
                if let Some(r) = self.probes.get_mut(asked).filter(|r| r.sent == Sent::Arp && r.ts <= m.ts) {
                    r.answer(own_answer);
                }
            }
            _ => {}
        }
    }
}

/// Handshakes awaited at once (8 bytes each): a flood of SYN-ACKs only pushes out the
/// oldest, and a probe whose completion was forgotten is judged as a probe.
const HANDSHAKE_BITS: u32 = 13;

/// Marker: the prober of tuple `own` is due to acknowledge `ack`.
fn completion(own: u64, ack: u32) -> u64 {
    super::memory::number(own ^ u64::from(ack) << 16)
}

/// Marker: `src` sent IP protocol `n` to `dst`.
fn ip_sent(src: IpAddr, dst: IpAddr, n: u8) -> u64 {
    hash_of((b'p', src, dst, n))
}

impl Detector for ScanDetector {
    fn name(&self) -> &'static str {
        "scan"
    }

    fn observe(&mut self, m: &PacketMeta, tuples: &Tuples, out: &mut Vec<Alert>) {
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
        // IP-protocol probes (not TCP, UDP or ICMP, which every host speaks: an ICMP
        // flood must not churn the tuple memory).
        if let Some(n) = m.ip_proto.filter(|&n| !matches!(n, 1 | 6 | 17 | 58)) {
            self.ip_protocol(m, addrs, n, out);
        }
        match (m.proto, m.ports) {
            (Proto::Tcp, Some(ports)) => self.tcp(m, addrs, ports, tuples, out),
            (Proto::Udp, Some((_, dport))) => self.udp(m, addrs, dport, tuples),
            (Proto::Icmpv6, _) if m.nd_target().is_some() => self.neighbor(m, addrs),
            (Proto::Icmp | Proto::Icmpv6, _) => self.icmp(m, addrs, out),
            _ => {}
        }
    }

    fn prefetch(&self, m: &PacketMeta, &Tuples { own, back }: &Tuples) {
        if let (true, Some(p @ (6 | 17))) = (m.src.is_some() && m.dst.is_some() && m.ports.is_some(), m.ip_proto) {
            self.seen.prefetch(own);
            self.seen.prefetch(back);
            if p == 17 || m.tcp_flags.0 & (TcpFlags::SYN | TcpFlags::RST) != 0 {
                self.probes.prefetch(if m.tcp_flags.is_syn_only() { own } else { back });
            }
        }
    }

    fn tables(&self) -> Vec<(&'static str, crate::stats::table::Fill)> {
        use crate::stats::table::Fill;
        let items = Fill { len: self.budget.used, cap: MAX_ITEMS, evicted: self.budget.refused };
        vec![
            ("scan_port_tallies", self.ports.fill()),
            ("scan_host_tallies", self.hosts.fill()),
            ("scan_items", items),
            ("scan_idents", self.idents.fill()),
            ("scan_arp_macs", self.arp_macs.fill()),
        ]
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
use tally::{Budget, Failure, Singles, Tally, count};

#[path = "scan_probes.rs"]
mod probes;
use probes::{Idents, Probes, Record, Sent};

#[path = "scan_report.rs"]
mod report;
use report::{fill_scan, fill_sweep};

#[cfg(test)]
#[path = "scan_tests.rs"]
mod tests;
