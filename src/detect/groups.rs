//! Many hosts alike are one incident: when more than [`HANDFUL`] hosts raise the same
//! kind of alert with the same explanation close together, the next ones are not
//! reported one by one but folded into one group incident, with a count and a sample.
//!
//! "The same explanation" ([`Likeness`]) is, per kind: for an outlier, the set of figures
//! its explanation names ("bare SYNs", "new peers", ...); for a port scan, its target (a
//! decoy or distributed scan); for a host sweep, its service; for a flood, its source
//! (one attacker, many victims). Rate spikes are per protocol already. The first
//! [`HANDFUL`] hosts keep their own incidents: a group needs more than a coincidence.
//! Outliers are alike within [`WINDOW`]; scans, sweeps and floods within [`QUIET`] (while
//! the incidents already reported are still open), so spacing sources out splits nothing.
//!
//! A group has the lifecycle of any incident: `new` when it forms, `update`s at most every
//! [`UPDATE_EVERY`] while hosts join, `end` once none has joined for [`QUIET`]. Times are
//! detection times, like everything the incident layer sees.

use std::collections::VecDeque;
use std::net::IpAddr;

use super::evidence::{Figures, Folded};
use super::memory::hash_of;
use super::{Alert, AlertKind, AlertProto, AlertState};
use crate::packet::{NANOS_PER_SEC, Nanos};
use crate::stats::table::{CappedTable, Fill, LastSeen};

/// Hosts alike that still get an incident each.
pub const HANDFUL: usize = 2;
/// How close together in time alike alerts must come to form a group.
pub const WINDOW: Nanos = 10 * NANOS_PER_SEC;
/// A group reports at most this often.
pub const UPDATE_EVERY: Nanos = 5 * NANOS_PER_SEC;
/// A group ends after this long without a new host.
pub const QUIET: Nanos = 60 * NANOS_PER_SEC;
/// Explanations tracked at once (least recently seen evicted).
const MAX_GROUPS: usize = 4096;

/// What makes two alerts alike (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Likeness {
    kind: AlertKind,
    proto: AlertProto,
    what: u64,
}

impl Likeness {
    /// The likeness of a report, and the host it is about; none for kinds that do not group.
    pub fn of(a: &Alert) -> Option<(Likeness, IpAddr)> {
        let (what, host) = match a.kind {
            AlertKind::Outlier => {
                let Figures::Outlier(o) = &a.evidence.figures else { return None };
                let mut names: Vec<&str> = o.unusual.iter().map(|u| u.feature.as_str()).collect();
                names.sort_unstable();
                (hash_of(names), a.src?)
            }
            AlertKind::PortScan => (hash_of(a.dst), a.src?),
            AlertKind::HostSweep => (hash_of(a.port), a.src?),
            AlertKind::SynFlood | AlertKind::UdpFlood | AlertKind::IcmpFlood | AlertKind::Icmpv6Flood => {
                (hash_of(a.src), a.dst?)
            }
            AlertKind::RateSpike => return None,
        };
        Some((Likeness { kind: a.kind, proto: a.proto, what }, host))
    }

    /// How close together alike reports must come to form a group: outliers within
    /// seconds ([`WINDOW`]); scans, sweeps and floods while the incidents already
    /// reported are still open ([`QUIET`]), however the attacker spaces them out.
    fn window(&self) -> Nanos {
        if self.kind == AlertKind::Outlier { WINDOW } else { QUIET }
    }
}

/// The group incident of one likeness, once formed.
struct Open {
    alert: Alert,
    /// The summary of the report that formed the group.
    like: String,
    last_seen: Nanos,
    last_report: Nanos,
    changed: bool,
}

/// Recent hosts of one likeness, and its group incident.
struct Group {
    recent: VecDeque<(Nanos, IpAddr)>,
    open: Option<Open>,
    last: Nanos,
}

impl LastSeen for Group {
    fn last_seen(&self) -> Nanos {
        self.last
    }
}

/// What [`Groups::offer`] made of a new report.
pub enum Offer {
    /// Report it as its own incident.
    Own,
    /// Folded into the group incident; these reports (the group's) go out instead.
    Folded(Vec<Alert>),
}

/// Every likeness seen lately.
pub struct Groups {
    table: CappedTable<Likeness, Group>,
}

impl Default for Groups {
    fn default() -> Self {
        Groups { table: CappedTable::new(MAX_GROUPS) }
    }
}

