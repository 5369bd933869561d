//! `--ecs FILE|-` and `--eve FILE|-`: alerts, flow records and statistics as NDJSON, in
//! the shapes Elastic Common Schema (8.x) and Suricata's EVE JSON give them, so that
//! Filebeat, Vector, Elasticsearch, OpenSearch and the jq recipes written for Suricata
//! read them with no custom parsing. ntop-rs's own figures ride along under `ntop_rs`.
//!
//! Statistics come once a minute of packet time (ECS: that minute's figures, as a
//! `metric`; EVE: the running totals, as Suricata's `stats` are), the last when the run
//! ends.

use std::io::Write;
use std::net::IpAddr;

use serde::Serialize;
use serde_json::{Value, json};

use crate::decode::Proto;
use crate::detect::{Alert, Severity};
use crate::packet::{NANOS_PER_SEC, Nanos};
use crate::pipeline::Sink;
use crate::pipeline::minutes::{MINUTE, Minute, seen};
use crate::records::FlowRecord;
use crate::stats::Counter;
use crate::units::{IpText, Stamp};

/// The ECS version the events follow.
pub const ECS_VERSION: &str = "8.11.0";

/// Which shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Elastic Common Schema.
    Ecs,
    /// Suricata's EVE JSON.
    Eve,
}

/// The `--ecs` or `--eve` sink.
pub struct EventSink {
    format: Format,
    out: Box<dyn Write + Send>,
    hostname: String,
    /// Running totals, from the minutes so far.
    totals: [Counter; Proto::COUNT],
    first_ts: Option<Nanos>,
    line: Vec<u8>,
}

/// This machine's name (`observer.hostname`, EVE's `host`; empty if it has none).
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most `buf.len()` bytes into the buffer we own.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    if ok { String::from_utf8_lossy(&buf[..end]).into_owned() } else { String::new() }
}

fn observer(hostname: &str) -> EcsObserver<'_> {
    EcsObserver { hostname, kind: "ids", vendor: "ntop-rs", product: "ntop-rs" }
}

/// Appends one event to `out` through the reused buffer `line` (flushed by the caller).
fn emit(line: &mut Vec<u8>, out: &mut Box<dyn Write + Send>, event: &impl Serialize) -> Result<(), String> {
    line.clear();
    serde_json::to_writer(&mut *line, event).map_err(|e| e.to_string())?;
    line.push(b'\n');
    out.write_all(line).map_err(|e| crate::files::io_reason(&e))
}

/// A stable 53-bit id of a flow (FNV-1a of its 5-tuple and start), so EVE's `flow_id`
/// is the same for the same record in every run, and exact in any JSON reader.
fn flow_id(r: &FlowRecord) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    };
    for (ip, port) in [(r.orig, r.orig_port), (r.resp, r.resp_port)] {
        match ip {
            IpAddr::V4(a) => eat(&a.octets()),
            IpAddr::V6(a) => eat(&a.octets()),
        }
        eat(&port.unwrap_or(0).to_be_bytes());
    }
    eat(&[r.ip_proto]);
    eat(&r.start.to_be_bytes());
    h & ((1 << 53) - 1)
}

/// Suricata's protocol names.
fn eve_proto(ip_proto: u8) -> String {
    match ip_proto {
        6 => "TCP".into(),
        17 => "UDP".into(),
        1 => "ICMP".into(),
        58 => "IPv6-ICMP".into(),
        132 => "SCTP".into(),
        n => format!("{n}"),
    }
}

/// Suricata's name of an alert's protocol.
fn eve_alert_proto(p: crate::detect::AlertProto) -> &'static str {
    use crate::detect::AlertProto::*;
    match p {
        Tcp => "TCP",
        Udp => "UDP",
        Icmp => "ICMP",
        Icmpv6 => "IPv6-ICMP",
        Arp => "ARP",
        Other | Ip => "IP",
    }
}

