//! UI state and the one place where actions change it.

use ratatui::crossterm::event::{KeyCode, KeyEvent};

use super::keys::Action;
use crate::decode::ProtoMask;
use crate::view::{DisplayFilter, View, ViewSpec};

/// Panes that take the focus (Tab cycles them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Pane {
    /// Top talkers.
    #[default]
    Talkers,
    /// Flows.
    Flows,
    /// Alerts.
    Alerts,
}

impl Pane {
    const ORDER: [Pane; 3] = [Pane::Talkers, Pane::Flows, Pane::Alerts];

    fn index(self) -> usize {
        Self::ORDER.iter().position(|p| *p == self).unwrap_or(0)
    }

    fn step(self, by: isize) -> Pane {
        let n = Self::ORDER.len() as isize;
        Self::ORDER[((self.index() as isize + by).rem_euclid(n)) as usize]
    }
}

/// What the screen is doing besides the dashboard.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// The dashboard.
    #[default]
    Normal,
    /// The help overlay.
    Help,
    /// Typing a display filter.
    FilterInput(String),
    /// A host's details.
    Host,
    /// The evidence of the alert with this id.
    Evidence(u64),
}

/// Replay speeds `+`/`-` step through (`f64::INFINITY` = as fast as possible).
pub const SPEEDS: [f64; 10] = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 64.0, 256.0, f64::INFINITY];

/// What applying an action asks the rest of the UI to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Nothing beyond a redraw.
    Redraw,
    /// Leave.
    Quit,
    /// The view spec changed: send it to the engine.
    Spec,
    /// Write the pcap of the alert with this id.
    DumpAlert(u64),
    /// Pause (true) or resume the replay.
    Pause(bool),
    /// New replay speed.
    Speed(f64),
    /// Write the visible window to a pcap file.
    Dump,
    /// Show or hide host and service names.
    Names,
}

/// Everything the UI remembers between frames.
#[derive(Clone, Debug)]
pub struct UiState {
    /// Focused pane.
    pub focus: Pane,
    /// Overlay or prompt.
    pub mode: Mode,
    /// What the engine should build.
    pub spec: ViewSpec,
    /// Display frozen.
    pub paused: bool,
    /// Selected row per pane.
    pub selected: [usize; 3],
    /// Replay speed, or `None` for live capture.
    pub speed: Option<f64>,
    /// One-line message for the status bar (filter errors and the like).
    pub message: Option<String>,
}

impl UiState {
    /// Initial state; `speed` is the replay speed (`None` when live).
    pub fn new(speed: Option<f64>) -> Self {
        UiState {
            focus: Pane::default(),
            mode: Mode::default(),
            spec: ViewSpec::default(),
            paused: false,
            selected: [0; 3],
            speed,
            message: None,
        }
    }

    /// The selected row of the focused pane.
    pub fn selection(&self, pane: Pane) -> usize {
        self.selected[pane.index()]
    }

    fn rows(&self, pane: Pane, view: &View) -> usize {
        match pane {
            Pane::Talkers => view.talkers.len(),
            Pane::Flows => view.flows.len(),
            Pane::Alerts => view.context.alerts.len(),
        }
    }

