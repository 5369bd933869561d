//! Flow records and the files that keep them: the demo's CSV files add up to its summary
//! and read back in DuckDB; on every real capture in `../shared/pcaps`, the TCP and UDP
//! flow records agree with tshark's conversations, except where a timeout split a
//! conversation (each split checked against the timeout that made it) or tshark looked
//! inside a tunnel (records follow the outermost header, as every figure does).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Replays `file` headless with `--csv` into a fresh directory (and `extra`); returns the
/// directory and the summary.
fn replay_csv(file: &Path, extra: &[&str]) -> (tempfile::TempDir, Value) {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().to_str().unwrap().to_string();
    let mut args = vec!["--csv", csv.as_str()];
    args.extend_from_slice(extra);
    let summary = common::summary(file, &args);
    (dir, summary)
}

/// A CSV file's rows as maps of column to cell.
fn rows(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let headers: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    r.records().map(|rec| headers.iter().cloned().zip(rec.unwrap().iter().map(String::from)).collect()).collect()
}

fn num(row: &BTreeMap<String, String>, col: &str) -> f64 {
    row[col].parse().unwrap_or_else(|_| panic!("{col} = {:?}", row[col]))
}

/// A conversation: protocol and its two `address:port` ends, the lower first.
type Tuple = (String, String, String);

fn demo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo.pcap")
}

#[test]
fn the_demos_csv_files_add_up_to_its_summary() {
    let alerts = tempfile::NamedTempFile::new().unwrap();
    let (dir, summary) = replay_csv(&demo(), &["--alerts", alerts.path().to_str().unwrap()]);
    let flows = rows(&dir.path().join("flows.csv"));
    let records = &summary["records"];
    assert_eq!(flows.len() as u64, records["total"].as_u64().unwrap(), "one row per record");
    assert!(flows.len() > 1000, "the demo has thousands of flows: {}", flows.len());
    // Every connection ends exactly once: no two records of one 5-tuple overlap in time.
    let mut by_tuple: BTreeMap<Tuple, Vec<(f64, f64)>> = BTreeMap::new();
    for f in &flows {
        let mut ends = [(f["orig"].clone(), f["orig_port"].clone()), (f["resp"].clone(), f["resp_port"].clone())];
        ends.sort();
        let key = (f["proto"].clone(), format!("{}:{}", ends[0].0, ends[0].1), format!("{}:{}", ends[1].0, ends[1].1));
        by_tuple.entry(key).or_default().push((num(f, "start"), num(f, "end")));
    }
    for (key, mut spans) in by_tuple {
        spans.sort_by(|a, b| a.0.total_cmp(&b.0));
        for w in spans.windows(2) {
            assert!(w[0].1 < w[1].0, "{key:?}: records overlap: {spans:?}");
        }
    }
    // The states a scan, a sweep and ordinary traffic leave.
    let states: std::collections::BTreeSet<&str> = flows.iter().map(|f| f["conn_state"].as_str()).collect();
    for s in ["SF", "REJ", "S0"] {
        assert!(states.contains(s), "{s} missing from {states:?}");
    }
    assert!(flows.iter().all(|f| f["proto"] != "tcp" || f["community_id"].starts_with("1:")));
    // Flows involved in alerts say so.
    assert!(flows.iter().any(|f| !f["alerts"].is_empty()), "no flow names its incident");
    // alerts.csv holds every report of --alerts, in order.
    let ndjson: Vec<Value> =
        std::fs::read_to_string(alerts.path()).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let csv_alerts = rows(&dir.path().join("alerts.csv"));
    assert_eq!(csv_alerts.len(), ndjson.len());
    for (row, report) in csv_alerts.iter().zip(&ndjson) {
        assert_eq!(row["id"], report["id"].to_string());
        assert_eq!(row["state"], report["state"].as_str().unwrap());
        assert_eq!(serde_json::from_str::<Value>(&row["evidence"]).unwrap(), report["evidence"]);
    }
    // protocols.csv: the minutes add up to the summary's protocols.
    let mut per_proto: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for r in rows(&dir.path().join("protocols.csv")) {
        let e = per_proto.entry(r["proto"].clone()).or_default();
        e.0 += num(&r, "packets") as u64;
        e.1 += num(&r, "bytes") as u64;
    }
    for (proto, (packets, bytes)) in &per_proto {
        assert_eq!(*packets, summary["protocols"][proto]["packets"].as_u64().unwrap(), "{proto}");
        assert_eq!(*bytes, summary["protocols"][proto]["bytes"].as_u64().unwrap(), "{proto}");
    }
    assert_eq!(per_proto.len(), summary["protocols"].as_object().unwrap().len());
    // hosts.csv: every host, with the summary's figures.
    let hosts = rows(&dir.path().join("hosts.csv"));
    assert_eq!(hosts.len() as u64, summary["hosts_total"].as_u64().unwrap());
    let top = &summary["hosts"][0];
    let row = hosts.iter().find(|h| h["ip"] == top["ip"].as_str().unwrap()).unwrap();
    assert_eq!(num(row, "tx_bytes") as u64, top["tx_bytes"].as_u64().unwrap());
}

