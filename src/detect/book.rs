//! The incident book: one alert per incident, whatever the detector.
//!
//! A detector says "evidence for incident K at time T" and fills in the figures; the
//! book turns that into the lifecycle: `new` at once, then `update`s at most every
//! `update_every` of packet time (only when something changed), then `end` once the
//! incident has been quiet for `quiet`. Time is packet time, and the book iterates in
//! id order, so a replay at any speed produces the same reports.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use super::{Alert, AlertKind, AlertProto, AlertState, Evidence, Severity};
use crate::packet::Nanos;

/// What makes two observations the same incident.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IncidentKey {
    /// Alert kind.
    pub kind: AlertKind,
    /// Attacker, when one.
    pub src: Option<IpAddr>,
    /// Victim, when one.
    pub dst: Option<IpAddr>,
    /// Protocol.
    pub proto: AlertProto,
    /// The port, when one port is the point.
    pub port: Option<u16>,
}

struct Open {
    alert: Alert,
    last_report: Nanos,
    last_seen: Nanos,
    changed: bool,
}

/// Open incidents and their lifecycle.
pub struct Book {
    next_id: u64,
    ids: HashMap<IncidentKey, u64>,
    open: BTreeMap<u64, (IncidentKey, Open)>,
    update_every: Nanos,
    quiet: Nanos,
}

impl Book {
    /// A book that updates at most every `update_every` and ends after `quiet`.
    pub fn new(update_every: Nanos, quiet: Nanos) -> Self {
        Book { next_id: 1, ids: HashMap::new(), open: BTreeMap::new(), update_every, quiet }
    }

    /// Number of open incidents.
    pub fn open(&self) -> usize {
        self.open.len()
    }

    /// The id of the open incident of `key`, if one is open.
    pub fn id_of(&self, key: &IncidentKey) -> Option<u64> {
        self.ids.get(key).copied()
    }

    /// Evidence for `key` at `now`: `fill` sets the figures (packets, severity, summary,
    /// evidence). Pushes a `new` report for a new incident, or an `update` when due.
    pub fn observe(&mut self, key: IncidentKey, now: Nanos, fill: impl FnOnce(&mut Alert), out: &mut Vec<Alert>) {
        if let Some(id) = self.ids.get(&key).copied()
            && let Some((_, open)) = self.open.get_mut(&id)
        {
            open.last_seen = open.last_seen.max(now);
            open.alert.last_ts = open.last_seen;
            fill(&mut open.alert);
            open.changed = true;
            if now - open.last_report >= self.update_every {
                open.alert.state = AlertState::Update;
                open.alert.ts = now;
                open.last_report = now;
                open.changed = false;
                out.push(open.alert.clone());
            }
            return;
        }
        let id = self.next_id;
        self.next_id += 1;
        let mut alert = Alert {
            id,
            state: AlertState::New,
            kind: key.kind,
            severity: Severity::Low,
            ts: now,
            first_ts: now,
            last_ts: now,
            src: key.src,
            dst: key.dst,
            proto: key.proto,
            port: key.port,
            packets: 0,
            summary: String::new(),
            evidence: Evidence::default(),
        };
        fill(&mut alert);
        out.push(alert.clone());
        self.ids.insert(key, id);
        self.open.insert(id, (key, Open { alert, last_report: now, last_seen: now, changed: false }));
    }

    /// Packet time is `now`: pushes due updates and ends incidents quiet for long enough.
    pub fn tick(&mut self, now: Nanos, out: &mut Vec<Alert>) {
        let mut ended = Vec::new();
        for (id, (key, open)) in &mut self.open {
            if now - open.last_seen >= self.quiet {
                open.alert.state = AlertState::End;
                open.alert.ts = now;
                out.push(open.alert.clone());
                ended.push((*id, *key));
            } else if open.changed && now - open.last_report >= self.update_every {
                open.alert.state = AlertState::Update;
                open.alert.ts = now;
                open.last_report = now;
                open.changed = false;
                out.push(open.alert.clone());
            }
        }
        for (id, key) in ended {
            self.open.remove(&id);
            self.ids.remove(&key);
        }
    }

    /// The capture is over at `now`: ends every open incident, in id order.
    pub fn finish(&mut self, now: Nanos, out: &mut Vec<Alert>) {
        for (_, (_, mut open)) in std::mem::take(&mut self.open) {
            open.alert.state = AlertState::End;
            open.alert.ts = now;
            out.push(open.alert);
        }
        self.ids.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::NANOS_PER_SEC;

    const S: Nanos = NANOS_PER_SEC;

    fn key(src: &str) -> IncidentKey {
        IncidentKey {
            kind: AlertKind::PortScan,
            src: Some(src.parse().unwrap()),
            dst: None,
            proto: AlertProto::Tcp,
            port: None,
        }
    }

    fn states(out: &[Alert]) -> Vec<(u64, AlertState)> {
        out.iter().map(|a| (a.id, a.state)).collect()
    }

    #[test]
    fn new_then_rate_limited_updates_then_end() {
        let mut book = Book::new(5 * S, 30 * S);
        let mut out = Vec::new();
        for t in 0..20 {
            book.observe(key("10.0.0.1"), t * S, |a| a.packets += 1, &mut out);
        }
        // New at 0, updates at 5, 10, 15: never more than one per 5 s.
        assert_eq!(
            states(&out),
            [(1, AlertState::New), (1, AlertState::Update), (1, AlertState::Update), (1, AlertState::Update)]
        );
        assert_eq!(out.last().map(|a| (a.packets, a.first_ts, a.last_ts)), Some((16, 0, 15 * S)));
        out.clear();
        book.tick(21 * S, &mut out);
        assert_eq!(states(&out), [(1, AlertState::Update)], "the last changes are reported when due");
        out.clear();
        book.tick(48 * S, &mut out);
        assert!(out.is_empty(), "quiet for 29 s: still open");
        book.tick(49 * S, &mut out);
        assert_eq!(states(&out), [(1, AlertState::End)]);
        assert_eq!((out[0].packets, out[0].last_ts), (20, 19 * S));
        assert_eq!(book.open(), 0);
    }

    #[test]
    fn incidents_are_separate_and_ordered() {
        let mut book = Book::new(5 * S, 10 * S);
        let mut out = Vec::new();
        book.observe(key("10.0.0.2"), 0, |_| {}, &mut out);
        book.observe(key("10.0.0.1"), S, |_| {}, &mut out);
        book.observe(key("10.0.0.2"), 2 * S, |_| {}, &mut out);
        assert_eq!(states(&out), [(1, AlertState::New), (2, AlertState::New)]);
        out.clear();
        book.tick(20 * S, &mut out);
        assert_eq!(states(&out), [(1, AlertState::End), (2, AlertState::End)], "ends in id order");
        // The same attacker again later is a new incident.
        out.clear();
        book.observe(key("10.0.0.2"), 30 * S, |_| {}, &mut out);
        assert_eq!(states(&out), [(3, AlertState::New)]);
    }
}
