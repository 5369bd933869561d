//! Link layers: strip whatever precedes the network header and say what follows.
//!
//! Handles Ethernet (802.1Q/802.1ad VLAN stacks, 802.3 + LLC/SNAP, PPPoE sessions, MPLS),
//! Linux SLL and SLL2, raw IP, BSD null/loopback, PPP, Cisco HDLC and PPI. Anything else
//! (802.11, radiotap, ...) is [`LinkError::Unsupported`] and counts as `other`.

use crate::packet::LinkType;

/// What the link layer carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L3Kind {
    /// IPv4 by its link-layer type field.
    Ipv4,
    /// IPv6 by its link-layer type field.
    Ipv6,
    /// IP of a version given by the first nibble (raw IP, MPLS).
    Ip,
    /// ARP or RARP.
    Arp,
    /// Some other protocol (its EtherType or equivalent).
    Other(u16),
}

/// The network-layer part of a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct L3<'a> {
    /// What `data` holds.
    pub kind: L3Kind,
    /// The bytes from the network header on.
    pub data: &'a [u8],
    /// Outermost VLAN id, if the frame was tagged.
    pub vlan: Option<u16>,
}

/// Why the link layer could not be stripped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkError {
    /// A link type we do not decode.
    Unsupported,
    /// The frame ends inside a link-layer header.
    Short,
}

/// The most encapsulation headers (VLAN tags, MPLS labels, PPI) we follow in one frame.
const MAX_DEPTH: usize = 16;

const ETH_IPV4: u16 = 0x0800;
const ETH_ARP: u16 = 0x0806;
const ETH_RARP: u16 = 0x8035;
const ETH_IPV6: u16 = 0x86dd;
const ETH_VLAN: u16 = 0x8100;
const ETH_QINQ: u16 = 0x88a8;
const ETH_QINQ_OLD: u16 = 0x9100;
const ETH_QINQ_OLD2: u16 = 0x9200;
const ETH_PPPOE_SESSION: u16 = 0x8864;
const ETH_MPLS: u16 = 0x8847;
const ETH_MPLS_MULTI: u16 = 0x8848;

/// Strips the link layer of `linktype` from `data`.
pub fn strip(linktype: LinkType, data: &[u8]) -> Result<L3<'_>, LinkError> {
    strip_depth(linktype, data, 0)
}

fn strip_depth(linktype: LinkType, data: &[u8], depth: usize) -> Result<L3<'_>, LinkError> {
    match linktype {
        LinkType::ETHERNET => ethernet(data),
        LinkType::LINUX_SLL => {
            need(data, 16)?;
            ethertype(be16(data, 14), &data[16..], None)
        }
        LinkType::LINUX_SLL2 => {
            need(data, 20)?;
            ethertype(be16(data, 0), &data[20..], None)
        }
        LinkType::RAW | LinkType::RAW_BSD | LinkType::RAW_OPENBSD => Ok(L3 { kind: L3Kind::Ip, data, vlan: None }),
        LinkType::IPV4 => Ok(L3 { kind: L3Kind::Ipv4, data, vlan: None }),
        LinkType::IPV6 => Ok(L3 { kind: L3Kind::Ipv6, data, vlan: None }),
        LinkType::NULL | LinkType::LOOP => null(linktype, data),
        LinkType::PPP | LinkType::PPP_HDLC => ppp(data),
        LinkType::C_HDLC => cisco_hdlc(data),
        LinkType::PPI if depth < MAX_DEPTH => {
            // version(1) flags(1) header length(2, LE) inner link type(4, LE)
            need(data, 8)?;
            let len = usize::from(u16::from_le_bytes([data[2], data[3]]));
            let inner = u32::from_le_bytes([data[4], data[5], data[6], data[7]]);
            if len < 8 {
                return Err(LinkError::Short);
            }
            need(data, len)?;
            strip_depth(LinkType((inner & 0xffff) as u16), &data[len..], depth + 1)
        }
        _ => Err(LinkError::Unsupported),
    }
}

/// A Linux cooked capture's link-layer source address, when it is a 6-byte one (the
/// cooked header records the sender's address for every packet).
#[inline]
pub fn source_mac(linktype: LinkType, data: &[u8]) -> Option<[u8; 6]> {
    let at = match linktype {
        LinkType::LINUX_SLL if data.len() >= 16 && be16(data, 4) == 6 => 6,
        LinkType::LINUX_SLL2 if data.len() >= 20 && data[11] == 6 => 12,
        _ => return None,
    };
    data.get(at..at + 6).and_then(|m| m.try_into().ok())
}

fn need(data: &[u8], n: usize) -> Result<(), LinkError> {
    if data.len() < n { Err(LinkError::Short) } else { Ok(()) }
}

fn be16(data: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([data[at], data[at + 1]])
}

