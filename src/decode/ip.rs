//! IPv4/IPv6 and the transport header above them.
//!
//! The class and the addresses are read from the fixed header fields directly, so that a
//! packet etherparse would reject as a whole (cut short, bogus lengths) still counts the
//! way tshark counts it. etherparse's lax IP slicer then finds the transport header
//! (through IPv6 extension headers, within the IP length, never into Ethernet padding).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use etherparse::LaxIpSlice;

use super::link::L3Kind;
use super::{About, Fragment, PacketMeta, Proto, Quoted, TcpFlags};

const HOP_BY_HOP: u8 = 0;
const ROUTING: u8 = 43;
const FRAGMENT: u8 = 44;
const DEST_OPTS: u8 = 60;

/// Decodes an IP packet of the kind the link layer announced into `meta`.
pub(super) fn decode(kind: L3Kind, data: &[u8], meta: &mut PacketMeta) {
    decode_at(kind, data, meta, true);
}

/// ICMPv4 types that quote the offending packet.
fn icmpv4_quotes(t: u8) -> bool {
    matches!(t, 3 | 4 | 5 | 11 | 12)
}

/// ICMPv6 types that quote the offending packet.
fn icmpv6_quotes(t: u8) -> bool {
    matches!(t, 1..=4)
}

/// Decodes `data`; `quotes` allows reading the packet an ICMP error quotes (one level).
fn decode_at(kind: L3Kind, data: &[u8], meta: &mut PacketMeta, quotes: bool) {
    let version = data.first().map(|b| b >> 4);
    let ok = match (kind, version) {
        (L3Kind::Ipv4 | L3Kind::Ip, Some(4)) => v4(data, meta),
        (L3Kind::Ipv6 | L3Kind::Ip | L3Kind::Ipv4, Some(6)) => v6(data, meta),
        _ => false,
    };
    if !ok {
        meta.malformed = true;
        return;
    }
    if meta.fragment != Fragment::Later {
        transport(data, meta, quotes);
    }
}

