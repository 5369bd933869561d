//! Decoder corner cases on hand-built frames.

use std::net::IpAddr;

use etherparse::{PacketBuilder, VlanId};

use super::*;

const MAC_A: [u8; 6] = [2, 0, 0, 0, 0, 1];
const MAC_B: [u8; 6] = [2, 0, 0, 0, 0, 2];
const V4_A: [u8; 4] = [10, 0, 0, 1];
const V4_B: [u8; 4] = [10, 0, 0, 2];

fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().unwrap())
}

fn meta(linktype: LinkType, data: &[u8]) -> PacketMeta {
    decode(&Frame { ts: 7, linktype, data, orig_len: data.len() as u32 })
}

fn build(b: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut v = Vec::new();
    b(&mut v);
    v
}

fn tcp_syn_frame() -> Vec<u8> {
    build(|v| {
        PacketBuilder::ethernet2(MAC_A, MAC_B).ipv4(V4_A, V4_B, 64).tcp(40000, 80, 1, 1024).syn().write(v, &[]).unwrap()
    })
}

/// IPv4 header (no options) with the given protocol, flags/offset word and payload.
fn ipv4(proto: u8, frag: u16, payload: &[u8]) -> Vec<u8> {
    let total = (20 + payload.len()) as u16;
    let mut h = vec![0x45, 0, 0, 0, 0, 1, 0, 0, 64, proto, 0, 0];
    h[2..4].copy_from_slice(&total.to_be_bytes());
    h[6..8].copy_from_slice(&frag.to_be_bytes());
    h.extend_from_slice(&V4_A);
    h.extend_from_slice(&V4_B);
    h.extend_from_slice(payload);
    h
}

/// IPv6 header with `next` and the given bytes after it.
fn ipv6(next: u8, rest: &[u8]) -> Vec<u8> {
    let mut h = vec![0x60, 0, 0, 0];
    h.extend_from_slice(&(rest.len() as u16).to_be_bytes());
    h.extend_from_slice(&[next, 64]);
    h.extend_from_slice(&"2001:db8::1".parse::<std::net::Ipv6Addr>().unwrap().octets());
    h.extend_from_slice(&"2001:db8::2".parse::<std::net::Ipv6Addr>().unwrap().octets());
    h.extend_from_slice(rest);
    h
}

fn udp(sport: u16, dport: u16) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&[0, 8, 0, 0]);
    u
}

#[test]
fn ethernet_ipv4_tcp_syn() {
    let m = meta(LinkType::ETHERNET, &tcp_syn_frame());
    assert_eq!((m.proto, m.ip_proto), (Proto::Tcp, Some(6)));
    assert_eq!((m.src, m.dst), (ip("10.0.0.1"), ip("10.0.0.2")));
    assert_eq!(m.ports, Some((40000, 80)));
    assert!(m.tcp_flags.is_syn_only());
    assert!(!m.malformed);
    assert_eq!((m.ts, m.wire_len, m.cap_len), (7, 54, 54));
}

