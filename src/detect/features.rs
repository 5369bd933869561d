//! Per-host behaviour features for the outlier detector (issue 5), in packet time.
//!
//! Every `window` of packet time each host active in it gets one vector of
//! [`FEATURES`] figures over two horizons: the window itself and a slower moving average
//! (about `LONG` windows), so that both a burst and a drift show. Counting is per
//! packet and allocation-free beyond the capped host table; the vectors are built only
//! at window boundaries.

use std::net::IpAddr;

use crate::hash::Map;

use super::memory::{Distinct, Recent, address, number, pair};
use crate::decode::{PacketMeta, Proto, TcpFlags};
use crate::packet::{NANOS_PER_SEC, Nanos};

/// The names of the figures, in vector order (each for the short horizon; the long
/// horizon repeats them with a `_long` suffix).
pub const FEATURES: [&str; 13] = [
    "packets_out_per_s",
    "packets_in_per_s",
    "bytes_out_per_s",
    "bytes_in_per_s",
    "distinct_peers",
    "distinct_dst_ports",
    "failed_pct",
    "syn_pct",
    "mean_size_out",
    "size_spread_out",
    "new_peers",
    "dns_queries_per_s",
    "attempts_per_s",
];

/// Figures per horizon.
pub const N: usize = FEATURES.len();

/// Figures per vector: both horizons.
pub const DIM: usize = 2 * N;

/// One vector: [`N`] short-horizon figures, then the same [`N`] over the long horizon.
pub type Vector = [f64; DIM];

/// Windows the long horizon averages over (about).
const LONG: f64 = 12.0;

/// One host's counts in the current window.
#[derive(Clone, Debug, Default)]
struct Counts {
    packets_out: u64,
    packets_in: u64,
    bytes_out: u64,
    bytes_in: u64,
    peers: Distinct,
    ports: Distinct,
    attempts: u64,
    failures: u64,
    syn_out: u64,
    tcp_out: u64,
    size_sum: f64,
    size_sq: f64,
    new_peers: u64,
    dns: u64,
}

/// A slot of the host slab: the host (`None` when free), its counts and when it was
/// last seen. The long-horizon averages live apart (touched once per window).
#[derive(Clone, Debug, Default)]
struct Host {
    ip: Option<IpAddr>,
    counts: Counts,
}

/// The age of a free slab slot.
const FREE: Nanos = Nanos::MAX;

/// One host's vector for one window: short horizon then long horizon.
#[derive(Clone, Debug, PartialEq)]
pub struct HostFeatures {
    /// The host.
    pub host: IpAddr,
    /// [`N`] short-horizon figures, then [`N`] long-horizon ones.
    pub values: Vector,
}

/// A (src, dst) pair seen lately, as its hosts' slab slots, with the window it was last
/// counted in: most packets repeat a recent pair, and then one probe here replaces two
/// host lookups, the peer counts and the new-peer check. The slots' addresses tell
/// whether the entry is the packet's pair, so no key is kept.
#[derive(Clone, Copy, Debug, Default)]
struct PairSlot {
    src: u32,
    dst: u32,
    /// The slab's eviction generation the slots belong to (0: empty).
    generation: u32,
    /// The window (counted from 1) whose peer counts include this pair.
    window: u32,
}

/// Pair cache slots (two ways per bucket; 16 bytes each).
const PAIR_BITS: u32 = 13;

/// The first of the two pair-cache slots of a pair's bucket.
#[inline]
fn pair_bucket(key: u64) -> usize {
    (key >> 1) as usize & ((1 << PAIR_BITS) - 2)
}

/// Builds per-host feature vectors window by window.
pub struct FeatureBuilder {
    window: Nanos,
    cap: usize,
    /// The host slab, its index, its free slots and the long horizons per slot.
    hosts: Vec<Host>,
    /// Each slot's last packet time ([`FREE`] when free), beside the slab: eviction reads
    /// 8 dense bytes a host, not a line of a 256-byte slot.
    ages: Vec<Nanos>,
    index: Map<IpAddr, u32>,
    free: Vec<u32>,
    long: Vec<Option<[f64; N]>>,
    /// Pairs seen lately; a slot holds only when its generation is current (it moves on
    /// at every eviction, which frees slab slots).
    pairs: Vec<PairSlot>,
    generation: u32,
    /// The current window, counted from 1.
    window_no: u32,
    /// (host, peer) pairs seen before: what makes a peer new.
    known_peers: Recent,
    window_end: Option<Nanos>,
    /// Where the window last closed began (packet time).
    closed_start: Nanos,
    evicted: u64,
    /// Eviction's (age, slot) list, kept to reuse its allocation.
    by_age: Vec<(Nanos, u32)>,
}

