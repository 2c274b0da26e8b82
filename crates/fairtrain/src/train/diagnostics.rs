//! Run diagnostics: patterns in the log records that mean a constrained run
//! is not going to end well, each reported once, with the iteration where
//! it was seen and what to try.
//!
//! - `never-satisfied`: after the warm-up (the first 10% of the budget), a
//!   constraint's estimate stayed positive (violated) in every log window,
//!   past the middle of the run.
//! - `multiplier-growth`: a multiplier more than doubled over the second
//!   half of the records so far and rose in at least 16 of the last 20
//!   windows: the constraint is likely infeasible at this bound (or the
//!   dual step too small to catch up).
//! - `oscillation`: over the last 20 windows after the warm-up, a
//!   multiplier changed direction at least 8 times and swung by more than
//!   1.5 times its mean (between near 0 and twice its level): the dual step
//!   is too large for the minibatch noise. (The constraint estimates
//!   themselves change sign all the time at an active bound, so their signs
//!   say nothing.)
//!
//! A kind is reported once per constraint family (the scalar constraints
//! one notion expands into: every ordered pair of groups, TPR and FPR),
//! naming the first constraint it was seen on and, as the run goes on, how
//! many of the family showed it: hundreds of pairwise constraints give one
//! line, not hundreds.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// One diagnostic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Warning {
    /// The iteration at which it was detected.
    pub iteration: u64,
    /// `never-satisfied`, `multiplier-growth` or `oscillation`.
    pub kind: std::borrow::Cow<'static, str>,
    /// What was seen and what to try.
    pub message: String,
}

/// Windows looked at for growth and oscillation.
const RECENT: usize = 20;

/// Watches the log records of one run. Its state is part of a checkpoint:
/// a resumed run raises the warnings the uninterrupted one would.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Diagnostics {
    names: Vec<String>,
    warmup: f64,
    halfway: f64,
    /// The last [`RECENT`] window means after the warm-up, per constraint.
    recent: Vec<VecDeque<f64>>,
    /// Per constraint: windows after the warm-up, their sum, and whether
    /// every one of them was violated.
    after_warmup: Vec<(usize, f64, bool)>,
    /// Multipliers per record, per constraint.
    multipliers: Vec<Vec<f32>>,
    /// Kinds already seen, per constraint.
    seen: Vec<Vec<Kind>>,
    /// Each constraint's family (its name up to the first `:` or `(`).
    family: Vec<String>,
    /// Per warning: its family, the first constraint's finding, and how
    /// many of the family's constraints showed it.
    reports: Vec<Report>,
    warnings: Vec<Warning>,
}

/// One warning of a family: rewritten as more of its constraints show it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Report {
    family: String,
    kind: Kind,
    first: String,
    finding: String,
    count: usize,
}

/// What a diagnostic saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Kind {
    NeverSatisfied,
    MultiplierGrowth,
    Oscillation,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::NeverSatisfied => "never-satisfied",
            Kind::MultiplierGrowth => "multiplier-growth",
            Kind::Oscillation => "oscillation",
        }
    }

    fn advice(self) -> &'static str {
        match self {
            Kind::NeverSatisfied => "try a looser bound, a larger `penalty` or `dual-lr`, or more iterations",
            Kind::MultiplierGrowth => "the bound may be infeasible: try a looser bound or a larger `penalty`",
            Kind::Oscillation => "try a smaller `dual-lr`, or a larger `group-batch-size`",
        }
    }
}

