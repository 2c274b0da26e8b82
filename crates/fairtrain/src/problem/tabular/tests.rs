use super::*;
use crate::constraints::LabelFilter;
use crate::constraints::{FairnessConstraint, Notion, Statistic};
use crate::data::{DataSource, LoadOptions, load};
use crate::model::loss::bce_with_logits;
use crate::problem::{MinibatchControl, Request, RowSelection};

fn problem_with(hidden: &[usize], constraints: Vec<FairnessConstraint>) -> TabularProblem {
    let data = load(&DataSource::Synthetic, &LoadOptions::default()).unwrap().encoded.train;
    let constraints = ConstraintSet::new(constraints, &data).unwrap();
    let mlp = Mlp::new(data.n_inputs(), hidden).unwrap();
    let params = mlp.init_params(5);
    TabularProblem::new(mlp, params, Arc::new(data), constraints, BatchSizes { objective: 6, per_group: 5 }, 5).unwrap()
}

fn problem(hidden: &[usize]) -> TabularProblem {
    problem_with(hidden, vec![FairnessConstraint::new(Notion::LossParity, 0.01).unwrap()])
}

/// Estimate recomputed naively from the slots' rows.
#[test]
fn estimates_match_direct_computation() {
    let mut p = problem(&[8, 4]);
    p.estimate(Request::Both).unwrap();
    let data = p.data().clone();
    let logits = p.model().logits(p.params(), &data, 1);
    let loss = |r: u32| bce_with_logits(logits[r as usize], data.labels()[r as usize]).0;
    let f: f32 = p.rows[..6].iter().map(|&r| loss(r)).sum::<f32>() / 6.0;
    assert!((p.last_estimate().objective - f).abs() < 1e-6);
    let la: f32 = p.rows[6..11].iter().map(|&r| loss(r)).sum::<f32>() / 5.0;
    let lb: f32 = p.rows[11..16].iter().map(|&r| loss(r)).sum::<f32>() / 5.0;
    assert!(p.rows[6..11].iter().all(|&r| data.groups()[r as usize] == 0));
    assert!(p.rows[11..16].iter().all(|&r| data.groups()[r as usize] == 1));
    let c = &p.last_estimate().constraints;
    assert!((c[0] - (la - lb - 0.01)).abs() < 1e-6);
    assert!((c[1] - (lb - la - 0.01)).abs() < 1e-6);
    // Loss-based constraints: exact and smooth agree.
    assert_eq!(&p.last_estimate().exact_constraints, c);
}

/// With sample weights, the objective and the group statistics are
/// weighted means over the minibatch, and the gradient is theirs.
#[test]
fn sample_weights_weight_estimates_and_gradients() {
    let data = load(&DataSource::Synthetic, &LoadOptions::default()).unwrap().encoded.train;
    let weights: Vec<f32> = (0..data.n_rows()).map(|i| (i % 3) as f32 + 0.5).collect();
    let data = Arc::new(data.with_weights(weights.clone()).unwrap());
    let constraints =
        ConstraintSet::new(vec![FairnessConstraint::new(Notion::LossParity, 0.01).unwrap()], &data).unwrap();
    let mlp = Mlp::new(data.n_inputs(), &[8]).unwrap();
    let params = mlp.init_params(5);
    let batch = BatchSizes { objective: 6, per_group: 5 };
    let mut p = TabularProblem::new(mlp, params, data.clone(), constraints, batch, 5).unwrap();
    p.estimate(Request::Both).unwrap();
    let logits = p.model().logits(p.params(), &data, 1);
    let loss = |r: u32| bce_with_logits(logits[r as usize], data.labels()[r as usize]).0;
    let mean = |rows: &[u32]| {
        let w: f32 = rows.iter().map(|&r| weights[r as usize]).sum();
        rows.iter().map(|&r| weights[r as usize] * loss(r)).sum::<f32>() / w
    };
    assert!((p.last_estimate().objective - mean(&p.rows[..6])).abs() < 1e-6);
    let gap = mean(&p.rows[6..11]) - mean(&p.rows[11..16]);
    assert!((p.last_estimate().constraints[0] - (gap - 0.01)).abs() < 1e-6);

    // The gradient of the weighted objective against finite differences.
    let mut grad = vec![0.0; p.num_params()];
    p.add_gradient(1.0, &[0.0, 0.0], &mut grad).unwrap();
    let rows: Vec<u32> = p.rows[..6].to_vec();
    let base = p.params().to_vec();
    let objective_at = |params: &[f32]| {
        let logits = p.model().logits(params, &data, 1);
        let w: f32 = rows.iter().map(|&r| weights[r as usize]).sum();
        rows.iter()
            .map(|&r| weights[r as usize] * bce_with_logits(logits[r as usize], data.labels()[r as usize]).0)
            .sum::<f32>()
            / w
    };
    for k in [0, 7, base.len() - 1] {
        let (mut plus, mut minus) = (base.clone(), base.clone());
        plus[k] += 1e-2;
        minus[k] -= 1e-2;
        let fd = (objective_at(&plus) - objective_at(&minus)) / 2e-2;
        assert!((fd - grad[k]).abs() < 2e-3, "parameter {k}: {fd} vs {}", grad[k]);
    }
}

