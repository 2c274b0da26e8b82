use crate::model::TabularModel;
use std::sync::Arc;

use super::*;
use crate::algorithms::{AlgorithmConfig, AlgorithmName, PrimalConfig, PrimalKind};
use crate::constraints::{ConstraintSet, FairnessConstraint, Notion};
use crate::data::{DataSource, LoadOptions, load};
use crate::model::Mlp;
use crate::model::loss::bce_with_logits;
use crate::problem::{BatchSizes, MinibatchControl, Problem, ProblemState, Request, TabularProblem};
use crate::train::{Budget, TrainerConfig, train};

fn synthetic() -> Dataset {
    load(&DataSource::Synthetic, &LoadOptions::default()).unwrap().encoded.train
}

/// The same parameters give the native MLP's logits and gradients.
#[test]
fn matches_the_native_mlp() {
    let data = synthetic();
    let native = Mlp::new(data.n_inputs(), &[8, 4]).unwrap();
    let params = native.init_params(7);
    let dev = device("cpu").unwrap();
    let burn = BurnModel::new(BurnMlp::new(data.n_inputs(), &[8, 4], &dev), data.n_inputs(), dev);
    assert_eq!(burn.n_params(), native.n_params());
    let rows: Vec<u32> = (0..40).map(|i| i * 13).collect();
    let dz: Vec<f32> = (0..40).map(|i| if i % 5 == 0 { 0.0 } else { (i as f32 - 20.0) / 10.0 }).collect();
    let (mut a, mut b) = (vec![0.0; 40], vec![0.0; 40]);
    let mut ws = native.workspace(40);
    native.forward(&params, &data, &rows, &mut ws, 0, &mut a);
    let mut bws = burn.workspace(40);
    burn.forward(&params, &data, &rows, &mut bws, 0, &mut b);
    for (x, y) in a.iter().zip(&b) {
        assert!((x - y).abs() < 1e-4, "logits {x} vs {y}");
    }
    let (mut ga, mut gb) = (vec![0.0; params.len()], vec![0.0; params.len()]);
    native.backward(&params, &data, &rows, &mut ws, 0, &dz, &mut ga);
    burn.backward(&params, &data, &rows, &mut bws, 0, &dz, &mut gb);
    let scale = ga.iter().map(|g| g.abs()).fold(0.0f32, f32::max);
    for (k, (x, y)) in ga.iter().zip(&gb).enumerate() {
        assert!((x - y).abs() <= 1e-4 * scale.max(1.0), "gradient {k}: {x} vs {y}");
    }
}

/// SSL-ALM trains a burn MLP under loss parity and ends where the
/// native backend does from the same start: the two compute the same
/// functions, so only float rounding separates their trajectories.
#[test]
fn ssl_alm_reaches_the_native_solution() {
    let data = Arc::new(synthetic());
    let bound = FairnessConstraint::new(Notion::LossParity, 0.02).unwrap();
    let batches = BatchSizes { objective: 16, per_group: 16 };
    let native = Mlp::new(data.n_inputs(), &[8]).unwrap();
    let params = native.init_params(3);
    let run = |problem: &mut dyn Problem| {
        let mut alg = AlgorithmConfig::paper(AlgorithmName::SslAlm).build().unwrap();
        train(problem, alg.as_mut(), &TrainerConfig::new(Budget::Iterations(1_500)), &mut ()).unwrap();
        problem.estimate(Request::Both).unwrap();
        problem.params().to_vec()
    };
    let constraints = || ConstraintSet::new(vec![bound.clone()], &data).unwrap();
    let mut p1 = TabularProblem::new(native.clone(), params.clone(), data.clone(), constraints(), batches, 3).unwrap();
    let a = run(&mut p1);
    let dev = device("cpu").unwrap();
    let model = BurnModel::new(BurnMlp::new(data.n_inputs(), &[8], &dev), data.n_inputs(), dev);
    let mut p2 = TabularProblem::new(model, params, data.clone(), constraints(), batches, 3).unwrap();
    let b = run(&mut p2);
    let frame = |p: &[f32]| crate::evaluation::GroupFrame::from_model(&native, p, &data, 1);
    let (fa, fb) = (frame(&a), frame(&b));
    let gap = |f: &crate::evaluation::GroupFrame| (f.group(0).loss().unwrap() - f.group(1).loss().unwrap()).abs();
    assert!((fa.overall().loss().unwrap() - fb.overall().loss().unwrap()).abs() < 0.01);
    assert!((gap(&fa) - gap(&fb)).abs() < 0.01, "loss gaps {} vs {}", gap(&fa), gap(&fb));
    assert!(gap(&fb) < 0.02 + 0.01, "burn run's train loss gap {}", gap(&fb));
}

