//! Inline SVG charts written by hand: bars, stacked areas, a line, a heat matrix, a
//! timeline of spans and a scatter plot. Each returns one `<svg>` element with a
//! `viewBox`, so it scales with the page, and `<title>`s for hover text (no script).

use std::fmt::Write;

/// Chart width in SVG units.
pub const W: f64 = 900.0;
/// Left margin (axis labels).
const LEFT: f64 = 70.0;
/// Right margin.
const RIGHT: f64 = 20.0;

/// Escapes text for HTML and SVG (element text and quoted attributes).
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

fn open(height: f64, label: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {height}\" width=\"100%\" role=\"img\" aria-label=\"{}\">",
        esc(label)
    )
}

/// About `n` round tick values from 0 to at least `max`.
fn ticks(max: f64, n: usize) -> Vec<f64> {
    if max.is_nan() || max <= 0.0 || !max.is_finite() {
        return vec![0.0, 1.0];
    }
    let raw = max / n as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= raw).unwrap_or(10.0 * mag);
    let top = (max / step).ceil() as usize;
    (0..=top.max(1)).map(|i| i as f64 * step).collect()
}

/// A horizontal bar: a label, its coloured parts (value, colour, name), and a note.
pub struct Bar {
    /// Text left of the bar.
    pub label: String,
    /// Stacked parts.
    pub parts: Vec<(f64, &'static str, &'static str)>,
    /// Text right of the bar.
    pub note: String,
}

/// Horizontal stacked bars, one row each.
pub fn hbars(bars: &[Bar], label: &str) -> String {
    let (row, left, right) = (24.0, 150.0, 300.0);
    let height = 10.0 + row * bars.len().max(1) as f64;
    let max = bars.iter().map(|b| b.parts.iter().map(|p| p.0).sum::<f64>()).fold(0.0, f64::max);
    let scale = if max > 0.0 { (W - left - right) / max } else { 0.0 };
    let mut s = open(height, label);
    for (i, b) in bars.iter().enumerate() {
        let y = 5.0 + i as f64 * row;
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" class=\"lbl\">{}</text>",
            left - 8.0,
            y + 15.0,
            esc(&b.label)
        );
        let mut x = left;
        for &(v, colour, name) in &b.parts {
            let w = (v * scale).max(if v > 0.0 { 1.0 } else { 0.0 });
            let _ = write!(
                s,
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{:.1}\" fill=\"{colour}\"><title>{}: {}</title></rect>",
                y + 2.0,
                row - 6.0,
                esc(&b.label),
                esc(name)
            );
            x += w;
        }
        let _ = write!(s, "<text x=\"{:.1}\" y=\"{:.1}\" class=\"lbl\">{}</text>", x + 6.0, y + 15.0, esc(&b.note));
    }
    if bars.is_empty() {
        s.push_str("<text x=\"10\" y=\"22\" class=\"lbl\">nothing to show</text>");
    }
    s.push_str("</svg>");
    s
}

/// A y axis with gridlines from 0 to `max` over `[top, bottom]`, labelled by `unit`.
fn y_axis(s: &mut String, max: f64, top: f64, bottom: f64, unit: &dyn Fn(f64) -> String) -> f64 {
    let t = ticks(max, 4);
    let hi = *t.last().unwrap_or(&1.0);
    for v in &t {
        let y = bottom - (v / hi) * (bottom - top);
        let _ = write!(
            s,
            "<line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" class=\"grid\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" class=\"tick\">{}</text>",
            W - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            esc(&unit(*v))
        );
    }
    hi
}

/// Time labels under `[LEFT, W - RIGHT]` for `n` buckets from `start`.
fn x_axis(s: &mut String, start: f64, bucket: f64, n: usize, bottom: f64) {
    let span = bucket * n as f64;
    for i in 0..=4 {
        let f = i as f64 / 4.0;
        let x = LEFT + f * (W - LEFT - RIGHT);
        let label = clock(start + f * span, span);
        let anchor = match i {
            0 => "start",
            4 => "end",
            _ => "middle",
        };
        let _ = write!(
            s,
            "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\" class=\"tick\">{label}</text>",
            bottom + 16.0
        );
    }
}

