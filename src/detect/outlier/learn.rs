//! Learning from a stream of host windows: a seeded reservoir of them, and a model
//! trained on a whole capture of normal traffic (`--baseline`).

use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::{RngCore, SeedableRng};

use super::{MAX_HOSTS, Model, OutlierConfig, TRAIN_MAX, model};
use crate::decode::PacketMeta;
use crate::detect::features::{FeatureBuilder, Vector};

/// A seeded reservoir sample of at most [`TRAIN_MAX`] vectors: every vector offered has
/// the same chance to be kept, however many there are.
pub(super) struct Reservoir {
    pub(super) kept: Vec<Vector>,
    seen: u64,
    rng: Xoshiro256PlusPlus,
}

impl Reservoir {
    pub(super) fn new(seed: u64) -> Self {
        Reservoir { kept: Vec::new(), seen: 0, rng: Xoshiro256PlusPlus::seed_from_u64(seed) }
    }

    pub(super) fn offer(&mut self, v: Vector) {
        self.seen += 1;
        if self.kept.len() < TRAIN_MAX {
            self.kept.push(v);
        } else {
            let j = (u128::from(self.rng.next_u64()) * u128::from(self.seen)) >> 64;
            if let Some(slot) = self.kept.get_mut(j as usize) {
                *slot = v;
            }
        }
    }
}

/// Trains a model on the windows of `packets` (a capture of normal traffic, `--baseline`).
pub fn learn_from(
    packets: impl IntoIterator<Item = PacketMeta>,
    cfg: &OutlierConfig,
) -> Result<Model, model::TrainError> {
    let mut features = FeatureBuilder::new(cfg.window, MAX_HOSTS);
    let mut reservoir = Reservoir::new(cfg.train.seed);
    for m in packets {
        for hf in features.observe(&m).into_iter().flatten() {
            reservoir.offer(hf.values);
        }
    }
    Model::train(&reservoir.kept, cfg.window_secs(), &cfg.train)
}