/// The signature id of each alert kind (ntop-rs's own range).
fn signature_id(kind: crate::detect::AlertKind) -> u64 {
    use crate::detect::AlertKind::*;
    9_100_000
        + match kind {
            PortScan => 1,
            HostSweep => 2,
            SynFlood => 3,
            UdpFlood => 4,
            IcmpFlood => 5,
            Icmpv6Flood => 6,
            RateSpike => 7,
            Outlier => 8,
        }
}

/// Suricata's classification of each kind.
fn category(kind: crate::detect::AlertKind) -> &'static str {
    use crate::detect::AlertKind::*;
    match kind {
        PortScan | HostSweep => "Attempted Information Leak",
        SynFlood | UdpFlood | IcmpFlood | Icmpv6Flood => "Attempted Denial of Service",
        RateSpike => "Potentially Bad Traffic",
        Outlier => "Misc activity",
    }
}

/// Suricata's severity (1 is the most severe) and ECS's `event.severity` (higher is
/// more severe).
fn severities(s: Severity) -> (u8, u8) {
    match s {
        Severity::Critical => (1, 4),
        Severity::High => (1, 3),
        Severity::Medium => (2, 2),
        Severity::Low => (3, 1),
    }
}

fn network_type(ip: IpAddr) -> &'static str {
    if ip.is_ipv4() { "ipv4" } else { "ipv6" }
}

/// ntop-rs's own figures of a record (under `ntop_rs` in both shapes).
#[derive(Serialize)]
struct Extras<'a> {
    conn_state: &'a str,
    history: &'a str,
    end_reason: &'a str,
    initiator_known: bool,
    alerts: &'a [u64],
    orig_payload_bytes: u64,
    resp_payload_bytes: u64,
}

impl<'a> Extras<'a> {
    fn of(r: &'a FlowRecord) -> Self {
        Extras {
            conn_state: r.conn_state,
            history: &r.history,
            end_reason: r.end_reason.name(),
            initiator_known: r.initiator_known,
            alerts: &r.alerts,
            orig_payload_bytes: r.orig_payload_bytes,
            resp_payload_bytes: r.resp_payload_bytes,
        }
    }
}

#[derive(Serialize)]
struct EveFlowFigures {
    pkts_toserver: u64,
    pkts_toclient: u64,
    bytes_toserver: u64,
    bytes_toclient: u64,
    start: Stamp,
    end: Stamp,
    age: u64,
    state: &'static str,
    reason: &'static str,
    alerted: bool,
}

#[derive(Serialize)]
struct EveFlow<'a> {
    timestamp: Stamp,
    flow_id: u64,
    event_type: &'static str,
    host: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    vlan: Option<[u16; 1]>,
    src_ip: IpText,
    #[serde(skip_serializing_if = "Option::is_none")]
    src_port: Option<u16>,
    dest_ip: IpText,
    #[serde(skip_serializing_if = "Option::is_none")]
    dest_port: Option<u16>,
    proto: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    icmp_type: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    icmp_code: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    community_id: Option<&'a str>,
    flow: EveFlowFigures,
    ntop_rs: Extras<'a>,
}

#[derive(Serialize)]
struct EcsEndpoint {
    ip: IpText,
    #[serde(skip_serializing_if = "Option::is_none")]
    port: Option<u16>,
    bytes: u64,
    packets: u64,
}

#[derive(Serialize)]
struct EcsVlan {
    id: String,
}

#[derive(Serialize)]
struct EcsNetwork<'a> {
    transport: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    iana_number: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    community_id: Option<&'a str>,
    bytes: u64,
    packets: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    vlan: Option<EcsVlan>,
}