impl Diagnostics {
    /// Diagnostics for constraints `names`; progress is measured in the
    /// budget's unit (iterations or seconds) against `budget`.
    pub fn new(names: &[String], budget: f64) -> Self {
        let m = names.len();
        Diagnostics {
            names: names.to_vec(),
            warmup: 0.1 * budget,
            halfway: 0.5 * budget,
            recent: vec![VecDeque::with_capacity(RECENT + 1); m],
            after_warmup: vec![(0, 0.0, true); m],
            multipliers: vec![Vec::new(); m],
            seen: vec![Vec::new(); m],
            family: names.iter().map(|n| family_of(n).to_string()).collect(),
            reports: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// Takes one log record (`progress` in the budget's unit); returns how
    /// many warnings it raised (the newest at the end of [`Self::warnings`]).
    pub fn observe(&mut self, iteration: u64, progress: f64, constraints: &[f64], multipliers: &[f32]) -> usize {
        let before = self.warnings.len();
        for i in 0..self.names.len().min(constraints.len()) {
            if !multipliers.is_empty() {
                self.multipliers[i].push(multipliers[i]);
            }
            if progress < self.warmup {
                continue;
            }
            let c = constraints[i];
            let (n, sum, all) = &mut self.after_warmup[i];
            *n += 1;
            *sum += c;
            *all &= c > 0.0;
            self.recent[i].push_back(c);
            if self.recent[i].len() > RECENT {
                self.recent[i].pop_front();
            }
            if let Some(finding) = self.check_constraint(i, progress) {
                self.raise(i, iteration, Kind::NeverSatisfied, finding);
            }
            if self.multipliers[i].is_empty() {
                continue;
            }
            if let Some(finding) = self.check_multiplier(i) {
                self.raise(i, iteration, Kind::MultiplierGrowth, finding);
            }
            if let Some(finding) = self.check_oscillation(i) {
                self.raise(i, iteration, Kind::Oscillation, finding);
            }
        }
        self.warnings.len() - before
    }

    /// Violation throughout of constraint `i`.
    fn check_constraint(&self, i: usize, progress: f64) -> Option<String> {
        let (n, sum, all) = self.after_warmup[i];
        (progress >= self.halfway && n >= RECENT && all).then(|| {
            let mean = sum / n as f64;
            format!("violated in every log window since the warm-up (mean estimate {mean:+.4})")
        })
    }

    /// Bang-bang swings of multiplier `i` after the warm-up.
    fn check_oscillation(&self, i: usize) -> Option<String> {
        let lambda = &self.multipliers[i];
        if self.after_warmup[i].0 < RECENT {
            return None;
        }
        let recent = &lambda[lambda.len() - RECENT..];
        let turns = recent.windows(3).filter(|w| (w[1] - w[0]) * (w[2] - w[1]) < 0.0).count();
        let mean = recent.iter().map(|&l| l as f64).sum::<f64>() / RECENT as f64;
        let (lo, hi) =
            recent.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |a, &l| (a.0.min(l as f64), a.1.max(l as f64)));
        (turns >= 8 && hi - lo > 1.5 * mean && hi - lo > 1e-3).then(|| {
            format!(
                "multiplier swings between {lo:.3} and {hi:.3} (direction changed {turns} times in the last {RECENT} \
                 log windows)"
            )
        })
    }

    /// Unbounded growth of multiplier `i`.
    fn check_multiplier(&self, i: usize) -> Option<String> {
        let lambda = &self.multipliers[i];
        if lambda.len() < 2 * RECENT {
            return None;
        }
        let (mid, last) = (lambda[lambda.len() / 2], lambda[lambda.len() - 1]);
        let rises = lambda[lambda.len() - RECENT..].windows(2).filter(|w| w[1] > w[0]).count();
        (last > 1.0 && last > 2.0 * mid.max(1e-6) && rises >= 16).then(|| {
            format!("multiplier grew from {mid:.3} to {last:.3} over the second half of the run and is still rising")
        })
    }

    /// Reports `kind` on constraint `i`: a new warning for the first of
    /// its family, else one more count on the family's warning.
    fn raise(&mut self, i: usize, iteration: u64, kind: Kind, finding: String) {
        if self.seen[i].contains(&kind) {
            return;
        }
        self.seen[i].push(kind);
        let family = &self.family[i];
        let size = self.family_size(family);
        match self.reports.iter().position(|r| r.kind == kind && &r.family == family) {
            Some(k) => {
                self.reports[k].count += 1;
                self.warnings[k].message = self.reports[k].message(size);
            }
            None => {
                let report = Report { family: family.clone(), kind, first: self.names[i].clone(), finding, count: 1 };
                let message = report.message(size);
                self.reports.push(report);
                self.warnings.push(Warning { iteration, kind: kind.name().into(), message });
            }
        }
    }

    /// How many constraints `family` has.
    fn family_size(&self, family: &str) -> usize {
        self.family.iter().filter(|f| *f == family).count()
    }

    /// Every warning raised so far, in order (one per kind and family).
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// The budget progress is measured against.
    pub fn budget(&self) -> f64 {
        2.0 * self.halfway
    }
}

/// A constraint's family: its name up to the first `:` or `(`
/// (`equalized-odds:tpr(A - B)` is of `equalized-odds`).
fn family_of(name: &str) -> &str {
    name.find([':', '(']).map_or(name, |k| &name[..k])
}

impl Report {
    fn message(&self, family_size: usize) -> String {
        let subject = if family_size <= 1 {
            self.first.clone()
        } else if self.count == 1 {
            format!("{} (1 of the {family_size} {} constraints)", self.first, self.family)
        } else {
            format!("{} of the {family_size} {} constraints, first {}", self.count, self.family, self.first)
        };
        format!("{subject}: {}; {}", self.finding, self.kind.advice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        vec!["gap".to_string()]
    }

    #[test]
    fn a_constraint_violated_throughout_is_reported_once() {
        let mut d = Diagnostics::new(&names(), 100.0);
        for k in 0..100u64 {
            d.observe(k, k as f64, &[0.01], &[]);
        }
        assert_eq!(d.warnings().len(), 1);
        let w = &d.warnings()[0];
        assert_eq!((w.kind.as_ref(), w.iteration), ("never-satisfied", 50));
        assert!(w.message.starts_with("gap: violated in every log window"), "{}", w.message);
    }

    #[test]
    fn a_satisfied_constraint_raises_nothing() {
        let mut d = Diagnostics::new(&names(), 100.0);
        for k in 0..100u64 {
            // Small noise around a satisfied level.
            let c = -0.01 + 0.001 * ((k % 3) as f64 - 1.0);
            d.observe(k, k as f64, &[c], &[0.5]);
        }
        assert!(d.warnings().is_empty(), "{:?}", d.warnings());
    }

    #[test]
    fn oscillation_and_growth_are_seen() {
        let mut d = Diagnostics::new(&names(), 200.0);
        for k in 0..60u64 {
            let (c, lambda) = if k % 2 == 0 { (0.05, 2.0) } else { (-0.05, 0.0) };
            d.observe(k, k as f64, &[c], &[lambda]);
        }
        assert_eq!(d.warnings()[0].kind, "oscillation");
        // Sign changes of the estimates alone (an active bound) are normal.
        let mut d = Diagnostics::new(&names(), 200.0);
        for k in 0..60u64 {
            let c = if k % 2 == 0 { 0.002 } else { -0.002 };
            d.observe(k, k as f64, &[c], &[1.0 + 0.01 * (k % 2) as f32]);
        }
        assert!(d.warnings().is_empty(), "{:?}", d.warnings());
        let mut d = Diagnostics::new(&names(), 200.0);
        for k in 0..80u64 {
            let lambda = 0.5 * 1.05f32.powi(k as i32);
            d.observe(k, k as f64, &[-0.001], &[lambda]);
        }
        assert_eq!(d.warnings().len(), 1);
        assert_eq!(d.warnings()[0].kind, "multiplier-growth");
    }

    /// One warning per kind and family, counting the family's constraints
    /// that showed it; other families get their own.
    #[test]
    fn a_family_is_reported_once_with_a_count() {
        let names: Vec<String> =
            ["dp(A - B)", "dp(B - A)", "dp(A - C)", "eo:tpr(A - B)"].iter().map(|s| s.to_string()).collect();
        let mut d = Diagnostics::new(&names, 100.0);
        for k in 0..100u64 {
            d.observe(k, k as f64, &[0.01, 0.01, -0.01, 0.02], &[]);
        }
        let w = d.warnings();
        assert_eq!(w.len(), 2, "{w:?}");
        assert_eq!(
            w[0].message,
            "2 of the 3 dp constraints, first dp(A - B): violated in every log window since the warm-up (mean \
             estimate +0.0100); try a looser bound, a larger `penalty` or `dual-lr`, or more iterations"
        );
        assert!(w[1].message.starts_with("eo:tpr(A - B): violated"), "{}", w[1].message);
        assert_eq!(family_of("equalized-odds:tpr(A - B)"), "equalized-odds");
        assert_eq!(family_of("weight-norm"), "weight-norm");
    }
}
