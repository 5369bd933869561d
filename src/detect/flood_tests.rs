use std::net::{IpAddr, Ipv4Addr};

use super::*;
use crate::decode::Quoted;
use crate::detect::AlertState;
use crate::packet::{Frame, LinkType};

const MS: Nanos = NANOS_PER_SEC / 1000;
const US: Nanos = 1000;
const S: Nanos = NANOS_PER_SEC;
const V: &str = "10.0.0.10";
const A: &str = "10.0.0.66";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn blank(ts: Nanos) -> PacketMeta {
    PacketMeta::blank(&Frame { ts, linktype: LinkType::ETHERNET, data: &[], orig_len: 60 })
}

fn packet(ts: Nanos, proto: Proto, src: IpAddr, sport: u16, dst: IpAddr, dport: u16, flags: u8) -> PacketMeta {
    PacketMeta {
        proto,
        src: Some(src),
        dst: Some(dst),
        ports: matches!(proto, Proto::Tcp | Proto::Udp).then_some((sport, dport)),
        tcp_flags: TcpFlags(flags),
        icmp: (proto == Proto::Icmp).then_some((8, 0)),
        ..blank(ts)
    }
}

fn spoofed(i: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0x0b00_0000u32.wrapping_add(i.wrapping_mul(2_654_435_761))))
}

