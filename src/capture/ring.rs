//! The packet ring: raw bytes of the recent packets, for dumping a window to pcap.
//!
//! Lock-free, one writer (the capture thread) and any number of readers (dumps), and the
//! writer never waits. One preallocated byte arena used circularly, and a circular table
//! of records (time, link type, lengths, position). Positions are global byte counts
//! that only grow, so "has this been overwritten?" is a comparison.
//!
//! A reader never blocks the writer; instead it validates what it copied, the way a
//! seqlock does. The writer first publishes how far it is about to overwrite
//! (`overwritten_to`), then writes; a reader copies a packet's bytes, then checks that
//! mark: if the writer lapped the packet meanwhile, the copy is dropped and counted
//! ([`PacketRing::overwritten`]), never returned torn. Records carry their own sequence
//! number, checked before and after reading them. Everything is atomics (relaxed loads
//! and stores of whole words, ordered by fences), so there is no data race anywhere.
//! Pushing allocates nothing.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering, fence};

use super::scripted::OwnedFrame;
use super::{Frame, LinkType, Nanos};

/// One record's fields, each an atomic so that readers may race the writer.
#[derive(Default)]
struct Slot {
    /// Record number + 1 once written; 0 while being written.
    seq: AtomicU64,
    ts: AtomicI64,
    /// Link type (16 bits) and original length (32 bits).
    meta: AtomicU64,
    /// Global byte position of the packet's first byte, and its length (in the low 24 bits
    /// of `len`... kept whole in its own word for simplicity).
    start: AtomicU64,
    len: AtomicU64,
}

/// Recent packets, bounded by bytes and by age. Shared by reference: [`push`] from the
/// one capture thread, [`collect`] from anywhere.
///
/// [`push`]: PacketRing::push
/// [`collect`]: PacketRing::collect
pub struct PacketRing {
    arena: Box<[AtomicU64]>,
    slots: Box<[Slot]>,
    window: Nanos,
    /// Records written so far.
    count: AtomicU64,
    /// Global byte position the next packet starts at (writer only; atomic for `span`).
    head: AtomicU64,
    /// Bytes before this global position may have been overwritten.
    overwritten_to: AtomicU64,
    dropped_too_big: AtomicU64,
    /// Copies readers discarded because the writer lapped them.
    overwritten: AtomicU64,
    /// Set while a push runs: there must be one writer.
    writing: AtomicBool,
}

impl std::fmt::Debug for PacketRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PacketRing").field("bytes", &self.capacity()).field("packets", &self.len()).finish()
    }
}

/// `n` zeroed words, straight from a zeroed allocation: pages the ring has not written
/// yet cost no memory.
fn zeroed(n: usize) -> Box<[AtomicU64]> {
    let words = vec![0u64; n].into_boxed_slice();
    // Huge pages where the system offers them on request: a ring that fills takes 32
    // page faults per 64 MB instead of 16,384, and its writes miss the TLB less. Advice
    // only: refused, nothing changes.
    #[cfg(target_os = "linux")]
    if n * 8 >= 4 << 20 {
        // The whole pages inside the allocation (madvise wants a page-aligned start).
        let (start, end) = (words.as_ptr() as usize, words.as_ptr() as usize + n * 8);
        let (first, last) = (start.next_multiple_of(4096), end & !4095);
        // SAFETY: the range lies inside this allocation; MADV_HUGEPAGE changes no contents.
        unsafe {
            libc::madvise(first as *mut libc::c_void, last - first, libc::MADV_HUGEPAGE);
        }
    }
    // SAFETY: AtomicU64 has the same size, alignment and bit validity as u64.
    unsafe { Box::from_raw(Box::into_raw(words) as *mut [AtomicU64]) }
}

/// Bytes per arena word.
const WORD: u64 = 8;
/// An average packet size the record table is sized for (smaller packets fill the table
/// before the arena, which is fine: the oldest go either way).
const MEAN_PACKET: usize = 96;

impl PacketRing {
    /// A ring of `bytes` that keeps at most `window` nanoseconds of packets.
    ///
    /// `bytes` covers the records and the packets' bytes together (records for packets
    /// of [`MEAN_PACKET`] on average), so `--ring-mb` is what the ring costs; rings too
    /// small for 64 records (tests) get those on top.
    pub fn new(bytes: usize, window: Nanos) -> Self {
        let record = std::mem::size_of::<Slot>();
        let fitting = bytes / (MEAN_PACKET + record);
        let (slots, arena) = if fitting >= 64 {
            let slots = fitting.min(1 << 22);
            (slots, bytes - slots * record)
        } else {
            (64, bytes)
        };
        let words = arena.div_ceil(WORD as usize).max(1);
        PacketRing {
            arena: zeroed(words),
            slots: (0..slots).map(|_| Slot::default()).collect(),
            window,
            count: AtomicU64::new(0),
            head: AtomicU64::new(0),
            overwritten_to: AtomicU64::new(0),
            dropped_too_big: AtomicU64::new(0),
            overwritten: AtomicU64::new(0),
            writing: AtomicBool::new(false),
        }
    }

