//! What the scan detector remembers of probes it saw sent, and of who answers: the
//! evidence that an answer belongs to a probe, and that it came from the host it claims.
//!
//! [`Probes`] holds each probe's own numbers (a SYN's sequence number, an ACK probe's
//! acknowledgement number), so that only an answer that acknowledges the probe counts
//! (RFC 9293 §3.10.7.1: a RST answering a SYN acknowledges its sequence number plus one;
//! one answering an ACK takes its sequence number from that acknowledgement). It is a
//! fixed-size two-way table: a flood of probes can push probes out (they are then left
//! undecided, never counted against anyone), but cannot grow it.
//!
//! [`Idents`] keeps the link address and TTL each IP address answered with first (or
//! announced in ARP). An answer from another MAC, or with a TTL more than one hop off,
//! is not that host's: it is counted as forged, and never hides a probe.

use std::net::IpAddr;

use crate::decode::PacketMeta;
use crate::detect::evidence::Technique;
use crate::packet::Nanos;
use crate::stats::table::{CappedTable, LastSeen};

/// What a probe was sent as.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum Sent {
    /// A TCP SYN (also the start of a connect scan).
    #[default]
    Syn,
    /// A TCP segment with ACK and none of SYN/RST (nmap's ACK scan, or a stray).
    Ack,
    /// A TCP segment with none of SYN, ACK and RST (FIN, NULL, Xmas).
    Stealth,
    /// The first UDP datagram of a conversation.
    Udp,
    /// An ARP who-has.
    Arp,
    /// An ICMPv6 neighbor solicitation.
    Nd,
}

/// One probe the sensor saw sent, and what came back for it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Record {
    /// The probe's tuple (see `memory::tuple`); 0 marks an empty slot.
    key: u64,
    pub(super) ts: Nanos,
    /// The number an answer must acknowledge: a SYN's or stealth probe's sequence number,
    /// an ACK probe's acknowledgement number.
    pub(super) number: u32,
    pub(super) sent: Sent,
    /// `ANSWERED`, `FAILED`, `FORGED` bits.
    pub(super) state: u8,
    /// How it was sent, for the tally's evidence.
    pub(super) technique: Technique,
}

impl Record {
    /// An answer from the target itself came.
    pub(super) const ANSWERED: u8 = 1;
    /// The probe failed and was counted (a RST or unreachable, or a stealth probe).
    pub(super) const FAILED: u8 = 2;
    /// An answer contradicted another, or came from a MAC or TTL unlike the host's.
    pub(super) const FORGED: u8 = 4;
    /// The prober acknowledged the SYN-ACK that answered it: a connection, not a probe
    /// left half open.
    pub(super) const COMPLETED: u8 = 8;

    pub(super) fn new(key: u64, ts: Nanos, number: u32, sent: Sent, technique: Technique) -> Self {
        Record { key, ts, number, sent, state: 0, technique }
    }

    pub(super) fn key(&self) -> u64 {
        self.key
    }

    /// Takes an answer to this probe, the target's own or not (then forged); returns
    /// whether the probe had already failed (the answers contradict each other).
    pub(super) fn answer(&mut self, own: bool) -> bool {
        self.state |= if own { Record::ANSWERED } else { Record::FORGED };
        self.has(Record::FAILED)
    }

    pub(super) fn has(&self, bit: u8) -> bool {
        self.state & bit != 0
    }

    /// Whether a RST with these numbers answers this probe (RFC 9293 §3.10.7.1).
    pub(super) fn rst_matches(&self, m: &PacketMeta) -> bool {
        match self.sent {
            Sent::Syn => m.tcp_ack == self.number.wrapping_add(1),
            // The RST acknowledges the probe's sequence number plus its FIN (one) if any;
            // probes carry no payload.
            Sent::Stealth => m.tcp_ack.wrapping_sub(self.number) <= 1,
            Sent::Ack => m.tcp_seq == self.number,
            Sent::Udp | Sent::Arp | Sent::Nd => false,
        }
    }
}

/// The probes awaiting (or having had) their answers: 2 ways of `1 << bits` / 2 buckets.
pub(super) struct Probes {
    slots: Vec<Record>,
    shift: u32,
}

