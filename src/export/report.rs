//! The readable headless report: the same [`Summary`] as the JSON, laid out for people.

use std::fmt::Write;

use super::summary::Summary;
use crate::decode::Proto;

/// Renders the report as text (ends with a newline).
pub fn render(s: &Summary) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = write_report(&mut out, s);
    out
}

fn write_report(o: &mut String, s: &Summary) -> std::fmt::Result {
    write!(o, "ntop-rs: {}", s.source)?;
    if let Some(f) = &s.filter {
        write!(o, "  (filter: {f})")?;
    }
    writeln!(o)?;
    writeln!(
        o,
        "  {} packets, {} in {} — {}/s, {}",
        group(s.packets),
        human_bytes(s.bytes as f64),
        human_duration(s.duration),
        human_count(s.pps),
        human_bits(s.bps)
    )?;
    if let (Some(first), Some(last)) = (s.first_ts, s.last_ts) {
        writeln!(o, "  first {}  last {}", utc(first), utc(last))?;
    }
    writeln!(
        o,
        "  malformed {}  truncated {}  evicted {}  (hosts {}/{}, flows {}/{})",
        group(s.malformed),
        group(s.truncated),
        group(s.evicted),
        group(s.hosts_total as u64),
        group(s.tables["hosts"].cap as u64),
        group(s.flows_total as u64),
        group(s.tables["flows"].cap as u64)
    )?;
    if let Some(c) = &s.capture {
        let ring: u64 = c.dropped_ring.values().sum();
        writeln!(
            o,
            "  capture on {}: received {}, dropped by kernel {}, by interface {}, by our rings {}",
            c.device,
            group(c.received),
            group(c.dropped_kernel),
            group(c.dropped_interface),
            group(ring)
        )?;
    }
    for w in &s.warnings {
        writeln!(o, "  warning: {w}")?;
    }

    writeln!(o, "\nProtocols       packets      %        bytes      %")?;
    for name in Proto::ALL.map(Proto::name) {
        let Some(c) = s.protocols.get(name) else { continue };
        writeln!(
            o,
            "  {name:<8} {:>12} {:>6} {:>12} {:>6}",
            group(c.packets),
            pct(c.packets, s.packets),
            human_bytes(c.bytes as f64),
            pct(c.bytes, s.bytes)
        )?;
    }

    if !s.hosts.is_empty() {
        writeln!(o, "\nTop talkers ({} of {})", s.hosts.len(), s.hosts_total)?;
        writeln!(o, "  {:<39} {:>10} {:>10} {:>10} {:>10}", "host", "tx pkts", "tx bytes", "rx pkts", "rx bytes")?;
        for h in &s.hosts {
            writeln!(
                o,
                "  {:<39} {:>10} {:>10} {:>10} {:>10}",
                h.ip,
                group(h.tx_packets),
                human_bytes(h.tx_bytes as f64),
                group(h.rx_packets),
                human_bytes(h.rx_bytes as f64)
            )?;
        }
    }

    if !s.flows.is_empty() {
        writeln!(o, "\nTop flows ({} of {})", s.flows.len(), s.flows_total)?;
        for f in &s.flows {
            let a = endpoint(&f.a, f.a_port);
            let b = endpoint(&f.b, f.b_port);
            let proto = if f.proto == "other" { format!("ip/{}", f.ip_proto) } else { f.proto.to_string() };
            writeln!(
                o,
                "  {proto:<6} {a} <-> {b}  {} pkts, {}{}",
                group(f.a_to_b_packets + f.b_to_a_packets),
                human_bytes((f.a_to_b_bytes + f.b_to_a_bytes) as f64),
                f.tcp_state.map(|st| format!(", {st}")).unwrap_or_default()
            )?;
        }
    }

    let z = &s.sizes;
    writeln!(
        o,
        "\nPacket sizes (bytes): min {}  p50 {}  p90 {}  p99 {}  max {}  mean {:.1}",
        z.min, z.p50, z.p90, z.p99, z.max, z.mean
    )
}

fn endpoint(ip: &str, port: u16) -> String {
    match (ip.contains(':'), port) {
        (_, 0) => ip.to_string(),
        (true, p) => format!("[{ip}]:{p}"),
        (false, p) => format!("{ip}:{p}"),
    }
}

/// `1234567` → `1,234,567`.
pub fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn pct(part: u64, whole: u64) -> String {
    if whole == 0 { "-".into() } else { format!("{:.1}%", part as f64 * 100.0 / whole as f64) }
}

pub use crate::units::{human_bits, human_bytes, human_count};

fn human_duration(secs: f64) -> String {
    match secs {
        s if s < 1.0 => format!("{:.0} ms", s * 1000.0),
        s if s < 120.0 => format!("{s:.1} s"),
        s if s < 7200.0 => format!("{:.1} min", s / 60.0),
        s => format!("{:.1} h", s / 3600.0),
    }
}

/// Epoch seconds → `YYYY-MM-DD HH:MM:SS.ffffff UTC`.
pub fn utc(epoch: f64) -> String {
    let secs = epoch.floor() as i64;
    let micros = ((epoch - secs as f64) * 1e6).round().min(999_999.0) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = crate::units::civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{micros:06} UTC", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(group(0), "0");
        assert_eq!(group(1_234_567), "1,234,567");
        assert_eq!(human_bytes(652_181.0), "652.2 kB");
        assert_eq!(human_bytes(999.0), "999 B");
        assert_eq!(human_bits(75_900.0), "75.9 kbit/s");
        assert_eq!(utc(0.0), "1970-01-01 00:00:00.000000 UTC");
        assert_eq!(utc(1_270_661_369.782934), "2010-04-07 17:29:29.782934 UTC");
        assert_eq!(utc(951_782_400.5), "2000-02-29 00:00:00.500000 UTC");
        assert_eq!(endpoint("::1", 80), "[::1]:80");
        assert_eq!(endpoint("10.0.0.1", 0), "10.0.0.1");
    }
}
