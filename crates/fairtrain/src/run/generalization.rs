//! [`Generalization`]: the controls of a run with a validation split. The
//! margin (a tighter bound training aims at, measured on validation at a
//! quarter, half and three quarters of the budget) and the choice of the
//! returned model (the best validation objective among candidates feasible
//! on train and, within the noise of the estimate, on validation).

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::config::Select;
use super::split_rows::SplitRows;
use crate::constraints::FairnessConstraint;
use crate::data::Dataset;
use crate::error::Result;
use crate::evaluation::certificate::{Certificate, CertifyOptions, certify_dataset};
use crate::evaluation::{GroupFrame, SplitReport};
use crate::model::Mlp;
use crate::train::{Observer, ObserverStates};

/// Splits larger than this are judged by the controls on a fixed
/// stratified sample of this many rows: a rate over 50,000 rows is known to
/// within about 0.005 (a group with a tenth of them, 0.014), finer than the
/// bounds users set, while the selection's 30 or so evaluations of both
/// splits cost as much as training itself on data of millions of rows.
/// The reported metrics and the certificate use the whole splits.
pub(crate) const SELECTION_ROWS: usize = 50_000;

/// At most this many candidates wait for their training-rows check (and
/// at most [`PENDING_BYTES`] of their parameters): the check runs when the
/// run ends or the list is full.
const MAX_PENDING: usize = 16;

/// The memory the waiting candidates' parameters may take.
const PENDING_BYTES: usize = 32 << 20;

/// Mixed into the run's seed for the validation split's sample (a stream
/// of its own: the sample does not repeat the splits' draws).
pub(crate) const SELECTION_SAMPLE_SEED: u64 = 0x5e1e_c7ed;

/// Mixed into the run's seed for the training split's sample.
pub(crate) const TRAIN_SAMPLE_SEED: u64 = 0x7a1_5e1e;

/// The rows of a fixed stratified sample (by group and label, seeded) of
/// `data` for the controls, or `None` when `data` is small enough to use
/// whole (or a group would be left without rows).
pub(crate) fn selection_sample(data: &Dataset, seed: u64) -> Option<Vec<usize>> {
    if data.n_rows() <= SELECTION_ROWS {
        return None;
    }
    data.split_off_rows(SELECTION_ROWS as f64 / data.n_rows() as f64, seed).ok().map(|(_, sample)| sample)
}

/// Evaluation snapshots averaged into a selection candidate (a tenth of
/// the budget at the default 40 evaluations).
const SNAPSHOTS: usize = 4;

/// The generalization controls of a run with a validation split: the
/// margin (the tighter bound training aims at) and the choice of the
/// returned model.
pub(crate) struct Generalization<'a> {
    pub(crate) mlp: &'a Mlp,
    /// The validation rows the controls judge by (a sample of a large split).
    pub(crate) validation: Judged,
    /// The training rows the controls judge by (a sample of a large split).
    pub(crate) train: Judged,
    pub(crate) constraints: &'a [FairnessConstraint],
    pub(crate) threads: usize,
    pub(crate) time_budget: bool,
    /// The selection rule: `best-feasible` candidates must meet the bounds
    /// on train and validation; `best` is early stopping on the validation
    /// objective alone; `last` selects nothing.
    pub(crate) select: Select,
    /// Candidates are eligible from this point of the budget on (earlier
    /// models are feasible only because they have not learned yet).
    pub(crate) select_from: f64,
    /// The standard error of a statistic's estimate on the whole training
    /// split per unit of the 95% half-width of its estimate on the judged
    /// validation rows ([`train_error_per_half_width`]).
    pub(crate) train_error_per_half_width: f64,
    /// What the controls found so far.
    pub(crate) state: GeneralizationState,
    /// The current candidate (scratch).
    pub(crate) candidate: Vec<f32>,
}

/// The standard error of a statistic's estimate on `train_rows` rows per
/// unit of the 95% half-width of its estimate on `validation_rows` rows.
/// The splits are stratified alike (by group and label), so every cell's
/// count, and with it the estimate's variance, scales with the split's
/// size: the training error is the validation one times
/// `sqrt(validation_rows / train_rows)`, and the half-width is 1.96 of it.
/// (With the default validation split, a quarter of the training rows, one
/// training standard error is about a quarter of the half-width.)
pub(crate) fn train_error_per_half_width(validation_rows: usize, train_rows: usize) -> f64 {
    (validation_rows as f64 / train_rows.max(1) as f64).sqrt() / 1.96
}

