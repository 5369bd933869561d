//! Our figures against tshark's on every real capture in `../shared/pcaps`.

mod common;

use std::collections::BTreeSet;

use serde_json::Value;

/// Host fields the contract shares with tshark's figures.
const HOST_FIELDS: [&str; 5] = ["ip", "tx_packets", "tx_bytes", "rx_packets", "rx_bytes"];

fn contract_hosts(hosts: &Value) -> Vec<Value> {
    hosts
        .as_array()
        .expect("hosts is an array")
        .iter()
        .map(|h| HOST_FIELDS.iter().map(|k| (k.to_string(), h[*k].clone())).collect::<serde_json::Map<_, _>>().into())
        .collect()
}

#[test]
fn every_shared_capture_matches_tshark() {
    let Some(dir) = common::shared_pcaps() else {
        common::skip("../shared/pcaps not found beside the checkout; golden comparison not run");
        return;
    };
    let expected = std::fs::read_to_string(dir.join("expected.jsonl")).expect("expected.jsonl is readable");
    let mut checked = BTreeSet::new();
    let mut failures = Vec::new();
    for line in expected.lines().filter(|l| !l.trim().is_empty()) {
        let want: Value = serde_json::from_str(line).expect("expected.jsonl lines are JSON");
        let file = want["file"].as_str().expect("file name").to_string();
        let got = common::summary(&dir.join(&file), &[]);
        for key in ["packets", "bytes", "protocols"] {
            if got[key] != want[key] {
                failures.push(format!("{file}: {key}: got {} want {}", got[key], want[key]));
            }
        }
        if contract_hosts(&got["hosts"]) != contract_hosts(&want["hosts"]) {
            failures.push(format!("{file}: hosts differ"));
        }
        checked.insert(file);
    }
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));

    // Every capture in the folder has a line, so none escapes the comparison.
    let on_disk: BTreeSet<String> = std::fs::read_dir(&dir)
        .expect("pcaps folder is readable")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".pcap") || n.ends_with(".pcapng") || n.ends_with(".cap"))
        .collect();
    assert_eq!(on_disk, checked, "captures without an expected line (or lines without a capture)");
    println!("checked {} captures against tshark", checked.len());
}
