//! The incident book: one alert per incident, whatever the detector.
//!
//! A detector says "evidence for incident K at time T" and fills in the figures; the
//! book turns that into the lifecycle: `new` at once, then `update`s at most every
//! `update_every` of packet time (only when something changed), then `end` once the
//! incident has been quiet for `quiet`. Time is packet time, and the book iterates in
//! id order, so a replay at any speed produces the same reports.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use super::evidence::Folded;
use super::groups::HANDFUL;
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
    /// Other incidents of the same source folded into this one ([`Book::folding_by_source`]).
    fold: Option<Box<FoldIn>>,
}

/// What a source's first open incident holds of the others it stands for.
#[derive(Default)]
struct FoldIn {
    folded: Folded,
    /// Their packets per kind (the latest figure of each): a scan of many hosts on many
    /// ports counts each probe once as a port scan and once as a sweep, so the kinds are
    /// kept apart and the incident's packets are the largest kind's.
    packets: Vec<(AlertKind, u64)>,
    /// The highest severity among them.
    severity: Option<Severity>,
    /// Their keys, let go when this incident ends.
    keys: Vec<IncidentKey>,
}

impl Open {
    /// Evidence at `now`.
    fn seen(&mut self, now: Nanos) {
        self.last_seen = self.last_seen.max(now);
        self.alert.last_ts = self.last_seen;
    }

    /// Something changed at `now`: an update when one is due.
    fn changed(&mut self, now: Nanos, update_every: Nanos, out: &mut Vec<Alert>) {
        self.changed = true;
        self.update_if_due(now, update_every, out);
    }

    /// Reports the changes at `now` if the last report is `update_every` old.
    fn update_if_due(&mut self, now: Nanos, update_every: Nanos, out: &mut Vec<Alert>) {
        if now - self.last_report >= update_every {
            self.last_report = now;
            self.changed = false;
            out.push(report(self, AlertState::Update, now));
        }
    }
}

impl FoldIn {
    /// The folded incident `held` has evidence `a`: its latest figures replace its earlier.
    fn update(&mut self, a: &Alert, held: &mut Held) {
        self.add_packets(a.kind, a.packets.saturating_sub(held.packets));
        self.severity = self.severity.max(Some(a.severity));
        let forged = forged(a);
        self.folded.forged_answers += forged.saturating_sub(held.forged);
        held.packets = a.packets;
        held.forged = forged;
    }

    fn add_packets(&mut self, kind: AlertKind, n: u64) {
        match self.packets.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, total)) => *total += n,
            None => self.packets.push((kind, n)),
        }
    }
}

/// An open key: its incident, and for a folded key its latest packet count.
#[derive(Clone, Copy)]
struct Held {
    id: u64,
    packets: u64,
    forged: u64,
}

/// Incidents one incident stands for at most (a scan of a /8 is one incident per this
/// many targets, and memory stays bounded however long it lasts).
pub const MAX_FOLDED: usize = 16_384;

/// A source's incidents of one kind and protocol.
type Campaign = (IpAddr, AlertKind, AlertProto);

/// Open incidents and their lifecycle.
pub struct Book {
    next_id: u64,
    ids: HashMap<IncidentKey, Held>,
    open: BTreeMap<u64, (IncidentKey, Open)>,
    /// When folding: per source, kind and protocol, its open incidents of its own (oldest
    /// first), and how recently one must have been active for a new one to fold into it.
    primaries: Option<(HashMap<Campaign, Vec<u64>>, Nanos)>,
    update_every: Nanos,
    quiet: Nanos,
}

impl Book {
    /// A book that updates at most every `update_every` and ends after `quiet`.
    pub fn new(update_every: Nanos, quiet: Nanos) -> Self {
        Book { next_id: 1, ids: HashMap::new(), open: BTreeMap::new(), primaries: None, update_every, quiet }
    }

    /// While a source has [`HANDFUL`] incidents of one kind and protocol active at once
    /// (each with evidence within `window`), a further one of the same kind and protocol
    /// (another target, another service) is folded into the oldest of them rather than
    /// reported on its own: a scanner's port scans of a whole subnet are two port scans,
    /// its sweeps of many services at once two sweeps, however many hosts and ports it
    /// covers. The folded ones keep that incident open, raise its severity and packets,
    /// and show in `evidence.folded`. One target after another is an incident each, and
    /// kinds and protocols stay apart: a sweep after a port scan, or a UDP scan beside a
    /// TCP one, is still reported as what it is.
    pub fn folding_by_source(mut self, window: Nanos) -> Self {
        self.primaries = Some((HashMap::new(), window));
        self
    }