impl FeatureBuilder {
    /// Vectors every `window` of packet time, for at most `max_hosts` hosts at once.
    pub fn new(window: Nanos, max_hosts: usize) -> Self {
        FeatureBuilder {
            window,
            cap: max_hosts.max(2),
            hosts: Vec::new(),
            ages: Vec::new(),
            index: Map::default(),
            free: Vec::new(),
            long: Vec::new(),
            pairs: vec![PairSlot::default(); 1 << PAIR_BITS],
            generation: 1,
            window_no: 1,
            known_peers: Recent::new(18),
            window_end: None,
            closed_start: 0,
            evicted: 0,
            by_age: Vec::new(),
        }
    }

    /// Counts one packet; when it starts a new window, returns the vectors of the
    /// window that ended (hosts in slot order).
    pub fn observe(&mut self, m: &PacketMeta) -> Option<Vec<HostFeatures>> {
        let end = *self.window_end.get_or_insert(m.ts - m.ts.rem_euclid(self.window) + self.window);
        let done = (m.ts >= end).then(|| {
            // Skip whole empty windows at once.
            let skipped = (m.ts - end) / self.window;
            self.window_end = Some(end + (skipped + 1) * self.window);
            self.closed_start = end - self.window;
            self.close()
        });
        self.count(m);
        done
    }

    /// Packet time at which the window whose vectors [`FeatureBuilder::observe`] last
    /// returned began.
    pub fn closed_start(&self) -> Nanos {
        self.closed_start
    }

    /// Hosts dropped so far to stay under the cap.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Starts loading what counting `m` reads: whether its pair is a known one, its pair
    /// bucket's hosts when that bucket is already in cache (a hint: changes nothing).
    pub fn prefetch(&self, m: &PacketMeta) {
        let (Some(src), Some(dst)) = (m.src, m.dst) else { return };
        let key = pair(src, dst);
        self.known_peers.prefetch(key);
        let bucket = pair_bucket(key);
        let p = self.pairs[bucket];
        for h in [p.src, p.dst] {
            if let Some(host) = self.hosts.get(h as usize) {
                crate::stats::table::prefetch(host);
            }
        }
    }

    fn count(&mut self, m: &PacketMeta) {
        let (Some(src), Some(dst)) = (m.src, m.dst) else { return };
        let key = pair(src, dst);
        // Two ways per bucket: the pair is in one of them, or replaces the older.
        let bucket = pair_bucket(key);
        let mut cached = self.holds(self.pairs[bucket], src, dst);
        if !cached && self.holds(self.pairs[bucket + 1], src, dst) {
            self.pairs.swap(bucket, bucket + 1); // the latest first
            cached = true;
        }
        let p = self.pairs[bucket];
        let (s, d) = if cached {
            if p.window != self.window_no {
                self.hosts[p.src as usize].counts.peers.insert(address(dst));
                self.hosts[p.dst as usize].counts.peers.insert(address(src));
                self.pairs[bucket].window = self.window_no;
            }
            (p.src as usize, p.dst as usize)
        } else {
            if self.index.len() + 2 > self.cap {
                self.evict_oldest();
            }
            let s = self.slot_of(src, m.ts);
            let d = self.slot_of(dst, m.ts);
            self.hosts[s].counts.peers.insert(address(dst));
            self.hosts[d].counts.peers.insert(address(src));
            self.pairs[bucket + 1] = self.pairs[bucket];
            self.pairs[bucket] =
                PairSlot { src: s as u32, dst: d as u32, generation: self.generation, window: self.window_no };
            (s, d)
        };
        // A pair still in the cache is known; else ask the larger, older memory.
        let new_peer = !cached && self.known_peers.insert_new(key);
        let size = f64::from(m.wire_len);
        let flags = m.tcp_flags;
        let failure_to_dst = (m.proto == Proto::Tcp && flags.has(TcpFlags::RST))
            || matches!((m.proto, m.icmp), (Proto::Icmp, Some((3, _))) | (Proto::Icmpv6, Some((1, _))));
        self.ages[s] = self.ages[s].max(m.ts);
        let h = &mut self.hosts[s].counts;
        h.packets_out += 1;
        h.bytes_out += u64::from(m.wire_len);
        h.size_sum += size;
        h.size_sq += size * size;
        if let Some(dport) = m.dport() {
            h.ports.insert(number(u64::from(dport)));
            h.dns += u64::from(dport == 53);
        }
        h.new_peers += u64::from(new_peer);
        if m.proto == Proto::Tcp {
            h.tcp_out += 1;
            h.syn_out += u64::from(flags.is_syn_only());
            h.attempts += u64::from(flags.is_syn_only());
        } else if m.proto == Proto::Udp && new_peer {
            h.attempts += 1;
        }
        self.ages[d] = self.ages[d].max(m.ts);
        let h = &mut self.hosts[d].counts;
        h.packets_in += 1;
        h.bytes_in += u64::from(m.wire_len);
        h.failures += u64::from(failure_to_dst);
    }

