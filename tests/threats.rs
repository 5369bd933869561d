//! What a hostile host on the LAN can make the detectors believe: each test forges a
//! capture (tests/common/forge.rs), replays it through the binary and checks the alerts.
//! `NTOP_RS_BIN=/path/to/older/ntop-rs` runs them against another build (each of these
//! fails on the build before the fix it tests).

mod common;

use common::forge::{ACK, Forge, Host, RST, SYN};
use serde_json::Value;

const T0: u64 = 1_700_000_000 * 1_000_000_000;
const MS: u64 = 1_000_000;

/// The alert reports of replaying `forge` (rules only).
fn alerts(forge: Forge) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let (pcap, out) = (dir.path().join("forged.pcap"), dir.path().join("alerts.ndjson"));
    forge.write(&pcap);
    let run = common::run(&[
        "-r",
        pcap.to_str().unwrap(),
        "--headless",
        "--no-progress",
        "--no-outliers",
        "--alerts",
        out.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// (kind, src, dst) of every `new` report.
fn news(alerts: &[Value]) -> Vec<(String, Value, Value)> {
    alerts
        .iter()
        .filter(|a| a["state"] == "new")
        .map(|a| (a["kind"].as_str().unwrap().to_string(), a["src"].clone(), a["dst"].clone()))
        .collect()
}

fn port_scan(src: Host, dst: Host) -> (String, Value, Value) {
    ("port_scan".into(), src.ip.to_string().into(), dst.ip.to_string().into())
}

/// The scanner resolves its target first, as every host on a LAN does.
fn resolve(f: &mut Forge, ns: u64, who: Host, target: Host) {
    f.arp(ns, 1, who, who.ip, target.ip);
    f.arp(ns + MS / 10, 2, target, target.ip, who.ip);
}

#[test]
fn forged_syn_acks_before_each_syn_do_not_hide_a_syn_scan() {
    let (scanner, target) = (Host::lan(66), Host::lan(10));
    let mut f = Forge::default();
    for p in 1..=100u16 {
        let t = T0 + u64::from(p) * 10 * MS;
        let seq = 1000 + u32::from(p);
        // The scanner forges the target's SYN-ACK a moment before its own SYN...
        f.tcp(t, target.forged_by(scanner), p, scanner, 40000, SYN | ACK, 7, seq + 1);
        f.tcp(t + MS, scanner, 40000, target, p, SYN, seq, 0);
        // ...and the target's real RST follows.
        f.tcp(t + MS + MS / 10, target, p, scanner, 40000, RST | ACK, 0, seq + 1);
    }
    assert_eq!(news(&alerts(f)), [port_scan(scanner, target)]);
}

#[test]
fn a_scan_of_a_subnet_on_many_ports_is_two_port_scans_and_two_sweeps() {
    // nmap -sS -p 1-40 over 30 hosts at once: each host answers each SYN with a RST. Per
    // target that is a port scan and per port a sweep, 70 incidents of one attack; beyond
    // the first two of each kind, the others fold into the first.
    let scanner = Host::lan(66);
    let targets: Vec<Host> = (1..=30).map(|i| Host::lan(100 + i)).collect();
    let mut f = Forge::default();
    let mut t = T0;
    for p in 1..=40u16 {
        for (i, &target) in targets.iter().enumerate() {
            let seq = 10_000 * u32::from(p) + i as u32;
            f.tcp(t, scanner, 40000, target, p, SYN, seq, 0);
            f.tcp(t + MS / 10, target, p, scanner, 40000, RST | ACK, 0, seq + 1);
            t += MS;
        }
    }
    f.tcp(t + 400_000 * MS, Host::lan(1), 1, Host::lan(2), 2, ACK, 1, 1); // they end
    let reports = alerts(f);
    let mut kinds: Vec<String> = news(&reports).into_iter().map(|(k, src, _)| format!("{k} {src}")).collect();
    kinds.sort();
    let (sweep, scan) = (r#"host_sweep "10.77.0.66""#, r#"port_scan "10.77.0.66""#);
    assert_eq!(kinds, [sweep, sweep, scan, scan], "{reports:?}");
    let ends = |kind: &str| -> Vec<Value> {
        reports.iter().filter(|a| a["kind"] == kind && a["state"] == "end").cloned().collect()
    };
    let (scans, sweeps) = (ends("port_scan"), ends("host_sweep"));
    let scan = &scans[0];
    assert_eq!(scan["evidence"]["folded"]["alerts"], 28, "{scan}");
    assert_eq!(scan["evidence"]["folded"]["kinds"], serde_json::json!(["port_scan"]));
    assert_eq!(scan["packets"], 29 * 40, "its probes and the folded ones', each once: {scan}");
    assert!(scan["summary"].as_str().unwrap().ends_with("; and 28 more hosts scanned (folded in)"), "{scan}");
    assert_eq!(scans[1]["evidence"]["folded"], Value::Null, "{}", scans[1]);
    let sweep = &sweeps[0];
    assert_eq!(sweep["evidence"]["folded"]["alerts"], 38, "{sweep}");
    assert_eq!(sweep["evidence"]["folded"]["sample_ports"].as_array().unwrap().len(), 10, "{sweep}");
    assert_eq!(sweep["packets"], 39 * 30, "{sweep}");
}

#[test]
fn forged_syn_acks_after_each_syn_count_as_forged_and_hide_nothing() {
    let (scanner, target, closed) = (Host::lan(66), Host::lan(10), Host::lan(11));
    let mut f = Forge::default();
    resolve(&mut f, T0, scanner, target);
    for p in 1..=100u16 {
        let t = T0 + MS + u64::from(p) * 10 * MS;
        let seq = 5000 + u32::from(p);
        // A filtered target: silent; the forged SYN-ACK acknowledges the SYN, but comes
        // from the scanner's MAC, not the one the target answered ARP with.
        f.tcp(t, scanner, 40000, target, p, SYN, seq, 0);
        f.tcp(t + MS / 10, target.forged_by(scanner), p, scanner, 40000, SYN | ACK, 9, seq + 1);
        // A closed target: its real RST contradicts the forged SYN-ACK.
        f.tcp(t, scanner, 40001, closed, p, SYN, seq, 0);
        f.tcp(t + MS / 10, closed.forged_by(scanner), p, scanner, 40001, SYN | ACK, 9, seq + 1);
        f.tcp(t + MS / 5, closed, p, scanner, 40001, RST | ACK, 0, seq + 1);
    }
    f.tcp(T0 + 5_000 * MS, Host::lan(1), 1, Host::lan(2), 2, ACK, 1, 1); // time moves on
    let reports = alerts(f);
    let mut got = news(&reports);
    got.sort_by_key(|k| format!("{k:?}"));
    assert_eq!(got, [port_scan(scanner, target), port_scan(scanner, closed)]);
    for a in reports.iter().filter(|a| a["state"] == "end") {
        assert_eq!(a["evidence"]["forged_answers"], 100, "{a}");
    }
}

#[test]
fn forged_udp_replies_do_not_hide_a_udp_scan() {
    let (scanner, target) = (Host::lan(66), Host::lan(10));
    let mut f = Forge::default();
    resolve(&mut f, T0, scanner, target);
    for p in 1..=60u16 {
        let t = T0 + MS + u64::from(p) * 10 * MS;
        let forged = target.forged_by(scanner);
        if p % 2 == 0 {
            f.udp(t, forged, p, scanner, 40000, 8); // a "reply" before the probe...
            f.udp(t + MS, scanner, 40000, target, p, 0);
        } else {
            f.udp(t, scanner, 40000, target, p, 0);
            f.udp(t + MS, forged, p, scanner, 40000, 8); // ...or after it
        }
    }
    f.udp(T0 + 5_000 * MS, Host::lan(1), 1, Host::lan(2), 2, 0);
    let reports = alerts(f);
    assert_eq!(news(&reports), [("port_scan".into(), "10.77.0.66".into(), "10.77.0.10".into())]);
    let end = reports.iter().find(|a| a["state"] == "end").unwrap();
    assert!(end["evidence"]["forged_answers"].as_u64().unwrap() >= 25, "{end}");
}

#[test]
fn forged_rsts_do_not_frame_an_innocent_host() {
    let (forger, victim, innocent) = (Host::lan(66), Host::lan(10), Host::lan(20));
    let mut f = Forge::default();
    for p in 1..=200u16 {
        // RSTs "from" the victim's ports to an innocent host that never sent a probe.
        let t = T0 + u64::from(p) * 5 * MS;
        f.tcp(t, victim.forged_by(forger), p, innocent, 40000, RST | ACK, 0, 77);
        f.tcp(t + MS, victim.forged_by(forger), p, innocent, 40001, RST, 123, 0);
    }
    assert_eq!(news(&alerts(f)), []);
}

#[test]
fn forged_unreachables_do_not_frame_an_innocent_host() {
    let (forger, victim, innocent) = (Host::lan(66), Host::lan(10), Host::lan(20));
    let mut f = Forge::default();
    for p in 1..=200u16 {
        // Port unreachables quoting datagrams the innocent host never sent.
        let t = T0 + u64::from(p) * 5 * MS;
        f.port_unreachable(t, victim.forged_by(forger), innocent, innocent.ip, 40000, p);
    }
    assert_eq!(news(&alerts(f)), []);
}

#[test]
fn a_real_scan_by_unreachables_is_still_caught() {
    let (scanner, target) = (Host::lan(66), Host::lan(10));
    let mut f = Forge::default();
    for p in 1..=30u16 {
        let t = T0 + u64::from(p) * 10 * MS;
        f.udp(t, scanner, 40000, target, p, 0);
        f.port_unreachable(t + MS, target, scanner, scanner.ip, 40000, p);
    }
    assert_eq!(news(&alerts(f)), [port_scan(scanner, target)]);
}

/// (kind, dst) of every `new` report.
fn new_kinds(alerts: &[Value]) -> Vec<(String, Value)> {
    alerts
        .iter()
        .filter(|a| a["state"] == "new")
        .map(|a| (a["kind"].as_str().unwrap().into(), a["dst"].clone()))
        .collect()
}

/// The `i`th SYN of a flood from spoofed LAN addresses (sent by `attacker`'s MAC) to
/// `victim`'s port 80 at `t`: (the spoofed host, its port, its sequence number).
fn spoofed_syn(f: &mut Forge, t: u64, i: u32, attacker: Host, victim: Host) -> (Host, u16, u32) {
    let spoofed =
        Host { ip: std::net::Ipv4Addr::new(10, 77, 1 + (i / 250 % 200) as u8, (i % 250) as u8 + 1), ..attacker };
    let (sport, seq) = (1024 + (i % 50_000) as u16, i.wrapping_mul(2_654_435_761));
    f.tcp(t, spoofed, sport, victim, 80, SYN, seq, 0);
    (spoofed, sport, seq)
}

#[test]
fn blind_acks_do_not_hide_a_spoofed_syn_flood() {
    let (attacker, victim) = (Host::lan(66), Host::lan(10));
    let mut f = Forge::default();
    for i in 0..9000u32 {
        // 3,000 SYNs a second from spoofed LAN addresses; the victim answers each, and the
        // attacker follows each SYN with an ACK it cannot know the number of.
        let t = T0 + u64::from(i) * 1_000_000_000 / 3000;
        let (spoofed, sport, seq) = spoofed_syn(&mut f, t, i, attacker, victim);
        f.tcp(t + 20_000, victim, 80, spoofed, sport, SYN | ACK, 99, seq + 1);
        f.tcp(t + 40_000, spoofed, sport, victim, 80, ACK, seq + 1, 12345);
    }
    assert_eq!(new_kinds(&alerts(f)), [("syn_flood".into(), "10.77.0.10".into())]);
}

#[test]
fn forged_answers_do_not_hide_a_udp_flood() {
    let (attacker, victim) = (Host::lan(66), Host::lan(10));
    let mut f = Forge::default();
    for i in 0..9000u32 {
        // 3,000 datagrams a second over many flows, and as many "answers from the victim"
        // sent from the attacker's MAC.
        let t = T0 + u64::from(i) * 1_000_000_000 / 3000;
        let sport = 1024 + (i % 5000) as u16;
        f.udp(t, attacker, sport, victim, 5353, 64);
        f.udp(t + 10_000, victim.forged_by(attacker), 5353, attacker, sport, 64);
    }
    assert_eq!(new_kinds(&alerts(f)), [("udp_flood".into(), "10.77.0.10".into())]);
}

#[test]
fn a_syn_flood_ramping_up_slowly_still_alerts() {
    let (attacker, victim) = (Host::lan(66), Host::lan(10));
    let mut f = Forge::default();
    // From 100 SYNs a second to 10,000, growing 2.5% a second: slow enough that a
    // baseline with a minute's memory follows it and never sees four times its rate.
    let mut t = 0.0f64;
    let mut i = 0u32;
    while t < 184.0 {
        let rate = 100.0 * (t / 40.0).exp();
        f.tcp(T0 + (t * 1e9) as u64, attacker, 1024 + (i % 60_000) as u16, victim, 80, SYN, i, 0);
        t += 1.0 / rate;
        i += 1;
    }
    assert_eq!(new_kinds(&alerts(f)), [("syn_flood".into(), "10.77.0.10".into())]);
}

#[test]
fn fresh_spoofed_sources_failing_twice_do_not_flush_a_slow_scan() {
    let (scanner, target, attacker) = (Host::lan(68), Host::lan(10), Host::lan(66));
    let mut f = Forge::default();
    // One probe every 10 s (closed ports answer RST); the scanner's host resolves its
    // target when its ARP entry goes stale, as Linux does.
    for p in 1..=16u16 {
        let t = T0 + u64::from(p) * 10_000 * MS;
        if p % 6 == 1 {
            resolve(&mut f, t - 5 * MS, scanner, target);
        }
        f.tcp(t, scanner, 40000, target, p, SYN, 7, 0);
        f.tcp(t + MS, target, p, scanner, 40000, RST | ACK, 0, 8);
    }
    // Meanwhile 1,000 fresh spoofed sources a second, each failing on two closed ports
    // of one of 20 hosts.
    for i in 0..170_000u32 {
        let t = T0 + u64::from(i) * MS;
        let spoofed = Host { ip: std::net::Ipv4Addr::from(0x0a4d_0000 + 256 + i), ..attacker };
        let victim = Host::lan(100 + (i % 20) as u8);
        for port in [1000 + (i % 7) as u16, 2000 + (i % 11) as u16] {
            f.tcp(t, spoofed, 5555, victim, port, SYN, i, 0);
            f.tcp(t + 100_000, victim, port, spoofed, 5555, RST | ACK, 0, i + 1);
        }
    }
    assert_eq!(news(&alerts(f)), [port_scan(scanner, target)]);
}

#[test]
fn a_scanner_changing_technique_is_one_incident_that_lists_each() {
    let (scanner, target) = (Host::lan(66), Host::lan(10));
    let mut f = Forge::default();
    // SYN, then FIN, then ACK probes of the same closed ports, a second apart.
    for (round, flags) in [SYN, common::forge::FIN, ACK].into_iter().enumerate() {
        for p in 1..=50u16 {
            let t = T0 + round as u64 * 1000 * MS + u64::from(p) * MS;
            let (seq, ack) = (100 + u32::from(p), 900 + u32::from(p));
            f.tcp(t, scanner, 40000, target, p, flags, seq, ack);
            let (rst_seq, rst_ack, rst_flags) = match flags {
                ACK => (ack, 0, RST),
                SYN => (0, seq + 1, RST | ACK),
                _ => (0, seq + 1, RST | ACK),
            };
            f.tcp(t + MS / 10, target, p, scanner, 40000, rst_flags, rst_seq, rst_ack);
        }
    }
    f.tcp(T0 + 20_000 * MS, Host::lan(1), 1, Host::lan(2), 2, ACK, 1, 1);
    let reports = alerts(f);
    assert_eq!(news(&reports), [port_scan(scanner, target)]);
    let end = reports.iter().find(|a| a["state"] == "end").unwrap();
    assert_eq!(end["evidence"]["techniques"], serde_json::json!(["syn", "fin", "ack"]), "{end}");
    assert!(end["summary"].as_str().unwrap().ends_with("(SYN, then FIN, then ACK probes)"), "{end}");
}

#[test]
fn a_multi_homed_host_asking_for_its_own_addresses_is_not_a_sweep() {
    let (server, client) = (Host::lan(5), Host::lan(11));
    let extra = spare;
    let mut f = Forge::default();
    for i in 0..60u8 {
        let t = T0 + u64::from(i) * MS;
        // It brings up 60 more addresses: announces each, then checks each from its
        // first address and from the one before; nobody else answers for them.
        f.arp(t, 1, server, extra(i), extra(i));
        f.arp(t + MS / 4, 1, server, server.ip, extra(i));
        if i > 0 {
            f.arp(t + MS / 2, 1, server, extra(i - 1), extra(i));
        }
        // A client resolves some of them, and the server answers.
        if i % 3 == 0 {
            f.arp(t + 3 * MS / 4, 1, client, client.ip, extra(i));
            f.arp(t + 4 * MS / 5, 2, server, extra(i), client.ip);
        }
    }
    f.arp(T0 + 5_000 * MS, 2, Host::lan(1), Host::lan(1).ip, Host::lan(2).ip);
    assert_eq!(news(&alerts(f)), []);
}

#[test]
fn downloads_are_not_spikes_recurring_bursts_are_learned_and_a_new_kind_still_alerts() {
    let (server, client) = (Host::lan(10), Host::lan(11));
    let mut f = Forge::default();
    let mut seq = 1u32;
    let mut send = |f: &mut Forge, t: u64, port: u16| {
        f.tcp(t, server, port, client, 50000, ACK, seq, 1);
        seq = seq.wrapping_add(1448);
    };
    // Ten minutes of 40 pps of TCP. Every minute a 2 s download at 3,000 pps (one
    // flow), and, 20 s later, a job that talks to 50 ports at 3,000 pps for 2 s.
    for s in 0..600u64 {
        let t = T0 + s * 1000 * MS;
        for k in 0..40 {
            send(&mut f, t + k * 25 * MS, 443);
        }
        if s % 60 == 35 {
            for k in 0..6000 {
                send(&mut f, t + k * MS / 3, 443);
            }
        }
        if s % 60 == 55 {
            for k in 0..6000u16 {
                send(&mut f, t + u64::from(k) * MS / 3, 2000 + k % 50);
            }
        }
    }
    // Then a burst of a new kind: 15,000 pps over 500 ports for a second.
    for k in 0..15_000u16 {
        send(&mut f, T0 + 601_000 * MS + u64::from(k) * MS / 15, 3000 + k % 500);
    }
    for s in 602..615u64 {
        send(&mut f, T0 + s * 1000 * MS, 443);
    }
    let spikes: Vec<String> = alerts(f)
        .iter()
        .filter(|a| a["state"] == "new" && a["kind"] == "rate_spike")
        .map(|a| a["summary"].as_str().unwrap().to_string())
        .collect();
    // No download; the job's first two bursts (a burst is usual once it has recurred),
    // not the eight after them; and the new burst.
    assert_eq!(spikes.len(), 3, "{spikes:?}");
    assert!(spikes[2].contains("15000 packets/s"), "{spikes:?}");
}

#[test]
fn a_victim_resolving_the_spoofed_sources_of_its_flood_is_not_sweeping() {
    let (attacker, victim) = (Host::lan(66), Host::lan(23));
    let mut f = Forge::default();
    // 90 spoofed addresses of the LAN, 60 SYNs each; the victim asks ARP for each, to
    // send its SYN-ACKs, and nobody answers.
    for i in 0..5400u32 {
        let t = T0 + u64::from(i) * 200_000;
        let spoofed = Host { ip: std::net::Ipv4Addr::new(10, 77, 0, 160 + (i % 90) as u8), ..attacker };
        f.tcp(t, spoofed, 1024 + (i % 60_000) as u16, victim, 80, SYN, i, 0);
        if i < 90 {
            f.arp(t + 50_000, 1, victim, victim.ip, spoofed.ip);
        }
    }
    f.tcp(T0 + 5_000 * MS, Host::lan(1), 1, Host::lan(2), 2, ACK, 1, 1);
    assert_eq!(new_kinds(&alerts(f)), [("syn_flood".into(), "10.77.0.23".into())]);
}

#[test]
fn one_packet_from_the_future_neither_expires_probes_early_nor_stops_detection() {
    let (client, server, scanner, target) = (Host::lan(11), Host::lan(10), Host::lan(66), Host::lan(20));
    let mut f = Forge::default();
    f.keep_order = true;
    for p in 1..=60u16 {
        // A client's connections to 60 ports, each answered 2 ms later; between a SYN and
        // its answer, a forged packet dated ten years ahead.
        let t = T0 + u64::from(p) * 10 * MS;
        f.tcp(t, client, 30000 + p, server, p, SYN, 5, 0);
        if p == 30 {
            f.tcp(t + MS + 10 * 365 * 86_400 * 1_000_000_000, scanner, 1, server, 1, ACK, 1, 1);
        }
        f.tcp(t + 2 * MS, server, p, client, 30000 + p, SYN | ACK, 9, 6);
    }
    // Then a SYN scan, which must still be caught on time.
    for p in 1..=100u16 {
        let t = T0 + 2_000 * MS + u64::from(p) * MS;
        f.tcp(t, scanner, 40000, target, p, SYN, 7, 0);
        f.tcp(t + MS / 10, target, p, scanner, 40000, RST | ACK, 0, 8);
    }
    f.tcp(T0 + 10_000 * MS, Host::lan(1), 1, Host::lan(2), 2, ACK, 1, 1);
    let reports = alerts(f);
    assert_eq!(news(&reports), [port_scan(scanner, target)]);
    let scan = reports.iter().find(|a| a["state"] == "new").unwrap();
    let delay = scan["ts"].as_f64().unwrap() - (T0 / 1_000_000_000 + 2) as f64;
    assert!(delay < 1.0, "caught {delay} s after the scan began");
}

#[test]
fn an_ack_after_each_syn_does_not_hide_a_syn_scan() {
    let (scanner, target, filtered) = (Host::lan(66), Host::lan(10), Host::lan(11));
    let mut f = Forge::default();
    for p in 1..=40u16 {
        let t = T0 + u64::from(p) * 10 * MS;
        let seq = 3000 + u32::from(p);
        // After each SYN, an ACK on the same ports with a made-up number (sent with a bad
        // checksum, the target drops it); then the target's real RST to the SYN...
        f.tcp(t, scanner, 40000, target, p, SYN, seq, 0);
        f.tcp(t + MS / 100, scanner, 40000, target, p, ACK, seq + 1, 0x1234_5678);
        f.tcp(t + MS, target, p, scanner, 40000, RST | ACK, 0, seq + 1);
        // ...or, from a filtered host, nothing at all.
        f.tcp(t, scanner, 40001, filtered, p, SYN, seq, 0);
        f.tcp(t + MS / 100, scanner, 40001, filtered, p, ACK, seq + 1, 0x1234_5678);
    }
    f.tcp(T0 + 5_000 * MS, Host::lan(1), 1, Host::lan(2), 2, ACK, 1, 1); // time moves on
    let mut got = news(&alerts(f));
    got.sort_by_key(|k| format!("{k:?}"));
    assert_eq!(got, [port_scan(scanner, target), port_scan(scanner, filtered)]);
}

#[test]
fn probes_sent_as_a_known_host_from_another_mac_do_not_frame_it() {
    let (forger, target, innocent) = (Host::lan(66), Host::lan(10), Host::lan(20));
    let mut f = Forge::default();
    // The innocent host shows its MAC as every host does (ARP), and the forger its own.
    resolve(&mut f, T0, innocent, target);
    resolve(&mut f, T0 + MS, forger, target);
    let framed = Host { ttl: 128, ..innocent.forged_by(forger) };
    for p in 1..=40u16 {
        let t = T0 + 10 * MS + u64::from(p) * 10 * MS;
        // SYNs, FINs and pings "from" the innocent host, sent from the forger's MAC; the
        // target answers the innocent host, which never asked.
        f.tcp(t, framed, 40000, target, p, SYN, 100 + u32::from(p), 0);
        f.tcp(t + MS / 10, target, p, innocent, 40000, RST | ACK, 0, 101 + u32::from(p));
        f.tcp(t + MS / 5, framed, 40001, target, 1000 + p, common::forge::FIN, 7, 0);
    }
    f.tcp(T0 + 5_000 * MS, Host::lan(1), 1, Host::lan(2), 2, ACK, 1, 1);
    let named: Vec<_> =
        news(&alerts(f)).into_iter().filter(|(_, src, _)| src.as_str() == Some(&innocent.ip.to_string())).collect();
    assert_eq!(named, []);
}

#[test]
fn forged_rsts_against_completed_connections_do_not_frame_a_client() {
    let (forger, client) = (Host::lan(66), Host::lan(20));
    // Servers beyond the router: their answers come from the router's MAC.
    let router = Host::lan(1);
    let mut f = Forge::default();
    for i in 1..=12u8 {
        let server = Host { ip: std::net::Ipv4Addr::new(192, 0, 2, i), mac: router.mac, ttl: 52 };
        let t = T0 + u64::from(i) * 100 * MS;
        let (seq, their) = (1000 * u32::from(i), 77_000 + u32::from(i));
        // A normal connection: SYN, the server's SYN-ACK, the client's ACK...
        f.tcp(t, client, 50000 + u16::from(i), server, 443, SYN, seq, 0);
        f.tcp(t + 10 * MS, server, 443, client, 50000 + u16::from(i), SYN | ACK, their, seq + 1);
        f.tcp(t + 11 * MS, client, 50000 + u16::from(i), server, 443, ACK, seq + 1, their + 1);
        // ...and a RST "from" the server, forged from another MAC with another TTL.
        let forged = Host { ttl: 128, ..server.forged_by(forger) };
        f.tcp(t + 12 * MS, forged, 443, client, 50000 + u16::from(i), RST | ACK, 0, seq + 1);
    }
    f.tcp(T0 + 5_000 * MS, Host::lan(2), 1, Host::lan(3), 2, ACK, 1, 1);
    assert_eq!(news(&alerts(f)), []);
}

#[test]
fn a_scanner_whose_address_ends_in_255_is_named() {
    // In a /23, 10.77.1.255 is a host like any other.
    let scanner = Host { ip: std::net::Ipv4Addr::new(10, 77, 1, 255), ..Host::lan(66) };
    let target = Host::lan(10);
    let mut f = Forge::default();
    for p in 1..=40u16 {
        let t = T0 + u64::from(p) * 10 * MS;
        f.tcp(t, scanner, 40000, target, p, SYN, 7, 0);
        f.tcp(t + MS, target, p, scanner, 40000, RST | ACK, 0, 8);
    }
    assert_eq!(news(&alerts(f)), [port_scan(scanner, target)]);
}

/// A SYN scan of `ports` ports of `target` by `scanner` from `t`, each refused.
fn scan(f: &mut Forge, t: u64, scanner: Host, target: Host, ports: u16) {
    for p in 1..=ports {
        let at = t + u64::from(p) * MS;
        f.tcp(at, scanner, 40000, target, p, SYN, 7, 0);
        f.tcp(at + MS / 10, target, p, scanner, 40000, RST | ACK, 0, 8);
    }
}

#[test]
fn sources_spaced_out_in_time_are_still_one_incident() {
    // 30 (spoofed) sources scanning one target, one every 11 s: more than the seconds
    // in which alike alerts used to be grouped.
    let (scanner, target) = (Host::lan(66), Host::lan(10));
    let mut f = Forge::default();
    for i in 0..30u8 {
        let source = Host { ip: std::net::Ipv4Addr::new(10, 77, 9, 1 + i), ..scanner };
        scan(&mut f, T0 + u64::from(i) * 11_000 * MS, source, target, 10);
    }
    let spaced = news(&alerts(f));
    assert!((1..=3).contains(&spaced.len()), "{} new reports for one target: {spaced:?}", spaced.len());
}

#[test]
fn forged_syn_acks_do_not_complete_the_handshakes_of_a_syn_flood() {
    let (attacker, victim) = (Host::lan(66), Host::lan(10));
    let mut f = Forge::default();
    for i in 0..15_000u32 {
        // 5,000 spoofed SYNs a second; every fourth "answered" by a SYN-ACK the attacker
        // forges from its own MAC, and acknowledged.
        let t = T0 + u64::from(i) * 1_000_000_000 / 5000;
        let (spoofed, sport, seq) = spoofed_syn(&mut f, t, i, attacker, victim);
        if i % 4 == 0 {
            f.tcp(t + 10_000, victim.forged_by(attacker), 80, spoofed, sport, SYN | ACK, 99, seq + 1);
            f.tcp(t + 20_000, spoofed, sport, victim, 80, ACK, seq + 1, 100);
        }
    }
    assert_eq!(new_kinds(&alerts(f)), [("syn_flood".into(), "10.77.0.10".into())]);
}

#[test]
fn one_frame_to_another_mac_does_not_make_it_the_victims() {
    let (attacker, victim) = (Host::lan(66), Host::lan(10));
    let decoy = Host { mac: [2, 0, 0, 0, 0, 0x99], ..victim };
    let mut f = Forge::default();
    // First a frame to the victim's address but the attacker's second MAC, then a UDP
    // flood with a forged "answer" from that MAC for every datagram.
    f.udp(T0, attacker, 9, decoy, 9, 8);
    for i in 0..18_000u32 {
        let t = T0 + MS + u64::from(i) * 1_000_000_000 / 6000;
        let sport = 1024 + (i % 5000) as u16;
        f.udp(t, attacker, sport, victim, 53, 64);
        f.udp(t + 10_000, Host { ip: victim.ip, mac: decoy.mac, ttl: 64 }, 53, attacker, sport, 64);
    }
    assert_eq!(new_kinds(&alerts(f)), [("udp_flood".into(), "10.77.0.10".into())]);
}

#[test]
fn announcements_sent_to_one_mac_do_not_hide_an_arp_sweep() {
    let scanner = Host::lan(66);
    let target = spare;
    let mut f = Forge::default();
    for i in 0..40u8 {
        // Each address "announced" to an unused unicast MAC (no cache changes), then asked
        // for: nobody answers.
        let t = T0 + u64::from(i) * 10 * MS;
        f.arp_to(t, [2, 0xde, 0xad, 0, 0, 1], 1, scanner, target(i), target(i));
        f.arp(t + MS, 1, scanner, scanner.ip, target(i));
    }
    f.arp(T0 + 5_000 * MS, 2, Host::lan(1), Host::lan(1).ip, Host::lan(2).ip);
    let got = news(&alerts(f));
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!((got[0].0.as_str(), &got[0].1), ("host_sweep", &Value::from("10.77.0.66")));
}

#[test]
fn broadcast_announcements_of_the_lans_addresses_do_not_hide_an_arp_sweep() {
    // Five hosts are known first (they resolve each other); then the sweeper claims every
    // address of the range, theirs too, in broadcast announcements, and asks for each: a
    // multi-homed machine claims only addresses nobody else has.
    let scanner = Host::lan(66);
    let mut f = Forge::default();
    for n in 1..=5u8 {
        let (host, peer) = (Host::lan(n), Host::lan(n % 5 + 1));
        let t = T0 + u64::from(n) * MS;
        f.arp(t, 1, host, host.ip, peer.ip);
        f.arp_to(t + MS / 10, host.mac, 2, peer, peer.ip, host.ip);
    }
    let start = T0 + 100 * MS;
    let lan = |i: u8| Host::lan(1 + i);
    for i in 0..60u8 {
        f.arp(start + u64::from(i) * MS, 1, scanner, lan(i).ip, lan(i).ip);
    }
    for i in 0..60u8 {
        let t = start + 100 * MS + u64::from(i) * 10 * MS;
        f.arp(t, 1, scanner, scanner.ip, lan(i).ip);
        if i < 5 {
            f.arp_to(t + MS / 10, scanner.mac, 2, lan(i), lan(i).ip, scanner.ip);
        }
    }
    f.arp(T0 + 5_000 * MS, 2, Host::lan(1), Host::lan(1).ip, Host::lan(2).ip);
    let got = news(&alerts(f));
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!((got[0].0.as_str(), &got[0].1), ("host_sweep", &Value::from("10.77.0.66")));
}

/// The `i`th address of the lab LAN from .100 on (no lab host's own).
fn spare(i: u8) -> std::net::Ipv4Addr {
    std::net::Ipv4Addr::new(10, 77, 0, 100 + i)
}

#[test]
fn a_sweeper_answering_its_own_who_has_is_still_a_sweep() {
    let scanner = Host::lan(66);
    let mut f = Forge::default();
    for i in 0..40u8 {
        // It asks, then "answers" for the address itself, from its own MAC (to itself,
        // or to everybody): nobody else ever speaks for these addresses.
        let t = T0 + u64::from(i) * 10 * MS;
        f.arp(t, 1, scanner, scanner.ip, spare(i));
        let to = if i % 2 == 0 { scanner.mac } else { [0xff; 6] };
        f.arp_to(t + MS / 10, to, 2, scanner, spare(i), scanner.ip);
    }
    f.arp(T0 + 5_000 * MS, 2, Host::lan(1), Host::lan(1).ip, Host::lan(2).ip);
    let got = news(&alerts(f));
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!((got[0].0.as_str(), &got[0].1), ("host_sweep", &Value::from("10.77.0.66")));
}

/// Address `fd00:77::n` and the MAC of lab host `n`.
fn v6(n: u16) -> (std::net::Ipv6Addr, [u8; 6]) {
    (format!("fd00:77::{n:x}").parse().unwrap(), [2, 0, 0, 0, (n >> 8) as u8, n as u8])
}

/// Its link-local address.
fn link_local(n: u16) -> std::net::Ipv6Addr {
    format!("fe80::{n:x}").parse().unwrap()
}

/// The solicited-node group of `ip` and its MAC (RFC 4291 §2.7.1).
fn solicited(ip: std::net::Ipv6Addr) -> (std::net::Ipv6Addr, [u8; 6]) {
    let o = ip.octets();
    let group = std::net::Ipv6Addr::from([
        0xff02,
        0,
        0,
        0,
        0,
        1,
        0xff00 | u16::from(o[13]),
        u16::from_be_bytes([o[14], o[15]]),
    ]);
    (group, [0x33, 0x33, 0xff, o[13], o[14], o[15]])
}

/// `asker` solicits `target` (sent to its solicited-node group).
fn solicit(f: &mut Forge, ns: u64, asker: u16, target: std::net::Ipv6Addr) {
    let (ip, mac) = v6(asker);
    let (group, group_mac) = solicited(target);
    f.nd(ns, 135, mac, ip, group_mac, group, target);
}

#[test]
fn an_ipv6_neighbor_solicitation_sweep_is_a_host_sweep_even_answered_by_the_sweeper() {
    let mut f = Forge::default();
    let (scanner, scanner_mac) = v6(0x66);
    for i in 0..40u16 {
        let t = T0 + u64::from(i) * 10 * MS;
        let (target, _) = v6(0x100 + i);
        solicit(&mut f, t, 0x66, target);
        // The sweeper "advertises" the address itself, back to itself.
        f.nd(t + MS / 10, 136, scanner_mac, link_local(0x66), scanner_mac, scanner, target);
    }
    f.arp(T0 + 5_000 * MS, 2, Host::lan(1), Host::lan(1).ip, Host::lan(2).ip);
    let got = news(&alerts(f));
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!((got[0].0.as_str(), &got[0].1), ("host_sweep", &Value::from("fd00:77::66")));
}

#[test]
fn advertising_the_lans_ipv6_addresses_first_does_not_hide_a_solicitation_sweep() {
    // Five hosts resolve each other; then the sweeper advertises every address of the
    // range as its own (theirs too) to all nodes, and solicits each from its address.
    let mut f = Forge::default();
    let mut t = T0;
    for host in 1..=5u16 {
        let (ip, mac) = v6(host);
        let (peer_ip, peer_mac) = v6(host % 5 + 1);
        solicit(&mut f, t, host, peer_ip);
        f.nd(t + MS / 5, 136, peer_mac, link_local(host % 5 + 1), mac, ip, peer_ip);
        t += MS;
    }
    let (scanner, scanner_mac) = v6(0x66);
    let all_nodes: std::net::Ipv6Addr = "ff02::1".parse().unwrap();
    for host in 1..=40u16 {
        let (target, _) = v6(host);
        f.nd(t, 136, scanner_mac, link_local(0x66), [0x33, 0x33, 0, 0, 0, 1], all_nodes, target);
        t += MS;
    }
    for host in 1..=40u16 {
        let (target, target_mac) = v6(host);
        solicit(&mut f, t, 0x66, target);
        if host <= 5 {
            f.nd(t + MS / 5, 136, target_mac, link_local(host), scanner_mac, scanner, target);
        }
        t += 10 * MS;
    }
    f.arp(t + 5_000 * MS, 2, Host::lan(1), Host::lan(1).ip, Host::lan(2).ip);
    let got = news(&alerts(f));
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!((got[0].0.as_str(), &got[0].1), ("host_sweep", &Value::from("fd00:77::66")));
}

#[test]
fn ipv6_hosts_resolving_checking_and_claiming_their_neighbors_raise_nothing() {
    let mut f = Forge::default();
    let mut t = T0;
    for host in 1..=40u16 {
        let (ip, mac) = v6(host);
        // Duplicate address detection (from ::, nobody answers), then an unsolicited
        // advertisement to all nodes.
        let (group, group_mac) = solicited(ip);
        f.nd(t, 135, mac, std::net::Ipv6Addr::UNSPECIFIED, group_mac, group, ip);
        f.nd(t + MS, 136, mac, link_local(host), [0x33, 0x33, 0, 0, 0, 1], "ff02::1".parse().unwrap(), ip);
        t += 5 * MS;
    }
    for host in 1..=40u16 {
        let (ip, mac) = v6(host);
        // Each resolves fifteen others (answered from their link-local addresses), then
        // checks one of them again by unicast (answered).
        for k in 1..=15u16 {
            let peer = (host + k * 7) % 40 + 1;
            let (peer_ip, peer_mac) = v6(peer);
            solicit(&mut f, t, host, peer_ip);
            f.nd(t + MS / 5, 136, peer_mac, link_local(peer), mac, ip, peer_ip);
            t += MS;
        }
        let (peer_ip, peer_mac) = v6(host % 40 + 1);
        f.nd(t, 135, mac, ip, peer_mac, peer_ip, peer_ip);
        f.nd(t + MS / 5, 136, peer_mac, link_local(host % 40 + 1), mac, ip, peer_ip);
        t += MS;
    }
    // A multi-homed host claims 30 more addresses and checks each from its first.
    let (server_ip, server_mac) = v6(5);
    for i in 0..30u16 {
        let (extra, _) = v6(0x500 + i);
        f.nd(t, 136, server_mac, link_local(5), [0x33, 0x33, 0, 0, 0, 1], "ff02::1".parse().unwrap(), extra);
        let (group, group_mac) = solicited(extra);
        f.nd(t + MS, 135, server_mac, server_ip, group_mac, group, extra);
        t += 2 * MS;
    }
    f.arp(t + 5_000 * MS, 2, Host::lan(1), Host::lan(1).ip, Host::lan(2).ip);
    assert_eq!(news(&alerts(f)), []);
}

#[test]
fn a_syn_flood_to_random_destinations_is_one_sweep() {
    // `hping3 -S --rand-dest 10.77.0.x -p 80 --flood`: 20,000 SYNs at 5,000/s to random
    // addresses of the /24; the five live hosts refuse, nobody else answers.
    let attacker = Host::lan(66);
    let mut f = Forge::default();
    let mut x = 0x9e37_79b9u32;
    for i in 0..20_000u32 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let t = T0 + u64::from(i) * 200_000;
        let target = Host::lan((x % 250) as u8 + 1);
        let (sport, seq) = (1024 + (x >> 16) as u16 % 60_000, x);
        if target.ip == attacker.ip {
            continue;
        }
        f.tcp(t, attacker, sport, target, 80, SYN, seq, 0);
        if (1..=5).contains(&target.ip.octets()[3]) {
            f.tcp(t + 50_000, target, 80, attacker, sport, RST | ACK, 0, seq.wrapping_add(1));
        }
    }
    f.arp(T0 + 10_000 * MS, 2, Host::lan(1), Host::lan(1).ip, Host::lan(2).ip);
    let got = news(&alerts(f));
    assert_eq!(got, [("host_sweep".into(), Value::from("10.77.0.66"), Value::Null)], "{got:?}");
}

#[test]
fn a_scan_hidden_among_decoys_is_a_scan_not_a_flood() {
    // `nmap -sS -D d1,d2,d3,d4,d5,ME -p 1-300`: each port is probed by the five decoys
    // and the scanner, all from the scanner's MAC (nmap spoofs only the addresses), at
    // about 2,000 SYNs a second. The target refuses the scanner's probes; the decoys'
    // answers never reach the wire (no such hosts: its ARP goes unanswered).
    let (scanner, target) = (Host::lan(66), Host::lan(22));
    let decoys: Vec<Host> = (200..205).map(|n| Host::lan(n).forged_by(scanner)).collect();
    let mut f = Forge::default();
    let mut t = T0;
    for port in 1..=300u16 {
        for (i, &src) in decoys.iter().chain([&scanner]).enumerate() {
            let seq = u32::from(port) << 8 | i as u32;
            f.tcp(t, src, 40_000 + i as u16, target, port, SYN, seq, 0);
            if src.ip == scanner.ip {
                f.tcp(t + 20_000, target, port, scanner, 40_005, RST | ACK, 0, seq.wrapping_add(1));
            }
            t += 500_000;
        }
    }
    // Later traffic, so that the decoys' unanswered probes time out.
    f.arp(t + 5_000 * MS, 1, Host::lan(1), Host::lan(1).ip, Host::lan(2).ip);
    let got = news(&alerts(f));
    assert_eq!(got.first(), Some(&port_scan(scanner, target)), "{got:?}");
    assert!(got.iter().all(|(kind, ..)| kind == "port_scan"), "a scan, not a flood: {got:?}");
}