#[derive(Serialize)]
struct EcsEvent {
    kind: &'static str,
    category: [&'static str; 1],
    #[serde(rename = "type")]
    types: [&'static str; 2],
    start: Stamp,
    end: Stamp,
    duration: i64,
    dataset: &'static str,
    module: &'static str,
}

#[derive(Serialize)]
struct EcsObserver<'a> {
    hostname: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    vendor: &'static str,
    product: &'static str,
}

#[derive(Serialize)]
struct EcsVersion {
    version: &'static str,
}

#[derive(Serialize)]
struct EcsFlow<'a> {
    #[serde(rename = "@timestamp")]
    timestamp: Stamp,
    ecs: EcsVersion,
    event: EcsEvent,
    source: EcsEndpoint,
    destination: EcsEndpoint,
    network: EcsNetwork<'a>,
    observer: EcsObserver<'a>,
    ntop_rs: Extras<'a>,
}

impl EventSink {
    /// Writes events of `format` to `out`.
    pub fn new(format: Format, out: Box<dyn Write + Send>) -> EventSink {
        EventSink {
            format,
            out,
            hostname: hostname(),
            totals: [Counter::default(); Proto::COUNT],
            first_ts: None,
            line: Vec::with_capacity(1024),
        }
    }

    fn emit(&mut self, event: &impl Serialize) -> Result<(), String> {
        emit(&mut self.line, &mut self.out, event)
    }

    fn flush(&mut self) -> Result<(), String> {
        self.out.flush().map_err(|e| crate::files::io_reason(&e))
    }

    fn flow_event(&mut self, r: &FlowRecord) -> Result<(), String> {
        match self.format {
            Format::Eve => {
                let icmp = matches!(r.ip_proto, 1 | 58).then_some(r.icmp).flatten();
                let (state, reason) = match r.end_reason {
                    crate::records::EndReason::Closed | crate::records::EndReason::Reset => ("closed", "timeout"),
                    crate::records::EndReason::Idle if r.resp_packets == 0 => ("new", "timeout"),
                    crate::records::EndReason::Idle => ("established", "timeout"),
                    crate::records::EndReason::Evicted => ("established", "forced"),
                    crate::records::EndReason::CaptureEnd => ("established", "shutdown"),
                };
                let event = EveFlow {
                    timestamp: Stamp::new(r.end, "+0000"),
                    flow_id: flow_id(r),
                    event_type: "flow",
                    host: &self.hostname,
                    vlan: r.vlan.map(|v| [v]),
                    src_ip: IpText::new(r.orig),
                    src_port: r.orig_port,
                    dest_ip: IpText::new(r.resp),
                    dest_port: r.resp_port,
                    proto: eve_proto(r.ip_proto),
                    icmp_type: icmp.map(|i| i.0),
                    icmp_code: icmp.map(|i| i.1),
                    community_id: r.community_id.as_deref(),
                    flow: EveFlowFigures {
                        pkts_toserver: r.orig_packets,
                        pkts_toclient: r.resp_packets,
                        bytes_toserver: r.orig_bytes,
                        bytes_toclient: r.resp_bytes,
                        start: Stamp::new(r.start, "+0000"),
                        end: Stamp::new(r.end, "+0000"),
                        age: ((r.end - r.start) / NANOS_PER_SEC).max(0) as u64,
                        state,
                        reason,
                        alerted: !r.alerts.is_empty(),
                    },
                    ntop_rs: Extras::of(r),
                };
                emit(&mut self.line, &mut self.out, &event)
            }
            Format::Ecs => {
                let event = EcsFlow {
                    timestamp: Stamp::new(r.end, "Z"),
                    ecs: EcsVersion { version: ECS_VERSION },
                    event: EcsEvent {
                        kind: "event",
                        category: ["network"],
                        types: ["connection", "end"],
                        start: Stamp::new(r.start, "Z"),
                        end: Stamp::new(r.end, "Z"),
                        duration: r.end - r.start,
                        dataset: "ntop_rs.flow",
                        module: "ntop_rs",
                    },
                    source: EcsEndpoint {
                        ip: IpText::new(r.orig),
                        port: r.orig_port,
                        bytes: r.orig_bytes,
                        packets: r.orig_packets,
                    },
                    destination: EcsEndpoint {
                        ip: IpText::new(r.resp),
                        port: r.resp_port,
                        bytes: r.resp_bytes,
                        packets: r.resp_packets,
                    },
                    network: EcsNetwork {
                        transport: if r.proto == "other" { "ip" } else { r.proto },
                        kind: network_type(r.orig),
                        iana_number: r.ip_proto.to_string(),
                        community_id: r.community_id.as_deref(),
                        bytes: r.orig_bytes + r.resp_bytes,
                        packets: r.orig_packets + r.resp_packets,
                        vlan: r.vlan.map(|v| EcsVlan { id: v.to_string() }),
                    },
                    observer: observer(&self.hostname),
                    ntop_rs: Extras::of(r),
                };
                emit(&mut self.line, &mut self.out, &event)
            }
        }
    }

