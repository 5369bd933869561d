//! Per-host behaviour features for the outlier detector (issue 5), in packet time.
//!
//! Every `window` of packet time each host active in it gets one vector of
//! [`FEATURES`] figures over two horizons: the window itself and a slower moving average
//! (about `LONG` windows), so that both a burst and a drift show. Counting is per
//! packet and allocation-free beyond the capped host table; the vectors are built only
//! at window boundaries.

use std::net::IpAddr;

use super::memory::{Distinct, Recent, hash_of};
use crate::capture::{NANOS_PER_SEC, Nanos};
use crate::decode::{PacketMeta, Proto, TcpFlags};
use crate::stats::table::{CappedTable, LastSeen};

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

/// A host's counts and its long-horizon averages.
#[derive(Clone, Debug)]
struct Host {
    counts: Counts,
    long: Option<[f64; N]>,
    last: Nanos,
}

impl LastSeen for Host {
    fn last_seen(&self) -> Nanos {
        self.last
    }
}

/// One host's vector for one window: short horizon then long horizon.
#[derive(Clone, Debug, PartialEq)]
pub struct HostFeatures {
    /// The host.
    pub host: IpAddr,
    /// [`N`] short-horizon figures, then [`N`] long-horizon ones.
    pub values: Vector,
}

/// Builds per-host feature vectors window by window.
pub struct FeatureBuilder {
    window: Nanos,
    hosts: CappedTable<IpAddr, Host>,
    /// (host, peer) pairs seen before: what makes a peer new.
    known_peers: Recent,
    window_end: Option<Nanos>,
}

impl FeatureBuilder {
    /// Vectors every `window` of packet time, for at most `max_hosts` hosts at once.
    pub fn new(window: Nanos, max_hosts: usize) -> Self {
        FeatureBuilder { window, hosts: CappedTable::new(max_hosts), known_peers: Recent::new(18), window_end: None }
    }

    /// Counts one packet; when it starts a new window, returns the vectors of the
    /// window that ended (hosts in no particular order).
    pub fn observe(&mut self, m: &PacketMeta) -> Option<Vec<HostFeatures>> {
        let end = *self.window_end.get_or_insert(m.ts - m.ts.rem_euclid(self.window) + self.window);
        let done = (m.ts >= end).then(|| {
            // Skip whole empty windows at once.
            let skipped = (m.ts - end) / self.window;
            self.window_end = Some(end + (skipped + 1) * self.window);
            self.close()
        });
        self.count(m);
        done
    }

