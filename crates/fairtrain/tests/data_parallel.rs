//! Data-parallel training is exact: members of a process group (simulated
//! by threads, [`ThreadGroup`]; the MPI build runs the same code over
//! `mpirun`, see the CLI's `mpi_cli` test) reach the parameters and
//! multipliers of one process on the union batch, for every algorithm
//! family and for rate constraints, whose per-process ratios would not
//! average to the union's.

use std::sync::Arc;

use fairtrain::algorithms::{AlgorithmConfig, AlgorithmName};
use fairtrain::constraints::{ConstraintSet, FairnessConstraint, Notion};
use fairtrain::data::{DataSource, Dataset, LoadOptions, load};
use fairtrain::distributed::{Collective, ThreadGroup};
use fairtrain::model::Mlp;
use fairtrain::problem::{BatchSizes, Problem, Request, TabularProblem};
use fairtrain::train::{Budget, TrainerConfig, train};

fn synthetic() -> Arc<Dataset> {
    Arc::new(load(&DataSource::Synthetic, &LoadOptions::default()).unwrap().encoded.train)
}

fn problem(data: &Arc<Dataset>, notions: &[(Notion, f64)], batch: BatchSizes) -> TabularProblem {
    let constraints = notions.iter().map(|&(n, b)| FairnessConstraint::new(n, b).unwrap()).collect();
    let set = ConstraintSet::new(constraints, data).unwrap();
    let mlp = Mlp::new(data.n_inputs(), &[16]).unwrap();
    // Stochastic Ghost takes discrete steps (which constraints its QP keeps
    // active); at the positive-rate default temperature (0.5) one of them
    // falls within rounding of its switch on this problem, and 1 and 3
    // processes (sums in another order) take different branches. The test
    // is about the sums, so it keeps the temperature it was written at.
    TabularProblem::new(mlp.clone(), mlp.init_params(3), data.clone(), set, batch, 3)
        .and_then(|p| p.with_temperature(fairtrain::constraints::DEFAULT_TEMPERATURE))
        .unwrap()
}

/// Final parameters and multipliers of `iterations` steps of `name`.
fn run(mut problem: TabularProblem, name: AlgorithmName, iterations: u64) -> (Vec<f32>, Vec<f32>) {
    let n_rows = problem.data().n_rows();
    let config = AlgorithmConfig::paper(name).for_run(n_rows, problem.batch_sizes().objective, 3);
    let mut algorithm = config.build().unwrap();
    let mut trainer = TrainerConfig::new(Budget::Iterations(iterations));
    trainer.average = 0.0;
    train(&mut problem, algorithm.as_mut(), &trainer, &mut ()).unwrap();
    (problem.params().to_vec(), algorithm.multipliers().to_vec())
}

