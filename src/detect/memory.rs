//! Fixed-size memories the detectors share: what has been seen recently, and how many
//! distinct things there were. Both cost the same whatever the traffic, so a spoofed
//! flood cannot grow them.

use std::hash::{BuildHasher, Hash};
use std::net::IpAddr;

/// A key hash, for [`Recent`] and [`Distinct`].
pub fn hash_of(parts: impl Hash) -> u64 {
    // A fixed seed: these memories are lossy (a full bucket forgets its oldest key), so a
    // per-run seed would make which key is forgotten, and so the alerts, differ between
    // runs of the same capture. Finish with murmur3's mixer so that every bit depends on
    // every input bit.
    mix(foldhash::fast::FixedState::with_seed(0x6e74_6f70).hash_one(parts))
}

/// The hash of a directed transport tuple: `proto` from `src:sport` to `dst:dport`.
/// IPv4 (the common case, several times per packet) is packed into two words and mixed
/// directly, in line; IPv6 goes through the general hash, out of line.
#[inline(always)]
pub fn tuple(proto: u8, src: IpAddr, sport: u16, dst: IpAddr, dport: u16) -> u64 {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let a = u64::from(s.to_bits()) << 32 | u64::from(d.to_bits());
            let b = u64::from(sport) << 32 | u64::from(dport) << 16 | u64::from(proto);
            mix(a ^ mix(b ^ 0x9E37_79B9_7F4A_7C15))
        }
        _ => tuple_slow(proto, src, sport, dst, dport),
    }
}

#[cold]
#[inline(never)]
fn tuple_slow(proto: u8, src: IpAddr, sport: u16, dst: IpAddr, dport: u16) -> u64 {
    hash_of((proto, src, sport, dst, dport))
}

/// A packet's transport tuple hashed both ways ([`tuple`] with its IP protocol number and
/// ports, 0 for none), once for every detector: `own` from its source to its
/// destination, `back` the reverse (the key of what answers it). Both 0 without
/// addresses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tuples {
    /// From the packet's source to its destination.
    pub own: u64,
    /// From its destination back to its source.
    pub back: u64,
}

impl Tuples {
    /// The tuples of packet `m`.
    #[inline]
    pub fn of(m: &crate::decode::PacketMeta) -> Self {
        let (Some(src), Some(dst)) = (m.src, m.dst) else { return Tuples::default() };
        let (sp, dp) = m.ports.unwrap_or((0, 0));
        let p = m.ip_proto.unwrap_or(0);
        Tuples { own: tuple(p, src, sp, dst, dp), back: tuple(p, dst, dp, src, sp) }
    }
}

/// The hash of one address (IPv4 mixed directly).
#[inline]
pub fn address(ip: IpAddr) -> u64 {
    match ip {
        IpAddr::V4(v4) => mix(u64::from(v4.to_bits())),
        IpAddr::V6(_) => hash_of(ip),
    }
}

/// The hash of a number (a port, say), mixed directly.
#[inline]
pub fn number(x: u64) -> u64 {
    mix(x)
}

/// The hash of a directed address pair. IPv4 is packed into one word and mixed directly.
#[inline]
pub fn pair(src: IpAddr, dst: IpAddr) -> u64 {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => mix(u64::from(s.to_bits()) << 32 | u64::from(d.to_bits())),
        _ => hash_of((src, dst)),
    }
}

/// murmur3's 64-bit finaliser: every output bit depends on every input bit. Never 0.
#[inline]
fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^= x >> 33;
    x | 1
}

/// A fixed-size set of recently seen key hashes, two ways per bucket: a new key pushes
/// the older of its bucket out, so membership means "seen lately", never unbounded.
pub struct Recent {
    slots: Vec<u64>,
    shift: u32,
}

impl Recent {
    /// A memory of `1 << bits` keys (8 bytes each).
    pub fn new(bits: u32) -> Self {
        Recent { slots: vec![0; 1 << bits], shift: 64 - bits }
    }

    #[inline]
    fn bucket(&self, h: u64) -> usize {
        (h >> self.shift) as usize & !1
    }

    /// Remembers `h`.
    #[inline]
    pub fn insert(&mut self, h: u64) {
        let i = self.bucket(h);
        if self.slots[i] != h && self.slots[i + 1] != h {
            self.slots[i + 1] = self.slots[i];
            self.slots[i] = h;
        }
    }

    /// Remembers `h`; returns whether it was new (not remembered before).
    #[inline]
    pub fn insert_new(&mut self, h: u64) -> bool {
        let i = self.bucket(h);
        if self.slots[i] == h || self.slots[i + 1] == h {
            return false;
        }
        self.slots[i + 1] = self.slots[i];
        self.slots[i] = h;
        true
    }

    /// Whether `h` was seen and not yet pushed out.
    #[inline]
    pub fn contains(&self, h: u64) -> bool {
        let i = self.bucket(h);
        self.slots[i] == h || self.slots[i + 1] == h
    }

    /// Starts loading the bucket of `h` (a hint: changes nothing).
    #[inline]
    pub fn prefetch(&self, h: u64) {
        crate::stats::table::prefetch(&self.slots[self.bucket(h)]);
    }

    /// Forgets `h`.
    pub fn remove(&mut self, h: u64) {
        let i = self.bucket(h);
        for slot in &mut self.slots[i..i + 2] {
            if *slot == h {
                *slot = 0;
            }
        }
    }
}