#[test]
fn a_second_run_appends_without_a_second_header() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().to_str().unwrap();
    let sample = common::sample();
    let first = common::summary(&sample, &["--csv", csv]);
    common::summary(&sample, &["--csv", csv]);
    let text = std::fs::read_to_string(dir.path().join("flows.csv")).unwrap();
    assert_eq!(text.lines().filter(|l| l.starts_with("start,")).count(), 1, "one header");
    assert_eq!(text.lines().count() as u64, 1 + 2 * first["records"]["total"].as_u64().unwrap());
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(dir.path().join("flows.csv")).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn csv_refuses_a_planted_symlink_and_a_missing_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/etc/passwd", dir.path().join("flows.csv")).unwrap();
    let sample = common::sample();
    let out = common::run(&["-r", sample.to_str().unwrap(), "--headless", "--csv", dir.path().to_str().unwrap()]);
    common::assert_one_line_error(&out, "flows.csv");
    let out = common::run(&["-r", sample.to_str().unwrap(), "--headless", "--csv", "/nonexistent/dir"]);
    common::assert_one_line_error(&out, "--csv /nonexistent/dir: no such directory");
}

/// The checkout's Python with DuckDB (scripts/setup.sh makes it).
fn duckdb_python() -> Option<PathBuf> {
    let venv = std::env::var_os("NTOP_RS_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/venv"));
    let python = venv.join("bin/python");
    let ok = Command::new(&python).args(["-c", "import duckdb"]).output().is_ok_and(|o| o.status.success());
    ok.then_some(python)
}

