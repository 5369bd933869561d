//! Everything a run opens while it may still hold privileges, and the drop after it.
//!
//! Order: the input (a capture device or a file, which may need root), then the outputs
//! named on the command line (the `--alerts` stream, the dump directories, the model's
//! directory, and the bytes of an existing `--model`), then privileges are given up
//! ([`crate::privs`]). Only after that is a single byte of traffic, a baseline capture or
//! a model parsed.
//!
//! Who owns what is written: files are written as the user the run became (the sudo
//! caller, `-Z USER` or `nobody`); a directory named on the command line that this user
//! cannot write gets a helper that stayed root and writes its files, which are then
//! root's (mode 0600, as every output); an `--alerts` file created by this run is given
//! to the user when the user could have created it.

use std::io::Write;
use std::path::Path;

use crate::capture::live::{LiveConfig, LiveSource};
use crate::capture::{FileSource, PacketSource};
use crate::cli::Cli;
use crate::files::{OutDir, OutFile};
use crate::privs::{self, Plan};

/// The packet input.
pub enum Input {
    /// A capture file or standard input.
    File(FileSource),
    /// A live device.
    Live(LiveSource),
}

/// What the run opened before it gave up privileges.
pub struct Opened {
    /// The input, opened.
    pub input: Input,
    /// The `--alerts` stream.
    pub alerts: Option<Box<dyn Write + Send>>,
    /// `--dump-alerts`.
    pub dump_alerts: Option<OutDir>,
    /// `--dump-dir` (the TUI's `w` and `d`).
    pub dump_dir: Option<OutDir>,
    /// `--model`, to save to.
    pub model: Option<OutFile>,
    /// `--report`, to write at the end (and on the TUI's `R`).
    pub report: Option<OutFile>,
    /// Alert delivery's transports, checked and ready.
    pub delivery: Vec<crate::delivery::Planned>,
    /// The bytes of an existing `--model`, to load.
    pub model_bytes: Option<Vec<u8>>,
    /// `--csv`: its four files, opened.
    pub csv: Option<[crate::sinks::csv::Stream; 4]>,
    /// `--db`, opened (and migrated, its run added).
    pub db: Option<crate::sinks::db::Db>,
    /// `--metrics`, bound.
    pub metrics: Option<crate::sinks::metrics::Listener>,
    /// `--ecs` and `--eve`, opened.
    pub ecs: Option<Box<dyn Write + Send>>,
    /// See `ecs`.
    pub eve: Option<Box<dyn Write + Send>>,
    /// `--baseline`, opened.
    pub baseline: Option<FileSource>,
}

