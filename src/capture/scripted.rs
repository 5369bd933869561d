//! An in-memory source for tests and benchmarks: frames scripted up front.

pub use crate::packet::OwnedFrame;

use super::{CaptureError, Frame, Next, PacketSource};

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
