//! The report page: [`ReportData`] as one self-contained HTML file. Styles inline,
//! charts inline SVG, no script but the JSON data block, no reference to anything
//! outside the file except links to the alert pcaps written beside it.

use std::fmt::Write;
use std::path::Path;

use serde_json::Value;

use super::svg::{self, Bar, Dot, Series, Span, esc};
use super::{ReportData, SizeBin};
use crate::export::report::{group, utc};
use crate::units::{human_bits, human_bytes};

/// Colours of the protocol classes, in [`crate::decode::Proto::ALL`] order.
const PROTO_COLOURS: [&str; 6] = ["#1f77b4", "#ff7f0e", "#2ca02c", "#17becf", "#9467bd", "#7f7f7f"];
/// Behaviour cluster colours.
const CLUSTER_COLOURS: [&str; 8] =
    ["#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#edc948", "#76b7b2", "#ff9da7", "#9c755f"];
const TX: &str = "#1f77b4";
const RX: &str = "#ff7f0e";

const STYLE: &str = "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0 auto;max-width:1000px;padding:16px 24px;color:#222;background:#fff}\
h1{font-size:22px;margin:8px 0}h2{font-size:17px;margin:28px 0 6px;border-bottom:1px solid #ddd;padding-bottom:3px}\
table{border-collapse:collapse;margin:6px 0;font-size:13px}td,th{padding:2px 10px 2px 0;text-align:left;vertical-align:top}th{color:#555;font-weight:600}\
td.n{text-align:right;font-variant-numeric:tabular-nums}.warn{background:#fff3cd;padding:6px 10px;border-left:4px solid #e0a800}\
figure{margin:6px 0}figcaption{color:#555;font-size:13px}.lbl{font-size:13px;fill:#222}.tick{font-size:11px;fill:#555}.grid{stroke:#e5e5e5}\
.alert{border-left:4px solid #999;padding:4px 10px;margin:10px 0;background:#fafafa}.alert.high{border-color:#d62728}.alert.medium{border-color:#ff7f0e}.alert.low{border-color:#bcbd22}.alert.critical{border-color:#8b0000}\
.ev{margin:2px 0;font-size:12.5px;color:#444}.muted{color:#666}code{font-size:12px}";

/// The page. `pcap_dir` is the report's own directory: alert pcaps inside it are
/// linked by relative path, others by absolute `file:` URL.
pub fn render(d: &ReportData, report_dir: Option<&Path>) -> String {
    let s = &d.summary;
    let mut h = String::with_capacity(256 << 10);
    let source = s["source"].as_str().unwrap_or("?");
    let _ = writeln!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\
<title>ntop-rs report: {}</title><style>{STYLE}</style></head><body>\n<h1>ntop-rs report: {}</h1>\n<p class=\"muted\">{} · written {} · figures from {}</p>",
        esc(source),
        esc(source),
        esc(&d.generator),
        esc(&d.generated_at),
        if d.origin == "database" { "the database" } else { "this run" }
    );
    if d.partial {
        h.push_str("<p class=\"warn\">Written while the capture was still running: the figures so far.</p>\n");
    }
    captured(&mut h, d);
    protocols(&mut h, s);
    over_time(&mut h, d);
    talkers(&mut h, d);
    pairs(&mut h, d);
    sizes(&mut h, d);
    alerts(&mut h, d, report_dir);
    behaviour(&mut h, d);
    flows(&mut h, d);
    // The figures for scripts: `<` escaped, so no text in them can end the block.
    let json = serde_json::to_string(d).unwrap_or_default().replace('<', "\\u003c");
    let _ = write!(h, "<script type=\"application/json\" id=\"ntop-rs-report\">{json}</script>\n</body></html>\n");
    h
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(0.0)
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

fn when(v: &Value) -> String {
    v.as_f64().map_or("–".into(), utc)
}

fn figure(h: &mut String, id: &str, caption: &str, svg: String) {
    let _ = writeln!(
        h,
        "<figure class=\"chart\" id=\"chart-{id}\" data-chart=\"{id}\">{svg}<figcaption>{}</figcaption></figure>",
        esc(caption)
    );
}

