//! Synthetic traffic: a deterministic stream of realistic mixed Ethernet frames.
//!
//! Used to make the bundled sample capture, the benchmark capture and test inputs. The
//! mix: TCP sessions with handshake, data and teardown (IPv4 and IPv6, some VLAN-tagged),
//! refused connection attempts, DNS query/response pairs, pings, ARP, bulk UDP streams,
//! and a little GRE/ESP. The same seed always gives the same bytes.

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use etherparse::{IpHeaders, PacketBuilder, PacketBuilderStep, VlanId};

use crate::capture::scripted::OwnedFrame;
use crate::capture::{LinkType, Nanos};

/// Shape of the generated traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SynthConfig {
    /// Frames to generate.
    pub packets: u64,
    /// PRNG seed.
    pub seed: u64,
    /// Timestamp of the first frame.
    pub start_ts: Nanos,
    /// Mean gap between frames.
    pub mean_gap: Nanos,
    /// Client hosts on the LAN (10.1.x.y and fd00::x:y).
    pub clients: u32,
    /// Server hosts on the "internet" (198.51.100.x, 203.0.113.x, 2001:db8::x).
    pub servers: u32,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            packets: 10_000,
            seed: 1,
            start_ts: 1_700_000_000_000_000_000,
            mean_gap: 20_000,
            clients: 60,
            servers: 40,
        }
    }
}

/// A small, fast, deterministic PRNG (SplitMix64).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `pct` percent.
    pub fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
}

const PAYLOAD: [u8; 1500] = [0x5a; 1500];

/// An endless-until-`packets` iterator of synthetic frames.
pub struct Synth {
    cfg: SynthConfig,
    rng: Rng,
    queue: VecDeque<Vec<u8>>,
    ts: Nanos,
    emitted: u64,
    next_port: u16,
}

impl Synth {
    /// A generator for `cfg`.
    pub fn new(cfg: SynthConfig) -> Self {
        Synth { rng: Rng::new(cfg.seed), cfg, queue: VecDeque::new(), ts: cfg.start_ts, emitted: 0, next_port: 32768 }
    }

