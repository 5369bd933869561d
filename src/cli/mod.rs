//! Command-line flags. They follow tcpdump's habits: `-r FILE`, a BPF expression as
//! trailing words (or `-f EXPR`), `-n`-style short flags where tcpdump has them.

use clap::Parser;

mod config;
mod delivery;
mod records;
mod report;
pub use config::{ConfigArgs, ConfigError, Extras, parse_with_config, print as print_config};
pub use delivery::DeliveryArgs;
pub use records::RecordArgs;
pub use report::ReportArgs;

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

    /// After opening the input, run as this user (default: the sudo caller, else nobody; `root` keeps root)
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

    /// Append every alert report (new, update, end) to FILE as NDJSON ('-': standard output)
    #[arg(long, value_name = "FILE")]
    pub alerts: Option<String>,

    /// Memory for the packet ring that `w` dumps from, in MiB
    #[arg(long, value_name = "MiB", default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=65_536))]
    pub ring_mb: u64,

    /// Where `w` writes pcap files
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub dump_dir: std::path::PathBuf,

    /// Write each alert's own pcap (its hosts' packets, from just before it began) into
    /// DIR when the incident ends
    #[arg(long, value_name = "DIR")]
    pub dump_alerts: Option<std::path::PathBuf>,

    /// Do not resolve host names (reverse DNS)
    #[arg(short = 'n')]
    pub no_resolve: bool,

    /// Never show the progress bar
    #[arg(long)]
    pub no_progress: bool,

    /// Detection thresholds and switches
    #[command(flatten)]
    pub detect: DetectArgs,

    /// Outlier detection (learned behaviour) settings
    #[command(flatten)]
    pub outliers: OutlierArgs,

    /// Flow records and where they go
    #[command(flatten)]
    pub records: RecordArgs,

    /// The HTML report
    #[command(flatten)]
    pub report: ReportArgs,

    /// Alert delivery: mail, webhook, syslog
    #[command(flatten)]
    pub delivery: DeliveryArgs,

    /// The configuration file
    #[command(flatten)]
    pub config: ConfigArgs,

    /// BPF filter expression words, as in tcpdump (flags may come before or after them;
    /// after `--`, every word is the expression's)
    #[arg(value_name = "EXPRESSION")]
    pub expression: Vec<String>,
}

/// Detection flags: every threshold of the scan, sweep, flood and spike detectors.
/// Defaults and the reasons for them are in README ("Detection").
#[derive(Clone, Debug, PartialEq, clap::Args)]
#[command(next_help_heading = "Detection")]
pub struct DetectArgs {
    /// Run no detectors (traffic figures only)
    #[arg(long)]
    pub no_detect: bool,

    /// Milliseconds a probe waits for an answer before it counts as unanswered
    #[arg(long, value_name = "MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(10..=60_000))]
    pub probe_timeout: u64,

    /// Port scan: failed ports on one host in all, while the scan stays active
    #[arg(long, value_name = "N", default_value_t = 15, value_parser = clap::value_parser!(u32).range(2..))]
    pub scan_ports: u32,

