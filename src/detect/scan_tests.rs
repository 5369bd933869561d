use std::net::{IpAddr, Ipv4Addr};

use super::*;
use crate::decode::testing::{blank, ip, tcp, udp};
use crate::decode::{ArpMeta, Quoted};
use crate::detect::AlertState;
use crate::detect::Severity;

const MS: Nanos = NANOS_PER_SEC / 1000;
const S: Nanos = NANOS_PER_SEC;
const SYN: u8 = TcpFlags::SYN;
const SYN_ACK: u8 = TcpFlags::SYN | TcpFlags::ACK;
const RST_ACK: u8 = TcpFlags::RST | TcpFlags::ACK;
const ACK: u8 = TcpFlags::ACK;

/// An answer (SYN-ACK or RST) to a SYN with sequence number 0: it acknowledges 1.
fn answer(ts: Nanos, src: &str, sport: u16, dst: &str, dport: u16, flags: u8) -> PacketMeta {
    PacketMeta { tcp_ack: 1, ..tcp(ts, src, sport, dst, dport, flags) }
}

fn icmp(ts: Nanos, src: &str, dst: &str, kind: u8, code: u8, quoted: Option<Quoted>) -> PacketMeta {
    PacketMeta {
        proto: Proto::Icmp,
        ip_proto: Some(1),
        src: Some(ip(src)),
        dst: Some(ip(dst)),
        icmp: Some((kind, code)),
        about: quoted.map(crate::decode::About::Quote),
        ..blank(ts)
    }
}

fn arp(ts: Nanos, op: u16, sender: &str, target: &str) -> PacketMeta {
    let v4 = |s: &str| s.parse::<Ipv4Addr>().unwrap();
    PacketMeta { proto: Proto::Arp, arp: Some(ArpMeta { op, sender: v4(sender), target: v4(target) }), ..blank(ts) }
}

fn run(packets: &[PacketMeta]) -> Vec<Alert> {
    run_with(ScanConfig::default(), packets)
}

fn run_with(cfg: ScanConfig, packets: &[PacketMeta]) -> Vec<Alert> {
    let mut d = ScanDetector::new(cfg);
    let mut out = Vec::new();
    let mut next_tick = packets.first().map_or(0, |p| p.ts) + S;
    for p in packets {
        if p.ts >= next_tick {
            d.tick(p.ts, &mut out);
            next_tick = p.ts + S;
        }
        d.observe(p, &Tuples::of(p), &mut out);
    }
    out
}

/// What identifies an incident: kind, src, dst, proto, port.
type Ident = (&'static str, Option<IpAddr>, Option<IpAddr>, &'static str, Option<u16>);

fn news(alerts: &[Alert]) -> Vec<Ident> {
    alerts
        .iter()
        .filter(|a| a.state == AlertState::New)
        .map(|a| (a.kind.name(), a.src, a.dst, a.proto.name(), a.port))
        .collect()
}

const A: &str = "10.0.0.66";
const T: &str = "10.0.0.10";

/// A SYN scan of `ports` on T, closed ports answering RST.
fn syn_scan(ports: std::ops::RangeInclusive<u16>, gap: Nanos) -> Vec<PacketMeta> {
    let mut v = Vec::new();
    for (i, p) in ports.enumerate() {
        let t = i as Nanos * gap;
        v.push(tcp(t, A, 40000, T, p, SYN));
        v.push(answer(t + MS / 10, T, p, A, 40000, RST_ACK));
    }
    v
}

#[test]
fn syn_scan_of_closed_ports_is_one_port_scan_found_fast() {
    let out = run(&syn_scan(1..=1000, MS / 10));
    assert_eq!(news(&out), [("port_scan", Some(ip(A)), Some(ip(T)), "tcp", None)]);
    let first = &out[0];
    assert!(first.ts < 2 * MS, "found after {} ns", first.ts);
    assert_eq!(first.evidence.to_map()["crossed"], "fast");
    assert!(out.iter().all(|a| a.id == first.id), "one incident");
}

#[test]
fn the_incident_grows_then_ends() {
    let mut packets = syn_scan(1..=1000, MS / 10);
    packets.push(tcp(10 * S, "10.0.0.1", 5000, "10.0.0.2", 80, ACK));
    packets.push(tcp(100 * S, "10.0.0.1", 5000, "10.0.0.2", 80, ACK));
    let out = run(&packets);
    let last = out.last().unwrap();
    assert_eq!(last.state, AlertState::End);
    assert_eq!((last.evidence.to_map()["distinct_ports"].as_u64(), last.packets), (Some(1000), 1000));
    assert_eq!(last.severity, Severity::High);
    assert!(out.iter().filter(|a| a.state == AlertState::Update).count() <= 2, "updates are rate-limited");
}