/// `HH:MM:SS` (UTC) of an epoch second; with the date when the span is over a day.
pub fn clock(epoch: f64, span: f64) -> String {
    let secs = epoch.floor() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let hms = format!("{:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60);
    if span > 86_400.0 {
        let (y, m, d) = crate::units::civil_from_days(days);
        format!("{y:04}-{m:02}-{d:02} {hms}")
    } else {
        hms
    }
}

/// One named, coloured series of per-bucket values.
pub struct Series<'a> {
    /// Legend name.
    pub name: &'a str,
    /// Fill colour.
    pub colour: &'a str,
    /// One value per bucket.
    pub values: Vec<f64>,
}

/// Series stacked on each other over time (buckets of `bucket` seconds from `start`).
pub fn stacked(series: &[Series<'_>], start: f64, bucket: f64, label: &str, unit: &dyn Fn(f64) -> String) -> String {
    let (top, bottom, height) = (10.0, 230.0, 270.0);
    let n = series.first().map_or(0, |s| s.values.len());
    let mut s = open(height, label);
    let sums: Vec<f64> = (0..n).map(|i| series.iter().map(|x| x.values[i]).sum()).collect();
    let hi = y_axis(&mut s, sums.iter().copied().fold(0.0, f64::max), top, bottom, unit);
    let x = |i: f64| LEFT + if n > 1 { i / (n - 1) as f64 } else { 0.5 } * (W - LEFT - RIGHT);
    let y = |v: f64| bottom - v / hi * (bottom - top);
    let mut base = vec![0.0; n];
    for ser in series {
        if ser.values.iter().all(|v| *v == 0.0) {
            continue;
        }
        let upper: Vec<f64> = base.iter().zip(&ser.values).map(|(b, v)| b + v).collect();
        let mut d = String::new();
        for (i, u) in upper.iter().enumerate() {
            let _ = write!(d, "{}{:.1},{:.1} ", if i == 0 { "M" } else { "L" }, x(i as f64), y(*u));
        }
        for (i, b) in base.iter().enumerate().rev() {
            let _ = write!(d, "L{:.1},{:.1} ", x(i as f64), y(*b));
        }
        let total: f64 = ser.values.iter().sum();
        let _ = write!(
            s,
            "<path d=\"{}Z\" fill=\"{}\" fill-opacity=\"0.85\" stroke=\"{}\" stroke-width=\"0.5\"><title>{}: {} in all</title></path>",
            d.trim_end(),
            ser.colour,
            ser.colour,
            esc(ser.name),
            esc(&unit(total))
        );
        base = upper;
    }
    x_axis(&mut s, start, bucket, n, bottom);
    legend(
        &mut s,
        series.iter().filter(|x| x.values.iter().any(|v| *v > 0.0)).map(|x| (x.name, x.colour)),
        height - 6.0,
    );
    s.push_str("</svg>");
    s
}

fn legend<'a>(s: &mut String, items: impl Iterator<Item = (&'a str, &'a str)>, y: f64) {
    let mut x = LEFT;
    for (name, colour) in items {
        let _ = write!(
            s,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"10\" height=\"10\" fill=\"{colour}\"/><text x=\"{:.1}\" y=\"{y:.1}\" class=\"tick\">{}</text>",
            y - 9.0,
            x + 14.0,
            esc(name)
        );
        x += 24.0 + 7.5 * name.len() as f64;
    }
}

