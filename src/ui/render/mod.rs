//! Drawing: one small function per screen region, each given the area and the view.
//!
//! ```text
//! ┌ header: source · filter · elapsed · rates · totals · drops · state ────────────┐
//! ├ protocols (share bars) ─────┬ time series (per protocol, zoomable) ───────────┤
//! ├ top talkers ────────────────┴──────┬ flows ───────────────────────────────────┤  (≥ 120 columns)
//! │                                    │                                          │
//! ├ alerts ────────────────────────────┴──────────────────────────────────────────┤
//! └ footer: key hints from the binding table, the filter prompt, or a message ────┘
//! ```
//! Below 120 columns the flows go under the talkers, and on short screens only the
//! focused one of the two is shown (Tab switches). Enter on a host swaps talkers and
//! flows for the host's peers, ports and flows; Enter on an alert lays its evidence
//! over everything, as `?` does the help.

mod alerts;
mod header;
mod overlay;
mod protocols;
mod series;
mod tables;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::{Block, BorderType, Borders};

use super::names::Names;
use super::state::{Mode, Pane, UiState};
use super::theme::Theme;
use crate::view::View;

/// Draws one frame.
pub fn draw(f: &mut Frame, view: &View, ui: &UiState, theme: &Theme, names: &Names) {
    let area = f.area();
    let tall = area.height >= 40;
    // The alert pane shows at least three alerts; focused on a short screen, it takes
    // room from the charts.
    let alerts_focused = ui.focus == Pane::Alerts;
    let (charts, alert_rows) = match (tall, alerts_focused) {
        (true, _) => (12, 8),
        (false, true) => (6, 8),
        (false, false) => (8, 5),
    };
    let [head, top, middle, bottom, foot] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(charts),
        Constraint::Min(5),
        Constraint::Length(alert_rows),
        Constraint::Length(1),
    ])
    .areas(area);
    header::render(f, head, view, ui, theme);
    let left_share = if area.width >= 120 { 35 } else { 45 };
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(left_share), Constraint::Percentage(100 - left_share)]).areas(top);
    protocols::render(f, left, view, theme);
    series::render(f, right, view, theme);
    if ui.mode == Mode::Host {
        tables::render_host(f, middle, view, ui, theme, names);
    } else if middle.width >= 120 {
        let [l, r] = Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(middle);
        tables::render_talkers(f, l, view, ui, theme, names);
        tables::render_flows(f, r, view, ui, theme, names);
    } else if middle.height >= 14 {
        let [t, b] = Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(middle);
        tables::render_talkers(f, t, view, ui, theme, names);
        tables::render_flows(f, b, view, ui, theme, names);
    } else if ui.focus == Pane::Flows {
        // Too short for both: the focused table gets the room (Tab switches).
        tables::render_flows(f, middle, view, ui, theme, names);
    } else {
        tables::render_talkers(f, middle, view, ui, theme, names);
    }
    alerts::render(f, bottom, view, ui, theme);
    overlay::render_footer(f, foot, ui, theme);
    if ui.mode == Mode::Help {
        overlay::render_help(f, area, theme);
    }
    if let Mode::Evidence(id) = ui.mode
        && let Some(alert) = view.context.alerts.iter().find(|a| a.id == id)
    {
        overlay::render_evidence(f, area, alert, theme);
    }
}

/// A pane's frame: the focused one drawn thick (and coloured), so that the focus shows
/// without colour too (NO_COLOR).
fn pane_block<'a>(title: String, focused: bool, theme: &Theme) -> Block<'a> {
    let block = Block::new().borders(Borders::ALL).title(title).title_style(theme.title());
    if focused {
        block.border_type(BorderType::Thick).border_style(theme.focus())
    } else {
        block.border_type(BorderType::Plain)
    }
}

pub use super::names::sanitize;

/// Rows that fit in `area` inside a bordered block with a header row.
fn table_rows(area: Rect) -> usize {
    usize::from(area.height.saturating_sub(3))
}

#[cfg(test)]
mod tests;
