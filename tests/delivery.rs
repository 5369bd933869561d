//! Alert delivery against real receivers: a local HTTP server gets the webhooks, UDP
//! and TCP sockets the RFC 5424 lines, aiosmtpd (STARTTLS with a certificate of a test
//! CA, AUTH) the mails; one message per incident above the floor, a digest past the
//! rate limit; a dead server costs counted failures and nothing else.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

fn demo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo.pcap")
}

/// The demo replayed headless with `extra`; its summary.
fn replay(extra: &[&str]) -> Value {
    common::summary(&demo(), &[&["--top", "5"], extra].concat())
}

/// A webhook receiver answering `status`; the bodies it got, once `stop` is sent.
fn webhook_server(status: u16) -> (String, std::thread::JoinHandle<Vec<Value>>, std::sync::mpsc::Sender<()>) {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", server.server_addr().to_ip().unwrap());
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let handle = std::thread::spawn(move || {
        let mut got = Vec::new();
        while rx.try_recv().is_err() {
            if let Ok(Some(mut req)) = server.recv_timeout(Duration::from_millis(100)) {
                let mut body = String::new();
                req.as_reader().read_to_string(&mut body).unwrap();
                assert_eq!(req.url(), "/hook");
                got.push(serde_json::from_str(&body).expect("a JSON body"));
                let _ = req.respond(tiny_http::Response::empty(status));
            }
        }
        got
    });
    (url, handle, tx)
}

#[test]
fn webhooks_one_per_incident_then_a_digest() {
    let (url, server, stop) = webhook_server(200);
    let summary = replay(&["--webhook", &url, "--notify-min", "low", "--notify-per-hour", "3"]);
    stop.send(()).unwrap();
    let got = server.join().unwrap();
    let incidents = summary["alerts_total"].as_u64().unwrap();
    assert!(incidents >= 5, "the demo raises incidents");
    assert_eq!(got.len(), 4, "three incidents, then one digest: {got:#?}");
    for g in &got[..3] {
        assert_eq!(g["ntop_rs"]["occasion"], "opened");
        assert_eq!(g["ntop_rs"]["alerts"].as_array().unwrap().len(), 1);
        let text = g["text"].as_str().unwrap();
        assert!(text.contains("What to do next") && text.contains("Evidence"), "{text}");
    }
    let digest = &got[3]["ntop_rs"];
    assert_eq!(digest["occasion"], "digest");
    assert_eq!(digest["alerts"].as_array().unwrap().len() as u64, incidents - 3, "every other incident in it");
    let sink = &summary["sinks"]["webhook"];
    assert_eq!((sink["sent"].as_u64(), sink["failed"].as_u64()), (Some(4), Some(0)), "{sink}");
    // The floor: only medium and above.
    let (url, server, stop) = webhook_server(200);
    let summary = replay(&["--webhook", &url]);
    stop.send(()).unwrap();
    let got = server.join().unwrap();
    let at_least_medium = summary["alerts"].as_array().unwrap().iter().filter(|a| a["severity"] != "low").count();
    assert_eq!(got.len(), at_least_medium, "one per incident of medium or more");
}

#[test]
fn a_failing_webhook_is_counted_and_costs_nothing_else() {
    let (url, server, stop) = webhook_server(500);
    let alerts = tempfile::NamedTempFile::new().unwrap();
    let started = std::time::Instant::now();
    let summary = replay(&["--webhook", &url, "--notify-per-hour", "1", "--alerts", alerts.path().to_str().unwrap()]);
    let took = started.elapsed();
    stop.send(()).unwrap();
    let tries = server.join().unwrap().len();
    let reference = replay(&[]);
    assert_eq!(summary["alerts"], reference["alerts"], "detection went on");
    let reports = std::fs::read_to_string(alerts.path()).unwrap().lines().count();
    assert!(reports >= reference["alerts_total"].as_u64().unwrap() as usize, "the other sink got everything");
    let sink = &summary["sinks"]["webhook"];
    assert_eq!(sink["sent"], 0);
    assert!(sink["failed"].as_u64().unwrap() >= 1, "{sink}");
    assert!(sink["last_failure"].as_str().unwrap().contains("500"), "{sink}");
    assert!(tries >= 2, "retried: {tries} tries");
    assert!(summary["warnings"].to_string().contains("not delivered"), "{}", summary["warnings"]);
    assert!(took < Duration::from_secs(40), "the end waits a bounded time for a dead server: {took:?}");
}