#[test]
fn double_vlan_udp() {
    let f = build(|v| {
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .double_vlan(VlanId::try_new(100).unwrap(), VlanId::try_new(200).unwrap())
            .ipv6(
                [0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
                [0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
                8,
            )
            .udp(5353, 5353)
            .write(v, b"hello")
            .unwrap()
    });
    let m = meta(LinkType::ETHERNET, &f);
    assert_eq!((m.proto, m.vlan, m.ports), (Proto::Udp, Some(100), Some((5353, 5353))));
    assert_eq!(m.dst, ip("ff02::1"));
}

#[test]
fn ipv6_extension_headers_reach_the_upper_layer() {
    // hop-by-hop (8 bytes) → destination options (8 bytes) → ICMPv6 echo request
    let mut rest = vec![60, 0, 1, 4, 0, 0, 0, 0];
    rest.extend_from_slice(&[58, 0, 1, 4, 0, 0, 0, 0]);
    rest.extend_from_slice(&[128, 0, 0, 0, 0, 1, 0, 1]);
    let m = meta(LinkType::RAW, &ipv6(0, &rest));
    assert_eq!((m.proto, m.ip_proto, m.icmp), (Proto::Icmpv6, Some(58), Some((128, 0))));
    assert!(!m.malformed);
}

#[test]
fn ipv6_fragments() {
    // First fragment: offset 0, M=1, next header UDP: ports are there.
    let mut first = vec![17, 0, 0x00, 0x01, 0, 0, 0, 9];
    first.extend(udp(53, 4000));
    let m = meta(LinkType::RAW, &ipv6(44, &first));
    assert_eq!((m.proto, m.fragment, m.ports), (Proto::Udp, Fragment::First, Some((53, 4000))));
    // Later fragment: offset 8 bytes: class from the fragment header, no ports.
    let later = [17, 0, 0x00, 0x08, 0, 0, 0, 9, 1, 2, 3, 4, 5, 6, 7, 8];
    let m = meta(LinkType::RAW, &ipv6(44, &later));
    assert_eq!((m.proto, m.fragment, m.ports), (Proto::Udp, Fragment::Later, None));
}

#[test]
fn ipv6_chain_cut_short_is_other() {
    let m = meta(LinkType::RAW, &ipv6(0, &[6]));
    assert_eq!((m.proto, m.ip_proto), (Proto::Other, None));
    assert_eq!(m.src, ip("2001:db8::1"));
}

#[test]
fn an_extension_header_longer_than_the_packet_names_nothing() {
    // Hop-by-hop claiming (200 + 1) * 8 bytes in a packet that has 16 after it.
    let mut rest = vec![17, 200, 0, 0, 0, 0, 0, 0];
    rest.extend_from_slice(&udp(1000, 2000));
    let m = meta(LinkType::RAW, &ipv6(0, &rest));
    assert_eq!((m.proto, m.ip_proto), (Proto::Other, None));
}

#[test]
fn ipv4_fragments_count_under_their_header_protocol() {
    let first = ipv4(17, 0x2000, &udp(1000, 2000));
    let m = meta(LinkType::IPV4, &first);
    assert_eq!((m.proto, m.fragment, m.ports), (Proto::Udp, Fragment::First, Some((1000, 2000))));
    // A later fragment's payload is not a UDP header: no ports, still UDP.
    let later = ipv4(17, 0x0010, &[9; 16]);
    let m = meta(LinkType::IPV4, &later);
    assert_eq!((m.proto, m.fragment, m.ports), (Proto::Udp, Fragment::Later, None));
}

#[test]
fn tunnels_count_under_the_outer_protocol() {
    let inner = ipv4(6, 0, &[0; 20]);
    let m = meta(LinkType::IPV4, &ipv4(4, 0, &inner));
    assert_eq!((m.proto, m.ip_proto, m.src), (Proto::Other, Some(4), ip("10.0.0.1")));
    let m = meta(LinkType::IPV4, &ipv4(41, 0, &ipv6(17, &udp(1, 2))));
    assert_eq!(m.proto, Proto::Other);
    // IPv4 protocol 58 is counted as icmpv6, as tshark does.
    assert_eq!(meta(LinkType::IPV4, &ipv4(58, 0, &[128, 0, 0, 0])).proto, Proto::Icmpv6);
}

#[test]
fn ipv4_options_are_skipped() {
    let mut p = ipv4(17, 0, &[]);
    p[0] = 0x46; // IHL 6: one 4-byte option word
    p.extend_from_slice(&[1, 1, 1, 0]);
    p.extend(udp(7, 9));
    let total = p.len() as u16;
    p[2..4].copy_from_slice(&total.to_be_bytes());
    assert_eq!(meta(LinkType::IPV4, &p).ports, Some((7, 9)));
}

#[test]
fn truncation_decodes_as_far_as_the_bytes_go() {
    let full = tcp_syn_frame();
    // Cut 4 bytes into the TCP header: ports but no flags.
    let cut = &full[..14 + 20 + 4];
    let m = decode(&Frame { ts: 0, linktype: LinkType::ETHERNET, data: cut, orig_len: full.len() as u32 });
    assert_eq!((m.proto, m.ports, m.tcp_flags.0, m.malformed), (Proto::Tcp, Some((40000, 80)), 0, false));
    assert_eq!((m.wire_len, m.cap_len), (54, 38));
    // Cut inside the IP header: the protocol byte is there, the addresses are not.
    let m = meta(LinkType::ETHERNET, &full[..14 + 12]);
    assert_eq!((m.proto, m.src, m.malformed), (Proto::Tcp, None, true));
    // Cut inside the Ethernet header.
    let m = meta(LinkType::ETHERNET, &full[..10]);
    assert_eq!((m.proto, m.malformed), (Proto::Other, true));
}

#[test]
fn bogus_ipv4_headers_are_malformed() {
    let mut p = ipv4(6, 0, &[0; 20]);
    p[0] = 0x44; // IHL 4 < 5
    let m = meta(LinkType::IPV4, &p);
    assert_eq!((m.proto, m.src, m.malformed), (Proto::Other, None, true));
    let mut p = ipv4(6, 0, &[0; 20]);
    p[2..4].copy_from_slice(&12u16.to_be_bytes()); // total length < header
    assert!(meta(LinkType::IPV4, &p).malformed);
    let mut p = ipv4(17, 0, &udp(1, 2));
    p[2..4].copy_from_slice(&0u16.to_be_bytes()); // TSO: length 0 is accepted
    assert_eq!(meta(LinkType::IPV4, &p).ports, Some((1, 2)));
    assert!(meta(LinkType::RAW, &[0x75, 0, 0, 0]).malformed); // version 7
}

#[test]
fn ethernet_padding_is_not_transport() {
    // 60-byte minimum frame carrying a 28-byte IPv4/UDP packet.
    let mut f = vec![0u8; 12];
    f.extend_from_slice(&[0x08, 0x00]);
    f.extend(ipv4(17, 0, &udp(68, 67)));
    f.resize(60, 0xee);
    let m = meta(LinkType::ETHERNET, &f);
    assert_eq!((m.proto, m.ports, m.wire_len), (Proto::Udp, Some((68, 67)), 60));
}

#[test]
fn arp_request() {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&MAC_A);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
    f.extend_from_slice(&MAC_A);
    f.extend_from_slice(&V4_A);
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&V4_B);
    let m = meta(LinkType::ETHERNET, &f);
    assert_eq!(m.proto, Proto::Arp);
    assert_eq!(m.arp, Some(ArpMeta { op: 1, sender: V4_A.into(), target: V4_B.into() }));
    assert_eq!(m.src, None);
}