#[test]
fn unanswered_syns_count_once_the_probe_timeout_passes() {
    let packets: Vec<_> = (1..=20).map(|p| tcp(p as Nanos * MS, A, 40000, T, p, SYN)).collect();
    assert!(run(&packets).is_empty(), "nothing is known to have failed yet");
    let mut later = packets.clone();
    later.push(tcp(1100 * MS, "10.0.0.1", 5000, "10.0.0.2", 80, ACK));
    assert_eq!(news(&run(&later)), [("port_scan", Some(ip(A)), Some(ip(T)), "tcp", None)]);
}

#[test]
fn answered_connections_are_not_scans() {
    let mut v = Vec::new();
    // A client opens 50 connections to 50 ports of one server, all accepted, then
    // aborts each with a RST; and a server answers 50 clients.
    for p in 1..=50u16 {
        let t = Nanos::from(p) * 10 * MS;
        v.push(tcp(t, A, 30000 + p, T, p, SYN));
        v.push(answer(t + MS, T, p, A, 30000 + p, SYN_ACK));
        v.push(tcp(t + 2 * MS, A, 30000 + p, T, p, ACK));
        v.push(tcp(t + 3 * MS, A, 30000 + p, T, p, RST_ACK));
        let client = format!("10.0.1.{p}");
        v.push(tcp(t, &client, 50000, T, 443, SYN));
        v.push(answer(t + MS, T, 443, &client, 50000, SYN_ACK));
        v.push(tcp(t + 5 * MS, &client, 50000, T, 443, ACK));
        v.push(tcp(t + 6 * MS, T, 443, &client, 50000, RST_ACK));
    }
    v.push(tcp(5 * S, "10.0.0.1", 5000, "10.0.0.2", 80, ACK));
    assert!(run(&v).is_empty(), "{:?}", news(&run(&v)));
}

#[test]
fn stealth_and_ack_scans_are_caught() {
    for flags in [TcpFlags::FIN, 0, TcpFlags::FIN | TcpFlags::PSH | TcpFlags::URG] {
        // Open ports stay silent: the probes count anyway.
        let v: Vec<_> = (1..=20).map(|p| tcp(p as Nanos * MS, A, 40000, T, p, flags)).collect();
        assert_eq!(news(&run(&v)).len(), 1, "flags {flags:#x}");
    }
    let mut v = Vec::new();
    for p in 1..=20u16 {
        v.push(tcp(Nanos::from(p) * MS, A, 40000, T, p, ACK));
        v.push(tcp(Nanos::from(p) * MS + 10, T, p, A, 40000, TcpFlags::RST));
    }
    assert_eq!(news(&run(&v)), [("port_scan", Some(ip(A)), Some(ip(T)), "tcp", None)]);
}

fn unreachable(ts: Nanos, from: &str, to: &str, probed: &str, ip_proto: u8, port: Option<u16>, code: u8) -> PacketMeta {
    let sport = port.map(|_| 40000);
    icmp(ts, from, to, 3, code, Some(Quoted { src: ip(to), dst: ip(probed), ip_proto, dport: port, sport }))
}

#[test]
fn udp_scan_by_unreachables_and_silence() {
    let mut v = Vec::new();
    for p in 1..=30u16 {
        v.push(udp(Nanos::from(p) * MS, A, 40000, T, p));
        if p <= 6 {
            v.push(unreachable(Nanos::from(p) * MS + 10, T, A, T, 17, Some(p), 3));
        }
    }
    v.push(udp(2 * S, "10.0.0.1", 5000, "10.0.0.2", 80));
    let out = run(&v);
    assert_eq!(news(&out), [("port_scan", Some(ip(A)), Some(ip(T)), "udp", None)]);
}

#[test]
fn dns_clients_and_servers_are_not_udp_scanners() {
    let mut v = Vec::new();
    for i in 0..100u16 {
        let t = Nanos::from(i) * 10 * MS;
        let client = format!("10.0.2.{}", i % 50 + 1);
        v.push(udp(t, &client, 20000 + i, "10.0.0.53", 53));
        v.push(udp(t + MS, "10.0.0.53", 53, &client, 20000 + i));
        // The answers arrive; a few upstream queries from the server go unanswered.
        v.push(udp(t, "10.0.0.53", 30000 + i, "192.0.2.1", 53));
    }
    v.push(udp(5 * S, "10.0.0.1", 5000, "10.0.0.2", 80));
    assert!(news(&run(&v)).is_empty(), "{:?}", news(&run(&v)));
}

