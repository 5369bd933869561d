//! The learned picture of normal: scaling, an Isolation Forest, linfa's K-means
//! behaviour clusters, and what is typical in each cluster.
//!
//! Figures are rates and counts with long tails, so each is first squashed with
//! `ln(1 + x)` (a tenfold change is a step of about 2.3 whatever the size) and then
//! centred on its median and divided by its spread (interquartile range), robust to the
//! outliers the model is there to find.

use std::path::Path;

use linfa::DatasetBase;
use linfa::traits::{Fit, Predict};
use linfa_clustering::{KMeans, KMeansInit};
use linfa_nn::distance::L2Dist;
use ndarray::{Array2, ArrayView1};
use rand_xoshiro::Xoshiro256Plus;
use rand_xoshiro::rand_core::SeedableRng;
use serde::{Deserialize, Serialize};

use super::forest::Forest;
use crate::detect::features::{DIM, FEATURES, N, Vector};

/// What a model file says it is.
const FORMAT: &str = "ntop-rs outlier model";
/// Bumped whenever the figures or the file layout change.
const VERSION: u32 = 1;
/// Smallest spread used for a figure, in squashed units (about a factor of 1.4): a
/// figure that never varied in training is not unusual for every tiny change.
const MIN_SPREAD: f64 = 0.35;
/// Fewest vectors worth training on.
pub const MIN_VECTORS: usize = 16;
/// Most vectors K-means is fitted on (evenly spaced over the training set).
const KMEANS_MAX: usize = 20_000;
/// The share of training scores under the learned threshold.
const THRESHOLD_QUANTILE: f64 = 0.98;

/// `ln(1 + x)` of a non-negative figure.
pub fn squash(x: f64) -> f64 {
    x.max(0.0).ln_1p()
}

/// Median-and-spread scaling of squashed figures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scaler {
    /// Median of each squashed figure.
    pub center: Vec<f64>,
    /// Spread of each squashed figure (IQR / 1.349, at least [`MIN_SPREAD`]).
    pub scale: Vec<f64>,
}

impl Scaler {
    /// Learns medians and spreads from raw vectors.
    pub fn fit(raw: &[Vector]) -> Scaler {
        let (mut center, mut scale) = (Vec::with_capacity(DIM), Vec::with_capacity(DIM));
        sorted_columns(raw.iter(), |column| {
            center.push(quantile(column, 0.5));
            scale.push(((quantile(column, 0.75) - quantile(column, 0.25)) / 1.349).max(MIN_SPREAD));
        });
        Scaler { center, scale }
    }

    /// The scaled form of a raw vector.
    pub fn transform(&self, raw: &Vector) -> Vector {
        std::array::from_fn(|f| (squash(raw[f]) - self.center[f]) / self.scale[f])
    }
}

/// Calls `each` with every figure's squashed values over `rows`, sorted, in figure order.
fn sorted_columns<'a>(rows: impl Iterator<Item = &'a Vector> + Clone, mut each: impl FnMut(&[f64])) {
    let mut column = Vec::new();
    for f in 0..DIM {
        column.clear();
        column.extend(rows.clone().map(|v| squash(v[f])));
        column.sort_by(f64::total_cmp);
        each(&column);
    }
}

/// `q` quantile of sorted values (linear between neighbours); 0 for none.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => 0.0,
        n => {
            let at = q.clamp(0.0, 1.0) * (n - 1) as f64;
            let (lo, hi) = (at.floor() as usize, at.ceil() as usize);
            sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo as f64)
        }
    }
}

/// What is typical in one cluster: per figure, the median and spread of its squashed value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// Training vectors in the cluster.
    pub size: usize,
    /// Median squashed figure.
    pub median: Vec<f64>,
    /// Spread (1.4826 × median absolute deviation, at least [`MIN_SPREAD`]).
    pub spread: Vec<f64>,
}

impl Profile {
    fn of(raw: &[&Vector]) -> Profile {
        let mut median = Vec::with_capacity(DIM);
        let mut spread = Vec::with_capacity(DIM);
        sorted_columns(raw.iter().copied(), |column| {
            let m = quantile(column, 0.5);
            let mut dev: Vec<f64> = column.iter().map(|x| (x - m).abs()).collect();
            dev.sort_by(f64::total_cmp);
            median.push(m);
            spread.push((1.4826 * quantile(&dev, 0.5)).max(MIN_SPREAD));
        });
        Profile { size: raw.len(), median, spread }
    }

    /// The typical raw value of figure `f`.
    pub fn typical(&self, f: usize) -> f64 {
        self.median[f].exp_m1()
    }

    /// How many spreads `raw` is from typical on figure `f` (signed).
    pub fn deviation(&self, f: usize, raw: f64) -> f64 {
        (squash(raw) - self.median[f]) / self.spread[f]
    }
}

