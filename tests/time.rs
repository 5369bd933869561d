//! Hostile timestamps: a packet dated decades ahead in the middle of a capture, a clock
//! stepping back an hour, timestamps at either extreme. None may panic, lose packets or
//! stop detection for the rest of the file.

mod common;

use std::path::Path;

use serde_json::Value;

/// A pcap record: seconds, microseconds, the captured bytes, the original length.
type Record = (u32, u32, Vec<u8>, u32);

/// The demo capture's header and records.
fn demo_records() -> (Vec<u8>, Vec<Record>) {
    let bytes = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo.pcap")).unwrap();
    let (header, mut at, mut out) = (bytes[..24].to_vec(), 24, Vec::new());
    let u32le = |b: &[u8]| u32::from_le_bytes(b[..4].try_into().unwrap());
    while at + 16 <= bytes.len() {
        let (s, us, cap, orig) =
            (u32le(&bytes[at..]), u32le(&bytes[at + 4..]), u32le(&bytes[at + 8..]) as usize, u32le(&bytes[at + 12..]));
        out.push((s, us, bytes[at + 16..at + 16 + cap].to_vec(), orig));
        at += 16 + cap;
    }
    (header, out)
}

fn write(dir: &Path, name: &str, header: &[u8], records: &[Record]) -> std::path::PathBuf {
    let mut out = header.to_vec();
    for (s, us, data, orig) in records {
        for v in [*s, *us, data.len() as u32, *orig] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(data);
    }
    let path = dir.join(name);
    std::fs::write(&path, out).unwrap();
    path
}

/// Every alert report of a run (`--alerts`), as (kind, state, first second).
fn reports(file: &Path, dir: &Path) -> Vec<(String, String, i64)> {
    let out = dir.join(format!("{}.ndjson", file.file_name().unwrap().to_string_lossy()));
    common::summary(file, &["--no-outliers", "--alerts", out.to_str().unwrap()]);
    std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|a| {
            (
                a["kind"].as_str().unwrap().into(),
                a["state"].as_str().unwrap().into(),
                a["first_ts"].as_f64().unwrap() as i64,
            )
        })
        .collect()
}

/// The kinds of the rule alerts, sorted.
fn kinds(s: &Value) -> Vec<String> {
    let mut k: Vec<String> = s["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap().to_string())
        .filter(|k| k != "outlier" && k != "rate_spike")
        .collect();
    k.sort();
    k
}

#[test]
fn a_packet_from_decades_ahead_neither_stops_detection_nor_loses_packets() {
    let (header, mut records) = demo_records();
    let dir = tempfile::tempdir().unwrap();
    let plain = common::summary(&write(dir.path(), "plain.pcap", &header, &records), &["--no-outliers"]);
    // One packet early in the file dated 2100 (the attacks all come later).
    records[1000].0 = 4_102_444_800;
    let future_file = write(dir.path(), "future.pcap", &header, &records);
    let future = common::summary(&future_file, &["--no-outliers"]);
    assert_eq!(future["packets"], plain["packets"]);
    assert_eq!(kinds(&future), kinds(&plain), "every attack after the odd packet is still found");
    // Not only found: reported, updated and ended as without the odd packet.
    let plain_file = dir.path().join("plain.pcap");
    assert_eq!(reports(&future_file, dir.path()), reports(&plain_file, dir.path()));
}

#[test]
fn a_clock_stepping_back_an_hour_does_not_stop_detection() {
    let (header, mut records) = demo_records();
    let dir = tempfile::tempdir().unwrap();
    let plain = common::summary(&write(dir.path(), "plain.pcap", &header, &records), &["--no-outliers"]);
    // From a point before the attacks, every packet is an hour earlier (an NTP step).
    let step = records.len() / 3;
    for r in &mut records[step..] {
        r.0 -= 3600;
    }
    let stepped_file = write(dir.path(), "stepped.pcap", &header, &records);
    let stepped = common::summary(&stepped_file, &["--no-outliers"]);
    assert_eq!(stepped["packets"], plain["packets"]);
    assert_eq!(kinds(&stepped), kinds(&plain), "the attacks after the step are still found");
    // Each incident still ends (after its quiet time), not only when the file does.
    let ends = |r: &[(String, String, i64)]| r.iter().filter(|(_, s, _)| s == "end").count();
    let (p, q) = (reports(&dir.path().join("plain.pcap"), dir.path()), reports(&stepped_file, dir.path()));
    assert_eq!(ends(&q), ends(&p), "{q:?}");
    assert_eq!(q.len(), p.len(), "{q:?} vs {p:?}");
}

#[test]
fn timestamps_at_either_extreme_are_counted() {
    let (header, records) = demo_records();
    let dir = tempfile::tempdir().unwrap();
    let mut odd: Vec<_> = records[..200].to_vec();
    for (i, r) in odd.iter_mut().enumerate() {
        (r.0, r.1) = match i % 4 {
            0 => (0, 0),
            1 => (u32::MAX, 999_999),
            2 => (u32::MAX, u32::MAX), // microseconds out of range
            _ => (1_700_000_000, 0),
        };
    }
    let s = common::summary(&write(dir.path(), "odd.pcap", &header, &odd), &[]);
    assert_eq!(s["packets"], 200);
}

#[test]
fn pcapng_timestamps_at_the_limits_of_64_bits_are_counted() {
    let frame = common::eth_ipv4_udp(10);
    let mut file = common::ng_shb();
    file.extend(common::ng_idb(1, Some(9)));
    for ticks in [0, u64::MAX, u64::MAX / 2, 1_700_000_000_000_000_000, u64::MAX - 1, 5] {
        file.extend(common::ng_epb(0, ticks, &frame, frame.len() as u32));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("limits.pcapng");
    std::fs::write(&path, file).unwrap();
    let s = common::summary(&path, &[]);
    assert_eq!(s["packets"], 6);
    // 0 is epoch 0; u64::MAX, u64::MAX - 1 and u64::MAX / 2 ns lie past 2116 (5 ns is a
    // time like any other).
    let warned = s["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w.as_str().unwrap().starts_with("4 packets were dated at the edge"));
    assert!(warned, "{}", s["warnings"]);
}
