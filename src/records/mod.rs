//! Flow records: every connection ends exactly once, as one [`FlowRecord`].
//!
//! The [`Tracker`] follows connections by 5-tuple (both directions as one, like the
//! flow table, plus who started it). A connection ends:
//! - after both sides sent FIN, or one sent RST, and `linger` passed (late ACKs and
//!   retransmissions stay in it);
//! - after `linger` with nothing after an unanswered SYN (Zeek's attempt delay);
//! - after an idle timeout per protocol (defaults Zeek's: TCP 5 minutes, UDP and the
//!   rest 1 minute);
//! - when the table is full and it is among the least recently seen eighth (evicted);
//! - at the end of the capture.
//!
//! A packet on a 5-tuple whose connection has ended by its time starts a new one, so
//! records split exactly where the timeouts say, whenever the table happens to be swept.
//! Timeouts run on the detection clock (`detect::clock`), which a forged far-future
//! timestamp cannot move; record times are the packets' own.

mod community;
mod conn;
mod involved;

use std::net::IpAddr;

use serde::Serialize;

pub use community::community_id;
pub use conn::{Conn, End, Endpoint, Side};
pub use involved::Involved;

use crate::decode::{PacketMeta, Proto};
use crate::detect::clock::Clock;
use crate::packet::{NANOS_PER_SEC, Nanos};
use crate::stats::FlowKey;
use crate::stats::table::{CappedTable, Fill};

/// Why a record ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// Both sides sent FIN (and the linger passed).
    Closed,
    /// A side sent RST (and the linger passed).
    Reset,
    /// Nothing for the protocol's idle timeout (or an unanswered SYN for the linger).
    Idle,
    /// The table was full and it was among the least recently seen.
    Evicted,
    /// The capture ended with it open.
    CaptureEnd,
}

impl EndReason {
    /// Every reason, in the summary's order.
    pub const ALL: [EndReason; 5] =
        [EndReason::Closed, EndReason::Reset, EndReason::Idle, EndReason::Evicted, EndReason::CaptureEnd];

    /// The name used in records and the summary.
    pub fn name(self) -> &'static str {
        match self {
            EndReason::Closed => "closed",
            EndReason::Reset => "reset",
            EndReason::Idle => "idle",
            EndReason::Evicted => "evicted",
            EndReason::CaptureEnd => "capture_end",
        }
    }
}

fn ser_ts<S: serde::Serializer>(ts: &Nanos, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(crate::units::epoch_secs(*ts))
}

/// [`FlowRecord`]'s fields as they serialise, in order (CSV columns follow it).
pub const FIELDS: [&str; 22] = [
    "start",
    "end",
    "duration",
    "proto",
    "ip_proto",
    "orig",
    "orig_port",
    "resp",
    "resp_port",
    "initiator_known",
    "orig_packets",
    "orig_bytes",
    "orig_payload_bytes",
    "resp_packets",
    "resp_bytes",
    "resp_payload_bytes",
    "conn_state",
    "history",
    "community_id",
    "vlan",
    "end_reason",
    "alerts",
];

/// One ended connection (the records contract: fields are added, never renamed).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FlowRecord {
    /// Its first packet's time (seconds since the epoch).
    #[serde(serialize_with = "ser_ts")]
    pub start: Nanos,
    /// Its last packet's time.
    #[serde(serialize_with = "ser_ts")]
    pub end: Nanos,
    /// `end - start`, in seconds.
    pub duration: f64,
    /// Protocol class: tcp, udp, icmp, icmpv6, other.
    pub proto: &'static str,
    /// IP protocol number.
    pub ip_proto: u8,
    /// The originator (the side that started it, when known; see `initiator_known`).
    pub orig: IpAddr,
    /// Its port (TCP, UDP, SCTP).
    pub orig_port: Option<u16>,
    /// The responder.
    pub resp: IpAddr,
    /// Its port.
    pub resp_port: Option<u16>,
    /// Whether the originator is known from the handshake (a SYN, or a SYN-ACK to it);
    /// otherwise it is the first packet's sender, or its receiver when that packet came
    /// from a well-known port (under 1024) to one that is not.
    pub initiator_known: bool,
    /// Packets from the originator.
    pub orig_packets: u64,
    /// Their bytes on the wire.
    pub orig_bytes: u64,
    /// Their TCP/UDP payload bytes.
    pub orig_payload_bytes: u64,
    /// Packets from the responder.
    pub resp_packets: u64,
    /// Their bytes on the wire.
    pub resp_bytes: u64,
    /// Their TCP/UDP payload bytes.
    pub resp_payload_bytes: u64,
    /// Zeek's `conn_state` (S0, S1, SF, REJ, S2, S3, RSTO, RSTR, RSTOS0, RSTRH, SH, SHR,
    /// OTH).
    pub conn_state: &'static str,
    /// Zeek's `history` letters (S H A D F R Q; upper case from the originator; `^`
    /// when the first packet seen came from the responder).
    pub history: String,
    /// Community ID v1, seed 0 ([`fill_community_id`](Self::fill_community_id) computes
    /// it, on the way to the sinks rather than on the counting thread).
    pub community_id: Option<String>,
    /// ICMP type and code of its first packet (what the Community ID hashes for ICMP).
    #[serde(skip)]
    pub icmp: Option<(u8, u8)>,
    /// Outermost VLAN id of its first packet.
    pub vlan: Option<u16>,
    /// Why it ended.
    pub end_reason: EndReason,
    /// Ids of the incidents that involved it: incidents naming one of its endpoints (both,
    /// when the incident names two), open at some time during it, and reported by the time
    /// the packets that ended it were seen (the same in every replay).
    pub alerts: Vec<u64>,
}

