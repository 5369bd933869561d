//! Isolation Forest (Liu, Ting and Zhou, ICDM 2008), the outlier score that Zeek
//! scripts, ntopng and scikit-learn users know.
//!
//! Each tree splits a random subsample on a random figure at a random value until every
//! point stands alone (or a depth limit). Points unlike the rest are isolated in few
//! splits, so the mean path length over the trees gives the score
//! `2^(-E[h(x)] / c(ψ))`: near 1 for outliers, about 0.5 or less for ordinary points.
//! Randomness comes from one seed, so the same data always gives the same forest.
//!
//! One change from the paper: a node remembers the range its points spanned on the
//! figure it splits, and a point more than [`MARGIN`] beyond that range is isolated at
//! that node. The plain forest cannot tell "a little beyond the busiest host ever seen"
//! from "a thousand times beyond": both follow the busiest host's path. With the range
//! check, a point far outside what was learned is isolated near the root and scores
//! close to 1, while points within what was learned score as before.

use ndarray::ArrayView2;
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::{RngCore, SeedableRng};
use serde::{Deserialize, Serialize};

/// Marks a leaf in [`Tree::feature`].
const LEAF: u16 = u16::MAX;
/// How far beyond a node's range (in scaled units, that is spreads) a point must be to
/// be isolated there.
pub const MARGIN: f64 = 1.0;

/// One tree, nodes in pre-order: a split's left child is the next node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Tree {
    /// The figure a node splits on, or [`LEAF`].
    feature: Vec<u16>,
    /// A split's value (left is `x < value`); a leaf's number of training points.
    value: Vec<f64>,
    /// A split's right child.
    right: Vec<u32>,
    /// A split's range of its points on its figure.
    lo: Vec<f64>,
    hi: Vec<f64>,
}

/// A trained forest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Forest {
    trees: Vec<Tree>,
    /// Points per tree (ψ).
    sample: usize,
}

impl Forest {
    /// Grows `trees` trees on subsamples of `sample` rows of `data` (fewer if `data` is
    /// smaller), seeded by `seed`.
    pub fn fit(data: ArrayView2<'_, f64>, trees: usize, sample: usize, seed: u64) -> Forest {
        let n = data.nrows();
        let psi = sample.min(n).max(1);
        let limit = (psi as f64).log2().ceil() as usize;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut rows: Vec<usize> = (0..n).collect();
        let trees = (0..trees)
            .map(|_| {
                // A fresh uniform subsample: partial Fisher-Yates over the running permutation.
                for i in 0..psi.min(n) {
                    let j = i + below(&mut rng, n - i);
                    rows.swap(i, j);
                }
                let mut sample = rows[..psi.min(n)].to_vec();
                let mut tree =
                    Tree { feature: Vec::new(), value: Vec::new(), right: Vec::new(), lo: Vec::new(), hi: Vec::new() };
                grow(data, &mut sample, 0, limit, &mut rng, &mut tree);
                tree
            })
            .collect();
        Forest { trees, sample: psi }
    }

    /// Outlier score of `x` in (0, 1]: above about 0.6 is unusual, near 1 very.
    pub fn score(&self, x: &[f64]) -> f64 {
        if self.trees.is_empty() {
            return 0.5;
        }
        let total: f64 = self.trees.iter().map(|t| t.path(x)).sum();
        let mean = total / self.trees.len() as f64;
        let norm = average_path(self.sample as f64);
        if norm <= 0.0 { 0.5 } else { 2f64.powf(-mean / norm) }
    }

