//! What a scan or sweep report says: severity, summary sentence and evidence.

use std::net::IpAddr;

use super::{Class, ScanConfig, Tally};
use crate::detect::evidence::{Crossed, Figures, HostSweepFigures, PortScanFigures, TallyFigures};
use crate::detect::{Alert, Severity};
use crate::packet::NANOS_PER_SEC;

pub(super) fn severity(distinct: usize, crossed: Crossed, medium: usize, high: usize) -> Severity {
    if distinct >= high {
        Severity::High
    } else if distinct >= medium || crossed == Crossed::Fast {
        Severity::Medium
    } else {
        Severity::Low
    }
}

pub(super) fn count_text(n: usize, capped: bool) -> String {
    if capped { format!("{n}+") } else { n.to_string() }
}

pub(super) fn fill_scan(a: &mut Alert, t: &Tally<u16>, class: Class, crossed: Crossed, cfg: &ScanConfig) {
    let n = t.distinct();
    let what = match class {
        Class::Ip => "IP protocols",
        Class::Udp => "UDP ports",
        _ => "TCP ports",
    };
    let (src, dst) =
        (a.src.map(|s| s.to_string()).unwrap_or_default(), a.dst.map(|s| s.to_string()).unwrap_or_default());
    a.first_ts = t.first;
    a.packets = t.probes;
    a.severity = severity(n, crossed, 100, 1000);
    a.summary = format!(
        "{src} scanned {} {what} on {dst}: {} failed probes in {:.1} s{}",
        count_text(n, t.capped),
        t.probes,
        t.span_secs(),
        techniques_text(&t.techniques)
    );
    let tally = figures(t, crossed, cfg.ports_fast, cfg.ports_slow, cfg);
    a.evidence.figures =
        Figures::PortScan(PortScanFigures { distinct_ports: t.items.len(), sample_ports: t.sample.clone(), tally });
}

/// The figures behind a scan or sweep.
pub(super) fn figures<T: std::hash::Hash + Eq + Copy>(
    t: &Tally<T>,
    crossed: Crossed,
    fast: u32,
    slow: u32,
    cfg: &ScanConfig,
) -> TallyFigures {
    TallyFigures {
        distinct_capped: t.capped,
        forged_answers: t.forged,
        techniques: t.techniques.clone(),
        failed_probes: t.probes,
        duration_s: t.span_secs(),
        probes_per_s: rate(t.probes, t.span_secs()),
        peak_new_in_fast_window: t.fast_peak,
        crossed,
        threshold_fast: fast,
        fast_window_s: cfg.fast_window as f64 / NANOS_PER_SEC as f64,
        threshold_slow: slow,
        idle_s: cfg.idle / NANOS_PER_SEC,
    }
}

pub(super) fn fill_sweep(a: &mut Alert, t: &Tally<IpAddr>, class: Class, crossed: Crossed, cfg: &ScanConfig) {
    let n = t.distinct();
    let src = a.src.map(|s| s.to_string()).unwrap_or_default();
    a.first_ts = t.first;
    a.packets = t.probes;
    a.severity = severity(n, crossed, 50, 256);
    let verb = if matches!(class, Class::Icmp | Class::Icmpv6) { "probes" } else { "failed probes" };
    a.summary = format!(
        "{src} swept {} hosts with {}: {} {verb} in {:.1} s",
        count_text(n, t.capped),
        class.service(a.port.unwrap_or(0)),
        t.probes,
        t.span_secs()
    );
    let tally = figures(t, crossed, cfg.hosts_fast, cfg.hosts_slow, cfg);
    a.evidence.figures =
        Figures::HostSweep(HostSweepFigures { distinct_hosts: t.items.len(), sample_hosts: t.sample.clone(), tally });
}

/// " (SYN, then FIN, then ACK probes)" when the scanner changed technique; else nothing.
pub(super) fn techniques_text(techniques: &[crate::detect::evidence::Technique]) -> String {
    if techniques.len() < 2 {
        return String::new();
    }
    let words: Vec<&str> = techniques.iter().map(|t| t.word()).collect();
    format!(" ({} probes)", words.join(", then "))
}

pub(super) fn rate(n: u64, secs: f64) -> f64 {
    if secs > 0.0 { (n as f64 / secs * 10.0).round() / 10.0 } else { n as f64 }
}
