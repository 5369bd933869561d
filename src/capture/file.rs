//! Capture files: pcap (µs and ns, either byte order) and pcapng, from a path or stdin.
//!
//! The file is streamed through one reusable buffer, so memory stays flat whatever the
//! file's size and nothing is allocated per packet. pcapng blocks are parsed with
//! `pcap-file`; timestamps are then scaled by each interface's `if_tsresol` and
//! `if_tsoffset` (pcap-file 2 hands the raw tick count back as if it were nanoseconds).
//! pcap record headers are read here directly, because two real-world quirks need the
//! raw fields: files older than format 2.3 have the two length fields swapped (libpcap
//! and Wireshark swap them back, and so do we), and a corrupt length must be caught
//! before it makes us buffer the rest of the file.
//!
//! A file that ends mid-record, or whose records turn to garbage, is not an error: the
//! packets before it are kept and [`PacketSource::warning`] says where it stopped.

use std::fs::File;
use std::io::{self, Read};
use std::ops::Range;

use pcap_file::pcap::PcapHeader;
use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption;
use pcap_file::pcapng::{Block, PcapNgParser};
use pcap_file::{Endianness, PcapError, TsResolution};

use super::{CaptureError, Frame, LinkType, NANOS_PER_SEC, Nanos, Next, PacketSource, Progress, Warning};

/// The largest record we accept; anything longer is treated as corruption.
const MAX_RECORD: usize = 16 << 20;
/// Read buffer size (unless the input is known to be smaller).
const BUF_SIZE: usize = 1 << 20;
/// pcapng Section Header Block type, which is also the file's magic.
const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

/// A streaming reader of a pcap or pcapng file.
pub struct FileSource {
    name: String,
    buf: StreamBuf,
    format: Format,
    total: Option<u64>,
    warning: Option<Warning>,
    done: bool,
    /// The record handed out last (its bytes stay put until the next read).
    current: Option<Located>,
}

/// Which of the two formats, with the state each needs.
enum Format {
    Pcap(PcapState),
    PcapNg(Box<NgState>),
}

/// pcap global header facts that apply to every record.
struct PcapState {
    big_endian: bool,
    nanos: bool,
    /// Format < 2.3: lengths always swapped. 2.3: swapped when they look swapped.
    swap: LengthSwap,
    linktype: LinkType,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum LengthSwap {
    Never,
    Maybe,
    Always,
}

/// pcapng parser plus what we derive per interface.
struct NgState {
    parser: PcapNgParser,
    interfaces: Vec<Interface>,
    /// The time of the packet read last: a Simple Packet Block, which has none, is
    /// dated with it (tshark leaves it blank; epoch 0 would stretch every span).
    last_ts: Option<Nanos>,
}

/// One pcapng interface: its link type and how to turn ticks into nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Interface {
    linktype: LinkType,
    tsresol: u8,
    offset_secs: i64,
}

impl Interface {
    fn from_idb(linktype: u32, options: &[InterfaceDescriptionOption<'_>]) -> Self {
        let mut iface = Interface { linktype: link_of(linktype), tsresol: 6, offset_secs: 0 };
        for opt in options {
            match opt {
                InterfaceDescriptionOption::IfTsResol(r) => iface.tsresol = *r,
                InterfaceDescriptionOption::IfTsOffset(o) => iface.offset_secs = *o as i64,
                _ => {}
            }
        }
        iface
    }

    /// Converts a raw pcapng timestamp to nanoseconds since the epoch.
    fn nanos(&self, ticks: u64) -> Nanos {
        let ticks = ticks as u128;
        let ns = if self.tsresol & 0x80 != 0 {
            let shift = u32::from(self.tsresol & 0x7f).min(127);
            (ticks * NANOS_PER_SEC as u128) >> shift
        } else {
            let exp = u32::from(self.tsresol).min(38);
            if exp <= 9 { ticks.saturating_mul(10u128.pow(9 - exp)) } else { ticks / 10u128.pow(exp - 9) }
        };
        (ns.min(i64::MAX as u128) as i64).saturating_add(self.offset_secs.saturating_mul(NANOS_PER_SEC))
    }
}

/// A libpcap link-type field: the low 16 bits name the type, the rest carry FCS hints.
fn link_of(raw: u32) -> LinkType {
    LinkType((raw & 0xffff) as u16)
}

impl FileSource {
    /// Opens a capture file; `-` reads standard input.
    pub fn open(path: &str) -> Result<Self, CaptureError> {
        if path == "-" {
            return Self::from_reader("stdin", Box::new(io::stdin()), None);
        }
        let file =
            File::open(path).map_err(|e| CaptureError::Open { path: path.to_string(), reason: io_reason(&e) })?;
        let meta = file.metadata().map_err(|e| CaptureError::Open { path: path.to_string(), reason: io_reason(&e) })?;
        if meta.is_dir() {
            return Err(CaptureError::Open { path: path.to_string(), reason: "is a directory".into() });
        }
        let total = meta.is_file().then_some(meta.len());
        Self::from_reader(path, Box::new(file), total)
    }

