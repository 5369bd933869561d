//! Flags of the flow records (issue "Records") and the sinks that store them.

use crate::packet::{NANOS_PER_SEC, Nanos};
use crate::records::RecordConfig;

/// Flow records: connection timeouts and where the records go.
#[derive(Clone, Debug, PartialEq, clap::Args)]
#[command(next_help_heading = "Flow records")]
pub struct RecordArgs {
    /// Write flows.csv, alerts.csv, hosts.csv and protocols.csv into DIR (appending to
    /// files an earlier run of ours left there)
    #[arg(long, value_name = "DIR")]
    pub csv: Option<std::path::PathBuf>,

    /// Keep the run in the SQLite database FILE (created if absent; runs appended to it
    /// stay apart): alerts, flow records, per-minute host and protocol figures
    #[arg(long, value_name = "FILE")]
    pub db: Option<std::path::PathBuf>,

    /// With --db: delete rows more than DAYS older than the newest packet
    #[arg(long, value_name = "DAYS", requires = "db", value_parser = clap::value_parser!(u32).range(1..=36_500))]
    pub db_retain: Option<u32>,

    /// Serve Prometheus metrics at http://ADDR/metrics while the run lasts (e.g.
    /// 127.0.0.1:9187)
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<String>,

    /// Append alerts, flow records and statistics to FILE as Elastic Common Schema NDJSON
    /// ('-': standard output)
    #[arg(long, value_name = "FILE")]
    pub ecs: Option<String>,

    /// Append alerts, flow records and statistics to FILE as Suricata EVE JSON
    /// ('-': standard output)
    #[arg(long, value_name = "FILE")]
    pub eve: Option<String>,

    /// A TCP connection with a completed handshake ends after this many seconds of silence
    #[arg(long, value_name = "SECS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub tcp_idle: u64,

    /// A UDP flow ends after this many seconds of silence
    #[arg(long, value_name = "SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub udp_idle: u64,

    /// A flow of any other protocol (ICMP too) ends after this many seconds of silence
    #[arg(long, value_name = "SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub other_idle: u64,

    /// A closed or reset TCP connection, and an unanswered SYN, end after this many
    /// seconds without another packet
    #[arg(long, value_name = "SECS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub flow_linger: u64,
}

impl RecordArgs {
    /// The tracker's settings, with `max_flows` connections at most.
    pub fn config(&self, max_flows: u64) -> RecordConfig {
        let secs = |s: u64| s as Nanos * NANOS_PER_SEC;
        RecordConfig {
            tcp_idle: secs(self.tcp_idle),
            udp_idle: secs(self.udp_idle),
            other_idle: secs(self.other_idle),
            linger: secs(self.flow_linger),
            max_flows: usize::try_from(max_flows).unwrap_or(usize::MAX),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::Parser;

    #[test]
    fn timeouts_reach_the_tracker() {
        let cli =
            Cli::try_parse_from(["ntop-rs", "--udp-idle", "30", "--flow-linger", "0", "--max-flows", "9"]).unwrap();
        let cfg = cli.records.config(cli.max_flows);
        assert_eq!(cfg.udp_idle, 30 * NANOS_PER_SEC);
        assert_eq!(cfg.linger, 0);
        assert_eq!(cfg.tcp_idle, 300 * NANOS_PER_SEC);
        assert_eq!(cfg.max_flows, 9);
        assert!(Cli::try_parse_from(["ntop-rs", "--tcp-idle", "0"]).is_err());
    }
}
