//! The training loop: runs an [`Algorithm`] on a [`Problem`] until the
//! budget is spent, logs windowed estimates every `log_every` iterations to
//! observers (history files, progress bars), and stops with a clear error
//! when a value turns non-finite. Algorithms never print or write files.

mod average;
pub mod checkpoint;
pub mod diagnostics;
mod history;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

pub use average::Averager;
pub use checkpoint::{Checkpoint, LoopState, ObserverStates, WindowSums};
pub use diagnostics::{Diagnostics, Warning};
pub use history::{HISTORY_LINES, HistoryWriter};

use crate::algorithms::Algorithm;
use crate::error::{Error, Result};
use crate::problem::{Problem, Request};

/// When to stop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Budget {
    /// After this many iterations.
    Iterations(u64),
    /// Once this many seconds of training have passed.
    Seconds(f64),
}

/// Settings of the training loop.
#[derive(Debug, Clone, Copy)]
pub struct TrainerConfig {
    /// When to stop.
    pub budget: Budget,
    /// Log every this many iterations (the cost counts in the run time).
    pub log_every: u64,
    /// The returned parameters are the average of the iterates over this
    /// final fraction of the budget (0: the last iterate); see [`train`].
    pub average: f64,
    /// Call [`Observer::evaluate`] before the first iteration, at this
    /// cadence (iterations, or seconds of training), and on the returned
    /// model at the end. Time spent evaluating is not training time: it
    /// counts neither against a time budget nor in `wall_seconds`.
    pub evaluate_every: Option<Budget>,
    /// Call [`Observer::checkpoint`] at this cadence (iterations, or
    /// seconds of training), and at the end of the run (before the
    /// returned model replaces the last iterate) or when interrupted.
    pub checkpoint_every: Option<Budget>,
    /// When this flag is raised (e.g. by Ctrl-C), the run stops after the
    /// current step with [`StopReason::Interrupted`].
    pub interrupt: Option<&'static AtomicBool>,
}

impl TrainerConfig {
    /// A budget with the default cadence (log every 100 iterations) and
    /// averaging (the last 25% of the budget).
    pub fn new(budget: Budget) -> Self {
        TrainerConfig {
            budget,
            log_every: 100,
            average: DEFAULT_AVERAGE,
            evaluate_every: None,
            checkpoint_every: None,
            interrupt: None,
        }
    }
}

/// Default fraction of the budget whose iterates are averaged.
pub const DEFAULT_AVERAGE: f64 = 0.25;

/// Why a run stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StopReason {
    /// The iteration budget was reached.
    Iterations,
    /// The time budget was reached.
    Time,
    /// The run was interrupted (Ctrl-C, SIGTERM).
    Interrupted,
}

/// What a finished run did.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    /// Iterations done.
    pub iterations: u64,
    /// Seconds of training: steps, logging, averaging; evaluations excluded.
    pub wall_seconds: f64,
    /// Seconds spent in [`Observer::evaluate`] (not training time).
    pub evaluation_seconds: f64,
    /// Why it stopped.
    pub stop: StopReason,
    /// Iterates averaged into the returned parameters (0: the last iterate
    /// is returned).
    pub averaged_iterates: u64,
    /// The iteration a resumed run started from.
    pub resumed_from: Option<u64>,
    /// Diagnostics raised during the run (by this process).
    pub warnings: Vec<Warning>,
}

/// Column names of the log records.
#[derive(Debug, Clone, PartialEq)]
pub struct LogColumns {
    /// Scalar constraint names.
    pub constraints: Vec<String>,
    /// Multiplier names (empty when the algorithm has none).
    pub multipliers: Vec<String>,
    /// Algorithm-specific extras.
    pub extras: Vec<String>,
}

/// One log record: means over the iterations since the previous record.
#[derive(Debug, Clone, Copy)]
pub struct LogRecord<'a> {
    /// Iterations done.
    pub iteration: u64,
    /// Seconds since the start of the loop.
    pub seconds: f64,
    /// Mean objective estimate over the window.
    pub objective: f64,
    /// Mean estimate of each scalar constraint `c_i` over the window.
    pub constraints: &'a [f64],
    /// Current multipliers.
    pub multipliers: &'a [f32],
    /// Algorithm-specific values.
    pub extras: &'a [f64],
    /// KKT residual estimates on the current minibatches:
    /// `[|grad f + sum lambda_i grad c_i|, |sum lambda_i c_i|, max(max_i c_i, 0)]`
    /// (multipliers taken as 0 for methods without; the first is measured
    /// every tenth record and NaN in between).
    pub kkt: [f64; 3],
    /// Diagnostics raised at this record.
    pub warnings: &'a [Warning],
}

