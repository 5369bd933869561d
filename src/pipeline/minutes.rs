//! Per-minute protocol (and, when a sink wants them, per-host) figures, counted packet by
//! packet on the counting thread: each packet goes to the minute of packet time it
//! belongs to (a packet older than the minute in progress goes to that minute), and the
//! run's end closes the last one, so the minutes add up to the summary's protocols
//! exactly. A minute holds at most [`MAX_HOSTS`] hosts; the packets of the rest are
//! counted in `hosts_left_out`.

use std::net::IpAddr;

use crate::decode::{PacketMeta, Proto};
use crate::hash::Map;
use crate::packet::{NANOS_PER_SEC, Nanos};
use crate::stats::Counter;

/// Packet time in a minute.
pub const MINUTE: Nanos = 60 * NANOS_PER_SEC;

/// Most hosts one minute holds figures for.
pub const MAX_HOSTS: usize = 100_000;

/// One host's traffic in a minute, per protocol class: (sent, received).
pub type HostMinute = [(Counter, Counter); Proto::COUNT];

/// One minute's packets and bytes per protocol class.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Minute {
    /// Packet time the minute starts at.
    pub start: Nanos,
    /// By [`Proto::index`].
    pub protocols: [Counter; Proto::COUNT],
    /// Per host (when asked for), in no particular order.
    pub hosts: Vec<(IpAddr, HostMinute)>,
    /// Packets of hosts beyond [`MAX_HOSTS`], not in `hosts`.
    pub hosts_left_out: u64,
    /// Hosts and flows in the counters' tables as of the batch that closed the minute
    /// (set by the counting thread).
    pub tracked: (usize, usize),
}

impl Minute {
    /// Every class together.
    pub fn total(&self) -> Counter {
        self.protocols.iter().copied().sum()
    }
}

/// The classes of `counters` (indexed by [`Proto::index`]) that saw packets, in
/// [`Proto::ALL`] order.
pub fn seen(counters: &[Counter; Proto::COUNT]) -> impl Iterator<Item = (Proto, Counter)> + '_ {
    Proto::ALL.into_iter().map(|p| (p, counters[p.index()])).filter(|(_, c)| c.packets > 0)
}

/// The minute in progress.
#[derive(Clone, Debug, Default)]
pub struct Minutes {
    current: Option<Minute>,
    /// Per-host figures of the minute in progress, when asked for.
    hosts: Option<Map<IpAddr, HostMinute>>,
}

impl Minutes {
    /// Minutes with per-host figures too.
    pub fn with_hosts() -> Minutes {
        Minutes { current: None, hosts: Some(Map::default()) }
    }

    fn begin(&mut self, start: Nanos) -> Option<Minute> {
        let fresh =
            Minute { start, protocols: Default::default(), hosts: Vec::new(), hosts_left_out: 0, tracked: (0, 0) };
        let closed = self.current.replace(fresh)?;
        Some(self.seal(closed))
    }

    /// A closed minute with its hosts' figures.
    fn seal(&mut self, mut minute: Minute) -> Minute {
        if let Some(hosts) = &mut self.hosts {
            minute.hosts = hosts.drain().collect();
        }
        minute
    }

    fn host(&mut self, ip: IpAddr) -> Option<&mut HostMinute> {
        let hosts = self.hosts.as_mut()?;
        if hosts.len() >= MAX_HOSTS && !hosts.contains_key(&ip) {
            return None;
        }
        Some(hosts.entry(ip).or_default())
    }
    /// Counts `m`; returns the minute it closed, if it began a new one.
    #[inline]
    pub fn add(&mut self, m: &PacketMeta) -> Option<Minute> {
        let start = m.ts - m.ts.rem_euclid(MINUTE);
        let closed = match &self.current {
            Some(c) if start <= c.start => None,
            _ => self.begin(start),
        };
        let i = m.proto.index();
        if let Some(c) = &mut self.current {
            c.protocols[i].add(m.wire_len);
        }
        if self.hosts.is_some()
            && let (Some(src), Some(dst)) = (m.src, m.dst)
        {
            let mut left_out = 0;
            match self.host(src) {
                Some(h) => h[i].0.add(m.wire_len),
                None => left_out += 1,
            }
            match self.host(dst) {
                Some(h) => h[i].1.add(m.wire_len),
                None => left_out += 1,
            }
            if let Some(c) = &mut self.current {
                c.hosts_left_out += left_out;
            }
        }
        closed
    }

    /// The run is over: the minute in progress, if any.
    pub fn finish(&mut self) -> Option<Minute> {
        let last = self.current.take()?;
        Some(self.seal(last))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{Frame, LinkType};

    fn packet(secs: i64, proto: Proto) -> PacketMeta {
        let frame = Frame { ts: secs * NANOS_PER_SEC, linktype: LinkType::ETHERNET, data: &[], orig_len: 100 };
        PacketMeta { proto, ..PacketMeta::blank(&frame) }
    }

    #[test]
    fn every_packet_in_its_minute_and_the_minutes_add_up() {
        let mut m = Minutes::default();
        let mut out = Vec::new();
        for (secs, proto) in [(59, Proto::Udp), (60, Proto::Tcp), (61, Proto::Tcp), (30, Proto::Tcp), (185, Proto::Udp)]
        {
            out.extend(m.add(&packet(secs, proto)));
        }
        out.extend(m.finish());
        let rows: Vec<(Nanos, u64, u64)> = out
            .iter()
            .map(|x| {
                (
                    x.start / NANOS_PER_SEC,
                    x.protocols[Proto::Tcp.index()].packets,
                    x.protocols[Proto::Udp.index()].packets,
                )
            })
            .collect();
        // The late packet (30 s) goes to the minute in progress.
        assert_eq!(rows, [(0, 0, 1), (60, 3, 0), (180, 0, 1)]);
        assert_eq!(out.iter().map(|x| x.total().packets).sum::<u64>(), 5);
        assert!(m.finish().is_none());
    }

    #[test]
    fn hosts_per_minute_sent_and_received() {
        let mut m = Minutes::with_hosts();
        let mut p = packet(1, Proto::Tcp);
        p.src = Some(IpAddr::from([10, 0, 0, 1]));
        p.dst = Some(IpAddr::from([10, 0, 0, 2]));
        m.add(&p);
        m.add(&p);
        let mut q = packet(70, Proto::Udp);
        (q.src, q.dst) = (p.dst, p.src);
        let first = m.add(&q).unwrap();
        let host = |x: &Minute, ip: [u8; 4]| x.hosts.iter().find(|h| h.0 == IpAddr::from(ip)).unwrap().1;
        assert_eq!(host(&first, [10, 0, 0, 1])[Proto::Tcp.index()].0.packets, 2);
        assert_eq!(host(&first, [10, 0, 0, 2])[Proto::Tcp.index()].1.packets, 2);
        let second = m.finish().unwrap();
        assert_eq!(host(&second, [10, 0, 0, 2])[Proto::Udp.index()].0.packets, 1);
        assert_eq!(second.hosts.len(), 2);
    }
}
