//! `--db FILE`: the run's history in SQLite (rusqlite, SQLite bundled): `runs`, `alerts`
//! (every report: typed columns and the JSON), `flows` (every flow record),
//! `protocol_minutes` and `host_minutes` (per minute of packet time). Every row carries
//! its `run_id`, so runs appended to one file stay apart.
//!
//! WAL mode; the sink's thread writes in transactions committed at least once a second
//! (and when the run ends), behind the sink's bounded queue (drops counted on a live
//! capture). Killed mid-run, the file opens with everything up to its last commit. The
//! schema version is `PRAGMA user_version`; [`MIGRATIONS`] takes a file of any earlier
//! version to the current one, and a file of a later version is refused.

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags, params};
use serde_json::Value;

use crate::decode::Proto;
use crate::detect::Alert;
use crate::packet::{NANOS_PER_SEC, Nanos};
use crate::pipeline::Sink;
use crate::pipeline::minutes::{Minute, seen};
use crate::records::FlowRecord;
use crate::units::IpText;
use crate::units::epoch_secs;

/// The schema this build writes.
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

/// `MIGRATIONS[i]` takes a file from `user_version` i to i + 1.
pub const MIGRATIONS: &[&str] = &[
    // 0 -> 1: the first schema.
    "CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        started_at REAL NOT NULL,
        ended_at REAL,
        source TEXT NOT NULL,
        filter TEXT,
        version TEXT NOT NULL,
        first_ts REAL,
        last_ts REAL,
        packets INTEGER,
        bytes INTEGER,
        summary TEXT
    );
    CREATE TABLE alerts (
        run_id INTEGER NOT NULL REFERENCES runs(id),
        id INTEGER NOT NULL,
        state TEXT NOT NULL,
        kind TEXT NOT NULL,
        severity TEXT NOT NULL,
        ts REAL NOT NULL,
        first_ts REAL NOT NULL,
        last_ts REAL NOT NULL,
        src TEXT,
        dst TEXT,
        proto TEXT NOT NULL,
        port INTEGER,
        packets INTEGER NOT NULL,
        summary TEXT NOT NULL,
        json TEXT NOT NULL
    );
    CREATE INDEX alerts_ts ON alerts (ts);
    CREATE TABLE flows (
        run_id INTEGER NOT NULL REFERENCES runs(id),
        start REAL NOT NULL,
        \"end\" REAL NOT NULL,
        duration REAL NOT NULL,
        proto TEXT NOT NULL,
        ip_proto INTEGER NOT NULL,
        orig TEXT NOT NULL,
        orig_port INTEGER,
        resp TEXT NOT NULL,
        resp_port INTEGER,
        initiator_known INTEGER NOT NULL,
        orig_packets INTEGER NOT NULL,
        orig_bytes INTEGER NOT NULL,
        orig_payload_bytes INTEGER NOT NULL,
        resp_packets INTEGER NOT NULL,
        resp_bytes INTEGER NOT NULL,
        resp_payload_bytes INTEGER NOT NULL,
        conn_state TEXT NOT NULL,
        history TEXT NOT NULL,
        community_id TEXT,
        vlan INTEGER,
        end_reason TEXT NOT NULL,
        alerts TEXT NOT NULL
    );
    CREATE INDEX flows_start ON flows (start);
    CREATE TABLE protocol_minutes (
        run_id INTEGER NOT NULL REFERENCES runs(id),
        minute REAL NOT NULL,
        proto TEXT NOT NULL,
        packets INTEGER NOT NULL,
        bytes INTEGER NOT NULL
    );
    CREATE INDEX protocol_minutes_minute ON protocol_minutes (minute);
    CREATE TABLE host_minutes (
        run_id INTEGER NOT NULL REFERENCES runs(id),
        minute REAL NOT NULL,
        host TEXT NOT NULL,
        proto TEXT NOT NULL,
        tx_packets INTEGER NOT NULL,
        tx_bytes INTEGER NOT NULL,
        rx_packets INTEGER NOT NULL,
        rx_bytes INTEGER NOT NULL
    );
    CREATE INDEX host_minutes_minute ON host_minutes (minute);",
];

/// Most time between two commits.
const COMMIT_EVERY: Duration = Duration::from_secs(1);
/// How often (in packet time) old rows are deleted under `--db-retain`.
const RETAIN_EVERY: Nanos = 3600 * NANOS_PER_SEC;

