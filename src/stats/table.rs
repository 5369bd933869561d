//! A capped hash table shared by the host and flow tables.
//!
//! When an insert would exceed the cap, the least recently seen eighth of the entries is
//! evicted in one sweep (a selection, O(n)), so the amortised cost per insert stays O(1)
//! and a flood of spoofed keys can never grow memory past the cap.

use std::hash::Hash;

use crate::packet::Nanos;

/// Keeps the `n` first rows in `order` (all when `n` is 0), sorted: a selection and a
/// sort of the survivors, not a sort of everything.
pub fn top_n<T>(rows: &mut Vec<T>, n: usize, order: impl Fn(&T, &T) -> std::cmp::Ordering) {
    if n != 0 && n < rows.len() {
        rows.select_nth_unstable_by(n - 1, &order);
        rows.truncate(n);
    }
    rows.sort_unstable_by(order);
}

/// The `n` first items of `items` in `order` (all when `n` is 0), sorted, holding at
/// most `2n` at a time: a view of the top rows of a table of a million entries costs a
/// buffer of a few rows, not a copy of the table.
pub fn top_n_of<T>(items: impl Iterator<Item = T>, n: usize, order: impl Fn(&T, &T) -> std::cmp::Ordering) -> Vec<T> {
    if n == 0 {
        let mut all: Vec<T> = items.collect();
        all.sort_unstable_by(order);
        return all;
    }
    let mut kept = Vec::with_capacity(2 * n);
    // After a cut, `kept[n - 1]` is the n-th best so far: an item behind it can never
    // make the top n, and one comparison drops it (most items, in a big table).
    let mut cut = false;
    for item in items {
        if cut && order(&item, &kept[n - 1]) != std::cmp::Ordering::Less {
            continue;
        }
        kept.push(item);
        if kept.len() == 2 * n {
            kept.select_nth_unstable_by(n - 1, &order);
            kept.truncate(n);
            cut = true;
        }
    }
    top_n(&mut kept, n, order);
    kept
}

/// Something that remembers when it was last seen.
pub trait LastSeen {
    /// Packet time of the latest packet counted in this entry.
    fn last_seen(&self) -> Nanos;
}

/// A bare time is its own last-seen time.
impl LastSeen for Nanos {
    fn last_seen(&self) -> Nanos {
        *self
    }
}

/// How full a capped structure is: entries held, the cap, and entries dropped to stay
/// under it (the summary's `tables`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fill {
    /// Entries held now.
    pub len: usize,
    /// Most entries held at once.
    pub cap: usize,
    /// Entries evicted or dropped so far.
    pub evicted: u64,
}

/// Open-addressing index from key hashes to slab slots: linear probing over 8-byte
/// entries, at most half full, deleted by backward shift (no tombstones).
///
/// An entry is `tag << 32 | (slot + 1)`, 0 being empty, where `tag` is the hash's high
/// 32 bits; its low bits pick the home bucket. Written by hand (not hashbrown) so that a
/// caller who knows a key's hash ahead of time can prefetch its bucket and then its slot:
/// on tables larger than the cache, a flood's lookups are memory-bound, and prefetching a
/// batch of them overlaps the misses ([`CappedTable::prefetch`]).
#[derive(Clone, Debug, Default)]
struct Index {
    entries: Vec<u64>,
    len: usize,
}

impl Index {
    #[inline]
    fn tag(hash: u64) -> u64 {
        hash >> 32
    }

    #[inline]
    fn mask(&self) -> usize {
        self.entries.len().wrapping_sub(1)
    }

    #[inline]
    fn home(&self, hash: u64) -> usize {
        Self::tag(hash) as usize & self.mask()
    }

    /// Position of the entry whose slot satisfies `is`, among those with this hash's tag.
    #[inline]
    fn find(&self, hash: u64, mut is: impl FnMut(u32) -> bool) -> Option<usize> {
        if self.entries.is_empty() {
            return None;
        }
        let (tag, mask) = (Self::tag(hash), self.mask());
        let mut pos = self.home(hash);
        loop {
            let e = self.entries[pos];
            if e == 0 {
                return None;
            }
            if e >> 32 == tag && is((e as u32) - 1) {
                return Some(pos);
            }
            pos = (pos + 1) & mask;
        }
    }

