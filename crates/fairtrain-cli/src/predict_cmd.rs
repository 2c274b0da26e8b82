//! `fairtrain predict` scores new data with a saved model, and `fairtrain
//! audit` measures any model's predictions: per-group metrics, fairness
//! gaps and the held-out feasibility certificate.

use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};
use clap::Args;
use fairtrain::constraints::{FairnessConstraint, Notion, Statistic};
use fairtrain::data::encode::{is_truthy, matches_value};
use fairtrain::data::source::read_table_file;
use fairtrain::data::table::{RawTable, TextColumns};
use fairtrain::evaluation::certificate::{CertifyOptions, RowOutcome, certify_outcomes};
use fairtrain::evaluation::degenerate::NearConstant;
use fairtrain::evaluation::{GroupFrame, SplitReport};
use fairtrain::model::saved;
use fairtrain::run::{render_split, write_atomic};

/// Options of `fairtrain predict`.
#[derive(Debug, Args)]
pub struct PredictArgs {
    /// A run directory holding model.safetensors and model.json
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    /// Data to score: a CSV (with a header) or ARFF file with the model's input columns
    #[arg(long, value_name = "FILE")]
    pub data: PathBuf,
    /// Output CSV: the --keep columns, score (probability of the positive class) and prediction
    #[arg(long, value_name = "FILE.csv")]
    pub out: PathBuf,
    /// Predict positive when the score is at least this [default: 0.5; a post-processed model decides with its own per-group thresholds]
    #[arg(long)]
    pub threshold: Option<f64>,
    /// Input columns copied to the output (e.g. an identifier)
    #[arg(long, value_delimiter = ',')]
    pub keep: Vec<String>,
    /// Replace an existing output file
    #[arg(long)]
    pub overwrite: bool,
    /// Threads for scoring
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
}

fn check_threshold(t: f64) -> Result<()> {
    if !(t > 0.0 && t < 1.0) {
        bail!("invalid value for threshold: {t} (must be between 0 and 1, exclusive)");
    }
    Ok(())
}

/// Runs `fairtrain predict`.
pub fn predict(args: PredictArgs) -> Result<()> {
    let threshold = args.threshold.unwrap_or(0.5);
    check_threshold(threshold)?;
    let card = args.model.join(saved::CARD_FILE);
    let weights = args.model.join(saved::WEIGHTS_FILE);
    crate::output_file::check(&args.out, args.overwrite, &[&args.data, &card, &weights])?;
    let model = saved::load(&args.model)?;
    if model.card.decisions.is_some() && args.threshold.is_some() {
        bail!(
            "the model in {} was post-processed: it decides with per-group thresholds saved in model.json, so \
             --threshold does not apply",
            args.model.display()
        );
    }
    // The kept columns are written back as read; groups and categories are
    // matched by their text.
    let mut text = args.keep.clone();
    text.extend(model.card.group_columns.iter().cloned());
    text.extend(model.card.group_spec.iter().map(|g| g.name.clone()));
    text.extend(model.card.categorical.iter().map(|c| c.name.clone()));
    let table = read_table_file(&args.data, TextColumns::Named(text))?;
    let keep: Vec<usize> = args.keep.iter().map(|k| table.column_index(k)).collect::<fairtrain::Result<_>>()?;
    let (data, unseen) = model.encode(&table)?;
    let predictions = model.predict(&data, threshold, args.threads.max(1));
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = args.keep.clone();
    header.extend(["score".to_string(), "prediction".to_string()]);
    w.write_record(&header)?;
    let mut positives = 0;
    for (row, &(score, predicted)) in predictions.iter().enumerate() {
        positives += predicted as usize;
        let mut record: Vec<String> =
            keep.iter().map(|&c| table.columns[c].text(row).unwrap_or_default().into_owned()).collect();
        record.push(format!("{score}"));
        record.push(if predicted { "1" } else { "0" }.to_string());
        w.write_record(&record)?;
    }
    let bytes = w.into_inner().map_err(|e| anyhow!("internal: {e}"))?;
    let dir = args.out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = args.out.file_name().and_then(|n| n.to_str()).ok_or_else(|| anyhow!("--out must name a file"))?;
    write_atomic(dir, name, &bytes)?;
    for (column, n) in unseen {
        errln!(
            "warning: {n} rows have a '{column}' category the model never saw; they get no input for '{column}' \
             (its one-hot block is all 0)"
        );
    }
    let rule = match model.card.decisions {
        Some(_) => "with the per-group thresholds of its post-processing".to_string(),
        None => format!("at threshold {threshold}"),
    };
    outln!(
        "scored {} rows with the model in {} ({positives} predicted positive {rule}); wrote {}",
        predictions.len(),
        args.model.display(),
        args.out.display()
    );
    Ok(())
}