/// Receives the loop's records and progress.
pub trait Observer {
    /// Called once before the first iteration.
    fn start(&mut self, _columns: &LogColumns) -> Result<()> {
        Ok(())
    }
    /// Called every `log_every` iterations and after the last one.
    fn record(&mut self, _record: &LogRecord) -> Result<()> {
        Ok(())
    }
    /// Called every 1024 iterations with the iteration count and elapsed seconds.
    fn progress(&mut self, _iteration: u64, _seconds: f64) {}
    /// Called on the schedule of [`TrainerConfig::evaluate_every`] with the
    /// current parameters (at the end: the returned ones); the clock of the
    /// budget is paused meanwhile.
    fn evaluate(&mut self, _iteration: u64, _seconds: f64, _params: &[f32]) -> Result<()> {
        Ok(())
    }
    /// Called at every log record, between steps, with the problem: an
    /// observer may adjust it (e.g. tighten the bounds it trains against).
    /// The time it takes is not training time (it counts as evaluation).
    fn between_steps(&mut self, _iteration: u64, _seconds: f64, _problem: &mut dyn Problem) -> Result<()> {
        Ok(())
    }
    /// Called on the schedule of [`TrainerConfig::checkpoint_every`] (and
    /// at the end) with the loop's state; the problem and the algorithm
    /// give theirs through `save_state`.
    fn checkpoint(&mut self, _state: &LoopState, _problem: &dyn Problem, _algorithm: &dyn Algorithm) -> Result<()> {
        Ok(())
    }
    /// Adds to `states`, under this observer's own key, what a resumed
    /// run needs to continue exactly as this one would (called just before
    /// [`Observer::checkpoint`]).
    fn save_state(&self, _states: &mut ObserverStates) -> Result<()> {
        Ok(())
    }
    /// Restores what [`Observer::save_state`] wrote, before a resumed loop
    /// starts.
    fn restore_state(&mut self, _states: &ObserverStates) -> Result<()> {
        Ok(())
    }
}

/// An observer that ignores everything.
impl Observer for () {}

/// Several observers, called in order.
pub struct Observers<'a, 'b>(pub &'a mut [&'b mut dyn Observer]);

impl Observer for Observers<'_, '_> {
    fn start(&mut self, columns: &LogColumns) -> Result<()> {
        self.0.iter_mut().try_for_each(|o| o.start(columns))
    }
    fn record(&mut self, record: &LogRecord) -> Result<()> {
        self.0.iter_mut().try_for_each(|o| o.record(record))
    }
    fn progress(&mut self, iteration: u64, seconds: f64) {
        self.0.iter_mut().for_each(|o| o.progress(iteration, seconds));
    }
    fn evaluate(&mut self, iteration: u64, seconds: f64, params: &[f32]) -> Result<()> {
        self.0.iter_mut().try_for_each(|o| o.evaluate(iteration, seconds, params))
    }
    fn checkpoint(&mut self, state: &LoopState, problem: &dyn Problem, algorithm: &dyn Algorithm) -> Result<()> {
        self.0.iter_mut().try_for_each(|o| o.checkpoint(state, problem, algorithm))
    }
    fn between_steps(&mut self, iteration: u64, seconds: f64, problem: &mut dyn Problem) -> Result<()> {
        self.0.iter_mut().try_for_each(|o| o.between_steps(iteration, seconds, problem))
    }
    fn save_state(&self, states: &mut ObserverStates) -> Result<()> {
        self.0.iter().try_for_each(|o| o.save_state(states))
    }
    fn restore_state(&mut self, states: &ObserverStates) -> Result<()> {
        self.0.iter_mut().try_for_each(|o| o.restore_state(states))
    }
}

/// The clock is read every this many iterations (reading it costs up to a
/// microsecond where the kernel offers no fast clock, 10% of a small step);
/// time budgets and cadences overshoot by at most this many steps.
const TIME_CHECK: u64 = 16;

/// Training time: wall time minus the time spent in evaluations, plus the
/// training time of the run this one resumes.
struct Clock {
    start: Instant,
    paused: f64,
    before: f64,
}