/// Label-conditional statistics draw from each group's positives or
/// negatives; exact rates come from hard predictions.
#[test]
fn equalized_odds_uses_label_cells() {
    let mut p = problem_with(&[8], vec![FairnessConstraint::new(Notion::EqualizedOdds, 0.05).unwrap()]);
    p.estimate(Request::Both).unwrap();
    let data = p.data().clone();
    // Cells: (A, positive), (B, positive), (A, negative), (B, negative).
    assert_eq!(p.cells.len(), 4);
    for cell in &p.cells {
        for &r in &p.rows[cell.first_slot..cell.first_slot + 5] {
            assert_eq!(data.groups()[r as usize] as usize, cell.group);
            assert!(cell.filter.accepts(data.labels()[r as usize]));
        }
    }
    let logits = p.model().logits(p.params(), &data, 1);
    let tpr_exact = |cell: &Cell| {
        p.rows[cell.first_slot..cell.first_slot + 5].iter().filter(|&&r| logits[r as usize] > 0.0).count() as f32 / 5.0
    };
    let (a_pos, b_pos) = (&p.cells[0], &p.cells[1]);
    assert_eq!((a_pos.group, a_pos.filter), (0, LabelFilter::Positive));
    let names = p.constraint_names().to_vec();
    assert_eq!(names[0], "equalized-odds:tpr(A - B)");
    let exact = &p.last_estimate().exact_constraints;
    assert!((exact[0] - (tpr_exact(a_pos) - tpr_exact(b_pos) - 0.05)).abs() < 1e-6);
}

/// The weighted gradient against finite differences of the weighted
/// smooth estimate on the same minibatches, for every statistic. A
/// linear model has no ReLU kinks for the differences to cross (the
/// MLP's own gradient is checked in the model's tests).
#[test]
fn weighted_gradient_matches_finite_differences_for_every_statistic() {
    let notions = [
        Notion::LossParity,
        Notion::DemographicParity,
        Notion::EqualizedOdds,
        Notion::AccuracyParity,
        Notion::PredictiveParity,
        Notion::Calibration,
    ];
    for notion in notions {
        let mut p = problem_with(&[], vec![FairnessConstraint::new(notion, 0.01).unwrap()]);
        p.estimate(Request::Both).unwrap();
        let m = p.num_constraints();
        let w: Vec<f32> = (0..m).map(|i| 0.3 + 0.4 * i as f32).collect();
        let w0 = 0.8f32;
        let mut g = vec![0.0; p.num_params()];
        p.add_gradient(w0, &w, &mut g).unwrap();
        let value = |p: &mut TabularProblem| -> f64 {
            p.forward_slots(0..p.n_slots);
            p.evaluate(false, true);
            let f: f64 = p.host.losses[..6].iter().map(|&l| l as f64).sum::<f64>() / 6.0;
            w0 as f64 * f + p.estimate.constraints.iter().zip(&w).map(|(&c, &wi)| (c * wi) as f64).sum::<f64>()
        };
        let params = p.params().to_vec();
        for k in 0..params.len() {
            let h = 1e-2f32;
            p.params[k] = params[k] + h;
            let up = value(&mut p);
            p.params[k] = params[k] - h;
            let down = value(&mut p);
            p.params[k] = params[k];
            let fd = (up - down) / (2.0 * h as f64);
            assert!((g[k] as f64 - fd).abs() < 2e-3 * (1.0 + fd.abs()), "{notion:?} param {k}: {} vs {fd}", g[k]);
        }
    }
}