    #[inline]
    fn slot_at(&self, pos: usize) -> usize {
        (self.entries[pos] as u32 - 1) as usize
    }

    #[inline]
    fn set_slot(&mut self, pos: usize, slot: usize) {
        self.entries[pos] = (self.entries[pos] & !0xffff_ffff) | (slot as u64 + 1);
    }

    /// Adds an entry known to be absent; the caller keeps the load at most one half.
    #[inline]
    fn insert(&mut self, hash: u64, slot: usize) {
        let mask = self.mask();
        let mut pos = self.home(hash);
        while self.entries[pos] != 0 {
            pos = (pos + 1) & mask;
        }
        self.entries[pos] = Self::tag(hash) << 32 | (slot as u64 + 1);
        self.len += 1;
    }

    /// Removes the entry at `pos`, shifting later entries of its run back into the hole.
    fn remove(&mut self, pos: usize) {
        let mask = self.mask();
        let (mut hole, mut j) = (pos, pos);
        loop {
            j = (j + 1) & mask;
            let e = self.entries[j];
            if e == 0 {
                break;
            }
            let home = (e >> 32) as usize & mask;
            // `e` may fill the hole when the hole lies between its home and where it sits.
            if j.wrapping_sub(home) & mask >= j.wrapping_sub(hole) & mask {
                self.entries[hole] = e;
                hole = j;
            }
        }
        self.entries[hole] = 0;
        self.len -= 1;
    }

    /// Empties the index and sizes it for `n` entries (a power of two, at least `2n`).
    fn reset(&mut self, n: usize) {
        let buckets = (2 * n).max(16).next_power_of_two();
        self.entries.clear();
        self.entries.resize(buckets, 0);
        self.len = 0;
    }

    #[inline]
    fn prefetch(&self, hash: u64) {
        if !self.entries.is_empty() {
            prefetch(&self.entries[self.home(hash)]);
        }
    }
}

/// Asks the CPU to start loading the cache line at `p` (a hint: no effect on results).
#[inline(always)]
pub fn prefetch<T>(p: &T) {
    prefetch_at((p as *const T).cast());
}

/// [`prefetch`] of every cache line `p` points into (a value written on another core).
#[inline(always)]
pub fn prefetch_lines<T>(p: *const T) {
    for line in (0..std::mem::size_of::<T>()).step_by(64) {
        prefetch_at(p.cast::<u8>().wrapping_add(line));
    }
}

/// [`prefetch`] of any address, even one past an allocation's end.
#[inline(always)]
pub fn prefetch_at(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults and never changes memory, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// A hash map with a maximum size and oldest-first eviction.
///
/// Entries live in a dense slab; the [`Index`] holds only slot numbers (8 bytes a
/// bucket, sized for twice the entries, growing with them up to twice the cap, never
/// shrinking). Eviction removes the oldest eighth from the index and fills their slots
/// from the slab's end: O(evicted), not O(table). A table churned by a flood of one-shot
/// keys stays at its cap and never holds two copies of itself.
///
/// Lookups by a precomputed hash ([`hash`](Self::hash), [`prefetch`](Self::prefetch),
/// [`entry_hashed`](Self::entry_hashed)) let a batch of packets overlap their cache misses.
#[derive(Clone)]
pub struct CappedTable<K, V> {
    index: Index,
    hasher: foldhash::fast::RandomState,
    slots: Vec<(K, V)>,
    /// Each slot's hash, beside the slab: eviction and growth never rehash or touch keys.
    hashes: Vec<u64>,
    /// Each slot's last-seen time, beside the slab, when the owner passes the time of
    /// every touch ([`track_ages`](Self::track_ages)): eviction then reads 8 dense bytes
    /// a slot instead of a cache line of the slab.
    ages: Option<Vec<Nanos>>,
    /// Eviction's scratch (a copy of the ages, the slots as old as the boundary, the slots
    /// chosen), kept between sweeps so that each sweep reuses it.
    sweep: (Vec<Nanos>, Vec<u32>, Vec<u32>),
    cap: usize,
    evicted: u64,
    /// Evicted entries, kept for the owner to take when it asked for them
    /// ([`keep_evicted`](Self::keep_evicted)).
    kept: Option<Vec<(K, V)>>,
}

impl<K: std::fmt::Debug, V: std::fmt::Debug> std::fmt::Debug for CappedTable<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CappedTable").field("len", &self.slots.len()).field("cap", &self.cap).finish()
    }
}

