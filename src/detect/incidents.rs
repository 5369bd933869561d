//! The run's incidents: run-wide ids, which reports another incident explains, and the
//! latest report of each incident, all bounded.
//!
//! Open incidents are held until they end (the detectors' own caps bound how many can
//! be open); of the ended ones the latest [`MAX_ENDED`] are kept, and the rest only
//! counted. Whether an incident explains a new report is answered from two small
//! indexes (the latest rule activity per protocol and per host), so each report costs
//! O(1) whatever the number of past incidents.

use std::collections::VecDeque;
use std::net::IpAddr;

use super::evidence::Folded;
use super::groups::{Groups, Offer};
use super::{Alert, AlertKind, AlertProto, AlertState, Detector, TICK};
use crate::hash::{Map, Set};
use crate::packet::Nanos;
use crate::stats::table::{CappedTable, Fill};

/// Ended incidents kept (newest); older ones are counted, not kept.
pub const MAX_ENDED: usize = 1000;
/// Hosts remembered for "a rule already names this host" (least recently named evicted).
const MAX_NAMED_HOSTS: usize = 65_536;
/// Open explained incidents remembered (a detector cap bounds them well below this).
const MAX_EXPLAINED: usize = 65_536;

/// How long after a scan or flood an outlier of the same host counts as explained by it:
/// the long horizon of the outlier's figures remembers about a minute.
pub const OUTLIER_EXPLAINED: Nanos = 90 * crate::packet::NANOS_PER_SEC;

/// When rule incidents last named a host, as their source and as their target.
#[derive(Clone, Copy, Debug, Default)]
struct Named {
    as_source: Option<Nanos>,
    as_target: Option<Nanos>,
}

impl crate::stats::table::LastSeen for Named {
    fn last_seen(&self) -> Nanos {
        self.as_source.max(self.as_target).unwrap_or(0)
    }
}

/// Packets a host sends out at least this large on average (bytes) are data, not
/// answers: RSTs, SYN-ACKs and ICMP errors (which quote at most 576 bytes) are smaller.
const DATA_PACKET: f64 = 600.0;

/// The outlier figures [`sends_bytes`] reads (names from [`super::features::FEATURES`]).
pub(super) const BYTES_OUT: &str = "bytes_out_per_s";
pub(super) const PACKETS_OUT: &str = "packets_out_per_s";

/// Whether outlier report `a` finds its host odd for sending more bytes than usual, in
/// packets of data (an upload), not a flood of small answers: in either horizon, with
/// bytes and packets of the same horizon.
fn sends_bytes(a: &Alert) -> bool {
    let super::evidence::Figures::Outlier(f) = &a.evidence.figures else { return false };
    ["", "_long"].iter().any(|horizon| {
        let figure = |name: &str| {
            let name = format!("{name}{horizon}");
            f.unusual.iter().find(|u| u.feature == name).map(|u| (u.value, u.typical))
        };
        let Some((bytes, typical)) = figure(BYTES_OUT) else { return false };
        bytes > typical
            && match figure(PACKETS_OUT) {
                Some((packets, _)) if packets > 0.0 => bytes / packets >= DATA_PACKET,
                _ => true,
            }
    })
}

/// The latest report of each incident: every open one, and the latest [`MAX_ENDED`]
/// ended ones (the rest counted).
#[derive(Clone, Debug, Default)]
pub struct Latest {
    open: Map<u64, Alert>,
    ended: VecDeque<Alert>,
    ended_dropped: u64,
    /// Highest incident id seen.
    top_id: u64,
}

impl Latest {
    /// Keeps `a` as its incident's latest report.
    pub fn keep(&mut self, a: Alert) {
        self.top_id = self.top_id.max(a.id);
        if a.state != AlertState::End {
            self.open.insert(a.id, a);
            return;
        }
        self.open.remove(&a.id);
        if self.ended.len() == MAX_ENDED {
            self.ended.pop_front();
            self.ended_dropped += 1;
        }
        self.ended.push_back(a);
    }

    /// The latest report of every incident held, newest incident first.
    pub fn list(&self) -> Vec<Alert> {
        let mut all: Vec<Alert> = self.open.values().chain(&self.ended).cloned().collect();
        all.sort_unstable_by_key(|a| std::cmp::Reverse(a.id));
        all
    }

    /// Incidents seen (the highest id).
    pub fn total(&self) -> u64 {
        self.top_id
    }

    /// Incidents held, the cap, and ended ones no longer held.
    pub fn fill(&self) -> Fill {
        Fill { len: self.open.len() + self.ended.len(), cap: self.open.len() + MAX_ENDED, evicted: self.ended_dropped }
    }
}

