//! A report on a run kept by `--db` (`ntop-rs --db FILE --report out.html [--run ID]`):
//! the same page, from the database's rows. Per-minute figures give the timeline and
//! the talkers, the flow records the pairs and top flows; packet sizes and the host
//! map are not stored and say so.

use std::net::IpAddr;
use std::path::Path;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use serde_json::{Value, json};

use super::{Behaviour, Loss, Pairs, ReportData, TOP, Talker, Timeline, TopFlow};
use crate::decode::Proto;
use crate::stats::Counter;

/// Why a stored run cannot be reported on.
#[derive(Debug, thiserror::Error)]
pub enum StoredError {
    /// SQLite refused.
    #[error("{0}")]
    Sql(#[from] rusqlite::Error),
    /// Not one of our databases, or a newer one.
    #[error("{0}")]
    Format(String),
}

/// Opens the database at `path` to read (before privileges are dropped: the file
/// stays open after).
pub fn open(path: &Path) -> Result<Connection, StoredError> {
    if !path.is_file() {
        return Err(StoredError::Format("no such database file".into()));
    }
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    // Touch the file now, so a later read needs no new open.
    conn.query_row("PRAGMA schema_version", [], |r| r.get::<_, i64>(0))?;
    Ok(conn)
}

/// The report of run `run` (the latest when `None`) of an [`open`]ed database.
pub fn load(conn: &Connection, run: Option<i64>) -> Result<ReportData, StoredError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version == 0 {
        return Err(StoredError::Format("not an ntop-rs database (no schema version)".into()));
    }
    if version > crate::sinks::db::SCHEMA_VERSION as i64 {
        return Err(StoredError::Format(format!(
            "schema version {version} is newer than this ntop-rs knows ({})",
            crate::sinks::db::SCHEMA_VERSION
        )));
    }
    let run_id: i64 = match run {
        Some(id) => conn
            .query_row("SELECT id FROM runs WHERE id = ?1", [id], |r| r.get(0))
            .optional()?
            .ok_or_else(|| StoredError::Format(format!("no run {id} in the database")))?,
        None => conn
            .query_row("SELECT max(id) FROM runs", [], |r| r.get::<_, Option<i64>>(0))?
            .ok_or_else(|| StoredError::Format("the database holds no run".into()))?,
    };
    let (source, filter, stored): (String, Option<String>, Option<String>) =
        conn.query_row("SELECT source, filter, summary FROM runs WHERE id = ?1", [run_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
    let timeline = timeline(conn, run_id)?;
    let alerts = latest_alerts(conn, run_id)?;
    // A run that ended cleanly stored its summary; one killed mid-run did not, and gets
    // one rebuilt from its rows.
    let (summary, partial) = match stored.and_then(|s| serde_json::from_str::<Value>(&s).ok()) {
        Some(s) => (s, false),
        None => (rebuilt_summary(&source, filter.as_deref(), &timeline, alerts), true),
    };
    let loss = super::loss_of(&summary);
    let behaviour = summary.get("outliers").filter(|o| !o.is_null()).map(|o| Behaviour {
        status: o.clone(),
        points: Vec::new(),
        explained: 0.0,
    });
    Ok(ReportData {
        generator: format!("ntop-rs {}", env!("CARGO_PKG_VERSION")),
        generated_at: super::now_iso(),
        partial,
        origin: "database",
        run_id: Some(run_id),
        talkers: talkers(conn, run_id)?,
        pairs: pairs(conn, run_id)?,
        flows: top_flows(conn, run_id)?,
        summary,
        loss,
        timeline,
        sizes: Vec::new(),
        behaviour,
    })
}

/// Losses by stage from a summary's `capture` and `sinks`.
pub(super) fn loss(summary: &Value) -> Vec<Loss> {
    let mut out = Vec::new();
    let c = &summary["capture"];
    for (stage, n) in [
        ("kernel", &c["dropped_kernel"]),
        ("interface", &c["dropped_interface"]),
        // Between the threads: batches the counting thread could not take, and packets
        // the detectors missed.
        ("ring", &c["dropped_ring"]["stats"]),
        ("detector", &c["dropped_ring"]["detector"]),
    ] {
        if let Some(n) = n.as_u64() {
            out.push(Loss { stage: stage.into(), count: n });
        }
    }
    if let Some(sinks) = summary["sinks"].as_object() {
        for (name, s) in sinks {
            out.push(Loss { stage: format!("sink_{name}"), count: s["dropped"].as_u64().unwrap_or(0) });
        }
    }
    out
}

fn timeline(conn: &Connection, run: i64) -> Result<Timeline, StoredError> {
    let mut st =
        conn.prepare("SELECT minute, proto, packets, bytes FROM protocol_minutes WHERE run_id = ?1 ORDER BY minute")?;
    let rows: Vec<(f64, String, i64, i64)> =
        st.query_map([run], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?.collect::<Result<_, _>>()?;
    let Some(first) = rows.first().map(|r| r.0) else { return Ok(Timeline { complete: true, ..Timeline::default() }) };
    let last = rows.last().map_or(first, |r| r.0);
    // At most the last 100,000 minutes (about 70 days) are drawn; an older start says so.
    const MAX_MINUTES: f64 = 100_000.0;
    let complete = (last - first) / 60.0 < MAX_MINUTES;
    let first = if complete { first } else { last - (MAX_MINUTES - 1.0) * 60.0 };
    let n = ((last - first) / 60.0).round() as usize + 1;
    let mut packets = vec![vec![0u64; Proto::COUNT]; n];
    let mut bytes = vec![vec![0u64; Proto::COUNT]; n];
    for (minute, proto, p, b) in rows.into_iter().filter(|r| r.0 >= first) {
        let i = (((minute - first) / 60.0).round() as usize).min(n - 1);
        let k = Proto::ALL.iter().position(|x| x.name() == proto).unwrap_or(Proto::Other.index());
        packets[i][k] += u64::try_from(p).unwrap_or(0);
        bytes[i][k] += u64::try_from(b).unwrap_or(0);
    }
    Ok(Timeline {
        bucket_secs: 60.0,
        start: first,
        protocols: Proto::ALL.iter().map(|p| p.name()).collect(),
        packets,
        bytes,
        complete,
    })
}

/// The latest report of each incident, newest first (as the summary's `alerts`).
fn latest_alerts(conn: &Connection, run: i64) -> Result<Vec<Value>, StoredError> {
    let mut st = conn.prepare(
        "SELECT json FROM alerts a WHERE run_id = ?1 AND rowid = (SELECT max(rowid) FROM alerts b WHERE b.run_id = a.run_id AND b.id = a.id) ORDER BY ts DESC, id DESC",
    )?;
    let rows: Vec<String> = st.query_map([run], |r| r.get(0))?.collect::<Result<_, _>>()?;
    Ok(rows.iter().filter_map(|j| serde_json::from_str(j).ok()).collect())
}

fn rebuilt_summary(source: &str, filter: Option<&str>, t: &Timeline, alerts: Vec<Value>) -> Value {
    let mut protocols = serde_json::Map::new();
    let (mut packets, mut bytes) = (0u64, 0u64);
    for (k, p) in Proto::ALL.iter().enumerate() {
        let c = Counter { packets: t.packets.iter().map(|b| b[k]).sum(), bytes: t.bytes.iter().map(|b| b[k]).sum() };
        packets += c.packets;
        bytes += c.bytes;
        if c.packets > 0 {
            protocols.insert(p.name().into(), json!({"packets": c.packets, "bytes": c.bytes}));
        }
    }
    let span = t.bucket_secs * t.packets.len() as f64;
    json!({
        "source": source, "filter": filter, "packets": packets, "bytes": bytes,
        "first_ts": t.start, "last_ts": t.start + span, "duration": span,
        "pps": if span > 0.0 { packets as f64 / span } else { 0.0 },
        "bps": if span > 0.0 { bytes as f64 * 8.0 / span } else { 0.0 },
        "protocols": protocols, "alerts_total": alerts.len(), "alerts": alerts,
        "warnings": ["the run did not end cleanly: figures rebuilt from the rows committed before it stopped"],
    })
}

fn ip(s: &str) -> Option<IpAddr> {
    s.parse().ok()
}

fn talkers(conn: &Connection, run: i64) -> Result<Vec<Talker>, StoredError> {
    let mut st = conn.prepare(
        "SELECT host, sum(tx_bytes), sum(rx_bytes), sum(tx_packets), sum(rx_packets) FROM host_minutes WHERE run_id = ?1 \
         GROUP BY host ORDER BY sum(tx_bytes) + sum(rx_bytes) DESC, host LIMIT ?2",
    )?;
    let rows = st.query_map(params![run, TOP as i64], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?, r.get::<_, i64>(3)?, r.get::<_, i64>(4)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (host, tb, rb, tp, rp) = row?;
        if let Some(ip) = ip(&host) {
            let n = |v: i64| u64::try_from(v).unwrap_or(0);
            out.push(Talker { ip, tx_bytes: n(tb), rx_bytes: n(rb), tx_packets: n(tp), rx_packets: n(rp) });
        }
    }
    Ok(out)
}

fn pairs(conn: &Connection, run: i64) -> Result<Pairs, StoredError> {
    // Summed per pair by SQLite, so that a run of millions of flows costs a row per pair.
    let mut st = conn.prepare(
        "SELECT orig, resp, sum(orig_packets), sum(orig_bytes), sum(resp_packets), sum(resp_bytes) \
         FROM flows WHERE run_id = ?1 GROUP BY orig, resp",
    )?;
    let rows: Vec<(String, String, i64, i64, i64, i64)> = st
        .query_map([run], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))?
        .collect::<Result<_, _>>()?;
    let n = |v: i64| u64::try_from(v).unwrap_or(0);
    Ok(super::pairs(rows.iter().filter_map(|(o, r, op, ob, rp, rb)| {
        Some((ip(o)?, ip(r)?, Counter { packets: n(*op), bytes: n(*ob) }, Counter { packets: n(*rp), bytes: n(*rb) }))
    })))
}

fn top_flows(conn: &Connection, run: i64) -> Result<Vec<TopFlow>, StoredError> {
    let mut st = conn.prepare(
        "SELECT proto, orig, orig_port, resp, resp_port, orig_packets + resp_packets, orig_bytes + resp_bytes, start, \"end\" \
         FROM flows WHERE run_id = ?1 ORDER BY orig_bytes + resp_bytes DESC, start LIMIT ?2",
    )?;
    let rows = st.query_map(params![run, TOP as i64], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<i64>>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, Option<i64>>(4)?,
            r.get::<_, i64>(5)?,
            r.get::<_, i64>(6)?,
            r.get::<_, f64>(7)?,
            r.get::<_, f64>(8)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (proto, a, ap, b, bp, p, by, first, last) = row?;
        let port = |v: Option<i64>| v.and_then(|x| u16::try_from(x).ok()).unwrap_or(0);
        if let (Some(a), Some(b)) = (ip(&a), ip(&b)) {
            out.push(TopFlow {
                proto,
                a,
                a_port: port(ap),
                b,
                b_port: port(bp),
                packets: u64::try_from(p).unwrap_or(0),
                bytes: u64::try_from(by).unwrap_or(0),
                first_ts: first,
                last_ts: last,
            });
        }
    }
    Ok(out)
}
