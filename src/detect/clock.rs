//! Detection time: packet time made safe to run detectors on.
//!
//! Detectors measure rates, quiet periods and ticks in packet time, so they need a time
//! that moves forward and without absurd leaps. A capture's timestamps may not: a packet
//! dated decades ahead in the middle of a file, a live clock stepped back an hour by NTP,
//! a merge of two captures. The clock here:
//! - follows packet time while it stays within [`JUMP`] of the clock (small disorder
//!   within [`SLACK`] is passed through as it is);
//! - holds a packet far outside that at the clock's time, until [`CONFIRM`] packets in a
//!   row agree on the new time: a lone odd packet never moves it;
//! - when they agree on a later time, jumps there (a capture resumed after a long gap);
//!   on an earlier time (a clock stepped back), keeps going forward from where it was,
//!   with an offset, so incidents still age and end.
//!
//! Reports are made in detection time and mapped back to packet time ([`Clock::to_real`])
//! before anyone sees them, so alert times and alert pcaps name the packets' own times.

use std::collections::VecDeque;

use crate::packet::{MAX_TS, NANOS_PER_SEC, Nanos};

/// How far ahead of the clock a packet may be and still move it at once.
pub const JUMP: Nanos = 600 * NANOS_PER_SEC;
/// How far behind the clock a packet may be and still count as in order.
pub const SLACK: Nanos = 10 * NANOS_PER_SEC;
/// Packets in a row (within [`JUMP`] of each other) that confirm a new time.
pub const CONFIRM: u32 = 8;
/// Offset segments remembered for mapping reports back.
const SEGMENTS: usize = 64;

/// The detection clock (see the module doc).
#[derive(Clone, Debug, Default)]
pub struct Clock {
    now: Option<Nanos>,
    /// Detection time = packet time + offset, in the current segment.
    offset: Nanos,
    /// Packets far from the clock that agree with each other: (first one's time, count).
    suspect: Option<(Nanos, u32)>,
    /// (detection time the segment starts at, its offset), oldest first.
    segments: VecDeque<(Nanos, Nanos)>,
    /// Packets held at the clock's time because theirs was far off.
    held: u64,
}

impl Clock {
    /// The detection time of a packet at packet time `ts` (in `0..=MAX_TS`).
    pub fn place(&mut self, ts: Nanos) -> Nanos {
        let t = ts.saturating_add(self.offset).min(MAX_TS);
        let Some(now) = self.now else {
            self.now = Some(t);
            return t;
        };
        if t >= now.saturating_sub(SLACK) && t <= now.saturating_add(JUMP) {
            self.suspect = None;
            self.now = Some(now.max(t));
            return t;
        }
        let agree = match self.suspect {
            Some((first, n)) if (ts - first).abs() <= JUMP => (first, n + 1),
            _ => (ts, 1),
        };
        if agree.1 < CONFIRM {
            self.suspect = Some(agree);
            self.held += 1;
            return now;
        }
        self.suspect = None;
        if t > now {
            self.now = Some(t);
            return t;
        }
        // Stepped back: go on just after the clock. Past MAX_TS (a file stepping back
        // again and again), start over at the packet's own time instead.
        let offset = now.saturating_add(1).saturating_sub(ts);
        let (offset, start) = if ts.saturating_add(offset) >= MAX_TS { (0, ts) } else { (offset, ts + offset) };
        self.offset = offset;
        if self.segments.len() == SEGMENTS {
            self.segments.pop_front();
        }
        self.segments.push_back((start, offset));
        self.now = Some(start);
        start
    }

    /// The clock's time (the latest detection time), if any packet was seen.
    pub fn now(&self) -> Option<Nanos> {
        self.now
    }

    /// Packets whose time was far off and that were held at the clock's time.
    pub fn held(&self) -> u64 {
        self.held
    }

    /// The packet time of detection time `t`.
    pub fn to_real(&self, t: Nanos) -> Nanos {
        let offset = self.segments.iter().rev().find(|(start, _)| *start <= t).map_or(0, |(_, o)| *o);
        (t - offset).max(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Nanos = NANOS_PER_SEC;

    #[test]
    fn ordinary_time_passes_through() {
        let mut c = Clock::default();
        for ts in [10 * S, 11 * S, 11 * S - 5, 600 * S] {
            assert_eq!(c.place(ts), ts);
            assert_eq!(c.to_real(ts), ts);
        }
    }

    #[test]
    fn a_lone_packet_from_the_future_is_held() {
        let mut c = Clock::default();
        c.place(100 * S);
        assert_eq!(c.place(4_000_000_000 * S), 100 * S);
        assert_eq!(c.place(101 * S), 101 * S);
        assert_eq!((c.now(), c.held()), (Some(101 * S), 1));
    }

    #[test]
    fn a_confirmed_jump_ahead_is_followed() {
        let mut c = Clock::default();
        c.place(100 * S);
        let later = 100_000 * S;
        let placed: Vec<Nanos> = (0..10).map(|i| c.place(later + i)).collect();
        assert_eq!(&placed[..7], &[100 * S; 7]);
        assert_eq!(placed[7..], [later + 7, later + 8, later + 9]);
    }

    #[test]
    fn a_clock_stepped_back_keeps_going_forward_and_maps_back() {
        let mut c = Clock::default();
        c.place(5000 * S);
        let back = 5000 * S - 3600 * S;
        let placed: Vec<Nanos> = (0..20).map(|i| c.place(back + i * S)).collect();
        assert!(placed.windows(2).all(|w| w[0] <= w[1]), "{placed:?}");
        assert!(placed[19] > 5000 * S && placed[19] < 5020 * S, "{placed:?}");
        assert_eq!(c.to_real(placed[19]), back + 19 * S);
        assert_eq!(c.to_real(4000 * S), 4000 * S, "times before the step map to themselves");
    }

    #[test]
    fn extremes_never_overflow() {
        let mut c = Clock::default();
        for round in 0..50 {
            for ts in [MAX_TS, 0, MAX_TS / 2, 1] {
                for k in 0..CONFIRM as i64 {
                    let t = c.place((ts - k).clamp(0, MAX_TS));
                    assert!((0..=MAX_TS).contains(&t), "round {round}: {t}");
                }
            }
        }
    }
}
