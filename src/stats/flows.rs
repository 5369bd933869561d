//! Bidirectional flows: the 5-tuple with both directions folded into one entry, and the
//! TCP handshake/teardown seen so far.

use std::net::IpAddr;

use super::Counter;
use super::table::{CappedTable, LastSeen, top_n_of};
use crate::decode::{PacketMeta, TcpFlags};
use crate::packet::Nanos;

/// A flow's identity: protocol number and the two endpoints, the lower one first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct FlowKey {
    /// IP protocol number.
    pub proto: u8,
    /// The lower endpoint (address, port).
    pub a: (IpAddr, u16),
    /// The higher endpoint.
    pub b: (IpAddr, u16),
}

/// Hashed as two words for IPv4 (the common case, once per packet): the derived hash
/// wrote seven small pieces. Equal keys always take the same branch, so it agrees with
/// `Eq`.
impl std::hash::Hash for FlowKey {
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        match (self.a.0, self.b.0) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                h.write_u64(u64::from(a.to_bits()) << 32 | u64::from(b.to_bits()));
                h.write_u64(u64::from(self.a.1) << 32 | u64::from(self.b.1) << 16 | u64::from(self.proto));
            }
            _ => {
                self.proto.hash(h);
                self.a.hash(h);
                self.b.hash(h);
            }
        }
    }
}

impl FlowKey {
    /// The key of a packet's flow and whether the packet goes from `a` to `b`.
    pub fn of(meta: &PacketMeta) -> Option<(FlowKey, bool)> {
        let (src, dst, proto) = (meta.src?, meta.dst?, meta.ip_proto?);
        let (sp, dp) = meta.ports.unwrap_or((0, 0));
        let (s, d) = ((src, sp), (dst, dp));
        Some(if endpoint_le(s, d) {
            (FlowKey { proto, a: s, b: d }, true)
        } else {
            (FlowKey { proto, a: d, b: s }, false)
        })
    }
}

/// `s <= d`, the derived order of (address, port), compared as integers for IPv4 (the
/// derived order compares an address's octets one by one, once per packet).
#[inline]
pub(crate) fn endpoint_le(s: (IpAddr, u16), d: (IpAddr, u16)) -> bool {
    match (s.0, d.0) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (a.to_bits(), s.1) <= (b.to_bits(), d.1),
        _ => s <= d,
    }
}

/// How far a TCP connection got, from the flags seen in both directions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpTrack {
    bits: u8,
}

impl TcpTrack {
    const SYN: u8 = 1;
    const SYN_ACK: u8 = 2;
    const ESTABLISHED: u8 = 4;
    const FIN_A: u8 = 8;
    const FIN_B: u8 = 16;
    const RST: u8 = 32;

    fn update(&mut self, flags: TcpFlags, a_to_b: bool) {
        if flags.is_syn_only() {
            self.bits |= Self::SYN;
        } else if flags.is_syn_ack() {
            self.bits |= Self::SYN_ACK;
        } else if flags.has(TcpFlags::ACK) && self.bits & Self::SYN_ACK != 0 {
            self.bits |= Self::ESTABLISHED;
        }
        if flags.has(TcpFlags::FIN) {
            self.bits |= if a_to_b { Self::FIN_A } else { Self::FIN_B };
        }
        if flags.has(TcpFlags::RST) {
            self.bits |= Self::RST;
        }
    }

    /// A SYN was seen.
    pub fn syn(&self) -> bool {
        self.bits & Self::SYN != 0
    }

    /// The handshake was answered with SYN-ACK.
    pub fn answered(&self) -> bool {
        self.bits & Self::SYN_ACK != 0
    }

    /// The handshake completed.
    pub fn established(&self) -> bool {
        self.bits & Self::ESTABLISHED != 0
    }

    /// A RST was seen.
    pub fn reset(&self) -> bool {
        self.bits & Self::RST != 0
    }

    /// Both sides sent FIN.
    pub fn closed(&self) -> bool {
        self.bits & (Self::FIN_A | Self::FIN_B) == Self::FIN_A | Self::FIN_B
    }

    /// One word for the state, for reports.
    pub fn state(&self) -> &'static str {
        match () {
            _ if self.reset() && !self.answered() && self.syn() => "rejected",
            _ if self.reset() => "reset",
            _ if self.closed() => "closed",
            _ if self.bits & (Self::FIN_A | Self::FIN_B) != 0 => "closing",
            _ if self.established() => "established",
            _ if self.answered() => "syn_received",
            _ if self.syn() => "syn_sent",
            _ => "mid_stream",
        }
    }
}

/// Counters of one flow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowStats {
    /// From `a` to `b`.
    pub a_to_b: Counter,
    /// From `b` to `a`.
    pub b_to_a: Counter,
    /// First packet time.
    pub first_ts: Nanos,
    /// Latest packet time.
    pub last_ts: Nanos,
    /// TCP state (untouched for other protocols).
    pub tcp: TcpTrack,
}

impl FlowStats {
    /// Bytes both ways.
    pub fn total_bytes(&self) -> u64 {
        self.a_to_b.bytes + self.b_to_a.bytes
    }

    /// Packets both ways.
    pub fn total_packets(&self) -> u64 {
        self.a_to_b.packets + self.b_to_a.packets
    }
}

impl LastSeen for FlowStats {
    fn last_seen(&self) -> Nanos {
        self.last_ts
    }
}

/// Every flow seen, capped.
#[derive(Clone, Debug)]
pub struct FlowTable {
    table: CappedTable<FlowKey, FlowStats>,
}

impl std::ops::Deref for FlowTable {
    type Target = CappedTable<FlowKey, FlowStats>;

    /// Size, cap, evictions and lookups are the underlying table's.
    fn deref(&self) -> &Self::Target {
        &self.table
    }
}

impl FlowTable {
    /// A table holding at most `cap` flows.
    pub fn new(cap: usize) -> Self {
        let mut table = CappedTable::new(cap);
        table.track_ages();
        FlowTable { table }
    }

    /// Counts one IP packet into its flow.
    pub fn record(&mut self, meta: &PacketMeta) {
        let Some((key, a_to_b)) = FlowKey::of(meta) else { return };
        let hash = self.table.hash(&key);
        self.record_keyed(meta, (key, a_to_b), hash);
    }

    /// [`record`](Self::record) with the packet's [`FlowKey::of`] and its
    /// [`hash`](CappedTable::hash) known.
    #[inline]
    pub fn record_keyed(&mut self, meta: &PacketMeta, (key, a_to_b): (FlowKey, bool), hash: u64) {
        let ts = meta.ts;
        let f = self.table.entry_seen(hash, key, ts, || FlowStats { first_ts: ts, last_ts: ts, ..Default::default() });
        f.last_ts = f.last_ts.max(ts);
        if a_to_b {
            f.a_to_b.add(meta.wire_len)
        } else {
            f.b_to_a.add(meta.wire_len)
        }
        if key.proto == 6 {
            f.tcp.update(meta.tcp_flags, a_to_b);
        }
    }

    /// Flows by bytes descending (ties by key); `n = 0` is all.
    pub fn top(&self, n: usize) -> Vec<(FlowKey, FlowStats)> {
        let rows = self.table.iter().map(|(k, v)| (v.total_bytes(), k, v));
        top_n_of(rows, n, |x, y| y.0.cmp(&x.0).then(x.1.cmp(y.1))).into_iter().map(|(_, k, v)| (*k, *v)).collect()
    }
}