#[test]
fn weight_norm_gradient() {
    let mut p = problem_with(&[4], vec![FairnessConstraint::new(Notion::WeightNorm, 1.0).unwrap()]);
    p.estimate(Request::Both).unwrap();
    let norm2: f32 = p.params().iter().map(|x| x * x).sum();
    assert!((p.last_estimate().constraints[0] - (norm2 - 1.0)).abs() < 1e-4);
    let mut g = vec![0.0; p.num_params()];
    p.add_gradient(0.0, &[2.0], &mut g).unwrap();
    for (gi, &x) in g.iter().zip(p.params()) {
        assert!((gi - 4.0 * x).abs() < 1e-6);
    }
}

#[test]
fn constraint_gradients_sum_to_the_weighted_gradient() {
    let mut p = problem(&[6]);
    p.estimate(Request::Both).unwrap();
    let mut rows = [vec![0.0; p.num_params()], vec![0.0; p.num_params()]];
    for (i, g) in rows.iter_mut().enumerate() {
        p.add_constraint_gradient(i, g).unwrap();
    }
    let mut combined = vec![0.0; p.num_params()];
    p.add_gradient(0.0, &[2.0, 0.5], &mut combined).unwrap();
    for k in 0..combined.len() {
        assert!((combined[k] - (2.0 * rows[0][k] + 0.5 * rows[1][k])).abs() < 1e-6);
    }
    // Loss parity's two rows are negatives of each other.
    assert!(rows[0].iter().zip(&rows[1]).all(|(a, b)| (a + b).abs() < 1e-6));
    assert!(p.add_constraint_gradient(2, &mut combined).is_err());
}

/// Each constraint's gradient is its factor row times the statistics'
/// gradients, for gap rows over group statistics and for a row over the
/// squared parameter norm (the last statistic).
#[test]
fn statistic_gradients_combine_into_constraint_gradients() {
    let constraints = vec![
        FairnessConstraint::new(Notion::EqualizedOdds, 0.05).unwrap(),
        FairnessConstraint::new(Notion::WeightNorm, 10.0).unwrap(),
    ];
    let mut p = problem_with(&[6], constraints);
    p.estimate(Request::Both).unwrap();
    let n = p.num_params();
    let factors = p.constraint_factors().unwrap().clone();
    // TPR and FPR of two groups, and the norm.
    assert_eq!((factors.rows(), factors.statistics()), (5, 5));
    let basis: Vec<Vec<f32>> = (0..factors.statistics())
        .map(|k| {
            let mut g = vec![0.0; n];
            p.add_statistic_gradient(k, &mut g).unwrap();
            g
        })
        .collect();
    for i in 0..factors.rows() {
        let mut row = vec![0.0; n];
        p.add_constraint_gradient(i, &mut row).unwrap();
        assert!(row.iter().any(|&x| x != 0.0));
        for j in 0..n {
            let combined: f32 = factors.row(i).iter().map(|&(k, coef)| coef * basis[k][j]).sum();
            assert!((combined - row[j]).abs() < 1e-6 * (1.0 + row[j].abs()), "row {i} param {j}");
        }
    }
    let err = p.add_statistic_gradient(5, &mut vec![0.0; n]).unwrap_err();
    assert_eq!(err.to_string(), "statistic 5 does not exist (the constraints use 5)");
}