impl Clock {
    fn seconds(&self) -> f64 {
        self.before + self.start.elapsed().as_secs_f64() - self.paused
    }

    /// Runs an evaluation, reported at training time `seconds`, with the
    /// clock stopped.
    fn evaluate(&mut self, observer: &mut dyn Observer, iteration: u64, seconds: f64, params: &[f32]) -> Result<()> {
        let t = Instant::now();
        let result = observer.evaluate(iteration, seconds, params);
        self.paused += t.elapsed().as_secs_f64();
        result
    }
}

/// Runs `algorithm` on `problem` within `config`'s budget. On return the
/// problem holds the model to use: the average of the iterates over the
/// last `config.average` of the budget, or the last iterate.
///
/// # Iterate averaging
///
/// At a fixed step size a stochastic method's iterates keep moving with the
/// minibatch noise; the constraint value of any single iterate is a noisy
/// draw around the level the multipliers hold on average. The average of
/// the tail iterates sits at that level, so the returned model behaves as
/// the run did on average. The tail is sampled with a stride so that at
/// most 1,024 iterates enter the average.
///
/// ```
/// use std::sync::Arc;
/// use fairtrain::algorithms::{AlgorithmConfig, AlgorithmName};
/// use fairtrain::constraints::{ConstraintSet, FairnessConstraint, Notion};
/// use fairtrain::data::{load, DataSource, LoadOptions};
/// use fairtrain::model::Mlp;
/// use fairtrain::problem::TabularProblem;
/// use fairtrain::train::{train, Budget, TrainerConfig};
///
/// let data = load(&DataSource::Synthetic, &LoadOptions::default()).unwrap().encoded.train;
/// let constraints = ConstraintSet::new(
///     vec![FairnessConstraint::new(Notion::LossParity, 0.02).unwrap()],
///     &data,
/// ).unwrap();
/// let mlp = Mlp::new(data.n_inputs(), &[16]).unwrap();
/// let params = mlp.init_params(0);
/// let batches = AlgorithmConfig::paper_batch_sizes(AlgorithmName::SslAlm);
/// let mut problem = TabularProblem::new(mlp, params, Arc::new(data), constraints, batches, 0).unwrap();
/// let mut algorithm = AlgorithmConfig::paper(AlgorithmName::SslAlm).build().unwrap();
/// let config = TrainerConfig::new(Budget::Iterations(500));
/// let summary = train(&mut problem, algorithm.as_mut(), &config, &mut ()).unwrap();
/// assert_eq!(summary.iterations, 500);
/// ```
pub fn train(
    problem: &mut dyn Problem,
    algorithm: &mut dyn Algorithm,
    config: &TrainerConfig,
    observer: &mut dyn Observer,
) -> Result<RunSummary> {
    train_from(problem, algorithm, config, observer, None)
}

