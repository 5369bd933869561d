//! Flags of the HTML report (issue "Reports").

/// The report: where it goes, and which stored run it is about.
#[derive(Clone, Debug, Default, PartialEq, clap::Args)]
#[command(next_help_heading = "Reports")]
pub struct ReportArgs {
    /// Write a self-contained HTML report (charts, alerts, the outlier model) to FILE at
    /// the end of the run; with --db and neither -r nor -i, report on a stored run
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<std::path::PathBuf>,

    /// With --db --report and no capture: the stored run to report on (default: the latest)
    #[arg(long, value_name = "ID", requires = "report")]
    pub run: Option<i64>,
}
