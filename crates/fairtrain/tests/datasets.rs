//! The built-in loaders against the published files (imported from the
//! shared copies, as `datasets fetch --from` does), and the download path
//! against a local HTTP server: good, corrupted, truncated and missing files.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;

use fairtrain::Error;
use fairtrain::data::cache::{Cache, FileSpec, sha256_hex};
use fairtrain::data::source::{FetchFrom, fetch};
use fairtrain::data::{DataSource, Dataset, LoadOptions, load};

/// The shared data sets beside the project, when present.
fn shared_datasets() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipping: {} is absent (the shared data sets sit beside the project in CI)", dir.display());
        None
    }
}

/// Rows, positives and per-group rows over both splits.
fn counts(train: &Dataset, test: &Dataset) -> (usize, usize, Vec<(String, usize)>) {
    let positives = train.labels().iter().chain(test.labels()).filter(|&&y| y > 0.5).count();
    let groups = train
        .group_names()
        .iter()
        .cloned()
        .zip(train.group_counts().iter().zip(test.group_counts()).map(|(a, b)| a + b))
        .collect();
    (train.n_rows() + test.n_rows(), positives, groups)
}

fn imported(dataset: &str, folder: &str) -> Option<(tempfile::TempDir, LoadOptions)> {
    let shared = shared_datasets()?;
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(dir.path());
    let source = DataSource::parse(dataset).unwrap();
    fetch(&source, &cache, FetchFrom::Local(&shared.join(folder)), &mut |_, _, _| {}).unwrap();
    let options = LoadOptions {
        cache: Some(dir.path().to_path_buf()),
        offline: true,
        test_fraction: Some(0.2),
        ..LoadOptions::default()
    };
    Some((dir, options))
}

fn group(options: &LoadOptions, g: &str) -> LoadOptions {
    LoadOptions { group: Some(vec![g.to_string()]), ..options.clone() }
}

#[test]
fn compas_matches_the_published_figures() {
    let Some((_dir, options)) = imported("compas", "compas") else { return };
    // Race: ProPublica's filter, then African-American and Caucasian: 5,278 rows.
    let l = load(&DataSource::Compas, &options).unwrap();
    let (rows, positives, groups) = counts(&l.encoded.train, &l.encoded.test);
    assert_eq!(rows, 5_278);
    assert_eq!(positives, 1_661 + 822);
    assert_eq!(groups, [("African-American".to_string(), 3_175), ("Caucasian".to_string(), 2_103)]);
    // Sex: the filter alone: 6,172 rows.
    let l = load(&DataSource::Compas, &group(&options, "sex")).unwrap();
    let (rows, positives, groups) = counts(&l.encoded.train, &l.encoded.test);
    assert_eq!(rows, 6_172);
    assert_eq!(positives, 2_809);
    assert_eq!(groups, [("Male".to_string(), 4_997), ("Female".to_string(), 1_175)]);
    // Race is a feature when sex is the group: six categories.
    assert!(l.encoded.train.layout().categorical.iter().any(|c| c.name == "race" && c.categories.len() == 6));
}

#[test]
fn law_matches_the_published_figures() {
    let Some((_dir, options)) = imported("law", "law_school") else { return };
    let l = load(&DataSource::Law, &options).unwrap();
    let (rows, positives, groups) = counts(&l.encoded.train, &l.encoded.test);
    assert_eq!(rows, 20_798);
    assert_eq!(positives, 18_505);
    assert_eq!(groups, [("White".to_string(), 17_491), ("Non-White".to_string(), 3_307)]);
    let l = load(&DataSource::Law, &group(&options, "male")).unwrap();
    let (_, _, groups) = counts(&l.encoded.train, &l.encoded.test);
    assert_eq!(groups, [("Male".to_string(), 11_675), ("Female".to_string(), 9_123)]);
    // The split is stratified: each group's base rate is the same in train and test to 0.01.
    let rate = |d: &Dataset, g: u32| {
        let rows: Vec<usize> = (0..d.n_rows()).filter(|&i| d.groups()[i] == g).collect();
        rows.iter().filter(|&&i| d.labels()[i] > 0.5).count() as f64 / rows.len() as f64
    };
    for g in 0..2 {
        assert!((rate(&l.encoded.train, g) - rate(&l.encoded.test, g)).abs() < 0.01);
    }
}

