//! `fairtrain._fairtrain`: the Rust side of the Python package. Thin on
//! purpose: every function runs the library's own code (the run, the saved
//! model, the data sets), so the Python package computes exactly what the
//! command line does; the estimator and data frames are in Python.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use fairtrain::data::source::{Frame, load_frame};
use fairtrain::data::table::RawTable;
use fairtrain::data::{DataSource, LoadOptions};
use fairtrain::model::saved;
use fairtrain::run::{Origin, Resumable, RunConfig, RunData, RunFolder, RunOptions, Session, choose_dir};
use fairtrain::train::{Budget, Observer, Observers, StopReason};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// A table as column names and, per column, a text cell per row.
type Columns = (Vec<String>, Vec<Vec<Option<String>>>);

/// Set when Python receives an interrupt during a run: the run stops at
/// its next iteration and writes its checkpoint and outputs.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// A library error as the Python exception `fairtrain` raises for it
/// (`fairtrain.errors`): `FileNotFoundError`, `ValueError` for bad input,
/// `FairtrainError` otherwise, all subclasses of `FairtrainError`.
fn py_error(py: Python<'_>, e: fairtrain::Error) -> PyErr {
    let kind = match &e {
        fairtrain::Error::Io { error, .. } if error.kind() == std::io::ErrorKind::NotFound => "NotFound",
        fairtrain::Error::Config { .. }
        | fairtrain::Error::Data(_)
        | fairtrain::Error::Parse { .. }
        | fairtrain::Error::Unsupported { .. }
        | fairtrain::Error::Checksum { .. } => "Input",
        _ => "Other",
    };
    let message = e.to_string();
    match py.import("fairtrain.errors").and_then(|m| m.getattr("from_kind")).and_then(|f| f.call1((kind, &message))) {
        Ok(exception) => PyErr::from_value(exception),
        Err(err) => err,
    }
}