    /// Checks a forest read from a file: every link points forward inside its tree (so a
    /// path always ends, on a leaf), every split uses one of `dim` figures, and the sizes
    /// are sane. A forest that passes cannot panic or loop when scoring.
    pub fn validate(&self, dim: usize) -> Result<(), String> {
        const MAX_TREES: usize = 10_000;
        const MAX_NODES: usize = 1 << 22;
        if self.trees.len() > MAX_TREES || self.sample == 0 || self.sample > MAX_NODES {
            return Err(format!("{} trees of {} points", self.trees.len(), self.sample));
        }
        if self.nodes() > MAX_NODES {
            return Err(format!("{} nodes", self.nodes()));
        }
        for (k, t) in self.trees.iter().enumerate() {
            let n = t.feature.len();
            if n == 0 || [t.value.len(), t.right.len(), t.lo.len(), t.hi.len()].iter().any(|&l| l != n) {
                return Err(format!("tree {k} has inconsistent sizes"));
            }
            for at in 0..n {
                let f = t.feature[at];
                if f == LEAF {
                    if !(t.value[at].is_finite() && t.value[at] >= 0.0) {
                        return Err(format!("tree {k} node {at}: a leaf of {} points", t.value[at]));
                    }
                    continue;
                }
                let right = t.right[at] as usize;
                if usize::from(f) >= dim || at + 1 >= n || right <= at + 1 || right >= n {
                    return Err(format!("tree {k} node {at}: a link out of range or backwards"));
                }
            }
        }
        Ok(())
    }

    /// Nodes over all trees (for the memory figure).
    pub fn nodes(&self) -> usize {
        self.trees.iter().map(|t| t.feature.len()).sum()
    }
}

impl Tree {
    fn path(&self, x: &[f64]) -> f64 {
        let mut at = 0usize;
        let mut depth = 0.0;
        loop {
            let f = self.feature[at];
            if f == LEAF {
                return depth + average_path(self.value[at]);
            }
            let v = x.get(usize::from(f)).copied().unwrap_or(0.0);
            if v < self.lo[at] - MARGIN || v > self.hi[at] + MARGIN {
                return depth;
            }
            at = if v < self.value[at] { at + 1 } else { self.right[at] as usize };
            depth += 1.0;
        }
    }

    fn push(&mut self, feature: u16, value: f64, (lo, hi): (f64, f64)) -> usize {
        self.feature.push(feature);
        self.value.push(value);
        self.right.push(0);
        self.lo.push(lo);
        self.hi.push(hi);
        self.feature.len() - 1
    }
}

/// Grows the subtree of `rows` at `depth`; nodes are appended to `tree` in pre-order.
fn grow(
    data: ArrayView2<'_, f64>,
    rows: &mut [usize],
    depth: usize,
    limit: usize,
    rng: &mut Xoshiro256PlusPlus,
    tree: &mut Tree,
) {
    let leaf = |tree: &mut Tree, rows: &[usize]| {
        tree.push(LEAF, rows.len() as f64, (0.0, 0.0));
    };
    if depth >= limit || rows.len() <= 1 {
        return leaf(tree, rows);
    }
    // A figure that still varies among these rows, chosen uniformly: figures in a
    // random order (a lazy Fisher-Yates), the first that varies. Most do, so this
    // usually looks at one column rather than all of them.
    let mut order: Vec<usize> = (0..data.ncols()).collect();
    let mut chosen = None;
    for i in 0..order.len() {
        let j = i + below(rng, order.len() - i);
        order.swap(i, j);
        let f = order[i];
        let column = data.column(f);
        let (lo, hi) =
            rows.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &r| (lo.min(column[r]), hi.max(column[r])));
        if hi > lo {
            chosen = Some((f, lo, hi));
            break;
        }
    }
    let Some((feature, lo, hi)) = chosen else {
        return leaf(tree, rows);
    };
    // A value in (lo, hi]: both sides get at least one row.
    let value = lo + (hi - lo) * (1.0 - unit(rng));
    let mut split = 0;
    for i in 0..rows.len() {
        if data[[rows[i], feature]] < value {
            rows.swap(i, split);
            split += 1;
        }
    }
    if split == 0 || split == rows.len() {
        return leaf(tree, rows); // rounding left one side empty
    }
    let at = tree.push(feature as u16, value, (lo, hi));
    let (left, right) = rows.split_at_mut(split);
    grow(data, left, depth + 1, limit, rng, tree);
    tree.right[at] = tree.feature.len() as u32;
    grow(data, right, depth + 1, limit, rng, tree);
}

