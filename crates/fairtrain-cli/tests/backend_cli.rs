//! `--backend burn`: the same MLP trained as a burn module. Without the
//! `burn` feature the flag is a clear error; with it, a run reaches the
//! native backend's solution from the same start.

mod common;
#[cfg(feature = "burn")]
use common::metrics;
use common::{fairtrain, s};

/// A build without the burn backend says how to get one, and writes nothing.
#[cfg(not(feature = "burn"))]
#[test]
fn burn_backend_needs_the_feature() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let o = fairtrain(&["train", "--data", "synthetic", "--device", "cpu", "--out", s(&out)]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && o.status.code() != Some(101), "{err}");
    assert!(err.contains("invalid value for backend: burn (device cpu): this fairtrain was built without"), "{err}");
    assert!(err.contains("--features burn"), "{err}");
    assert!(!out.exists());
}

/// The same settings on both backends: the same start and minibatches, so
/// the runs differ only by float rounding.
#[cfg(feature = "burn")]
#[test]
fn burn_backend_reaches_the_native_solution() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |backend: &str| {
        let out = tmp.path().join(backend);
        let o = fairtrain(&[
            "train",
            "--data",
            "synthetic",
            "--constraint",
            "demographic-parity",
            "--backend",
            backend,
            "--iterations",
            "4000",
            "--validation-fraction",
            "0",
            "--quiet",
            "--out",
            s(&out),
        ]);
        assert!(o.status.success(), "{backend}: {}", String::from_utf8_lossy(&o.stderr));
        metrics(&out)
    };
    let (native, burn) = (run("native"), run("burn"));
    assert_eq!(burn["kernels"], "burn flex (cpu)");
    for split in ["train", "test"] {
        let value = |m: &serde_json::Value, k: &str| m[split][k].as_f64().unwrap();
        assert!((value(&native, "accuracy") - value(&burn, "accuracy")).abs() < 0.01, "{split} accuracy");
        assert!((value(&native, "dp_gap") - value(&burn, "dp_gap")).abs() < 0.01, "{split} DP gap");
    }
    assert!(burn["train"]["max_violation"].as_f64().unwrap() <= 0.0, "burn run infeasible on train");
    let o = fairtrain(&[
        "train",
        "--data",
        "synthetic",
        "--method",
        "fermi",
        "--constraint",
        "demographic-parity",
        "--backend",
        "burn",
        "--out",
        s(&tmp.path().join("fermi")),
    ]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("use the native backend"));
}
