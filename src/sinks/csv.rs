//! `--csv DIR`: `flows.csv` (every flow record), `alerts.csv` (every alert report),
//! `hosts.csv` (each host's final figures) and `protocols.csv` (packets and bytes per
//! protocol class per minute of packet time), with a header line and RFC 4180 quoting
//! (the csv crate). Files an earlier run of ours left are appended to, without a second
//! header; the columns are a contract (added to at the end, never renamed).

use std::io::Write;
use std::net::IpAddr;

use serde_json::Value;

use super::cell;
use crate::detect::Alert;
use crate::pipeline::Sink;
use crate::pipeline::minutes::{Minute, seen};
use crate::records::FlowRecord;
use crate::stats::HostStats;
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

/// Each of [`FILES`]' columns, in the same order.
pub const COLUMNS: [&[&str]; 4] = [&FLOW_COLUMNS, &ALERT_COLUMNS, &HOST_COLUMNS, &PROTOCOL_COLUMNS];

/// Whether an existing file's first line is the header of the file `columns` make:
/// rows are appended only to a file of ours.
pub fn is_ours(first_line: &str, columns: &[&str]) -> bool {
    first_line.trim_end_matches(['\r', '\n']) == columns.join(",")
}

/// An open output and whether it is new or empty (then it gets a header).
pub struct Stream {
    /// Where the lines go.
    pub out: Box<dyn Write + Send>,
    /// Created by this run, or empty.
    pub fresh: bool,
}

struct Table {
    csv: csv::Writer<Box<dyn Write + Send>>,
    /// One reusable buffer per cell, so rows cost no allocation.
    cells: Vec<String>,
}

impl Table {
    fn new(stream: Stream, columns: &[&str]) -> Result<Table, String> {
        let mut t = Table {
            csv: csv::WriterBuilder::new().has_headers(false).from_writer(stream.out),
            cells: vec![String::new(); columns.len()],
        };
        if stream.fresh {
            t.row(columns.iter().map(|c| c.to_string()))?;
        }
        Ok(t)
    }

    fn row(&mut self, cells: impl IntoIterator<Item = String>) -> Result<(), String> {
        self.csv.write_record(cells).map_err(|e| e.to_string())
    }

    /// Writes the row `fill` puts into the table's cell buffers (emptied first).
    fn fill_row(&mut self, fill: impl FnOnce(&mut [String]) -> std::fmt::Result) -> Result<(), String> {
        self.cells.iter_mut().for_each(String::clear);
        fill(&mut self.cells).map_err(|e| e.to_string())?;
        self.csv.write_record(&self.cells).map_err(|e| e.to_string())
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
}

impl CsvSink {
    /// Writes to the four streams, in [`FILES`] order.
    pub fn new([flows, alerts, hosts, protocols]: [Stream; 4]) -> Result<CsvSink, String> {
        Ok(CsvSink {
            flows: Table::new(flows, &FLOW_COLUMNS)?,
            alerts: Table::new(alerts, &ALERT_COLUMNS)?,
            hosts: Table::new(hosts, &HOST_COLUMNS)?,
            protocols: Table::new(protocols, &PROTOCOL_COLUMNS)?,
        })
    }
}

/// A record's cells in [`FLOW_COLUMNS`] order, as [`cell`] writes its JSON (written
/// straight from the fields: a flood ends half a million records).
fn flow_cells(r: &FlowRecord, c: &mut [String]) -> std::fmt::Result {
    use std::fmt::Write as _;
    let opt = |c: &mut String, v: Option<u16>| v.map_or(Ok(()), |v| write!(c, "{v}"));
    write!(c[0], "{}", epoch_secs(r.start))?;
    write!(c[1], "{}", epoch_secs(r.end))?;
    write!(c[2], "{}", r.duration)?;
    c[3].push_str(r.proto);
    write!(c[4], "{}", r.ip_proto)?;
    c[5].push_str(crate::units::IpText::new(r.orig).as_str());
    opt(&mut c[6], r.orig_port)?;
    c[7].push_str(crate::units::IpText::new(r.resp).as_str());
    opt(&mut c[8], r.resp_port)?;
    write!(c[9], "{}", r.initiator_known)?;
    write!(c[10], "{}", r.orig_packets)?;
    write!(c[11], "{}", r.orig_bytes)?;
    write!(c[12], "{}", r.orig_payload_bytes)?;
    write!(c[13], "{}", r.resp_packets)?;
    write!(c[14], "{}", r.resp_bytes)?;
    write!(c[15], "{}", r.resp_payload_bytes)?;
    c[16].push_str(r.conn_state);
    c[17].push_str(&r.history);
    c[18].push_str(r.community_id.as_deref().unwrap_or(""));
    opt(&mut c[19], r.vlan)?;
    c[20].push_str(r.end_reason.name());
    for (i, id) in r.alerts.iter().enumerate() {
        write!(c[21], "{}{id}", if i == 0 { "" } else { ";" })?;
    }
    Ok(())
}

/// The cells of `value`'s fields `columns`.
fn cells(value: &Value, columns: &[&str]) -> Vec<String> {
    columns.iter().map(|c| cell(&value[*c])).collect()
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
            self.flows.fill_row(|cells| flow_cells(r, cells))?;
        }
        self.flows.flush()
    }

    fn wants_minutes(&self) -> bool {
        true
    }

    fn minute(&mut self, m: &Minute) -> Result<(), String> {
        for (p, c) in seen(&m.protocols) {
            let cells = [epoch_secs(m.start).to_string(), p.name().into(), c.packets.to_string(), c.bytes.to_string()];
            self.protocols.row(cells)?;
        }
        self.protocols.flush()
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

    fn finish(&mut self, _summary: &Value) -> Result<(), String> {
        self.protocols.flush()?;
        self.flows.flush()?;
        self.alerts.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Proto;
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
    fn flow_cells_read_like_the_records_json() {
        use crate::records::{RecordConfig, Tracker};
        let mut t = Tracker::new(RecordConfig::default());
        let frame = crate::packet::Frame {
            ts: 1_700_000_000_123_456_789,
            linktype: crate::packet::LinkType::ETHERNET,
            data: &[],
            orig_len: 90,
        };
        let m = crate::decode::PacketMeta {
            proto: Proto::Udp,
            ip_proto: Some(17),
            src: Some(IpAddr::from([10, 0, 0, 1])),
            dst: Some(IpAddr::from([10, 0, 0, 2])),
            ports: Some((5353, 53)),
            vlan: Some(7),
            payload_len: 48,
            ..crate::decode::PacketMeta::blank(&frame)
        };
        t.observe(&m);
        let mut records = t.finish();
        records[0].alerts = vec![3, 9];
        records[0].fill_community_id();
        let mut cells = vec![String::new(); FLOW_COLUMNS.len()];
        flow_cells(&records[0], &mut cells).unwrap();
        let v = serde_json::to_value(&records[0]).unwrap();
        for (i, col) in FLOW_COLUMNS.iter().enumerate() {
            let want = cell(&v[*col]);
            match (want.parse::<f64>(), cells[i].parse::<f64>()) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{col}"),
                _ => assert_eq!(cells[i], want, "{col}"),
            }
        }
        assert_eq!(cells[21], "3;9");
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