#[test]
fn traceroute_is_not_a_scan() {
    let mut v = Vec::new();
    for (i, port) in (33434..33434 + 30u16).enumerate() {
        let t = i as Nanos * 10 * MS;
        v.push(udp(t, A, 40000, T, port));
        let (from, kind, code) = if i < 24 { ("10.9.9.9", 11, 0) } else { (T, 3, 3) };
        v.push(icmp(
            t + MS,
            from,
            A,
            kind,
            code,
            Some(Quoted { src: ip(A), dst: ip(T), ip_proto: 17, dport: Some(port), sport: Some(40000) }),
        ));
    }
    v.push(udp(5 * S, "10.0.0.1", 5000, "10.0.0.2", 80));
    assert!(run(&v).is_empty());
}

fn ip_sent(ts: Nanos, from: &str, to: &str, n: u8) -> PacketMeta {
    PacketMeta {
        proto: Proto::from_ip_number(n),
        ip_proto: Some(n),
        src: Some(ip(from)),
        dst: Some(ip(to)),
        ..blank(ts)
    }
}

#[test]
fn ip_protocol_scan_by_protocol_unreachables() {
    let v: Vec<_> = (0..=40u8)
        .flat_map(|n| {
            [ip_sent(Nanos::from(n) * MS, A, T, n), unreachable(Nanos::from(n) * MS + 10, T, A, T, n, None, 2)]
        })
        .collect();
    let out = run(&v);
    assert_eq!(news(&out), [("port_scan", Some(ip(A)), Some(ip(T)), "ip", None)]);
    let last = out.last().expect("reports").evidence.to_map();
    assert_eq!(last["failed_probes"], last["distinct_ports"], "each protocol counts once, unreachable or not");
    // The same unreachables with no probe seen name no one.
    let forged: Vec<_> = (0..=40u8).map(|n| unreachable(Nanos::from(n) * MS, T, A, T, n, None, 2)).collect();
    assert!(news(&run(&forged)).is_empty());
}

#[test]
fn ip_protocol_scan_that_linux_answers_once_a_second() {
    // `nmap -sO` against Linux: the kernel rate-limits its protocol unreachables, so the
    // probes go mostly unanswered; trying many protocols is the scan.
    let mut v: Vec<_> =
        (0..=255u8).filter(|n| !matches!(n, 1 | 6 | 17 | 58)).map(|n| ip_sent(Nanos::from(n) * MS, A, T, n)).collect();
    v.push(unreachable(2 * S, T, A, T, 2, None, 2));
    assert_eq!(news(&run(&v)), [("port_scan", Some(ip(A)), Some(ip(T)), "ip", None)]);
    // A VPN and a routing daemon: a few protocols to a peer, many to multicast groups.
    let mut benign = Vec::new();
    for i in 0..200i64 {
        for n in [47, 50, 51, 4, 41] {
            benign.push(ip_sent(i * 10 * MS, A, T, n));
        }
        for (n, group) in [(2, "224.0.0.22"), (89, "224.0.0.5"), (103, "224.0.0.13"), (112, "224.0.0.18")] {
            benign.push(ip_sent(i * 10 * MS + 1, A, group, n));
        }
    }
    assert!(run(&benign).is_empty());
}

#[test]
fn a_slow_scan_adds_up_over_minutes() {
    // One closed port every 20 s: 3 a minute.
    let out = run(&syn_scan(1..=16, 20 * S));
    let new: Vec<_> = out.iter().filter(|a| a.state == AlertState::New).collect();
    assert_eq!(new.len(), 1);
    assert_eq!(new[0].evidence.to_map()["crossed"], "slow");
    assert_eq!(new[0].evidence.to_map()["distinct_ports"], 15);
    assert_eq!(new[0].severity, Severity::Low);
    assert!(!out.iter().any(|a| a.state == AlertState::End), "probes 20 s apart keep it open");
    assert!(run(&syn_scan(1..=14, 20 * S)).is_empty(), "14 ports are below the threshold");
}

#[test]
fn a_tcp_port_sweep_is_a_host_sweep_of_that_port() {
    let v: Vec<_> =
        (1..=30u8).map(|h| tcp(Nanos::from(h) * 2 * S, A, 40000, &format!("10.1.0.{h}"), 23, SYN)).collect();
    let out = run(&v);
    assert_eq!(news(&out), [("host_sweep", Some(ip(A)), None, "tcp", Some(23))]);
    assert_eq!(out[0].evidence.to_map()["distinct_hosts"], 25);
}