#[test]
fn german_and_the_shared_copy_agree() {
    let Some(shared) = shared_datasets() else { return };
    // The shipped copy is byte-identical to the published file.
    let published = std::fs::read(shared.join("german/german.data")).unwrap();
    assert_eq!(sha256_hex(&published), fairtrain::data::german::SHA256);
    let options = LoadOptions { test_fraction: Some(0.2), ..LoadOptions::default() };
    let l = load(&DataSource::German, &options).unwrap();
    let (rows, positives, groups) = counts(&l.encoded.train, &l.encoded.test);
    assert_eq!((rows, positives), (1_000, 700));
    assert_eq!(groups, [("Male".to_string(), 690), ("Female".to_string(), 310)]);
    let l = load(&DataSource::German, &group(&options, "age")).unwrap();
    let (_, _, groups) = counts(&l.encoded.train, &l.encoded.test);
    assert_eq!(groups, [("> 25".to_string(), 810), ("<= 25".to_string(), 190)]);
}

#[test]
fn offline_without_cache_says_how_to_fetch() {
    let dir = tempfile::tempdir().unwrap();
    let options = LoadOptions { cache: Some(dir.path().into()), offline: true, ..LoadOptions::default() };
    let err = load(&DataSource::Compas, &options).unwrap_err().to_string();
    assert!(err.starts_with("compas is not in the cache ("), "{err}");
    assert!(err.contains("`offline` forbids downloading it; run `fairtrain datasets fetch compas`"), "{err}");
}

#[test]
fn weights_weight_the_metrics_and_reject_bad_values() {
    // Adult's fnlwgt as sample weights: the weight column leaves the features.
    let options = LoadOptions { weight: Some("fnlwgt".into()), ..LoadOptions::default() };
    let l = load(&DataSource::Adult, &options).unwrap();
    let w = l.encoded.train.weights().expect("weights");
    assert_eq!(w.len(), 30_162);
    assert_eq!(w[0], 77_516.0); // first row of adult.data
    assert_eq!(l.encoded.train.n_inputs(), 82);
    let err = load(&DataSource::Adult, &LoadOptions { weight: Some("race".into()), ..LoadOptions::default() })
        .unwrap_err()
        .to_string();
    assert!(err.contains("weight column 'race' is also the target, a group column"), "{err}");
}

/// Serves `routes` (path, status, declared length, body) on 127.0.0.1
/// until the test ends; returns the base URL.
fn serve(routes: Vec<(&'static str, u16, usize, Vec<u8>)>) -> String {
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
            // Skip the headers.
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
            let (status, length, body) = match routes.iter().find(|r| r.0 == path) {
                Some((_, s, l, b)) => (*s, *l, b.clone()),
                None => (404, 9, b"not found".to_vec()),
            };
            let head = format!("HTTP/1.1 {status} X\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n");
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    format!("http://{addr}")
}

#[test]
fn downloads_verify_size_and_checksum() {
    let body = b"x,y\n1,0\n2,1\n".repeat(100);
    let sha: &'static str = Box::leak(sha256_hex(&body).into_boxed_str());
    let file = FileSpec { name: "f.csv", url: "unused", size: body.len() as u64, sha256: sha };
    let mut corrupt = body.clone();
    corrupt[5] = b'9';
    let half = body[..body.len() / 2].to_vec();
    let base = serve(vec![
        ("/good/f.csv", 200, body.len(), body.clone()),
        ("/corrupt/f.csv", 200, corrupt.len(), corrupt),
        ("/truncated/f.csv", 200, body.len(), half),
        ("/short/f.csv", 200, body.len() - 1, body[..body.len() - 1].to_vec()),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(dir.path());

    let err = cache.download("d", &file, &format!("{base}/corrupt/f.csv"), &mut |_, _| {}).unwrap_err();
    assert!(matches!(err, Error::Checksum { .. }), "{err}");
    let err = cache.download("d", &file, &format!("{base}/truncated/f.csv"), &mut |_, _| {}).unwrap_err().to_string();
    assert!(err.contains("transfer failed after") || err.contains("truncated"), "{err}");
    let err = cache.download("d", &file, &format!("{base}/short/f.csv"), &mut |_, _| {}).unwrap_err().to_string();
    assert!(err.contains(&format!("announces {} bytes", body.len() - 1)), "{err}");
    let err = cache.download("d", &file, &format!("{base}/missing/f.csv"), &mut |_, _| {}).unwrap_err().to_string();
    assert!(err.contains("download failed") && err.contains("404"), "{err}");
    // Nothing half-written stays behind.
    assert!(!cache.path("d", &file).exists());
    assert_eq!(std::fs::read_dir(dir.path().join("d")).unwrap().count(), 0);

    let mut seen = 0;
    let path = cache.download("d", &file, &format!("{base}/good/f.csv"), &mut |n, _| seen = n).unwrap();
    assert_eq!(seen, body.len() as u64);
    assert_eq!(std::fs::read(path).unwrap(), body);
    assert_eq!(cache.read("d", &file).unwrap(), body);
}
