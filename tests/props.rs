//! Property tests: no input makes the decoder or the file reader panic, and the
//! decoder's output is always self-consistent.

use std::io::Cursor;

use ntop_rs::capture::{FileSource, Frame, LinkType, Next, PacketSource};
use ntop_rs::decode::{PacketMeta, Proto, decode};
use ntop_rs::synth::{Synth, SynthConfig};
use proptest::prelude::*;

/// Every link type the decoder knows, plus ones it does not.
const LINK_TYPES: [LinkType; 18] = [
    LinkType::NULL,
    LinkType::ETHERNET,
    LinkType::PPP,
    LinkType::RAW_BSD,
    LinkType::RAW_OPENBSD,
    LinkType::PPP_HDLC,
    LinkType::RAW,
    LinkType::C_HDLC,
    LinkType::IEEE802_11,
    LinkType::LOOP,
    LinkType::LINUX_SLL,
    LinkType::RADIOTAP,
    LinkType::PPI,
    LinkType::IPV4,
    LinkType::IPV6,
    LinkType::LINUX_SLL2,
    LinkType(147),
    LinkType(u16::MAX),
];

fn check(meta: &PacketMeta, frame: &Frame<'_>) {
    assert_eq!(meta.cap_len as usize, frame.data.len());
    assert_eq!(meta.wire_len, frame.orig_len);
    assert_eq!(meta.src.is_some(), meta.dst.is_some());
    if meta.src.is_some() {
        assert!(meta.ip_proto.is_some() || meta.proto == Proto::Other);
    }
    if let Some(n) = meta.ip_proto
        && meta.proto != Proto::Arp
    {
        assert_eq!(meta.proto, Proto::from_ip_number(n));
    }
    if meta.ports.is_some() {
        assert!(matches!(meta.ip_proto, Some(6 | 17)));
    }
}

fn decode_checked(linktype: LinkType, data: &[u8], orig_len: u32) {
    let frame = Frame { ts: 0, linktype, data, orig_len: orig_len.max(data.len() as u32) };
    check(&decode(&frame), &frame);
}

/// Realistic frames to mutate: a slice of synthetic traffic, re-wrapped for each link type.
fn seeds() -> Vec<Vec<u8>> {
    Synth::new(SynthConfig { packets: 200, ..SynthConfig::default() }).map(|f| f.data).collect()
}

/// Re-frames an Ethernet frame's payload under another link type's header.
fn rewrap(linktype: LinkType, eth: &[u8]) -> Vec<u8> {
    let (ethertype, payload) = (&eth[12..14], &eth[14..]);
    let mut out = match linktype {
        LinkType::LINUX_SLL => [&[0u8; 14][..], ethertype].concat(),
        LinkType::LINUX_SLL2 => [ethertype, &[0u8; 18][..]].concat(),
        LinkType::NULL => vec![2, 0, 0, 0],
        LinkType::LOOP => vec![0, 0, 0, 2],
        LinkType::PPP | LinkType::PPP_HDLC => vec![0xff, 0x03, 0x00, 0x21],
        LinkType::C_HDLC => [&[0x0f, 0x00][..], ethertype].concat(),
        LinkType::PPI => [&[0u8, 0, 8, 0, 1, 0, 0, 0][..], &eth[..14]].concat(),
        LinkType::ETHERNET => eth[..14].to_vec(),
        _ => Vec::new(),
    };
    out.extend_from_slice(payload);
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(lt in 0..LINK_TYPES.len(), data in proptest::collection::vec(any::<u8>(), 0..256), extra in 0u32..2000) {
        decode_checked(LINK_TYPES[lt], &data, data.len() as u32 + extra);
    }

    #[test]
    fn mutated_frames_never_panic(
        lt in 0..LINK_TYPES.len(),
        seed in 0usize..200,
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8),
        cut in any::<usize>(),
    ) {
        let seeds = SEEDS.with(|s| s.clone());
        let mut frame = rewrap(LINK_TYPES[lt], &seeds[seed % seeds.len()]);
        for (at, byte) in flips {
            if !frame.is_empty() {
                let i = at % frame.len();
                frame[i] = byte;
            }
        }
        let orig = frame.len() as u32;
        frame.truncate(cut % (frame.len() + 1));
        decode_checked(LINK_TYPES[lt], &frame, orig);
    }

    #[test]
    fn file_reader_never_panics(data in proptest::collection::vec(any::<u8>(), 0..512), magic in 0usize..5) {
        let mut bytes = match magic {
            0 => vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0],
            1 => vec![0xa1, 0xb2, 0x3c, 0x4d, 0, 2, 0, 4],
            2 => vec![0x0a, 0x0d, 0x0d, 0x0a],
            _ => Vec::new(),
        };
        bytes.extend(data);
        drain(bytes);
    }

    #[test]
    fn mutated_files_never_panic(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6), cut in any::<usize>(), ng in any::<bool>()) {
        let mut bytes = if ng { PCAPNG.to_vec() } else { SAMPLE_HEAD.with(|s| s.clone()) };
        for (at, byte) in flips {
            let i = at % bytes.len();
            bytes[i] = byte;
        }
        bytes.truncate(cut % (bytes.len() + 1));
        drain(bytes);
    }
}

