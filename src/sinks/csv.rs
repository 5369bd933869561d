//! `--csv DIR`: `flows.csv` (every flow record), `alerts.csv` (every alert report),
//! `hosts.csv` (each host's final figures) and `protocols.csv` (packets and bytes per
//! protocol class per minute of packet time), with a header line and RFC 4180 quoting
//! (the csv crate). Files an earlier run of ours left are appended to, without a second
//! header; the columns are a contract (added to at the end, never renamed).

use std::io::Write;
use std::net::IpAddr;

use serde_json::Value;

use super::cell;
use super::minutes::{Minute, Minutes};
use crate::decode::Proto;
use crate::detect::Alert;
use crate::pipeline::Sink;
use crate::pipeline::sink::Snapshot;
use crate::records::FlowRecord;
use crate::stats::{Counter, HostStats};
use crate::units::epoch_secs;

/// `flows.csv`'s columns: the flow record's fields, in order.
pub const FLOW_COLUMNS: [&str; 22] = crate::records::FIELDS;

/// `alerts.csv`'s columns: the alert report's fields (`evidence` as JSON text).
pub const ALERT_COLUMNS: [&str; 14] = [
    "id", "state", "kind", "severity", "ts", "first_ts", "last_ts", "src", "dst", "proto", "port", "packets",
    "summary", "evidence",
];

/// `hosts.csv`'s columns.
pub const HOST_COLUMNS: [&str; 7] = ["ip", "tx_packets", "tx_bytes", "rx_packets", "rx_bytes", "first_ts", "last_ts"];

/// `protocols.csv`'s columns (`minute`: epoch seconds the minute starts at).
pub const PROTOCOL_COLUMNS: [&str; 4] = ["minute", "proto", "packets", "bytes"];

/// The four files' names, in the order [`CsvSink::new`] takes them.
pub const FILES: [&str; 4] = ["flows.csv", "alerts.csv", "hosts.csv", "protocols.csv"];

/// An open output and whether this run created it (then it gets a header).
pub struct Stream {
    /// Where the lines go.
    pub out: Box<dyn Write + Send>,
    /// Created by this run.
    pub fresh: bool,
}

struct Table {
    csv: csv::Writer<Box<dyn Write + Send>>,
}

impl Table {
    fn new(stream: Stream, columns: &[&str]) -> Result<Table, String> {
        let mut t = Table { csv: csv::WriterBuilder::new().has_headers(false).from_writer(stream.out) };
        if stream.fresh {
            t.row(columns.iter().map(|c| c.to_string()))?;
        }
        Ok(t)
    }

    fn row(&mut self, cells: impl IntoIterator<Item = String>) -> Result<(), String> {
        self.csv.write_record(cells).map_err(|e| e.to_string())
    }

    fn flush(&mut self) -> Result<(), String> {
        self.csv.flush().map_err(|e| crate::files::io_reason(&e))
    }
}

/// The `--csv` sink.
pub struct CsvSink {
    flows: Table,
    alerts: Table,
    hosts: Table,
    protocols: Table,
    minutes: Minutes,
}

impl CsvSink {
    /// Writes to the four streams, in [`FILES`] order.
    pub fn new([flows, alerts, hosts, protocols]: [Stream; 4]) -> Result<CsvSink, String> {
        Ok(CsvSink {
            flows: Table::new(flows, &FLOW_COLUMNS)?,
            alerts: Table::new(alerts, &ALERT_COLUMNS)?,
            hosts: Table::new(hosts, &HOST_COLUMNS)?,
            protocols: Table::new(protocols, &PROTOCOL_COLUMNS)?,
            minutes: Minutes::default(),
        })
    }

    fn minute(&mut self, m: &Minute) -> Result<(), String> {
        for p in Proto::ALL {
            let c = m.protocols[p.index()];
            if c.packets > 0 {
                let cells =
                    [epoch_secs(m.start).to_string(), p.name().into(), c.packets.to_string(), c.bytes.to_string()];
                self.protocols.row(cells)?;
            }
        }
        Ok(())
    }
}

