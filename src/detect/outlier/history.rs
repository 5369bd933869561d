//! What each host itself does routinely: per figure, the level it reached in at least
//! two of its windows lately, fading slowly.
//!
//! The model says what is usual for hosts of a kind; this says what is usual for the
//! host. A figure is new for a host only when it is well beyond the host's own routine,
//! so a server that serves a large download every few minutes is not an outlier at each
//! one because its cluster is mostly quiet, while a host doing what it has not done
//! lately is judged as before. One window is not a routine (a host's first window, the
//! partial first window of a burst), and a figure that was unusual for the host's kind
//! and new for the host is never taken in, so an ongoing behaviour does not become the
//! host's normal while it lasts.

use std::net::IpAddr;

use super::model::squash;
use crate::detect::features::{DIM, Vector};
use crate::packet::{NANOS_PER_SEC, Nanos};
use crate::stats::table::{CappedTable, LastSeen};

/// A level halves (as `1 + x`) in this much packet time: what a host did within the
/// last hour or so is its own routine.
const HALF_LIFE_SECS: f64 = 3600.0;
/// A figure is new for a host when `1 + x` is at least this many times its routine's.
const FACTOR: f64 = 2.0;

/// One host's two highest levels of each figure, squashed, as of `at`.
#[derive(Clone, Debug)]
struct Levels {
    at: Nanos,
    highest: [f32; DIM],
    second: [f32; DIM],
}

/// `level` (squashed) faded over `secs` of packet time.
fn fade(level: f32, secs: f64) -> f32 {
    (f64::from(level) - std::f64::consts::LN_2 * secs / HALF_LIFE_SECS).max(0.0) as f32
}

impl Levels {
    fn secs_since(&self, now: Nanos) -> f64 {
        now.saturating_sub(self.at) as f64 / NANOS_PER_SEC as f64
    }
}

impl LastSeen for Levels {
    fn last_seen(&self) -> Nanos {
        self.at
    }
}

/// Every host's levels, at most `max_hosts` of them (the least recently seen go first).
#[derive(Clone, Debug)]
pub struct History {
    hosts: CappedTable<IpAddr, Levels>,
}

impl History {
    /// An empty history of at most `max_hosts` hosts.
    pub fn new(max_hosts: usize) -> Self {
        History { hosts: CappedTable::new(max_hosts) }
    }

    /// Takes a window of `host` (its raw figures) at `now` into its levels, all but the
    /// figures `skip` names.
    pub fn note(&mut self, host: IpAddr, now: Nanos, raw: &Vector, skip: impl Fn(usize) -> bool) {
        let l = self.hosts.entry_or_insert_with(host, || Levels { at: now, highest: [0.0; DIM], second: [0.0; DIM] });
        let secs = l.secs_since(now);
        for (f, (&value, (highest, second))) in raw.iter().zip(l.highest.iter_mut().zip(&mut l.second)).enumerate() {
            let (mut hi, mut lo) = (fade(*highest, secs), fade(*second, secs));
            let x = squash(value) as f32;
            if !skip(f) {
                if x > hi {
                    (hi, lo) = (x, hi);
                } else if x > lo {
                    lo = x;
                }
            }
            (*highest, *second) = (hi, lo);
        }
        l.at = now;
    }

    /// The host's own routine level of figure `f` at `now` (raw): the second highest
    /// over its windows, faded; `None` for a host without a history.
    pub fn routine(&self, host: &IpAddr, f: usize, now: Nanos) -> Option<f64> {
        let l = self.hosts.get(host)?;
        Some(f64::from(fade(l.second[f], l.secs_since(now))).exp_m1())
    }

    /// Whether `raw` of figure `f` is new for `host`: `1 + raw` at least [`FACTOR`]
    /// times its routine's. Anything is new for a host without a history.
    pub fn is_new(&self, host: &IpAddr, f: usize, raw: f64, now: Nanos) -> bool {
        self.routine(host, f, now).is_none_or(|level| (1.0 + raw.max(0.0)) >= FACTOR * (1.0 + level))
    }