/// Average path length of an unsuccessful search in a binary search tree of `n` points
/// (the `c(n)` of the paper): what a leaf holding `n` points adds to the depth.
fn average_path(n: f64) -> f64 {
    const EULER: f64 = 0.577_215_664_901_532_9;
    if n <= 1.0 {
        0.0
    } else if n <= 2.0 {
        1.0
    } else {
        2.0 * ((n - 1.0).ln() + EULER) - 2.0 * (n - 1.0) / n
    }
}

/// Uniform in [0, n).
fn below(rng: &mut Xoshiro256PlusPlus, n: usize) -> usize {
    ((u128::from(rng.next_u64()) * n as u128) >> 64) as usize
}

/// Uniform in [0, 1).
fn unit(rng: &mut Xoshiro256PlusPlus) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forest_with_bad_links_is_refused() {
        let data = ndarray::Array2::from_shape_fn((64, 3), |(i, j)| (i * (j + 1)) as f64);
        let good = Forest::fit(data.view(), 4, 32, 1);
        assert_eq!(good.validate(3), Ok(()));
        assert!(good.validate(1).is_err(), "a figure beyond the vector");
        let split = good.trees[0].feature.iter().position(|&f| f != LEAF).unwrap();
        for right in [0u32, split as u32, u32::MAX] {
            let mut bad = good.clone();
            bad.trees[0].right[split] = right;
            assert!(bad.validate(3).is_err(), "right = {right}");
        }
        let mut short = good.clone();
        short.trees[1].lo.pop();
        assert!(short.validate(3).is_err());
        let mut empty = good;
        empty.trees[2] = Tree { feature: vec![], value: vec![], right: vec![], lo: vec![], hi: vec![] };
        assert!(empty.validate(3).is_err());
    }
    use ndarray::Array2;

    /// 500 points in a tight 2-d cluster around (0, 0).
    fn cluster() -> Array2<f64> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        Array2::from_shape_fn((500, 2), |_| unit(&mut rng) - 0.5)
    }

    #[test]
    fn a_far_point_scores_high_and_a_central_one_low() {
        let forest = Forest::fit(cluster().view(), 100, 256, 1);
        let centre = forest.score(&[0.0, 0.0]);
        let far = forest.score(&[5.0, 5.0]);
        assert!(centre < 0.5, "centre {centre}");
        assert!(far > 0.9, "far {far}");
        let near = forest.score(&[0.7, 0.7]);
        assert!(near < 0.75 && near < far, "just beyond what was learned is not far beyond: {near}");
        assert!(forest.score(&[0.45, 0.45]) > centre, "a corner is less usual than the centre");
    }

    #[test]
    fn the_same_seed_grows_the_same_forest() {
        let data = cluster();
        let a = Forest::fit(data.view(), 50, 128, 9);
        assert_eq!(a, Forest::fit(data.view(), 50, 128, 9));
        assert_ne!(a, Forest::fit(data.view(), 50, 128, 10));
        assert_eq!(a.score(&[0.3, -0.2]), Forest::fit(data.view(), 50, 128, 9).score(&[0.3, -0.2]));
    }

    #[test]
    fn tiny_and_constant_data_do_not_break_it() {
        let same = Array2::from_elem((10, 3), 1.0);
        let forest = Forest::fit(same.view(), 10, 256, 1);
        assert_eq!(forest.nodes(), 10, "one leaf per tree");
        let s = forest.score(&[1.0, 1.0, 1.0]);
        assert!(s.is_finite() && s > 0.0 && s <= 1.0);
        let one = Array2::from_elem((1, 2), 0.0);
        assert_eq!(Forest::fit(one.view(), 5, 256, 1).score(&[3.0, 3.0]), 0.5);
    }

    #[test]
    fn average_path_matches_the_paper() {
        assert_eq!(average_path(1.0), 0.0);
        assert_eq!(average_path(2.0), 1.0);
        assert!((average_path(256.0) - 10.24).abs() < 0.01);
    }
}