#[test]
fn duckdb_reads_every_csv_file() {
    let Some(python) = duckdb_python() else {
        common::skip("DuckDB (target/venv, made by scripts/setup.sh) not found; CSV files not read back");
        return;
    };
    let (dir, summary) = replay_csv(&demo(), &[]);
    let script = r#"
import duckdb, json, sys
d = sys.argv[1]
out = {}
for name in ["flows", "alerts", "hosts", "protocols"]:
    rel = duckdb.sql(f"select * from read_csv('{d}/{name}.csv', header=true)")
    rows = duckdb.sql(f"select count(*) from read_csv('{d}/{name}.csv', header=true)").fetchall()[0][0]
    out[name] = {"rows": rows, "columns": rel.columns, "types": [str(t) for t in rel.types]}
out["packets"] = duckdb.sql(f"select sum(packets) from read_csv('{d}/protocols.csv', header=true)").fetchall()[0][0]
out["sf"] = duckdb.sql(f"select count(*) from read_csv('{d}/flows.csv', header=true) where conn_state = 'SF'").fetchall()[0][0]
print(json.dumps(out))
"#;
    let out = Command::new(&python).args(["-c", script, dir.path().to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "duckdb: {}", String::from_utf8_lossy(&out.stderr));
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got["flows"]["rows"], summary["records"]["total"]);
    assert_eq!(got["hosts"]["rows"], summary["hosts_total"]);
    assert_eq!(got["packets"], summary["packets"]);
    assert!(got["sf"].as_u64().unwrap() > 0);
    let columns: Vec<&str> = got["flows"]["columns"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    assert_eq!(columns, ntop_rs::sinks::csv::FLOW_COLUMNS);
    let types: Vec<&str> = got["flows"]["types"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    let type_of = |col: &str| types[columns.iter().position(|c| *c == col).unwrap()];
    assert_eq!(type_of("orig_packets"), "BIGINT");
    assert_eq!(type_of("start"), "DOUBLE");
    assert_eq!(type_of("initiator_known"), "BOOLEAN");
}

/// tshark's TCP and UDP conversations of `file`: (proto, lower end, higher end) → (rows,
/// frames).
fn tshark_conversations(file: &Path) -> Option<BTreeMap<Tuple, (u64, u64)>> {
    let out =
        Command::new("tshark").args(["-r", file.to_str()?, "-q", "-z", "conv,tcp", "-z", "conv,udp"]).output().ok()?;
    let mut proto = "";
    let mut conv = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if line.starts_with("TCP Conversations") {
            proto = "tcp";
        } else if line.starts_with("UDP Conversations") {
            proto = "udp";
        }
        let t: Vec<&str> = line.split_whitespace().collect();
        let Some(i) = t.iter().position(|w| *w == "<->") else { continue };
        let mut ends = [t[i - 1].to_string(), t[i + 1].to_string()];
        ends.sort();
        let frames: u64 = t[i + 8].parse().expect("tshark's total frames");
        let e = conv.entry((proto.to_string(), ends[0].clone(), ends[1].clone())).or_insert((0, 0));
        e.0 += 1;
        e.1 += frames;
    }
    Some(conv)
}

/// Whether tshark sees traffic inside a tunnel in `file` (IP in IP, GRE, VXLAN, GTP).
fn tunnelled(file: &Path) -> bool {
    let filter = "ip.proto == 4 || ip.proto == 41 || gre || vxlan || gtp";
    let out = Command::new("tshark").args(["-r", file.to_str().unwrap(), "-c", "1", "-Y", filter]).output();
    out.is_ok_and(|o| !o.stdout.is_empty())
}

/// Seconds of silence that end a record that ended as `row` did (the defaults).
fn timeout_of(row: &BTreeMap<String, String>) -> f64 {
    match (row["end_reason"].as_str(), row["proto"].as_str(), row["conn_state"].as_str()) {
        ("closed" | "reset", _, _) | ("idle", "tcp", "S0") => 5.0,
        ("idle", "tcp", _) => 300.0,
        ("idle", _, _) => 60.0,
        (other, _, _) => panic!("a record split by {other}"),
    }
}

#[test]
fn flow_records_agree_with_tsharks_conversations() {
    let Some(dir) = common::shared_pcaps() else {
        common::skip("../shared/pcaps not found beside the checkout; conversations not compared");
        return;
    };
    if Command::new("tshark").arg("-v").output().is_err() {
        common::skip("tshark not installed; conversations not compared");
        return;
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng" || x == "cap"))
        .collect();
    files.sort();
    let (mut failures, mut splits, mut tunnels) = (Vec::new(), 0, 0);
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let want = tshark_conversations(file).expect("tshark runs");
        let (out, _) = replay_csv(file, &["--no-detect"]);
        let mut ours: BTreeMap<Tuple, Vec<BTreeMap<String, String>>> = BTreeMap::new();
        for row in
            rows(&out.path().join("flows.csv")).into_iter().filter(|r| r["proto"] == "tcp" || r["proto"] == "udp")
        {
            let mut ends =
                [format!("{}:{}", row["orig"], row["orig_port"]), format!("{}:{}", row["resp"], row["resp_port"])];
            ends.sort();
            ours.entry((row["proto"].clone(), ends[0].clone(), ends[1].clone())).or_default().push(row);
        }
        let inside_tunnels = tunnelled(file);
        for (key, (rows_want, frames_want)) in &want {
            let Some(records) = ours.get_mut(key) else {
                if inside_tunnels {
                    tunnels += 1;
                } else {
                    failures.push(format!("{name}: {key:?}: tshark's conversation has no record"));
                }
                continue;
            };
            let frames: u64 =
                records.iter().map(|r| num(r, "orig_packets") as u64 + num(r, "resp_packets") as u64).sum();
            if frames != *frames_want {
                failures.push(format!("{name}: {key:?}: {frames} packets in records, tshark {frames_want}"));
            }
            if records.len() as u64 == *rows_want {
                continue;
            }
            if (records.len() as u64) < *rows_want {
                failures.push(format!("{name}: {key:?}: {} records, tshark {rows_want}", records.len()));
                continue;
            }
            // More records than tshark's rows: each split must be a timeout's.
            records.sort_by(|a, b| num(a, "start").total_cmp(&num(b, "start")));
            for w in records.windows(2) {
                let gap = num(&w[1], "start") - num(&w[0], "end");
                if gap <= timeout_of(&w[0]) {
                    failures.push(format!("{name}: {key:?}: split after {gap:.3} s ({})", w[0]["end_reason"]));
                }
                splits += 1;
            }
        }
        for key in ours.keys().filter(|k| !want.contains_key(*k)) {
            failures.push(format!("{name}: {key:?}: a record without a tshark conversation"));
        }
    }
    assert!(failures.is_empty(), "{} differences:\n{}", failures.len(), failures.join("\n"));
    println!(
        "{} captures: records agree with tshark; {splits} splits by timeouts, {tunnels} conversations inside tunnels",
        files.len()
    );
}

/// ECS's definitions of the fields we write (ECS 8.x field reference: name → type), the
/// few used, kept as data; `[]` marks a field that holds a list of that type.
const ECS_FIELDS: &[(&str, &str)] = &[
    ("@timestamp", "date"),
    ("ecs.version", "keyword"),
    ("message", "match_only_text"),
    ("event.kind", "keyword"),
    ("event.category", "keyword[]"),
    ("event.type", "keyword[]"),
    ("event.severity", "long"),
    ("event.start", "date"),
    ("event.end", "date"),
    ("event.duration", "long"),
    ("event.dataset", "keyword"),
    ("event.module", "keyword"),
    ("rule.name", "keyword"),
    ("rule.id", "keyword"),
    ("rule.category", "keyword"),
    ("source.ip", "ip"),
    ("source.port", "long"),
    ("source.bytes", "long"),
    ("source.packets", "long"),
    ("destination.ip", "ip"),
    ("destination.port", "long"),
    ("destination.bytes", "long"),
    ("destination.packets", "long"),
    ("network.transport", "keyword"),
    ("network.type", "keyword"),
    ("network.iana_number", "keyword"),
    ("network.community_id", "keyword"),
    ("network.bytes", "long"),
    ("network.packets", "long"),
    ("network.vlan.id", "keyword"),
    ("observer.hostname", "keyword"),
    ("observer.type", "keyword"),
    ("observer.vendor", "keyword"),
    ("observer.product", "keyword"),
];

/// ECS's allowed values of the categorisation fields we use.
const ECS_ALLOWED: &[(&str, &[&str])] = &[
    ("event.kind", &["alert", "event", "metric"]),
    ("event.category", &["network", "intrusion_detection"]),
    ("event.type", &["connection", "end", "info"]),
];

/// Every leaf of `v` as (dotted path, value); lists are leaves.
fn leaves(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                leaves(&path, v, out);
            }
        }
        other => out.push((prefix.to_string(), other.clone())),
    }
}