/// Data-parallel on burn: two members (threads) forward half the rows
/// each, holding every row or a share of the rows' features, and get the
/// estimates and gradient of the whole minibatch.
#[test]
fn members_of_a_group_split_the_minibatch() {
    use crate::distributed::{Collective, ThreadGroup};
    let data = Arc::new(synthetic());
    let outcomes = Arc::new(
        crate::data::Dataset::outcomes_of(
            data.layout().clone(),
            data.group_names_arc().clone(),
            data.labels().to_vec(),
            data.groups().to_vec(),
            None,
        )
        .unwrap(),
    );
    let bound = FairnessConstraint::new(Notion::EqualizedOdds, 0.05).unwrap();
    let batches = BatchSizes { objective: 24, per_group: 11 };
    let params = Mlp::new(data.n_inputs(), &[8]).unwrap().init_params(4);
    let build_on = |rows: &Arc<crate::data::Dataset>| {
        let dev = device("cpu").unwrap();
        let model = BurnModel::new(BurnMlp::new(data.n_inputs(), &[8], &dev), data.n_inputs(), dev);
        let set = ConstraintSet::new(vec![bound.clone()], rows).unwrap();
        TabularProblem::new(model, params.clone(), rows.clone(), set, batches, 4).unwrap()
    };
    let build = || build_on(&data);
    let step = |p: &mut dyn Problem| {
        p.estimate(Request::Both).unwrap();
        let weights: Vec<f32> = (0..p.num_constraints()).map(|i| 0.5 + i as f32).collect();
        let mut grad = vec![0.0; p.num_params()];
        p.add_gradient(1.0, &weights, &mut grad).unwrap();
        (p.last_estimate().constraints.clone(), grad)
    };
    let (values, grad) = step(&mut build());
    let members: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = ThreadGroup::new(2)
            .into_iter()
            .map(|m| {
                let mut p = build().with_collective(Arc::new(m));
                s.spawn(move || step(&mut p))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let shared: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = ThreadGroup::new(2)
            .into_iter()
            .map(|m| {
                let half = data.n_rows() / 2;
                let rows: Vec<usize> =
                    if m.rank() == 0 { (0..half).collect() } else { (half..data.n_rows()).collect() };
                let share = Arc::new(data.subset(&rows).unwrap());
                let p = build_on(&outcomes);
                // (`with_share` exchanges the shares: on the members' threads.)
                s.spawn(move || step(&mut p.with_share(Arc::new(m), share, rows[0]).unwrap()))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect::<Vec<_>>()
    });
    for (v, g) in members.into_iter().chain(shared) {
        for (a, b) in v.iter().zip(&values) {
            assert!((a - b).abs() < 1e-5, "constraint {a} vs {b}");
        }
        for (a, b) in g.iter().zip(&grad) {
            assert!((a - b).abs() < 1e-5, "gradient {a} vs {b}");
        }
    }
}

/// Statistics on the device give the estimates and gradients of the
/// host path, for every statistic (every notion and a custom gap of
/// FNR and error rate), with sample weights, through the problem's
/// whole protocol: fresh estimates, several gradients of one forward
/// (burn's graph serves one backward, later ones forward again), moved
/// parameters, half-row selections, objective-only and
/// constraint-only estimates. `FAIRTRAIN_TEST_DEVICE=wgpu` (or `cuda`)
/// runs both paths on that device (with its cargo feature).
#[test]
fn device_statistics_match_the_host_path() {
    use crate::constraints::{Comparison, ConstraintKind, Statistic};
    use crate::problem::RowSelection;
    let plain = synthetic();
    let weights: Vec<f32> = (0..plain.n_rows()).map(|i| 0.25 + (i % 7) as f32 * 0.3).collect();
    let data = Arc::new(plain.with_weights(weights).unwrap());
    let mut bounds: Vec<FairnessConstraint> = Notion::ALL
        .iter()
        .map(|&n| {
            let bound = n.default_bound().unwrap_or(if n == Notion::WeightNorm { 50.0 } else { 0.6 });
            FairnessConstraint::new(n, bound).unwrap()
        })
        .collect();
    let kind = ConstraintKind::Gap {
        statistics: vec![Statistic::Fnr, Statistic::ErrorRate],
        comparison: Comparison::Pairwise,
    };
    bounds.push(FairnessConstraint::custom("fnr-and-error-gap", kind, 0.05).unwrap());
    let batches = BatchSizes { objective: 40, per_group: 12 };
    let params = Mlp::new(data.n_inputs(), &[8]).unwrap().init_params(9);
    let device_name = std::env::var("FAIRTRAIN_TEST_DEVICE").unwrap_or_else(|_| "cpu".into());
    let build = |on_device: bool| {
        let dev = device(&device_name).unwrap();
        let mut model = BurnModel::new(BurnMlp::new(data.n_inputs(), &[8], &dev), data.n_inputs(), dev);
        if !on_device {
            model = model.with_host_statistics();
        }
        assert_eq!(model.device_statistics().is_some(), on_device);
        let set = ConstraintSet::new(bounds.clone(), &data).unwrap();
        TabularProblem::new(model, params.clone(), data.clone(), set, batches, 6).unwrap()
    };
    let (mut host, mut dev) = (build(false), build(true));
    let m = host.num_constraints();
    let close = |what: &str, a: &[f32], b: &[f32]| {
        let scale = a.iter().map(|v| v.abs()).fold(1.0f32, f32::max);
        for (k, (x, y)) in a.iter().zip(b).enumerate() {
            assert!((x - y).abs() <= 2e-5 * scale, "{what}[{k}]: host {x} vs device {y}");
        }
    };
    let same_estimates = |what: &str, h: &TabularProblem<_>, d: &TabularProblem<_>| {
        let (a, b) = (h.last_estimate(), d.last_estimate());
        close(&format!("{what}: objective"), &[a.objective], &[b.objective]);
        close(&format!("{what}: constraints"), &a.constraints, &b.constraints);
        close(&format!("{what}: exact constraints"), &a.exact_constraints, &b.exact_constraints);
    };
    let weights: Vec<f32> = (0..m).map(|i| 0.2 + 0.1 * i as f32).collect();
    let gradient = |p: &mut dyn Problem, objective: f32, constraints: &[f32]| {
        let mut g = vec![0.0; p.num_params()];
        p.add_gradient(objective, constraints, &mut g).unwrap();
        g
    };
    for round in 0..3 {
        for p in [&mut host as &mut dyn Problem, &mut dev] {
            p.estimate(Request::Both).unwrap();
        }
        same_estimates("fresh", &host, &dev);
        close("combined gradient", &gradient(&mut host, 0.7, &weights), &gradient(&mut dev, 0.7, &weights));
        for i in [0, 3, m - 1] {
            let (mut a, mut b) = (vec![0.0; host.num_params()], vec![0.0; host.num_params()]);
            host.add_constraint_gradient(i, &mut a).unwrap();
            dev.add_constraint_gradient(i, &mut b).unwrap();
            close(&format!("gradient of constraint {i}"), &a, &b);
        }
        let statistics = host.constraint_factors().map_or(0, |f| f.statistics());
        assert!(statistics > 0);
        for k in 0..statistics {
            let (mut a, mut b) = (vec![0.0; host.num_params()], vec![0.0; host.num_params()]);
            host.add_statistic_gradient(k, &mut a).unwrap();
            dev.add_statistic_gradient(k, &mut b).unwrap();
            close(&format!("gradient of statistic {k}"), &a, &b);
        }
        // A step moves the parameters: the next gradient forwards again.
        let g = gradient(&mut host, 1.0, &weights);
        for p in [&mut host as &mut dyn Problem, &mut dev] {
            for (x, d) in p.params_mut().iter_mut().zip(&g) {
                *x -= 0.05 * d;
            }
        }
        close("gradient after a step", &gradient(&mut host, 1.0, &weights), &gradient(&mut dev, 1.0, &weights));
        same_estimates("after a step", &host, &dev);
        if round == 1 {
            for selection in [RowSelection::Even, RowSelection::Odd, RowSelection::All] {
                host.select_rows(selection).unwrap();
                dev.select_rows(selection).unwrap();
                same_estimates(&format!("{selection:?} rows"), &host, &dev);
                close("selected gradient", &gradient(&mut host, 0.3, &weights), &gradient(&mut dev, 0.3, &weights));
            }
        }
        if round == 2 {
            host.estimate(Request::Objective).unwrap();
            dev.estimate(Request::Objective).unwrap();
            same_estimates("objective only", &host, &dev);
            close(
                "objective gradient",
                &gradient(&mut host, 1.0, &vec![0.0; m]),
                &gradient(&mut dev, 1.0, &vec![0.0; m]),
            );
            host.estimate(Request::Constraints).unwrap();
            dev.estimate(Request::Constraints).unwrap();
            same_estimates("constraints only", &host, &dev);
            close("constraint gradient", &gradient(&mut host, 0.0, &weights), &gradient(&mut dev, 0.0, &weights));
        }
    }
}

/// The paper's configuration of `name` with its primal step replaced.
fn with_primal(name: AlgorithmName, primal: PrimalConfig) -> AlgorithmConfig {
    match AlgorithmConfig::paper(name) {
        AlgorithmConfig::Lagrangian { name, dual, .. } => AlgorithmConfig::Lagrangian { name, dual, primal },
        AlgorithmConfig::Unconstrained { name, .. } => AlgorithmConfig::Unconstrained { name, primal },
        other => other,
    }
}

/// Primal steps taken on the device (gradient, optimizer state and
/// parameters all stay there) follow the same steps taken on the host,
/// for every optimizer (SGD with the SSL-ALM smoothing, momentum, Adam,
/// RMSProp), the switching subgradient and a weight-norm constraint
/// (its norm is computed on the device); parameters edited on the host
/// in between are honoured. Meanwhile no parameter vector or gradient
/// crosses: one upload at the start, one download at the end.
#[test]
fn primal_steps_on_the_device_follow_the_host() {
    let data = Arc::new(synthetic());
    let bounds = vec![
        FairnessConstraint::new(Notion::DemographicParity, 0.05).unwrap(),
        FairnessConstraint::new(Notion::WeightNorm, 4.0).unwrap(),
    ];
    let params = Mlp::new(data.n_inputs(), &[8]).unwrap().init_params(4);
    let device_name = std::env::var("FAIRTRAIN_TEST_DEVICE").unwrap_or_else(|_| "cpu".into());
    let build = || {
        let dev = device(&device_name).unwrap();
        let model =
            BurnModel::new(BurnMlp::new(data.n_inputs(), &[8], &dev), data.n_inputs(), dev).with_params_on_device(true);
        let set = ConstraintSet::new(bounds.clone(), &data).unwrap();
        TabularProblem::new(model, params.clone(), data.clone(), set, BatchSizes { objective: 32, per_group: 16 }, 2)
            .unwrap()
    };
    let configs = [
        AlgorithmConfig::paper(AlgorithmName::SslAlm),
        with_primal(AlgorithmName::Gda, PrimalConfig { momentum: 0.9, ..PrimalConfig::sgd(0.01) }),
        with_primal(AlgorithmName::Alm, PrimalConfig::adam(0.005)),
        with_primal(AlgorithmName::Nupi, PrimalConfig { kind: PrimalKind::RmsProp, ..PrimalConfig::sgd(0.002) }),
        AlgorithmConfig::paper(AlgorithmName::Ssw),
        AlgorithmConfig::paper(AlgorithmName::Adam),
    ];
    for config in configs {
        let (mut host, mut dev) = (build().keep_params_on_host(), build());
        assert!(!host.params_on_device() && dev.params_on_device());
        let (mut a, mut b) = (config.build().unwrap(), config.build().unwrap());
        let name = a.name();
        for step in 0..120 {
            a.step(&mut host).unwrap();
            b.step(&mut dev).unwrap();
            if step == 60 {
                host.params_mut()[3] += 0.25;
                dev.params_mut()[3] += 0.25;
            }
        }
        assert_eq!(dev.workspace().parameter_transfers(), 3, "{name}: an upload, then the edit's download and upload");
        dev.sync_params().unwrap();
        assert_eq!(dev.workspace().parameter_transfers(), 4, "{name}: and one download at the end");
        assert!(host.workspace().parameter_transfers() >= 240, "{name}: the host path crosses every step");
        let scale = host.params().iter().fold(1.0f32, |m, v| m.max(v.abs()));
        for (k, (x, y)) in host.params().iter().zip(dev.params()).enumerate() {
            assert!((x - y).abs() <= 2e-4 * scale, "{name}: parameter {k}: host {x}, device {y}");
        }
        let (e, f) = (host.last_estimate(), dev.last_estimate());
        assert!((e.objective - f.objective).abs() < 1e-4, "{name}: {} vs {}", e.objective, f.objective);
        // The unconstrained baseline never estimates the constraints.
        for (c, d) in e.constraints.iter().zip(&f.constraints).filter(|_| a.uses_constraints()) {
            assert!((c - d).abs() < 1e-3, "{name}: constraints {e:?} vs {f:?}");
        }
    }
    let err = build().save_state().unwrap_err().to_string();
    assert!(err.contains("keep_params_on_host"), "{err}");
}

/// Cross-entropy with positives weighing `pos_weight`, given by its
/// losses alone (the derivative comes from autodiff).
#[derive(Debug, Clone)]
struct WeightedBce {
    pos_weight: f32,
}

impl RowLoss for WeightedBce {
    fn losses(&self, z: Tensor<1>, y: Tensor<1>) -> Tensor<1> {
        use burn::tensor::activation::softplus;
        softplus(z.clone().neg(), 1.0) * y.clone() * self.pos_weight + softplus(z, 1.0) * (y.neg() + 1.0)
    }
}

/// Binary cross-entropy given by its losses alone, `softplus(z) - z y`
/// (smooth everywhere, unlike the stable form's `|z|`, whose autodiff
/// derivative at 0 is a subgradient).
#[derive(Debug, Clone)]
struct PlainBce;

impl RowLoss for PlainBce {
    fn losses(&self, z: Tensor<1>, y: Tensor<1>) -> Tensor<1> {
        burn::tensor::activation::softplus(z.clone(), 1.0) - z * y
    }
}

/// A loss of the user's own: autodiff gives its derivatives (checked
/// against the closed forms), the objective and loss parity are its
/// means (checked against a hand computation over all rows), the
/// device and host paths agree, and the per-group report uses it.
#[test]
fn a_loss_of_ones_own_trains_and_reports() {
    let inner = device("cpu").unwrap().inner();
    let zs = [-3.0f32, -0.5, 0.0, 0.7, 4.0, 1.5];
    let ys = [1.0f32, 0.0, 1.0, 0.0, 1.0, 1.0];
    let tensor = |v: &[f32]| Tensor::<1>::from_data(TensorData::new(v.to_vec(), [v.len()]), &inner);
    let download = |t: Tensor<1>| t.into_data().try_to_vec::<f32>().unwrap();
    let sig = |z: f32| 1.0 / (1.0 + (-z).exp());
    let weighted = WeightedBce { pos_weight: 3.0 };
    let (l, d) = weighted.losses_and_derivatives(tensor(&zs), tensor(&ys));
    let (l, d) = (download(l), download(d));
    let (pl, pd) = PlainBce.losses_and_derivatives(tensor(&zs), tensor(&ys));
    let (pl, pd) = (download(pl), download(pd));
    for i in 0..zs.len() {
        let (z, y) = (zs[i], ys[i]);
        let expected = 3.0 * y * -(sig(z).ln()) + (1.0 - y) * -((1.0 - sig(z)).ln());
        assert!((l[i] - expected).abs() < 1e-5, "loss at z={z}, y={y}: {} vs {expected}", l[i]);
        let slope = 3.0 * y * (sig(z) - 1.0) + (1.0 - y) * sig(z);
        assert!((d[i] - slope).abs() < 1e-5, "derivative at z={z}, y={y}: {} vs {slope}", d[i]);
        let (bl, bd) = bce_with_logits(z, y);
        assert!((pl[i] - bl).abs() < 1e-5 && (pd[i] - bd).abs() < 1e-5, "autodiff BCE at z={z}");
    }

    let data = Arc::new(synthetic());
    let n = data.n_rows();
    let params = Mlp::new(data.n_inputs(), &[8]).unwrap().init_params(3);
    let bound = vec![FairnessConstraint::new(Notion::LossParity, 0.05).unwrap()];
    let build = |host: bool| {
        let dev = device("cpu").unwrap();
        let mut model =
            BurnModel::new(BurnMlp::new(data.n_inputs(), &[8], &dev), data.n_inputs(), dev).with_loss(weighted.clone());
        if host {
            model = model.with_host_statistics();
        }
        let set = ConstraintSet::new(bound.clone(), &data).unwrap();
        TabularProblem::new(model, params.clone(), data.clone(), set, BatchSizes { objective: n, per_group: 40 }, 1)
            .unwrap()
    };
    let (mut dev, mut host) = (build(false), build(true));
    let logits = dev.model().logits(&params, &data);
    let row_loss = |i: usize| {
        let (z, y) = (logits[i], data.labels()[i]);
        3.0 * y * -(sig(z).ln()) + (1.0 - y) * -((1.0 - sig(z)).ln())
    };
    let expected = (0..n).map(row_loss).sum::<f32>() / n as f32;
    for p in [&mut dev as &mut dyn Problem, &mut host] {
        p.estimate(Request::Both).unwrap();
        let objective = p.last_estimate().objective;
        assert!((objective - expected).abs() < 1e-4 * expected, "objective {objective} vs {expected}");
    }
    let (a, b) = (dev.last_estimate(), host.last_estimate());
    for (x, y) in a.constraints.iter().zip(&b.constraints) {
        assert!((x - y).abs() < 1e-4, "loss parity: device {x} vs host {y}");
    }
    let (mut ga, mut gb) = (vec![0.0; dev.num_params()], vec![0.0; dev.num_params()]);
    dev.add_gradient(1.0, &[0.5, 0.5], &mut ga).unwrap();
    host.add_gradient(1.0, &[0.5, 0.5], &mut gb).unwrap();
    let scale = ga.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
    for (x, y) in ga.iter().zip(&gb) {
        assert!((x - y).abs() < 1e-4 * scale, "gradient: device {x} vs host {y}");
    }
    let frame =
        crate::evaluation::GroupFrame::from_model_losses(dev.model(), &data, &dev.model().logits(&params, &data));
    for g in 0..data.n_groups() {
        let rows = data.group_rows(g);
        let mean = rows.iter().map(|&r| row_loss(r as usize) as f64).sum::<f64>() / rows.len() as f64;
        let reported = frame.group(g).loss().unwrap();
        assert!((reported - mean).abs() < 1e-4 * mean, "group {g}: reported loss {reported} vs {mean}");
    }
}

/// On the CPU the parameters stay on the host unless asked; a device
/// with memory of its own keeps them.
#[test]
fn parameters_stay_where_the_update_is_fastest() {
    let dev = device("cpu").unwrap();
    let model = BurnModel::new(BurnMlp::new(4, &[2], &dev), 4, dev);
    assert!(!model.keeps_params());
    assert!(model.with_params_on_device(true).keeps_params());
    #[cfg(feature = "wgpu")]
    if std::env::var("FAIRTRAIN_TEST_DEVICE").as_deref() == Ok("wgpu") {
        let dev = device("wgpu").unwrap();
        assert!(BurnModel::new(BurnMlp::new(4, &[2], &dev), 4, dev).keeps_params());
    }
}

#[test]
fn unknown_and_missing_devices_are_named() {
    assert_eq!(device("tpu").unwrap_err().to_string(), "invalid value for device: 'tpu' (known: cpu, cuda, wgpu)");
    #[cfg(not(feature = "cuda"))]
    assert!(device("cuda").unwrap_err().to_string().contains("build with `--features cuda`"));
}