#[test]
fn every_link_type_reaches_ip() {
    let pkt = ipv4(17, 0, &udp(1, 2));
    let with = |head: &[u8]| [head, &pkt[..]].concat();
    let mut sll = vec![0u8; 14];
    sll.extend_from_slice(&[0x08, 0x00]);
    let mut sll2 = vec![0x08, 0x00];
    sll2.extend_from_slice(&[0; 18]);
    let mut ppi = vec![0, 0, 8, 0, 1, 0, 0, 0];
    ppi.extend_from_slice(&[0; 12]);
    ppi.extend_from_slice(&[0x08, 0x00]);
    let cases: Vec<(LinkType, Vec<u8>)> = vec![
        (LinkType::ETHERNET, with(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00])),
        (LinkType::LINUX_SLL, with(&sll)),
        (LinkType::LINUX_SLL2, with(&sll2)),
        (LinkType::RAW, pkt.clone()),
        (LinkType::RAW_BSD, pkt.clone()),
        (LinkType::IPV4, pkt.clone()),
        (LinkType::NULL, with(&[2, 0, 0, 0])),
        (LinkType::LOOP, with(&[0, 0, 0, 2])),
        (LinkType::PPP, with(&[0xff, 0x03, 0x00, 0x21])),
        (LinkType::PPP_HDLC, with(&[0xff, 0x03, 0x00, 0x21])),
        (LinkType::C_HDLC, with(&[0x0f, 0x00, 0x08, 0x00])),
        (LinkType::PPI, with(&ppi)),
    ];
    for (lt, frame) in cases {
        let m = meta(lt, &frame);
        assert_eq!((m.proto, m.ports, m.malformed), (Proto::Udp, Some((1, 2)), false), "{lt}");
        assert_eq!(m.src, ip("10.0.0.1"), "{lt}");
    }
    let wifi = meta(LinkType::IEEE802_11, &[0x80, 0, 0, 0]);
    assert_eq!((wifi.proto, wifi.malformed), (Proto::Other, false));
    let unknown = meta(LinkType(4242), &pkt);
    assert_eq!(unknown.proto, Proto::Other);
}

#[test]
fn ip_over_sll_with_builder() {
    let f = build(|v| {
        PacketBuilder::linux_sll(etherparse::LinuxSllPacketType::OUTGOING, 6, [2, 0, 0, 0, 0, 1, 0, 0])
            .ipv4(V4_A, V4_B, 64)
            .icmpv4_echo_request(1, 1)
            .write(v, b"ping")
            .unwrap()
    });
    let m = meta(LinkType::LINUX_SLL, &f);
    assert_eq!((m.proto, m.icmp), (Proto::Icmp, Some((8, 0))));
}

