//! Screen snapshots (ratatui TestBackend + insta) of every pane and mode at 80×24 and
//! 160×48, from deterministic synthetic traffic, with colours off so the text is what
//! is compared.

use std::net::IpAddr;

use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::draw;
use crate::capture::KernelStats;
use crate::decode::{Proto, decode};
use crate::detect::evidence::{Crossed, PortScanFigures, TallyFigures, Technique};
use crate::detect::{Alert, AlertKind, AlertState, Evidence, Figures, Severity};
use crate::export::summary::CaptureJson;
use crate::stats::Stats;
use crate::synth::{Synth, SynthConfig};
use crate::ui::keys::{Action, BINDINGS};
use crate::ui::names::Names;
use crate::ui::state::{Mode, Pane, UiState};
use crate::ui::theme::Theme;
use crate::view::{Context, View, ViewSpec, Zoom};

const SIZES: [(u16, u16); 2] = [(80, 24), (160, 48)];

fn stats() -> Stats {
    let mut s = Stats::default();
    let cfg = SynthConfig { packets: 3000, seed: 3, mean_gap: 20_000_000, ..SynthConfig::default() };
    for f in Synth::new(cfg) {
        s.record(&decode(&f.as_frame()));
    }
    s
}

fn alert(id: u64, severity: Severity, kind: AlertKind, summary: &str) -> Alert {
    Alert {
        id,
        state: AlertState::New,
        kind,
        severity,
        ts: 1_700_000_030_000_000_000,
        first_ts: 1_700_000_020_000_000_000,
        last_ts: 1_700_000_030_000_000_000 + id as i64 * 1_000_000_000,
        src: Some("10.1.0.7".parse().unwrap()),
        dst: Some("198.51.100.3".parse().unwrap()),
        proto: crate::detect::AlertProto::Tcp,
        port: None,
        packets: 500,
        summary: summary.into(),
        evidence: crate::detect::Evidence::default(),
    }
}

fn context(live: bool, alerts: Vec<Alert>) -> Context {
    Context {
        source: if live { "eth0".into() } else { "sample.pcap".into() },
        live,
        capture: live.then(|| {
            let kernel = KernelStats { received: 3010, dropped_kernel: 10, dropped_interface: 0 };
            CaptureJson::new("eth0", kernel, 0, 0)
        }),
        status: None,
        finished: false,
        alerts,
        outliers: None,
    }
}

/// The outlier detector's view for the test stats: clusters by last octet, model ready.
fn outliers() -> crate::detect::outlier::OutlierView {
    let clusters = stats()
        .hosts
        .iter()
        .filter_map(|(ip, _)| match ip {
            IpAddr::V4(v4) => Some((*ip, v4.octets()[3] % 3)),
            IpAddr::V6(_) => None,
        })
        .collect();
    let status = crate::detect::outlier::OutlierStatus { state: "ready", clusters: 3, ..Default::default() };
    crate::detect::outlier::OutlierView { clusters, status, ..Default::default() }
}