fn captured(h: &mut String, d: &ReportData) {
    let s = &d.summary;
    h.push_str("<h2 id=\"captured\">What was captured</h2>\n<table>");
    let mut row = |k: &str, v: String| {
        let _ = write!(h, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(&v));
    };
    row("source", s["source"].as_str().unwrap_or("?").to_string());
    row("filter", s["filter"].as_str().unwrap_or("none").to_string());
    row("first packet", when(&s["first_ts"]));
    row("last packet", when(&s["last_ts"]));
    row("span", format!("{:.1} s", num(&s["duration"])));
    row("packets", group(u(&s["packets"])));
    row("bytes", format!("{} ({})", group(u(&s["bytes"])), human_bytes(num(&s["bytes"]))));
    row("mean rate", format!("{} · {:.0} packets/s", human_bits(num(&s["bps"])), num(&s["pps"])));
    row("hosts", group(u(&s["hosts_total"])));
    row("flows", group(u(&s["flows_total"])));
    row("malformed / truncated", format!("{} / {}", group(u(&s["malformed"])), group(u(&s["truncated"]))));
    let lost: Vec<String> = d.loss.iter().map(|l| format!("{} {}", l.stage, group(l.count))).collect();
    row("lost, by stage", if lost.is_empty() { "nothing".into() } else { lost.join(" · ") });
    row("alerts", group(u(&s["alerts_total"])));
    h.push_str("</table>\n");
    if let Some(w) = s["warnings"].as_array().filter(|w| !w.is_empty()) {
        for line in w.iter().filter_map(Value::as_str) {
            let _ = writeln!(h, "<p class=\"warn\">{}</p>", esc(line));
        }
    }
}

fn protocols(h: &mut String, s: &Value) {
    h.push_str("<h2 id=\"protocols\">Protocol distribution</h2>\n");
    let (all_p, all_b) = (num(&s["packets"]).max(1.0), num(&s["bytes"]).max(1.0));
    let mut rows: Vec<(usize, &str, f64, f64)> = crate::decode::Proto::ALL
        .iter()
        .enumerate()
        .map(|(i, p)| (i, p.name(), num(&s["protocols"][p.name()]["packets"]), num(&s["protocols"][p.name()]["bytes"])))
        .filter(|r| r.2 > 0.0)
        .collect();
    rows.sort_by(|a, b| b.3.total_cmp(&a.3));
    let bars: Vec<Bar> = rows
        .iter()
        .map(|&(i, name, p, b)| Bar {
            label: name.to_string(),
            parts: vec![(b, PROTO_COLOURS[i], "bytes")],
            note: format!("{:.1}% of bytes · {:.1}% of packets", 100.0 * b / all_b, 100.0 * p / all_p),
        })
        .collect();
    figure(
        h,
        "protocols",
        "Bytes per protocol class (share of bytes and of packets)",
        svg::hbars(&bars, "protocol distribution"),
    );
    h.push_str("<table><tr><th>class</th><th>packets</th><th>bytes</th></tr>");
    for (_, name, p, b) in &rows {
        let _ = write!(
            h,
            "<tr><td>{name}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            group(*p as u64),
            group(*b as u64)
        );
    }
    h.push_str("</table>\n");
}

fn over_time(h: &mut String, d: &ReportData) {
    let t = &d.timeline;
    h.push_str("<h2 id=\"time\">Traffic over time</h2>\n");
    let per_sec = |v: u64| v as f64 / t.bucket_secs.max(1e-9);
    let series: Vec<Series<'_>> = t
        .protocols
        .iter()
        .enumerate()
        .map(|(i, name)| Series {
            name,
            colour: PROTO_COLOURS.get(i).copied().unwrap_or("#999"),
            values: t.bytes.iter().map(|b| per_sec(b.get(i).copied().unwrap_or(0))).collect(),
        })
        .collect();
    let bps = |v: f64| format!("{}/s", human_bytes(v));
    let note = if t.complete { String::new() } else { " (the run outlasted the history kept: the latest part)".into() };
    figure(
        h,
        "time",
        &format!("Bytes per second by protocol class, in {} s buckets{note}", t.bucket_secs),
        svg::stacked(&series, t.start, t.bucket_secs, "traffic over time", &bps),
    );
    let (peak, mean) = t.bandwidth();
    let bits: Vec<f64> = t.total_bytes().iter().map(|b| per_sec(*b) * 8.0).collect();
    figure(
        h,
        "bandwidth",
        &format!("Bandwidth: peak {} (over {} s), mean {}", human_bits(peak), t.bucket_secs, human_bits(mean)),
        svg::line(&bits, t.start, t.bucket_secs, "#d62728", "bandwidth", &|v| human_bits(v)),
    );
}

fn talkers(h: &mut String, d: &ReportData) {
    h.push_str("<h2 id=\"talkers\">Top talkers</h2>\n");
    let bars: Vec<Bar> = d
        .talkers
        .iter()
        .map(|t| Bar {
            label: t.ip.to_string(),
            parts: vec![(t.tx_bytes as f64, TX, "sent"), (t.rx_bytes as f64, RX, "received")],
            note: format!("{} sent · {} received", human_bytes(t.tx_bytes as f64), human_bytes(t.rx_bytes as f64)),
        })
        .collect();
    figure(
        h,
        "talkers",
        "Bytes sent (blue) and received (orange) by the busiest hosts",
        svg::hbars(&bars, "top talkers"),
    );
}

