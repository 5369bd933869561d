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
/// The longest wait between two packets of a replay: a longer gap in packet time (a
/// capture paused overnight, a packet dated decades ahead) is cut to this.
pub const MAX_GAP: Duration = Duration::from_secs(5);

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
    /// The longest wait between two packets ([`MAX_GAP`]).
    max_gap: Duration,
}

impl<S: PacketSource> PacedSource<S> {
    /// Paces `inner` by `control`.
    pub fn new(inner: S, control: Arc<ReplayControl>) -> Self {
        PacedSource { inner, control, anchor: None, max_gap: MAX_GAP }
    }

    /// Cuts gaps to `gap` instead of [`MAX_GAP`].
    pub fn with_max_gap(mut self, gap: Duration) -> Self {
        self.max_gap = gap;
        self
    }

    /// Waits until the frame at packet time `ts` is due; false if stopped meanwhile. A
    /// packet earlier than the schedule's anchor (a clock stepped back) starts a new
    /// schedule; a gap longer than [`MAX_GAP`] of wall time is cut to that.
    fn wait_for(&mut self, ts: Nanos) -> bool {
        let started = Instant::now();
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
            if ts < base {
                self.anchor = Some((Instant::now(), ts, speed));
                return true;
            }
            let due = (ts.saturating_sub(base) as f64 / 1e9) / speed;
            let left = due - wall.elapsed().as_secs_f64();
            if left <= 0.0 {
                return true;
            }
            if left > self.max_gap.as_secs_f64() && started.elapsed() >= self.max_gap {
                // A long quiet stretch (or a packet dated far ahead): go on from here.
                self.anchor = Some((Instant::now(), ts, speed));
                return true;
            }
            std::thread::sleep(Duration::from_secs_f64(left.min(SLICE.as_secs_f64())));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::scripted::OwnedFrame;
    use crate::capture::{LinkType, NANOS_PER_SEC, ScriptedSource};

    fn times(frames: &[Nanos], speed: f64) -> (Vec<Nanos>, Duration) {
        let script = frames.iter().map(|&ts| OwnedFrame::new(ts, LinkType::RAW, vec![0x45; 20])).collect();
        let control = ReplayControl::new(speed, Arc::new(AtomicBool::new(false)));
        let mut paced = PacedSource::new(ScriptedSource::new(script), control).with_max_gap(Duration::from_millis(200));
        let started = Instant::now();
        let mut seen = Vec::new();
        while let Next::Frame(f) = paced.next_frame().unwrap() {
            seen.push(f.ts);
        }
        (seen, started.elapsed())
    }

    #[test]
    fn far_future_and_backward_packets_never_hang_a_replay() {
        let s = NANOS_PER_SEC;
        let frames = [100 * s, 100 * s + 1_000_000, crate::capture::MAX_TS, 100 * s, 40 * s, 41 * s];
        for speed in [0.01, 1.0, 256.0] {
            let (seen, took) = times(&frames, speed);
            assert_eq!(seen, frames, "every packet, in order, at speed {speed}");
            // 1 ms at 0.01x is 0.1 s, the jump ahead is cut to 0.2 s, the step back and
            // the second after it are 1 s of packet time (at 0.01x: cut to 0.2 s).
            assert!(took < Duration::from_secs(3), "speed {speed}: {took:?}");
        }
    }
}
