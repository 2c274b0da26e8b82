//! `fairtrain report DIR`: turns a bench directory into `report.html`
//! (self-contained: inline SVG charts and styles, nothing fetched) and
//! `report.md`, with the setup, a table per experiment, per-group
//! metrics, curves against training time, the accuracy-fairness picture,
//! and a held-out feasibility verdict per constraint.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use fairtrain::evaluation::GroupReport;
use fairtrain::run::{EVALUATIONS_FILE, Metrics, write_atomic};

use crate::bench_cmd::{GRID_FILE, Grid, RESULTS_FILE};
use crate::charts::{self, Band, Frame, Palette, Series};

/// Options of `fairtrain report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A bench output directory (holding results.csv and runs/)
    pub dir: PathBuf,
}

/// One full-split evaluation during a run.
struct Evaluation {
    /// Training seconds (time budgets) or iterations.
    x: f64,
    split: String,
    objective: f64,
    /// The (first) constraint's value.
    value: f64,
}

/// One row of results.csv with its run's files.
struct RunResult {
    row: BTreeMap<String, String>,
    metrics: Metrics,
    evaluations: Vec<Evaluation>,
}

/// Per (data set, groups, constraint), per series: (test value, test accuracy, bound) at each bound.
type Tradeoffs = BTreeMap<(String, String, String), BTreeMap<String, Vec<(f64, f64, String)>>>;

impl RunResult {
    fn get(&self, key: &str) -> &str {
        self.row.get(key).map_or("", String::as_str)
    }
    fn num(&self, key: &str) -> Option<f64> {
        self.get(key).parse().ok()
    }
    fn series(&self, presets: usize) -> String {
        if presets > 1 {
            format!("{} ({})", self.get("algorithm"), self.get("preset"))
        } else {
            self.get("algorithm").to_string()
        }
    }
}

