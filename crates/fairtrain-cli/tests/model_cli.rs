//! The saved model: `predict` reproduces the training run's predictions on
//! new data with the same preprocessing, and `audit` measures predictions;
//! their bad inputs get clear errors.

mod common;
use common::{fairtrain, s};

use serde_json::Value;

fn ok(args: &[&str]) -> String {
    let out = fairtrain(args);
    assert!(out.status.success(), "fairtrain {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn fails(args: &[&str]) -> String {
    let out = fairtrain(args);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "fairtrain {} succeeded", args.join(" "));
    assert_ne!(out.status.code(), Some(101), "panicked: {stderr}");
    stderr
}

/// `train` on `csv` (label y, group g, id dropped) into `run`, 2,000
/// iterations, with `extra` flags.
fn train_args(csv: &std::path::Path, run: &std::path::Path, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = ["train", "--data", s(csv), "--target", "y", "--group", "g", "--drop", "id"]
        .iter()
        .map(|a| a.to_string())
        .collect();
    args.extend(["--iterations", "2000", "--out", s(run)].iter().map(|a| a.to_string()));
    args.extend(extra.iter().map(|a| a.to_string()));
    args
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// A CSV with a numeric, a categorical and a group column.
fn data(rows: usize) -> String {
    let mut text = String::from("id,a,b,g,y\n");
    let mut state = 7u64;
    let mut next = || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((state >> 33) % 1000) as f64 / 1000.0
    };
    for i in 0..rows {
        let g = if next() < 0.4 { "x" } else { "y" };
        let a = next() * 4.0 - 2.0;
        let b = ["u", "v", "w"][(next() * 3.0) as usize % 3];
        let y = (a + if g == "x" { 0.6 } else { -0.2 } + next() - 0.5 > 0.0) as u8;
        text.push_str(&format!("{i},{a:.4},{b},{g},{y}\n"));
    }
    text
}

#[test]
fn predict_reproduces_the_run_and_audit_measures_it() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = tmp.path().join("d.csv");
    std::fs::write(&csv, data(1000)).unwrap();
    let run = tmp.path().join("run");
    ok(&strs(&train_args(&csv, &run, &["--quiet"])));
    let card: Value = serde_json::from_str(&std::fs::read_to_string(run.join("model.json")).unwrap()).unwrap();
    assert_eq!(card["label"], "y");
    assert_eq!(card["numeric"][0]["name"], "a");
    assert_eq!(card["categorical"][0]["categories"], serde_json::json!(["u", "v", "w"]));

    let preds = tmp.path().join("p.csv");
    ok(&["predict", "--model", s(&run), "--data", s(&csv), "--out", s(&preds), "--keep", "id"]);
    let text = std::fs::read_to_string(&preds).unwrap();
    assert!(text.starts_with("id,score,prediction\n0,"), "{}", &text[..40]);
    assert_eq!(text.lines().count(), 1001);

    // The audit of the model's predictions on all rows agrees with the
    // run's own train and test accuracy, weighted by their sizes.
    let audit = tmp.path().join("audit.json");
    ok(&["audit", "--data", s(&csv), "--predictions", s(&preds), "--target", "y", "--group", "g", "--out", s(&audit)]);
    let a: Value = serde_json::from_str(&std::fs::read_to_string(&audit).unwrap()).unwrap();
    let m: Value = serde_json::from_str(&std::fs::read_to_string(run.join("metrics.json")).unwrap()).unwrap();
    let rows = |split: &str| -> f64 {
        m[split]["groups"].as_object().unwrap().values().map(|g| g["n"].as_f64().unwrap()).sum()
    };
    let expected =
        ["train", "validation", "test"].iter().map(|sp| m[*sp]["accuracy"].as_f64().unwrap() * rows(sp)).sum::<f64>()
            / 1000.0;
    assert_eq!(rows("train") + rows("validation") + rows("test"), 1000.0);
    assert!((a["report"]["accuracy"].as_f64().unwrap() - expected).abs() < 1e-9);
    assert_eq!(a["certificates"].as_array().unwrap().len(), 4);
    assert!(a["certificates"][0]["value_bound"].as_f64().is_some());

    // A category the training data never had is counted, not an error.
    let unseen = tmp.path().join("unseen.csv");
    std::fs::write(&unseen, "id,a,b,g,y\n1,0.5,zz,x,1\n2,0.1,u,y,0\n").unwrap();
    let o = fairtrain(&["predict", "--model", s(&run), "--data", s(&unseen), "--out", s(&tmp.path().join("u.csv"))]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("1 rows have a 'b' category the model never saw"));
}

