//! What a flood report says: its key, summary sentence and evidence.

use std::net::IpAddr;

use super::{FloodConfig, Kind, Load};
use crate::detect::book::IncidentKey;
use crate::detect::evidence::{Figures, FloodFigures};
use crate::detect::{Alert, Severity};

pub(super) fn flood_key(kind: Kind, victim: IpAddr) -> IncidentKey {
    IncidentKey { kind: kind.alert(), src: None, dst: Some(victim), proto: kind.proto().into(), port: None }
}

/// What a flood report says about its window.
#[derive(Clone, Copy)]
pub(super) struct Facts {
    pub(super) kind: Kind,
    pub(super) rate: u32,
    pub(super) threshold: f64,
    pub(super) half_open: f64,
    pub(super) answered: f64,
    pub(super) flows: u32,
    pub(super) sources: u32,
    pub(super) ports: u32,
    pub(super) top_src: Option<IpAddr>,
    pub(super) top_port: Option<u16>,
}

pub(super) fn fill_flood(a: &mut Alert, load: &Load, cfg: &FloodConfig) {
    let Some(f) = &load.facts else { return };
    let (sources, ports) = (f.sources, f.ports);
    a.src = f.top_src;
    a.port = f.top_port.filter(|_| !matches!(f.kind, Kind::Icmp | Kind::Icmpv6));
    a.packets = load.packets;
    let times = f64::from(load.peak) / f.threshold.max(1.0);
    a.severity = if times >= 20.0 {
        Severity::Critical
    } else if times >= 5.0 {
        Severity::High
    } else {
        Severity::Medium
    };
    let victim = a.dst.map(|d| d.to_string()).unwrap_or_default();
    let from = match a.src {
        Some(s) => format!("from {s}"),
        None => format!("from ~{sources} sources"),
    };
    let to = a.port.map(|p| format!(" to port {p}")).unwrap_or_default();
    // Once the rate has come down from its peak, the peak is what the incident was.
    let peak = if load.peak > f.rate { format!(" (peak {}/s)", load.peak) } else { String::new() };
    let what = match f.kind {
        Kind::Syn => format!("{} SYN/s{peak} {from}{to}, {:.0}% never completed", f.rate, f.half_open * 100.0),
        Kind::Udp => format!("{} UDP packets/s{peak} {from}{to} over ~{} flows", f.rate, f.flows),
        Kind::Icmp => format!("{} ICMP packets/s{peak} {from}", f.rate),
        Kind::Icmpv6 => format!("{} ICMPv6 packets/s{peak} {from}", f.rate),
    };
    a.summary = format!("{victim} is flooded: {what}");
    let (syn, udp) = (f.kind == Kind::Syn, f.kind == Kind::Udp);
    a.evidence.figures = Figures::Flood(FloodFigures {
        rate_pps: f.rate,
        peak_pps: load.peak,
        threshold_pps: f.threshold.round(),
        fixed_threshold_pps: cfg.fixed_pps(f.kind),
        baseline_pps: (load.baseline * 10.0).round() / 10.0,
        baseline_factor: cfg.baseline_factor,
        sources,
        top_source: load.top_src.map(|(s, _)| s),
        distinct_ports: ports,
        packets: load.packets,
        half_open_ratio: syn.then(|| (f.half_open * 100.0).round() / 100.0),
        half_open_threshold: syn.then_some(cfg.half_open),
        flows: udp.then_some(f.flows),
        answered_ratio: udp.then(|| (f.answered * 100.0).round() / 100.0),
    });
}
