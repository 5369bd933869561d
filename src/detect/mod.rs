//! Detection: detectors watch decoded packets on their own thread and raise alerts.
//!
//! A [`Detector`] sees every packet (after the filter) in order, with packet time only,
//! so a replay at any speed and a live capture raise the same alerts. [`Detectors`] runs
//! a set of them and keeps the latest report of each incident. The scan, sweep, flood
//! and outlier detectors plug in here.

pub mod alert;
pub mod book;
pub mod features;
pub mod flood;
pub mod memory;
pub mod outlier;
pub mod scan;

use std::io::Write;

use crate::capture::Nanos;
use crate::decode::PacketMeta;
pub use alert::{Alert, AlertState, Severity};
pub use book::{Book, IncidentKey};

/// One detector: fed every packet, and a clock tick in packet time.
pub trait Detector: Send {
    /// Short name, for logs and evidence.
    fn name(&self) -> &'static str;

    /// Looks at one packet; pushes any alert reports it produces onto `out`.
    fn observe(&mut self, meta: &PacketMeta, out: &mut Vec<Alert>);

    /// Packet time moved on to `now` (about once a second of packet time): close quiet
    /// incidents, emit rate-limited updates.
    fn tick(&mut self, _now: Nanos, _out: &mut Vec<Alert>) {}

    /// The capture is over at `now`: end every open incident with its final figures.
    fn finish(&mut self, _now: Nanos, _out: &mut Vec<Alert>) {}
}

/// Sees every alert report before it is kept or written, and may add to it.
pub type ReportHook = Box<dyn FnMut(&mut Alert) + Send>;

/// Packet time between two ticks.
const TICK: Nanos = crate::capture::NANOS_PER_SEC;

/// A set of detectors and the incidents they reported.
pub struct Detectors {
    list: Vec<Box<dyn Detector>>,
    /// Latest report per incident, in order of first report (so by id).
    incidents: Vec<Alert>,
    /// Run-wide ids of (detector, the detector's own incident id).
    ids: crate::hash::Map<(usize, u64), u64>,
    /// Rate spikes and outliers that another incident already explains: never reported.
    explained: crate::hash::Set<(usize, u64)>,
    next_tick: Option<Nanos>,
    /// Packet time of the latest packet seen.
    last_ts: Option<Nanos>,
    /// Where every report goes as one JSON line (`--alerts`), if anywhere.
    sink: Option<Box<dyn Write + Send>>,
    sink_error: Option<String>,
    /// Sees (and may annotate) every report before it is kept or written.
    hook: Option<ReportHook>,
}

impl Detectors {
    /// Runs `list`.
    pub fn new(list: Vec<Box<dyn Detector>>) -> Self {
        Detectors {
            list,
            incidents: Vec::new(),
            ids: Default::default(),
            explained: Default::default(),
            next_tick: None,
            last_ts: None,
            sink: None,
            sink_error: None,
            hook: None,
        }
    }

    /// Runs `hook` on every report first (for example to dump its pcap and note where).
    pub fn with_hook(mut self, hook: ReportHook) -> Self {
        self.hook = Some(hook);
        self
    }

    /// Also writes every alert report to `sink` as NDJSON (one object a line, flushed
    /// after each batch that produced any).
    pub fn with_sink(mut self, sink: Box<dyn Write + Send>) -> Self {
        self.sink = Some(sink);
        self
    }

    /// The first error writing the NDJSON stream, if any (writing stops there).
    pub fn sink_error(&self) -> Option<&str> {
        self.sink_error.as_deref()
    }

    fn write_reports(&mut self, reports: &[Alert]) {
        let Some(sink) = self.sink.as_mut() else { return };
        let result = reports
            .iter()
            .try_for_each(|a| {
                let line = serde_json::to_string(a).map_err(std::io::Error::other)?;
                sink.write_all(line.as_bytes())?;
                sink.write_all(b"\n")
            })
            .and_then(|()| sink.flush());
        if let Err(e) = result {
            self.sink_error = Some(e.to_string());
            self.sink = None;
        }
    }