/// IPv4 header fields; false when the header is bogus.
fn v4(data: &[u8], meta: &mut PacketMeta) -> bool {
    if data.len() < 20 {
        if data.len() >= 10 {
            set_proto(meta, data[9]);
        }
        return false;
    }
    let ihl = usize::from(data[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([data[2], data[3]]));
    // Wireshark stops at a header shorter than 20 bytes, or a total length shorter than
    // the header (0 is allowed: segmentation offload leaves it unset).
    if ihl < 20 || (total != 0 && total < ihl) {
        return false;
    }
    set_proto(meta, data[9]);
    meta.ttl = data[8];
    meta.src = Some(IpAddr::V4(Ipv4Addr::new(data[12], data[13], data[14], data[15])));
    meta.dst = Some(IpAddr::V4(Ipv4Addr::new(data[16], data[17], data[18], data[19])));
    let frag = u16::from_be_bytes([data[6], data[7]]);
    meta.fragment = match (frag & 0x1fff, frag & 0x2000 != 0) {
        (0, false) => Fragment::No,
        (0, true) => Fragment::First,
        _ => Fragment::Later,
    };
    true
}

/// IPv6 header fields and the class after its extension headers; false when bogus.
fn v6(data: &[u8], meta: &mut PacketMeta) -> bool {
    if data.len() < 40 {
        return false;
    }
    let addr = |at: usize| {
        let mut b = [0u8; 16];
        b.copy_from_slice(&data[at..at + 16]);
        IpAddr::V6(Ipv6Addr::from(b))
    };
    meta.ttl = data[7];
    meta.src = Some(addr(8));
    meta.dst = Some(addr(24));
    let (next, fragment) = walk_v6_chain(data);
    meta.fragment = fragment;
    meta.ip_proto = next;
    meta.proto = next.map_or(Proto::Other, Proto::from_ip_number);
    true
}

/// Follows the IPv6 extension headers to the upper-layer protocol number.
///
/// Returns `None` when the chain is cut short before an upper layer (and no fragment
/// header named one). For a non-first fragment, the protocol its fragment header names.
fn walk_v6_chain(data: &[u8]) -> (Option<u8>, Fragment) {
    let mut next = data[6];
    let mut at = 40;
    let mut fragment = Fragment::No;
    let mut frag_next = None;
    // Each extension header is at least 8 bytes, so this bound is never the binding one
    // for a real packet; it only stops pathological chains.
    for _ in 0..32 {
        match next {
            HOP_BY_HOP | ROUTING | DEST_OPTS => {
                let Some(hdr) = data.get(at..at + 2) else { return (frag_next, fragment) };
                next = hdr[0];
                at += (usize::from(hdr[1]) + 1) * 8;
                if at > data.len() {
                    // The header claims more bytes than there are: whatever it names
                    // next never arrived.
                    return (frag_next, fragment);
                }
            }
            FRAGMENT => {
                let Some(hdr) = data.get(at..at + 8) else { return (frag_next, fragment) };
                let off_flags = u16::from_be_bytes([hdr[2], hdr[3]]);
                frag_next = Some(hdr[0]);
                if off_flags & 0xfff8 != 0 {
                    return (frag_next, Fragment::Later);
                }
                fragment = if off_flags & 1 != 0 { Fragment::First } else { Fragment::No };
                next = hdr[0];
                at += 8;
            }
            upper => return (Some(upper), fragment),
        }
    }
    (frag_next, fragment)
}

fn set_proto(meta: &mut PacketMeta, number: u8) {
    meta.ip_proto = Some(number);
    meta.proto = Proto::from_ip_number(number);
}

/// Ports, TCP flags and ICMP type/code, as far as the captured bytes go.
///
/// etherparse's lax IP slicer bounds the payload by the IP length fields (never reading
/// Ethernet padding) and skips IPv6 extension headers; the few transport fields we keep
/// sit at fixed offsets, so they are read straight from that payload, which also works
/// when the transport header is cut short.
fn transport(data: &[u8], meta: &mut PacketMeta, quotes: bool) {
    let Ok((ip, _)) = LaxIpSlice::from_slice(data) else { return };
    let payload = ip.payload();
    let p = payload.payload;
    match payload.ip_number.0 {
        6 | 17 if p.len() >= 4 => {
            meta.ports = Some((u16::from_be_bytes([p[0], p[1]]), u16::from_be_bytes([p[2], p[3]])));
            // The transport segment's length by the IP header (the bytes may be cut short
            // by the snap length; the header still says how long it was).
            let start = p.as_ptr() as usize - data.as_ptr() as usize;
            let segment = declared_end(data).map_or(p.len(), |end| end.saturating_sub(start));
            if payload.ip_number.0 == 6 && p.len() >= 14 {
                meta.tcp_seq = u32::from_be_bytes([p[4], p[5], p[6], p[7]]);
                meta.tcp_ack = u32::from_be_bytes([p[8], p[9], p[10], p[11]]);
                meta.tcp_flags = TcpFlags(p[13]);
                let header = usize::from(p[12] >> 4) * 4;
                meta.payload_len = segment.saturating_sub(header).min(usize::from(u16::MAX)) as u16;
                // Wireshark's "bogus TCP header length": no TCP segment is read from it.
                meta.malformed |= header < 20;
            } else if payload.ip_number.0 == 17 {
                meta.payload_len = segment.saturating_sub(8).min(usize::from(u16::MAX)) as u16;
            }
        }
        n @ (1 | 58) if p.len() >= 2 => {
            meta.icmp = Some((p[0], p[1]));
            let is_error = if n == 1 { icmpv4_quotes(p[0]) } else { icmpv6_quotes(p[0]) };
            if quotes && is_error && p.len() > 8 {
                meta.about = quoted(&p[8..], meta).map(About::Quote);
            } else if n == 58 && matches!(p[0], 135 | 136) && p[1] == 0 && p.len() >= 24 {
                let target: [u8; 16] = p[8..24].try_into().expect("16 bytes");
                meta.about = Some(About::Neighbor(target.into()));
            }
        }
        _ => {}
    }
}

/// Where the IP packet ends by its own length field (IPv4 total length, IPv6 40 bytes
/// plus the payload length); `None` when the field is unset (segmentation offload).
fn declared_end(data: &[u8]) -> Option<usize> {
    let v6 = data.first()? >> 4 == 6;
    let at = if v6 { 4 } else { 2 };
    match usize::from(u16::from_be_bytes([*data.get(at)?, *data.get(at + 1)?])) {
        0 => None,
        n if v6 => Some(40 + n),
        n => Some(n),
    }
}

/// The packet an ICMP error quotes (its IP header and first transport bytes).
fn quoted(inner: &[u8], outer: &PacketMeta) -> Option<Quoted> {
    let frame =
        crate::packet::Frame { ts: outer.ts, linktype: outer.linktype, data: inner, orig_len: inner.len() as u32 };
    let mut q = PacketMeta::blank(&frame);
    decode_at(L3Kind::Ip, inner, &mut q, false);
    Some(Quoted { src: q.src?, dst: q.dst?, ip_proto: q.ip_proto?, dport: q.dport(), sport: q.sport() })
}