    fn count(&mut self, m: &PacketMeta) {
        let (Some(src), Some(dst)) = (m.src, m.dst) else { return };
        let size = f64::from(m.wire_len);
        let new_peer = self.known_peers.insert_new(hash_of((src, dst)));
        let flags = m.tcp_flags;
        let failure_to_dst = (m.proto == Proto::Tcp && flags.has(TcpFlags::RST))
            || matches!((m.proto, m.icmp), (Proto::Icmp, Some((3, _))) | (Proto::Icmpv6, Some((1, _))));
        {
            let host = self.hosts.entry_or_insert_with(src, || Host::new(m.ts));
            host.last = host.last.max(m.ts);
            let h = &mut host.counts;
            h.packets_out += 1;
            h.bytes_out += u64::from(m.wire_len);
            h.size_sum += size;
            h.size_sq += size * size;
            h.peers.insert(hash_of(dst));
            if let Some(dport) = m.dport() {
                h.ports.insert(hash_of(dport));
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
        }
        let host = self.hosts.entry_or_insert_with(dst, || Host::new(m.ts));
        host.last = host.last.max(m.ts);
        let h = &mut host.counts;
        h.packets_in += 1;
        h.bytes_in += u64::from(m.wire_len);
        h.peers.insert(hash_of(src));
        h.failures += u64::from(failure_to_dst);
    }

    /// Ends the window: one vector per host that was active in it.
    fn close(&mut self) -> Vec<HostFeatures> {
        let secs = self.window as f64 / NANOS_PER_SEC as f64;
        let mut out = Vec::new();
        for (ip, host) in self.hosts.iter_mut() {
            let c = std::mem::take(&mut host.counts);
            if c.packets_out + c.packets_in == 0 {
                continue;
            }
            let short = short_figures(&c, secs);
            let long = match host.long {
                None => short,
                Some(prev) => std::array::from_fn(|i| prev[i] + (short[i] - prev[i]) / LONG),
            };
            host.long = Some(long);
            let values = std::array::from_fn(|i| if i < N { short[i] } else { long[i - N] });
            out.push(HostFeatures { host: *ip, values });
        }
        out
    }
}

impl Host {
    fn new(ts: Nanos) -> Self {
        Host { counts: Counts::default(), long: None, last: ts }
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
mod tests {
    use super::*;
    use crate::decode::testing::{ip, tcp, udp};

    const S: Nanos = NANOS_PER_SEC;

    fn figure(v: &HostFeatures, name: &str) -> f64 {
        v.values[FEATURES.iter().position(|f| *f == name).unwrap()]
    }

    fn run(packets: &[PacketMeta]) -> Vec<Vec<HostFeatures>> {
        let mut b = FeatureBuilder::new(5 * S, 1000);
        packets.iter().filter_map(|m| b.observe(m)).collect()
    }

    #[test]
    fn a_window_of_one_hosts_traffic() {
        let mut packets = Vec::new();
        for i in 0..50u16 {
            let t = Nanos::from(i) * 100_000_000;
            packets
                .push(PacketMeta { wire_len: 100, ..tcp(t, "10.0.0.1", 40000, "10.0.0.2", 1 + i % 10, TcpFlags::SYN) });
            packets.push(PacketMeta {
                wire_len: 60,
                ..tcp(t + 1, "10.0.0.2", 1 + i % 10, "10.0.0.1", 40000, TcpFlags::RST | TcpFlags::ACK)
            });
            packets.push(udp(t + 2, "10.0.0.1", 5000, "10.0.0.53", 53));
        }
        packets.push(udp(6 * S, "10.0.0.9", 1, "10.0.0.8", 2));
        let windows = run(&packets);
        assert_eq!(windows.len(), 1);
        let v = windows[0].iter().find(|f| f.host == ip("10.0.0.1")).unwrap();
        assert_eq!(figure(v, "packets_out_per_s"), 20.0); // 100 packets in 5 s
        assert_eq!(figure(v, "packets_in_per_s"), 10.0);
        assert_eq!(figure(v, "distinct_peers"), 2.0);
        assert_eq!(figure(v, "distinct_dst_ports"), 11.0);
        assert_eq!(figure(v, "new_peers"), 2.0);
        assert_eq!(figure(v, "failed_pct"), 5000.0 / 51.0, "50 resets for 50 SYNs and 1 new UDP peer");
        assert_eq!(figure(v, "syn_pct"), 100.0);
        assert_eq!(figure(v, "dns_queries_per_s"), 10.0);
        assert_eq!(figure(v, "mean_size_out"), 80.0);
        assert_eq!(figure(v, "size_spread_out"), 20.0);
        // The first window: the long horizon starts where the short one is.
        assert_eq!(v.values[..N], v.values[N..]);
    }

    #[test]
    fn the_long_horizon_moves_slowly_and_quiet_hosts_are_left_out() {
        let mut packets = Vec::new();
        for w in 0..3i64 {
            let n = if w == 2 { 120 } else { 10 };
            for i in 0..n {
                packets.push(udp(w * 5 * S + i * 10_000_000, "10.0.0.1", 5000, "10.0.0.2", 9));
            }
        }
        packets.push(udp(40 * S, "10.0.0.7", 1, "10.0.0.8", 2));
        let windows = run(&packets);
        assert_eq!(windows.len(), 3, "the empty windows between 15 s and 40 s give nothing");
        let third = windows[2].iter().find(|f| f.host == ip("10.0.0.1")).unwrap();
        let (short, long) = (third.values[0], third.values[N]);
        assert_eq!(short, 24.0);
        assert!(long > 2.0 && long < 4.0, "the average moved a twelfth of the way: {long}");
        assert!(windows[1].iter().all(|f| f.host != ip("10.0.0.7")));
    }
}
