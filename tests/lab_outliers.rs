//! The outlier lab, live: `scripts/lab-outliers.sh` builds namespaces on a bridge, runs
//! two minutes of learning and ten of benign-only traffic from several hosts, then a
//! large upload to a never-seen peer, a burst of DNS queries for long random names and a
//! host that talks to 60 new peers one a second, while ntop-rs captures the bridge with
//! default settings; the script fails unless each behaviour is flagged as `outlier`
//! naming its host and the benign-only time raised no outlier alert.

mod common;

#[test]
fn every_lab_behaviour_is_flagged_as_an_outlier_and_benign_traffic_is_quiet() {
    if let Some(why) = common::lab::unavailable(&["python3"]) {
        common::skip(&format!("outlier lab: {why}"));
        return;
    }
    let out = common::lab::run_script("lab-outliers.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(out.status.success(), "lab failed:\n{stdout}\n--- stderr ---\n{}", String::from_utf8_lossy(&out.stderr));
}