impl<K: Hash + Eq + Ord + Copy, V: LastSeen> CappedTable<K, V> {
    /// An empty table that holds at most `cap` entries (at least 1).
    pub fn new(cap: usize) -> Self {
        let cap = cap.clamp(1, u32::MAX as usize / 2);
        CappedTable {
            index: Index::default(),
            hasher: crate::hash::random_state(),
            slots: Vec::new(),
            hashes: Vec::new(),
            ages: None,
            sweep: (Vec::new(), Vec::new(), Vec::new()),
            cap,
            evicted: 0,
            kept: None,
        }
    }

    /// From now on, evicted entries are kept until [`take_evicted`](Self::take_evicted)
    /// (an owner that must account for every entry, such as flow records).
    pub fn keep_evicted(&mut self) {
        self.kept.get_or_insert_with(Vec::new);
    }

    /// The entries evicted since the last call (always empty unless
    /// [`keep_evicted`](Self::keep_evicted) was asked for).
    pub fn take_evicted(&mut self) -> Vec<(K, V)> {
        self.kept.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// From now on the owner reaches entries only through
    /// [`entry_seen`](Self::entry_seen), which keeps each slot's age beside the slab for
    /// eviction (no other way in may change a value's [`LastSeen`] time).
    pub fn track_ages(&mut self) {
        let slots = &self.slots;
        self.ages.get_or_insert_with(|| slots.iter().map(|(_, v)| v.last_seen()).collect());
    }

    /// [`entry_hashed`](Self::entry_hashed) for a touch at packet time `ts`: the caller
    /// raises the value's last-seen time to `ts`, and the table its copy of it.
    #[inline]
    pub fn entry_seen(&mut self, hash: u64, key: K, ts: Nanos, make: impl FnOnce() -> V) -> &mut V {
        debug_assert_eq!(hash, self.hash(&key));
        if let Some(i) = self.find(hash, &key) {
            if let Some(age) = self.ages.as_mut().and_then(|a| a.get_mut(i)) {
                *age = (*age).max(ts);
            }
            return &mut self.slots[i].1;
        }
        self.insert_new(hash, key, make())
    }

    /// Hands back the (emptied) buffer [`take_evicted`](Self::take_evicted) returned, so
    /// that the next evictions reuse it instead of growing a new one.
    pub fn give_back_evicted(&mut self, mut buf: Vec<(K, V)>) {
        if let Some(kept) = &mut self.kept
            && kept.is_empty()
        {
            buf.clear();
            *kept = buf;
        }
    }

    /// Whether evicted entries wait to be taken.
    pub fn has_evicted(&self) -> bool {
        self.kept.as_ref().is_some_and(|k| !k.is_empty())
    }

    /// The hash this table files `key` under (this run's seed).
    #[inline]
    pub fn hash(&self, key: &K) -> u64 {
        std::hash::BuildHasher::hash_one(&self.hasher, key)
    }

    /// Starts loading what a lookup of `hash` reads first (its index bucket), and, when
    /// that bucket is already in cache, the slot it points at. Call it for a key some
    /// packets ahead, twice (far ahead, then nearer), and the lookup itself finds both in
    /// cache. A hint only: it changes nothing.
    #[inline]
    pub fn prefetch(&self, hash: u64, bucket_only: bool) {
        if bucket_only {
            self.index.prefetch(hash);
            return;
        }
        let Some(&e) = self.index.entries.get(self.index.home(hash)) else { return };
        let i = (e as u32).wrapping_sub(1) as usize;
        if e >> 32 == Index::tag(hash)
            && let Some(slot) = self.slots.get(i)
        {
            prefetch(slot);
            if let Some(age) = self.ages.as_ref().and_then(|a| a.get(i)) {
                prefetch(age);
            }
            // The slot's last bytes (counters and times of a large value) may sit on the next line.
            prefetch_at((slot as *const (K, V)).wrapping_add(1).cast::<u8>().wrapping_sub(1));
        }
    }

    #[inline]
    fn find(&self, hash: u64, key: &K) -> Option<usize> {
        let slots = &self.slots;
        self.index.find(hash, |i| slots[i as usize].0 == *key).map(|pos| self.index.slot_at(pos))
    }

    /// The entry for `key`, created with `make` if absent (evicting first when full).
    #[inline]
    pub fn entry_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        let hash = self.hash(&key);
        self.entry_hashed(hash, key, make)
    }