/// Counts distinct keys approximately in 64 bytes (linear counting over 512 bits):
/// exact for 1, within a few percent up to ~1000, saturating beyond.
#[derive(Clone, Copy, Debug, Default)]
pub struct Distinct {
    bits: [u64; 8],
}

impl Distinct {
    const M: f64 = 512.0;

    /// Adds a key hash.
    pub fn insert(&mut self, h: u64) {
        let b = (h >> 55) as usize; // top 9 bits
        self.bits[b / 64] |= 1 << (b % 64);
    }

    /// Estimated number of distinct keys added.
    pub fn estimate(&self) -> u32 {
        let set: u32 = self.bits.iter().map(|w| w.count_ones()).sum();
        if set == 0 {
            return 0;
        }
        let zeros = Self::M - f64::from(set);
        if zeros < 1.0 {
            return 3200; // saturated: "thousands"
        }
        (-Self::M * (zeros / Self::M).ln()).round().max(1.0) as u32
    }

    /// The union of two counts (keys added to either).
    pub fn union(self, other: Distinct) -> Distinct {
        let mut bits = self.bits;
        for (b, o) in bits.iter_mut().zip(other.bits) {
            *b |= o;
        }
        Distinct { bits }
    }
}

/// Which addresses were among many (a flood's sources): a Bloom filter of 65,536 bits
/// and three probes, 8 KiB whatever the number. No false negatives; false positives stay
/// under 2% while a quarter of the bits or fewer are set ([`Members::reliable`]), that is
/// for up to about 6,000 distinct members.
pub struct Members {
    bits: Box<[u64; 1024]>,
    set: u32,
}

impl Default for Members {
    fn default() -> Self {
        Members { bits: Box::new([0; 1024]), set: 0 }
    }
}

impl Members {
    #[inline]
    fn probes(h: u64) -> [usize; 3] {
        [(h & 0xffff) as usize, (h >> 16 & 0xffff) as usize, (h >> 32 & 0xffff) as usize]
    }

    /// Adds the member hashed `h` (by [`hash_of`]).
    #[inline]
    pub fn insert(&mut self, h: u64) {
        for b in Self::probes(h) {
            let (word, bit) = (&mut self.bits[b / 64], 1u64 << (b % 64));
            self.set += u32::from(*word & bit == 0);
            *word |= bit;
        }
    }

    /// Whether `h` may have been added (certainly, if it was).
    pub fn contains(&self, h: u64) -> bool {
        Self::probes(h).iter().all(|&b| self.bits[b / 64] & 1 << (b % 64) != 0)
    }

    /// Whether a yes from [`contains`](Self::contains) can be trusted (false positives
    /// under 2%): a filter filled by a flood of a million sources says yes to anything.
    pub fn reliable(&self) -> bool {
        self.set <= 1 << 14
    }
}

/// Whether a frame went to a group (broadcast or multicast) link address: a ping or
/// datagram to a subnet's broadcast address, which no prefix length is needed to see.
pub fn is_group_mac(mac: [u8; 6]) -> bool {
    mac[0] & 1 == 1
}

/// Whether `ip` can be the target of a probe: one host, not a group or "nobody".
pub fn is_unicast(ip: IpAddr) -> bool {
    match ip {
        // Not `x.y.z.255`: in a /23 or wider that is a host like any other (a subnet's
        // broadcast address shows in the frame's group MAC instead).
        IpAddr::V4(v4) => !(v4.is_multicast() || v4.is_broadcast() || v4.is_unspecified()),
        IpAddr::V6(v6) => !(v6.is_multicast() || v6.is_unspecified()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_remembers_and_forgets() {
        let mut r = Recent::new(8);
        let a = hash_of(1u32);
        assert!(!r.contains(a));
        r.insert(a);
        assert!(r.contains(a));
        r.remove(a);
        assert!(!r.contains(a));
    }

    #[test]
    fn distinct_estimates_are_close() {
        for n in [1u32, 2, 10, 100, 500] {
            let mut d = Distinct::default();
            for k in 0..n {
                d.insert(hash_of(k));
                d.insert(hash_of(k)); // duplicates do not count
            }
            let e = d.estimate();
            let err = (f64::from(e) - f64::from(n)).abs() / f64::from(n);
            assert!(err < 0.15, "{n} keys estimated as {e}");
        }
        assert_eq!(Distinct::default().estimate(), 0);
    }

    #[test]
    fn members_have_no_false_negatives_and_few_false_positives_until_full() {
        let mut m = Members::default();
        let ip = |i: u32| IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
        for i in 0..5000 {
            m.insert(address(ip(i)));
        }
        assert!(m.reliable());
        assert!((0..5000).all(|i| m.contains(address(ip(i)))));
        let false_yes = (100_000..110_000).filter(|&i| m.contains(address(ip(i)))).count();
        assert!(false_yes < 200, "{false_yes} of 10000 strangers taken for members");
        for i in 5000..100_000 {
            m.insert(address(ip(i)));
        }
        assert!(!m.reliable(), "a filter this full cannot tell");
    }

    #[test]
    fn groups_are_not_targets() {
        for ip in ["224.0.0.251", "255.255.255.255", "0.0.0.0", "ff02::1"] {
            assert!(!is_unicast(ip.parse().unwrap()), "{ip}");
        }
        assert!(is_unicast("192.168.1.25".parse().unwrap()));
        assert!(is_unicast("10.0.1.255".parse().unwrap()), "a host of a /23");
    }
}
