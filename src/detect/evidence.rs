//! What an alert's evidence says: one typed struct per detector.
//!
//! The NDJSON contract is the JSON object these make: each struct's fields are its keys,
//! written in alphabetical order (as the evidence has always been written), and the alert
//! stage adds `pcap` (or `pcap_error`) once it has written (or failed to write) the
//! incident's pcap. New fields may be added; none is renamed.

use std::net::IpAddr;

use serde::{Serialize, Serializer};

/// An alert's figures, and what became of its pcap.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Evidence {
    /// The detector's figures.
    pub figures: Figures,
    /// The incident's pcap, once written (`--dump-alerts`).
    pub pcap: Option<String>,
    /// Why it could not be written.
    pub pcap_error: Option<String>,
    /// Alerts of other hosts folded into this incident (the incident layer's, see
    /// [`Folded`]): written as `folded` when there are any.
    pub folded: Option<Folded>,
    /// On the end of an outlier incident that a scan or flood of the same host took over:
    /// that incident's id (written as `explained_by`).
    pub explained_by: Option<u64>,
}

/// Reports of other incidents that this one stands for: the spoofed sources of a flood
/// that the outlier detector found odd, or many hosts raising the same alert alike.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Folded {
    /// Alerts this incident stands for, one per host and kind (for hosts alike, the
    /// first few that were reported on their own too).
    pub alerts: u64,
    /// Their kinds, in contract words, sorted.
    pub kinds: Vec<super::AlertKind>,
    /// The first few hosts folded in.
    pub sample_hosts: Vec<IpAddr>,
    /// The first few ports folded in (a sweeper's other services), when there are any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sample_ports: Vec<u16>,
    /// Forged or contradicting answers the folded scans and sweeps counted, when any.
    #[serde(skip_serializing_if = "is_zero")]
    pub forged_answers: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Hosts a [`Folded`] sample keeps.
pub const FOLDED_SAMPLE: usize = 10;

impl Folded {
    /// Counts one more folded alert of `kind` about `host`.
    pub fn add(&mut self, kind: super::AlertKind, host: Option<IpAddr>) {
        self.alerts += 1;
        self.note_kind(kind);
        if let Some(h) = host {
            sample(&mut self.sample_hosts, h);
        }
    }

    /// Counts one more folded alert of `kind` about `port` (a sweep of another service).
    pub fn add_port(&mut self, kind: super::AlertKind, port: u16) {
        self.add(kind, None);
        sample(&mut self.sample_ports, port);
    }

    /// Adds what `other` counted.
    pub fn merge(&mut self, other: &Folded) {
        self.alerts += other.alerts;
        self.forged_answers += other.forged_answers;
        for &k in &other.kinds {
            self.note_kind(k);
        }
        for &h in &other.sample_hosts {
            sample(&mut self.sample_hosts, h);
        }
        for &p in &other.sample_ports {
            sample(&mut self.sample_ports, p);
        }
    }

    /// `kind` among the kinds (kept sorted).
    fn note_kind(&mut self, kind: super::AlertKind) {
        if let Err(at) = self.kinds.binary_search(&kind) {
            self.kinds.insert(at, kind);
        }
    }
}

/// Keeps `x` in a sample of at most [`FOLDED_SAMPLE`] distinct items.
fn sample<T: PartialEq>(items: &mut Vec<T>, x: T) {
    if items.len() < FOLDED_SAMPLE && !items.contains(&x) {
        items.push(x);
    }
}

impl Figures {
    /// A scan's or sweep's tally figures.
    pub fn tally(&self) -> Option<&TallyFigures> {
        match self {
            Figures::PortScan(f) => Some(&f.tally),
            Figures::HostSweep(f) => Some(&f.tally),
            _ => None,
        }
    }
}

/// The figures behind one kind of alert.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Figures {
    /// Nothing yet (an incident being opened, a test).
    #[default]
    None,
    /// `port_scan`.
    PortScan(PortScanFigures),
    /// `host_sweep`.
    HostSweep(HostSweepFigures),
    /// `syn_flood`, `udp_flood`, `icmp_flood`, `icmpv6_flood`.
    Flood(FloodFigures),
    /// `rate_spike`.
    RateSpike(RateSpikeFigures),
    /// `outlier`.
    Outlier(OutlierFigures),
}

/// Which threshold a scan or sweep crossed.
/// How a failed probe was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Technique {
    /// A TCP SYN (SYN and connect scans: on closed ports they are the same packets).
    Syn,
    /// TCP FIN only.
    Fin,
    /// TCP with no flags.
    Null,
    /// TCP FIN, PSH and URG.
    Xmas,
    /// TCP ACK only.
    Ack,
    /// TCP FIN and ACK.
    Maimon,
    /// Any other TCP flags no connection sends.
    OddFlags,
    /// A UDP datagram.
    Udp,
    /// An IP protocol number.
    IpProtocol,
    /// ICMP echo requests.
    IcmpEcho,
    /// ICMPv6 echo requests.
    Icmpv6Echo,
    /// ARP who-has.
    Arp,
    /// ICMPv6 neighbor solicitations (NDP, IPv6's ARP: `nmap -6 -sn` on a link).
    Nd,
}

