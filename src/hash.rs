//! Hash tables keyed by packet data.
//!
//! Every table whose keys come off the wire (addresses, ports, flow tuples) uses
//! foldhash, seeded at random once per process: keys that differ only in a few bits (a
//! SYN flood's random source ports) spread evenly, and an attacker who knows the code
//! cannot choose keys that collide, because the seed is not known in advance. Nothing
//! that ntop-rs prints depends on a table's iteration order (lists are sorted with full
//! tie-breaks, eviction breaks ties by key), so the same capture still gives the same
//! output on every run.

/// A hash map keyed by packet data (per-process random seed).
pub type Map<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// A hash set keyed by packet data (per-process random seed).
pub type Set<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

/// A fresh per-process-seeded hasher state, for tables that take a hasher directly ([`crate::stats::table::CappedTable`]).
pub fn random_state() -> foldhash::fast::RandomState {
    foldhash::fast::RandomState::default()
}