/// Incident bookkeeping (see the module doc). Times are detection times.
pub struct Incidents {
    latest: Latest,
    /// Run-wide ids of open (detector, the detector's own incident id).
    ids: Map<(usize, u64), u64>,
    next_id: u64,
    /// Open incidents that another explains: none of their reports is passed on.
    explained: Set<(usize, u64)>,
    explained_dropped: u64,
    /// Latest packet time of an incident other than a rate spike, per protocol.
    by_proto: Map<AlertProto, Nanos>,
    /// Latest packet times of rule incidents naming the host as source and as target.
    by_host: CappedTable<IpAddr, Named>,
    /// Alerts folded into an open incident (by run-wide id), shown in its evidence.
    folds: Map<u64, Folded>,
    /// Hosts alike become one incident.
    groups: Groups,
    /// Open outlier incidents passed on, by host: (detector, its id) and the latest report.
    outliers: Map<IpAddr, ((usize, u64), Alert)>,
}

impl Default for Incidents {
    fn default() -> Self {
        Incidents {
            latest: Latest::default(),
            ids: Map::default(),
            next_id: 0,
            explained: Set::default(),
            explained_dropped: 0,
            by_proto: Map::default(),
            by_host: CappedTable::new(MAX_NAMED_HOSTS),
            folds: Map::default(),
            groups: Groups::default(),
            outliers: Map::default(),
        }
    }
}

impl Incidents {
    /// Gives the reports of detector `i` in `out[from..]` run-wide ids (1, 2, ... in
    /// order of first report), and drops the reports of incidents that another incident
    /// explains (a scan or flood is one incident, not also a spike or an outlier) or stands
    /// for: an alert that another detector's open incident claims (`list`,
    /// [`Detector::claims`]) is folded into that incident, and so are
    /// hosts alike beyond a handful ([`super::groups`]).
    pub fn renumber(&mut self, i: usize, out: &mut Vec<Alert>, from: usize, list: &[Box<dyn Detector>]) {
        let mut k = from;
        let mut grouped = Vec::new();
        let mut taken_over = Vec::new();
        while k < out.len() {
            let a = &out[k];
            let local = (i, a.id);
            let end = a.state == AlertState::End;
            if self.explained.contains(&local) {
                if end {
                    self.explained.remove(&local);
                }
                out.remove(k);
                continue;
            }
            if a.state == AlertState::New {
                let fold = if self.is_explained(a) { Some(None) } else { self.claimed(i, a, list).map(Some) };
                let fold = match fold {
                    None => match self.groups.offer(a, &mut self.next_id) {
                        Offer::Own => None,
                        Offer::Folded(reports) => {
                            grouped.extend(reports);
                            Some(None)
                        }
                    },
                    some => some,
                };
                if let Some(into) = fold {
                    if let Some(id) = into {
                        if self.folds.len() >= MAX_EXPLAINED && !self.folds.contains_key(&id) {
                            self.folds.clear(); // only figures of evidence are lost
                        }
                        self.folds.entry(id).or_default().add(a.kind, a.src.or(a.dst));
                    }
                    if !end {
                        self.explain(local);
                    }
                    out.remove(k);
                    continue;
                }
            }
            let next = &mut self.next_id;
            let id = *self.ids.entry(local).or_insert_with(|| {
                *next += 1;
                *next
            });
            if end {
                self.ids.remove(&local);
            }
            self.index(&out[k]);
            out[k].id = id;
            self.follow_outlier(local, &out[k], &mut taken_over);
            if let Some(f) = if end { self.folds.remove(&id) } else { self.folds.get(&id).cloned() } {
                // Merged with what the detector folded in itself (a scanner's other scans).
                out[k].evidence.folded.get_or_insert_default().merge(&f);
            }
            k += 1;
        }
        for a in &grouped {
            self.index(a);
        }
        out.extend(grouped);
        out.extend(taken_over);
    }

    /// From now on, no report of detector incident `local` is passed on (until its end).
    fn explain(&mut self, local: (usize, u64)) {
        if self.explained.len() >= MAX_EXPLAINED {
            self.explained_dropped += self.explained.len() as u64;
            self.explained.clear();
        }
        self.explained.insert(local);
    }

