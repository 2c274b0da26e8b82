//! Misuse that must never cost a user their results: a closed pipe, two
//! processes on one folder, `--overwrite` over a run with the user's files
//! beside it, an output path that is the command's own input; and the
//! messages of bad data and absurd flags.

mod common;
use common::{fairtrain, s};

use std::io::Read;
use std::process::{Command, Stdio};

fn fails(args: &[&str]) -> String {
    let out = fairtrain(args);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "fairtrain {}: {stderr}", args.join(" "));
    stderr
}

fn ok(args: &[&str]) -> String {
    let out = fairtrain(args);
    assert!(out.status.success(), "fairtrain {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// `fairtrain train ... | head -1`: the reader goes away after one line;
/// the run finishes, exits 0 and writes every file.
#[test]
fn a_closed_stdout_stops_printing_not_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    for args in [
        vec!["train", "--data", "german", "--iterations", "500", "--out", s(&run)],
        vec!["datasets", "list"],
        vec!["datasets", "info", "german"],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_fairtrain"))
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut first = [0u8; 16];
        let _ = stdout.read(&mut first);
        drop(stdout);
        let mut stderr = String::new();
        child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        let status = child.wait().unwrap();
        assert!(status.success(), "{args:?}: {status:?} {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    for f in ["metrics.json", "model.safetensors", "model.json", "history.csv", "checkpoint.bin"] {
        assert!(run.join(f).exists(), "{f} missing after a closed pipe");
    }
    let manifest = std::fs::read_to_string(run.join("manifest.json")).unwrap();
    assert!(manifest.contains("\"completed\""), "{manifest}");
}

/// A live process's lock refuses a second writer at once; a dead one's is
/// taken over.
#[test]
fn one_process_writes_a_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    std::fs::create_dir(&run).unwrap();
    // pid 1 runs on every Linux system.
    std::fs::write(run.join(".fairtrain.lock"), "1").unwrap();
    if std::path::Path::new("/proc/1").exists() {
        let e = fails(&["train", "--data", "german", "--iterations", "50", "--out", s(&run)]);
        assert!(e.contains("is being written by another fairtrain process (pid 1"), "{e}");
        assert!(!run.join("config.toml").exists(), "the second process wrote into the folder");
    }
    std::fs::write(run.join(".fairtrain.lock"), "4194999").unwrap();
    ok(&["train", "--data", "german", "--iterations", "50", "--quiet", "--out", s(&run)]);
    assert!(!run.join(".fairtrain.lock").exists(), "the lock outlived its run");
}

/// `--overwrite` removes the previous run's files (none is left stale) and
/// refuses, naming them, files fairtrain did not write.
#[test]
fn overwrite_clears_the_previous_run_and_spares_the_users_files() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let base = ["train", "--data", "german", "--iterations", "200", "--quiet", "--out", s(&run)];
    ok(&[&base[..], &["--eval-every", "100"]].concat());
    assert!(run.join("evaluations.csv").exists());
    let e = fails(&base);
    assert!(e.contains("already holds a run"), "{e}");
    std::fs::write(run.join("notes.txt"), "mine").unwrap();
    let e = fails(&[&base[..], &["--overwrite"]].concat());
    assert!(e.contains("holds files fairtrain did not write (notes.txt)"), "{e}");
    assert_eq!(std::fs::read_to_string(run.join("notes.txt")).unwrap(), "mine");
    std::fs::remove_file(run.join("notes.txt")).unwrap();
    ok(&[&base[..], &["--overwrite"]].concat());
    assert!(!run.join("evaluations.csv").exists(), "the previous run's evaluations.csv was left behind");
}

