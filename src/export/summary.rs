//! The JSON summary: one object on stdout, a contract that scripts and tests read.
//!
//! Contract fields (names and meanings are stable; new fields may be added):
//! `packets`, `bytes` (sum of wire lengths), `first_ts`/`last_ts` (epoch seconds, float,
//! first and last packet in file order), `protocols` (`tcp`, `udp`, `icmp`, `icmpv6`,
//! `arp`, `other`, each `{packets, bytes}`; classes with no packets are left out),
//! `hosts` (`{ip, tx_packets, tx_bytes, rx_packets, rx_bytes}` by outermost IP, sorted by
//! tx+rx bytes descending then `ip` text ascending; `cluster` is the host's behaviour
//! cluster or null), `malformed`, `evicted`, `alerts`, `outliers` (the model's status).

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Serialize;

use crate::capture::KernelStats;
use crate::decode::Proto;
use crate::detect::Alert;
use crate::stats::{Counter, FlowKey, FlowStats, HostStats, Stats};

/// Facts about the run that are not packet counters.
#[derive(Clone, Debug, Default)]
pub struct RunInfo {
    /// Source name (file path, `stdin`, interface).
    pub source: String,
    /// BPF expression in force.
    pub filter: Option<String>,
    /// Frames read before the filter.
    pub frames_read: u64,
    /// Problems that ended reading early.
    pub warnings: Vec<String>,
    /// Live capture counters (none for files).
    pub capture: Option<CaptureJson>,
    /// Incidents the detectors reported (latest report of each, newest first).
    pub alerts: Vec<Alert>,
    /// The outlier detector's host clusters and model status, when it ran.
    pub outliers: Option<crate::detect::outlier::OutlierView>,
    /// Incidents reported in the run (`alerts` holds the latest of them).
    pub alerts_total: u64,
    /// The detectors' bounded structures, for `tables`.
    pub detect_tables: Vec<(&'static str, crate::stats::table::Fill)>,
    /// Each sink's drops and first error, by name.
    pub sinks: BTreeMap<&'static str, SinkJson>,
    /// Flow records ended and the connection table, when a sink took records.
    pub records: Option<(crate::records::RecordCounts, crate::stats::table::Fill)>,
}

/// Flow records ended in the run (the summary's `records`).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct RecordsJson {
    /// Every record.
    pub total: u64,
    /// By protocol class (classes without records are left out).
    pub protocols: BTreeMap<&'static str, u64>,
    /// By why they ended: `closed`, `reset`, `idle`, `evicted`, `capture_end`.
    pub ended: BTreeMap<&'static str, u64>,
}

impl RecordsJson {
    fn new(c: &crate::records::RecordCounts) -> Self {
        let protocols = Proto::ALL
            .iter()
            .filter(|p| c.by_proto[p.index()] > 0)
            .map(|p| (p.name(), c.by_proto[p.index()]))
            .collect();
        let ended = crate::records::EndReason::ALL.iter().zip(c.by_reason).map(|(r, n)| (r.name(), n)).collect();
        RecordsJson { total: c.total(), protocols, ended }
    }
}

/// What became of one sink (the summary's `sinks`).
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct SinkJson {
    /// Messages dropped because the sink's queue was full (live captures only).
    pub dropped: u64,
    /// The sink's first error, if it failed (it got nothing more after it).
    pub error: Option<String>,
    /// Delivery sinks (mail, webhook, syslog): messages delivered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sent: Option<u64>,
    /// Delivery sinks: messages given up on after their retries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<u64>,
    /// Delivery sinks: the latest failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_failure: Option<String>,
}

/// Live capture counters: what the kernel saw and what was lost where.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct CaptureJson {
    /// Device captured on.
    pub device: String,
    /// Packets the kernel delivered to the capture.
    pub received: u64,
    /// Dropped by the kernel: the capture buffer was full.
    pub dropped_kernel: u64,
    /// Dropped by the interface or its driver.
    pub dropped_interface: u64,
    /// Dropped by our own rings, per stage: `stats`, decoded packets the counting thread
    /// could not take in time; `detector`, packets the detectors missed by lagging.
    pub dropped_ring: BTreeMap<&'static str, u64>,
}

impl CaptureJson {
    /// Counters of a finished (or running) live capture.
    pub fn new(device: &str, kernel: KernelStats, dropped_stats: u64, dropped_detector: u64) -> Self {
        CaptureJson {
            device: device.to_string(),
            received: kernel.received,
            dropped_kernel: kernel.dropped_kernel,
            dropped_interface: kernel.dropped_interface,
            dropped_ring: BTreeMap::from([("stats", dropped_stats), ("detector", dropped_detector)]),
        }
    }
}