/// Opens the input and the outputs, then gives up privileges.
pub fn open(cli: &Cli, interactive: bool) -> anyhow::Result<Opened> {
    let input = match cli.read.as_deref() {
        Some(path) => Input::File(FileSource::open(path)?),
        None => Input::Live(open_live(cli)?),
    };
    let dir = |flag: &str, path: &Path| OutDir::open(path).map_err(|e| anyhow::anyhow!("{flag} {e}"));
    let dump_alerts = cli.dump_alerts.as_deref().map(|p| dir("--dump-alerts", p)).transpose()?;
    let dump_dir = if interactive { Some(dir("--dump-dir", &cli.dump_dir)?) } else { None };
    let model = cli.outliers.model.as_deref().map(|p| OutFile::open(p).map_err(|e| anyhow::anyhow!("--model {e}")));
    let model = model.transpose()?;
    let report = report_file(cli)?;
    let delivery = delivery(cli)?;
    let model_bytes = match &cli.outliers.model {
        Some(path) if cli.outliers.baseline.is_none() && path.exists() => Some(
            crate::detect::outlier::Model::read_file(path)
                .map_err(|e| anyhow::anyhow!("--model {}: {e}", path.display()))?,
        ),
        _ => None,
    };
    let baseline = match &cli.outliers.baseline {
        Some(p) => Some(FileSource::open(&p.to_string_lossy()).map_err(|e| anyhow::anyhow!("--baseline: {e}"))?),
        None => None,
    };
    let plan = privs::plan(cli.user.as_deref())?;
    let mut alerts = None;
    if let Some(path) = cli.alerts.as_deref() {
        alerts = Some(alert_stream(path, &plan)?);
    }
    let csv = match cli.records.csv.as_deref() {
        Some(dir) => Some(csv_streams(dir, &plan)?),
        None => None,
    };
    let streams = [
        ("--alerts", cli.alerts.as_deref()),
        ("--ecs", cli.records.ecs.as_deref()),
        ("--eve", cli.records.eve.as_deref()),
    ];
    let on_stdout: Vec<&str> = streams.iter().filter(|(_, p)| *p == Some("-")).map(|(f, _)| *f).collect();
    if on_stdout.len() > 1 {
        anyhow::bail!("{} cannot all write to standard output: give all but one a file", on_stdout.join(" and "));
    }
    let event_stream = |flag: &str, path: Option<&str>| -> anyhow::Result<Option<Box<dyn Write + Send>>> {
        Ok(match path {
            None => None,
            Some("-") => Some(Box::new(std::io::stdout())),
            Some(p) => Some(Box::new(std::io::BufWriter::new(owned_stream(flag, "events", Path::new(p), &plan)?.0))),
        })
    };
    let db = match cli.records.db.as_deref() {
        Some(path) => {
            let (file, _) = owned_stream("--db", "the database", path, &plan)?;
            drop(file);
            let source = match &input {
                Input::File(f) => f.name().to_string(),
                Input::Live(l) => l.name().to_string(),
            };
            let db = crate::sinks::db::open(path, &source, cli.filter_expr().as_deref(), cli.records.db_retain)
                .map_err(|e| anyhow::anyhow!("--db {}: {e}", path.display()))?;
            Some(db)
        }
        None => None,
    };
    let metrics = match cli.records.metrics.as_deref() {
        Some(addr) => Some(crate::sinks::metrics::bind(addr).map_err(|e| anyhow::anyhow!("--metrics {addr}: {e}"))?),
        None => None,
    };
    let ecs = event_stream("--ecs", cli.records.ecs.as_deref())?;
    let eve = event_stream("--eve", cli.records.eve.as_deref())?;
    if let Plan::Become(user) = &plan {
        let dirs = [
            dump_alerts.as_ref(),
            dump_dir.as_ref(),
            model.as_ref().map(OutFile::dir),
            report.as_ref().map(OutFile::dir),
        ];
        for d in dirs.into_iter().flatten() {
            if !privs::can_write(user, d.path()) {
                d.keep_writing_as_root()
                    .map_err(|e| anyhow::anyhow!("{}: cannot start the writer: {e}", d.path().display()))?;
            }
        }
    }
    privs::apply(&plan)?;
    match (&plan, &input) {
        (Plan::KeepRoot, _) => crate::app::warn_line("-Z root: packets are parsed as root"),
        (Plan::Become(u), Input::Live(_)) => crate::app::note_line(&format!("running as {}", u.name)),
        _ => {}
    }
    let mut input = input;
    if let (Input::Live(live), false) = (&mut input, matches!(plan, Plan::KeepRoot)) {
        live.set_unprivileged(&plan.name());
    }
    Ok(Opened {
        input,
        alerts,
        dump_alerts,
        dump_dir,
        model,
        report,
        delivery,
        model_bytes,
        baseline,
        csv,
        db,
        metrics,
        ecs,
        eve,
    })
}

/// Refuses a run whose outputs share a file, or write over its input: a report written
/// over the database, events appended to the capture being read, two writers cutting
/// each other's lines. Files are compared by identity (device and inode) when they
/// exist, by their resolved path when they are yet to be made.
pub fn distinct_files(cli: &Cli) -> anyhow::Result<()> {
    let mut files: Vec<(String, &Path)> = Vec::new();
    fn named(p: &str) -> Option<&Path> {
        (p != "-").then(|| Path::new(p))
    }
    if let Some(p) = cli.read.as_deref().and_then(named) {
        files.push(("-r".into(), p));
    }
    if let Some(p) = &cli.outliers.baseline {
        files.push(("--baseline".into(), p));
    }
    // Reading one capture twice (-r and --baseline) is fine; everything else is not.
    let first_output = files.len();
    for (flag, path) in [
        ("--alerts", cli.alerts.as_deref().and_then(named)),
        ("--ecs", cli.records.ecs.as_deref().and_then(named)),
        ("--eve", cli.records.eve.as_deref().and_then(named)),
        ("--db", cli.records.db.as_deref()),
        ("--report", cli.report.report.as_deref()),
        ("--model", cli.outliers.model.as_deref()),
    ] {
        if let Some(p) = path {
            files.push((flag.into(), p));
        }
    }
    let csv: Vec<std::path::PathBuf> = match cli.records.csv.as_deref() {
        Some(dir) => crate::sinks::csv::FILES.iter().map(|name| dir.join(name)).collect(),
        None => Vec::new(),
    };
    for path in &csv {
        files.push((format!("--csv ({})", path.file_name().unwrap_or_default().to_string_lossy()), path));
    }
    let ids: Vec<Option<FileId>> = files.iter().map(|(_, p)| FileId::of(p)).collect();
    for i in 0..files.len() {
        for j in 0..i {
            let inputs = |k: usize| k < first_output;
            if ids[i].is_some() && ids[i] == ids[j] && !(inputs(i) && inputs(j)) {
                let ((a, pa), (b, _)) = (&files[j], &files[i]);
                anyhow::bail!("{b} {}: the same file as {a}: give each its own file", pa.display());
            }
        }
    }
    Ok(())
}

