//! `fairtrain frontier`: accuracy against the between-group gap on held-out
//! data, for fairtrain (in-training constraints, post-processing, both; the
//! default MLP and a linear model, as curves over bounds) and for the
//! tools a user would pick instead (fairlearn's ExponentiatedGradient and
//! ThresholdOptimizer, as points), all on one split that every method reads
//! from the same files. The alternatives run where a Python with fairlearn
//! and scikit-learn is available; without one, the fairtrain side still
//! runs and the report says what was skipped.
//!
//! Protocol: the data set's rows pooled and split 70/30, stratified by
//! group and label (split seed 0), written to `data/train.csv` and
//! `data/test.csv`; fairtrain at each bound with seeds 0..N-1; gaps are the
//! largest between-group difference on the test split for every method.
//! Matched gap: each alternative point (median over its seeds) is compared
//! with fairtrain's curve (median test accuracy per bound over seeds,
//! ordered by median test gap) interpolated linearly at the point's gap; a
//! point below the curve's smallest gap counts as a loss unless the curve
//! is more accurate there.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use fairtrain::constraints::Notion;
use fairtrain::data::{DataSource, Dataset, LoadOptions, load};
use fairtrain::run::{RunConfig, run_with_data, write_atomic};

use crate::charts;
use crate::datasets_cmd::{csv_bytes, ensure_cached};

/// The alternatives' script, written beside the results and run with `--python`.
const PEERS_SCRIPT: &str = include_str!("frontier_peers.py");

/// Options of `fairtrain frontier`.
#[derive(Debug, Args)]
pub struct FrontierArgs {
    /// Data set (a built-in name, a synthetic variant, or an ACS task)
    #[arg(long, default_value = "adult")]
    pub data: String,
    /// Group column(s) [default: the data set's]
    #[arg(long, value_delimiter = ',')]
    pub group: Option<Vec<String>>,
    /// The notion: demographic-parity, equal-opportunity, equalized-odds, predictive-equality or accuracy-parity
    #[arg(long, default_value = "demographic-parity")]
    pub constraint: String,
    /// Bounds of fairtrain's curves
    #[arg(long, value_delimiter = ',', default_value = "0.01,0.02,0.03,0.05,0.08")]
    pub bounds: Vec<f64>,
    /// fairtrain seeds 0..N-1 per bound
    #[arg(long, default_value_t = 5)]
    pub seeds: u64,
    /// Seeds of the alternatives (each fit is slower)
    #[arg(long, default_value_t = 3)]
    pub peer_seeds: u64,
    /// Training iterations of each fairtrain run [default: train's]
    #[arg(long)]
    pub iterations: Option<u64>,
    /// A Python with fairlearn and scikit-learn for the alternatives [default: python3 if it has them, else none]
    #[arg(long, value_name = "PYTHON")]
    pub python: Option<PathBuf>,
    /// Reuse the alternatives' results (peers.csv) of an earlier frontier in this directory, run on the same split (its data/ files must be identical), instead of running them again
    #[arg(long, value_name = "DIR", conflicts_with = "python")]
    pub peers_from: Option<PathBuf>,
    /// Runs at a time [default: the number of cores]
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Output directory
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Replace an existing frontier in --out
    #[arg(long)]
    pub overwrite: bool,
    /// Never touch the network
    #[arg(long)]
    pub offline: bool,
}

/// fairtrain's variants (the run keys that make each are in [`config`]):
/// the default algorithm with the constraint; adam, then group-thresholds;
/// ssl-alm, then group-thresholds.
const VARIANTS: [&str; 3] = ["in-training", "post-processing", "both"];
/// The models: the default MLP and a linear model.
const MODELS: [&str; 2] = ["MLP 64-32", "linear"];

/// One fairtrain run's result.
#[derive(Debug, Clone)]
struct Point {
    variant: &'static str,
    model: &'static str,
    bound: f64,
    seed: u64,
    accuracy: f64,
    gap: f64,
    near_constant: bool,
}