/// What identifies a flood incident: kind, src, dst, port.
type Ident = (&'static str, Option<IpAddr>, Option<IpAddr>, Option<u16>);

struct Run {
    detector: FloodDetector,
    out: Vec<Alert>,
    next_tick: Nanos,
}

impl Run {
    fn new(cfg: FloodConfig) -> Self {
        Run { detector: FloodDetector::new(cfg), out: Vec::new(), next_tick: S }
    }

    fn feed(&mut self, m: PacketMeta) {
        if m.ts >= self.next_tick {
            self.detector.tick(m.ts, &mut self.out);
            self.next_tick = m.ts + S;
        }
        self.detector.observe(&m, &Tuples::of(&m), &mut self.out);
    }

    /// Kind, src, dst and port of every new incident.
    fn news(&self) -> Vec<Ident> {
        self.out.iter().filter(|a| a.state == AlertState::New).map(|a| (a.kind.name(), a.src, a.dst, a.port)).collect()
    }
}

#[test]
fn syn_flood_from_one_source_is_named_with_its_port() {
    let mut r = Run::new(FloodConfig::default());
    for i in 0..4000u32 {
        let t = Nanos::from(i) * 250 * US;
        r.feed(packet(t, Proto::Tcp, ip(A), 1000 + i as u16, ip(V), 80, TcpFlags::SYN));
        // The victim answers, the attacker never completes.
        r.feed(packet(t + 50 * US, Proto::Tcp, ip(V), 80, ip(A), 1000 + i as u16, TcpFlags::SYN | TcpFlags::ACK));
    }
    assert_eq!(r.news(), [("syn_flood", Some(ip(A)), Some(ip(V)), Some(80))]);
    let first = r.out.iter().find(|a| a.state == AlertState::New).unwrap();
    assert!(first.ts <= 300 * MS, "caught after {} ms", first.ts / MS);
    assert!(first.evidence.to_map()["half_open_ratio"].as_f64().unwrap() > 0.9);
}

#[test]
fn spoofed_syn_flood_is_one_incident_keyed_by_the_victim() {
    let mut r = Run::new(FloodConfig::default());
    for i in 0..20_000u32 {
        r.feed(packet(Nanos::from(i) * 100 * US, Proto::Tcp, spoofed(i), 2000, ip(V), 80, TcpFlags::SYN));
    }
    r.feed(packet(20 * S, Proto::Tcp, ip(A), 1, ip("10.0.0.1"), 1, TcpFlags::ACK));
    assert_eq!(r.news(), [("syn_flood", None, Some(ip(V)), Some(80))]);
    let last = r.out.last().unwrap();
    assert_eq!(last.state, AlertState::End);
    assert!(last.evidence.to_map()["sources"].as_u64().unwrap() > 500);
    assert!(last.packets >= 19_000, "{}", last.packets);
    assert!(r.detector.victims.len() <= 2, "sources are not tracked one by one");
}

#[test]
fn a_busy_server_completing_handshakes_is_not_flooded() {
    let mut r = Run::new(FloodConfig::default());
    for i in 0..6000u32 {
        let t = Nanos::from(i) * 300 * US;
        let client = spoofed(i % 500);
        let sport = 10_000 + (i % 50_000) as u16;
        r.feed(packet(t, Proto::Tcp, client, sport, ip(V), 443, TcpFlags::SYN));
        // Each step acknowledges the last (the SYN's and SYN-ACK's numbers are 0).
        let syn_ack = packet(t + 100 * US, Proto::Tcp, ip(V), 443, client, sport, TcpFlags::SYN | TcpFlags::ACK);
        r.feed(PacketMeta { tcp_ack: 1, ..syn_ack });
        r.feed(PacketMeta { tcp_ack: 1, ..packet(t + 200 * US, Proto::Tcp, client, sport, ip(V), 443, TcpFlags::ACK) });
    }
    assert!(r.news().is_empty(), "{:?}", r.news());
}

#[test]
fn udp_flood_over_many_flows_but_not_one_fast_transfer() {
    let mut r = Run::new(FloodConfig::default());
    for i in 0..4000u32 {
        r.feed(packet(Nanos::from(i) * 250 * US, Proto::Udp, ip(A), 3000 + i as u16, ip(V), 5353, 0));
    }
    assert_eq!(r.news(), [("udp_flood", Some(ip(A)), Some(ip(V)), Some(5353))]);

    // One flow at 20k packets/s is a transfer, however fast.
    let mut r = Run::new(FloodConfig::default());
    for i in 0..40_000u32 {
        r.feed(packet(Nanos::from(i) * 50 * US, Proto::Udp, ip(A), 4433, ip(V), 50_000, 0));
    }
    assert!(r.news().is_empty(), "{:?}", r.news());
}

/// A port unreachable from `from` to `to`, quoting a UDP datagram `to` sent it.
fn unreachable(ts: Nanos, from: IpAddr, to: IpAddr) -> PacketMeta {
    let quoted = Quoted { src: to, dst: from, ip_proto: 17, dport: Some(5353), sport: Some(4000) };
    PacketMeta {
        icmp: Some((3, 3)),
        about: Some(crate::decode::About::Quote(quoted)),
        ..packet(ts, Proto::Icmp, from, 0, to, 0, 0)
    }
}

#[test]
fn a_udp_flood_victims_port_unreachables_do_not_make_it_a_flooder() {
    // A UDP flood at 4000/s on a closed port; the victim answers the first 1000 of each
    // second with port unreachables, as Linux's rate limit lets it.
    let mut r = Run::new(FloodConfig::default());
    for i in 0..12_000u32 {
        let t = Nanos::from(i) * 250 * US;
        r.feed(packet(t, Proto::Udp, ip(A), 3000 + (i % 4000) as u16, ip(V), 5353, 0));
        if i % 4 < 1 {
            r.feed(unreachable(t + 20 * US, ip(V), ip(A)));
        }
    }
    r.feed(packet(40 * S, Proto::Udp, ip(A), 1, ip("10.0.0.1"), 1, 0));
    assert_eq!(r.news(), [("udp_flood", Some(ip(A)), Some(ip(V)), Some(5353))]);

    // The same errors with no such traffic to answer (forged, quoting datagrams never
    // sent) are a flood of their receiver.
    let mut r = Run::new(FloodConfig::default());
    for i in 0..3000u32 {
        r.feed(unreachable(Nanos::from(i) * 250 * US, ip(V), ip(A)));
    }
    r.feed(packet(40 * S, Proto::Udp, ip(A), 1, ip("10.0.0.1"), 1, 0));
    assert_eq!(r.news(), [("icmp_flood", Some(ip(V)), Some(ip(A)), None)]);
}

#[test]
fn a_dns_server_answering_its_clients_is_not_flooded() {
    let mut r = Run::new(FloodConfig::default());
    for i in 0..10_000u32 {
        let t = Nanos::from(i) * 200 * US;
        let client = spoofed(i % 300);
        r.feed(packet(t, Proto::Udp, client, 20_000 + (i % 1000) as u16, ip(V), 53, 0));
        r.feed(packet(t + 50 * US, Proto::Udp, ip(V), 53, client, 20_000 + (i % 1000) as u16, 0));
    }
    assert!(r.news().is_empty(), "{:?}", r.news());
}

#[test]
fn icmp_flood_and_its_end() {
    let mut r = Run::new(FloodConfig::default());
    for i in 0..3000u32 {
        r.feed(packet(Nanos::from(i) * 200 * US, Proto::Icmp, ip(A), 0, ip(V), 0, 0));
    }
    r.feed(packet(30 * S, Proto::Icmp, ip(A), 0, ip("10.0.0.1"), 0, 0));
    assert_eq!(r.news(), [("icmp_flood", Some(ip(A)), Some(ip(V)), None)]);
    // The victim's echo replies flow back at the same rate: the pinger is not flooded.
    let mut r2 = Run::new(FloodConfig::default());
    for i in 0..3000u32 {
        r2.feed(PacketMeta {
            icmp: Some((0, 0)),
            ..packet(Nanos::from(i) * 200 * US, Proto::Icmp, ip(V), 0, ip(A), 0, 0)
        });
    }
    assert!(r2.news().is_empty());
    let states: Vec<_> = r.out.iter().map(|a| a.state).collect();
    assert_eq!(states.first(), Some(&AlertState::New));
    assert_eq!(states.last(), Some(&AlertState::End));
    assert_eq!(r.out.last().unwrap().packets, 3000, "the window that crossed, and every packet after");
}

#[test]
fn a_flood_that_pauses_and_resumes_is_one_incident_counting_every_packet() {
    let mut r = Run::new(FloodConfig::default());
    // 3000 pings at 5000/s, three seconds of silence (the incident stays open: it ends
    // after ten), then 3000 more.
    for burst in 0..2u32 {
        for i in 0..3000u32 {
            let t = Nanos::from(burst) * 4 * S + Nanos::from(i) * 200 * US;
            r.feed(packet(t, Proto::Icmp, ip(A), 0, ip(V), 0, 0));
        }
    }
    r.feed(packet(30 * S, Proto::Icmp, ip(A), 0, ip("10.0.0.1"), 0, 0));
    assert_eq!(r.news(), [("icmp_flood", Some(ip(A)), Some(ip(V)), None)]);
    let end = r.out.last().unwrap();
    assert_eq!(end.state, AlertState::End);
    assert_eq!(end.packets, 6000, "the count goes on across the pause");
}

#[test]
fn a_scan_after_a_spoofed_flood_is_not_counted_into_the_flood() {
    let mut r = Run::new(FloodConfig::default());
    // Two seconds of a spoofed SYN flood at 10k/s; two seconds later (its incident still
    // open) one source scans 3000 ports of the same victim at 3000/s: the scan
    // detector's, not more of the flood.
    for i in 0..20_000u32 {
        r.feed(packet(Nanos::from(i) * 100 * US, Proto::Tcp, spoofed(i), 2000, ip(V), 80, TcpFlags::SYN));
    }
    for i in 0..3000u32 {
        let t = 4 * S + Nanos::from(i) * 333 * US;
        r.feed(packet(t, Proto::Tcp, ip(A), 40_000, ip(V), 1 + i as u16, TcpFlags::SYN));
    }
    r.feed(packet(30 * S, Proto::Tcp, ip(A), 1, ip("10.0.0.1"), 1, TcpFlags::ACK));
    assert_eq!(r.news(), [("syn_flood", None, Some(ip(V)), Some(80))]);
    let end = r.out.last().unwrap();
    assert_eq!(end.state, AlertState::End);
    assert!((19_000..=20_000).contains(&end.packets), "the flood's count took in the scan: {}", end.packets);
}

#[test]
fn the_baseline_raises_a_busy_victims_bar() {
    let cfg = FloodConfig { icmp_pps: 500, ..FloodConfig::default() };
    let mut busy = Run::new(cfg.clone());
    // Twenty minutes at 400/s (under the fixed 500), then a burst of 1200/s.
    let mut t = 0;
    while t < 1200 * S {
        busy.feed(packet(t, Proto::Icmp, ip(A), 0, ip(V), 0, 0));
        t += 2500 * US;
    }
    let end = t + S;
    while t < end {
        busy.feed(packet(t, Proto::Icmp, ip(A), 0, ip(V), 0, 0));
        t += 833 * US;
    }
    assert!(busy.news().iter().all(|n| n.0 != "icmp_flood"), "1200/s is 3x its usual 400/s: {:?}", busy.news());
    let mut fresh = Run::new(cfg);
    for i in 0..1200 {
        fresh.feed(packet(i * 833 * US, Proto::Icmp, ip(A), 0, ip(V), 0, 0));
    }
    assert_eq!(fresh.news().len(), 1, "the same burst at a quiet host");
}

#[test]
fn rate_spike_after_learning_or_over_a_fixed_threshold() {
    let steady = |r: &mut Run, from: Nanos, to: Nanos, gap: Nanos| {
        let mut t = from;
        let mut i = 0u32;
        while t < to {
            r.feed(packet(t, Proto::Tcp, spoofed(i % 50), 40_000, ip(V), 443, TcpFlags::ACK));
            t += gap;
            i += 1;
        }
    };
    let mut r = Run::new(FloodConfig::default());
    steady(&mut r, 0, 10 * S, 100 * US); // 10k/s while still learning: nothing
    assert!(r.news().is_empty());
    steady(&mut r, 10 * S, 70 * S, 5 * MS); // 200/s
    assert!(r.news().is_empty());
    steady(&mut r, 70 * S, 71 * S, 200 * US); // 5000/s
    steady(&mut r, 71 * S, 73 * S, 5 * MS);
    assert_eq!(r.news(), [("rate_spike", None, None, None)]);
    assert_eq!(r.out[0].proto, "tcp");

    let mut fixed = [None; Proto::COUNT];
    fixed[Proto::Tcp.index()] = Some(3000);
    let mut r = Run::new(FloodConfig { spike_fixed: fixed, ..FloodConfig::default() });
    steady(&mut r, 0, S, 200 * US);
    steady(&mut r, S, 3 * S, 5 * MS);
    assert_eq!(r.news(), [("rate_spike", None, None, None)]);
    assert_eq!(r.out[0].evidence.to_map()["threshold_kind"], "fixed");
}

#[test]
fn a_flood_is_not_reported_again_as_a_spike() {
    let mut fixed = [None; Proto::COUNT];
    fixed[Proto::Udp.index()] = Some(3000);
    let mut r = Run::new(FloodConfig { spike_fixed: fixed, ..FloodConfig::default() });
    for i in 0..16_000u32 {
        r.feed(packet(Nanos::from(i) * 125 * US, Proto::Udp, spoofed(i), 3000, ip(V), 53, 0));
    }
    r.feed(packet(3 * S, Proto::Udp, ip(A), 1, ip(V), 1, 0));
    assert_eq!(r.news().iter().map(|n| n.0).collect::<Vec<_>>(), ["udp_flood"]);
}

#[test]
fn an_icmpv6_echo_flood_is_its_own_kind_and_explains_its_rate_spike() {
    // 40 s of a few pings a second (the spike detector learns ICMPv6's rate), then 3 s
    // of 5000 echo requests a second at one host, all through the full detector set.
    let (a6, v6): (IpAddr, IpAddr) = ("fd00::66".parse().unwrap(), "fd00::10".parse().unwrap());
    let echo = |ts: Nanos, src: IpAddr, dst: IpAddr| PacketMeta {
        proto: Proto::Icmpv6,
        ip_proto: Some(58),
        src: Some(src),
        dst: Some(dst),
        icmp: Some((128, 0)),
        ..blank(ts)
    };
    let mut packets: Vec<PacketMeta> = (0..160).map(|i| echo(Nanos::from(i) * 250 * MS, a6, v6)).collect();
    packets.extend((0..15_000).map(|i| echo(40 * S + Nanos::from(i) * 200 * US, a6, v6)));
    packets.push(echo(50 * S, v6, a6));
    let mut d = crate::detect::Detectors::new(vec![Box::new(FloodDetector::new(FloodConfig::default()))]);
    let mut reports: Vec<Alert> = packets.chunks(512).flat_map(|b| d.observe(b)).collect();
    reports.extend(d.finish());
    let news: Vec<(&str, &str)> =
        reports.iter().filter(|a| a.state == AlertState::New).map(|a| (a.kind.name(), a.proto.name())).collect();
    assert_eq!(news, [("icmpv6_flood", "icmpv6")], "{reports:#?}");
    assert!(reports[0].summary.contains("ICMPv6 packets/s from fd00::66"), "{}", reports[0].summary);
}