/// What makes two paths one file.
#[derive(PartialEq, Eq)]
enum FileId {
    /// An existing file: its device and inode.
    Existing(u64, u64),
    /// A file yet to be made: its directory resolved, and its name.
    New(std::path::PathBuf),
}

impl FileId {
    fn of(path: &Path) -> Option<FileId> {
        use std::os::unix::fs::MetadataExt;
        if let Ok(m) = std::fs::metadata(path) {
            return Some(FileId::Existing(m.dev(), m.ino()));
        }
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        Some(FileId::New(std::fs::canonicalize(parent).ok()?.join(path.file_name()?)))
    }
}

/// Alert delivery from the flags: each target checked (and the SMTP CA read) before
/// privileges are dropped, so a mistake is a one-line error before capture starts.
fn delivery(cli: &Cli) -> anyhow::Result<Vec<crate::delivery::Planned>> {
    use crate::delivery::{mail, syslog, webhook};
    let d = &cli.delivery;
    let mut out: Vec<crate::delivery::Planned> = Vec::new();
    if let Some(url) = d.smtp.as_deref() {
        let server = mail::parse(url).map_err(|e| anyhow::anyhow!("--smtp {e}"))?;
        let ca = match &d.smtp_ca {
            Some(p) => Some(
                std::fs::read(p)
                    .map_err(|e| anyhow::anyhow!("--smtp-ca {}: {}", p.display(), crate::files::io_reason(&e)))?,
            ),
            None => None,
        };
        let from = d.mail_from.clone().unwrap_or_else(|| format!("ntop-rs@{}", crate::delivery::hostname()));
        let password = std::env::var(mail::PASSWORD_ENV).ok().or_else(|| cli.config.extras.smtp_password.clone());
        let mailer =
            mail::Mailer::new(&server, &from, &d.mail_to, ca.as_deref(), password).map_err(|e| anyhow::anyhow!(e))?;
        out.push(("mail", d.policy(d.mail_min, d.mail_per_hour), Box::new(mailer)));
    }
    if let Some(url) = d.webhook.as_deref() {
        let url = webhook::parse(url).map_err(|e| anyhow::anyhow!("--webhook {e}"))?;
        out.push(("webhook", d.policy(d.webhook_min, d.webhook_per_hour), Box::new(webhook::Webhook::new(url))));
    }
    if let Some(t) = d.syslog.as_deref() {
        let target = syslog::parse(t).map_err(|e| anyhow::anyhow!("--syslog {e}"))?;
        out.push(("syslog", d.policy(d.syslog_min, d.syslog_per_hour), Box::new(syslog::Syslog::new(target))));
    }
    Ok(out)
}

/// `--report FILE.html`: its directory, opened now (written at the end, atomically).
pub fn report_file(cli: &Cli) -> anyhow::Result<Option<OutFile>> {
    let Some(path) = cli.report.report.as_deref() else { return Ok(None) };
    if path.is_dir() {
        anyhow::bail!("--report {}: is a directory; give a file name", path.display());
    }
    Ok(Some(OutFile::open(path).map_err(|e| anyhow::anyhow!("--report {e}"))?))
}

