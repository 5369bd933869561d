//! Units and their words: packet time as epoch seconds, sizes and rates with decimal
//! prefixes. A leaf every layer may use (the detectors' alert texts, the report, the UI).

use crate::packet::{NANOS_PER_SEC, Nanos};

/// Epoch seconds as a float, rounded once (exact to the microsecond for current dates).
pub fn epoch_secs(ts: Nanos) -> f64 {
    ts.div_euclid(NANOS_PER_SEC) as f64 + ts.rem_euclid(NANOS_PER_SEC) as f64 / 1e9
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's method).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Packet time as ISO 8601 in UTC to the microsecond, without the zone:
/// `2026-12-01T19:18:03.123456` (ECS adds `Z`, Suricata's EVE `+0000`).
pub fn iso8601(ts: Nanos) -> String {
    let secs = ts.div_euclid(NANOS_PER_SEC);
    let micros = ts.rem_euclid(NANOS_PER_SEC) / 1000;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}", rem / 3600, rem % 3600 / 60, rem % 60)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_to_the_microsecond() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000000");
        assert_eq!(iso8601(1_270_661_369_782_934_999), "2010-04-07T17:29:29.782934");
        assert_eq!(iso8601(951_782_400 * NANOS_PER_SEC), "2000-02-29T00:00:00.000000");
        assert_eq!(iso8601(-1), "1969-12-31T23:59:59.999999");
    }
}