fn sql(e: rusqlite::Error) -> String {
    e.to_string()
}

/// Brings `conn` to [`SCHEMA_VERSION`], one migration a transaction.
pub fn migrate(conn: &mut Connection) -> Result<(), String> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(sql)?;
    let version = usize::try_from(version).map_err(|_| format!("schema version {version} makes no sense"))?;
    if version > SCHEMA_VERSION {
        return Err(format!(
            "written by a newer ntop-rs (schema {version}; this one knows {SCHEMA_VERSION}): use another file"
        ));
    }
    for (i, step) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction().map_err(sql)?;
        tx.execute_batch(step).map_err(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64).map_err(sql)?;
        tx.commit().map_err(sql)?;
    }
    Ok(())
}

/// Opens (creating) the database at `path` for a run reading `source`: refuses a symlink
/// at `path`, sets WAL mode, migrates, and adds the run's row. Called before privileges
/// are dropped, so the journal files are made while the directory may still need them.
pub fn open(path: &Path, source: &str, filter: Option<&str>, retain_days: Option<u32>) -> Result<Db, String> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NOFOLLOW
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(path, flags).map_err(sql)?;
    conn.busy_timeout(Duration::from_secs(5)).map_err(sql)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)).map_err(sql)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(format!("cannot use WAL mode ({mode})"));
    }
    conn.pragma_update(None, "synchronous", "NORMAL").map_err(sql)?;
    migrate(&mut conn)?;
    let now = crate::units::epoch_secs(crate::units::wall_clock_nanos());
    conn.execute(
        "INSERT INTO runs (started_at, source, filter, version) VALUES (?1, ?2, ?3, ?4)",
        params![now, source, filter, env!("CARGO_PKG_VERSION")],
    )
    .map_err(sql)?;
    let run_id = conn.last_insert_rowid();
    Ok(Db {
        conn,
        run_id,
        in_tx: false,
        last_commit: Instant::now(),
        retain: retain_days.map(|d| Nanos::from(d) * 86_400 * NANOS_PER_SEC),
        clock: crate::detect::clock::Clock::default(),
        next_retain: None,
    })
}

/// The `--db` sink.
pub struct Db {
    conn: Connection,
    run_id: i64,
    in_tx: bool,
    last_commit: Instant,
    /// `--db-retain`, as packet time.
    retain: Option<Nanos>,
    /// Packet time made safe for retention: a lone packet dated far ahead does not
    /// move it (the detectors' clock; see `detect::clock`).
    clock: crate::detect::clock::Clock,
    next_retain: Option<Nanos>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("run_id", &self.run_id).finish()
    }
}

impl Db {
    /// This run's id (`runs.id`).
    pub fn run_id(&self) -> i64 {
        self.run_id
    }

    fn begin(&mut self) -> Result<(), String> {
        if !self.in_tx {
            self.conn.execute_batch("BEGIN").map_err(sql)?;
            self.in_tx = true;
        }
        Ok(())
    }

    fn commit(&mut self) -> Result<(), String> {
        if self.in_tx {
            self.conn.execute_batch("COMMIT").map_err(sql)?;
            self.in_tx = false;
        }
        self.last_commit = Instant::now();
        Ok(())
    }

    /// Commits when a second has passed since the last commit.
    fn maybe_commit(&mut self) -> Result<(), String> {
        if self.last_commit.elapsed() >= COMMIT_EVERY { self.commit() } else { Ok(()) }
    }

