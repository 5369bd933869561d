//! Criterion benches of the hot path: decode, the stats engine, and both together.
//!
//! `cargo bench --bench engine` (add `-- decode` etc. to pick a group). Inputs are 100k
//! frames of the deterministic synthetic mix, so runs are comparable.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ntop_rs::capture::ScriptedSource;
use ntop_rs::capture::scripted::OwnedFrame;
use ntop_rs::decode::{PacketMeta, decode};
use ntop_rs::detect::Detectors;
use ntop_rs::pipeline;
use ntop_rs::stats::Stats;
use ntop_rs::synth::{Synth, SynthConfig};

const PACKETS: u64 = 100_000;

fn frames() -> Vec<OwnedFrame> {
    Synth::new(SynthConfig { packets: PACKETS, ..SynthConfig::default() }).collect()
}

fn bench_decode(c: &mut Criterion) {
    let frames = frames();
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(PACKETS));
    g.bench_function("synthetic_mix", |b| {
        b.iter(|| {
            for f in &frames {
                black_box(decode(black_box(&f.as_frame())));
            }
        })
    });
    g.finish();
}

fn bench_stats(c: &mut Criterion) {
    let metas: Vec<PacketMeta> = frames().iter().map(|f| decode(&f.as_frame())).collect();
    let mut g = c.benchmark_group("stats");
    g.throughput(Throughput::Elements(PACKETS));
    g.bench_function("record", |b| {
        b.iter(|| {
            let mut stats = Stats::default();
            for m in &metas {
                stats.record(black_box(m));
            }
            stats
        })
    });
    g.bench_function("record_into_full_tables", |b| {
        // Tables far smaller than the traffic: every new host and flow evicts.
        let config = ntop_rs::stats::StatsConfig { max_hosts: 64, max_flows: 256, window_secs: 600 };
        b.iter(|| {
            let mut stats = Stats::new(config);
            for m in &metas {
                stats.record(black_box(m));
            }
            stats
        })
    });
    g.finish();
}

/// Every detector (scans, sweeps, floods, spikes) over the mix, and over a spoofed SYN
/// flood: one packet per fake source, the detectors' worst case for table churn.
fn bench_detect(c: &mut Criterion) {
    let metas: Vec<PacketMeta> = frames().iter().map(|f| decode(&f.as_frame())).collect();
    let flood: Vec<PacketMeta> = (0..PACKETS as u32)
        .map(|i| {
            let src = std::net::Ipv4Addr::from(0x0b00_0000u32.wrapping_add(i.wrapping_mul(2_654_435_761)));
            PacketMeta {
                proto: ntop_rs::decode::Proto::Tcp,
                ip_proto: Some(6),
                src: Some(src.into()),
                dst: Some(std::net::Ipv4Addr::new(10, 0, 0, 10).into()),
                ports: Some((1024 + (i % 60_000) as u16, 80)),
                tcp_flags: ntop_rs::decode::TcpFlags(ntop_rs::decode::TcpFlags::SYN),
                ..metas[0]
            }
            .with_ts(metas[0].ts + i64::from(i) * 1000)
        })
        .collect();
    let all = || {
        let args = <ntop_rs::cli::Cli as clap::Parser>::parse_from(["ntop-rs"]).detect;
        Detectors::new(vec![
            Box::new(ntop_rs::detect::scan::ScanDetector::new(args.scan_config())),
            Box::new(ntop_rs::detect::flood::FloodDetector::new(args.flood_config())),
        ])
    };
    let mut g = c.benchmark_group("detect");
    g.throughput(Throughput::Elements(PACKETS));
    for (name, input) in [("synthetic_mix", &metas), ("spoofed_syn_flood", &flood)] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut d = all();
                for batch in input.chunks(256) {
                    black_box(d.observe(batch));
                }
                d
            })
        });
    }
    g.finish();
}

fn bench_pipeline(c: &mut Criterion) {
    let frames = frames();
    let mut g = c.benchmark_group("pipeline");
    g.throughput(Throughput::Elements(PACKETS));
    g.sample_size(20);
    g.bench_function("scripted_source", |b| {
        b.iter_batched(
            || ScriptedSource::new(frames.clone()),
            |mut source| {
                let mut stats = Stats::default();
                pipeline::run(
                    &mut source,
                    None,
                    &mut stats,
                    &mut Detectors::new(Vec::new()),
                    Default::default(),
                    |_| {},
                )
                .expect("scripted sources do not fail");
                stats
            },
            criterion::BatchSize::LargeInput,
        )
    });
    g.finish();
}

/// Outlier model training (Isolation Forest + K-means) on as many host windows as the
/// detector ever keeps (50,000), and on a typical 5,000; and scoring one window's vector.
fn bench_outliers(c: &mut Criterion) {
    use ntop_rs::detect::features::{DIM, Vector};
    use ntop_rs::detect::outlier::{Model, TrainConfig};
    let mut state = 42u64;
    let mut next = move || {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (state >> 40) as f64 / (1u64 << 24) as f64
    };
    let vectors: Vec<Vector> =
        (0..50_000).map(|i| std::array::from_fn(|f| (1 + (i % 7) * (f % 5)) as f64 * (1.0 + next()))).collect();
    let mut group = c.benchmark_group("outliers");
    group.sample_size(10);
    for n in [5_000usize, 50_000] {
        group.bench_function(format!("train_{n}"), |b| {
            b.iter(|| Model::train(&vectors[..n], 5.0, &TrainConfig::default()).expect("trains"))
        });
    }
    let model = Model::train(&vectors[..5_000], 5.0, &TrainConfig::default()).expect("trains");
    let probe: Vector = [3.0; DIM];
    group.bench_function("score_one", |b| b.iter(|| model.assess(std::hint::black_box(&probe))));
    group.finish();
}

criterion_group!(benches, bench_decode, bench_stats, bench_detect, bench_pipeline, bench_outliers);
criterion_main!(benches);
