//! The scan detector's tallies of failed attempts: per (source, target, protocol) the
//! ports, per (source, protocol, port) the hosts, with a global budget of items and a
//! direct-mapped table of first failures that keeps one-failure (spoofed) sources out.

use std::collections::VecDeque;
use std::hash::Hash;

use crate::detect::evidence::{Crossed, Technique};
use crate::detect::memory::hash_of;
use crate::hash::Set;
use crate::packet::{NANOS_PER_SEC, Nanos};
use crate::stats::table::{CappedTable, LastSeen};

/// Ports or hosts stored per tally; beyond it only the probes are counted.
pub(super) const ITEM_CAP: usize = 4096;
/// Distinct items (ports, hosts) held by all tallies together, whatever their number:
/// 4096 tallies of 4096 items each would be half a gigabyte.
pub const MAX_ITEMS: usize = 1 << 20;

/// The items every tally holds, counted against [`MAX_ITEMS`] (recounted each tick, so
/// between ticks it can only overstate what evictions freed).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Budget {
    pub(super) used: usize,
    pub(super) refused: u64,
}

/// Failed attempts of one source against one host (ports) or one service (hosts).
pub(super) struct Tally<T> {
    pub(super) items: Set<T>,
    /// The first few items, for the evidence.
    pub(super) sample: Vec<T>,
    /// When each new item of the fast window appeared.
    pub(super) recent: VecDeque<Nanos>,
    pub(super) fast_peak: u32,
    pub(super) first: Nanos,
    pub(super) last: Nanos,
    /// When the latest new item appeared.
    pub(super) last_new: Nanos,
    pub(super) probes: u64,
    pub(super) capped: bool,
    pub(super) crossed: Option<Crossed>,
    /// Failed probes whose answers contradicted each other or were not the target's.
    pub(super) forged: u64,
    /// How the source probed, in the order first seen.
    pub(super) techniques: Vec<Technique>,
    /// The source has a history on the LAN (see `ScanDetector::veterans`): a flood of
    /// fresh (spoofed) sources cannot evict this tally.
    pub(super) veteran: bool,
}

/// How much more recent than it is a veteran's tally looks to eviction: more than any
/// tally lives (`idle`), so a full table evicts every newcomer's tally before a veteran's.
const VETERAN_BONUS: Nanos = 3600 * NANOS_PER_SEC;

impl<T> LastSeen for Tally<T> {
    fn last_seen(&self) -> Nanos {
        if self.veteran { self.last.saturating_add(VETERAN_BONUS) } else { self.last }
    }
}

impl<T: Hash + Eq + Copy> Tally<T> {
    pub(super) fn new(ts: Nanos) -> Self {
        Tally {
            items: Set::default(),
            sample: Vec::new(),
            recent: VecDeque::new(),
            fast_peak: 0,
            first: ts,
            last: ts,
            last_new: ts,
            probes: 0,
            capped: false,
            crossed: None,
            forged: 0,
            veteran: false,
            techniques: Vec::new(),
        }
    }

    /// Notes how a failure was sent and answered; returns whether its technique is new.
    pub(super) fn note(&mut self, f: Failure) -> bool {
        self.forged += u64::from(f.forged);
        self.veteran |= f.veteran;
        let new = !self.techniques.contains(&f.technique);
        if new {
            self.techniques.push(f.technique);
        }
        new
    }

    /// Counts a failed attempt on `item`; returns whether the item is new.
    pub(super) fn add(&mut self, item: T, ts: Nanos, window: Nanos, budget: &mut Budget) -> bool {
        self.probes += 1;
        self.last = self.last.max(ts);
        while self.recent.front().is_some_and(|&t| t + window <= ts) {
            self.recent.pop_front();
        }
        if self.items.len() >= ITEM_CAP || budget.used >= MAX_ITEMS {
            let new = !self.items.contains(&item);
            self.capped |= new;
            budget.refused += u64::from(new && self.items.len() < ITEM_CAP);
            return new;
        }
        if !self.items.insert(item) {
            return false;
        }
        budget.used += 1;
        if self.sample.len() < 10 {
            self.sample.push(item);
        }
        self.recent.push_back(ts);
        self.fast_peak = self.fast_peak.max(self.recent.len() as u32);
        self.last_new = ts;
        true
    }

