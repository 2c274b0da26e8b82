//! The validation split, the generalization margin and the choice of the
//! returned model, through the real binary.

mod common;
use common::{fairtrain, metrics, s};

#[test]
fn validation_margin_and_selection_are_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let o = fairtrain(&[
        "train",
        "--data",
        "synthetic",
        "--iterations",
        "4000",
        "--validation-fraction",
        "0.2",
        "--margin",
        "auto",
        "--select",
        "best-feasible",
        "--bound",
        "0.02",
        "--out",
        s(&out),
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout.contains("generalization margin: loss-parity: training against"), "{stdout}");
    assert!(stdout.contains("valid "), "{stdout}");
    let m = metrics(&out);
    // 20% of the 30,000 training rows, stratified.
    assert_eq!(m["data"]["train_rows"], 24_000);
    let v = &m["validation"];
    let n: u64 = v["groups"].as_object().unwrap().values().map(|g| g["n"].as_u64().unwrap()).sum();
    assert_eq!(n, 6_000);
    // The user's bound stays the bound; training aims lower by the larger
    // of the overfitting validation can tell from its noise (none here:
    // 24,000 training rows) and one standard error of the training
    // estimate, the validation half-width scaled by sqrt(6,000 / 24,000)
    // and over 1.96.
    let look = MarginLook::parse(&stdout, "loss-parity");
    assert!(look.excess < look.half_width, "{stdout}");
    assert!((look.standard_error - look.half_width * 0.5 / 1.96).abs() < 1e-4, "{stdout}");
    assert!((look.training_against - (0.02 - look.standard_error)).abs() < 1e-4, "{stdout}");
    for split in ["train", "validation", "test"] {
        let c = &m[split]["constraints"][0];
        assert_eq!(c["bound"], 0.02);
        let train_bound = c["train_bound"].as_f64().unwrap();
        assert!((train_bound - look.training_against).abs() < 1e-4, "{split}: {c}");
    }
    let half = m["test"]["constraints"][0]["ci_half_width"].as_f64().unwrap();
    assert!(half > 0.0 && half < 0.05, "{half}");
    // A model was selected after the first quarter, feasible on validation within its noise.
    let sel = &m["selected"];
    assert_eq!(sel["rule"], "best-feasible");
    assert!(sel["iteration"].as_u64().unwrap() >= 1000);
    // The returned model is the one selected: the objective the selection
    // recorded is the returned model's on validation, and the console names
    // it (the model training ended with competes with the evaluated ones).
    let recorded = sel["validation_objective"].as_f64().unwrap();
    assert!((recorded - v["objective"].as_f64().unwrap()).abs() < 1e-9, "{sel} {v}");
    let named = if sel["trained_model"].as_bool().unwrap() {
        "returned model: the trained model above, the best validation objective".to_string()
    } else {
        format!("returned model: the average of the evaluated iterates up to iteration {}", sel["iteration"])
    };
    assert!(stdout.contains(&named), "{stdout}");
    // The resolved config re-runs it.
    let config = std::fs::read_to_string(out.join("config.toml")).unwrap();
    assert!(config.contains("margin = \"auto\"") && config.contains("select = \"best-feasible\""), "{config}");
    // The paper preset trains as the paper did: no validation split.
    let paper = tmp.path().join("paper");
    let o = fairtrain(&[
        "train",
        "--data",
        "synthetic",
        "--iterations",
        "300",
        "--preset",
        "paper",
        "--quiet",
        "--out",
        s(&paper),
    ]);
    assert!(o.status.success());
    let m = metrics(&paper);
    assert!(m.get("validation").is_none() && m.get("selected").is_none());
    assert_eq!(m["data"]["train_rows"], 30_000);
}

/// The auto margin's last look (the console line of `constraint`).
struct MarginLook {
    training_against: f64,
    excess: f64,
    half_width: f64,
    standard_error: f64,
}

impl MarginLook {
    fn parse(stdout: &str, constraint: &str) -> MarginLook {
        let prefix = format!("generalization margin: {constraint}: training against ");
        let line = stdout.lines().find_map(|l| l.strip_prefix(prefix.as_str())).expect(stdout);
        let number_after = |key: &str| -> f64 {
            let rest = &line[line.find(key).unwrap_or_else(|| panic!("{key} in {line}")) + key.len()..];
            let end =
                rest.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+')).unwrap_or(rest.len());
            rest[..end].parse().unwrap()
        };
        MarginLook {
            training_against: number_after(""),
            excess: number_after("validation "),
            half_width: number_after("half-width "),
            standard_error: number_after("training standard error "),
        }
    }
}