impl FlowRecord {
    /// A one-packet TCP `S0` record from `orig`:1 to `resp`:2 over `start..=end`, ended
    /// idle, for tests elsewhere to build on.
    #[cfg(test)]
    pub fn sample(orig: IpAddr, resp: IpAddr, start: Nanos, end: Nanos) -> FlowRecord {
        FlowRecord {
            start,
            end,
            duration: 0.0,
            proto: "tcp",
            ip_proto: 6,
            orig,
            orig_port: Some(1),
            resp,
            resp_port: Some(2),
            initiator_known: true,
            orig_packets: 1,
            orig_bytes: 60,
            orig_payload_bytes: 0,
            resp_packets: 0,
            resp_bytes: 0,
            resp_payload_bytes: 0,
            conn_state: "S0",
            history: "S".into(),
            community_id: None,
            icmp: None,
            vlan: None,
            end_reason: EndReason::Idle,
            alerts: Vec::new(),
        }
    }

    /// Computes `community_id`.
    pub fn fill_community_id(&mut self) {
        self.community_id =
            community_id(self.ip_proto, (self.orig, self.orig_port), (self.resp, self.resp_port), self.icmp);
    }

    fn new(key: &FlowKey, c: &Conn, reason: EndReason) -> FlowRecord {
        let (orig, resp) = if c.orig_is_a { (key.a, key.b) } else { (key.b, key.a) };
        let ported = matches!(key.proto, 6 | 17 | 132);
        let port = |p: u16| ported.then_some(p);
        FlowRecord {
            start: c.start,
            end: c.last,
            duration: (c.last - c.start) as f64 / NANOS_PER_SEC as f64,
            proto: Proto::from_ip_number(key.proto).name(),
            ip_proto: key.proto,
            orig: orig.0,
            orig_port: port(orig.1),
            resp: resp.0,
            resp_port: port(resp.1),
            initiator_known: c.known,
            orig_packets: c.orig.packets,
            orig_bytes: c.orig.bytes,
            orig_payload_bytes: c.orig.payload,
            resp_packets: c.resp.packets,
            resp_bytes: c.resp.bytes,
            resp_payload_bytes: c.resp.payload,
            conn_state: c.conn_state(key.proto),
            history: c.history(),
            community_id: None,
            icmp: c.icmp,
            vlan: c.vlan,
            end_reason: reason,
            alerts: Vec::new(),
        }
    }
}

/// Timeouts and the table's size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordConfig {
    /// Idle timeout of an established TCP connection.
    pub tcp_idle: Nanos,
    /// Idle timeout of a UDP flow.
    pub udp_idle: Nanos,
    /// Idle timeout of every other protocol (ICMP too).
    pub other_idle: Nanos,
    /// How long a closed or reset connection (and an unanswered SYN) waits for late
    /// packets before it ends.
    pub linger: Nanos,
    /// Most connections followed at once.
    pub max_flows: usize,
}

impl Default for RecordConfig {
    fn default() -> Self {
        RecordConfig {
            tcp_idle: 300 * NANOS_PER_SEC,
            udp_idle: 60 * NANOS_PER_SEC,
            other_idle: 60 * NANOS_PER_SEC,
            linger: 5 * NANOS_PER_SEC,
            max_flows: 250_000,
        }
    }
}

