//! Rescuing a run that failed: a restart with the rule's second attempt,
//! the choice between the two attempts' models, and, for a model still
//! collapsed where the bound does not force it, a moved decision threshold.

use super::attempts::{FirstAttempt, Standing};
use super::{Attempt, Session};
use crate::algorithms::AlgorithmConfig;
use crate::error::Result;
use crate::evaluation::degenerate::{
    FeasibleThreshold, MostlyConstant, NearConstant, best_threshold_accuracy, feasible_threshold, threshold_on_both,
};
use crate::evaluation::{GroupFrame, SplitReport};
use crate::run::config::Select;
use crate::run::generalization::{Judged, SELECTION_SAMPLE_SEED, TRAIN_SAMPLE_SEED, largest_violation};
use crate::run::metrics::Selected;
use crate::train::{RunSummary, StopReason};

/// How a model collapsed ([`Session::collapse`]).
pub(super) struct Collapse {
    /// `near-constant (validation ...)` or `mostly constant (validation ...)`.
    pub(super) how: String,
    /// The most accurate threshold meeting the bounds on train and
    /// validation, where the check already found it.
    pub(super) on_both: Option<FeasibleThreshold>,
}

impl Session<'_> {
    /// How `params`, selected as `selected` says, stand for the choice
    /// between attempts ([`Standing`]), on the rows the selection judges;
    /// `None` without a validation split or where the validation accuracy
    /// is undefined.
    pub(super) fn standing(&self, params: &[f32], selected: Option<&Selected>) -> Result<Option<Standing>> {
        let (plan, data) = (self.plan, self.data);
        let Some(validation) = data.validation_rows() else { return Ok(None) };
        let validation = Judged::of(validation, plan.seed ^ SELECTION_SAMPLE_SEED)?;
        let frame = validation.rows().frame(&self.mlp, params, plan.threads);
        let Some(validation_accuracy) = frame.overall().accuracy() else { return Ok(None) };
        let train = Judged::of(data.train_rows(), plan.seed ^ TRAIN_SAMPLE_SEED)?;
        let on_train =
            SplitReport::new(&train.rows().frame(&self.mlp, params, plan.threads), &plan.constraints, params);
        let train_violation = largest_violation(&on_train, &plan.constraints);
        // (Without the selection, no model was judged on validation.)
        let validated = selected.is_some() || self.plan.select != Select::BestFeasible;
        Ok(Some(Standing { validation_accuracy, train_violation, validated }))
    }

    /// Returns the first attempt's model, with its selection, warnings
    /// and margin, instead of the second's where it stands better
    /// ([`Standing::beats`]), and says why.
    pub(super) fn keep_first(&mut self, first: FirstAttempt, second: &mut Attempt) -> Result<Option<String>> {
        let kept = self.standing(&first.params, first.selected.as_ref())?;
        let other = self.standing(self.problem.params(), second.selected.as_ref())?;
        let (Some(kept), Some(other)) = (kept, other) else { return Ok(None) };
        if !kept.beats(&other) {
            return Ok(None);
        }
        self.problem.params_mut().copy_from_slice(&first.params);
        second.selected = first.selected.map(|s| Selected { first_attempt: true, ..s });
        second.warnings = first.warnings;
        second.run_warnings = first.run_warnings;
        second.train_bounds = first.train_bounds;
        second.margin_report = first.margin_report;
        Ok(Some(format!("the first attempt's model is returned: {}", kept.compared_with(&other))))
    }

    /// The second attempt's algorithm ([`AlgorithmConfig::second_attempt`])
    /// and why, when the model the first attempt's training ended with, or
    /// the model it returns, collapsed where the bound does not force it
    /// ([`Session::collapse`]), or the trained model is near-constant over
    /// more than two groups ([`Session::near_constant_over_many_groups`]);
    /// and, for a first attempt on averaged penalty terms, when its
    /// returned model is infeasible ([`Standing::feasible`]): the averages
    /// let the gaps overfit their training rates, which the single-batch
    /// penalty term of the second attempt keeps down (synthetic data with
    /// 18 groups, equal opportunity 0.05, seeds 0-2: test accuracy
    /// 0.759-0.767 with test gaps outside their intervals on averages; the
    /// second attempts end within them, near-constant at 0.555-0.574).
    /// The trained model first: a run that collapses
    /// late can leave an early candidate, taken before it had learned much,
    /// that is just above the near-constant line (synthetic data with 8
    /// groups, demographic parity 0.05, seeds 0 and 1: test accuracy 0.599
    /// and 0.587 returned, 0.774 and 0.773 after the restart). The returned
    /// model too: a near-constant early candidate can have the best
    /// validation objective while training ends elsewhere (synthetic data,
    /// equalized odds 0.02, seed 8: 0.597 returned, 0.7% predicted
    /// positive). Not for interrupted, pruning or data-parallel runs (a
    /// restart there would not be the run the other processes continue).
    /// A resumed first attempt decides as the uninterrupted one did: its
    /// checkpoint holds everything the decision reads.
    pub(super) fn restart(&self, attempt: &Attempt) -> Result<Option<(AlgorithmConfig, String)>> {
        let (plan, n_groups) = (self.plan, self.data.train.n_groups());
        let Some(second) = plan.algorithm.second_attempt(n_groups) else { return Ok(None) };
        if self.attempt.second || !self.may_rescue(&attempt.summary) {
            return Ok(None);
        }
        let returned = self.problem.params();
        let unforced = " where the bound does not force it";
        let ended = if let Some(c) = self.collapse(&attempt.trained)? {
            format!("ended {}{unforced}", c.how)
        } else if let Some(c) =
            (returned != &attempt.trained[..]).then(|| self.collapse(returned)).transpose()?.flatten()
        {
            format!("returned a model {}{unforced}", c.how)
        } else if let Some(near) = self.near_constant_over_many_groups(&attempt.trained)? {
            format!(
                "ended near-constant (validation {near}) over {n_groups} groups, where a threshold on its scores \
                 cannot tell whether the bound forces it"
            )
        } else if let Some(why) = self.infeasible_on_averages(attempt)? {
            why
        } else {
            return Ok(None);
        };
        Ok(Some((
            second,
            format!("the first attempt {ended}; trained again from the start with {}", second.penalty_terms()),
        )))
    }

    /// Why the first attempt's returned model is infeasible, where it
    /// trained on averaged penalty terms (see [`Session::restart`]).
    fn infeasible_on_averages(&self, attempt: &Attempt) -> Result<Option<String>> {
        if !self.plan.algorithm.first_attempt(self.data.train.n_groups()).averages_penalty() {
            return Ok(None);
        }
        let Some(standing) = self.standing(self.problem.params(), attempt.selected.as_ref())? else { return Ok(None) };
        Ok((!standing.feasible()).then(|| {
            if standing.train_violation > 0.0 {
                format!("returned a model that violates the bounds on train by {:.4}", standing.train_violation)
            } else {
                "found no model that met the bounds on validation".to_string()
            }
        }))
    }

    /// How `params` are near-constant on validation, when they are and the
    /// groups are more than two, whether or not a threshold on
    /// their own scores meets the bounds. Such a model's scores cannot tell
    /// whether the bound forces it: a collapsed model ranks the rows
    /// poorly, and over many pairwise constraints the penalty terms'
    /// single-batch noise adds up to a push toward one class. Adult, equal
    /// opportunity 0.05 over sex by three age bands (six groups), seeds 0
    /// and 1, with single-batch penalty terms: the first attempts end
    /// near-constant with no threshold above the line (test accuracy 0.757);
    /// trained again, 0.841, feasible on train (equalized odds, seed 0:
    /// 0.755 and 0.823). Two
    /// groups keep the threshold's verdict: there the single-batch penalty
    /// keeps the gaps from overfitting their training rates, and a second
    /// attempt without it ends nearer the bound on held-out rows (Law
    /// school, where no model is far above the majority rate: 2 of 60 runs
    /// moved outside their test intervals).
    fn near_constant_over_many_groups(&self, params: &[f32]) -> Result<Option<String>> {
        let (plan, data) = (self.plan, self.data);
        if data.train.n_groups() <= 2 {
            return Ok(None);
        }
        let Some(validation) = data.validation_rows() else { return Ok(None) };
        let judged = Judged::of(validation, plan.seed ^ SELECTION_SAMPLE_SEED)?;
        let logits = judged.rows().logits(&self.mlp, params, plan.threads);
        let frame = GroupFrame::from_logits(judged.rows().outcomes(), &logits);
        Ok(NearConstant::of(frame.overall()).map(|near| near.describe()))
    }

    /// Whether a collapsed model may be rescued (restarted, or its
    /// threshold moved): not in interrupted, pruning or data-parallel runs
    /// (the rescued model there would not be the one a resumed run, the
    /// mask or the other processes continue), and only for rules with a
    /// second attempt (SSL-ALM's and ALM's other penalty term).
    pub(super) fn may_rescue(&self, summary: &RunSummary) -> bool {
        self.plan.algorithm.second_attempt(self.data.train.n_groups()).is_some()
            && summary.stop != StopReason::Interrupted
            && self.options.prune.is_none()
            && self.options.collective.is_none()
    }

    /// Moves the returned model's decision threshold (its output unit's
    /// bias) when it collapsed where the bound does not force it
    /// ([`Session::collapse`]), after any restart: to the most accurate
    /// threshold on its scores that meets the bounds on validation and on
    /// train and is not near-constant there ([`threshold_on_both`], which
    /// the near-constant warning has suggested). The model stays one model
    /// that does not read the group; it ranks the rows as trained, and only
    /// where it draws the line changes (synthetic data, equalized odds
    /// 0.02, seed 8: both attempts ended near-constant, 0.597 on test; the
    /// moved threshold gives 0.651, feasible on train and validation). The
    /// reason, for the warning, when it moved.
    pub(super) fn move_threshold(&mut self, summary: &RunSummary) -> Result<Option<String>> {
        let (plan, data) = (self.plan, self.data);
        if !self.may_rescue(summary) {
            return Ok(None);
        }
        let params = self.problem.params().to_vec();
        let Some(Collapse { how, on_both }) = self.collapse(&params)? else { return Ok(None) };
        // (A mostly-constant model's check found the threshold already.)
        let threshold = match on_both {
            Some(t) => Some(t),
            None => {
                let Some(validation) = data.validation_rows() else { return Ok(None) };
                let validation = Judged::of(validation, plan.seed ^ SELECTION_SAMPLE_SEED)?;
                let train = Judged::of(data.train_rows(), plan.seed ^ TRAIN_SAMPLE_SEED)?;
                let logits = validation.rows().logits(&self.mlp, &params, plan.threads);
                let train_logits = train.rows().logits(&self.mlp, &params, plan.threads);
                threshold_on_both(
                    (validation.rows().outcomes(), &logits),
                    (train.rows().outcomes(), &train_logits),
                    &plan.constraints,
                    &params,
                )
            }
        };
        let Some(threshold) = threshold else { return Ok(None) };
        let bias = self.mlp.layers().last().expect("an output layer").b;
        self.problem.params_mut()[bias] -= threshold.logit;
        Ok(Some(format!(
            "the returned model was {how} where the bound does not force it; its decision threshold moved to logit \
             {:.3} (the output bias shifted to match), the most accurate one meeting the bound(s) on train and \
             validation: validation accuracy {:.4}",
            threshold.logit, threshold.accuracy
        )))
    }

    /// How `params` collapsed, when they did where the bound does not force
    /// it: near-constant on validation while a decision threshold on their
    /// scores meets the bounds above that line, or [`MostlyConstant`]
    /// against a threshold that meets them on train and validation. Judged
    /// on held-out rows only: `None` without a validation split (the paper
    /// preset trains as configured).
    pub(super) fn collapse(&self, params: &[f32]) -> Result<Option<Collapse>> {
        let (plan, data) = (self.plan, self.data);
        let Some(validation) = data.validation_rows() else { return Ok(None) };
        // (On the selection's sample of a large split: the same rows it judges.)
        let judged = Judged::of(validation, plan.seed ^ SELECTION_SAMPLE_SEED)?;
        let logits = judged.rows().logits(&self.mlp, params, plan.threads);
        let judged = judged.rows().outcomes();
        let frame = GroupFrame::from_logits(judged, &logits);
        if let Some(near) = NearConstant::of(frame.overall()) {
            let unforced = feasible_threshold(judged, &logits, &plan.constraints, params).is_some();
            return Ok(unforced
                .then(|| Collapse { how: format!("near-constant (validation {})", near.describe()), on_both: None }));
        }
        // Cheapest first: any threshold at all (one sort), then one meeting
        // the bounds on validation alone (a sweep), then on both splits;
        // each is at least as accurate as the next.
        let any = best_threshold_accuracy(judged, &logits);
        if any.and_then(|a| MostlyConstant::of(frame.overall(), a)).is_none() {
            return Ok(None);
        }
        let best = feasible_threshold(judged, &logits, &plan.constraints, params);
        if best.and_then(|t| MostlyConstant::of(frame.overall(), t.accuracy)).is_none() {
            return Ok(None);
        }
        let train = Judged::of(data.train_rows(), plan.seed ^ TRAIN_SAMPLE_SEED)?;
        let train_logits = train.rows().logits(&self.mlp, params, plan.threads);
        let on_both =
            threshold_on_both((judged, &logits), (train.rows().outcomes(), &train_logits), &plan.constraints, params);
        Ok(on_both.and_then(|t| {
            let mostly = MostlyConstant::of(frame.overall(), t.accuracy)?;
            Some(Collapse { how: format!("mostly constant (validation {})", mostly.describe()), on_both: Some(t) })
        }))
    }
}