/// One line over time, with its peak marked.
pub fn line(
    values: &[f64],
    start: f64,
    bucket: f64,
    colour: &str,
    label: &str,
    unit: &dyn Fn(f64) -> String,
) -> String {
    let (top, bottom, height) = (10.0, 200.0, 225.0);
    let n = values.len();
    let mut s = open(height, label);
    let hi = y_axis(&mut s, values.iter().copied().fold(0.0, f64::max), top, bottom, unit);
    let x = |i: usize| LEFT + if n > 1 { i as f64 / (n - 1) as f64 } else { 0.5 } * (W - LEFT - RIGHT);
    let y = |v: f64| bottom - v / hi * (bottom - top);
    let mut d = String::new();
    for (i, v) in values.iter().enumerate() {
        let _ = write!(d, "{}{:.1},{:.1} ", if i == 0 { "M" } else { "L" }, x(i), y(*v));
    }
    if n > 0 {
        let _ = write!(s, "<path d=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"/>", d.trim_end());
        let (peak_i, peak) = values.iter().enumerate().fold((0, 0.0), |a, (i, v)| if *v > a.1 { (i, *v) } else { a });
        let _ = write!(
            s,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"{colour}\"><title>peak {}</title></circle>",
            x(peak_i),
            y(peak),
            esc(&unit(peak))
        );
    }
    x_axis(&mut s, start, bucket, n, bottom);
    s.push_str("</svg>");
    s
}

/// Vertical bars with a label under each.
pub fn vbars(bars: &[(String, f64)], colour: &str, label: &str, unit: &dyn Fn(f64) -> String) -> String {
    let (top, bottom, height) = (10.0, 200.0, 225.0);
    let mut s = open(height, label);
    let hi = y_axis(&mut s, bars.iter().map(|b| b.1).fold(0.0, f64::max), top, bottom, unit);
    let slot = (W - LEFT - RIGHT) / bars.len().max(1) as f64;
    for (i, (name, v)) in bars.iter().enumerate() {
        let h = v / hi * (bottom - top);
        let x = LEFT + i as f64 * slot;
        let _ = write!(
            s,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{colour}\"><title>{}: {}</title></rect><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" class=\"tick\">{}</text>",
            x + slot * 0.1,
            bottom - h,
            slot * 0.8,
            h.max(if *v > 0.0 { 1.0 } else { 0.0 }),
            esc(name),
            esc(&unit(*v)),
            x + slot / 2.0,
            bottom + 16.0,
            esc(name)
        );
    }
    s.push_str("</svg>");
    s
}

/// A heat matrix: `cells[i][j]` from row `labels[i]` to column `labels[j]`.
pub fn matrix(labels: &[String], cells: &[Vec<u64>], label: &str, unit: &dyn Fn(f64) -> String) -> String {
    let n = labels.len();
    let (left, top) = (150.0, 120.0);
    let cell = if n == 0 { 0.0 } else { ((W - left - 20.0) / n as f64).min(60.0) };
    let height = top + cell * n as f64 + 10.0;
    let mut s = open(height.max(40.0), label);
    if n == 0 {
        s.push_str("<text x=\"10\" y=\"22\" class=\"lbl\">nothing to show</text></svg>");
        return s;
    }
    let max = cells.iter().flatten().copied().max().unwrap_or(0).max(1) as f64;
    for (i, l) in labels.iter().enumerate() {
        let y = top + i as f64 * cell;
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" class=\"tick\">{}</text>",
            left - 6.0,
            y + cell / 2.0 + 4.0,
            esc(l)
        );
        let x = left + i as f64 * cell + cell / 2.0;
        let _ = write!(
            s,
            "<text transform=\"translate({x:.1},{:.1}) rotate(-45)\" class=\"tick\">{}</text>",
            top - 6.0,
            esc(l)
        );
        for (j, v) in cells[i].iter().enumerate() {
            // Shade by the logarithm, so a busy pair does not wash out the rest.
            let f = if *v == 0 { 0.0 } else { ((*v as f64).ln() + 1.0) / (max.ln() + 1.0) };
            let fill = if *v == 0 {
                "#f4f4f4".to_string()
            } else {
                format!("rgb({},{},{})", heat(f, 239, 8), heat(f, 243, 48), heat(f, 255, 107))
            };
            let _ = write!(
                s,
                "<rect x=\"{:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{fill}\" stroke=\"#fff\"><title>{} to {}: {}</title></rect>",
                left + j as f64 * cell,
                cell,
                cell,
                esc(l),
                esc(&labels[j]),
                esc(&unit(*v as f64))
            );
        }
    }
    s.push_str("</svg>");
    s
}

fn heat(f: f64, from: u8, to: u8) -> u8 {
    (f64::from(from) + (f64::from(to) - f64::from(from)) * f.clamp(0.0, 1.0)).round() as u8
}

/// A span on the timeline.
pub struct Span {
    /// Lane label.
    pub label: String,
    /// Start and end, epoch seconds.
    pub from: f64,
    /// End.
    pub to: f64,
    /// Colour.
    pub colour: &'static str,
    /// Hover text.
    pub title: String,
    /// Link target (`#alert-N`).
    pub href: String,
}