    fn client(&mut self, v6: bool) -> IpAddr {
        let n = self.rng.below(u64::from(self.cfg.clients.max(1))) as u32;
        if v6 {
            IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 1, n as u16 + 1))
        } else {
            IpAddr::V4(Ipv4Addr::new(10, 1, (n / 250) as u8, (n % 250) as u8 + 2))
        }
    }

    fn server(&mut self, v6: bool) -> IpAddr {
        let n = self.rng.below(u64::from(self.cfg.servers.max(1))) as u32;
        if v6 {
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, n as u16 + 1))
        } else if n % 2 == 0 {
            IpAddr::V4(Ipv4Addr::new(198, 51, 100, (n / 2 % 250) as u8 + 1))
        } else {
            IpAddr::V4(Ipv4Addr::new(203, 0, 113, (n / 2 % 250) as u8 + 1))
        }
    }

    fn ephemeral(&mut self) -> u16 {
        self.next_port = if self.next_port >= 60999 { 32768 } else { self.next_port + 1 };
        self.next_port
    }

    /// Queues one scenario's frames.
    fn refill(&mut self) {
        let v6 = self.rng.chance(15);
        let vlan = self.rng.chance(10).then(|| 100 + self.rng.below(3) as u16);
        match self.rng.below(100) {
            0..=49 => self.tcp_session(v6, vlan),
            50..=56 => self.tcp_refused(v6, vlan),
            57..=74 => self.dns(v6, vlan),
            75..=81 => self.ping(v6, vlan),
            82..=85 => self.arp(),
            86..=96 => self.udp_stream(v6, vlan),
            _ => self.tunnel(),
        }
    }

    fn tcp_session(&mut self, v6: bool, vlan: Option<u16>) {
        let (c, s) = (self.client(v6), self.server(v6));
        let (cp, sp) = (self.ephemeral(), [443, 80, 22, 8080][self.rng.below(4) as usize]);
        let (mut cseq, mut sseq) = (self.rng.next_u64() as u32, self.rng.next_u64() as u32);
        self.push(frame(c, s, vlan).tcp(cp, sp, cseq, 64240).syn(), 0);
        self.push(frame(s, c, vlan).tcp(sp, cp, sseq, 65160).syn().ack(cseq.wrapping_add(1)), 0);
        cseq = cseq.wrapping_add(1);
        sseq = sseq.wrapping_add(1);
        self.push(frame(c, s, vlan).tcp(cp, sp, cseq, 502).ack(sseq), 0);
        for _ in 0..self.rng.range(1, 24) {
            let up = self.rng.chance(30);
            let len = if up { self.rng.range(40, 600) } else { self.rng.range(200, 1400) } as usize;
            if up {
                self.push(frame(c, s, vlan).tcp(cp, sp, cseq, 502).psh().ack(sseq), len);
                cseq = cseq.wrapping_add(len as u32);
            } else {
                self.push(frame(s, c, vlan).tcp(sp, cp, sseq, 509).psh().ack(cseq), len);
                sseq = sseq.wrapping_add(len as u32);
            }
        }
        if self.rng.chance(10) {
            self.push(frame(c, s, vlan).tcp(cp, sp, cseq, 0).rst().ack(sseq), 0);
            return;
        }
        self.push(frame(c, s, vlan).tcp(cp, sp, cseq, 502).fin().ack(sseq), 0);
        self.push(frame(s, c, vlan).tcp(sp, cp, sseq, 509).fin().ack(cseq.wrapping_add(1)), 0);
        self.push(frame(c, s, vlan).tcp(cp, sp, cseq.wrapping_add(1), 502).ack(sseq.wrapping_add(1)), 0);
    }

    fn tcp_refused(&mut self, v6: bool, vlan: Option<u16>) {
        let (c, s) = (self.client(v6), self.server(v6));
        let (cp, sp) = (self.ephemeral(), self.rng.range(1, 1024) as u16);
        let seq = self.rng.next_u64() as u32;
        self.push(frame(c, s, vlan).tcp(cp, sp, seq, 64240).syn(), 0);
        self.push(frame(s, c, vlan).tcp(sp, cp, 0, 0).rst().ack(seq.wrapping_add(1)), 0);
    }

    fn dns(&mut self, v6: bool, vlan: Option<u16>) {
        let c = self.client(v6);
        let resolver = if v6 { "fd00::53".parse().unwrap() } else { IpAddr::V4(Ipv4Addr::new(10, 1, 0, 53)) };
        let cp = self.ephemeral();
        let q = self.rng.range(28, 60) as usize;
        let r = q + self.rng.range(16, 240) as usize;
        self.push(frame(c, resolver, vlan).udp(cp, 53), q);
        self.push(frame(resolver, c, vlan).udp(53, cp), r);
    }

    fn ping(&mut self, v6: bool, vlan: Option<u16>) {
        let (c, s) = (self.client(v6), self.server(v6));
        let (id, seq) = (self.rng.below(65536) as u16, self.rng.below(100) as u16);
        if v6 {
            self.push(frame(c, s, vlan).icmpv6_echo_request(id, seq), 56);
            self.push(frame(s, c, vlan).icmpv6_echo_reply(id, seq), 56);
        } else {
            self.push(frame(c, s, vlan).icmpv4_echo_request(id, seq), 56);
            self.push(frame(s, c, vlan).icmpv4_echo_reply(id, seq), 56);
        }
    }

    fn arp(&mut self) {
        let (IpAddr::V4(a), IpAddr::V4(b)) = (self.client(false), self.client(false)) else { return };
        self.queue.push_back(arp_frame(1, a, b));
        self.queue.push_back(arp_frame(2, b, a));
    }

    fn udp_stream(&mut self, v6: bool, vlan: Option<u16>) {
        let (c, s) = (self.client(v6), self.server(v6));
        let cp = self.ephemeral();
        self.push(frame(c, s, vlan).udp(cp, 443), 1200);
        for _ in 0..self.rng.range(4, 40) {
            let len = self.rng.range(900, 1350) as usize;
            self.push(frame(s, c, vlan).udp(443, cp), len);
        }
    }

    fn tunnel(&mut self) {
        let (c, s) = (self.client(false), self.server(false));
        let (IpAddr::V4(c), IpAddr::V4(s)) = (c, s) else { return };
        let proto = if self.rng.chance(50) { 47 } else { 50 };
        let len = self.rng.range(60, 1200) as usize;
        let mut v = Vec::with_capacity(14 + 20 + len);
        v.extend_from_slice(&mac(IpAddr::V4(s)));
        v.extend_from_slice(&mac(IpAddr::V4(c)));
        v.extend_from_slice(&[0x08, 0x00]);
        let total = (20 + len) as u16;
        v.extend_from_slice(&[0x45, 0, (total >> 8) as u8, total as u8, 0, 0, 0x40, 0, 64, proto, 0, 0]);
        v.extend_from_slice(&c.octets());
        v.extend_from_slice(&s.octets());
        v.extend_from_slice(&PAYLOAD[..len]);
        self.queue.push_back(v);
    }

    fn push<H>(&mut self, step: PacketBuilderStep<H>, payload: usize)
    where
        PacketBuilderStep<H>: Writable,
    {
        let mut v = Vec::with_capacity(96 + payload);
        step.write_to(&mut v, &PAYLOAD[..payload.min(PAYLOAD.len())]);
        self.queue.push_back(v);
    }
}

