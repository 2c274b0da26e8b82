//! `fairtrain datasets export` and `fairtrain frontier`: the split every
//! method reads, fairtrain's curves, and the alternatives skipped (with a
//! reason) where no Python with fairlearn is found.

mod common;
use std::process::Command;

use common::{fairtrain, s};

#[test]
fn export_writes_a_stratified_split_that_train_reads() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("syn");
    let out = fairtrain(&["datasets", "export", "synthetic:train=2000;test=1000", "--out", s(&dir)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let train = std::fs::read_to_string(dir.join("train.csv")).unwrap();
    let test = std::fs::read_to_string(dir.join("test.csv")).unwrap();
    // 3,000 pooled rows, 30% to test (rounded per group and label cell).
    let (n_train, n_test) = (train.lines().count() - 1, test.lines().count() - 1);
    assert_eq!(n_train + n_test, 3000);
    assert!((895..=905).contains(&n_test), "{n_test}");
    assert!(train.lines().next().unwrap().ends_with(",group,label"));
    // Group B's share is the same on both sides (stratified).
    let share = |text: &str| {
        let rows: Vec<&str> = text.lines().skip(1).collect();
        rows.iter().filter(|r| r.contains(",B,")).count() as f64 / rows.len() as f64
    };
    assert!((share(&train) - share(&test)).abs() < 0.005);
    // Another seed draws another split of the same size; another fraction
    // another size.
    let other = tmp.path().join("other");
    let args = ["datasets", "export", "synthetic:train=2000;test=1000", "--out", s(&other)];
    assert!(fairtrain(&[&args[..], &["--split-seed", "1"]].concat()).status.success());
    let other_test = std::fs::read_to_string(other.join("test.csv")).unwrap();
    assert_eq!(other_test.lines().count() - 1, n_test);
    assert_ne!(other_test, test);
    assert!(fairtrain(&[&args[..], &["--test-fraction", "0.5", "--overwrite"]].concat()).status.success());
    let half = std::fs::read_to_string(other.join("test.csv")).unwrap().lines().count() - 1;
    assert!((1495..=1505).contains(&half), "{half}");
    // Refused over existing files; train reads the split as it is.
    let again = fairtrain(&["datasets", "export", "synthetic:train=2000;test=1000", "--out", s(&dir)]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists; pass --overwrite"));
    let run = tmp.path().join("run");
    let trained = fairtrain(&[
        "train",
        "--data",
        s(&dir.join("train.csv")),
        "--test-data",
        s(&dir.join("test.csv")),
        "--target",
        "label",
        "--group",
        "group",
        "--iterations",
        "300",
        "--quiet",
        "--out",
        s(&run),
    ]);
    assert!(trained.status.success(), "{}", String::from_utf8_lossy(&trained.stderr));
    let m = common::metrics(&run);
    assert_eq!(m["data"]["test_rows"].as_u64().unwrap() as usize, n_test);
}

#[test]
fn frontier_runs_every_variant_and_says_when_the_alternatives_are_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("f");
    // No PATH: no python3 to find, so the alternatives are skipped.
    let o = Command::new(env!("CARGO_BIN_EXE_fairtrain"))
        .args(["frontier", "--data", "synthetic:train=3000;test=1000", "--bounds", "0.03,0.1", "--seeds", "1"])
        .args(["--iterations", "400", "--jobs", "2", "--out", s(&out)])
        .env("PATH", "")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let csv = std::fs::read_to_string(out.join("frontier.csv")).unwrap();
    // 3 variants x 2 models x 2 bounds x 1 seed.
    assert_eq!(csv.lines().count(), 1 + 12);
    for variant in ["in-training,MLP 64-32", "post-processing,linear", "both,MLP 64-32"] {
        assert!(csv.contains(variant), "{csv}");
    }
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("The alternatives were not run: no Python with fairlearn"), "{md}");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("fairtrain post-processing (linear)"));
    assert!(!html.contains(">-0<") && !html.contains(">-0.0<"));
    // Post-processing meets a loose bound on test at no cost worth a
    // point against in-training constraints at that bound.
    let rows: Vec<Vec<String>> = csv.lines().skip(1).map(|l| l.split(',').map(String::from).collect()).collect();
    let acc = |variant: &str, bound: &str| {
        rows.iter().find(|r| r[0] == variant && r[1] == "MLP 64-32" && r[2] == bound).unwrap()[4]
            .parse::<f64>()
            .unwrap()
    };
    assert!(acc("post-processing", "0.1") > acc("in-training", "0.1") - 0.03);
    // The alternatives' results of an earlier frontier on the same split are
    // reused and judged; on another split they are refused.
    std::fs::write(
        out.join("peers.csv"),
        "tool,method,param,seed,test_accuracy,test_gap,seconds\n\
         fairlearn,ExponentiatedGradient(LogisticRegression),0.05,0,0.5,0.0001,1.0\n",
    )
    .unwrap();
    let again = tmp.path().join("again");
    let args = ["frontier", "--data", "synthetic:train=3000;test=1000", "--bounds", "0.03,0.1", "--seeds", "1"];
    let o = fairtrain(&[&args[..], &["--iterations", "400", "--peers-from", s(&out), "--out", s(&again)]].concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let md = std::fs::read_to_string(again.join("report.md")).unwrap();
    assert!(md.contains("| ExponentiatedGradient(LogisticRegression) | in-training (MLP 64-32) | +"), "{md}");
    let elsewhere = tmp.path().join("o");
    let mut other = [&args[..], &["--iterations", "400", "--peers-from", s(&out), "--out", s(&elsewhere)]].concat();
    other[2] = "synthetic:train=3000;test=1000;seed=5";
    let o = fairtrain(&other);
    assert!(String::from_utf8_lossy(&o.stderr).contains("differs from this run's split"));
    // An explicit Python that lacks fairlearn is an error, not a skip.
    let bad = fairtrain(&[
        "frontier",
        "--data",
        "synthetic",
        "--seeds",
        "1",
        "--python",
        "/nonexistent/python",
        "--out",
        s(&out),
        "--overwrite",
    ]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("cannot run /nonexistent/python"));
    // Loss parity is not a rate notion: refused.
    let e = fairtrain(&["frontier", "--constraint", "loss-parity", "--out", s(&tmp.path().join("g"))]);
    assert!(String::from_utf8_lossy(&e.stderr).contains("frontier compares rate notions"));
}