    /// Keeps the latest report of each open outlier incident; when a scan or flood
    /// incident opens that names an outlier's host as its source, that outlier incident
    /// ends there, taken over: its end report (added to `ended`) names the new
    /// incident (`explained_by`), the new incident counts it among those it stands for,
    /// and the outlier detector's further reports of it are dropped. One host's attack is
    /// then one incident from the moment a rule names it, even when the outlier detector
    /// saw it first (a slow sweep takes a rule a minute; the outlier, seconds). Only the
    /// source: an outlier of a scan's target or a flood's victim may be about something
    /// else (its own exfiltration), and an accomplice's scan must not end it.
    fn follow_outlier(&mut self, local: (usize, u64), a: &Alert, ended: &mut Vec<Alert>) {
        match (a.kind, a.state) {
            (AlertKind::Outlier, AlertState::End) => {
                if let Some(h) = a.src
                    && self.outliers.get(&h).is_some_and(|(l, _)| *l == local)
                {
                    self.outliers.remove(&h);
                }
            }
            (AlertKind::Outlier, _) => {
                if let Some(h) = a.src {
                    if self.outliers.len() >= MAX_EXPLAINED && !self.outliers.contains_key(&h) {
                        self.outliers.clear(); // only the take-over of these is lost
                    }
                    self.outliers.insert(h, (local, a.clone()));
                }
            }
            (AlertKind::RateSpike, _) | (_, AlertState::Update | AlertState::End) => {}
            (_, AlertState::New) => {
                if let Some(h) = a.src
                    && let Some((outlier, last)) = self.outliers.remove(&h)
                {
                    self.ids.remove(&outlier);
                    self.explain(outlier);
                    self.folds.entry(a.id).or_default().add(AlertKind::Outlier, Some(h));
                    let mut end = Alert { state: AlertState::End, ts: a.ts.max(last.ts), ..last };
                    end.summary = format!("{}; taken over by incident {} ({})", end.summary, a.id, a.kind);
                    end.evidence.explained_by = Some(a.id);
                    if let Some(f) = self.folds.remove(&end.id) {
                        end.evidence.folded.get_or_insert_default().merge(&f);
                    }
                    ended.push(end);
                }
            }
        }
    }

    /// The run-wide id of another detector's open incident that claims `a`
    /// ([`Detector::claims`]).
    fn claimed(&self, i: usize, a: &Alert, list: &[Box<dyn Detector>]) -> Option<u64> {
        list.iter().enumerate().filter(|&(j, _)| j != i).find_map(|(j, d)| {
            let local = d.claims(a)?;
            self.ids.get(&(j, local)).copied()
        })
    }

    /// Detection time is `now`: group incidents' updates and ends.
    pub fn tick(&mut self, now: Nanos, out: &mut Vec<Alert>) {
        let before = out.len();
        self.groups.tick(now, out);
        for a in &out[before..] {
            self.index(a);
        }
    }

    /// The capture is over at `now`: every group incident ends.
    pub fn finish(&mut self, now: Nanos, out: &mut Vec<Alert>) {
        self.groups.finish(now, out);
    }

    /// Whether an incident already explains the new report `a`: a rate spike of a
    /// protocol that a scan, flood or outlier is active in, or an outlier host that a scan
    /// or flood names within [`OUTLIER_EXPLAINED`]: as attacker, or as victim unless the
    /// host is odd for what it sends out (bytes: a scan's target or a flood's victim
    /// answers with small packets, so that is something else, say an upload, which an
    /// accomplice's scan must not hide).
    fn is_explained(&self, a: &Alert) -> bool {
        match a.kind {
            AlertKind::RateSpike => self.by_proto.get(&a.proto).is_some_and(|&last| last + TICK >= a.first_ts),
            AlertKind::Outlier => {
                let Some(named) = a.src.and_then(|h| self.by_host.get(&h)) else { return false };
                let recent = |t: Option<Nanos>| t.is_some_and(|t| t.saturating_add(OUTLIER_EXPLAINED) >= a.first_ts);
                recent(named.as_source) || (recent(named.as_target) && !sends_bytes(a))
            }
            _ => false,
        }
    }

    /// Notes what a passed-on report can explain later.
    fn index(&mut self, a: &Alert) {
        if a.kind == AlertKind::RateSpike {
            return;
        }
        let last = self.by_proto.entry(a.proto).or_insert(a.last_ts);
        *last = (*last).max(a.last_ts);
        if a.kind == AlertKind::Outlier {
            return;
        }
        for (host, source) in [(a.src, true), (a.dst, false)] {
            let Some(host) = host else { continue };
            let named = self.by_host.entry_or_insert_with(host, Named::default);
            let at = if source { &mut named.as_source } else { &mut named.as_target };
            *at = (*at).max(Some(a.last_ts));
        }
    }

    /// Keeps `a` (in detection times) as its incident's latest report.
    pub fn keep(&mut self, a: Alert) {
        self.latest.keep(a);
    }

    /// The latest report of every incident held, newest incident first.
    pub fn latest(&self) -> Vec<Alert> {
        self.latest.list()
    }

    /// Incidents reported in this run (held or not).
    pub fn total(&self) -> u64 {
        self.next_id
    }

    /// The bounded structures: incidents held, explained incidents, named hosts, groups.
    pub fn tables(&self) -> [(&'static str, Fill); 4] {
        [
            ("alike_groups", self.groups.fill()),
            ("incidents", self.latest.fill()),
            ("explained", Fill { len: self.explained.len(), cap: MAX_EXPLAINED, evicted: self.explained_dropped }),
            ("named_hosts", self.by_host.fill()),
        ]
    }
}
