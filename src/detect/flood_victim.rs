//! What the flood detector keeps per victim: sliding one-second windows in 100 ms slots
//! and, per kind of traffic, the load (rate, learned baseline, distinct sources, flows
//! and ports, majority votes) that its judgement reads.

use std::net::IpAddr;

use super::{Facts, Kind};
use crate::detect::memory::{Distinct, Members, address, number};
use crate::packet::{NANOS_PER_SEC, Nanos};
use crate::stats::table::LastSeen;

pub(super) const SLOT: Nanos = NANOS_PER_SEC / 10;
/// Slots in the window: one second, so a slot's second is `slot / SLOTS`.
pub(super) const SLOTS: usize = 10;
/// Per-second smoothing of a victim's learned rates: about ten minutes of memory, so that a flood
/// ramping up over minutes does not teach the baseline its own rate.
pub(super) const ALPHA: f64 = 1.0 / 600.0;

/// A sliding second of counts in 100 ms slots.
#[derive(Clone, Copy, Default)]
pub(super) struct Window(pub(super) [u32; SLOTS]);

impl Window {
    pub(super) fn sum(&self) -> u32 {
        self.0.iter().sum()
    }
}

/// One kind of traffic at one victim.
#[derive(Default)]
pub(super) struct Load {
    pub(super) window: Window,
    /// Distinct sources, flows and ports: this second and the one before.
    pub(super) sources: [Distinct; 2],
    pub(super) flows: [Distinct; 2],
    pub(super) ports: [Distinct; 2],
    /// Majority votes (Boyer-Moore) for the source and the port.
    pub(super) top_src: Option<(IpAddr, i64)>,
    /// Packets that voted.
    pub(super) votes: i64,
    pub(super) top_port: (u16, i64),
    pub(super) baseline: f64,
    /// An incident is running: packets are counted into it.
    pub(super) active: bool,
    /// Packet time it was last running at.
    pub(super) active_at: Nanos,
    pub(super) packets: u64,
    /// `packets` as last given to the book.
    pub(super) reported: u64,
    pub(super) peak: u32,
    pub(super) last_report_slot: i64,
    /// The window as last reported.
    pub(super) facts: Option<Facts>,
    /// Every source counted while warm (for folding their other alerts into the
    /// incident), until the load has been cold for [`HOLD_MEMBERS`].
    pub(super) members: Option<Members>,
}

/// How long a cold load keeps its members: as long as an outlier alert about one of them
/// may still come (see `incidents::OUTLIER_EXPLAINED`).
pub(super) const HOLD_MEMBERS: Nanos = crate::detect::incidents::OUTLIER_EXPLAINED;

impl Load {
    /// Counts a packet; `warm` (the rate is near a threshold) also counts its source,
    /// flow and port, which only a possible flood needs.
    pub(super) fn count(&mut self, slot: usize, src: IpAddr, sport: u16, dport: u16, warm: bool) {
        self.window.0[slot] += 1;
        if warm {
            // Mixed directly (IPv4): three hashes per packet of a flood.
            let h = address(src);
            self.sources[0].insert(h);
            self.members.get_or_insert_default().insert(h);
            self.flows[0].insert(number(h ^ u64::from(sport)));
            self.ports[0].insert(number(u64::from(dport)));
        }
        self.votes += 1;
        self.top_src = match self.top_src {
            Some((s, n)) if s == src => Some((s, n + 1)),
            Some((s, n)) if n > 1 => Some((s, n - 1)),
            _ => Some((src, 1)),
        };
        self.top_port = match self.top_port {
            (p, n) if p == dport => (p, n + 1),
            (p, n) if n > 1 => (p, n - 1),
            _ => (dport, 1),
        };
        if self.active {
            self.packets += 1;
        }
    }

    /// The incident stops running: the votes start again, so that what follows (a
    /// one-source scan of the same victim, say) is judged by its own packets, not
    /// outvoted by the flood's decaying ones.
    pub(super) fn stop(&mut self) {
        self.active = false;
        (self.votes, self.top_src, self.top_port) = (0, None, (0, 0));
    }

    pub(super) fn estimate(pair: &[Distinct; 2]) -> u32 {
        pair[0].union(pair[1]).estimate()
    }

