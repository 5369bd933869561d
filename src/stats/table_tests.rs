//! Tests of the capped table, its index and the top-n helpers.

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

/// The index (open addressing, backward-shift deletion, a growing bucket array, slot
/// numbers moved by eviction) against a plain ordered map with the same documented
/// policy, over random inserts, touches, lookups and retains: small key ranges force
/// long probe runs and constant eviction.
mod model {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    #[derive(Clone, Debug)]
    enum Op {
        Touch(u16, u8),
        Get(u16),
        Retain(u16),
    }

    fn op(keys: u16) -> impl Strategy<Value = Op> {
        prop_oneof![
            8 => (0..keys, any::<u8>()).prop_map(|(k, t)| Op::Touch(k, t)),
            2 => (0..keys).prop_map(Op::Get),
            1 => (1..7u16).prop_map(Op::Retain),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
        #[test]
        fn top_n_of_is_a_sort_and_a_cut(
            items in proptest::collection::vec((0u8..8, any::<u16>()), 0..400),
            n in 0usize..40,
        ) {
            // Many ties in the amount, as in a flood of one-packet flows: the key decides.
            let order = |a: &(u8, u16), b: &(u8, u16)| b.0.cmp(&a.0).then(a.1.cmp(&b.1));
            let mut all = items.clone();
            all.sort_unstable_by(order);
            if n != 0 {
                all.truncate(n);
            }
            prop_assert_eq!(top_n_of(items.into_iter(), n, order), all);
        }

        #[test]
        fn behaves_like_an_ordered_map_with_the_same_eviction(
            cap in 1usize..70,
            keys in 1u16..300,
            ops in proptest::collection::vec(op(300), 0..600),
        ) {
            let mut t: CappedTable<u16, Nanos> = CappedTable::new(cap);
            let mut m: BTreeMap<u16, Nanos> = BTreeMap::new();
            let mut evicted = 0u64;
            for op in ops {
                match op {
                    Op::Touch(k, age) => {
                        let k = k % keys;
                        let age = Nanos::from(age);
                        if !m.contains_key(&k) && m.len() >= cap {
                            let mut by_age: Vec<(Nanos, u16)> = m.iter().map(|(k, a)| (*a, *k)).collect();
                            by_age.sort_unstable();
                            let target = (m.len() / 8).max(1);
                            for (_, gone) in &by_age[..target] {
                                m.remove(gone);
                            }
                            evicted += target as u64;
                        }
                        let a = m.entry(k).or_insert(age);
                        *a = (*a).max(age);
                        let v = t.entry_or_insert_with(k, || age);
                        *v = (*v).max(age);
                    }
                    Op::Get(k) => prop_assert_eq!(t.get(&(k % keys)), m.get(&(k % keys))),
                    Op::Retain(d) => {
                        t.retain(|k, _| k % d != 0);
                        m.retain(|k, _| k % d != 0);
                    }
                }
                prop_assert_eq!(t.len(), m.len());
                prop_assert_eq!(t.evicted(), evicted);
            }
            let mut all: Vec<(u16, Nanos)> = t.iter().map(|(k, v)| (*k, *v)).collect();
            all.sort_unstable();
            prop_assert_eq!(all, m.into_iter().collect::<Vec<_>>());
            for (k, v) in t.iter() {
                prop_assert_eq!(t.get(k), Some(v));
            }
        }
    }
}
