//! Colours: the 16 basic ANSI colours only (they work over any SSH session and
//! terminal), or none at all when `NO_COLOR` is set.

use ratatui::style::{Color, Modifier, Style};

use crate::decode::Proto;
use crate::detect::Severity;

/// Styles used by the renderers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Theme {
    color: bool,
    /// Protocol classes' colours, by [`Proto::index`].
    protos: [Color; Proto::COUNT],
    /// Low, medium and high severities' colours.
    severities: [Color; 3],
}

const PROTOS: [Color; Proto::COUNT] =
    [Color::Blue, Color::Green, Color::Yellow, Color::Magenta, Color::Cyan, Color::Gray];
const SEVERITIES: [Color; 3] = [Color::Cyan, Color::Yellow, Color::Red];

/// A colour by its configuration name (the 16 ANSI colours).
fn colour(name: &str) -> Option<Color> {
    Some(match name {
        "black" => Color::Black,
        "red" => Color::Red,
        "green" => Color::Green,
        "yellow" => Color::Yellow,
        "blue" => Color::Blue,
        "magenta" => Color::Magenta,
        "cyan" => Color::Cyan,
        "gray" => Color::Gray,
        "darkgray" => Color::DarkGray,
        "lightred" => Color::LightRed,
        "lightgreen" => Color::LightGreen,
        "lightyellow" => Color::LightYellow,
        "lightblue" => Color::LightBlue,
        "lightmagenta" => Color::LightMagenta,
        "lightcyan" => Color::LightCyan,
        "white" => Color::White,
        _ => return None,
    })
}

impl Theme {
    /// Colours unless `NO_COLOR` is set (to anything non-empty), per no-color.org.
    pub fn from_env() -> Self {
        Theme::new(std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()))
    }

    /// This theme with the configuration's `[colours]` (role, colour name) applied.
    pub fn with_colours(mut self, pairs: &[(String, String)]) -> Self {
        for (role, name) in pairs {
            let Some(c) = colour(name) else { continue };
            if let Some(p) = Proto::ALL.iter().position(|p| p.name() == role) {
                self.protos[p] = c;
            }
            if let Some(s) = ["low", "medium", "high"].iter().position(|s| s == role) {
                self.severities[s] = c;
            }
        }
        self
    }

    /// A theme with (true) or without colours.
    pub fn new(color: bool) -> Self {
        Theme { color, protos: PROTOS, severities: SEVERITIES }
    }

    fn fg(&self, c: Color) -> Style {
        if self.color { Style::new().fg(c) } else { Style::new() }
    }

    /// A protocol class's colour.
    pub fn proto(&self, p: Proto) -> Style {
        self.fg(self.protos[p.index()])
    }

    /// An alert severity's colour.
    pub fn severity(&self, s: Severity) -> Style {
        match s {
            Severity::Low => self.fg(self.severities[0]),
            Severity::Medium => self.fg(self.severities[1]),
            Severity::High => self.fg(self.severities[2]),
            Severity::Critical => self.fg(self.severities[2]).add_modifier(Modifier::BOLD | Modifier::REVERSED),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_from_the_configuration() {
        let t = Theme::new(true).with_colours(&[("tcp".into(), "lightblue".into()), ("high".into(), "magenta".into())]);
        assert_eq!(t.proto(Proto::Tcp), Style::new().fg(Color::LightBlue));
        assert_eq!(t.proto(Proto::Udp), Style::new().fg(Color::Green), "unchanged");
        assert_eq!(t.severity(Severity::High), Style::new().fg(Color::Magenta));
        let plain = Theme::new(false).with_colours(&[("tcp".into(), "red".into())]);
        assert_eq!(plain.proto(Proto::Tcp), Style::new(), "NO_COLOR still wins");
    }
}
