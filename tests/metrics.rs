//! `--metrics`, scraped by a real Prometheus (Debian's `prometheus`): a live capture in a
//! namespace lab serves its metrics, Prometheus scrapes them every second, and what it
//! stored equals the run's own summary. Needs root (namespaces) and prometheus.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::lab::{Lab, interrupt, spawn_until, unavailable};
use common::{bin_path, lab_bin};
use serde_json::Value;

const READY: Duration = Duration::from_secs(10);

/// Prometheus's answer to an instant query, as a number (inside the lab's namespace).
fn query(lab: &Lab, port: u16, q: &str) -> Option<f64> {
    let url = format!("http://127.0.0.1:{port}/api/v1/query");
    let out =
        lab.cmd(1, "curl").args(["-s", "--get", &url, "--data-urlencode", &format!("query={q}")]).output().ok()?;
    let v: Value = serde_json::from_slice(&out.stdout).ok()?;
    v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
}

#[test]
fn prometheus_stores_what_the_run_counted() {
    if let Some(why) = unavailable(&["prometheus", "curl"]) {
        common::skip(&format!("metrics test: {why}"));
        return;
    }
    let lab = Lab::new();
    let dir = tempfile::tempdir().unwrap();
    let (metrics, web) = (19187, 19090);
    let mut ntop = lab.cmd(1, bin_path());
    let addr = format!("127.0.0.1:{metrics}");
    ntop.args(["-i", &lab.dev[1], "--headless", "--json", "-Z", "nobody", "--metrics", &addr, "udp port 9999"]);
    let (ntop, ntop_err) = spawn_until(ntop, "running as nobody", READY);

    let config = dir.path().join("prometheus.yml");
    let yml = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: ntop\n    static_configs:\n      - targets: ['{addr}']\n"
    );
    std::fs::write(&config, yml).unwrap();
    let data = dir.path().join("data");
    let mut prometheus = lab
        .cmd(1, "prometheus")
        .args([
            &format!("--config.file={}", config.display()),
            &format!("--storage.tsdb.path={}", data.display()),
            &format!("--web.listen-address=127.0.0.1:{web}"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let up = loop {
        if let Some(v) = query(&lab, web, "up{job=\"ntop\"}") {
            break v;
        }
        if started.elapsed() > Duration::from_secs(30) {
            break 0.0;
        }
        std::thread::sleep(Duration::from_millis(250));
    };

    // A bounded burst: 3000 UDP datagrams to the capturing side.
    let target = format!("{}:9999", lab.ip[1]);
    let out = lab.cmd(0, lab_bin()).args(["udp", &target, "3000", "200", "20000"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Wait until Prometheus has scraped the final figures (the sensor publishes them
    // within a second of the traffic stopping).
    let started = Instant::now();
    let mut stored = 0.0;
    while started.elapsed() < Duration::from_secs(20) {
        stored = query(&lab, web, "sum(ntop_rs_packets_total)").unwrap_or(0.0);
        if stored >= 3000.0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    std::thread::sleep(Duration::from_secs(2));
    let stored = query(&lab, web, "sum(ntop_rs_packets_total)").unwrap_or(stored);
    let udp = query(&lab, web, "ntop_rs_packets_total{proto=\"udp\"}").unwrap_or(0.0);
    let dropped = query(&lab, web, "sum(ntop_rs_dropped_total)").unwrap_or(-1.0);
    let direct = Command::new("ip")
        .args(["netns", "exec", &lab.ns[1], "curl", "-s", &format!("http://{addr}/metrics")])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    interrupt(&ntop);
    let out = ntop.wait_with_output().unwrap();
    let err = ntop_err.join().unwrap_or_default();
    let _ = prometheus.kill();
    let _ = prometheus.wait();
    assert!(out.status.success(), "ntop-rs failed: {err}");
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(up, 1.0, "Prometheus scraped the sensor");
    assert_eq!(stored, summary["packets"].as_f64().unwrap(), "Prometheus stored the run's packets");
    assert_eq!(udp, summary["protocols"]["udp"]["packets"].as_f64().unwrap());
    assert_eq!(dropped, 0.0);
    for name in
        ["ntop_rs_bytes_total", "ntop_rs_table_entries", "ntop_rs_table_capacity", "ntop_rs_outlier_model_state"]
    {
        assert!(direct.contains(name), "{name} missing from /metrics:\n{direct}");
    }
}

#[test]
fn metrics_flag_errors_are_one_line() {
    let sample = common::sample();
    let out = common::run(&["-r", sample.to_str().unwrap(), "--headless", "--metrics", "nowhere"]);
    common::assert_one_line_error(&out, "--metrics nowhere: 'nowhere' is not an address and port");
    // A port that is taken.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = common::run(&["-r", sample.to_str().unwrap(), "--headless", "--metrics", &addr]);
    common::assert_one_line_error(&out, "cannot listen on");
}
