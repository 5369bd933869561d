//! The outlier detector's settings and what it publishes: its status (for the summary
//! and the TUI) and each host's latest behaviour cluster.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use serde::Serialize;

use super::TrainConfig;
use crate::hash::Map;
use crate::packet::{NANOS_PER_SEC, Nanos};

/// Outlier detector settings.
#[derive(Clone, Debug)]
pub struct OutlierConfig {
    /// Packet time per feature window.
    pub window: Nanos,
    /// Packet time learned from before the first model (when none is given).
    pub learn: Nanos,
    /// Packet time between retrainings (0: never).
    pub retrain: Nanos,
    /// Model training settings.
    pub train: TrainConfig,
    /// How many spreads above typical a figure must be to make a host unusual.
    pub min_deviation: f64,
    /// Rate limit of updates.
    pub update_every: Nanos,
    /// An incident ends after this long without an outlying window.
    pub quiet: Nanos,
    /// On a file, adopt a new model at a fixed packet time, waiting for training if
    /// needed (reproducible); live, adopt it when ready (never waits).
    pub wait_for_training: bool,
    /// Save every trained model here (`--model`).
    pub save_to: Option<crate::files::OutFile>,
    /// Where the first model came from, in words (for the status).
    pub learned_from: String,
}

impl OutlierConfig {
    /// Seconds of packet time per window.
    pub fn window_secs(&self) -> f64 {
        self.window as f64 / NANOS_PER_SEC as f64
    }
}

impl Default for OutlierConfig {
    fn default() -> Self {
        OutlierConfig {
            window: 5 * NANOS_PER_SEC,
            learn: 120 * NANOS_PER_SEC,
            retrain: 600 * NANOS_PER_SEC,
            train: TrainConfig::default(),
            min_deviation: 4.0,
            update_every: 5 * NANOS_PER_SEC,
            quiet: 30 * NANOS_PER_SEC,
            wait_for_training: true,
            save_to: None,
            learned_from: String::new(),
        }
    }
}

/// How far the detector is, for the summary and the TUI.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct OutlierStatus {
    /// `learning`, `training` or `ready`.
    pub state: &'static str,
    /// What the model in use learned from.
    pub learned_from: String,
    /// Host windows the model in use was trained on.
    pub trained_on: usize,
    /// Its outlier score threshold.
    pub threshold: f64,
    /// Its number of behaviour clusters.
    pub clusters: usize,
    /// Wall time the last training took, in milliseconds.
    pub train_ms: f64,
    /// Models trained during the run.
    pub trainings: u32,
    /// The last training or model-saving problem, if any.
    pub error: Option<String>,
}

/// What the outlier detector shares with the rest: each host's latest behaviour cluster
/// and the model's status. Refreshed once a window.
#[derive(Clone, Debug, Default)]
pub struct OutlierView {
    /// Latest cluster of each host scored.
    pub clusters: Map<IpAddr, u8>,
    /// The latest scaled behaviour vector of up to [`BEHAVIOUR_HOSTS`] hosts scored (the
    /// report's map of hosts), with its score.
    pub behaviour: Map<IpAddr, (Vec<f32>, f32)>,
    /// The model's status.
    pub status: OutlierStatus,
}

/// Most hosts whose behaviour vectors [`OutlierView::behaviour`] holds.
pub const BEHAVIOUR_HOSTS: usize = 2000;

/// A handle on the shared [`OutlierView`].
pub type SharedOutliers = Arc<Mutex<OutlierView>>;
