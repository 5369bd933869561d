//! The detection lab, live: `scripts/lab-detect.sh` builds namespaces on a bridge, runs
//! benign load and every attack the detectors claim (nmap -sS -sT -sU -sF -sN -sX -sA
//! -sO, ping and port sweeps, a slow scan, hping3 SYN/UDP/ICMP floods also with
//! --rand-source) while ntop-rs captures the bridge; the script fails unless every
//! attack is caught with the right kind and hosts within 2 s and nothing else alerts.

mod common;

#[test]
fn every_lab_attack_is_caught_fast_and_nothing_else_alerts() {
    if let Some(why) = common::lab::unavailable(&["nmap", "hping3", "curl", "python3"]) {
        common::skip(&format!("detection lab: {why}"));
        return;
    }
    let out = common::lab::run_script("lab-detect.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let table: String =
        stdout.lines().filter(|l| l.starts_with('|') || l.starts_with("False")).collect::<Vec<_>>().join("\n");
    println!("{table}");
    assert!(out.status.success(), "lab failed:\n{table}\n--- stderr ---\n{}", String::from_utf8_lossy(&out.stderr));
}