/// An alternative's result: method, parameter, test accuracy and gap.
#[derive(Debug, Clone)]
struct Peer {
    method: String,
    param: String,
    accuracy: f64,
    gap: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

fn config(args: &FrontierArgs, variant: &str, model: &str, bound: f64, seed: u64) -> Result<RunConfig> {
    let mut c = RunConfig::default();
    c.set("constraint", args.constraint.as_str())?;
    c.set("bound", bound)?;
    c.set("seed", seed as i64)?;
    if let Some(n) = args.iterations {
        c.set("iterations", n as i64)?;
    }
    if model == "linear" {
        c.set("hidden", toml::Value::Array(Vec::new()))?;
    }
    match variant {
        "post-processing" => {
            c.set("algorithm", "adam")?;
            c.set("postprocess", "group-thresholds")?;
        }
        "both" => {
            c.set("algorithm", "ssl-alm")?;
            c.set("postprocess", "group-thresholds")?;
        }
        _ => {}
    }
    Ok(c)
}

/// fairtrain's curve of a variant and model: per bound, median test gap
/// and accuracy over seeds, ordered by gap.
fn curve(points: &[Point], variant: &str, model: &str) -> Vec<(f64, f64, f64)> {
    let mut by_bound: BTreeMap<String, (f64, Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for p in points.iter().filter(|p| p.variant == variant && p.model == model) {
        let e = by_bound.entry(format!("{:.6}", p.bound)).or_insert((p.bound, Vec::new(), Vec::new()));
        e.1.push(p.gap);
        e.2.push(p.accuracy);
    }
    let mut c: Vec<(f64, f64, f64)> =
        by_bound.into_values().map(|(b, gaps, accs)| (median(gaps), median(accs), b)).collect();
    c.sort_by(|a, b| a.0.total_cmp(&b.0));
    c
}

/// Where an alternative's gap falls against a fairtrain curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Range {
    /// Below the curve's smallest gap: compared with the smallest-gap model.
    Below,
    Within,
    /// Above the curve's largest gap (a looser gap than any bound asked):
    /// compared with the largest-gap model, reported but not judged.
    Above,
}

/// The curve's accuracy at gap `g`, linearly interpolated; outside its
/// range, the accuracy at its nearer end.
fn at_gap(curve: &[(f64, f64, f64)], g: f64) -> Option<(f64, Range)> {
    let first = curve.first()?;
    if g < first.0 {
        return Some((first.1, Range::Below));
    }
    for w in curve.windows(2) {
        let ((g0, a0, _), (g1, a1, _)) = (w[0], w[1]);
        if g <= g1 {
            let t = if g1 > g0 { (g - g0) / (g1 - g0) } else { 1.0 };
            return Some((a0 + t * (a1 - a0), Range::Within));
        }
    }
    let last = curve.last()?;
    Some((last.1, if g > last.0 { Range::Above } else { Range::Within }))
}

fn run_fairtrain(args: &FrontierArgs, train: &Dataset, test: &Dataset) -> Result<Vec<Point>> {
    let mut jobs = Vec::new();
    for variant in VARIANTS {
        for model in MODELS {
            for &bound in &args.bounds {
                for seed in 0..args.seeds {
                    jobs.push((variant, model, bound, seed));
                }
            }
        }
    }
    let threads = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Point>> = Mutex::new(Vec::new());
    let failure: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    let bar = crate::bench_cmd::overall_bar(jobs.len() as u64);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let k = next.fetch_add(1, Ordering::SeqCst);
                    let Some(&(variant, model, bound, seed)) = jobs.get(k) else { break };
                    if failure.lock().expect("not poisoned").is_some() {
                        break;
                    }
                    let outcome = config(args, variant, model, bound, seed)
                        .and_then(|c| Ok(run_with_data(&c, train.clone(), test.clone(), &mut ())?));
                    match outcome {
                        Ok(o) => {
                            let m = &o.metrics;
                            results.lock().expect("not poisoned").push(Point {
                                variant,
                                model,
                                bound,
                                seed,
                                accuracy: m.test.accuracy.unwrap_or(f64::NAN),
                                gap: m.test.constraints.first().and_then(|c| c.value).unwrap_or(f64::NAN),
                                near_constant: o.near_constant.is_some(),
                            });
                        }
                        Err(e) => {
                            *failure.lock().expect("not poisoned") =
                                Some(e.context(format!("{variant} {model} at bound {bound}, seed {seed}")));
                        }
                    }
                    bar.inc(1);
                }
            });
        }
    });
    bar.finish_and_clear();
    if let Some(e) = failure.into_inner().expect("not poisoned") {
        return Err(e);
    }
    let mut points = results.into_inner().expect("not poisoned");
    points.sort_by(|a, b| {
        (a.variant, a.model).cmp(&(b.variant, b.model)).then(a.bound.total_cmp(&b.bound)).then(a.seed.cmp(&b.seed))
    });
    Ok(points)
}

