//! The protocol chart: each class's share of the traffic as a bar.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::pane_block;
use crate::decode::Proto;
use crate::export::report::{group, human_bytes};
use crate::ui::theme::Theme;
use crate::view::View;

/// One line per class: name, bar, share, amount. Hidden classes are dimmed.
pub fn render(f: &mut Frame, area: Rect, view: &View, theme: &Theme) {
    let bytes = view.spec.bytes;
    let unit = if bytes { "bytes" } else { "packets" };
    let amount = |p: Proto| {
        let c = view.protocols[p.index()];
        if bytes { c.bytes } else { c.packets }
    };
    let total: u64 = Proto::ALL.iter().map(|p| amount(*p)).sum();
    let inner_width = usize::from(area.width.saturating_sub(2));
    // "1 name  " (8), " share%" (7), " amount" (10): the bar gets the rest; on a narrow
    // pane the amount goes first.
    let with_amount = inner_width >= 38;
    let bar_width = inner_width.saturating_sub(if with_amount { 27 } else { 17 }).max(1);
    let lines: Vec<Line> = Proto::ALL
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let a = amount(*p);
            let share = if total == 0 { 0.0 } else { a as f64 / total as f64 };
            let filled = (share * bar_width as f64).round() as usize;
            let on = view.spec.mask.contains(*p);
            let style = if on { theme.proto(*p) } else { theme.dim() };
            let text = if bytes { human_bytes(a as f64) } else { group(a) };
            let figures = if with_amount {
                format!(" {:>5.1}% {:>9}", share * 100.0, text)
            } else {
                format!(" {:>5.1}%", share * 100.0)
            };
            Line::from(vec![
                Span::styled(format!("{} {:<7}", i + 1, p.name()), style),
                Span::styled(format!("{}{}", "█".repeat(filled), "·".repeat(bar_width - filled.min(bar_width))), style),
                Span::styled(figures, if on { Default::default() } else { theme.dim() }),
            ])
        })
        .collect();
    let block = pane_block(format!(" Protocols ({unit}) "), false, theme);
    f.render_widget(Paragraph::new(lines).block(block), area);
}
