//! Views: what a screen shows, built from [`Stats`] by the engine thread.
//!
//! The UI sends its [`ViewSpec`] (protocol mask, units, sort, display filter, selected
//! host, zoom, rows) and receives immutable [`View`]s. Building a view touches every
//! host and flow once, so it runs on the engine thread at a few Hz and the UI only
//! draws what it is given (trippy's snapshot pattern).

pub mod filter;
pub mod services;

use std::collections::HashMap;
use std::net::IpAddr;

use crate::capture::{NANOS_PER_SEC, Nanos};
use crate::decode::{Proto, ProtoMask};
use crate::detect::Alert;
use crate::export::summary::CaptureJson;
use crate::stats::table::{top_n, top_n_of};
use crate::stats::{Counter, FlowKey, FlowStats, HostStats, Series, Stats};
pub use filter::DisplayFilter;

/// How talkers are ordered (`s` cycles).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SortKey {
    /// Sent + received.
    #[default]
    Total,
    /// Sent.
    Sent,
    /// Received.
    Received,
}

impl SortKey {
    /// The next key in the cycle.
    pub fn next(self) -> SortKey {
        match self {
            SortKey::Total => SortKey::Sent,
            SortKey::Sent => SortKey::Received,
            SortKey::Received => SortKey::Total,
        }
    }

    /// Column heading word.
    pub fn label(self) -> &'static str {
        match self {
            SortKey::Total => "total",
            SortKey::Sent => "sent",
            SortKey::Received => "received",
        }
    }
}

/// Time-series span (`z` cycles).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Zoom {
    /// 60 one-second buckets.
    #[default]
    Minute,
    /// 300 one-second buckets.
    FiveMinutes,
    /// 360 ten-second buckets.
    Hour,
    /// 1440 one-minute buckets.
    Day,
}

impl Zoom {
    /// The next span in the cycle.
    pub fn next(self) -> Zoom {
        match self {
            Zoom::Minute => Zoom::FiveMinutes,
            Zoom::FiveMinutes => Zoom::Hour,
            Zoom::Hour => Zoom::Day,
            Zoom::Day => Zoom::Minute,
        }
    }

    /// Short label.
    pub fn label(self) -> &'static str {
        match self {
            Zoom::Minute => "1 min",
            Zoom::FiveMinutes => "5 min",
            Zoom::Hour => "1 h",
            Zoom::Day => "24 h",
        }
    }
}

/// What the user has chosen to see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ViewSpec {
    /// Protocol classes shown (keys `1`..`6`, `0`).
    pub mask: ProtoMask,
    /// Bytes (true) or packets (key `b`).
    pub bytes: bool,
    /// Talker order.
    pub sort: SortKey,
    /// Display filter (`/`).
    pub filter: Option<DisplayFilter>,
    /// Host whose details are open.
    pub host: Option<IpAddr>,
    /// Time-series span.
    pub zoom: Zoom,
    /// Rows of talkers and flows wanted.
    pub rows: usize,
    /// Reports asked for so far (key `R`): one more asks the engine for another.
    pub report: u32,
}

impl Default for ViewSpec {
    fn default() -> Self {
        ViewSpec {
            mask: ProtoMask::ALL,
            bytes: true,
            sort: SortKey::Total,
            filter: None,
            host: None,
            zoom: Zoom::Minute,
            rows: 64,
            report: 0,
        }
    }
}

impl ViewSpec {
    /// Whether a packet passes the protocol mask and the display filter.
    pub fn passes(&self, meta: &crate::decode::PacketMeta) -> bool {
        self.mask.contains(meta.proto) && self.filter.is_none_or(|f| f.matches_packet(meta))
    }
}

/// Facts the engine adds that are not in [`Stats`].
#[derive(Clone, Debug, Default)]
pub struct Context {
    /// Source name.
    pub source: String,
    /// Live capture (true) or a file replay.
    pub live: bool,
    /// Live capture counters.
    pub capture: Option<CaptureJson>,
    /// A problem the source is working around.
    pub status: Option<String>,
    /// The outlier model's status, when the outlier detector runs.
    pub outliers: Option<crate::detect::outlier::OutlierStatus>,
    /// The replay reached the end of the file.
    pub finished: bool,
    /// Alerts, newest first.
    pub alerts: Vec<Alert>,
}

/// One row of the talkers table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TalkerRow {
    /// Address.
    pub ip: IpAddr,
    /// Sent, in the mask.
    pub tx: Counter,
    /// Received, in the mask.
    pub rx: Counter,
    /// Behaviour cluster (outlier detector), when known.
    pub cluster: Option<u8>,
}

/// One row of a flows table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowRow {
    /// Identity.
    pub key: FlowKey,
    /// Counters.
    pub stats: FlowStats,
}

