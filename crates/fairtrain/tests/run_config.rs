//! The run configuration: defaults defined once, files in sections or in the
//! flat form of fairtrain 0.1, flat keys laid over them, keys that do not
//! apply refused (or, at their default in a file, noted), errors that name
//! the key, the file and the line.

use fairtrain::algorithms::{AlgorithmConfig, AlgorithmName, AlmConfig, DualConfig, SwitchingConfig};
use fairtrain::constraints::{Comparison, ConstraintKind, FairnessConstraint, Notion, Sense, Statistic};
use fairtrain::data::DataSource;
use fairtrain::problem::BatchSizes;
use fairtrain::run::{BudgetSetting, Margin, Origin, Preset, RunConfig, Select};

fn config(text: &str) -> RunConfig {
    RunConfig::from_toml(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn flags(pairs: &[(&str, toml::Value)]) -> RunConfig {
    let table: toml::Table = pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    RunConfig::from_table(table, Origin::CommandLine).unwrap()
}

fn file(dir: &std::path::Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn defaults_are_the_paper_where_it_holds() {
    let plan = RunConfig::default().resolve().unwrap();
    assert_eq!(plan.source, DataSource::Adult);
    assert_eq!(plan.preset, Preset::Default);
    // The paper's SSL-ALM, with a multiplier bound that grows while it binds
    // and multipliers that follow averaged constraint estimates.
    let AlgorithmConfig::Lagrangian { dual: DualConfig::Alm(alm), primal, .. } = plan.algorithm else { panic!() };
    let AlgorithmConfig::Lagrangian { dual: DualConfig::Alm(paper), primal: paper_primal, .. } =
        AlgorithmConfig::paper(AlgorithmName::SslAlm)
    else {
        panic!()
    };
    assert_eq!((alm, primal), (AlmConfig { grow_bound: true, constraint_averaging: 0.02, ..paper }, paper_primal));
    assert!(!paper.grow_bound && paper.constraint_averaging == 1.0 && alm.average_penalty.is_none());
    assert_eq!(plan.batch, BatchSizes { objective: 8, per_group: 8 });
    assert_eq!(plan.budget, BudgetSetting::Iterations(20_000));
    assert_eq!(plan.constraints, [FairnessConstraint::new(Notion::LossParity, 0.005).unwrap()]);
    assert_eq!(plan.hidden, [64, 32]);
    assert_eq!((plan.validation_fraction, plan.margin, plan.select), (0.2, Margin::Auto, Select::BestFeasible));
    // Loss parity has no rate surrogate: no temperature.
    assert_eq!(plan.temperature, None);

    let plan = config("[algorithm]\nname = \"ssw\"").resolve().unwrap();
    assert_eq!(plan.batch, BatchSizes { objective: 16, per_group: 16 });
    // The default preset takes equal switching steps; the paper's stays.
    assert_eq!(
        plan.algorithm,
        AlgorithmConfig::Switching(SwitchingConfig {
            lr: 0.02,
            constraint_averaging: 0.02,
            ..SwitchingConfig::default()
        })
    );
    let plan = config("preset = \"paper\"\n[algorithm]\nname = \"ssw\"").resolve().unwrap();
    assert_eq!(plan.algorithm, AlgorithmConfig::Switching(SwitchingConfig::default()));
    // The paper preset: all training rows, the tail average, no selection.
    assert_eq!(
        (plan.validation_fraction, plan.margin, plan.select, plan.average),
        (0.0, Margin::Off, Select::Last, 0.25)
    );
}

#[test]
fn every_algorithm_round_trips_through_its_config_toml() {
    for name in AlgorithmName::NAMES.iter().chain(AlgorithmName::METHOD_NAMES.iter()) {
        let notion = if AlgorithmName::METHOD_NAMES.contains(name) {
            "constraint = [\"equal-opportunity\"]\nbound = [0.1]"
        } else {
            "constraint = [\"demographic-parity\", \"loss-parity\"]\nbound = [0.1, 0.02]"
        };
        let given = config(&format!(
            "{notion}\n[data]\nsource = \"synthetic\"\n[algorithm]\nname = \"{name}\"\n[training]\ntime-budget = 2.5\n\
             [model]\nhidden = \"16\""
        ));
        let plan = given.resolve().unwrap();
        let text = plan.config().to_toml();
        let again = RunConfig::from_toml(&text).unwrap().resolve().unwrap();
        assert_eq!(again.algorithm, plan.algorithm, "{name}");
        assert_eq!(again.constraints, plan.constraints, "{name}");
        assert_eq!(again.temperature, plan.temperature, "{name}");
        assert_eq!(again.config().to_toml(), text, "{name}");
        assert_eq!(again.budget, BudgetSetting::Seconds(2.5));
        assert!(again.notes.is_empty(), "{name}: {:?}", again.notes);
    }
}

#[test]
fn constraint_tables() {
    let plan = config(
        "[[constraint]]\nnotion = \"equalized-odds\"\ngroup = [\"race\", \"sex\"]\nbound = 0.04\n\
         [[constraint]]\nkind = \"group-bound\"\nstatistic = \"fpr\"\nbound = 0.1\n\
         [[constraint]]\nnotion = \"demographic-parity\"\ncomparison = \"overall\"",
    )
    .resolve()
    .unwrap();
    assert_eq!(plan.load.group, Some(vec!["race".to_string(), "sex".to_string()]));
    assert_eq!(plan.constraints.len(), 3);
    assert_eq!(plan.constraints[0], FairnessConstraint::new(Notion::EqualizedOdds, 0.04).unwrap());
    assert_eq!(plan.constraints[1].name, "group-bound:fpr");
    assert_eq!(
        plan.constraints[1].kind,
        ConstraintKind::GroupBound { statistic: Statistic::Fpr, sense: Sense::AtMost }
    );
    assert_eq!(
        plan.constraints[2].kind,
        ConstraintKind::Gap { statistics: vec![Statistic::PositiveRate], comparison: Comparison::Overall }
    );
    let again = RunConfig::from_toml(&plan.config().to_toml()).unwrap().resolve().unwrap();
    assert_eq!(again.constraints, plan.constraints);
}

#[test]
fn keys_that_do_not_apply_are_errors_on_the_command_line() {
    let err = flags(&[("algorithm", "adam".into()), ("mu", 1.0.into())]).resolve().unwrap_err();
    assert_eq!(err.to_string(), "invalid value for mu: --mu does not apply to algorithm adam (it takes: lr)");
    let err = flags(&[("algorithm", "gda".into()), ("kp", 1.0.into())]).resolve().unwrap_err();
    assert!(err.to_string().starts_with("invalid value for kp: --kp does not apply to algorithm gda"), "{err}");
    // The temperature shapes rate surrogates: not loss parity, not an
    // unconstrained baseline; even at its default value.
    let err = flags(&[("temperature", 0.25.into())]).resolve().unwrap_err();
    assert!(err.to_string().contains("temperature: does not apply to this run: the constraints have no rate"), "{err}");
    let err = flags(&[
        ("algorithm", "adam".into()),
        ("constraint", "demographic-parity".into()),
        ("temperature", 5.0.into()),
    ])
    .resolve()
    .unwrap_err();
    assert!(err.to_string().contains("adam does not follow the constraints' gradients"), "{err}");
    let plan = flags(&[("constraint", "demographic-parity".into()), ("temperature", 5.0.into())]).resolve().unwrap();
    assert_eq!(plan.temperature, Some(5.0));
}

#[test]
fn a_file_may_keep_a_key_that_does_not_apply_at_its_default() {
    let tmp = tempfile::tempdir().unwrap();
    // Every earlier run's config.toml wrote the temperature.
    let at_default = file(tmp.path(), "a.toml", "[data]\nsource = \"synthetic\"\n[training]\ntemperature = 0.25\n");
    let plan = RunConfig::from_file(&at_default).unwrap().resolve().unwrap();
    assert_eq!(plan.temperature, None);
    assert_eq!(plan.notes.len(), 1);
    assert!(plan.notes[0].contains("a.toml, line 4: `temperature` does not apply"), "{:?}", plan.notes);
    // At another value it is an error naming the file and the line.
    let other = file(tmp.path(), "b.toml", "seed = 1\n[training]\ntemperature = 5.0\n");
    let err = RunConfig::from_file(&other).unwrap().resolve().unwrap_err().to_string();
    assert!(err.contains("b.toml, line 3: invalid value for temperature: does not apply"), "{err}");
    let foreign = file(tmp.path(), "c.toml", "[algorithm]\nname = \"adam\"\nmu = 1.0\n");
    let err = RunConfig::from_file(&foreign).unwrap().resolve().unwrap_err().to_string();
    assert!(err.contains("c.toml, line 3: invalid value for mu: --mu does not apply to algorithm adam"), "{err}");
}

#[test]
fn bad_values_name_their_field() {
    for (text, field) in [
        ("bound = -0.5", "bound"),
        ("[training]\nbatch-size = 0", "batch-size"),
        ("[algorithm]\nlr = -1.0", "lr"),
        ("[training]\ntime-budget = 0.0", "time-budget"),
        ("[output]\nlog-every = 0", "log-every"),
        ("[training]\naverage = 1.0", "average"),
        ("bound = [0.1, 0.2]", "bound"),
        ("constraint = \"bounded-group-loss\"", "bound"),
        ("[algorithm]\nname = \"ghost\"\nghost-radius = 50.0", "ghost-radius"),
        ("[algorithm]\nname = \"nupi\"\nnu = 1.0", "nu"),
        ("[[constraint]]\nkind = \"ratio\"\nbound = 0.8", "constraint"),
        ("constraint = \"demographic-parity\"\n[training]\ntemperature = 0.0", "temperature"),
        ("[training]\niterations = 5\nepochs = 1.0", "budget"),
        ("[generalization]\nvalidation-fraction = 0.0\nmargin = \"auto\"", "validation-fraction"),
    ] {
        let err = RunConfig::from_toml(text).unwrap().resolve().unwrap_err();
        assert!(err.to_string().starts_with(&format!("invalid value for {field}:")), "{text}: {err}");
    }
    for (text, message) in [
        ("[model]\nhidden = \"64,x\"", "'64,x' (expected widths like 64,32, or none)"),
        ("[generalization]\nmargin = \"tight\"", "'tight' (use auto, off, or a non-negative number)"),
        ("[algorithm]\nname = \"alm2\"", "unknown variant `alm2`"),
        ("constraint = \"equal-odds\"", "'equal-odds' (known: loss-parity"),
    ] {
        let err = RunConfig::from_toml(text).unwrap_err().to_string();
        assert!(err.contains(message), "{text}: {err}");
    }
}

#[test]
fn unknown_keys_name_the_line_and_the_key_meant() {
    let tmp = tempfile::tempdir().unwrap();
    for (text, line, expected) in [
        ("algoritm = \"ssl-alm\"", 1, "unknown key 'algoritm'; did you mean 'algorithm'?"),
        (
            "seed = 1\n\n[algorithm]\nname = \"alm\"\ndual-lrr = 0.1\n",
            5,
            "unknown key 'dual-lrr' in [algorithm]; did you mean 'dual-lr'?",
        ),
        ("[training]\nlr = 0.1\n", 2, "unknown key 'lr' in [training] ('lr' belongs in [algorithm])"),
        (
            "[[constraint]]\nnotoin = \"loss-parity\"\n",
            2,
            "unknown key 'notoin' in a [[constraint]] table; did you mean 'notion'?",
        ),
    ] {
        let path = file(tmp.path(), "bad.toml", text);
        let err = RunConfig::from_file(&path).unwrap_err().to_string();
        assert!(err.contains(&format!("bad.toml, line {line}: {expected}")), "{text}: {err}");
    }
    // Flat keys (flags, keywords) get the same help.
    let mut c = RunConfig::default();
    let err = c.set("dual-lrr", 0.1).unwrap_err().to_string();
    assert_eq!(err, "invalid value for dual-lrr: unknown key 'dual-lrr'; did you mean 'dual-lr'?");
}

#[test]
fn the_flat_form_loads_as_the_sections_do() {
    let tmp = tempfile::tempdir().unwrap();
    let flat = file(
        tmp.path(),
        "flat.toml",
        "data = \"synthetic\"\nalgorithm = \"alm\"\ndual-lr = 0.1\nbatch-size = 32\nvalidation-fraction = 0.3\n\
         hidden = \"16,8\"\ncheckpoint-every = \"off\"\nconstraint = \"demographic-parity\"\nbound = 0.07\n",
    );
    let sectioned = file(
        tmp.path(),
        "sections.toml",
        "[data]\nsource = \"synthetic\"\n[algorithm]\nname = \"alm\"\ndual-lr = 0.1\n[training]\nbatch-size = 32\n\
         [generalization]\nvalidation-fraction = 0.3\n[model]\nhidden = [16, 8]\n[output]\ncheckpoint-every = \"off\"\n\
         [[constraint]]\nnotion = \"demographic-parity\"\nbound = 0.07\n",
    );
    let a = RunConfig::from_file(&flat).unwrap().resolve().unwrap();
    let b = RunConfig::from_file(&sectioned).unwrap().resolve().unwrap();
    assert_eq!(a.config().to_toml(), b.config().to_toml());
    assert!(a.notes.iter().any(|n| n.contains("flat keys (the form of fairtrain 0.1)")), "{:?}", a.notes);
    assert!(b.notes.is_empty());
    // A key set twice in one file (a method and an algorithm) is refused.
    let twice = file(tmp.path(), "twice.toml", "algorithm = \"adam\"\nmethod = \"fermi\"\n");
    let err = RunConfig::from_file(&twice).unwrap_err().to_string();
    assert!(err.contains("twice.toml, line 2: 'method' sets [algorithm] name, which 'algorithm' already set"), "{err}");
}

#[test]
fn flags_lay_over_a_file() {
    let mut c = config("[algorithm]\nname = \"alm\"\nlr = 0.1\n[training]\niterations = 50\n");
    c.overlay(flags(&[("penalty", 2.0.into()), ("time-budget", 1.5.into())]));
    let plan = c.resolve().unwrap();
    let AlgorithmConfig::Lagrangian { dual: DualConfig::Alm(alm), primal, .. } = plan.algorithm else { panic!() };
    assert_eq!((primal.lr, alm.penalty), (0.1, 2.0));
    // A budget given on top replaces the file's.
    assert_eq!(plan.budget, BudgetSetting::Seconds(1.5));
    c.set("algorithm.lr", 0.3).unwrap();
    assert_eq!(c.algorithm.lr, Some(0.3));
}

#[test]
fn paths_in_a_file_are_relative_to_its_folder() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("runs")).unwrap();
    file(tmp.path(), "loans.csv", "x,g,y\n1,a,1\n2,b,0\n");
    let path = file(
        &tmp.path().join("runs"),
        "config.toml",
        "[data]\nsource = \"../loans.csv\"\ntarget = \"y\"\ngroup = \"g\"\n",
    );
    let plan = RunConfig::from_file(&path).unwrap().resolve().unwrap();
    let DataSource::Csv(csv) = &plan.source else { panic!("{:?}", plan.source) };
    assert!(csv.starts_with(tmp.path().join("runs")) && csv.ends_with("loans.csv"), "{}", csv.display());
    // The run's own config.toml stores the path absolute.
    let written = plan.config();
    let source = written.data.source.unwrap();
    assert!(std::path::Path::new(&source).is_absolute(), "{source}");
}

/// Post-processing: without an algorithm named, an unconstrained model
/// early-stopped on a held-out validation split (`best`); with
/// one, the constrained run's usual selection; never on a loss notion or
/// without a validation split.
#[test]
fn postprocessing_defaults_and_refusals() {
    use fairtrain::postprocess::Postprocess;
    let dp = "[[constraint]]\nnotion = \"demographic-parity\"\nbound = 0.02\n";
    let plan = config(&format!("{dp}[generalization]\npostprocess = \"group-thresholds\"")).resolve().unwrap();
    assert_eq!(plan.algorithm.name(), AlgorithmName::Adam);
    assert_eq!(plan.postprocess, Postprocess::GroupThresholds);
    assert_eq!((plan.validation_fraction, plan.margin, plan.select), (0.2, Margin::Off, Select::Best));
    let plan =
        config(&format!("{dp}[algorithm]\nname = \"ssl-alm\"\n[generalization]\npostprocess = \"group-thresholds\""))
            .resolve()
            .unwrap();
    assert_eq!((plan.algorithm.name(), plan.select), (AlgorithmName::SslAlm, Select::BestFeasible));
    let e = config(&format!("{dp}[generalization]\npostprocess = \"group-thresholds\"\nvalidation-fraction = 0"))
        .resolve()
        .unwrap_err()
        .to_string();
    assert!(e.contains("post-processing fits its thresholds on a validation split"), "{e}");
    let e = config("[generalization]\npostprocess = \"group-thresholds\"").resolve().unwrap_err().to_string();
    assert!(e.contains("group-thresholds cannot post-process 'loss-parity'"), "{e}");
    // Off by default, and not part of the configuration a checkpoint checks.
    let plan = RunConfig::default().resolve().unwrap();
    assert_eq!(plan.postprocess, Postprocess::Off);
    assert!(!plan.identity().contains("postprocess"));
}

/// Without a validation split, the error names the settings in effect that
/// need one, and only those.
#[test]
fn no_validation_split_names_the_settings_that_need_one() {
    let error = |keys: &str| {
        config(&format!("[generalization]\nvalidation-fraction = 0.0\n{keys}")).resolve().unwrap_err().to_string()
    };
    assert_eq!(
        error("margin = \"auto\"\nselect = \"last\""),
        "invalid value for validation-fraction: 0: the settings `margin auto` need a validation split (e.g. \
         `validation-fraction 0.2`)"
    );
    assert_eq!(
        error("margin = \"auto\"\nselect = \"best\""),
        "invalid value for validation-fraction: 0: the settings `margin auto`, `select best` need a validation \
         split (e.g. `validation-fraction 0.2`)"
    );
}
