//! Dumping a window of the packet ring to a pcap file: never overwriting, mode 0600,
//! the packets' own link type, nanosecond timestamps.

use std::path::{Path, PathBuf};

use std::net::IpAddr;

use super::pcap::PcapDump;
use crate::capture::scripted::OwnedFrame;
use crate::capture::{NANOS_PER_SEC, Nanos, PacketRing};
use crate::decode::{PacketMeta, decode};
use crate::detect::Alert;
use crate::files::OutDir;

/// What a dump wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dumped {
    /// The file written.
    pub path: PathBuf,
    /// Packets in it.
    pub packets: u64,
    /// Packets left out because their link type differs from the first packet's.
    pub other_linktype: u64,
}

/// Why a dump failed.
#[derive(Debug, thiserror::Error)]
pub enum DumpFailed {
    /// Nothing in the window passed the filters.
    #[error("nothing to dump: no packet of the window passes the filters")]
    Empty,
    /// The file could not be created or written.
    #[error("cannot write {path}: {reason}")]
    Write {
        /// Where.
        path: String,
        /// Why.
        reason: String,
    },
}

/// `ntop-rs-<source>-<start>-<end>.pcap`, with the source made file-name safe and the
/// times as compact UTC.
pub fn file_name(source: &str, from: Nanos, to: Nanos) -> String {
    let base = Path::new(source).file_name().and_then(|s| s.to_str()).unwrap_or(source);
    stamped(base, from, to)
}

/// `ntop-rs-<label>-<start>-<end>.pcap`, the label made file-name safe.
fn stamped(label: &str, from: Nanos, to: Nanos) -> String {
    let safe: String =
        label.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' }).collect();
    let stamp = |ts: Nanos| {
        let text = super::report::utc(super::summary::epoch_secs(ts));
        // "2023-11-14 22:13:20.000000 UTC" -> "20231114T221320Z"
        format!("{}{}{}T{}{}{}Z", &text[0..4], &text[5..7], &text[8..10], &text[11..13], &text[14..16], &text[17..19])
    };
    format!("ntop-rs-{safe}-{}-{}.pcap", stamp(from), stamp(to.max(from)))
}

/// Writes `frames` into `dir` under [`file_name`], adding `-2`, `-3`… rather than
/// overwriting an existing file.
pub fn write(frames: &[OwnedFrame], dir: &OutDir, source: &str, from: Nanos, to: Nanos) -> Result<Dumped, DumpFailed> {
    write_named(frames, dir, &file_name(source, from, to))
}

/// Packet time before an alert's first packet that its dump includes.
pub const ALERT_MARGIN: Nanos = 2 * NANOS_PER_SEC;

/// Whether a packet belongs in an alert's dump: between its two hosts (and errors
/// about them), to or from its one host, or of its protocol for a protocol-wide spike.
pub fn alert_keeps(alert: &Alert, m: &PacketMeta) -> bool {
    let arp = m.arp.map(|a| (IpAddr::V4(a.sender), IpAddr::V4(a.target)));
    let (src, dst) = match (m.src.zip(m.dst), arp) {
        (Some(pair), _) | (None, Some(pair)) => pair,
        (None, None) => return false,
    };
    match (alert.src, alert.dst) {
        (Some(a), Some(b)) => {
            (src == a && dst == b) || (src == b && dst == a) || (dst == a && m.quoted().is_some_and(|q| q.dst == b))
        }
        (Some(h), None) | (None, Some(h)) => src == h || dst == h,
        (None, None) => crate::detect::AlertProto::from(m.proto) == alert.proto,
    }
}

/// `ntop-rs-alert<id>-<kind>-<start>-<end>.pcap`.
pub fn alert_file_name(alert: &Alert) -> String {
    stamped(&format!("alert{}-{}", alert.id, alert.kind), alert.first_ts, alert.last_ts)
}

/// Writes the alert's own pcap from the ring: its packets from `first_ts` minus
/// [`ALERT_MARGIN`] to `last_ts`.
pub fn write_alert(ring: &PacketRing, alert: &Alert, dir: &OutDir) -> Result<Dumped, DumpFailed> {
    write_visited(dir, &alert_file_name(alert), |f| {
        ring.visit(alert.first_ts - ALERT_MARGIN, alert.last_ts + 1, |frame| {
            if alert_keeps(alert, &decode(frame)) {
                f(frame);
            }
        })
    })
}

/// Writes `frames` into `dir` as `name`, adding `-2`, `-3`… rather than overwriting.
fn write_named(frames: &[OwnedFrame], dir: &OutDir, name: &str) -> Result<Dumped, DumpFailed> {
    write_visited(dir, name, |f| frames.iter().for_each(|x| f(&x.as_frame())))
}

