//! Helpers shared by the integration tests: running the binary and building captures.
#![allow(dead_code)] // each test crate uses a different subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub mod forge;

/// The built `ntop-rs` binary (or `NTOP_RS_BIN`, to run a test against another build).
pub fn bin() -> Command {
    let mut c = Command::new(std::env::var_os("NTOP_RS_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_ntop-rs").into()));
    // A developer's own ~/.config/ntop-rs/config.toml must not change what tests see.
    c.env("XDG_CONFIG_HOME", "/nonexistent/ntop-rs-tests");
    c
}

/// Runs the binary with `args` and no stdin.
pub fn run(args: &[&str]) -> Output {
    bin().args(args).stdin(Stdio::null()).output().expect("the ntop-rs binary runs")
}

/// A test whose prerequisite is missing: a visible SKIP line on a developer's machine,
/// a failure under CI (`CI=true`), where every prerequisite must be there.
pub fn skip(why: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("prerequisite missing under CI: {why}");
    }
    println!("SKIP: {why}");
}

/// A failing run: non-zero exit and exactly one line on stderr containing `needle`.
pub fn assert_one_line_error(out: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "expected failure, stderr: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line expected: {err:?}");
    assert!(err.contains(needle), "{needle:?} not in {err:?}");
    assert!(!err.contains("panicked"), "{err}");
}

/// Runs `-r FILE --headless --json [--top 0] [extra]` and parses the summary.
pub fn summary(file: &Path, extra: &[&str]) -> serde_json::Value {
    let path = file.to_str().expect("utf-8 path");
    let mut args = vec!["-r", path, "--headless", "--json"];
    if !extra.contains(&"--top") {
        args.extend_from_slice(&["--top", "0"]);
    }
    args.extend_from_slice(extra);
    let out = run(&args);
    assert!(out.status.success(), "ntop-rs failed on {path}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("stdout is one JSON object")
}

/// `../shared/pcaps`, if this checkout has it beside it.
pub fn shared_pcaps() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/pcaps");
    dir.join("expected.jsonl").is_file().then_some(dir)
}

/// The bundled sample capture.
pub fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/sample.pcap")
}

/// A classic pcap file image: header + records, in either byte order and resolution.
pub fn pcap_bytes(big_endian: bool, nanos: bool, linktype: u32, records: &[(u32, u32, &[u8], u32)]) -> Vec<u8> {
    let u16b = |v: u16| if big_endian { v.to_be_bytes() } else { v.to_le_bytes() };
    let u32b = |v: u32| if big_endian { v.to_be_bytes() } else { v.to_le_bytes() };
    let mut out = Vec::new();
    out.extend_from_slice(&u32b(if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }));
    out.extend_from_slice(&u16b(2));
    out.extend_from_slice(&u16b(4));
    out.extend_from_slice(&u32b(0));
    out.extend_from_slice(&u32b(0));
    out.extend_from_slice(&u32b(262_144));
    out.extend_from_slice(&u32b(linktype));
    for (sec, frac, data, orig) in records {
        out.extend_from_slice(&u32b(*sec));
        out.extend_from_slice(&u32b(*frac));
        out.extend_from_slice(&u32b(data.len() as u32));
        out.extend_from_slice(&u32b(*orig));
        out.extend_from_slice(data);
    }
    out
}

/// pcapng block with `body`, padded, little-endian.
pub fn ng_block(kind: u32, body: &[u8]) -> Vec<u8> {
    let mut body = body.to_vec();
    while body.len() % 4 != 0 {
        body.push(0);
    }
    let len = (12 + body.len()) as u32;
    let mut b = Vec::new();
    b.extend_from_slice(&kind.to_le_bytes());
    b.extend_from_slice(&len.to_le_bytes());
    b.extend_from_slice(&body);
    b.extend_from_slice(&len.to_le_bytes());
    b
}

/// A pcapng section header block (little-endian).
pub fn ng_shb() -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
    body.extend_from_slice(&1u16.to_le_bytes());
    body.extend_from_slice(&0u16.to_le_bytes());
    body.extend_from_slice(&(-1i64).to_le_bytes());
    ng_block(0x0a0d_0d0a, &body)
}

/// An interface description block; `tsresol` adds the if_tsresol option.
pub fn ng_idb(linktype: u16, tsresol: Option<u8>) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&linktype.to_le_bytes());
    body.extend_from_slice(&0u16.to_le_bytes());
    body.extend_from_slice(&262_144u32.to_le_bytes());
    if let Some(r) = tsresol {
        body.extend_from_slice(&9u16.to_le_bytes());
        body.extend_from_slice(&1u16.to_le_bytes());
        body.extend_from_slice(&[r, 0, 0, 0]);
        body.extend_from_slice(&[0, 0, 0, 0]); // opt_endofopt
    }
    ng_block(1, &body)
}

/// An enhanced packet block.
pub fn ng_epb(iface: u32, ticks: u64, data: &[u8], orig: u32) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&iface.to_le_bytes());
    body.extend_from_slice(&((ticks >> 32) as u32).to_le_bytes());
    body.extend_from_slice(&(ticks as u32).to_le_bytes());
    body.extend_from_slice(&(data.len() as u32).to_le_bytes());
    body.extend_from_slice(&orig.to_le_bytes());
    body.extend_from_slice(data);
    ng_block(6, &body)
}

/// A minimal IPv4/UDP packet (no link header) from 10.0.0.1 to 10.0.0.2.
pub fn ipv4_udp(payload: usize) -> Vec<u8> {
    let total = (28 + payload) as u16;
    let mut p = vec![0x45, 0, (total >> 8) as u8, total as u8, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
    p.extend_from_slice(&[0x04, 0x00, 0x00, 0x35, 0, (8 + payload) as u8, 0, 0]);
    p.resize(28 + payload, 0xab);
    p
}

/// The same packet behind an Ethernet header.
pub fn eth_ipv4_udp(payload: usize) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
    f.extend(ipv4_udp(payload));
    f
}

pub mod lab;

/// The `ntop-lab` traffic helper.
pub fn lab_bin() -> &'static str {
    env!("CARGO_BIN_EXE_ntop-lab")
}

/// The `ntop-rs` binary's path (or `NTOP_RS_BIN`, as [`bin`]).
pub fn bin_path() -> &'static str {
    static PATH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PATH.get_or_init(|| std::env::var("NTOP_RS_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_ntop-rs").to_string()))
}

/// The JSON block of an HTML report page (`--report`).
pub fn report_data(page: &str) -> serde_json::Value {
    let start = page.find("<script type=\"application/json\" id=\"ntop-rs-report\">").expect("the data block") + 52;
    let end = start + page[start..].find("</script>").expect("its end");
    serde_json::from_str(&page[start..end]).expect("the data block is JSON")
}
