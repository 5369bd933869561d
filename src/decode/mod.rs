//! Decoding: frame bytes + link type → a compact, copyable [`PacketMeta`].
//!
//! Pure and allocation-free: no I/O, no clock, no heap. Every input yields a `PacketMeta`:
//! truncated frames are decoded as far as their bytes go, and frames whose headers make
//! no sense are flagged `malformed` rather than rejected.
//!
//! Classification follows the **outermost** IP header, as tshark's figures do: the
//! protocol number in an IPv4 header (so a fragment or a tunnel counts under the
//! protocol its outer header names), or the upper-layer protocol after an IPv6
//! header's extension headers (for a non-first fragment, the one its fragment header
//! names).

mod ip;
pub mod link;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use crate::packet::{Frame, LinkType, Nanos};
use link::{L3Kind, LinkError};

/// Protocol classes that every count is split by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proto {
    /// TCP (IP protocol 6).
    Tcp,
    /// UDP (IP protocol 17).
    Udp,
    /// ICMP for IPv4 (IP protocol 1).
    Icmp,
    /// ICMPv6 (IP protocol 58).
    Icmpv6,
    /// ARP and RARP.
    Arp,
    /// Everything else: other IP protocols, non-IP frames, undecodable frames.
    #[default]
    Other,
}

impl Proto {
    /// Every class, in display order.
    pub const ALL: [Proto; 6] = [Proto::Tcp, Proto::Udp, Proto::Icmp, Proto::Icmpv6, Proto::Arp, Proto::Other];

    /// Number of classes.
    pub const COUNT: usize = Self::ALL.len();

    /// Position in [`Proto::ALL`], for array-indexed counters.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// Lower-case name, as used in JSON keys.
    pub const fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Icmp => "icmp",
            Proto::Icmpv6 => "icmpv6",
            Proto::Arp => "arp",
            Proto::Other => "other",
        }
    }

    /// The class of an IP protocol number.
    pub const fn from_ip_number(n: u8) -> Proto {
        match n {
            6 => Proto::Tcp,
            17 => Proto::Udp,
            1 => Proto::Icmp,
            58 => Proto::Icmpv6,
            _ => Proto::Other,
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of protocol classes: the TUI's protocol filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProtoMask(u8);

impl ProtoMask {
    /// Every class.
    pub const ALL: ProtoMask = ProtoMask((1 << Proto::COUNT) - 1);
    /// No class.
    pub const NONE: ProtoMask = ProtoMask(0);

    /// Whether `p` is in the set.
    pub const fn contains(self, p: Proto) -> bool {
        self.0 & (1 << p as u8) != 0
    }

    /// The set with `p` added if absent, removed if present.
    pub const fn toggled(self, p: Proto) -> ProtoMask {
        ProtoMask(self.0 ^ (1 << p as u8))
    }

    /// Whether every class is in the set.
    pub const fn is_all(self) -> bool {
        self.0 == Self::ALL.0
    }

    /// The classes in the set, in display order.
    pub fn iter(self) -> impl Iterator<Item = Proto> {
        Proto::ALL.into_iter().filter(move |p| self.contains(*p))
    }
}

impl Default for ProtoMask {
    fn default() -> Self {
        Self::ALL
    }
}

/// TCP flag bits as they appear in the header's 14th byte.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    /// FIN: no more data from sender.
    pub const FIN: u8 = 0x01;
    /// SYN: synchronise sequence numbers.
    pub const SYN: u8 = 0x02;
    /// RST: reset the connection.
    pub const RST: u8 = 0x04;
    /// PSH: push function.
    pub const PSH: u8 = 0x08;
    /// ACK: acknowledgment field significant.
    pub const ACK: u8 = 0x10;
    /// URG: urgent pointer significant.
    pub const URG: u8 = 0x20;

    /// Whether every bit of `mask` is set.
    pub const fn has(self, mask: u8) -> bool {
        self.0 & mask == mask
    }

    /// A SYN without ACK: a connection attempt.
    pub const fn is_syn_only(self) -> bool {
        self.0 & (Self::SYN | Self::ACK) == Self::SYN
    }

    /// A SYN-ACK: an accepted connection attempt.
    pub const fn is_syn_ack(self) -> bool {
        self.has(Self::SYN | Self::ACK)
    }
}

/// Where a packet sits in an IP fragment train.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Fragment {
    /// Not fragmented.
    #[default]
    No,
    /// The first fragment: carries the transport header.
    First,
    /// A later fragment: payload only.
    Later,
}

/// The facts of an ARP packet that detectors need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArpMeta {
    /// 1 = request (who-has), 2 = reply.
    pub op: u16,
    /// Sender protocol address.
    pub sender: Ipv4Addr,
    /// Target protocol address.
    pub target: Ipv4Addr,
}

