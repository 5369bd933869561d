//! Key bindings as data: one table, from which the handler, the help screen and the
//! footer hints are all derived, so they cannot drift apart (trippy's binding table).

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::decode::Proto;

/// Everything a key can ask for. Handlers return actions; one place applies them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Leave ntop-rs.
    Quit,
    /// Freeze or thaw the display (capture goes on; a replay pauses).
    Pause,
    /// Focus the next pane.
    FocusNext,
    /// Focus the previous pane.
    FocusPrev,
    /// Move the selection up.
    Up,
    /// Move the selection down.
    Down,
    /// Open the selected host.
    Open,
    /// Close the open view or overlay.
    Back,
    /// Show or hide one protocol class.
    ToggleProto(Proto),
    /// Show every protocol class.
    AllProtos,
    /// Switch between bytes and packets.
    Units,
    /// Cycle the talkers' sort order.
    Sort,
    /// Type a display filter (address, CIDR or port).
    Filter,
    /// Write the visible window to a pcap file.
    Dump,
    /// Write the selected alert's own pcap.
    DumpAlert,
    /// Write an HTML report of what has been seen so far.
    Report,
    /// Show or hide host and service names.
    Names,
    /// Replay faster.
    Faster,
    /// Replay slower.
    Slower,
    /// Cycle the time-series span.
    Zoom,
    /// Show or hide the help.
    Help,
}

/// One row of the table.
#[derive(Clone, Copy, Debug)]
pub struct Binding {
    /// Keys that trigger it, as shown in the help.
    pub keys: &'static str,
    /// The action.
    pub action: Action,
    /// What it does, for the help screen.
    pub help: &'static str,
    /// Key label and word for the footer, if it earns a place there.
    pub hint: Option<(&'static str, &'static str)>,
}

/// The bindings, in help order.
pub const BINDINGS: &[Binding] = &[
    Binding { keys: "q, Ctrl-C", action: Action::Quit, help: "quit", hint: Some(("q", "quit")) },
    Binding {
        keys: "Space",
        action: Action::Pause,
        help: "pause the display (capture continues; a replay pauses)",
        hint: Some(("Space", "pause")),
    },
    Binding { keys: "Tab", action: Action::FocusNext, help: "focus the next pane", hint: Some(("Tab", "pane")) },
    Binding { keys: "Shift-Tab", action: Action::FocusPrev, help: "focus the previous pane", hint: None },
    Binding { keys: "↑, k", action: Action::Up, help: "move up", hint: None },
    Binding { keys: "↓, j", action: Action::Down, help: "move down", hint: None },
    Binding {
        keys: "Enter",
        action: Action::Open,
        help: "open the selected host, or the selected alert's evidence",
        hint: Some(("Enter", "open")),
    },
    Binding {
        keys: "Esc",
        action: Action::Back,
        help: "close the host view, evidence, filter prompt or help",
        hint: None,
    },
    Binding { keys: "1", action: Action::ToggleProto(Proto::Tcp), help: "show/hide TCP", hint: None },
    Binding { keys: "2", action: Action::ToggleProto(Proto::Udp), help: "show/hide UDP", hint: None },
    Binding { keys: "3", action: Action::ToggleProto(Proto::Icmp), help: "show/hide ICMP", hint: None },
    Binding { keys: "4", action: Action::ToggleProto(Proto::Icmpv6), help: "show/hide ICMPv6", hint: None },
    Binding { keys: "5", action: Action::ToggleProto(Proto::Arp), help: "show/hide ARP", hint: None },
    Binding {
        keys: "6",
        action: Action::ToggleProto(Proto::Other),
        help: "show/hide other protocols",
        hint: Some(("1-6", "protos")),
    },
    Binding { keys: "0", action: Action::AllProtos, help: "show all protocols", hint: None },
    Binding { keys: "b", action: Action::Units, help: "bytes / packets", hint: Some(("b", "bytes/pkts")) },
    Binding {
        keys: "s",
        action: Action::Sort,
        help: "sort talkers by total, sent, received",
        hint: Some(("s", "sort")),
    },
    Binding {
        keys: "/",
        action: Action::Filter,
        help: "display filter: address, CIDR or port",
        hint: Some(("/", "filter")),
    },
    Binding {
        keys: "w",
        action: Action::Dump,
        help: "write the visible window (as filtered) to a pcap file",
        hint: Some(("w", "dump")),
    },
    Binding {
        keys: "d",
        action: Action::DumpAlert,
        help: "write the selected alert's packets to a pcap file",
        hint: None,
    },
    Binding {
        keys: "R",
        action: Action::Report,
        help: "write an HTML report of what has been seen so far",
        hint: None,
    },
    Binding { keys: "n", action: Action::Names, help: "host and service names on/off", hint: None },
    Binding { keys: "+", action: Action::Faster, help: "replay faster", hint: None },
    Binding { keys: "-", action: Action::Slower, help: "replay slower", hint: None },
    Binding { keys: "z", action: Action::Zoom, help: "time-series span: 1 min, 5 min, 1 h, 24 h", hint: None },
    Binding { keys: "?", action: Action::Help, help: "this help", hint: Some(("?", "help")) },
];

