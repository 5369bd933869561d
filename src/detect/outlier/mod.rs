//! The outlier detector: learns what normal host behaviour looks like and flags the
//! hosts that are unlike it, in words.
//!
//! Every window of packet time (5 s by default) [`FeatureBuilder`] gives one vector per
//! active host. During the first `learn` of packet time the vectors are kept (a seeded
//! reservoir sample); then a [`Model`] is trained on them in the background: an
//! Isolation Forest for the score and linfa's K-means for behaviour clusters. From then
//! on every vector is scored at the window boundary (never per packet). A vector is an
//! outlier when its score reaches the model's threshold *and* at least one of its
//! figures is far above what is typical for hosts of its usual cluster (the cluster its
//! minute-long averages are nearest, so a sudden change is judged against the host's
//! own recent kind) *and* well beyond the host's own routine ([`History`]: what it did
//! in at least two windows lately), so a host repeating what it does is not an outlier
//! because its kind seldom does it. Those figures are what the alert says ("312
//! distinct ports, typical 3").
//!
//! Retraining runs every `retrain` of packet time on recent windows, leaving out hosts
//! with an open outlier incident and the windows that were outliers. Training is on its
//! own thread; the detector goes on scoring with the old model meanwhile. On a file the
//! new model takes over exactly one window after it was asked for (waiting for it if
//! need be, as a file waits rather than drops everywhere in the pipeline), so a replay
//! always gives the same alerts; live, it takes over as soon as it is ready.

mod config;
pub mod forest;
mod history;
mod learn;
pub mod model;
mod words;

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Arc;

use crate::hash::Map;
use crossbeam_channel::Receiver;

use super::evidence::{Figures, OutlierFigures, UnusualFigure};
use super::features::{FeatureBuilder, HostFeatures, Vector};
use super::{Alert, AlertKind, AlertProto, Book, Detector, IncidentKey, Severity};
use crate::decode::PacketMeta;
use crate::packet::Nanos;
pub use config::{BEHAVIOUR_HOSTS, OutlierConfig, OutlierStatus, OutlierView, SharedOutliers};
use history::History;
use learn::Reservoir;
pub use learn::learn_from;
use model::feature_name;
pub use model::{Model, TrainConfig};

/// Most vectors kept for training (learning reservoir, and recent windows for retraining).
const TRAIN_MAX: usize = 50_000;
/// Most hosts tracked at once (features, usual clusters).
const MAX_HOSTS: usize = 16_384;
/// Unusual figures named in an alert.
const NAMED: usize = 3;

/// A trained model and what training it cost.
struct Trained {
    model: Model,
    millis: f64,
    save_error: Option<String>,
}

/// A training job under way.
struct Pending {
    /// On a file: the packet time at which its model takes over.
    adopt_at: Nanos,
    result: Receiver<Result<Trained, String>>,
}

/// The outlier detector.
pub struct OutlierDetector {
    cfg: OutlierConfig,
    features: FeatureBuilder,
    model: Option<Arc<Model>>,
    /// Learning: packet time learning ends, and the reservoir of vectors so far.
    learn_until: Option<Nanos>,
    learning: Reservoir,
    /// Recent ordinary windows, for retraining.
    recent: VecDeque<(IpAddr, Vector)>,
    next_retrain: Option<Nanos>,
    pending: Option<Pending>,
    book: Book,
    /// Windows and packets per open incident's host.
    tallies: Map<IpAddr, (u64, u64, f64)>,
    shared: SharedOutliers,
    status: OutlierStatus,
    clusters: Map<IpAddr, u8>,
    /// Behaviour vectors for the shared view (capped at [`BEHAVIOUR_HOSTS`]).
    behaviour: Map<IpAddr, (Vec<f32>, f32)>,
    /// What each host itself does routinely.
    history: History,
}

impl OutlierDetector {
    /// A detector that learns its first model from the traffic (or starts with `model`).
    pub fn new(cfg: OutlierConfig, model: Option<Model>) -> Self {
        let status = OutlierStatus {
            state: if model.is_some() { "ready" } else { "learning" },
            learned_from: cfg.learned_from.clone(),
            ..OutlierStatus::default()
        };
        let mut d = OutlierDetector {
            features: FeatureBuilder::new(cfg.window, MAX_HOSTS),
            model: None,
            learn_until: None,
            learning: Reservoir::new(cfg.train.seed),
            recent: VecDeque::new(),
            next_retrain: None,
            pending: None,
            book: Book::new(cfg.update_every, cfg.quiet),
            tallies: Map::default(),
            shared: SharedOutliers::default(),
            status,
            clusters: Map::default(),
            behaviour: Map::default(),
            history: History::new(MAX_HOSTS),
            cfg,
        };
        if let Some(m) = model {
            d.adopt(m);
        }
        d
    }

