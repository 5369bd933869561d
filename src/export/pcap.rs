//! Writing frames to a pcap file (nanosecond timestamps, the frames' own link type).

use std::io::Write;
use std::time::Duration;

use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::{DataLink, Endianness, TsResolution};

use crate::capture::{Frame, LinkType, NANOS_PER_SEC};

/// Snap length written in the header: the largest libpcap accepts.
const SNAPLEN: u32 = 262_144;

/// Errors while writing a pcap.
#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    /// The underlying writer failed.
    #[error("cannot write pcap: {0}")]
    Write(String),
    /// A frame of another link type than the file's.
    #[error("frame of link type {got} does not fit a {want} pcap")]
    LinkType {
        /// The file's link type.
        want: LinkType,
        /// The frame's.
        got: LinkType,
    },
}

/// A pcap writer for frames of one link type.
pub struct PcapDump<W: Write> {
    writer: PcapWriter<W>,
    linktype: LinkType,
    packets: u64,
}

impl<W: Write> PcapDump<W> {
    /// Starts a pcap (nanosecond resolution, little-endian) for `linktype` frames.
    pub fn new(out: W, linktype: LinkType) -> Result<Self, DumpError> {
        let header = PcapHeader {
            snaplen: SNAPLEN,
            datalink: DataLink::from(u32::from(linktype.0)),
            ts_resolution: TsResolution::NanoSecond,
            endianness: Endianness::Little,
            ..PcapHeader::default()
        };
        let writer = PcapWriter::with_header(out, header).map_err(|e| DumpError::Write(e.to_string()))?;
        Ok(PcapDump { writer, linktype, packets: 0 })
    }

    /// Appends one frame.
    pub fn write(&mut self, frame: &Frame<'_>) -> Result<(), DumpError> {
        if frame.linktype != self.linktype {
            return Err(DumpError::LinkType { want: self.linktype, got: frame.linktype });
        }
        let ts = frame.ts.max(0);
        let timestamp = Duration::new((ts / NANOS_PER_SEC) as u64, (ts % NANOS_PER_SEC) as u32);
        let packet = PcapPacket::new(timestamp, frame.orig_len.max(frame.data.len() as u32), frame.data);
        self.writer.write_packet(&packet).map_err(|e| DumpError::Write(e.to_string()))?;
        self.packets += 1;
        Ok(())
    }

    /// Frames written so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Flushes and returns the writer.
    pub fn finish(self) -> Result<W, DumpError> {
        let mut w = self.writer.into_writer();
        w.flush().map_err(|e| DumpError::Write(e.to_string()))?;
        Ok(w)
    }
}
