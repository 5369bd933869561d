//! The offline HTML report (`--report FILE.html`, the TUI's `R`, and
//! `--db FILE --report FILE.html` for a stored run): one self-contained page of inline
//! SVG charts, readable with JavaScript off, fetching nothing, with its figures also
//! embedded as one JSON block for scripts.
//!
//! [`ReportData`] is what the page shows, built from a run's own counters
//! ([`ReportData::from_run`]) or from the SQLite history ([`stored`]); [`html`] draws
//! it, with the chart primitives of [`svg`].

pub mod html;
pub mod stored;
mod svg;

use std::net::IpAddr;

use serde::Serialize;
use serde_json::Value;

use crate::decode::Proto;
use crate::detect::outlier::OutlierView;
use crate::export::Summary;
use crate::packet::{NANOS_PER_SEC, Nanos};
use crate::stats::{FlowKey, FlowStats, Stats};
use crate::units::epoch_secs;

/// Rows in the talker, pair and flow lists.
pub const TOP: usize = 15;
/// Hosts in the who-talks-to-whom matrix.
pub const MATRIX: usize = 10;
/// Upper edges of the packet-size bins (bytes, wire length); the last bin is open.
pub const SIZE_EDGES: [u64; 7] = [64, 128, 256, 512, 1024, 1518, 9000];
/// Most points of the host-behaviour map.
pub const MAP_HOSTS: usize = 2000;

/// Everything the report shows (and embeds as JSON).
#[derive(Clone, Debug, Serialize)]
pub struct ReportData {
    /// `ntop-rs` and its version.
    pub generator: String,
    /// Wall-clock time the report was written, ISO 8601 UTC.
    pub generated_at: String,
    /// Written while the run was still going (the TUI's `R`): figures so far.
    pub partial: bool,
    /// Where the figures come from: `run` (this run's counters) or `database`.
    pub origin: &'static str,
    /// The stored run reported on (`origin: database`).
    pub run_id: Option<i64>,
    /// The run's JSON summary, exactly as `--json` prints it (totals, protocols, hosts,
    /// flows, sizes, alerts, loss): the report's totals are these.
    pub summary: Value,
    /// Packets lost, by stage (kernel, interface, ring, detector, each sink).
    pub loss: Vec<Loss>,
    /// Traffic over time, per protocol class.
    pub timeline: Timeline,
    /// The busiest hosts by bytes.
    pub talkers: Vec<Talker>,
    /// Who talks to whom.
    pub pairs: Pairs,
    /// Packets by size (wire length); empty when not known (a stored run).
    pub sizes: Vec<SizeBin>,
    /// The busiest flows by bytes.
    pub flows: Vec<TopFlow>,
    /// The outlier model and a 2-D map of host behaviour, when the outlier detector ran.
    pub behaviour: Option<Behaviour>,
}

/// Packets lost at one stage.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Loss {
    /// `kernel`, `interface`, `ring`, `detector`, `sink_<name>`.
    pub stage: String,
    /// Packets (or, for a sink, messages) lost.
    pub count: u64,
}

/// Packets and bytes per protocol class in equal buckets of time.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Timeline {
    /// Bucket width, seconds.
    pub bucket_secs: f64,
    /// Start of the first bucket, epoch seconds.
    pub start: f64,
    /// Class names, in the order of each bucket's figures.
    pub protocols: Vec<&'static str>,
    /// Per bucket, packets per class.
    pub packets: Vec<Vec<u64>>,
    /// Per bucket, bytes per class.
    pub bytes: Vec<Vec<u64>>,
    /// Whether the buckets cover the whole run (false when it outlasted the history kept).
    pub complete: bool,
}

impl Timeline {
    /// Bytes per bucket, all classes.
    pub fn total_bytes(&self) -> Vec<u64> {
        self.bytes.iter().map(|b| b.iter().sum()).collect()
    }

    /// The highest and the mean rate over the buckets, bits per second.
    pub fn bandwidth(&self) -> (f64, f64) {
        let totals = self.total_bytes();
        if totals.is_empty() || self.bucket_secs <= 0.0 {
            return (0.0, 0.0);
        }
        let peak = totals.iter().copied().max().unwrap_or(0) as f64 * 8.0 / self.bucket_secs;
        let mean = totals.iter().sum::<u64>() as f64 * 8.0 / (self.bucket_secs * totals.len() as f64);
        (peak, mean)
    }
}

