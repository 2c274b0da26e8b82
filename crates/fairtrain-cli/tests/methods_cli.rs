//! The seed fairness methods through the real binary: `train --method`,
//! `prune` and `study optimizers` on synthetic data where the
//! unconstrained model is unfair.

mod common;
use common::{fairtrain, metrics, s};

use std::path::Path;

use serde_json::Value;

fn train(out: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["train", "--data", "synthetic", "--iterations", "3000", "--quiet", "--out", s(out)];
    args.extend_from_slice(extra);
    let o = fairtrain(&args);
    assert!(o.status.success(), "{extra:?}: {}", String::from_utf8_lossy(&o.stderr));
    metrics(out)
}

/// Each method cuts its targeted test gap by at least 25% against
/// unconstrained Adam on the same data and budget, for at most 2 points of
/// accuracy; its metrics name the method and its config omits `algorithm`.
#[test]
fn methods_cut_their_targeted_gap() {
    let tmp = tempfile::tempdir().unwrap();
    let base = train(&tmp.path().join("adam"), &["--algorithm", "adam"]);
    for (method, notion, key) in [
        ("fairbatch", "equal-opportunity", "eopp_gap"),
        ("forml", "equal-opportunity", "eopp_gap"),
        ("fermi", "demographic-parity", "dp_gap"),
    ] {
        let out = tmp.path().join(format!("{method}-{notion}"));
        let m = train(&out, &["--method", method, "--constraint", notion]);
        assert_eq!(m["algorithm"], method);
        let (gap, gap0) = (m["test"][key].as_f64().unwrap(), base["test"][key].as_f64().unwrap());
        assert!(gap <= 0.75 * gap0, "{method} {notion}: test {key} {gap} vs Adam's {gap0}");
        let (acc, acc0) = (m["test"]["accuracy"].as_f64().unwrap(), base["test"]["accuracy"].as_f64().unwrap());
        assert!(acc >= acc0 - 0.02, "{method}: accuracy {acc} vs {acc0}");
        let config = std::fs::read_to_string(out.join("config.toml")).unwrap();
        assert!(config.contains(&format!("method = \"{method}\"")) && !config.contains("\nalgorithm ="), "{config}");
        // The resolved config re-runs the same method.
        let again = tmp.path().join(format!("{method}-{notion}-again"));
        let o = fairtrain(&[
            "train",
            "--config",
            s(&out.join("config.toml")),
            "--iterations",
            "10",
            "--quiet",
            "--out",
            s(&again),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(metrics(&again)["algorithm"], method);
    }
}

#[test]
fn method_errors_name_the_flag() {
    let cases: [(&[&str], &str); 4] = [
        (&["--method", "fermi", "--algorithm", "ssl-alm"], "a method replaces the algorithm"),
        (&["--method", "fairbatch", "--constraint", "loss-parity"], "method fairbatch targets one notion"),
        (&["--method", "forml", "--constraint", "demographic-parity"], "FORML's meta-objective"),
        (&["--method", "fermi", "--penalty", "2"], "--penalty does not apply to method fermi"),
    ];
    for (extra, message) in cases {
        let mut args = vec!["train", "--data", "synthetic", "--iterations", "10"];
        args.extend_from_slice(extra);
        let o = fairtrain(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains(message), "{extra:?}: {err}");
    }
}

#[test]
fn prune_reaches_the_requested_sparsity() {
    let tmp = tempfile::tempdir().unwrap();
    for (method, sparsity) in [("bifp", "0.8"), ("magnitude", "0.5"), ("magnitude-finetune", "0.9")] {
        let out = tmp.path().join(method);
        let o = fairtrain(&[
            "prune",
            "--data",
            "synthetic",
            "--sparsity",
            sparsity,
            "--method",
            method,
            "--iterations",
            "800",
            "--quiet",
            "--out",
            s(&out),
        ]);
        assert!(o.status.success(), "{method}: {}", String::from_utf8_lossy(&o.stderr));
        let m = metrics(&out);
        let target: f64 = sparsity.parse().unwrap();
        let got = m["sparsity"].as_f64().unwrap();
        // Per layer exactly round((1 - s) n) weights are kept.
        assert!((got - target).abs() < 0.005, "{method}: sparsity {got}");
        assert!(m["test"]["accuracy"].as_f64().unwrap() > 0.7, "{method}");
        assert!(out.join("dense/metrics.json").exists());
        assert!(metrics(&out.join("dense")).get("sparsity").is_none());
    }
    let o = fairtrain(&["prune", "--data", "synthetic", "--sparsity", "1.0", "--out", s(&tmp.path().join("bad"))]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("invalid value for sparsity: 1 (must be in [0, 1))"));
    assert!(!tmp.path().join("bad").exists(), "nothing is written for a bad sparsity");
}

#[test]
fn optimizer_study_writes_every_optimizer() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("study");
    let o = fairtrain(&[
        "study",
        "optimizers",
        "--data",
        "synthetic",
        "--seeds",
        "2",
        "--iterations",
        "300",
        "--quiet",
        "--out",
        s(&out),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let results = std::fs::read_to_string(out.join("results.csv")).unwrap();
    assert!(results.starts_with("data,optimizer,seed,accuracy,dp_gap,eopp_gap,eo_gap\n"));
    for opt in ["sgd", "momentum", "rmsprop", "adam"] {
        assert_eq!(results.lines().filter(|l| l.split(',').nth(1) == Some(opt)).count(), 2, "{opt}");
    }
    let summary = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    // 4 optimizers x 4 metrics, plus the header.
    assert_eq!(summary.lines().count(), 17);
    assert!(std::fs::read_to_string(out.join("summary.md")).unwrap().contains("| synthetic | rmsprop |"));
}
