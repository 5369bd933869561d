//! The configuration file (`--config FILE`, or `$XDG_CONFIG_HOME/ntop-rs/config.toml`
//! when it exists): every flag by its long name, in sections, plus what has no flag
//! (the SMTP password, key bindings, colours). Flags on the command line win.
//!
//! ```toml
//! [capture]
//! interface = "eth0"
//! [detection]
//! scan-ports-fast = 20
//! [delivery]
//! mail-to = ["soc@example.com"]
//! smtp = "smtp://sensor@mail.example.com"
//! smtp-password = "..."          # the file then must not be readable by others
//! [keys]
//! quit = "x"
//! [colours]
//! tcp = "lightblue"
//! ```
//!
//! An unknown section or key is an error naming it and its line. `--print-config`
//! prints the effective configuration in the same form, which reads back the same.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{ArgAction, CommandFactory, FromArgMatches};

use super::Cli;

/// Flags about the configuration itself.
#[derive(Clone, Debug, Default, PartialEq, clap::Args)]
#[command(next_help_heading = "Configuration")]
pub struct ConfigArgs {
    /// Read settings from this TOML file [default: $XDG_CONFIG_HOME/ntop-rs/config.toml
    /// when it exists]; flags given here win over it
    #[arg(long, value_name = "FILE", conflicts_with = "no_config")]
    pub config: Option<PathBuf>,

    /// Read no configuration file
    #[arg(long = "no-config")]
    pub no_config: bool,

    /// Print the effective configuration (file and flags) as TOML, and exit
    #[arg(long = "print-config")]
    pub print_config: bool,

    /// What the file set that has no flag.
    #[arg(skip)]
    pub extras: Extras,
}

/// Settings without a flag.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Extras {
    /// `[delivery] smtp-password`.
    pub smtp_password: Option<String>,
    /// `[keys]`: action name → key.
    pub keys: Vec<(String, String)>,
    /// `[colours]`: role → colour name.
    pub colours: Vec<(String, String)>,
    /// The file read, if any.
    pub file: Option<PathBuf>,
    /// Warnings about it (a credentials file others can read).
    pub warnings: Vec<String>,
}

/// Sections, in print order, and the help heading of the flags each holds.
const SECTIONS: [(&str, Option<&str>); 8] = [
    ("capture", None),
    ("detection", Some("Detection")),
    ("outliers", Some("Outliers")),
    ("records", Some("Flow records")),
    ("report", Some("Reports")),
    ("delivery", Some("Alert delivery")),
    ("keys", None),
    ("colours", None),
];

/// Actions that `[keys]` may rebind, by name.
pub const KEY_ACTIONS: [&str; 10] =
    ["quit", "pause", "units", "sort", "filter", "dump", "dump-alert", "report", "names", "zoom"];
/// Colour roles of `[colours]`.
pub const COLOUR_ROLES: [&str; 9] = ["tcp", "udp", "icmp", "icmpv6", "arp", "other", "low", "medium", "high"];
/// Colour names (the 16 ANSI colours).
pub const COLOURS: [&str; 16] = [
    "black",
    "red",
    "green",
    "yellow",
    "blue",
    "magenta",
    "cyan",
    "gray",
    "darkgray",
    "lightred",
    "lightgreen",
    "lightyellow",
    "lightblue",
    "lightmagenta",
    "lightcyan",
    "white",
];

/// Flags that a file may not set.
const NOT_IN_FILE: [&str; 5] = ["config", "no_config", "print_config", "help", "version"];

fn section_of(heading: Option<&str>) -> &'static str {
    SECTIONS.iter().find(|(_, h)| *h == heading).map_or("capture", |(s, _)| s)
}

/// The default file, if it exists.
fn default_file() -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(x) => PathBuf::from(x),
        None => PathBuf::from(std::env::var_os("HOME")?).join(".config"),
    };
    let file = base.join("ntop-rs/config.toml");
    file.is_file().then_some(file)
}

/// The 1-based line where `key` is set in `section` of `text` (best effort: 0 if not found).
fn line_of(text: &str, section: Option<&str>, key: &str) -> usize {
    let mut current: Option<String> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.split(']').next()) {
            current = Some(name.trim().trim_matches('"').to_string());
            if section.is_none() && current.as_deref() == Some(key) {
                return i + 1;
            }
            continue;
        }
        let k = line.split('=').next().unwrap_or("").trim().trim_matches('"');
        if k == key && current.as_deref() == section {
            return i + 1;
        }
    }
    0
}

/// Each flag a file sets (by argument id) and the arguments that set it.
pub type FileArgs = Vec<(String, Vec<OsString>)>;

