//! `fairtrain datasets` and training on every kind of data source, as a
//! user runs them: the real binary, a private cache, no network beyond a
//! loopback HTTP server started here.

mod common;
use common::{metrics, s, shared_datasets};

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

fn fairtrain(args: &[&str], cache: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fairtrain"))
        .args(args)
        .env("FAIRTRAIN_CACHE", cache)
        .output()
        .expect("the fairtrain binary runs")
}

fn ok(args: &[&str], cache: &Path) -> String {
    let out = fairtrain(args, cache);
    assert!(out.status.success(), "fairtrain {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Runs a command that must fail cleanly; returns its stderr.
fn fails(args: &[&str], cache: &Path) -> String {
    let out = fairtrain(args, cache);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "fairtrain {} succeeded", args.join(" "));
    assert_ne!(out.status.code(), Some(101), "panicked: {stderr}");
    stderr
}

/// Served files: (path, body), replaceable while the server runs.
type Routes = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// Serves `routes` on 127.0.0.1.
fn serve(routes: Routes) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
            let found = routes.lock().unwrap().iter().find(|(p, _)| *p == path).map(|(_, b)| b.clone());
            let (status, body) = match found {
                Some(b) => (200, b),
                None => (404, b"not found".to_vec()),
            };
            let head = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    format!("http://{addr}")
}

/// A PUMS-format person file of `n` rows with every column the ACS tasks
/// read, values drawn deterministically; higher schooling raises income,
/// so the label is learnable.
fn pums_file(n: usize, seed: u64) -> String {
    let columns = [
        "RT", "SERIALNO", "ST", "PUMA", "AGEP", "COW", "SCHL", "MAR", "OCCP", "POBP", "RELP", "WKHP", "SEX", "RAC1P",
        "PINCP", "PWGTP", "ESR", "DIS", "ESP", "CIT", "MIG", "MIL", "ANC", "NATIVITY", "DEAR", "DEYE", "DREM",
        "PUBCOV", "FER", "GCL", "JWMNP", "JWTR", "POWPUMA", "POVPIP",
    ];
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut next = |m: u64| {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 33) % m
    };
    let mut text = columns.join(",") + "\n";
    for i in 0..n {
        let schl = 1 + next(24);
        let race = if next(4) == 0 { 2 + next(8) } else { 1 };
        let income = 2_000 + schl * 3_000 + next(40_000) + if race == 1 { 5_000 } else { 0 };
        let row = [
            "P".to_string(),
            format!("2018GQ{i:07}"),
            "40".into(),
            format!("{}", 100 + next(5)),
            format!("{}", 17 + next(60)),
            if next(10) == 0 { String::new() } else { format!("{}", 1 + next(8)) },
            schl.to_string(),
            format!("{}", 1 + next(5)),
            format!("{}", 1000 + 10 * next(20)),
            format!("{}", 1 + next(56)),
            format!("{}", next(18)),
            format!("{}", 10 + next(50)),
            format!("{}", 1 + next(2)),
            race.to_string(),
            income.to_string(),
            format!("{}", 1 + next(100)),
            format!("{}", 1 + next(6)),
            format!("{}", 1 + next(2)),
            format!("{}", next(8)),
            format!("{}", 1 + next(5)),
            format!("{}", 1 + next(3)),
            format!("{}", 1 + next(4)),
            format!("{}", 1 + next(4)),
            format!("{}", 1 + next(2)),
            format!("{}", 1 + next(2)),
            format!("{}", 1 + next(2)),
            format!("{}", 1 + next(2)),
            format!("{}", 1 + next(2)),
            format!("{}", next(3)),
            format!("{}", 1 + next(2)),
            format!("{}", 5 + next(60)),
            format!("{}", 1 + next(12)),
            format!("{}", 100 + next(5)),
            format!("{}", 50 + next(450)),
        ];
        text.push_str(&row.join(","));
        text.push('\n');
    }
    text
}