/// The Python that runs the alternatives: `--python` (an error if it
/// lacks the libraries), else `python3` if it has them; `Err` says why
/// there is none.
fn find_python(args: &FrontierArgs) -> Result<std::result::Result<PathBuf, String>> {
    let python = args.python.clone().unwrap_or_else(|| PathBuf::from("python3"));
    let probe = Command::new(&python).args(["-c", "import fairlearn, sklearn, pandas"]).output();
    match probe {
        Ok(o) if o.status.success() => Ok(Ok(python)),
        Ok(_) | Err(_) if args.python.is_none() => {
            Ok(Err("no Python with fairlearn, scikit-learn and pandas (give one with --python)".into()))
        }
        Ok(o) => bail!(
            "{} cannot import fairlearn, scikit-learn and pandas: {}",
            python.display(),
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => bail!("cannot run {}: {e}", python.display()),
    }
}

/// The bytes of the alternatives' results of an earlier frontier in
/// `earlier`, after checking that it trained on this split (`files`).
fn same_split_peers(earlier: &Path, files: &[(&str, Vec<u8>)]) -> Result<Vec<u8>> {
    for (name, bytes) in files {
        let path = earlier.join("data").join(name);
        if std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))? != *bytes {
            bail!("{} differs from this run's split: the alternatives there trained on other rows", path.display());
        }
    }
    let from = earlier.join("peers.csv");
    std::fs::read(&from).with_context(|| format!("cannot read {}", from.display()))
}

