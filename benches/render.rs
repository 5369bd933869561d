//! Frame cost with 100k tracked hosts: building the view (engine thread) and drawing
//! it (UI thread) at 160×48. Target: a frame in at most 5 ms.
//!
//! `cargo bench --bench render`

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use criterion::{Criterion, criterion_group, criterion_main};
use ntop_rs::capture::{Frame, LinkType};
use ntop_rs::decode::{PacketMeta, Proto, TcpFlags};
use ntop_rs::stats::{Stats, StatsConfig};
use ntop_rs::ui::names::Names;
use ntop_rs::ui::render::draw;
use ntop_rs::ui::state::UiState;
use ntop_rs::ui::theme::Theme;
use ntop_rs::view::{Context, View, ViewSpec};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const HOSTS: u32 = 100_000;

/// 100k distinct sources, each sending a few packets to one of 50 servers.
fn stats() -> Stats {
    let mut stats = Stats::new(StatsConfig { max_hosts: 200_000, max_flows: 400_000, window_secs: 600 });
    for i in 0..HOSTS * 3 {
        let host = i % HOSTS;
        let frame =
            Frame { ts: i64::from(i) * 10_000, linktype: LinkType::ETHERNET, data: &[], orig_len: 60 + (i % 1400) };
        let meta = PacketMeta {
            proto: if i % 5 == 0 { Proto::Udp } else { Proto::Tcp },
            ip_proto: Some(if i % 5 == 0 { 17 } else { 6 }),
            src: Some(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + host))),
            dst: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, (host % 50) as u8))),
            ports: Some((30_000 + (host % 30_000) as u16, 443)),
            tcp_flags: TcpFlags(TcpFlags::ACK),
            ..PacketMeta::blank(&frame)
        };
        stats.record(&meta);
    }
    stats
}

fn bench(c: &mut Criterion) {
    let stats = stats();
    assert!(stats.hosts.len() >= HOSTS as usize);
    let spec = ViewSpec { rows: 48, ..ViewSpec::default() };
    let context = Context { source: "bench".into(), ..Context::default() };
    let mut g = c.benchmark_group("render_100k_hosts");
    g.bench_function("view_build", |b| b.iter(|| View::build(black_box(&stats), &spec, context.clone())));
    let view = View::build(&stats, &spec, context.clone());
    let ui = UiState::new(Some(1.0));
    let (theme, names) = (Theme::new(true), Names::builtin());
    let mut terminal = Terminal::new(TestBackend::new(160, 48)).expect("test terminal");
    g.bench_function("frame_160x48", |b| {
        b.iter(|| terminal.draw(|f| draw(f, black_box(&view), &ui, &theme, &names)).map(|_| ()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
