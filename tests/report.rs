//! The HTML report: the demo's report embeds the same figures as the JSON summary,
//! links the alert pcaps, refers to nothing outside itself and is small; opened in
//! headless Chromium every chart is drawn, and the page looks the same offline and with
//! JavaScript off; a stored run gives the same report from the database.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn demo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo.pcap")
}

use common::report_data as embedded;

/// Replays the demo headless with `--report` (and `extra`) into `dir`; the page and the summary.
fn demo_report(dir: &Path, extra: &[&str]) -> (String, Value) {
    let report = dir.join("demo.html");
    let mut args = vec!["--top", "10", "--report", report.to_str().unwrap()];
    args.extend_from_slice(extra);
    let summary = common::summary(&demo(), &args);
    (std::fs::read_to_string(&report).expect("the report was written"), summary)
}

#[test]
fn the_demo_report_embeds_the_summarys_figures_and_links_its_pcaps() {
    let dir = tempfile::tempdir().unwrap();
    let pcaps = dir.path().join("pcaps");
    std::fs::create_dir(&pcaps).unwrap();
    let (page, summary) = demo_report(dir.path(), &["--dump-alerts", pcaps.to_str().unwrap()]);
    assert!(page.len() < 2_000_000, "the report is {} bytes", page.len());
    let data = embedded(&page);
    // The embedded summary is the JSON summary (bar wall-clock fields there are none).
    assert_eq!(data["summary"], summary, "embedded summary = --json summary");
    let timeline = &data["timeline"];
    let sum = |k: &str| -> u64 {
        timeline[k].as_array().unwrap().iter().flat_map(|b| b.as_array().unwrap()).map(|v| v.as_u64().unwrap()).sum()
    };
    assert_eq!(sum("packets"), summary["packets"].as_u64().unwrap(), "the timeline adds up to the packets");
    assert_eq!(sum("bytes"), summary["bytes"].as_u64().unwrap(), "and to the bytes");
    assert_eq!(timeline["complete"], true);
    let sizes: u64 = data["sizes"].as_array().unwrap().iter().map(|b| b["packets"].as_u64().unwrap()).sum();
    assert_eq!(sizes, summary["packets"].as_u64().unwrap(), "every packet has a size bin");
    let talkers = data["talkers"].as_array().unwrap();
    assert_eq!(talkers.len() as u64, summary["hosts_total"].as_u64().unwrap().min(15));
    assert_eq!(talkers[0]["ip"], summary["hosts"][0]["ip"], "the busiest talker is the summary's first host");
    // Every alert is on the page, and each pcap is linked by a path beside the report.
    let alerts = summary["alerts"].as_array().unwrap();
    assert!(alerts.len() >= 5, "the demo raises alerts");
    for a in alerts {
        assert!(page.contains(&format!("id=\"alert-{}\"", a["id"])), "alert {} is on the page", a["id"]);
        let pcap = Path::new(a["evidence"]["pcap"].as_str().expect("every demo alert has a pcap"));
        let name = pcap.file_name().unwrap().to_str().unwrap();
        let link = format!("href=\"pcaps/{name}\"");
        assert!(page.contains(&link), "{link} on the page");
        assert!(dir.path().join("pcaps").join(name).is_file());
    }
    // The outlier model's map: every host the model scored, each outlier ringed.
    let points = data["behaviour"]["points"].as_array().unwrap();
    assert!(points.len() >= 4, "{points:?}");
    let outliers: Vec<&Value> = alerts.iter().filter(|a| a["kind"] == "outlier").map(|a| &a["src"]).collect();
    for o in &outliers {
        assert!(points.iter().any(|p| &&p["ip"] == o && p["outlier"] == true), "{o} is ringed");
    }
    // Self-contained: no script but the data block, nothing fetched from anywhere.
    assert_eq!(page.matches("<script").count(), 1);
    for needle in ["src=", "@import", "url(", "<link", "<iframe", "<img"] {
        assert!(!page.contains(needle), "{needle} in the page");
    }
    for href in page.split("href=\"").skip(1) {
        let target = &href[..href.find('"').unwrap()];
        assert!(target.starts_with('#') || target.starts_with("pcaps/"), "link to {target}");
    }
    assert!(page.contains("default-src 'none'"), "a policy that forbids fetching");
}

/// Runs `tests/report/check.py` on a report: Chromium's view of it.
fn chromium_check(report: &Path, out: &Path) -> (bool, Value) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/report/check.py");
    let run = Command::new("python3").arg(script).arg(report).arg(out).output().expect("python3 runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let verdict =
        stdout.lines().last().and_then(|l| serde_json::from_str(l).ok()).unwrap_or_else(|| {
            panic!("check.py said nothing readable: {stdout} {}", String::from_utf8_lossy(&run.stderr))
        });
    (run.status.success(), verdict)
}

fn chromium() -> bool {
    let found = Command::new("sh").args(["-c", "command -v chromium || command -v chromium-browser"]).output();
    found.is_ok_and(|o| o.status.success())
}

