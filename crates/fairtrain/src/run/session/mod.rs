//! [`Session`]: one run on loaded data, from the initialization to the
//! returned model, its evaluation and its certificate. It builds the model,
//! the problem and the algorithm, trains under the generalization controls
//! (validation margin, model selection), and evaluates train, validation
//! and test. It writes nothing: outputs are observers passed to
//! [`Session::train`] and [`RunOutcome::save`]. A run that collapses is
//! rescued in `rescue` (restart, the better attempt, a moved threshold),
//! with the attempts' state in `attempts`.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

mod attempts;
mod rescue;

use super::config::{Margin, Select};
use super::data::RunData;
use super::generalization::{
    Generalization, GeneralizationState, Judged, SELECTION_SAMPLE_SEED, TRAIN_SAMPLE_SEED, train_error_per_half_width,
};
use super::metrics::{BeforePostprocess, DataSummary, Metrics, Named, PostprocessReport, Selected, peak_rss_mb};
use super::outcome::{ModelRecord, RunOutcome};
use super::plan::RunPlan;
use super::split_rows::SplitRows;
use crate::algorithms::Algorithm;
use crate::algorithms::methods::prune::PruneMethod;
use crate::constraints::{ConstraintSet, FairnessConstraint, Sense};
use crate::distributed::Collective;
use crate::error::{Error, Result};
use crate::evaluation::certificate::{CertifyOptions, certify_dataset, certify_outcomes};
use crate::evaluation::coarse_rate::CoarseRate;
use crate::evaluation::degenerate::{NearConstant, feasible_threshold, threshold_on_both};
use crate::evaluation::{GroupFrame, SplitReport};
use crate::model::Mlp;
use crate::postprocess::Postprocess;
use crate::problem::{TabularProblem, TabularRun};
use crate::train::{Budget, Checkpoint, LoopState, Observer, Observers, StopReason, TrainerConfig, Warning};
use attempts::{ATTEMPT_KEY, AttemptState, FirstAttempt};

/// Evaluations over the budget that the model selection sees when no
/// `eval-every` is asked.
const SELECTION_EVALUATIONS: u64 = 40;

/// The pruning stage of `fairtrain prune`: the dense model and how to prune it.
#[derive(Debug, Clone)]
pub struct PruneStage {
    /// The dense model's parameters.
    pub dense: Vec<f32>,
    /// How to prune.
    pub method: PruneMethod,
    /// The fraction of weights to remove.
    pub sparsity: f64,
}

/// How a run executes, beside what its configuration says.
#[derive(Default)]
pub struct RunOptions {
    /// The processes of a data-parallel run; `None` alone.
    pub collective: Option<Arc<dyn Collective>>,
    /// Raised (e.g. by Ctrl-C), the run stops after the current step.
    pub interrupt: Option<&'static AtomicBool>,
    /// Prune a dense model instead of training from the initialization.
    pub prune: Option<PruneStage>,
    /// Continue from a checkpoint (see [`RunPlan::check_checkpoint`]).
    pub resume: Option<Checkpoint>,
    /// When the command started (`total_seconds` counts from it; default:
    /// when the session is built).
    pub started: Option<Instant>,
}

/// A run ready to train: the model, the problem and the algorithm built
/// (and restored from a checkpoint), every input validated.
pub struct Session<'a> {
    plan: &'a RunPlan,
    data: &'a RunData,
    mlp: Mlp,
    problem: Box<dyn TabularRun>,
    /// The problem's rows forwarded when the current attempt began.
    rows_before_attempt: u64,
    algorithm: Box<dyn Algorithm>,
    budget: Budget,
    resume: Option<LoopState>,
    options: RunOptions,
    started: Instant,
    /// The parameters training starts from (a restart starts there again).
    initial: Vec<f32>,
    /// Which attempt this is; a resumed run continues its checkpoint's.
    attempt: AttemptState,
}

/// What one pass of training produced.
struct Attempt {
    summary: crate::train::RunSummary,
    warnings: Vec<Warning>,
    selected: Option<Selected>,
    train_bounds: Option<Vec<f64>>,
    margin_report: Vec<String>,
    /// How many of `warnings` (the first ones) were raised during training.
    run_warnings: usize,
    /// The model training ended with (before the selection).
    trained: Vec<f32>,
}