/// Each certificate's 95% half-width (0 where it has none): the tolerance
/// of "feasible on validation".
fn half_widths(certs: &[Certificate]) -> Vec<f64> {
    certs.iter().map(|c| c.ci_half_width.unwrap_or(0.0)).collect()
}

/// A split report's largest violation of `constraints`, for "feasible"
/// decisions: with no constraint every model is feasible (`-inf`); with an
/// undefined value (a group without rows of a label) none is (`+inf`).
pub(crate) fn largest_violation(report: &SplitReport, constraints: &[FairnessConstraint]) -> f64 {
    match report.max_violation {
        Some(v) => v,
        None if constraints.is_empty() => f64::NEG_INFINITY,
        None => f64::INFINITY,
    }
}

/// A split, or a fixed sample of it ([`selection_sample`]).
pub(crate) struct Judged(SplitRows);

impl Judged {
    /// `rows`, or their sample when there are many.
    pub(crate) fn of(rows: SplitRows, seed: u64) -> Result<Self> {
        Ok(Judged(match selection_sample(rows.outcomes(), seed) {
            Some(sample) => rows.subset(&sample)?,
            None => rows,
        }))
    }

    pub(crate) fn rows(&self) -> &SplitRows {
        &self.0
    }
}

/// What the generalization controls have found so far. It is part of a
/// checkpoint: a resumed run trains against the same margin and chooses
/// among the same candidates as the uninterrupted one.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct GeneralizationState {
    /// Auto margin: measured next when the run reaches this point of its
    /// budget (a quarter, a half, three quarters).
    pub(crate) auto_at: Option<f64>,
    /// The bounds training aims at (the user's, until a margin applies).
    pub(crate) train_bounds: Vec<f64>,
    /// What the margin measurement found, for the console.
    pub(crate) margin_report: Vec<String>,
    /// The last parameter snapshots seen at evaluations: candidates for the
    /// returned model are their mean, since a single iterate carries the
    /// minibatch noise (validation would select the luckiest draw).
    pub(crate) snapshots: VecDeque<Vec<f32>>,
    /// Per constraint, the tolerance of "feasible on validation": the 95%
    /// half-width of its validation estimate (a smaller difference is
    /// noise), measured at the first eligible evaluation and again at each
    /// auto-margin measurement, on the model of the time: an early model
    /// that puts few rows in one class has rates that vary far less than
    /// the trained one's (COMPAS demographic parity, seed 0: 0.026 at a
    /// quarter of the budget, 0.070 at three quarters), and a tolerance
    /// measured on it alone turned away every later candidate.
    pub(crate) tolerance: Option<Vec<f64>>,
    /// Best feasible model on validation: (objective, iteration, params).
    pub(crate) best: Option<(f64, u64, Vec<f32>)>,
    /// Smallest largest-violation seen on validation, and where.
    pub(crate) least_violation: Option<(f64, u64)>,
    /// Candidates feasible on validation with a lower objective than
    /// `best`, whose training rows are not checked yet
    /// ([`Generalization::settle`] checks them, best objective first).
    pub(crate) pending: Vec<Pending>,
}

/// A candidate waiting for its training-rows check.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Pending {
    objective: f64,
    /// Its largest violation on validation, beyond the tolerance (<= 0).
    on_validation: f64,
    iteration: u64,
    params: Vec<f32>,
}

/// The key of [`GeneralizationState`] in a checkpoint's observer states.
const STATE_KEY: &str = "generalization";

impl<'a> Generalization<'a> {
    fn frame(&self, params: &[f32], rows: &SplitRows) -> GroupFrame {
        rows.frame(self.mlp, params, self.threads)
    }

