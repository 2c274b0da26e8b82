//! The per-group table of a run's splits and its constraint verdicts, as
//! `fairtrain train` prints it.

use std::fmt::Write as _;

use crate::evaluation::SplitReport;

fn num(v: Option<f64>, digits: usize) -> String {
    match v {
        Some(v) => format!("{v:.digits$}"),
        None => "-".into(),
    }
}

/// The per-group table of the splits and the constraint verdicts.
pub fn render(train: &SplitReport, validation: Option<&SplitReport>, test: &SplitReport) -> String {
    match validation {
        Some(v) => render_splits(&[("train", train), ("valid", v), ("test", test)]),
        None => render_splits(&[("train", train), ("test", test)]),
    }
}

/// The per-group table and constraint verdicts of one split.
pub fn render_split(name: &str, report: &SplitReport) -> String {
    render_splits(&[(name, report)])
}

fn render_splits(splits: &[(&str, &SplitReport)]) -> String {
    let width = splits
        .iter()
        .flat_map(|(_, r)| r.groups.0.iter().map(|(name, _)| name.chars().count()))
        .max()
        .unwrap_or(5)
        .max(5);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<6} {:<width$} {:>7} {:>7} {:>8} {:>8} {:>6} {:>6}",
        "split", "group", "n", "loss", "accuracy", "pos.rate", "TPR", "FPR"
    );
    for &(split, report) in splits {
        for (name, g) in &report.groups.0 {
            let _ = writeln!(
                out,
                "{:<6} {:<width$} {:>7} {:>7} {:>8} {:>8} {:>6} {:>6}",
                split,
                name,
                g.n,
                num(g.loss, 4),
                num(g.accuracy, 4),
                num(g.positive_rate, 4),
                num(g.tpr, 3),
                num(g.fpr, 3),
            );
        }
        let _ = writeln!(
            out,
            "{:<6} {:<width$} {:>7} {:>7} {:>8}   DP gap {}, EOpp gap {}, EO gap {}",
            split,
            "(all)",
            report.groups.0.iter().map(|(_, g)| g.n).sum::<u64>(),
            num(report.objective, 4),
            num(report.accuracy, 4),
            num(report.dp_gap, 3),
            num(report.eopp_gap, 3),
            num(report.eo_gap, 3),
        );
    }
    let _ = writeln!(out);
    for &(split, report) in splits {
        for c in &report.constraints {
            let verdict = if c.satisfied {
                "satisfied".to_string()
            } else {
                let excess = c.value.map(|v| (v - c.bound).abs());
                format!("VIOLATED by {}", num(excess, 4))
            };
            let sense = match c.sense {
                crate::constraints::Sense::AtMost => "<=",
                crate::constraints::Sense::AtLeast => ">=",
            };
            let _ = writeln!(out, "{:<6} {} = {} ({sense} {}): {verdict}", split, c.name, num(c.value, 4), c.bound,);
        }
    }
    out
}