    /// Notes packet time `ts`; under `--db-retain`, deletes what is older than the
    /// retention before the newest packet time, once an hour of packet time. The newest
    /// time is the packet time the detection clock stands at (one packet dated decades
    /// ahead, then normal ones, does not move it; disorder it stepped back over does not
    /// add up), and never later than the wall clock: a capture is not from the future,
    /// and a hostile timestamp must not empty the database. Fed by minutes and alerts,
    /// which come in packet order.
    fn advance(&mut self, ts: Nanos) -> Result<(), String> {
        self.clock.place(ts);
        let Some(retain) = self.retain else { return Ok(()) };
        // The clock's own time runs ahead of packet time by the disorder it stepped back
        // over; retention takes the packet time it stands for.
        let newest = self.clock.now().map_or(ts, |now| self.clock.to_real(now));
        if self.next_retain.is_some_and(|next| newest < next) {
            return Ok(());
        }
        // Read once an hour of packet time, not per record: capping only lowers it.
        let newest = newest.min(crate::units::wall_clock_nanos());
        self.next_retain = Some(newest + RETAIN_EVERY);
        let cutoff = epoch_secs(newest - retain);
        for q in [
            "DELETE FROM alerts WHERE ts < ?1",
            "DELETE FROM flows WHERE \"end\" < ?1",
            "DELETE FROM protocol_minutes WHERE minute < ?1",
            "DELETE FROM host_minutes WHERE minute < ?1",
            "DELETE FROM runs WHERE last_ts < ?1",
        ] {
            self.conn.execute(q, params![cutoff]).map_err(sql)?;
        }
        Ok(())
    }
}