    /// The largest violation on the training rows (the sample of a large
    /// split; see [`largest_violation`]).
    fn train_violation(&self, params: &[f32]) -> f64 {
        if self.select != Select::BestFeasible {
            return f64::NEG_INFINITY;
        }
        let on_train = SplitReport::new(&self.frame(params, self.train.rows()), self.constraints, params);
        largest_violation(&on_train, self.constraints)
    }

    /// Checks the waiting candidates on the training rows, lowest objective
    /// first (the earlier iteration on a tie), until one is feasible there:
    /// it becomes the best, and the rest can no longer beat it. The result
    /// is the one checking every candidate at once would give, but the
    /// training rows (four times the validation rows, by default) are
    /// forwarded about once per run instead of at nearly every evaluation.
    pub(crate) fn settle(&mut self) {
        let mut pending = std::mem::take(&mut self.state.pending);
        pending.sort_by(|a, b| a.objective.total_cmp(&b.objective).then(a.iteration.cmp(&b.iteration)));
        for candidate in pending {
            let violation = candidate.on_validation.max(self.train_violation(&candidate.params));
            if violation <= 0.0 {
                if self.state.best.as_ref().is_none_or(|b| candidate.objective < b.0) {
                    self.state.best = Some((candidate.objective, candidate.iteration, candidate.params));
                }
                return;
            }
            if self.state.least_violation.is_none_or(|l| violation < l.0) {
                self.state.least_violation = Some((violation, candidate.iteration));
            }
        }
    }

    /// A candidate's validation objective and its largest violation on
    /// validation beyond the noise of the estimate (feasible there when it
    /// is at most 0; `-inf` where feasibility is not required); `None`
    /// where the objective is undefined. One forward
    /// pass of the validation rows; the first call measures the tolerance.
    fn judge_on_validation(&mut self, candidate: &[f32]) -> Option<(f64, f64)> {
        let v = self.validation.rows();
        let logits = v.logits(self.mlp, candidate, self.threads);
        let v = v.outcomes();
        if self.select != Select::BestFeasible {
            let report = SplitReport::new(&GroupFrame::from_logits(v, &logits), self.constraints, candidate);
            return report.objective.map(|objective| (objective, f64::NEG_INFINITY));
        }
        if self.state.tolerance.is_none() {
            let options = CertifyOptions { resamples: 200, ..CertifyOptions::default() };
            let certs = certify_dataset(v, &logits, self.constraints, candidate, &options);
            self.state.tolerance = Some(half_widths(&certs));
        }
        let tolerance = self.state.tolerance.as_deref().unwrap_or(&[]);
        let report = SplitReport::new(&GroupFrame::from_logits(v, &logits), self.constraints, candidate);
        let objective = report.objective?;
        let on_validation = self
            .constraints
            .iter()
            .zip(&report.constraints)
            .zip(tolerance.iter().chain(std::iter::repeat(&0.0)))
            .filter_map(|((c, r), &t)| r.value.map(|value| c.violation(value) - t))
            .fold(f64::NEG_INFINITY, f64::max);
        Some((objective, on_validation))
    }

    /// The model training ended with (the tail average, or the last
    /// iterate), judged as one more candidate after [`Self::settle`]: its
    /// validation objective when it is feasible on train and validation and
    /// beats the best evaluated candidate. The evaluated candidates average
    /// four snapshots over a tenth of the budget; the tail average, of a
    /// thousand iterates, carries less of the minibatch noise, and once
    /// rates overfit it is often the most accurate model that still meets
    /// the bounds (COMPAS demographic parity at 0.05, seeds 2 and 4: test
    /// accuracy 0.609 and 0.604 without it, 0.627 and 0.614 with it).
    pub(crate) fn final_model_wins(&mut self, params: &[f32]) -> Option<f64> {
        let (objective, on_validation) = self.judge_on_validation(params)?;
        if on_validation > 0.0 || self.state.best.as_ref().is_some_and(|b| objective >= b.0) {
            return None;
        }
        (self.train_violation(params) <= 0.0).then_some(objective)
    }