    /// Whether no detector is registered.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Feeds a batch; returns the alert reports it produced, in order.
    pub fn observe(&mut self, batch: &[PacketMeta]) -> Vec<Alert> {
        let mut out = Vec::new();
        if self.list.is_empty() {
            return out;
        }
        for meta in batch {
            let due = *self.next_tick.get_or_insert(meta.ts + TICK);
            for i in 0..self.list.len() {
                let before = out.len();
                if meta.ts >= due {
                    self.list[i].tick(meta.ts, &mut out);
                }
                self.list[i].observe(meta, &mut out);
                if out.len() > before {
                    self.renumber(i, &mut out, before);
                }
            }
            if meta.ts >= due {
                self.next_tick = Some(meta.ts + TICK);
            }
        }
        self.last_ts = batch.last().map(|m| m.ts).or(self.last_ts);
        self.record(&mut out);
        out
    }

    /// The capture is over: ends every open incident (at the last packet's time) and
    /// returns those final reports.
    pub fn finish(&mut self) -> Vec<Alert> {
        let mut out = Vec::new();
        if let Some(now) = self.last_ts {
            for i in 0..self.list.len() {
                let before = out.len();
                self.list[i].finish(now, &mut out);
                self.renumber(i, &mut out, before);
            }
        }
        self.record(&mut out);
        out
    }

    /// Gives the reports of detector `i` in `out[from..]` run-wide incident ids (1, 2, ...
    /// in order of first report), and drops reports that another incident explains (a
    /// scan or flood is one incident, not also a spike or an outlier).
    fn renumber(&mut self, i: usize, out: &mut Vec<Alert>, from: usize) {
        let mut k = from;
        while k < out.len() {
            let a = &out[k];
            let local = (i, a.id);
            let explained = self.explained.contains(&local)
                || (a.state == AlertState::New && self.incidents.iter().chain(&out[..from]).any(|b| explains(b, a)));
            if explained {
                self.explained.insert(local);
                out.remove(k);
                continue;
            }
            let next = self.ids.len() as u64 + 1;
            out[k].id = *self.ids.entry(local).or_insert(next);
            k += 1;
        }
    }

    fn record(&mut self, out: &mut [Alert]) {
        if let Some(hook) = &mut self.hook {
            out.iter_mut().for_each(hook);
        }
        // Ids are 1, 2, ... in order of first report: incident `id` sits at `id - 1`.
        for alert in out.iter() {
            match self.incidents.get_mut(alert.id as usize - 1) {
                Some(known) => *known = alert.clone(),
                None => self.incidents.push(alert.clone()),
            }
        }
        if !out.is_empty() {
            self.write_reports(out);
        }
    }

    /// The latest report of every incident, newest incident first.
    pub fn incidents(&self) -> Vec<Alert> {
        self.incidents.iter().rev().cloned().collect()
    }
}

/// Whether incident `b` already explains the new report `a`, which is then never
/// reported: a rate spike of a protocol that an open scan or flood is flooding, or an
/// outlier host that a scan or flood names (as attacker or victim) within the last
/// [`OUTLIER_EXPLAINED`]. Rules name what they can; outliers are for the rest.
fn explains(b: &Alert, a: &Alert) -> bool {
    let rule = !matches!(b.kind, "rate_spike" | "outlier");
    match a.kind {
        "rate_spike" => b.kind != "rate_spike" && b.proto == a.proto && b.last_ts + TICK >= a.first_ts,
        "outlier" => {
            rule && a.src.is_some() && (b.src == a.src || b.dst == a.src) && b.last_ts + OUTLIER_EXPLAINED >= a.first_ts
        }
        _ => false,
    }
}

