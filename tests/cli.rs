//! The binary end to end: formats, stdin, filters, the JSON contract, and bad input.

mod common;

use std::io::Write;
use std::process::{Output, Stdio};

use common::{bin, eth_ipv4_udp, ipv4_udp, ng_epb, ng_idb, ng_shb, pcap_bytes, run, sample, summary};
use serde_json::Value;

fn temp_file(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().expect("temp file");
    f.write_all(bytes).expect("write temp file");
    f
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

use common::assert_one_line_error;

#[test]
fn pcap_byte_orders_and_resolutions() {
    let frame = eth_ipv4_udp(10);
    for (big, nanos) in [(false, false), (true, false), (false, true), (true, true)] {
        let frac = if nanos { 123_456_789 } else { 123_456 };
        let file = temp_file(&pcap_bytes(big, nanos, 1, &[(1_600_000_000, frac, &frame, 100)]));
        let s = summary(file.path(), &[]);
        assert_eq!((s["packets"].as_u64(), s["bytes"].as_u64()), (Some(1), Some(100)), "big={big} nanos={nanos}");
        assert_eq!(s["protocols"]["udp"]["packets"], 1);
        let ts = s["first_ts"].as_f64().unwrap();
        let want = if nanos { 1_600_000_000.123_456_8 } else { 1_600_000_000.123_456 };
        assert!((ts - want).abs() < 1e-6, "{ts} vs {want}");
        assert_eq!(s["truncated"], 1, "captured 52 of 100 bytes");
    }
}

#[test]
fn pcapng_mixed_interfaces_and_resolutions() {
    let mut img = ng_shb();
    img.extend(ng_idb(1, None)); // Ethernet, microseconds
    img.extend(ng_idb(101, Some(9))); // raw IP, nanoseconds
    let eth = eth_ipv4_udp(4);
    let raw = ipv4_udp(4);
    img.extend(ng_epb(0, 1_600_000_000_000_001, &eth, eth.len() as u32));
    img.extend(ng_epb(1, 1_600_000_001_000_000_002, &raw, raw.len() as u32));
    img.extend(ng_block_unknown());
    let file = temp_file(&img);
    let s = summary(file.path(), &[]);
    assert_eq!(s["packets"], 2);
    assert_eq!(s["protocols"]["udp"]["packets"], 2);
    assert_eq!(s["link_types"]["ethernet"], 1);
    assert_eq!(s["link_types"]["raw"], 1);
    assert_eq!(s["first_ts"].as_f64(), Some(1_600_000_000.000_001));
    assert!((s["last_ts"].as_f64().unwrap() - 1_600_000_001.0).abs() < 1e-6);
    assert_eq!(s["hosts"][0]["tx_packets"], 2);
}

fn ng_block_unknown() -> Vec<u8> {
    common::ng_block(0x0bad, &[1, 2, 3, 4])
}

#[test]
fn stdin_gives_the_same_summary_as_the_file() {
    let from_file = summary(&sample(), &[]);
    let mut child = bin()
        .args(["-r", "-", "--headless", "--json", "--top", "0"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let bytes = std::fs::read(sample()).expect("sample is readable");
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || stdin.write_all(&bytes));
    let out = child.wait_with_output().expect("wait");
    writer.join().expect("writer thread").expect("write stdin");
    assert!(out.status.success(), "{}", stderr(&out));
    let mut from_stdin: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(from_stdin["source"], "stdin");
    from_stdin["source"] = from_file["source"].clone();
    assert_eq!(from_stdin, from_file);
}

#[test]
fn a_read_error_and_a_missing_output_directory_are_said_once_and_plainly() {
    // Standard input that is a directory: the reason once, not once per error layer.
    let dir = tempfile::tempdir().expect("tempdir");
    let out = bin()
        .args(["-r", "-", "--headless"])
        .stdin(Stdio::from(std::fs::File::open(dir.path()).expect("a directory opens for reading")))
        .output()
        .expect("runs");
    assert_one_line_error(&out, "stdin: read error: Is a directory");
    assert_eq!(stderr(&out).matches("Is a directory").count(), 1, "{}", stderr(&out));
    // A report in a directory that does not exist: said so (it is not "not a directory").
    let out = run(&["-r", sample().to_str().unwrap(), "--headless", "--report", "/nonexistent/dir/r.html"]);
    assert_one_line_error(&out, "--report /nonexistent/dir: no such directory");
    let out = run(&["-r", sample().to_str().unwrap(), "--headless", "--dump-alerts", "/etc/passwd"]);
    assert_one_line_error(&out, "--dump-alerts /etc/passwd: not a directory");
}

#[test]
fn json_contract_fields_and_types() {
    let s = summary(&sample(), &[]);
    for key in ["packets", "bytes", "malformed", "evicted"] {
        assert!(s[key].is_u64(), "{key} is an unsigned integer: {}", s[key]);
    }
    for key in ["first_ts", "last_ts"] {
        assert!(s[key].is_f64(), "{key} is a float");
    }
    assert!(s["alerts"].as_array().is_some_and(|a| a.is_empty()));
    assert!(s["capture"].is_null(), "no capture counters for a file");
    let protocols = s["protocols"].as_object().unwrap();
    let mut sum = 0;
    for (name, c) in protocols {
        assert!(["tcp", "udp", "icmp", "icmpv6", "arp", "other"].contains(&name.as_str()), "{name}");
        assert!(c["packets"].as_u64().unwrap() > 0, "empty classes are left out");
        sum += c["packets"].as_u64().unwrap();
    }
    assert_eq!(sum, s["packets"].as_u64().unwrap(), "classes partition the packets");
    let hosts = s["hosts"].as_array().unwrap();
    let totals: Vec<u64> =
        hosts.iter().map(|h| h["tx_bytes"].as_u64().unwrap() + h["rx_bytes"].as_u64().unwrap()).collect();
    assert!(totals.windows(2).all(|w| w[0] >= w[1]), "sorted by tx+rx bytes descending");
    for h in hosts {
        assert!(h["ip"].as_str().unwrap().parse::<std::net::IpAddr>().is_ok());
        for k in ["tx_packets", "tx_bytes", "rx_packets", "rx_bytes"] {
            assert!(h[k].is_u64(), "{k}");
        }
    }
    let tx: u64 = hosts.iter().map(|h| h["tx_packets"].as_u64().unwrap()).sum();
    let ip_packets: u64 =
        ["tcp", "udp", "icmp", "icmpv6"].iter().map(|p| s["protocols"][p]["packets"].as_u64().unwrap_or(0)).sum();
    assert!(tx >= ip_packets, "every IP packet has a sending host");
}

#[test]
fn top_limits_hosts_and_flows() {
    let all = summary(&sample(), &[]);
    let top3 = summary(&sample(), &["--top", "3"]);
    assert_eq!(top3["hosts"].as_array().unwrap().len(), 3);
    assert_eq!(top3["flows"].as_array().unwrap().len(), 3);
    assert_eq!(top3["hosts"].as_array().unwrap()[..], all["hosts"].as_array().unwrap()[..3]);
    assert_eq!(top3["hosts_total"], all["hosts_total"]);
}

#[test]
fn bpf_filter_from_flag_or_trailing_words() {
    let all = summary(&sample(), &[]);
    // As in tcpdump, `tcp` alone does not look inside VLAN tags; the sample has some.
    let tcp = summary(&sample(), &["tcp"]);
    let all_tcp = summary(&sample(), &["tcp", "or", "(vlan", "and", "tcp)"]);
    assert_eq!(all_tcp["packets"], all["protocols"]["tcp"]["packets"]);
    assert!(tcp["packets"].as_u64() < all_tcp["packets"].as_u64());
    assert_eq!(tcp["protocols"].as_object().unwrap().len(), 1);
    assert_eq!(tcp["frames_read"], all["packets"]);
    let via_flag = summary(&sample(), &["-f", "tcp"]);
    assert_eq!(via_flag["packets"], tcp["packets"]);
    let none = summary(&sample(), &["ether", "proto", "0x1234"]);
    assert_eq!(none["packets"], 0);
    assert_eq!(none["first_ts"], Value::Null);
}

#[test]
fn readable_report() {
    let out = run(&["-r", sample().to_str().unwrap(), "--headless", "--top", "3"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in ["packets", "Protocols", "tcp", "Top talkers (3 of", "Top flows (3 of", "Packet sizes"] {
        assert!(text.contains(needle), "{needle:?} missing in:\n{text}");
    }
}

#[test]
fn a_wire_length_below_the_captured_length_is_counted_as_tshark_does() {
    // 62 bytes captured, 40 on the wire (a corrupt or padded record): tshark's frame.len
    // is 40, its frame.cap_len 62.
    let frame = eth_ipv4_udp(20);
    let file = temp_file(&pcap_bytes(false, false, 1, &[(1, 0, &frame, 40), (2, 0, &frame, 62)]));
    let path = file.path().to_str().unwrap();
    let s = summary(file.path(), &[]);
    assert_eq!((s["bytes"].as_u64(), s["captured_bytes"].as_u64()), (Some(102), Some(124)), "{s}");
    assert_eq!(s["truncated"], 0);
    if let Ok(out) = std::process::Command::new("tshark").args(["-r", path, "-T", "fields", "-e", "frame.len"]).output()
        && out.status.success()
    {
        let total: u64 = String::from_utf8_lossy(&out.stdout).lines().map(|l| l.trim().parse::<u64>().unwrap()).sum();
        assert_eq!(s["bytes"].as_u64(), Some(total), "tshark's sum of frame.len");
    }
}

#[test]
fn truncated_file_warns_with_offset_and_keeps_what_was_read() {
    let frame = eth_ipv4_udp(20);
    let mut img = pcap_bytes(false, false, 1, &[(1, 0, &frame, 62), (2, 0, &frame, 62), (3, 0, &frame, 62)]);
    img.truncate(img.len() - 10);
    let file = temp_file(&img);
    let out = run(&["-r", file.path().to_str().unwrap(), "--headless", "--json"]);
    assert!(out.status.success(), "a truncated file is not fatal");
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["packets"], 2);
    let err = stderr(&out);
    let offset = 24 + 2 * (16 + 62);
    assert!(err.contains("warning") && err.contains(&format!("byte offset {offset}")), "{err}");
    assert_eq!(s["warnings"].as_array().unwrap().len(), 1);
}

#[test]
fn truncated_pcapng_block() {
    let mut img = ng_shb();
    img.extend(ng_idb(1, None));
    let frame = eth_ipv4_udp(8);
    img.extend(ng_epb(0, 1, &frame, frame.len() as u32));
    let whole = img.len();
    img.extend(ng_epb(0, 2, &frame, frame.len() as u32));
    img.truncate(whole + 20);
    let file = temp_file(&img);
    let out = run(&["-r", file.path().to_str().unwrap(), "--headless", "--json"]);
    assert!(out.status.success());
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["packets"], 1);
    assert!(stderr(&out).contains(&format!("byte offset {whole}")), "{}", stderr(&out));
}

#[test]
fn missing_file() {
    assert_one_line_error(
        &run(&["-r", "/nonexistent/x.pcap", "--headless"]),
        "cannot open /nonexistent/x.pcap: no such file",
    );
}

#[test]
fn directory_is_not_a_capture() {
    assert_one_line_error(&run(&["-r", "/tmp", "--headless"]), "is a directory");
}

#[test]
fn unreadable_file() {
    // Root ignores file modes, so use a file that opens but cannot be read from offset 0.
    let out = run(&["-r", "/proc/self/mem", "--headless"]);
    assert_one_line_error(&out, "/proc/self/mem");
    assert!(stderr(&out).contains("read error"), "{}", stderr(&out));
}

#[test]
fn text_file_is_not_a_capture() {
    let file = temp_file(b"hello, this is not a capture file at all\n");
    assert_one_line_error(&run(&["-r", file.path().to_str().unwrap(), "--headless"]), "not a pcap or pcapng capture");
}

#[test]
fn empty_and_tiny_files() {
    let empty = temp_file(b"");
    assert_one_line_error(&run(&["-r", empty.path().to_str().unwrap(), "--headless"]), "empty input");
    let tiny = temp_file(&[0xd4, 0xc3, 0xb2, 0xa1, 2, 0]);
    assert_one_line_error(&run(&["-r", tiny.path().to_str().unwrap(), "--headless"]), "truncated pcap header");
}

#[test]
fn bad_filter() {
    let out = run(&["-r", sample().to_str().unwrap(), "--headless", "tcp", "port"]);
    assert_one_line_error(&out, "bad filter expression 'tcp port'");
}

#[test]
fn usage_errors() {
    let out = run(&["-r", sample().to_str().unwrap(), "--headless", "--duration", "3"]);
    assert_one_line_error(&out, "--duration applies to live capture");
    let out = run(&["-r", sample().to_str().unwrap(), "-i", "lo", "--headless"]);
    assert!(!out.status.success() && stderr(&out).contains("cannot be used with"));
    let out = run(&["-r", sample().to_str().unwrap()]);
    assert_one_line_error(&out, "the interactive view needs a terminal; use --headless");
    let out = run(&["-r", sample().to_str().unwrap(), "--json"]);
    assert_one_line_error(&out, "--json and --duration go with --headless");
    let out = run(&["-r", sample().to_str().unwrap(), "--headless", "--top", "x"]);
    assert!(!out.status.success() && stderr(&out).contains("--top"));
}

#[test]
fn old_pcap_with_swapped_lengths() {
    // Format 2.2: the two length fields are stored the other way round.
    let frame = eth_ipv4_udp(6);
    let mut img = pcap_bytes(false, false, 1, &[]);
    img[6] = 2; // minor version 2
    img.extend_from_slice(&1u32.to_le_bytes());
    img.extend_from_slice(&0u32.to_le_bytes());
    img.extend_from_slice(&1000u32.to_le_bytes()); // original length first
    img.extend_from_slice(&(frame.len() as u32).to_le_bytes());
    img.extend_from_slice(&frame);
    let s = summary(temp_file(&img).path(), &[]);
    assert_eq!((s["packets"].as_u64(), s["bytes"].as_u64()), (Some(1), Some(1000)));
}

#[test]
fn corrupt_record_length_stops_cleanly() {
    let frame = eth_ipv4_udp(6);
    let mut img = pcap_bytes(false, false, 1, &[(1, 0, &frame, 48)]);
    let good = img.len();
    img.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 0x7f]);
    img.extend_from_slice(&[0; 64]);
    let out = run(&["-r", temp_file(&img).path().to_str().unwrap(), "--headless", "--json"]);
    assert!(out.status.success());
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["packets"], 1);
    assert!(stderr(&out).contains("corrupt record") && stderr(&out).contains(&format!("offset {good}")));
}

