//! An in-memory source for tests and benchmarks: frames scripted up front.

use super::{CaptureError, Frame, LinkType, Nanos, Next, PacketSource};

/// One owned frame of a script.
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

/// Replays a list of frames in order, then ends.
#[derive(Clone, Debug, Default)]
pub struct ScriptedSource {
    frames: Vec<OwnedFrame>,
    next: usize,
}

impl ScriptedSource {
    /// A source that yields `frames` in order.
    pub fn new(frames: Vec<OwnedFrame>) -> Self {
        ScriptedSource { frames, next: 0 }
    }
}

impl PacketSource for ScriptedSource {
    fn next_frame(&mut self) -> Result<Next<'_>, CaptureError> {
        let Some(f) = self.frames.get(self.next) else { return Ok(Next::End) };
        self.next += 1;
        Ok(Next::Frame(f.as_frame()))
    }

    fn current_frame(&self) -> Option<Frame<'_>> {
        self.next.checked_sub(1).and_then(|i| self.frames.get(i)).map(OwnedFrame::as_frame)
    }

    fn name(&self) -> &str {
        "scripted"
    }
}