impl Iterator for Synth {
    type Item = OwnedFrame;

    fn next(&mut self) -> Option<OwnedFrame> {
        if self.emitted >= self.cfg.packets {
            return None;
        }
        while self.queue.is_empty() {
            self.refill();
        }
        let data = self.queue.pop_front()?;
        self.emitted += 1;
        let gap = self.cfg.mean_gap.max(1) as u64;
        self.ts += self.rng.below(2 * gap) as Nanos;
        Some(OwnedFrame::new(self.ts, LinkType::ETHERNET, data))
    }
}

/// Finishing a builder chain into bytes; implemented for the transport steps we use.
pub trait Writable {
    /// Appends the packet with `payload` to `out`.
    fn write_to(self, out: &mut Vec<u8>, payload: &[u8]);
}

macro_rules! writable {
    ($($t:ty),*) => {$(
        impl Writable for PacketBuilderStep<$t> {
            fn write_to(self, out: &mut Vec<u8>, payload: &[u8]) {
                // The builder only fails on payloads over 64 KiB; ours are at most 1500 bytes.
                self.write(out, payload).expect("synthetic packet fits its headers");
            }
        }
    )*};
}
writable!(etherparse::TcpHeader, etherparse::UdpHeader, etherparse::Icmpv4Header, etherparse::Icmpv6Header);

/// A locally administered MAC derived from an address.
fn mac(ip: IpAddr) -> [u8; 6] {
    let b = match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets()[12..].to_vec(),
    };
    [0x02, 0x00, b[0], b[1], b[2], b[3]]
}

/// Ethernet (optionally VLAN-tagged) + IP header step from `src` to `dst`.
fn frame(src: IpAddr, dst: IpAddr, vlan: Option<u16>) -> PacketBuilderStep<IpHeaders> {
    let eth = PacketBuilder::ethernet2(mac(src), mac(dst));
    let vid = |v: u16| VlanId::try_new(v).expect("VLAN ids under 4095");
    match (src, dst, vlan) {
        (IpAddr::V4(s), IpAddr::V4(d), None) => eth.ipv4(s.octets(), d.octets(), 64),
        (IpAddr::V4(s), IpAddr::V4(d), Some(v)) => eth.single_vlan(vid(v)).ipv4(s.octets(), d.octets(), 64),
        (IpAddr::V6(s), IpAddr::V6(d), None) => eth.ipv6(s.octets(), d.octets(), 64),
        (IpAddr::V6(s), IpAddr::V6(d), Some(v)) => eth.single_vlan(vid(v)).ipv6(s.octets(), d.octets(), 64),
        (s, d, _) => unreachable!("mixed address families {s} -> {d}"),
    }
}

fn arp_frame(op: u16, sender: Ipv4Addr, target: Ipv4Addr) -> Vec<u8> {
    let smac = mac(IpAddr::V4(sender));
    let dmac = if op == 1 { [0xff; 6] } else { mac(IpAddr::V4(target)) };
    let mut v = Vec::with_capacity(60);
    v.extend_from_slice(&dmac);
    v.extend_from_slice(&smac);
    v.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4]);
    v.extend_from_slice(&op.to_be_bytes());
    v.extend_from_slice(&smac);
    v.extend_from_slice(&sender.octets());
    v.extend_from_slice(&if op == 1 { [0; 6] } else { dmac });
    v.extend_from_slice(&target.octets());
    v.resize(60, 0);
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{Proto, decode};

    #[test]
    fn deterministic_and_mixed() {
        let cfg = SynthConfig { packets: 5000, ..Default::default() };
        let a: Vec<OwnedFrame> = Synth::new(cfg).collect();
        let b: Vec<OwnedFrame> = Synth::new(cfg).collect();
        assert_eq!(a.len(), 5000);
        assert!(a == b);
        let mut seen = [0u32; Proto::COUNT];
        for f in &a {
            let m = decode(&f.as_frame());
            assert!(!m.malformed, "{m:?}");
            seen[m.proto.index()] += 1;
        }
        assert!(seen.iter().all(|&n| n > 0), "every class appears: {seen:?}");
        assert!(a.windows(2).all(|w| w[0].ts <= w[1].ts));
    }
}
