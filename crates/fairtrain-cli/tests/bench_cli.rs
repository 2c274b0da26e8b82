//! `fairtrain bench` and `fairtrain report` on the synthetic data with tiny
//! budgets: the grid's runs and result rows, resuming, the report's
//! contents, grid files with hyperparameters, and the speed table.

mod common;
use common::{fairtrain, s};

use std::path::Path;
use std::process::Output;

fn ok(args: &[&str]) -> Output {
    let out = fairtrain(args);
    assert!(out.status.success(), "fairtrain {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    out
}

fn fails(args: &[&str]) -> String {
    let out = fairtrain(args);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "fairtrain {} succeeded", args.join(" "));
    assert_ne!(out.status.code(), Some(101), "panicked: {stderr}");
    stderr
}

fn rows(path: &Path) -> Vec<csv::StringRecord> {
    csv::Reader::from_path(path).unwrap().records().map(|r| r.unwrap()).collect()
}

#[test]
fn grid_resume_and_report() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("bench");
    let grid = [
        "bench",
        "--data",
        "synthetic",
        "--algorithms",
        "ssl-alm,adam",
        "--seeds",
        "2",
        "--iterations",
        "300",
        "--bounds",
        "0.01,0.05",
        "--eval-points",
        "5",
    ];
    let mut args = grid.to_vec();
    args.extend(["--out", s(&out)]);
    ok(&args);

    // SSL-ALM: 2 bounds x 2 seeds; Adam does not depend on the bound: 2 runs, each reported at both bounds.
    let runs: Vec<String> =
        std::fs::read_dir(out.join("runs")).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert_eq!(runs.len(), 6, "{runs:?}");
    let results = rows(&out.join("results.csv"));
    assert_eq!(results.len(), 8);
    let header = csv::Reader::from_path(out.join("results.csv")).unwrap().headers().unwrap().clone();
    for column in [
        "algorithm",
        "dataset",
        "constraint",
        "bound",
        "seed",
        "iterations",
        "wall_seconds",
        "iterations_per_second",
        "peak_rss_mb",
        "train_objective",
        "train_max_violation",
        "test_objective",
        "test_max_violation",
        "test_accuracy",
        "test_dp_gap",
        "test_eo_gap",
        "preset",
        "group",
    ] {
        assert!(header.iter().any(|h| h == column), "results.csv lacks {column}");
    }
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    for r in &results {
        assert_eq!(&r[col("iterations")], "300");
        assert_eq!(&r[col("dataset")], "synthetic");
        // max violation = constraint value - bound.
        let value: f64 = r[col("test_constraint_value")].parse().unwrap();
        let bound: f64 = r[col("bound")].parse().unwrap();
        let violation: f64 = r[col("test_max_violation")].parse().unwrap();
        assert!((value - bound - violation).abs() < 1e-12);
    }
    let adam_bounds: Vec<&str> =
        results.iter().filter(|r| &r[col("algorithm")] == "adam").map(|r| &r[col("bound")]).collect();
    assert_eq!(adam_bounds, ["0.01", "0.05", "0.01", "0.05"]);
    // Each run evaluated the full splits on the schedule (0, 60, ..., 300, and the returned model).
    let run_dir = out.join(&results[0][col("run_dir")]);
    let evaluations = rows(&run_dir.join("evaluations.csv"));
    let iterations: Vec<&str> = evaluations.iter().filter(|r| &r[2] == "test").map(|r| r.get(0).unwrap()).collect();
    assert_eq!(iterations, ["0", "60", "120", "180", "240", "300", "300"]);

    // An existing bench is not overwritten by accident.
    let err = fails(&args);
    assert!(err.contains("already holds a bench; continue it with --resume"), "{err}");
    // Resume keeps finished runs and runs what is missing.
    let kept = std::fs::metadata(run_dir.join("metrics.json")).unwrap().modified().unwrap();
    let missing = out.join("runs").join(&runs[0]);
    std::fs::remove_file(missing.join("metrics.json")).unwrap();
    let mut resume = args.clone();
    resume.push("--resume");
    let o = ok(&resume);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("resuming: 5 finished runs kept, 1 to run"), "{stderr}");
    assert!(missing.join("metrics.json").exists());
    if run_dir != missing {
        assert_eq!(std::fs::metadata(run_dir.join("metrics.json")).unwrap().modified().unwrap(), kept);
    }
    assert_eq!(rows(&out.join("results.csv")).len(), 8);
    // Resuming with another grid is refused.
    let mut other = resume.clone();
    other[8] = "400";
    let err = fails(&other);
    assert!(err.contains("holds a bench with another grid"), "{err}");

    // The report.
    ok(&["report", s(&out)]);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    for needle in ["ssl-alm", "adam", "loss-parity", "bound 0.01", "bound 0.05", "trade-off across bounds"] {
        assert!(html.contains(needle), "report.html lacks {needle}");
        assert!(md.contains(needle), "report.md lacks {needle}");
    }
    assert!(html.matches("<svg").count() >= 11, "charts: {}", html.matches("<svg").count());
    assert!(html.contains("holds with 95% confidence") || html.contains("not certified"));
    assert!(!html.contains("<script") && !html.contains("<link") && !html.contains("url(http"));
    assert!(out.join("charts").read_dir().unwrap().count() >= 11);
}