#[test]
fn in_headless_chromium_every_chart_is_drawn_offline_and_without_javascript() {
    if !chromium() {
        return common::skip("chromium is not installed (scripts/setup.sh installs it)");
    }
    let dir = tempfile::tempdir().unwrap();
    let (page, _) = demo_report(dir.path(), &[]);
    let (ok, verdict) = chromium_check(&dir.path().join("demo.html"), &dir.path().join("shots"));
    assert!(ok, "{verdict}");
    let charts = verdict["charts"].as_object().unwrap();
    for id in ["protocols", "time", "bandwidth", "talkers", "pairs", "sizes", "alerts", "behaviour"] {
        assert!(charts.contains_key(id), "chart {id} measured: {verdict}");
    }
    // The check can fail: the same page with its drawing taken out is caught.
    let mut blank = page.clone();
    for shape in ["<rect ", "<path ", "<circle "] {
        blank = blank.replace(shape, "<g ");
    }
    let blank_file = dir.path().join("blank.html");
    std::fs::write(&blank_file, blank).unwrap();
    let (ok, verdict) = chromium_check(&blank_file, &dir.path().join("blank-shots"));
    assert!(!ok, "a page without its charts passed: {verdict}");
    assert!(verdict["failures"].as_array().unwrap().len() >= 6, "{verdict}");
}

#[test]
fn a_stored_run_gives_the_same_report_from_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("d.sqlite");
    let (page, summary) = demo_report(dir.path(), &["--db", db.to_str().unwrap()]);
    let live = embedded(&page);
    let stored_file = dir.path().join("stored.html");
    let out = common::run(&["--db", db.to_str().unwrap(), "--report", stored_file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stored = embedded(&std::fs::read_to_string(&stored_file).unwrap());
    assert_eq!(stored["origin"], "database");
    assert_eq!(stored["run_id"], 1);
    assert_eq!(stored["summary"], summary, "the stored summary is the run's");
    assert_eq!(stored["talkers"], live["talkers"], "host minutes give the same talkers");
    let packets: u64 = stored["timeline"]["packets"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|b| b.as_array().unwrap())
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(packets, summary["packets"].as_u64().unwrap(), "protocol minutes add up");
    assert_eq!(stored["flows"][0]["bytes"], live["flows"][0]["bytes"], "the busiest flow is the same");
    // A second run appended: the latest by default, the first with --run 1.
    let out = common::run(&["-r", demo().to_str().unwrap(), "--headless", "--db", db.to_str().unwrap(), "udp"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let latest = common::run(&["--db", db.to_str().unwrap(), "--report", stored_file.to_str().unwrap()]);
    assert!(latest.status.success());
    let latest = embedded(&std::fs::read_to_string(&stored_file).unwrap());
    assert_eq!(latest["run_id"], 2);
    assert!(latest["summary"]["packets"].as_u64() < summary["packets"].as_u64());
    let first = common::run(&["--db", db.to_str().unwrap(), "--report", stored_file.to_str().unwrap(), "--run", "1"]);
    assert!(first.status.success());
    assert_eq!(embedded(&std::fs::read_to_string(&stored_file).unwrap())["run_id"], 1);
}

#[test]
fn report_errors_are_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none.sqlite");
    let out_file = dir.path().join("r.html");
    let out = common::run(&["--db", missing.to_str().unwrap(), "--report", out_file.to_str().unwrap()]);
    common::assert_one_line_error(&out, "no such database file");
    let junk = dir.path().join("junk.sqlite");
    std::fs::write(&junk, b"not a database at all, just text").unwrap();
    let out = common::run(&["--db", junk.to_str().unwrap(), "--report", out_file.to_str().unwrap()]);
    common::assert_one_line_error(&out, "--db");
    let db = dir.path().join("d.sqlite");
    let ok = common::run(&["-r", demo().to_str().unwrap(), "--headless", "--db", db.to_str().unwrap()]);
    assert!(ok.status.success());
    let out = common::run(&["--db", db.to_str().unwrap(), "--report", out_file.to_str().unwrap(), "--run", "9"]);
    common::assert_one_line_error(&out, "no run 9");
    let out = common::run(&["-r", demo().to_str().unwrap(), "--headless", "--report", dir.path().to_str().unwrap()]);
    common::assert_one_line_error(&out, "is a directory");
    let out = common::run(&["-r", demo().to_str().unwrap(), "--headless", "--report", "/nonexistent-dir/r.html"]);
    common::assert_one_line_error(&out, "--report");
    // A symlink planted at the report's path is replaced, never followed.
    let target = dir.path().join("target.txt");
    std::fs::write(&target, b"keep").unwrap();
    let link = dir.path().join("link.html");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let out = common::run(&["-r", demo().to_str().unwrap(), "--headless", "--report", link.to_str().unwrap()]);
    assert_eq!(std::fs::read(&target).unwrap(), b"keep", "the symlink's target is untouched: {out:?}");
}