    fn capacity(&self) -> u64 {
        self.arena.len() as u64 * WORD
    }

    /// Keeps a copy of `frame`, overwriting the oldest bytes as needed. Only one thread
    /// may push (the capture thread); it never waits for readers.
    pub fn push(&self, frame: &Frame<'_>) {
        let was = self.writing.swap(true, Ordering::Acquire);
        debug_assert!(!was, "one writer at a time");
        self.push_inner(frame);
        self.writing.store(false, Ordering::Release);
    }

    fn push_inner(&self, frame: &Frame<'_>) {
        let len = frame.data.len() as u64;
        let cap = self.capacity();
        if len > cap {
            self.dropped_too_big.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let mut start = self.head.load(Ordering::Relaxed);
        // A packet never wraps: one that would cross the arena's end starts at its start.
        if start % cap + len > cap {
            start += cap - start % cap;
        }
        let end = (start + len).next_multiple_of(WORD);
        // Announce what is about to be overwritten, then overwrite it.
        self.overwritten_to.store(end.saturating_sub(cap), Ordering::Relaxed);
        let n = self.count.load(Ordering::Relaxed);
        let slot = &self.slots[(n % self.slots.len() as u64) as usize];
        slot.seq.store(0, Ordering::Relaxed);
        fence(Ordering::Release);
        let first = ((start % cap) / WORD) as usize;
        for (i, chunk) in frame.data.chunks(WORD as usize).enumerate() {
            let mut word = [0u8; WORD as usize];
            word[..chunk.len()].copy_from_slice(chunk);
            self.arena[first + i].store(u64::from_ne_bytes(word), Ordering::Relaxed);
        }
        slot.ts.store(frame.ts, Ordering::Relaxed);
        slot.meta.store(u64::from(frame.linktype.0) << 32 | u64::from(frame.orig_len), Ordering::Relaxed);
        slot.start.store(start, Ordering::Relaxed);
        slot.len.store(len, Ordering::Relaxed);
        slot.seq.store(n + 1, Ordering::Release);
        self.head.store(end, Ordering::Relaxed);
        self.count.store(n + 1, Ordering::Release);
    }

    /// One record, if it is still whole: (ts, linktype, orig_len, start, len).
    fn record(&self, n: u64) -> Option<(Nanos, LinkType, u32, u64, u64)> {
        let slot = &self.slots[(n % self.slots.len() as u64) as usize];
        if slot.seq.load(Ordering::Acquire) != n + 1 {
            return None;
        }
        let ts = slot.ts.load(Ordering::Relaxed);
        let meta = slot.meta.load(Ordering::Relaxed);
        let (start, len) = (slot.start.load(Ordering::Relaxed), slot.len.load(Ordering::Relaxed));
        fence(Ordering::Acquire);
        if slot.seq.load(Ordering::Relaxed) != n + 1 {
            return None;
        }
        Some((ts, LinkType((meta >> 32) as u16), meta as u32, start, len))
    }

    /// The bytes at global position `start`, if the writer has not lapped them.
    fn bytes(&self, start: u64, len: u64, out: &mut Vec<u8>) -> bool {
        let cap = self.capacity();
        if start < self.overwritten_to.load(Ordering::Acquire) {
            return false;
        }
        out.clear();
        let first = ((start % cap) / WORD) as usize;
        for i in 0..(len.div_ceil(WORD) as usize) {
            out.extend_from_slice(&self.arena[first + i].load(Ordering::Relaxed).to_ne_bytes());
        }
        out.truncate(len as usize);
        fence(Ordering::Acquire);
        start >= self.overwritten_to.load(Ordering::Relaxed)
    }

    /// The records that may still be held, oldest first.
    fn candidates(&self) -> std::ops::Range<u64> {
        let n = self.count.load(Ordering::Acquire);
        n.saturating_sub(self.slots.len() as u64)..n
    }

    /// Packets held (those whose bytes have not been overwritten yet).
    pub fn len(&self) -> usize {
        let floor = self.overwritten_to.load(Ordering::Acquire);
        self.candidates().filter(|&n| self.record(n).is_some_and(|r| r.3 >= floor)).count()
    }

    /// Whether the ring holds no packet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Time of the oldest and newest packet held (within the age window).
    pub fn span(&self) -> Option<(Nanos, Nanos)> {
        let floor = self.overwritten_to.load(Ordering::Acquire);
        let newest = self.candidates().rev().find_map(|n| self.record(n))?.0;
        let oldest = self
            .candidates()
            .filter_map(|n| self.record(n))
            .find(|r| r.3 >= floor && newest.saturating_sub(r.0) <= self.window)?
            .0;
        Some((oldest, newest))
    }

    /// Hands `f` each packet with `from <= ts < to`, oldest first, from a reused buffer.
    /// Never blocks the writer: a packet it overwrites meanwhile is left out and counted
    /// in [`PacketRing::overwritten`].
    pub fn visit(&self, from: Nanos, to: Nanos, mut f: impl FnMut(&Frame<'_>)) {
        let range = self.candidates();
        let newest = range.clone().rev().find_map(|n| self.record(n)).map_or(Nanos::MIN, |r| r.0);
        let mut buf = Vec::new();
        for n in range {
            let Some((ts, linktype, orig_len, start, len)) = self.record(n) else {
                self.overwritten.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            if ts < from || ts >= to || newest.saturating_sub(ts) > self.window {
                continue;
            }
            if start < self.overwritten_to.load(Ordering::Acquire) {
                continue; // long gone before this dump began: not a race
            }
            if !self.bytes(start, len, &mut buf) {
                self.overwritten.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            f(&Frame { ts, linktype, data: &buf, orig_len });
        }
    }

    /// Copies of the packets with `from <= ts < to` that `keep` accepts, oldest first
    /// (see [`PacketRing::visit`]).
    pub fn collect(&self, from: Nanos, to: Nanos, mut keep: impl FnMut(&Frame<'_>) -> bool) -> Vec<OwnedFrame> {
        let mut out = Vec::new();
        self.visit(from, to, |frame| {
            if keep(frame) {
                out.push(OwnedFrame {
                    ts: frame.ts,
                    linktype: frame.linktype,
                    data: frame.data.to_vec(),
                    orig_len: frame.orig_len,
                });
            }
        });
        out
    }

    /// Packets that dumps had to leave out because capture overwrote them while they
    /// were being copied.
    pub fn overwritten(&self) -> u64 {
        self.overwritten.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_costs_what_it_was_given() {
        for mb in [1usize, 16, 64, 1024] {
            let bytes = mb << 20;
            let ring = PacketRing::new(bytes, Nanos::MAX);
            let total = ring.capacity() as usize + ring.slots.len() * std::mem::size_of::<Slot>();
            assert!(total <= bytes + WORD as usize && total > bytes * 9 / 10, "{mb} MiB: {total}");
        }
    }

    fn frame(ts: Nanos, byte: u8, len: usize) -> OwnedFrame {
        OwnedFrame::new(ts, LinkType::ETHERNET, vec![byte; len])
    }

    #[test]
    fn keeps_the_newest_bytes_intact() {
        let ring = PacketRing::new(100, Nanos::MAX);
        for i in 0..20u8 {
            ring.push(&frame(i64::from(i), i, 30).as_frame());
        }
        // 104 bytes (13 words) hold three 30-byte packets (32 bytes each, word-aligned).
        let kept = ring.collect(0, Nanos::MAX, |_| true);
        assert_eq!(kept.iter().map(|f| f.data[0]).collect::<Vec<_>>(), [17, 18, 19]);
        assert!(kept.iter().all(|f| f.data.iter().all(|b| *b == f.data[0])), "no torn packets");
        assert_eq!(ring.span(), Some((17, 19)));
        assert_eq!(ring.len(), 3);
    }

    #[test]
    fn evicts_by_age_and_filters_on_collect() {
        let ring = PacketRing::new(10_000, 100);
        for ts in [0, 50, 120, 150, 220] {
            ring.push(&frame(ts, ts as u8, 10).as_frame());
        }
        assert_eq!(ring.span(), Some((120, 220)));
        let kept = ring.collect(100, 200, |f| f.ts != 150);
        assert_eq!(kept.iter().map(|f| f.ts).collect::<Vec<_>>(), [120]);
    }

    #[test]
    fn oversized_packets_are_skipped() {
        let ring = PacketRing::new(16, Nanos::MAX);
        ring.push(&frame(1, 1, 17).as_frame());
        assert!(ring.is_empty());
        ring.push(&frame(2, 2, 16).as_frame());
        ring.push(&frame(3, 3, 16).as_frame());
        assert_eq!(ring.len(), 1);
        assert_eq!(ring.collect(0, 10, |_| true)[0].data, vec![3; 16]);
    }

    #[test]
    fn dumps_racing_the_writer_never_see_a_torn_packet() {
        // Each packet is filled with one byte and its length encodes that byte, so a
        // torn copy (bytes of two packets) is visible.
        let ring = std::sync::Arc::new(PacketRing::new(64 << 10, Nanos::MAX));
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let writer = {
            let (ring, stop) = (ring.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) || i < 200_000 {
                    let b = (i % 251) as u8;
                    ring.push(&frame(i as Nanos, b, 40 + usize::from(b) % 60).as_frame());
                    i += 1;
                }
                i
            })
        };
        let (mut seen, mut rounds) = (0, 0);
        while rounds < 2000 || (seen == 0 && rounds < 1_000_000) {
            rounds += 1;
            for f in ring.collect(0, Nanos::MAX, |_| true) {
                let b = f.data[0];
                assert_eq!(f.data.len(), 40 + usize::from(b) % 60, "length of packet {}", f.ts);
                assert!(f.data.iter().all(|x| *x == b), "torn packet {}", f.ts);
                assert_eq!(f.ts as u64 % 251, u64::from(b));
                seen += 1;
            }
        }
        stop.store(true, Ordering::Relaxed);
        let pushed = writer.join().unwrap();
        assert!(seen > 0 && pushed >= 200_000, "seen {seen}, pushed {pushed}, overwritten {}", ring.overwritten());
    }
}