    /// Hosts with a history.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.hosts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Nanos = NANOS_PER_SEC;

    fn host(n: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, n])
    }

    fn vector(x: f64) -> Vector {
        [x; DIM]
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 0.01 * b.max(1.0)
    }

    #[test]
    fn a_figure_is_new_only_well_beyond_what_the_host_reached_twice() {
        let mut h = History::new(16);
        let all = |_| false;
        assert!(h.is_new(&host(1), 0, 5.0, 0), "no history: everything is new");
        h.note(host(1), 0, &vector(99.0), all);
        assert_eq!(h.routine(&host(1), 0, 0), Some(0.0), "one window is not a routine");
        assert!(h.is_new(&host(1), 0, 90.0, 0));
        h.note(host(1), 5 * SEC, &vector(3.0), all);
        h.note(host(1), 10 * SEC, &vector(79.0), all);
        h.note(host(1), 15 * SEC, &vector(1.0), all);
        let level = h.routine(&host(1), 0, 15 * SEC).unwrap();
        assert!(close(level, 79.0), "the second highest: {level}");
        assert!(!h.is_new(&host(1), 0, 150.0, 15 * SEC), "under twice the routine is not new");
        assert!(h.is_new(&host(1), 0, 170.0, 15 * SEC), "over twice it is");
        assert!(h.is_new(&host(2), 0, 150.0, 15 * SEC), "another host has its own history");
    }

    #[test]
    fn skipped_figures_are_not_taken_in() {
        let mut h = History::new(16);
        for i in 0..3 {
            h.note(host(1), i * SEC, &vector(50.0), |f| f == 4);
        }
        assert!(close(h.routine(&host(1), 3, 3 * SEC).unwrap(), 50.0));
        assert_eq!(h.routine(&host(1), 4, 3 * SEC), Some(0.0), "figure 4 was skipped every time");
    }

    #[test]
    fn a_routine_fades_with_packet_time() {
        let mut h = History::new(16);
        h.note(host(1), 0, &vector(99.0), |_| false);
        h.note(host(1), 0, &vector(99.0), |_| false);
        let after_an_hour = h.routine(&host(1), 3, 3600 * SEC).unwrap();
        assert!(close(after_an_hour, 49.0), "1 + x halves in an hour: {after_an_hour}");
        assert!(h.is_new(&host(1), 3, 120.0, 3600 * SEC));
        assert!(!h.is_new(&host(1), 3, 120.0, 60 * SEC));
        h.note(host(1), 3600 * SEC, &vector(10.0), |_| false);
        assert!(close(h.routine(&host(1), 3, 3600 * SEC).unwrap(), 49.0), "a later lower window keeps it");
        assert_eq!(h.routine(&host(1), 3, 100 * 3600 * SEC), Some(0.0), "never below nothing");
    }

    #[test]
    fn a_full_history_forgets_the_least_recently_seen_hosts_first() {
        let mut h = History::new(2);
        h.note(host(1), 0, &vector(9.0), |_| false);
        h.note(host(2), 7 * 3600 * SEC, &vector(9.0), |_| false);
        h.note(host(3), 7 * 3600 * SEC, &vector(9.0), |_| false);
        assert_eq!(h.len(), 2);
        assert!(h.routine(&host(1), 0, 7 * 3600 * SEC).is_none(), "the stale host went");
        assert!(h.routine(&host(2), 0, 7 * 3600 * SEC).is_some());
        h.note(host(2), 8 * 3600 * SEC, &vector(9.0), |_| false);
        h.note(host(4), 8 * 3600 * SEC, &vector(9.0), |_| false);
        assert_eq!(h.len(), 2, "never more than the cap");
        assert!(h.routine(&host(3), 0, 8 * 3600 * SEC).is_none(), "the least recently seen went");
        assert!(h.routine(&host(2), 0, 8 * 3600 * SEC).is_some() && h.routine(&host(4), 0, 8 * 3600 * SEC).is_some());
    }
}