#[test]
fn objective_only_gradient_ignores_constraint_rows() {
    let mut p = problem(&[6]);
    p.estimate(Request::Both).unwrap();
    let mut both = vec![0.0; p.num_params()];
    p.add_gradient(1.0, &[0.0, 0.0], &mut both).unwrap();
    let mut q = problem(&[6]);
    q.estimate(Request::Objective).unwrap();
    let mut obj = vec![0.0; q.num_params()];
    q.add_gradient(1.0, &[0.0, 0.0], &mut obj).unwrap();
    assert_eq!(both, obj);
}

/// Halves of a minibatch: estimates over the even and odd rows, whose
/// gradients add up to the whole batch's (with equal halves).
#[test]
fn row_selections_split_the_minibatches() {
    let mut p = problem(&[6]);
    p.set_batch_sizes(BatchSizes { objective: 8, per_group: 6 }).unwrap();
    assert_eq!(p.rows_per_estimate(), 8 + 2 * 6);
    p.estimate(Request::Both).unwrap();
    let all = p.last_estimate().clone();
    let mut halves = Vec::new();
    let mut grads = Vec::new();
    for selection in [RowSelection::Even, RowSelection::Odd] {
        p.select_rows(selection).unwrap();
        halves.push(p.last_estimate().clone());
        let mut g = vec![0.0; p.num_params()];
        p.add_gradient(1.0, &[0.7, 0.2], &mut g).unwrap();
        grads.push(g);
    }
    p.select_rows(RowSelection::All).unwrap();
    let mut g = vec![0.0; p.num_params()];
    p.add_gradient(1.0, &[0.7, 0.2], &mut g).unwrap();
    // Equal halves: every statistic is the mean of its halves' values.
    assert!((all.objective - (halves[0].objective + halves[1].objective) / 2.0).abs() < 1e-6);
    for i in 0..2 {
        let mean = (halves[0].constraints[i] + halves[1].constraints[i]) / 2.0;
        assert!((all.constraints[i] - mean).abs() < 1e-6);
    }
    for k in 0..g.len() {
        assert!((g[k] - (grads[0][k] + grads[1][k]) / 2.0).abs() < 1e-5);
    }
    // Batch sizes can change again; a size-1 batch has no halves.
    p.set_batch_sizes(BatchSizes { objective: 1, per_group: 1 }).unwrap();
    p.estimate(Request::Both).unwrap();
    assert!(p.select_rows(RowSelection::Even).is_err());
    assert!(p.set_batch_sizes(BatchSizes { objective: 1, per_group: 1_000_000 }).is_err());
}

#[test]
fn cells_too_small_are_named() {
    let data = load(&DataSource::Synthetic, &LoadOptions::default()).unwrap().encoded.train;
    let constraints =
        ConstraintSet::new(vec![FairnessConstraint::new(Notion::EqualOpportunity, 0.05).unwrap()], &data).unwrap();
    let mlp = Mlp::new(data.n_inputs(), &[4]).unwrap();
    let params = mlp.init_params(0);
    let positives_a = (0..data.n_rows()).filter(|&i| data.groups()[i] == 0 && data.labels()[i] > 0.5).count();
    let batches = BatchSizes { objective: 8, per_group: positives_a + 1 };
    let err = TabularProblem::new(mlp, params, Arc::new(data), constraints, batches, 0).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "group 'A' has {positives_a} positive training rows, fewer than the group batch size {} (lower \
             `group-batch-size`)",
            positives_a + 1
        )
    );
    assert_eq!(Statistic::Tpr.label_filter(), LabelFilter::Positive);
}