    /// Applies an action (from the key table) against the view on screen.
    pub fn apply(&mut self, action: Action, view: &View) -> Effect {
        if self.mode == Mode::Help && !matches!(action, Action::Quit) {
            self.mode = Mode::Normal;
            return Effect::Redraw;
        }
        self.message = None;
        match action {
            Action::Quit => Effect::Quit,
            Action::Pause => {
                self.paused = !self.paused;
                if self.speed.is_some() { Effect::Pause(self.paused) } else { Effect::Redraw }
            }
            Action::FocusNext => {
                self.focus = self.focus.step(1);
                Effect::Redraw
            }
            Action::FocusPrev => {
                self.focus = self.focus.step(-1);
                Effect::Redraw
            }
            Action::Up | Action::Down => {
                let i = self.focus.index();
                let rows = self.rows(self.focus, view);
                self.selected[i] = if action == Action::Up {
                    self.selected[i].saturating_sub(1)
                } else {
                    (self.selected[i] + 1).min(rows.saturating_sub(1))
                };
                Effect::Redraw
            }
            Action::Open if self.focus == Pane::Alerts => {
                if let Some(a) = view.context.alerts.get(self.selection(Pane::Alerts)) {
                    self.mode = Mode::Evidence(a.id);
                }
                Effect::Redraw
            }
            Action::DumpAlert => {
                // The alert whose evidence is open, else the one selected in the alert pane.
                let id = match self.mode {
                    Mode::Evidence(id) => Some(id),
                    _ if self.focus == Pane::Alerts => {
                        view.context.alerts.get(self.selection(Pane::Alerts)).map(|a| a.id)
                    }
                    _ => None,
                };
                id.map_or_else(
                    || {
                        self.message = Some("select an alert first (Tab to the alert pane)".into());
                        Effect::Redraw
                    },
                    Effect::DumpAlert,
                )
            }
            Action::Open => {
                let host = match self.focus {
                    Pane::Talkers => view.talkers.get(self.selection(Pane::Talkers)).map(|t| t.ip),
                    Pane::Flows => view.flows.get(self.selection(Pane::Flows)).map(|f| f.key.a.0),
                    Pane::Alerts => None,
                };
                match host {
                    Some(ip) => {
                        self.spec.host = Some(ip);
                        self.mode = Mode::Host;
                        Effect::Spec
                    }
                    None => Effect::Redraw,
                }
            }
            Action::Back => {
                if self.mode == Mode::Host {
                    self.spec.host = None;
                    self.mode = Mode::Normal;
                    return Effect::Spec;
                }
                self.mode = Mode::Normal;
                Effect::Redraw
            }
            Action::ToggleProto(p) => {
                self.spec.mask = self.spec.mask.toggled(p);
                self.selected = [0; 3];
                Effect::Spec
            }
            Action::AllProtos => {
                self.spec.mask = ProtoMask::ALL;
                Effect::Spec
            }
            Action::Units => {
                self.spec.bytes = !self.spec.bytes;
                Effect::Spec
            }
            Action::Sort => {
                self.spec.sort = self.spec.sort.next();
                Effect::Spec
            }
            Action::Zoom => {
                self.spec.zoom = self.spec.zoom.next();
                Effect::Spec
            }
            Action::Filter => {
                let current = self.spec.filter.map(|f| f.to_string()).unwrap_or_default();
                self.mode = Mode::FilterInput(current);
                Effect::Redraw
            }
            Action::Dump => Effect::Dump,
            Action::Report => {
                self.spec.report += 1;
                self.message = Some("writing the report…".into());
                Effect::Spec
            }
            Action::Names => Effect::Names,
            Action::Faster | Action::Slower => self.step_speed(action == Action::Faster),
            Action::Help => {
                self.mode = Mode::Help;
                Effect::Redraw
            }
        }
    }

    fn step_speed(&mut self, faster: bool) -> Effect {
        let Some(speed) = self.speed else {
            self.message = Some("replay speed applies to files (-r)".into());
            return Effect::Redraw;
        };
        let i = SPEEDS.iter().position(|s| *s >= speed).unwrap_or(SPEEDS.len() - 1);
        let j = if faster { (i + 1).min(SPEEDS.len() - 1) } else { i.saturating_sub(1) };
        self.speed = Some(SPEEDS[j]);
        Effect::Speed(SPEEDS[j])
    }

