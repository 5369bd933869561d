//! Sliding-window time series: per-protocol packets and bytes in fixed-width buckets.
//!
//! A [`Series`] is a ring of buckets that slides forward with packet time. Packets a
//! little out of order land in their own bucket; packets older than the window are
//! counted as `late` and otherwise ignored. [`SeriesSet`] keeps three resolutions: one
//! second for the recent minutes, ten seconds for the last hour, one minute for a day.

use super::Counter;
use crate::decode::Proto;
use crate::packet::{NANOS_PER_SEC, Nanos};

/// Counters of one bucket, indexed by [`Proto::index`].
pub type Bucket = [Counter; Proto::COUNT];

/// A ring of equal-width buckets ending at the newest packet's bucket.
#[derive(Clone, Debug)]
pub struct Series {
    width: Nanos,
    buckets: Vec<Bucket>,
    /// Bucket number (ts / width) of the newest bucket, once anything was recorded.
    head: Option<i64>,
    /// Time range and slot of the newest bucket: most packets land there, and this
    /// spares them the division.
    head_range: (Nanos, Nanos),
    head_slot: usize,
    late: u64,
}

impl Series {
    /// `len` buckets of `width` nanoseconds each.
    pub fn new(width: Nanos, len: usize) -> Self {
        assert!(width > 0 && len > 0, "a series needs a positive width and length");
        Series { width, buckets: vec![Bucket::default(); len], head: None, head_range: (0, 0), head_slot: 0, late: 0 }
    }

    /// Bucket width in nanoseconds.
    pub fn width(&self) -> Nanos {
        self.width
    }

    /// Packets too old for the window when they arrived.
    pub fn late(&self) -> u64 {
        self.late
    }

    fn slot(&self, n: i64) -> usize {
        n.rem_euclid(self.buckets.len() as i64) as usize
    }

    /// Counts a packet of class `proto` and `bytes` at time `ts`.
    #[inline]
    pub fn add(&mut self, ts: Nanos, proto: Proto, bytes: u32) {
        if ts >= self.head_range.0 && ts < self.head_range.1 {
            self.buckets[self.head_slot][proto.index()].add(bytes);
            return;
        }
        self.add_slow(ts, proto, bytes);
    }

    fn add_slow(&mut self, ts: Nanos, proto: Proto, bytes: u32) {
        let n = ts.div_euclid(self.width);
        let len = self.buckets.len() as i64;
        let head = match self.head {
            None => n,
            Some(h) if n > h => {
                // Clear every bucket the window slides over (at most the whole ring).
                for k in (h + 1).max(n - len + 1)..=n {
                    let s = self.slot(k);
                    self.buckets[s] = Bucket::default();
                }
                n
            }
            Some(h) if n <= h - len => {
                self.late += 1;
                return;
            }
            Some(h) => h,
        };
        self.head = Some(head);
        let start = head.saturating_mul(self.width);
        self.head_range = (start, start.saturating_add(self.width));
        self.head_slot = self.slot(head);
        let s = self.slot(n);
        self.buckets[s][proto.index()].add(bytes);
    }

    /// Buckets oldest to newest as (bucket start time, counters); empty before any packet.
    pub fn iter(&self) -> impl Iterator<Item = (Nanos, &Bucket)> + '_ {
        let len = self.buckets.len() as i64;
        let head = self.head;
        (0..if head.is_some() { len } else { 0 }).map(move |i| {
            let n = head.unwrap_or(0) - len + 1 + i;
            (n * self.width, &self.buckets[self.slot(n)])
        })
    }
}

/// The three resolutions kept.
#[derive(Clone, Debug)]
pub struct SeriesSet {
    /// 1-second buckets.
    pub secs: Series,
    /// 10-second buckets.
    pub tens: Series,
    /// 1-minute buckets.
    pub mins: Series,
}

impl SeriesSet {
    /// 1 s × `window_secs`, 10 s × 360 (an hour), 60 s × 1440 (a day).
    pub fn new(window_secs: usize) -> Self {
        SeriesSet {
            secs: Series::new(NANOS_PER_SEC, window_secs.max(1)),
            tens: Series::new(10 * NANOS_PER_SEC, 360),
            mins: Series::new(60 * NANOS_PER_SEC, 1440),
        }
    }

    /// Counts one packet in every resolution.
    pub fn add(&mut self, ts: Nanos, proto: Proto, bytes: u32) {
        self.secs.add(ts, proto, bytes);
        self.tens.add(ts, proto, bytes);
        self.mins.add(ts, proto, bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Nanos = NANOS_PER_SEC;

    fn packets(s: &Series) -> Vec<u64> {
        s.iter().map(|(_, b)| b.iter().map(|c| c.packets).sum()).collect()
    }

    #[test]
    fn slides_and_clears() {
        let mut s = Series::new(S, 3);
        s.add(10 * S, Proto::Tcp, 100);
        s.add(10 * S + 5, Proto::Udp, 50);
        s.add(11 * S, Proto::Tcp, 1);
        assert_eq!(packets(&s), vec![0, 2, 1]);
        s.add(13 * S, Proto::Tcp, 1);
        assert_eq!(packets(&s), vec![1, 0, 1]);
        assert_eq!(s.iter().next().unwrap().0, 11 * S);
        // A jump longer than the window clears everything.
        s.add(100 * S, Proto::Arp, 1);
        assert_eq!(packets(&s), vec![0, 0, 1]);
    }

    #[test]
    fn out_of_order_and_late() {
        let mut s = Series::new(S, 3);
        s.add(10 * S, Proto::Tcp, 1);
        s.add(9 * S, Proto::Tcp, 1);
        assert_eq!(packets(&s), vec![0, 1, 1]);
        s.add(7 * S, Proto::Tcp, 1);
        assert_eq!((packets(&s), s.late()), (vec![0, 1, 1], 1));
        let bytes: u64 = s.iter().map(|(_, b)| b[Proto::Tcp.index()].bytes).sum();
        assert_eq!(bytes, 2);
    }

    #[test]
    fn negative_times_bucket_correctly() {
        let mut s = Series::new(S, 2);
        s.add(-1, Proto::Tcp, 1);
        assert_eq!(s.iter().last().unwrap().0, -S);
    }
}