    fn alert_event(&mut self, a: &Alert) -> Result<(), String> {
        let full = serde_json::to_value(a).map_err(|e| e.to_string())?;
        let (eve_severity, ecs_severity) = severities(a.severity);
        let sid = signature_id(a.kind);
        let event = match self.format {
            Format::Eve => {
                let mut e = json!({
                    "timestamp": Stamp::new(a.ts, "+0000"),
                    "flow_id": a.id,
                    "event_type": "alert",
                    "host": self.hostname,
                    "proto": eve_alert_proto(a.proto),
                    "alert": {
                        "action": "allowed",
                        "gid": 1,
                        "signature_id": sid,
                        "rev": 1,
                        "signature": format!("NTOP-RS {}: {}", a.kind, a.summary),
                        "category": category(a.kind),
                        "severity": eve_severity,
                    },
                    "ntop_rs": full,
                });
                let obj = e.as_object_mut().expect("an object");
                if let Some(src) = a.src {
                    obj.insert("src_ip".into(), json!(src));
                }
                if let Some(dst) = a.dst {
                    obj.insert("dest_ip".into(), json!(dst));
                }
                if let Some(port) = a.port {
                    obj.insert("dest_port".into(), json!(port));
                }
                e
            }
            Format::Ecs => {
                let mut e = json!({
                    "@timestamp": Stamp::new(a.ts, "Z"),
                    "ecs": {"version": ECS_VERSION},
                    "message": a.summary,
                    "event": {
                        "kind": "alert",
                        "category": ["network", "intrusion_detection"],
                        "type": ["info"],
                        "severity": ecs_severity,
                        "start": Stamp::new(a.first_ts, "Z"),
                        "end": Stamp::new(a.last_ts, "Z"),
                        "dataset": "ntop_rs.alert",
                        "module": "ntop_rs",
                    },
                    "rule": {"name": a.kind.to_string(), "id": sid.to_string(), "category": category(a.kind)},
                    "observer": observer(&self.hostname),
                    "ntop_rs": full,
                });
                let obj = e.as_object_mut().expect("an object");
                if let Some(src) = a.src {
                    obj.insert("source".into(), json!({"ip": src}));
                }
                if a.dst.is_some() || a.port.is_some() {
                    let mut d = serde_json::Map::new();
                    if let Some(dst) = a.dst {
                        d.insert("ip".into(), json!(dst));
                    }
                    if let Some(port) = a.port {
                        d.insert("port".into(), json!(port));
                    }
                    obj.insert("destination".into(), Value::Object(d));
                }
                e
            }
        };
        self.emit(&event)
    }