fn ethernet(data: &[u8]) -> Result<L3<'_>, LinkError> {
    need(data, 14)?;
    let et = be16(data, 12);
    if et > 1500 {
        return ethertype(et, &data[14..], None);
    }
    // 802.3 length field: an LLC header follows. Only SNAP carries an EtherType.
    let llc = &data[14..];
    if llc.len() >= 8 && llc[0] == 0xaa && llc[1] == 0xaa && llc[2] == 0x03 {
        return ethertype(be16(llc, 6), &llc[8..], None);
    }
    Ok(L3 { kind: L3Kind::Other(0), data: llc, vlan: None })
}

/// Follows an EtherType through VLAN tags, PPPoE and MPLS to the network header.
fn ethertype(mut et: u16, mut data: &[u8], mut vlan: Option<u16>) -> Result<L3<'_>, LinkError> {
    for _ in 0..MAX_DEPTH {
        let kind = match et {
            ETH_IPV4 => L3Kind::Ipv4,
            ETH_IPV6 => L3Kind::Ipv6,
            ETH_ARP | ETH_RARP => L3Kind::Arp,
            ETH_VLAN | ETH_QINQ | ETH_QINQ_OLD | ETH_QINQ_OLD2 => {
                need(data, 4)?;
                vlan.get_or_insert(be16(data, 0) & 0x0fff);
                et = be16(data, 2);
                data = &data[4..];
                continue;
            }
            ETH_PPPOE_SESSION => {
                // ver/type(1) code(1) session(2) length(2), then the PPP protocol(2)
                need(data, 8)?;
                let kind = ppp_protocol(be16(data, 6));
                return Ok(L3 { kind, data: &data[8..], vlan });
            }
            ETH_MPLS | ETH_MPLS_MULTI => return mpls(data, vlan),
            other => L3Kind::Other(other),
        };
        return Ok(L3 { kind, data, vlan });
    }
    Ok(L3 { kind: L3Kind::Other(et), data, vlan })
}

fn mpls(mut data: &[u8], vlan: Option<u16>) -> Result<L3<'_>, LinkError> {
    for _ in 0..MAX_DEPTH {
        need(data, 4)?;
        let bottom = data[2] & 0x01 != 0;
        data = &data[4..];
        if bottom {
            let kind = match data.first().map(|b| b >> 4) {
                Some(4 | 6) => L3Kind::Ip,
                _ => L3Kind::Other(ETH_MPLS),
            };
            return Ok(L3 { kind, data, vlan });
        }
    }
    Ok(L3 { kind: L3Kind::Other(ETH_MPLS), data, vlan })
}

/// BSD loopback: a 4-byte address family, host order (NULL) or network order (LOOP).
fn null(linktype: LinkType, data: &[u8]) -> Result<L3<'_>, LinkError> {
    need(data, 4)?;
    let bytes = [data[0], data[1], data[2], data[3]];
    let mut family = if linktype == LinkType::LOOP { u32::from_be_bytes(bytes) } else { u32::from_le_bytes(bytes) };
    if family > 0xffff {
        // Written by a host of the other byte order.
        family = family.swap_bytes();
    }
    let kind = match family {
        2 => L3Kind::Ipv4,
        // AF_INET6 differs by OS: Linux 10, NetBSD/OpenBSD 24, FreeBSD 28, macOS 30.
        10 | 24 | 28 | 30 => L3Kind::Ipv6,
        other => L3Kind::Other(other as u16),
    };
    Ok(L3 { kind, data: &data[4..], vlan: None })
}

/// Cisco HDLC: address(1) control(1) protocol(2, an EtherType).
fn cisco_hdlc(data: &[u8]) -> Result<L3<'_>, LinkError> {
    need(data, 4)?;
    match be16(data, 2) {
        // In Cisco HDLC 0x8035 is SLARP (keepalives), not RARP.
        ETH_RARP => Ok(L3 { kind: L3Kind::Other(ETH_RARP), data: &data[4..], vlan: None }),
        proto => ethertype(proto, &data[4..], None),
    }
}

fn ppp(data: &[u8]) -> Result<L3<'_>, LinkError> {
    // Routers often label Cisco HDLC as PPP; its unicast/broadcast address gives it away
    // (Wireshark's PPP dissector makes the same check).
    if data.len() >= 2 && matches!(data[0], 0x0f | 0x8f) && data[1] == 0x00 {
        return cisco_hdlc(data);
    }
    let mut data = data;
    if data.len() >= 2 && data[0] == 0xff && data[1] == 0x03 {
        data = &data[2..];
    }
    need(data, 1)?;
    // Protocol-field compression: an odd first byte is a one-byte protocol.
    if data[0] & 1 == 1 {
        return Ok(L3 { kind: ppp_protocol(u16::from(data[0])), data: &data[1..], vlan: None });
    }
    need(data, 2)?;
    Ok(L3 { kind: ppp_protocol(be16(data, 0)), data: &data[2..], vlan: None })
}