fn pairs(h: &mut String, d: &ReportData) {
    let p = &d.pairs;
    h.push_str("<h2 id=\"pairs\">Who talks to whom</h2>\n");
    let labels: Vec<String> = p.hosts.iter().map(ToString::to_string).collect();
    figure(
        h,
        "pairs",
        &format!(
            "Bytes from each row's host to each column's, the busiest pairs of {} flows (darker is more, on a log scale)",
            group(p.flows)
        ),
        svg::matrix(&labels, &p.bytes, "who talks to whom", &|v| human_bytes(v)),
    );
    h.push_str("<table><tr><th>a</th><th>b</th><th>a → b</th><th>b → a</th><th>packets</th><th>flows</th></tr>");
    for x in &p.top {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            x.a,
            x.b,
            human_bytes(x.a_to_b as f64),
            human_bytes(x.b_to_a as f64),
            group(x.packets),
            group(x.flows)
        );
    }
    h.push_str("</table>\n");
}

fn bin_name(b: &SizeBin) -> String {
    match b.hi {
        Some(hi) => format!("{}–{hi}", b.lo + 1),
        None => format!("> {}", b.lo),
    }
}

fn sizes(h: &mut String, d: &ReportData) {
    h.push_str("<h2 id=\"sizes\">Packet sizes</h2>\n");
    let z = &d.summary["sizes"];
    let caption = format!(
        "Packets by wire length in bytes · min {} · median {} · p90 {} · p99 {} · max {} · mean {:.0}",
        u(&z["min"]),
        u(&z["p50"]),
        u(&z["p90"]),
        u(&z["p99"]),
        u(&z["max"]),
        num(&z["mean"])
    );
    if d.sizes.is_empty() {
        let _ = writeln!(h, "<p class=\"muted\">Packet sizes are not stored in the database. {}</p>", esc(&caption));
        return;
    }
    let bars: Vec<(String, f64)> = d.sizes.iter().map(|b| (bin_name(b), b.packets as f64)).collect();
    figure(h, "sizes", &caption, svg::vbars(&bars, "#59a14f", "packet sizes", &|v| crate::units::human_count(v)));
}

fn severity_colour(s: &str) -> &'static str {
    match s {
        "critical" => "#8b0000",
        "high" => "#d62728",
        "medium" => "#ff7f0e",
        _ => "#bcbd22",
    }
}

fn pcap_link(path: &str, dir: Option<&Path>) -> String {
    let p = Path::new(path);
    let abs = p.canonicalize().unwrap_or_else(|_| {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir().map(|c| c.join(p)).unwrap_or_else(|_| p.to_path_buf())
        }
    });
    let dir = dir.and_then(|d| d.canonicalize().ok());
    if let Some(rel) = dir.as_deref().and_then(|d| abs.strip_prefix(d).ok()) {
        return rel.to_string_lossy().split('/').map(encode).collect::<Vec<_>>().join("/");
    }
    format!("file://{}", abs.to_string_lossy().split('/').map(encode).collect::<Vec<_>>().join("/"))
}

/// Percent-encodes a path segment.
fn encode(seg: &str) -> String {
    seg.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            b => format!("%{b:02X}"),
        })
        .collect()
}

fn alerts(h: &mut String, d: &ReportData, dir: Option<&Path>) {
    let s = &d.summary;
    let list = s["alerts"].as_array().map(Vec::as_slice).unwrap_or_default();
    h.push_str("<h2 id=\"alerts\">Alerts</h2>\n");
    let (start, end) = (num(&s["first_ts"]), num(&s["last_ts"]).max(num(&s["first_ts"])));
    let mut sorted: Vec<&Value> = list.iter().collect();
    sorted.sort_by(|a, b| num(&a["first_ts"]).total_cmp(&num(&b["first_ts"])).then(u(&a["id"]).cmp(&u(&b["id"]))));
    let spans: Vec<Span> = sorted
        .iter()
        .map(|a| {
            let who = a["src"].as_str().or(a["dst"].as_str()).unwrap_or("");
            Span {
                label: format!("#{} {} {who}", u(&a["id"]), a["kind"].as_str().unwrap_or("?")),
                from: num(&a["first_ts"]),
                to: num(&a["last_ts"]),
                colour: severity_colour(a["severity"].as_str().unwrap_or("")),
                title: a["summary"].as_str().unwrap_or("").to_string(),
                href: format!("#alert-{}", u(&a["id"])),
            }
        })
        .collect();
    let caption = format!(
        "{} incidents over the capture, by first packet (colour: severity; dark red critical, red high, orange medium, olive low)",
        group(u(&s["alerts_total"]))
    );
    figure(h, "alerts", &caption, svg::timeline(&spans, start, end, "alert timeline"));
    for a in sorted {
        let id = u(&a["id"]);
        let sev = a["severity"].as_str().unwrap_or("low");
        let _ = write!(
            h,
            "<div class=\"alert {}\" id=\"alert-{id}\"><b>#{id} {} · {}</b> <span class=\"muted\">({}) {} → {}</span><br>{}",
            esc(sev),
            esc(a["kind"].as_str().unwrap_or("?")),
            esc(sev),
            esc(a["state"].as_str().unwrap_or("")),
            esc(&when(&a["first_ts"])),
            esc(&when(&a["last_ts"])),
            esc(a["summary"].as_str().unwrap_or(""))
        );
        let lines = crate::detect::evidence::lines(&a["evidence"]);
        let lines: Vec<String> = lines.iter().filter(|l| !l.starts_with("pcap:")).map(|l| esc(l)).collect();
        if !lines.is_empty() {
            let _ = write!(h, "<p class=\"ev\">{}</p>", lines.join(" · "));
        }
        if let Some(p) = a["evidence"]["pcap"].as_str() {
            let _ = write!(h, "<a href=\"{}\">packets of this incident (pcap)</a>", esc(&pcap_link(p, dir)));
        }
        h.push_str("</div>\n");
    }
}