/// Training settings.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    /// Trees in the forest.
    pub trees: usize,
    /// Points per tree.
    pub sample: usize,
    /// Behaviour clusters (fewer when the data has fewer distinct vectors).
    pub clusters: usize,
    /// Seed of every random choice.
    pub seed: u64,
    /// Outlier score threshold; `None` learns it from the training scores.
    pub threshold: Option<f64>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig { trees: 100, sample: 256, clusters: 4, seed: 0x6e74_6f70_2d72_7321, threshold: None }
    }
}

/// Why no model could be trained.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Too little to learn from.
    #[error("only {0} host windows to learn from (at least {MIN_VECTORS} needed)")]
    TooFew(usize),
    /// K-means failed.
    #[error("clustering failed: {0}")]
    Clusters(String),
}

/// Why a model file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ModelFileError {
    /// Reading or writing failed.
    #[error("{0}")]
    Io(String),
    /// Not a model, or a model of another version.
    #[error("not an ntop-rs outlier model of this version ({0})")]
    Format(String),
}

/// A trained model.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Model {
    format: String,
    version: u32,
    /// Figure names, in vector order (short then long horizon).
    features: Vec<String>,
    /// Seconds of packet time per window the vectors were built over.
    pub window_secs: f64,
    /// Vectors trained on.
    pub trained_on: usize,
    /// Seed used.
    pub seed: u64,
    /// Scaling of the figures.
    pub scaler: Scaler,
    forest: Forest,
    kmeans: KMeans<f64, L2Dist>,
    /// K-means label → cluster number (clusters are numbered by traffic, quietest first).
    order: Vec<u8>,
    /// What is typical per cluster, by cluster number.
    pub profiles: Vec<Profile>,
    /// Scores at or above this are outliers.
    pub threshold: f64,
}

/// What the model says of one vector.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    /// Isolation Forest score.
    pub score: f64,
    /// Nearest behaviour cluster.
    pub cluster: u8,
    /// The cluster nearest on the long-horizon figures alone: what kind of host this has
    /// been over the last minute or so, which a sudden change hardly moves.
    pub usual: u8,
}

/// The name of figure `i` of a vector: its [`FEATURES`] name, with `_long` for the long
/// horizon.
pub fn feature_name(i: usize) -> String {
    let base = FEATURES[i % N];
    if i < N { base.to_string() } else { format!("{base}_long") }
}

/// The names of all [`DIM`] figures: the short horizon, then the same with `_long`.
pub fn feature_names() -> Vec<String> {
    (0..DIM).map(feature_name).collect()
}

impl Model {
    /// Trains on `raw` vectors (one per host and window) of `window_secs` windows.
    pub fn train(raw: &[Vector], window_secs: f64, cfg: &TrainConfig) -> Result<Model, TrainError> {
        if raw.len() < MIN_VECTORS {
            return Err(TrainError::TooFew(raw.len()));
        }
        let scaler = Scaler::fit(raw);
        let mut scaled = Array2::zeros((raw.len(), DIM));
        for (r, v) in raw.iter().enumerate() {
            scaled.row_mut(r).assign(&ArrayView1::from(&scaler.transform(v)[..]));
        }
        let forest = Forest::fit(scaled.view(), cfg.trees, cfg.sample, cfg.seed);

        // K-means on an evenly spaced subset, with as many clusters as distinct points allow.
        let step = raw.len().div_ceil(KMEANS_MAX);
        let subset = scaled.slice(ndarray::s![..;step, ..]).to_owned();
        let mut distinct: Vec<Vec<u64>> =
            subset.rows().into_iter().map(|r| r.iter().map(|x| x.to_bits()).collect()).collect();
        distinct.sort_unstable();
        distinct.dedup();
        let k = cfg.clusters.clamp(1, distinct.len().min(usize::from(u8::MAX)));
        let kmeans = KMeans::params_with_rng(k, Xoshiro256Plus::seed_from_u64(cfg.seed))
            .init_method(KMeansInit::KMeansPlusPlus)
            .n_runs(4)
            .max_n_iterations(100)
            .tolerance(1e-4)
            .fit(&DatasetBase::from(subset))
            .map_err(|e| TrainError::Clusters(e.to_string()))?;
        let labels = kmeans.predict(&scaled);

        // Number clusters by traffic (packets in and out per second), quietest first.
        let volume = |c: usize| {
            let centroid = kmeans.centroids().row(c);
            centroid[0] * scaler.scale[0] + centroid[1] * scaler.scale[1]
        };
        let mut by_volume: Vec<usize> = (0..k).collect();
        by_volume.sort_by(|&a, &b| volume(a).total_cmp(&volume(b)).then(a.cmp(&b)));
        let mut order = vec![0u8; k];
        for (number, &label) in by_volume.iter().enumerate() {
            order[label] = number as u8;
        }
        let mut members: Vec<Vec<&Vector>> = vec![Vec::new(); k];
        for (v, &label) in raw.iter().zip(labels.iter()) {
            members[usize::from(order[label])].push(v);
        }
        let profiles = members.iter().map(|m| Profile::of(m)).collect();

        let mut scores: Vec<f64> =
            scaled.rows().into_iter().map(|r| forest.score(r.as_slice().unwrap_or(&[]))).collect();
        scores.sort_by(f64::total_cmp);
        let threshold = cfg.threshold.unwrap_or_else(|| learned_threshold(&scores));
        Ok(Model {
            format: FORMAT.into(),
            version: VERSION,
            features: feature_names(),
            window_secs,
            trained_on: raw.len(),
            seed: cfg.seed,
            scaler,
            forest,
            kmeans,
            order,
            profiles,
            threshold,
        })
    }

