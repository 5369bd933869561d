//! `--db FILE`: what the demo's run leaves in SQLite equals its summary and its NDJSON
//! alerts; two runs share a file and stay apart; old rows go with `--db-retain`; a file
//! of a newer schema or not a database is refused in one line; killed with SIGKILL
//! mid-run, the file opens cleanly with what was committed.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use serde_json::Value;

fn demo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo.pcap")
}

fn count(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

#[test]
fn the_demos_run_in_sqlite_equals_its_summary_and_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let (db, alerts, csv) = (dir.path().join("d.sqlite"), dir.path().join("a.ndjson"), dir.path().join("csv"));
    std::fs::create_dir(&csv).unwrap();
    let summary = common::summary(
        &demo(),
        &["--db", db.to_str().unwrap(), "--alerts", alerts.to_str().unwrap(), "--csv", csv.to_str().unwrap()],
    );
    let conn = Connection::open(&db).unwrap();
    assert_eq!(count(&conn, "PRAGMA user_version") as usize, ntop_rs::sinks::db::SCHEMA_VERSION);
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    // alerts: every report, in order, with the JSON of the NDJSON line.
    let reports: Vec<Value> =
        std::fs::read_to_string(&alerts).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let mut st = conn.prepare("SELECT id, state, kind, json FROM alerts ORDER BY rowid").unwrap();
    let rows: Vec<(i64, String, String, String)> =
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).unwrap().map(Result::unwrap).collect();
    assert_eq!(rows.len(), reports.len());
    for (row, report) in rows.iter().zip(&reports) {
        assert_eq!(row.0, report["id"].as_i64().unwrap());
        assert_eq!(row.1, report["state"].as_str().unwrap());
        assert_eq!(row.2, report["kind"].as_str().unwrap());
        assert_eq!(serde_json::from_str::<Value>(&row.3).unwrap(), *report);
    }
    // protocol_minutes and host_minutes add up to the summary.
    assert_eq!(count(&conn, "SELECT sum(packets) FROM protocol_minutes"), summary["packets"].as_i64().unwrap());
    assert_eq!(count(&conn, "SELECT sum(bytes) FROM protocol_minutes"), summary["bytes"].as_i64().unwrap());
    for proto in ["tcp", "udp"] {
        let q = format!("SELECT sum(packets) FROM protocol_minutes WHERE proto = '{proto}'");
        assert_eq!(count(&conn, &q), summary["protocols"][proto]["packets"].as_i64().unwrap(), "{proto}");
    }
    let tx: i64 = summary["hosts"].as_array().unwrap().iter().map(|h| h["tx_packets"].as_i64().unwrap()).sum();
    assert_eq!(count(&conn, "SELECT sum(tx_packets) FROM host_minutes"), tx, "every host's packets sent");
    let top = &summary["hosts"][0];
    let q = format!("SELECT sum(rx_bytes) FROM host_minutes WHERE host = '{}'", top["ip"].as_str().unwrap());
    assert_eq!(count(&conn, &q), top["rx_bytes"].as_i64().unwrap());
    // flows: the same records as flows.csv.
    assert_eq!(count(&conn, "SELECT count(*) FROM flows"), summary["records"]["total"].as_i64().unwrap());
    let mut from_db: Vec<(String, i64)> = conn
        .prepare("SELECT community_id, orig_packets + resp_packets FROM flows")
        .unwrap()
        .query_map([], |r| Ok((r.get::<_, Option<String>>(0)?.unwrap_or_default(), r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut from_csv: Vec<(String, i64)> = csv::Reader::from_path(csv.join("flows.csv"))
        .unwrap()
        .deserialize::<std::collections::HashMap<String, String>>()
        .map(|r| {
            let r = r.unwrap();
            let packets = r["orig_packets"].parse::<i64>().unwrap() + r["resp_packets"].parse::<i64>().unwrap();
            (r["community_id"].clone(), packets)
        })
        .collect();
    from_db.sort();
    from_csv.sort();
    assert_eq!(from_db, from_csv, "the flows in SQLite and in flows.csv");
    // The run's row.
    let (packets, source): (i64, String) =
        conn.query_row("SELECT packets, source FROM runs", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    assert_eq!(packets, summary["packets"].as_i64().unwrap());
    assert!(source.ends_with("demo.pcap"));
}

#[test]
fn two_runs_share_a_file_and_stay_apart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("d.sqlite");
    let sample = common::sample();
    let first = common::summary(&sample, &["--db", db.to_str().unwrap()]);
    common::summary(&demo(), &["--db", db.to_str().unwrap()]);
    let conn = Connection::open(&db).unwrap();
    assert_eq!(count(&conn, "SELECT count(*) FROM runs"), 2);
    for table in ["flows", "protocol_minutes", "host_minutes"] {
        let runs = count(&conn, &format!("SELECT count(DISTINCT run_id) FROM {table}"));
        assert_eq!(runs, 2, "{table} has rows of both runs");
    }
    let q = "SELECT sum(packets) FROM protocol_minutes WHERE run_id = 1";
    assert_eq!(count(&conn, q), first["packets"].as_i64().unwrap(), "the first run's rows are its own");
}

/// The demo's run in a new database: (its directory, the file, the run's last packet time).
fn demo_in_a_database() -> (tempfile::TempDir, PathBuf, f64) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("d.sqlite");
    common::summary(&demo(), &["--db", db.to_str().unwrap()]);
    let conn = Connection::open(&db).unwrap();
    let demo_last: f64 = conn.query_row("SELECT last_ts FROM runs", [], |r| r.get(0)).unwrap();
    (dir, db, demo_last)
}

#[test]
fn old_rows_go_with_db_retain() {
    let (dir, db, demo_last) = demo_in_a_database();
    // A capture dated 30 days after the demo's, kept for 7 days: the demo's rows go.
    let udp = common::eth_ipv4_udp(5);
    let later = demo_last as u32 + 30 * 86_400;
    let file = common::pcap_bytes(false, false, 1, &[(later, 0, &udp, udp.len() as u32)]);
    let path = dir.path().join("later.pcap");
    std::fs::write(&path, file).unwrap();
    common::summary(&path, &["--db", db.to_str().unwrap(), "--db-retain", "7"]);
    let conn = Connection::open(&db).unwrap();
    assert_eq!(count(&conn, "SELECT count(*) FROM runs"), 1, "the old run went");
    assert_eq!(count(&conn, "SELECT count(*) FROM alerts"), 0);
    assert_eq!(count(&conn, "SELECT count(*) FROM flows WHERE run_id = 1"), 0);
    assert_eq!(count(&conn, "SELECT count(*) FROM protocol_minutes WHERE run_id = 1"), 0);
    assert_eq!(count(&conn, "SELECT sum(packets) FROM protocol_minutes"), 1, "the new run stays");
}

#[test]
fn one_packet_dated_far_ahead_does_not_make_db_retain_delete_everything() {
    let (dir, db, demo_last) = demo_in_a_database();
    // A capture a minute after the demo's, with one packet in it dated 2106.
    let udp = common::eth_ipv4_udp(5);
    let t = demo_last as u32 + 60;
    let len = udp.len() as u32;
    let records = [(t, 0, &udp[..], len), (u32::MAX, 999_999, &udp[..], len), (t + 1, 0, &udp[..], len)];
    let path = dir.path().join("future.pcap");
    std::fs::write(&path, common::pcap_bytes(false, false, 1, &records)).unwrap();
    common::summary(&path, &["--db", db.to_str().unwrap(), "--db-retain", "30"]);
    let conn = Connection::open(&db).unwrap();
    assert_eq!(count(&conn, "SELECT count(*) FROM runs"), 2, "the demo's run stays");
    assert!(count(&conn, "SELECT count(*) FROM flows WHERE run_id = 1") > 0);
}

#[test]
fn a_newer_schema_or_a_file_that_is_no_database_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("d.sqlite");
    let conn = Connection::open(&db).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let sample = common::sample();
    let out = common::run(&["-r", sample.to_str().unwrap(), "--headless", "--db", db.to_str().unwrap()]);
    common::assert_one_line_error(&out, "written by a newer ntop-rs (schema 99");
    let junk = dir.path().join("junk.sqlite");
    std::fs::write(&junk, vec![b'x'; 4096]).unwrap();
    let out = common::run(&["-r", sample.to_str().unwrap(), "--headless", "--db", junk.to_str().unwrap()]);
    common::assert_one_line_error(&out, "junk.sqlite: file is not a database");
    let link = dir.path().join("link.sqlite");
    std::os::unix::fs::symlink(&db, &link).unwrap();
    let out = common::run(&["-r", sample.to_str().unwrap(), "--headless", "--db", link.to_str().unwrap()]);
    common::assert_one_line_error(&out, "link.sqlite");
}