    /// The auto margin at the current parameters: the larger of two
    /// estimates of how far the returned model's population value may lie
    /// beyond its training value.
    /// * Overfitting the validation split can tell from its noise: the
    ///   part of the validation value's excess over the train value beyond
    ///   the 95% half-width of the validation estimate.
    /// * The training estimate's own noise: training drives the *training*
    ///   value to the bound, and the population value of that model
    ///   differs from it by at least the training estimate's sampling
    ///   error, which the reported test interval (the test split's noise)
    ///   does not cover. One standard error of it
    ///   ([`train_error_per_half_width`]) is the margin the validation split
    ///   cannot resolve on small groups: on equalized odds over a 5% group
    ///   (two synthetic variants, bounds 0.02 and 0.05, seeds 0-4) 12 of 20
    ///   runs ended outside their test intervals without it, 8 with it.
    ///   (Two standard errors collapsed Adult's equalized odds over race by
    ///   sex, 24 constraints on groups of a few hundred rows, to 0.76; a
    ///   full validation half-width, about four, cost up to 3.8 points of
    ///   accuracy on Adult equal opportunity at 0.02.)
    ///
    /// Measured again later in the run, a margin only tightens: rates
    /// overfit as training goes on (COMPAS demographic parity at 0.05,
    /// seed 0: no excess at a quarter of the budget, validation 0.128
    /// against train 0.046 at the end), while a later measurement that
    /// loosened the bound undid the margin that kept small groups'
    /// equalized odds within their test intervals.
    fn measure_margin(&mut self, params: &[f32]) -> crate::error::Result<()> {
        let v = self.validation.rows();
        let logits = v.logits(self.mlp, params, self.threads);
        let v = v.outcomes();
        let certs = certify_dataset(
            v,
            &logits,
            self.constraints,
            params,
            // As many resamples as the certificate: with 400, the half-width's
            // Monte Carlo noise (about 7%) could decide the margin.
            &CertifyOptions { resamples: 1000, ..Default::default() },
        );
        let train = SplitReport::new(&self.frame(params, self.train.rows()), self.constraints, params);
        // (The report says what the last measurement found.)
        self.state.margin_report.clear();
        self.state.tolerance = Some(half_widths(&certs));
        for (k, c) in self.constraints.iter().enumerate() {
            if c.kind == crate::constraints::ConstraintKind::WeightNorm {
                continue;
            }
            let (Some(val), Some(tr), Some(h)) = (certs[k].value, train.constraints[k].value, certs[k].ci_half_width)
            else {
                continue;
            };
            let at_most = c.sense() == crate::constraints::Sense::AtMost;
            let excess = if at_most { val - tr } else { tr - val };
            let noise = h * self.train_error_per_half_width;
            let margin = (excess - h).max(noise);
            let bound = if at_most { (c.bound - margin).max(0.25 * c.bound) } else { (c.bound + margin).min(1.0) };
            let previous = self.state.train_bounds[k];
            let bound = if at_most { bound.min(previous) } else { bound.max(previous) };
            self.state.train_bounds[k] = bound;
            self.state.margin_report.push(format!(
                "{}: training against {bound:.4} (bound {}; validation {:+.4} from train, 95% half-width {h:.4}; \
                 training standard error {noise:.4}){}",
                c.name(),
                c.bound,
                val - tr,
                if at_most && c.bound - margin < 0.25 * c.bound {
                    "; the data leave almost no room: held-out values may exceed the bound"
                } else {
                    ""
                }
            ));
        }
        Ok(())
    }
}