#[test]
fn predict_and_audit_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = tmp.path().join("d.csv");
    std::fs::write(&csv, data(300)).unwrap();
    let run = tmp.path().join("run");
    ok(&[
        "train",
        "--data",
        s(&csv),
        "--target",
        "y",
        "--group",
        "g",
        "--iterations",
        "100",
        "--quiet",
        "--out",
        s(&run),
    ]);
    let out = tmp.path().join("p.csv");
    let file = |name: &str, text: &str| {
        let p = tmp.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let no_b = file("nob.csv", "id,a,g\n1,0.5,x\n");
    let e = fails(&["predict", "--model", s(&run), "--data", s(&no_b), "--out", s(&out)]);
    assert!(e.contains("has no column 'b', which the model reads"), "{e}");
    let missing = file("missing.csv", "id,a,b,g\n1,0.5,u,x\n2,,u,x\n");
    let e = fails(&["predict", "--model", s(&run), "--data", s(&missing), "--out", s(&out)]);
    assert!(e.contains("missing.csv, line 3: missing value in column 'a'"), "{e}");
    let e = fails(&["predict", "--model", s(&tmp.path().join("nope")), "--data", s(&csv), "--out", s(&out)]);
    assert!(e.contains("model.json"), "{e}");
    let e = fails(&["predict", "--model", s(&run), "--data", s(&csv), "--out", s(&out), "--threshold", "1.5"]);
    assert!(e.contains("invalid value for threshold: 1.5"), "{e}");
    assert!(!out.exists());

    ok(&["predict", "--model", s(&run), "--data", s(&csv), "--out", s(&out)]);
    let e = fails(&["predict", "--model", s(&run), "--data", s(&csv), "--out", s(&out)]);
    assert!(e.contains("exists; pass --overwrite"), "{e}");
    let short = file("short.csv", "score,prediction\n0.5,1\n");
    let e = fails(&["audit", "--data", s(&csv), "--predictions", s(&short), "--target", "y", "--group", "g"]);
    assert!(e.contains("has 300 rows but") && e.contains("has 1"), "{e}");
    let mut hard = String::from("prediction\n");
    let mut bad = String::from("score\n");
    for i in 0..300 {
        hard.push_str(if i % 2 == 0 { "1\n" } else { "0\n" });
        bad.push_str(if i == 5 { "1.7\n" } else { "0.4\n" });
    }
    let hard = file("hard.csv", &hard);
    let e = fails(&[
        "audit",
        "--data",
        s(&csv),
        "--predictions",
        s(&hard),
        "--target",
        "y",
        "--group",
        "g",
        "--constraint",
        "loss-parity",
    ]);
    assert!(e.contains("loss-based notions need scores"), "{e}");
    // Hard predictions alone support the rate notions.
    ok(&["audit", "--data", s(&csv), "--predictions", s(&hard), "--target", "y", "--group", "g"]);
    let bad = file("bad.csv", &bad);
    let e = fails(&["audit", "--data", s(&csv), "--predictions", s(&bad), "--target", "y", "--group", "g"]);
    assert!(e.contains("bad.csv, line 7: column 'score': score '1.7' is not a probability"), "{e}");
}