    /// Port scan: new failed ports on one host within the fast window
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u32).range(2..))]
    pub scan_ports_fast: u32,

    /// Host sweep: failed hosts on one service in all, while the sweep stays active
    #[arg(long, value_name = "N", default_value_t = 25, value_parser = clap::value_parser!(u32).range(2..))]
    pub sweep_hosts: u32,

    /// Host sweep: new failed hosts on one service within the fast window
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u32).range(2..))]
    pub sweep_hosts_fast: u32,

    /// The fast window of scans and sweeps, in seconds
    #[arg(long, value_name = "SECS", default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub fast_window: u64,

    /// A slow scan or sweep is forgotten after this many seconds without a failed attempt
    #[arg(long, value_name = "SECS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub scan_idle: u64,

    /// SYN flood: SYNs per second to one host...
    #[arg(long, value_name = "PPS", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    pub syn_flood: u32,

    /// ...of which at least this percentage never completes a handshake
    #[arg(long, value_name = "PCT", default_value_t = 80, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub half_open: u8,

    /// UDP flood: UDP packets per second to one host (over several flows, mostly unanswered)
    #[arg(long, value_name = "PPS", default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..))]
    pub udp_flood: u32,

    /// ICMP flood: ICMP packets per second to one host
    #[arg(long, value_name = "PPS", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    pub icmp_flood: u32,

    /// Floods: a host's threshold is at least this many times its own learned rate
    #[arg(long, value_name = "X", default_value_t = 4.0, value_parser = parse_factor)]
    pub baseline_factor: f64,

    /// Floods: ...but never above this many packets per second (a slow ramp still alerts)
    #[arg(long, value_name = "PPS", default_value_t = 20_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub flood_ceiling: u32,

    /// Rate spike: a protocol at this many times its learned rate...
    #[arg(long, value_name = "X", default_value_t = 5.0, value_parser = parse_factor)]
    pub spike_factor: f64,

    /// ...and at least this many packets per second
    #[arg(long, value_name = "PPS", default_value_t = 1000)]
    pub spike_min: u64,

    /// Seconds a protocol's rate is learned before its spikes are reported
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub spike_warmup: u32,

    /// A fixed rate-spike threshold for one protocol, e.g. 'udp=5000' (repeatable)
    #[arg(long = "spike", value_name = "PROTO=PPS", value_parser = parse_spike)]
    pub spikes: Vec<(crate::decode::Proto, u64)>,

    /// Seconds between two reports of one incident, at most
    #[arg(long, value_name = "SECS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub alert_update: u64,

    /// A scan or sweep incident ends after this many seconds without a failed attempt
    #[arg(long, value_name = "SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub scan_quiet: u64,

    /// A flood or spike incident ends after this many seconds below its threshold
    #[arg(long, value_name = "SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub flood_quiet: u64,

    /// Most scan and sweep tallies kept at once (each); the least recently active go first
    #[arg(long, value_name = "N", default_value_t = 4096, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub max_scan_tallies: u64,

    /// Most flood victims tracked at once; the least recently seen go first
    #[arg(long, value_name = "N", default_value_t = 8192, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub max_victims: u64,
}

impl DetectArgs {
    /// The scan and sweep detector's settings.
    pub fn scan_config(&self) -> crate::detect::scan::ScanConfig {
        use crate::packet::NANOS_PER_SEC as S;
        crate::detect::scan::ScanConfig {
            probe_timeout: self.probe_timeout as i64 * (S / 1000),
            fast_window: self.fast_window as i64 * S,
            idle: self.scan_idle as i64 * S,
            ports_fast: self.scan_ports_fast,
            ports_slow: self.scan_ports,
            hosts_fast: self.sweep_hosts_fast,
            hosts_slow: self.sweep_hosts,
            max_tallies: self.max_scan_tallies as usize,
            update_every: self.alert_update as i64 * S,
            quiet: self.scan_quiet as i64 * S,
        }
    }

    /// The flood and rate-spike detector's settings.
    pub fn flood_config(&self) -> crate::detect::flood::FloodConfig {
        use crate::packet::NANOS_PER_SEC as S;
        let mut spike_fixed = [None; crate::decode::Proto::COUNT];
        for (proto, pps) in &self.spikes {
            spike_fixed[proto.index()] = Some(*pps);
        }
        crate::detect::flood::FloodConfig {
            syn_pps: self.syn_flood,
            half_open: f64::from(self.half_open) / 100.0,
            udp_pps: self.udp_flood,
            icmp_pps: self.icmp_flood,
            baseline_factor: self.baseline_factor,
            ceiling_pps: self.flood_ceiling,
            max_victims: self.max_victims as usize,
            spike_factor: self.spike_factor,
            spike_min_pps: self.spike_min,
            spike_warmup: self.spike_warmup,
            spike_fixed,
            update_every: self.alert_update as i64 * S,
            quiet: self.flood_quiet as i64 * S,
        }
    }
}

