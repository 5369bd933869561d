//! What makes a host unusual, in words: "312 distinct ports, typical 3".

use super::NAMED;
use super::model::Model;
use crate::detect::features::{DIM, FEATURES, N, Vector};

/// One figure far above what is typical for the host's cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct Unusual {
    /// Index in the vector (short horizon first, then long).
    pub feature: usize,
    /// The host's value.
    pub value: f64,
    /// The cluster's typical (median) value.
    pub typical: f64,
    /// Spreads above typical.
    pub deviation: f64,
}

/// The least excess over typical worth an alert, per figure (in [`FEATURES`] order): a
/// host that goes from 0 to 8 packets a second is many spreads above typical, and not
/// worth anyone's attention.
const FLOOR: [f64; N] = [
    20.0,     // packets_out_per_s
    20.0,     // packets_in_per_s
    20_000.0, // bytes_out_per_s
    20_000.0, // bytes_in_per_s
    8.0,      // distinct_peers
    8.0,      // distinct_dst_ports
    25.0,     // failed_pct
    25.0,     // syn_pct
    300.0,    // mean_size_out
    300.0,    // size_spread_out
    4.0,      // new_peers
    2.0,      // dns_queries_per_s
    2.0,      // attempts_per_s
];

/// Figures that describe how a host sends rather than how much or to whom.
const QUALIFIERS: [&str; 2] = ["mean_size_out", "size_spread_out"];

/// Packet rates and the byte rate of the same direction: more packets count only with
/// more bytes. A rise of small packets that add up to little (the ACKs of a download,
/// keepalives) is how TCP paces itself, not a change of behaviour.
const PACKETS_NEED_BYTES: [(&str, &str); 2] =
    [("packets_out_per_s", "bytes_out_per_s"), ("packets_in_per_s", "bytes_in_per_s")];

/// Indices (short horizon) of the volume figures of each direction: packets, bytes.
const OUT: (usize, usize) = (0, 2);
const IN: (usize, usize) = (1, 3);

/// A direction answers the other when it carries at most this share of the other's bytes
/// in at most [`ECHO_PACKETS`] times its packets: the acknowledgements of a transfer
/// (one per segment or per two, 40 to 90 bytes each against segments of hundreds).
const ECHO_BYTES: f64 = 1.0 / 8.0;
const ECHO_PACKETS: f64 = 1.25;

/// Whether, in horizon `h` (0 or [`N`]) of `raw`, direction `this` only answers
/// direction `other`: its volume is the echo of the other's, not a behaviour of its own.
fn echoes(raw: &Vector, h: usize, this: (usize, usize), other: (usize, usize)) -> bool {
    let (packets, bytes) = (raw[h + this.0], raw[h + this.1]);
    let (their_packets, their_bytes) = (raw[h + other.0], raw[h + other.1]);
    bytes <= their_bytes * ECHO_BYTES && packets <= their_packets * ECHO_PACKETS
}

/// Whether figure `f` of `raw` is the volume of a direction that only answers the other
/// (the ACK stream a download sends, the ACKs a server serving one receives): judged by
/// the direction it answers, never on its own.
fn is_echo(raw: &Vector, f: usize) -> bool {
    let (h, base) = (f - f % N, f % N);
    if base == OUT.0 || base == OUT.1 {
        echoes(raw, h, OUT, IN)
    } else if base == IN.0 || base == IN.1 {
        echoes(raw, h, IN, OUT)
    } else {
        false
    }
}

/// Every figure of `raw` (either horizon) at least `min_deviation` spreads and [`FLOOR`]
/// above the typical of cluster `cluster` and new for the host
/// (`new_for_host(index, value)`), except the volume of a direction that only answers
/// the other. Only figures above typical count: a host is flagged for doing more or
/// different, not less.
pub fn far_above(
    model: &Model,
    cluster: u8,
    raw: &Vector,
    min_deviation: f64,
    new_for_host: impl Fn(usize, f64) -> bool,
) -> Vec<Unusual> {
    let Some(profile) = model.profiles.get(usize::from(cluster)) else { return Vec::new() };
    (0..DIM)
        .map(|i| Unusual {
            feature: i,
            value: raw[i],
            typical: profile.typical(i),
            deviation: profile.deviation(i, raw[i]),
        })
        .filter(|u| {
            u.deviation >= min_deviation
                && u.value - u.typical >= FLOOR[u.feature % N]
                && !is_echo(raw, u.feature)
                && new_for_host(u.feature, u.value)
        })
        .collect()
}