    /// [`entry_or_insert_with`](Self::entry_or_insert_with) for a key whose
    /// [`hash`](Self::hash) is already known.
    #[inline]
    pub fn entry_hashed(&mut self, hash: u64, key: K, make: impl FnOnce() -> V) -> &mut V {
        debug_assert_eq!(hash, self.hash(&key));
        if let Some(i) = self.find(hash, &key) {
            return &mut self.slots[i].1;
        }
        self.insert_new(hash, key, make())
    }

    #[inline(never)]
    fn insert_new(&mut self, hash: u64, key: K, value: V) -> &mut V {
        if self.slots.len() >= self.cap {
            self.evict_oldest();
        }
        if 2 * (self.index.len + 1) > self.index.entries.len() {
            self.index.reset((self.slots.len() + 1).max(self.index.entries.len()).min(self.cap));
            self.reindex_into();
        }
        let i = self.slots.len();
        if let Some(ages) = &mut self.ages {
            ages.push(value.last_seen());
        }
        self.slots.push((key, value));
        self.hashes.push(hash);
        self.index.insert(hash, i);
        &mut self.slots[i].1
    }

    /// Looks up an entry.
    pub fn get(&self, key: &K) -> Option<&V> {
        self.find(self.hash(key), key).map(|i| &self.slots[i].1)
    }