/// How long after a scan or flood an outlier of the same host counts as explained by it:
/// the long horizon of the outlier's figures remembers about a minute.
const OUTLIER_EXPLAINED: Nanos = 90 * crate::capture::NANOS_PER_SEC;

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::capture::{Frame, LinkType, NANOS_PER_SEC};

    /// Raises an incident on the first packet bigger than 1000 bytes, updates it on the
    /// next ones, and ends it on the first tick after them.
    pub(crate) struct BigPackets {
        seen: u64,
        open: Option<Alert>,
    }

    impl BigPackets {
        pub(crate) fn new() -> Self {
            BigPackets { seen: 0, open: None }
        }
    }

    impl Detector for BigPackets {
        fn name(&self) -> &'static str {
            "big_packets"
        }

        fn observe(&mut self, meta: &PacketMeta, out: &mut Vec<Alert>) {
            if meta.wire_len <= 1000 {
                return;
            }
            self.seen += 1;
            let alert = match self.open.take() {
                None => Alert {
                    id: 1,
                    state: AlertState::New,
                    kind: "test",
                    severity: Severity::Low,
                    ts: meta.ts,
                    first_ts: meta.ts,
                    last_ts: meta.ts,
                    src: meta.src,
                    dst: meta.dst,
                    proto: meta.proto.name(),
                    port: None,
                    packets: 1,
                    summary: "a big packet".into(),
                    evidence: serde_json::json!({}),
                },
                Some(a) => Alert { state: AlertState::Update, ts: meta.ts, last_ts: meta.ts, packets: self.seen, ..a },
            };
            out.push(alert.clone());
            self.open = Some(alert);
        }

        fn tick(&mut self, now: Nanos, out: &mut Vec<Alert>) {
            if let Some(a) = self.open.take() {
                out.push(Alert { state: AlertState::End, ts: now, ..a });
            }
        }
    }

    fn meta(ts: Nanos, len: u32) -> PacketMeta {
        PacketMeta::blank(&Frame { ts, linktype: LinkType::ETHERNET, data: &[], orig_len: len })
    }

    #[test]
    fn lifecycle_reaches_the_incident_list() {
        let mut d = Detectors::new(vec![Box::new(BigPackets::new())]);
        let out = d.observe(&[meta(0, 60), meta(10, 1500), meta(20, 1500)]);
        assert_eq!(out.iter().map(|a| a.state).collect::<Vec<_>>(), [AlertState::New, AlertState::Update]);
        let out = d.observe(&[meta(2 * NANOS_PER_SEC, 60)]);
        assert_eq!(out.iter().map(|a| a.state).collect::<Vec<_>>(), [AlertState::End]);
        let incidents = d.incidents();
        assert_eq!(incidents.len(), 1);
        assert_eq!((incidents[0].state, incidents[0].packets), (AlertState::End, 2));
    }

    /// A writer whose bytes the test can read back.
    #[derive(Clone, Default)]
    struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_report_is_one_ndjson_line() {
        let out = Shared::default();
        let mut d = Detectors::new(vec![Box::new(BigPackets::new())]).with_sink(Box::new(out.clone()));
        d.observe(&[meta(10, 1500), meta(20, 1500)]);
        d.observe(&[meta(3 * NANOS_PER_SEC, 60)]);
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let states: Vec<String> = text
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["state"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(states, ["new", "update", "end"]);
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            for key in [
                "id", "state", "kind", "severity", "ts", "first_ts", "last_ts", "src", "dst", "proto", "port",
                "packets", "summary", "evidence",
            ] {
                assert!(v.get(key).is_some(), "{key} missing in {line}");
            }
        }
    }

    struct Broken;

    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk full"))
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failing_sink_is_reported_not_fatal() {
        let mut d = Detectors::new(vec![Box::new(BigPackets::new())]).with_sink(Box::new(Broken));
        assert_eq!(d.observe(&[meta(10, 1500)]).len(), 1);
        assert_eq!(d.sink_error(), Some("disk full"));
        assert_eq!(d.observe(&[meta(20, 1500)]).len(), 1, "detection goes on");
    }

    #[test]
    fn incident_ids_are_unique_across_detectors() {
        let mut d = Detectors::new(vec![Box::new(BigPackets::new()), Box::new(BigPackets::new())]);
        let out = d.observe(&[meta(10, 1500), meta(20, 1500)]);
        let ids: Vec<u64> = out.iter().map(|a| a.id).collect();
        assert_eq!(ids, [1, 2, 1, 2]);
    }

    /// Both real detectors with their default settings.
    fn all() -> Detectors {
        Detectors::new(vec![
            Box::new(scan::ScanDetector::new(scan::ScanConfig::default())),
            Box::new(flood::FloodDetector::new(flood::FloodConfig::default())),
        ])
    }

    /// Benign synthetic traffic with a SYN scan and a spoofed SYN flood mixed in.
    fn mixed_with_attacks() -> Vec<PacketMeta> {
        use crate::decode::{Proto, TcpFlags, decode};
        use crate::synth::{Synth, SynthConfig};
        let cfg = SynthConfig { packets: 20_000, mean_gap: 1_000_000, ..SynthConfig::default() };
        let mut out: Vec<PacketMeta> = Synth::new(cfg).map(|f| decode(&f.as_frame())).collect();
        let (t0, first) = (out[0].ts, out[0]);
        let syn = |ts: Nanos, src: std::net::IpAddr, sport: u16, dport: u16| PacketMeta {
            proto: Proto::Tcp,
            ip_proto: Some(6),
            src: Some(src),
            dst: Some("10.1.0.9".parse().unwrap()),
            ports: Some((sport, dport)),
            tcp_flags: TcpFlags(TcpFlags::SYN),
            ..first.with_ts(ts)
        };
        for p in 1..=300u16 {
            out.push(syn(t0 + 2 * NANOS_PER_SEC + Nanos::from(p) * 100_000, "10.1.0.66".parse().unwrap(), 40000, p));
        }
        for i in 0..5000u32 {
            let src = std::net::Ipv4Addr::from(0x0b00_0000u32.wrapping_add(i.wrapping_mul(2_654_435_761)));
            out.push(syn(t0 + 8 * NANOS_PER_SEC + Nanos::from(i) * 100_000, src.into(), 1024, 80));
        }
        out.sort_by_key(|m| m.ts);
        out
    }

    #[test]
    fn the_same_packets_give_the_same_reports_however_they_are_batched() {
        let packets = mixed_with_attacks();
        let run = |batch: usize| {
            let mut d = all();
            let mut reports: Vec<Alert> = packets.chunks(batch).flat_map(|b| d.observe(b)).collect();
            reports.extend(d.finish());
            reports
        };
        let one = run(1);
        assert!(
            one.iter().any(|a| a.kind == "port_scan") && one.iter().any(|a| a.kind == "syn_flood" && a.src.is_none())
        );
        assert_eq!(one, run(7));
        assert_eq!(one, run(4096));
    }

    #[test]
    fn a_million_spoofed_sources_stay_within_the_caps() {
        use crate::decode::{Proto, TcpFlags};
        let mut d = all();
        let base = PacketMeta::blank(&Frame { ts: 0, linktype: LinkType::ETHERNET, data: &[], orig_len: 60 });
        let mut batch = Vec::with_capacity(1024);
        let mut reports = Vec::new();
        for i in 0..1_000_000u32 {
            let src = std::net::Ipv4Addr::from(0x0b00_0000u32.wrapping_add(i.wrapping_mul(2_654_435_761)));
            batch.push(PacketMeta {
                proto: Proto::Tcp,
                ip_proto: Some(6),
                src: Some(src.into()),
                dst: Some("10.0.0.10".parse().unwrap()),
                ports: Some((1024 + (i % 50_000) as u16, 80)),
                tcp_flags: TcpFlags(TcpFlags::SYN),
                ..base.with_ts(Nanos::from(i) * 2_000) // 500k SYN/s for 2 s
            });
            if batch.len() == 1024 {
                reports.extend(d.observe(&batch));
                batch.clear();
            }
        }
        reports.extend(d.observe(&batch));
        reports.extend(d.finish());
        let kinds: Vec<&str> = d.incidents().iter().map(|a| a.kind).collect();
        assert_eq!(kinds, ["syn_flood"], "one incident, keyed by the victim");
        assert!(reports.len() < 10, "{} reports", reports.len());
        let flood = &d.incidents()[0];
        assert!(flood.src.is_none() && flood.packets > 999_000, "{flood:?}");
        assert!(flood.last_ts > 1_999_000_000, "the end covers the last packet: {flood:?}");
    }

    #[test]
    fn no_detectors_no_work() {
        let mut d = Detectors::new(Vec::new());
        assert!(d.observe(&[meta(0, 1500)]).is_empty());
        assert!(d.incidents().is_empty());
    }
}