    /// A key while the filter prompt is open: edit, accept (Enter) or cancel (Esc).
    pub fn filter_key(&mut self, key: KeyEvent) -> Effect {
        let Mode::FilterInput(text) = &mut self.mode else { return Effect::Redraw };
        match key.code {
            KeyCode::Char(c) if text.len() < 64 => text.push(c),
            KeyCode::Backspace => {
                text.pop();
            }
            KeyCode::Esc => self.mode = Mode::Normal,
            KeyCode::Enter => {
                let typed = text.trim().to_string();
                self.mode = Mode::Normal;
                if typed.is_empty() {
                    self.spec.filter = None;
                    return Effect::Spec;
                }
                match typed.parse::<DisplayFilter>() {
                    Ok(f) => {
                        self.spec.filter = Some(f);
                        self.selected = [0; 3];
                        return Effect::Spec;
                    }
                    Err(e) => self.message = Some(e.to_string()),
                }
            }
            _ => {}
        }
        Effect::Redraw
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Proto;
    use ratatui::crossterm::event::KeyModifiers;

    #[test]
    fn toggles_filters_and_speeds() {
        let view = View::default();
        let mut s = UiState::new(Some(1.0));
        assert_eq!(s.apply(Action::ToggleProto(Proto::Tcp), &view), Effect::Spec);
        assert!(!s.spec.mask.contains(Proto::Tcp));
        s.apply(Action::AllProtos, &view);
        assert!(s.spec.mask.is_all());
        assert_eq!(s.apply(Action::Faster, &view), Effect::Speed(2.0));
        assert_eq!(s.apply(Action::Slower, &view), Effect::Speed(1.0));
        assert_eq!(s.apply(Action::Pause, &view), Effect::Pause(true));
        s.apply(Action::Filter, &view);
        for c in "10.0.0.0/8".chars() {
            s.filter_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
        }
        assert_eq!(s.filter_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)), Effect::Spec);
        assert_eq!(s.spec.filter.map(|f| f.to_string()).as_deref(), Some("10.0.0.0/8"));
        s.apply(Action::Filter, &view);
        s.filter_key(KeyEvent::new(KeyCode::Char('x'), KeyModifiers::NONE));
        s.filter_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
        assert!(s.message.as_deref().is_some_and(|m| m.contains("not an address")));
    }

    #[test]
    fn enter_on_an_alert_shows_its_evidence_and_d_dumps_it() {
        let mut view = View::default();
        let alert = crate::detect::Alert {
            id: 7,
            state: crate::detect::AlertState::New,
            kind: crate::detect::AlertKind::PortScan,
            severity: crate::detect::Severity::Medium,
            ts: 0,
            first_ts: 0,
            last_ts: 0,
            src: None,
            dst: None,
            proto: crate::detect::AlertProto::Tcp,
            port: None,
            packets: 1,
            summary: String::new(),
            evidence: crate::detect::Evidence::default(),
        };
        view.context.alerts = vec![alert];
        let mut s = UiState::new(None);
        assert_eq!(s.apply(Action::DumpAlert, &view), Effect::Redraw, "no alert selected yet");
        assert!(s.message.is_some());
        s.apply(Action::FocusPrev, &view);
        assert_eq!(s.focus, Pane::Alerts);
        s.apply(Action::Open, &view);
        assert_eq!(s.mode, Mode::Evidence(7));
        assert_eq!(s.apply(Action::DumpAlert, &view), Effect::DumpAlert(7));
        s.apply(Action::Back, &view);
        assert_eq!(s.mode, Mode::Normal);
    }

    #[test]
    fn live_has_no_speed_and_help_closes_on_any_key() {
        let view = View::default();
        let mut s = UiState::new(None);
        assert_eq!(s.apply(Action::Faster, &view), Effect::Redraw);
        assert!(s.message.is_some());
        s.apply(Action::Help, &view);
        assert_eq!(s.mode, Mode::Help);
        assert_eq!(s.apply(Action::Units, &view), Effect::Redraw);
        assert_eq!(s.mode, Mode::Normal);
        assert!(s.spec.bytes, "the key that closed the help did nothing else");
    }
}