/// The probe an ICMP error quotes: what was sent, to where, that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quoted {
    /// Source of the quoted packet (the host whose probe failed).
    pub src: IpAddr,
    /// Destination of the quoted packet (the host that was probed).
    pub dst: IpAddr,
    /// Its IP protocol number (after IPv6 extension headers).
    pub ip_proto: u8,
    /// Its destination port, when the quote reaches it.
    pub dport: Option<u16>,
    /// Its source port, when the quote reaches it.
    pub sport: Option<u16>,
}

/// What an ICMP/ICMPv6 message is about (one field for both: no message is both).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum About {
    /// An error (unreachable, time exceeded, ...) and the packet it quotes.
    Quote(Quoted),
    /// An ICMPv6 neighbor solicitation (135) or advertisement (136), IPv6's ARP, and
    /// its target address.
    Neighbor(std::net::Ipv6Addr),
}

/// Everything the engine keeps of one packet. Small and `Copy`, so it travels through
/// rings and channels by value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketMeta {
    /// Capture timestamp.
    pub ts: Nanos,
    /// Length on the wire.
    pub wire_len: u32,
    /// Bytes captured.
    pub cap_len: u32,
    /// Link type the frame arrived with.
    pub linktype: LinkType,
    /// Class by the outermost IP header (or ARP/other).
    pub proto: Proto,
    /// Protocol number that `proto` was derived from, for IP packets.
    pub ip_proto: Option<u8>,
    /// Outermost IP source.
    pub src: Option<IpAddr>,
    /// Outermost IP destination.
    pub dst: Option<IpAddr>,
    /// TCP/UDP source and destination ports, when the bytes reach them.
    pub ports: Option<(u16, u16)>,
    /// TCP flags (zero for non-TCP or when cut off).
    pub tcp_flags: TcpFlags,
    /// TCP sequence and acknowledgement numbers (zero when cut off), which tie an answer
    /// to the probe it answers.
    pub tcp_seq: u32,
    /// See `tcp_seq`.
    pub tcp_ack: u32,
    /// The outermost IP header's TTL (IPv6: hop limit); 0 when there is none.
    pub ttl: u8,
    /// TCP or UDP payload bytes, by the headers' length fields (so a packet cut short by
    /// the snap length still says how much it carried); 0 for other protocols.
    pub payload_len: u16,
    /// The Ethernet source address (all zeros when the link has none).
    pub src_mac: [u8; 6],
    /// The Ethernet destination address (all zeros when the link has none).
    pub dst_mac: [u8; 6],
    /// ICMP/ICMPv6 type and code.
    pub icmp: Option<(u8, u8)>,
    /// Outermost VLAN id.
    pub vlan: Option<u16>,
    /// Fragment position of the outermost IP header.
    pub fragment: Fragment,
    /// ARP details.
    pub arp: Option<ArpMeta>,
    /// What an ICMP/ICMPv6 message is about: the packet an error quotes, or the address
    /// a neighbor solicitation or advertisement asks or answers for.
    pub about: Option<About>,
    /// Headers that make no sense, or a frame that ends inside one.
    pub malformed: bool,
}

impl PacketMeta {
    /// The packet an ICMP/ICMPv6 error quotes.
    pub fn quoted(&self) -> Option<Quoted> {
        match self.about {
            Some(About::Quote(q)) => Some(q),
            _ => None,
        }
    }

    /// The target address of a neighbor solicitation or advertisement.
    pub fn nd_target(&self) -> Option<std::net::Ipv6Addr> {
        match self.about {
            Some(About::Neighbor(t)) => Some(t),
            _ => None,
        }
    }

    /// A packet we know nothing about yet beyond its frame.
    pub fn blank(frame: &Frame<'_>) -> Self {
        PacketMeta {
            ts: frame.ts.clamp(0, crate::packet::MAX_TS),
            wire_len: frame.orig_len,
            cap_len: frame.data.len() as u32,
            linktype: frame.linktype,
            proto: Proto::Other,
            ip_proto: None,
            src: None,
            dst: None,
            ports: None,
            tcp_flags: TcpFlags::default(),
            tcp_seq: 0,
            tcp_ack: 0,
            payload_len: 0,
            ttl: 0,
            src_mac: [0; 6],
            dst_mac: [0; 6],
            icmp: None,
            vlan: None,
            fragment: Fragment::No,
            arp: None,
            about: None,
            malformed: false,
        }
    }

    /// The same packet at another time (tests and benchmarks).
    pub fn with_ts(self, ts: Nanos) -> Self {
        PacketMeta { ts, ..self }
    }

