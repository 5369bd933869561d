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

/// A hash map with a maximum size and oldest-first eviction.
///
/// Entries live in a dense slab; the hash index holds only slot numbers (4 bytes a
/// bucket, sized for twice the cap, so that the tombstones of evicted keys are cleaned
/// up in place and the index never grows). Eviction removes the oldest eighth from the
/// index and fills their slots from the slab's end: O(evicted), not O(table). A table
/// churned by a flood of one-shot keys stays at its cap and never holds two copies of
/// itself.
#[derive(Clone)]
pub struct CappedTable<K, V> {
    index: hashbrown::HashTable<u32>,
    hasher: foldhash::fast::RandomState,
    slots: Vec<(K, V)>,
    cap: usize,
    evicted: u64,
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
            index: hashbrown::HashTable::new(),
            hasher: crate::hash::random_state(),
            slots: Vec::new(),
            cap,
            evicted: 0,
        }
    }

    #[inline]
    fn hash(&self, key: &K) -> u64 {
        std::hash::BuildHasher::hash_one(&self.hasher, key)
    }

    #[inline]
    fn find(&self, key: &K) -> Option<usize> {
        let slots = &self.slots;
        self.index.find(self.hash(key), |&i| slots[i as usize].0 == *key).map(|&i| i as usize)
    }

    /// The entry for `key`, created with `make` if absent (evicting first when full).
    pub fn entry_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        let hash = self.hash(&key);
        let slots = &self.slots;
        if let Some(&i) = self.index.find(hash, |&i| slots[i as usize].0 == key) {
            return &mut self.slots[i as usize].1;
        }
        if self.slots.len() >= self.cap {
            self.evict_oldest();
        }
        if self.index.capacity() < 2 * self.cap.min(1 << 22) && self.index.len() + 1 > self.index.capacity() / 2 {
            let (slots, hasher) = (&self.slots, &self.hasher);
            self.index.reserve(self.index.capacity().max(16), |&i| {
                std::hash::BuildHasher::hash_one(hasher, slots[i as usize].0)
            });
        }
        let i = self.slots.len();
        self.slots.push((key, make()));
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.index.insert_unique(hash, i as u32, |&i| std::hash::BuildHasher::hash_one(hasher, slots[i as usize].0));
        &mut self.slots[i].1
    }

    /// Looks up an entry.
    pub fn get(&self, key: &K) -> Option<&V> {
        self.find(key).map(|i| &self.slots[i].1)
    }

    /// Looks up an entry to change it.
    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.find(key).map(|i| &mut self.slots[i].1)
    }

    /// Keeps only the entries for which `keep` holds.
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        let before = self.slots.len();
        self.slots.retain_mut(|(k, v)| keep(k, v));
        if self.slots.len() != before {
            self.reindex();
        }
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

    /// Points the index at the slab's slots again.
    fn reindex(&mut self) {
        self.index.clear();
        let (slots, hasher) = (&self.slots, &self.hasher);
        for (i, (k, _)) in slots.iter().enumerate() {
            let h = std::hash::BuildHasher::hash_one(hasher, k);
            self.index.insert_unique(h, i as u32, |&i| std::hash::BuildHasher::hash_one(hasher, slots[i as usize].0));
        }
    }

    /// Removes slot `i`: its index entry goes, and the slab's last entry moves into it.
    fn remove_slot(&mut self, i: usize) {
        let hash = self.hash(&self.slots[i].0);
        if let Ok(e) = self.index.find_entry(hash, |&j| j as usize == i) {
            e.remove();
        }
        let last = self.slots.len() - 1;
        if i != last {
            let moved = self.hash(&self.slots[last].0);
            if let Some(j) = self.index.find_mut(moved, |&j| j as usize == last) {
                *j = i as u32;
            }
        }
        self.slots.swap_remove(i);
    }

    /// Evicts the least recently seen eighth. Ties in age are broken by key, so which
    /// entries go never depends on the order of the slab.
    fn evict_oldest(&mut self) {
        let target = (self.slots.len() / 8).max(1);
        // (age, slot): ages compare without touching the slab; keys only break ties.
        let mut order: Vec<(Nanos, u32)> =
            self.slots.iter().enumerate().map(|(i, (_, v))| (v.last_seen(), i as u32)).collect();
        let slots = &self.slots;
        order.select_nth_unstable_by(target - 1, |a, b| {
            a.0.cmp(&b.0).then_with(|| slots[a.1 as usize].0.cmp(&slots[b.1 as usize].0))
        });
        let mut gone: Vec<u32> = order[..target].iter().map(|&(_, i)| i).collect();
        drop(order);
        // Highest slot first, so that moving the last entry into a hole never moves one
        // that is still to be removed.
        gone.sort_unstable_by(|a, b| b.cmp(a));
        for i in gone {
            self.remove_slot(i as usize);
        }
        self.evicted += target as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_oldest_eighth_when_full() {
        let mut t: CappedTable<u32, Nanos> = CappedTable::new(16);
        for k in 0..16 {
            *t.entry_or_insert_with(k, || 0) = Nanos::from(k);
        }
        assert_eq!(t.len(), 16);
        t.entry_or_insert_with(100, || 100);
        assert_eq!((t.len(), t.evicted()), (15, 2));
        assert!(t.get(&0).is_none() && t.get(&1).is_none() && t.get(&2).is_some());
    }

    #[test]
    fn ties_in_age_are_broken_by_key_whatever_the_insert_order() {
        // Every entry is equally old: the lowest keys go, in either insert order (the
        // table's iteration order is randomly seeded, the outcome must not be).
        for keys in [(0..16).collect::<Vec<u32>>(), (0..16).rev().collect()] {
            let mut t: CappedTable<u32, Nanos> = CappedTable::new(16);
            for k in keys {
                t.entry_or_insert_with(k, || 7);
            }
            t.entry_or_insert_with(100, || 7);
            let mut left: Vec<u32> = t.iter().map(|(k, _)| *k).collect();
            left.sort_unstable();
            assert_eq!(left, [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 100]);
        }
    }

    #[test]
    fn existing_key_never_evicts() {
        let mut t: CappedTable<u32, Nanos> = CappedTable::new(2);
        t.entry_or_insert_with(1, || 1);
        t.entry_or_insert_with(2, || 2);
        *t.entry_or_insert_with(1, || 0) += 10;
        assert_eq!((t.len(), t.evicted(), t.get(&1)), (2, 0, Some(&11)));
    }

    #[test]
    fn flood_stays_under_cap() {
        let mut t: CappedTable<u32, Nanos> = CappedTable::new(1000);
        for k in 0..100_000u32 {
            t.entry_or_insert_with(k, || Nanos::from(k));
            assert!(t.len() <= 1000);
        }
        assert!(t.evicted() >= 99_000);
    }
}