impl Observer for Generalization<'_> {
    fn save_state(&self, states: &mut ObserverStates) -> crate::error::Result<()> {
        states.insert(STATE_KEY.into(), crate::state::encode(&self.state)?);
        Ok(())
    }

    fn restore_state(&mut self, states: &ObserverStates) -> crate::error::Result<()> {
        let Some(bytes) = states.get(STATE_KEY) else {
            return Err(crate::error::Error::Data("the checkpoint lacks the model selection's state".into()));
        };
        let state: GeneralizationState = crate::state::decode(bytes)?;
        if state.train_bounds.len() != self.state.train_bounds.len() {
            return Err(crate::error::Error::Data("the checkpoint's model selection is of other constraints".into()));
        }
        self.state = state;
        Ok(())
    }

    fn between_steps(
        &mut self,
        iteration: u64,
        seconds: f64,
        problem: &mut dyn crate::problem::Problem,
    ) -> crate::error::Result<()> {
        let progress = if self.time_budget { seconds } else { iteration as f64 };
        if let Some(at) = self.state.auto_at.filter(|&at| progress >= at) {
            // The measurements are a quarter of the budget apart (where
            // candidates become eligible), the last at three quarters.
            let step = self.select_from;
            self.state.auto_at = (at + step < 3.5 * step).then_some(at + step);
            let params = problem.params().to_vec();
            self.measure_margin(&params)?;
            crate::problem::require_bound_control(problem, "the generalization margin")?
                .set_bounds(&self.state.train_bounds)?;
        }
        Ok(())
    }

    fn evaluate(&mut self, iteration: u64, seconds: f64, params: &[f32]) -> crate::error::Result<()> {
        let progress = if self.time_budget { seconds } else { iteration as f64 };
        if self.select == Select::Last || progress < self.select_from {
            return Ok(());
        }
        if self.state.snapshots.len() == SNAPSHOTS {
            self.state.snapshots.pop_front();
        }
        self.state.snapshots.push_back(params.to_vec());
        let mut candidate = std::mem::take(&mut self.candidate);
        candidate.clear();
        candidate.resize(params.len(), 0.0);
        for snapshot in &self.state.snapshots {
            for (c, &p) in candidate.iter_mut().zip(snapshot) {
                *c += p / self.state.snapshots.len() as f32;
            }
        }
        let judged = self.judge_on_validation(&candidate);
        self.candidate = candidate;
        let Some((objective, on_validation)) = judged else { return Ok(()) };
        // A candidate must also be feasible on the training data: a model
        // that meets the bound on validation only by the luck of its noise
        // is not one. That check waits (see `settle`) for a candidate that
        // could become the best.
        let best = self.state.best.as_ref().map(|b| b.0);
        if on_validation <= 0.0 {
            if best.is_none_or(|b| objective < b) {
                self.state.pending.push(Pending {
                    objective,
                    on_validation,
                    iteration,
                    params: self.candidate.clone(),
                });
                let room = (PENDING_BYTES / (4 * self.candidate.len()).max(1)).clamp(1, MAX_PENDING);
                if self.state.pending.len() >= room {
                    self.settle();
                }
            }
            return Ok(());
        }
        // Infeasible on validation: the training rows only matter for the
        // smallest violation, reported when no candidate is feasible (the
        // waiting ones may all fail, so they do not count yet).
        if best.is_some() || self.state.least_violation.is_some_and(|l| on_validation >= l.0) {
            return Ok(());
        }
        let violation = on_validation.max(self.train_violation(&self.candidate));
        if self.state.least_violation.is_none_or(|l| violation < l.0) {
            self.state.least_violation = Some((violation, iteration));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(n: usize) -> Dataset {
        let x: Vec<f32> = (0..n).map(|i| (i % 13) as f32).collect();
        let y: Vec<f32> = (0..n).map(|i| (i % 3 == 0) as u8 as f32).collect();
        let g: Vec<u32> = (0..n).map(|i| (i % 10 == 0) as u32).collect();
        Dataset::from_dense(x, 1, y, g, vec!["a".into(), "b".into()]).unwrap()
    }

    /// Selection controls judging `data` as both validation and training rows.
    fn controls<'a>(mlp: &'a Mlp, data: &Dataset, constraints: &'a [FairnessConstraint]) -> Generalization<'a> {
        Generalization {
            mlp,
            validation: Judged(SplitRows::whole(std::sync::Arc::new(data.clone()))),
            train: Judged(SplitRows::whole(std::sync::Arc::new(data.clone()))),
            constraints,
            threads: 1,
            time_budget: false,
            select: Select::BestFeasible,
            select_from: 0.0,
            train_error_per_half_width: train_error_per_half_width(data.n_rows(), data.n_rows()),
            state: GeneralizationState::default(),
            candidate: Vec::new(),
        }
    }

    /// The waiting candidates are checked lowest objective first (the
    /// earlier on a tie): the first feasible on the training rows is the
    /// best, and the infeasible one before it counts as the smallest
    /// violation. A weight-norm constraint makes feasibility a matter of
    /// the parameters alone.
    #[test]
    fn waiting_candidates_settle_on_the_best_feasible_one() {
        let data = rows(200);
        let mlp = Mlp::new(1, &[2]).unwrap();
        let n = mlp.n_params();
        let constraints = [FairnessConstraint::new(crate::constraints::Notion::WeightNorm, 1.0).unwrap()];
        let mut g = controls(&mlp, &data, &constraints);
        let waiting = |objective, iteration, value: f32| Pending {
            objective,
            on_validation: -0.1,
            iteration,
            params: vec![value; n],
        };
        // Squared norms n * value^2: only the value 1.0 exceeds the bound 1.
        g.state.pending =
            vec![waiting(0.4, 20, 0.0), waiting(0.3, 10, 1.0), waiting(0.5, 30, 0.0), waiting(0.4, 5, 0.1)];
        g.settle();
        let (objective, iteration, params) = g.state.best.clone().unwrap();
        assert_eq!((objective, iteration, params[0]), (0.4, 5, 0.1));
        let (violation, at) = g.state.least_violation.unwrap();
        assert_eq!(at, 10);
        assert!((violation - (n as f64 - 1.0)).abs() < 1e-9, "{violation}");
        assert!(g.state.pending.is_empty());
        // A feasible candidate with a higher objective leaves the best.
        g.state.pending.push(waiting(0.45, 40, 0.0));
        g.settle();
        assert_eq!(g.state.best.as_ref().unwrap().1, 5);
    }

    /// The model training ended with becomes the returned one when it is
    /// feasible and its validation objective beats the best evaluated
    /// candidate's; otherwise that candidate stays.
    #[test]
    fn the_trained_model_competes_with_the_evaluated_candidates() {
        let data = rows(200);
        let mlp = Mlp::new(1, &[2]).unwrap();
        let n = mlp.n_params();
        let constraints = [FairnessConstraint::new(crate::constraints::Notion::WeightNorm, 1.0).unwrap()];
        let mut g = controls(&mlp, &data, &constraints);
        let feasible = vec![0.1; n];
        // No evaluated candidate: a feasible trained model is returned, with
        // its validation objective (all-0.1 weights: every logit alike).
        let objective = g.final_model_wins(&feasible).unwrap();
        let frame = g.frame(&feasible, g.validation.rows());
        let report = SplitReport::new(&frame, &constraints, &feasible);
        assert_eq!(Some(objective), report.objective);
        // A better evaluated candidate stays; a worse one gives way.
        g.state.best = Some((objective - 1e-6, 7, vec![0.0; n]));
        assert_eq!(g.final_model_wins(&feasible), None);
        g.state.best = Some((objective + 1e-6, 7, vec![0.0; n]));
        assert_eq!(g.final_model_wins(&feasible), Some(objective));
        // Squared norm n > 1: infeasible, however good its objective.
        g.state.best = Some((f64::INFINITY, 7, vec![0.0; n]));
        assert_eq!(g.final_model_wins(&vec![1.0; n]), None);
    }

    #[test]
    fn large_splits_are_judged_on_a_fixed_stratified_sample() {
        assert!(selection_sample(&rows(SELECTION_ROWS), 0).is_none());
        let data = rows(4 * SELECTION_ROWS);
        let sample = data.subset(&selection_sample(&data, 1).unwrap()).unwrap();
        assert!(sample.n_rows().abs_diff(SELECTION_ROWS) <= 4, "{}", sample.n_rows());
        // Each group and label keeps its share (a tenth in group b, a third positive).
        let share = |d: &Dataset, f: &dyn Fn(usize) -> bool| {
            (0..d.n_rows()).filter(|&i| f(i)).count() as f64 / d.n_rows() as f64
        };
        assert!((share(&sample, &|i| sample.groups()[i] == 1) - 0.1).abs() < 1e-3);
        assert!((share(&sample, &|i| sample.labels()[i] > 0.5) - 1.0 / 3.0).abs() < 1e-3);
        // Fixed by the seed.
        let again = data.subset(&selection_sample(&data, 1).unwrap()).unwrap();
        assert_eq!((again.labels(), again.dense_row(7)), (sample.labels(), sample.dense_row(7)));
    }
}
