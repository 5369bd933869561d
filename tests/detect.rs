//! Detection on real captures: the labelled attacks in `../shared/pcaps/labels.json`
//! are found with the right kind, source and destination; the benign files stay quiet;
//! the demo capture shows its attacks; and the NDJSON alert stream keeps its contract.

mod common;

use serde_json::Value;

fn alerts(file: &std::path::Path, extra: &[&str]) -> Vec<Value> {
    let summary = common::summary(file, extra);
    summary["alerts"].as_array().expect("alerts is an array").clone()
}

fn describe(a: &Value) -> String {
    format!("{} {} -> {} {} port {}", a["kind"], a["src"], a["dst"], a["proto"], a["port"])
}

#[test]
fn labelled_attacks_are_found_and_benign_files_stay_quiet() {
    let Some(dir) = common::shared_pcaps() else {
        common::skip("../shared/pcaps not found beside the checkout; labelled detection not run");
        return;
    };
    let labels: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("labels.json")).expect("labels.json is readable"))
            .expect("labels.json is JSON");
    let mut failures = Vec::new();
    let attacks = labels["attacks"].as_array().expect("attacks");
    for want in attacks {
        let file = want["file"].as_str().expect("file");
        let got = alerts(&dir.join(file), &[]);
        let hit = got.iter().any(|a| {
            a["kind"] == want["kind"]
                && a["src"] == want["src"]
                && a["dst"] == want["dst"]
                && a["proto"] == want["proto"]
                && (want.get("port").is_none() || a["port"] == want["port"])
        });
        if !hit {
            failures.push(format!("{file}: missed {want}; got {:?}", got.iter().map(describe).collect::<Vec<_>>()));
        }
        // Anything else raised there must come from the same attacker.
        for a in &got {
            if a["src"] != want["src"] {
                failures.push(format!("{file}: unexpected {}", describe(a)));
            }
        }
    }
    let benign = labels["benign"].as_array().expect("benign");
    for file in benign {
        let file = file.as_str().expect("file");
        for a in alerts(&dir.join(file), &[]) {
            failures.push(format!("{file} (benign): false alert {}: {}", describe(&a), a["summary"]));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    println!("{} attacks found, {} benign captures quiet", attacks.len(), benign.len());
}

#[test]
fn the_demo_capture_shows_its_attacks() {
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo.pcap");
    let got: Vec<String> = alerts(&demo, &[])
        .iter()
        .map(|a| format!("{} {} {}", a["kind"].as_str().unwrap(), a["src"], a["dst"]))
        .collect();
    let attacker = "\"10.88.0.66\"";
    let victim = "\"10.88.0.10\"";
    for want in [
        format!("port_scan {attacker} {victim}"),
        format!("host_sweep {attacker} null"),
        format!("syn_flood {attacker} {victim}"),
        format!("udp_flood {attacker} {victim}"),
        // After 2.5 minutes of benign traffic (120 s of learning), .13 uploads 4 MB to
        // .99, a peer nobody talked to: both ends are flagged. Then .12 sends a burst of
        // DNS queries for long random names.
        "outlier \"10.88.0.13\" null".to_string(),
        "outlier \"10.88.0.99\" null".to_string(),
        "outlier \"10.88.0.12\" null".to_string(),
    ] {
        assert!(got.contains(&want), "missing {want} in {got:?}");
    }
    let explained = |a: &String| a.contains(attacker) || a.starts_with("rate_spike") || a.starts_with("outlier");
    assert!(got.iter().all(explained), "{got:?}");
    let outliers: Vec<&String> = got.iter().filter(|a| a.starts_with("outlier")).collect();
    assert!(
        outliers.iter().all(|a| ["10.88.0.99", "10.88.0.13", "10.88.0.12"].iter().any(|h| a.contains(h))),
        "outliers only for the unusual behaviours' hosts: {outliers:?}"
    );
}

#[test]
fn nmaps_scan_of_a_subnet_is_two_port_scans_and_two_sweeps() {
    // scripts/record-subnet-scan.sh: `nmap -sS -T4 -p 1-100` over 12 hosts at once, each
    // answering every SYN with a RST: 12 port scans and 100 sweeps, one by one.
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/subnet-scan.pcap");
    let got = alerts(&file, &[]);
    let mut kinds: Vec<&str> = got.iter().map(|a| a["kind"].as_str().unwrap()).collect();
    kinds.sort_unstable();
    assert_eq!(
        kinds,
        ["host_sweep", "host_sweep", "port_scan", "port_scan"],
        "{:?}",
        got.iter().map(describe).collect::<Vec<_>>()
    );
    assert!(got.iter().all(|a| a["src"] == "10.124.0.66"), "{got:?}");
    let folded = |kind: &str| -> u64 {
        got.iter().filter(|a| a["kind"] == kind).map(|a| a["evidence"]["folded"]["alerts"].as_u64().unwrap_or(0)).sum()
    };
    assert_eq!(folded("port_scan"), 10, "the other ten targets");
    assert_eq!(folded("host_sweep"), 98, "the other 98 ports");
    let scanned: u64 = got.iter().filter(|a| a["kind"] == "port_scan").map(|a| a["packets"].as_u64().unwrap()).sum();
    assert_eq!(scanned, 1200, "every probe counted once");
}

#[test]
fn nmaps_ipv6_ping_sweep_of_a_link_is_one_host_sweep() {
    // scripts/record-nd-sweep.sh: `nmap -6 -sn fd00:98::/120` from fd00:98::66, after it
    // pinged its one live neighbor (neighbor discovery answered).
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/nd-sweep.pcap");
    let got = alerts(&file, &[]);
    assert_eq!(got.len(), 1, "{:?}", got.iter().map(describe).collect::<Vec<_>>());
    let a = &got[0];
    assert_eq!(
        (a["kind"].as_str(), a["src"].as_str(), a["proto"].as_str()),
        (Some("host_sweep"), Some("fd00:98::66"), Some("icmpv6"))
    );
    assert_eq!(a["evidence"]["techniques"], serde_json::json!(["nd"]), "{a}");
    // 256 addresses less the sweeper's own and the neighbor that answered.
    assert_eq!(a["evidence"]["distinct_hosts"], 254, "{a}");
}

#[test]
fn the_alert_stream_is_ndjson_with_the_contract_fields() {
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo.pcap");
    let out = common::run(&["-r", demo.to_str().unwrap(), "--headless", "--no-progress", "--alerts", "-"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut ids = std::collections::BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with('{')) {
        let a: Value = serde_json::from_str(line).expect("each alert line is JSON");
        for key in [
            "id", "state", "kind", "severity", "ts", "first_ts", "last_ts", "src", "dst", "proto", "port", "packets",
            "summary", "evidence",
        ] {
            assert!(a.get(key).is_some(), "{key} missing in {line}");
        }
        assert!(["low", "medium", "high", "critical"].contains(&a["severity"].as_str().unwrap()));
        assert!(a["first_ts"].as_f64() <= a["last_ts"].as_f64() && a["last_ts"].as_f64() <= a["ts"].as_f64());
        ids.entry(a["id"].as_u64().unwrap()).or_insert_with(Vec::new).push(a["state"].as_str().unwrap().to_string());
    }
    assert!(ids.len() >= 4, "{ids:?}");
    for (id, states) in &ids {
        assert_eq!(states.first().map(String::as_str), Some("new"), "incident {id}: {states:?}");
        assert_eq!(states.last().map(String::as_str), Some("end"), "incident {id}: {states:?}");
        assert_eq!(states.iter().filter(|s| *s == "new").count(), 1, "incident {id}: {states:?}");
        assert!(states.len() <= 40, "incident {id} has too many reports: {}", states.len());
    }
}

#[test]
fn the_same_capture_gives_the_same_alerts_every_time() {
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo.pcap");
    let a = alerts(&demo, &[]);
    let b = alerts(&demo, &[]);
    assert_eq!(a, b);
    let none = alerts(&demo, &["--no-detect"]);
    assert!(none.is_empty());
}

#[test]
fn dump_alerts_writes_each_incidents_pcap() {
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo.pcap");
    let dir = tempfile::tempdir().unwrap();
    let got = alerts(&demo, &["--dump-alerts", dir.path().to_str().unwrap()]);
    assert!(!got.is_empty());
    for a in &got {
        let path = a["evidence"]["pcap"].as_str().unwrap_or_else(|| panic!("no pcap for {}", describe(a)));
        let text = std::process::Command::new("tshark").args(["-r", path, "-T", "fields", "-e", "ip.src"]).output();
        let Ok(out) = text else {
            common::skip("tshark not installed; pcap contents not checked");
            continue;
        };
        assert!(out.status.success(), "tshark reads {path}");
        let srcs = String::from_utf8_lossy(&out.stdout).to_string();
        if let Some(src) = a["src"].as_str() {
            assert!(srcs.lines().any(|l| l == src) || a["kind"] == "host_sweep", "{path} has no packet from {src}");
        }
    }
    let missing = common::run(&["-r", demo.to_str().unwrap(), "--headless", "--dump-alerts", "/nonexistent/dir"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/dir: no such directory"));
}
