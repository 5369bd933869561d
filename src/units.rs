//! Units and their words: packet time as epoch seconds, sizes and rates with decimal
//! prefixes. A leaf every layer may use (the detectors' alert texts, the report, the UI).

use crate::packet::{NANOS_PER_SEC, Nanos};

/// The wall clock now, in nanoseconds since the epoch (0 before 1970, saturated).
pub fn wall_clock_nanos() -> Nanos {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| Nanos::try_from(d.as_nanos()).unwrap_or(Nanos::MAX))
}

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
    Stamp::new(ts, "").as_str().to_string()
}

/// Short ASCII text in a fixed buffer, written without allocating; shown and
/// serialized as a string. [`Stamp`] and [`IpText`] are the two kinds.
#[derive(Clone, Copy)]
pub struct Text<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> Text<N> {
    fn empty() -> Self {
        Text { buf: [0; N], len: 0 }
    }

    fn push(&mut self, b: u8) {
        self.buf[self.len] = b;
        self.len += 1;
    }

    /// `v` (non-negative) in exactly `width` decimal digits, zero-padded.
    fn digits(&mut self, mut v: i64, width: usize) {
        for i in (0..width).rev() {
            self.buf[self.len + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
        self.len += width;
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // Only ASCII was written.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

impl<const N: usize> std::fmt::Display for Text<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<const N: usize> serde::Serialize for Text<N> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// [`iso8601`] with a zone suffix: an export writes three of these per flow record, and
/// formatting them through `format!` was two fifths of what an ECS line cost.
pub type Stamp = Text<32>;

impl Stamp {
    /// The time `ts` followed by `zone` (at most 6 bytes: `Z`, `+0000`).
    pub fn new(ts: Nanos, zone: &str) -> Stamp {
        let secs = ts.div_euclid(NANOS_PER_SEC);
        let micros = ts.rem_euclid(NANOS_PER_SEC) / 1000;
        let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        let (y, m, d) = civil_from_days(days);
        let mut s = Stamp::empty();
        // Packet times (i64 nanoseconds) span the years 1677 to 2262: four digits.
        s.digits(y.clamp(0, 9999), 4);
        s.push(b'-');
        s.digits(i64::from(m), 2);
        s.push(b'-');
        s.digits(i64::from(d), 2);
        s.push(b'T');
        s.digits(rem / 3600, 2);
        s.push(b':');
        s.digits(rem % 3600 / 60, 2);
        s.push(b':');
        s.digits(rem % 60, 2);
        s.push(b'.');
        s.digits(micros, 6);
        for &b in zone.as_bytes().iter().filter(|b| b.is_ascii()).take(6) {
            s.push(b);
        }
        s
    }
}

/// An address as text, the same as its `Display`: `Ipv4Addr`'s goes through the
/// formatter's padding machinery, and the exports write two a flow record.
pub type IpText = Text<46>;

impl IpText {
    /// The text of `ip`.
    pub fn new(ip: std::net::IpAddr) -> IpText {
        let mut t = IpText::empty();
        match ip {
            std::net::IpAddr::V4(v4) => {
                for (i, o) in v4.octets().into_iter().enumerate() {
                    if i > 0 {
                        t.push(b'.');
                    }
                    if o >= 100 {
                        t.push(b'0' + o / 100);
                    }
                    if o >= 10 {
                        t.push(b'0' + o / 10 % 10);
                    }
                    t.push(b'0' + o % 10);
                }
            }
            std::net::IpAddr::V6(v6) => {
                use std::io::Write as _;
                let mut w = std::io::Cursor::new(&mut t.buf[..]);
                // At most 45 bytes ("ffff:...:255.255.255.255"); the buffer holds 46.
                let _ = write!(w, "{v6}");
                t.len = w.position() as usize;
            }
        }
        t
    }
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
        // Either end of packet time, and a zone.
        assert_eq!(iso8601(i64::MAX), "2262-04-11T23:47:16.854775");
        assert_eq!(iso8601(i64::MIN), "1677-09-21T00:12:43.145224");
        assert_eq!(Stamp::new(0, "+0000").to_string(), "1970-01-01T00:00:00.000000+0000");
    }

    #[test]
    fn ip_text_is_display() {
        let mut ips: Vec<std::net::IpAddr> = ["0.0.0.0", "255.255.255.255", "10.0.0.1", "192.168.100.9", "1.20.3.40"]
            .iter()
            .chain(&["::", "::1", "fe80::1:2", "2001:db8::ff00:42:8329", "::ffff:255.255.255.255"])
            .map(|s| s.parse().unwrap())
            .collect();
        ips.extend((0..=255u8).map(|o| std::net::IpAddr::from([o, o / 2, 255 - o, o % 10])));
        ips.push(std::net::IpAddr::from([0xffffu16, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff]));
        for ip in ips {
            assert_eq!(IpText::new(ip).as_str(), ip.to_string());
            assert_eq!(serde_json::to_string(&IpText::new(ip)).unwrap(), serde_json::to_string(&ip).unwrap());
        }
    }
}
