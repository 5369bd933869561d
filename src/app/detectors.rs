//! The detectors a run uses, built from the flags and what [`super::open`] opened.

use anyhow::bail;

use super::open::{Input, Opened};
use crate::capture::{Next, PacketSource};
use crate::cli::Cli;
use crate::detect::Detectors;
use crate::detect::outlier::{Model, OutlierDetector, SharedOutliers};
use crate::files::OutDir;
use crate::pipeline::Sink;
use crate::pipeline::sink::NdjsonAlerts;

/// What a run works with, once its input and outputs are open.
pub struct Built {
    /// The detectors that run (scans and sweeps, floods and spikes, outliers; none with
    /// --no-detect).
    pub detectors: Detectors,
    /// The outlier detector's shared view (host clusters and model status), when it runs.
    pub outliers: Option<SharedOutliers>,
    /// The input, handed back.
    pub input: Input,
    /// The sinks (`--alerts`).
    pub sinks: Vec<Box<dyn Sink>>,
    /// `--dump-alerts`.
    pub dump_alerts: Option<OutDir>,
    /// `--dump-dir` (the TUI).
    pub dump_dir: Option<OutDir>,
    /// `--report`.
    pub report: Option<crate::files::OutFile>,
}

/// Builds the detectors and sinks from the flags and what was opened.
pub fn build(cli: &Cli, opened: Opened) -> anyhow::Result<Built> {
    let live = matches!(opened.input, Input::Live(_));
    let mut list: Vec<Box<dyn crate::detect::Detector>> = Vec::new();
    let mut shared = None;
    if !cli.detect.no_detect {
        list.push(Box::new(crate::detect::scan::ScanDetector::new(cli.detect.scan_config())));
        list.push(Box::new(crate::detect::flood::FloodDetector::new(cli.detect.flood_config())));
        if !cli.outliers.no_outliers {
            let outliers = outlier_detector(cli, live, opened.baseline, opened.model_bytes, opened.model)?;
            shared = Some(outliers.shared());
            list.push(Box::new(outliers));
        }
    }
    let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
    if let Some(out) = opened.alerts {
        sinks.push(Box::new(NdjsonAlerts::new(out)));
    }
    if let Some(listener) = opened.metrics {
        let sink = crate::sinks::metrics::MetricsSink::start(listener, shared.clone())
            .map_err(|e| anyhow::anyhow!("--metrics: {e}"))?;
        sinks.push(Box::new(sink));
    }
    if let Some(db) = opened.db {
        sinks.push(Box::new(db));
    }
    if let Some(out) = opened.ecs {
        sinks.push(Box::new(crate::sinks::events::EventSink::new(crate::sinks::events::Format::Ecs, out)));
    }
    if let Some(out) = opened.eve {
        sinks.push(Box::new(crate::sinks::events::EventSink::new(crate::sinks::events::Format::Eve, out)));
    }
    for (name, policy, transport) in opened.delivery {
        let sink = crate::delivery::Delivery::start(name, policy, transport)
            .map_err(|e| anyhow::anyhow!("cannot start the {name} sink: {e}"))?;
        sinks.push(Box::new(sink));
    }
    if let Some(streams) = opened.csv {
        sinks.push(Box::new(crate::sinks::csv::CsvSink::new(streams).map_err(|e| anyhow::anyhow!("--csv: {e}"))?));
    }
    Ok(Built {
        detectors: Detectors::new(list),
        outliers: shared,
        input: opened.input,
        sinks,
        dump_alerts: opened.dump_alerts,
        dump_dir: opened.dump_dir,
        report: opened.report,
    })
}

/// The outlier detector, ready at once from `--baseline` or an existing `--model`, or
/// learning from the first `--learn` seconds. Live, new models are adopted when ready;
/// on a file, at a fixed packet time (reproducible).
fn outlier_detector(
    cli: &Cli,
    live: bool,
    baseline: Option<crate::capture::FileSource>,
    model_bytes: Option<Vec<u8>>,
    save_to: Option<crate::files::OutFile>,
) -> anyhow::Result<OutlierDetector> {
    let args = &cli.outliers;
    let mut cfg = args.config(cli.detect.alert_update, !live);
    cfg.save_to = save_to;
    let mut train_ms = None;
    let model = match (baseline, model_bytes) {
        (Some(mut source), _) => {
            let name = source.name().to_string();
            let mut failed = None;
            let packets = std::iter::from_fn(|| match source.next_frame() {
                Ok(Next::Frame(frame)) => Some(crate::decode::decode(&frame)),
                Ok(_) => None,
                Err(e) => {
                    failed = Some(e);
                    None
                }
            });
            let started = std::time::Instant::now();
            let learned = crate::detect::outlier::learn_from(packets, &cfg);
            train_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
            if let Some(e) = failed {
                bail!("--baseline: {e}");
            }
            let model = learned.map_err(|e| anyhow::anyhow!("--baseline {name}: {e}"))?;
            if let Some(out) = &cfg.save_to {
                model.save(out).map_err(|e| anyhow::anyhow!("--model: {e}"))?;
            }
            cfg.learned_from = format!("baseline {name} ({} host windows)", model.trained_on);
            Some(model)
        }
        (None, Some(bytes)) => {
            let path = args.model.as_deref().map(|p| p.display().to_string()).unwrap_or_default();
            let model = Model::from_json(&bytes).map_err(|e| anyhow::anyhow!("--model {path}: {e}"))?;
            if (model.window_secs - args.outlier_window as f64).abs() > f64::EPSILON {
                bail!(
                    "--model {path}: trained on {} s windows; run with --outlier-window {}",
                    model.window_secs,
                    model.window_secs
                );
            }
            cfg.learned_from = format!("model {path} ({} host windows)", model.trained_on);
            Some(model)
        }
        (None, None) => None,
    };
    let detector = OutlierDetector::new(cfg, model);
    Ok(match train_ms {
        Some(ms) => detector.trained_here(ms),
        None => detector,
    })
}