#[test]
fn unknown_link_type_counts_as_other() {
    let img = pcap_bytes(false, false, 147, &[(1, 0, &[1, 2, 3, 4], 4)]);
    let s = summary(temp_file(&img).path(), &[]);
    assert_eq!(s["protocols"]["other"]["packets"], 1);
    assert_eq!(s["malformed"], 0);
    assert_eq!(s["link_types"]["linktype 147"], 1);
}

#[test]
fn alerts_stream_file_and_bad_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("alerts.ndjson");
    let s = summary(&sample(), &["--alerts", path.to_str().unwrap()]);
    assert!(s["alerts"].as_array().is_some_and(|a| a.is_empty()));
    // No detector reported anything on the sample: the stream exists and is empty.
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
    let out = run(&["-r", sample().to_str().unwrap(), "--headless", "--alerts", "/nonexistent/dir/a.ndjson"]);
    assert_one_line_error(&out, "cannot write alerts to /nonexistent/dir/a.ndjson: no such file");
}

#[test]
fn alerts_files_are_private_and_never_written_through_a_planted_link() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo.pcap");
    let path = dir.path().join("alerts.ndjson");
    summary(&demo, &["--no-outliers", "--alerts", path.to_str().unwrap()]);
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    let first = std::fs::read_to_string(&path).unwrap();
    assert!(first.lines().count() > 5);
    // A second run appends: what the first wrote is never truncated.
    summary(&demo, &["--no-outliers", "--alerts", path.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), format!("{first}{first}"));
    // A symlink planted at the path (to a file that exists, or to none) is refused.
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "keep").unwrap();
    for target in [victim.clone(), dir.path().join("absent")] {
        let link = dir.path().join("link.ndjson");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let out = run(&["-r", demo.to_str().unwrap(), "--headless", "--alerts", link.to_str().unwrap()]);
        assert_one_line_error(&out, "refusing to write through a symbolic link");
    }
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    assert!(!dir.path().join("absent").exists());
}

