//! Units and their words: packet time as epoch seconds, sizes and rates with decimal
//! prefixes. A leaf every layer may use (the detectors' alert texts, the report, the UI).

use crate::packet::{NANOS_PER_SEC, Nanos};

/// Epoch seconds as a float, rounded once (exact to the microsecond for current dates).
pub fn epoch_secs(ts: Nanos) -> f64 {
    ts.div_euclid(NANOS_PER_SEC) as f64 + ts.rem_euclid(NANOS_PER_SEC) as f64 / 1e9
}

fn scaled(x: f64, unit: &str, step: f64, prefixes: &[&str]) -> String {
    let mut v = x;
    let mut i = 0;
    while v >= step && i + 1 < prefixes.len() {
        v /= step;
        i += 1;
    }
    if i == 0 { format!("{v:.0} {unit}") } else { format!("{v:.1} {}{unit}", prefixes[i]) }
}

/// Bytes with decimal prefixes: `652181` → `652.2 kB`.
pub fn human_bytes(b: f64) -> String {
    scaled(b, "B", 1000.0, &["", "k", "M", "G", "T"])
}

/// Bits per second: `75900` → `75.9 kbit/s`.
pub fn human_bits(bps: f64) -> String {
    scaled(bps, "bit/s", 1000.0, &["", "k", "M", "G", "T"])
}

/// A rate of things: `1234567` → `1.2 M`.
pub fn human_count(x: f64) -> String {
    scaled(x, "pkt", 1000.0, &["", "k", "M", "G"])
}