fn screen(view: &View, ui: &UiState, (w, h): (u16, u16)) -> String {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
    terminal.draw(|f| draw(f, view, ui, &Theme::new(false), &Names::builtin())).expect("draw");
    let buffer = terminal.backend().buffer();
    (0..h)
        .map(|y| (0..w).map(|x| buffer[(x, y)].symbol()).collect::<String>().trim_end().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Renders `ui`/`spec` over the shared stats at both sizes and snapshots each.
fn check(name: &str, spec: ViewSpec, mut ui: UiState, ctx: Context) {
    let stats = stats();
    for size in SIZES {
        let spec = ViewSpec { rows: usize::from(size.1), ..spec.clone() };
        ui.spec = spec.clone();
        let mut view = View::build(&stats, &spec, ctx.clone());
        // Live and the host view: with the outlier detector's clusters; replays: still learning.
        if ctx.live || spec.host.is_some() {
            view.add_outliers(&outliers());
        } else {
            view.context.outliers =
                Some(crate::detect::outlier::OutlierStatus { state: "learning", ..Default::default() });
        }
        insta::assert_snapshot!(format!("{name}_{}x{}", size.0, size.1), screen(&view, &ui, size));
    }
}

#[test]
fn dashboard_replay() {
    check("dashboard_replay", ViewSpec::default(), UiState::new(Some(1.0)), context(false, Vec::new()));
}

#[test]
fn dashboard_live_with_alerts() {
    let alerts = vec![
        alert(2, Severity::Critical, AlertKind::SynFlood, "SYN flood against 198.51.100.3: 12000 SYN/s, 98% half-open"),
        alert(1, Severity::Medium, AlertKind::PortScan, "10.1.0.7 probed 312 ports on 198.51.100.3"),
    ];
    let mut ui = UiState::new(None);
    ui.focus = Pane::Alerts;
    check("dashboard_live_alerts", ViewSpec::default(), ui, context(true, alerts));
}

#[test]
fn protocol_filter_packets_and_flows_focus() {
    let mask = crate::decode::ProtoMask::ALL.toggled(Proto::Tcp).toggled(Proto::Other);
    let spec = ViewSpec { mask, bytes: false, zoom: Zoom::FiveMinutes, ..ViewSpec::default() };
    let mut ui = UiState::new(Some(4.0));
    ui.focus = Pane::Flows;
    ui.paused = true;
    check("udp_icmp_arp_packets_flows", spec, ui, context(false, Vec::new()));
}

#[test]
fn display_filter_and_prompt() {
    let spec = ViewSpec { filter: Some("10.1.0.0/24".parse().unwrap()), ..ViewSpec::default() };
    let mut ui = UiState::new(Some(1.0));
    ui.mode = Mode::FilterInput("10.1.0.0/24".into());
    check("display_filter_prompt", spec, ui, context(false, Vec::new()));
}

#[test]
fn host_view() {
    let host: IpAddr = "10.1.0.4".parse().unwrap();
    let spec = ViewSpec { host: Some(host), ..ViewSpec::default() };
    let mut ui = UiState::new(Some(1.0));
    ui.mode = Mode::Host;
    check("host_view", spec, ui, context(false, Vec::new()));
}

#[test]
fn alert_evidence_overlay() {
    let mut scan = alert(1, Severity::Medium, AlertKind::PortScan, "10.1.0.7 scanned 312 TCP ports on 198.51.100.3");
    scan.evidence = Evidence::of(Figures::PortScan(PortScanFigures {
        distinct_ports: 312,
        sample_ports: vec![22, 80, 443],
        tally: TallyFigures {
            distinct_capped: false,
            forged_answers: 0,
            techniques: vec![Technique::Syn, Technique::Fin],
            failed_probes: 312,
            duration_s: 1.5,
            probes_per_s: 208.0,
            peak_new_in_fast_window: 150,
            crossed: Crossed::Fast,
            threshold_fast: 10,
            fast_window_s: 1.0,
            threshold_slow: 100,
            idle_s: 300,
        },
    }));
    let mut ui = UiState::new(None);
    ui.focus = Pane::Alerts;
    ui.mode = Mode::Evidence(1);
    check("alert_evidence", ViewSpec::default(), ui, context(true, vec![scan]));
}

#[test]
fn help_overlay_lists_every_binding() {
    let mut ui = UiState::new(Some(1.0));
    ui.mode = Mode::Help;
    check("help", ViewSpec::default(), ui.clone(), context(false, Vec::new()));
    // The help is generated from the table: every binding's keys and text are on it.
    let view = View::build(&stats(), &ViewSpec::default(), context(false, Vec::new()));
    let text = screen(&view, &ui, (160, 48));
    for b in BINDINGS {
        assert!(text.contains(b.keys) && text.contains(b.help), "help lacks {:?}", b.action);
    }
    assert!(BINDINGS.iter().any(|b| b.action == Action::Help));
}

#[test]
fn empty_view_before_any_packet() {
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    let ui = UiState::new(None);
    terminal
        .draw(|f| draw(f, &View::default(), &ui, &Theme::new(true), &Names::builtin()))
        .expect("an empty view draws");
}

#[test]
fn sanitize_strips_control_characters() {
    assert_eq!(super::sanitize("evil\x1b[2Jname\x07"), "evil?[2Jname?");
}

fn five_alerts() -> Vec<Alert> {
    (1..=5)
        .rev()
        .map(|i| {
            alert(i, Severity::Medium, AlertKind::PortScan, &format!("10.1.0.{i} scanned 40 TCP ports on 198.51.100.3"))
        })
        .collect()
}

#[test]
fn the_alert_pane_shows_three_alerts_at_80x24_and_its_focus_without_colour() {
    // Unfocused: three alerts in the pane.
    check("alert_pane", ViewSpec::default(), UiState::new(Some(1.0)), context(false, five_alerts()));
    let view = View::build(&stats(), &ViewSpec::default(), context(false, five_alerts()));
    let text = screen(&view, &UiState::new(Some(1.0)), (80, 24));
    let shown = (1..=5).filter(|i| text.contains(&format!("10.1.0.{i} scanned"))).count();
    assert!(shown >= 3, "{shown} alerts at 80x24:\n{text}");
    // Focused (no colour in these screens): a thick frame, more rows, the selection in view.
    let mut ui = UiState::new(Some(1.0));
    ui.focus = Pane::Alerts;
    for _ in 0..4 {
        ui.apply(crate::ui::keys::Action::Down, &view);
    }
    check("alert_pane_focused", ViewSpec::default(), ui.clone(), context(false, five_alerts()));
    let text = screen(&view, &ui, (80, 24));
    let alerts_top = text.lines().find(|l| l.contains("Alerts (5)")).expect("the pane");
    assert!(alerts_top.starts_with('┏'), "the focused frame is thick: {alerts_top}");
    assert!(text.contains("10.1.0.1 scanned"), "the last alert, selected, is in view:\n{text}");
    assert!(!text.lines().any(|l| l.starts_with('┏') && l.contains("Top talkers")), "one focus only");
}

#[test]
fn outlier_evidence_reads_as_text() {
    use crate::detect::evidence::{OutlierFigures, UnusualFigure};
    let mut o = alert(
        3,
        Severity::Low,
        AlertKind::Outlier,
        "10.1.0.12 is unlike what was learned: 9.8 DNS queries/s, typical 0.4",
    );
    o.evidence = Evidence::of(Figures::Outlier(OutlierFigures {
        score: 0.717,
        max_score: 0.717,
        threshold: 0.69,
        cluster: 2,
        usual_cluster: 2,
        windows: 1,
        window_secs: 5.0,
        unusual: vec![UnusualFigure {
            feature: "dns_queries_per_s".into(),
            value: 9.8,
            typical: 0.4,
            deviation: 5.837,
            host_routine: Some(0.58),
            text: "9.8 DNS queries/s, typical 0.4".into(),
        }],
    }));
    let mut ui = UiState::new(None);
    ui.focus = Pane::Alerts;
    ui.mode = Mode::Evidence(3);
    check("outlier_evidence", ViewSpec::default(), ui.clone(), context(true, vec![o.clone()]));
    let view = View::build(&stats(), &ViewSpec::default(), context(true, vec![o]));
    let text = screen(&view, &ui, (80, 24));
    assert!(text.contains("9.8 DNS queries/s, typical 0.4"), "{text}");
    assert!(!text.contains('{') && !text.contains('"'), "no JSON:\n{text}");
}