/// Reads the alternatives' results.
fn read_peers(path: &Path) -> Result<Vec<Peer>> {
    let mut reader = csv::Reader::from_path(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut peers = Vec::new();
    for record in reader.records() {
        let r = record?;
        let num = |k: usize| r.get(k).and_then(|v| v.parse::<f64>().ok()).unwrap_or(f64::NAN);
        peers.push(Peer { method: r[1].to_string(), param: r[2].to_string(), accuracy: num(4), gap: num(5) });
    }
    Ok(peers)
}

/// Runs the alternatives' script with `python` and reads its results.
fn run_peers(args: &FrontierArgs, python: &Path, data_dir: &Path, out: &Path) -> Result<Vec<Peer>> {
    let script = out.join("peers.py");
    write_atomic(out, "peers.py", PEERS_SCRIPT.as_bytes())?;
    let csv_path = out.join("peers.csv");
    let bounds: Vec<String> = args.bounds.iter().map(|b| b.to_string()).collect();
    let status = Command::new(python)
        .arg(&script)
        .arg(data_dir)
        .arg(&csv_path)
        .arg(&args.constraint)
        .arg(args.peer_seeds.to_string())
        .arg(bounds.join(","))
        .status()
        .with_context(|| format!("cannot run {}", python.display()))?;
    if !status.success() {
        bail!("the alternatives' script failed ({status}); see its output above");
    }
    read_peers(&csv_path)
}

/// Runs `fairtrain frontier`.
pub fn run(args: FrontierArgs) -> Result<()> {
    let notion: Notion = args.constraint.parse()?;
    fairtrain::postprocess::check(&[fairtrain::constraints::FairnessConstraint::new(notion, 0.05)?])
        .map_err(|_| anyhow!("frontier compares rate notions (demographic-parity, equal-opportunity, equalized-odds, predictive-equality, accuracy-parity), not {}", args.constraint))?;
    if args.bounds.is_empty() || args.bounds.iter().any(|b| !(b.is_finite() && *b > 0.0)) {
        bail!("invalid value for bounds: each must be a positive number");
    }
    if args.seeds == 0 || args.peer_seeds == 0 {
        bail!("invalid value for seeds: must be at least 1");
    }
    let out = &args.out;
    if out.join("frontier.csv").exists() && !args.overwrite && args.peers_from.as_deref() != Some(out.as_path()) {
        bail!("{} holds a frontier; pass --overwrite to replace it", out.display());
    }
    let python = match &args.peers_from {
        Some(_) => Err(String::new()),
        None => find_python(&args)?,
    };
    let source = DataSource::parse(&args.data)?;
    if source.is_file() {
        bail!("frontier takes a data set name (it exports the split itself), not a file");
    }
    ensure_cached(&source, None, args.offline)?;
    let options = LoadOptions { group: args.group.clone(), offline: args.offline, ..LoadOptions::default() };
    let loaded = load(&source, &options)?;
    let pooled = loaded.encoded.train.concat(&loaded.encoded.test)?;
    let (train, test) = pooled.split_off(0.3, 0)?;
    let data_dir = out.join("data");
    let files = [("train.csv", csv_bytes(&train)?), ("test.csv", csv_bytes(&test)?)];
    // Reused alternatives must have trained on these very rows.
    let earlier_peers = match &args.peers_from {
        Some(earlier) => Some(same_split_peers(earlier, &files)?),
        None => None,
    };
    std::fs::create_dir_all(&data_dir).with_context(|| format!("cannot create {}", data_dir.display()))?;
    for (name, bytes) in &files {
        write_atomic(&data_dir, name, bytes)?;
    }
    errln!(
        "fairtrain frontier: {} {}, {} train / {} test rows (70/30, stratified by group and label); {} fairtrain runs",
        loaded.name,
        args.constraint,
        train.n_rows(),
        test.n_rows(),
        VARIANTS.len() * MODELS.len() * args.bounds.len() * args.seeds as usize
    );
    let points = run_fairtrain(&args, &train, &test)?;
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["variant", "model", "bound", "seed", "test_accuracy", "test_gap", "near_constant"])?;
    for p in &points {
        w.write_record([
            p.variant.to_string(),
            p.model.to_string(),
            p.bound.to_string(),
            p.seed.to_string(),
            p.accuracy.to_string(),
            p.gap.to_string(),
            p.near_constant.to_string(),
        ])?;
    }
    write_atomic(out, "frontier.csv", &w.into_inner().map_err(|e| anyhow!("internal: {e}"))?)?;
    let peers = match (earlier_peers, python) {
        (Some(bytes), _) => {
            write_atomic(out, "peers.csv", &bytes)?;
            Ok(read_peers(&out.join("peers.csv"))?)
        }
        (None, Ok(python)) => Ok(run_peers(&args, &python, &data_dir, out)?),
        (None, Err(why)) => Err(why),
    };
    let (md, html) = report(&args, &loaded.name, &train, &test, &points, &peers)?;
    write_atomic(out, "report.md", md.as_bytes())?;
    write_atomic(out, "report.html", html.as_bytes())?;
    out!("{md}");
    outln!(
        "\nwrote {}/report.html, report.md, frontier.csv{}",
        out.display(),
        match peers {
            Ok(_) => ", peers.csv",
            Err(_) => "",
        }
    );
    Ok(())
}