/// [`train`], continuing from a checkpoint's loop state when `resume` is
/// given (the problem and the algorithm must already hold their restored
/// states). The budget is the whole run's: a run of `N` iterations resumed
/// from iteration `K` does `N - K` more.
pub fn train_from(
    problem: &mut dyn Problem,
    algorithm: &mut dyn Algorithm,
    config: &TrainerConfig,
    observer: &mut dyn Observer,
    resume: Option<LoopState>,
) -> Result<RunSummary> {
    if config.log_every == 0 {
        return Err(Error::config("log-every", "0 (must be at least 1)"));
    }
    match config.budget {
        Budget::Seconds(s) if !(s.is_finite() && s > 0.0) => {
            return Err(Error::config("time-budget", format!("{s} (must be a positive number of seconds)")));
        }
        _ => {}
    }
    match config.evaluate_every {
        Some(Budget::Seconds(s)) if !(s.is_finite() && s > 0.0) => {
            return Err(Error::config("eval-every", format!("{s} (must be a positive number of seconds)")));
        }
        Some(Budget::Iterations(0)) => return Err(Error::config("eval-every", "0 (must be at least 1)")),
        _ => {}
    }
    if !(0.0..1.0).contains(&config.average) {
        return Err(Error::config(
            "average",
            format!("{} (the averaged fraction of the budget must be in [0, 1))", config.average),
        ));
    }
    // Where the averaged tail starts, and its sampling stride (for a time
    // budget, set from the measured rate when the tail begins).
    let mut tail: Option<(u64, u64)> = match config.budget {
        Budget::Iterations(n) => {
            let len = (config.average * n as f64).floor() as u64;
            (len > 0).then(|| (n - len, average::stride(len)))
        }
        Budget::Seconds(_) => None,
    };
    let mut averager = Averager::default();
    match config.checkpoint_every {
        Some(Budget::Seconds(s)) if !(s.is_finite() && s > 0.0) => {
            return Err(Error::config("checkpoint-every", format!("{s} (must be a positive number of seconds)")));
        }
        Some(Budget::Iterations(0)) => return Err(Error::config("checkpoint-every", "0 (must be at least 1)")),
        _ => {}
    }
    // The processes of a data-parallel run must stop (and evaluate, which
    // may change the bounds) at the same iterations: their clocks differ.
    let group = problem.collective().filter(|g| g.size() > 1);
    if group.is_some() {
        if let Budget::Seconds(_) = config.budget {
            return Err(Error::config(
                "time-budget",
                "a data-parallel run needs an iteration budget (its processes' clocks differ)",
            ));
        }
        if let Some(Budget::Seconds(_)) = config.evaluate_every {
            return Err(Error::config(
                "eval-every",
                "a data-parallel run evaluates every so many iterations, not seconds (its processes' clocks differ)",
            ));
        }
    }
    let resumed_from = resume.as_ref().map(|r| r.iteration);
    let (mut iteration, before, mut next_evaluation) = match &resume {
        Some(r) => (r.iteration, r.seconds, r.next_evaluation),
        None => (0, 0.0, 0.0),
    };
    let m = problem.num_constraints();
    let budget_size = match config.budget {
        Budget::Iterations(n) => n as f64,
        Budget::Seconds(s) => s,
    };
    let mut window = Window::new(m, algorithm.step_value_columns().len());
    let mut diagnostics = Diagnostics::new(problem.constraint_names(), budget_size);
    if let Some(r) = &resume {
        if r.window.constraints.len() != m {
            return Err(Error::Data(format!(
                "the checkpoint's log window has {} constraints, the run {m}",
                r.window.constraints.len()
            )));
        }
        window.sums = r.window.clone();
        // Diagnostics are measured against the budget: one that changed
        // (a run continued further) starts them afresh.
        if let Some(d) = r.diagnostics.as_ref().filter(|d| d.budget() == budget_size) {
            diagnostics = d.clone();
        }
        observer.restore_state(&r.observers)?;
    }
    if let Some(r) = resume {
        match config.budget {
            // The tail plan follows the (possibly new) budget; the saved
            // average continues only when the plan is the same.
            Budget::Iterations(_) => {
                if tail == r.tail {
                    averager = r.averager;
                }
            }
            Budget::Seconds(_) => {
                tail = r.tail;
                averager = r.averager;
            }
        }
    }
    let constraint_names = problem.constraint_names().to_vec();
    let has_multipliers = algorithm.has_multipliers();
    let columns = LogColumns {
        multipliers: if has_multipliers { constraint_names.clone() } else { Vec::new() },
        extras: [algorithm.log_columns(&constraint_names), algorithm.step_value_columns()].concat(),
        constraints: constraint_names,
    };
    observer.start(&columns)?;

    let mut clock = Clock { start: Instant::now(), paused: 0.0, before };
    let mut logger = Logger {
        diagnostics,
        // Only an algorithm that pursues the bounds is warned about them.
        watch: algorithm.uses_constraints() || algorithm.has_multipliers(),
        grad: vec![0.0; problem.num_params()],
        zeros: vec![0.0; m],
        time_budget: matches!(config.budget, Budget::Seconds(_)),
        log_every: config.log_every,
    };
    let mut extras = Vec::with_capacity(columns.extras.len());
    let mut next_checkpoint = match config.checkpoint_every {
        Some(Budget::Iterations(k)) => (iteration + k) as f64,
        Some(Budget::Seconds(s)) => before + s,
        None => f64::INFINITY,
    };
    // The loop's state for a checkpoint, at training time `$seconds`.
    macro_rules! loop_state {
        ($seconds:expr) => {
            LoopState {
                iteration,
                seconds: $seconds,
                averager: averager.clone(),
                tail,
                next_evaluation,
                window: window.sums.clone(),
                diagnostics: Some(logger.diagnostics.clone()),
                observers: observer_states(observer)?,
            }
        };
    }
    if config.checkpoint_every.is_some() && resumed_from.is_none() {
        // A run killed before its first periodic checkpoint resumes from
        // here rather than not at all.
        let state = loop_state!(0.0);
        problem.sync_params()?;
        observer.checkpoint(&state, problem, algorithm)?;
    }
    let stop = loop {
        if let Some(flag) = config.interrupt {
            let raised = flag.load(Ordering::Relaxed);
            let stop = match &group {
                None => raised,
                // Every few steps, all stop if any was interrupted.
                Some(g) => iteration % TIME_CHECK == 0 && g.any(raised),
            };
            if stop {
                break StopReason::Interrupted;
            }
        }
        match config.evaluate_every {
            Some(Budget::Iterations(k)) if iteration as f64 >= next_evaluation => {
                problem.sync_params()?;
                clock.evaluate(observer, iteration, clock.seconds(), problem.params())?;
                next_evaluation += k as f64;
            }
            Some(Budget::Seconds(dt)) if iteration % TIME_CHECK == 0 && clock.seconds() >= next_evaluation => {
                problem.sync_params()?;
                clock.evaluate(observer, iteration, clock.seconds(), problem.params())?;
                next_evaluation = clock.seconds() + dt;
            }
            _ => {}
        }
        match config.budget {
            Budget::Iterations(n) if iteration >= n => break StopReason::Iterations,
            Budget::Seconds(s) if iteration % TIME_CHECK == 0 && clock.seconds() >= s => break StopReason::Time,
            _ => {}
        }
        algorithm.step(problem)?;
        iteration += 1;
        let estimate = problem.last_estimate();
        if !estimate.objective.is_finite() {
            return Err(Error::Diverged {
                iteration,
                message: format!(
                    "the objective estimate is {} (the step size is probably too large; try a smaller `lr`)",
                    estimate.objective
                ),
            });
        }
        window.sums.objective += estimate.objective as f64;
        window.sums.n_objective += 1;
        for (sum, v) in window.sums.step_values.iter_mut().zip(algorithm.step_values()) {
            *sum += v;
        }
        if algorithm.uses_constraints() {
            window.add_constraints(&estimate.constraints, iteration, problem.constraint_names())?;
        }
        if let Some((i, v)) = algorithm.multipliers().iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(Error::Diverged {
                iteration,
                message: format!(
                    "the multiplier of {} is {v} (try a smaller `dual-lr` or a looser bound)",
                    problem.constraint_names()[i]
                ),
            });
        }
        if let Budget::Seconds(s) = config.budget
            && tail.is_none()
            && config.average > 0.0
            && iteration % TIME_CHECK == 0
        {
            let elapsed = clock.seconds();
            if elapsed >= s * (1.0 - config.average) {
                let expected = (iteration as f64 / elapsed.max(1e-9) * s * config.average) as u64;
                tail = Some((iteration, average::stride(expected)));
            }
        }
        if let Some((first, stride)) = tail
            && iteration > first
            && (iteration - first) % stride == 0
        {
            problem.sync_params()?;
            averager.add(problem.params());
        }
        if iteration % config.log_every == 0 {
            let seconds = clock.seconds();
            logger.log(problem, algorithm, &mut window, &mut extras, iteration, seconds, has_multipliers, observer)?;
            // Adjustments measure the model on held-out data: like
            // evaluations, their time is not training time.
            let t = Instant::now();
            problem.sync_params()?;
            observer.between_steps(iteration, seconds, problem)?;
            clock.paused += t.elapsed().as_secs_f64();
        }
        if let Some(every) = config.checkpoint_every {
            let (due, now) = match every {
                Budget::Iterations(k) => (iteration as f64 >= next_checkpoint, next_checkpoint + k as f64),
                Budget::Seconds(s) if iteration % TIME_CHECK == 0 => {
                    let t = clock.seconds();
                    (t >= next_checkpoint, t + s)
                }
                Budget::Seconds(_) => (false, next_checkpoint),
            };
            if due {
                let state = loop_state!(clock.seconds());
                problem.sync_params()?;
                observer.checkpoint(&state, problem, algorithm)?;
                next_checkpoint = now;
            }
        }
        if iteration % 1024 == 0 {
            observer.progress(iteration, clock.seconds());
        }
    };
    // The parameters return to the host (from a device that kept them).
    problem.sync_params()?;
    if config.checkpoint_every.is_some() {
        // The raw state, before the last (partial) window is logged and
        // the returned model replaces the iterate: a resumed run, or one
        // continued with a larger budget, goes on from exactly here.
        let state = loop_state!(clock.seconds());
        observer.checkpoint(&state, problem, algorithm)?;
    }
    if iteration % config.log_every != 0 {
        logger.log(
            problem,
            algorithm,
            &mut window,
            &mut extras,
            iteration,
            clock.seconds(),
            has_multipliers,
            observer,
        )?;
    }
    if averager.count() > 0 {
        problem.params_mut().copy_from_slice(averager.mean());
    }
    let wall_seconds = clock.seconds();
    observer.progress(iteration, wall_seconds);
    if config.evaluate_every.is_some() {
        clock.evaluate(observer, iteration, wall_seconds, problem.params())?;
    }
    Ok(RunSummary {
        iterations: iteration,
        wall_seconds,
        evaluation_seconds: clock.paused,
        stop,
        averaged_iterates: averager.count(),
        resumed_from,
        warnings: logger.diagnostics.warnings().to_vec(),
    })
}

