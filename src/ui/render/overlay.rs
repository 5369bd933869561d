//! The footer (key hints, the filter prompt, messages) and the help overlay, both
//! generated from the binding table.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Row, Table};

use super::{pane_block, sanitize};
use crate::detect::Alert;
use crate::export::report::utc;
use crate::export::summary::epoch_secs;
use crate::ui::keys::{BINDINGS, footer_hints};
use crate::ui::state::{Mode, UiState};
use crate::ui::theme::Theme;

/// The bottom line.
pub fn render_footer(f: &mut Frame, area: Rect, ui: &UiState, theme: &Theme) {
    let line = if let Mode::FilterInput(text) = &ui.mode {
        Line::from(vec![
            Span::styled(" filter (address, CIDR or port; empty clears): ", theme.title()),
            Span::raw(format!("{text}▏")),
            Span::styled("  Enter apply · Esc cancel", theme.dim()),
        ])
    } else if let Some(msg) = &ui.message {
        Line::styled(format!(" {msg}"), theme.warn())
    } else {
        let mut spans = Vec::new();
        for (key, word) in footer_hints() {
            spans.push(Span::styled(format!(" {key}"), theme.title()));
            spans.push(Span::styled(format!(" {word} "), theme.dim()));
        }
        Line::from(spans)
    };
    f.render_widget(Paragraph::new(line), area);
}

/// Every binding with its keys, centred over the screen.
pub fn render_help(f: &mut Frame, area: Rect, theme: &Theme) {
    let pop = centered(area, 72, BINDINGS.len() as u16 + 4);
    let rows = BINDINGS.iter().map(|b| Row::new([Span::styled(b.keys, theme.title()), Span::raw(b.help)]));
    let table = Table::new(rows, [Constraint::Length(12), Constraint::Min(20)]).block(pane_block(
        " Keys (any key closes) ".into(),
        true,
        theme,
    ));
    f.render_widget(Clear, pop);
    f.render_widget(table, pop);
}

/// An alert's evidence: what it is, when, who, and every figure behind it.
pub fn render_evidence(f: &mut Frame, area: Rect, alert: &Alert, theme: &Theme) {
    let ip = |ip: Option<std::net::IpAddr>| ip.map_or("-".to_string(), |i| i.to_string());
    let rows = vec![
        ("what", format!("{} ({:?}, {:?})", alert.kind, alert.severity, alert.state).to_lowercase()),
        ("from", utc(epoch_secs(alert.first_ts))),
        ("to", utc(epoch_secs(alert.last_ts))),
        ("source", ip(alert.src)),
        ("target", ip(alert.dst)),
        ("protocol", alert.proto.to_string() + &alert.port.map(|p| format!(" port {p}")).unwrap_or_default()),
        ("packets", alert.packets.to_string()),
    ];
    // The evidence as text: `name value` figures, described figures as their words.
    let evidence = crate::detect::evidence::lines(&serde_json::Value::Object(alert.evidence.to_map()));
    let figures: Vec<(String, String)> = evidence
        .into_iter()
        .map(|l| match l.split_once(": ") {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => ("why".to_string(), l),
        })
        .collect();
    let pop = centered(area, 100, (rows.len() + figures.len()) as u16 + 5);
    let mut lines = vec![Line::styled(format!(" {}", sanitize(&alert.summary)), theme.severity(alert.severity))];
    lines.push(Line::raw(""));
    let all = rows.into_iter().map(|(k, v)| (k.to_string(), v)).chain(figures);
    for (key, value) in all {
        lines.push(Line::from(vec![Span::styled(format!(" {key:<24}"), theme.title()), Span::raw(sanitize(&value))]));
    }
    let title = format!(" Alert {} — d writes its pcap · Esc closes ", alert.id);
    f.render_widget(Clear, pop);
    f.render_widget(Paragraph::new(lines).block(pane_block(title, true, theme)), pop);
}

/// A `width` × `height` box in the middle of `area` (clipped to it), for overlays.
fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let [_, mid, _] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(height.min(area.height)), Constraint::Fill(1)])
            .areas(area);
    let [_, pop, _] =
        Layout::horizontal([Constraint::Fill(1), Constraint::Length(width.min(area.width)), Constraint::Fill(1)])
            .areas(mid);
    pop
}