/// A JSON value (from Python's `json.dumps`) as a TOML value; `null`
/// leaves the key out.
fn toml_value(value: serde_json::Value) -> Option<toml::Value> {
    Some(match value {
        serde_json::Value::Null => return None,
        serde_json::Value::Bool(b) => toml::Value::Boolean(b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => toml::Value::Integer(i),
            None => toml::Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => toml::Value::String(s),
        serde_json::Value::Array(a) => toml::Value::Array(a.into_iter().filter_map(toml_value).collect()),
        serde_json::Value::Object(o) => {
            toml::Value::Table(o.into_iter().filter_map(|(k, v)| toml_value(v).map(|v| (k, v))).collect())
        }
    })
}

/// The run configuration of `keys`, a JSON object of configuration keys
/// (flat keys or sections, as in a TOML file).
fn config_of(keys: &str) -> fairtrain::Result<RunConfig> {
    let value: serde_json::Value =
        serde_json::from_str(keys).map_err(|e| fairtrain::Error::Data(format!("configuration: {e}")))?;
    let Some(toml::Value::Table(table)) = toml_value(value) else {
        return Err(fairtrain::Error::Data("configuration: not a dictionary of keys".into()));
    };
    RunConfig::from_table(table, Origin::Api)
}

/// A progress line on stderr (`verbose=True`): the share of the budget
/// done, at most every half second, then a newline at the end.
struct ProgressLine {
    budget: Budget,
    shown: std::time::Instant,
    any: bool,
}

impl Observer for ProgressLine {
    fn progress(&mut self, iteration: u64, seconds: f64) {
        if self.shown.elapsed() < Duration::from_millis(500) {
            return;
        }
        self.shown = std::time::Instant::now();
        self.any = true;
        let done = match self.budget {
            Budget::Iterations(n) => {
                format!("{iteration}/{n} iterations ({:.0}%)", 100.0 * iteration as f64 / n.max(1) as f64)
            }
            Budget::Seconds(s) => format!("{seconds:.1}/{s:.1} s ({iteration} iterations)"),
        };
        use std::io::Write as _;
        let _ = write!(std::io::stderr(), "\rfairtrain: {done}   ");
    }
}

impl Drop for ProgressLine {
    fn drop(&mut self) {
        if self.any {
            eprintln!();
        }
    }
}

/// Runs the configuration `keys` (a JSON object of configuration keys) on
/// its data source, or on `table` (column names and string cells, read as
/// a CSV file's contents), writing the run folder `out` (else the
/// configuration's `out`, else `runs/<UTC timestamp>`). Returns the folder
/// and whether the run completed (false: interrupted, resumable from its checkpoint);
/// `verbose` shows the progress on stderr. `resume` continues the run in
/// `out` from its checkpoint, on the same settings (the budget may grow)
/// and the same data (a completed run is left as it is).
/// The training runs on its own thread without the GIL; this thread checks
/// for Python signals meanwhile.
#[pyfunction]
#[pyo3(signature = (keys, out, table=None, overwrite=false, verbose=false, resume=false))]
fn run(
    py: Python<'_>,
    keys: &str,
    out: Option<String>,
    table: Option<Columns>,
    overwrite: bool,
    verbose: bool,
    resume: bool,
) -> PyResult<(String, bool)> {
    INTERRUPTED.store(false, Ordering::SeqCst);
    let work = move || -> fairtrain::Result<(String, bool)> {
        let plan = config_of(keys)?.resolve()?;
        let out = out.map(std::path::PathBuf::from).or(plan.out.clone());
        let dir = match (resume, out) {
            (true, Some(dir)) => dir,
            (true, None) => return Err(fairtrain::Error::config("resume", "needs the run folder to continue (`out`)")),
            (false, out) => choose_dir(out.as_deref(), overwrite)?,
        };
        let data = match table {
            Some((names, columns)) => RunData::from_table(&plan, RawTable::from_columns("frame", names, columns)?)?,
            None => RunData::load(&plan, None, false)?,
        };
        let checkpoint = match resume {
            true => {
                let resumable = Resumable::open(&dir, &plan, &data)?;
                if resumable.complete {
                    return Ok((dir.display().to_string(), true));
                }
                Some(resumable.checkpoint)
            }
            false => None,
        };
        let options = RunOptions { interrupt: Some(&INTERRUPTED), resume: checkpoint, ..RunOptions::default() };
        let session = Session::new(&plan, &data, options)?;
        let mut folder = RunFolder::create(&dir, &plan, &data, &session, vec!["python".into()])?;
        let mut progress = ProgressLine { budget: session.budget(), shown: std::time::Instant::now(), any: false };
        let mut outcome = {
            let mut observers = folder.observers();
            if verbose {
                observers.push(&mut progress);
            }
            session.train(&mut Observers(&mut observers))?
        };
        drop(progress);
        let completed = outcome.summary.stop != StopReason::Interrupted;
        folder.finish(&mut outcome)?;
        Ok((dir.display().to_string(), completed))
    };
    let result = std::thread::scope(|scope| {
        let handle = scope.spawn(work);
        // Python delivers signals to its main thread only: watch them here.
        while !handle.is_finished() {
            if py.check_signals().is_err() {
                INTERRUPTED.store(true, Ordering::SeqCst);
            }
            py.detach(|| std::thread::sleep(Duration::from_millis(20)));
        }
        handle.join().unwrap_or_else(|_| Err(fairtrain::Error::Data("the run panicked".into())))
    });
    result.map_err(|e| py_error(py, e))
}

/// Scores rows with a saved model given as its two files' contents
/// (`model.json`'s text and `model.safetensors`' bytes): per row, the
/// probability of the positive class and the decision (per-group
/// thresholds where the model has them, which need its group columns
/// among the columns), and the columns with categories the model never
/// saw, with their counts.
#[pyfunction]
#[allow(clippy::type_complexity)]
fn predict(
    py: Python<'_>,
    card: &str,
    weights: &[u8],
    names: Vec<String>,
    columns: Vec<Vec<Option<String>>>,
) -> PyResult<(Vec<f32>, Vec<bool>, Vec<(String, usize)>)> {
    let weights = weights.to_vec();
    let card = card.to_string();
    let work = move || -> fairtrain::Result<(Vec<f32>, Vec<bool>, Vec<(String, usize)>)> {
        let model = saved::from_bytes(&card, &weights, "model.json", "model.safetensors")?;
        let table = RawTable::from_columns("frame", names, columns)?;
        let (data, unseen) = model.encode(&table)?;
        let (scores, decisions) = model.predict(&data, 0.5, 1).into_iter().unzip();
        Ok((scores, decisions, unseen))
    };
    py.detach(work).map_err(|e| py_error(py, e))
}

/// The built-in data sets: (name, description).
#[pyfunction]
fn datasets() -> Vec<(String, String)> {
    fairtrain::data::catalog::BUILTINS.iter().map(|d| (d.name.to_string(), d.title.to_string())).collect()
}

/// A built-in data set's split as the command line trains on it:
/// (feature names, columns of string cells, labels, group names, target
/// column, positive value).
#[pyfunction]
#[pyo3(signature = (name, test=false, group=None))]
#[allow(clippy::type_complexity)]
fn dataset(
    py: Python<'_>,
    name: &str,
    test: bool,
    group: Option<Vec<String>>,
) -> PyResult<(Vec<String>, Vec<Vec<Option<String>>>, Vec<f32>, Vec<String>, String, String)> {
    let name = name.to_string();
    let work = move || -> fairtrain::Result<Frame> {
        let source = DataSource::parse(&name)?;
        if source.is_file() {
            return Err(fairtrain::Error::config("data", format!("'{name}' is not a built-in data set")));
        }
        load_frame(&source, &LoadOptions { group, ..LoadOptions::default() }, test)
    };
    let f = py.detach(work).map_err(|e| py_error(py, e))?;
    Ok((f.names, f.columns, f.labels, f.groups, f.target, f.positive))
}

/// The model files of a run folder as (`model.json` text, weights bytes),
/// checked as `fairtrain predict` checks them.
#[pyfunction]
fn read_model<'py>(py: Python<'py>, dir: &str) -> PyResult<(String, Bound<'py, PyBytes>)> {
    let (_, card, weights) = saved::read_files(Path::new(dir)).map_err(|e| py_error(py, e))?;
    Ok((card, PyBytes::new(py, &weights)))
}

/// The library version.
#[pyfunction]
fn version() -> &'static str {
    fairtrain::VERSION
}

#[pymodule]
fn _fairtrain(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_function(wrap_pyfunction!(predict, m)?)?;
    m.add_function(wrap_pyfunction!(datasets, m)?)?;
    m.add_function(wrap_pyfunction!(dataset, m)?)?;
    m.add_function(wrap_pyfunction!(read_model, m)?)?;
    m.add_function(wrap_pyfunction!(version, m)?)?;
    Ok(())
}