/// The cells of `value`'s fields `columns`.
fn cells(value: &Value, columns: &[&str]) -> Vec<String> {
    columns.iter().map(|c| cell(&value[*c])).collect()
}

/// The summary's per-protocol totals.
fn totals(summary: &Value) -> [Counter; Proto::COUNT] {
    std::array::from_fn(|i| {
        let p = &summary["protocols"][Proto::ALL[i].name()];
        Counter { packets: p["packets"].as_u64().unwrap_or(0), bytes: p["bytes"].as_u64().unwrap_or(0) }
    })
}

impl Sink for CsvSink {
    fn name(&self) -> &'static str {
        "csv"
    }

    fn wants_flows(&self) -> bool {
        true
    }

    fn wants_hosts(&self) -> bool {
        true
    }

    fn alert(&mut self, report: &Alert) -> Result<(), String> {
        let v = serde_json::to_value(report).map_err(|e| e.to_string())?;
        let mut row = cells(&v, &ALERT_COLUMNS);
        row[13] = v["evidence"].to_string();
        self.alerts.row(row)?;
        self.alerts.flush()
    }

    fn flows(&mut self, records: &[FlowRecord]) -> Result<(), String> {
        for r in records {
            let v = serde_json::to_value(r).map_err(|e| e.to_string())?;
            self.flows.row(cells(&v, &FLOW_COLUMNS))?;
        }
        self.flows.flush()
    }

    fn snapshot(&mut self, snapshot: &Snapshot) -> Result<(), String> {
        if let Some(m) = self.minutes.snapshot(snapshot) {
            self.minute(&m)?;
            self.protocols.flush()?;
        }
        Ok(())
    }

    fn hosts(&mut self, hosts: &[(IpAddr, HostStats)]) -> Result<(), String> {
        for (ip, h) in hosts {
            let (tx, rx) = (h.tx(), h.rx());
            self.hosts.row([
                ip.to_string(),
                tx.packets.to_string(),
                tx.bytes.to_string(),
                rx.packets.to_string(),
                rx.bytes.to_string(),
                epoch_secs(h.first_seen).to_string(),
                epoch_secs(h.last_seen).to_string(),
            ])?;
        }
        self.hosts.flush()
    }

    fn finish(&mut self, summary: &Value) -> Result<(), String> {
        let last = summary["last_ts"].as_f64().map(|s| (s * 1e9) as crate::packet::Nanos);
        if let Some(m) = self.minutes.finish(totals(summary), last) {
            self.minute(&m)?;
        }
        self.protocols.flush()?;
        self.flows.flush()?;
        self.alerts.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Buf {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    fn sink(fresh: bool) -> (CsvSink, [Buf; 4]) {
        let bufs: [Buf; 4] = Default::default();
        let streams = bufs.clone().map(|b| Stream { out: Box::new(b), fresh });
        (CsvSink::new(streams).unwrap(), bufs)
    }

    #[test]
    fn headers_once_and_quoting_by_the_rfc() {
        let (mut s, bufs) = sink(true);
        let mut a = Alert::sample(7, Some(IpAddr::from([10, 0, 0, 1])), None, 0, 0);
        a.summary = "scanned 3 ports, \"fast\"".into();
        s.alert(&a).unwrap();
        a.state = crate::detect::AlertState::End;
        s.alert(&a).unwrap();
        let text = bufs[1].text();
        let mut rows = csv::Reader::from_reader(text.as_bytes());
        assert_eq!(rows.headers().unwrap().iter().collect::<Vec<_>>(), ALERT_COLUMNS);
        let rows: Vec<csv::StringRecord> = rows.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(&rows[0][12], "scanned 3 ports, \"fast\"");
        assert_eq!(&rows[1][1], "end");
        assert!(serde_json::from_str::<Value>(&rows[0][13]).unwrap().is_object(), "evidence is JSON");
        // A second run appending to the same files writes no header.
        let (mut again, bufs) = sink(false);
        again.alert(&a).unwrap();
        assert!(!bufs[1].text().starts_with("id,"));
    }
}