    /// Notes that `model` (given to [`OutlierDetector::new`]) was trained in this run,
    /// in `millis` of wall time (`--baseline`).
    pub fn trained_here(mut self, millis: f64) -> Self {
        self.status.train_ms = millis;
        self.status.trainings += 1;
        self
    }

    /// The shared view of clusters and status.
    pub fn shared(&self) -> SharedOutliers {
        Arc::clone(&self.shared)
    }

    fn adopt(&mut self, model: Model) {
        self.status.trained_on = model.trained_on;
        self.status.threshold = model.threshold;
        self.status.clusters = model.clusters();
        self.status.state = "ready";
        self.model = Some(Arc::new(model));
    }

    /// A window ended at `now` with these vectors.
    fn window_closed(&mut self, now: Nanos, vectors: Vec<HostFeatures>, out: &mut Vec<Alert>) {
        self.collect_training(now);
        match self.model.clone() {
            None => self.learn(now, vectors),
            Some(model) => {
                self.score(now, &model, &vectors, out);
                self.maybe_retrain(now);
            }
        }
        self.publish();
    }

    /// Takes in a finished training, if one is due (file) or ready (live).
    fn collect_training(&mut self, now: Nanos) {
        let Some(p) = &self.pending else { return };
        let result = if self.cfg.wait_for_training {
            if now < p.adopt_at {
                return;
            }
            p.result.recv().map_err(|_| "the training thread died".to_string())
        } else {
            match p.result.try_recv() {
                Ok(r) => Ok(r),
                Err(crossbeam_channel::TryRecvError::Empty) => return,
                Err(crossbeam_channel::TryRecvError::Disconnected) => Err("the training thread died".to_string()),
            }
        };
        self.pending = None;
        match result.and_then(|r| r) {
            Ok(trained) => {
                self.status.train_ms = trained.millis;
                self.status.trainings += 1;
                self.status.error = trained.save_error;
                // A retraining (of a learned or a loaded model) learned from this traffic.
                if self.model.is_some() || self.status.learned_from.is_empty() {
                    self.status.learned_from = format!("{} host windows of this traffic", trained.model.trained_on);
                }
                self.adopt(trained.model);
            }
            Err(e) => {
                self.status.error = Some(e);
                if self.model.is_none() {
                    self.status.state = "learning";
                }
            }
        }
    }

    fn learn(&mut self, now: Nanos, vectors: Vec<HostFeatures>) {
        for hf in vectors {
            self.history.note(hf.host, now, &hf.values, |_| false);
            self.learning.offer(hf.values);
        }
        let done = self.learn_until.is_some_and(|until| now >= until);
        if done && self.pending.is_none() && self.learning.kept.len() >= model::MIN_VECTORS {
            // A fresh reservoir, should training fail and learning go on.
            let vectors = std::mem::replace(&mut self.learning, Reservoir::new(self.cfg.train.seed)).kept;
            self.status.state = "training";
            self.train(now, vectors);
        }
    }

    fn maybe_retrain(&mut self, now: Nanos) {
        if self.cfg.retrain == 0 || self.pending.is_some() {
            return;
        }
        let due = *self.next_retrain.get_or_insert(now + self.cfg.retrain);
        if now < due {
            return;
        }
        self.next_retrain = Some(now + self.cfg.retrain);
        let alerted = |ip: &IpAddr| self.tallies.contains_key(ip);
        let vectors: Vec<Vector> = self.recent.iter().filter(|(ip, _)| !alerted(ip)).map(|(_, v)| *v).collect();
        if vectors.len() >= model::MIN_VECTORS {
            self.train(now, vectors);
        }
    }

    /// Starts training on its own thread.
    fn train(&mut self, now: Nanos, vectors: Vec<Vector>) {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let (window_secs, cfg, save_to) = (self.cfg.window_secs(), self.cfg.train.clone(), self.cfg.save_to.clone());
        let job = move || {
            let started = std::time::Instant::now();
            let result = Model::train(&vectors, window_secs, &cfg).map_err(|e| e.to_string()).map(|model| {
                let millis = started.elapsed().as_secs_f64() * 1000.0;
                let save_error = save_to.and_then(|f| model.save(&f).err()).map(|e| format!("--model: {e}"));
                Trained { model, millis, save_error }
            });
            let _ = tx.send(result);
        };
        if let Err(e) = std::thread::Builder::new().name("ntop-train".into()).spawn(job) {
            self.status.error = Some(format!("cannot start training: {e}"));
            return;
        }
        self.pending = Some(Pending { adopt_at: now + self.cfg.window, result: rx });
    }