    /// Scores one raw vector and finds its cluster.
    pub fn assess(&self, raw: &Vector) -> Verdict {
        let scaled = self.scaler.transform(raw);
        let score = self.forest.score(&scaled);
        let label: usize = self.kmeans.predict(&ArrayView1::from(&scaled[..]));
        let centroids = self.kmeans.centroids();
        let long_distance = |c: usize| -> f64 { (N..DIM).map(|f| (centroids[[c, f]] - scaled[f]).powi(2)).sum() };
        let usual = (0..centroids.nrows()).min_by(|&a, &b| long_distance(a).total_cmp(&long_distance(b))).unwrap_or(0);
        let number = |label: usize| self.order.get(label).copied().unwrap_or(0);
        Verdict { score, cluster: number(label), usual: number(usual) }
    }

    /// Number of behaviour clusters.
    pub fn clusters(&self) -> usize {
        self.profiles.len()
    }

    /// Writes the model as JSON, atomically (a sensor never loads half a file).
    pub fn save(&self, out: &crate::files::OutFile) -> Result<(), ModelFileError> {
        let text = serde_json::to_string(self).map_err(|e| ModelFileError::Io(e.to_string()))?;
        out.replace(text.as_bytes()).map(|_| ()).map_err(|e| ModelFileError::Io(e.to_string()))
    }

    /// Reads a model written by [`Model::save`].
    pub fn load(path: &Path) -> Result<Model, ModelFileError> {
        Self::from_json(&Self::read_file(path)?)
    }

    /// The bytes of a model file (at most 256 MB), to parse later with [`Model::from_json`].
    pub fn read_file(path: &Path) -> Result<Vec<u8>, ModelFileError> {
        use std::io::Read;
        /// Far beyond any model this build writes (a few MB), so a huge file is refused
        /// before it is read into memory.
        const MAX_BYTES: u64 = 256 << 20;
        let cannot =
            |e: std::io::Error| ModelFileError::Io(format!("cannot read {}: {}", path.display(), io_reason(&e)));
        let mut text = Vec::new();
        std::fs::File::open(path).and_then(|f| f.take(MAX_BYTES + 1).read_to_end(&mut text)).map_err(cannot)?;
        if text.len() as u64 > MAX_BYTES {
            return Err(ModelFileError::Format(format!("larger than {} MB", MAX_BYTES >> 20)));
        }
        Ok(text)
    }

    /// Reads a model from the bytes of a file written by [`Model::save`], checking every
    /// size and link before it is used.
    pub fn from_json(text: &[u8]) -> Result<Model, ModelFileError> {
        let model: Model = serde_json::from_slice(text).map_err(|e| ModelFileError::Format(e.to_string()))?;
        if model.format != FORMAT || model.version != VERSION {
            return Err(ModelFileError::Format(format!("{} version {}", model.format, model.version)));
        }
        if model.features != feature_names() {
            return Err(ModelFileError::Format("its figures differ from this build's".into()));
        }
        let k = model.kmeans.centroids().nrows();
        let consistent = model.scaler.center.len() == DIM
            && model.scaler.scale.len() == DIM
            && model.kmeans.centroids().ncols() == DIM
            && model.order.len() == k
            && model.profiles.len() == k
            && model.order.iter().all(|&c| usize::from(c) < k)
            && model.profiles.iter().all(|p| p.median.len() == DIM && p.spread.len() == DIM)
            && model.scaler.scale.iter().chain(model.profiles.iter().flat_map(|p| &p.spread)).all(|s| *s > 0.0);
        if !consistent {
            return Err(ModelFileError::Format("inconsistent sizes".into()));
        }
        model.forest.validate(DIM).map_err(|e| ModelFileError::Format(format!("its forest: {e}")))?;
        Ok(model)
    }
}

fn io_reason(e: &std::io::Error) -> String {
    crate::files::io_reason(e)
}

/// The score above which a vector is an outlier, from the training scores (sorted): the
/// [`THRESHOLD_QUANTILE`] of what was learned, never below 0.6 (the textbook "clearly
/// anomalous" line). A score alone never alerts: the figures must also be unusual for
/// the host's kind and new for the host, so the score only has to pick out the least
/// usual few windows, not rule out everything benign. A percentile below the top one
/// also keeps a small training set's single busiest window from setting the bar.
fn learned_threshold(sorted: &[f64]) -> f64 {
    quantile(sorted, THRESHOLD_QUANTILE).max(0.6)
}