/// Options of `fairtrain audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// The data: a CSV or ARFF file with the label and group columns
    #[arg(long, value_name = "FILE")]
    pub data: PathBuf,
    /// The predictions, row for row (e.g. written by `fairtrain predict`, or by any other tool)
    #[arg(long, value_name = "FILE.csv")]
    pub predictions: PathBuf,
    /// The label column of --data
    #[arg(long)]
    pub target: String,
    /// The positive label value (needed unless the label has two values, one of them 1/true/yes)
    #[arg(long)]
    pub positive: Option<String>,
    /// Sensitive column(s) of --data; several give intersectional groups
    #[arg(long, value_delimiter = ',', required = true)]
    pub group: Vec<String>,
    /// Column of --predictions with the probability of the positive class (loss-based notions need it)
    #[arg(long, default_value = "score")]
    pub score_col: String,
    /// Column of --predictions with the 0/1 prediction (default: score >= --threshold)
    #[arg(long, default_value = "prediction")]
    pub pred_col: String,
    /// Threshold for predictions made from scores
    #[arg(long, default_value_t = 0.5)]
    pub threshold: f64,
    /// Constraints to certify; repeat [default: demographic-parity, equal-opportunity, equalized-odds, and loss-parity with scores]
    #[arg(long)]
    pub constraint: Vec<String>,
    /// Bound of each --constraint, in order [default: the notion's]
    #[arg(long)]
    pub bound: Vec<f64>,
    /// Also write the audit as JSON here
    #[arg(long, value_name = "FILE.json")]
    pub out: Option<PathBuf>,
    /// Replace an existing --out file
    #[arg(long)]
    pub overwrite: bool,
}

