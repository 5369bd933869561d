//! Command-line flags. They follow tcpdump's habits: `-r FILE`, a BPF expression as
//! trailing words (or `-f EXPR`), `-n`-style short flags where tcpdump has them.

use clap::Parser;

/// top for the network: traffic overview and intrusion detection in the terminal.
#[derive(Parser, Debug, Clone, PartialEq)]
#[command(name = "ntop-rs", version, about, after_help = AFTER_HELP)]
pub struct Cli {
    /// Read packets from a pcap or pcapng file ('-' reads standard input)
    #[arg(short = 'r', long = "read", value_name = "FILE", conflicts_with = "interface")]
    pub read: Option<String>,

    /// Capture live on this interface ('any' for all; default: the first up, non-loopback one)
    #[arg(short = 'i', long = "interface", value_name = "IFACE")]
    pub interface: Option<String>,

    /// List the interfaces that can be captured on, and exit
    #[arg(short = 'D', long = "list-interfaces")]
    pub list_interfaces: bool,

    /// Do not put the interface into promiscuous mode
    #[arg(short = 'p', long = "no-promiscuous-mode")]
    pub no_promisc: bool,

    /// Bytes captured per packet
    #[arg(short = 's', long = "snapshot-length", value_name = "SNAPLEN", default_value_t = 262_144,
          value_parser = clap::value_parser!(i32).range(64..=262_144))]
    pub snaplen: i32,

    /// Kernel capture buffer, in MiB
    #[arg(short = 'B', long = "buffer-size", value_name = "MiB", default_value_t = 16,
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub buffer_mib: u32,

    /// After opening the device, switch to this user (default: the sudo caller)
    #[arg(short = 'Z', long = "relinquish-privileges", value_name = "USER")]
    pub user: Option<String>,

    /// Interactive replay speed: a factor of real time, or 'max'
    #[arg(long, value_name = "X", default_value = "1", value_parser = parse_speed)]
    pub speed: f64,

    /// Live capture: stop after this many seconds (and print the summary)
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    pub duration: Option<u64>,

    /// BPF filter expression, as in tcpdump (trailing words are added to it)
    #[arg(short = 'f', long = "filter", value_name = "EXPR")]
    pub filter: Option<String>,

    /// Print a summary instead of the interactive view (the default without it)
    #[arg(long)]
    pub headless: bool,

    /// With --headless: print the summary as one JSON object
    #[arg(long)]
    pub json: bool,

    /// Hosts and flows listed in the summary (0 = all)
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub top: usize,

    /// Most hosts tracked at once; the least recently seen are evicted beyond it
    #[arg(long, value_name = "N", default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_hosts: u64,

    /// Most flows tracked at once; the least recently seen are evicted beyond it
    #[arg(long, value_name = "N", default_value_t = 250_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_flows: u64,

    /// Seconds of per-second history kept (coarser history: 1 h of 10 s, 24 h of 1 min)
    #[arg(long, value_name = "SECS", default_value_t = 600, value_parser = clap::value_parser!(u64).range(60..=86_400))]
    pub window: u64,

    /// Write every alert report (new, update, end) to FILE as NDJSON ('-': standard output)
    #[arg(long, value_name = "FILE")]
    pub alerts: Option<String>,

    /// Memory for the packet ring that `w` dumps from, in MiB
    #[arg(long, value_name = "MiB", default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=65_536))]
    pub ring_mb: u64,

    /// Where `w` writes pcap files
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub dump_dir: std::path::PathBuf,

    /// Do not resolve host names (reverse DNS)
    #[arg(short = 'n')]
    pub no_resolve: bool,

    /// Never show the progress bar
    #[arg(long)]
    pub no_progress: bool,

    /// BPF filter expression words, as in tcpdump
    #[arg(value_name = "EXPRESSION", trailing_var_arg = true, allow_hyphen_values = true)]
    pub expression: Vec<String>,
}

const AFTER_HELP: &str = "Examples:
  sudo ntop-rs -i eth0 --headless --duration 10    live: summary after 10 seconds
  ntop-rs -r capture.pcap --headless               readable report
  ntop-rs -r capture.pcapng --headless --json      one JSON object for scripts
  tcpdump -w - | ntop-rs -r - --headless tcp port 443";

/// `--speed`: a positive factor, or `max` for as fast as possible.
fn parse_speed(text: &str) -> Result<f64, String> {
    if text.eq_ignore_ascii_case("max") {
        return Ok(f64::INFINITY);
    }
    match text.parse::<f64>() {
        Ok(x) if x > 0.0 && x.is_finite() => Ok(x),
        _ => Err(format!("'{text}' is not a positive number or 'max'")),
    }
}

impl Cli {
    /// The BPF expression from `-f` and the trailing words, if any.
    pub fn filter_expr(&self) -> Option<String> {
        let words = self.expression.join(" ");
        match (self.filter.as_deref().map(str::trim), words.trim()) {
            (None | Some(""), "") => None,
            (Some(f), "") => Some(f.to_string()),
            (None | Some(""), w) => Some(w.to_string()),
            (Some(f), w) => Some(format!("({f}) and ({w})")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("ntop-rs").chain(args.iter().copied()))
    }

    #[test]
    fn tcpdump_style_expression() {
        let cli = parse(&["-r", "x.pcap", "--headless", "tcp", "port", "80"]).unwrap();
        assert_eq!(cli.filter_expr().as_deref(), Some("tcp port 80"));
        let cli = parse(&["-r", "x.pcap", "-f", "udp", "host", "10.0.0.1"]).unwrap();
        assert_eq!(cli.filter_expr().as_deref(), Some("(udp) and (host 10.0.0.1)"));
        assert_eq!(parse(&["-r", "x"]).unwrap().filter_expr(), None);
    }

    #[test]
    fn live_flags() {
        let cli =
            parse(&["-i", "eth0", "-p", "-s", "96", "-B", "64", "-Z", "nobody", "--duration", "5", "icmp"]).unwrap();
        assert_eq!(cli.interface.as_deref(), Some("eth0"));
        assert!(cli.no_promisc);
        assert_eq!((cli.snaplen, cli.buffer_mib, cli.duration), (96, 64, Some(5)));
        assert_eq!(cli.filter_expr().as_deref(), Some("icmp"));
        assert!(parse(&["-i", "eth0", "-r", "x.pcap"]).is_err(), "-i and -r exclude each other");
        assert!(parse(&["-s", "10"]).is_err());
        assert_eq!(parse(&["--speed", "max"]).unwrap().speed, f64::INFINITY);
        assert_eq!(parse(&["--speed", "2.5"]).unwrap().speed, 2.5);
        assert!(parse(&["--speed", "0"]).is_err() && parse(&["--speed", "fast"]).is_err());
    }

    #[test]
    fn rejects_bad_numbers() {
        assert!(parse(&["--top", "-1"]).is_err());
        assert!(parse(&["--max-hosts", "0"]).is_err());
        assert!(parse(&["--window", "5"]).is_err());
        assert_eq!(parse(&["--top", "0"]).unwrap().top, 0);
    }
}