/// Lets the run write `report` after the drop (a helper keeps root for a directory the
/// new user cannot write), then drops privileges: for a report on a stored run.
pub fn drop_for_report(cli: &Cli, report: &OutFile) -> anyhow::Result<()> {
    let plan = privs::plan(cli.user.as_deref())?;
    if let Plan::Become(user) = &plan
        && !privs::can_write(user, report.dir().path())
    {
        report
            .dir()
            .keep_writing_as_root()
            .map_err(|e| anyhow::anyhow!("{}: cannot start the writer: {e}", report.dir().path().display()))?;
    }
    privs::apply(&plan)?;
    if matches!(plan, Plan::KeepRoot) {
        crate::app::warn_line("-Z root: the database is read as root");
    }
    Ok(())
}

/// `--csv DIR`'s four files (the directory must exist), each opened like `--alerts`.
fn csv_streams(dir: &Path, plan: &Plan) -> anyhow::Result<[crate::sinks::csv::Stream; 4]> {
    if !dir.is_dir() {
        let why = if dir.exists() { "not a directory" } else { "no such directory" };
        anyhow::bail!("--csv {}: {why}", dir.display());
    }
    let mut streams = Vec::new();
    for (name, columns) in crate::sinks::csv::FILES.into_iter().zip(crate::sinks::csv::COLUMNS) {
        let path = dir.join(name);
        let (file, created) = owned_stream("--csv", "CSV", &path, plan)?;
        // An empty file (a run that died before its header) gets one; rows go after a
        // header of ours only, never into someone else's file.
        let fresh = created || file.metadata().is_ok_and(|m| m.len() == 0);
        if !fresh {
            use std::io::BufRead;
            let mut first = String::new();
            let read = std::fs::File::open(&path).and_then(|f| std::io::BufReader::new(f).read_line(&mut first));
            if read.is_err() || !crate::sinks::csv::is_ours(&first, columns) {
                anyhow::bail!(
                    "--csv {}: not a file of ours (its first line is not the {name} header); move it away or name another directory",
                    path.display()
                );
            }
        }
        streams.push(crate::sinks::csv::Stream { out: Box::new(std::io::BufWriter::new(file)), fresh });
    }
    streams.try_into().map_err(|_| anyhow::anyhow!("--csv: four files"))
}

/// A file opened safely for appending records (created when absent) and given to the
/// user the run becomes, when this run created it where that user could have; says
/// whether this run created it.
fn owned_stream(flag: &str, what: &str, path: &Path, plan: &Plan) -> anyhow::Result<(std::fs::File, bool)> {
    let shown = path.display();
    let run_as = match plan {
        Plan::Become(user) => Some(user.uid.as_raw()),
        _ => None,
    };
    let (file, created) = crate::files::open_stream(path, run_as).map_err(|e| match e {
        crate::files::FileError::Io { path, reason } => anyhow::anyhow!("cannot write {what} to {path}: {reason}"),
        other => anyhow::anyhow!("{flag} {other}"),
    })?;
    if let (Plan::Become(user), true) = (plan, created) {
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        if privs::can_write(user, parent) {
            privs::give(&file, user)
                .map_err(|e| anyhow::anyhow!("{flag} {shown}: cannot give it to {}: {e}", user.name))?;
        }
    }
    Ok((file, created))
}

/// The `--alerts` stream: standard output, or a file opened safely (and given to the
/// user the run becomes, when this run created it where that user could have).
fn alert_stream(path: &str, plan: &Plan) -> anyhow::Result<Box<dyn Write + Send>> {
    if path == "-" {
        return Ok(Box::new(std::io::stdout()));
    }
    let (file, _) = owned_stream("--alerts", "alerts", Path::new(path), plan)?;
    Ok(Box::new(std::io::BufWriter::new(file)))
}

/// Opens the live device (the step that needs privileges).
fn open_live(cli: &Cli) -> anyhow::Result<LiveSource> {
    let config = LiveConfig {
        device: cli.interface.clone(),
        promisc: !cli.no_promisc,
        snaplen: cli.snaplen,
        buffer_mib: cli.buffer_mib,
        filter: cli.filter_expr(),
    };
    let source = LiveSource::open(config)?;
    crate::app::note_line(&format!(
        "listening on {}, link-type {}, snapshot length {}",
        source.name(),
        source.linktype(),
        cli.snaplen
    ));
    Ok(source)
}