/// Writes what `visit` hands out (packets of the first one's link type; others are
/// counted and left out) into `dir` as `name`, streamed into the new file by the
/// safe-file helper: a dump of a large ring never sits in memory whole.
fn write_visited(
    dir: &OutDir,
    name: &str,
    visit: impl FnOnce(&mut dyn FnMut(&crate::packet::Frame<'_>)),
) -> Result<Dumped, DumpFailed> {
    let stem = name.trim_end_matches(".pcap");
    let written = dir.create_unique_with(stem, "pcap", |out| {
        let mut dump: Option<(PcapDump<&mut dyn std::io::Write>, crate::packet::LinkType)> = None;
        let (mut other, mut failed) = (0, None);
        let mut out = Some(out);
        visit(&mut |f| {
            if failed.is_some() {
                return;
            }
            let (d, lt) = match (&mut dump, out.take()) {
                (Some(x), _) => x,
                (None, Some(out)) => match PcapDump::new(out, f.linktype) {
                    Ok(d) => dump.insert((d, f.linktype)),
                    Err(e) => return failed = Some(e.to_string()),
                },
                (None, None) => return,
            };
            if f.linktype != *lt {
                other += 1;
            } else if let Err(e) = d.write(f) {
                failed = Some(e.to_string());
            }
        });
        if let Some(e) = failed {
            return Err(std::io::Error::other(e));
        }
        let Some((dump, _)) = dump else { return Ok(None) };
        let packets = dump.packets();
        dump.finish().map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(Some((packets, other)))
    });
    match written {
        Ok(Some((path, (packets, other_linktype)))) => Ok(Dumped { path, packets, other_linktype }),
        Ok(None) => Err(DumpFailed::Empty),
        Err(e) => Err(DumpFailed::Write { path: dir.path().join(name).display().to_string(), reason: e.reason() }),
    }
}

/// Writes the ring's packets with `from <= ts < to` that `keep` accepts into `dir`
/// under [`file_name`] (the TUI's `w`), straight from the ring.
pub fn write_window(
    ring: &PacketRing,
    dir: &OutDir,
    source: &str,
    (from, to): (Nanos, Nanos),
    mut keep: impl FnMut(&crate::packet::Frame<'_>) -> bool,
) -> Result<Dumped, DumpFailed> {
    write_visited(dir, &file_name(source, from, to), |f| {
        ring.visit(from, to, |frame| {
            if keep(frame) {
                f(frame);
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::capture::{FileSource, LinkType, NANOS_PER_SEC, Next, PacketSource};

    #[test]
    fn names_are_safe_and_never_reused() {
        let from = 1_700_000_000 * NANOS_PER_SEC;
        assert_eq!(file_name("/tmp/x y.pcap", from, from), "ntop-rs-x_y.pcap-20231114T221320Z-20231114T221320Z.pcap");
        let dir = tempfile::tempdir().unwrap();
        let frames = vec![
            OwnedFrame::new(from, LinkType::RAW, vec![0x45; 20]),
            OwnedFrame::new(from + 5, LinkType::ETHERNET, vec![0; 14]),
            OwnedFrame::new(from + 9, LinkType::RAW, vec![0x45; 24]),
        ];
        let out = OutDir::open(dir.path()).unwrap();
        let a = write(&frames, &out, "eth0", from, from).unwrap();
        let b = write(&frames, &out, "eth0", from, from).unwrap();
        assert_ne!(a.path, b.path);
        assert!(b.path.to_str().unwrap().ends_with("Z-2.pcap"));
        assert_eq!((a.packets, a.other_linktype), (2, 1));
        let mode = std::fs::metadata(&a.path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // It reads back with nanosecond timestamps and the right link type.
        let mut src = FileSource::open(a.path.to_str().unwrap()).unwrap();
        match src.next_frame().unwrap() {
            Next::Frame(f) => assert_eq!((f.ts, f.linktype, f.data.len()), (from, LinkType::RAW, 20)),
            other => panic!("{other:?}"),
        }
        assert!(matches!(write(&[], &out, "eth0", from, from), Err(DumpFailed::Empty)));
    }

    #[test]
    fn an_alert_dump_holds_its_hosts_packets_from_before_it_began() {
        let eth_tcp = |src: [u8; 4], dst: [u8; 4]| {
            let mut out = Vec::new();
            let builder =
                etherparse::PacketBuilder::ethernet2([2; 6], [4; 6]).ipv4(src, dst, 64).tcp(40000, 80, 1, 1024);
            builder.write(&mut out, &[]).unwrap();
            out
        };
        let s = NANOS_PER_SEC;
        let ring = PacketRing::new(1 << 20, i64::MAX);
        let (a, v, other) = ([10, 0, 0, 66], [10, 0, 0, 10], [10, 0, 0, 5]);
        for (t, src, dst) in
            [(0, a, v), (9 * s, a, v), (10 * s, v, a), (10 * s, other, v), (12 * s, a, v), (13 * s, a, v)]
        {
            ring.push(&OwnedFrame::new(t, LinkType::ETHERNET, eth_tcp(src, dst)).as_frame());
        }
        let alert = Alert {
            id: 3,
            state: crate::detect::AlertState::End,
            kind: crate::detect::AlertKind::PortScan,
            severity: crate::detect::Severity::Medium,
            ts: 12 * s,
            first_ts: 10 * s,
            last_ts: 12 * s,
            src: Some(IpAddr::from(a)),
            dst: Some(IpAddr::from(v)),
            proto: crate::detect::AlertProto::Tcp,
            port: None,
            packets: 2,
            summary: String::new(),
            evidence: crate::detect::Evidence::default(),
        };
        let dir = tempfile::tempdir().unwrap();
        let d = write_alert(&ring, &alert, &OutDir::open(dir.path()).unwrap()).unwrap();
        // 9 s (in the margin), 10 s (reply), 12 s; not 0 s, not the other host, not 13 s.
        assert_eq!(d.packets, 3);
        assert!(d.path.file_name().unwrap().to_str().unwrap().starts_with("ntop-rs-alert3-port_scan-"));
    }
}