impl Technique {
    /// The technique of a TCP probe by its flags.
    pub fn of_tcp(flags: u8) -> Technique {
        const FIN: u8 = 0x01;
        const SYN: u8 = 0x02;
        const PSH: u8 = 0x08;
        const ACK: u8 = 0x10;
        const URG: u8 = 0x20;
        match flags & 0x3f {
            SYN => Technique::Syn,
            FIN => Technique::Fin,
            0 => Technique::Null,
            f if f == FIN | PSH | URG => Technique::Xmas,
            ACK => Technique::Ack,
            f if f == FIN | ACK => Technique::Maimon,
            _ => Technique::OddFlags,
        }
    }

    /// In words, for summaries.
    pub fn word(self) -> &'static str {
        match self {
            Technique::Syn => "SYN",
            Technique::Fin => "FIN",
            Technique::Null => "NULL",
            Technique::Xmas => "Xmas",
            Technique::Ack => "ACK",
            Technique::Maimon => "FIN/ACK",
            Technique::OddFlags => "odd-flag",
            Technique::Udp => "UDP",
            Technique::IpProtocol => "IP-protocol",
            Technique::IcmpEcho => "ICMP echo",
            Technique::Icmpv6Echo => "ICMPv6 echo",
            Technique::Arp => "ARP",
            Technique::Nd => "neighbor solicitation",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Crossed {
    /// Enough new ports or hosts within the fast window.
    Fast,
    /// Enough in all while the tally stayed active.
    Slow,
}

/// A scan's or sweep's tally of failed attempts and the thresholds it crossed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TallyFigures {
    /// The tally stopped storing new items (its per-tally or the global cap).
    pub distinct_capped: bool,
    /// Failed probes whose answers contradicted each other (a SYN-ACK and a RST, a reply
    /// and an unreachable) or came from a MAC or TTL unlike the target's: signs of forgery.
    pub forged_answers: u64,
    /// How the source probed, each technique once, in the order first seen (a scanner
    /// that moves from SYN to FIN to ACK probes shows all three).
    pub techniques: Vec<Technique>,
    /// Failed (or, for pings, sent) probes.
    pub failed_probes: u64,
    /// From the first failed probe to the latest new item.
    pub duration_s: f64,
    /// Probes per second over that span.
    pub probes_per_s: f64,
    /// Most new items within one fast window.
    pub peak_new_in_fast_window: u32,
    /// Which threshold fired.
    pub crossed: Crossed,
    /// New items within the fast window that fire.
    pub threshold_fast: u32,
    /// The fast window.
    pub fast_window_s: f64,
    /// Items in all that fire.
    pub threshold_slow: u32,
    /// Idle time after which a tally is dropped.
    pub idle_s: i64,
}

/// A port scan: one source, many ports (or IP protocols) of one target.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PortScanFigures {
    /// Distinct ports probed (stored ones).
    pub distinct_ports: usize,
    /// The first few ports.
    pub sample_ports: Vec<u16>,
    /// The tally.
    #[serde(flatten)]
    pub tally: TallyFigures,
}

/// A host sweep: one source, many hosts on one service.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HostSweepFigures {
    /// Distinct hosts probed (stored ones).
    pub distinct_hosts: usize,
    /// The first few hosts.
    pub sample_hosts: Vec<IpAddr>,
    /// The tally.
    #[serde(flatten)]
    pub tally: TallyFigures,
}

/// A flood at one victim.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FloodFigures {
    /// Packets in the latest second.
    pub rate_pps: u32,
    /// The highest such second.
    pub peak_pps: u32,
    /// The threshold in force: the fixed one or the learned baseline times the factor.
    pub threshold_pps: f64,
    /// The fixed threshold of this kind.
    pub fixed_threshold_pps: u32,
    /// The victim's learned rate before the flood.
    pub baseline_pps: f64,
    /// How far above the baseline a flood must be.
    pub baseline_factor: f64,
    /// Distinct sources (approximate).
    pub sources: u32,
    /// The majority source, if one.
    pub top_source: Option<IpAddr>,
    /// Distinct destination ports (approximate).
    pub distinct_ports: u32,
    /// Packets counted in the incident.
    pub packets: u64,
    /// SYN floods: the share of SYNs never completed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub half_open_ratio: Option<f64>,
    /// SYN floods: the share that makes a flood.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub half_open_threshold: Option<f64>,
    /// UDP floods: distinct flows (approximate).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flows: Option<u32>,
    /// UDP floods: what the victim sent back, as a share of what it received.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answered_ratio: Option<f64>,
}

/// Where a rate spike's threshold came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ThresholdKind {
    /// `--spike PROTO=PPS`.
    Fixed,
    /// Learned from the protocol's usual rate.
    Learned,
}

