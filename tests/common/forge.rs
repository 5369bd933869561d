//! A small forger: Ethernet frames with chosen MACs, TTLs and TCP numbers, written to a
//! pcap, for the tests of what a hostile host on the LAN can make the detectors believe.
#![allow(dead_code)] // each test crate uses a different subset

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;

use etherparse::{Icmpv4Type, PacketBuilder, icmpv4::DestUnreachableHeader};

/// A host on the forged LAN: its address and the MAC it really uses.
#[derive(Clone, Copy, Debug)]
pub struct Host {
    pub ip: Ipv4Addr,
    pub mac: [u8; 6],
    pub ttl: u8,
}

impl Host {
    /// Host `10.77.0.n` with its own MAC and a Linux TTL.
    pub fn lan(n: u8) -> Host {
        Host { ip: Ipv4Addr::new(10, 77, 0, n), mac: [2, 0, 0, 0, 0, n], ttl: 64 }
    }

    /// This host's address, sent from another machine's MAC and TTL (a forgery).
    pub fn forged_by(self, forger: Host) -> Host {
        Host { ip: self.ip, mac: forger.mac, ttl: forger.ttl }
    }
}

/// TCP flags for [`Forge::tcp`].
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const ACK: u8 = 0x10;
pub const FIN: u8 = 0x01;

/// Frames in time order, written out as a nanosecond pcap.
#[derive(Default)]
pub struct Forge {
    frames: Vec<(u64, Vec<u8>)>,
    /// Write the frames in the order they were added, not sorted by time.
    pub keep_order: bool,
}

impl Forge {
    /// A TCP segment.
    #[allow(clippy::too_many_arguments)]
    pub fn tcp(&mut self, ns: u64, from: Host, sport: u16, to: Host, dport: u16, flags: u8, seq: u32, ack: u32) {
        let mut b = PacketBuilder::ethernet2(from.mac, to.mac)
            .ipv4(from.ip.octets(), to.ip.octets(), from.ttl)
            .tcp(sport, dport, seq, 64240);
        if flags & SYN != 0 {
            b = b.syn();
        }
        if flags & RST != 0 {
            b = b.rst();
        }
        if flags & FIN != 0 {
            b = b.fin();
        }
        if flags & ACK != 0 {
            b = b.ack(ack);
        }
        let mut v = Vec::new();
        b.write(&mut v, &[]).expect("a TCP frame");
        self.frames.push((ns, v));
    }

    /// A UDP datagram with `len` bytes of payload.
    pub fn udp(&mut self, ns: u64, from: Host, sport: u16, to: Host, dport: u16, len: usize) {
        let b = PacketBuilder::ethernet2(from.mac, to.mac)
            .ipv4(from.ip.octets(), to.ip.octets(), from.ttl)
            .udp(sport, dport);
        let mut v = Vec::new();
        b.write(&mut v, &vec![0u8; len]).expect("a UDP frame");
        self.frames.push((ns, v));
    }

    /// An ICMP port unreachable from `from` to `to`, quoting a UDP datagram
    /// `quoted_src:sport -> from:dport` (what the sender of a probe gets back).
    pub fn port_unreachable(&mut self, ns: u64, from: Host, to: Host, quoted_src: Ipv4Addr, sport: u16, dport: u16) {
        let inner = PacketBuilder::ipv4(quoted_src.octets(), from.ip.octets(), 64).udp(sport, dport);
        let mut quoted = Vec::new();
        inner.write(&mut quoted, &[]).expect("a quoted datagram");
        let b = PacketBuilder::ethernet2(from.mac, to.mac)
            .ipv4(from.ip.octets(), to.ip.octets(), from.ttl)
            .icmpv4(Icmpv4Type::DestinationUnreachable(DestUnreachableHeader::Port));
        let mut v = Vec::new();
        b.write(&mut v, &quoted).expect("an ICMP frame");
        self.frames.push((ns, v));
    }

    /// An ARP packet (1 who-has, 2 is-at) from `from`'s MAC, broadcast.
    pub fn arp(&mut self, ns: u64, op: u16, from: Host, sender: Ipv4Addr, target: Ipv4Addr) {
        self.arp_to(ns, [0xff; 6], op, from, sender, target);
    }

    /// An ICMPv6 neighbor solicitation (`kind` 135) or advertisement (136) for `target`,
    /// from `src` on MAC `mac` to `dst` on MAC `to`, with hop limit 255 and a link-layer
    /// address option (the checksum is left zero: nothing here verifies it).
    #[allow(clippy::too_many_arguments)]
    pub fn nd(&mut self, ns: u64, kind: u8, mac: [u8; 6], src: Ipv6Addr, to: [u8; 6], dst: Ipv6Addr, target: Ipv6Addr) {
        let mut icmp = vec![kind, 0, 0, 0, 0, 0, 0, 0];
        if kind == 136 {
            icmp[4] = if dst.is_multicast() { 0x20 } else { 0x60 }; // solicited (unicast), override
        }
        icmp.extend_from_slice(&target.octets());
        icmp.extend_from_slice(&[if kind == 135 { 1 } else { 2 }, 1]);
        icmp.extend_from_slice(&mac);
        let mut v = Vec::new();
        v.extend_from_slice(&to);
        v.extend_from_slice(&mac);
        v.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0]);
        v.extend_from_slice(&(icmp.len() as u16).to_be_bytes());
        v.extend_from_slice(&[58, 255]);
        v.extend_from_slice(&src.octets());
        v.extend_from_slice(&dst.octets());
        v.extend_from_slice(&icmp);
        self.frames.push((ns, v));
    }

    /// An ARP packet sent to the link address `to`.
    pub fn arp_to(&mut self, ns: u64, to: [u8; 6], op: u16, from: Host, sender: Ipv4Addr, target: Ipv4Addr) {
        let mut v = Vec::new();
        v.extend_from_slice(&to);
        v.extend_from_slice(&from.mac);
        v.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4]);
        v.extend_from_slice(&op.to_be_bytes());
        v.extend_from_slice(&from.mac);
        v.extend_from_slice(&sender.octets());
        v.extend_from_slice(&[0; 6]);
        v.extend_from_slice(&target.octets());
        self.frames.push((ns, v));
    }

    /// Writes the frames as a nanosecond pcap, sorted by time (stable) unless
    /// `keep_order` (a forged timestamp then stays where it was put).
    pub fn write(mut self, path: &Path) {
        if !self.keep_order {
            self.frames.sort_by_key(|(ns, _)| *ns);
        }
        let records: Vec<(u32, u32, &[u8], u32)> = self
            .frames
            .iter()
            .map(|(ns, d)| ((ns / 1_000_000_000) as u32, (ns % 1_000_000_000) as u32, d.as_slice(), d.len() as u32))
            .collect();
        std::fs::write(path, super::pcap_bytes(false, true, 1, &records)).expect("the capture is written");
    }
}
