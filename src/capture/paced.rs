//! Replay at the pace of the packet timestamps: `--speed X`, pause, resume.
//!
//! Wraps any source. A frame is released when wall time since the anchor reaches its
//! packet-time offset divided by the speed. Changing speed or resuming moves the anchor
//! to "now, at this packet", so the replay never bursts to catch up. Waiting happens in
//! short slices so a stop request is seen within [`SLICE`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::{CaptureError, KernelStats, Nanos, Next, PacketSource, Progress, Warning};

/// Longest single sleep while waiting for a frame's time.
const SLICE: Duration = Duration::from_millis(50);

/// Shared knobs of a replay.
#[derive(Debug)]
pub struct ReplayControl {
    speed_bits: AtomicU64,
    paused: AtomicBool,
    stop: Arc<AtomicBool>,
}

impl ReplayControl {
    /// Speed `speed` (`f64::INFINITY` = as fast as possible), stopping when `stop` is set.
    pub fn new(speed: f64, stop: Arc<AtomicBool>) -> Arc<Self> {
        Arc::new(ReplayControl { speed_bits: AtomicU64::new(speed.to_bits()), paused: AtomicBool::new(false), stop })
    }

    /// Current speed.
    pub fn speed(&self) -> f64 {
        f64::from_bits(self.speed_bits.load(Ordering::Relaxed))
    }

    /// Sets the speed.
    pub fn set_speed(&self, speed: f64) {
        self.speed_bits.store(speed.to_bits(), Ordering::Relaxed);
    }

    /// Pauses or resumes.
    pub fn set_paused(&self, paused: bool) {
        self.paused.store(paused, Ordering::Relaxed);
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// A source replayed in (scaled) real time.
pub struct PacedSource<S> {
    inner: S,
    control: Arc<ReplayControl>,
    /// (wall time, packet time, speed) that the schedule is measured from.
    anchor: Option<(Instant, Nanos, f64)>,
}

impl<S: PacketSource> PacedSource<S> {
    /// Paces `inner` by `control`.
    pub fn new(inner: S, control: Arc<ReplayControl>) -> Self {
        PacedSource { inner, control, anchor: None }
    }

    /// Waits until the frame at packet time `ts` is due; false if stopped meanwhile.
    fn wait_for(&mut self, ts: Nanos) -> bool {
        loop {
            if self.control.stopped() {
                return false;
            }
            let speed = self.control.speed();
            if self.control.paused.load(Ordering::Relaxed) {
                self.anchor = None;
                std::thread::sleep(SLICE);
                continue;
            }
            if !speed.is_finite() || speed <= 0.0 {
                self.anchor = None;
                return true;
            }
            let (wall, base, at_speed) = *self.anchor.get_or_insert((Instant::now(), ts, speed));
            if at_speed != speed {
                self.anchor = Some((Instant::now(), ts, speed));
                continue;
            }
            // Packets out of order (earlier than the anchor) are due at once.
            let offset = Duration::from_secs_f64(((ts - base).max(0) as f64 / 1e9) / speed);
            match (wall + offset).checked_duration_since(Instant::now()) {
                None => return true,
                Some(left) => std::thread::sleep(left.min(SLICE)),
            }
        }
    }
}

impl<S: PacketSource> PacketSource for PacedSource<S> {
    fn next_frame(&mut self) -> Result<Next<'_>, CaptureError> {
        // Peek the time first (the frame's bytes stay valid in the inner source until
        // its next call), wait, then hand the same frame out.
        let ts = match self.inner.next_frame()? {
            Next::Frame(f) => f.ts,
            other => {
                return Ok(match other {
                    Next::Idle => Next::Idle,
                    _ => Next::End,
                });
            }
        };
        if !self.wait_for(ts) {
            return Ok(Next::End);
        }
        self.inner.current_frame().map_or(Ok(Next::Idle), |f| Ok(Next::Frame(f)))
    }

    fn name(&self) -> &str {
        self.inner.name()
    }

    fn progress(&self) -> Option<Progress> {
        self.inner.progress()
    }

    fn warning(&self) -> Option<&Warning> {
        self.inner.warning()
    }

    fn kernel_stats(&mut self) -> Option<KernelStats> {
        self.inner.kernel_stats()
    }

    fn status(&self) -> Option<&str> {
        self.inner.status()
    }
}