    fn score(&mut self, now: Nanos, model: &Model, vectors: &[HostFeatures], out: &mut Vec<Alert>) {
        let secs = self.cfg.window_secs();
        if self.clusters.len() > MAX_HOSTS {
            self.clusters.clear();
        }
        for hf in vectors {
            let verdict = model.assess(&hf.values);
            self.clusters.insert(hf.host, verdict.cluster);
            if self.behaviour.len() < BEHAVIOUR_HOSTS || self.behaviour.contains_key(&hf.host) {
                let scaled = model.scaler.transform(&hf.values).iter().map(|&v| v as f32).collect();
                self.behaviour.insert(hf.host, (scaled, verdict.score as f32));
            }
            let usual = verdict.usual;
            // Figures unusual for the host's kind and new for the host: never taken into
            // its routine, and what an alert names when the score is high enough.
            let far = words::far_above(model, usual, &hf.values, self.cfg.min_deviation, |f, value| {
                self.history.is_new(&hf.host, f, value, now)
            });
            self.history.note(hf.host, now, &hf.values, |f| far.iter().any(|u| u.feature == f));
            let unusual = if verdict.score >= model.threshold { words::named(&far) } else { Vec::new() };
            if unusual.is_empty() {
                if !self.tallies.contains_key(&hf.host) && self.cfg.retrain > 0 {
                    if self.recent.len() == TRAIN_MAX {
                        self.recent.pop_front();
                    }
                    self.recent.push_back((hf.host, hf.values));
                }
                continue;
            }
            let packets = ((hf.values[0] + hf.values[1]) * secs).round() as u64;
            let tally = self.tallies.entry(hf.host).or_insert((0, 0, 0.0));
            tally.0 += 1;
            tally.1 += packets;
            tally.2 = tally.2.max(verdict.score);
            let (windows, packets, top_score) = *tally;
            let key = IncidentKey {
                kind: AlertKind::Outlier,
                src: Some(hf.host),
                dst: None,
                proto: AlertProto::Ip,
                port: None,
            };
            let texts: Vec<String> = unusual.iter().map(|u| words::describe(u, secs)).collect();
            let threshold = model.threshold;
            let routine = |f: usize| self.history.routine(&hf.host, f, now);
            // The incident covers the whole window that showed it (its pcap too).
            let window_start = self.features.closed_start();
            self.book.observe(
                key,
                now,
                |a| {
                    a.first_ts = a.first_ts.min(window_start);
                    a.packets = packets;
                    a.severity = if top_score >= threshold + 0.1 { Severity::Medium } else { Severity::Low };
                    a.summary = format!("{} is unlike what was learned: {}", hf.host, texts.join("; "));
                    a.evidence.figures = Figures::Outlier(OutlierFigures {
                        score: round3(verdict.score),
                        max_score: round3(top_score),
                        threshold: round3(threshold),
                        cluster: verdict.cluster,
                        usual_cluster: usual,
                        windows,
                        window_secs: secs,
                        unusual: unusual
                            .iter()
                            .zip(&texts)
                            .map(|(u, text)| UnusualFigure {
                                feature: feature_name(u.feature),
                                value: round3(u.value),
                                typical: round3(u.typical),
                                deviation: round3(u.deviation),
                                host_routine: routine(u.feature).map(round3),
                                text: text.clone(),
                            })
                            .collect(),
                    });
                },
                out,
            );
        }
    }

    fn publish(&mut self) {
        if let Ok(mut view) = self.shared.lock() {
            view.clusters.clone_from(&self.clusters);
            view.behaviour.clone_from(&self.behaviour);
            view.status.clone_from(&self.status);
        }
    }

    /// Forgets the tallies of hosts whose incident just ended.
    fn forget_ended(&mut self, out: &[Alert], from: usize) {
        for a in &out[from..] {
            if a.state == super::AlertState::End
                && let Some(ip) = a.src
            {
                self.tallies.remove(&ip);
            }
        }
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

impl Detector for OutlierDetector {
    fn name(&self) -> &'static str {
        "outlier"
    }

    fn observe(&mut self, meta: &PacketMeta, _tuples: &crate::detect::Tuples, out: &mut Vec<Alert>) {
        if self.learn_until.is_none() {
            self.learn_until = Some(meta.ts + self.cfg.learn);
            self.publish();
        }
        if let Some(vectors) = self.features.observe(meta) {
            self.window_closed(meta.ts, vectors, out);
        }
    }

    fn prefetch(&self, meta: &PacketMeta, _tuples: &crate::detect::Tuples) {
        self.features.prefetch(meta);
    }

    fn tick(&mut self, now: Nanos, out: &mut Vec<Alert>) {
        let from = out.len();
        self.book.tick(now, out);
        self.forget_ended(out, from);
    }

    fn finish(&mut self, now: Nanos, out: &mut Vec<Alert>) {
        // On a file, a training under way still counts (its status shows in the summary).
        if self.cfg.wait_for_training
            && let Some(p) = &mut self.pending
        {
            p.adopt_at = p.adopt_at.min(now);
            self.collect_training(now);
        }
        let from = out.len();
        self.book.finish(now, out);
        self.forget_ended(out, from);
        self.publish();
    }
}

#[cfg(test)]
mod tests;
