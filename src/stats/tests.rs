//! Engine tests on scripted packets.

use std::net::IpAddr;

use super::*;
use crate::decode::testing::{self, ip};
use crate::decode::{PacketMeta, TcpFlags, decode};
use crate::packet::{Frame, NANOS_PER_SEC};

fn tcp(ts: Nanos, src: &str, dst: &str, sport: u16, dport: u16, flags: u8, len: u32) -> PacketMeta {
    PacketMeta { wire_len: len, ..testing::tcp(ts, src, sport, dst, dport, flags) }
}

#[test]
fn totals_protocols_and_span() {
    let mut s = Stats::default();
    s.record(&tcp(3 * NANOS_PER_SEC, "10.0.0.1", "10.0.0.2", 1, 2, 0, 100));
    s.record(&tcp(NANOS_PER_SEC, "10.0.0.2", "10.0.0.1", 2, 1, 0, 50));
    let frame = Frame { ts: 2 * NANOS_PER_SEC, linktype: LinkType::IEEE802_11, data: &[0x80, 0], orig_len: 200 };
    s.record(&decode(&frame));
    assert_eq!((s.totals.packets, s.totals.bytes), (3, 350));
    assert_eq!(s.protocol(Proto::Tcp), Counter { packets: 2, bytes: 150 });
    assert_eq!(s.protocol(Proto::Other), Counter { packets: 1, bytes: 200 });
    // First/last are in arrival order; the span is min/max.
    assert_eq!((s.first_ts, s.last_ts), (Some(3 * NANOS_PER_SEC), Some(2 * NANOS_PER_SEC)));
    assert_eq!(s.duration_secs(), 2.0);
    // Scripted metas carry no bytes and the 802.11 frame has 2 of 200: all cut short.
    assert_eq!(s.truncated, 3);
    assert_eq!(s.link_types, vec![(LinkType::ETHERNET, 2), (LinkType::IEEE802_11, 1)]);
    assert_eq!(s.hosts.len(), 2);
}

#[test]
fn flows_fold_directions_and_track_tcp() {
    let mut s = Stats::default();
    let syn = TcpFlags::SYN;
    let syn_ack = TcpFlags::SYN | TcpFlags::ACK;
    s.record(&tcp(1, "10.0.0.9", "10.0.0.1", 5000, 80, syn, 60));
    s.record(&tcp(2, "10.0.0.1", "10.0.0.9", 80, 5000, syn_ack, 60));
    s.record(&tcp(3, "10.0.0.9", "10.0.0.1", 5000, 80, TcpFlags::ACK, 52));
    let top = s.flows.top(0);
    assert_eq!(top.len(), 1);
    let (k, f) = top[0];
    assert_eq!((k.a, k.b), ((ip("10.0.0.1"), 80), (ip("10.0.0.9"), 5000)));
    assert_eq!((f.a_to_b.packets, f.b_to_a.packets, f.b_to_a.bytes), (1, 2, 112));
    assert_eq!(f.tcp.state(), "established");
    s.record(&tcp(4, "10.0.0.9", "10.0.0.1", 5000, 80, TcpFlags::FIN | TcpFlags::ACK, 52));
    assert_eq!(s.flows.top(1)[0].1.tcp.state(), "closing");
    s.record(&tcp(5, "10.0.0.1", "10.0.0.9", 80, 5000, TcpFlags::FIN | TcpFlags::ACK, 52));
    assert_eq!(s.flows.top(1)[0].1.tcp.state(), "closed");
}

#[test]
fn refused_and_unanswered_attempts() {
    let mut s = Stats::default();
    s.record(&tcp(1, "10.0.0.9", "10.0.0.1", 5000, 22, TcpFlags::SYN, 60));
    s.record(&tcp(2, "10.0.0.1", "10.0.0.9", 22, 5000, TcpFlags::RST | TcpFlags::ACK, 54));
    s.record(&tcp(3, "10.0.0.9", "10.0.0.1", 5001, 23, TcpFlags::SYN, 60));
    let states: Vec<&str> = s.flows.top(0).iter().map(|(_, f)| f.tcp.state()).collect();
    assert_eq!(states, vec!["rejected", "syn_sent"]);
}

#[test]
fn caps_hold_under_a_spoofed_flood() {
    let mut s = Stats::new(StatsConfig { max_hosts: 64, max_flows: 64, window_secs: 60 });
    for i in 0..10_000u32 {
        let src = IpAddr::from((0x0a00_0000 + i).to_be_bytes());
        let frame = Frame { ts: i64::from(i), linktype: LinkType::ETHERNET, data: &[], orig_len: 60 };
        let m = PacketMeta {
            proto: Proto::Tcp,
            ip_proto: Some(6),
            src: Some(src),
            dst: Some(ip("192.0.2.1")),
            ports: Some((1024, 80)),
            tcp_flags: TcpFlags(TcpFlags::SYN),
            ..PacketMeta::blank(&frame)
        };
        s.record(&m);
    }
    assert!(s.hosts.len() <= 64 && s.flows.len() <= 64);
    assert!(s.hosts.evicted() > 9_000 && s.flows.evicted() > 9_000);
    // The victim is always recent, so it is never the one evicted.
    assert_eq!(s.hosts.get(&ip("192.0.2.1")).map(|h| h.rx().packets), Some(10_000));
    assert_eq!(s.totals.packets, 10_000);
}

#[test]
fn size_percentiles() {
    let mut s = Stats::default();
    for len in 1..=100u32 {
        s.record(&tcp(i64::from(len), "10.0.0.1", "10.0.0.2", 1, 2, 0, len));
    }
    assert_eq!(s.sizes.percentile(50.0), 50);
    assert_eq!(s.sizes.percentile(99.0), 99);
    assert_eq!(s.sizes.min_max_mean(), (1, 100, 50.5));
}

#[test]
fn series_split_by_protocol() {
    let mut s = Stats::default();
    s.record(&tcp(0, "10.0.0.1", "10.0.0.2", 1, 2, 0, 10));
    s.record(&tcp(NANOS_PER_SEC, "10.0.0.1", "10.0.0.2", 1, 2, 0, 20));
    let last_two: Vec<u64> = s.series.secs.iter().map(|(_, b)| b[Proto::Tcp.index()].bytes).skip(598).collect();
    assert_eq!(last_two, vec![10, 20]);
    assert_eq!(s.series.mins.iter().last().map(|(_, b)| b[Proto::Tcp.index()].packets), Some(2));
}

#[test]
fn endpoint_order_is_the_derived_order() {
    let ips: Vec<IpAddr> =
        ["0.0.0.0", "10.0.0.1", "10.0.0.2", "10.0.1.1", "128.0.0.1", "255.255.255.255", "::", "::1", "fe80::1"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
    for &a in &ips {
        for &b in &ips {
            for (pa, pb) in [(0, 0), (1, 0), (0, 1), (80, 443), (65535, 1)] {
                assert_eq!(super::flows::endpoint_le((a, pa), (b, pb)), (a, pa) <= (b, pb), "{a}:{pa} vs {b}:{pb}");
            }
        }
    }
}