    /// The open incident of its own that a new incident `key` at `now` folds into, if any:
    /// the oldest active one with room ([`MAX_FOLDED`]; when all are full, the new one
    /// opens on its own and takes the next ones).
    fn fold_target(&self, key: &IncidentKey, now: Nanos) -> Option<u64> {
        let (primaries, window) = self.primaries.as_ref()?;
        let own = primaries.get(&(key.src?, key.kind, key.proto))?;
        let active = || {
            own.iter()
                .filter_map(|id| self.open.get(id).map(|(_, o)| (*id, o)))
                .filter(|(_, o)| o.last_seen + window > now)
        };
        if active().count() < HANDFUL {
            return None;
        }
        let room = |o: &Open| o.fold.as_ref().is_none_or(|f| f.keys.len() < MAX_FOLDED);
        active().find(|(_, o)| room(o)).map(|(id, _)| id)
    }

    /// Number of open incidents.
    pub fn open(&self) -> usize {
        self.open.len()
    }

    /// The id of the open incident of `key` (or standing for it), if one is open.
    pub fn id_of(&self, key: &IncidentKey) -> Option<u64> {
        self.ids.get(key).map(|h| h.id)
    }

    /// Evidence for `key` at `now`: `fill` sets the figures (packets, severity, summary,
    /// evidence). Pushes a `new` report for a new incident, or an `update` when due.
    pub fn observe(&mut self, key: IncidentKey, now: Nanos, fill: impl FnOnce(&mut Alert), out: &mut Vec<Alert>) {
        if let Some(held) = self.ids.get_mut(&key)
            && let Some((own, open)) = self.open.get_mut(&held.id)
        {
            open.seen(now);
            if *own == key {
                fill(&mut open.alert);
            } else {
                open.fold.get_or_insert_default().update(&scratch(key, now, fill), held);
            }
            open.changed(now, self.update_every, out);
            return;
        }
        if let Some(id) = self.fold_target(&key, now)
            && let Some((_, open)) = self.open.get_mut(&id)
        {
            open.seen(now);
            let fold = open.fold.get_or_insert_default();
            match (key.dst, key.port) {
                (Some(dst), _) => fold.folded.add(key.kind, Some(dst)),
                (None, Some(port)) => fold.folded.add_port(key.kind, port),
                (None, None) => fold.folded.add(key.kind, None),
            }
            fold.keys.push(key);
            let mut held = Held { id, packets: 0, forged: 0 };
            fold.update(&scratch(key, now, fill), &mut held);
            self.ids.insert(key, held);
            open.changed(now, self.update_every, out);
            return;
        }
        let id = self.next_id;
        self.next_id += 1;
        let mut alert = scratch(key, now, fill);
        alert.id = id;
        out.push(alert.clone());
        self.ids.insert(key, Held { id, packets: 0, forged: 0 });
        if let (Some((primaries, _)), Some(src)) = (&mut self.primaries, key.src) {
            primaries.entry((src, key.kind, key.proto)).or_default().push(id);
        }
        let open = Open { alert, last_report: now, last_seen: now, changed: false, fold: None };
        self.open.insert(id, (key, open));
    }

    /// Packet time is `now`: pushes due updates and ends incidents quiet for long enough.
    pub fn tick(&mut self, now: Nanos, out: &mut Vec<Alert>) {
        let mut ended = Vec::new();
        for (id, (_, open)) in &mut self.open {
            if now - open.last_seen >= self.quiet {
                out.push(report(open, AlertState::End, now));
                ended.push(*id);
            } else if open.changed {
                open.update_if_due(now, self.update_every, out);
            }
        }
        for id in ended {
            if let Some((key, open)) = self.open.remove(&id) {
                self.let_go(id, key, open);
            }
        }
    }

    /// Forgets an ended incident's keys.
    fn let_go(&mut self, id: u64, key: IncidentKey, open: Open) {
        self.ids.remove(&key);
        for k in open.fold.map(|f| f.keys).unwrap_or_default() {
            self.ids.remove(&k);
        }
        if let (Some((primaries, _)), Some(src)) = (&mut self.primaries, key.src) {
            let triple = (src, key.kind, key.proto);
            if let Some(own) = primaries.get_mut(&triple) {
                own.retain(|&o| o != id);
                if own.is_empty() {
                    primaries.remove(&triple);
                }
            }
        }
    }

    /// The capture is over at `now`: ends every open incident, in id order.
    pub fn finish(&mut self, now: Nanos, out: &mut Vec<Alert>) {
        for (_, (_, mut open)) in std::mem::take(&mut self.open) {
            out.push(report(&mut open, AlertState::End, now));
        }
        self.ids.clear();
        if let Some((primaries, _)) = &mut self.primaries {
            primaries.clear();
        }
    }
}

/// The forged answers a scan's or sweep's figures count.
fn forged(a: &Alert) -> u64 {
    a.evidence.figures.tally().map_or(0, |t| t.forged_answers)
}