    /// Looks up an entry to change it.
    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.find(self.hash(key), key).map(|i| &mut self.slots[i].1)
    }

    /// Keeps only the entries for which `keep` holds.
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        let before = self.slots.len();
        let mut kept = 0;
        for i in 0..before {
            let (k, v) = &mut self.slots[i];
            if keep(k, v) {
                // Entries before the first removal stay where they are (a swap with
                // itself would still copy a large value twice).
                if kept != i {
                    self.slots.swap(kept, i);
                    self.hashes.swap(kept, i);
                    if let Some(ages) = &mut self.ages {
                        ages.swap(kept, i);
                    }
                }
                kept += 1;
            }
        }
        self.slots.truncate(kept);
        self.hashes.truncate(kept);
        if let Some(ages) = &mut self.ages {
            ages.truncate(kept);
        }
        if kept != before {
            let buckets = self.index.entries.len();
            self.index.reset(buckets / 2);
            self.reindex_into();
        }
    }

    /// Empties the table and returns its entries, in no particular order (the slab
    /// itself: nothing is copied).
    pub fn take_all(&mut self) -> Vec<(K, V)> {
        self.hashes.clear();
        if let Some(ages) = &mut self.ages {
            ages.clear();
        }
        let buckets = self.index.entries.len();
        self.index.reset(buckets / 2);
        std::mem::take(&mut self.slots)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Maximum number of entries.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Size, cap and evictions.
    pub fn fill(&self) -> Fill {
        Fill { len: self.slots.len(), cap: self.cap, evicted: self.evicted }
    }

    /// Entries evicted so far to stay under the cap.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// All entries, to change them, in no particular order.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&K, &mut V)> {
        self.slots.iter_mut().map(|(k, v)| (&*k, v))
    }

    /// All entries, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.slots.iter().map(|(k, v)| (k, v))
    }

    /// Files every slab slot in the (emptied) index.
    fn reindex_into(&mut self) {
        for (i, &h) in self.hashes.iter().enumerate() {
            self.index.insert(h, i);
        }
    }

    /// Removes slot `i` and returns it: its index entry goes, and the slab's last entry
    /// moves into it.
    fn remove_slot(&mut self, i: usize) -> (K, V) {
        self.unlink_slot(i);
        self.slots.swap_remove(i)
    }

    /// [`remove_slot`](Self::remove_slot) when nobody wants the entry: it is overwritten,
    /// never read out.
    fn discard_slot(&mut self, i: usize) {
        self.unlink_slot(i);
        if let Some(last) = self.slots.pop()
            && i < self.slots.len()
        {
            self.slots[i] = last;
        }
    }

    /// The index and side arrays' part of removing slot `i` (the slab's is the caller's).
    fn unlink_slot(&mut self, i: usize) {
        let hash = self.hashes[i];
        if let Some(pos) = self.index.find(hash, |j| j as usize == i) {
            self.index.remove(pos);
        }
        let last = self.slots.len() - 1;
        if i != last {
            let moved = self.hashes[last];
            if let Some(pos) = self.index.find(moved, |j| j as usize == last) {
                self.index.set_slot(pos, i);
            }
        }
        self.hashes.swap_remove(i);
        if let Some(ages) = &mut self.ages {
            ages.swap_remove(i);
        }
    }

    /// Evicts the least recently seen eighth. Ties in age are broken by key, so which
    /// entries go never depends on the order of the slab.
    #[inline(never)]
    fn evict_oldest(&mut self) {
        let target = (self.slots.len() / 8).max(1);
        let (mut scratch, mut ties, mut order) = std::mem::take(&mut self.sweep);
        scratch.clear();
        ties.clear();
        order.clear();
        match &self.ages {
            Some(ages) => {
                debug_assert!(ages.iter().zip(&self.slots).all(|(&a, (_, v))| a == v.last_seen()), "an age went stale");
                scratch.extend_from_slice(ages);
            }
            None => scratch.extend(self.slots.iter().map(|(_, v)| v.last_seen())),
        }
        // The target-th oldest age is the boundary: a selection over bare ages, which
        // never reads the slab. Every entry older goes; of those exactly as old (many,
        // under a flood of one-packet keys in the same microsecond), the lowest keys fill
        // the rest, and only they are compared by key.
        let boundary = *scratch.select_nth_unstable(target - 1).1;
        let ages: &[Nanos] = self.ages.as_deref().unwrap_or(&[]);
        let age = |i: usize| ages.get(i).copied().unwrap_or_else(|| self.slots[i].1.last_seen());
        // A pass in slot order counts the older ones and lists those exactly as old.
        let mut older = 0;
        for i in 0..self.slots.len() {
            let a = age(i);
            older += usize::from(a < boundary);
            if a == boundary {
                ties.push(i as u32);
            }
        }
        let need = target - older;
        if ties.len() > need {
            let slots = &self.slots;
            ties.select_nth_unstable_by(need - 1, |a, b| slots[*a as usize].0.cmp(&slots[*b as usize].0));
            ties.truncate(need);
            ties.sort_unstable();
        }
        // A second pass, highest slot first (so that moving the last entry into a hole
        // never moves one that is still to be removed), lists what goes.
        let mut chosen = ties.iter().rev().peekable();
        for i in (0..self.slots.len()).rev() {
            let a = age(i);
            if a < boundary || (a == boundary && chosen.next_if_eq(&&(i as u32)).is_some()) {
                order.push(i as u32);
            }
        }
        const AHEAD: usize = 8;
        let len = self.slots.len();
        for k in 0..order.len() {
            // The index buckets of a removal a few steps on: its own and the last slot's then.
            if let Some(&next) = order.get(k + AHEAD) {
                self.index.prefetch(self.hashes[next as usize]);
                // The hole the last entry will fill (a large value spans two lines).
                let hole = &self.slots[next as usize];
                prefetch(hole);
                prefetch_at((hole as *const (K, V)).wrapping_add(1).cast::<u8>().wrapping_sub(1));
            }
            if let Some(&h) = (len - 1).checked_sub(k + AHEAD).and_then(|last| self.hashes.get(last)) {
                self.index.prefetch(h);
            }
            let i = order[k] as usize;
            if self.kept.is_none() {
                self.discard_slot(i);
            } else {
                let gone = self.remove_slot(i);
                if let Some(kept) = &mut self.kept {
                    kept.push(gone);
                }
            }
        }
        self.sweep = (scratch, ties, order);
        self.evicted += target as u64;
    }
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
