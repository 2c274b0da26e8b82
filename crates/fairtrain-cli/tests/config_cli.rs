//! The run configuration from the command line: flags that take effect or
//! are refused, a run's config.toml that re-runs it from anywhere, and the
//! data flags `prune` shares with `train`.

mod common;
use common::{fairtrain, metrics, s};

use std::path::Path;
use std::process::Command;

fn ok(args: &[&str]) -> std::process::Output {
    let o = fairtrain(args);
    assert!(o.status.success(), "fairtrain {} failed: {}", args.join(" "), String::from_utf8_lossy(&o.stderr));
    o
}

fn model(dir: &Path) -> Vec<u8> {
    std::fs::read(dir.join("model.safetensors")).unwrap()
}

/// A small CSV with a binary label and two groups.
fn loans(dir: &Path) -> std::path::PathBuf {
    let mut text = String::from("income,age,region,sex,approved\n");
    for i in 0..500 {
        let sex = if i % 3 == 0 { "f" } else { "m" };
        let approved = u8::from((i * 7 + i / 5) % 10 < 4 + (i % 3 == 0) as usize);
        text.push_str(&format!(
            "{},{},{},{sex},{approved}\n",
            20 + (i * 13) % 70,
            18 + (i * 7) % 50,
            ["n", "s"][i % 2]
        ));
    }
    let path = dir.join("loans.csv");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn the_temperature_shapes_rate_constraints_and_is_refused_elsewhere() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |t: &str, name: &str| {
        let out = tmp.path().join(name);
        ok(&[
            "train",
            "--data",
            "synthetic",
            "--constraint",
            "demographic-parity",
            "--temperature",
            t,
            "--iterations",
            "1500",
            "--quiet",
            "--out",
            s(&out),
        ]);
        out
    };
    let (cold, hot) = (run("0.25", "cold"), run("5.0", "hot"));
    assert_ne!(model(&cold), model(&hot), "--temperature changed nothing");
    let config = std::fs::read_to_string(hot.join("config.toml")).unwrap();
    assert!(config.contains("temperature = 5.0"), "{config}");
    // Loss parity has no rate surrogate; adam follows no constraint.
    let no = tmp.path().join("no");
    for args in [
        &["--temperature", "0.25"][..],
        &["--algorithm", "adam", "--constraint", "demographic-parity", "--temperature", "1"],
    ] {
        let mut all = vec!["train", "--data", "synthetic", "--out", s(&no)];
        all.extend_from_slice(args);
        let o = fairtrain(&all);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            !o.status.success() && err.contains("invalid value for temperature: does not apply to this run"),
            "{err}"
        );
        assert!(!no.exists());
    }
}

#[test]
fn a_runs_config_reruns_it_from_any_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("project");
    std::fs::create_dir(&home).unwrap();
    loans(&home);
    // Trained with a path relative to the working directory.
    let o = Command::new(env!("CARGO_BIN_EXE_fairtrain"))
        .current_dir(&home)
        .args(["train", "--data", "loans.csv", "--target", "approved", "--group", "sex", "--iterations", "800"])
        .args(["--quiet", "--out", "run"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let config = home.join("run/config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("[data]") && text.contains(&home.join("loans.csv").display().to_string()), "{text}");
    // Re-run from elsewhere.
    let again = tmp.path().join("again");
    let o = Command::new(env!("CARGO_BIN_EXE_fairtrain"))
        .current_dir(tmp.path())
        .args(["train", "--config", s(&config), "--quiet", "--out", s(&again)])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(model(&home.join("run")), model(&again));
    assert_eq!(metrics(&home.join("run"))["test"], metrics(&again)["test"]);
}

#[test]
fn a_config_file_in_the_flat_form_still_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let flat = tmp.path().join("flat.toml");
    std::fs::write(
        &flat,
        "data = \"synthetic\"\nalgorithm = \"alm\"\nlr = 0.02\niterations = 400\ntemperature = 0.25\n",
    )
    .unwrap();
    let out = tmp.path().join("flat");
    let o = ok(&["train", "--config", s(&flat), "--out", s(&out)]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("note: config file") && stdout.contains("flat keys"), "{stdout}");
    assert!(stdout.contains("line 5: `temperature` does not apply to this run"), "{stdout}");
    let written = std::fs::read_to_string(out.join("config.toml")).unwrap();
    assert!(written.contains("[algorithm]\nname = \"alm\"") && written.contains("lr = 0.02"), "{written}");
}

#[test]
fn prune_takes_the_data_flags_of_train() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = loans(tmp.path());
    let out = tmp.path().join("pruned");
    ok(&[
        "prune",
        "--data",
        s(&csv),
        "--target",
        "approved",
        "--group",
        "sex",
        "--categorical",
        "region",
        "--sparsity",
        "0.5",
        "--iterations",
        "400",
        "--quiet",
        "--out",
        s(&out),
    ]);
    let m = metrics(&out);
    assert!((m["sparsity"].as_f64().unwrap() - 0.5).abs() < 0.01, "{}", m["sparsity"]);
    assert_eq!(m["data"]["inputs"], 4, "income, age and two regions");
}