/// A fresh alert for `key` at `now`, filled in by its detector.
fn scratch(key: IncidentKey, now: Nanos, fill: impl FnOnce(&mut Alert)) -> Alert {
    let mut alert = Alert {
        id: 0,
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
    alert
}

/// The report of an open incident in `state` at `now`, with what it stands for.
fn report(open: &mut Open, state: AlertState, now: Nanos) -> Alert {
    open.alert.state = state;
    open.alert.ts = now;
    let mut a = open.alert.clone();
    if let Some(fold) = &open.fold {
        let own = a.packets;
        a.packets =
            fold.packets.iter().map(|&(k, n)| if k == a.kind { n + own } else { n }).max().unwrap_or(0).max(own);
        a.severity = a.severity.max(fold.severity.unwrap_or(Severity::Low));
        let n = fold.folded.alerts;
        let (one, many) = match a.kind {
            AlertKind::PortScan => ("host scanned", "hosts scanned"),
            AlertKind::HostSweep => ("service swept", "services swept"),
            _ => ("incident", "incidents"),
        };
        let what = if n == 1 { one } else { many };
        a.summary.push_str(&format!("; and {n} more {what} (folded in)"));
        a.evidence.folded = Some(fold.folded.clone());
    }
    a
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

    fn scan(src: &str, dst: &str, proto: AlertProto) -> IncidentKey {
        IncidentKey { dst: Some(dst.parse().unwrap()), proto, ..key(src) }
    }

    #[test]
    fn beyond_a_handful_at_once_a_sources_incidents_of_one_kind_fold_into_its_oldest() {
        let mut book = Book::new(5 * S, 10 * S).folding_by_source(3 * S);
        let mut out = Vec::new();
        let tcp = AlertProto::Tcp;
        let target = |i: u8| format!("10.0.1.{i}");
        book.observe(scan("10.0.0.1", &target(1), tcp), 0, |a| a.packets = 10, &mut out);
        book.observe(scan("10.0.0.1", &target(2), tcp), S, |a| a.packets = 10, &mut out);
        book.observe(scan("10.0.0.1", &target(3), tcp), S, |a| a.packets = 20, &mut out);
        book.observe(scan("10.0.0.1", &target(3), tcp), 2 * S, |a| a.packets = 30, &mut out);
        // Another protocol, and another source, are incidents of their own.
        book.observe(scan("10.0.0.1", &target(1), AlertProto::Udp), 2 * S, |_| {}, &mut out);
        book.observe(scan("10.0.0.9", &target(2), tcp), 2 * S, |_| {}, &mut out);
        let news = [(1, AlertState::New), (2, AlertState::New), (3, AlertState::New), (4, AlertState::New)];
        assert_eq!(states(&out), news, "the third target at once is folded into the first");
        out.clear();
        // The folded target keeps the first open past its own quiet time.
        book.observe(scan("10.0.0.1", &target(3), tcp), 8 * S, |a| a.packets = 35, &mut out);
        book.tick(13 * S, &mut out);
        let ends = [(1, AlertState::Update), (2, AlertState::End), (3, AlertState::End), (4, AlertState::End)];
        assert_eq!(states(&out), ends);
        let first = &out[0];
        let folded = first.evidence.folded.as_ref().unwrap();
        assert_eq!((folded.alerts, folded.sample_hosts.as_slice()), (1, [target(3).parse().unwrap()].as_slice()));
        assert_eq!(first.packets, 45, "its own 10 and the latest 35 of the folded one");
        assert!(first.summary.ends_with("; and 1 more host scanned (folded in)"), "{}", first.summary);
        out.clear();
        book.tick(18 * S, &mut out);
        assert_eq!(states(&out), [(1, AlertState::End)]);
        assert!(book.ids.is_empty() && book.primaries.as_ref().unwrap().0.is_empty(), "every key let go");
        // One target after another: an incident each, however many.
        out.clear();
        for i in 0..5u8 {
            let t = 20 * S + Nanos::from(i) * 4 * S;
            book.observe(scan("10.0.0.1", &target(10 + i), tcp), t, |_| {}, &mut out);
            book.observe(scan("10.0.0.1", &target(10 + i), tcp), t + S, |_| {}, &mut out);
        }
        assert_eq!(out.iter().filter(|a| a.state == AlertState::New).count(), 5);
    }

    #[test]
    fn an_incident_stands_for_a_bounded_number_of_others() {
        let mut book = Book::new(5 * S, 10 * S).folding_by_source(3 * S);
        let mut out = Vec::new();
        let n = 2 + 2 * MAX_FOLDED + 5;
        for i in 0..n as u32 {
            let target = std::net::Ipv4Addr::from(0x0a00_0000 + i).to_string();
            book.observe(scan("10.9.9.9", &target, AlertProto::Tcp), S, |_| {}, &mut out);
        }
        let news: Vec<u64> = out.iter().filter(|a| a.state == AlertState::New).map(|a| a.id).collect();
        assert_eq!(news, [1, 2, 3], "two, then one more once both are full");
        let held: Vec<usize> = book.open.values().map(|(_, o)| o.fold.as_ref().map_or(0, |f| f.keys.len())).collect();
        assert_eq!(held, [MAX_FOLDED, MAX_FOLDED, 4]);
    }
}
