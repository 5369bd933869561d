use super::model::{Scaler, quantile, squash};
use super::*;
use crate::decode::TcpFlags;
use crate::decode::testing::{ip, tcp, udp};
use crate::detect::AlertState;
use crate::detect::features::{DIM, N};
use crate::packet::NANOS_PER_SEC;

const S: Nanos = NANOS_PER_SEC;

/// A small deterministic generator for test traffic.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// `secs` seconds of ordinary traffic from `from` second on: six clients browse one web
/// server and ask a DNS server now and then.
fn benign(from: i64, secs: i64, seed: u64) -> Vec<PacketMeta> {
    let mut rng = Lcg(seed);
    let mut out = Vec::new();
    for s in from..from + secs {
        for c in 1..=6u64 {
            let client = format!("10.0.0.{c}");
            let requests = 2 + rng.next(4);
            for r in 0..requests {
                let t = s * S + (r * 200_000_000 + c * 1_000_000) as Nanos;
                let sport = 40000 + (c * 10 + r) as u16;
                let ask = PacketMeta {
                    wire_len: 120 + rng.next(200) as u32,
                    ..tcp(t, &client, sport, "10.0.0.100", 443, TcpFlags::ACK)
                };
                let reply = PacketMeta {
                    wire_len: 600 + rng.next(900) as u32,
                    ..tcp(t + 1_000_000, "10.0.0.100", 443, &client, sport, TcpFlags::ACK)
                };
                out.extend([ask, reply]);
            }
            if rng.next(10) == 0 {
                let t = s * S + 900_000_000 + c as Nanos;
                out.push(PacketMeta { wire_len: 80, ..udp(t, &client, 5353, "10.0.0.53", 53) });
                out.push(PacketMeta { wire_len: 140, ..udp(t + 500_000, "10.0.0.53", 53, &client, 5353) });
            }
        }
    }
    out
}

/// 10.0.0.3 sends 1,400-byte packets to a peer it never talked to, 800 a second.
fn upload(from: i64, secs: i64) -> Vec<PacketMeta> {
    (0..secs * 800)
        .map(|i| {
            let t = from * S + i * 1_250_000;
            PacketMeta { wire_len: 1400, ..tcp(t, "10.0.0.3", 50000, "10.0.0.99", 443, TcpFlags::ACK) }
        })
        .collect()
}

fn run(packets: &mut [PacketMeta], cfg: OutlierConfig) -> (Vec<Alert>, OutlierView) {
    packets.sort_by_key(|m| m.ts);
    let mut d = OutlierDetector::new(cfg, None);
    let mut out = Vec::new();
    let mut next_tick = 0;
    for m in packets.iter() {
        if m.ts >= next_tick {
            d.tick(m.ts, &mut out);
            next_tick = m.ts + S;
        }
        d.observe(m, &crate::detect::Tuples::of(m), &mut out);
    }
    d.finish(packets.last().map_or(0, |m| m.ts), &mut out);
    let view = d.shared().lock().unwrap().clone();
    (out, view)
}

fn vectors(n: usize, seed: u64) -> Vec<Vector> {
    let mut rng = Lcg(seed);
    (0..n)
        .map(|_| std::array::from_fn(|f| if f % 3 == 0 { 10.0 + rng.next(20) as f64 } else { rng.next(5) as f64 }))
        .collect()
}

#[test]
fn scaling_centres_on_the_median_and_divides_by_the_spread() {
    let mut raw: Vec<Vector> = (0..=100).map(|i| [f64::from(i); DIM]).collect();
    raw[0][1] = 1e9; // one wild value moves nothing
    let s = Scaler::fit(&raw);
    assert_eq!(s.center[0], squash(50.0));
    assert_eq!(s.center[1], squash(51.0).min(squash(50.0)).max(s.center[1]));
    let iqr = (squash(75.0) - squash(25.0)) / 1.349;
    assert!((s.scale[0] - iqr.max(0.35)).abs() < 1e-12);
    let x = s.transform(&[50.0; DIM]);
    assert!(x[0].abs() < 1e-12, "the median scales to 0");
    let constant = Scaler::fit(&[[7.0; DIM]; 20]);
    assert!(constant.scale.iter().all(|&v| v == 0.35), "a figure that never varied gets the least spread");
    assert_eq!(constant.transform(&[7.0; DIM])[3], 0.0);
    assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.5), 2.5);
    assert_eq!(squash(-3.0), 0.0, "negative figures cannot occur but would not break it");
}