/// RFC 5424: `<PRI>1 TIMESTAMP HOSTNAME APP PROCID MSGID SD MSG`.
fn assert_rfc5424(line: &str) {
    let parts: Vec<&str> = line.splitn(7, ' ').collect();
    assert_eq!(parts.len(), 7, "{line}");
    let pri = parts[0].strip_prefix('<').and_then(|p| p.strip_suffix(">1")).expect(line);
    assert!(pri.parse::<u8>().is_ok_and(|p| p / 8 == 16), "facility local0: {line}");
    assert!(parts[1].ends_with('Z') && parts[1].len() == 27, "timestamp: {line}");
    assert_eq!(parts[3], "ntop-rs");
    assert!(parts[4].parse::<u32>().is_ok());
    assert!(["opened", "ended", "digest"].contains(&parts[5]), "{line}");
    assert!(parts[6].starts_with("[ntop-rs@32473 ") && parts[6].contains("\"] [ntop-rs] "), "{line}");
    assert!(!line.contains('\n'));
}

#[test]
fn syslog_lines_over_udp_and_tcp() {
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let target = format!("udp://{}", udp.local_addr().unwrap());
    let summary = replay(&["--syslog", &target, "--notify-min", "low", "--notify-end"]);
    let n = summary["alerts_total"].as_u64().unwrap() as usize;
    let mut lines = Vec::new();
    let mut buf = [0u8; 65536];
    while let Ok(len) = udp.recv(&mut buf) {
        lines.push(String::from_utf8(buf[..len].to_vec()).unwrap());
        if lines.len() == 2 * n {
            break;
        }
    }
    assert_eq!(lines.len(), 2 * n, "an opened and an ended line per incident: {lines:#?}");
    lines.iter().for_each(|l| assert_rfc5424(l));
    assert_eq!(lines.iter().filter(|l| l.contains(" opened [")).count(), n);
    // TCP, framed by octet counting.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let target = format!("tcp://{}", listener.local_addr().unwrap());
    let reader = std::thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut r = BufReader::new(s);
        let mut frames = Vec::new();
        loop {
            let mut len = Vec::new();
            if r.read_until(b' ', &mut len).unwrap_or(0) == 0 {
                return frames;
            }
            let n: usize = String::from_utf8_lossy(&len).trim().parse().unwrap();
            let mut frame = vec![0; n];
            r.read_exact(&mut frame).unwrap();
            frames.push(String::from_utf8(frame).unwrap());
        }
    });
    let summary = replay(&["--syslog", &target]);
    let frames = reader.join().unwrap();
    frames.iter().for_each(|l| assert_rfc5424(l));
    assert_eq!(frames.len() as u64, summary["sinks"]["syslog"]["sent"].as_u64().unwrap());
    assert!(!frames.is_empty());
}

