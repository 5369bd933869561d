//! What makes a host unusual, in words: "312 distinct ports, typical 3".

use super::NAMED;
use super::model::Model;
use crate::detect::features::{FEATURES, N, Vector};

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

/// The figures of `raw` at least `min_deviation` spreads and [`FLOOR`] above the typical
/// of cluster `cluster`, most unusual first, at most [`NAMED`], one per figure (the short
/// or the long horizon, whichever stands out more). Only figures above typical count: a
/// host is flagged for doing more or different, not less; and not for packet sizes alone.
pub fn unusual(model: &Model, cluster: u8, raw: &Vector, min_deviation: f64) -> Vec<Unusual> {
    let Some(profile) = model.profiles.get(usize::from(cluster)) else { return Vec::new() };
    let mut found: Vec<Unusual> = (0..N)
        .filter_map(|f| {
            [f, f + N]
                .into_iter()
                .map(|i| Unusual {
                    feature: i,
                    value: raw[i],
                    typical: profile.typical(i),
                    deviation: profile.deviation(i, raw[i]),
                })
                .filter(|u| u.deviation >= min_deviation && u.value - u.typical >= FLOOR[f])
                .max_by(|a, b| a.deviation.total_cmp(&b.deviation))
        })
        .collect();
    // Packet sizes qualify a change of volume or reach; on their own (a quiet host
    // sending a few big packets) they are not worth an alert.
    if found.iter().all(|u| QUALIFIERS.contains(&FEATURES[u.feature % N])) {
        return Vec::new();
    }
    found.sort_by(|a, b| b.deviation.total_cmp(&a.deviation).then(a.feature.cmp(&b.feature)));
    found.truncate(NAMED);
    found
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
    crate::export::report::human_bytes(x)
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

    #[test]
    fn the_long_horizon_says_so() {
        let ports = FEATURES.iter().position(|f| *f == "distinct_dst_ports").unwrap();
        let u = Unusual { feature: ports, value: 312.0, typical: 3.0, deviation: 9.0 };
        assert_eq!(describe(&u, 5.0), "312 distinct ports, typical 3");
        let long = Unusual { feature: ports + N, ..u };
        assert_eq!(describe(&long, 5.0), "312 distinct ports, typical 3 (over the last minute)");
    }
}