/// Spans in lanes over `[start, end]` (epoch seconds).
pub fn timeline(spans: &[Span], start: f64, end: f64, label: &str) -> String {
    let (row, left) = (22.0, 250.0);
    let bottom = 10.0 + row * spans.len().max(1) as f64;
    let height = bottom + 26.0;
    let mut s = open(height, label);
    let span = (end - start).max(1e-6);
    let x = |t: f64| left + ((t - start) / span).clamp(0.0, 1.0) * (W - left - RIGHT);
    let _ = write!(
        s,
        "<rect x=\"{left}\" y=\"5\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#f7f7f7\"/>",
        W - left - RIGHT,
        bottom - 5.0
    );
    for (i, sp) in spans.iter().enumerate() {
        let y = 8.0 + i as f64 * row;
        let (x0, x1) = (x(sp.from), x(sp.to));
        let _ = write!(
            s,
            "<a href=\"{}\"><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" class=\"tick\">{}</text><rect x=\"{x0:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"3\" fill=\"{}\"><title>{}</title></rect></a>",
            esc(&sp.href),
            left - 6.0,
            y + 13.0,
            esc(&sp.label),
            (x1 - x0).max(4.0),
            row - 6.0,
            sp.colour,
            esc(&sp.title)
        );
    }
    if spans.is_empty() {
        let _ = write!(s, "<text x=\"{:.1}\" y=\"22\" class=\"lbl\">no alerts</text>", left + 10.0);
    }
    for i in 0..=4 {
        let f = i as f64 / 4.0;
        let anchor = ["start", "middle", "middle", "middle", "end"][i];
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\" class=\"tick\">{}</text>",
            left + f * (W - left - RIGHT),
            bottom + 16.0,
            clock(start + f * span, span)
        );
    }
    s.push_str("</svg>");
    s
}

/// A point of a scatter plot.
pub struct Dot {
    /// Position.
    pub x: f64,
    /// Position.
    pub y: f64,
    /// Fill colour.
    pub colour: &'static str,
    /// Text beside it, if labelled.
    pub label: Option<String>,
    /// Hover text.
    pub title: String,
    /// Drawn with a red ring (an outlier).
    pub ring: bool,
}

/// A scatter plot scaled to its points.
pub fn scatter(dots: &[Dot], label: &str) -> String {
    let (top, bottom, height) = (15.0, 345.0, 360.0);
    let mut s = open(height, label);
    let _ = write!(
        s,
        "<rect x=\"{LEFT}\" y=\"{top}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#fafafa\" stroke=\"#ddd\"/>",
        W - LEFT - RIGHT,
        bottom - top
    );
    if dots.is_empty() {
        let _ = write!(s, "<text x=\"{:.1}\" y=\"40\" class=\"lbl\">no hosts scored</text></svg>", LEFT + 10.0);
        return s;
    }
    let (lx, hx) = dots.iter().fold((f64::MAX, f64::MIN), |a, d| (a.0.min(d.x), a.1.max(d.x)));
    let (ly, hy) = dots.iter().fold((f64::MAX, f64::MIN), |a, d| (a.0.min(d.y), a.1.max(d.y)));
    let fit = |v: f64, lo: f64, hi: f64, a: f64, b: f64| {
        if hi - lo > 1e-9 { a + (v - lo) / (hi - lo) * (b - a) } else { (a + b) / 2.0 }
    };
    for d in dots {
        let (x, y) = (fit(d.x, lx, hx, LEFT + 20.0, W - RIGHT - 120.0), fit(d.y, ly, hy, bottom - 15.0, top + 15.0));
        if d.ring {
            let _ = write!(
                s,
                "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"10\" fill=\"none\" stroke=\"#d62728\" stroke-width=\"2\"/>"
            );
        }
        let _ = write!(
            s,
            "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"5\" fill=\"{}\" stroke=\"#333\" stroke-width=\"0.5\"><title>{}</title></circle>",
            d.colour,
            esc(&d.title)
        );
        if let Some(l) = &d.label {
            let _ = write!(s, "<text x=\"{:.1}\" y=\"{:.1}\" class=\"tick\">{}</text>", x + 8.0, y + 4.0, esc(l));
        }
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(esc("<a href=\"x\">&'</a>"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
        assert_eq!(esc("a\u{1b}[31m"), "a\u{fffd}[31m");
    }

    #[test]
    fn ticks_are_round_and_cover_the_maximum() {
        assert_eq!(ticks(95.0, 4), vec![0.0, 25.0, 50.0, 75.0, 100.0]);
        assert!(*ticks(1.3e9, 4).last().unwrap() >= 1.3e9);
        assert_eq!(ticks(0.0, 4), vec![0.0, 1.0]);
        assert_eq!(ticks(f64::NAN, 4), vec![0.0, 1.0]);
    }

    #[test]
    fn empty_charts_say_so() {
        assert!(hbars(&[], "x").contains("nothing to show"));
        assert!(timeline(&[], 0.0, 1.0, "x").contains("no alerts"));
        assert!(scatter(&[], "x").contains("no hosts scored"));
        assert!(matrix(&[], &[], "x", &|v| v.to_string()).contains("nothing to show"));
    }
}