/// Details of one host (Enter on a talker).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostDetail {
    /// The host.
    pub ip: IpAddr,
    /// Its counters (all classes), if still tracked.
    pub stats: Option<HostStats>,
    /// Peers by traffic exchanged (in the mask), largest first.
    pub peers: Vec<(IpAddr, Counter)>,
    /// Service ports (lower port of each flow) by traffic, with the IP protocol.
    pub ports: Vec<(u8, u16, Counter)>,
    /// Its flows, largest first.
    pub flows: Vec<FlowRow>,
    /// Behaviour cluster (outlier detector), when known.
    pub cluster: Option<u8>,
}

/// Everything one frame draws.
#[derive(Clone, Debug, Default)]
pub struct View {
    /// Engine context (source, capture counters, alerts).
    pub context: Context,
    /// What became of the latest report asked for (its number, and a line to show).
    pub notice: Option<(u32, String)>,
    /// The spec this view was built for.
    pub spec: ViewSpec,
    /// All packets counted.
    pub all: Counter,
    /// Packets in the mask.
    pub shown: Counter,
    /// Per class, all of them (the chart greys out the ones not in the mask).
    pub protocols: [Counter; Proto::COUNT],
    /// Packets and bits per second in the mask, over the last complete second.
    pub rate: (f64, f64),
    /// Packet time of the first and latest packet.
    pub span: Option<(Nanos, Nanos)>,
    /// Time series for the zoom: bucket width, start of the first bucket, buckets.
    pub series: (Nanos, Nanos, Vec<[Counter; Proto::COUNT]>),
    /// Top talkers under mask, filter and sort.
    pub talkers: Vec<TalkerRow>,
    /// Hosts that pass mask and filter (the talkers list may be cut to `rows`).
    pub talkers_total: usize,
    /// Top flows under mask and filter.
    pub flows: Vec<FlowRow>,
    /// Flows that pass mask and filter.
    pub flows_total: usize,
    /// Host details, when a host is selected.
    pub host: Option<HostDetail>,
    /// Packets whose headers made no sense.
    pub malformed: u64,
    /// Table entries evicted.
    pub evicted: u64,
    /// Hosts and flows tracked.
    pub tracked: (usize, usize),
}

fn flow_class(key: &FlowKey) -> Proto {
    Proto::from_ip_number(key.proto)
}

/// A flow's traffic both ways, in the chosen unit.
fn flow_amount(r: &FlowRow, bytes: bool) -> u64 {
    flow_amount_of(&r.stats, bytes)
}

fn flow_amount_of(f: &FlowStats, bytes: bool) -> u64 {
    amount(f.a_to_b + f.b_to_a, bytes)
}

fn amount(c: Counter, bytes: bool) -> u64 {
    if bytes { c.bytes } else { c.packets }
}

impl View {
    /// Builds the view of `stats` for `spec`.
    pub fn build(stats: &Stats, spec: &ViewSpec, context: Context) -> View {
        let mask = spec.mask;
        let shown: Counter = mask.iter().map(|p| stats.protocol(p)).sum();
        let series = series_for(stats, spec.zoom);
        let rate = last_second_rate(&stats.series.secs, mask);

        let flow_ok =
            |k: &FlowKey| mask.contains(flow_class(k)) && spec.filter.is_none_or(|f| f.matches_flow(k.a, k.b));
        let mut flows_total = 0;
        let rows = stats.flows.iter().filter(|(k, _)| flow_ok(k)).inspect(|_| flows_total += 1);
        let rows = rows.map(|(k, f)| (flow_amount_of(f, spec.bytes), k, f));
        let flows: Vec<FlowRow> = top_n_of(rows, spec.rows, |a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)))
            .into_iter()
            .map(|(_, key, stats)| FlowRow { key: *key, stats: *stats })
            .collect();

        // A port filter selects the hosts that have a flow on that port.
        let port_hosts: Option<std::collections::HashSet<IpAddr>> = match spec.filter {
            Some(DisplayFilter::Port(_)) => {
                Some(stats.flows.iter().filter(|(k, _)| flow_ok(k)).flat_map(|(k, _)| [k.a.0, k.b.0]).collect())
            }
            _ => None,
        };
        let keep = |ip: &IpAddr, h: &HostStats| {
            let seen = h.tx_in(mask).packets + h.rx_in(mask).packets > 0;
            let passes = match (&spec.filter, &port_hosts) {
                (_, Some(set)) => set.contains(ip),
                (Some(f), None) => f.matches_ip(ip),
                (None, None) => true,
            };
            seen && passes
        };
        let key = |h: &HostStats| {
            let (tx, rx) = (amount(h.tx_in(mask), spec.bytes), amount(h.rx_in(mask), spec.bytes));
            match spec.sort {
                SortKey::Total => tx + rx,
                SortKey::Sent => tx,
                SortKey::Received => rx,
            }
        };
        let talkers_total = stats.hosts.iter().filter(|(ip, h)| keep(ip, h)).count();
        let talkers = stats
            .hosts
            .top_by(spec.rows.max(1), keep, key)
            .into_iter()
            .map(|(ip, h)| TalkerRow { ip, tx: h.tx_in(mask), rx: h.rx_in(mask), cluster: None })
            .collect();

        View {
            notice: None,
            host: spec.host.map(|ip| host_detail(stats, ip, spec, &flow_ok)),
            context,
            spec: spec.clone(),
            all: stats.totals,
            shown,
            protocols: stats.protocols,
            rate,
            span: stats.span,
            series,
            talkers,
            talkers_total,
            flows,
            flows_total,
            malformed: stats.malformed,
            evicted: stats.hosts.evicted() + stats.flows.evicted(),
            tracked: (stats.hosts.len(), stats.flows.len()),
        }
    }
}

