//! Per-minute protocol figures from the once-a-second snapshots: each minute of packet
//! time gets what was counted between the last snapshot before it and its own last one
//! (to the second), and the run's end gives the rest, so the minutes add up to the
//! summary's totals exactly.

use crate::decode::Proto;
use crate::packet::{NANOS_PER_SEC, Nanos};
use crate::pipeline::sink::Snapshot;
use crate::stats::Counter;

/// A minute's packets and bytes per protocol class.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Minute {
    /// Packet time the minute starts at.
    pub start: Nanos,
    /// By [`Proto::index`].
    pub protocols: [Counter; Proto::COUNT],
}

/// Turns cumulative snapshots into minutes.
#[derive(Clone, Debug, Default)]
pub struct Minutes {
    /// The minute in progress and the totals when it began.
    current: Option<(Nanos, [Counter; Proto::COUNT])>,
    /// The latest totals seen.
    latest: [Counter; Proto::COUNT],
}

const MINUTE: Nanos = 60 * NANOS_PER_SEC;

fn minus(a: &[Counter; Proto::COUNT], b: &[Counter; Proto::COUNT]) -> [Counter; Proto::COUNT] {
    std::array::from_fn(|i| Counter {
        packets: a[i].packets.saturating_sub(b[i].packets),
        bytes: a[i].bytes.saturating_sub(b[i].bytes),
    })
}

impl Minutes {
    /// Takes a snapshot; returns the minute it closed, if it began a new one.
    pub fn snapshot(&mut self, s: &Snapshot) -> Option<Minute> {
        let start = s.ts - s.ts.rem_euclid(MINUTE);
        let closed = match self.current {
            None => {
                self.current = Some((start, [Counter::default(); Proto::COUNT]));
                None
            }
            Some((m, _)) if start <= m => None,
            Some((m, base)) => {
                self.current = Some((start, self.latest));
                Some(Minute { start: m, protocols: minus(&self.latest, &base) })
            }
        };
        self.latest = s.protocols;
        closed
    }

    /// The run ended with these totals (the summary's) and its last packet at `last_ts`:
    /// the minute in progress, if it holds anything.
    pub fn finish(&mut self, totals: [Counter; Proto::COUNT], last_ts: Option<Nanos>) -> Option<Minute> {
        let (start, base) = match self.current.take() {
            Some(c) => c,
            None => (last_ts? - last_ts?.rem_euclid(MINUTE), [Counter::default(); Proto::COUNT]),
        };
        let protocols = minus(&totals, &base);
        protocols.iter().any(|c| c.packets > 0).then_some(Minute { start, protocols })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(secs: i64, tcp: u64) -> Snapshot {
        let mut protocols = [Counter::default(); Proto::COUNT];
        protocols[Proto::Tcp.index()] = Counter { packets: tcp, bytes: tcp * 100 };
        Snapshot { ts: secs * NANOS_PER_SEC, totals: protocols[0], protocols, hosts: 0, flows: 0 }
    }

    #[test]
    fn minutes_add_up_to_the_totals() {
        let mut m = Minutes::default();
        let mut out = Vec::new();
        for (secs, tcp) in [(60, 5), (61, 9), (119, 20), (120, 25), (300, 40)] {
            out.extend(m.snapshot(&snap(secs, tcp)));
        }
        let mut totals = [Counter::default(); Proto::COUNT];
        totals[Proto::Tcp.index()] = Counter { packets: 47, bytes: 4700 };
        out.extend(m.finish(totals, Some(301 * NANOS_PER_SEC)));
        let rows: Vec<(Nanos, u64)> =
            out.iter().map(|x| (x.start / NANOS_PER_SEC, x.protocols[Proto::Tcp.index()].packets)).collect();
        assert_eq!(rows, [(60, 20), (120, 5), (300, 22)]);
        assert_eq!(rows.iter().map(|r| r.1).sum::<u64>(), 47);
    }

    #[test]
    fn a_run_shorter_than_a_second_is_one_minute() {
        let mut m = Minutes::default();
        let mut totals = [Counter::default(); Proto::COUNT];
        totals[Proto::Udp.index()] = Counter { packets: 3, bytes: 300 };
        let last = m.finish(totals, Some(90 * NANOS_PER_SEC)).unwrap();
        assert_eq!(last.start, 60 * NANOS_PER_SEC);
        assert!(m.finish([Counter::default(); Proto::COUNT], None).is_none());
    }
}