/// One host's traffic.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Talker {
    /// Address.
    pub ip: IpAddr,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Packets sent.
    pub tx_packets: u64,
    /// Packets received.
    pub rx_packets: u64,
}

/// Traffic between pairs of hosts.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Pairs {
    /// The busiest pairs, both directions summed.
    pub top: Vec<Pair>,
    /// The matrix's hosts (those of the busiest pairs).
    pub hosts: Vec<IpAddr>,
    /// `bytes[i][j]`: bytes from `hosts[i]` to `hosts[j]`.
    pub bytes: Vec<Vec<u64>>,
    /// Flows these figures are summed from (the flow table at the end, or the stored flows).
    pub flows: u64,
}

/// Two hosts and what went between them.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Pair {
    /// The lower address.
    pub a: IpAddr,
    /// The higher address.
    pub b: IpAddr,
    /// Bytes from `a` to `b`.
    pub a_to_b: u64,
    /// Bytes from `b` to `a`.
    pub b_to_a: u64,
    /// Packets both ways.
    pub packets: u64,
    /// Flows between them.
    pub flows: u64,
}

/// Packets whose size falls in `(lo, hi]`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct SizeBin {
    /// Lower edge, exclusive.
    pub lo: u64,
    /// Upper edge, inclusive (`None`: open).
    pub hi: Option<u64>,
    /// Packets.
    pub packets: u64,
}

/// One flow.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct TopFlow {
    /// `tcp`, `udp`, or the IP protocol number.
    pub proto: String,
    /// One endpoint.
    pub a: IpAddr,
    /// Its port (0 without ports).
    pub a_port: u16,
    /// The other endpoint.
    pub b: IpAddr,
    /// Its port.
    pub b_port: u16,
    /// Packets both ways.
    pub packets: u64,
    /// Bytes both ways.
    pub bytes: u64,
    /// First packet, epoch seconds.
    pub first_ts: f64,
    /// Last packet, epoch seconds.
    pub last_ts: f64,
}

/// The outlier model and where each host's behaviour puts it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Behaviour {
    /// The model's status (as in the summary's `outliers`).
    pub status: Value,
    /// Hosts on the first two principal axes of their scaled behaviour vectors.
    pub points: Vec<Point>,
    /// Share of the vectors' variance the two axes show.
    pub explained: f64,
}

/// One host on the behaviour map.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Point {
    /// Address.
    pub ip: IpAddr,
    /// First principal axis.
    pub x: f64,
    /// Second principal axis.
    pub y: f64,
    /// Its K-means behaviour cluster.
    pub cluster: u8,
    /// Its latest outlier score.
    pub score: f64,
    /// Whether it is the subject of an outlier alert.
    pub outlier: bool,
}

/// What [`ReportData::from_run`] reads besides the counters.
pub struct RunParts<'a> {
    /// The run's summary (the `--json` one).
    pub summary: &'a Summary,
    /// The outlier detector's view, when it ran.
    pub outliers: Option<&'a OutlierView>,
    /// Written before the run ended.
    pub partial: bool,
}

impl ReportData {
    /// The report of a run, from its counters.
    pub fn from_run(stats: &Stats, parts: RunParts<'_>) -> ReportData {
        let summary = serde_json::to_value(parts.summary).unwrap_or_default();
        let loss = loss_of(&summary);
        let outlier_hosts = outlier_subjects(&summary);
        let behaviour = parts.outliers.map(|o| behaviour(o, &outlier_hosts));
        ReportData {
            generator: format!("ntop-rs {}", env!("CARGO_PKG_VERSION")),
            generated_at: now_iso(),
            partial: parts.partial,
            origin: "run",
            run_id: None,
            summary,
            loss,
            timeline: timeline(stats),
            talkers: stats
                .hosts
                .top(TOP)
                .into_iter()
                .map(|(ip, h)| Talker {
                    ip,
                    tx_bytes: h.tx().bytes,
                    rx_bytes: h.rx().bytes,
                    tx_packets: h.tx().packets,
                    rx_packets: h.rx().packets,
                })
                .collect(),
            pairs: pairs(stats.flows.iter().map(|(k, f)| (k.a.0, k.b.0, f.a_to_b, f.b_to_a))),
            sizes: sizes(&stats.sizes.bins(&SIZE_EDGES)),
            flows: stats.flows.top(TOP).iter().map(|(k, f)| top_flow(k, f)).collect(),
            behaviour,
        }
    }
}

/// Losses by stage, from a JSON summary's `capture` (live runs) and `sinks`.
pub fn loss_of(summary: &Value) -> Vec<Loss> {
    stored::loss(summary)
}