/// A test CA and a certificate for `localhost` that it signed (rustls will not take a
/// self-signed CA certificate as a server's own).
fn test_certificates(dir: &Path) -> Option<(PathBuf, PathBuf, PathBuf)> {
    let run =
        |args: &[&str]| Command::new("openssl").args(args).current_dir(dir).output().is_ok_and(|o| o.status.success());
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    let ok = run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-subj",
        "/CN=ntop-rs test CA",
        "-days",
        "2",
    ]) && run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "srv.key",
        "-out",
        "srv.csr",
        "-subj",
        "/CN=localhost",
    ]) && run(&[
        "x509",
        "-req",
        "-in",
        "srv.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "srv.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
    ok.then(|| (dir.join("ca.pem"), dir.join("srv.pem"), dir.join("srv.key")))
}

fn venv_python() -> Option<PathBuf> {
    let py = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/venv/bin/python");
    let ok = Command::new(&py).args(["-c", "import aiosmtpd"]).output().is_ok_and(|o| o.status.success());
    ok.then_some(py)
}

#[test]
fn mail_over_starttls_one_per_incident_then_a_digest() {
    let Some(python) = venv_python() else {
        return common::skip("aiosmtpd is not in target/venv (scripts/setup.sh installs it)");
    };
    let dir = tempfile::tempdir().unwrap();
    let Some((ca, cert, key)) = test_certificates(dir.path()) else {
        return common::skip("openssl cannot make test certificates");
    };
    let inbox = dir.path().join("inbox");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/delivery/smtpd.py");
    let mut smtpd = Command::new(python)
        .arg(script)
        .args([inbox.to_str().unwrap(), cert.to_str().unwrap(), key.to_str().unwrap(), "sensor", "s3cret pass"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    BufReader::new(smtpd.stdout.take().unwrap()).read_line(&mut ready).unwrap();
    let port = ready.trim().strip_prefix("READY ").expect("the server is ready").to_string();
    let smtp = format!("smtp://sensor@localhost:{port}");
    let demo = demo();
    let args = [
        "-r",
        demo.to_str().unwrap(),
        "--headless",
        "--json",
        "--mail-to",
        "soc@example.com",
        "--mail-from",
        "ntop-rs@sensor.example",
        "--smtp",
        &smtp,
        "--smtp-ca",
        ca.to_str().unwrap(),
        "--notify-min",
        "low",
        "--mail-per-hour",
        "2",
    ];
    let out =
        common::bin().args(args).env("NTOP_RS_SMTP_PASSWORD", "s3cret pass").stdin(Stdio::null()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    // A wrong password: every mail fails, and is counted.
    let out = common::bin().args(args).env("NTOP_RS_SMTP_PASSWORD", "wrong").stdin(Stdio::null()).output().unwrap();
    let refused: Value = serde_json::from_slice(&out.stdout).unwrap();
    let _ = smtpd.stdin.take().unwrap().write_all(b"");
    let _ = smtpd.wait();
    let mut mails: Vec<String> =
        std::fs::read_dir(&inbox).unwrap().map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap()).collect();
    mails.sort_by_key(|m| m.contains("digest"));
    assert_eq!(mails.len(), 3, "two incidents, then one digest");
    let incidents = summary["alerts_total"].as_u64().unwrap();
    for m in &mails[..2] {
        assert!(m.contains("To: soc@example.com") && m.contains("From: ntop-rs@sensor.example"), "{m}");
        assert!(m.contains("Subject: [ntop-rs]") && m.contains("What to do next"), "{m}");
    }
    assert!(mails[2].contains(&format!("digest: {} more incidents", incidents - 2)), "{}", mails[2]);
    let sink = &summary["sinks"]["mail"];
    assert_eq!((sink["sent"].as_u64(), sink["failed"].as_u64()), (Some(3), Some(0)), "{sink}");
    let sink = &refused["sinks"]["mail"];
    assert_eq!(sink["sent"], 0, "{sink}");
    assert!(sink["failed"].as_u64().unwrap() >= 1, "{sink}");
    assert_eq!(refused["alerts"], summary["alerts"], "detection went on");
}

#[test]
fn a_dead_mail_server_is_counted_and_detection_goes_on() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let smtp = format!("smtp://localhost:{port}");
    let summary = replay(&["--mail-to", "soc@example.com", "--smtp", &smtp, "--notify-per-hour", "1"]);
    let reference = replay(&[]);
    assert_eq!(summary["alerts"], reference["alerts"]);
    let sink = &summary["sinks"]["mail"];
    assert_eq!(sink["sent"], 0);
    assert!(sink["failed"].as_u64().unwrap() >= 1, "{sink}");
}

#[test]
fn delivery_flags_are_checked_in_one_line() {
    let demo = demo();
    let d = demo.to_str().unwrap();
    for (args, needle) in [
        (vec!["--smtp", "smtp://u@h", "--mail-to", "a@b"], "NTOP_RS_SMTP_PASSWORD"),
        (vec!["--smtp", "smtp://u:pw@h", "--mail-to", "a@b"], "no password in the URL"),
        (vec!["--smtp", "http://h", "--mail-to", "a@b"], "--smtp"),
        (vec!["--smtp", "smtp://h", "--mail-to", "not an address"], "--mail-to"),
        (vec!["--webhook", "ftp://x"], "--webhook"),
        (vec!["--syslog", "udp://nowhere"], "--syslog"),
        (vec!["--notify-min", "urgent"], "not a severity"),
        (vec!["--smtp", "smtp://h", "--mail-to", "a@b", "--smtp-ca", "/nonexistent.pem"], "--smtp-ca"),
    ] {
        let out = common::run(&[&["-r", d, "--headless"][..], &args].concat());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(needle) && !err.contains("panicked"), "{args:?}: {err}");
    }
}