fn zip_of(name: &str, text: &str) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut buf);
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    zip.start_file(name, options).unwrap();
    zip.write_all(text.as_bytes()).unwrap();
    zip.finish().unwrap();
    buf.into_inner()
}

#[test]
fn list_names_every_data_set_and_task() {
    let tmp = tempfile::tempdir().unwrap();
    let out = ok(&["datasets", "list"], tmp.path());
    for name in ["adult", "german", "compas", "law", "synthetic", "acs-income", "acs-travel-time", "acs-mobility"] {
        assert!(out.contains(name), "{name} missing from:\n{out}");
    }
    assert!(out.contains("not cached"), "{out}");
    assert!(out.contains("shipped"), "{out}");
}

#[test]
fn import_train_offline_and_refuse_bad_copies() {
    let Some(shared) = shared_datasets() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");

    // Offline with an empty cache: the error says how to get the data.
    let out_dir = tmp.path().join("run-compas");
    let err = fails(&["train", "--data", "compas", "--offline", "--out", s(&out_dir)], &cache);
    assert!(err.contains("compas is not in the cache") && err.contains("fairtrain datasets fetch compas"), "{err}");
    assert!(!out_dir.exists());
    let err = fails(&["datasets", "fetch", "compas", "--offline"], &cache);
    assert!(err.contains("--offline forbids downloading compas"), "{err}");

    // A corrupted copy is refused and nothing enters the cache.
    let bad = tmp.path().join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    let mut bytes = std::fs::read(shared.join("compas/compas-scores-two-years.csv")).unwrap();
    bytes[1000] ^= 1;
    std::fs::write(bad.join("compas-scores-two-years.csv"), &bytes).unwrap();
    let err = fails(&["datasets", "fetch", "compas", "--from", s(&bad)], &cache);
    assert!(err.contains("checksum mismatch") && err.contains("expected sha256 c451db85"), "{err}");
    assert!(!cache.join("compas/compas-scores-two-years.csv").exists());
    // A truncated copy too.
    std::fs::write(bad.join("compas-scores-two-years.csv"), &bytes[..5000]).unwrap();
    let err = fails(&["datasets", "fetch", "compas", "--from", s(&bad)], &cache);
    assert!(err.contains("5000 bytes where compas-scores-two-years.csv has 2546489"), "{err}");

    // Good copies, then offline training on every built-in.
    ok(&["datasets", "fetch", "compas", "--from", s(&shared.join("compas"))], &cache);
    ok(&["datasets", "fetch", "law", "--from", s(&shared.join("law_school"))], &cache);
    let listed = ok(&["datasets", "list"], &cache);
    assert!(listed.lines().any(|l| l.contains("compas") && l.contains("cached (2.4 MB)")), "{listed}");
    for (data, groups) in [
        ("adult", ["White", "Non-White"]),
        ("german", ["Male", "Female"]),
        ("compas", ["African-American", "Caucasian"]),
        ("law", ["White", "Non-White"]),
    ] {
        let out = tmp.path().join(format!("run-{data}"));
        ok(&["train", "--data", data, "--iterations", "200", "--offline", "--out", s(&out)], &cache);
        let m = metrics(&out);
        let names: Vec<&str> = m["test"]["groups"].as_object().unwrap().keys().map(String::as_str).collect();
        for g in groups {
            assert!(names.contains(&g), "{data}: group {g} missing from {names:?}");
        }
    }
    // The info page gives rows, features and base rates from the cache.
    let info = ok(&["datasets", "info", "compas"], &cache);
    assert!(info.contains("5278 (4223 train / 1055 test)"), "{info}");
    assert!(info.contains("group 'African-American':") && info.contains("base rate 0.523"), "{info}");
    assert!(info.contains("licence:   none stated"), "{info}");
}

