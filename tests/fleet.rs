//! The fleet job (contrib/spark/fleet.py) with pyspark in local mode (PyPI, in
//! target/venv, and Debian's JRE, both from scripts/setup.sh) over three sensors' ECS
//! files: two forged captures in which one scanner probes a different host each, and the
//! demo. Its totals equal the three JSON summaries', and the scanner split across the two
//! sensors is found (the demo's own scanner, seen by one sensor, is not).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::forge::{ACK, Forge, Host, RST, SYN};
use serde_json::Value;

const T0: u64 = 1_700_000_000 * 1_000_000_000;
const MS: u64 = 1_000_000;

/// The checkout's Python with pyspark, and a Java runtime.
fn spark_python() -> Option<PathBuf> {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/venv/bin/python");
    let spark = Command::new(&python).args(["-c", "import pyspark"]).output().is_ok_and(|o| o.status.success());
    let java = Command::new("java").arg("-version").output().is_ok_and(|o| o.status.success());
    (spark && java).then_some(python)
}

/// A capture in which `scanner` resolves `target` and probes 40 of its ports, each
/// refused.
fn scan(scanner: Host, target: Host, path: &Path) {
    let mut f = Forge::default();
    f.arp(T0, 1, scanner, scanner.ip, target.ip);
    f.arp(T0 + MS / 10, 2, target, target.ip, scanner.ip);
    for p in 1..=40u16 {
        let t = T0 + MS + u64::from(p) * 10 * MS;
        let seq = 5000 + u32::from(p);
        f.tcp(t, scanner, 41000, target, p, SYN, seq, 0);
        f.tcp(t + MS / 5, target, p, scanner, 41000, RST | ACK, 0, seq + 1);
    }
    f.write(path);
}

#[test]
fn the_fleet_job_adds_up_three_sensors_and_finds_a_scanner_split_across_two() {
    let Some(python) = spark_python() else {
        common::skip("pyspark (target/venv) or a Java runtime not found; the fleet job not run");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (inp, out) = (dir.path().join("in"), dir.path().join("out"));
    let scanner = Host::lan(66);
    let mut captures = Vec::new();
    for (sensor, target) in [("sensor-a", 10), ("sensor-b", 11)] {
        let pcap = dir.path().join(format!("{sensor}.pcap"));
        scan(scanner, Host::lan(target), &pcap);
        captures.push((sensor, pcap));
    }
    captures.push(("sensor-c", Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo.pcap")));
    let mut summaries = Vec::new();
    for (sensor, pcap) in &captures {
        let sensor_dir = inp.join(sensor);
        std::fs::create_dir_all(&sensor_dir).unwrap();
        let ecs = sensor_dir.join("ecs.ndjson");
        summaries.push((sensor.to_string(), common::summary(pcap, &["--ecs", ecs.to_str().unwrap()])));
    }
    let job = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/spark/fleet.py");
    let run = Command::new(&python)
        .args([job.to_str().unwrap(), inp.to_str().unwrap(), out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(run.status.success(), "fleet.py: {}", String::from_utf8_lossy(&run.stderr));
    let stdout = String::from_utf8_lossy(&run.stdout);
    let totals: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    let mut packets = 0;
    for (sensor, summary) in &summaries {
        let got = &totals["sensors"][sensor];
        assert_eq!(got["packets"], summary["packets"], "{sensor}'s packets");
        assert_eq!(got["bytes"], summary["bytes"], "{sensor}'s bytes");
        packets += summary["packets"].as_u64().unwrap();
    }
    let fleet: u64 = totals["sensors"].as_object().unwrap().values().map(|s| s["packets"].as_u64().unwrap()).sum();
    assert_eq!(fleet, packets, "the fleet's packets are the sum of the three summaries'");
    assert_eq!(totals["cross_sensor_scanners"], serde_json::json!([scanner.ip.to_string()]));
    let incidents: u64 = summaries.iter().map(|(_, s)| s["alerts_total"].as_u64().unwrap()).sum();
    assert_eq!(totals["incidents"].as_u64().unwrap(), incidents);
    for table in ["top_talkers", "protocol_hours", "alert_kinds", "cross_sensor_scanners"] {
        let parts: Vec<_> = std::fs::read_dir(out.join(table))
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
            .collect();
        assert!(!parts.is_empty(), "{table} written");
    }
}