impl Probes {
    pub(super) fn new(bits: u32) -> Self {
        Probes { slots: vec![Record::new(0, 0, 0, Sent::Syn, Technique::Syn); 1 << bits], shift: 64 - bits }
    }

    #[inline]
    fn bucket(&self, key: u64) -> usize {
        (key >> self.shift) as usize & !1
    }

    /// The probe of tuple `key`, if it is still held.
    #[inline]
    pub(super) fn get_mut(&mut self, key: u64) -> Option<&mut Record> {
        let i = self.bucket(key);
        self.slots[i..i + 2].iter_mut().find(|r| r.key == key && key != 0)
    }

    /// Holds `r`, in place of the same tuple's older probe or else the older of the two
    /// in its bucket.
    pub(super) fn insert(&mut self, r: Record) {
        let i = self.bucket(r.key);
        let pair = &mut self.slots[i..i + 2];
        let at = (pair.iter().position(|s| s.key == r.key))
            .or_else(|| pair.iter().position(|s| s.key == 0))
            .unwrap_or(usize::from(pair[1].ts < pair[0].ts));
        pair[at] = r;
    }

    #[inline]
    pub(super) fn prefetch(&self, key: u64) {
        crate::stats::table::prefetch(&self.slots[self.bucket(key)]);
    }
}

/// How one address showed itself.
#[derive(Clone, Copy, Debug)]
pub(super) struct Ident {
    mac: [u8; 6],
    ttl: u8,
    last: Nanos,
}

impl Ident {
    /// How `m` shows its sender (no TTL for ARP).
    fn of(m: &PacketMeta) -> Ident {
        Ident { mac: m.src_mac, ttl: if m.src.is_some() { m.ttl } else { 0 }, last: m.ts }
    }

    /// Whether `seen` can be the same machine: the same MAC, a TTL at most one hop off
    /// (unknown fields match anything).
    fn alike(&self, seen: &Ident) -> bool {
        let mac_ok = self.mac == [0; 6] || seen.mac == [0; 6] || self.mac == seen.mac;
        let ttl_ok = self.ttl == 0 || seen.ttl == 0 || self.ttl.abs_diff(seen.ttl) <= 1;
        mac_ok && ttl_ok
    }
}

impl LastSeen for Ident {
    fn last_seen(&self) -> Nanos {
        self.last
    }
}

/// The link address and TTL each address answered with first.
pub(super) struct Idents {
    table: CappedTable<IpAddr, Ident>,
}

impl Idents {
    pub(super) fn new(cap: usize) -> Self {
        Idents { table: CappedTable::new(cap) }
    }

    /// Whether `m` (sent as `from`) looks like what `from` sent before; the first look
    /// is remembered. Unknown fields (no MAC on this link, no TTL in ARP) match anything.
    pub(super) fn agrees(&mut self, from: IpAddr, m: &PacketMeta) -> bool {
        let seen = Ident::of(m);
        let known = self.table.entry_or_insert_with(from, || seen);
        known.last = known.last.max(m.ts);
        let alike = known.alike(&seen);
        if alike {
            if known.mac == [0; 6] {
                known.mac = seen.mac;
            }
            if known.ttl == 0 {
                known.ttl = seen.ttl;
            }
        }
        alike
    }

    /// The MAC `ip` showed itself with, when known.
    pub(super) fn mac_of(&self, ip: IpAddr) -> Option<[u8; 6]> {
        self.table.get(&ip).map(|k| k.mac).filter(|m| *m != [0; 6])
    }

    /// Whether `m` certainly was not sent by `from`'s machine: `from` is known, and `m`
    /// came from another MAC. Only the MAC: scanners pick their probes' TTLs at random
    /// (nmap's raw probes use 37-59), so a TTL tells nothing about who sent a probe.
    pub(super) fn foreign_sender(&self, from: IpAddr, m: &PacketMeta) -> bool {
        self.mac_of(from).is_some_and(|mac| m.src_mac != [0; 6] && m.src_mac != mac)
    }

    pub(super) fn fill(&self) -> crate::stats::table::Fill {
        self.table.fill()
    }
}
