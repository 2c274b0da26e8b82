//! Checkpoints, resuming and interruption, through the real binary: for
//! every algorithm, N iterations resumed for N more equal 2N in one go bit
//! for bit (timings aside); a process killed mid-run leaves consistent,
//! parseable outputs and resumes to the end.

mod common;
use common::{fairtrain, s};

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn ok(args: &[&str]) -> Output {
    let out = fairtrain(args);
    assert!(out.status.success(), "fairtrain {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    out
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// metrics.json without the fields that measure time or this process.
fn comparable(mut m: Value) -> Value {
    let o = m.as_object_mut().unwrap();
    for k in [
        "wall_seconds",
        "total_seconds",
        "iterations_per_second",
        "peak_rss_mb",
        "evaluation_seconds",
        "resumed_from",
        "checkpoints",
        "checkpoint_bytes",
        "checkpoint_seconds",
    ] {
        o.remove(k);
    }
    m
}

/// history.csv rows without the seconds column.
fn history(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("history.csv"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut f: Vec<&str> = l.split(',').collect();
            f.remove(1);
            f.join(",")
        })
        .collect()
}

#[test]
fn every_algorithm_resumes_bit_identically() {
    let tmp = tempfile::tempdir().unwrap();
    let algorithms =
        ["ssl-alm", "ssw", "alm", "ialm", "spbm", "nupi", "ghost", "proxy-lagrangian", "gda", "penalty", "sgd", "adam"];
    let mut runs: Vec<(&str, Vec<&str>)> = algorithms.iter().map(|&a| (a, vec!["--algorithm", a])).collect();
    // The methods keep their samplers, weights and adversaries in the checkpoint too.
    runs.push(("fairbatch", vec!["--method", "fairbatch", "--constraint", "equalized-odds"]));
    runs.push(("forml", vec!["--method", "forml", "--constraint", "equal-opportunity"]));
    runs.push(("fermi", vec!["--method", "fermi", "--constraint", "demographic-parity"]));
    for (name, choice) in runs {
        // The margin and the selection are scheduled by the budget, so N + N
        // equals 2N for the algorithms' own state without them.
        let common = [
            &choice[..],
            &["--data", "synthetic", "--seed", "3", "--quiet", "--log-every", "50", "--validation-fraction", "0"][..],
        ]
        .concat();
        let whole = tmp.path().join(format!("{name}-whole"));
        let mut a = common.to_vec();
        a.extend(["--iterations", "400", "--out", s(&whole)]);
        ok(&[&["train"][..], &a].concat());

        // 200 iterations (checkpoints every 150 and at the end), then resumed to 400.
        let split = tmp.path().join(format!("{name}-split"));
        let mut b = common.to_vec();
        b.extend(["--iterations", "200", "--checkpoint-every", "150", "--out", s(&split)]);
        ok(&[&["train"][..], &b].concat());
        ok(&["train", "--resume", "--out", s(&split), "--iterations", "400", "--quiet"]);

        let (m1, m2) = (json(&whole.join("metrics.json")), json(&split.join("metrics.json")));
        assert_eq!(m2["resumed_from"], 200, "{name}");
        assert_eq!(comparable(m1), comparable(m2), "{name}: resumed run differs");
        assert_eq!(history(&whole), history(&split), "{name}: history differs");
        // config.toml of the resumed run re-runs the whole run.
        let config = std::fs::read_to_string(split.join("config.toml")).unwrap();
        assert!(config.contains("iterations = 400"), "{name}: {config}");
        let manifest = json(&split.join("manifest.json"));
        assert_eq!(manifest["sessions"].as_array().unwrap().len(), 2, "{name}");
        assert_eq!(manifest["sessions"][1]["status"], "completed");
    }
}

#[test]
fn resume_errors_are_clear() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    ok(&["train", "--data", "synthetic", "--iterations", "50", "--quiet", "--out", s(&run)]);
    let err = |args: &[&str]| {
        let o = fairtrain(args);
        assert!(!o.status.success());
        String::from_utf8_lossy(&o.stderr).to_string()
    };
    let e = err(&["train", "--resume", "--out", s(&run), "--lr", "0.1"]);
    assert!(e.contains("--lr cannot change"), "{e}");
    let e = err(&["train", "--resume"]);
    assert!(e.contains("--resume needs --out DIR"), "{e}");
    let e = err(&["train", "--resume", "--out", s(&tmp.path().join("none"))]);
    assert!(e.contains("nothing to resume"), "{e}");
    let off = tmp.path().join("off");
    ok(&[
        "train",
        "--data",
        "synthetic",
        "--iterations",
        "50",
        "--quiet",
        "--checkpoint-every",
        "off",
        "--out",
        s(&off),
    ]);
    let e = err(&["train", "--resume", "--out", s(&off)]);
    assert!(e.contains("no checkpoint.bin"), "{e}");
    std::fs::write(run.join("checkpoint.bin"), b"garbage").unwrap();
    let e = err(&["train", "--resume", "--out", s(&run)]);
    assert!(e.contains("not a readable checkpoint"), "{e}");
    let e = err(&["train", "--data", "synthetic", "--checkpoint-every", "soon", "--out", s(&tmp.path().join("x"))]);
    assert!(e.contains("invalid value for checkpoint-every: 'soon'"), "{e}");
}

#[test]
fn a_killed_run_leaves_consistent_outputs_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let mut child = Command::new(env!("CARGO_BIN_EXE_fairtrain"))
        .args(["train", "--data", "synthetic", "--iterations", "100000000", "--checkpoint-every", "2000"])
        .args(["--quiet", "--out", s(&run)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until training is under way, then send SIGTERM.
    let started = Instant::now();
    while !run.join("checkpoint.bin").exists() {
        assert!(started.elapsed() < Duration::from_secs(60), "no checkpoint appeared");
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the run did not stop");
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted at iteration") && stderr.contains("--resume --out"), "{stderr}");

    // Every output parses and agrees.
    let metrics = json(&run.join("metrics.json"));
    assert_eq!(metrics["status"], "interrupted");
    let stopped = metrics["iterations"].as_u64().unwrap();
    assert!(stopped > 0 && stopped < 100_000_000);
    let rows: Vec<String> =
        std::fs::read_to_string(run.join("history.csv")).unwrap().lines().map(String::from).collect();
    let last: u64 = rows.last().unwrap().split(',').next().unwrap().parse().unwrap();
    assert_eq!(last, stopped, "history ends at the interruption");
    assert!(rows.iter().skip(1).all(|r| r.split(',').count() == rows[0].split(',').count()));
    let manifest = json(&run.join("manifest.json"));
    assert_eq!(manifest["sessions"][0]["status"], "interrupted");
    toml::from_str::<toml::Table>(&std::fs::read_to_string(run.join("config.toml")).unwrap()).unwrap();

    // Resuming finishes the run (with a shorter budget than the original).
    let target = (stopped + 1000).to_string();
    ok(&["train", "--resume", "--out", s(&run), "--iterations", &target, "--quiet"]);
    let metrics = json(&run.join("metrics.json"));
    assert_eq!(metrics["status"], "completed");
    assert_eq!(metrics["iterations"].as_u64().unwrap(), stopped + 1000);
    assert_eq!(metrics["resumed_from"].as_u64().unwrap(), stopped);
}