/// The observers' states for a checkpoint.
fn observer_states(observer: &dyn Observer) -> Result<ObserverStates> {
    let mut states = ObserverStates::new();
    observer.save_state(&mut states)?;
    Ok(states)
}

/// Sums of the estimates since the last record.
struct Window {
    sums: WindowSums,
    means: Vec<f64>,
}

impl Window {
    /// A window over `m` scalar constraints and `k` per-step values.
    fn new(m: usize, k: usize) -> Self {
        let sums = WindowSums { constraints: vec![0.0; m], step_values: vec![0.0; k], ..WindowSums::default() };
        Window { sums, means: vec![0.0; m] }
    }

    fn add_constraints(&mut self, c: &[f32], iteration: u64, names: &[String]) -> Result<()> {
        for ((sum, &v), name) in self.sums.constraints.iter_mut().zip(c).zip(names) {
            if !v.is_finite() {
                return Err(Error::Diverged {
                    iteration,
                    message: format!("the estimate of {name} is {v} (try a smaller `lr`)"),
                });
            }
            *sum += v as f64;
        }
        self.sums.n_constraints += 1;
        Ok(())
    }
}

/// Writes log records: window means, KKT residual estimates, diagnostics.
struct Logger {
    diagnostics: Diagnostics,
    /// Whether to raise diagnostics (not for unconstrained baselines and methods).
    watch: bool,
    /// Gradient buffer of the KKT estimate.
    grad: Vec<f32>,
    zeros: Vec<f32>,
    time_budget: bool,
    /// The loop's log cadence.
    log_every: u64,
}