/// Whether post-processing fits its thresholds on training and validation
/// rows together rather than on validation alone.
///
/// A model trained under the constraints was fitted to its training rates,
/// which therefore cannot judge thresholds: validation alone. A model
/// trained without them ranks its training rows much as it ranks unseen
/// ones, and five times the rows cut the thresholds' noise; but thresholds
/// trade errors between groups, and training rows show that trade only
/// while the model still errs on them: they join when its training error
/// rate is at least half its validation error rate (a memorized training
/// split, error 0, shows nothing). Frontier benchmark, DP, against
/// fairlearn's ThresholdOptimizer (which fits on its training split):
/// COMPAS MLP (training error 0.28, validation 0.32) -1.42 points on
/// validation alone, -0.68 pooled; German credit (an MLP with training
/// error 0, validation 0.27) pooled thresholds left a test gap of 0.08 at
/// bound 0.01, validation alone 0.02.
fn pooled_fit(plan: &RunPlan, train: &GroupFrame, validation: Option<&GroupFrame>) -> bool {
    let Some(validation) = validation else { return false };
    if plan.algorithm.name().pursues_bounds() {
        return false;
    }
    match (train.overall().accuracy(), validation.overall().accuracy()) {
        (Some(a_train), Some(a_valid)) => 1.0 - a_train >= 0.5 * (1.0 - a_valid),
        _ => false,
    }
}

/// The run's problem on the chosen backend: the native MLP, or the same
/// MLP as a burn module (the same parameter layout, so evaluation, saving
/// and every algorithm read the flat parameters as before).
fn tabular_problem(
    plan: &RunPlan,
    mlp: &Mlp,
    params: Vec<f32>,
    data: &RunData,
    constraints: ConstraintSet,
    collective: Option<Arc<dyn Collective>>,
) -> Result<Box<dyn TabularRun>> {
    // In a run over shares, the problem holds every row's outcomes and this
    // process's features.
    let share = data.train_share();
    fn configured<M: crate::model::TabularModel>(
        p: TabularProblem<M>,
        temperature: Option<f32>,
        collective: Option<Arc<dyn Collective>>,
        share: Option<(&Arc<crate::data::Dataset>, usize, &Arc<dyn Collective>)>,
    ) -> Result<TabularProblem<M>> {
        let p = match temperature {
            Some(t) => p.with_temperature(t)?,
            None => p,
        };
        match (share, collective) {
            (Some((features, first, group)), _) => p.with_share(group.clone(), features.clone(), first),
            (None, Some(g)) => Ok(p.with_collective(g)),
            (None, None) => Ok(p),
        }
    }
    let train = &data.train;
    let (batch, seed) = (plan.batch_for(train.n_rows()), plan.seed);
    match &plan.burn_device {
        None => {
            let p = TabularProblem::new(mlp.clone(), params, train.clone(), constraints, batch, seed)?;
            Ok(Box::new(configured(p, plan.temperature, collective, share)?))
        }
        #[cfg(feature = "burn")]
        Some(name) => {
            use crate::model::burn::{BurnMlp, BurnModel, device};
            let dev = device(name)?;
            let n = train.n_inputs();
            let model = BurnModel::new(BurnMlp::new(n, &plan.hidden, &dev), n, dev);
            let mut p = TabularProblem::new(model, params, train.clone(), constraints, batch, seed)?;
            // A checkpoint holds the optimizer's state as the algorithm
            // keeps it, on the host.
            if plan.checkpoint_every.is_some() {
                p = p.keep_params_on_host();
            }
            Ok(Box::new(configured(p, plan.temperature, collective, share)?))
        }
        #[cfg(not(feature = "burn"))]
        Some(d) => Err(Error::config("backend", format!("burn (device {d}): this fairtrain was built without it"))),
    }
}

