//! The detectors a run uses, built from the flags and what [`super::open`] opened.

use std::sync::{Arc, Mutex};

use anyhow::bail;

use super::open::{Input, Opened};
use crate::capture::{Next, PacketRing, PacketSource};
use crate::cli::Cli;
use crate::detect::Detectors;
use crate::detect::outlier::{Model, OutlierDetector, SharedOutliers};
use crate::files::OutDir;

/// The detectors that run (scans and sweeps, floods and spikes, outliers; none with
/// --no-detect), writing their reports to `--alerts` if asked, and each ended incident's
/// pcap to `--dump-alerts` from `ring`; the outlier detector's shared view (host clusters
/// and model status) when it runs; and the input, handed back.
pub fn build(
    cli: &Cli,
    opened: Opened,
    ring: Option<Arc<Mutex<PacketRing>>>,
    headless: bool,
) -> anyhow::Result<(Detectors, Option<SharedOutliers>, Input)> {
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
    let mut set = Detectors::new(list);
    if let (Some(dir), Some(ring)) = (opened.dump_alerts, ring) {
        set = set.with_hook(Box::new(move |alert| dump_ended_alert(alert, &ring, &dir, headless)));
    }
    if let Some(sink) = opened.alerts {
        set = set.with_sink(sink);
    }
    Ok((set, shared, opened.input))
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

/// `--dump-alerts`: when an incident ends, writes its pcap and notes the file (or the
/// failure) in its evidence as `pcap` (or `pcap_error`).
fn dump_ended_alert(alert: &mut crate::detect::Alert, ring: &Mutex<PacketRing>, dir: &OutDir, headless: bool) {
    if alert.state != crate::detect::AlertState::End {
        return;
    }
    let result = match ring.lock() {
        Ok(ring) => crate::export::dump::write_alert(&ring, alert, dir).map_err(|e| e.to_string()),
        Err(_) => Err("the packet ring is unavailable".to_string()),
    };
    let Some(evidence) = alert.evidence.as_object_mut() else { return };
    match result {
        Ok(d) => {
            evidence.insert("pcap".into(), d.path.display().to_string().into());
        }
        Err(e) => {
            if headless {
                super::warn_line(&format!("alert {} pcap: {e}", alert.id));
            }
            evidence.insert("pcap_error".into(), e.into());
        }
    }
}
