//! Tests of the per-host feature vectors.

use super::*;
use crate::decode::testing::{ip, tcp, udp};

const S: Nanos = NANOS_PER_SEC;

fn figure(v: &HostFeatures, name: &str) -> f64 {
    v.values[FEATURES.iter().position(|f| *f == name).unwrap()]
}

fn run(packets: &[PacketMeta]) -> Vec<Vec<HostFeatures>> {
    let mut b = FeatureBuilder::new(5 * S, 1000);
    packets.iter().filter_map(|m| b.observe(m)).collect()
}

#[test]
fn a_window_of_one_hosts_traffic() {
    let mut packets = Vec::new();
    for i in 0..50u16 {
        let t = Nanos::from(i) * 100_000_000;
        packets.push(PacketMeta { wire_len: 100, ..tcp(t, "10.0.0.1", 40000, "10.0.0.2", 1 + i % 10, TcpFlags::SYN) });
        packets.push(PacketMeta {
            wire_len: 60,
            ..tcp(t + 1, "10.0.0.2", 1 + i % 10, "10.0.0.1", 40000, TcpFlags::RST | TcpFlags::ACK)
        });
        packets.push(udp(t + 2, "10.0.0.1", 5000, "10.0.0.53", 53));
    }
    packets.push(udp(6 * S, "10.0.0.9", 1, "10.0.0.8", 2));
    let windows = run(&packets);
    assert_eq!(windows.len(), 1);
    let v = windows[0].iter().find(|f| f.host == ip("10.0.0.1")).unwrap();
    assert_eq!(figure(v, "packets_out_per_s"), 20.0); // 100 packets in 5 s
    assert_eq!(figure(v, "packets_in_per_s"), 10.0);
    assert_eq!(figure(v, "distinct_peers"), 2.0);
    assert_eq!(figure(v, "distinct_dst_ports"), 11.0);
    assert_eq!(figure(v, "new_peers"), 2.0);
    assert_eq!(figure(v, "failed_pct"), 5000.0 / 51.0, "50 resets for 50 SYNs and 1 new UDP peer");
    assert_eq!(figure(v, "syn_pct"), 100.0);
    assert_eq!(figure(v, "dns_queries_per_s"), 10.0);
    assert_eq!(figure(v, "mean_size_out"), 80.0);
    assert_eq!(figure(v, "size_spread_out"), 20.0);
    // The first window: the long horizon starts where the short one is.
    assert_eq!(v.values[..N], v.values[N..]);
}

#[test]
fn the_long_horizon_moves_slowly_and_quiet_hosts_are_left_out() {
    let mut packets = Vec::new();
    for w in 0..3i64 {
        let n = if w == 2 { 120 } else { 10 };
        for i in 0..n {
            packets.push(udp(w * 5 * S + i * 10_000_000, "10.0.0.1", 5000, "10.0.0.2", 9));
        }
    }
    packets.push(udp(40 * S, "10.0.0.7", 1, "10.0.0.8", 2));
    let windows = run(&packets);
    assert_eq!(windows.len(), 3, "the empty windows between 15 s and 40 s give nothing");
    let third = windows[2].iter().find(|f| f.host == ip("10.0.0.1")).unwrap();
    let (short, long) = (third.values[0], third.values[N]);
    assert_eq!(short, 24.0);
    assert!(long > 2.0 && long < 4.0, "the average moved a twelfth of the way: {long}");
    assert!(windows[1].iter().all(|f| f.host != ip("10.0.0.7")));
}

#[test]
fn a_pair_counts_as_a_peer_in_every_window_but_is_new_only_once() {
    let mut packets = Vec::new();
    for w in 0..3i64 {
        for i in 0..20 {
            packets.push(udp(w * 5 * S + i * 100_000_000, "10.0.0.1", 5000, "10.0.0.2", 9));
            packets.push(udp(w * 5 * S + i * 100_000_000 + 1, "10.0.0.2", 9, "10.0.0.1", 5000));
        }
    }
    packets.push(udp(20 * S, "10.0.0.7", 1, "10.0.0.8", 2));
    let windows = run(&packets);
    assert_eq!(windows.len(), 3);
    for (w, vectors) in windows.iter().enumerate() {
        for host in ["10.0.0.1", "10.0.0.2"] {
            let v = vectors.iter().find(|f| f.host == ip(host)).unwrap();
            assert_eq!(figure(v, "distinct_peers"), 1.0, "window {w}, {host}");
            assert_eq!(figure(v, "new_peers"), if w == 0 { 1.0 } else { 0.0 }, "window {w}, {host}");
            assert_eq!(figure(v, "packets_out_per_s"), 4.0);
        }
    }
}

#[test]
fn a_full_table_drops_the_longest_quiet_hosts_and_counts_on() {
    let mut b = FeatureBuilder::new(5 * S, 16);
    // One steady pair, then 100 one-packet hosts (a spoofed sweep) in the same window.
    let mut packets = vec![udp(0, "10.0.0.1", 5000, "10.0.0.2", 9)];
    for i in 0..100u8 {
        let t = 1000 + i64::from(i) * 1000;
        packets.push(udp(t, &format!("10.9.0.{i}"), 1, "10.0.0.2", 9));
        packets.push(udp(t + 1, "10.0.0.1", 5000, "10.0.0.2", 9));
    }
    packets.push(udp(6 * S, "10.0.0.7", 1, "10.0.0.8", 2));
    let windows: Vec<_> = packets.iter().filter_map(|m| b.observe(m)).collect();
    assert!(b.evicted() > 0);
    assert!(windows[0].len() <= 16, "{} vectors", windows[0].len());
    let v = windows[0].iter().find(|f| f.host == ip("10.0.0.1")).expect("the busy host stays");
    assert_eq!(figure(v, "packets_out_per_s"), 101.0 / 5.0, "no packet of the busy host lost");
    assert_eq!(figure(v, "new_peers"), 1.0);
    let busy = windows[0].iter().find(|f| f.host == ip("10.0.0.2")).expect("the busy peer stays");
    assert_eq!(figure(busy, "packets_in_per_s"), 201.0 / 5.0);
}