#[test]
fn icmp_errors_quote_the_probe() {
    // Port unreachable from 10.0.0.2, quoting a UDP probe 10.0.0.1 -> 10.0.0.2:161.
    let probe = ipv4(17, 0, &udp(40000, 161));
    let mut icmp = vec![3, 3, 0, 0, 0, 0, 0, 0];
    icmp.extend_from_slice(&probe[..28]);
    let mut outer = ipv4(1, 0, &icmp);
    outer[12..16].copy_from_slice(&V4_B);
    outer[16..20].copy_from_slice(&V4_A);
    let m = meta(LinkType::IPV4, &outer);
    assert_eq!(m.icmp, Some((3, 3)));
    let q = m.quoted().expect("quoted probe");
    assert_eq!((q.dst, q.ip_proto, q.dport), (ip("10.0.0.2").unwrap(), 17, Some(161)));
    // An IP-protocol probe (protocol 99) quoted in a protocol unreachable.
    let mut icmp = vec![3, 2, 0, 0, 0, 0, 0, 0];
    icmp.extend_from_slice(&ipv4(99, 0, &[])[..20]);
    let m = meta(LinkType::IPV4, &ipv4(1, 0, &icmp));
    assert_eq!(m.quoted().map(|q| (q.ip_proto, q.dport)), Some((99, None)));
    // An echo reply quotes nothing.
    let m = meta(LinkType::IPV4, &ipv4(1, 0, &[0, 0, 0, 0, 0, 1, 0, 1, 0x45, 0, 0, 28]));
    assert_eq!(m.quoted(), None);
}

#[test]
fn icmpv6_unreachable_quotes_the_probe() {
    let mut probe = ipv6(6, &[0x9c, 0x40, 0x00, 0x16, 0, 0, 0, 1]);
    probe.truncate(48);
    let mut icmp = vec![1, 4, 0, 0, 0, 0, 0, 0];
    icmp.extend_from_slice(&probe);
    let m = meta(LinkType::RAW, &ipv6(58, &icmp));
    let q = m.quoted().expect("quoted probe");
    assert_eq!((q.dst, q.ip_proto, q.dport), (ip("2001:db8::2").unwrap(), 6, Some(22)));
}

#[test]
fn payload_lengths_come_from_the_headers_even_when_the_bytes_are_cut() {
    let data = [7u8; 300];
    let tcp = build(|v| {
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4(V4_A, V4_B, 64)
            .tcp(40000, 80, 1, 1024)
            .ack(5)
            .write(v, &data)
            .unwrap()
    });
    assert_eq!(meta(LinkType::ETHERNET, &tcp).payload_len, 300);
    // A snap length of 96 bytes keeps the headers only: the IP length still says 300.
    let cut = meta(LinkType::ETHERNET, &tcp[..96]);
    assert_eq!((cut.payload_len, cut.malformed), (300, false));
    let udp6 = build(|v| {
        PacketBuilder::ethernet2(MAC_A, MAC_B).ipv6([1; 16], [2; 16], 64).udp(53, 5353).write(v, &data[..40]).unwrap()
    });
    assert_eq!(meta(LinkType::ETHERNET, &udp6).payload_len, 40);
    assert_eq!(meta(LinkType::ETHERNET, &tcp_syn_frame()).payload_len, 0);
}

#[test]
fn a_tcp_header_under_20_bytes_is_malformed() {
    let mut tcp = tcp_syn_frame();
    tcp[14 + 20 + 12] = 0x20; // data offset 2: 8 bytes
    let m = meta(LinkType::ETHERNET, &tcp);
    assert!(m.malformed);
    assert_eq!(m.ports, Some((40000, 80)), "the ports still count where tshark counts them");
}

#[test]
fn neighbor_discovery_carries_its_target_and_other_icmpv6_does_not() {
    let target: std::net::Ipv6Addr = "fd00::1:2".parse().unwrap();
    let frame = |kind: u8, len: usize| {
        let mut icmp = vec![kind, 0, 0, 0, 0, 0, 0, 0];
        icmp.extend_from_slice(&target.octets());
        icmp.truncate(len);
        let mut v = vec![0x33, 0x33, 0xff, 0, 0, 1, 2, 0, 0, 0, 0, 9, 0x86, 0xdd, 0x60, 0, 0, 0];
        v.extend_from_slice(&(icmp.len() as u16).to_be_bytes());
        v.extend_from_slice(&[58, 255]);
        v.extend_from_slice(&"fd00::9".parse::<std::net::Ipv6Addr>().unwrap().octets());
        v.extend_from_slice(&"ff02::1:ff01:2".parse::<std::net::Ipv6Addr>().unwrap().octets());
        v.extend_from_slice(&icmp);
        v
    };
    for kind in [135, 136] {
        let m = meta(LinkType::ETHERNET, &frame(kind, 24));
        assert_eq!((m.icmp, m.nd_target(), m.quoted()), (Some((kind, 0)), Some(target), None));
    }
    // Cut short, or another type (a router solicitation): no target.
    assert_eq!(meta(LinkType::ETHERNET, &frame(135, 20)).nd_target(), None);
    assert_eq!(meta(LinkType::ETHERNET, &frame(133, 24)).nd_target(), None);
}