/// The stationarity residual is measured every this many log records.
const KKT_EVERY: u64 = 10;

impl Logger {
    #[allow(clippy::too_many_arguments)]
    fn log(
        &mut self,
        problem: &mut dyn Problem,
        algorithm: &mut dyn Algorithm,
        window: &mut Window,
        extras: &mut Vec<f64>,
        iteration: u64,
        seconds: f64,
        has_multipliers: bool,
        observer: &mut dyn Observer,
    ) -> Result<()> {
        if window.sums.n_constraints == 0 && problem.num_constraints() > 0 {
            // Methods that do not estimate the constraints get one fresh
            // estimate per record (from the constraint samplers only, so the
            // training stream is unaffected).
            problem.estimate(Request::Constraints)?;
            let names = problem.constraint_names().to_vec();
            window.add_constraints(&problem.last_estimate().constraints, iteration, &names)?;
        }
        let n = window.sums.n_constraints.max(1) as f64;
        for (mean, sum) in window.means.iter_mut().zip(&window.sums.constraints) {
            *mean = sum / n;
        }
        extras.clear();
        algorithm.log_values(extras);
        let steps = window.sums.n_objective.max(1) as f64;
        extras.extend(window.sums.step_values.iter().map(|sum| sum / steps));
        let multipliers: &[f32] = if has_multipliers { algorithm.multipliers() } else { &[] };
        // KKT residuals on the current minibatches. Stationarity takes one
        // extra gradient (no new samples are drawn), so it is measured every
        // KKT_EVERY records (NaN, written empty, in between).
        let lambda: &[f32] = if multipliers.len() == self.zeros.len() { multipliers } else { &self.zeros };
        // Scheduled by the iteration, so a resumed run measures at the same records.
        let record = iteration.div_ceil(self.log_every.max(1)).max(1) - 1;
        let stationarity = if record.is_multiple_of(KKT_EVERY) {
            self.grad.iter_mut().for_each(|g| *g = 0.0);
            problem.add_gradient(1.0, lambda, &mut self.grad)?;
            self.grad.iter().map(|&g| (g as f64) * (g as f64)).sum::<f64>().sqrt()
        } else {
            f64::NAN
        };
        let complementarity = lambda.iter().zip(&window.means).map(|(&l, &c)| l as f64 * c).sum::<f64>().abs();
        let feasibility = window.means.iter().copied().fold(0.0f64, f64::max);
        let progress = if self.time_budget { seconds } else { iteration as f64 };
        let raised =
            if self.watch { self.diagnostics.observe(iteration, progress, &window.means, multipliers) } else { 0 };
        let all = self.diagnostics.warnings();
        let record = LogRecord {
            iteration,
            seconds,
            objective: window.sums.objective / window.sums.n_objective.max(1) as f64,
            constraints: &window.means,
            multipliers,
            extras,
            kkt: [stationarity, complementarity, feasibility],
            warnings: &all[all.len() - raised..],
        };
        observer.record(&record)?;
        window.sums.objective = 0.0;
        window.sums.n_objective = 0;
        window.sums.constraints.iter_mut().for_each(|s| *s = 0.0);
        window.sums.n_constraints = 0;
        window.sums.step_values.iter_mut().for_each(|s| *s = 0.0);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algorithms::testing::QuadraticProblem;
    use crate::algorithms::{AlgorithmConfig, AlgorithmName};

    /// Records the evaluation calls; each one sleeps to make its cost visible.
    #[derive(Default)]
    struct Evaluations {
        calls: Vec<(u64, f64)>,
        sleep_ms: u64,
    }

    impl Observer for Evaluations {
        fn evaluate(&mut self, iteration: u64, seconds: f64, _params: &[f32]) -> Result<()> {
            self.calls.push((iteration, seconds));
            std::thread::sleep(std::time::Duration::from_millis(self.sleep_ms));
            Ok(())
        }
    }

    #[test]
    fn evaluations_follow_the_schedule() {
        let mut problem = QuadraticProblem::new(1.0, 0.5, 0.1, 0);
        let mut algorithm = AlgorithmConfig::paper(AlgorithmName::Sgd).build().unwrap();
        let config = TrainerConfig {
            evaluate_every: Some(Budget::Iterations(40)),
            ..TrainerConfig::new(Budget::Iterations(100))
        };
        let mut seen = Evaluations::default();
        train(&mut problem, algorithm.as_mut(), &config, &mut seen).unwrap();
        let iterations: Vec<u64> = seen.calls.iter().map(|c| c.0).collect();
        // Before the first step, every 40 iterations, and the returned model.
        assert_eq!(iterations, [0, 40, 80, 100]);
    }

    #[test]
    fn evaluation_time_is_not_training_time() {
        let mut problem = QuadraticProblem::new(1.0, 0.5, 0.1, 0);
        let mut algorithm = AlgorithmConfig::paper(AlgorithmName::Sgd).build().unwrap();
        let config =
            TrainerConfig { evaluate_every: Some(Budget::Seconds(0.05)), ..TrainerConfig::new(Budget::Seconds(0.2)) };
        let mut seen = Evaluations { sleep_ms: 30, ..Evaluations::default() };
        let started = Instant::now();
        let summary = train(&mut problem, algorithm.as_mut(), &config, &mut seen).unwrap();
        let elapsed = started.elapsed().as_secs_f64();
        // About 5 evaluations of 30 ms: the run took longer than its budget,
        // but its training time is the budget.
        assert!(seen.calls.len() >= 4, "{:?}", seen.calls);
        assert!(summary.wall_seconds >= 0.2 && summary.wall_seconds < 0.23, "{}", summary.wall_seconds);
        assert!(summary.evaluation_seconds >= 0.03 * seen.calls.len() as f64);
        assert!(elapsed >= summary.wall_seconds + summary.evaluation_seconds - 1e-3);
        // Evaluation times are training seconds: increasing, within the budget.
        assert!(seen.calls.windows(2).all(|w| w[1].1 >= w[0].1));
        assert!(seen.calls.last().unwrap().1 <= summary.wall_seconds + 1e-9);
    }
}
