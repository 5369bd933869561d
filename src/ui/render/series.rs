//! The time series: one line per shown protocol class over the zoom span.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::symbols::Marker;
use ratatui::text::Span;
use ratatui::widgets::{Axis, Chart, Dataset, GraphType};

use super::pane_block;
use crate::capture::NANOS_PER_SEC;
use crate::export::report::{group, human_bits};
use crate::ui::theme::Theme;
use crate::view::View;

/// A chart of rate per bucket for each protocol class in the mask.
pub fn render(f: &mut Frame, area: Rect, view: &View, theme: &Theme) {
    let (width, _, buckets) = &view.series;
    let secs = (*width as f64 / NANOS_PER_SEC as f64).max(1e-9);
    let bytes = view.spec.bytes;
    let rate = |c: &crate::stats::Counter| if bytes { c.bytes as f64 * 8.0 / secs } else { c.packets as f64 / secs };
    let points: Vec<(crate::decode::Proto, Vec<(f64, f64)>)> = view
        .spec
        .mask
        .iter()
        .map(|p| (p, buckets.iter().enumerate().map(|(i, b)| (i as f64, rate(&b[p.index()]))).collect()))
        .collect();
    let peak = points.iter().flat_map(|(_, v)| v.iter().map(|(_, y)| *y)).fold(0.0f64, f64::max);
    let datasets: Vec<Dataset> = points
        .iter()
        .map(|(p, data)| {
            Dataset::default()
                .name(p.name())
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(theme.proto(*p))
                .data(data)
        })
        .collect();
    let top = if bytes { human_bits(peak) } else { format!("{} pkt/s", group(peak.round() as u64)) };
    let n = buckets.len().max(1) as f64;
    let title = format!(" Rate, last {} (z) ", view.spec.zoom.label());
    let chart = Chart::new(datasets)
        .block(pane_block(title, false, theme))
        .x_axis(Axis::default().bounds([0.0, (n - 1.0).max(1.0)]))
        .y_axis(Axis::default().bounds([0.0, peak.max(1.0)]).labels([Span::raw("0"), Span::raw(top)]))
        .legend_position(Some(ratatui::widgets::LegendPosition::TopLeft))
        .hidden_legend_constraints((
            ratatui::layout::Constraint::Percentage(60),
            ratatui::layout::Constraint::Percentage(60),
        ));
    f.render_widget(chart, area);
}