impl RecordConfig {
    fn idle(&self, ip_proto: u8) -> Nanos {
        match ip_proto {
            6 => self.tcp_idle,
            17 => self.udp_idle,
            _ => self.other_idle,
        }
    }
}

/// How many records ended, by protocol class and by reason (the summary's `records`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecordCounts {
    /// By [`Proto::index`].
    pub by_proto: [u64; Proto::COUNT],
    /// By position in [`EndReason::ALL`].
    pub by_reason: [u64; 5],
}

impl RecordCounts {
    fn count(&mut self, r: &FlowRecord) {
        self.by_proto[Proto::from_ip_number(r.ip_proto).index()] += 1;
        if let Some(i) = EndReason::ALL.iter().position(|&x| x == r.end_reason) {
            self.by_reason[i] += 1;
        }
    }

    /// Every record.
    pub fn total(&self) -> u64 {
        self.by_proto.iter().sum()
    }
}

/// Records per chunk on their way to the sinks: no queue on the way holds a table's
/// worth, and records are written into their chunk once, never moved from one list to
/// another.
pub const CHUNK: usize = 256;

/// How often (in detection time) the table is swept for connections that ended by a
/// timeout without a packet to say so.
const SWEEP: Nanos = 5 * NANOS_PER_SEC;

/// Follows connections and ends each exactly once.
#[derive(Debug)]
pub struct Tracker {
    cfg: RecordConfig,
    table: CappedTable<FlowKey, Conn>,
    clock: Clock,
    /// Records ended and not taken yet, in chunks of at most [`CHUNK`].
    ended: Vec<Vec<FlowRecord>>,
    next_sweep: Option<Nanos>,
    counts: RecordCounts,
    /// Each packet's key, direction and hash, for the batch at hand (kept between
    /// batches so that each reuses it).
    keyed: Vec<Option<(FlowKey, bool, u64)>>,
}

/// How far ahead in a batch a connection's index bucket, then its slot, is prefetched
/// (as the counters do: on a table larger than the cache, a flood's lookups are
/// memory-bound, and a batch's misses overlap).
const BUCKETS_AHEAD: usize = 16;
const SLOTS_AHEAD: usize = 8;

impl Tracker {
    /// An empty tracker.
    pub fn new(cfg: RecordConfig) -> Tracker {
        let mut table = CappedTable::new(cfg.max_flows);
        table.keep_evicted();
        Tracker {
            cfg,
            table,
            clock: Clock::default(),
            ended: Vec::new(),
            next_sweep: None,
            counts: RecordCounts::default(),
            keyed: Vec::new(),
        }
    }

    /// Follows every packet of `batch`, then sweeps if one is due.
    pub fn observe_batch(&mut self, batch: &[PacketMeta]) {
        let mut keyed = std::mem::take(&mut self.keyed);
        keyed.clear();
        keyed.extend(batch.iter().map(|m| self.key_of(m)));
        for (i, m) in batch.iter().enumerate() {
            for (ahead, bucket_only) in [(BUCKETS_AHEAD, true), (SLOTS_AHEAD, false)] {
                if let Some(Some((_, _, hash))) = keyed.get(i + ahead) {
                    self.table.prefetch(*hash, bucket_only);
                }
            }
            if let Some((key, a_to_b, hash)) = keyed[i] {
                self.observe_keyed(m, key, a_to_b, hash);
            }
        }
        self.keyed = keyed;
        let now = self.clock.now();
        if let Some(now) = now
            && *self.next_sweep.get_or_insert(now + SWEEP) <= now
        {
            self.sweep(now);
            self.next_sweep = Some(now + SWEEP);
        }
    }

    /// Follows one packet.
    pub fn observe(&mut self, m: &PacketMeta) {
        if let Some((key, a_to_b, hash)) = self.key_of(m) {
            self.observe_keyed(m, key, a_to_b, hash);
        }
    }

    /// The connection `m` belongs to (its key, whether it goes from the key's `a` to
    /// `b`, and the key's hash), if it belongs to one.
    #[inline]
    fn key_of(&self, m: &PacketMeta) -> Option<(FlowKey, bool, u64)> {
        // A later fragment (or a packet cut short) of a ported protocol carries no ports:
        // it cannot be told apart from the datagram's other flows, so it is in none; nor is
        // a packet whose headers make no sense (a TCP header under 20 bytes).
        if (matches!(m.ip_proto, Some(6 | 17 | 132)) && m.ports.is_none()) || m.malformed {
            return None;
        }
        let (key, a_to_b) = FlowKey::of(m)?;
        Some((key, a_to_b, self.table.hash(&key)))
    }