#[test]
fn downloads_through_a_mirror_with_checks() {
    let Some(shared) = shared_datasets() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let law = std::fs::read(shared.join("law_school/law_school_clean.csv")).unwrap();
    let mut corrupt = law.clone();
    corrupt[100] ^= 1;
    let routes = Arc::new(Mutex::new(vec![("/law/law_school_clean.csv".to_string(), corrupt)]));
    let base = serve(routes.clone());
    let err = fails(&["datasets", "fetch", "law", "--mirror", &base], &cache);
    assert!(err.contains("checksum mismatch"), "{err}");
    routes.lock().unwrap()[0].1 = law[..law.len() / 2].to_vec();
    let err = fails(&["datasets", "fetch", "law", "--mirror", &base], &cache);
    assert!(err.contains("announces 567778 bytes"), "{err}");
    routes.lock().unwrap()[0].1 = law;
    let out = ok(&["datasets", "fetch", "law", "--mirror", &base], &cache);
    assert!(out.contains("1135557 bytes, sha256 verified"), "{out}");
    let err = fails(&["datasets", "fetch", "compas", "--mirror", &base], &cache);
    assert!(err.contains("404"), "{err}");
}

#[test]
fn acs_tasks_from_pums_files() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    // A PUMS person file for Oklahoma, imported.
    let from = tmp.path().join("pums");
    std::fs::create_dir_all(&from).unwrap();
    std::fs::write(from.join("psam_p40.csv"), pums_file(3000, 1)).unwrap();
    let err = fails(&["train", "--data", "acs-income", "--offline", "--out", s(&tmp.path().join("x"))], &cache);
    assert!(
        err.contains("acs-income for OK is not in the cache") && err.contains("datasets fetch acs-income"),
        "{err}"
    );
    ok(&["datasets", "fetch", "acs-income", "--from", s(&from)], &cache);
    let out = tmp.path().join("run-income");
    let printed = ok(
        &["train", "--data", "acs-income", "--iterations", "300", "--offline", "--weight", "PWGTP", "--out", s(&out)],
        &cache,
    );
    assert!(printed.contains("White"), "{printed}");
    let m = metrics(&out);
    assert_eq!(m["dataset"], "acs-income:OK:2018:1-Year");
    assert_eq!(m["data"]["weight"], "PWGTP");
    let config = std::fs::read_to_string(out.join("config.toml")).unwrap();
    assert!(config.contains("source = \"acs-income\"") && config.contains("state = [\"OK\"]"), "{config}");
    // Other tasks and groups on the same file.
    for (task, group) in [("acs-employment", "RAC1P"), ("acs-public-coverage", "sex"), ("acs-travel-time", "race")] {
        let out = tmp.path().join(format!("run-{task}"));
        ok(&["train", "--data", task, "--group", group, "--iterations", "100", "--offline", "--out", s(&out)], &cache);
    }
    let listed = ok(&["datasets", "list"], &cache);
    assert!(listed.contains("2018 1-Year: OK"), "{listed}");

    // A Census-style zip archive through a mirror; a republished file warns.
    let routes = Arc::new(Mutex::new(vec![(
        "/2018/1-Year/csv_ptx.zip".to_string(),
        zip_of("psam_p48.csv", &pums_file(500, 2)),
    )]));
    let base = serve(routes.clone());
    let fetched = fairtrain(&["datasets", "fetch", "acs-mobility", "--state", "TX", "--mirror", &base], &cache);
    assert!(fetched.status.success(), "{}", String::from_utf8_lossy(&fetched.stderr));
    assert!(!String::from_utf8_lossy(&fetched.stderr).contains("warning"));
    let out = tmp.path().join("run-tx");
    ok(
        &["train", "--data", "acs-mobility", "--state", "TX", "--iterations", "50", "--offline", "--out", s(&out)],
        &cache,
    );
    routes.lock().unwrap()[0].1 = zip_of("psam_p48.csv", &pums_file(500, 3));
    let again = fairtrain(&["datasets", "fetch", "acs-mobility", "--state", "TX", "--mirror", &base], &cache);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(again.status.success() && stderr.contains("changed since it was first fetched"), "{stderr}");
    // Not a zip: refused, nothing kept.
    routes.lock().unwrap()[0].1 = b"<html>moved</html>".to_vec();
    let err = fails(&["datasets", "fetch", "acs-income", "--state", "TX", "--mirror", &base], &cache);
    assert!(err.contains("not a readable zip archive"), "{err}");
    // Bad survey settings.
    let err = fails(&["datasets", "fetch", "acs-income", "--state", "ZZ"], &cache);
    assert!(err.contains("'ZZ' is not a state postal code"), "{err}");
    let err = fails(&["train", "--data", "adult", "--state", "OK"], &cache);
    assert!(err.contains("invalid value for state: applies only to ACS tasks"), "{err}");
}

