use std::net::IpAddr;

use super::*;
use crate::decode::TcpFlags;
use crate::packet::{Frame, LinkType};

const S: Nanos = NANOS_PER_SEC;
const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const FIN: u8 = 0x11;
const RST: u8 = 0x04;

fn ip(n: u8) -> IpAddr {
    IpAddr::from([10, 0, 0, n])
}

/// A packet at `ts` from host `src`:`sp` to `dst`:`dp` of IP protocol `proto`.
fn packet(ts: Nanos, proto: u8, (src, sp): (u8, u16), (dst, dp): (u8, u16), flags: u8) -> PacketMeta {
    let frame = Frame { ts, linktype: LinkType::ETHERNET, data: &[], orig_len: 100 };
    PacketMeta {
        proto: Proto::from_ip_number(proto),
        ip_proto: Some(proto),
        src: Some(ip(src)),
        dst: Some(ip(dst)),
        ports: matches!(proto, 6 | 17).then_some((sp, dp)),
        tcp_flags: TcpFlags(flags),
        icmp: (proto == 1).then_some((8, 0)),
        ..PacketMeta::blank(&frame)
    }
}

fn tcp(ts: Nanos, from: (u8, u16), to: (u8, u16), flags: u8) -> PacketMeta {
    packet(ts, 6, from, to, flags)
}

fn all(t: &mut Tracker, packets: &[PacketMeta]) -> Vec<FlowRecord> {
    t.observe_batch(packets);
    let mut out = t.take();
    out.extend(t.finish());
    out
}

#[test]
fn a_closed_connection_ends_once_after_the_linger_and_its_tuple_starts_again() {
    let (c, s) = ((1, 40000), (2, 80));
    let mut t = Tracker::new(RecordConfig::default());
    let packets = [
        tcp(0, c, s, SYN),
        tcp(S / 100, s, c, SYN | ACK),
        tcp(2 * S / 100, c, s, ACK),
        tcp(S, c, s, FIN),
        tcp(S + S / 100, s, c, FIN),
        // A late ACK within the linger belongs to it.
        tcp(3 * S, c, s, ACK),
        // The same tuple after the linger: a new connection.
        tcp(20 * S, c, s, SYN),
    ];
    let records = all(&mut t, &packets);
    assert_eq!(records.len(), 2, "{records:#?}");
    let first = &records[0];
    assert_eq!((first.conn_state, first.history.as_str(), first.end_reason), ("SF", "ShAFf", EndReason::Closed));
    assert_eq!((first.orig, first.orig_port, first.resp, first.resp_port), (ip(1), Some(40000), ip(2), Some(80)));
    assert_eq!((first.orig_packets, first.resp_packets), (4, 2));
    assert_eq!((first.start, first.end), (0, 3 * S));
    assert!(first.initiator_known);
    let mut first = first.clone();
    first.fill_community_id();
    assert!(first.community_id.as_deref().is_some_and(|id| id.starts_with("1:")));
    let second = &records[1];
    assert_eq!((second.conn_state, second.end_reason, second.start), ("S0", EndReason::CaptureEnd, 20 * S));
    assert_eq!(t.counts().total(), 2);
}

#[test]
fn idle_timeouts_split_a_flow_per_protocol() {
    let mut t = Tracker::new(RecordConfig::default());
    let (a, b) = ((1, 5353), (2, 53));
    let mut packets = vec![packet(0, 17, a, b, 0), packet(S, 17, b, a, 0)];
    // 59 s later: the same UDP flow; 61 s after that: a new one.
    packets.push(packet(60 * S, 17, a, b, 0));
    packets.push(packet(121 * S + 1, 17, a, b, 0));
    let records = all(&mut t, &packets);
    let states: Vec<(&str, EndReason, u64)> =
        records.iter().map(|r| (r.conn_state, r.end_reason, r.orig_packets)).collect();
    assert_eq!(states, [("SF", EndReason::Idle, 2), ("S0", EndReason::CaptureEnd, 1)]);
}

#[test]
fn the_sweep_ends_silent_connections_without_a_packet_of_theirs() {
    let mut t = Tracker::new(RecordConfig::default());
    t.observe_batch(&[tcp(0, (1, 40000), (2, 22), SYN)]);
    assert!(t.take().is_empty());
    // Other traffic moves time on: the attempt ends after its linger (plus a sweep).
    t.observe_batch(&[packet(11 * S, 17, (3, 1000), (4, 2000), 0)]);
    let records = t.take();
    assert_eq!(records.len(), 1);
    assert_eq!((records[0].conn_state, records[0].end_reason), ("S0", EndReason::Idle));
}

#[test]
fn a_full_table_evicts_into_records_and_nothing_is_lost() {
    let cfg = RecordConfig { max_flows: 64, ..RecordConfig::default() };
    let mut t = Tracker::new(cfg);
    let packets: Vec<PacketMeta> = (0..1000u16).map(|i| tcp(Nanos::from(i), (1, 10000 + i), (2, 80), SYN)).collect();
    let records = all(&mut t, &packets);
    assert_eq!(records.len(), 1000, "every connection ends exactly once");
    let evicted = records.iter().filter(|r| r.end_reason == EndReason::Evicted).count();
    assert!(evicted >= 900, "{evicted}");
    assert!(t.fill().len == 0 && t.fill().evicted as usize == evicted);
    let mut ports: Vec<u16> = records.iter().filter_map(|r| r.orig_port).collect();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), 1000);
}

#[test]
fn a_forged_far_future_packet_ends_nothing_early() {
    let (c, s) = ((1, 40000), (2, 443));
    let mut t = Tracker::new(RecordConfig::default());
    let ten_years = 10 * 365 * 86_400 * S;
    let packets = [
        tcp(0, c, s, SYN),
        tcp(S / 10, s, c, SYN | ACK),
        tcp(S / 5, c, s, ACK),
        packet(ten_years, 17, (9, 1), (2, 53), 0),
        tcp(2 * S, c, s, ACK),
        tcp(30 * S, c, s, RST),
    ];
    t.observe_batch(&packets);
    let ended: Vec<EndReason> = t.take().iter().map(|r| r.end_reason).collect();
    assert!(ended.is_empty(), "{ended:?}");
    let records = t.finish();
    let tcp_records: Vec<&FlowRecord> = records.iter().filter(|r| r.ip_proto == 6).collect();
    assert_eq!(tcp_records.len(), 1, "one connection, not split by the forged time");
    assert_eq!((tcp_records[0].conn_state, tcp_records[0].orig_packets), ("RSTO", 4));
}

#[test]
fn records_serialize_with_their_contract_fields() {
    let mut t = Tracker::new(RecordConfig::default());
    let records = all(&mut t, &[packet(5 * S, 1, (1, 0), (2, 0), 0)]);
    let v = serde_json::to_value(&records[0]).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys.len(), FIELDS.len(), "{v}");
    for key in FIELDS {
        assert!(v.get(key).is_some(), "{key} missing: {v}");
    }
    assert_eq!(v["proto"], "icmp");
    assert_eq!(v["orig_port"], serde_json::Value::Null);
    assert_eq!(v["end_reason"], "capture_end");
    assert_eq!(v["start"], 5.0);
}