impl Groups {
    /// A new, unexplained report `a`: its own incident, or folded into a group (which
    /// `next_id` numbers when it forms).
    pub fn offer(&mut self, a: &Alert, next_id: &mut u64) -> Offer {
        let Some((like, host)) = Likeness::of(a) else { return Offer::Own };
        let now = a.ts;
        let g = self.table.entry_or_insert_with(like, || Group { recent: VecDeque::new(), open: None, last: now });
        g.last = g.last.max(now);
        if let Some(open) = &mut g.open {
            open.last_seen = open.last_seen.max(now);
            open.alert.last_ts = open.last_seen;
            open.alert.severity = open.alert.severity.max(a.severity);
            open.alert.packets += a.packets;
            open.alert.evidence.folded.get_or_insert_default().add(a.kind, Some(host));
            open.changed = true;
            let mut out = Vec::new();
            if now - open.last_report >= UPDATE_EVERY {
                out.push(report(open, AlertState::Update, now));
            }
            return Offer::Folded(out);
        }
        while g.recent.front().is_some_and(|&(t, _)| t + like.window() <= now) {
            g.recent.pop_front();
        }
        if !g.recent.iter().any(|&(_, h)| h == host) {
            g.recent.push_back((now, host));
        }
        if g.recent.len() <= HANDFUL {
            return Offer::Own;
        }
        *next_id += 1;
        let mut folded = Folded::default();
        for &(_, h) in &g.recent {
            folded.add(a.kind, Some(h));
        }
        let hosts = folded.alerts;
        let mut alert = a.clone();
        alert.id = *next_id;
        alert.state = AlertState::New;
        alert.first_ts = g.recent.front().map_or(now, |&(t, _)| t);
        match a.kind {
            AlertKind::SynFlood | AlertKind::UdpFlood | AlertKind::IcmpFlood | AlertKind::Icmpv6Flood => {
                alert.dst = None
            }
            _ => alert.src = None,
        }
        alert.summary = summary(hosts, &a.summary);
        alert.evidence.folded = Some(folded);
        alert.evidence.pcap = None;
        alert.evidence.pcap_error = None;
        g.recent.clear();
        let open = Open { alert, like: a.summary.clone(), last_seen: now, last_report: now, changed: false };
        let first = open.alert.clone();
        g.open = Some(open);
        Offer::Folded(vec![first])
    }

    /// Detection time is `now`: due updates, and ends of groups quiet for [`QUIET`].
    pub fn tick(&mut self, now: Nanos, out: &mut Vec<Alert>) {
        let before = out.len();
        let mut ended = Vec::new();
        for (like, g) in self.table.iter_mut() {
            if let Some(open) = &mut g.open {
                if now - open.last_seen >= QUIET {
                    out.push(report(open, AlertState::End, now));
                    g.open = None;
                } else if open.changed && now - open.last_report >= UPDATE_EVERY {
                    out.push(report(open, AlertState::Update, now));
                }
            }
            if g.open.is_none() && g.recent.back().is_none_or(|&(t, _)| t + like.window() <= now) {
                ended.push(*like);
            }
        }
        if !ended.is_empty() {
            ended.sort_unstable();
            self.table.retain(|like, _| ended.binary_search(like).is_err());
        }
        out[before..].sort_by_key(|a| a.id);
    }

    /// The capture is over at `now`: every open group ends.
    pub fn finish(&mut self, now: Nanos, out: &mut Vec<Alert>) {
        let before = out.len();
        for (_, g) in self.table.iter_mut() {
            if let Some(open) = &mut g.open {
                out.push(report(open, AlertState::End, now));
                g.open = None;
            }
        }
        out[before..].sort_by_key(|a| a.id);
    }

    /// Likenesses tracked, the cap, evictions.
    pub fn fill(&self) -> Fill {
        self.table.fill()
    }
}

fn report(open: &mut Open, state: AlertState, now: Nanos) -> Alert {
    open.alert.state = state;
    open.alert.ts = now;
    open.last_report = now;
    open.changed = false;
    let n = open.alert.evidence.folded.as_ref().map_or(0, |f| f.alerts);
    open.alert.summary = summary(n, &open.like);
    open.alert.clone()
}

fn summary(hosts: u64, like: &str) -> String {
    format!("{hosts} hosts alike, for example: {like}")
}