#[test]
fn the_same_seed_gives_the_same_model_and_scores() {
    let data = vectors(3000, 1);
    let cfg = TrainConfig::default();
    let a = Model::train(&data, 5.0, &cfg).unwrap();
    let b = Model::train(&data, 5.0, &cfg).unwrap();
    let probe = vectors(200, 2);
    let verdicts = |m: &Model| probe.iter().map(|v| m.assess(v)).collect::<Vec<_>>();
    assert_eq!(verdicts(&a), verdicts(&b));
    assert_eq!(a.threshold, b.threshold);
    let other = Model::train(&data, 5.0, &TrainConfig { seed: 99, ..cfg }).unwrap();
    assert_ne!(
        verdicts(&a).iter().map(|v| v.score).collect::<Vec<_>>(),
        verdicts(&other).iter().map(|v| v.score).collect::<Vec<_>>()
    );
}

#[test]
fn a_model_survives_a_save_and_load_round_trip() {
    let model = Model::train(&vectors(500, 3), 5.0, &TrainConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("normal.model");
    model.save(&crate::files::OutFile::open(&path).unwrap()).unwrap();
    let loaded = Model::load(&path).unwrap();
    for v in vectors(100, 4) {
        assert_eq!(model.assess(&v), loaded.assess(&v));
    }
    assert_eq!((loaded.threshold, loaded.clusters(), loaded.trained_on), (model.threshold, model.clusters(), 500));

    std::fs::write(&path, "{\"format\": \"something else\"}").unwrap();
    assert!(Model::load(&path).unwrap_err().to_string().starts_with("not an ntop-rs outlier model"));
    let text = serde_json::to_string(&model).unwrap().replace("\"version\":1", "\"version\":99");
    std::fs::write(&path, text).unwrap();
    assert!(Model::load(&path).is_err(), "another version is refused");
    assert!(Model::load(&dir.path().join("missing")).unwrap_err().to_string().contains("cannot read"));
}

#[test]
fn too_little_to_learn_from_is_an_error_not_a_model() {
    assert!(Model::train(&vectors(3, 1), 5.0, &TrainConfig::default()).is_err());
    // Identical vectors: one cluster, a usable model.
    let same = Model::train(&[[1.0; DIM]; 40], 5.0, &TrainConfig::default()).unwrap();
    assert_eq!(same.clusters(), 1);
}

#[test]
fn clusters_are_numbered_quietest_first() {
    let mut data = Vec::new();
    for i in 0..200 {
        let busy = i % 2 == 0;
        let rate = if busy { 5000.0 } else { 2.0 };
        data.push(std::array::from_fn(|f| if f % N < 4 { rate + (i % 7) as f64 } else { 1.0 }));
    }
    let model = Model::train(&data, 5.0, &TrainConfig { clusters: 2, ..TrainConfig::default() }).unwrap();
    assert_eq!(model.assess(&[2.0; DIM]).cluster, 0);
    assert_eq!(model.assess(&std::array::from_fn(|f| if f % N < 4 { 5000.0 } else { 1.0 })).cluster, 1);
}

#[test]
fn benign_traffic_stays_quiet_and_clusters_every_host() {
    let cfg = OutlierConfig { retrain: 200 * S, ..OutlierConfig::default() };
    let (alerts, view) = run(&mut benign(0, 600, 1), cfg);
    assert!(alerts.is_empty(), "{alerts:#?}");
    assert_eq!(view.status.state, "ready");
    assert!(view.status.trainings >= 2, "learned, then retrained: {:?}", view.status);
    for h in ["10.0.0.1", "10.0.0.6", "10.0.0.100", "10.0.0.53"] {
        assert!(view.clusters.contains_key(&ip(h)), "{h} has a cluster");
    }
    assert_ne!(view.clusters[&ip("10.0.0.100")], view.clusters[&ip("10.0.0.1")], "the server is not a client");
}

#[test]
fn an_upload_to_a_new_peer_is_flagged_and_explained() {
    let mut packets = benign(0, 240, 2);
    packets.extend(upload(200, 15));
    let (alerts, _) = run(&mut packets, OutlierConfig::default());
    let new: Vec<&Alert> = alerts.iter().filter(|a| a.state == AlertState::New).collect();
    assert!(!new.is_empty(), "no alert");
    assert!(new.iter().any(|a| a.kind == "outlier" && a.src == Some(ip("10.0.0.3"))), "{new:#?}");
    // The peer, never seen before and suddenly receiving a megabyte a second, is unusual too.
    assert!(new.iter().all(|a| a.kind == "outlier" && [ip("10.0.0.3"), ip("10.0.0.99")].contains(&a.src.unwrap())));
    let first = new.iter().find(|a| a.src == Some(ip("10.0.0.3"))).unwrap();
    assert!(first.first_ts <= 200 * S, "the incident starts where its window did: {}", first.first_ts);
    assert!(first.ts - first.first_ts >= 5 * S && first.ts - first.first_ts < 10 * S);
    let last = alerts.iter().rev().find(|a| a.src == Some(ip("10.0.0.3"))).unwrap();
    assert_eq!(last.state, AlertState::End);
    let e = serde_json::Value::Object(last.evidence.to_map());
    assert!(e["score"].as_f64().unwrap() >= e["threshold"].as_f64().unwrap());
    let unusual = e["unusual"].as_array().unwrap();
    assert!(!unusual.is_empty());
    assert!(last.summary.contains("/s sent, typical"), "{}", last.summary);
    assert!(last.packets >= 8000, "the incident counts the upload's packets: {}", last.packets);
}

#[test]
fn a_hosts_own_routine_is_not_an_outlier_in_another_host_it_is() {
    // 10.0.0.3 backs up to 10.0.0.99 once while the detector learns (two windows), and
    // again later: its own routine. 10.0.0.4 never did and then does the same.
    let mut packets = benign(0, 600, 6);
    packets.extend(upload(10, 8));
    packets.extend(upload(400, 15));
    let mut other = upload(500, 15);
    for m in &mut other {
        m.src = Some(ip("10.0.0.4"));
    }
    packets.extend(other);
    let cfg = OutlierConfig { learn: 300 * S, retrain: 0, ..OutlierConfig::default() };
    let (alerts, _) = run(&mut packets, cfg);
    let flagged: Vec<IpAddr> = alerts.iter().filter(|a| a.state == AlertState::New).filter_map(|a| a.src).collect();
    assert_eq!(flagged, [ip("10.0.0.4")], "{alerts:#?}");
    let e = serde_json::Value::Object(alerts.iter().find(|a| a.src == Some(ip("10.0.0.4"))).unwrap().evidence.to_map());
    let (value, routine) = (e["unusual"][0]["value"].as_f64().unwrap(), e["unusual"][0]["host_routine"].as_f64());
    assert!(routine.is_some_and(|r| r < value / 100.0), "far beyond what the host itself does: {e}");
}

#[test]
fn no_alert_while_learning() {
    let mut packets = benign(0, 100, 3);
    packets.extend(upload(50, 15));
    let (alerts, view) = run(&mut packets, OutlierConfig::default());
    assert!(alerts.is_empty());
    assert_eq!(view.status.state, "learning");
    assert!(view.clusters.is_empty());
}

#[test]
fn a_given_model_scores_from_the_first_window() {
    let model = {
        let mut learn = benign(0, 200, 4);
        learn.sort_by_key(|m| m.ts);
        let mut b = FeatureBuilder::new(5 * S, 100);
        let v: Vec<Vector> = learn.iter().filter_map(|m| b.observe(m)).flatten().map(|h| h.values).collect();
        Model::train(&v, 5.0, &TrainConfig::default()).unwrap()
    };
    let mut packets = benign(1000, 40, 5);
    packets.extend(upload(1010, 10));
    packets.sort_by_key(|m| m.ts);
    let cfg = OutlierConfig { learned_from: "model m.json".into(), retrain: 20 * S, ..OutlierConfig::default() };
    let mut d = OutlierDetector::new(cfg, Some(model));
    assert_eq!(d.shared().lock().unwrap().status.learned_from, "", "published at the first packet");
    let mut out = Vec::new();
    for m in &packets {
        d.observe(m, &crate::detect::Tuples::of(m), &mut out);
    }
    assert!(out.iter().any(|a| a.src == Some(ip("10.0.0.3"))), "{out:#?}");
    let status = d.shared().lock().unwrap().status.clone();
    assert_eq!(status.trainings, 1, "{status:?}");
    assert!(status.learned_from.ends_with("host windows of this traffic"), "after a retraining: {status:?}");
}
