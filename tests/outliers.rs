//! The outlier detector from the command line: `--baseline` trains before the first
//! packet, `--model` saves and loads, the JSON summary carries `hosts[].cluster` and the
//! model's status, and bad model files get a one-line error.

mod common;

use std::path::Path;

use serde_json::Value;

fn demo() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo.pcap")
}

fn clusters(summary: &Value) -> Vec<(String, Value)> {
    summary["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["ip"].as_str().unwrap().to_string(), h["cluster"].clone()))
        .collect()
}

#[test]
fn a_baseline_trains_a_model_that_a_later_run_loads() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("normal.model");
    let (demo, model_arg) = (demo(), model.to_str().unwrap().to_string());
    let trained = common::summary(&demo, &["--baseline", demo.to_str().unwrap(), "--model", &model_arg]);
    let status = &trained["outliers"];
    assert_eq!(status["state"], "ready", "{status}");
    assert!(status["learned_from"].as_str().unwrap().starts_with("baseline "), "{status}");
    assert!(status["trained_on"].as_u64().unwrap() >= 16);
    assert!(status["train_ms"].as_f64().unwrap() > 0.0, "reading and training the baseline is timed: {status}");
    assert_eq!(status["trainings"], 1);
    assert!((0.5..=1.0).contains(&status["threshold"].as_f64().unwrap()));
    assert!(model.exists(), "--model saved the trained model");
    let with_clusters = clusters(&trained);
    assert!(with_clusters.iter().filter(|(_, c)| c.is_u64()).count() >= 4, "{with_clusters:?}");

    let loaded = common::summary(&demo, &["--model", &model_arg]);
    assert_eq!(loaded["outliers"]["state"], "ready");
    assert!(loaded["outliers"]["learned_from"].as_str().unwrap().starts_with("model "));
    assert_eq!(loaded["outliers"]["threshold"], status["threshold"]);
    assert_eq!(clusters(&loaded), with_clusters, "the loaded model puts hosts in the same clusters");
    assert_eq!(loaded["alerts"], trained["alerts"], "and raises the same alerts");
}

#[test]
fn the_summary_says_how_far_the_model_is() {
    // The demo is 268 s long: learned from its first 120 s, ready for the rest.
    let s = common::summary(&demo(), &[]);
    let status = &s["outliers"];
    for key in ["state", "learned_from", "trained_on", "threshold", "clusters", "train_ms", "trainings", "error"] {
        assert!(status.get(key).is_some(), "outliers.{key} missing: {status}");
    }
    assert_eq!(status["state"], "ready");
    assert!(s["hosts"].as_array().unwrap().iter().all(|h| h.get("cluster").is_some()), "every host has the key");
    let learning = common::summary(&demo(), &["--learn", "3600"]);
    assert_eq!(learning["outliers"]["state"], "learning");
    assert!(learning["hosts"].as_array().unwrap().iter().all(|h| h["cluster"].is_null()));
    let off = common::summary(&demo(), &["--no-outliers"]);
    assert!(off["outliers"].is_null());
    assert!(off["alerts"].as_array().unwrap().iter().all(|a| a["kind"] != "outlier"));
}

#[test]
fn bad_model_files_and_flags_get_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.model");
    std::fs::write(&junk, "this is not a model").unwrap();
    let demo = demo();
    let out = common::run(&["-r", demo.to_str().unwrap(), "--headless", "--model", junk.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not an ntop-rs outlier model"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    let out = common::run(&["-r", demo.to_str().unwrap(), "--headless", "--baseline", "/nonexistent.pcap"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--baseline"), "{}", String::from_utf8_lossy(&out.stderr));

    let out = common::run(&["-r", demo.to_str().unwrap(), "--headless", "--outlier-threshold", "2"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a score from 0.5 to 1"));
}

#[test]
fn a_model_that_cannot_be_saved_is_a_warning_and_the_run_goes_on() {
    // A symlink planted at the model's path (dangling, so there is nothing to load): the
    // save refuses to write through it, and the run goes on with the model it trained.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.model");
    let target = dir.path().join("planted");
    std::os::unix::fs::symlink(&target, &path).unwrap();
    let s = common::summary(&demo(), &["--learn", "30", "--model", path.to_str().unwrap()]);
    assert_eq!(s["outliers"]["state"], "ready", "the model is used even if it cannot be saved");
    let error = s["outliers"]["error"].as_str().expect("the status names the failure");
    assert!(error.contains("refusing to write through a symbolic link"), "{error}");
    let warnings: Vec<&str> = s["warnings"].as_array().unwrap().iter().map(|w| w.as_str().unwrap()).collect();
    assert!(warnings.iter().any(|w| w.starts_with("outlier model: --model: ")), "{warnings:?}");
    assert!(!target.exists(), "nothing was written through the link");
    assert!(std::fs::symlink_metadata(&path).unwrap().file_type().is_symlink(), "the link is left alone");
}

#[test]
fn a_model_in_a_missing_directory_is_an_error_at_once() {
    let out = common::run(&["-r", demo().to_str().unwrap(), "--headless", "--model", "/nonexistent/dir/m.model"]);
    common::assert_one_line_error(&out, "--model /nonexistent/dir: no such directory");
}
