//! The packet vocabulary every layer shares: packet time, link types, frames. A leaf:
//! it imports nothing of ours, so decode, stats and detect use it without depending on
//! the capture sources.

use std::fmt;

/// Packet time: nanoseconds since the Unix epoch (the packet's own timestamp, never the clock).
pub type Nanos = i64;

/// Nanoseconds in one second.
pub const NANOS_PER_SEC: i64 = 1_000_000_000;

/// The latest packet time counted (2^62 ns, early in the year 2116): decoded timestamps
/// are clamped to `0..=MAX_TS`, so adding any duration to one, or subtracting two, never
/// overflows, whatever a file claims.
pub const MAX_TS: Nanos = 1 << 62;

/// A libpcap `LINKTYPE_*` value naming a frame's link-layer header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkType(pub u16);

impl LinkType {
    /// BSD loopback: a 4-byte address family in the capturing host's byte order.
    pub const NULL: Self = Self(0);
    /// Ethernet II / 802.3.
    pub const ETHERNET: Self = Self(1);
    /// PPP (RFC 1661), optionally with HDLC-like address/control bytes.
    pub const PPP: Self = Self(9);
    /// Raw IP on some BSDs (`DLT_RAW` = 12 there).
    pub const RAW_BSD: Self = Self(12);
    /// Raw IP on OpenBSD (`DLT_RAW` = 14 there).
    pub const RAW_OPENBSD: Self = Self(14);
    /// PPP in HDLC-like framing (RFC 1662).
    pub const PPP_HDLC: Self = Self(50);
    /// Raw IP, version taken from the first nibble.
    pub const RAW: Self = Self(101);
    /// Cisco HDLC.
    pub const C_HDLC: Self = Self(104);
    /// IEEE 802.11 (counted as `other`).
    pub const IEEE802_11: Self = Self(105);
    /// OpenBSD loopback: address family in network byte order.
    pub const LOOP: Self = Self(108);
    /// Linux "cooked" capture v1 (`-i any`).
    pub const LINUX_SLL: Self = Self(113);
    /// IEEE 802.11 with a radiotap header (counted as `other`).
    pub const RADIOTAP: Self = Self(127);
    /// Per-Packet Information header followed by another link type.
    pub const PPI: Self = Self(192);
    /// Raw IPv4.
    pub const IPV4: Self = Self(228);
    /// Raw IPv6.
    pub const IPV6: Self = Self(229);
    /// Linux "cooked" capture v2.
    pub const LINUX_SLL2: Self = Self(276);

    /// A short lower-case name, as used in reports and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Self::NULL => "null",
            Self::ETHERNET => "ethernet",
            Self::PPP => "ppp",
            Self::RAW_BSD | Self::RAW_OPENBSD | Self::RAW => "raw",
            Self::PPP_HDLC => "ppp_hdlc",
            Self::C_HDLC => "cisco_hdlc",
            Self::IEEE802_11 => "ieee802_11",
            Self::LOOP => "loop",
            Self::LINUX_SLL => "linux_sll",
            Self::RADIOTAP => "radiotap",
            Self::PPI => "ppi",
            Self::IPV4 => "ipv4",
            Self::IPV6 => "ipv6",
            Self::LINUX_SLL2 => "linux_sll2",
            _ => "unknown",
        }
    }
}

impl fmt::Display for LinkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            "unknown" => write!(f, "linktype {}", self.0),
            name => f.write_str(name),
        }
    }
}

/// One captured frame, borrowed from its source's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Capture timestamp.
    pub ts: Nanos,
    /// Link-layer header type of `data`.
    pub linktype: LinkType,
    /// The captured bytes (possibly cut short by the snap length).
    pub data: &'a [u8],
    /// The frame's length on the wire, which may exceed `data.len()`.
    pub orig_len: u32,
}

/// One frame with its own bytes (scripts, the packet ring's copies, dumps).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedFrame {
    /// Capture timestamp.
    pub ts: Nanos,
    /// Link type of `data`.
    pub linktype: LinkType,
    /// Captured bytes.
    pub data: Vec<u8>,
    /// Wire length (at least `data.len()`).
    pub orig_len: u32,
}

impl OwnedFrame {
    /// A frame captured whole: wire length equals the bytes given.
    pub fn new(ts: Nanos, linktype: LinkType, data: Vec<u8>) -> Self {
        let orig_len = data.len() as u32;
        OwnedFrame { ts, linktype, data, orig_len }
    }

    /// Borrows it as a [`Frame`].
    pub fn as_frame(&self) -> Frame<'_> {
        Frame { ts: self.ts, linktype: self.linktype, data: &self.data, orig_len: self.orig_len }
    }
}
