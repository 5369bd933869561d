//! Tests of the detector set: incidents across detectors, caps under attack, batching.

use super::*;
use crate::packet::{Frame, LinkType, NANOS_PER_SEC};

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

    fn observe(&mut self, meta: &PacketMeta, _tuples: &Tuples, out: &mut Vec<Alert>) {
        if meta.wire_len <= 1000 {
            return;
        }
        self.seen += 1;
        let alert = match self.open.take() {
            None => Alert {
                id: 1,
                state: AlertState::New,
                kind: AlertKind::RateSpike,
                severity: Severity::Low,
                ts: meta.ts,
                first_ts: meta.ts,
                last_ts: meta.ts,
                src: meta.src,
                dst: meta.dst,
                proto: meta.proto.into(),
                port: None,
                packets: 1,
                summary: "a big packet".into(),
                evidence: Evidence::default(),
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
    assert!(one.iter().any(|a| a.kind == "port_scan") && one.iter().any(|a| a.kind == "syn_flood" && a.src.is_none()));
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
    let kinds: Vec<&str> = d.incidents().iter().map(|a| a.kind.name()).collect();
    assert_eq!(kinds, ["syn_flood"], "one incident, keyed by the victim");
    assert!(reports.len() < 10, "{} reports", reports.len());
    let flood = &d.incidents()[0];
    assert!(flood.src.is_none() && flood.packets > 999_000, "{flood:?}");
    assert!(flood.last_ts > 1_999_000_000, "the end covers the last packet: {flood:?}");
}

#[test]
fn ended_incidents_are_kept_up_to_the_cap_and_counted_beyond() {
    let mut d = Detectors::new(vec![Box::new(BigPackets::new())]);
    let n = incidents::MAX_ENDED as i64 + 500;
    for i in 0..n {
        // A big packet opens an incident; the next second's tick ends it.
        d.observe(&[meta(i * 2 * NANOS_PER_SEC, 1500), meta(i * 2 * NANOS_PER_SEC + NANOS_PER_SEC + 1, 60)]);
    }
    let held = d.incidents();
    assert_eq!(held.len(), incidents::MAX_ENDED);
    assert_eq!(d.incidents_total(), n as u64);
    assert_eq!(held[0].id, n as u64, "the newest are kept");
    let t = d.tables().into_iter().find(|(name, _)| *name == "incidents").unwrap().1;
    assert_eq!((t.len, t.evicted), (incidents::MAX_ENDED, 500));
}

/// Feeds `packets` in batches of 1024, then finishes; every report.
fn feed_all(d: &mut Detectors, packets: impl IntoIterator<Item = PacketMeta>) -> Vec<Alert> {
    let mut reports = Vec::new();
    let mut batch = Vec::with_capacity(1024);
    for p in packets {
        batch.push(p);
        if batch.len() == 1024 {
            reports.extend(d.observe(&batch));
            batch.clear();
        }
    }
    reports.extend(d.observe(&batch));
    reports.extend(d.finish());
    reports
}

/// Every bounded structure of `d` is within its cap.
fn within_caps(d: &Detectors) {
    for (name, f) in d.tables() {
        assert!(f.len <= f.cap, "{name}: {f:?}");
    }
}

/// A TCP segment with these flags.
fn segment(ts: Nanos, src: std::net::IpAddr, sport: u16, dst: std::net::IpAddr, dport: u16, flags: u8) -> PacketMeta {
    PacketMeta {
        proto: crate::decode::Proto::Tcp,
        ip_proto: Some(6),
        src: Some(src),
        dst: Some(dst),
        ports: Some((sport, dport)),
        tcp_flags: crate::decode::TcpFlags(flags),
        ..meta(ts, 60)
    }
}

#[test]
fn forged_rst_pairs_from_random_addresses_raise_nothing_and_stay_bounded() {
    use crate::decode::TcpFlags;
    let mut d = all();
    let mut rng = crate::synth::Rng::new(7);
    // 100 s of 5,000 packets/s: pairs of RSTs between random addresses and ports.
    let packets = (0..250_000i64).flat_map(|i| {
        let a = std::net::Ipv4Addr::from(rng.next_u64() as u32).into();
        let b = std::net::Ipv4Addr::from(rng.next_u64() as u32).into();
        let (pa, pb) = (rng.next_u64() as u16 | 1024, rng.next_u64() as u16 | 1024);
        let t = 2 * i * 200_000;
        [segment(t, a, pa, b, pb, TcpFlags::RST), segment(t + 200_000, b, pb, a, pa, TcpFlags::RST)]
    });
    let reports = feed_all(&mut d, packets);
    within_caps(&d);
    assert!(reports.is_empty(), "{:?}", reports.iter().map(|a| &a.summary).collect::<Vec<_>>());
}

#[test]
fn a_spoofed_flood_does_not_hide_a_concurrent_scan() {
    use crate::decode::TcpFlags;
    let mut d = all();
    let ip = |s: &str| -> std::net::IpAddr { s.parse().unwrap() };
    let (scanner, target, victim) = (ip("10.0.0.66"), ip("10.0.0.20"), ip("10.0.0.10"));
    let packets = (0..1_000_000u32).flat_map(|i| {
        let ts = Nanos::from(i) * 2_000;
        let src = std::net::Ipv4Addr::from(0x0b00_0000u32.wrapping_add(i.wrapping_mul(2_654_435_761)));
        let mut out = vec![segment(ts, src.into(), 1024 + (i % 50_000) as u16, victim, 80, TcpFlags::SYN)];
        if i % 250 == 0 {
            let port = 1 + (i / 250) as u16 % 2000;
            out.push(segment(ts, scanner, 40_000, target, port, TcpFlags::SYN));
            let rst = segment(ts + 1000, target, port, scanner, 40_000, TcpFlags::RST | TcpFlags::ACK);
            out.push(PacketMeta { tcp_ack: 1, ..rst });
        }
        out
    });
    feed_all(&mut d, packets);
    within_caps(&d);
    let mut kinds: Vec<&str> = d.incidents().iter().map(|a| a.kind.name()).collect();
    kinds.sort_unstable();
    assert_eq!(kinds, ["port_scan", "syn_flood"], "the flood and the scan, one incident each");
}

#[test]
fn no_detectors_no_work() {
    let mut d = Detectors::new(Vec::new());
    assert!(d.observe(&[meta(0, 1500)]).is_empty());
    assert!(d.incidents().is_empty());
}

/// Finds each host in `hosts` odd (an outlier, explained by `feature`) at its first
/// packet from `from` on; ends them all when the capture does.
struct OddHosts {
    hosts: crate::hash::Set<std::net::IpAddr>,
    from: Nanos,
    feature: &'static str,
    open: Vec<Alert>,
}

impl OddHosts {
    fn new(hosts: impl IntoIterator<Item = std::net::IpAddr>, from: Nanos, feature: &'static str) -> Self {
        OddHosts { hosts: hosts.into_iter().collect(), from, feature, open: Vec::new() }
    }
}

impl Detector for OddHosts {
    fn name(&self) -> &'static str {
        "odd_hosts"
    }

    fn observe(&mut self, meta: &PacketMeta, _tuples: &Tuples, out: &mut Vec<Alert>) {
        let Some(src) = meta.src.filter(|s| meta.ts >= self.from && self.hosts.remove(s)) else { return };
        let unusual = vec![evidence::UnusualFigure {
            feature: self.feature.into(),
            value: 1.0,
            typical: 0.0,
            deviation: 9.0,
            host_routine: None,
            text: format!("{} is unusual", self.feature),
        }];
        let figures = evidence::OutlierFigures {
            score: 0.9,
            max_score: 0.9,
            threshold: 0.6,
            cluster: 1,
            usual_cluster: 0,
            windows: 1,
            window_secs: 10.0,
            unusual,
        };
        let a = Alert {
            id: self.open.len() as u64 + 1,
            state: AlertState::New,
            kind: AlertKind::Outlier,
            severity: Severity::Medium,
            ts: meta.ts,
            first_ts: meta.ts,
            last_ts: meta.ts,
            src: Some(src),
            dst: None,
            proto: AlertProto::Ip,
            port: None,
            packets: 1,
            summary: format!("{src} is odd"),
            evidence: Evidence::of(Figures::Outlier(figures)),
        };
        out.push(a.clone());
        self.open.push(a);
    }

    fn finish(&mut self, now: Nanos, out: &mut Vec<Alert>) {
        out.extend(self.open.drain(..).map(|a| Alert { state: AlertState::End, ts: now, ..a }));
    }
}

fn news(reports: &[Alert]) -> Vec<(AlertKind, Option<std::net::IpAddr>)> {
    reports.iter().filter(|a| a.state == AlertState::New).map(|a| (a.kind, a.src)).collect()
}

#[test]
fn outliers_of_a_floods_spoofed_sources_fold_into_the_flood() {
    use crate::decode::TcpFlags;
    let victim: std::net::IpAddr = "10.0.0.10".parse().unwrap();
    let source = |i: u32| -> std::net::IpAddr { std::net::Ipv4Addr::from(0x0a09_0000 + i % 3000).into() };
    let bystander: std::net::IpAddr = "10.0.0.77".parse().unwrap();
    let odd = (0..3000).map(source).chain([bystander]);
    let mut d = Detectors::new(vec![
        Box::new(flood::FloodDetector::new(flood::FloodConfig::default())),
        Box::new(OddHosts::new(odd, 2 * NANOS_PER_SEC, "syn_share")),
    ]);
    // 5 s of 6,000 spoofed SYNs a second from 3,000 addresses of the LAN; one bystander.
    let packets = (0..30_000u32).flat_map(|i| {
        let ts = Nanos::from(i) * NANOS_PER_SEC / 6000;
        let mut p = vec![segment(ts, source(i), 1024 + (i % 60_000) as u16, victim, 80, TcpFlags::SYN)];
        if i == 20_000 {
            p.push(segment(ts, bystander, 5555, "10.0.0.1".parse().unwrap(), 443, TcpFlags::SYN));
        }
        p
    });
    let reports = feed_all(&mut d, packets);
    assert_eq!(news(&reports), [(AlertKind::SynFlood, None), (AlertKind::Outlier, Some(bystander))]);
    let end = reports.iter().find(|a| a.kind == AlertKind::SynFlood && a.state == AlertState::End).unwrap();
    let folded = end.evidence.folded.as_ref().expect("the flood counts the outliers folded into it");
    assert_eq!((folded.alerts, folded.kinds.as_slice()), (3000, [AlertKind::Outlier].as_slice()));
    assert_eq!(folded.sample_hosts.len(), evidence::FOLDED_SAMPLE);
    let json = serde_json::to_string(end).unwrap();
    assert!(json.contains(r#""folded":{"alerts":3000,"kinds":["outlier"]"#), "{json}");
}

#[test]
fn many_hosts_alike_are_one_incident_with_a_count() {
    let host = |i: u32| -> std::net::IpAddr { std::net::Ipv4Addr::from(0x0a00_0100 + i).into() };
    let loner: std::net::IpAddr = "10.0.9.9".parse().unwrap();
    let mut d = Detectors::new(vec![
        Box::new(OddHosts::new((0..50).map(host), 0, "new_peers")),
        Box::new(OddHosts::new([loner], 0, "bytes_out")),
    ]);
    // 50 hosts found odd alike within 5 s, and one for another reason among them.
    let packets = (0..50u32).flat_map(|i| {
        let ts = Nanos::from(i) * NANOS_PER_SEC / 10;
        let mut p = vec![PacketMeta { src: Some(host(i)), ..meta(ts, 100) }];
        if i == 25 {
            p.push(PacketMeta { src: Some(loner), ..meta(ts, 100) });
        }
        p
    });
    let reports = feed_all(&mut d, packets);
    let group = [(AlertKind::Outlier, Some(host(0))), (AlertKind::Outlier, Some(host(1))), (AlertKind::Outlier, None)];
    assert_eq!(news(&reports)[..3], group);
    assert_eq!(news(&reports)[3..], [(AlertKind::Outlier, Some(loner))]);
    let end = reports.iter().rfind(|a| a.src.is_none()).unwrap();
    assert_eq!(end.state, AlertState::End);
    assert_eq!(end.evidence.folded.as_ref().map(|f| f.alerts), Some(50));
    assert!(end.summary.starts_with("50 hosts alike"), "{}", end.summary);
    // Their own reports stop once folded: 2 hosts on their own (new, end), the group, the loner.
    assert_eq!(reports.iter().filter(|a| a.src.is_some_and(|s| s != loner)).count(), 4);
}

#[test]
fn a_flooders_own_scan_is_not_folded_into_its_flood() {
    use crate::decode::TcpFlags;
    let ip = |s: &str| -> std::net::IpAddr { s.parse().unwrap() };
    let (attacker, victim) = (ip("10.0.0.66"), ip("10.0.0.20"));
    let packets = (0..18_000u32).flat_map(|i| {
        let ts = Nanos::from(i) * NANOS_PER_SEC / 6000;
        let mut p = vec![segment(ts, attacker, 1024 + (i % 60_000) as u16, victim, 80, TcpFlags::SYN)];
        if i % 100 == 0 {
            let port = 1000 + (i / 100) as u16;
            p.push(segment(ts, attacker, 40_000, victim, port, TcpFlags::SYN));
            let rst = segment(ts + 1000, victim, port, attacker, 40_000, TcpFlags::RST | TcpFlags::ACK);
            p.push(PacketMeta { tcp_ack: 1, ..rst });
        }
        p
    });
    let reports = feed_all(&mut all(), packets);
    let mut news = news(&reports);
    news.sort();
    assert_eq!(news, [(AlertKind::PortScan, Some(attacker)), (AlertKind::SynFlood, Some(attacker))]);
}

/// A port scan of 60 ports, one every 100 ms, each refused by a RST.
fn refused_scan(scanner: std::net::IpAddr, target: std::net::IpAddr) -> Vec<PacketMeta> {
    use crate::decode::TcpFlags;
    (0..60u16)
        .flat_map(|p| {
            let ts = Nanos::from(p) * NANOS_PER_SEC / 10;
            let rst = segment(ts + 1000, target, 1000 + p, scanner, 40_000, TcpFlags::RST | TcpFlags::ACK);
            [segment(ts, scanner, 40_000, target, 1000 + p, TcpFlags::SYN), PacketMeta { tcp_ack: 1, ..rst }]
        })
        .collect()
}

#[test]
fn a_scan_takes_over_the_outlier_incident_of_its_scanner() {
    let ip = |s: &str| -> std::net::IpAddr { s.parse().unwrap() };
    let (scanner, target, bystander) = (ip("10.0.0.66"), ip("10.0.0.20"), ip("10.0.0.77"));
    let mut d = Detectors::new(vec![
        Box::new(scan::ScanDetector::new(scan::ScanConfig::default())),
        Box::new(OddHosts::new([scanner, bystander], 0, "syn_share")),
    ]);
    // The scanner is found odd at once; its probes (one port every 100 ms, refused) make
    // a port scan a few seconds later. A bystander is odd on its own.
    let mut packets = vec![PacketMeta { src: Some(bystander), ..meta(0, 60) }];
    packets.extend(refused_scan(scanner, target));
    let reports = feed_all(&mut d, packets);
    let scan = reports.iter().find(|a| a.kind == AlertKind::PortScan && a.state == AlertState::New).unwrap();
    let outlier = |a: &&Alert| a.kind == AlertKind::Outlier && a.src == Some(scanner);
    let theirs: Vec<&Alert> = reports.iter().filter(outlier).collect();
    assert_eq!(theirs.iter().map(|a| a.state).collect::<Vec<_>>(), [AlertState::New, AlertState::End]);
    let end = theirs[1];
    assert_eq!(end.evidence.explained_by, Some(scan.id));
    assert!(end.summary.ends_with(&format!("taken over by incident {} (port_scan)", scan.id)), "{}", end.summary);
    assert!(end.ts <= scan.ts + NANOS_PER_SEC, "it ends when the scan opens");
    let folded = scan.evidence.folded.as_ref().expect("the scan counts the outlier it took over");
    assert_eq!(
        (folded.kinds.as_slice(), folded.sample_hosts.as_slice()),
        ([AlertKind::Outlier].as_slice(), [scanner].as_slice())
    );
    // The bystander's outlier is its own incident, to its end.
    let others: Vec<AlertState> = reports.iter().filter(|a| a.src == Some(bystander)).map(|a| a.state).collect();
    assert_eq!(others, [AlertState::New, AlertState::End]);
    let json = serde_json::to_string(end).unwrap();
    assert!(json.contains(&format!(r#""explained_by":{}"#, scan.id)), "{json}");
}

#[test]
fn a_scan_of_an_odd_host_leaves_its_outlier_incident_alone() {
    let ip = |s: &str| -> std::net::IpAddr { s.parse().unwrap() };
    let (scanner, odd) = (ip("10.0.0.66"), ip("10.0.0.20"));
    let mut d = Detectors::new(vec![
        Box::new(scan::ScanDetector::new(scan::ScanConfig::default())),
        Box::new(OddHosts::new([odd], 0, "bytes_out")),
    ]);
    // The odd host (say, uploading) is then port-scanned by another: its outlier incident
    // is about something else, and a scan of it must not end it.
    let mut packets = vec![PacketMeta { src: Some(odd), ..meta(0, 60) }];
    packets.extend(refused_scan(scanner, odd));
    let reports = feed_all(&mut d, packets);
    assert!(reports.iter().any(|a| a.kind == AlertKind::PortScan && a.dst == Some(odd)));
    let theirs: Vec<&Alert> = reports.iter().filter(|a| a.kind == AlertKind::Outlier).collect();
    assert_eq!(theirs.iter().map(|a| a.state).collect::<Vec<_>>(), [AlertState::New, AlertState::End]);
    assert_eq!(theirs[1].evidence.explained_by, None);
}

#[test]
fn a_scan_hides_its_targets_answers_but_not_their_uploads() {
    let ip = |s: &str| -> std::net::IpAddr { s.parse().unwrap() };
    let (scanner, target) = (ip("10.0.0.66"), ip("10.0.0.20"));
    // The target is found odd 3 s into a port scan of it: for the RSTs it sends (the scan
    // explains that), or for the bytes it sends (it does not: say, an upload).
    for (feature, reported) in [("packets_out_per_s", false), ("bytes_out_per_s", true), ("bytes_out_per_s_long", true)]
    {
        let mut d = Detectors::new(vec![
            Box::new(scan::ScanDetector::new(scan::ScanConfig::default())),
            Box::new(OddHosts::new([target], 3 * NANOS_PER_SEC, feature)),
        ]);
        let reports = feed_all(&mut d, refused_scan(scanner, target));
        let news = news(&reports);
        assert_eq!(news[0], (AlertKind::PortScan, Some(scanner)));
        assert_eq!(news.contains(&(AlertKind::Outlier, Some(target))), reported, "{feature}: {news:?}");
    }
}

#[test]
fn the_figures_an_upload_is_told_by_are_outlier_features() {
    for name in [super::incidents::BYTES_OUT, super::incidents::PACKETS_OUT] {
        assert!(features::FEATURES.contains(&name), "{name}");
    }
}