/// A protocol's rate spike.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RateSpikeFigures {
    /// Packets in the spiking second.
    pub rate_pps: u64,
    /// The highest spiking second of the incident.
    pub peak_pps: u64,
    /// The learned rate.
    pub baseline_pps: f64,
    /// The threshold crossed.
    pub threshold_pps: f64,
    /// Fixed or learned.
    pub threshold_kind: ThresholdKind,
    /// Packets in the incident's spiking seconds.
    pub packets: u64,
}

/// One figure that made a host unusual.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UnusualFigure {
    /// The feature's name.
    pub feature: String,
    /// The host's value.
    pub value: f64,
    /// Typical for hosts of its usual cluster.
    pub typical: f64,
    /// Spreads above typical.
    pub deviation: f64,
    /// The host's own routine for it, when known.
    pub host_routine: Option<f64>,
    /// In words.
    pub text: String,
}

/// A host unlike what the outlier model learned.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OutlierFigures {
    /// Isolation Forest score of the latest window.
    pub score: f64,
    /// The highest score of the incident.
    pub max_score: f64,
    /// The model's threshold.
    pub threshold: f64,
    /// The nearest behaviour cluster.
    pub cluster: u8,
    /// The cluster the host's long-horizon figures are nearest.
    pub usual_cluster: u8,
    /// Unusual windows in the incident.
    pub windows: u64,
    /// Window length.
    pub window_secs: f64,
    /// What was unusual, most unusual first.
    pub unusual: Vec<UnusualFigure>,
}

impl Evidence {
    /// Evidence with these figures and no pcap yet.
    pub fn of(figures: Figures) -> Self {
        Evidence { figures, pcap: None, pcap_error: None, folded: None, explained_by: None }
    }

    /// The JSON object the contract promises (keys in alphabetical order).
    pub fn to_map(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut map = match serde_json::to_value(&self.figures) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        };
        if let Some(p) = &self.pcap {
            map.insert("pcap".into(), p.clone().into());
        }
        if let Some(e) = &self.pcap_error {
            map.insert("pcap_error".into(), e.clone().into());
        }
        if let Some(f) = &self.folded
            && let Ok(v) = serde_json::to_value(f)
        {
            map.insert("folded".into(), v);
        }
        if let Some(id) = self.explained_by {
            map.insert("explained_by".into(), id.into());
        }
        map
    }
}

/// Evidence as lines of text: figures as `name value`, lists of described figures as
/// their descriptions, samples shortened.
pub fn lines(v: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    flatten("", v, &mut out);
    out
}

fn flatten(prefix: &str, v: &serde_json::Value, out: &mut Vec<String>) {
    let name =
        |k: &str| if prefix.is_empty() { k.replace('_', " ") } else { format!("{prefix} {}", k.replace('_', " ")) };
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                match x {
                    serde_json::Value::Object(_) => flatten(&name(k), x, out),
                    serde_json::Value::Array(items) if items.iter().any(|i| i.get("text").is_some()) => {
                        out.extend(items.iter().filter_map(|i| i["text"].as_str()).map(str::to_string));
                    }
                    serde_json::Value::Array(items) => {
                        let shown: Vec<String> = items.iter().take(12).map(scalar).collect();
                        let more =
                            if items.len() > 12 { format!(" … ({} in all)", items.len()) } else { String::new() };
                        out.push(format!("{}: {}{more}", name(k), shown.join(", ")));
                    }
                    serde_json::Value::Null => {}
                    x => out.push(format!("{}: {}", name(k), scalar(x))),
                }
            }
        }
        x => out.push(scalar(x)),
    }
}

fn scalar(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Object(_) | serde_json::Value::Array(_) => v.to_string(),
        x => x.to_string(),
    }
}

impl Serialize for Evidence {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_map().serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_out_in_alphabetical_order_with_the_pcap_among_them() {
        let mut e = Evidence::of(Figures::RateSpike(RateSpikeFigures {
            rate_pps: 5000,
            peak_pps: 6000,
            baseline_pps: 12.5,
            threshold_pps: 1000.0,
            threshold_kind: ThresholdKind::Learned,
            packets: 11000,
        }));
        e.pcap = Some("d/alert1.pcap".into());
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"baseline_pps":12.5,"packets":11000,"pcap":"d/alert1.pcap","peak_pps":6000,"rate_pps":5000,"threshold_kind":"learned","threshold_pps":1000.0}"#
        );
        assert_eq!(serde_json::to_string(&Evidence::default()).unwrap(), "{}");
    }

    #[test]
    fn optional_flood_figures_appear_only_for_their_kind() {
        let f = FloodFigures {
            rate_pps: 3000,
            peak_pps: 3000,
            threshold_pps: 1000.0,
            fixed_threshold_pps: 1000,
            baseline_pps: 0.0,
            baseline_factor: 10.0,
            sources: 900,
            top_source: None,
            distinct_ports: 1,
            packets: 3000,
            half_open_ratio: Some(1.0),
            half_open_threshold: Some(0.8),
            flows: None,
            answered_ratio: None,
        };
        let map = Evidence::of(Figures::Flood(f)).to_map();
        assert!(map.contains_key("half_open_ratio") && !map.contains_key("flows"));
        assert!(map["top_source"].is_null(), "a spoofed flood says null, not nothing");
    }
}