impl View {
    /// Adds the outlier detector's host clusters and model status.
    pub fn add_outliers(&mut self, o: &crate::detect::outlier::OutlierView) {
        for t in &mut self.talkers {
            t.cluster = o.clusters.get(&t.ip).copied();
        }
        if let Some(h) = &mut self.host {
            h.cluster = o.clusters.get(&h.ip).copied();
        }
        self.context.outliers = Some(o.status.clone());
    }
}

/// Keeps the `n` rows with the largest `amount` (ties by `tie`), sorted, in place.
fn top_rows<T>(rows: &mut Vec<T>, n: usize, amount: impl Fn(&T) -> u64, tie: impl Fn(&T, &T) -> std::cmp::Ordering) {
    top_n(rows, n, |a, b| amount(b).cmp(&amount(a)).then_with(|| tie(a, b)));
}

fn series_for(stats: &Stats, zoom: Zoom) -> (Nanos, Nanos, Vec<[Counter; Proto::COUNT]>) {
    let (series, len) = match zoom {
        Zoom::Minute => (&stats.series.secs, 60),
        Zoom::FiveMinutes => (&stats.series.secs, 300),
        Zoom::Hour => (&stats.series.tens, 360),
        Zoom::Day => (&stats.series.mins, 1440),
    };
    let all: Vec<(Nanos, [Counter; Proto::COUNT])> = series.iter().map(|(t, b)| (t, *b)).collect();
    let tail = &all[all.len().saturating_sub(len)..];
    let start = tail.first().map_or(0, |(t, _)| *t);
    (series.width(), start, tail.iter().map(|(_, b)| *b).collect())
}

/// Rate over the newest complete 1-second bucket (the newest one is still filling).
fn last_second_rate(secs: &Series, mask: ProtoMask) -> (f64, f64) {
    let buckets: Vec<_> = secs.iter().collect();
    let Some((_, b)) = buckets.len().checked_sub(2).map(|i| buckets[i]) else { return (0.0, 0.0) };
    let c: Counter = mask.iter().map(|p| b[p.index()]).sum();
    let secs = secs.width() as f64 / NANOS_PER_SEC as f64;
    (c.packets as f64 / secs, c.bytes as f64 * 8.0 / secs)
}

fn host_detail(stats: &Stats, ip: IpAddr, spec: &ViewSpec, flow_ok: &impl Fn(&FlowKey) -> bool) -> HostDetail {
    let mut peers: HashMap<IpAddr, Counter> = HashMap::new();
    let mut ports: HashMap<(u8, u16), Counter> = HashMap::new();
    let mut flows = Vec::new();
    for (k, f) in stats.flows.iter().filter(|(k, _)| flow_ok(k)) {
        let (a, b) = (k.a, k.b);
        let peer = if a.0 == ip {
            b.0
        } else if b.0 == ip {
            a.0
        } else {
            continue;
        };
        let c = f.a_to_b + f.b_to_a;
        let e = peers.entry(peer).or_default();
        *e = *e + c;
        // The service side of a flow is usually its lower port.
        let service = match (a.1, b.1) {
            (0, p) | (p, 0) => p,
            (x, y) => x.min(y),
        };
        if service != 0 {
            let e = ports.entry((k.proto, service)).or_default();
            *e = *e + c;
        }
        flows.push(FlowRow { key: *k, stats: *f });
    }
    let amount_of = |c: &Counter| amount(*c, spec.bytes);
    let mut peers: Vec<(IpAddr, Counter)> = peers.into_iter().collect();
    top_rows(&mut peers, spec.rows, |(_, c)| amount_of(c), |a, b| a.0.cmp(&b.0));
    let mut ports: Vec<(u8, u16, Counter)> = ports.into_iter().map(|((p, port), c)| (p, port, c)).collect();
    top_rows(&mut ports, spec.rows, |(_, _, c)| amount_of(c), |a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    top_rows(&mut flows, spec.rows, |r| flow_amount(r, spec.bytes), |a, b| a.key.cmp(&b.key));
    HostDetail { ip, stats: stats.hosts.get(&ip).copied(), peers, ports, flows, cluster: None }
}

#[cfg(test)]
mod tests;