/// What an alert names of the figures [`far_above`] found: most unusual first, at most
/// [`NAMED`], one per figure (the short or the long horizon, whichever stands out more);
/// nothing when only packet sizes stand out.
pub fn named(found: &[Unusual]) -> Vec<Unusual> {
    let has = |name: &str| found.iter().any(|u| FEATURES[u.feature % N] == name);
    let found: Vec<&Unusual> = found
        .iter()
        .filter(|u| {
            let name = FEATURES[u.feature % N];
            PACKETS_NEED_BYTES.iter().all(|&(packets, bytes)| name != packets || has(bytes))
        })
        .collect();
    // Packet sizes qualify a change of volume or reach; on their own (a quiet host
    // sending a few big packets) they are not worth an alert.
    if found.iter().all(|u| QUALIFIERS.contains(&FEATURES[u.feature % N])) {
        return Vec::new();
    }
    let mut named: Vec<Unusual> = Vec::with_capacity(NAMED);
    for u in found {
        match named.iter_mut().find(|n| n.feature % N == u.feature % N) {
            Some(n) if u.deviation > n.deviation => *n = (*u).clone(),
            Some(_) => {}
            None => named.push((*u).clone()),
        }
    }
    named.sort_by(|a, b| b.deviation.total_cmp(&a.deviation).then(a.feature.cmp(&b.feature)));
    named.truncate(NAMED);
    named
}

/// One unusual figure as a phrase, e.g. "312 distinct ports, typical 3" (the long
/// horizon adds "over the last minute").
pub fn describe(u: &Unusual, window_secs: f64) -> String {
    let base = u.feature % N;
    let (value, typical) = (u.value, u.typical);
    let text = match FEATURES[base] {
        "packets_out_per_s" => format!("{} packets/s sent, typical {}", num(value), num(typical)),
        "packets_in_per_s" => format!("{} packets/s received, typical {}", num(value), num(typical)),
        "bytes_out_per_s" => format!("{}/s sent, typical {}/s", bytes(value), bytes(typical)),
        "bytes_in_per_s" => format!("{}/s received, typical {}/s", bytes(value), bytes(typical)),
        "distinct_peers" => format!("{} distinct peers, typical {}", num(value), num(typical)),
        "distinct_dst_ports" => format!("{} distinct ports, typical {}", num(value), num(typical)),
        "failed_pct" => format!("{}% of attempts failed, typical {}%", num(value), num(typical)),
        "syn_pct" => format!("{}% of TCP sent is bare SYNs, typical {}%", num(value), num(typical)),
        "mean_size_out" => format!("{}-byte packets sent on average, typical {}", num(value), num(typical)),
        "size_spread_out" => format!("sent sizes spread by {} bytes, typical {}", num(value), num(typical)),
        "new_peers" => {
            format!("{} new peers in {} s, typical {}", num(value), num(window_secs), num(typical))
        }
        "dns_queries_per_s" => format!("{} DNS queries/s, typical {}", num(value), num(typical)),
        "attempts_per_s" => format!("{} new connections/s, typical {}", num(value), num(typical)),
        other => format!("{other} {}, typical {}", num(value), num(typical)),
    };
    if u.feature >= N { format!("{text} (over the last minute)") } else { text }
}