/// Runs `fairtrain audit`.
pub fn audit(args: AuditArgs) -> Result<()> {
    check_threshold(args.threshold)?;
    if let Some(out) = &args.out {
        crate::output_file::check(out, args.overwrite, &[&args.data, &args.predictions])?;
    }
    let data = read_table_file(&args.data, TextColumns::All)?;
    let preds = read_table_file(&args.predictions, TextColumns::All)?;
    if data.n_rows() != preds.n_rows() {
        bail!(
            "{} has {} rows but {} has {}; predictions must match the data row for row",
            args.data.display(),
            data.n_rows(),
            args.predictions.display(),
            preds.n_rows()
        );
    }
    let target = data.column_index(&args.target)?;
    let group_cols: Vec<usize> = args.group.iter().map(|g| data.column_index(g)).collect::<fairtrain::Result<_>>()?;
    let score_col = preds.names.iter().position(|n| *n == args.score_col);
    let pred_col = preds.names.iter().position(|n| *n == args.pred_col);
    if score_col.is_none() && pred_col.is_none() {
        bail!(
            "{} has neither a '{}' nor a '{}' column (its columns: {}); name them with --score-col / --pred-col",
            args.predictions.display(),
            args.score_col,
            args.pred_col,
            preds.column_list()
        );
    }
    // The positive label.
    let values: Vec<&String> = data.columns[target].values.iter().collect();
    let positive = match &args.positive {
        Some(p) => {
            if !values.iter().any(|v| matches_value(v, p)) {
                bail!("positive value '{p}' does not occur in column '{}'", args.target);
            }
            p.clone()
        }
        None => {
            let truthy: Vec<&&String> = values.iter().filter(|v| is_truthy(v)).collect();
            if values.len() == 2 && truthy.len() == 1 {
                truthy[0].to_string()
            } else {
                bail!("column '{}' has {} values; pass --positive VALUE", args.target, values.len());
            }
        }
    };
    let mut names: Vec<String> = Vec::new();
    let mut groups = Vec::with_capacity(data.n_rows());
    let mut outcomes = Vec::with_capacity(data.n_rows());
    let parse_err = |table: &RawTable, row: usize, message: String| fairtrain::Error::Parse {
        source_name: table.source.clone(),
        line: table.lines[row],
        message,
    };
    for row in 0..data.n_rows() {
        let label = data.columns[target]
            .text(row)
            .ok_or_else(|| parse_err(&data, row, format!("missing value in column '{}'", args.target)))?;
        let key: Vec<std::borrow::Cow<str>> = group_cols
            .iter()
            .map(|&c| {
                data.columns[c]
                    .text(row)
                    .ok_or_else(|| parse_err(&data, row, format!("missing value in column '{}'", data.names[c])))
            })
            .collect::<fairtrain::Result<_>>()?;
        let key = key.join(" & ");
        let g = match names.iter().position(|n| *n == key) {
            Some(g) => g,
            None => {
                names.push(key);
                names.len() - 1
            }
        };
        groups.push(g as u32);
        let score = match score_col {
            Some(c) => {
                let column = &preds.names[c];
                let Some(v) = preds.columns[c].text(row) else {
                    let message = format!("column '{column}': the score is missing (an empty, NA, NaN or ? cell)");
                    return Err(parse_err(&preds, row, message).into());
                };
                let p: f64 = v.trim().parse().ok().filter(|p: &f64| (0.0..=1.0).contains(p)).ok_or_else(|| {
                    let v = fairtrain::data::excerpt(&v);
                    parse_err(&preds, row, format!("column '{column}': score '{v}' is not a probability in [0, 1]"))
                })?;
                Some(p)
            }
            None => None,
        };
        let predicted = match pred_col {
            Some(c) => {
                let column = &preds.names[c];
                let v = preds.columns[c].text(row).unwrap_or_default();
                match v.trim().to_ascii_lowercase().as_str() {
                    "1" | "1.0" | "true" => true,
                    "0" | "0.0" | "false" => false,
                    _ => {
                        let v = fairtrain::data::excerpt(&v);
                        let message = format!("column '{column}': prediction '{v}' is not 0 or 1");
                        return Err(parse_err(&preds, row, message).into());
                    }
                }
            }
            None => score.expect("a score column") >= args.threshold,
        };
        let positive_row = matches_value(&label, &positive);
        let (loss, probability) = match score {
            Some(p) => {
                let q = p.clamp(1e-7, 1.0 - 1e-7);
                (if positive_row { -q.ln() } else { -(1.0 - q).ln() }, p)
            }
            None => (f64::NAN, f64::NAN),
        };
        outcomes.push(RowOutcome { loss, probability, predicted, positive: positive_row, weight: 1.0 });
    }
    if names.len() < 2 {
        bail!("group column(s) {} have a single group; an audit compares at least two", args.group.join(","));
    }
    // The constraints.
    let notions: Vec<Notion> = if args.constraint.is_empty() {
        let mut n = vec![Notion::DemographicParity, Notion::EqualOpportunity, Notion::EqualizedOdds];
        if score_col.is_some() {
            n.push(Notion::LossParity);
        }
        n
    } else {
        args.constraint.iter().map(|c| c.parse()).collect::<fairtrain::Result<_>>()?
    };
    if args.bound.len() > notions.len() {
        bail!("{} bounds given for {} constraints", args.bound.len(), notions.len());
    }
    let constraints: Vec<FairnessConstraint> = notions
        .iter()
        .enumerate()
        .map(|(i, &n)| match args.bound.get(i) {
            Some(&b) => FairnessConstraint::new(n, b),
            None => FairnessConstraint::with_default_bound(n),
        })
        .collect::<fairtrain::Result<_>>()?;
    if score_col.is_none()
        && constraints
            .iter()
            .any(|c| c.statistics().iter().any(|s| matches!(s, Statistic::Loss | Statistic::Calibration)))
    {
        bail!("loss-based notions need scores; give a --score-col");
    }
    let frame = GroupFrame::from_outcomes(&names, &outcomes, &groups);
    let report = SplitReport::new(&frame, &constraints, &[]);
    let certificates = certify_outcomes(&names, &outcomes, &groups, &constraints, &[], &CertifyOptions::default());
    out!("{}", render_split("audit", &report));
    // Parity met by predicting one class for everyone is said to be so.
    let near_constant = NearConstant::of(frame.overall());
    for c in &certificates {
        outln!(
            "{}: value {} (bound {}), 95% bound {}: {}{}",
            c.name,
            c.value.map_or("-".into(), |v| format!("{v:.4}")),
            c.bound,
            c.value_bound.map_or("-".into(), |v| format!("{v:.4}")),
            c.verdict(),
            if c.holds && near_constant.is_some() { ", but the predictions are near-constant" } else { "" }
        );
    }
    if let Some(near) = near_constant {
        errln!("warning (near-constant): the predictions are near-constant ({})", near.describe());
    }
    if let Some(path) = &args.out {
        let json = serde_json::json!({ "report": report, "certificates": certificates, "positive": positive });
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let name = path.file_name().and_then(|n| n.to_str()).ok_or_else(|| anyhow!("--out must name a file"))?;
        write_atomic(dir, name, &serde_json::to_vec_pretty(&json)?)?;
    }
    Ok(())
}