#[test]
fn closed_standard_streams_end_the_run_cleanly() {
    // A reader that went away (`ntop-rs ... 2>&1 | head -0`): writes fail with EPIPE.
    // The run has warnings (a truncated file) and alert lines (`--alerts -`) to write.
    let demo = std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo.pcap")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.pcap");
    std::fs::write(&cut, &demo[..demo.len() - 7]).unwrap();
    for closed in ["stdout", "stderr", "both"] {
        let mut child = bin()
            .args(["-r", cut.to_str().unwrap(), "--headless", "--json", "--no-outliers", "--alerts", "-"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let (out, err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
        let (mut keep_out, mut keep_err) = (None, None);
        match closed {
            "stdout" => {
                drop(out);
                keep_err = Some(err);
            }
            "stderr" => {
                drop(err);
                keep_out = Some(out);
            }
            _ => drop((out, err)),
        }
        let mut text = String::new();
        if let Some(mut e) = keep_err {
            std::io::Read::read_to_string(&mut e, &mut text).unwrap();
        }
        if let Some(mut o) = keep_out {
            std::io::Read::read_to_string(&mut o, &mut String::new()).unwrap();
        }
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "{closed} closed: {status:?} {text}");
        assert!(!text.contains("panicked"), "{text}");
    }
}

#[test]
fn tiny_speeds_and_unknown_flags_are_one_line_errors() {
    // clap's usual message: the error line, then a hint.
    let out = run(&["-r", sample().to_str().unwrap(), "--speed", "1e-300"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("is not a speed from 0.01 to 10000"), "{err}");
    let out = run(&["-r", sample().to_str().unwrap(), "--headless", "--reprot", "x"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("unexpected argument '--reprot'"), "{err}");
    assert!(!err.contains("filter"), "not taken for a filter expression: {err}");
}

#[test]
fn outputs_that_share_a_file_or_overwrite_the_input_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.pcap");
    std::fs::copy(sample(), &input).unwrap();
    let before = std::fs::read(&input).unwrap();
    let (inp, d) = (input.to_str().unwrap(), dir.path());
    let path = |name: &str| d.join(name).to_str().unwrap().to_string();
    std::fs::create_dir(d.join("c")).unwrap();
    let cases: [(Vec<String>, &str); 4] = [
        (vec!["--report".into(), inp.into()], "--report"),
        (vec!["--ecs".into(), inp.into()], "--ecs"),
        (vec!["--alerts".into(), path("m.ndjson"), "--ecs".into(), format!("{}/./m.ndjson", d.display())], "--ecs"),
        (vec!["--csv".into(), path("c"), "--eve".into(), path("c/flows.csv")], "the same file as --eve"),
    ];
    for (extra, what) in cases {
        let mut args = vec!["-r", inp, "--headless", "--json", "--no-progress"];
        args.extend(extra.iter().map(String::as_str));
        let out = run(&args);
        assert_one_line_error(&out, what);
        assert!(stderr(&out).contains("the same file as"), "{}", stderr(&out));
    }
    assert_eq!(std::fs::read(&input).unwrap(), before, "the input is untouched");
    // Distinct files are fine.
    let out = run(&["-r", inp, "--headless", "--json", "--alerts", &path("a.ndjson"), "--ecs", &path("e.ndjson")]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn obsolete_packet_blocks_and_simple_packet_blocks_keep_their_times() {
    let frame = eth_ipv4_udp(10);
    let len = frame.len() as u32;
    let t = 1_700_000_000u64 * 1_000_000; // microseconds, the default resolution
    // The obsolete Packet Block (type 2): interface, drops, timestamp high, low, lengths.
    let mut pb = Vec::new();
    pb.extend_from_slice(&0u16.to_le_bytes());
    pb.extend_from_slice(&0u16.to_le_bytes());
    pb.extend_from_slice(&((t >> 32) as u32).to_le_bytes());
    pb.extend_from_slice(&(t as u32).to_le_bytes());
    pb.extend_from_slice(&len.to_le_bytes());
    pb.extend_from_slice(&len.to_le_bytes());
    pb.extend_from_slice(&frame);
    // A Simple Packet Block has no time: it takes its neighbour's, never epoch 0.
    let mut spb = len.to_le_bytes().to_vec();
    spb.extend_from_slice(&frame);
    let file = [
        ng_shb(),
        ng_idb(1, None),
        common::ng_block(2, &pb),
        common::ng_block(3, &spb),
        ng_epb(0, t + 1_000_000, &frame, len),
    ]
    .concat();
    let f = temp_file(&file);
    let s = summary(f.path(), &[]);
    assert_eq!(s["packets"], 3, "{s}");
    assert_eq!(s["first_ts"].as_f64(), Some(1_700_000_000.0), "{s}");
    assert_eq!(s["duration"].as_f64(), Some(1.0), "{s}");
}

#[test]
fn a_bad_field_in_a_block_without_packets_skips_that_block_only() {
    let frame = eth_ipv4_udp(10);
    let len = frame.len() as u32;
    let t = 1_700_000_000u64 * 1_000_000;
    // A name resolution record too short for an IPv4 address, and an interface
    // statistics block whose isb_starttime option is 4 bytes instead of 8.
    let mut nrb = Vec::new();
    nrb.extend_from_slice(&1u16.to_le_bytes());
    nrb.extend_from_slice(&4u16.to_le_bytes());
    nrb.extend_from_slice(&[10, 0, 0, 1, 0, 0, 0, 0]);
    let mut isb = 0u32.to_le_bytes().to_vec();
    isb.extend_from_slice(&[0; 8]);
    isb.extend_from_slice(&2u16.to_le_bytes());
    isb.extend_from_slice(&4u16.to_le_bytes());
    isb.extend_from_slice(&[0; 4]);
    isb.extend_from_slice(&[0; 4]);
    let file = [
        ng_shb(),
        ng_idb(1, None),
        ng_epb(0, t, &frame, len),
        common::ng_block(4, &nrb),
        ng_epb(0, t + 1, &frame, len),
        common::ng_block(5, &isb),
        ng_epb(0, t + 2, &frame, len),
    ]
    .concat();
    let f = temp_file(&file);
    let out = run(&["-r", f.path().to_str().unwrap(), "--headless", "--json", "--no-progress"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["packets"], 3, "{s} {}", stderr(&out));
}