#[test]
fn arff_and_schema_files() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let mut arff = String::from("@relation credit\n@attribute income numeric\n@attribute sex {m,f}\n");
    arff.push_str("@attribute tier {1,2,3}\n@attribute ok {yes,no}\n@data\n");
    let mut csv = String::from("income;sex;zip;ok\n");
    for i in 0..400 {
        let sex = if i % 3 == 0 { "f" } else { "m" };
        let ok = if (i * 7) % 10 < 6 { "yes" } else { "no" };
        arff.push_str(&format!("{},{sex},{},{ok}\n", 1000 + i * 13 % 500, 1 + i % 3));
        csv.push_str(&format!("{};{sex};{};{ok}\n", 1000 + i * 13 % 500, 10000 + i % 4));
    }
    let arff_path = tmp.path().join("credit.arff");
    std::fs::write(&arff_path, &arff).unwrap();
    let out = tmp.path().join("run-arff");
    ok(
        &[
            "train",
            "--data",
            s(&arff_path),
            "--target",
            "ok",
            "--positive",
            "yes",
            "--group",
            "sex",
            "--iterations",
            "100",
            "--out",
            s(&out),
        ],
        &cache,
    );
    // The nominal tier is one-hot (3 inputs), not a number: 1 + 3 inputs.
    let m = metrics(&out);
    assert_eq!(m["data"]["inputs"], 4, "{}", m["data"]);

    // A schema: delimiter, target, group and types; numeric is enforced.
    let csv_path = tmp.path().join("credit.csv");
    std::fs::write(&csv_path, &csv).unwrap();
    let schema = tmp.path().join("schema.toml");
    std::fs::write(
        &schema,
        "target = \"ok\"\npositive = \"yes\"\ngroup = \"sex\"\ndelimiter = \";\"\n[columns]\nincome = \"numeric\"\nzip = \"categorical\"\n",
    )
    .unwrap();
    let out = tmp.path().join("run-schema");
    ok(&["train", "--data", s(&csv_path), "--schema", s(&schema), "--iterations", "100", "--out", s(&out)], &cache);
    assert_eq!(metrics(&out)["data"]["inputs"], 5);
    std::fs::write(&csv_path, csv.replacen("1013;", "n/a;", 1)).unwrap();
    let err =
        fails(&["train", "--data", s(&csv_path), "--schema", s(&schema), "--out", s(&tmp.path().join("y"))], &cache);
    assert!(err.contains("credit.csv, line 3: value 'n/a' in column 'income' is not a number"), "{err}");

    // A malformed ARFF names its line.
    std::fs::write(&arff_path, arff.replacen("1013,m,2,", "1013,x,2,", 1)).unwrap();
    let err = fails(
        &["train", "--data", s(&arff_path), "--target", "ok", "--group", "sex", "--out", s(&tmp.path().join("z"))],
        &cache,
    );
    assert!(
        err.contains("credit.arff, line 8: value 'x' of attribute 'sex' is not among its declared values"),
        "{err}"
    );
}
