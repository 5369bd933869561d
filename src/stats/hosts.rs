//! Per-host counters, keyed by the outermost IP address.

use std::cmp::Reverse;
use std::net::IpAddr;

use super::Counter;
use super::table::{CappedTable, LastSeen, top_n_of};
use crate::decode::{Proto, ProtoMask};
use crate::packet::Nanos;

/// Traffic sent and received by one address, per protocol class.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostStats {
    /// Sent (this address as source), indexed by [`Proto::index`].
    pub tx_by_proto: [Counter; Proto::COUNT],
    /// Received (this address as destination), indexed by [`Proto::index`].
    pub rx_by_proto: [Counter; Proto::COUNT],
    /// Time of the first packet seen.
    pub first_seen: Nanos,
    /// Time of the latest packet seen.
    pub last_seen: Nanos,
}

fn sum(counters: &[Counter; Proto::COUNT], mask: ProtoMask) -> Counter {
    mask.iter().map(|p| counters[p.index()]).sum()
}

impl HostStats {
    /// Sent, all classes.
    pub fn tx(&self) -> Counter {
        sum(&self.tx_by_proto, ProtoMask::ALL)
    }

    /// Received, all classes.
    pub fn rx(&self) -> Counter {
        sum(&self.rx_by_proto, ProtoMask::ALL)
    }

    /// Sent, in the classes of `mask`.
    pub fn tx_in(&self, mask: ProtoMask) -> Counter {
        sum(&self.tx_by_proto, mask)
    }

    /// Received, in the classes of `mask`.
    pub fn rx_in(&self, mask: ProtoMask) -> Counter {
        sum(&self.rx_by_proto, mask)
    }

    /// Bytes in both directions, all classes.
    pub fn total_bytes(&self) -> u64 {
        self.tx().bytes + self.rx().bytes
    }
}

impl LastSeen for HostStats {
    fn last_seen(&self) -> Nanos {
        self.last_seen
    }
}

/// Every host seen, capped.
#[derive(Clone, Debug)]
pub struct HostTable {
    table: CappedTable<IpAddr, HostStats>,
}

impl std::ops::Deref for HostTable {
    type Target = CappedTable<IpAddr, HostStats>;

    /// Size, cap, evictions and lookups are the underlying table's.
    fn deref(&self) -> &Self::Target {
        &self.table
    }
}

impl HostTable {
    /// A table holding at most `cap` hosts.
    pub fn new(cap: usize) -> Self {
        let mut table = CappedTable::new(cap);
        table.track_ages();
        HostTable { table }
    }

    /// Counts one packet of class `proto` from `src` to `dst`.
    pub fn record(&mut self, src: IpAddr, dst: IpAddr, proto: Proto, bytes: u32, ts: Nanos) {
        let (hs, hd) = (self.table.hash(&src), self.table.hash(&dst));
        self.record_hashed((src, hs), (dst, hd), proto, bytes, ts);
    }

    /// [`record`](Self::record) with each address's [`hash`](CappedTable::hash) known.
    #[inline]
    pub fn record_hashed(&mut self, src: (IpAddr, u64), dst: (IpAddr, u64), proto: Proto, bytes: u32, ts: Nanos) {
        self.touch(src, ts).tx_by_proto[proto.index()].add(bytes);
        self.touch(dst, ts).rx_by_proto[proto.index()].add(bytes);
    }

    #[inline]
    fn touch(&mut self, (ip, hash): (IpAddr, u64), ts: Nanos) -> &mut HostStats {
        let h =
            self.table.entry_seen(hash, ip, ts, || HostStats { first_seen: ts, last_seen: ts, ..Default::default() });
        h.last_seen = h.last_seen.max(ts);
        h
    }

    /// Hosts by total bytes descending, ties by the address's text ascending; `n = 0` is all.
    /// Works on (bytes, address) pairs, not copies of every host's counters, so a full
    /// table costs a few MB to rank, not a copy of the table.
    pub fn top(&self, n: usize) -> Vec<(IpAddr, HostStats)> {
        let mut all: Vec<(u64, IpAddr)> = self.table.iter().map(|(ip, h)| (h.total_bytes(), *ip)).collect();
        if n != 0 && n < all.len() {
            // Keep the n largest and everything tied with the n-th, then order those exactly.
            all.select_nth_unstable_by_key(n - 1, |(b, _)| Reverse(*b));
            let cutoff = all[n - 1].0;
            all.retain(|(b, _)| *b >= cutoff);
        }
        let mut keyed: Vec<(Reverse<u64>, String, IpAddr)> =
            all.into_iter().map(|(b, ip)| (Reverse(b), ip.to_string(), ip)).collect();
        keyed.sort_unstable_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        let n = if n == 0 { keyed.len() } else { n.min(keyed.len()) };
        keyed.into_iter().take(n).filter_map(|(_, _, ip)| Some((ip, *self.table.get(&ip)?))).collect()
    }

    /// The `n` hosts with the largest `key` among those `keep` accepts (`n = 0`: all),
    /// ties by address.
    pub fn top_by<K: Ord>(
        &self,
        n: usize,
        keep: impl Fn(&IpAddr, &HostStats) -> bool,
        key: impl Fn(&HostStats) -> K,
    ) -> Vec<(IpAddr, HostStats)> {
        let rows = self.table.iter().filter(|(ip, h)| keep(ip, h)).map(|(ip, h)| (key(h), ip, h));
        top_n_of(rows, n, |a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1))).into_iter().map(|(_, ip, h)| (*ip, *h)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn tx_rx_and_ordering() {
        let mut t = HostTable::new(10);
        t.record(ip("10.0.0.2"), ip("10.0.0.10"), Proto::Tcp, 100, 1);
        t.record(ip("10.0.0.10"), ip("10.0.0.2"), Proto::Udp, 50, 2);
        t.record(ip("10.0.0.3"), ip("10.0.0.3"), Proto::Icmp, 10, 3);
        let top = t.top(0);
        // Equal totals (150) sort by text: "10.0.0.10" < "10.0.0.2".
        assert_eq!(top[0].0, ip("10.0.0.10"));
        assert_eq!(top[1].0, ip("10.0.0.2"));
        let h = top[1].1;
        assert_eq!((h.tx().packets, h.tx().bytes, h.rx().packets, h.rx().bytes), (1, 100, 1, 50));
        let udp_only = ProtoMask::NONE.toggled(Proto::Udp);
        assert_eq!((h.tx_in(udp_only).bytes, h.rx_in(udp_only).bytes), (0, 50));
        // A host talking to itself counts both ways.
        let me = t.get(&ip("10.0.0.3")).unwrap();
        assert_eq!((me.tx().packets, me.rx().packets), (1, 1));
        assert_eq!(t.top(1).len(), 1);
        // By UDP bytes only, 10.0.0.10 (sent 50) leads; hosts without UDP can be left out.
        let by_udp =
            t.top_by(0, |_, h| h.tx_in(udp_only).packets + h.rx_in(udp_only).packets > 0, |h| h.tx_in(udp_only).bytes);
        assert_eq!(by_udp.iter().map(|(ip, _)| ip.to_string()).collect::<Vec<_>>(), ["10.0.0.10", "10.0.0.2"]);
    }
}