#[test]
fn grid_files_and_bad_grids() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("grid.toml");
    std::fs::write(
        &config,
        "datasets = [\"synthetic\"]\nalgorithms = [\"ssl-alm\"]\nseeds = 1\niterations = 50\neval-points = 2\n\
         presets = [\"default\", \"paper\"]\n[hyperparameters.ssl-alm]\nlr = 0.01\n",
    )
    .unwrap();
    let out = tmp.path().join("b");
    ok(&["bench", "--config", s(&config), "--out", s(&out)]);
    let results = rows(&out.join("results.csv"));
    assert_eq!(results.len(), 2);
    for preset in ["default", "paper"] {
        let dir = out.join(format!("runs/synthetic_group_loss-parity_b0.005_ssl-alm_{preset}_s0"));
        let config = std::fs::read_to_string(dir.join("config.toml")).unwrap();
        assert!(config.contains("lr = 0.01"), "{config}");
    }
    let grid = std::fs::read_to_string(out.join("bench.toml")).unwrap();
    assert!(grid.contains("[hyperparameters.ssl-alm]"), "{grid}");

    let bad = tmp.path().join("bad.toml");
    std::fs::write(&bad, "algorithms = [\"ssl-alm\"]\n[hyperparameters.ssl-alm]\nlrr = 0.01\n").unwrap();
    let err = fails(&["bench", "--config", s(&bad), "--iterations", "5", "--out", s(&tmp.path().join("x"))]);
    assert!(err.contains("[hyperparameters.ssl-alm]: unknown key 'lrr'; did you mean 'lr'?"), "{err}");
    let err = fails(&["bench", "--algorithms", "ssl-alm,nope", "--out", s(&tmp.path().join("y"))]);
    assert!(err.contains("'nope'"), "{err}");
    let err = fails(&[
        "bench",
        "--data",
        "synthetic",
        "--group",
        "zzz",
        "--iterations",
        "5",
        "--out",
        s(&tmp.path().join("z")),
    ]);
    assert!(err.contains("zzz"), "{err}");
    assert!(!tmp.path().join("z").exists());
    let err = fails(&["bench", "--preset", "paper", "--presets", "paper"]);
    assert!(err.contains("give --preset or --presets, not both"), "{err}");
}

#[test]
fn speed_table_agrees_with_train() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("speed");
    let o = ok(&[
        "bench",
        "--speed",
        "--data",
        "synthetic",
        "--algorithms",
        "ssl-alm",
        "--iterations",
        "500",
        "--out",
        s(&out),
    ]);
    let printed = String::from_utf8_lossy(&o.stdout);
    assert!(printed.contains("ssl-alm") && printed.contains("256"), "{printed}");
    let table = rows(&out.join("speed.csv"));
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(table.len(), if threads > 1 { 4 } else { 2 });
    // Each row is the metrics.json of a train run with those settings.
    let first = &table[0];
    let metrics: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("runs/ssl-alm_batch-paper_threads-1/metrics.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(first[6].parse::<f64>().unwrap(), metrics["iterations_per_second"].as_f64().unwrap());
    assert_eq!(&first[2], "paper (8/8)");
}