    /// Reads a capture from any byte stream; `total` is its length when known.
    pub fn from_reader(name: &str, reader: Box<dyn Read + Send>, total: Option<u64>) -> Result<Self, CaptureError> {
        // A small file needs no megabyte buffer (it would only be zero-filled for nothing).
        let size = total.map_or(BUF_SIZE, |t| (t as usize).saturating_add(1).clamp(4096, BUF_SIZE));
        let mut buf = StreamBuf::new(reader, size);
        let format_err = |reason: String| CaptureError::Format { path: name.to_string(), reason };
        let io_err = |error| CaptureError::Io { path: name.to_string(), error };
        buf.fill_to(24).map_err(io_err)?;
        let head = buf.data();
        if head.is_empty() {
            return Err(format_err("empty input: not a pcap or pcapng capture".into()));
        }
        let format = if head.starts_with(&PCAPNG_MAGIC) {
            // The section header may be longer than what we have; grow until it parses.
            let (used, parser) = loop {
                match PcapNgParser::new(buf.data()) {
                    Ok((rem, parser)) => break (buf.data().len() - rem.len(), parser),
                    Err(PcapError::IncompleteBuffer) if !buf.eof && buf.data().len() < MAX_RECORD => {
                        let want = buf.data().len() * 2;
                        buf.fill_to(want).map_err(io_err)?;
                    }
                    Err(e) => return Err(format_err(format!("bad pcapng section header: {}", pcap_reason(&e)))),
                }
            };
            buf.consume(used);
            Format::PcapNg(Box::new(NgState { parser, interfaces: Vec::new(), last_ts: None }))
        } else {
            Format::Pcap(parse_pcap_header(&mut buf).map_err(format_err)?)
        };
        Ok(FileSource { name: name.to_string(), buf, format, total, warning: None, done: false, current: None })
    }

    /// Link type of the first interface, once known (pcap: always; pcapng: after its IDB).
    pub fn first_linktype(&mut self) -> Option<LinkType> {
        match &self.format {
            Format::Pcap(p) => Some(p.linktype),
            Format::PcapNg(ng) => ng.interfaces.first().map(|i| i.linktype),
        }
    }

    fn stop(&mut self, message: String) {
        self.warning = Some(Warning { offset: self.buf.offset, message });
        self.done = true;
    }

    /// Finds the next pcap record; returns where its bytes are in the buffer.
    fn next_pcap(&mut self) -> io::Result<Option<Located>> {
        let Format::Pcap(p) = &self.format else { unreachable!("pcap reader on a pcapng file") };
        let (big, nanos, swap, linktype) = (p.big_endian, p.nanos, p.swap, p.linktype);
        loop {
            let data = self.buf.data();
            if data.len() >= 16 {
                let field = |i: usize| {
                    let b = [data[i], data[i + 1], data[i + 2], data[i + 3]];
                    if big { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) }
                };
                let (sec, frac, mut incl, mut orig) = (field(0), field(4), field(8), field(12));
                if swap == LengthSwap::Always || (swap == LengthSwap::Maybe && incl > orig) {
                    std::mem::swap(&mut incl, &mut orig);
                }
                let incl = incl as usize;
                if incl > MAX_RECORD {
                    self.stop(format!("corrupt record: claims {incl} captured bytes"));
                    return Ok(None);
                }
                if data.len() >= 16 + incl {
                    let ts = i64::from(sec) * NANOS_PER_SEC + i64::from(frac) * if nanos { 1 } else { 1000 };
                    let start = self.buf.start + 16;
                    self.buf.pending = 16 + incl;
                    return Ok(Some(Located { ts, linktype, range: start..start + incl, orig_len: orig }));
                }
                if self.buf.eof {
                    self.stop(format!(
                        "file truncated mid-packet (record needs {} bytes, {} present)",
                        16 + incl,
                        data.len()
                    ));
                    return Ok(None);
                }
                self.buf.fill_to(16 + incl)?;
            } else if self.buf.eof {
                if !data.is_empty() {
                    self.stop(format!("file truncated in a record header ({} of 16 bytes present)", data.len()));
                }
                return Ok(None);
            } else {
                self.buf.fill_to(16)?;
            }
        }
    }

