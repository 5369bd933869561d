//! The packet ring: raw bytes of the recent packets, for dumping a window to pcap.
//!
//! One preallocated byte arena used circularly, plus a queue of records (time, link
//! type, lengths, position). A packet that does not fit before the arena's end starts
//! again at zero; the oldest records are evicted as the writer laps them, and records
//! older than the time window go too. Pushing allocates nothing.

use std::collections::VecDeque;

use super::scripted::OwnedFrame;
use super::{Frame, LinkType, Nanos};

#[derive(Clone, Copy, Debug)]
struct Record {
    ts: Nanos,
    linktype: LinkType,
    orig_len: u32,
    start: usize,
    len: usize,
}

/// Recent packets, bounded by bytes and by age.
#[derive(Debug)]
pub struct PacketRing {
    arena: Vec<u8>,
    records: VecDeque<Record>,
    head: usize,
    window: Nanos,
    dropped_too_big: u64,
}

impl PacketRing {
    /// A ring of `bytes` that keeps at most `window` nanoseconds of packets.
    pub fn new(bytes: usize, window: Nanos) -> Self {
        PacketRing { arena: vec![0; bytes.max(1)], records: VecDeque::new(), head: 0, window, dropped_too_big: 0 }
    }

    /// Keeps a copy of `frame`, evicting what it must.
    pub fn push(&mut self, frame: &Frame<'_>) {
        let len = frame.data.len();
        if len > self.arena.len() {
            self.dropped_too_big += 1;
            return;
        }
        let start = if self.head + len > self.arena.len() { 0 } else { self.head };
        let end = start + len;
        while let Some(r) = self.records.front() {
            let overlaps = r.start < end && start < r.start + r.len.max(1);
            let too_old = frame.ts.saturating_sub(r.ts) > self.window;
            if overlaps || too_old {
                self.records.pop_front();
            } else {
                break;
            }
        }
        self.arena[start..end].copy_from_slice(frame.data);
        self.records.push_back(Record { ts: frame.ts, linktype: frame.linktype, orig_len: frame.orig_len, start, len });
        self.head = end;
    }

    /// Packets held.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the ring is empty.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Time of the oldest and newest packet held.
    pub fn span(&self) -> Option<(Nanos, Nanos)> {
        Some((self.records.front()?.ts, self.records.back()?.ts))
    }

    /// Copies of the packets with `from <= ts < to` that `keep` accepts, oldest first.
    pub fn collect(&self, from: Nanos, to: Nanos, mut keep: impl FnMut(&Frame<'_>) -> bool) -> Vec<OwnedFrame> {
        self.records
            .iter()
            .filter(|r| r.ts >= from && r.ts < to)
            .filter_map(|r| {
                let frame = Frame {
                    ts: r.ts,
                    linktype: r.linktype,
                    data: &self.arena[r.start..r.start + r.len],
                    orig_len: r.orig_len,
                };
                keep(&frame).then(|| OwnedFrame {
                    ts: r.ts,
                    linktype: r.linktype,
                    data: frame.data.to_vec(),
                    orig_len: r.orig_len,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(ts: Nanos, byte: u8, len: usize) -> OwnedFrame {
        OwnedFrame::new(ts, LinkType::ETHERNET, vec![byte; len])
    }

    #[test]
    fn keeps_the_newest_bytes_intact() {
        let mut ring = PacketRing::new(100, Nanos::MAX);
        for i in 0..20u8 {
            ring.push(&frame(i64::from(i), i, 30).as_frame());
        }
        // 100 bytes hold three 30-byte packets.
        let kept = ring.collect(0, Nanos::MAX, |_| true);
        assert_eq!(kept.iter().map(|f| f.data[0]).collect::<Vec<_>>(), [17, 18, 19]);
        assert!(kept.iter().all(|f| f.data.iter().all(|b| *b == f.data[0])), "no torn packets");
        assert_eq!(ring.span(), Some((17, 19)));
    }

    #[test]
    fn evicts_by_age_and_filters_on_collect() {
        let mut ring = PacketRing::new(10_000, 100);
        for ts in [0, 50, 120, 150, 220] {
            ring.push(&frame(ts, ts as u8, 10).as_frame());
        }
        assert_eq!(ring.span(), Some((120, 220)));
        let kept = ring.collect(100, 200, |f| f.ts != 150);
        assert_eq!(kept.iter().map(|f| f.ts).collect::<Vec<_>>(), [120]);
    }

    #[test]
    fn oversized_packets_are_skipped() {
        let mut ring = PacketRing::new(10, Nanos::MAX);
        ring.push(&frame(1, 1, 11).as_frame());
        assert!(ring.is_empty());
        ring.push(&frame(2, 2, 10).as_frame());
        ring.push(&frame(3, 3, 10).as_frame());
        assert_eq!(ring.len(), 1);
    }
}
