//! Per-minute protocol figures, counted packet by packet on the counting thread: each
//! packet goes to the minute of packet time it belongs to (a packet older than the minute
//! in progress goes to that minute), and the run's end closes the last one, so the minutes
//! add up to the summary's protocols exactly.

use crate::decode::{PacketMeta, Proto};
use crate::packet::{NANOS_PER_SEC, Nanos};
use crate::stats::Counter;

/// Packet time in a minute.
pub const MINUTE: Nanos = 60 * NANOS_PER_SEC;

/// One minute's packets and bytes per protocol class.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Minute {
    /// Packet time the minute starts at.
    pub start: Nanos,
    /// By [`Proto::index`].
    pub protocols: [Counter; Proto::COUNT],
}

impl Minute {
    /// Every class together.
    pub fn total(&self) -> Counter {
        self.protocols.iter().copied().sum()
    }
}

/// The minute in progress.
#[derive(Clone, Debug, Default)]
pub struct Minutes {
    current: Option<Minute>,
}

impl Minutes {
    /// Counts `m`; returns the minute it closed, if it began a new one.
    #[inline]
    pub fn add(&mut self, m: &PacketMeta) -> Option<Minute> {
        let start = m.ts - m.ts.rem_euclid(MINUTE);
        let closed = match &self.current {
            Some(c) if start > c.start => self.current.replace(Minute { start, protocols: Default::default() }),
            Some(_) => None,
            None => {
                self.current = Some(Minute { start, protocols: Default::default() });
                None
            }
        };
        if let Some(c) = &mut self.current {
            c.protocols[m.proto.index()].add(m.wire_len);
        }
        closed
    }

    /// The run is over: the minute in progress, if any.
    pub fn finish(&mut self) -> Option<Minute> {
        self.current.take()
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
}