impl<'a> Session<'a> {
    /// Builds the run of `plan` on `data`; with `options.resume`, restores
    /// the checkpoint's state.
    pub fn new(plan: &'a RunPlan, data: &'a RunData, options: RunOptions) -> Result<Session<'a>> {
        let started = options.started.unwrap_or_else(Instant::now);
        if let Some(budget) = plan.memory_budget.filter(|&mb| data.held_mb() > mb) {
            let held = data.held_mb();
            let (how, way_out) = match &options.collective {
                Some(g) => (
                    format!("its share, as one of {} processes", g.size()),
                    format!("over more processes (about {})", (held / budget * g.size() as f64).ceil() as usize + 1),
                ),
                None => (
                    "all of them".to_string(),
                    format!(
                        "data-parallel over about {} processes (mpirun -np N)",
                        (held / budget).ceil() as usize + 1
                    ),
                ),
            };
            return Err(Error::config(
                "memory-budget",
                format!(
                    "{budget} MB: this process would hold {held:.1} MB of encoded rows ({how}); run it {way_out}, \
                     or raise the budget"
                ),
            ));
        }
        if data.shares.is_some() && plan.postprocess != Postprocess::Off {
            // (Its decisions hash each row's inputs, which no process holds all of.)
            return Err(Error::config(
                "postprocess",
                "does not run over shares of the rows (a data-parallel run); run it on one process",
            ));
        }
        let train = &data.train;
        let constraints = ConstraintSet::new(plan.initial_constraints(), train)?;
        let mlp = Mlp::new(train.n_inputs(), &plan.hidden)?;
        let params = match &options.prune {
            Some(p) => p.dense.clone(),
            None => mlp.init_params(plan.seed),
        };
        let initial = params.clone();
        let mut problem = tabular_problem(plan, &mlp, params, data, constraints, options.collective.clone())?;
        let batch = plan.batch_for(train.n_rows()).objective;
        let first = plan.algorithm.first_attempt(train.n_groups());
        let mut algorithm = first.for_run(train.n_rows(), batch, plan.seed).build()?;
        algorithm.supports(problem.num_constraints())?;
        let budget = plan.budget.budget(train.n_rows(), batch);
        if let Some(p) = &options.prune {
            use crate::algorithms::methods::prune::{MaskSearch, Pruning};
            // BiFP's mask is fixed before the window the returned model comes
            // from (the selection's, from a quarter of the budget on).
            let search = match budget {
                Budget::Iterations(n) => MaskSearch::Steps(n / 4),
                Budget::Seconds(s) => MaskSearch::Seconds(s / 4.0),
            };
            algorithm = Box::new(Pruning::new(algorithm, mlp.clone(), &p.dense, p.method, p.sparsity, search)?);
        }
        let mut attempt = AttemptState::default();
        let resume = match &options.resume {
            Some(c) => {
                if let Some(bytes) = c.loop_state.observers.get(ATTEMPT_KEY) {
                    attempt = crate::state::decode(bytes)?;
                }
                let mut name = plan.algorithm.name().to_string();
                if attempt.second {
                    let second = plan.algorithm.second_attempt(train.n_groups()).ok_or_else(|| {
                        Error::Data(format!("the checkpoint is of a restarted run, which {name} never does"))
                    })?;
                    name = second.name().to_string();
                    algorithm = second.for_run(train.n_rows(), batch, plan.seed).build()?;
                }
                if c.algorithm != name {
                    return Err(Error::Data(format!(
                        "the checkpoint is of algorithm {}, the run's is {name}",
                        c.algorithm
                    )));
                }
                problem.load_state(&c.problem)?;
                algorithm.load_state(&c.algorithm_state)?;
                // (Empty before the first step: multipliers start there.)
                let m = algorithm.multipliers().len();
                if algorithm.has_multipliers() && m != 0 && m != problem.num_constraints() {
                    return Err(Error::Data(format!(
                        "the checkpoint holds {m} multipliers for {} constraints",
                        problem.num_constraints()
                    )));
                }
                Some(c.loop_state.clone())
            }
            None => None,
        };
        Ok(Session {
            plan,
            data,
            mlp,
            problem,
            rows_before_attempt: 0,
            algorithm,
            budget,
            resume,
            options,
            started,
            initial,
            attempt,
        })
    }

    /// The model's architecture.
    pub fn mlp(&self) -> &Mlp {
        &self.mlp
    }

    /// The trainer's budget (epochs counted in iterations).
    pub fn budget(&self) -> Budget {
        self.budget
    }

    /// The iteration a resumed run continues from.
    pub fn resumed_from(&self) -> Option<u64> {
        self.resume.as_ref().map(|s| s.iteration)
    }

    /// The loop state a resumed run continues from.
    pub fn resume_state(&self) -> Option<&LoopState> {
        self.resume.as_ref()
    }

    /// What computes the training steps (the kernels' instruction set, or
    /// the burn device).
    pub fn kernels(&self) -> &'static str {
        self.plan.kernels(self.mlp.isa().name())
    }

    /// The scalar constraints the algorithms see.
    pub fn n_constraints(&self) -> usize {
        self.problem.constraints().len()
    }

    /// The evaluation schedule: the plan's, or the model selection's
    /// (evaluations evenly over the budget).
    fn evaluate_every(&self) -> Option<Budget> {
        let select = self.plan.select != Select::Last;
        self.plan.eval_every.or(select.then(|| match self.budget {
            Budget::Iterations(n) => Budget::Iterations((n / SELECTION_EVALUATIONS).max(1)),
            Budget::Seconds(s) => Budget::Seconds(s / SELECTION_EVALUATIONS as f64),
        }))
    }

    /// What the run is about to do, as `fairtrain train` prints it.
    pub fn describe(&self) -> Vec<String> {
        let (plan, data) = (self.plan, self.data);
        let train = &data.train;
        let groups = train
            .group_names()
            .iter()
            .zip(train.group_counts())
            .map(|(g, n)| format!("{g} {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let dropped = if data.report.rows_dropped > 0 {
            let by_column =
                data.report.missing_by_column.iter().map(|(c, n)| format!("{c} {n}")).collect::<Vec<_>>().join(", ");
            format!("; dropped {} rows with missing values ({by_column})", data.report.rows_dropped)
        } else {
            String::new()
        };
        let described: Vec<String> = plan
            .constraints
            .iter()
            .map(|c| {
                let sense = if c.sense() == Sense::AtMost { "<=" } else { ">=" };
                format!("{} {sense} {}", c.name(), c.bound)
            })
            .collect();
        let model = if plan.hidden.is_empty() {
            "logistic regression".to_string()
        } else {
            format!("MLP {}", plan.hidden.iter().map(|w| w.to_string()).collect::<Vec<_>>().join("-"))
        };
        let mut lines = vec![
            format!(
                "fairtrain {}: {} (preset {}) on {}, {} ({groups} training rows)",
                env!("CARGO_PKG_VERSION"),
                plan.algorithm.name(),
                plan.preset.name(),
                data.name,
                if data.group_columns.is_empty() {
                    "no sensitive column".to_string()
                } else {
                    format!("groups by {}", data.group_columns.join(","))
                },
            ),
            format!(
                "data: {} train / {} test rows, {} inputs, positive class '{}'{dropped}",
                train.n_rows(),
                data.test.n_rows(),
                train.n_inputs(),
                data.report.positive,
            ),
            format!(
                "constraints: {}; model {model} ({} parameters, {} kernels)",
                if described.is_empty() {
                    "none".to_string()
                } else {
                    format!("{} ({} scalar constraints)", described.join(", "), self.n_constraints())
                },
                self.mlp.n_params(),
                self.kernels(),
            ),
        ];
        // (What the penalty term reads changes only rate constraints.)
        let rates = plan.constraints.iter().any(|c| c.statistics().iter().any(|s| s.is_rate()));
        if rates && plan.algorithm.first_attempt(train.n_groups()).averages_penalty() {
            let chosen = match plan.algorithm.average_penalty() {
                Some(true) => String::new(),
                _ => format!(", the choice over {} groups or more", crate::algorithms::AVERAGED_PENALTY_GROUPS),
            };
            lines.push(format!("penalty terms: on averaged constraint estimates{chosen} (`average-penalty`)"));
        }
        if plan.batch_for(train.n_rows()).objective < plan.batch.objective {
            lines.push(format!(
                "note: `batch-size` {} is larger than the {} training rows: each step uses all of them",
                plan.batch.objective,
                train.n_rows()
            ));
        }
        if let Some(g) = &self.options.collective {
            let share = if data.shares.is_some() {
                "each holds its share of the rows and forwards the minibatches' rows it holds"
            } else {
                "each forwards its share of every minibatch"
            };
            lines.push(format!(
                "data-parallel over {} processes: {share}; group sums and gradients are summed across processes \
                 before any ratio is formed",
                g.size(),
            ));
        }
        lines
    }

    /// One pass of training under the generalization controls: the
    /// trained model selected and finalized in the problem's parameters.
    fn attempt(&mut self, observers: &mut dyn Observer) -> Result<Attempt> {
        let (plan, data) = (self.plan, self.data);
        self.rows_before_attempt = self.problem.rows_forwarded();
        let budget_size = match self.budget {
            Budget::Iterations(n) => n as f64,
            Budget::Seconds(s) => s,
        };
        let select = plan.select != Select::Last;
        let judged = |rows: Option<SplitRows>, seed: u64| rows.map(|r| Judged::of(r, plan.seed ^ seed)).transpose();
        // (Streams of their own: the samples do not repeat the splits' draws.)
        let validation = judged(data.validation_rows(), SELECTION_SAMPLE_SEED)?;
        let all_train = data.train_rows();
        let train_rows = all_train.outcomes().n_rows();
        let train = judged(validation.is_some().then_some(all_train), TRAIN_SAMPLE_SEED)?;
        let mut generalization = validation.zip(train).map(|(validation, train)| Generalization {
            train_error_per_half_width: train_error_per_half_width(validation.rows().outcomes().n_rows(), train_rows),
            mlp: &self.mlp,
            validation,
            train,
            constraints: &plan.constraints,
            threads: plan.threads,
            time_budget: matches!(self.budget, Budget::Seconds(_)),
            select: plan.select,
            select_from: 0.25 * budget_size,
            // (A resumed run restores the state its checkpoint saved.)
            state: GeneralizationState {
                auto_at: (plan.margin == Margin::Auto).then_some(0.25 * budget_size),
                train_bounds: self.problem.constraints().constraints().iter().map(|c| c.bound).collect(),
                ..GeneralizationState::default()
            },
            candidate: Vec::new(),
        });
        let trainer = TrainerConfig {
            budget: self.budget,
            log_every: plan.log_every,
            average: plan.average,
            evaluate_every: self.evaluate_every(),
            checkpoint_every: plan.checkpoint_every,
            interrupt: self.options.interrupt,
        };
        let summary = {
            let mut none = ();
            let general: &mut dyn Observer = match generalization.as_mut() {
                Some(g) => g,
                None => &mut none,
            };
            let mut attempt = self.attempt.clone();
            let mut all = Observers(&mut [observers, general, &mut attempt]);
            crate::train::train_from(
                self.problem.as_mut(),
                self.algorithm.as_mut(),
                &trainer,
                &mut all,
                self.resume.take(),
            )?
        };

        // The generalization controls: the margin, and the returned model.
        let mut warnings = summary.warnings.clone();
        let run_warnings = warnings.len();
        let mut selected = None;
        let bounds_used: Vec<f64> = match &generalization {
            Some(g) => g.state.train_bounds.clone(),
            None => self.problem.constraints().constraints().iter().map(|c| c.bound).collect(),
        };
        let train_bounds = bounds_used.iter().zip(&plan.constraints).any(|(t, c)| *t != c.bound).then_some(bounds_used);
        let margin_report = generalization.as_ref().map(|g| g.state.margin_report.clone()).unwrap_or_default();
        let trained = self.problem.params().to_vec();
        if let (Some(g), true) = (&mut generalization, select) {
            g.settle();
            let rule = plan.select.name().to_string();
            match (g.final_model_wins(&trained), &g.state.best) {
                (Some(objective), _) => {
                    selected = Some(Selected {
                        iteration: summary.iterations,
                        rule,
                        validation_objective: objective,
                        trained_model: true,
                        first_attempt: false,
                    });
                }
                (None, Some((objective, iteration, best))) => {
                    self.problem.params_mut().copy_from_slice(best);
                    selected = Some(Selected {
                        iteration: *iteration,
                        rule,
                        validation_objective: *objective,
                        trained_model: false,
                        first_attempt: false,
                    });
                }
                (None, None) => {
                    let (v, at) = g.state.least_violation.unwrap_or((f64::NAN, 0));
                    warnings.push(Warning {
                        iteration: summary.iterations,
                        kind: "infeasible".into(),
                        message: format!(
                            "no evaluated model met the bound(s) on validation (smallest violation {v:+.4}, at \
                             iteration {at}); returning the last model. The bound may be tighter than these data \
                             allow: try a looser bound or more iterations"
                        ),
                    });
                }
            }
        }
        drop(generalization);
        self.algorithm.finalize(self.problem.params_mut());
        Ok(Attempt { summary, warnings, selected, train_bounds, margin_report, run_warnings, trained })
    }

    /// Trains, selects the returned model, evaluates it on every split and
    /// certifies its constraints on test. `observers` see the loop (history,
    /// progress, evaluations, checkpoints); an interrupted run returns its
    /// outcome with [`StopReason::Interrupted`].
    pub fn train(mut self, observers: &mut dyn Observer) -> Result<RunOutcome> {
        let (plan, data) = (self.plan, self.data);
        let mut attempt = self.attempt(observers)?;
        // A run whose first attempt failed (collapsed where the bound does
        // not force it, or, on averaged penalty terms, ended infeasible)
        // trains again from the start with its rule's second attempt (see
        // [`AlgorithmConfig::second_attempt`]); the better of the two
        // attempts' models is returned, and one still collapsed moves its
        // decision threshold (`rescue`).
        if let Some((second, why)) = self.restart(&attempt)? {
            let first = FirstAttempt {
                params: self.problem.params().to_vec(),
                selected: attempt.selected.take(),
                warnings: std::mem::take(&mut attempt.warnings),
                run_warnings: attempt.run_warnings,
                train_bounds: attempt.train_bounds.take(),
                margin_report: std::mem::take(&mut attempt.margin_report),
            };
            self.problem.params_mut().copy_from_slice(&self.initial);
            let bounds: Vec<f64> = plan.constraints.iter().map(|c| c.bound).collect();
            self.problem.set_bounds(&bounds)?;
            self.algorithm = second
                .for_run(data.train.n_rows(), plan.batch_for(data.train.n_rows()).objective, plan.seed)
                .build()?;
            self.attempt = AttemptState { second: true, restart_note: Some(why), first: Some(first) };
            // The summary is the second attempt's training; the whole
            // command's time (`total_seconds`) includes both attempts.
            attempt = self.attempt(observers)?;
        }
        let mut restart_note = self.attempt.restart_note.clone();
        if let Some(first) = self.attempt.first.take()
            && let Some(why) = self.keep_first(first, &mut attempt)?
        {
            restart_note = restart_note.map(|note| format!("{note}; {why}"));
        }
        let Attempt {
            summary, mut warnings, selected, train_bounds, margin_report, run_warnings: n_run_warnings, ..
        } = attempt;
        if let Some(why) = restart_note {
            warnings.push(Warning { iteration: summary.iterations, kind: "restarted".into(), message: why });
        }
        if let Some(why) = self.move_threshold(&summary)? {
            warnings.push(Warning { iteration: summary.iterations, kind: "threshold-moved".into(), message: why });
        }
        let params = self.problem.params().to_vec();
        let mlp = &self.mlp;
        let (train, test) = (&data.train, &data.test);
        let constraints: &[FairnessConstraint] = &plan.constraints;
        // (Every row's logits, in a run over shares too.)
        let train_logits = data.train_rows().logits(mlp, &params, plan.threads);
        let train_frame = GroupFrame::from_logits(train, &train_logits);
        let mut train_report = SplitReport::new(&train_frame, constraints, &params);
        let test_logits = data.test_rows().logits(mlp, &params, plan.threads);
        let mut test_report = SplitReport::new(&GroupFrame::from_logits(test, &test_logits), constraints, &params);
        let validation_logits = data.validation_rows().map(|v| v.logits(mlp, &params, plan.threads));
        let validation = data.validation.as_deref().zip(validation_logits).map(|(v, logits)| {
            let frame = GroupFrame::from_logits(v, &logits);
            (v, logits, frame)
        });
        let mut validation_report =
            validation.as_ref().map(|(_, _, frame)| SplitReport::new(frame, constraints, &params));
        // Post-processing fits per-group decisions; from here on every
        // split is judged by them, as `predict` makes them, and the model's
        // own are kept for the report. Where it fits them: see
        // [`pooled_fit`].
        let pooled = pooled_fit(plan, &train_frame, validation.as_ref().map(|(_, _, f)| f));
        let decisions = match plan.postprocess {
            Postprocess::Off => None,
            Postprocess::GroupThresholds => {
                let (v, logits, _) = validation
                    .as_ref()
                    .ok_or_else(|| Error::config("postprocess", "needs a validation split to fit its thresholds on"))?;
                Some(if pooled {
                    let rows = train.concat(v)?;
                    let scores = [&train_logits[..], &logits[..]].concat();
                    crate::postprocess::fit(&rows, &scores, constraints, plan.seed)?
                } else {
                    crate::postprocess::fit(v, logits, constraints, plan.seed)?
                })
            }
        };
        let test_outcomes = decisions.as_ref().map(|rule| crate::postprocess::outcomes(rule, test, &test_logits));
        let mut before = None;
        let (train_frame, validation) = match (&decisions, &test_outcomes) {
            (Some(rule), Some(test_outcomes)) => {
                let frame_of = |d: &crate::data::Dataset, logits: &[f32]| {
                    GroupFrame::from_outcomes(
                        d.group_names(),
                        &crate::postprocess::outcomes(rule, d, logits),
                        d.groups(),
                    )
                };
                let train_frame = frame_of(train, &train_logits);
                let validation = validation.map(|(v, logits, _)| {
                    let frame = frame_of(v, &logits);
                    (v, logits, frame)
                });
                let test_frame = GroupFrame::from_outcomes(test.group_names(), test_outcomes, test.groups());
                before = Some(BeforePostprocess {
                    train: std::mem::replace(&mut train_report, SplitReport::new(&train_frame, constraints, &params)),
                    validation: validation_report.take(),
                    test: std::mem::replace(&mut test_report, SplitReport::new(&test_frame, constraints, &params)),
                });
                validation_report = validation.as_ref().map(|(_, _, f)| SplitReport::new(f, constraints, &params));
                (train_frame, validation)
            }
            _ => (train_frame, validation),
        };
        // A near-constant model is said to be one, on validation (else
        // train), with whether the bound forces it.
        let (judged, judged_logits, judged_frame, split) = match &validation {
            Some((v, logits, frame)) => (*v, logits, frame, "validation"),
            None => (&**train, &train_logits, &train_frame, "training"),
        };
        let near_constant = NearConstant::of(judged_frame.overall());
        if let (Some(near), true) = (near_constant, plan.algorithm.name().pursues_bounds()) {
            // With a validation split, a threshold must meet the bounds on
            // train as well (validation alone is noisy on small groups).
            let threshold = match &validation {
                Some(_) => threshold_on_both((judged, judged_logits), (train, &train_logits), constraints, &params),
                None => feasible_threshold(judged, judged_logits, constraints, &params),
            };
            let on = if validation.is_some() { "on train and validation" } else { "on train" };
            let why = match threshold {
                Some(t) => format!(
                    "the bound does not force it: predicting positive above logit {:.3} instead of 0 gives {split} \
                     accuracy {:.4} with the bound(s) met {on}; try another algorithm (ssw, \
                     proxy-lagrangian) or a looser bound",
                    t.logit, t.accuracy
                ),
                None => {
                    // (Where one row of a group moves a rate past its bound,
                    // that group is the likely reason.)
                    let coarse = CoarseRate::of(judged_frame, constraints)
                        .map(|c| format!("; {}: merge small groups or loosen the bound", c.describe(split)))
                        .unwrap_or_default();
                    format!(
                        "no decision threshold on this model's scores meets the bound(s) above the near-constant \
                         line {on}, so the bound may force it{coarse}"
                    )
                }
            };
            warnings.push(Warning {
                iteration: summary.iterations,
                kind: "near-constant".into(),
                message: format!("the returned model is near-constant ({split} {}); {why}", near.describe()),
            });
        }
        let certify = CertifyOptions { seed: plan.seed, ..CertifyOptions::default() };
        let certificates = match &test_outcomes {
            Some(outcomes) => {
                certify_outcomes(test.group_names(), outcomes, test.groups(), constraints, &params, &certify)
            }
            None => certify_dataset(test, &test_logits, constraints, &params, &certify),
        };
        for (entry, cert) in test_report.constraints.iter_mut().zip(&certificates) {
            entry.ci_half_width = cert.ci_half_width;
        }
        if let Some(tb) = &train_bounds {
            for report in
                [Some(&mut train_report), validation_report.as_mut(), Some(&mut test_report)].into_iter().flatten()
            {
                for (entry, &b) in report.constraints.iter_mut().zip(tb) {
                    entry.train_bound = Some(b);
                }
            }
        }
        // Unconstrained baselines and the fairness methods (which have no
        // bound) do not try to meet the bounds: no warning.
        if let Some(v) = train_report.max_violation.filter(|v| plan.algorithm.name().pursues_bounds() && *v > 1e-12) {
            warnings.push(Warning {
                iteration: summary.iterations,
                kind: "infeasible".into(),
                message: format!(
                    "the returned model violates the constraints on the training data by {v:.4}; the bound may be \
                     tighter than the data allow (a looser bound, more iterations, or a larger `penalty`)"
                ),
            });
        }
        let multipliers = Named(
            self.problem
                .constraint_names()
                .iter()
                .cloned()
                .zip(self.algorithm.multipliers().iter().map(|&v| v as f64))
                .collect(),
        );
        // Multipliers that swing, or estimates that stayed above the bound
        // for a while, are harmless when the returned model meets the bounds
        // on the training data.
        let feasible = constraints.is_empty() || train_report.max_violation.is_some_and(|v| v <= 0.0);
        let (mut index, mut run_warnings) = (0, 0);
        warnings.retain(|w| {
            let keep = !(feasible && matches!(w.kind.as_ref(), "oscillation" | "never-satisfied"));
            run_warnings += usize::from(keep && index < n_run_warnings);
            index += 1;
            keep
        });
        let rate = summary.iterations as f64 / summary.wall_seconds.max(1e-12);
        // Over the iterations this process ran (a resumed run's since its
        // checkpoint; a restarted run's second attempt).
        let ran = summary.iterations.saturating_sub(summary.resumed_from.unwrap_or(0));
        let forwarded = self.problem.rows_forwarded() - self.rows_before_attempt;
        let rows_per_iteration = (ran > 0).then(|| forwarded as f64 / ran as f64);
        let mut metrics = Metrics {
            schema_version: 1,
            fairtrain_version: env!("CARGO_PKG_VERSION").to_string(),
            status: if summary.stop == StopReason::Interrupted { "interrupted" } else { "completed" }.to_string(),
            resumed_from: summary.resumed_from,
            checkpoints: 0,
            checkpoint_bytes: 0,
            checkpoint_seconds: 0.0,
            algorithm: plan.algorithm.name().to_string(),
            preset: plan.preset.name().to_string(),
            dataset: data.name.clone(),
            group: data.group_columns.clone(),
            seed: plan.seed,
            iterations: summary.iterations,
            epochs: self.problem.epochs(),
            wall_seconds: summary.wall_seconds,
            evaluation_seconds: summary.evaluation_seconds,
            total_seconds: 0.0,
            iterations_per_second: rate,
            rows_per_iteration,
            peak_rss_mb: None,
            stop_reason: summary.stop,
            averaged_iterates: summary.averaged_iterates,
            threads: plan.threads,
            processes: self.options.collective.as_ref().map_or(1, |g| g.size()),
            kernels: self.kernels().to_string(),
            n_params: mlp.n_params(),
            multipliers,
            data: DataSummary {
                train_rows: train.n_rows(),
                test_rows: test.n_rows(),
                inputs: train.n_inputs(),
                positive_label: data.report.positive.clone(),
                rows_dropped: data.report.rows_dropped,
                weight: plan.load.weight.clone(),
                sha256: data.sha256.clone(),
                warnings: data.report.warnings.clone(),
            },
            train: train_report,
            test: test_report,
            certificates,
            warnings,
            validation: validation_report,
            selected,
            postprocess: before.map(|before| PostprocessReport {
                method: plan.postprocess.name().to_string(),
                fitted_on: if pooled { "training and validation" } else { "validation" }.into(),
                rules: decisions.clone().expect("post-processed"),
                before,
            }),
            sparsity: self.options.prune.as_ref().map(|_| crate::algorithms::methods::prune::sparsity(mlp, &params)),
        };
        metrics.total_seconds = self.started.elapsed().as_secs_f64();
        metrics.peak_rss_mb = peak_rss_mb();
        Ok(RunOutcome {
            metrics,
            model: self.mlp.clone(),
            params,
            summary,
            margin_report,
            run_warnings,
            near_constant: near_constant.map(|n| (split, n)),
            average: plan.average,
            model_info: ModelRecord {
                layout: train.layout().clone(),
                label: data.report.target.clone(),
                positive: data.report.positive.clone(),
                group_columns: data.group_columns.clone(),
                groups: train.group_names().to_vec(),
                dataset: data.name.clone(),
                group_spec: data.report.groups.clone(),
                decisions,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::RunConfig;

    /// A frame of 100 rows (two groups) whose predictions err on `errors`
    /// of them.
    fn frame(errors: usize) -> GroupFrame {
        let labels: Vec<f32> = (0..100).map(|i| (i % 2) as f32).collect();
        // Logit of the right sign, except for the first `errors` rows.
        let logits: Vec<f32> =
            labels.iter().enumerate().map(|(i, &y)| if (i < errors) == (y > 0.5) { -1.0 } else { 1.0 }).collect();
        let groups: Vec<u32> = (0..100).map(|i| (i % 3 == 0) as u32).collect();
        GroupFrame::from_weighted_parts(&["a".into(), "b".into()], &logits, &labels, &groups, None)
    }

    fn plan(algorithm: &str) -> RunPlan {
        let mut config = RunConfig::default();
        config.set("algorithm", algorithm).unwrap();
        config.set("constraint", "demographic-parity").unwrap();
        config.set("postprocess", "group-thresholds").unwrap();
        config.resolve().unwrap()
    }

    /// Thresholds join training rows to validation only for a model trained
    /// without the constraints that still errs on its training rows (at
    /// least half its validation error rate); never without validation.
    #[test]
    fn post_processing_pools_training_rows_only_where_they_show_the_trade() {
        let adam = plan("adam");
        assert_eq!(frame(20).overall().accuracy(), Some(0.8));
        assert!(pooled_fit(&adam, &frame(20), Some(&frame(30))), "training error 0.20 vs validation 0.30");
        assert!(pooled_fit(&adam, &frame(15), Some(&frame(30))), "exactly half");
        assert!(!pooled_fit(&adam, &frame(14), Some(&frame(30))), "below half");
        assert!(!pooled_fit(&adam, &frame(0), Some(&frame(27))), "a memorized training split");
        assert!(!pooled_fit(&adam, &frame(20), None), "no validation split");
        assert!(!pooled_fit(&plan("ssl-alm"), &frame(20), Some(&frame(30))), "fitted to its training rates");
    }
}