thread_local! {
    static SEEDS: Vec<Vec<u8>> = seeds();
    static SAMPLE_HEAD: Vec<u8> = {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/sample.pcap");
        let mut b = std::fs::read(path).expect("sample capture");
        b.truncate(4096);
        b
    };
}

/// A small pcapng image: SHB, IDB with if_tsresol, one EPB.
const PCAPNG: [u8; 124] = {
    let mut b = [0u8; 124];
    let shb: [u8; 28] = [
        0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 28, 0, 0, 0,
    ];
    let idb: [u8; 32] =
        [1, 0, 0, 0, 32, 0, 0, 0, 1, 0, 0, 0, 0, 0, 4, 0, 9, 0, 1, 0, 9, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0, 0];
    let epb_head: [u8; 28] = [6, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 32, 0, 0, 0, 32, 0, 0, 0];
    let mut i = 0;
    while i < 28 {
        b[i] = shb[i];
        i += 1;
    }
    i = 0;
    while i < 32 {
        b[28 + i] = idb[i];
        i += 1;
    }
    i = 0;
    while i < 28 {
        b[60 + i] = epb_head[i];
        i += 1;
    }
    // 32 bytes of packet data (left zero), then the trailing length.
    b[120] = 64;
    b
};

fn drain(bytes: Vec<u8>) {
    let Ok(mut src) = FileSource::from_reader("prop", Box::new(Cursor::new(bytes)), None) else { return };
    for _ in 0..10_000 {
        match src.next_frame() {
            Ok(Next::Frame(f)) => {
                let frame = Frame { ts: f.ts, linktype: f.linktype, data: f.data, orig_len: f.orig_len };
                check(&decode(&frame), &frame);
            }
            Ok(Next::Idle) => {}
            Ok(Next::End) | Err(_) => return,
        }
    }
}

#[test]
fn pcapng_fixture_is_valid() {
    let mut src = FileSource::from_reader("fixture", Box::new(Cursor::new(PCAPNG.to_vec())), None).unwrap();
    assert!(matches!(src.next_frame(), Ok(Next::Frame(f)) if f.data.len() == 32));
    assert!(matches!(src.next_frame(), Ok(Next::End)));
    assert!(src.warning().is_none());
}

/// Timestamps from anywhere: the extremes, a few instants near each other, far jumps.
fn any_time() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(i64::MIN),
        Just(i64::MAX),
        Just(0i64),
        (0i64..4_000_000_000).prop_map(|s| s * 1_000_000_000),
        (1_700_000_000_000_000_000i64..1_700_000_100_000_000_000),
        any::<i64>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Packets of a synthetic mix with hostile timestamps through the statistics and
    /// every detector: nothing panics or overflows (tests build with overflow checks),
    /// every packet is counted, and alert times stay within what the packets said.
    #[test]
    fn hostile_timestamps_never_panic_nor_lose_packets(times in proptest::collection::vec(any_time(), 1..400)) {
        use ntop_rs::detect::{Detectors, flood, scan};
        let frames: Vec<_> = Synth::new(SynthConfig { packets: times.len() as u64, ..SynthConfig::default() }).collect();
        let mut stats = ntop_rs::stats::Stats::default();
        let mut d = Detectors::new(vec![
            Box::new(scan::ScanDetector::new(scan::ScanConfig::default())),
            Box::new(flood::FloodDetector::new(flood::FloodConfig::default())),
        ]);
        let metas: Vec<PacketMeta> = frames
            .iter()
            .zip(&times)
            .map(|(f, &ts)| decode(&Frame { ts, ..f.as_frame() }))
            .collect();
        for m in &metas {
            stats.record(m);
        }
        let mut reports: Vec<_> = metas.chunks(37).flat_map(|b| d.observe(b)).collect();
        reports.extend(d.finish());
        prop_assert_eq!(stats.totals.packets, times.len() as u64);
        let (lo, hi) = (metas.iter().map(|m| m.ts).min().unwrap(), metas.iter().map(|m| m.ts).max().unwrap());
        for a in &reports {
            prop_assert!(a.first_ts >= 0 && a.last_ts <= ntop_rs::capture::MAX_TS, "{a:?}");
            prop_assert!(a.first_ts >= lo - 1_000_000_000_000 && a.first_ts <= hi, "{a:?} outside {lo}..{hi}");
        }
    }
}