/// Renders `data` and writes it to `out` atomically; the path written.
pub fn write(data: &ReportData, out: &crate::files::OutFile) -> Result<std::path::PathBuf, crate::files::FileError> {
    let page = html::render(data, Some(out.dir().path()));
    out.replace(page.as_bytes())
}

/// Wall-clock now, ISO 8601 UTC.
fn now_iso() -> String {
    format!("{}Z", crate::units::iso8601(crate::units::wall_clock_nanos()))
}

/// The hosts that outlier alerts name.
fn outlier_subjects(summary: &Value) -> Vec<IpAddr> {
    let alerts = summary["alerts"].as_array().map(Vec::as_slice).unwrap_or_default();
    alerts
        .iter()
        .filter(|a| a["kind"] == "outlier")
        .filter_map(|a| a["src"].as_str().and_then(|s| s.parse().ok()))
        .collect()
}

/// The finest series that covers the whole run (or, for a run longer than a day, the
/// last day), from its first bucket with a packet.
fn timeline(stats: &Stats) -> Timeline {
    let (Some((lo, hi)), s) = (stats.span, &stats.series) else { return Timeline::default() };
    let all = [&s.secs, &s.tens, &s.mins];
    let covers = |series: &&crate::stats::Series| {
        let first = series.iter().next().map(|(t, _)| t);
        first.is_some_and(|t| t <= lo)
    };
    let (series, complete) = match all.iter().find(|x| covers(x)) {
        Some(x) => (*x, true),
        None => (&s.mins, false),
    };
    let from = if complete { lo - lo.rem_euclid(series.width()) } else { Nanos::MIN };
    let buckets: Vec<_> = series.iter().filter(|(t, _)| *t >= from && *t <= hi).collect();
    let start = buckets.first().map_or(0.0, |(t, _)| epoch_secs(*t));
    Timeline {
        bucket_secs: series.width() as f64 / NANOS_PER_SEC as f64,
        start,
        protocols: Proto::ALL.iter().map(|p| p.name()).collect(),
        packets: buckets.iter().map(|(_, b)| b.iter().map(|c| c.packets).collect()).collect(),
        bytes: buckets.iter().map(|(_, b)| b.iter().map(|c| c.bytes).collect()).collect(),
        complete: complete && series.late() == 0,
    }
}

/// The size bins of [`SIZE_EDGES`], from their counts.
fn sizes(counts: &[u64]) -> Vec<SizeBin> {
    let mut lo = 0;
    let mut bins = Vec::new();
    for (i, &packets) in counts.iter().enumerate() {
        let hi = SIZE_EDGES.get(i).copied();
        bins.push(SizeBin { lo, hi, packets });
        lo = hi.unwrap_or(lo);
    }
    bins
}

/// Pairs and the matrix from (a, b, a→b, b→a) of every flow.
pub fn pairs(flows: impl Iterator<Item = (IpAddr, IpAddr, crate::stats::Counter, crate::stats::Counter)>) -> Pairs {
    let mut by_pair: crate::hash::Map<(IpAddr, IpAddr), Pair> = crate::hash::Map::default();
    let mut n = 0u64;
    for (x, y, x_to_y, y_to_x) in flows {
        n += 1;
        let ((a, b), (ab, ba)) = if x <= y { ((x, y), (x_to_y, y_to_x)) } else { ((y, x), (y_to_x, x_to_y)) };
        let p = by_pair.entry((a, b)).or_insert(Pair { a, b, a_to_b: 0, b_to_a: 0, packets: 0, flows: 0 });
        p.a_to_b += ab.bytes;
        p.b_to_a += ba.bytes;
        p.packets += ab.packets + ba.packets;
        p.flows += 1;
    }
    let all: Vec<Pair> = by_pair.into_values().collect();
    let order =
        |x: &Pair, y: &Pair| (y.a_to_b + y.b_to_a).cmp(&(x.a_to_b + x.b_to_a)).then((x.a, x.b).cmp(&(y.a, y.b)));
    let ranked = crate::stats::table::top_n_of(all.into_iter(), 4 * MATRIX, order);
    let mut hosts: Vec<IpAddr> = Vec::new();
    for p in &ranked {
        for h in [p.a, p.b] {
            if hosts.len() < MATRIX && !hosts.contains(&h) {
                hosts.push(h);
            }
        }
    }
    let index = |h: &IpAddr| hosts.iter().position(|x| x == h);
    let mut bytes = vec![vec![0u64; hosts.len()]; hosts.len()];
    for p in &ranked {
        if let (Some(i), Some(j)) = (index(&p.a), index(&p.b)) {
            bytes[i][j] += p.a_to_b;
            bytes[j][i] += p.b_to_a;
        }
    }
    Pairs { top: ranked.into_iter().take(TOP).collect(), hosts, bytes, flows: n }
}