fn behaviour(h: &mut String, d: &ReportData) {
    h.push_str("<h2 id=\"outliers\">Outlier model</h2>\n");
    let Some(b) = &d.behaviour else {
        h.push_str("<p class=\"muted\">The outlier detector did not run.</p>\n");
        return;
    };
    let st = &b.status;
    let _ = writeln!(
        h,
        "<p>State <b>{}</b>; learned from {}; trained on {} host windows; {} behaviour clusters; score threshold {:.3}; {} trainings.</p>",
        esc(st["state"].as_str().unwrap_or("?")),
        esc(st["learned_from"].as_str().filter(|s| !s.is_empty()).unwrap_or("nothing yet")),
        group(u(&st["trained_on"])),
        u(&st["clusters"]),
        num(&st["threshold"]),
        u(&st["trainings"])
    );
    let label_all = b.points.len() <= 40;
    let dots: Vec<Dot> = b
        .points
        .iter()
        .map(|p| Dot {
            x: p.x,
            y: p.y,
            colour: CLUSTER_COLOURS[usize::from(p.cluster) % CLUSTER_COLOURS.len()],
            label: (label_all || p.outlier).then(|| p.ip.to_string()),
            title: format!(
                "{}: cluster {}, score {:.3}{}",
                p.ip,
                p.cluster,
                p.score,
                if p.outlier { ", outlier" } else { "" }
            ),
            ring: p.outlier,
        })
        .collect();
    figure(
        h,
        "behaviour",
        &format!(
            "Hosts by behaviour: their latest scaled figures on the two main axes ({:.0}% of the variance), coloured by K-means cluster; outliers ringed in red",
            100.0 * b.explained
        ),
        svg::scatter(&dots, "host behaviour"),
    );
    let outliers: Vec<&Value> = d.summary["alerts"]
        .as_array()
        .map(|a| a.iter().filter(|x| x["kind"] == "outlier").collect())
        .unwrap_or_default();
    if !outliers.is_empty() {
        h.push_str("<table><tr><th>host</th><th>score</th><th>why</th></tr>");
        for a in outliers {
            let why: Vec<String> = a["evidence"]["unusual"]
                .as_array()
                .map(|u| u.iter().filter_map(|x| x["text"].as_str()).map(esc).collect())
                .unwrap_or_default();
            let _ = write!(
                h,
                "<tr><td><a href=\"#alert-{}\">{}</a></td><td class=\"n\">{:.3}</td><td>{}</td></tr>",
                u(&a["id"]),
                esc(a["src"].as_str().unwrap_or("?")),
                num(&a["evidence"]["max_score"]),
                why.join("; ")
            );
        }
        h.push_str("</table>\n");
    }
}

fn flows(h: &mut String, d: &ReportData) {
    h.push_str("<h2 id=\"flows\">Top flows</h2>\n<table><tr><th>proto</th><th>a</th><th>b</th><th>packets</th><th>bytes</th><th>first</th><th>last</th></tr>");
    for f in &d.flows {
        let ep = |ip: &std::net::IpAddr, port: u16| if port == 0 { ip.to_string() } else { format!("{ip}:{port}") };
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td></tr>",
            esc(&f.proto),
            ep(&f.a, f.a_port),
            ep(&f.b, f.b_port),
            group(f.packets),
            human_bytes(f.bytes as f64),
            utc(f.first_ts),
            utc(f.last_ts)
        );
    }
    h.push_str("</table>\n");
}