    /// Finds the next pcapng packet block, tracking interfaces on the way.
    fn next_pcapng(&mut self) -> io::Result<Option<Located>> {
        let Format::PcapNg(ng) = &mut self.format else { unreachable!("pcapng reader on a pcap file") };
        loop {
            let data = self.buf.data();
            if data.is_empty() && self.buf.eof {
                return Ok(None);
            }
            let base = data.as_ptr() as usize;
            match ng.parser.next_block(data) {
                Ok((rem, block)) => {
                    let used = data.len() - rem.len();
                    let found = match block {
                        Block::SectionHeader(_) => {
                            ng.interfaces.clear();
                            None
                        }
                        Block::InterfaceDescription(idb) => {
                            ng.interfaces.push(Interface::from_idb(u32::from(idb.linktype), &idb.options));
                            None
                        }
                        Block::EnhancedPacket(epb) => {
                            let iface = ng.interfaces.get(epb.interface_id as usize).copied();
                            // pcap-file reads the 64-bit tick count into a Duration as if in ns.
                            let ticks = epb.timestamp.as_nanos() as u64;
                            Some((iface, Some(ticks), slice_range(base, &epb.data), epb.original_len))
                        }
                        Block::SimplePacket(spb) => {
                            let iface = ng.interfaces.first().copied();
                            let mut r = slice_range(base, &spb.data);
                            r.end = r.end.min(r.start + spb.original_len as usize);
                            Some((iface, None, r, spb.original_len))
                        }
                        Block::Packet(pb) => {
                            let iface = ng.interfaces.get(pb.interface_id as usize).copied();
                            // Its timestamp is two 32-bit words, high first, each in the
                            // section's byte order; pcap-file reads them as one u64, which
                            // swaps the words in a little-endian section.
                            let little = ng.parser.section().endianness == Endianness::Little;
                            let ticks = if little { pb.timestamp.rotate_left(32) } else { pb.timestamp };
                            Some((iface, Some(ticks), slice_range(base, &pb.data), pb.original_len))
                        }
                        _ => None,
                    };
                    let start = self.buf.start;
                    match found {
                        None => self.buf.consume(used),
                        Some((None, ..)) => {
                            self.stop("packet block names an interface that was never described".into());
                            return Ok(None);
                        }
                        Some((Some(iface), ticks, r, orig)) => {
                            self.buf.pending = used;
                            let r = start + r.start..start + r.end;
                            let ts = match ticks {
                                Some(t) => iface.nanos(t),
                                None => ng.last_ts.unwrap_or(0),
                            };
                            ng.last_ts = Some(ts);
                            return Ok(Some(Located { ts, linktype: iface.linktype, range: r, orig_len: orig }));
                        }
                    }
                }
                Err(PcapError::IncompleteBuffer | PcapError::InvalidField(_))
                    if let Some(len) = whole_side_block(data, ng.parser.section().endianness) =>
                {
                    // A block that holds no packet (name resolution, interface
                    // statistics, a custom one), framed right but with a bad field inside:
                    // skipped whole, as tshark does, rather than ending the file there.
                    self.buf.consume(len);
                }
                Err(PcapError::IncompleteBuffer) => {
                    let have = data.len();
                    if self.buf.eof {
                        self.stop(format!("file truncated mid-block ({have} bytes of a block present)"));
                        return Ok(None);
                    }
                    if have >= MAX_RECORD {
                        self.stop(format!("corrupt block: longer than {MAX_RECORD} bytes"));
                        return Ok(None);
                    }
                    self.buf.fill_to((have * 2).max(64))?;
                }
                Err(e) => {
                    self.stop(format!("corrupt block: {}", pcap_reason(&e)));
                    return Ok(None);
                }
            }
        }
    }
}

