//! The run as a library: a session written to a run folder, read back by
//! the same types, and the same results as the run without a folder.

use fairtrain::run::{CONFIG_FILE, Metrics, RunConfig, RunData, RunFolder, RunOptions, Session, TIMING_FIELDS, run};

fn config() -> RunConfig {
    RunConfig::from_toml(
        "seed = 2\n[data]\nsource = \"synthetic:train=2000;test=1000\"\n[training]\niterations = 400\n\
         [model]\nhidden = [8]\n[[constraint]]\nnotion = \"equal-opportunity\"\nbound = 0.08\n",
    )
    .unwrap()
}

fn without_timings(m: &Metrics) -> serde_json::Value {
    let mut v = serde_json::to_value(m).unwrap();
    for key in TIMING_FIELDS {
        v.as_object_mut().unwrap().remove(key);
    }
    v
}

#[test]
fn a_run_folder_holds_what_the_types_read_back() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = config().resolve().unwrap();
    let data = RunData::load(&plan, None, false).unwrap();
    let session = Session::new(&plan, &data, RunOptions::default()).unwrap();
    let mut folder = RunFolder::create(tmp.path(), &plan, &data, &session, vec!["test".into()]).unwrap();
    let mut outcome = session.train(&mut fairtrain::train::Observers(&mut folder.observers())).unwrap();
    folder.finish(&mut outcome).unwrap();

    // metrics.json is the outcome's metrics, read by the type that wrote it.
    let read = Metrics::read(tmp.path()).unwrap();
    assert_eq!(read, outcome.metrics);
    assert_eq!(read.status, "completed");
    assert!(read.checkpoints >= 1, "the run ends with a checkpoint");
    // The folder's config.toml resolves to the same plan.
    let again = RunConfig::from_file(&tmp.path().join(CONFIG_FILE)).unwrap().resolve().unwrap();
    assert_eq!(again.identity(), plan.identity());
    assert_eq!(again.config().to_toml(), plan.config().to_toml());

    // The one-call run, writing nothing, gives the same results.
    let direct = run(&config(), &mut ()).unwrap();
    assert_eq!(without_timings(&direct.metrics), {
        let mut m = read.clone();
        (m.checkpoints, m.checkpoint_bytes, m.checkpoint_seconds) = (0, 0, 0.0);
        without_timings(&m)
    });
    assert_eq!(direct.params, outcome.params);
}

/// A table of `n` rows: a feature `x`, a group `g` (A or B) and a label `y`
/// that follows `x`, with a fraction of the rows flipped.
fn table(n: usize) -> fairtrain::data::table::RawTable {
    let x: Vec<Option<String>> = (0..n).map(|i| Some(format!("{:.3}", ((i * 37) % 101) as f64 / 101.0))).collect();
    let g: Vec<Option<String>> = (0..n).map(|i| Some(if i % 3 == 0 { "B" } else { "A" }.to_string())).collect();
    let y: Vec<Option<String>> =
        (0..n).map(|i| Some((u8::from(((i * 37) % 101 > 50) ^ (i % 7 == 0))).to_string())).collect();
    fairtrain::data::table::RawTable::from_columns("frame", vec!["x".into(), "g".into(), "y".into()], vec![x, g, y])
        .unwrap()
}

fn table_run(keys: &str, rows: usize) -> fairtrain::Result<fairtrain::run::RunOutcome> {
    let plan = RunConfig::from_toml(&format!("data = \"frame:test\"\ntarget = \"y\"\n{keys}"))?.resolve()?;
    let data = RunData::from_table(&plan, table(rows))?;
    Session::new(&plan, &data, RunOptions::default())?.train(&mut ())
}

#[test]
fn a_run_without_groups_is_an_unconstrained_run_of_one_group() {
    let outcome = table_run("group = []\nconstraint = []\niterations = 2000\n", 2000).unwrap();
    let m = &outcome.metrics;
    assert_eq!(m.test.groups.0.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>(), ["all"]);
    assert!(m.certificates.is_empty() && m.test.constraints.is_empty());
    // Every model is feasible without constraints: no warning says otherwise.
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
    assert!(m.test.accuracy.unwrap() > 0.75, "{:?}", m.test.accuracy);
    // The group column is then an input like any other.
    assert_eq!(outcome.params.len(), fairtrain::model::Mlp::new(3, &[64, 32]).unwrap().n_params());
    // A constraint needs two groups.
    let e = table_run("group = []\niterations = 100\n", 2000).unwrap_err().to_string();
    assert_eq!(
        e,
        "invalid value for constraint: fairness constraints need at least two groups: name a sensitive column \
         (`group`), or train without constraints"
    );
}

#[test]
fn a_minibatch_larger_than_the_training_rows_is_all_of_them() {
    // 10 rows: 8 train, 2 test; 6 train after validation (default batch 8).
    let keys = "data = \"frame:test\"\ntarget = \"y\"\ngroup = []\nconstraint = []\niterations = 200\n";
    let plan = RunConfig::from_toml(keys).unwrap().resolve().unwrap();
    let data = RunData::from_table(&plan, table(10)).unwrap();
    let rows = data.train.n_rows();
    assert!(plan.batch.objective > rows);
    assert_eq!(plan.batch_for(rows).objective, rows);
    let session = Session::new(&plan, &data, RunOptions::default()).unwrap();
    let note = format!("note: `batch-size` {} is larger than the {rows} training rows", plan.batch.objective);
    assert!(session.describe().iter().any(|l| l.starts_with(&note)), "{:?}", session.describe());
    assert_eq!(session.train(&mut ()).unwrap().metrics.iterations, 200);
}

/// metrics.json counts the rows an iteration forwards: the objective's
/// minibatch and each group's, whatever the batch sizes.
#[test]
fn rows_per_iteration_counts_every_minibatch_of_a_step() {
    for (objective, per_group) in [(16, 8), (16, 24)] {
        let text = format!(
            "seed = 1\n[data]\nsource = \"synthetic:train=2000;test=1000\"\n[training]\niterations = 300\n\
             batch-size = {objective}\ngroup-batch-size = {per_group}\n[model]\nhidden = [8]\n\
             [[constraint]]\nnotion = \"loss-parity\"\nbound = 0.05\n"
        );
        let outcome = run(&RunConfig::from_toml(&text).unwrap(), &mut ()).unwrap();
        let rows = outcome.metrics.rows_per_iteration.unwrap();
        // Two groups; a step may forward its minibatches once more after
        // the parameters move (a re-estimate), rarely.
        let step = (objective + 2 * per_group) as f64;
        assert!(rows >= step && rows < 1.05 * step, "{objective}/{per_group}: {rows}");
    }
}