/// The same run on `members` threads, one problem each.
fn run_parallel(
    members: usize,
    build: impl Fn() -> TabularProblem + Sync,
    name: AlgorithmName,
    iterations: u64,
) -> Vec<(Vec<f32>, Vec<f32>)> {
    std::thread::scope(|s| {
        let handles: Vec<_> = ThreadGroup::new(members)
            .into_iter()
            .map(|m| {
                let p = build().with_collective(Arc::new(m));
                s.spawn(move || run(p, name, iterations))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn members_reach_the_single_process_solution_for_every_algorithm_family() {
    let data = synthetic();
    let batch = BatchSizes { objective: 64, per_group: 30 };
    let notions = [(Notion::DemographicParity, 0.02), (Notion::LossParity, 0.01)];
    for name in [
        AlgorithmName::SslAlm,
        AlgorithmName::Ssw,
        AlgorithmName::Alm,
        AlgorithmName::Nupi,
        AlgorithmName::Ghost,
        AlgorithmName::ProxyLagrangian,
    ] {
        let (params, multipliers) = run(problem(&data, &notions, batch), name, 300);
        let results = run_parallel(3, || problem(&data, &notions, batch), name, 300);
        let scale = params.iter().fold(0.0f32, |m, p| m.max(p.abs()));
        for (rank, (p, l)) in results.iter().enumerate() {
            // Every member holds the same bits: they took the same sums.
            assert_eq!(p, &results[0].0, "{name}: member {rank} drifted from member 0");
            let dp = max_diff(p, &params);
            assert!(dp < 1e-4 * scale.max(1.0), "{name}: parameters differ by {dp} (largest {scale})");
            let dl = max_diff(l, &multipliers);
            assert!(dl < 1e-4, "{name}: multipliers differ by {dl} ({l:?} vs {multipliers:?})");
        }
        // The constraints bind: the runs are not trivially unconstrained.
        let binds = multipliers.iter().any(|&m| m > 0.0);
        assert!(binds || matches!(name, AlgorithmName::Ssw | AlgorithmName::Ghost), "{name}: no active multiplier");
        eprintln!(
            "{name}: parameters within {:.1e}, multipliers within {:.1e}",
            max_diff(&results[0].0, &params),
            max_diff(&results[0].1, &multipliers)
        );
    }
}

#[test]
fn rate_estimates_are_the_union_batchs_not_the_mean_of_the_members() {
    // Uneven shares (31 rows over 2 members): the per-member positive rates
    // average to something else than the rate over all 31 rows.
    let data = synthetic();
    let batch = BatchSizes { objective: 33, per_group: 31 };
    let notions = [(Notion::DemographicParity, 0.0), (Notion::EqualOpportunity, 0.0)];
    let mut alone = problem(&data, &notions, batch);
    alone.estimate(Request::Both).unwrap();
    let expected = alone.last_estimate().clone();
    let mut expected_grad = vec![0.0; alone.num_params()];
    alone.add_gradient(0.7, &[1.0, -0.5, 0.25, 2.0], &mut expected_grad).unwrap();

    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = ThreadGroup::new(2)
            .into_iter()
            .map(|m| {
                let mut p = problem(&data, &notions, batch).with_collective(Arc::new(m));
                s.spawn(move || {
                    p.estimate(Request::Both).unwrap();
                    let mut grad = vec![0.0; p.num_params()];
                    p.add_gradient(0.7, &[1.0, -0.5, 0.25, 2.0], &mut grad).unwrap();
                    (p.last_estimate().clone(), grad)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (estimate, grad) in &results {
        assert!((estimate.objective - expected.objective).abs() < 1e-6);
        for (a, b) in estimate.constraints.iter().zip(&expected.constraints) {
            assert!((a - b).abs() < 1e-6, "smooth {a} vs {b}");
        }
        // Hard rates are ratios of counts: exactly equal.
        assert_eq!(estimate.exact_constraints, expected.exact_constraints);
        assert!(max_diff(grad, &expected_grad) < 1e-6);
    }
}

#[test]
fn a_member_forwards_only_its_share() {
    // Two members each see half the rows: a gradient computed by one member
    // alone (the other contributing zeros) differs from the group's.
    let data = synthetic();
    let batch = BatchSizes { objective: 40, per_group: 20 };
    let notions = [(Notion::LossParity, 0.01)];
    let mut alone = problem(&data, &notions, batch);
    alone.estimate(Request::Both).unwrap();
    let mut full = vec![0.0; alone.num_params()];
    alone.add_gradient(1.0, &[0.0, 0.0], &mut full).unwrap();

    /// A group of two in which the other member never contributes.
    #[derive(Debug)]
    struct HalfGroup;
    impl Collective for HalfGroup {
        fn rank(&self) -> usize {
            0
        }
        fn size(&self) -> usize {
            2
        }
        fn sum(&self, _values: &mut [f32]) {}
        fn gather(&self, bytes: &[u8]) -> Vec<Vec<u8>> {
            vec![bytes.to_vec(), Vec::new()]
        }
    }
    let mut half = problem(&data, &notions, batch).with_collective(Arc::new(HalfGroup));
    half.estimate(Request::Both).unwrap();
    let mut grad = vec![0.0; half.num_params()];
    half.add_gradient(1.0, &[0.0, 0.0], &mut grad).unwrap();
    // Half the rows' gradient, divided by half the weight: a different
    // estimate of the same mean, close but not equal.
    assert!(max_diff(&grad, &full) > 1e-4);
    assert!((half.last_estimate().objective - alone.last_estimate().objective).abs() > 1e-5);
}

/// Every row's label, group and weight, without features.
fn outcomes(data: &Dataset) -> Arc<Dataset> {
    let weights = data.weights().map(<[f32]>::to_vec);
    let names = data.group_names_arc().clone();
    Arc::new(
        Dataset::outcomes_of(data.layout().clone(), names, data.labels().to_vec(), data.groups().to_vec(), weights)
            .unwrap(),
    )
}

/// `f` on each member of a group holding the rows `cuts[r]..cuts[r + 1]`
/// of `data` (the problem built on every row's outcomes, `all`).
fn on_shares<T: Send>(
    data: &Arc<Dataset>,
    cuts: &[usize],
    build: impl Fn(&Arc<Dataset>) -> TabularProblem + Sync,
    f: impl Fn(TabularProblem) -> T + Sync,
) -> Vec<T> {
    let all = outcomes(data);
    std::thread::scope(|s| {
        let handles: Vec<_> = ThreadGroup::new(cuts.len() - 1)
            .into_iter()
            .map(|m| {
                let (all, build, f) = (&all, &build, &f);
                s.spawn(move || {
                    let rows: Vec<usize> = (cuts[m.rank()]..cuts[m.rank() + 1]).collect();
                    let share = Arc::new(data.subset(&rows).unwrap());
                    f(build(all).with_share(Arc::new(m), share, rows[0]).unwrap())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn members_holding_shares_of_the_rows_reach_the_single_process_solution() {
    let data = synthetic();
    let batch = BatchSizes { objective: 64, per_group: 30 };
    let notions = [(Notion::DemographicParity, 0.02), (Notion::LossParity, 0.01)];
    // Uneven shares of the rows, contiguous in rank order.
    let cuts = [0, data.n_rows() / 5, data.n_rows() / 2, data.n_rows()];
    for name in [AlgorithmName::SslAlm, AlgorithmName::Ssw, AlgorithmName::Ghost, AlgorithmName::ProxyLagrangian] {
        let (params, multipliers) = run(problem(&data, &notions, batch), name, 300);
        let results = on_shares(&data, &cuts, |all| problem(all, &notions, batch), |p| run(p, name, 300));
        let scale = params.iter().fold(0.0f32, |m, p| m.max(p.abs()));
        for (rank, (p, l)) in results.iter().enumerate() {
            assert_eq!(p, &results[0].0, "{name}: member {rank} drifted from member 0");
            let dp = max_diff(p, &params);
            assert!(dp < 1e-4 * scale.max(1.0), "{name}: parameters differ by {dp} (largest {scale})");
            assert!(max_diff(l, &multipliers) < 1e-4, "{name}: multipliers {l:?} vs {multipliers:?}");
        }
    }
}

#[test]
fn shares_that_do_not_cover_the_rows_are_refused() {
    let data = synthetic();
    let all = outcomes(&data);
    let batch = BatchSizes { objective: 64, per_group: 30 };
    let errors: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = ThreadGroup::new(2)
            .into_iter()
            .map(|m| {
                let (all, data) = (&all, &data);
                s.spawn(move || {
                    // Both members claim the first half.
                    let rows: Vec<usize> = (0..data.n_rows() / 2).collect();
                    let share = Arc::new(data.subset(&rows).unwrap());
                    let p = problem(all, &[(Notion::DemographicParity, 0.02)], batch);
                    p.with_share(Arc::new(m), share, 0).err().unwrap().to_string()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let half = data.n_rows() / 2;
    for e in errors {
        assert_eq!(
            e,
            format!(
                "the processes' shares [(0, {half}), (0, {half})] do not cover the {} training rows in rank order, \
                 each with at least one row",
                data.n_rows()
            )
        );
    }
}

#[test]
fn estimates_over_shares_are_the_one_process_bits() {
    // Each row's terms are exchanged by position and summed in the order
    // drawn: the estimates are one process's, bit for bit (the gradient's
    // sum over rows is taken per process, so only it is rounded otherwise).
    let data = synthetic();
    let batch = BatchSizes { objective: 33, per_group: 31 };
    let notions = [(Notion::DemographicParity, 0.0), (Notion::EqualOpportunity, 0.0), (Notion::LossParity, 0.0)];
    let mut alone = problem(&data, &notions, batch);
    let mut expected = Vec::new();
    for _ in 0..5 {
        alone.estimate(Request::Both).unwrap();
        expected.push(alone.last_estimate().clone());
    }
    let cuts = [0, data.n_rows() / 3, data.n_rows()];
    let results = on_shares(
        &data,
        &cuts,
        |all| problem(all, &notions, batch),
        |mut p| {
            (0..5)
                .map(|_| {
                    p.estimate(Request::Both).unwrap();
                    p.last_estimate().clone()
                })
                .collect::<Vec<_>>()
        },
    );
    for estimates in results {
        for (got, want) in estimates.iter().zip(&expected) {
            assert_eq!(got.objective.to_bits(), want.objective.to_bits());
            assert_eq!(got.constraints, want.constraints);
            assert_eq!(got.exact_constraints, want.exact_constraints);
        }
    }
}