fn has_ecs_type(v: &Value, ty: &str) -> bool {
    let date = |s: &str| s.len() >= 20 && s.ends_with('Z') && s.as_bytes()[10] == b'T';
    match (ty, v) {
        (t, Value::Array(items)) if t.ends_with("[]") => items.iter().all(|i| has_ecs_type(i, &t[..t.len() - 2])),
        ("keyword" | "match_only_text", Value::String(_)) => true,
        ("long", Value::Number(n)) => n.is_i64() || n.is_u64(),
        ("ip", Value::String(s)) => s.parse::<std::net::IpAddr>().is_ok(),
        ("date", Value::String(s)) => date(s),
        _ => false,
    }
}

/// Replays the demo with every record sink; returns the directory (csv files, `ecs`,
/// `eve`, `alerts` NDJSON) and the summary.
fn demo_everything() -> (tempfile::TempDir, Value) {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let (ecs, eve, alerts) = (p("ecs.ndjson"), p("eve.ndjson"), p("alerts.ndjson"));
    let csv = dir.path().to_str().unwrap().to_string();
    let summary = common::summary(&demo(), &["--csv", &csv, "--ecs", &ecs, "--eve", &eve, "--alerts", &alerts]);
    (dir, summary)
}

fn ndjson(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn ecs_events_have_the_types_ecs_defines() {
    let (dir, summary) = demo_everything();
    let events = ndjson(&dir.path().join("ecs.ndjson"));
    let types: BTreeMap<&str, &str> = ECS_FIELDS.iter().copied().collect();
    let mut kinds: BTreeMap<String, u64> = BTreeMap::new();
    for e in &events {
        let mut all = Vec::new();
        leaves("", e, &mut all);
        for (path, value) in &all {
            if path.starts_with("ntop_rs.") {
                continue;
            }
            let ty = types.get(path.as_str()).unwrap_or_else(|| panic!("{path} is not in our ECS table: {e}"));
            assert!(has_ecs_type(value, ty), "{path} = {value} is not an ECS {ty}");
        }
        for (field, allowed) in ECS_ALLOWED {
            let (_, v) = all.iter().find(|(p, _)| p == field).unwrap_or_else(|| panic!("{field} missing: {e}"));
            let values: Vec<&str> = match v {
                Value::Array(items) => items.iter().map(|i| i.as_str().unwrap()).collect(),
                other => vec![other.as_str().unwrap()],
            };
            assert!(values.iter().all(|x| allowed.contains(x)), "{field}: {values:?}");
        }
        assert_eq!(e["ecs"]["version"].as_str().unwrap().split('.').next(), Some("8"));
        *kinds.entry(e["event"]["kind"].as_str().unwrap().to_string()).or_default() += 1;
    }
    assert_eq!(kinds["event"], summary["records"]["total"].as_u64().unwrap(), "one connection event per record");
    let reports = ndjson(&dir.path().join("alerts.ndjson")).len() as u64;
    assert_eq!(kinds["alert"], reports, "one alert event per report");
    let metric_packets: u64 = events
        .iter()
        .filter(|e| e["event"]["kind"] == "metric")
        .map(|e| e["network"]["packets"].as_u64().unwrap())
        .sum();
    assert_eq!(metric_packets, summary["packets"].as_u64().unwrap(), "the minutes add up");
}

#[test]
fn eve_events_have_suricatas_shapes() {
    let (dir, summary) = demo_everything();
    let events = ndjson(&dir.path().join("eve.ndjson"));
    let mut by_type: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for e in &events {
        by_type.entry(e["event_type"].as_str().unwrap().to_string()).or_default().push(e);
        let ts = e["timestamp"].as_str().unwrap();
        assert!(ts.ends_with("+0000") && ts.as_bytes()[10] == b'T', "{ts}");
    }
    let flows = &by_type["flow"];
    assert_eq!(flows.len() as u64, summary["records"]["total"].as_u64().unwrap());
    for f in flows {
        for key in ["flow_id", "src_ip", "dest_ip", "proto"] {
            assert!(!f[key].is_null(), "{key}: {f}");
        }
        for key in ["pkts_toserver", "pkts_toclient", "bytes_toserver", "bytes_toclient"] {
            assert!(f["flow"][key].is_u64(), "flow.{key}: {f}");
        }
        for key in ["start", "end", "state", "reason"] {
            assert!(f["flow"][key].is_string(), "flow.{key}: {f}");
        }
        assert!(["new", "established", "closed"].contains(&f["flow"]["state"].as_str().unwrap()));
        assert!(["timeout", "forced", "shutdown"].contains(&f["flow"]["reason"].as_str().unwrap()));
        if f["proto"] == "TCP" || f["proto"] == "UDP" {
            assert!(f["src_port"].is_u64() && f["dest_port"].is_u64(), "{f}");
            assert!(f["community_id"].as_str().unwrap().starts_with("1:"));
        }
    }
    let alerts = &by_type["alert"];
    assert_eq!(alerts.len(), ndjson(&dir.path().join("alerts.ndjson")).len());
    for a in alerts {
        for key in ["signature", "signature_id", "category", "severity"] {
            assert!(!a["alert"][key].is_null(), "alert.{key}: {a}");
        }
        assert!((1..=3).contains(&a["alert"]["severity"].as_u64().unwrap()));
    }
    let last = by_type["stats"].last().unwrap();
    assert_eq!(last["stats"]["decoder"]["pkts"], summary["packets"], "the running totals end at the summary's");
}

#[test]
fn csv_ecs_and_eve_hold_the_same_flows() {
    let (dir, _) = demo_everything();
    let key = |id: &str, start: f64, packets: u64| (id.to_string(), (start * 1e6).round() as i64, packets);
    let mut from_csv: Vec<_> = rows(&dir.path().join("flows.csv"))
        .iter()
        .map(|r| key(&r["community_id"], num(r, "start"), (num(r, "orig_packets") + num(r, "resp_packets")) as u64))
        .collect();
    let iso = |s: &str| -> f64 {
        // 2026-11-21T10:42:54.604753: the seconds of the day are enough to compare within a day.
        let t = &s[11..26];
        let (h, m, sec): (f64, f64, f64) =
            (t[0..2].parse().unwrap(), t[3..5].parse().unwrap(), t[6..].parse().unwrap());
        h * 3600.0 + m * 60.0 + sec
    };
    let day = |start: f64| start - start.rem_euclid(86_400.0);
    let base = day(num(&rows(&dir.path().join("flows.csv"))[0], "start"));
    let mut from_ecs: Vec<_> = ndjson(&dir.path().join("ecs.ndjson"))
        .iter()
        .filter(|e| e["event"]["kind"] == "event")
        .map(|e| {
            let id = e["network"]["community_id"].as_str().unwrap_or("");
            key(id, base + iso(e["event"]["start"].as_str().unwrap()), e["network"]["packets"].as_u64().unwrap())
        })
        .collect();
    let mut from_eve: Vec<_> = ndjson(&dir.path().join("eve.ndjson"))
        .iter()
        .filter(|e| e["event_type"] == "flow")
        .map(|e| {
            let id = e["community_id"].as_str().unwrap_or("");
            let packets = e["flow"]["pkts_toserver"].as_u64().unwrap() + e["flow"]["pkts_toclient"].as_u64().unwrap();
            key(id, base + iso(e["flow"]["start"].as_str().unwrap()), packets)
        })
        .collect();
    for v in [&mut from_csv, &mut from_ecs, &mut from_eve] {
        v.sort();
    }
    assert!(!from_csv.is_empty());
    assert_eq!(from_csv, from_ecs, "flows.csv and the ECS connection events");
    assert_eq!(from_csv, from_eve, "flows.csv and the EVE flow events");
}

#[test]
fn duckdb_reads_the_ecs_and_eve_files() {
    let Some(python) = duckdb_python() else {
        common::skip("DuckDB (target/venv, made by scripts/setup.sh) not found; NDJSON files not read back");
        return;
    };
    let (dir, summary) = demo_everything();
    let script = r#"
import duckdb, json, sys
d = sys.argv[1]
q = lambda sql: duckdb.sql(sql).fetchall()
out = {
    "ecs_flows": q(f"select count(*) from read_json_auto('{d}/ecs.ndjson', format='newline_delimited') where event.kind = 'event'")[0][0],
    "eve_flows": q(f"select count(*) from read_json_auto('{d}/eve.ndjson', format='newline_delimited') where event_type = 'flow'")[0][0],
    "eve_toserver": q(f"select sum(flow.pkts_toserver + flow.pkts_toclient) from read_json_auto('{d}/eve.ndjson', format='newline_delimited') where event_type = 'flow'")[0][0],
}
print(json.dumps(out))
"#;
    let out = Command::new(&python).args(["-c", script, dir.path().to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "duckdb: {}", String::from_utf8_lossy(&out.stderr));
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got["ecs_flows"], summary["records"]["total"]);
    assert_eq!(got["eve_flows"], summary["records"]["total"]);
    let csv_packets: f64 =
        rows(&dir.path().join("flows.csv")).iter().map(|r| num(r, "orig_packets") + num(r, "resp_packets")).sum();
    assert_eq!(got["eve_toserver"].as_f64().unwrap(), csv_packets);
}

#[test]
fn two_streams_on_standard_output_are_refused() {
    let sample = common::sample();
    let out = common::run(&["-r", sample.to_str().unwrap(), "--headless", "--eve", "-", "--alerts", "-"]);
    common::assert_one_line_error(&out, "--alerts and --eve cannot all write to standard output");
    let out = common::run(&["-r", sample.to_str().unwrap(), "--headless", "--ecs", "-"]);
    assert!(out.status.success());
    let lines = String::from_utf8_lossy(&out.stdout);
    assert!(lines.lines().any(|l| l.contains("\"ecs\":{\"version\"")), "ECS on stdout");
}

/// ECS and EVE files interleave alerts, flows and statistics. They are the same bytes in
/// every replay of a capture, whatever other sinks run beside them (each changes how the
/// threads are timed): minutes travel to the sinks the way flow records do, behind the
/// reports of the packets that closed them, instead of straight from the counting
/// thread, and a statistics event's table figures come with its minute, not with the
/// latest snapshot.
#[test]
fn ecs_and_eve_files_are_the_same_in_every_replay() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    std::fs::create_dir(p("csv")).unwrap();
    let extras: [Vec<String>; 4] = [
        vec![],
        vec!["--csv".into(), p("csv")],
        vec!["--db".into(), p("d.sqlite")],
        vec!["--alerts".into(), p("a.ndjson"), "--top".into(), "5".into()],
    ];
    let mut first: Option<(Vec<u8>, Vec<u8>)> = None;
    for (i, extra) in extras.iter().enumerate() {
        let (ecs, eve) = (p(&format!("ecs{i}")), p(&format!("eve{i}")));
        let mut args = vec!["--ecs", &ecs, "--eve", &eve];
        args.extend(extra.iter().map(String::as_str));
        common::summary(&demo(), &args);
        let got = (std::fs::read(&ecs).unwrap(), std::fs::read(&eve).unwrap());
        let stats = String::from_utf8_lossy(&got.1).lines().filter(|l| l.contains("\"event_type\":\"stats\"")).count();
        assert!(stats > 0, "the EVE file has statistics events");
        match &first {
            None => first = Some(got),
            Some(f) => {
                assert!(got.0 == f.0, "the ECS file changed with {extra:?}");
                assert!(got.1 == f.1, "the EVE file changed with {extra:?}");
            }
        }
    }
}