/// `audit --out` and `predict --out` replace nothing without `--overwrite`
/// and never the command's own input.
#[test]
fn outputs_never_replace_inputs() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = tmp.path().join("d.csv");
    let mut text = String::from("a,g,y\n");
    for i in 0..300 {
        text.push_str(&format!(
            "{},{},{}\n",
            (i * 37 % 100) as f64 / 50.0,
            ["u", "v"][i % 2],
            (i * 37 % 100 > 45) as u8
        ));
    }
    std::fs::write(&csv, &text).unwrap();
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
        "300",
        "--quiet",
        "--out",
        s(&run),
    ]);
    let preds = tmp.path().join("p.csv");
    ok(&["predict", "--model", s(&run), "--data", s(&csv), "--out", s(&preds)]);
    let e = fails(&["predict", "--model", s(&run), "--data", s(&csv), "--out", s(&csv), "--overwrite"]);
    assert!(e.contains("is this command's input"), "{e}");
    let audit = ["audit", "--data", s(&csv), "--predictions", s(&preds), "--target", "y", "--group", "g"];
    let e = fails(&[&audit[..], &["--out", s(&preds), "--overwrite"]].concat());
    assert!(e.contains("is this command's input"), "{e}");
    let report = tmp.path().join("audit.json");
    std::fs::write(&report, "keep").unwrap();
    let e = fails(&[&audit[..], &["--out", s(&report)]].concat());
    assert!(e.contains("exists; pass --overwrite to replace it"), "{e}");
    assert_eq!(std::fs::read_to_string(&report).unwrap(), "keep");
    assert_eq!(std::fs::read_to_string(&csv).unwrap(), text);
    ok(&[&audit[..], &["--out", s(&report), "--overwrite"]].concat());
}

/// Data and flags whose meaning is absurd or silently changed get a
/// message naming file, line and column, or the flag.
#[test]
fn bad_values_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let rows = |bad: &str, at: usize| {
        let mut text = String::from("id,a,b,g,y\n");
        for i in 0..200 {
            let b = if i == at { bad.to_string() } else { format!("{}", (i * 13 % 50) as f64 / 10.0) };
            text.push_str(&format!(
                "{i},{},{b},{},{}\n",
                (i * 7 % 20) as f64 / 5.0,
                ["u", "v"][i % 2],
                (i * 7 % 20 > 9) as u8
            ));
        }
        text
    };
    let train = |name: &str, text: String| {
        let path = tmp.path().join(name);
        std::fs::write(&path, text).unwrap();
        let out = fairtrain(&[
            "train",
            "--data",
            s(&path),
            "--target",
            "y",
            "--group",
            "g",
            "--iterations",
            "50",
            "--quiet",
            "--out",
            s(&tmp.path().join(format!("run-{name}"))),
        ]);
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let e = train("over.csv", rows("1e400", 9));
    assert!(e.contains("over.csv, line 11: value '1e400' in column 'b' overflows a 64-bit float"), "{e}");
    let e = train("huge.csv", rows("1e300", 9));
    assert!(e.contains("huge.csv, line 11: value '1e300' in column 'b' is too large to standardize"), "{e}");
    let e = train("cell.csv", rows("abc", 30));
    assert!(e.contains("column 'b' holds numbers except in 1 of its 200 cells (first 'abc' on line 32 of "), "{e}");
    assert!(e.contains("column 'id' looks like an identifier"), "{e}");
    let crlf = rows("1.5", 0).replace('\n', "\r\n").replacen("\r\n7,", "\r\n7,1,", 1);
    let e = train("crlf.csv", crlf);
    assert!(e.contains("crlf.csv, line 9: expected 5 fields, found 6"), "{e}");
    let long = format!("{},g,y\n1,u,1\n", "x".repeat(100_000));
    let e = fails(&[
        "train",
        "--data",
        s(&{
            let p = tmp.path().join("long.csv");
            std::fs::write(&p, long).unwrap();
            p
        }),
        "--target",
        "nope",
        "--group",
        "g",
    ]);
    assert!(e.len() < 1_000 && e.contains("(100000 bytes)"), "{} bytes: {}", e.len(), &e[..e.len().min(300)]);

    let e = fails(&["train", "--data", "german", "--threads", "100000"]);
    assert!(e.contains("invalid value for threads: 100000 (this machine has"), "{e}");
    let e = fails(&["train", "--data", "synthetic:shift=nan"]);
    assert!(e.contains("'shift=nan' needs a finite number"), "{e}");
    let out = fairtrain(&["train", "--data", "german", "--iterations", "9223372036854775808"]);
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("9223372036854775808 is not in 0..=9223372036854775807"), "{e}");
}
