//! The statistics engine: everything we count, updated one [`PacketMeta`] at a time.
//!
//! Pure: time is each packet's timestamp (no clock reads), so a replay, a live capture
//! and a unit test of the same packets give the same numbers. Every table that grows
//! with traffic is capped (see [`StatsConfig`]) and counts what it evicts.

pub mod flows;
pub mod hosts;
pub mod series;
pub mod table;

use std::net::IpAddr;

use hdrhistogram::Histogram;

use crate::decode::{PacketMeta, Proto};
use crate::packet::{LinkType, Nanos};
pub use flows::{FlowKey, FlowStats, FlowTable};
pub use hosts::{HostStats, HostTable};
pub use series::{Series, SeriesSet};

/// A packet and byte count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Counter {
    /// Packets.
    pub packets: u64,
    /// Bytes (wire length).
    pub bytes: u64,
}

impl std::ops::Add for Counter {
    type Output = Counter;

    fn add(self, other: Counter) -> Counter {
        Counter { packets: self.packets + other.packets, bytes: self.bytes + other.bytes }
    }
}

impl std::iter::Sum for Counter {
    fn sum<I: Iterator<Item = Counter>>(iter: I) -> Counter {
        iter.fold(Counter::default(), |a, b| a + b)
    }
}

impl Counter {
    /// Counts one packet of `bytes`.
    #[inline]
    pub fn add(&mut self, bytes: u32) {
        self.packets += 1;
        self.bytes += u64::from(bytes);
    }
}

/// Limits of the engine's tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatsConfig {
    /// Most hosts tracked at once.
    pub max_hosts: usize,
    /// Most flows tracked at once.
    pub max_flows: usize,
    /// Length of the 1-second time series, in seconds.
    pub window_secs: usize,
}

impl Default for StatsConfig {
    fn default() -> Self {
        StatsConfig { max_hosts: 100_000, max_flows: 250_000, window_secs: 600 }
    }
}

/// Packet sizes (wire length) seen.
#[derive(Clone, Debug)]
pub struct SizeHistogram {
    hist: Histogram<u64>,
}

impl Default for SizeHistogram {
    fn default() -> Self {
        // 1 byte to 16 MiB at 3 significant digits: exact below 2048 bytes.
        let hist = Histogram::new_with_bounds(1, 16 << 20, 3).expect("static histogram bounds are valid");
        SizeHistogram { hist }
    }
}

impl SizeHistogram {
    /// Records one packet's size.
    #[inline]
    pub fn record(&mut self, len: u32) {
        self.hist.saturating_record(u64::from(len.max(1)));
    }

    /// The size at percentile `q` (0–100), or 0 when empty.
    pub fn percentile(&self, q: f64) -> u64 {
        if self.hist.is_empty() { 0 } else { self.hist.value_at_percentile(q) }
    }

    /// Packets per size bin: bin `i` holds sizes up to `edges[i]` (above the previous
    /// edge), and one more bin the sizes above the last edge. Every packet falls in
    /// exactly one bin (above 2048 bytes, by its histogram bucket's lowest size).
    pub fn bins(&self, edges: &[u64]) -> Vec<u64> {
        let mut out = vec![0; edges.len() + 1];
        for v in self.hist.iter_recorded() {
            let size = self.hist.lowest_equivalent(v.value_iterated_to());
            let i = edges.iter().position(|&e| size <= e).unwrap_or(edges.len());
            out[i] += v.count_at_value();
        }
        out
    }

    /// Smallest, largest and mean size.
    pub fn min_max_mean(&self) -> (u64, u64, f64) {
        if self.hist.is_empty() { (0, 0, 0.0) } else { (self.hist.min(), self.hist.max(), self.hist.mean()) }
    }
}

/// All counters of a capture.
#[derive(Clone, Debug)]
pub struct Stats {
    /// The limits in force.
    pub config: StatsConfig,
    /// Every packet counted.
    pub totals: Counter,
    /// Bytes actually captured (≤ `totals.bytes` when a snap length cut packets).
    pub captured_bytes: u64,
    /// Per protocol class, indexed by [`Proto::index`].
    pub protocols: [Counter; Proto::COUNT],
    /// Packets per link type.
    pub link_types: Vec<(LinkType, u64)>,
    /// Packets whose headers made no sense.
    pub malformed: u64,
    /// Packets cut short by the snap length.
    pub truncated: u64,
    /// Packets dated at the very edge of the times kept (epoch 0 or 2116): their
    /// timestamps were out of range and clamped to it.
    pub clamped_ts: u64,
    /// Timestamp of the first packet, in arrival order.
    pub first_ts: Option<Nanos>,
    /// Timestamp of the last packet, in arrival order.
    pub last_ts: Option<Nanos>,
    /// Earliest and latest timestamps (differ from first/last when packets are out of order).
    pub span: Option<(Nanos, Nanos)>,
    /// Per-host counters.
    pub hosts: HostTable,
    /// Per-flow counters.
    pub flows: FlowTable,
    /// Time series.
    pub series: SeriesSet,
    /// Packet-size distribution.
    pub sizes: SizeHistogram,
    /// Table keys and hashes of the batch being counted (kept to reuse its allocation).
    keyed: Vec<Option<Keyed>>,
}