/// Rates overfit as training goes on, so the margin is measured at a
/// quarter, a half and three quarters of the budget and only ever
/// tightens: the bound trained against is at most the one the last look
/// alone gives (synthetic data, demographic parity 0.05, seed 0: 0.0433;
/// COMPAS at the same bound, seed 0, where validation shows 0.087 of
/// excess over train at the end: 0.0320).
#[test]
fn the_margin_only_tightens_over_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let o = fairtrain(&[
        "train",
        "--data",
        "synthetic",
        "--constraint",
        "demographic-parity",
        "--bound",
        "0.05",
        "--seed",
        "0",
        "--out",
        s(&out),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let look = MarginLook::parse(&stdout, "demographic-parity");
    let last_look_alone = 0.05 - (look.excess - look.half_width).max(look.standard_error);
    assert!(look.training_against <= last_look_alone + 1e-4, "{stdout}");
    assert!((0.0125..0.05).contains(&look.training_against), "{stdout}");
    let c = &metrics(&out)["test"]["constraints"][0];
    assert!((c["train_bound"].as_f64().unwrap() - look.training_against).abs() < 1e-4, "{c}");
}

#[test]
fn fixed_margin_and_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("fixed");
    let o = fairtrain(&[
        "train",
        "--data",
        "synthetic",
        "--iterations",
        "300",
        "--margin",
        "0.002",
        "--quiet",
        "--out",
        s(&out),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let tb = metrics(&out)["test"]["constraints"][0]["train_bound"].as_f64().unwrap();
    assert!((tb - 0.003).abs() < 1e-12, "{tb}");
    let x = tmp.path().join("x");
    for (args, expected) in [
        (vec!["--select", "best-feasible", "--validation-fraction", "0"], "need a validation split"),
        (vec!["--margin", "auto", "--validation-fraction", "0"], "need a validation split"),
        (vec!["--margin", "lots"], "invalid value for margin: 'lots'"),
        (vec!["--validation-fraction", "1.5"], "invalid value for validation-fraction: 1.5"),
    ] {
        let mut all = vec!["train", "--data", "synthetic", "--out", s(&x)];
        all.extend(args);
        let o = fairtrain(&all);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains(expected), "{expected}: {err}");
    }
}

/// Trains `data` under `constraint` at `bound` with the default and the
/// paper presets for each seed: the defaults end feasible on the training
/// data with the test value within the bound plus its 95% half-width;
/// returns on how many seeds the paper preset ended infeasible on train,
/// and on how many the defaults trained against a tighter bound.
fn paper_infeasible_where_defaults_hold(data: &str, constraint: &str, bound: &str, seeds: &[&str]) -> (usize, usize) {
    let tmp = tempfile::tempdir().unwrap();
    let b: f64 = bound.parse().unwrap();
    let (mut paper_infeasible, mut margins) = (0, 0);
    for &seed in seeds {
        let mut violations = Vec::new();
        for preset in ["default", "paper"] {
            let out = tmp.path().join(format!("{preset}-{seed}"));
            let o = fairtrain(&[
                "train",
                "--data",
                data,
                "--constraint",
                constraint,
                "--bound",
                bound,
                "--preset",
                preset,
                "--seed",
                seed,
                "--iterations",
                "20000",
                "--quiet",
                "--out",
                s(&out),
            ]);
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            let m = metrics(&out);
            violations.push(m["train"]["max_violation"].as_f64().unwrap());
            if preset == "default" {
                margins += m["test"]["constraints"][0].get("train_bound").is_some() as usize;
                let c = &m["test"]["constraints"][0];
                let (value, half) = (c["value"].as_f64().unwrap(), c["ci_half_width"].as_f64().unwrap());
                assert!(value <= b + half, "{data} seed {seed}: test {value} > {b} + {half}");
            }
        }
        assert!(violations[0] <= 0.0, "{data} seed {seed}: the defaults end infeasible ({})", violations[0]);
        paper_infeasible += (violations[1] > 0.0) as usize;
    }
    (paper_infeasible, margins)
}

/// German credit with demographic parity at 0.05 (800 training rows, 248
/// of them female): the paper's fixed settings end infeasible on the
/// training data for seeds 0-2; the defaults (validation split, margin,
/// selection) end feasible, and the test value lies within the bound plus
/// its 95% half-width.
#[test]
fn defaults_end_feasible_where_the_paper_preset_does_not() {
    let (n, _) = paper_infeasible_where_defaults_hold("german", "demographic-parity", "0.05", &["0", "1", "2"]);
    // (Measured: infeasible on all three, by 0.0035 to 0.0075.)
    assert!(n >= 2, "the paper preset ended feasible on {} of 3 seeds", 3 - n);
    // The margin triggers where validation shows overfitting beyond its
    // noise: with multipliers on single-batch estimates the MLP overfits
    // 800 rows by a quarter of the budget (DP +0.19 and +0.18 from train on
    // seeds 0 and 1, half-widths 0.15 and 0.14). (On averaged estimates, or
    // at the positive-rate default temperature 0.5, it overfits less by
    // then, at the edge of the noise: the run pins the settings under which
    // the overfitting shows.) (Measured: training against 0.0125 and 0.0256,
    // half-widths 0.151 and 0.152 from 1,000 resamples.)
    let tmp = tempfile::tempdir().unwrap();
    for seed in ["0", "1"] {
        let out = tmp.path().join(seed);
        let o = fairtrain(&[
            "train",
            "--data",
            "german",
            "--constraint",
            "demographic-parity",
            "--bound",
            "0.05",
            "--seed",
            seed,
            "--constraint-averaging",
            "1",
            "--temperature",
            "0.25",
            "--quiet",
            "--out",
            s(&out),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let c = &metrics(&out)["test"]["constraints"][0];
        assert!(c["train_bound"].as_f64().is_some_and(|b| b < 0.04), "seed {seed}: {c}");
    }
}

/// A noisy, shifted group (30% of the rows, logit scale 0.3, shift -1)
/// under loss parity at 0.005: the paper's settings end on the edge of the
/// bound and over it on most seeds; the defaults end inside it.
#[test]
fn defaults_end_feasible_on_a_noisy_shifted_group() {
    let data = "synthetic:minority=0.3,signal=0.3,shift=-1";
    let (n, _) = paper_infeasible_where_defaults_hold(data, "loss-parity", "0.005", &["1", "2", "4"]);
    // (Measured: over the bound on seeds 1, 2 and 4, by 0.00005 to 0.0006.)
    assert!(n >= 2, "the paper preset ended feasible on {} of 3 seeds", 3 - n);
}
