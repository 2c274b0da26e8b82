//! Checkpoints, resuming and interruption, through the real binary: for
//! every algorithm, N iterations resumed for N more equal 2N in one go bit
//! for bit (timings aside); a run killed at any point of a fixed list and
//! resumed equals the uninterrupted run (model, metrics, history); a
//! damaged checkpoint is refused, never resumed; a process killed mid-run
//! leaves consistent, parseable outputs and resumes to the end.

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

/// metrics.json without the fields that measure time or this process
/// (the library's list: a resumed run forwards its first minibatches once
/// more, so even `rows_per_iteration` is this process's).
fn comparable(mut m: Value) -> Value {
    let o = m.as_object_mut().unwrap();
    for k in fairtrain::run::TIMING_FIELDS {
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
    assert!(e.contains("checkpoint.bin: not a usable checkpoint"), "{e}");
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

/// Runs `args` into `dir`, stopped as SIGKILL would at `kill`
/// (`FAIRTRAIN_TEST_KILL`, see train_cmd.rs), then resumed.
fn killed_and_resumed(args: &[&str], dir: &Path, kill: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_fairtrain"))
        .args(["train", "--quiet", "--out", s(dir)])
        .args(args)
        .env("FAIRTRAIN_TEST_KILL", kill)
        .output()
        .unwrap();
    assert!(!out.status.success(), "{kill}: the run was not stopped");
    ok(&["train", "--resume", "--out", s(dir), "--quiet"]);
}

/// The default preset (validation split, automatic margin, best-feasible
/// selection, restarts) and the paper preset, every algorithm family: a
/// run killed at any of a fixed list of points (the first checkpoint, a
/// log row between checkpoints, after the margin, after the last
/// checkpoint, after training before the outputs) and resumed returns the
/// uninterrupted run's model byte for byte, its metrics (timings aside),
/// history (seconds aside) and evaluations.
#[test]
fn a_run_killed_anywhere_resumes_to_the_uninterrupted_result() {
    let tmp = tempfile::tempdir().unwrap();
    let budget = ["--iterations", "1200", "--checkpoint-every", "300"];
    let german = ["--data", "german"];
    let mut cases: Vec<(&str, Vec<&str>, Vec<&str>)> = Vec::new();
    let points = vec!["checkpoint:0", "record:200", "checkpoint:600", "record:1000", "checkpoint:1200", "finish"];
    for algorithm in ["ssl-alm", "ssw", "ghost", "proxy-lagrangian", "adam"] {
        cases.push((algorithm, [&german[..], &["--algorithm", algorithm]].concat(), points.clone()));
    }
    cases.push((
        "fairbatch",
        [&german[..], &["--method", "fairbatch", "--constraint", "equal-opportunity"]].concat(),
        points.clone(),
    ));
    cases.push(("paper", [&german[..], &["--preset", "paper", "--eval-every", "250"]].concat(), points.clone()));
    cases.push((
        "post-processed",
        [&german[..], &["--constraint", "demographic-parity", "--postprocess", "group-thresholds"]].concat(),
        points.clone(),
    ));
    // Runs that train a second attempt, killed in either: one whose first
    // attempt reads single-batch penalty terms and collapses, and one whose
    // first reads averages (the run's choice over 8 groups) and ends
    // infeasible.
    cases.push((
        "restarted",
        vec![
            "--data",
            "adult",
            "--group",
            "race,sex",
            "--constraint",
            "equalized-odds",
            "--iterations",
            "3000",
            "--average-penalty=false",
        ],
        vec!["record:1000", "checkpoint:1200/2", "record:2000/2", "finish"],
    ));
    cases.push((
        "restarted-from-averages",
        vec!["--data", "synthetic:groups=8", "--constraint", "equal-opportunity", "--bound", "0.05", "--seed", "2"],
        vec!["checkpoint:1200/2", "finish"],
    ));
    // One whose first attempt's model beats the second's and is returned:
    // the checkpoints of the second attempt carry the first's model.
    cases.push((
        "first-kept",
        vec!["--data", "german", "--constraint", "demographic-parity", "--bound", "0.02", "--seed", "4"],
        vec!["checkpoint:5000/2", "record:12000/2", "finish"],
    ));
    for (name, args, kills) in cases {
        let args: Vec<&str> = if name == "first-kept" {
            [&args[..], &["--checkpoint-every", "5000"]].concat()
        } else if name.starts_with("restarted") {
            [&args[..], &["--checkpoint-every", "300"]].concat()
        } else {
            [&args[..], &budget[..]].concat()
        };
        let whole = tmp.path().join(format!("{name}-whole"));
        ok(&[&["train", "--quiet", "--out", s(&whole)][..], &args].concat());
        if name.starts_with("restarted") {
            let m = json(&whole.join("metrics.json"));
            assert!(m["warnings"].to_string().contains("restarted"), "the case no longer restarts: {m}");
        }
        if name == "first-kept" {
            let m = json(&whole.join("metrics.json"));
            assert_eq!(m["selected"]["first_attempt"], true, "the case no longer keeps the first attempt: {m}");
        }
        for kill in kills {
            let dir = tmp.path().join(format!("{name}-{}", kill.replace([':', '/'], "-")));
            killed_and_resumed(&args, &dir, kill);
            let what = format!("{name}, killed at {kill}");
            assert_eq!(
                std::fs::read(whole.join("model.safetensors")).unwrap(),
                std::fs::read(dir.join("model.safetensors")).unwrap(),
                "{what}: the model differs"
            );
            assert_eq!(
                comparable(json(&whole.join("metrics.json"))),
                comparable(json(&dir.join("metrics.json"))),
                "{what}: metrics differ"
            );
            assert_eq!(history(&whole), history(&dir), "{what}: history differs");
            if whole.join("evaluations.csv").exists() {
                let rows = |d: &Path| {
                    std::fs::read_to_string(d.join("evaluations.csv"))
                        .unwrap()
                        .lines()
                        .map(|l| {
                            l.split(',')
                                .enumerate()
                                .filter(|(k, _)| *k != 1)
                                .map(|(_, f)| f)
                                .collect::<Vec<_>>()
                                .join(",")
                        })
                        .collect::<Vec<_>>()
                };
                assert_eq!(rows(&whole), rows(&dir), "{what}: evaluations differ");
            }
        }
    }
}

/// Resuming a completed run changes nothing and says so; a larger budget
/// continues it.
#[test]
fn resuming_a_completed_run_does_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    ok(&["train", "--data", "german", "--iterations", "600", "--quiet", "--out", s(&run)]);
    let before: Vec<_> = ["model.safetensors", "metrics.json", "history.csv", "manifest.json"]
        .iter()
        .map(|f| std::fs::read(run.join(f)).unwrap())
        .collect();
    let out = ok(&["train", "--resume", "--out", s(&run)]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("is complete (600 iterations): nothing to resume"), "{text}");
    let after: Vec<_> = ["model.safetensors", "metrics.json", "history.csv", "manifest.json"]
        .iter()
        .map(|f| std::fs::read(run.join(f)).unwrap())
        .collect();
    assert!(before == after, "a completed run was changed by --resume");
    ok(&["train", "--resume", "--out", s(&run), "--iterations", "900", "--quiet"]);
    assert_eq!(json(&run.join("metrics.json"))["iterations"], 900);
}

/// Damaged checkpoints (single-byte flips anywhere, truncation, bytes
/// appended, another run's) are refused with an error naming the file:
/// never a panic, never a resumed run.
#[test]
fn a_damaged_checkpoint_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    ok(&["train", "--data", "german", "--iterations", "300", "--quiet", "--out", s(&run)]);
    let path = run.join("checkpoint.bin");
    let good = std::fs::read(&path).unwrap();
    let model = std::fs::read(run.join("model.safetensors")).unwrap();
    let mut damaged: Vec<Vec<u8>> = Vec::new();
    // Flips spread over the header and the payload.
    let n = good.len();
    for k in 0..24 {
        let mut b = good.clone();
        let at = if k < 8 { k * 7 % 52 } else { 52 + (k * 7919) % (n - 52) };
        b[at] ^= 1 << (k % 8);
        damaged.push(b);
    }
    damaged.push(good[..n / 2].to_vec());
    damaged.push([&good[..], b"tail"].concat());
    for (k, bytes) in damaged.iter().enumerate() {
        std::fs::write(&path, bytes).unwrap();
        let out = fairtrain(&["train", "--resume", "--out", s(&run), "--iterations", "600", "--quiet"]);
        let e = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "case {k}: {e}");
        assert!(e.contains("checkpoint.bin: not a usable checkpoint"), "case {k}: {e}");
        assert_eq!(std::fs::read(run.join("model.safetensors")).unwrap(), model, "case {k}: the model was replaced");
    }
    // Another run's checkpoint.
    let other = tmp.path().join("other");
    ok(&["train", "--data", "german", "--iterations", "300", "--seed", "9", "--quiet", "--out", s(&other)]);
    std::fs::copy(other.join("checkpoint.bin"), &path).unwrap();
    let out = fairtrain(&["train", "--resume", "--out", s(&run), "--iterations", "600", "--quiet"]);
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("does not belong to this run's settings"), "{e}");
}

