//! Which incidents involved a flow: incidents are filed under the hosts they name, and a
//! record is tagged with those of its endpoints' that were open while it lasted.

use std::net::IpAddr;

use super::FlowRecord;
use crate::detect::Alert;
use crate::packet::Nanos;
use crate::stats::table::{CappedTable, LastSeen};

/// Hosts with incidents remembered.
const HOSTS: usize = 65_536;
/// Incidents remembered per host (the latest).
const PER_HOST: usize = 16;

/// One incident as a host's: its id, when it was open, and the other host it names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Span {
    id: u64,
    first: Nanos,
    last: Nanos,
    other: Option<IpAddr>,
}

#[derive(Clone, Debug, Default)]
struct Spans(Vec<Span>);

impl LastSeen for Spans {
    fn last_seen(&self) -> Nanos {
        self.0.iter().map(|s| s.last).max().unwrap_or(0)
    }
}

/// The incidents known so far, by host.
#[derive(Debug)]
pub struct Involved {
    hosts: CappedTable<IpAddr, Spans>,
}

impl Default for Involved {
    fn default() -> Self {
        Involved { hosts: CappedTable::new(HOSTS) }
    }
}

impl Involved {
    /// Takes in an alert report (new, update or end).
    pub fn note(&mut self, a: &Alert) {
        let named = [(a.src, a.dst), (a.dst, a.src)];
        for (host, other) in named {
            let Some(host) = host else { continue };
            let spans = &mut self.hosts.entry_or_insert_with(host, Spans::default).0;
            match spans.iter_mut().find(|s| s.id == a.id) {
                Some(s) => {
                    s.first = s.first.min(a.first_ts);
                    s.last = s.last.max(a.last_ts);
                }
                None => {
                    if spans.len() == PER_HOST {
                        spans.remove(0);
                    }
                    spans.push(Span { id: a.id, first: a.first_ts, last: a.last_ts, other });
                }
            }
        }
    }

    /// Fills in `r.alerts`: the incidents of its endpoints open at some time during it
    /// (naming its other endpoint too, when they name two hosts), in id order.
    pub fn tag(&self, r: &mut FlowRecord) {
        let mut ids = Vec::new();
        for (host, other) in [(r.orig, r.resp), (r.resp, r.orig)] {
            let Some(spans) = self.hosts.get(&host) else { continue };
            for s in &spans.0 {
                let overlaps = s.first <= r.end && r.start <= s.last;
                if overlaps && s.other.is_none_or(|o| o == other) {
                    ids.push(s.id);
                }
            }
        }
        ids.sort_unstable();
        ids.dedup();
        r.alerts = ids;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::NANOS_PER_SEC as S;
    use crate::records::FlowRecord;

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, n])
    }

    fn alert(id: u64, src: Option<u8>, dst: Option<u8>, first: Nanos, last: Nanos) -> Alert {
        Alert::sample(id, src.map(ip), dst.map(ip), first, last)
    }

    fn record(orig: u8, resp: u8, start: Nanos, end: Nanos) -> FlowRecord {
        FlowRecord::sample(ip(orig), ip(resp), start, end)
    }

    #[test]
    fn a_flow_gets_the_incidents_of_its_endpoints_open_while_it_lasted() {
        let mut inv = Involved::default();
        inv.note(&alert(1, Some(1), Some(2), 10 * S, 20 * S));
        inv.note(&alert(1, Some(1), Some(2), 10 * S, 40 * S)); // an update widens it
        inv.note(&alert(2, None, Some(2), 30 * S, 35 * S)); // a flood of spoofed sources on 2
        inv.note(&alert(3, Some(1), Some(9), 10 * S, 40 * S)); // 1 scanning another host
        let tagged = |orig, resp, start, end| {
            let mut r = record(orig, resp, start, end);
            inv.tag(&mut r);
            r.alerts
        };
        assert_eq!(tagged(1, 2, 25 * S, 26 * S), [1]);
        assert_eq!(tagged(5, 2, 33 * S, 34 * S), [2], "the flood names only its victim");
        assert_eq!(tagged(1, 2, 33 * S, 34 * S), [1, 2]);
        assert!(tagged(1, 2, 41 * S, 42 * S).is_empty(), "after it");
        assert!(tagged(1, 7, 25 * S, 26 * S).is_empty(), "another pair: neither incident names 7");
        assert!(tagged(4, 5, 25 * S, 26 * S).is_empty());
    }
}