impl Sink for Db {
    fn name(&self) -> &'static str {
        "db"
    }

    fn wants_flows(&self) -> bool {
        true
    }

    fn wants_minutes(&self) -> bool {
        true
    }

    fn wants_host_minutes(&self) -> bool {
        true
    }

    fn alert(&mut self, a: &Alert) -> Result<(), String> {
        self.begin()?;
        let v = serde_json::to_value(a).map_err(|e| e.to_string())?;
        let text = |k: &str| v[k].as_str().unwrap_or_default().to_string();
        let mut st = self
            .conn
            .prepare_cached(
                "INSERT INTO alerts (run_id, id, state, kind, severity, ts, first_ts, last_ts, src, dst, proto, port, \
                 packets, summary, json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            )
            .map_err(sql)?;
        st.execute(params![
            self.run_id,
            a.id as i64,
            text("state"),
            text("kind"),
            text("severity"),
            epoch_secs(a.ts),
            epoch_secs(a.first_ts),
            epoch_secs(a.last_ts),
            a.src.map(|ip| ip.to_string()),
            a.dst.map(|ip| ip.to_string()),
            text("proto"),
            a.port,
            a.packets as i64,
            a.summary,
            v.to_string(),
        ])
        .map_err(sql)?;
        drop(st);
        self.advance(a.ts)?;
        self.maybe_commit()
    }

    fn flows(&mut self, records: &[FlowRecord]) -> Result<(), String> {
        self.begin()?;
        let mut st = self
            .conn
            .prepare_cached(
                "INSERT INTO flows (run_id, start, \"end\", duration, proto, ip_proto, orig, orig_port, resp, resp_port, \
                 initiator_known, orig_packets, orig_bytes, orig_payload_bytes, resp_packets, resp_bytes, \
                 resp_payload_bytes, conn_state, history, community_id, vlan, end_reason, alerts) VALUES (?1, ?2, ?3, \
                 ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23)",
            )
            .map_err(sql)?;
        for r in records {
            let alerts = r.alerts.iter().map(u64::to_string).collect::<Vec<_>>().join(";");
            st.execute(params![
                self.run_id,
                epoch_secs(r.start),
                epoch_secs(r.end),
                r.duration,
                r.proto,
                r.ip_proto,
                IpText::new(r.orig).as_str(),
                r.orig_port,
                IpText::new(r.resp).as_str(),
                r.resp_port,
                r.initiator_known,
                r.orig_packets as i64,
                r.orig_bytes as i64,
                r.orig_payload_bytes as i64,
                r.resp_packets as i64,
                r.resp_bytes as i64,
                r.resp_payload_bytes as i64,
                r.conn_state,
                r.history,
                r.community_id,
                r.vlan,
                r.end_reason.name(),
                alerts,
            ])
            .map_err(sql)?;
        }
        drop(st);
        // Records do not move the retention clock: the tracker's idle sweeps end flows
        // minutes after their last packet, so their ends run backward (the minutes,
        // which come in packet order, move it).
        self.maybe_commit()
    }

    fn minute(&mut self, m: &Minute) -> Result<(), String> {
        self.begin()?;
        let minute = epoch_secs(m.start);
        let mut st = self
            .conn
            .prepare_cached(
                "INSERT INTO protocol_minutes (run_id, minute, proto, packets, bytes) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .map_err(sql)?;
        for (p, c) in seen(&m.protocols) {
            st.execute(params![self.run_id, minute, p.name(), c.packets as i64, c.bytes as i64]).map_err(sql)?;
        }
        drop(st);
        let mut st = self
            .conn
            .prepare_cached(
                "INSERT INTO host_minutes (run_id, minute, host, proto, tx_packets, tx_bytes, rx_packets, rx_bytes) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .map_err(sql)?;
        let mut hosts: Vec<_> = m.hosts.iter().collect();
        hosts.sort_by_key(|h| h.0);
        for (ip, figures) in hosts {
            let host = ip.to_string();
            for p in Proto::ALL {
                let (tx, rx) = figures[p.index()];
                if tx.packets + rx.packets > 0 {
                    st.execute(params![
                        self.run_id,
                        minute,
                        host,
                        p.name(),
                        tx.packets as i64,
                        tx.bytes as i64,
                        rx.packets as i64,
                        rx.bytes as i64
                    ])
                    .map_err(sql)?;
                }
            }
        }
        drop(st);
        self.advance(m.start)?;
        self.maybe_commit()
    }

    fn tick(&mut self) -> Result<(), String> {
        self.commit()
    }

    fn finish(&mut self, summary: &Value) -> Result<(), String> {
        self.begin()?;
        let now = crate::units::epoch_secs(crate::units::wall_clock_nanos());
        self.conn
            .execute(
                "UPDATE runs SET ended_at = ?1, first_ts = ?2, last_ts = ?3, packets = ?4, bytes = ?5, summary = ?6 \
                 WHERE id = ?7",
                params![
                    now,
                    summary["first_ts"].as_f64(),
                    summary["last_ts"].as_f64(),
                    summary["packets"].as_i64(),
                    summary["bytes"].as_i64(),
                    summary.to_string(),
                    self.run_id
                ],
            )
            .map_err(sql)?;
        self.commit()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newer_schema_is_refused_and_an_empty_file_migrates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("n.sqlite");
        let db = open(&path, "test", None, None).unwrap();
        assert_eq!(db.run_id(), 1);
        drop(db);
        let conn = Connection::open(&path).unwrap();
        let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(v as usize, SCHEMA_VERSION);
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        let e = open(&path, "test", None, None).unwrap_err();
        assert!(e.contains("newer ntop-rs (schema 99"), "{e}");
    }

    #[test]
    fn flows_ended_idle_minutes_ago_do_not_make_db_retain_delete_early() {
        // A day's retention, 18 hours of packet time in 2020. Every 5 minutes the
        // flow that was just active ends, then the tracker's idle sweep ends flows
        // whose last packet was almost 5 minutes earlier, eight batches of them.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.sqlite");
        let mut db = open(&path, "test", None, Some(1)).unwrap();
        let (a, b) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let t0: Nanos = 1_600_000_000 * NANOS_PER_SEC;
        let old = t0 - 2 * 86_400 * NANOS_PER_SEC;
        db.flows(&[FlowRecord::sample(a, b, old, old), FlowRecord::sample(a, b, t0, t0)]).unwrap();
        let min = 60 * NANOS_PER_SEC;
        for k in 1..=18 * 12 {
            let now = t0 + k * 5 * min;
            let minute = Minute {
                start: now,
                protocols: Default::default(),
                hosts: Vec::new(),
                hosts_left_out: 0,
                tracked: (0, 0),
            };
            db.minute(&minute).unwrap();
            db.flows(&[FlowRecord::sample(a, b, now, now)]).unwrap();
            for _ in 0..8 {
                let end = now - 290 * NANOS_PER_SEC;
                db.flows(&[FlowRecord::sample(a, b, end, end)]).unwrap();
            }
        }
        db.commit().unwrap();
        let first: i64 =
            db.conn.query_row("SELECT count(*) FROM flows WHERE start = ?1", [epoch_secs(t0)], |r| r.get(0)).unwrap();
        assert_eq!(first, 1, "a flow 18 hours old is kept for a day");
        let older: i64 =
            db.conn.query_row("SELECT count(*) FROM flows WHERE start < ?1", [epoch_secs(t0)], |r| r.get(0)).unwrap();
        assert_eq!(older, 0, "one two days old went");
    }

    #[test]
    fn a_symlink_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("real.sqlite");
        std::fs::write(&target, b"").unwrap();
        let link = dir.path().join("link.sqlite");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(open(&link, "test", None, None).is_err());
    }
}