fn ppp_protocol(proto: u16) -> L3Kind {
    match proto {
        0x0021 => L3Kind::Ipv4,
        0x0057 => L3Kind::Ipv6,
        other => L3Kind::Other(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eth(et: u16, rest: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&et.to_be_bytes());
        f.extend_from_slice(rest);
        f
    }

    #[test]
    fn vlan_stack_keeps_outer_id() {
        // 802.1ad S-tag 100, 802.1Q C-tag 200, then IPv4.
        let f = eth(ETH_QINQ, &[0x00, 100, 0x81, 0x00, 0x00, 200, 0x08, 0x00, 0x45]);
        let l3 = strip(LinkType::ETHERNET, &f).unwrap();
        assert_eq!((l3.kind, l3.vlan, l3.data), (L3Kind::Ipv4, Some(100), &[0x45][..]));
    }

    #[test]
    fn truncated_vlan_is_short() {
        let f = eth(ETH_VLAN, &[0x00]);
        assert_eq!(strip(LinkType::ETHERNET, &f), Err(LinkError::Short));
    }

    #[test]
    fn snap_and_plain_llc() {
        let f = eth(40, &[0xaa, 0xaa, 0x03, 0, 0, 0, 0x86, 0xdd, 0x60]);
        assert_eq!(strip(LinkType::ETHERNET, &f).unwrap().kind, L3Kind::Ipv6);
        let stp = eth(38, &[0x42, 0x42, 0x03, 0, 0]);
        assert_eq!(strip(LinkType::ETHERNET, &stp).unwrap().kind, L3Kind::Other(0));
    }

    #[test]
    fn pppoe_and_mpls() {
        let f = eth(ETH_PPPOE_SESSION, &[0x11, 0, 0, 1, 0, 20, 0x00, 0x57, 0x60]);
        assert_eq!(strip(LinkType::ETHERNET, &f).unwrap().kind, L3Kind::Ipv6);
        let m = eth(ETH_MPLS, &[0, 0, 0x10, 64, 0, 0, 0x21, 64, 0x45]);
        let l3 = strip(LinkType::ETHERNET, &m).unwrap();
        assert_eq!((l3.kind, l3.data), (L3Kind::Ip, &[0x45][..]));
    }

    #[test]
    fn null_families_either_order() {
        assert_eq!(strip(LinkType::NULL, &[2, 0, 0, 0, 0x45]).unwrap().kind, L3Kind::Ipv4);
        assert_eq!(strip(LinkType::NULL, &[0, 0, 0, 30, 0x60]).unwrap().kind, L3Kind::Ipv6);
        assert_eq!(strip(LinkType::LOOP, &[0, 0, 0, 2, 0x45]).unwrap().kind, L3Kind::Ipv4);
        assert_eq!(strip(LinkType::NULL, &[2, 0]), Err(LinkError::Short));
    }

    #[test]
    fn sll_sll2_ppp_hdlc_ppi() {
        let mut sll = vec![0u8; 16];
        sll[14..16].copy_from_slice(&ETH_ARP.to_be_bytes());
        assert_eq!(strip(LinkType::LINUX_SLL, &sll).unwrap().kind, L3Kind::Arp);
        let mut sll2 = vec![0u8; 20];
        sll2[0..2].copy_from_slice(&ETH_IPV6.to_be_bytes());
        assert_eq!(strip(LinkType::LINUX_SLL2, &sll2).unwrap().kind, L3Kind::Ipv6);
        assert_eq!(strip(LinkType::PPP, &[0xff, 0x03, 0x00, 0x21, 0x45]).unwrap().kind, L3Kind::Ipv4);
        assert_eq!(strip(LinkType::PPP, &[0x21, 0x45]).unwrap().kind, L3Kind::Ipv4);
        assert_eq!(strip(LinkType::C_HDLC, &[0x0f, 0, 0x86, 0xdd, 0x60]).unwrap().kind, L3Kind::Ipv6);
        assert_eq!(strip(LinkType::PPP, &[0x0f, 0, 0x08, 0x00, 0x45]).unwrap().kind, L3Kind::Ipv4);
        assert_eq!(strip(LinkType::C_HDLC, &[0x8f, 0, 0x80, 0x35]).unwrap().kind, L3Kind::Other(ETH_RARP));
        let mut ppi = vec![0, 0, 8, 0, 1, 0, 0, 0];
        ppi.extend(eth(ETH_IPV4, &[0x45]));
        assert_eq!(strip(LinkType::PPI, &ppi).unwrap().kind, L3Kind::Ipv4);
        assert_eq!(strip(LinkType::PPI, &[0, 0, 4, 0, 1, 0, 0, 0]), Err(LinkError::Short));
    }

    #[test]
    fn wifi_is_unsupported() {
        assert_eq!(strip(LinkType::IEEE802_11, &[0x80, 0]), Err(LinkError::Unsupported));
    }
}