#[test]
fn icmp_echo_and_arp_sweeps() {
    let v: Vec<_> = (1..=12u8).map(|h| icmp(Nanos::from(h) * MS, A, &format!("10.1.0.{h}"), 8, 0, None)).collect();
    assert_eq!(news(&run(&v)), [("host_sweep", Some(ip(A)), None, "icmp", None)]);

    let mut v = Vec::new();
    for h in 1..=40u8 {
        let target = format!("10.0.0.{h}");
        v.push(arp(Nanos::from(h) * MS, 1, A, &target));
        if h % 10 == 0 {
            v.push(arp(Nanos::from(h) * MS + 10, 2, &target, A));
        }
    }
    v.push(arp(2 * S, 2, "10.0.0.1", "10.0.0.2"));
    v.push(arp(10 * S, 2, "10.0.0.1", "10.0.0.2"));
    let out = run(&v);
    assert_eq!(news(&out), [("host_sweep", Some(ip(A)), None, "arp", None)]);
    assert_eq!(out.last().unwrap().packets, 36, "the 4 answered who-has do not count");
}

#[test]
fn a_gateway_resolving_its_lan_is_not_a_sweep() {
    let mut v = Vec::new();
    for h in 1..=60u8 {
        let target = format!("10.0.0.{h}");
        v.push(arp(Nanos::from(h) * 10 * MS, 1, "10.0.0.254", &target));
        v.push(arp(Nanos::from(h) * 10 * MS + MS, 2, &target, "10.0.0.254"));
    }
    v.push(arp(5 * S, 2, "10.0.0.1", "10.0.0.2"));
    assert!(run(&v).is_empty());
}

#[test]
fn spoofed_sources_stay_within_the_caps() {
    let cfg = ScanConfig { max_tallies: 256, ..ScanConfig::default() };
    let mut d = ScanDetector::new(cfg);
    let mut out = Vec::new();
    for i in 0..50_000u32 {
        let src = Ipv4Addr::from(0x0b00_0000 + i * 7919).to_string();
        for m in [
            tcp(Nanos::from(i) * 10_000, &src, 1024, T, 80, SYN),
            answer(Nanos::from(i) * 10_000 + 1, T, 80, &src, 1024, RST_ACK),
        ] {
            d.observe(&m, &Tuples::of(&m), &mut out);
        }
    }
    assert!(out.is_empty(), "one port per source is no scan");
    assert!(d.ports.is_empty() && d.hosts.is_empty(), "one failure per source makes no tally");
    assert!(d.pending.len() <= PENDING_CAP);
}

#[test]
fn a_slow_scan_survives_a_spoofed_flood() {
    let mut packets = Vec::new();
    for p in 1..=16u16 {
        let t = Nanos::from(p) * 6 * S;
        packets.push(tcp(t, "10.0.0.68", 40000, T, p, SYN));
        packets.push(answer(t + MS, T, p, "10.0.0.68", 40000, RST_ACK));
        // Between two probes, thousands of spoofed SYNs that go unanswered.
        for i in 0..3000u32 {
            let src = Ipv4Addr::from(0x0b00_0000 + (u32::from(p) << 16) + i).to_string();
            packets.push(tcp(t + 2 * MS + Nanos::from(i) * 1000, &src, 1024, "10.0.0.12", 80, SYN));
        }
    }
    let cfg = ScanConfig { max_tallies: 256, ..ScanConfig::default() };
    let news = news(&run_with(cfg, &packets));
    assert_eq!(news, [("port_scan", Some(ip("10.0.0.68")), Some(ip(T)), "tcp", None)]);
}

#[test]
fn all_tallies_together_hold_at_most_max_items() {
    let mut budget = Budget { used: MAX_ITEMS - 1, refused: 0 };
    let mut t: Tally<u16> = Tally::new(0);
    assert!(t.add(1, 0, S, &mut budget));
    assert_eq!(budget.used, MAX_ITEMS);
    // The budget is spent: a new item still counts as new (the scan goes on being seen),
    // but is not stored, and the refusal is counted.
    assert!(t.add(2, 1, S, &mut budget));
    assert!(t.capped && t.distinct() == 1);
    assert_eq!((budget.used, budget.refused), (MAX_ITEMS, 1));
    assert!(!t.add(1, 2, S, &mut budget), "a known item is not new");
}
