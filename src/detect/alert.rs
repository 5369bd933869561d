//! One alert per incident: `new`, then rate-limited `update`s, then `end`.
//!
//! The fields are the NDJSON alert contract: scripts read them, so names and meanings
//! stay stable (new fields may be added).

use std::net::IpAddr;

use serde::Serialize;

use super::evidence::Evidence;
use crate::decode::Proto;
use crate::packet::Nanos;
use crate::units::epoch_secs;

/// Where an incident is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    /// First report of the incident.
    New,
    /// The incident goes on; figures updated.
    Update,
    /// Quiet for long enough: the incident is over.
    End,
}

/// How bad, from the evidence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth a look.
    Low,
    /// Likely hostile.
    Medium,
    /// Hostile and significant.
    High,
    /// Hostile and damaging.
    Critical,
}

/// What kind of incident.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// One source, many ports (or IP protocols) of one target.
    PortScan,
    /// One source, many hosts on one service.
    HostSweep,
    /// SYNs at one victim, mostly never completed.
    SynFlood,
    /// UDP at one victim over many flows, mostly unanswered.
    UdpFlood,
    /// ICMP at one victim.
    IcmpFlood,
    /// ICMPv6 at one victim.
    Icmpv6Flood,
    /// One protocol's packet rate far above its usual.
    RateSpike,
    /// A host unlike what the outlier model learned.
    Outlier,
}

impl AlertKind {
    /// Every kind.
    pub const ALL: [AlertKind; 8] = [
        AlertKind::PortScan,
        AlertKind::HostSweep,
        AlertKind::SynFlood,
        AlertKind::UdpFlood,
        AlertKind::IcmpFlood,
        AlertKind::Icmpv6Flood,
        AlertKind::RateSpike,
        AlertKind::Outlier,
    ];

    /// The contract's word for it (`port_scan`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            AlertKind::PortScan => "port_scan",
            AlertKind::HostSweep => "host_sweep",
            AlertKind::SynFlood => "syn_flood",
            AlertKind::UdpFlood => "udp_flood",
            AlertKind::IcmpFlood => "icmp_flood",
            AlertKind::Icmpv6Flood => "icmpv6_flood",
            AlertKind::RateSpike => "rate_spike",
            AlertKind::Outlier => "outlier",
        }
    }
}

impl PartialEq<&str> for AlertKind {
    fn eq(&self, word: &&str) -> bool {
        self.name() == *word
    }
}

impl PartialEq<&str> for AlertProto {
    fn eq(&self, word: &&str) -> bool {
        self.name() == *word
    }
}

impl std::fmt::Display for AlertKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

/// The protocol an alert is about: a protocol class, or `ip` for what spans them (IP
/// protocol scans, outlier hosts).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertProto {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// ICMP.
    Icmp,
    /// ICMPv6.
    Icmpv6,
    /// ARP.
    Arp,
    /// Anything else.
    Other,
    /// IP as a whole.
    Ip,
}

impl AlertProto {
    /// The contract's word for it (`tcp`, ..., `ip`).
    pub const fn name(self) -> &'static str {
        match self {
            AlertProto::Tcp => "tcp",
            AlertProto::Udp => "udp",
            AlertProto::Icmp => "icmp",
            AlertProto::Icmpv6 => "icmpv6",
            AlertProto::Arp => "arp",
            AlertProto::Other => "other",
            AlertProto::Ip => "ip",
        }
    }
}

impl From<Proto> for AlertProto {
    fn from(p: Proto) -> Self {
        match p {
            Proto::Tcp => AlertProto::Tcp,
            Proto::Udp => AlertProto::Udp,
            Proto::Icmp => AlertProto::Icmp,
            Proto::Icmpv6 => AlertProto::Icmpv6,
            Proto::Arp => AlertProto::Arp,
            Proto::Other => AlertProto::Other,
        }
    }
}

impl std::fmt::Display for AlertProto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

/// One incident, as last reported.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Alert {
    /// Incident id, unique within a run.
    pub id: u64,
    /// Lifecycle state of this report.
    pub state: AlertState,
    /// `port_scan`, `host_sweep`, `syn_flood`, `udp_flood`, `icmp_flood`, `icmpv6_flood`, `rate_spike`, `outlier`.
    pub kind: AlertKind,
    /// Severity from the evidence.
    pub severity: Severity,
    /// Packet time of this report (epoch seconds).
    #[serde(serialize_with = "ser_ts")]
    pub ts: Nanos,
    /// Packet time of the incident's first packet.
    #[serde(serialize_with = "ser_ts")]
    pub first_ts: Nanos,
    /// Packet time of its latest packet.
    #[serde(serialize_with = "ser_ts")]
    pub last_ts: Nanos,
    /// Attacker, if one address (null for spoofed floods).
    pub src: Option<IpAddr>,
    /// Victim, if one address (null for sweeps).
    pub dst: Option<IpAddr>,
    /// Protocol class or `ip` for IP-protocol scans.
    pub proto: AlertProto,
    /// The port, when one port is the point (sweeps of one service).
    pub port: Option<u16>,
    /// Packets in the incident so far.
    pub packets: u64,
    /// One human sentence.
    pub summary: String,
    /// Counts, distinct ports/hosts, rates, the thresholds crossed.
    pub evidence: Evidence,
}

impl Alert {
    /// A plain new `port_scan` report of incident `id` from `src` to `dst` over
    /// `first_ts..=last_ts`, for tests elsewhere to build on.
    #[cfg(test)]
    pub fn sample(id: u64, src: Option<IpAddr>, dst: Option<IpAddr>, first_ts: Nanos, last_ts: Nanos) -> Alert {
        Alert {
            id,
            state: AlertState::New,
            kind: AlertKind::PortScan,
            severity: Severity::Medium,
            ts: last_ts,
            first_ts,
            last_ts,
            src,
            dst,
            proto: AlertProto::Tcp,
            port: None,
            packets: 1,
            summary: String::new(),
            evidence: Evidence::default(),
        }
    }
}

fn ser_ts<S: serde::Serializer>(ts: &Nanos, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(epoch_secs(*ts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_to_the_contract() {
        let a = Alert {
            id: 7,
            state: AlertState::New,
            kind: AlertKind::PortScan,
            severity: Severity::High,
            ts: 1_500_000_000,
            first_ts: 1_000_000_000,
            last_ts: 1_500_000_000,
            src: Some("10.0.0.1".parse().unwrap()),
            dst: None,
            proto: AlertProto::Tcp,
            port: None,
            packets: 120,
            summary: "10.0.0.1 probed 100 ports".into(),
            evidence: Evidence::default(),
        };
        let v: serde_json::Value = serde_json::to_value(&a).unwrap();
        assert_eq!(v["state"], "new");
        assert_eq!(v["severity"], "high");
        assert_eq!(v["ts"], 1.5);
        assert_eq!(v["src"], "10.0.0.1");
        assert!(v["dst"].is_null() && v["port"].is_null());
        assert_eq!(
            (&v["kind"], &v["proto"], &v["evidence"]),
            (&"port_scan".into(), &"tcp".into(), &serde_json::json!({}))
        );
        for kind in AlertKind::ALL {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.name());
        }
        for p in Proto::ALL {
            assert_eq!(serde_json::to_value(AlertProto::from(p)).unwrap(), p.name());
        }
        assert_eq!(serde_json::to_value(AlertProto::Ip).unwrap(), "ip");
    }
}