#[test]
fn an_export_that_cannot_be_written_fails_the_run_and_counts_what_it_lost() {
    // /dev/full takes the open and refuses every write (ENOSPC), as a full disk does.
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo.pcap");
    let out =
        common::run(&["-r", demo.to_str().unwrap(), "--headless", "--json", "--no-progress", "--ecs", "/dev/full"]);
    assert!(!out.status.success(), "a run whose export failed exits non-zero");
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err.lines().last().unwrap_or_default();
    assert!(last.starts_with("ntop-rs: error: a sink failed: ecs ("), "{err}");
    // Said once: the last line, not also a warning before it.
    assert_eq!(err.lines().filter(|l| l.contains("ecs")).count(), 1, "{err}");
    // The summary is still printed, and says how much the sink did not write.
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the summary is printed");
    let lost = summary["sinks"]["ecs"]["dropped"].as_u64().unwrap();
    assert!(lost >= summary["records"]["total"].as_u64().unwrap(), "{lost} items not written: {summary}");
    assert!(summary["sinks"]["ecs"]["error"].as_str().is_some_and(|e| e.contains("space")), "{summary}");
}

#[test]
fn csv_rows_go_after_a_header_of_ours_only() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path();
    // An empty flows.csv (a run that died before writing) gets its header.
    std::fs::write(csv.join("flows.csv"), "").unwrap();
    let sample = common::sample();
    let args = ["-r", sample.to_str().unwrap(), "--headless", "--no-progress", "--csv", csv.to_str().unwrap()];
    let out = common::run(&args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let flows = std::fs::read_to_string(csv.join("flows.csv")).unwrap();
    assert_eq!(flows.lines().next(), Some(ntop_rs::sinks::csv::FLOW_COLUMNS.join(",").as_str()));
    // Someone else's file is never appended to.
    std::fs::write(csv.join("hosts.csv"), "foo,bar\n").unwrap();
    common::assert_one_line_error(&common::run(&args), "hosts.csv: not a file of ours");
    assert_eq!(std::fs::read_to_string(csv.join("hosts.csv")).unwrap(), "foo,bar\n");
}