/// Predictions of one class for everyone meet demographic parity trivially:
/// the audit says the bound holds, but the predictions are near-constant.
#[test]
fn audit_flags_near_constant_predictions() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = tmp.path().join("d.csv");
    let preds = tmp.path().join("p.csv");
    let mut data = String::from("g,y\n");
    let mut scores = String::from("prediction\n");
    for i in 0..400 {
        data.push_str(&format!("{},{}\n", ["a", "b"][i % 2], u8::from(i % 3 == 0)));
        scores.push_str("0\n");
    }
    std::fs::write(&csv, data).unwrap();
    std::fs::write(&preds, scores).unwrap();
    let o = fairtrain(&[
        "audit",
        "--data",
        s(&csv),
        "--predictions",
        s(&preds),
        "--target",
        "y",
        "--group",
        "g",
        "--constraint",
        "demographic-parity",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("holds with 95% confidence, but the predictions are near-constant"), "{out}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("warning (near-constant): the predictions are near-constant (accuracy 0.6650"), "{err}");
}

/// Post-processing: per-group thresholds (fitted on training and
/// validation rows for an unconstrained model, on validation alone for a
/// constrained one) meet the bound on validation, `predict` applies them (coins included) so that an audit of
/// its output reproduces the run's reported accuracies, and it needs the
/// group column to do so.
#[test]
fn postprocessed_models_predict_what_the_run_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = tmp.path().join("d.csv");
    std::fs::write(&csv, data(3000)).unwrap();
    let run = tmp.path().join("run");
    let train = |extra: &[&str]| train_args(&csv, &run, &[&["--overwrite"], extra].concat());
    let out = ok(&strs(&train(&[
        "--algorithm",
        "adam",
        "--constraint",
        "demographic-parity",
        "--bound",
        "0.05",
        "--postprocess",
        "group-thresholds",
        "--keep-group-feature",
    ])));
    assert!(out.contains("post-processing: per-group decision thresholds fitted on training and validation"), "{out}");
    let m: Value = serde_json::from_str(&std::fs::read_to_string(run.join("metrics.json")).unwrap()).unwrap();
    // Group x is shifted up and the model sees the group: its own
    // decisions are far apart.
    let before = m["postprocess"]["before"]["validation"]["constraints"][0]["value"].as_f64().unwrap();
    let after = m["validation"]["constraints"][0]["value"].as_f64().unwrap();
    assert!(before > 0.1, "{before}");
    assert!(after < 0.05 + 0.03, "validation gap after post-processing {after}");
    assert!(m["test"]["accuracy"].as_f64().unwrap() > 0.7);
    let card: Value = serde_json::from_str(&std::fs::read_to_string(run.join("model.json")).unwrap()).unwrap();
    assert_eq!(card["decisions"]["groups"].as_array().unwrap().len(), 2);

    let preds = tmp.path().join("p.csv");
    ok(&["predict", "--model", s(&run), "--data", s(&csv), "--out", s(&preds)]);
    let audit = tmp.path().join("audit.json");
    ok(&["audit", "--data", s(&csv), "--predictions", s(&preds), "--target", "y", "--group", "g", "--out", s(&audit)]);
    let a: Value = serde_json::from_str(&std::fs::read_to_string(&audit).unwrap()).unwrap();
    let rows = |split: &str| -> f64 {
        m[split]["groups"].as_object().unwrap().values().map(|g| g["n"].as_f64().unwrap()).sum()
    };
    let correct: f64 =
        ["train", "validation", "test"].iter().map(|sp| m[*sp]["accuracy"].as_f64().unwrap() * rows(sp)).sum();
    assert!((a["report"]["accuracy"].as_f64().unwrap() - correct / 3000.0).abs() < 1e-9);

    // With a threshold of its own, or (a model that does not read the
    // group) without the group column, predict refuses.
    let e = fails(&[
        "predict",
        "--model",
        s(&run),
        "--data",
        s(&csv),
        "--out",
        s(&tmp.path().join("y.csv")),
        "--threshold",
        "0.3",
    ]);
    assert!(e.contains("--threshold does not apply"), "{e}");
    // A constrained model was fitted to its training rates: its
    // thresholds are fitted on validation alone.
    let out = ok(&strs(&train(&[
        "--algorithm",
        "ssl-alm",
        "--constraint",
        "demographic-parity",
        "--bound",
        "0.02",
        "--postprocess",
        "group-thresholds",
        "--keep-group-feature",
    ])));
    let m: Value = serde_json::from_str(&std::fs::read_to_string(run.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(m["postprocess"]["fitted_on"], "validation", "{out}");
    ok(&strs(&train(&[
        "--algorithm",
        "adam",
        "--constraint",
        "equal-opportunity",
        "--postprocess",
        "group-thresholds",
    ])));
    let no_group: String = data(10)
        .lines()
        .map(|l| l.rsplitn(3, ',').collect::<Vec<_>>())
        .map(|p| format!("{},{}\n", p[2], p[0]))
        .collect();
    let no_group_csv = tmp.path().join("nog.csv");
    std::fs::write(&no_group_csv, no_group).unwrap();
    let e = fails(&["predict", "--model", s(&run), "--data", s(&no_group_csv), "--out", s(&tmp.path().join("x.csv"))]);
    assert!(e.contains("has no column 'g': this model decides per group"), "{e}");
    // A constraint that decisions cannot meet is refused before training.
    let e = fails(&strs(&train(&["--constraint", "loss-parity", "--postprocess", "group-thresholds"])));
    assert!(e.contains("group-thresholds cannot post-process 'loss-parity'"), "{e}");
}

/// A saved model whose weights or description were damaged (any single
/// byte of the weights, a number of the description) is refused by
/// `predict` with an error naming both files; the undamaged model scores.
#[test]
fn a_damaged_model_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = tmp.path().join("d.csv");
    std::fs::write(&csv, data(400)).unwrap();
    let run = tmp.path().join("run");
    ok(&strs(&train_args(&csv, &run, &["--quiet"])));
    let scored = tmp.path().join("p.csv");
    let predict = || vec!["predict", "--model", s(&run), "--data", s(&csv), "--out", s(&scored), "--overwrite"];
    ok(&predict());
    let weights = std::fs::read(run.join("model.safetensors")).unwrap();
    let card = std::fs::read_to_string(run.join("model.json")).unwrap();
    for at in [0, 9, weights.len() / 2, weights.len() - 1] {
        let mut b = weights.clone();
        b[at] ^= 0x10;
        std::fs::write(run.join("model.safetensors"), &b).unwrap();
        let e = fails(&predict());
        assert!(
            e.contains("model.safetensors") && (e.contains("checksum") || e.contains("not a safetensors file")),
            "byte {at}: {e}"
        );
    }
    std::fs::write(run.join("model.safetensors"), &weights).unwrap();
    // One standardization mean changed.
    let v: Value = serde_json::from_str(&card).unwrap();
    let mean = v["numeric"][0]["mean"].as_f64().unwrap();
    let changed = card.replacen(&format!("\"mean\": {mean}"), &format!("\"mean\": {}", mean + 0.25), 1);
    assert_ne!(changed, card);
    std::fs::write(run.join("model.json"), changed).unwrap();
    let e = fails(&predict());
    assert!(e.contains("the checksum in model.json does not match"), "{e}");
    std::fs::write(run.join("model.json"), card).unwrap();
    ok(&predict());
}