/// A figure with sensible precision: 312, 4.5, 0.25.
fn num(x: f64) -> String {
    let a = x.abs();
    if a >= 100.0 || a == 0.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}").trim_end_matches(".0").to_string()
    } else {
        let s = format!("{x:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// A byte count: 812 B, 4.2 kB, 1.3 MB (decimal units, like the rest of the summary).
fn bytes(x: f64) -> String {
    crate::units::human_bytes(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_read_naturally() {
        assert_eq!(num(312.4), "312");
        assert_eq!(num(3.0), "3");
        assert_eq!(num(0.25), "0.25");
        assert_eq!(num(12.0), "12");
        assert_eq!(num(12.34), "12.3");
        assert_eq!(num(0.0), "0");
        assert_eq!(bytes(812.0), "812 B");
        assert_eq!(bytes(4_200.0), "4.2 kB");
        assert_eq!(bytes(1_300_000.0), "1.3 MB");
    }

    fn figure(name: &str, long: bool, deviation: f64) -> Unusual {
        let f = FEATURES.iter().position(|f| *f == name).unwrap();
        Unusual { feature: if long { f + N } else { f }, value: 100.0, typical: 1.0, deviation }
    }

    #[test]
    fn an_alert_names_each_figure_once_most_unusual_first() {
        let found = [
            figure("distinct_peers", false, 5.0),
            figure("distinct_peers", true, 7.0),
            figure("dns_queries_per_s", false, 6.0),
            figure("new_peers", false, 4.5),
            figure("attempts_per_s", true, 4.2),
        ];
        let named = named(&found);
        let names: Vec<(usize, f64)> = named.iter().map(|u| (u.feature, u.deviation)).collect();
        assert_eq!(names.len(), NAMED);
        assert_eq!(names[0], (found[1].feature, 7.0), "the long horizon stood out more");
        assert_eq!(names[1].0, found[2].feature);
        assert_eq!(names[2].0, found[3].feature);
    }

    #[test]
    fn sizes_alone_and_packets_without_bytes_are_not_named() {
        assert!(named(&[figure("mean_size_out", false, 9.0)]).is_empty());
        // The ACKs of a download: many more small packets, bytes ordinary.
        assert!(named(&[figure("packets_in_per_s", false, 9.0), figure("mean_size_out", false, 9.0)]).is_empty());
        let with_bytes = named(&[figure("packets_in_per_s", false, 9.0), figure("bytes_in_per_s", true, 5.0)]);
        assert_eq!(with_bytes.len(), 2, "packets count with the bytes of their direction");
        let other_direction = named(&[figure("packets_out_per_s", false, 9.0), figure("bytes_in_per_s", false, 5.0)]);
        assert_eq!(other_direction.len(), 1);
        assert_eq!(FEATURES[other_direction[0].feature % N], "bytes_in_per_s");
    }

    /// A vector with these volume figures in both horizons, everything else zero.
    fn volumes(packets_out: f64, packets_in: f64, bytes_out: f64, bytes_in: f64) -> Vector {
        let mut v = [0.0; DIM];
        for h in [0, N] {
            v[h..h + 4].copy_from_slice(&[packets_out, packets_in, bytes_out, bytes_in]);
        }
        v
    }

    #[test]
    fn the_acks_of_a_transfer_are_an_echo_of_it() {
        let (packets_out, bytes_out) = (FEATURES.iter().position(|f| *f == "packets_out_per_s").unwrap(), OUT.1);
        // A 500 kB/s download: 345 segments/s in, one ACK of 66 bytes per segment out.
        let download = volumes(345.0, 345.0, 345.0 * 66.0, 500_000.0);
        for f in [packets_out, bytes_out, packets_out + N, bytes_out + N] {
            assert!(is_echo(&download, f), "the ACK stream ({})", FEATURES[f % N]);
        }
        assert!(!is_echo(&download, IN.0) && !is_echo(&download, IN.1), "the download itself is judged");
        // Delayed ACKs: one per two segments.
        assert!(is_echo(&volumes(172.0, 345.0, 172.0 * 66.0, 500_000.0), packets_out));
        // The server's side of it: the ACKs it receives.
        let serving = volumes(345.0, 345.0, 500_000.0, 345.0 * 66.0);
        assert!(is_echo(&serving, IN.0) && !is_echo(&serving, OUT.0));
    }

    #[test]
    fn a_flood_or_an_upload_of_its_own_is_no_echo() {
        let packets_out = OUT.0;
        // A SYN flood: thousands of small packets out, a few answers in.
        assert!(!is_echo(&volumes(5_000.0, 50.0, 300_000.0, 3_000.0), packets_out));
        // Exfiltration while downloading: a real share of the bytes goes out.
        assert!(!is_echo(&volumes(300.0, 345.0, 150_000.0, 500_000.0), OUT.1));
        // Many small packets out over a download: more than its ACKs.
        assert!(!is_echo(&volumes(2_000.0, 345.0, 60_000.0, 500_000.0), packets_out));
        // Figures other than volume are never an echo.
        let peers = FEATURES.iter().position(|f| *f == "distinct_peers").unwrap();
        assert!(!is_echo(&volumes(1.0, 345.0, 66.0, 500_000.0), peers));
    }

    #[test]
    fn the_long_horizon_says_so() {
        let ports = FEATURES.iter().position(|f| *f == "distinct_dst_ports").unwrap();
        let u = Unusual { feature: ports, value: 312.0, typical: 3.0, deviation: 9.0 };
        assert_eq!(describe(&u, 5.0), "312 distinct ports, typical 3");
        let long = Unusual { feature: ports + N, ..u };
        assert_eq!(describe(&long, 5.0), "312 distinct ports, typical 3 (over the last minute)");
    }
}