/// Flag arguments and extras from a configuration file's text.
pub fn read(text: &str, name: &str) -> Result<(FileArgs, Extras), String> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let line = e
            .span()
            .map_or(0, |s| text.as_bytes()[..s.start.min(text.len())].iter().filter(|&&b| b == b'\n').count() + 1);
        format!("{name}:{line}: {}", e.message())
    })?;
    let cmd = Cli::command();
    let mut args = Vec::new();
    let mut extras = Extras::default();
    for (section, value) in &table {
        let at = |key: &str| line_of(text, Some(section), key);
        let Some(items) = value.as_table() else {
            return Err(format!(
                "{name}:{}: '{section}' is not a section ([{section}])",
                line_of(text, None, section).max(at(section))
            ));
        };
        if !SECTIONS.iter().any(|(s, _)| s == section) {
            let known: Vec<&str> = SECTIONS.iter().map(|(s, _)| *s).collect();
            return Err(format!(
                "{name}:{}: unknown section [{section}] (known: {})",
                line_of(text, None, section),
                known.join(", ")
            ));
        }
        for (key, v) in items {
            let line = at(key);
            match section.as_str() {
                "keys" => {
                    let key_name = v.as_str().filter(|k| k.chars().count() == 1);
                    match (KEY_ACTIONS.contains(&key.as_str()), key_name) {
                        (true, Some(k)) => extras.keys.push((key.clone(), k.to_string())),
                        (false, _) => {
                            return Err(format!(
                                "{name}:{line}: unknown key '{key}' in [keys] (actions: {})",
                                KEY_ACTIONS.join(", ")
                            ));
                        }
                        (true, None) => return Err(format!("{name}:{line}: [keys] {key} must be one character")),
                    }
                    continue;
                }
                "colours" => {
                    let colour = v.as_str().filter(|c| COLOURS.contains(c));
                    match (COLOUR_ROLES.contains(&key.as_str()), colour) {
                        (true, Some(c)) => extras.colours.push((key.clone(), c.to_string())),
                        (false, _) => {
                            return Err(format!(
                                "{name}:{line}: unknown key '{key}' in [colours] (roles: {})",
                                COLOUR_ROLES.join(", ")
                            ));
                        }
                        (true, None) => {
                            return Err(format!(
                                "{name}:{line}: [colours] {key} must be one of {}",
                                COLOURS.join(", ")
                            ));
                        }
                    }
                    continue;
                }
                "delivery" if key == "smtp-password" => {
                    extras.smtp_password = Some(
                        v.as_str().ok_or_else(|| format!("{name}:{line}: smtp-password must be a string"))?.to_string(),
                    );
                    continue;
                }
                _ => {}
            }
            let arg = cmd
                .get_arguments()
                .find(|a| a.get_long() == Some(key.as_str()) && !NOT_IN_FILE.contains(&a.get_id().as_str()))
                .ok_or_else(|| format!("{name}:{line}: unknown key '{key}' in [{section}]"))?;
            let flag = format!("--{key}");
            let values: Vec<OsString> = match v {
                toml::Value::Boolean(true) if is_switch(arg) => vec![flag.into()],
                toml::Value::Boolean(false) if is_switch(arg) => Vec::new(),
                toml::Value::Array(items) => {
                    let mut out = Vec::new();
                    for item in items {
                        out.push(flag.clone().into());
                        out.push(
                            scalar(item).ok_or_else(|| format!("{name}:{line}: {key}: a list of plain values"))?.into(),
                        );
                    }
                    out
                }
                v if !is_switch(arg) => {
                    vec![
                        flag.into(),
                        scalar(v).ok_or_else(|| format!("{name}:{line}: {key}: not a plain value"))?.into(),
                    ]
                }
                _ => return Err(format!("{name}:{line}: {key} is a switch: true or false")),
            };
            args.push((arg.get_id().to_string(), values));
        }
    }
    Ok((args, extras))
}

fn is_switch(arg: &clap::Arg) -> bool {
    matches!(arg.get_action(), ArgAction::SetTrue | ArgAction::SetFalse)
}