    /// Whether the cached pair `p` is `src` to `dst` (and its slots still theirs).
    #[inline]
    fn holds(&self, p: PairSlot, src: IpAddr, dst: IpAddr) -> bool {
        p.generation == self.generation
            && self.hosts[p.src as usize].ip == Some(src)
            && self.hosts[p.dst as usize].ip == Some(dst)
    }

    /// The slab slot of `ip`, taken if it has none (the caller made room).
    fn slot_of(&mut self, ip: IpAddr, now: Nanos) -> usize {
        if let Some(&i) = self.index.get(&ip) {
            return i as usize;
        }
        let i = match self.free.pop() {
            Some(i) => i as usize,
            None => {
                self.hosts.push(Host::default());
                self.ages.push(FREE);
                self.long.push(None);
                self.hosts.len() - 1
            }
        };
        self.hosts[i] = Host { ip: Some(ip), counts: Counts::default() };
        self.ages[i] = now;
        self.long[i] = None;
        self.index.insert(ip, i as u32);
        i
    }

    fn evict_oldest(&mut self) {
        let target = (self.index.len() / 8).max(1);
        // The ages in slot order, not the index: a sequential pass, not a random one.
        let mut by_age = std::mem::take(&mut self.by_age);
        by_age.clear();
        by_age.extend(self.ages.iter().enumerate().filter(|&(_, &a)| a != FREE).map(|(i, &a)| (a, i as u32)));
        by_age.select_nth_unstable(target - 1);
        for &(_, i) in &by_age[..target] {
            self.ages[i as usize] = FREE;
            let host = &mut self.hosts[i as usize];
            if let Some(ip) = host.ip.take() {
                self.index.remove(&ip);
            }
            self.free.push(i);
        }
        self.by_age = by_age;
        self.evicted += target as u64;
        // Cached pairs may name freed slots.
        self.generation = self.generation.wrapping_add(1).max(1);
    }

    /// Ends the window: one vector per host that was active in it.
    fn close(&mut self) -> Vec<HostFeatures> {
        self.window_no = self.window_no.wrapping_add(1).max(1);
        let secs = self.window as f64 / NANOS_PER_SEC as f64;
        let mut out = Vec::new();
        for (host, long_slot) in self.hosts.iter_mut().zip(&mut self.long) {
            let Some(ip) = host.ip else { continue };
            let c = std::mem::take(&mut host.counts);
            if c.packets_out + c.packets_in == 0 {
                continue;
            }
            let short = short_figures(&c, secs);
            let long = match *long_slot {
                None => short,
                Some(prev) => std::array::from_fn(|i| prev[i] + (short[i] - prev[i]) / LONG),
            };
            *long_slot = Some(long);
            let values = std::array::from_fn(|i| if i < N { short[i] } else { long[i - N] });
            out.push(HostFeatures { host: ip, values });
        }
        out
    }
}

fn short_figures(c: &Counts, secs: f64) -> [f64; N] {
    let out = c.packets_out.max(1) as f64;
    let mean = c.size_sum / out;
    let spread = (c.size_sq / out - mean * mean).max(0.0).sqrt();
    [
        c.packets_out as f64 / secs,
        c.packets_in as f64 / secs,
        c.bytes_out as f64 / secs,
        c.bytes_in as f64 / secs,
        f64::from(c.peers.estimate()),
        f64::from(c.ports.estimate()),
        100.0 * c.failures as f64 / c.attempts.max(1) as f64,
        100.0 * c.syn_out as f64 / c.tcp_out.max(1) as f64,
        if c.packets_out > 0 { mean } else { 0.0 },
        if c.packets_out > 0 { spread } else { 0.0 },
        c.new_peers as f64,
        c.dns as f64 / secs,
        c.attempts as f64 / secs,
    ]
}

#[cfg(test)]
#[path = "features_tests.rs"]
mod tests;