/// The action bound to a key press, if any.
pub fn action_for(key: KeyEvent) -> Option<Action> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    Some(match key.code {
        KeyCode::Char('c') if ctrl => Action::Quit,
        KeyCode::Char('q') => Action::Quit,
        KeyCode::Char(' ') => Action::Pause,
        KeyCode::Tab => Action::FocusNext,
        KeyCode::BackTab => Action::FocusPrev,
        KeyCode::Up | KeyCode::Char('k') => Action::Up,
        KeyCode::Down | KeyCode::Char('j') => Action::Down,
        KeyCode::Enter => Action::Open,
        KeyCode::Esc => Action::Back,
        KeyCode::Char(c @ '1'..='6') => Action::ToggleProto(Proto::ALL[usize::from(c as u8 - b'1')]),
        KeyCode::Char('0') => Action::AllProtos,
        KeyCode::Char('b') => Action::Units,
        KeyCode::Char('s') => Action::Sort,
        KeyCode::Char('/') => Action::Filter,
        KeyCode::Char('w') => Action::Dump,
        KeyCode::Char('d') => Action::DumpAlert,
        KeyCode::Char('R') => Action::Report,
        KeyCode::Char('n') => Action::Names,
        KeyCode::Char('+') | KeyCode::Char('=') => Action::Faster,
        KeyCode::Char('-') => Action::Slower,
        KeyCode::Char('z') => Action::Zoom,
        KeyCode::Char('?') | KeyCode::F(1) => Action::Help,
        _ => return None,
    })
}

/// The configuration's `[keys]`: actions moved to other keys. A moved action's own
/// key no longer triggers it (Ctrl-C still quits).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyMap {
    moved: Vec<(char, Action)>,
}

/// The actions `[keys]` may move, by their configuration names.
fn named(name: &str) -> Option<Action> {
    Some(match name {
        "quit" => Action::Quit,
        "pause" => Action::Pause,
        "units" => Action::Units,
        "sort" => Action::Sort,
        "filter" => Action::Filter,
        "dump" => Action::Dump,
        "dump-alert" => Action::DumpAlert,
        "report" => Action::Report,
        "names" => Action::Names,
        "zoom" => Action::Zoom,
        _ => return None,
    })
}

impl KeyMap {
    /// From `[keys]` pairs (action name, one-character key); unknown names are skipped
    /// (the configuration reader refuses them first).
    pub fn new(pairs: &[(String, String)]) -> KeyMap {
        let moved = pairs.iter().filter_map(|(a, k)| Some((k.chars().next()?, named(a)?))).collect();
        KeyMap { moved }
    }

    /// The action of a key press under this map.
    pub fn action_for(&self, key: KeyEvent) -> Option<Action> {
        if let KeyCode::Char(c) = key.code
            && !key.modifiers.contains(KeyModifiers::CONTROL)
        {
            if let Some((_, a)) = self.moved.iter().find(|(k, _)| *k == c) {
                return Some(*a);
            }
            let default = action_for(key);
            if default.is_some_and(|d| self.moved.iter().any(|(_, a)| *a == d)) {
                return None;
            }
            return default;
        }
        action_for(key)
    }
}

/// The footer line: `key word` pairs from the table.
pub fn footer_hints() -> Vec<(&'static str, &'static str)> {
    BINDINGS.iter().filter_map(|b| b.hint).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode) -> Option<Action> {
        action_for(KeyEvent::new(code, KeyModifiers::NONE))
    }

    #[test]
    fn every_binding_is_reachable_by_its_first_key() {
        for b in BINDINGS {
            let first = b.keys.split(',').next().unwrap().trim();
            let code = match first {
                "q" | "Ctrl-C" => KeyCode::Char('q'),
                "Space" => KeyCode::Char(' '),
                "Tab" => KeyCode::Tab,
                "Shift-Tab" => KeyCode::BackTab,
                "↑" => KeyCode::Up,
                "↓" => KeyCode::Down,
                "Enter" => KeyCode::Enter,
                "Esc" => KeyCode::Esc,
                s if s.chars().count() == 1 => KeyCode::Char(s.chars().next().unwrap()),
                other => panic!("unknown key name {other}"),
            };
            assert_eq!(press(code), Some(b.action), "{}", b.keys);
        }
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(action_for(ctrl_c), Some(Action::Quit));
        assert_eq!(press(KeyCode::Char('x')), None);
    }

    #[test]
    fn help_texts_fit_the_help_box() {
        // The help box is 72 columns: borders, a 12-column key column, a space.
        for b in BINDINGS {
            assert!(b.help.chars().count() <= 57, "help text too long for the box: {}", b.help);
            assert!(b.keys.chars().count() <= 12, "key names too long: {}", b.keys);
        }
    }

    #[test]
    fn footer_comes_from_the_table() {
        let hints = footer_hints();
        assert_eq!(hints.first(), Some(&("q", "quit")));
        assert!(hints.contains(&("1-6", "protos")) && hints.contains(&("?", "help")));
    }

    #[test]
    fn a_key_map_moves_actions() {
        let map =
            KeyMap::new(&[("quit".into(), "x".into()), ("report".into(), "P".into()), ("bogus".into(), "y".into())]);
        let key = |c: char| map.action_for(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
        assert_eq!(key('x'), Some(Action::Quit));
        assert_eq!(key('q'), None, "the moved action's own key is free");
        assert_eq!(key('P'), Some(Action::Report));
        assert_eq!(key('R'), None);
        assert_eq!(key('b'), Some(Action::Units), "the rest as before");
        assert_eq!(key('y'), None);
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(map.action_for(ctrl_c), Some(Action::Quit), "Ctrl-C always quits");
        assert_eq!(map.action_for(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE)), Some(Action::FocusNext));
    }
}