/// The outlier detector's flags. Defaults and reasons are in README ("Outliers").
#[derive(Clone, Debug, PartialEq, clap::Args)]
#[command(next_help_heading = "Outliers")]
pub struct OutlierArgs {
    /// Run no outlier detector (the rule detectors still run)
    #[arg(long)]
    pub no_outliers: bool,

    /// Seconds of packet time to learn normal behaviour from before flagging outliers
    #[arg(long, value_name = "SECS", default_value_t = 120, value_parser = clap::value_parser!(u64).range(0..=86_400))]
    pub learn: u64,

    /// Learn normal behaviour from this capture of normal traffic instead (then flag from the first packet)
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<std::path::PathBuf>,

    /// Load the trained model from FILE if it exists; save every trained model to it
    #[arg(long, value_name = "FILE")]
    pub model: Option<std::path::PathBuf>,

    /// Retrain on recent windows every SECS of packet time, in the background (0: never)
    #[arg(long, value_name = "SECS", default_value_t = 600, value_parser = clap::value_parser!(u64).range(0..=86_400))]
    pub retrain: u64,

    /// Seconds of packet time per behaviour window (one vector per host per window)
    #[arg(long, value_name = "SECS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub outlier_window: u64,

    /// Outlier score threshold from 0.5 to 1 [default: learned from the training scores]
    #[arg(long, value_name = "SCORE", value_parser = parse_score)]
    pub outlier_threshold: Option<f64>,

    /// How many spreads above typical a figure must be to make a host unusual
    #[arg(long, value_name = "N", default_value_t = 4.0, value_parser = parse_factor)]
    pub outlier_deviation: f64,

    /// Behaviour clusters (K-means)
    #[arg(long, value_name = "K", default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=16))]
    pub clusters: u64,

    /// Seed of the models' random choices (the same seed and traffic give the same model)
    #[arg(long, value_name = "N", default_value_t = crate::detect::outlier::TrainConfig::default().seed)]
    pub seed: u64,

    /// Seconds without an outlying window before an outlier incident ends
    #[arg(long, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub outlier_quiet: u64,
}

impl OutlierArgs {
    /// The outlier detector's settings (`update_every` from --alert-update).
    pub fn config(&self, update_every: u64, wait_for_training: bool) -> crate::detect::outlier::OutlierConfig {
        use crate::packet::NANOS_PER_SEC as S;
        crate::detect::outlier::OutlierConfig {
            window: self.outlier_window as i64 * S,
            learn: self.learn as i64 * S,
            retrain: self.retrain as i64 * S,
            train: crate::detect::outlier::TrainConfig {
                clusters: self.clusters as usize,
                seed: self.seed,
                threshold: self.outlier_threshold,
                ..Default::default()
            },
            min_deviation: self.outlier_deviation,
            update_every: update_every as i64 * S,
            quiet: self.outlier_quiet as i64 * S,
            wait_for_training,
            save_to: None, // opened with the other outputs (app::open)
            learned_from: format!("the first {} s of this traffic", self.learn),
        }
    }
}

/// An outlier score from 0.5 to 1.
fn parse_score(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(x) if (0.5..=1.0).contains(&x) => Ok(x),
        _ => Err(format!("'{text}' is not a score from 0.5 to 1")),
    }
}

/// A factor of at least 1.
fn parse_factor(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(x) if (1.0..=1e6).contains(&x) => Ok(x),
        _ => Err(format!("'{text}' is not a number from 1 to 1000000")),
    }
}

/// `--spike PROTO=PPS`.
fn parse_spike(text: &str) -> Result<(crate::decode::Proto, u64), String> {
    let (name, pps) = text.split_once('=').ok_or_else(|| format!("'{text}' is not PROTO=PPS (e.g. udp=5000)"))?;
    let proto = crate::decode::Proto::ALL
        .into_iter()
        .find(|p| p.name().eq_ignore_ascii_case(name.trim()))
        .ok_or_else(|| format!("unknown protocol '{name}' (tcp, udp, icmp, icmpv6, arp, other)"))?;
    let pps =
        pps.trim().parse::<u64>().ok().filter(|&n| n > 0).ok_or_else(|| format!("'{pps}' is not a positive rate"))?;
    Ok((proto, pps))
}