    /// The statistics event of a closed minute.
    fn stats_event(&mut self, m: &Minute) -> Result<(), String> {
        for (t, c) in self.totals.iter_mut().zip(&m.protocols) {
            *t = *t + *c;
        }
        let (totals, (hosts, flows)) = (&self.totals, m.tracked);
        let sum = |c: &[Counter; Proto::COUNT]| c.iter().copied().sum::<Counter>();
        let by_proto = |c: &[Counter; Proto::COUNT]| {
            seen(c)
                .map(|(p, c)| (p.name().to_string(), json!({"packets": c.packets, "bytes": c.bytes})))
                .collect::<serde_json::Map<String, Value>>()
        };
        let end = m.start + MINUTE;
        let event = match self.format {
            Format::Eve => {
                let uptime = self.first_ts.map_or(0, |f| ((end - f) / NANOS_PER_SEC).max(0));
                let t = sum(totals);
                json!({
                    "timestamp": Stamp::new(end, "+0000"),
                    "event_type": "stats",
                    "host": self.hostname,
                    "stats": {
                        "uptime": uptime,
                        "decoder": {
                            "pkts": t.packets,
                            "bytes": t.bytes,
                            "tcp": totals[Proto::Tcp.index()].packets,
                            "udp": totals[Proto::Udp.index()].packets,
                            "icmpv4": totals[Proto::Icmp.index()].packets,
                            "icmpv6": totals[Proto::Icmpv6.index()].packets,
                            "arp": totals[Proto::Arp.index()].packets,
                        },
                        "flow": {"active": flows},
                    },
                    "ntop_rs": {"protocols": by_proto(totals), "hosts": hosts, "flows": flows},
                })
            }
            Format::Ecs => {
                let minute = sum(&m.protocols);
                json!({
                    "@timestamp": Stamp::new(m.start, "Z"),
                    "ecs": {"version": ECS_VERSION},
                    "event": {
                        "kind": "metric",
                        "category": ["network"],
                        "type": ["info"],
                        "start": Stamp::new(m.start, "Z"),
                        "end": Stamp::new(end, "Z"),
                        "duration": MINUTE,
                        "dataset": "ntop_rs.stats",
                        "module": "ntop_rs",
                    },
                    "network": {"packets": minute.packets, "bytes": minute.bytes},
                    "observer": observer(&self.hostname),
                    "ntop_rs": {"protocols": by_proto(&m.protocols), "hosts": hosts, "flows": flows},
                })
            }
        };
        self.emit(&event)
    }
}

impl Sink for EventSink {
    fn name(&self) -> &'static str {
        match self.format {
            Format::Ecs => "ecs",
            Format::Eve => "eve",
        }
    }

    fn wants_flows(&self) -> bool {
        true
    }

    fn alert(&mut self, report: &Alert) -> Result<(), String> {
        self.alert_event(report)?;
        self.flush()
    }

    fn flows(&mut self, records: &[FlowRecord]) -> Result<(), String> {
        for r in records {
            self.flow_event(r)?;
        }
        self.flush()
    }

    fn wants_snapshots(&self) -> bool {
        false // a stats event's table figures come with its minute
    }

    fn wants_minutes(&self) -> bool {
        true
    }

    fn minute(&mut self, m: &Minute) -> Result<(), String> {
        self.first_ts.get_or_insert(m.start);
        self.stats_event(m)?;
        self.flush()
    }

    fn finish(&mut self, _summary: &Value) -> Result<(), String> {
        self.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_ids_are_stable_and_53_bits() {
        let mut t = crate::records::Tracker::new(crate::records::RecordConfig::default());
        let frame =
            crate::packet::Frame { ts: 5, linktype: crate::packet::LinkType::ETHERNET, data: &[], orig_len: 60 };
        let m = crate::decode::PacketMeta {
            ip_proto: Some(17),
            proto: Proto::Udp,
            src: Some(IpAddr::from([10, 0, 0, 1])),
            dst: Some(IpAddr::from([10, 0, 0, 2])),
            ports: Some((1000, 53)),
            ..crate::decode::PacketMeta::blank(&frame)
        };
        t.observe(&m);
        let r = t.finish().remove(0);
        assert_eq!(flow_id(&r), flow_id(&r.clone()));
        assert!(flow_id(&r) < 1 << 53);
        let mut other = r.clone();
        other.start += 1;
        assert_ne!(flow_id(&r), flow_id(&other));
    }
}