#[test]
fn killed_mid_run_the_database_opens_with_what_was_committed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("d.sqlite");
    let mut child = Command::new(common::bin_path())
        .args(["-r", "-", "--headless", "--json", "--db", db.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // The whole demo, but the pipe stays open: the run waits for more, with what it has
    // read committed within a second or so.
    stdin.write_all(&std::fs::read(demo()).unwrap()).unwrap();
    let started = Instant::now();
    let committed = loop {
        let n = Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .ok()
            .and_then(|c| c.query_row("SELECT count(*) FROM alerts", [], |r| r.get::<_, i64>(0)).ok())
            .unwrap_or(0);
        if n > 0 || started.elapsed() > Duration::from_secs(20) {
            break n;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(committed > 0, "nothing committed within 20 s");
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    drop(stdin);
    let conn = Connection::open(&db).unwrap();
    let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
    assert!(count(&conn, "SELECT count(*) FROM alerts") >= committed);
    assert!(count(&conn, "SELECT count(*) FROM protocol_minutes") > 0, "the closed minutes were committed");
    assert_eq!(count(&conn, "SELECT count(*) FROM runs WHERE ended_at IS NULL"), 1, "the run never ended");
}

#[test]
fn one_replay_with_every_sink_tells_one_story() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name);
    std::fs::create_dir(p("c")).unwrap();
    let args = [
        ("--db", p("d.sqlite")),
        ("--csv", p("c")),
        ("--ecs", p("e.ndjson")),
        ("--eve", p("v.ndjson")),
        ("--alerts", p("a.ndjson")),
    ];
    let mut flags = Vec::new();
    for (flag, path) in &args {
        flags.push(flag.to_string());
        flags.push(path.to_str().unwrap().to_string());
    }
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let summary = common::summary(&demo(), &flags);
    let conn = Connection::open(p("d.sqlite")).unwrap();
    // The alerts rows are the NDJSON reports.
    let reports: Vec<Value> =
        std::fs::read_to_string(p("a.ndjson")).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let rows: Vec<Value> = conn
        .prepare("SELECT json FROM alerts ORDER BY rowid")
        .unwrap()
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|j| serde_json::from_str(&j.unwrap()).unwrap())
        .collect();
    assert_eq!(rows, reports);
    assert_eq!(count(&conn, "SELECT sum(packets) FROM protocol_minutes"), summary["packets"].as_i64().unwrap());
    // One set of flows in all four: (community id, orig packets, resp packets).
    let mut db: Vec<(String, i64, i64)> = conn
        .prepare("SELECT community_id, orig_packets, resp_packets FROM flows")
        .unwrap()
        .query_map([], |r| Ok((r.get::<_, Option<String>>(0)?.unwrap_or_default(), r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut csv: Vec<(String, i64, i64)> = csv::Reader::from_path(p("c").join("flows.csv"))
        .unwrap()
        .deserialize::<std::collections::HashMap<String, String>>()
        .map(|r| {
            let r = r.unwrap();
            (r["community_id"].clone(), r["orig_packets"].parse().unwrap(), r["resp_packets"].parse().unwrap())
        })
        .collect();
    let events = |file: &str| -> Vec<Value> {
        std::fs::read_to_string(p(file)).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    };
    let id = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let mut ecs: Vec<(String, i64, i64)> = events("e.ndjson")
        .iter()
        .filter(|e| e["event"]["kind"] == "event")
        .map(|e| {
            let (s, d) = (&e["source"]["packets"], &e["destination"]["packets"]);
            (id(&e["network"]["community_id"]), s.as_i64().unwrap(), d.as_i64().unwrap())
        })
        .collect();
    let mut eve: Vec<(String, i64, i64)> = events("v.ndjson")
        .iter()
        .filter(|e| e["event_type"] == "flow")
        .map(|e| {
            let f = &e["flow"];
            (id(&e["community_id"]), f["pkts_toserver"].as_i64().unwrap(), f["pkts_toclient"].as_i64().unwrap())
        })
        .collect();
    for v in [&mut db, &mut csv, &mut ecs, &mut eve] {
        v.sort();
    }
    assert_eq!(db.len() as i64, summary["records"]["total"].as_i64().unwrap());
    assert_eq!(db, csv, "SQLite and flows.csv");
    assert_eq!(db, ecs, "SQLite and the ECS connection events");
    assert_eq!(db, eve, "SQLite and the EVE flow events");
}
