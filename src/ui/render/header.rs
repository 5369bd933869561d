//! The header: what is being watched and how it is going.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::sanitize;
use crate::capture::NANOS_PER_SEC;
use crate::decode::Proto;
use crate::export::report::{group, human_bits, human_bytes};
use crate::ui::state::UiState;
use crate::ui::theme::Theme;
use crate::view::View;

/// Two lines: source and state; rates, totals and drops.
pub fn render(f: &mut Frame, area: Rect, view: &View, ui: &UiState, theme: &Theme) {
    let ctx = &view.context;
    let mut first = vec![Span::styled(" ntop-rs ", theme.title()), Span::raw(sanitize(&ctx.source))];
    match ui.speed {
        None => first.push(Span::raw("  live")),
        Some(s) if s.is_infinite() => first.push(Span::raw("  replay max")),
        Some(s) => first.push(Span::raw(format!("  replay {s}×"))),
    }
    if ctx.finished {
        first.push(Span::raw("  (end of file)"));
    }
    if ui.paused {
        first.push(Span::styled("  PAUSED", theme.warn()));
    }
    if !view.spec.mask.is_all() {
        // Name whichever list is shorter: the hidden classes or the shown ones.
        let shown: Vec<&str> = view.spec.mask.iter().map(Proto::name).collect();
        let hidden: Vec<&str> = Proto::ALL.iter().filter(|p| !view.spec.mask.contains(**p)).map(|p| p.name()).collect();
        let text = match (shown.len(), hidden.len() <= shown.len()) {
            (0, _) => "showing: none".to_string(),
            (_, true) => format!("hidden: {}", hidden.join("+")),
            (_, false) => format!("showing: {}", shown.join("+")),
        };
        first.push(Span::styled(format!("  {text}"), theme.warn()));
    }
    if let Some(filter) = view.spec.filter {
        first.push(Span::styled(format!("  filter: {filter}"), theme.warn()));
    }

    let elapsed = view.span.map_or(0, |(lo, hi)| (hi - lo) / NANOS_PER_SEC);
    let (pps, bps) = view.rate;
    // Where a replay is: the latest packet's time of day (UTC).
    let at = match (ui.speed, view.span) {
        (Some(_), Some((_, last))) => {
            format!(" at {}", &crate::export::report::utc(crate::units::epoch_secs(last))[11..19])
        }
        _ => String::new(),
    };
    let mut second = vec![Span::raw(format!(
        " {:02}:{:02}:{:02}{at}  {} pkt/s  {}  total {} pkts {}",
        elapsed / 3600,
        elapsed / 60 % 60,
        elapsed % 60,
        group(pps.round() as u64),
        human_bits(bps),
        group(view.shown.packets),
        human_bytes(view.shown.bytes as f64),
    ))];
    if let Some(c) = &ctx.capture {
        let ring: u64 = c.dropped_ring.values().sum();
        let drops = format!(
            "  drops {}/{}/{} (kernel/if/ring)",
            group(c.dropped_kernel),
            group(c.dropped_interface),
            group(ring)
        );
        let style = if c.dropped_kernel + c.dropped_interface + ring > 0 { theme.warn() } else { theme.dim() };
        second.push(Span::styled(drops, style));
    }
    if view.malformed > 0 {
        second.push(Span::styled(format!("  malformed {}", group(view.malformed)), theme.dim()));
    }
    if let Some(status) = &ctx.status {
        second.push(Span::styled(format!("  {}", sanitize(status)), theme.warn()));
    }
    f.render_widget(Paragraph::new(vec![Line::from(first), Line::from(second)]), area);
}