    /// Source port, if any.
    pub fn sport(&self) -> Option<u16> {
        self.ports.map(|p| p.0)
    }

    /// Destination port, if any.
    pub fn dport(&self) -> Option<u16> {
        self.ports.map(|p| p.1)
    }
}

/// Decodes one frame. Never fails and never panics, whatever the bytes.
pub fn decode(frame: &Frame<'_>) -> PacketMeta {
    let mut meta = PacketMeta::blank(frame);
    fill(frame, &mut meta);
    meta
}

/// [`decode`]s `frame` onto the end of `batch`, in place: the capture loop's way, which
/// writes each packet's meta once, where it travels, rather than building it and
/// copying it there.
#[inline]
pub fn decode_onto(frame: &Frame<'_>, batch: &mut Vec<PacketMeta>) {
    batch.push(PacketMeta::blank(frame));
    if let Some(meta) = batch.last_mut() {
        fill(frame, meta);
    }
}

/// Everything past the frame's own figures ([`PacketMeta::blank`]).
#[inline]
fn fill(frame: &Frame<'_>, meta: &mut PacketMeta) {
    if frame.linktype == LinkType::ETHERNET
        && let Some(macs) = frame.data.get(..12)
    {
        meta.dst_mac.copy_from_slice(&macs[..6]);
        meta.src_mac.copy_from_slice(&macs[6..]);
    } else if let Some(mac) = link::source_mac(frame.linktype, frame.data) {
        meta.src_mac = mac;
    }
    match link::strip(frame.linktype, frame.data) {
        Err(LinkError::Unsupported) => {}
        Err(LinkError::Short) => meta.malformed = true,
        Ok(l3) => {
            meta.vlan = l3.vlan;
            match l3.kind {
                L3Kind::Ipv4 | L3Kind::Ipv6 | L3Kind::Ip => ip::decode(l3.kind, l3.data, meta),
                L3Kind::Arp => {
                    meta.proto = Proto::Arp;
                    meta.arp = arp(l3.data);
                    meta.malformed = l3.data.len() < 8;
                }
                L3Kind::Other(_) => {}
            }
        }
    }
}

/// Reads an ARP packet's operation and IPv4 addresses, if it carries them.
fn arp(data: &[u8]) -> Option<ArpMeta> {
    if data.len() < 8 {
        return None;
    }
    let (hlen, plen) = (usize::from(data[4]), usize::from(data[5]));
    let op = u16::from_be_bytes([data[6], data[7]]);
    if plen != 4 || data.len() < 8 + 2 * hlen + 8 {
        return None;
    }
    let at = |o: usize| Ipv4Addr::new(data[o], data[o + 1], data[o + 2], data[o + 3]);
    Some(ArpMeta { op, sender: at(8 + hlen), target: at(8 + 2 * hlen + 4) })
}

#[cfg(test)]
mod tests;

/// Hand-built packets for the engine's and detectors' unit tests.
#[cfg(test)]
pub(crate) mod testing {
    use std::net::IpAddr;

    use super::{PacketMeta, Proto, TcpFlags};
    use crate::packet::{Frame, LinkType, Nanos};

    /// An address from text.
    pub(crate) fn ip(s: &str) -> IpAddr {
        s.parse().expect("an IP address")
    }

    /// A decoded packet with nothing but its time (60 bytes on the wire, none captured).
    pub(crate) fn blank(ts: Nanos) -> PacketMeta {
        PacketMeta::blank(&Frame { ts, linktype: LinkType::ETHERNET, data: &[], orig_len: 60 })
    }

    /// A TCP segment `src:sport -> dst:dport` with these flags.
    pub(crate) fn tcp(ts: Nanos, src: &str, sport: u16, dst: &str, dport: u16, flags: u8) -> PacketMeta {
        PacketMeta { tcp_flags: TcpFlags(flags), ..transport(ts, Proto::Tcp, src, sport, dst, dport) }
    }

    /// A UDP datagram `src:sport -> dst:dport`.
    pub(crate) fn udp(ts: Nanos, src: &str, sport: u16, dst: &str, dport: u16) -> PacketMeta {
        transport(ts, Proto::Udp, src, sport, dst, dport)
    }

    fn transport(ts: Nanos, proto: Proto, src: &str, sport: u16, dst: &str, dport: u16) -> PacketMeta {
        PacketMeta {
            proto,
            ip_proto: Some(if proto == Proto::Tcp { 6 } else { 17 }),
            src: Some(ip(src)),
            dst: Some(ip(dst)),
            ports: Some((sport, dport)),
            ..blank(ts)
        }
    }
}
