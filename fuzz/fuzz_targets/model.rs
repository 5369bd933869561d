//! Fuzzes the outlier-model loader: bytes as they come (a truncated or garbage file), and
//! a real model whose numbers (sizes, node links, features, values) the input rewrites.
//! A model that loads must score any vector without panicking or looping.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use ntop_rs::detect::features::{DIM, Vector};
use ntop_rs::detect::outlier::{Model, TrainConfig};
use serde_json::Value;

/// A small real model, trained once on reproducible vectors.
fn real_model() -> &'static Value {
    static MODEL: OnceLock<Value> = OnceLock::new();
    MODEL.get_or_init(|| {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let vectors: Vec<Vector> = (0..300)
            .map(|_| {
                std::array::from_fn(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x % 1000) as f64 / 10.0
                })
            })
            .collect();
        let cfg = TrainConfig { trees: 4, sample: 32, ..TrainConfig::default() };
        let model = Model::train(&vectors, 5.0, &cfg).expect("a model trains on 300 vectors");
        serde_json::to_value(&model).expect("a model serialises")
    })
}

/// How many numbers `v` holds.
fn count(v: &Value) -> usize {
    match v {
        Value::Number(_) => 1,
        Value::Array(a) => a.iter().map(count).sum(),
        Value::Object(o) => o.values().map(count).sum(),
        _ => 0,
    }
}

/// Replaces the `n`-th number of `v` (in walk order) by `new`; false if `v` has fewer.
fn set_nth(v: &mut Value, n: &mut usize, new: &Value) -> bool {
    match v {
        Value::Number(_) if *n == 0 => {
            *v = new.clone();
            true
        }
        Value::Number(_) => {
            *n -= 1;
            false
        }
        Value::Array(a) => a.iter_mut().any(|x| set_nth(x, n, new)),
        Value::Object(o) => o.values_mut().any(|x| set_nth(x, n, new)),
        _ => false,
    }
}

fn check(bytes: &[u8]) {
    if let Ok(model) = Model::from_json(bytes) {
        for fill in [0.0, -1e300, 1e300, f64::NAN, 3.0] {
            let _ = model.assess(&[fill; DIM]);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    if mode % 2 == 0 {
        check(rest);
        return;
    }
    // Rewrite numbers of a real model: pairs of (which number, new value).
    let mut model = real_model().clone();
    let slots = count(&model).max(1);
    for chunk in rest.chunks_exact(6) {
        let mut which = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]) as usize % slots;
        let raw = i16::from_le_bytes([chunk[4], chunk[5]]);
        let value = match raw % 4 {
            0 => Value::from(i64::from(raw) >> 2),
            1 => Value::from(u64::MAX >> (raw.unsigned_abs() % 64)),
            2 => Value::from(f64::from(raw) / 7.0),
            _ => Value::from(i64::from(raw) * 1000),
        };
        set_nth(&mut model, &mut which, &value);
    }
    check(&serde_json::to_vec(&model).unwrap_or_default());
});
