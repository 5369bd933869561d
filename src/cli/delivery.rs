//! Flags of alert delivery (issue "Reports"): mail, webhook, syslog, and when they send.

use crate::detect::Severity;

/// A severity named on the command line.
pub fn parse_severity(s: &str) -> Result<Severity, String> {
    match s {
        "low" => Ok(Severity::Low),
        "medium" => Ok(Severity::Medium),
        "high" => Ok(Severity::High),
        "critical" => Ok(Severity::Critical),
        _ => Err(format!("'{s}' is not a severity: low, medium, high or critical")),
    }
}

/// Where alerts are delivered, and how often.
#[derive(Clone, Debug, PartialEq, clap::Args)]
#[command(next_help_heading = "Alert delivery")]
pub struct DeliveryArgs {
    /// Mail each incident at or above the floor to ADDR (repeat for more); needs --smtp
    #[arg(long = "mail-to", value_name = "ADDR", requires = "smtp")]
    pub mail_to: Vec<String>,

    /// SMTP server: smtp://[user@]host[:587] (STARTTLS) or smtps://[user@]host[:465]
    /// (implicit TLS); the password only from $NTOP_RS_SMTP_PASSWORD
    #[arg(long, value_name = "URL", requires = "mail_to")]
    pub smtp: Option<String>,

    /// Sender of the mails [default: ntop-rs@<this host>]
    #[arg(long = "mail-from", value_name = "ADDR", requires = "mail_to")]
    pub mail_from: Option<String>,

    /// Trust this CA certificate (PEM) for the SMTP server too (a private CA)
    #[arg(long = "smtp-ca", value_name = "FILE", requires = "smtp")]
    pub smtp_ca: Option<std::path::PathBuf>,

    /// POST each incident as JSON to URL (Slack and Mattermost read its `text`)
    #[arg(long, value_name = "URL")]
    pub webhook: Option<String>,

    /// Send each incident as an RFC 5424 line to udp://HOST:PORT, tcp://HOST:PORT or
    /// unix:PATH (e.g. unix:/dev/log)
    #[arg(long, value_name = "TARGET")]
    pub syslog: Option<String>,

    /// Lowest severity delivered by every sink (low, medium, high, critical)
    #[arg(long = "notify-min", value_name = "SEVERITY", default_value = "medium", value_parser = parse_severity)]
    pub notify_min: Severity,

    /// Most messages a sink sends an hour; past it, incidents wait for one digest
    #[arg(long = "notify-per-hour", value_name = "N", default_value_t = 20)]
    pub per_hour: u32,

    /// Also send a message when an incident ends
    #[arg(long = "notify-end")]
    pub notify_end: bool,

    /// --notify-min for mail only
    #[arg(long = "mail-min", value_name = "SEVERITY", value_parser = parse_severity)]
    pub mail_min: Option<Severity>,

    /// --notify-per-hour for mail only
    #[arg(long = "mail-per-hour", value_name = "N")]
    pub mail_per_hour: Option<u32>,

    /// --notify-min for the webhook only
    #[arg(long = "webhook-min", value_name = "SEVERITY", value_parser = parse_severity)]
    pub webhook_min: Option<Severity>,

    /// --notify-per-hour for the webhook only
    #[arg(long = "webhook-per-hour", value_name = "N")]
    pub webhook_per_hour: Option<u32>,

    /// --notify-min for syslog only
    #[arg(long = "syslog-min", value_name = "SEVERITY", value_parser = parse_severity)]
    pub syslog_min: Option<Severity>,

    /// --notify-per-hour for syslog only
    #[arg(long = "syslog-per-hour", value_name = "N")]
    pub syslog_per_hour: Option<u32>,
}

impl DeliveryArgs {
    /// The policy of one sink, from its own flags and the common ones.
    pub fn policy(&self, min: Option<Severity>, per_hour: Option<u32>) -> crate::delivery::Policy {
        crate::delivery::Policy {
            min_severity: min.unwrap_or(self.notify_min),
            per_hour: per_hour.unwrap_or(self.per_hour),
            on_end: self.notify_end,
        }
    }
}
