//! Every key of the run configuration that applies to a run changes what
//! the trainer receives, and every numeric training hyperparameter changes
//! the trained model: no key is parsed and then dropped.
//!
//! The keys are not listed here: they are read off each algorithm's
//! resolved configuration (what its `config.toml` holds), so a key added to
//! the configuration is tested, or must join [`EXEMPT`] with its reason.

use fairtrain::algorithms::AlgorithmName;
use fairtrain::run::{RunConfig, RunData, RunOptions, RunPlan, Session};

/// Keys whose value changes how a run executes or reports, not what it
/// computes (the results do not depend on them), and keys this test cannot
/// vary on its data.
const EXEMPT: [&str; 6] = [
    "training.threads",        // evaluation threads: results do not depend on them
    "output.log-every",        // the history's cadence
    "output.checkpoint-every", // checkpoints resume bit-identically
    "output.eval-every",       // evaluations are outside the training
    "algorithm.name",          // the algorithm under test itself
    "data.group",              // the synthetic data have one sensitive column (the loaders' tests vary it)
];

/// Keys whose change must change the trained parameters (a run of 300
/// iterations), where they apply.
const TRAINED: [&str; 26] = [
    "seed",
    "bound",
    "model.hidden",
    "algorithm.lr",
    "algorithm.momentum",
    "algorithm.mu",
    "algorithm.beta",
    "algorithm.dual-lr",
    "algorithm.penalty",
    "algorithm.kp",
    "algorithm.nu",
    "algorithm.dual-averaging",
    "algorithm.delta",
    "algorithm.initial-multiplier",
    "algorithm.constraint-lr",
    "algorithm.step-decay",
    "algorithm.ghost-alpha",
    "algorithm.tau",
    "algorithm.fairbatch-alpha",
    "algorithm.fermi-lambda",
    "algorithm.meta-fraction",
    "training.batch-size",
    "training.group-batch-size",
    "training.temperature",
    "generalization.margin",
    "generalization.validation-fraction",
];

/// Another valid value of the keys whose values are names.
fn alternate_name(key: &str, value: &str) -> toml::Value {
    let options: &[&str] = match key {
        "primal" => &["adam", "sgd"],
        "augmentation" => &["quadratic", "hpr"],
        "barrier" => &["quadratic-reciprocal", "quadratic-logarithmic"],
        "regret" => &["external", "swap"],
        "meta-objective" => &["balanced", "worst-group"],
        "missing" => &["error", "drop"],
        "select" => &["last", "best-feasible", "best"],
        "preset" => &["paper", "default"],
        "source" => &["synthetic:train=3000;test=1500;seed=1"],
        "margin" => return toml::Value::Float(0.01),
        other => panic!("{other} = {value:?}: give this key an alternate value here"),
    };
    toml::Value::String(options.iter().find(|o| **o != value).expect("two options").to_string())
}

/// Another valid value of `key`.
fn changed(key: &str, value: &toml::Value) -> toml::Value {
    match value {
        toml::Value::Integer(n) => toml::Value::Integer(n + 1),
        // A growth factor stays at least 1.
        toml::Value::Float(x) if key.ends_with("growth") => toml::Value::Float(x + 0.001),
        toml::Value::Float(x) => toml::Value::Float(match *x {
            0.0 => 0.5,
            x if x < 1.0 => {
                if x * 1.5 < 1.0 {
                    x * 1.5
                } else {
                    (x + 1.0) / 2.0
                }
            }
            1.0 => 0.5,
            x => x * 2.0,
        }),
        toml::Value::Boolean(b) => toml::Value::Boolean(!b),
        toml::Value::String(s) => alternate_name(key, s),
        toml::Value::Array(widths) if key == "hidden" => {
            toml::Value::Array(widths.iter().map(|_| toml::Value::Integer(8)).collect())
        }
        other => panic!("{key} = {other}: give this key an alternate value here"),
    }
}

/// The keys of a resolved configuration, as paths, with their values.
fn keys(config: &RunConfig) -> Vec<(String, toml::Value)> {
    let table = toml::Table::try_from(config).unwrap();
    let mut out = Vec::new();
    for (key, value) in table {
        match value {
            toml::Value::Table(section) => {
                out.extend(section.into_iter().map(|(k, v)| (format!("{key}.{k}"), v)));
            }
            // The constraints' bounds, through the positional `bound`.
            toml::Value::Array(constraints) if key == "constraint" => {
                let bound = constraints[0].get("bound").cloned().expect("a resolved bound");
                out.push(("bound".to_string(), bound));
            }
            scalar => out.push((key, scalar)),
        }
    }
    out
}

/// The plan as the trainer receives it (notes aside).
fn received(plan: &RunPlan) -> String {
    let mut p = plan.clone();
    p.notes.clear();
    format!("{p:?}")
}

fn trained(plan: &RunPlan) -> Vec<f32> {
    let data = RunData::load(plan, None, false).unwrap();
    Session::new(plan, &data, RunOptions::default()).unwrap().train(&mut ()).unwrap().params
}

#[test]
fn every_key_changes_the_run() {
    let mut checked = 0;
    for name in AlgorithmName::ALL.into_iter().chain(AlgorithmName::METHODS) {
        // A rate constraint (so the temperature applies where it can); the
        // methods' own notion.
        let notion = if name.is_method() { "equal-opportunity" } else { "demographic-parity" };
        let base = RunConfig::from_toml(&format!(
            "[data]\nsource = \"synthetic:train=3000;test=1500\"\n[algorithm]\nname = \"{name}\"\n\
             [training]\niterations = 300\n[model]\nhidden = [16]\n[[constraint]]\nnotion = \"{notion}\"\n"
        ))
        .unwrap();
        let plan = base.resolve().unwrap();
        let before = received(&plan);
        let mut params = None;
        for (path, value) in keys(&plan.config()) {
            if EXEMPT.contains(&path.as_str()) {
                continue;
            }
            let key = path.rsplit('.').next().unwrap();
            // The model selection needs a validation split: vary it where
            // there is one.
            let (mut from, before) = (base.clone(), before.clone());
            let (from, before, value) = if path == "generalization.select" && plan.validation_fraction == 0.0 {
                from.set("validation-fraction", 0.2).unwrap();
                let p = from.resolve().unwrap();
                let value = keys(&p.config()).into_iter().find(|(k, _)| *k == path).unwrap().1;
                (from, received(&p), value)
            } else {
                (from, before, value)
            };
            let mut config = from.clone();
            config.set(&path, changed(key, &value)).unwrap();
            let other = config.resolve().unwrap_or_else(|e| panic!("{name}: {path} changed: {e}"));
            assert_ne!(received(&other), before, "{name}: changing {path} changes nothing the trainer receives");
            // The bound and its margin shape only the reports of an algorithm
            // that does not train toward the bounds.
            let reported_only = !name.pursues_bounds() && path == "bound";
            if TRAINED.contains(&path.as_str()) && !reported_only {
                let base_params = params.get_or_insert_with(|| trained(&plan));
                assert_ne!(&trained(&other), base_params, "{name}: changing {path} leaves the trained model as it was");
            }
            checked += 1;
        }
    }
    assert!(checked > 200, "{checked} keys checked");
}