fn proto_name(ip_proto: u8) -> String {
    match ip_proto {
        6 => "tcp".into(),
        17 => "udp".into(),
        1 => "icmp".into(),
        58 => "icmpv6".into(),
        n => n.to_string(),
    }
}

fn top_flow(k: &FlowKey, f: &FlowStats) -> TopFlow {
    TopFlow {
        proto: proto_name(k.proto),
        a: k.a.0,
        a_port: k.a.1,
        b: k.b.0,
        b_port: k.b.1,
        packets: f.total_packets(),
        bytes: f.total_bytes(),
        first_ts: epoch_secs(f.first_ts),
        last_ts: epoch_secs(f.last_ts),
    }
}

/// The behaviour map: each host's scaled vector on the first two principal axes of all
/// of them (power iteration on their covariance, hosts in address order: the same
/// vectors give the same map).
fn behaviour(view: &OutlierView, outliers: &[IpAddr]) -> Behaviour {
    let mut hosts: Vec<(&IpAddr, &(Vec<f32>, f32))> = view.behaviour.iter().collect();
    hosts.sort_unstable_by_key(|(ip, _)| **ip);
    hosts.truncate(MAP_HOSTS);
    let rows: Vec<Vec<f64>> = hosts.iter().map(|(_, (v, _))| v.iter().map(|&x| f64::from(x)).collect()).collect();
    let (axes, explained) = principal_axes(&rows);
    let points = hosts
        .iter()
        .zip(&rows)
        .map(|((ip, (_, score)), row)| {
            let on = |axis: &Vec<f64>| row.iter().zip(axis).map(|(a, b)| a * b).sum::<f64>();
            Point {
                ip: **ip,
                x: axes.first().map_or(0.0, on),
                y: axes.get(1).map_or(0.0, on),
                cluster: view.clusters.get(*ip).copied().unwrap_or(0),
                score: f64::from(*score),
                outlier: outliers.contains(ip),
            }
        })
        .collect();
    Behaviour { status: serde_json::to_value(&view.status).unwrap_or_default(), points, explained }
}

/// The two leading principal axes of `rows` (centred), and the share of the variance
/// they carry. Fewer axes when the rows are too few or do not vary.
pub fn principal_axes(rows: &[Vec<f64>]) -> (Vec<Vec<f64>>, f64) {
    let dim = rows.first().map_or(0, Vec::len);
    if rows.len() < 2 || dim == 0 || rows.iter().any(|r| r.len() != dim) {
        return (Vec::new(), 0.0);
    }
    let n = rows.len() as f64;
    let mean: Vec<f64> = (0..dim).map(|j| rows.iter().map(|r| r[j]).sum::<f64>() / n).collect();
    let mut cov = vec![vec![0.0; dim]; dim];
    for r in rows {
        for i in 0..dim {
            for j in 0..dim {
                cov[i][j] += (r[i] - mean[i]) * (r[j] - mean[j]) / n;
            }
        }
    }
    let total: f64 = (0..dim).map(|i| cov[i][i]).sum();
    if total.is_nan() || total <= 1e-12 {
        return (Vec::new(), 0.0);
    }
    let mut axes = Vec::new();
    let mut carried = 0.0;
    for k in 0..2 {
        // A fixed start, not parallel to the axis already found.
        let mut v: Vec<f64> = (0..dim).map(|i| 1.0 + (i + k) as f64 / dim as f64).collect();
        let mut value = 0.0;
        for _ in 0..200 {
            let mut w: Vec<f64> = (0..dim).map(|i| (0..dim).map(|j| cov[i][j] * v[j]).sum()).collect();
            let norm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm.is_nan() || norm <= 1e-12 {
                break;
            }
            w.iter_mut().for_each(|x| *x /= norm);
            value = norm;
            v = w;
        }
        if value.is_nan() || value <= 1e-12 {
            break;
        }
        // Deflate: what is left for the next axis.
        for i in 0..dim {
            for j in 0..dim {
                cov[i][j] -= value * v[i] * v[j];
            }
        }
        carried += value;
        axes.push(v);
    }
    (axes, (carried / total).clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests;