const AFTER_HELP: &str = "Examples:
  sudo ntop-rs -i eth0 --headless --duration 10    live: summary after 10 seconds
  ntop-rs -r capture.pcap --headless               readable report
  ntop-rs -r capture.pcapng --headless --json      one JSON object for scripts
  tcpdump -w - | ntop-rs -r - --headless tcp port 443";

/// `--speed`: a positive factor, or `max` for as fast as possible.
/// The slowest replay speed: a hundredth of real time.
pub const MIN_SPEED: f64 = 0.01;
/// The fastest finite replay speed (beyond it, `max`).
pub const MAX_SPEED: f64 = 10_000.0;

fn parse_speed(text: &str) -> Result<f64, String> {
    if text.eq_ignore_ascii_case("max") {
        return Ok(f64::INFINITY);
    }
    match text.parse::<f64>() {
        Ok(x) if (MIN_SPEED..=MAX_SPEED).contains(&x) => Ok(x),
        _ => Err(format!("'{text}' is not a speed from {MIN_SPEED} to {MAX_SPEED}, or 'max'")),
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
    fn detection_flags_reach_the_detectors() {
        let cli = parse(&["--scan-ports", "30", "--spike", "udp=5000", "--half-open", "90", "--probe-timeout", "500"])
            .unwrap();
        let scan = cli.detect.scan_config();
        assert_eq!((scan.ports_slow, scan.probe_timeout), (30, 500_000_000));
        let flood = cli.detect.flood_config();
        assert_eq!(flood.spike_fixed[crate::decode::Proto::Udp.index()], Some(5000));
        assert!((flood.half_open - 0.9).abs() < 1e-9);
        for bad in
            [&["--spike", "udp"][..], &["--spike", "xyz=1"], &["--baseline-factor", "0.5"], &["--half-open", "101"]]
        {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn tcpdump_style_expression() {
        let cli = parse(&["-r", "x.pcap", "--headless", "tcp", "port", "80"]).unwrap();
        assert_eq!(cli.filter_expr().as_deref(), Some("tcp port 80"));
        let cli = parse(&["-r", "x.pcap", "-f", "udp", "host", "10.0.0.1"]).unwrap();
        assert_eq!(cli.filter_expr().as_deref(), Some("(udp) and (host 10.0.0.1)"));
        assert_eq!(parse(&["-r", "x"]).unwrap().filter_expr(), None);
        // Flags after the expression are flags; `--` makes every word the expression's.
        let cli = parse(&["-r", "x", "udp", "port", "53", "--json"]).unwrap();
        assert!(cli.json);
        assert_eq!(cli.filter_expr().as_deref(), Some("udp port 53"));
        let cli = parse(&["-r", "x", "--", "len", "-", "14", ">", "100"]).unwrap();
        assert_eq!(cli.filter_expr().as_deref(), Some("len - 14 > 100"));
    }

    #[test]
    fn an_unknown_flag_is_named_whatever_follows() {
        for args in
            [&["-r", "x", "--reprot", "x"][..], &["-r", "x", "tcp", "--reprot"], &["--bogus", "tcp", "port", "80"]]
        {
            let e = parse(args).unwrap_err();
            assert_eq!(e.kind(), clap::error::ErrorKind::UnknownArgument, "{args:?}");
            let flag = args.iter().find(|a| a.starts_with("--")).unwrap();
            assert!(e.to_string().contains(&format!("unexpected argument '{flag}'")), "{e}");
        }
    }

    #[test]
    fn speed_is_bounded() {
        for bad in ["1e-300", "0", "-1", "1e9", "nan", "inf"] {
            assert!(parse(&["-r", "x", "--speed", bad]).is_err(), "{bad}");
        }
        assert_eq!(parse(&["-r", "x", "--speed", "0.01"]).unwrap().speed, 0.01);
        assert!(parse(&["-r", "x", "--speed", "max"]).unwrap().speed.is_infinite());
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