/// The summary object.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// Source name.
    pub source: String,
    /// BPF expression, if any.
    pub filter: Option<String>,
    /// Packets counted (after the filter).
    pub packets: u64,
    /// Sum of wire lengths.
    pub bytes: u64,
    /// Sum of captured lengths.
    pub captured_bytes: u64,
    /// First packet time, epoch seconds.
    pub first_ts: Option<f64>,
    /// Last packet time, epoch seconds.
    pub last_ts: Option<f64>,
    /// Seconds from the earliest to the latest packet.
    pub duration: f64,
    /// Mean packets per second over `duration`.
    pub pps: f64,
    /// Mean bits per second over `duration`.
    pub bps: f64,
    /// Per protocol class.
    pub protocols: BTreeMap<&'static str, CounterJson>,
    /// Top hosts (`--top`).
    pub hosts: Vec<HostJson>,
    /// Number of hosts tracked (the `hosts` array may be cut by `--top`).
    pub hosts_total: usize,
    /// Top flows (`--top`).
    pub flows: Vec<FlowJson>,
    /// Number of flows tracked.
    pub flows_total: usize,
    /// Packet-size distribution (wire length).
    pub sizes: SizesJson,
    /// Packets per link type.
    pub link_types: BTreeMap<String, u64>,
    /// Frames read before the filter.
    pub frames_read: u64,
    /// Packets with headers that made no sense.
    pub malformed: u64,
    /// Packets cut short by the snap length.
    pub truncated: u64,
    /// Table entries evicted to respect the caps (hosts + flows).
    pub evicted: u64,
    /// Size, cap and evictions of each table.
    pub tables: BTreeMap<&'static str, TableJson>,
    /// Problems that ended reading early.
    pub warnings: Vec<String>,
    /// Alerts raised (one entry per incident: its latest report; all open incidents and
    /// the latest ended ones, see `tables.incidents`).
    pub alerts: Vec<Alert>,
    /// Incidents reported in the run, including ended ones no longer listed.
    pub alerts_total: u64,
    /// Each sink's drops and first error (`alerts` for `--alerts`).
    pub sinks: BTreeMap<&'static str, SinkJson>,
    /// Live capture counters; `null` for files.
    pub capture: Option<CaptureJson>,
    /// The outlier model's status (`state`, `learned_from`, `trained_on`, `threshold`,
    /// `clusters`, `train_ms`, `trainings`, `error`); `null` when the detector did not run.
    pub outliers: Option<crate::detect::outlier::OutlierStatus>,
    /// Flow records ended (`total`, `protocols`, `ended` by reason); `null` when no sink
    /// took records.
    pub records: Option<RecordsJson>,
}

/// `{packets, bytes}`.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
pub struct CounterJson {
    /// Packets.
    pub packets: u64,
    /// Bytes.
    pub bytes: u64,
}

impl From<Counter> for CounterJson {
    fn from(c: Counter) -> Self {
        CounterJson { packets: c.packets, bytes: c.bytes }
    }
}

/// One host.
#[derive(Clone, Debug, Serialize)]
pub struct HostJson {
    /// Address.
    pub ip: String,
    /// Packets sent.
    pub tx_packets: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Packets received.
    pub rx_packets: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// First packet time, epoch seconds.
    pub first_ts: f64,
    /// Latest packet time, epoch seconds.
    pub last_ts: f64,
    /// Behaviour cluster of the host's latest scored window (null before the outlier
    /// model is trained, for hosts never scored, or with --no-outliers).
    pub cluster: Option<u8>,
}

impl HostJson {
    fn new(ip: IpAddr, h: &HostStats, cluster: Option<u8>) -> Self {
        HostJson {
            cluster,
            ip: ip.to_string(),
            tx_packets: h.tx().packets,
            tx_bytes: h.tx().bytes,
            rx_packets: h.rx().packets,
            rx_bytes: h.rx().bytes,
            first_ts: epoch_secs(h.first_seen),
            last_ts: epoch_secs(h.last_seen),
        }
    }
}

/// One flow.
#[derive(Clone, Debug, Serialize)]
pub struct FlowJson {
    /// Protocol class name.
    pub proto: &'static str,
    /// IP protocol number.
    pub ip_proto: u8,
    /// Lower endpoint address.
    pub a: String,
    /// Lower endpoint port (0 when the protocol has none).
    pub a_port: u16,
    /// Higher endpoint address.
    pub b: String,
    /// Higher endpoint port.
    pub b_port: u16,
    /// Packets from a to b.
    pub a_to_b_packets: u64,
    /// Bytes from a to b.
    pub a_to_b_bytes: u64,
    /// Packets from b to a.
    pub b_to_a_packets: u64,
    /// Bytes from b to a.
    pub b_to_a_bytes: u64,
    /// First packet time.
    pub first_ts: f64,
    /// Latest packet time.
    pub last_ts: f64,
    /// TCP state word (`null` for other protocols).
    pub tcp_state: Option<&'static str>,
}