/// A run folder changed after its checkpoint is not resumed as if it were
/// whole: a missing manifest, or a history with fewer lines than the
/// checkpoint counted, is an error naming the file.
#[test]
fn a_changed_run_folder_is_not_resumed() {
    let tmp = tempfile::tempdir().unwrap();
    let args = ["--data", "german", "--iterations", "1000", "--checkpoint-every", "200"];
    let stopped = |name: &str| {
        let dir = tmp.path().join(name);
        let out = Command::new(env!("CARGO_BIN_EXE_fairtrain"))
            .args(["train", "--quiet", "--out", s(&dir)])
            .args(args)
            .env("FAIRTRAIN_TEST_KILL", "record:500")
            .output()
            .unwrap();
        assert!(!out.status.success());
        dir
    };
    let resume = |dir: &Path| {
        let out = fairtrain(&["train", "--resume", "--out", s(dir), "--quiet"]);
        assert_eq!(out.status.code(), Some(1));
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let a = stopped("a");
    std::fs::remove_file(a.join("manifest.json")).unwrap();
    let e = resume(&a);
    assert!(e.contains("manifest.json"), "{e}");
    let b = stopped("b");
    let history = std::fs::read(b.join("history.csv")).unwrap();
    std::fs::write(b.join("history.csv"), &history[..history.len() / 3]).unwrap();
    let e = resume(&b);
    assert!(e.contains("history.csv: holds") && e.contains("cannot be resumed exactly"), "{e}");
    // Its data file changed since: other data, refused by its sha256.
    let csv = tmp.path().join("rows.csv");
    let rows = |flip: usize| {
        let mut text = String::from("x,g,y\n");
        for i in 0..600usize {
            let y = (((i * 37) % 101 > 50) ^ (i % 7 == 0) ^ (i == flip)) as u8;
            text += &format!("{},{},{y}\n", (i * 37) % 101, if i % 3 == 0 { "B" } else { "A" });
        }
        text
    };
    std::fs::write(&csv, rows(usize::MAX)).unwrap();
    let c = tmp.path().join("c");
    let out = Command::new(env!("CARGO_BIN_EXE_fairtrain"))
        .args(["train", "--quiet", "--out", s(&c), "--data", s(&csv), "--target", "y", "--group", "g"])
        .args(["--iterations", "1000", "--checkpoint-every", "200"])
        .env("FAIRTRAIN_TEST_KILL", "record:500")
        .output()
        .unwrap();
    assert!(!out.status.success());
    std::fs::write(&csv, rows(5)).unwrap();
    let e = resume(&c);
    assert!(
        e.contains("the run was trained on other data") && e.contains("resume it with the data it started with"),
        "{e}"
    );
}