fn read_results(dir: &Path, by_time: bool) -> Result<Vec<RunResult>> {
    let path = dir.join(RESULTS_FILE);
    let mut reader = csv::Reader::from_path(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let headers = reader.headers().with_context(|| format!("{}: no header", path.display()))?.clone();
    let mut out = Vec::new();
    for (line, record) in reader.records().enumerate() {
        let record = record.map_err(|e| anyhow!("{}, line {}: {e}", path.display(), line + 2))?;
        let row: BTreeMap<String, String> =
            headers.iter().zip(record.iter()).map(|(h, v)| (h.to_string(), v.to_string())).collect();
        let run_dir = dir.join(row.get("run_dir").map_or("", String::as_str));
        let metrics = Metrics::read(&run_dir)?;
        let evaluations = read_evaluations(&run_dir.join(EVALUATIONS_FILE), by_time)?;
        out.push(RunResult { row, metrics, evaluations });
    }
    if out.is_empty() {
        bail!("{} lists no finished runs", path.display());
    }
    Ok(out)
}

fn read_evaluations(path: &Path, by_time: bool) -> Result<Vec<Evaluation>> {
    let Ok(mut reader) = csv::Reader::from_path(path) else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for record in reader.records() {
        let r = record.with_context(|| format!("{} is malformed", path.display()))?;
        let n = |i: usize| r.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(f64::NAN);
        let x = if by_time { n(1) } else { n(0) };
        out.push(Evaluation { x, split: r.get(2).unwrap_or("").to_string(), objective: n(3), value: n(5) });
    }
    Ok(out)
}

fn mean(v: &[f64]) -> Option<f64> {
    let v: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

fn sd(v: &[f64]) -> Option<f64> {
    let m = mean(v)?;
    let v: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    (v.len() > 1).then(|| (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64).sqrt())
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

fn fmt(v: Option<f64>, digits: usize) -> String {
    v.map_or("-".into(), |x| format!("{x:.digits$}"))
}

fn fmt_pm(v: &[f64], digits: usize) -> String {
    match (mean(v), sd(v)) {
        (Some(m), Some(s)) => format!("{m:.digits$} ± {s:.digits$}"),
        (Some(m), None) => format!("{m:.digits$}"),
        _ => "-".into(),
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The curve of one series: the runs' values back-filled onto a common
/// grid of x values (each run's last evaluation at or before x).
fn band(label: String, runs: &[&RunResult], split: &str, pick: fn(&Evaluation) -> f64) -> Band {
    let tracks: Vec<Vec<(f64, f64)>> = runs
        .iter()
        .map(|r| r.evaluations.iter().filter(|e| e.split == split).map(|e| (e.x, pick(e))).collect())
        .filter(|t: &Vec<(f64, f64)>| !t.is_empty())
        .collect();
    let end = tracks.iter().filter_map(|t| t.last().map(|p| p.0)).fold(0.0, f64::max);
    let points = tracks.iter().map(|t| t.len()).max().unwrap_or(0).max(2);
    let mut b = Band { label, x: Vec::new(), mean: Vec::new(), low: Vec::new(), high: Vec::new() };
    for j in 0..points {
        let x = end * j as f64 / (points - 1) as f64;
        let mut values: Vec<f64> = tracks
            .iter()
            .filter_map(|t| t.iter().rev().find(|p| p.0 <= x * (1.0 + 1e-9) + 1e-12).map(|p| p.1))
            .filter(|v| v.is_finite())
            .collect();
        if values.is_empty() {
            continue;
        }
        values.sort_by(f64::total_cmp);
        b.x.push(x);
        b.mean.push(values.iter().sum::<f64>() / values.len() as f64);
        b.low.push(quantile(&values, 0.25));
        b.high.push(quantile(&values, 0.75));
    }
    b
}

/// An experiment: runs sharing data set, groups, constraint and bound.
type ExperimentKey = (String, String, String, String);

/// Runs `fairtrain report`.
pub fn run(args: ReportArgs) -> Result<()> {
    let dir = &args.dir;
    let grid_path = dir.join(GRID_FILE);
    let grid_text = std::fs::read_to_string(&grid_path)
        .with_context(|| format!("{} is not a bench directory ({} is missing)", dir.display(), GRID_FILE))?;
    let grid: Grid = toml::from_str(&grid_text).map_err(|e| anyhow!("{}: {}", grid_path.display(), e.message()))?;
    let by_time = grid.time_budget.is_some();
    let results = read_results(dir, by_time)?;
    let presets = grid.presets.len();
    let x_label = if by_time { "training seconds" } else { "iterations" };

    let mut experiments: BTreeMap<ExperimentKey, Vec<&RunResult>> = BTreeMap::new();
    for r in &results {
        let key = (r.get("dataset").into(), r.get("group").into(), r.get("constraint").into(), r.get("bound").into());
        experiments.entry(key).or_default().push(r);
    }
    let charts_dir = dir.join("charts");
    std::fs::create_dir_all(&charts_dir).with_context(|| format!("cannot create {}", charts_dir.display()))?;

    let mut html = String::new();
    let mut md = String::new();
    let budget = match (grid.iterations, grid.time_budget) {
        (Some(n), _) => format!("{n} iterations"),
        (_, Some(s)) => format!("{s} s of training"),
        _ => "-".into(),
    };
    let eval_seconds: Vec<f64> = results.iter().filter_map(|r| r.num("evaluation_seconds")).collect();
    let first = &results[0].metrics;
    let setup = [
        ("data sets", grid.datasets.join(", ")),
        ("groups", if grid.groups.is_empty() { "each data set's default".into() } else { grid.groups.join(", ") }),
        ("constraints", grid.constraints.join(", ")),
        (
            "bounds",
            if grid.bounds.is_empty() {
                "each notion's default".into()
            } else {
                grid.bounds.iter().map(|b| b.to_string()).collect::<Vec<_>>().join(", ")
            },
        ),
        ("algorithms", grid.algorithms.join(", ")),
        ("presets", grid.presets.join(", ")),
        ("seeds", format!("0 to {} ({} per cell)", grid.seeds - 1, grid.seeds)),
        ("budget per run", budget.clone()),
        (
            "evaluations",
            format!(
                "the full train and test splits, {} times per run; evaluation time ({} s per run on average) is not \
                 counted against the budget",
                grid.eval_points,
                fmt(mean(&eval_seconds), 2)
            ),
        ),
        (
            "machine",
            format!(
                "fairtrain {}, {} kernels, {} evaluation thread(s), training on one thread",
                first.fairtrain_version, first.kernels, grid.threads
            ),
        ),
        ("runs", results.len().to_string()),
    ];

    let _ = writeln!(md, "# fairtrain bench report\n");
    let _ = writeln!(md, "## Setup\n");
    for (k, v) in &setup {
        let _ = writeln!(md, "- **{k}**: {v}");
    }
    let _ = writeln!(html, "<h1>fairtrain bench report</h1>\n<h2>Setup</h2>\n<table class=\"setup\">");
    for (k, v) in &setup {
        let _ = writeln!(html, "<tr><th>{}</th><td>{}</td></tr>", escape(k), escape(v));
    }
    let _ = writeln!(html, "</table>");
    let _ = writeln!(
        html,
        "<p class=\"note\">A verdict \"holds with 95% confidence\" means a one-sided 95% bootstrap bound of the \
         constraint on the test split (resampling each group's rows) is within the bound: the constraint is \
         expected to hold on new data from the same population. \"Not certified\" means it is not.</p>"
    );
    let _ = writeln!(
        md,
        "\nA verdict \"holds with 95% confidence\" means a one-sided 95% bootstrap bound of the constraint on the \
         test split (resampling each group's rows) is within the bound; \"not certified\" means it is not.\n"
    );

    // One colour per series across every chart, in the grid's order.
    let palette = Palette::new(results.iter().map(|r| r.series(presets)));
    let mut chart_count = 0;
    for ((dataset, group, constraint, bound), runs) in &experiments {
        let title = format!("{dataset}, groups {group}: {constraint}, bound {bound}");
        let _ = writeln!(html, "<h2>{}</h2>", escape(&title));
        let _ = writeln!(md, "## {title}\n");
        // Series in the grid's order.
        let mut series: Vec<(String, Vec<&RunResult>)> = Vec::new();
        for r in runs {
            let label = r.series(presets);
            match series.iter_mut().find(|s| s.0 == label) {
                Some(s) => s.1.push(r),
                None => series.push((label, vec![r])),
            }
        }
        // Summary table.
        let columns = [
            "algorithm",
            "runs",
            "iterations",
            "it/s",
            "train objective",
            "train value",
            "train max violation",
            "test objective",
            "test accuracy",
            "test value",
            "test max violation",
            "certified",
        ];
        let _ =
            writeln!(html, "<table><tr>{}</tr>", columns.iter().map(|c| format!("<th>{c}</th>")).collect::<String>());
        let _ = writeln!(md, "| {} |\n|{}", columns.join(" | "), " --- |".repeat(columns.len()));
        let mut verdicts = Vec::new();
        for (label, rs) in &series {
            let col = |k: &str| rs.iter().filter_map(|r| r.num(k)).collect::<Vec<f64>>();
            let certified = rs.iter().filter(|r| r.get("certified") == "true").count();
            let cells = [
                label.clone(),
                rs.len().to_string(),
                fmt(mean(&col("iterations")), 0),
                fmt(mean(&col("iterations_per_second")), 0),
                fmt_pm(&col("train_objective"), 4),
                fmt_pm(&col("train_constraint_value"), 4),
                fmt_pm(&col("train_max_violation"), 4),
                fmt_pm(&col("test_objective"), 4),
                fmt_pm(&col("test_accuracy"), 4),
                fmt_pm(&col("test_constraint_value"), 4),
                fmt_pm(&col("test_max_violation"), 4),
                format!("{certified}/{}", rs.len()),
            ];
            let _ = writeln!(
                html,
                "<tr>{}</tr>",
                cells.iter().map(|c| format!("<td>{}</td>", escape(c))).collect::<String>()
            );
            let _ = writeln!(md, "| {} |", cells.join(" | "));
            let upper = mean(&col("certificate_bound"));
            // A bound met by predicting one class says little: say so.
            let near_constant = rs.iter().filter(|r| r.get("near_constant") == "true").count();
            let degenerate = match near_constant {
                0 => String::new(),
                n => format!(", but {n} of the {} models are near-constant", rs.len()),
            };
            let verdict = if certified == rs.len() {
                format!(
                    "{label}: {constraint} ≤ {bound} holds with 95% confidence on held-out data in all {} runs \
                     (mean 95% bound {}){degenerate}",
                    rs.len(),
                    fmt(upper, 4)
                )
            } else {
                format!(
                    "{label}: {constraint} ≤ {bound} is not certified ({certified} of {} runs hold with 95% \
                     confidence; mean 95% bound {}){degenerate}",
                    rs.len(),
                    fmt(upper, 4)
                )
            };
            verdicts.push(verdict);
        }
        let _ = writeln!(html, "</table>");
        let _ = writeln!(md);
        let _ = writeln!(html, "<h3>Held-out feasibility</h3><ul>");
        let _ = writeln!(md, "### Held-out feasibility\n");
        for v in &verdicts {
            let _ = writeln!(html, "<li>{}</li>", escape(v));
            let _ = writeln!(md, "- {v}");
        }
        let _ = writeln!(html, "</ul>");
        let _ = writeln!(md);

        // Per-group metrics on test, mean over seeds.
        let _ = writeln!(html, "<h3>Per-group metrics on test (mean over seeds)</h3>");
        let _ = writeln!(md, "### Per-group metrics on test (mean over seeds)\n");
        let group_cols = ["algorithm", "group", "rows", "loss", "accuracy", "positive rate", "TPR", "FPR"];
        let _ = writeln!(
            html,
            "<table><tr>{}</tr>",
            group_cols.iter().map(|c| format!("<th>{c}</th>")).collect::<String>()
        );
        let _ = writeln!(md, "| {} |\n|{}", group_cols.join(" | "), " --- |".repeat(group_cols.len()));
        for (label, rs) in &series {
            let names: Vec<String> = rs[0].metrics.test.groups.0.iter().map(|(name, _)| name.clone()).collect();
            for g in names {
                let col = |k: fn(&GroupReport) -> Option<f64>| {
                    rs.iter()
                        .filter_map(|r| {
                            r.metrics.test.groups.0.iter().find(|(name, _)| *name == g).and_then(|(_, v)| k(v))
                        })
                        .collect::<Vec<_>>()
                };
                let cells = [
                    label.clone(),
                    g.clone(),
                    fmt(mean(&col(|v| Some(v.n as f64))), 0),
                    fmt(mean(&col(|v| v.loss)), 4),
                    fmt(mean(&col(|v| v.accuracy)), 4),
                    fmt(mean(&col(|v| v.positive_rate)), 4),
                    fmt(mean(&col(|v| v.tpr)), 3),
                    fmt(mean(&col(|v| v.fpr)), 3),
                ];
                let _ = writeln!(
                    html,
                    "<tr>{}</tr>",
                    cells.iter().map(|c| format!("<td>{}</td>", escape(c))).collect::<String>()
                );
                let _ = writeln!(md, "| {} |", cells.join(" | "));
            }
        }
        let _ = writeln!(html, "</table>");
        let _ = writeln!(md);

        // Curves.
        let bound_value: f64 = bound.parse().unwrap_or(f64::NAN);
        let slug: String =
            title.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' { c } else { '_' }).collect::<String>();
        let _ = writeln!(html, "<h3>Against training time (mean, 25-75% band over seeds)</h3><div class=\"charts\">");
        let _ = writeln!(md, "### Against training time\n");
        for (quantity, pick, hline) in [
            ("objective (mean loss)", (|e: &Evaluation| e.objective) as fn(&Evaluation) -> f64, None),
            (constraint.as_str(), |e: &Evaluation| e.value, Some(bound_value)),
        ] {
            for split in ["train", "test"] {
                let bands: Vec<Band> = series.iter().map(|(l, rs)| band(l.clone(), rs, split, pick)).collect();
                let chart_title = format!("{quantity}, {split}");
                let frame = Frame {
                    title: &chart_title,
                    x_label,
                    y_label: quantity,
                    hlines: hline.map(|b| vec![(b, format!("bound {b}"))]).unwrap_or_default(),
                };
                let svg = charts::bands(&frame, &bands, &palette)?;
                let name = format!("{slug}_{}_{split}.svg", if hline.is_some() { "constraint" } else { "objective" });
                write_atomic(&charts_dir, &name, svg.as_bytes())?;
                let _ = writeln!(html, "<figure>{svg}</figure>");
                let _ = writeln!(md, "![{chart_title}](charts/{name})");
                chart_count += 1;
            }
        }
        // Accuracy against the achieved gap, one point per run.
        let points: Vec<Series> = series
            .iter()
            .map(|(l, rs)| Series {
                label: l.clone(),
                points: rs
                    .iter()
                    .filter_map(|r| Some((r.num("test_constraint_value")?, r.num("test_accuracy")?)))
                    .collect(),
                labels: Vec::new(),
                joined: false,
            })
            .collect();
        let chart_title = "final models: test accuracy against test constraint value".to_string();
        let frame = Frame {
            title: &chart_title,
            x_label: constraint,
            y_label: "test accuracy",
            hlines: vec![(bound_value, format!("bound {bound}"))],
        };
        let svg = charts::points(&frame, &points, &palette, None)?;
        let name = format!("{slug}_accuracy_vs_gap.svg");
        write_atomic(&charts_dir, &name, svg.as_bytes())?;
        let _ = writeln!(html, "<figure>{svg}</figure></div>");
        let _ = writeln!(md, "![{chart_title}](charts/{name})\n");
        chart_count += 1;
    }

    // The trade-off across bounds.
    let mut tradeoffs: Tradeoffs = BTreeMap::new();
    for ((dataset, group, constraint, bound), runs) in &experiments {
        let entry = tradeoffs.entry((dataset.clone(), group.clone(), constraint.clone())).or_default();
        let mut by_series: BTreeMap<String, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
        for r in runs {
            let e = by_series.entry(r.series(presets)).or_default();
            e.0.extend(r.num("test_constraint_value"));
            e.1.extend(r.num("test_accuracy"));
        }
        for (label, (gaps, accs)) in by_series {
            if let (Some(g), Some(a)) = (mean(&gaps), mean(&accs)) {
                entry.entry(label).or_default().push((g, a, bound.clone()));
            }
        }
    }
    for ((dataset, group, constraint), series) in tradeoffs {
        if series.values().all(|p| p.len() < 2) {
            continue;
        }
        let title = format!("{dataset}, groups {group}: accuracy-fairness trade-off across bounds");
        let list: Vec<Series> = series
            .into_iter()
            .map(|(label, mut p)| {
                p.sort_by(|a, b| a.0.total_cmp(&b.0));
                Series {
                    label,
                    points: p.iter().map(|q| (q.0, q.1)).collect(),
                    labels: p.iter().map(|q| q.2.clone()).collect(),
                    joined: true,
                }
            })
            .collect();
        let frame =
            Frame { title: &title, x_label: &format!("test {constraint}"), y_label: "test accuracy", hlines: vec![] };
        let svg = charts::points(&frame, &list, &palette, Some("each point labelled with its bound"))?;
        let name = format!(
            "{}_tradeoff.svg",
            format!("{dataset}_{group}_{constraint}")
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect::<String>()
        );
        write_atomic(&charts_dir, &name, svg.as_bytes())?;
        let _ = writeln!(html, "<h2>{}</h2><figure>{svg}</figure>", escape(&title));
        let _ = writeln!(md, "## {title}\n\n![trade-off](charts/{name})\n");
        chart_count += 1;
    }

    let page = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>fairtrain bench report</title>\n\
         <style>{STYLE}</style></head>\n<body>\n{html}</body></html>\n"
    );
    write_atomic(dir, "report.html", page.as_bytes())?;
    write_atomic(dir, "report.md", md.as_bytes())?;
    outln!(
        "wrote {} and {} ({} experiments, {chart_count} charts, {} runs)",
        dir.join("report.html").display(),
        dir.join("report.md").display(),
        experiments.len(),
        results.len()
    );
    Ok(())
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1200px;margin:2em auto;\
padding:0 1em;color:#222}h1{font-size:1.6em}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ddd}\
h3{font-size:1.05em}table{border-collapse:collapse;margin:.5em 0;font-size:.85em}td,th{border:1px solid #ddd;\
padding:.25em .5em;text-align:right}th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}\
table.setup td{text-align:left}.charts{display:flex;flex-wrap:wrap;gap:.5em}figure{margin:0}\
.note{color:#555;font-size:.9em}";
