//! Colours: the 16 basic ANSI colours only (they work over any SSH session and
//! terminal), or none at all when `NO_COLOR` is set.

use ratatui::style::{Color, Modifier, Style};

use crate::decode::Proto;
use crate::detect::Severity;

/// Styles used by the renderers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Theme {
    color: bool,
}

impl Theme {
    /// Colours unless `NO_COLOR` is set (to anything non-empty), per no-color.org.
    pub fn from_env() -> Self {
        Theme { color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) }
    }

    /// A theme with (true) or without colours.
    pub fn new(color: bool) -> Self {
        Theme { color }
    }

    fn fg(&self, c: Color) -> Style {
        if self.color { Style::new().fg(c) } else { Style::new() }
    }

    /// A protocol class's colour.
    pub fn proto(&self, p: Proto) -> Style {
        self.fg(match p {
            Proto::Tcp => Color::Blue,
            Proto::Udp => Color::Green,
            Proto::Icmp => Color::Yellow,
            Proto::Icmpv6 => Color::Magenta,
            Proto::Arp => Color::Cyan,
            Proto::Other => Color::Gray,
        })
    }

    /// An alert severity's colour.
    pub fn severity(&self, s: Severity) -> Style {
        match s {
            Severity::Low => self.fg(Color::Cyan),
            Severity::Medium => self.fg(Color::Yellow),
            Severity::High => self.fg(Color::Red),
            Severity::Critical => self.fg(Color::Red).add_modifier(Modifier::BOLD | Modifier::REVERSED),
        }
    }

    /// Titles and headings.
    pub fn title(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    /// Things switched off or unimportant.
    pub fn dim(&self) -> Style {
        if self.color { Style::new().fg(Color::DarkGray) } else { Style::new().add_modifier(Modifier::DIM) }
    }

    /// The selected row of the focused pane.
    pub fn selected(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    /// The border of the focused pane.
    pub fn focus(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    /// Warnings in the header (drops, errors, pause).
    pub fn warn(&self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }
}