    /// Which threshold this tally crossed, if any (the first one stays).
    pub(super) fn check(&mut self, fast: u32, slow: u32) -> Option<Crossed> {
        if self.crossed.is_none() {
            if self.recent.len() as u32 >= fast {
                self.crossed = Some(Crossed::Fast);
            } else if self.items.len() as u32 >= slow {
                self.crossed = Some(Crossed::Slow);
            }
        }
        self.crossed
    }

    pub(super) fn distinct(&self) -> usize {
        self.items.len()
    }

    /// From the first failed attempt to the latest new port or host.
    pub(super) fn span_secs(&self) -> f64 {
        (self.last_new - self.first) as f64 / NANOS_PER_SEC as f64
    }
}

/// First failed attempts, kept aside in a fixed-size, two-way table until a second one on
/// a different port or host makes a tally worth keeping. A spoofed flood gives every fake
/// source one failure: they churn this table, never the tallies, so real (slow) scans are
/// not evicted by them. A veteran's first failure is never pushed out by a newcomer's.
pub(super) struct Singles<T> {
    pub(super) slots: Vec<Option<Single<T>>>,
    pub(super) shift: u32,
}

/// A first failure: the tally's key (hashed), the item, and the failure.
#[derive(Clone, Copy)]
pub(super) struct Single<T> {
    key: u64,
    item: T,
    failure: Failure,
}

/// One failed attempt as the tallies count it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Failure {
    pub(super) ts: Nanos,
    /// Its answers contradicted each other or were not the target's.
    pub(super) forged: bool,
    /// The source is a veteran.
    pub(super) veteran: bool,
    pub(super) technique: Technique,
}

impl<T: Copy + PartialEq> Singles<T> {
    pub(super) fn new(bits: u32) -> Self {
        Singles { slots: vec![None; 1 << bits], shift: 64 - bits }
    }

    /// The first failure of `key` when `item` is a second, different one (which then
    /// makes a tally); otherwise remembers `item` as the first.
    pub(super) fn admit(&mut self, key: u64, item: T, failure: Failure) -> Option<(T, Failure)> {
        let veteran = failure.veteran;
        let i = (key >> self.shift) as usize & !1;
        let pair = &mut self.slots[i..i + 2];
        if let Some(at) = pair.iter().position(|s| s.is_some_and(|s| s.key == key)) {
            let first = pair[at].expect("found");
            if first.item == item {
                return None;
            }
            pair[at] = None;
            return Some((first.item, first.failure));
        }
        // An empty way; else the older newcomer's; a veteran may also take a veteran's.
        let open = |w: usize| veteran || pair[w].is_some_and(|s| !s.failure.veteran);
        let at = match (pair[0], pair[1]) {
            (None, _) => 0,
            (_, None) => 1,
            (Some(a), Some(b)) => match (open(0), open(1)) {
                (true, true) => usize::from(b.failure.ts < a.failure.ts),
                (true, false) => 0,
                (false, true) => 1,
                (false, false) => return None,
            },
        };
        pair[at] = Some(Single { key, item, failure });
        None
    }
}

/// Counts a failed attempt on `item` into `key`'s tally (made once a second distinct
/// item shows up); returns the tally when the item, or the way it was probed, was new to it.
#[allow(clippy::too_many_arguments)]
pub(super) fn count<'a, K: Hash + Eq + Ord + Copy, T: Hash + Eq + Copy>(
    table: &'a mut CappedTable<K, Tally<T>>,
    singles: &mut Singles<T>,
    key: K,
    item: T,
    f: Failure,
    window: Nanos,
    budget: &mut Budget,
) -> Option<&'a mut Tally<T>> {
    if table.get(&key).is_none() {
        let (first, f0) = singles.admit(hash_of(key), item, f)?;
        let tally = table.entry_or_insert_with(key, || Tally::new(f0.ts));
        tally.note(f0);
        tally.note(f);
        tally.add(first, f0.ts, window, budget);
        tally.add(item, f.ts, window, budget);
        return Some(tally);
    }
    let tally = table.get_mut(&key)?;
    // A new technique is news too: the incident's next report lists it.
    let new_technique = tally.note(f);
    let ts = f.ts;
    (tally.add(item, ts, window, budget) || new_technique).then_some(tally)
}
