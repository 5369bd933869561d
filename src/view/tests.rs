//! Views built from hand-made traffic.

use super::*;
use crate::capture::{Frame, LinkType};
use crate::decode::{PacketMeta, TcpFlags};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn pkt(ts: Nanos, proto: Proto, src: &str, dst: &str, ports: (u16, u16), len: u32) -> PacketMeta {
    let frame = Frame { ts, linktype: LinkType::ETHERNET, data: &[], orig_len: len };
    let ip_proto = match proto {
        Proto::Tcp => 6,
        Proto::Udp => 17,
        _ => 1,
    };
    PacketMeta {
        proto,
        ip_proto: Some(ip_proto),
        src: Some(ip(src)),
        dst: Some(ip(dst)),
        ports: (ip_proto != 1).then_some(ports),
        tcp_flags: TcpFlags::default(),
        ..PacketMeta::blank(&frame)
    }
}

fn stats() -> Stats {
    let mut s = Stats::default();
    let t = NANOS_PER_SEC;
    for i in 0..10 {
        s.record(&pkt(i * t / 10, Proto::Tcp, "10.0.0.1", "192.0.2.1", (40000, 443), 1000));
        s.record(&pkt(i * t / 10, Proto::Udp, "10.0.0.2", "10.0.0.53", (5000, 53), 100));
    }
    s.record(&pkt(2 * t, Proto::Icmp, "10.0.0.3", "192.0.2.1", (0, 0), 64));
    s
}

fn ctx() -> Context {
    Context { source: "test".into(), ..Context::default() }
}

#[test]
fn mask_reslices_totals_talkers_and_flows() {
    let s = stats();
    let all = View::build(&s, &ViewSpec::default(), ctx());
    assert_eq!(all.all.packets, 21);
    assert_eq!(all.shown, all.all);
    // 192.0.2.1 received 10 000 TCP bytes and 64 ICMP bytes; 10.0.0.1 sent 10 000.
    assert_eq!(all.talkers[0].ip, ip("192.0.2.1"));
    assert_eq!(all.talkers[1].ip, ip("10.0.0.1"));
    assert_eq!(all.talkers_total, 5);
    assert_eq!(all.flows_total, 3);

    let udp = ViewSpec { mask: ProtoMask::NONE.toggled(Proto::Udp), ..ViewSpec::default() };
    let v = View::build(&s, &udp, ctx());
    assert_eq!(v.shown, Counter { packets: 10, bytes: 1000 });
    assert_eq!(v.talkers.iter().map(|t| t.ip).collect::<Vec<_>>(), [ip("10.0.0.2"), ip("10.0.0.53")]);
    assert_eq!(v.flows.len(), 1);
    assert_eq!(v.flows[0].key.proto, 17);
}

#[test]
fn sort_units_and_rows() {
    let s = stats();
    let spec = ViewSpec { sort: SortKey::Received, bytes: false, rows: 2, ..ViewSpec::default() };
    let v = View::build(&s, &spec, ctx());
    assert_eq!(v.talkers.len(), 2);
    // By packets received: 192.0.2.1 (11) before 10.0.0.53 (10).
    assert_eq!(v.talkers[0].ip, ip("192.0.2.1"));
    assert_eq!(v.talkers[1].ip, ip("10.0.0.53"));
    assert_eq!(v.talkers_total, 5, "the total is not cut by rows");
}

#[test]
fn display_filters() {
    let s = stats();
    let by_port = ViewSpec { filter: Some(DisplayFilter::Port(53)), ..ViewSpec::default() };
    let v = View::build(&s, &by_port, ctx());
    assert_eq!(v.flows_total, 1);
    let mut hosts: Vec<IpAddr> = v.talkers.iter().map(|t| t.ip).collect();
    hosts.sort();
    assert_eq!(hosts, [ip("10.0.0.2"), ip("10.0.0.53")]);

    let by_net = ViewSpec { filter: Some("192.0.2.0/24".parse().unwrap()), ..ViewSpec::default() };
    let v = View::build(&s, &by_net, ctx());
    assert_eq!(v.talkers.iter().map(|t| t.ip).collect::<Vec<_>>(), [ip("192.0.2.1")]);
    assert_eq!(v.flows_total, 2, "flows with either end in the block");
}

#[test]
fn host_detail_lists_peers_ports_flows() {
    let s = stats();
    let spec = ViewSpec { host: Some(ip("192.0.2.1")), ..ViewSpec::default() };
    let v = View::build(&s, &spec, ctx());
    let h = v.host.expect("host detail");
    assert_eq!(h.peers.iter().map(|p| p.0).collect::<Vec<_>>(), [ip("10.0.0.1"), ip("10.0.0.3")]);
    assert_eq!(h.ports[0].0, 6);
    assert_eq!(h.ports[0].1, 443);
    assert_eq!(h.flows.len(), 2);
    assert_eq!(h.stats.map(|st| st.rx().packets), Some(11));
}

#[test]
fn series_and_rate() {
    let s = stats();
    let v = View::build(&s, &ViewSpec::default(), ctx());
    let (width, _, buckets) = &v.series;
    assert_eq!((*width, buckets.len()), (NANOS_PER_SEC, 60));
    let last_three: Vec<u64> = buckets[57..].iter().map(|b| b.iter().map(|c| c.packets).sum()).collect();
    assert_eq!(last_three, [20, 0, 1]);
    // The newest complete second (the one before the last) had nothing.
    assert_eq!(v.rate, (0.0, 0.0));
    let day = View::build(&s, &ViewSpec { zoom: Zoom::Day, ..ViewSpec::default() }, ctx());
    assert_eq!(day.series.0, 60 * NANOS_PER_SEC);
}
