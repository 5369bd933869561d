//! Delivery decisions, message texts and target parsing.

use super::*;

fn report(id: u64, state: AlertState, severity: Severity) -> Alert {
    let mut a = Alert::sample(id, "10.0.0.66".parse().ok(), "10.0.0.10".parse().ok(), 1_000_000_000, 2_000_000_000);
    a.state = state;
    a.severity = severity;
    a
}

#[test]
fn one_message_per_incident_above_the_floor_and_the_rest_in_a_digest() {
    let mut g = Gate::new(Policy { min_severity: Severity::Medium, per_hour: 2, on_end: false }, "sensor".into());
    let t = Instant::now();
    assert!(g.consider(&report(1, AlertState::New, Severity::Low), t).is_none(), "below the floor");
    let m = g.consider(&report(2, AlertState::New, Severity::High), t).expect("opened");
    assert_eq!(m.occasion, Occasion::Opened);
    assert!(m.subject.contains("HIGH") && m.body.contains("What to do next"), "{m:?}");
    assert!(g.consider(&report(2, AlertState::Update, Severity::High), t).is_none(), "updates are not sent again");
    assert!(g.consider(&report(2, AlertState::End, Severity::High), t).is_none(), "ends only with on_end");
    // An incident that reaches the floor in an update is sent then.
    assert!(g.consider(&report(1, AlertState::Update, Severity::Medium), t).is_some());
    // The limit is reached: the next ones wait for the digest.
    assert!(g.consider(&report(3, AlertState::New, Severity::Medium), t).is_none());
    assert!(g.consider(&report(4, AlertState::New, Severity::Critical), t).is_none());
    assert!(g.flush(t, false).is_none(), "no slot free within the hour");
    let later = t + Duration::from_secs(3601);
    let d = g.flush(later, false).expect("a slot freed");
    assert_eq!(d.occasion, Occasion::Digest);
    assert_eq!(d.alerts.iter().map(|a| a.id).collect::<Vec<_>>(), vec![3, 4]);
    assert!(d.subject.contains("2 more incidents"), "{}", d.subject);
    assert!(g.flush(later, true).is_none(), "nothing left");
}

#[test]
fn ends_are_sent_for_incidents_that_were_sent() {
    let mut g = Gate::new(Policy { min_severity: Severity::Medium, per_hour: 10, on_end: true }, "s".into());
    let t = Instant::now();
    assert!(g.consider(&report(1, AlertState::End, Severity::High), t).is_none(), "never opened here");
    g.consider(&report(2, AlertState::New, Severity::High), t).unwrap();
    let end = g.consider(&report(2, AlertState::End, Severity::High), t).unwrap();
    assert_eq!(end.occasion, Occasion::Ended);
    assert!(end.subject.contains("ended"));
}

#[test]
fn the_final_digest_goes_whatever_the_limit() {
    let mut g = Gate::new(Policy { min_severity: Severity::Low, per_hour: 0, on_end: false }, "s".into());
    let t = Instant::now();
    for id in 0..(DIGEST_MAX as u64 + 5) {
        assert!(g.consider(&report(id, AlertState::New, Severity::Low), t).is_none());
    }
    let d = g.flush(t, true).unwrap();
    assert_eq!((d.alerts.len(), d.left_out), (DIGEST_MAX, 5));
    assert!(d.body.contains("and 5 more"));
}

#[test]
fn syslog_lines_are_rfc5424() {
    let mut g = Gate::new(Policy::default(), "s".into());
    let mut a = report(7, AlertState::New, Severity::High);
    a.summary = "x \"quoted\" ]".into();
    let m = g.consider(&a, Instant::now()).unwrap();
    let l = syslog::line(&m, "sensor one", 0);
    assert!(l.starts_with("<130>1 1970-01-01T00:00:00.000000Z sensorone ntop-rs "), "{l}");
    assert!(l.contains(" opened [ntop-rs@32473 occasion=\"opened\" id=\"7\" kind=\"port_scan\" severity=\"high\" src=\"10.0.0.66\" dst=\"10.0.0.10\"] "), "{l}");
    assert!(!l.contains('\n'));
    assert_eq!(syslog::parse("udp://127.0.0.1:514"), Ok(syslog::Target::Udp("127.0.0.1:514".into())));
    assert_eq!(syslog::parse("tcp://[::1]:6514"), Ok(syslog::Target::Tcp("[::1]:6514".into())));
    assert_eq!(syslog::parse("unix:/dev/log"), Ok(syslog::Target::Unix("/dev/log".into())));
    for bad in ["udp://host", "tcp://:514", "unix:", "syslog.example.com", "udp://h:0"] {
        assert!(syslog::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn smtp_urls() {
    let s = mail::parse("smtp://alerts%40example.com@mail.example.com").unwrap();
    assert_eq!(
        (s.host.as_str(), s.port, s.implicit_tls, s.user.as_deref()),
        ("mail.example.com", 587, false, Some("alerts@example.com"))
    );
    let s = mail::parse("smtps://mail.example.com:2465").unwrap();
    assert_eq!((s.port, s.implicit_tls, s.user), (2465, true, None));
    assert!(mail::parse("smtp://u:secret@h").unwrap_err().contains("no password in the URL"));
    for bad in ["http://h", "smtp://", "smtp://h:x", "smtp://h:0"] {
        assert!(mail::parse(bad).is_err(), "{bad}");
    }
    assert!(webhook::parse("ftp://x").is_err() && webhook::parse("http://").is_err());
    assert!(webhook::parse("https://hooks.example.com/x").is_ok());
}

#[test]
fn an_incident_that_was_sent_gets_its_end_whatever_its_severity_became() {
    let mut g = Gate::new(Policy { min_severity: Severity::Medium, per_hour: 10, on_end: true }, "s".into());
    let t = Instant::now();
    g.consider(&report(1, AlertState::New, Severity::Medium), t).unwrap();
    let end = g.consider(&report(1, AlertState::End, Severity::Low), t).expect("the end of a sent incident");
    assert_eq!(end.occasion, Occasion::Ended);
    assert!(g.consider(&report(2, AlertState::End, Severity::Low), t).is_none(), "never sent, never ended");
}

#[test]
fn ipv6_smtp_hosts() {
    let s = mail::parse("smtp://[::1]").unwrap();
    assert_eq!((s.host.as_str(), s.port), ("::1", 587));
    let s = mail::parse("smtps://u@[2001:db8::25]:2465").unwrap();
    assert_eq!((s.host.as_str(), s.port, s.user.as_deref()), ("2001:db8::25", 2465, Some("u")));
    assert!(mail::parse("smtp://[::1]:x").is_err());
}
