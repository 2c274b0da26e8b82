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