fn scalar(v: &toml::Value) -> Option<String> {
    match v {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Why the command line and the configuration file do not make a run.
#[derive(Debug)]
pub enum ConfigError {
    /// clap's own (including `--help` and `--version`, which it prints itself).
    Clap(clap::Error),
    /// The file: unreadable, not TOML, an unknown key...
    File(String),
}

impl From<clap::Error> for ConfigError {
    fn from(e: clap::Error) -> Self {
        ConfigError::Clap(e)
    }
}

impl From<String> for ConfigError {
    fn from(e: String) -> Self {
        ConfigError::File(e)
    }
}

/// The command line with the configuration file's settings put before it (the file
/// named by `--config`, the default one, or none with `--no-config`): every flag given
/// wins, and a file's setting that conflicts with a given flag (its `read` beside
/// `-i`) is left out. Also what the file set that has no flag.
fn merge(argv: Vec<OsString>) -> Result<(Vec<OsString>, Extras), ConfigError> {
    let cmd = Cli::command();
    // What the command line alone gives, to know which flags it sets.
    let given = cmd.clone().ignore_errors(true).try_get_matches_from(argv.clone())?;
    // A command line with errors parses partly (clap reports them on the real parse):
    // nothing here may assume a value is there.
    let named = given.try_get_one::<PathBuf>("config").ok().flatten();
    let none = given.try_get_one::<bool>("no_config").ok().flatten().copied().unwrap_or(false);
    let (file, explicit) = match (named, none) {
        (_, true) => (None, false),
        (Some(f), _) => (Some(f.clone()), true),
        (None, false) => (default_file(), false),
    };
    let mut merged: Vec<OsString> = argv.first().cloned().into_iter().collect();
    let mut extras = Extras::default();
    if let Some(path) = &file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            let how = if explicit { "--config" } else { "config file" };
            format!("{how} {}: {}", path.display(), crate::files::io_reason(&e))
        })?;
        let (args, x) = read(&text, &path.display().to_string())?;
        extras = x;
        extras.file = Some(path.clone());
        let on_cli = |id: &str| given.value_source(id) == Some(ValueSource::CommandLine);
        for (id, values) in args {
            let arg = cmd.get_arguments().find(|a| a.get_id() == id.as_str());
            // clap keeps a conflict on one side only: look both ways.
            let conflicts = arg.map(|a| cmd.get_arg_conflicts_with(a)).unwrap_or_default();
            let given_conflict = cmd
                .get_arguments()
                .filter(|a| on_cli(a.get_id().as_str()))
                .any(|a| cmd.get_arg_conflicts_with(a).iter().any(|c| c.get_id() == id.as_str()));
            if on_cli(&id) || given_conflict || conflicts.iter().any(|c| on_cli(c.get_id().as_str())) {
                continue;
            }
            merged.extend(values);
        }
        if extras.smtp_password.is_some() && others_can_read(path) {
            extras.warnings.push(format!(
                "{} holds a password and others can read it: chmod 600 {}",
                path.display(),
                path.display()
            ));
        }
    }
    merged.extend(argv.into_iter().skip(1));
    Ok((merged, extras))
}

/// Parses the command line with the configuration file under it ([`merge`]).
pub fn parse_with_config(argv: Vec<OsString>) -> Result<Cli, ConfigError> {
    let (merged, extras) = merge(argv)?;
    let matches = Cli::command().try_get_matches_from(merged)?;
    let mut cli = Cli::from_arg_matches(&matches)?;
    cli.config.extras = extras;
    Ok(cli)
}

fn others_can_read(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0)
}

/// The effective configuration as TOML: every flag's value (defaults included; unset
/// ones as comments), by section, then the extras.
pub fn print(argv: Vec<OsString>, cli: &Cli) -> Result<String, String> {
    let cmd = Cli::command();
    // The merged command line again, to read each flag's raw value.
    let (merged, _) = merge(argv).map_err(|e| match e {
        ConfigError::Clap(e) => e.to_string(),
        ConfigError::File(e) => e,
    })?;
    let matches = cmd.clone().try_get_matches_from(merged).map_err(|e| e.to_string())?;
    let mut out = String::from("# ntop-rs configuration (--print-config): every setting in force\n");
    for (section, _) in SECTIONS {
        let mut body = String::new();
        for arg in cmd.get_arguments() {
            let (Some(long), id) = (arg.get_long(), arg.get_id().as_str()) else { continue };
            if NOT_IN_FILE.contains(&id) || section_of(arg.get_help_heading()) != section {
                continue;
            }
            let raw: Vec<String> =
                matches.get_raw(id).map(|v| v.map(|s| s.to_string_lossy().into_owned()).collect()).unwrap_or_default();
            if is_switch(arg) {
                body.push_str(&format!("{long} = {}\n", matches.get_flag(id)));
            } else if raw.is_empty() {
                body.push_str(&format!("# {long} = (not set)\n"));
            } else if matches!(arg.get_action(), ArgAction::Append) {
                let items: Vec<String> = raw.iter().map(|v| toml::Value::String(v.clone()).to_string()).collect();
                body.push_str(&format!("{long} = [{}]\n", items.join(", ")));
            } else {
                body.push_str(&format!("{long} = {}\n", toml::Value::String(raw.join(" "))));
            }
        }
        if section == "delivery"
            && let Some(p) = &cli.config.extras.smtp_password
        {
            body.push_str(&format!("smtp-password = {}\n", toml::Value::String(p.clone())));
        }
        let list = match section {
            "keys" => &cli.config.extras.keys,
            "colours" => &cli.config.extras.colours,
            _ => &Vec::new(),
        };
        for (k, v) in list {
            body.push_str(&format!("{k} = {}\n", toml::Value::String(v.clone())));
        }
        if !body.is_empty() {
            out.push_str(&format!("\n[{section}]\n{body}"));
        }
    }
    Ok(out)
}
