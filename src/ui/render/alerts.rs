//! The alert pane: newest first, coloured by severity.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{pane_block, sanitize};
use crate::export::report::utc;
use crate::export::summary::epoch_secs;
use crate::ui::state::{Pane, UiState};
use crate::ui::theme::Theme;
use crate::view::View;

/// One line per alert: time, severity, kind, summary.
pub fn render(f: &mut Frame, area: Rect, view: &View, ui: &UiState, theme: &Theme) {
    let alerts = &view.context.alerts;
    let model = match &view.context.outliers {
        Some(o) if o.state == "ready" => format!("· outlier model: {} clusters ", o.clusters),
        Some(o) => format!("· outlier model: {} ", o.state),
        None => String::new(),
    };
    let title = format!(" Alerts ({}) {model}", alerts.len());
    let block = pane_block(title, ui.focus == Pane::Alerts, theme);
    if alerts.is_empty() {
        f.render_widget(Paragraph::new(Line::styled(" no alerts", theme.dim())).block(block), area);
        return;
    }
    // A window of the list that keeps the selected alert in view.
    let rows = usize::from(area.height.saturating_sub(2)).max(1);
    let selected = if ui.focus == Pane::Alerts { ui.selection(Pane::Alerts) } else { 0 };
    let first = selected.saturating_sub(rows - 1).min(alerts.len().saturating_sub(rows));
    let lines: Vec<Line> = alerts
        .iter()
        .enumerate()
        .skip(first)
        .take(rows)
        .map(|(i, a)| {
            let time = utc(epoch_secs(a.last_ts));
            let style = if ui.focus == Pane::Alerts && ui.selection(Pane::Alerts) == i {
                theme.selected()
            } else {
                Default::default()
            };
            Line::from(vec![
                Span::raw(format!(" {} ", &time[11..19])),
                Span::styled(format!("{:<8}", format!("{:?}", a.severity).to_lowercase()), theme.severity(a.severity)),
                Span::raw(format!(" {:<10} {}", a.kind, sanitize(&a.summary))),
            ])
            .style(style)
        })
        .collect();
    f.render_widget(Paragraph::new(lines).block(block), area);
}