/// The alternatives' points: per (method, parameter), medians over seeds.
fn peer_points(peers: &[Peer]) -> BTreeMap<String, Vec<(String, f64, f64)>> {
    let mut cells: BTreeMap<(String, String), (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for p in peers {
        let e = cells.entry((p.method.clone(), p.param.clone())).or_default();
        e.0.push(p.gap);
        e.1.push(p.accuracy);
    }
    let mut by_method: BTreeMap<String, Vec<(String, f64, f64)>> = BTreeMap::new();
    for ((method, param), (gaps, accs)) in cells {
        by_method.entry(method).or_default().push((param, median(gaps), median(accs)));
    }
    by_method
}

/// The fairtrain curve each alternative is judged against.
fn judged_curve(method: &str) -> (&'static str, &'static str) {
    if method.starts_with("ExponentiatedGradient") {
        ("in-training", "MLP 64-32")
    } else if method.contains("MLPClassifier") {
        ("post-processing", "MLP 64-32")
    } else {
        ("post-processing", "linear")
    }
}

fn report(
    args: &FrontierArgs,
    name: &str,
    train: &Dataset,
    test: &Dataset,
    points: &[Point],
    peers: &std::result::Result<Vec<Peer>, String>,
) -> Result<(String, String)> {
    let mut md = format!(
        "# Frontier: {name}, {}\n\n{} train / {} test rows (pooled, 70/30 split stratified by group and label, seed \
         0; groups {}); fairtrain seeds 0-{} per bound; gaps are the largest between-group difference on test.\n\n",
        args.constraint,
        train.n_rows(),
        test.n_rows(),
        train.group_names().join(", "),
        args.seeds - 1
    );
    md.push_str("## fairtrain (median test accuracy / median test gap over seeds)\n\n| variant | model |");
    for b in &args.bounds {
        md.push_str(&format!(" bound {b} |"));
    }
    md.push_str("\n| --- | --- |");
    md.push_str(&" --- |".repeat(args.bounds.len()));
    md.push('\n');
    let mut series: Vec<charts::Series> = Vec::new();
    for variant in VARIANTS {
        for model in MODELS {
            let c = curve(points, variant, model);
            md.push_str(&format!("| {variant} | {model} |"));
            for &b in &args.bounds {
                let near = points
                    .iter()
                    .filter(|p| p.variant == variant && p.model == model && p.bound == b && p.near_constant)
                    .count();
                match c.iter().find(|p| p.2 == b) {
                    Some(p) => md.push_str(&format!(
                        " {:.4} / {:.4}{} |",
                        p.1,
                        p.0,
                        if near > 0 { format!(" ({near} near-constant)") } else { String::new() }
                    )),
                    None => md.push_str(" - |"),
                }
            }
            md.push('\n');
            series.push(charts::Series {
                label: format!("fairtrain {variant} ({model})"),
                points: c.iter().map(|p| (p.0, p.1)).collect(),
                labels: c.iter().map(|p| format!("{}", p.2)).collect(),
                joined: true,
            });
        }
    }
    match peers {
        Err(why) => md.push_str(&format!("\nThe alternatives were not run: {why}.\n")),
        Ok(peers) => {
            let by_method = peer_points(peers);
            md.push_str(&format!(
                "\n## The alternatives (fairlearn; median over {} seeds) at matched test gap\n\nEach point is compared \
                 with the fairtrain curve it is judged against, interpolated at the point's test gap (\"below\": \
                 the point's gap is smaller than the curve's smallest, compared with its smallest-gap model; \
                 \"above\": larger than its largest, looser than any bound asked, reported and not judged).\n\n| method | parameter | test accuracy | \
                 test gap | fairtrain curve | fairtrain at that gap | difference (points) |\n| --- | --- | --- | --- \
                 | --- | --- | --- |\n",
                args.peer_seeds
            ));
            let mut worst: BTreeMap<String, f64> = BTreeMap::new();
            for (method, cells) in &by_method {
                let (variant, model) = judged_curve(method);
                let c = curve(points, variant, model);
                for (param, gap, acc) in cells {
                    let (ft, range) = at_gap(&c, *gap).unwrap_or((f64::NAN, Range::Below));
                    // Below the curve's range, a loss unless fairtrain's
                    // smallest-gap model is more accurate anyway.
                    let counted = 100.0 * (ft - acc);
                    let w = worst.entry(method.clone()).or_insert(f64::INFINITY);
                    if range != Range::Above {
                        *w = w.min(counted);
                    }
                    md.push_str(&format!(
                        "| {method} | {param} | {acc:.4} | {gap:.4} | {variant} ({model}) | {ft:.4}{} | {counted:+.2} |\n",
                        match range {
                            Range::Below => " (below)",
                            Range::Within => "",
                            Range::Above => " (above: not judged)",
                        }
                    ));
                }
                series.push(charts::Series {
                    label: method.clone(),
                    points: cells.iter().map(|c| (c.1, c.2)).collect(),
                    labels: Vec::new(),
                    joined: false,
                });
            }
            md.push_str(
                "\n| method | fairtrain curve | worst difference at matched gap (points) |\n| --- | --- | --- |\n",
            );
            for (method, w) in &worst {
                let (variant, model) = judged_curve(method);
                let worst = match w.is_finite() {
                    true => format!("{w:+.2}"),
                    false => "- (every point looser than the curve's largest gap)".into(),
                };
                md.push_str(&format!("| {method} | {variant} ({model}) | {worst} |\n"));
            }
        }
    }
    let palette = charts::Palette::new(series.iter().map(|s| s.label.as_str()));
    let svg = charts::points(
        &charts::Frame {
            title: &format!("{name}: test accuracy against test {} gap", args.constraint),
            x_label: "test gap (largest between groups)",
            y_label: "test accuracy",
            hlines: Vec::new(),
        },
        &series,
        &palette,
        Some("curves: fairtrain, labelled with the bound"),
    )?;
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>fairtrain frontier: {name}</title><style>body{{font:15px \
         sans-serif;max-width:1100px;margin:2em auto;}}table{{border-collapse:collapse;margin:1em 0;}}td,th{{border:1px \
         solid #ccc;padding:3px 8px;font-size:14px;}}</style></head><body>{}<figure>{svg}</figure></body></html>\n",
        markdown_to_html(&md)
    );
    Ok((md, html))
}

/// The report's markdown (headings, paragraphs and pipe tables) as HTML.
fn markdown_to_html(md: &str) -> String {
    let escape = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let mut html = String::new();
    let mut in_table = false;
    for line in md.lines() {
        let line = line.trim();
        if line.starts_with('|') {
            if line.contains("---") {
                continue;
            }
            if !in_table {
                html.push_str("<table>");
                in_table = true;
            }
            html.push_str("<tr>");
            for cell in line.trim_matches('|').split('|') {
                html.push_str(&format!("<td>{}</td>", escape(cell.trim())));
            }
            html.push_str("</tr>");
            continue;
        }
        if in_table {
            html.push_str("</table>");
            in_table = false;
        }
        if let Some(h) = line.strip_prefix("## ") {
            html.push_str(&format!("<h2>{}</h2>", escape(h)));
        } else if let Some(h) = line.strip_prefix("# ") {
            html.push_str(&format!("<h1>{}</h1>", escape(h)));
        } else if !line.is_empty() {
            html.push_str(&format!("<p>{}</p>", escape(line)));
        }
    }
    if in_table {
        html.push_str("</table>");
    }
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolation_at_a_matched_gap() {
        let c = vec![(0.01, 0.80, 0.01), (0.03, 0.84, 0.03), (0.05, 0.85, 0.05)];
        let (a, range) = at_gap(&c, 0.02).unwrap();
        assert!((a - 0.82).abs() < 1e-12 && range == Range::Within);
        assert_eq!(at_gap(&c, 0.06), Some((0.85, Range::Above)));
        // Below the curve's smallest gap: the smallest-gap accuracy, flagged.
        assert_eq!(at_gap(&c, 0.005), Some((0.80, Range::Below)));
        assert_eq!(median(vec![3.0, 1.0, 2.0, 10.0]), 2.5);
    }
}
