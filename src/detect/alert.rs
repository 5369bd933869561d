//! One alert per incident: `new`, then rate-limited `update`s, then `end`.
//!
//! The fields are the NDJSON alert contract: scripts read them, so names and meanings
//! stay stable (new fields may be added).

use std::net::IpAddr;

use serde::Serialize;

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

/// One incident, as last reported.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Alert {
    /// Incident id, unique within a run.
    pub id: u64,
    /// Lifecycle state of this report.
    pub state: AlertState,
    /// `port_scan`, `host_sweep`, `syn_flood`, `udp_flood`, `icmp_flood`, `icmpv6_flood`, `rate_spike`, `outlier`.
    pub kind: &'static str,
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
    pub proto: &'static str,
    /// The port, when one port is the point (sweeps of one service).
    pub port: Option<u16>,
    /// Packets in the incident so far.
    pub packets: u64,
    /// One human sentence.
    pub summary: String,
    /// Counts, distinct ports/hosts, rates, the thresholds crossed.
    pub evidence: serde_json::Value,
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
            kind: "port_scan",
            severity: Severity::High,
            ts: 1_500_000_000,
            first_ts: 1_000_000_000,
            last_ts: 1_500_000_000,
            src: Some("10.0.0.1".parse().unwrap()),
            dst: None,
            proto: "tcp",
            port: None,
            packets: 120,
            summary: "10.0.0.1 probed 100 ports".into(),
            evidence: serde_json::json!({"distinct_ports": 100}),
        };
        let v: serde_json::Value = serde_json::to_value(&a).unwrap();
        assert_eq!(v["state"], "new");
        assert_eq!(v["severity"], "high");
        assert_eq!(v["ts"], 1.5);
        assert_eq!(v["src"], "10.0.0.1");
        assert!(v["dst"].is_null() && v["port"].is_null());
    }
}