    /// A second passed (or `seconds` of them): learn the rate, age the distinct counts.
    pub(super) fn roll(&mut self, seconds: i64) {
        if !self.active {
            let rate = f64::from(self.window.sum());
            self.baseline += ALPHA * (rate - self.baseline);
            if seconds > 1 {
                self.baseline *= (1.0 - ALPHA).powi((seconds - 1).min(10_000) as i32);
            }
        }
        // The majority votes fade, so they speak of recent traffic.
        self.votes /= 2;
        if let Some((_, n)) = &mut self.top_src {
            *n /= 2;
        }
        self.top_port.1 /= 2;
        for pair in [&mut self.sources, &mut self.flows, &mut self.ports] {
            pair[1] = if seconds > 1 { Distinct::default() } else { pair[0] };
            pair[0] = Distinct::default();
        }
    }
}

/// Everything counted for one destination.
pub(super) struct Victim {
    /// The current 100 ms slot (`ts / SLOT`); its second is `slot / SLOTS`.
    pub(super) slot: i64,
    pub(super) last: Nanos,
    pub(super) loads: [Option<Box<Load>>; 4],
    pub(super) completed: Window,
    pub(super) udp_out: Window,
    /// The MAC its traffic is addressed to (all zeros until known): answers "from" it
    /// count only from there. Chosen by a running majority vote over the frames sent to
    /// it (`mac_votes` is the vote's lead), so one frame sent to another MAC before a
    /// flood cannot make that MAC the victim's.
    pub(super) mac: [u8; 6],
    pub(super) mac_votes: u8,
}

/// The lead a MAC can build in the vote for a victim's MAC: taking its place needs more
/// frames to another MAC than this, in a row beyond the ones to it.
const MAC_LEAD: u8 = 64;

impl LastSeen for Victim {
    fn last_seen(&self) -> Nanos {
        self.last
    }
}

impl Victim {
    pub(super) fn new(ts: Nanos) -> Self {
        Victim {
            slot: ts.div_euclid(SLOT),
            last: ts,
            loads: [None, None, None, None],
            completed: Window::default(),
            udp_out: Window::default(),
            mac: [0; 6],
            mac_votes: 0,
        }
    }

    /// Notes the MAC a packet to this victim was sent to (unicast ones vote).
    pub(super) fn learn_mac(&mut self, mac: [u8; 6]) {
        if mac == [0; 6] || crate::detect::memory::is_group_mac(mac) {
            return;
        }
        if mac == self.mac {
            self.mac_votes = self.mac_votes.saturating_add(1).min(MAC_LEAD);
        } else if self.mac_votes <= 1 {
            (self.mac, self.mac_votes) = (mac, 1);
        } else {
            self.mac_votes -= 1;
        }
    }

    /// Whether a packet from source MAC `mac` can be this victim's own.
    pub(super) fn sent_by_it(&self, mac: [u8; 6]) -> bool {
        self.mac == [0; 6] || mac == [0; 6] || mac == self.mac
    }

    /// Moves the window to `ts`; returns the slot index to count into.
    pub(super) fn advance(&mut self, ts: Nanos) -> usize {
        self.last = self.last.max(ts);
        let slot = ts.div_euclid(SLOT).max(self.slot);
        let gone = (slot - self.slot).min(SLOTS as i64);
        for s in 1..=gone {
            let i = (self.slot + s).rem_euclid(SLOTS as i64) as usize;
            for w in self.windows() {
                w.0[i] = 0;
            }
        }
        let seconds = slot.div_euclid(SLOTS as i64) - self.slot.div_euclid(SLOTS as i64);
        if seconds > 0 {
            for load in self.loads.iter_mut().flatten() {
                load.roll(seconds);
            }
        }
        self.slot = slot;
        slot.rem_euclid(SLOTS as i64) as usize
    }

    pub(super) fn windows(&mut self) -> impl Iterator<Item = &mut Window> {
        let loads = self.loads.iter_mut().flatten().map(|l| &mut l.window);
        loads.chain([&mut self.completed, &mut self.udp_out])
    }

    pub(super) fn load(&mut self, kind: Kind) -> &mut Load {
        self.loads[kind as usize].get_or_insert_with(Box::default)
    }
}