/// The length of the block at the start of `data` when it is whole (both its length
/// fields present and equal) and of a type that carries no packets and no interface:
/// what a reader can skip without losing a packet.
fn whole_side_block(data: &[u8], endianness: Endianness) -> Option<usize> {
    let word = |at: usize| -> Option<u32> {
        let b: [u8; 4] = data.get(at..at + 4)?.try_into().ok()?;
        Some(if endianness == Endianness::Little { u32::from_le_bytes(b) } else { u32::from_be_bytes(b) })
    };
    let (kind, len) = (word(0)?, word(4)?);
    // Section header, interface description, and the three packet blocks matter.
    if matches!(kind, 0x0a0d_0d0a | 1 | 2 | 3 | 6) || len < 12 || len % 4 != 0 {
        return None;
    }
    let len = len as usize;
    (word(len - 4)? as usize == len).then_some(len)
}

impl PacketSource for FileSource {
    fn next_frame(&mut self) -> Result<Next<'_>, CaptureError> {
        self.buf.consume_pending();
        self.current = None;
        if self.done {
            return Ok(Next::End);
        }
        let found = match self.format {
            Format::Pcap(_) => self.next_pcap(),
            Format::PcapNg(_) => self.next_pcapng(),
        }
        .map_err(|error| CaptureError::Io { path: self.name.clone(), error })?;
        match found {
            Some(located) => {
                self.current = Some(located);
                Ok(self.current_frame().map_or(Next::End, Next::Frame))
            }
            None => {
                self.done = true;
                Ok(Next::End)
            }
        }
    }

    fn current_frame(&self) -> Option<Frame<'_>> {
        let Located { ts, linktype, range, orig_len } = self.current.clone()?;
        let data = &self.buf.buf[range];
        // A record whose wire length is below its captured length keeps it, as in tshark
        // (frame.len) and tcpdump (`length`): the bytes counted are the wire's.
        Some(Frame { ts, linktype, data, orig_len })
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn progress(&self) -> Option<Progress> {
        Some(Progress { done: self.buf.offset, total: self.total })
    }

    fn warning(&self) -> Option<&Warning> {
        self.warning.as_ref()
    }
}

/// A record found in the buffer: its facts and where its bytes are.
#[derive(Clone, Debug)]
struct Located {
    ts: Nanos,
    linktype: LinkType,
    range: Range<usize>,
    orig_len: u32,
}

/// Where a borrowed sub-slice sits relative to `base`.
fn slice_range(base: usize, part: &[u8]) -> Range<usize> {
    let start = part.as_ptr() as usize - base;
    start..start + part.len()
}

fn parse_pcap_header(buf: &mut StreamBuf) -> Result<PcapState, String> {
    let data = buf.data();
    if data.len() >= 4 {
        let magic = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
        if matches!(magic, 0xa1b2_cd34 | 0x34cd_b2a1) {
            return Err("modified (Kuznetzov) pcap format is not supported; convert it with `editcap -F pcap`".into());
        }
    }
    if data.len() < 24 {
        if data.len() >= 4 && matches!(&data[..4], [0xa1, 0xb2, ..] | [.., 0xb2, 0xa1]) {
            return Err(format!("truncated pcap header ({} of 24 bytes)", data.len()));
        }
        return Err("not a pcap or pcapng capture (file too short)".into());
    }
    let header = match PcapHeader::from_slice(data) {
        Ok((_, h)) => h,
        Err(PcapError::InvalidField(_)) => {
            let magic: Vec<String> = data[..4].iter().map(|b| format!("{b:02x}")).collect();
            return Err(format!("not a pcap or pcapng capture (magic bytes {})", magic.join(" ")));
        }
        Err(e) => return Err(format!("bad pcap header: {}", pcap_reason(&e))),
    };
    buf.consume(24);
    let (major, minor) = (header.version_major, header.version_minor);
    let swap = match (major, minor) {
        (0..=1, _) | (2, 0..=2) => LengthSwap::Always,
        (2, 3) => LengthSwap::Maybe,
        _ => LengthSwap::Never,
    };
    Ok(PcapState {
        big_endian: header.endianness == Endianness::Big,
        nanos: header.ts_resolution == TsResolution::NanoSecond,
        swap,
        linktype: link_of(u32::from(header.datalink)),
    })
}

fn pcap_reason(e: &PcapError) -> String {
    match e {
        PcapError::IncompleteBuffer => "incomplete".into(),
        PcapError::IoError(e) => io_reason(e),
        PcapError::InvalidField(s) => s.to_string(),
        PcapError::Utf8Error(_) | PcapError::FromUtf8Error(_) => "invalid UTF-8 in an option".into(),
        PcapError::InvalidInterfaceId(id) => format!("unknown interface id {id}"),
    }
}

use super::stream::StreamBuf;
pub use crate::files::io_reason;

#[cfg(test)]
#[path = "file_tests.rs"]
mod tests;