/// A packet's keys in the host and flow tables, hashed ahead of the lookups.
#[derive(Clone, Copy, Debug)]
struct Keyed {
    src: (IpAddr, u64),
    dst: (IpAddr, u64),
    flow: Option<((FlowKey, bool), u64)>,
}

/// How many packets ahead of the one being counted its table buckets are prefetched,
/// and (nearer) the slots those buckets point at: enough misses in flight to hide memory
/// latency when the tables outgrow the cache, as under a flood of spoofed keys.
const BUCKETS_AHEAD: usize = 16;
const SLOTS_AHEAD: usize = 8;
/// How far ahead the first pass over a batch fetches its packets.
const META_AHEAD: usize = 16;

impl Stats {
    /// Empty counters with the given limits.
    pub fn new(config: StatsConfig) -> Self {
        Stats {
            config,
            totals: Counter::default(),
            captured_bytes: 0,
            protocols: Default::default(),
            link_types: Vec::new(),
            malformed: 0,
            truncated: 0,
            clamped_ts: 0,
            first_ts: None,
            last_ts: None,
            span: None,
            hosts: HostTable::new(config.max_hosts),
            flows: FlowTable::new(config.max_flows),
            series: SeriesSet::new(config.window_secs),
            sizes: SizeHistogram::default(),
            keyed: Vec::new(),
        }
    }

    /// Counts one decoded packet.
    pub fn record(&mut self, m: &PacketMeta) {
        self.record_batch(std::slice::from_ref(m));
    }

    /// Counts a batch of decoded packets, in order: the same as [`record`](Self::record)
    /// on each, but with the host and flow tables' memory fetched some packets ahead.
    pub fn record_batch(&mut self, batch: &[PacketMeta]) {
        let mut keyed = std::mem::take(&mut self.keyed);
        keyed.clear();
        // The batch was written on another core: fetch its packets some way ahead.
        keyed.extend(batch.iter().enumerate().map(|(i, m)| {
            if let Some(further) = batch.get(i + META_AHEAD) {
                table::prefetch_lines(further);
            }
            self.keys(m)
        }));
        for (i, m) in batch.iter().enumerate() {
            for (ahead, bucket_only) in [(BUCKETS_AHEAD, true), (SLOTS_AHEAD, false)] {
                if let Some(Some(k)) = keyed.get(i + ahead) {
                    self.hosts.prefetch(k.src.1, bucket_only);
                    self.hosts.prefetch(k.dst.1, bucket_only);
                    if let Some((_, h)) = k.flow {
                        self.flows.prefetch(h, bucket_only);
                    }
                }
            }
            self.count(m, keyed[i].as_ref());
        }
        self.keyed = keyed;
    }

    #[inline]
    fn keys(&self, m: &PacketMeta) -> Option<Keyed> {
        let (src, dst) = (m.src?, m.dst?);
        let flow = FlowKey::of(m).map(|k| (k, self.flows.hash(&k.0)));
        Some(Keyed { src: (src, self.hosts.hash(&src)), dst: (dst, self.hosts.hash(&dst)), flow })
    }

    #[inline]
    fn count(&mut self, m: &PacketMeta, keyed: Option<&Keyed>) {
        self.totals.add(m.wire_len);
        self.captured_bytes += u64::from(m.cap_len);
        self.protocols[m.proto.index()].add(m.wire_len);
        match self.link_types.iter_mut().find(|(lt, _)| *lt == m.linktype) {
            Some((_, n)) => *n += 1,
            None => self.link_types.push((m.linktype, 1)),
        }
        self.malformed += u64::from(m.malformed);
        self.truncated += u64::from(m.cap_len < m.wire_len);
        self.clamped_ts += u64::from(m.ts == 0 || m.ts == crate::packet::MAX_TS);
        self.first_ts.get_or_insert(m.ts);
        self.last_ts = Some(m.ts);
        self.span = Some(match self.span {
            None => (m.ts, m.ts),
            Some((lo, hi)) => (lo.min(m.ts), hi.max(m.ts)),
        });
        if let Some(k) = keyed {
            self.hosts.record_hashed(k.src, k.dst, m.proto, m.wire_len, m.ts);
            if let Some((key, hash)) = k.flow {
                self.flows.record_keyed(m, key, hash);
            }
        }
        self.series.add(m.ts, m.proto, m.wire_len);
        self.sizes.record(m.wire_len);
    }

    /// Counters of one protocol class.
    pub fn protocol(&self, p: Proto) -> Counter {
        self.protocols[p.index()]
    }

    /// Seconds between the earliest and latest packet.
    pub fn duration_secs(&self) -> f64 {
        self.span.map_or(0.0, |(lo, hi)| (hi - lo) as f64 / 1e9)
    }
}

impl Default for Stats {
    fn default() -> Self {
        Self::new(StatsConfig::default())
    }
}

#[cfg(test)]
mod tests;