    /// [`observe`](Self::observe) with the packet's connection known.
    #[inline]
    fn observe_keyed(&mut self, m: &PacketMeta, key: FlowKey, a_to_b: bool, hash: u64) {
        let at = self.clock.place(m.ts);
        let mut fresh = false;
        let c = self.table.entry_hashed(hash, key, || {
            fresh = true;
            Conn::start(m, a_to_b, at)
        });
        if !fresh {
            match c.ended_before(m.ts, self.cfg.idle(key.proto), self.cfg.linger) {
                Some(end) => {
                    let old = std::mem::replace(c, Conn::start(m, a_to_b, at));
                    self.end(&key, &old, reason(end));
                }
                None => c.update(m, a_to_b, at),
            }
        }
        if self.table.has_evicted() {
            let mut gone = self.table.take_evicted();
            for (k, c) in gone.drain(..) {
                self.end(&k, &c, EndReason::Evicted);
            }
            self.table.give_back_evicted(gone);
        }
    }

    fn end(&mut self, key: &FlowKey, c: &Conn, reason: EndReason) {
        let r = FlowRecord::new(key, c, reason);
        self.counts.count(&r);
        match self.ended.last_mut() {
            Some(chunk) if chunk.len() < CHUNK => chunk.push(r),
            _ => {
                let mut chunk = Vec::with_capacity(CHUNK);
                chunk.push(r);
                self.ended.push(chunk);
            }
        }
    }

    /// Ends every connection that a timeout ended by detection time `now`.
    fn sweep(&mut self, now: Nanos) {
        let (cfg, mut gone, mut why) = (self.cfg, Vec::new(), Vec::new());
        self.table.retain(|k, c| match c.ended_by(now, cfg.idle(k.proto), cfg.linger) {
            Some(end) => {
                gone.push((*k, *c));
                why.push(reason(end));
                false
            }
            None => true,
        });
        self.end_all(&gone, |i| why[i]);
    }

    /// Ends connections taken out of the table, oldest first, ties by key: the order
    /// records come out never depends on the table's.
    fn end_all(&mut self, gone: &[(FlowKey, Conn)], why: impl Fn(usize) -> EndReason) {
        // Sorts (time, position) pairs rather than the connections themselves, which a
        // sort would move about a few hundred bytes at a time (a table of 250,000 at the
        // end of a capture); keys are compared only between equal times.
        let mut order: Vec<(Nanos, u32)> = gone.iter().enumerate().map(|(i, g)| (g.1.last, i as u32)).collect();
        order.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| gone[a.1 as usize].0.cmp(&gone[b.1 as usize].0)));
        for (_, i) in order {
            let (k, c) = &gone[i as usize];
            self.end(k, c, why(i as usize));
        }
    }

    /// The records ended since the last call.
    pub fn take(&mut self) -> Vec<FlowRecord> {
        self.take_chunks().into_iter().flatten().collect()
    }

    /// [`take`](Self::take), in chunks of at most [`CHUNK`] records, oldest first.
    pub fn take_chunks(&mut self) -> Vec<Vec<FlowRecord>> {
        std::mem::take(&mut self.ended)
    }

    /// Ends every connection still open (the capture is over) and returns what is left.
    pub fn finish(&mut self) -> Vec<FlowRecord> {
        self.finish_chunks().into_iter().flatten().collect()
    }

    /// [`finish`](Self::finish), in chunks of at most [`CHUNK`] records.
    pub fn finish_chunks(&mut self) -> Vec<Vec<FlowRecord>> {
        let open = self.table.take_all();
        self.end_all(&open, |_| EndReason::CaptureEnd);
        self.take_chunks()
    }

    /// Records ended so far.
    pub fn counts(&self) -> RecordCounts {
        self.counts
    }

    /// The connection table's size, cap and evictions.
    pub fn fill(&self) -> Fill {
        self.table.fill()
    }
}

fn reason(end: End) -> EndReason {
    match end {
        End::Closed => EndReason::Closed,
        End::Reset => EndReason::Reset,
        End::Idle => EndReason::Idle,
    }
}

#[cfg(test)]
mod tests;
