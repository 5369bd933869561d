//! Capture sources: where frames come from.
//!
//! The engine is generic over [`PacketSource`], so every data path (files, scripted
//! in-memory frames in tests, and live capture) runs through the same code. A source
//! yields borrowed [`Frame`]s: the bytes stay in the source's own buffer, so reading a
//! file allocates nothing per packet.

pub mod bpf;
pub mod file;
pub mod live;
pub mod paced;
pub mod ring;
pub mod scripted;

use std::fmt;

pub use bpf::{BpfError, Filter};
pub use file::FileSource;
pub use live::{KernelStats, LiveConfig, LiveSource};
pub use paced::{PacedSource, ReplayControl};
pub use ring::PacketRing;
pub use scripted::ScriptedSource;

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

/// What a source has to say when asked for the next frame.
#[derive(Debug)]
pub enum Next<'a> {
    /// A frame.
    Frame(Frame<'a>),
    /// Nothing right now (a live source's read timeout); ask again.
    Idle,
    /// The source is exhausted.
    End,
}

/// How far a source has got, for progress bars.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Bytes consumed so far.
    pub done: u64,
    /// Total bytes, when known (a regular file; not a pipe).
    pub total: Option<u64>,
}

/// A problem that ended reading early but left everything before it intact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// Byte offset in the input where the problem starts.
    pub offset: u64,
    /// What went wrong, in words.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte offset {}", self.message, self.offset)
    }
}

/// Errors that stop a source from starting or reading at all.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The input could not be opened.
    #[error("cannot open {path}: {reason}")]
    Open {
        /// What we tried to open.
        path: String,
        /// Why it failed, in words.
        reason: String,
    },
    /// The input is not a capture file we understand.
    #[error("{path}: {reason}")]
    Format {
        /// The input's name.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Reading failed part-way (an I/O error, not a format problem).
    #[error("{path}: read error: {source}")]
    Io {
        /// The input's name.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// Anything that yields frames: a capture file, a live interface, or a test script.
pub trait PacketSource {
    /// The next frame, [`Next::Idle`] when none is ready yet, or [`Next::End`].
    fn next_frame(&mut self) -> Result<Next<'_>, CaptureError>;

    /// The frame the last [`Self::next_frame`] returned, again (sources that keep it;
    /// used to hold a frame while a replay waits for its time).
    fn current_frame(&self) -> Option<Frame<'_>> {
        None
    }

    /// A short name of the source for reports and file names (`file.pcap`, `eth0`).
    fn name(&self) -> &str;

    /// Reading progress, where the source can tell.
    fn progress(&self) -> Option<Progress> {
        None
    }

    /// A problem that ended reading early (e.g. a file truncated mid-packet).
    fn warning(&self) -> Option<&Warning> {
        None
    }

    /// Kernel-side capture counters, for live sources.
    fn kernel_stats(&mut self) -> Option<KernelStats> {
        None
    }

    /// A current problem the source is working around (e.g. "eth0 is down, retrying").
    fn status(&self) -> Option<&str> {
        None
    }
}
