//! Report data and page tests.

use super::*;

#[test]
fn principal_axes_find_the_direction_of_spread() {
    // Points along (1, 1, 0) with a little noise on the third axis.
    let rows: Vec<Vec<f64>> = (0..20).map(|i| vec![i as f64, i as f64, (i % 2) as f64 * 0.1]).collect();
    let (axes, explained) = principal_axes(&rows);
    assert_eq!(axes.len(), 2);
    let a = &axes[0];
    assert!((a[0].abs() - a[1].abs()).abs() < 1e-6 && a[2].abs() < 1e-3, "{a:?}");
    assert!(explained > 0.99, "{explained}");
    assert_eq!(principal_axes(&[vec![1.0, 2.0]]).0.len(), 0);
    assert_eq!(principal_axes(&[vec![1.0, 2.0], vec![1.0, 2.0]]).0.len(), 0);
    assert_eq!(principal_axes(&[vec![1.0], vec![1.0, 2.0]]).0.len(), 0);
}

#[test]
fn pairs_fold_directions_and_rank_by_bytes() {
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    let c = |p, b| crate::stats::Counter { packets: p, bytes: b };
    let flows = vec![
        (ip("10.0.0.2"), ip("10.0.0.1"), c(1, 100), c(2, 900)),
        (ip("10.0.0.1"), ip("10.0.0.2"), c(1, 50), c(1, 10)),
        (ip("10.0.0.3"), ip("10.0.0.1"), c(1, 5), c(0, 0)),
    ];
    let p = pairs(flows.into_iter());
    assert_eq!(p.flows, 3);
    assert_eq!(p.top[0], Pair { a: ip("10.0.0.1"), b: ip("10.0.0.2"), a_to_b: 950, b_to_a: 110, packets: 5, flows: 2 });
    assert_eq!(p.hosts, vec![ip("10.0.0.1"), ip("10.0.0.2"), ip("10.0.0.3")]);
    assert_eq!(p.bytes[0][1], 950);
    assert_eq!(p.bytes[1][0], 110);
    assert_eq!(p.bytes[2][0], 5);
}

#[test]
fn size_bins_cover_every_packet_once() {
    let mut s = crate::stats::SizeHistogram::default();
    for len in [42, 64, 65, 128, 1514, 1518, 1519, 8990, 9100, 65535] {
        s.record(len);
    }
    let bins = sizes(&s.bins(&SIZE_EDGES));
    assert_eq!(bins.iter().map(|b| b.packets).sum::<u64>(), 10);
    assert_eq!(bins.iter().map(|b| b.packets).collect::<Vec<_>>(), vec![2, 2, 0, 0, 0, 2, 2, 2]);
}

#[test]
fn evidence_reads_as_text() {
    let v = serde_json::json!({"score": 0.7, "unusual": [{"text": "9.8 DNS queries/s, typical 0.4"}], "ports": [1, 2], "pcap": null, "probes": {"syn": 3}});
    let lines = crate::detect::evidence::lines(&v);
    assert_eq!(lines, vec!["ports: 1, 2", "probes syn: 3", "score: 0.7", "9.8 DNS queries/s, typical 0.4"]);
}

#[test]
fn loss_reads_every_stage_of_a_live_summary() {
    let s = serde_json::json!({
        "capture": {"dropped_kernel": 3, "dropped_interface": 0, "dropped_ring": {"stats": 5, "detector": 7}},
        "sinks": {"db": {"dropped": 2}}
    });
    let got: Vec<(String, u64)> = loss_of(&s).into_iter().map(|l| (l.stage, l.count)).collect();
    let want = [("kernel", 3), ("interface", 0), ("ring", 5), ("detector", 7), ("sink_db", 2)];
    assert_eq!(got, want.iter().map(|(a, b)| (a.to_string(), *b)).collect::<Vec<_>>());
    assert!(loss_of(&serde_json::json!({"capture": null})).is_empty(), "a replay loses nothing");
}
