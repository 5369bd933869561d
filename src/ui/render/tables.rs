//! The tables: top talkers, flows, and one host's peers, ports and flows.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::{Cell, Paragraph, Row, Table};

use super::{pane_block, table_rows};
use crate::decode::Proto;
use crate::export::report::{group, human_bytes};
use crate::stats::Counter;
use crate::ui::names::Names;
use crate::ui::state::{Pane, UiState};
use crate::ui::theme::Theme;
use crate::view::{FlowRow, View};

fn amount(c: Counter, bytes: bool) -> String {
    if bytes { human_bytes(c.bytes as f64) } else { group(c.packets) }
}

fn selected_style(pane: Pane, row: usize, ui: &UiState, theme: &Theme) -> ratatui::style::Style {
    if ui.focus == pane && ui.selection(pane) == row { theme.selected() } else { Default::default() }
}

/// Top talkers: host, sent, received, total.
pub fn render_talkers(f: &mut Frame, area: Rect, view: &View, ui: &UiState, theme: &Theme, names: &Names) {
    let bytes = view.spec.bytes;
    let rows = view.talkers.iter().take(table_rows(area)).enumerate().map(|(i, t)| {
        let total = t.tx + t.rx;
        Row::new([
            Cell::from(names.host(t.ip)),
            Cell::from(t.cluster.map_or_else(|| "·".to_string(), |c| c.to_string())),
            Cell::from(amount(t.tx, bytes)),
            Cell::from(amount(t.rx, bytes)),
            Cell::from(amount(total, bytes)),
        ])
        .style(selected_style(Pane::Talkers, i, ui, theme))
    });
    let sort = view.spec.sort.label();
    let head =
        ["host", "cl", "sent", "received", "total"].map(|h| if h == sort { format!("{h}▼") } else { h.to_string() });
    let title =
        format!(" Top talkers ({} of {}) ", view.talkers.len().min(table_rows(area)), group(view.talkers_total as u64));
    let table = Table::new(
        rows,
        [
            Constraint::Min(15),
            Constraint::Length(2),
            Constraint::Length(10),
            Constraint::Length(10),
            Constraint::Length(10),
        ],
    )
    .header(Row::new(head).style(theme.title()))
    .block(pane_block(title, ui.focus == Pane::Talkers, theme));
    f.render_widget(table, area);
}

fn flow_rows<'a>(
    flows: &'a [FlowRow],
    limit: usize,
    bytes: bool,
    pane: Option<Pane>,
    ui: &'a UiState,
    theme: &'a Theme,
    names: &'a Names,
) -> impl Iterator<Item = Row<'a>> + 'a {
    flows.iter().take(limit).enumerate().map(move |(i, r)| {
        let class = Proto::from_ip_number(r.key.proto);
        let name = if class == Proto::Other { format!("ip/{}", r.key.proto) } else { class.name().to_string() };
        let total = r.stats.a_to_b + r.stats.b_to_a;
        let state = if r.key.proto == 6 { r.stats.tcp.state() } else { "" };
        let style = pane.map_or(Default::default(), |p| selected_style(p, i, ui, theme));
        Row::new([
            Cell::from(name).style(theme.proto(class)),
            Cell::from(format!(
                "{} ⇄ {}",
                names.endpoint(r.key.a.0, r.key.proto, r.key.a.1),
                names.endpoint(r.key.b.0, r.key.proto, r.key.b.1)
            )),
            Cell::from(amount(total, bytes)),
            Cell::from(state),
        ])
        .style(style)
    })
}

const FLOW_WIDTHS: [Constraint; 4] =
    [Constraint::Length(7), Constraint::Min(20), Constraint::Length(10), Constraint::Length(12)];

/// Flows: protocol, endpoints, amount, TCP state.
pub fn render_flows(f: &mut Frame, area: Rect, view: &View, ui: &UiState, theme: &Theme, names: &Names) {
    let unit = if view.spec.bytes { "bytes" } else { "packets" };
    let rows = flow_rows(&view.flows, table_rows(area), view.spec.bytes, Some(Pane::Flows), ui, theme, names);
    let title = format!(" Flows ({} of {}) ", view.flows.len().min(table_rows(area)), group(view.flows_total as u64));
    let table = Table::new(rows, FLOW_WIDTHS)
        .header(Row::new(["proto", "endpoints", unit, "state"]).style(theme.title()))
        .block(pane_block(title, ui.focus == Pane::Flows, theme));
    f.render_widget(table, area);
}

/// One host: peers and ports side by side, its flows below.
pub fn render_host(f: &mut Frame, area: Rect, view: &View, ui: &UiState, theme: &Theme, names: &Names) {
    let Some(h) = &view.host else {
        f.render_widget(Paragraph::new("host not tracked").block(pane_block(" Host ".into(), false, theme)), area);
        return;
    };
    let bytes = view.spec.bytes;
    let [top, bottom] = Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area);
    let [peers_area, ports_area] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(top);
    let (tx, rx) = h.stats.map_or((Counter::default(), Counter::default()), |s| (s.tx(), s.rx()));
    let cluster = h.cluster.map(|c| format!(" cluster {c}")).unwrap_or_default();
    let title = format!(" {} — sent {} received {}{cluster} (Esc closes) ", h.ip, amount(tx, bytes), amount(rx, bytes));
    let peers =
        h.peers.iter().take(table_rows(peers_area)).map(|(ip, c)| Row::new([ip.to_string(), amount(*c, bytes)]));
    let peers = Table::new(peers, [Constraint::Min(15), Constraint::Length(10)])
        .header(Row::new(["peer", "traffic"]).style(theme.title()))
        .block(pane_block(title, true, theme));
    f.render_widget(peers, peers_area);
    let ports = h.ports.iter().take(table_rows(ports_area)).map(|(proto, port, c)| {
        let class = Proto::from_ip_number(*proto);
        Row::new([
            Cell::from(format!("{port}/{}", class.name())).style(theme.proto(class)),
            Cell::from(amount(*c, bytes)),
        ])
    });
    let ports = Table::new(ports, [Constraint::Min(10), Constraint::Length(10)])
        .header(Row::new(["port", "traffic"]).style(theme.title()))
        .block(pane_block(" Ports ".into(), false, theme));
    f.render_widget(ports, ports_area);
    let flows = Table::new(flow_rows(&h.flows, table_rows(bottom), bytes, None, ui, theme, names), FLOW_WIDTHS)
        .header(Row::new(["proto", "endpoints", if bytes { "bytes" } else { "packets" }, "state"]).style(theme.title()))
        .block(pane_block(format!(" Flows of {} ", names.host(h.ip)), false, theme));
    f.render_widget(flows, bottom);
}
