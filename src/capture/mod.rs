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
mod stream;

use std::fmt;

pub use bpf::{BpfError, Filter};
pub use file::FileSource;
pub use live::{KernelStats, LiveConfig, LiveSource};
pub use paced::{PacedSource, ReplayControl};
pub use ring::PacketRing;
pub use scripted::ScriptedSource;

pub use crate::packet::{Frame, LinkType, MAX_TS, NANOS_PER_SEC, Nanos, OwnedFrame};

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
    #[error("{path}: read error: {error}")]
    Io {
        /// The input's name.
        path: String,
        /// The underlying error (in the message, so not also a `source` to print again).
        error: std::io::Error,
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