impl FlowJson {
    fn new(k: &FlowKey, f: &FlowStats) -> Self {
        FlowJson {
            proto: Proto::from_ip_number(k.proto).name(),
            ip_proto: k.proto,
            a: k.a.0.to_string(),
            a_port: k.a.1,
            b: k.b.0.to_string(),
            b_port: k.b.1,
            a_to_b_packets: f.a_to_b.packets,
            a_to_b_bytes: f.a_to_b.bytes,
            b_to_a_packets: f.b_to_a.packets,
            b_to_a_bytes: f.b_to_a.bytes,
            first_ts: epoch_secs(f.first_ts),
            last_ts: epoch_secs(f.last_ts),
            tcp_state: (k.proto == 6).then(|| f.tcp.state()),
        }
    }
}

/// Packet-size figures in bytes.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct SizesJson {
    /// Smallest.
    pub min: u64,
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Largest.
    pub max: u64,
}

/// A table's occupancy.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct TableJson {
    /// Entries held now.
    pub len: usize,
    /// Most entries held at once.
    pub cap: usize,
    /// Entries evicted.
    pub evicted: u64,
}

pub use crate::units::epoch_secs;

impl Summary {
    /// Builds the summary of `stats`, with `top` hosts and flows (`0` = all).
    pub fn new(stats: &Stats, info: &RunInfo, top: usize) -> Self {
        let duration = stats.duration_secs();
        let rate = |x: f64| if duration > 0.0 { x / duration } else { 0.0 };
        let protocols = Proto::ALL
            .iter()
            .filter(|p| stats.protocol(**p).packets > 0)
            .map(|p| (p.name(), stats.protocol(*p).into()))
            .collect();
        let (min, max, mean) = stats.sizes.min_max_mean();
        let mut link_types = BTreeMap::new();
        for (lt, n) in &stats.link_types {
            *link_types.entry(lt.to_string()).or_insert(0) += n;
        }
        let mut tables = BTreeMap::from([
            ("hosts", TableJson { len: stats.hosts.len(), cap: stats.hosts.cap(), evicted: stats.hosts.evicted() }),
            ("flows", TableJson { len: stats.flows.len(), cap: stats.flows.cap(), evicted: stats.flows.evicted() }),
        ]);
        for (name, f) in &info.detect_tables {
            tables.insert(name, TableJson { len: f.len, cap: f.cap, evicted: f.evicted });
        }
        if let Some((_, f)) = &info.records {
            tables.insert("connections", TableJson { len: f.len, cap: f.cap, evicted: f.evicted });
        }
        Summary {
            source: info.source.clone(),
            filter: info.filter.clone(),
            packets: stats.totals.packets,
            bytes: stats.totals.bytes,
            captured_bytes: stats.captured_bytes,
            first_ts: stats.first_ts.map(epoch_secs),
            last_ts: stats.last_ts.map(epoch_secs),
            duration,
            pps: rate(stats.totals.packets as f64),
            bps: rate(stats.totals.bytes as f64 * 8.0),
            protocols,
            hosts: stats
                .hosts
                .top(top)
                .iter()
                .map(|(ip, h)| {
                    let cluster = info.outliers.as_ref().and_then(|o| o.clusters.get(ip).copied());
                    HostJson::new(*ip, h, cluster)
                })
                .collect(),
            hosts_total: stats.hosts.len(),
            flows: stats.flows.top(top).iter().map(|(k, f)| FlowJson::new(k, f)).collect(),
            flows_total: stats.flows.len(),
            sizes: SizesJson {
                min,
                mean,
                p50: stats.sizes.percentile(50.0),
                p90: stats.sizes.percentile(90.0),
                p99: stats.sizes.percentile(99.0),
                max,
            },
            link_types,
            frames_read: info.frames_read,
            malformed: stats.malformed,
            truncated: stats.truncated,
            evicted: stats.hosts.evicted() + stats.flows.evicted(),
            tables,
            warnings: info.warnings.clone(),
            alerts: info.alerts.clone(),
            alerts_total: info.alerts_total.max(info.alerts.len() as u64),
            sinks: info.sinks.clone(),
            capture: info.capture.clone(),
            outliers: info.outliers.as_ref().map(|o| o.status.clone()),
            records: info.records.as_ref().map(|(c, _)| RecordsJson::new(c)),
        }
    }

    /// The summary as one line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("summary serialises: only plain data")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_secs_keeps_microseconds() {
        let ts = 1_170_365_864_256_918_000;
        assert_eq!(epoch_secs(ts).to_string(), "1170365864.256918");
        assert!((epoch_secs(-1) + 1e-9).abs() < 1e-12);
    }
}
