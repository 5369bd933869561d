//! The TUI end to end, driven in tmux (send-keys, capture-pane) over the sample capture.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{bin_path, sample};

/// A tmux server of our own (its own socket), killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(command: &str, width: u16, height: u16) -> Tmux {
        let socket = format!("ntop-test-{}-{}", std::process::id(), width);
        let tmux = Tmux { socket };
        let status = tmux
            .cmd()
            .args(["new-session", "-d", "-s", "t", "-x", &width.to_string(), "-y", &height.to_string(), command])
            .status()
            .expect("tmux runs");
        assert!(status.success());
        tmux
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket]);
        c
    }

    fn keys(&self, keys: &str) {
        self.cmd().args(["send-keys", "-t", "t", keys]).status().expect("send-keys");
    }

    fn screen(&self) -> String {
        let out = self.cmd().args(["capture-pane", "-t", "t", "-p"]).output().expect("capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the screen satisfies `ok`, then returns it.
    fn wait_for(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if ok(&s) {
                return s;
            }
            assert!(start.elapsed() < Duration::from_secs(15), "timed out waiting for {what}; screen:\n{s}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").status();
    }
}

fn tool(name: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {name}")]).output().is_ok_and(|o| o.status.success())
}

/// Flows-pane rows whose protocol column says `proto`.
fn rows_of(screen: &str, proto: &str) -> usize {
    screen.lines().filter(|l| l.starts_with(&format!("│{proto} "))).count()
}

/// Epoch seconds of a compact UTC stamp `YYYYmmddTHHMMSSZ`, via date(1).
fn epoch(stamp: &str) -> i64 {
    let text = format!("{} {}:{}:{}", &stamp[0..8], &stamp[9..11], &stamp[11..13], &stamp[13..15]);
    let out = Command::new("date").args(["-u", "-d", &text, "+%s"]).output().expect("date");
    String::from_utf8_lossy(&out.stdout).trim().parse().expect("epoch seconds")
}

fn tshark_count(file: &str, filter: &str) -> usize {
    let out = Command::new("tshark")
        .args(["-r", file, "-Y", filter, "-T", "fields", "-e", "frame.number"])
        .output()
        .expect("tshark");
    String::from_utf8_lossy(&out.stdout).lines().filter(|l| !l.trim().is_empty()).count()
}

#[test]
fn toggles_reslice_the_panes_and_w_dumps_the_window() {
    if !tool("tmux") || !tool("tshark") {
        common::skip("TUI end-to-end test: tmux or tshark is not installed");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let command = format!(
        "{} -r {} --speed max --dump-dir {}; echo EXIT=$?; sleep 60",
        bin_path(),
        sample().display(),
        dir.path().display()
    );
    let tmux = Tmux::start(&command, 100, 30);
    // The header is drawn before the panes: wait for the panes too, or a capture taken
    // in the middle of a redraw shows the new header over the old, empty panes.
    let before = tmux.wait_for("the end of the replay", |s| s.contains("(end of file)") && rows_of(s, "udp") > 0);
    assert!(rows_of(&before, "udp") > 0, "the biggest flows are UDP at first:\n{before}");
    assert!(before.contains("2 udp") && before.contains("Flows ("));

    tmux.keys("2");
    let after = tmux.wait_for("UDP hidden", |s| s.contains("hidden: udp"));
    let after =
        if rows_of(&after, "udp") > 0 { tmux.wait_for("flows without UDP", |s| rows_of(s, "udp") == 0) } else { after };
    assert!(rows_of(&after, "tcp") > 0, "TCP flows take their place:\n{after}");
    assert_ne!(before.lines().nth(1), after.lines().nth(1), "the totals line changes with the mask");

    tmux.keys("w");
    let screen = tmux.wait_for("the dump message", |s| s.contains("wrote "));
    let line = screen.lines().find(|l| l.contains("wrote ")).expect("message line").trim().to_string();
    let mut words = line.split_whitespace().skip(1);
    let packets: usize = words.next().and_then(|w| w.parse().ok()).expect("a packet count");
    let path = words.nth(2).expect("a path").to_string();
    assert!(path.starts_with(&dir.path().display().to_string()), "{line}");
    assert_eq!(tshark_count(&path, "frame"), packets, "tshark reads what we say we wrote");

    // Independently: tshark's count of non-UDP packets of the sample in that window.
    let name = std::path::Path::new(&path).file_name().unwrap().to_str().unwrap().to_string();
    let stamps: Vec<&str> = name.trim_end_matches(".pcap").rsplitn(3, '-').take(2).collect();
    let (from, to) = (epoch(stamps[1]), epoch(stamps[0]));
    let expected = tshark_count(
        sample().to_str().unwrap(),
        &format!("!udp && frame.time_epoch >= {from} && frame.time_epoch < {to}"),
    );
    assert_eq!(packets, expected, "the dump holds exactly the window's non-UDP packets");

    tmux.keys("0");
    tmux.wait_for("all protocols again", |s| !s.contains("hidden:") && rows_of(s, "udp") > 0);
    tmux.keys("q");
    let end = tmux.wait_for("exit", |s| s.contains("EXIT="));
    assert!(end.contains("EXIT=0"), "{end}");
    assert!(!end.contains("Top talkers"), "the terminal is back to the shell:\n{end}");
}

#[test]
fn sigterm_restores_the_terminal() {
    if !tool("tmux") {
        common::skip("TUI SIGTERM test: tmux is not installed");
        return;
    }
    let command = format!("{} -r {} --speed 1; echo EXIT=$?; sleep 60", bin_path(), sample().display());
    let tmux = Tmux::start(&command, 80, 24);
    tmux.wait_for("the dashboard", |s| s.contains("Top talkers"));
    let status = Command::new("pkill")
        .args(["-TERM", "-f", &format!("{} -r {} --speed 1$", bin_path(), sample().display())])
        .status();
    assert!(status.is_ok());
    let end = tmux.wait_for("exit after SIGTERM", |s| s.contains("EXIT="));
    assert!(!end.contains("Top talkers"), "the terminal is restored:\n{end}");
}

#[test]
fn alerts_show_their_evidence_and_d_dumps_their_packets() {
    if !tool("tmux") || !tool("tshark") {
        common::skip("TUI alert test: tmux or tshark is not installed");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo.pcap");
    let command = format!(
        "{} -r {} -n --speed max --dump-dir {}; echo EXIT=$?; sleep 60",
        bin_path(),
        demo.display(),
        dir.path().display()
    );
    let tmux = Tmux::start(&command, 160, 48);
    tmux.wait_for("the demo's alerts", |s| s.contains("(end of file)") && s.contains("Alerts (7)"));
    tmux.keys("Tab");
    tmux.keys("Tab");
    tmux.keys("Enter");
    // The whole overlay, not a capture taken in the middle of its drawing.
    let evidence =
        tmux.wait_for("the evidence overlay", |s| s.contains("d writes its pcap") && s.contains("threshold"));
    assert!(evidence.contains("source") && evidence.contains("threshold"), "{evidence}");
    tmux.keys("d");
    let screen = tmux.wait_for("the alert dump message", |s| s.contains("wrote ") && s.contains(" of alert "));
    let line = screen.lines().find(|l| l.contains(" of alert ")).expect("message line").trim().to_string();
    let packets: usize = line.split_whitespace().nth(1).and_then(|w| w.parse().ok()).expect("a packet count");
    let path = line.split_whitespace().last().expect("a path").to_string();
    assert!(packets > 0 && path.starts_with(&dir.path().display().to_string()), "{line}");
    assert_eq!(tshark_count(&path, "frame"), packets, "tshark reads what we say we wrote");
    tmux.keys("Escape");
    tmux.wait_for("the overlay closed", |s| !s.contains("d writes its pcap"));
    tmux.keys("q");
    assert!(tmux.wait_for("exit", |s| s.contains("EXIT=")).contains("EXIT=0"));
}

#[test]
fn a_tui_replay_to_the_end_reports_exactly_what_the_headless_run_does() {
    if !tool("tmux") {
        common::skip("TUI parity test: tmux is not installed");
        return;
    }
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo.pcap");
    let (tui, headless) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let outputs = |dir: &std::path::Path| {
        let dumps = dir.join("dumps");
        std::fs::create_dir(&dumps).unwrap();
        (dir.join("alerts.ndjson"), dumps)
    };
    let ((tui_alerts, tui_dumps), (hl_alerts, hl_dumps)) = (outputs(tui.path()), outputs(headless.path()));
    let command = format!(
        "{} -r {} -n --speed max --alerts {} --dump-alerts {}; echo EXIT=$?; sleep 60",
        bin_path(),
        demo.display(),
        tui_alerts.display(),
        tui_dumps.display()
    );
    let tmux = Tmux::start(&command, 160, 48);
    tmux.wait_for("the end of the replay", |s| s.contains("(end of file)") && s.contains("Alerts (7)"));
    tmux.keys("q");
    assert!(tmux.wait_for("exit", |s| s.contains("EXIT=")).contains("EXIT=0"));
    let out = common::run(&[
        "-r",
        demo.to_str().unwrap(),
        "--headless",
        "--alerts",
        hl_alerts.to_str().unwrap(),
        "--dump-alerts",
        hl_dumps.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // The same reports, line for line, once the dump directories are named alike.
    let reports = |path: &std::path::Path, dumps: &std::path::Path| -> Vec<String> {
        let text = std::fs::read_to_string(path).unwrap().replace(&dumps.display().to_string(), "DUMPS");
        text.lines().map(str::to_string).collect()
    };
    let (a, b) = (reports(&tui_alerts, &tui_dumps), reports(&hl_alerts, &hl_dumps));
    assert_eq!(a, b, "TUI and headless reports differ");
    let ends = a.iter().filter(|l| l.contains(r#""state":"end""#)).count();
    assert!(ends >= 7, "every incident ended, the last ones at the end of the file: {ends}");
    // The same alert pcaps, byte for byte.
    let pcaps = |dir: &std::path::Path| -> Vec<(String, Vec<u8>)> {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap())
            .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
            .collect();
        files.sort();
        files
    };
    let (p, q) = (pcaps(&tui_dumps), pcaps(&hl_dumps));
    assert_eq!(p.len(), ends, "one pcap per ended incident");
    assert!(
        p == q,
        "TUI and headless pcaps differ: {:?} vs {:?}",
        p.iter().map(|f| &f.0).collect::<Vec<_>>(),
        q.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
}

#[test]
fn a_tui_replay_keeps_the_same_history_as_the_headless_run() {
    if !tool("tmux") {
        common::skip("TUI records test: tmux is not installed");
        return;
    }
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo.pcap");
    let (tui, headless) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let command = format!(
        "{} -r {} -n --speed max --db {} --csv {}; echo EXIT=$?; sleep 60",
        bin_path(),
        demo.display(),
        tui.path().join("d.sqlite").display(),
        tui.path().display()
    );
    let tmux = Tmux::start(&command, 160, 48);
    tmux.wait_for("the end of the replay", |s| s.contains("(end of file)") && s.contains("Alerts (7)"));
    tmux.keys("q");
    assert!(tmux.wait_for("exit", |s| s.contains("EXIT=")).contains("EXIT=0"));
    let db = headless.path().join("d.sqlite");
    let csv = headless.path().to_str().unwrap().to_string();
    let out = common::run(&["-r", demo.to_str().unwrap(), "--headless", "--db", db.to_str().unwrap(), "--csv", &csv]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // The same flow records and per-minute figures, whichever mode ran.
    for file in ["flows.csv", "protocols.csv", "hosts.csv"] {
        let lines = |dir: &std::path::Path| {
            let mut l: Vec<String> =
                std::fs::read_to_string(dir.join(file)).unwrap().lines().map(str::to_string).collect();
            l.sort();
            l
        };
        assert_eq!(lines(tui.path()), lines(headless.path()), "{file}");
    }
    let rows = |path: &std::path::Path, sql: &str| -> i64 {
        rusqlite::Connection::open(path).unwrap().query_row(sql, [], |r| r.get(0)).unwrap()
    };
    for sql in
        ["SELECT count(*) FROM alerts", "SELECT count(*) FROM flows", "SELECT sum(packets) FROM protocol_minutes"]
    {
        assert_eq!(rows(&tui.path().join("d.sqlite"), sql), rows(&db, sql), "{sql}");
    }
    assert_eq!(rows(&tui.path().join("d.sqlite"), "SELECT count(*) FROM runs WHERE ended_at IS NOT NULL"), 1);
}

/// The JSON block of the report page at `path`.
fn report_data(path: &std::path::Path) -> serde_json::Value {
    common::report_data(&std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

#[test]
fn r_writes_a_report_so_far_and_the_end_of_the_run_the_final_one() {
    if !tool("tmux") {
        common::skip("TUI report test: tmux is not installed");
        return;
    }
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo.pcap");
    let dir = tempfile::tempdir().unwrap();
    let (report, dumps) = (dir.path().join("r.html"), dir.path().join("dumps"));
    std::fs::create_dir(&dumps).unwrap();
    // Without --report, R writes a new file in --dump-dir.
    let command = format!(
        "{} -r {} -n --speed max --dump-dir {}; echo EXIT=$?; sleep 60",
        bin_path(),
        demo.display(),
        dumps.display()
    );
    let tmux = Tmux::start(&command, 160, 48);
    tmux.wait_for("the end of the replay", |s| s.contains("(end of file)") && s.contains("Alerts (7)"));
    tmux.keys("R");
    let screen = tmux.wait_for("the report's line", |s| s.contains("report written to"));
    let written: Vec<_> = std::fs::read_dir(&dumps).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(written.len(), 1, "{screen}");
    let so_far = report_data(&written[0]);
    assert_eq!(so_far["partial"], true);
    assert_eq!(so_far["summary"]["alerts_total"], 7);
    tmux.keys("q");
    assert!(tmux.wait_for("exit", |s| s.contains("EXIT=")).contains("EXIT=0"));
    drop(tmux);
    // With --report, the end of the run writes the final report there (a server of
    // its own: the last one may still be going away).
    let command = format!(
        "{} -r {} -n --speed max --report {}; echo EXIT=$?; sleep 60",
        bin_path(),
        demo.display(),
        report.display()
    );
    let tmux = Tmux::start(&command, 150, 48);
    tmux.wait_for("the end of the replay", |s| s.contains("(end of file)") && s.contains("Alerts (7)"));
    tmux.keys("q");
    assert!(tmux.wait_for("exit", |s| s.contains("EXIT=")).contains("EXIT=0"));
    let last = report_data(&report);
    let headless = common::summary(&demo, &["--top", "10"]);
    assert_eq!(last["partial"], false);
    assert_eq!(last["summary"]["packets"], headless["packets"]);
    assert_eq!(last["summary"]["alerts_total"], headless["alerts_total"]);
    assert_eq!(last["summary"]["alerts"], headless["alerts"], "the same incidents as headless");
    assert_eq!(last["summary"]["protocols"], headless["protocols"]);
}

#[test]
fn the_demo_shows_an_alert_within_30_seconds() {
    if !tool("tmux") {
        common::skip("TUI demo test: tmux is not installed");
        return;
    }
    // The speed scripts/demo.sh uses, read from it so that the two cannot drift apart.
    let script =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/demo.sh")).unwrap();
    let speed =
        script.lines().find_map(|l| l.strip_prefix("DEMO_SPEED=")).expect("DEMO_SPEED in demo.sh").trim().to_string();
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo.pcap");
    let command = format!("{} -r {} -n --speed {speed}; sleep 60", bin_path(), demo.display());
    let started = Instant::now();
    let tmux = Tmux::start(&command, 80, 24);
    let mut screen = String::new();
    while started.elapsed() < Duration::from_secs(30) {
        screen = tmux.screen();
        if screen.contains("Alerts (1)") {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let took = started.elapsed();
    assert!(screen.contains("Alerts (1)") && screen.contains("port_scan"), "no alert after {took:?}:\n{screen}");
    assert!(
        screen.lines().nth(1).is_some_and(|l| l.contains(" at 10:4")),
        "the header shows the replay position:\n{screen}"
    );
    tmux.keys("q");
}
