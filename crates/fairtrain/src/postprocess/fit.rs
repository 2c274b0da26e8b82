//! Choosing the per-group decisions: the most accurate point of each
//! group's ROC hull such that every constrained rate lies, for all groups,
//! in one band as wide as the bound. For fixed bands each group's choice is
//! a small linear program over a convex polygon (its hull clipped by the
//! bands), solved exactly at the clipped polygon's vertices; the total is
//! concave in the bands' positions, which a golden-section search finds
//! (nested for two rates, e.g. equalized odds' TPR and FPR).

use super::roc::{Point, Roc, clip};

/// A rate that post-processing can equalize: linear in a group's
/// (FPR, TPR).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rate {
    Positive,
    Tpr,
    Fpr,
    Accuracy,
}

impl Rate {
    /// `(a_f, a_t, c)` with rate = `a_f * FPR + a_t * TPR + c` for `roc`'s
    /// group, or `None` where the rate is undefined (TPR without positives).
    fn coefficients(self, roc: &Roc) -> Option<(f64, f64, f64)> {
        let (p, n) = (roc.positives, roc.negatives);
        let total = p + n;
        match self {
            Rate::Positive if total > 0.0 => Some((n / total, p / total, 0.0)),
            Rate::Tpr if p > 0.0 => Some((0.0, 1.0, 0.0)),
            Rate::Fpr if n > 0.0 => Some((1.0, 0.0, 0.0)),
            Rate::Accuracy if total > 0.0 => Some((-n / total, p / total, n / total)),
            _ => None,
        }
    }
}

/// A band constraint: `rate` within `[low, low + width]` for every group.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Band {
    pub(crate) rate: Rate,
    pub(crate) width: f64,
}

/// `roc`'s hull clipped to the bands at `lows`.
fn clipped(roc: &Roc, bands: &[Band], lows: &[f64]) -> Vec<Point> {
    let mut poly: Vec<Point> = roc.hull.iter().map(|h| h.0).collect();
    for (band, &low) in bands.iter().zip(lows) {
        if let Some((af, at, c)) = band.rate.coefficients(roc) {
            poly = clip(&poly, (af, at), low + band.width - c);
            poly = clip(&poly, (-af, -at), -(low - c));
        }
    }
    poly
}

/// The range of `rate` over the polygon `poly` of `roc`'s group.
fn range(roc: &Roc, rate: Rate, poly: &[Point]) -> Option<(f64, f64)> {
    let (af, at, c) = rate.coefficients(roc)?;
    let values = poly.iter().map(|p| af * p.0 + at * p.1 + c);
    let lo = values.clone().fold(f64::INFINITY, f64::min);
    let hi = values.fold(f64::NEG_INFINITY, f64::max);
    (lo <= hi).then_some((lo, hi))
}

/// Each group's most accurate point within the bands at `lows`, and the
/// total count of correct decisions (`None` if a group has no point there).
fn best_points(rocs: &[Roc], bands: &[Band], lows: &[f64]) -> Option<(f64, Vec<Point>)> {
    let mut total = 0.0;
    let mut points = Vec::with_capacity(rocs.len());
    for roc in rocs {
        let poly = clipped(roc, bands, lows);
        let best = poly.iter().copied().max_by(|a, b| roc.correct(*a).total_cmp(&roc.correct(*b)))?;
        total += roc.correct(best);
        points.push(best);
    }
    Some((total, points))
}

/// The interval of band positions where every group can place `band`'s
/// rate, each group's hull first clipped to `fixed` (bands already placed).
fn feasible_lows(rocs: &[Roc], fixed: &[Band], fixed_lows: &[f64], band: Band) -> Option<(f64, f64)> {
    let (mut lo, mut hi) = (f64::NEG_INFINITY, f64::INFINITY);
    for roc in rocs {
        let poly = clipped(roc, fixed, fixed_lows);
        if poly.is_empty() {
            return None;
        }
        if let Some((min, max)) = range(roc, band.rate, &poly) {
            lo = lo.max(min - band.width);
            hi = hi.min(max);
        }
    }
    (lo <= hi + 1e-12).then_some((lo, hi.max(lo)))
}

/// Whether every band holds at the groups' `points`.
pub(crate) fn meets(rocs: &[Roc], bands: &[Band], points: &[Point]) -> bool {
    bands.iter().all(|band| {
        let values: Vec<f64> = rocs
            .iter()
            .zip(points)
            .filter_map(|(roc, p)| band.rate.coefficients(roc).map(|(af, at, c)| af * p.0 + at * p.1 + c))
            .collect();
        let (lo, hi) = values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| (l.min(v), h.max(v)));
        values.len() < 2 || hi - lo <= band.width + 1e-12
    })
}

/// Maximizes a concave `f` on `[lo, hi]` by golden-section search; returns
/// the best point evaluated. `None` values (infeasible) count as worst.
fn golden<T>(lo: f64, hi: f64, mut f: impl FnMut(f64) -> Option<(f64, T)>) -> Option<(f64, f64, T)> {
    const INV_PHI: f64 = 0.618_033_988_749_894_9;
    let mut best: Option<(f64, f64, T)> = None;
    let mut eval = |x: f64, best: &mut Option<(f64, f64, T)>| -> f64 {
        match f(x) {
            Some((v, t)) => {
                if best.as_ref().is_none_or(|b| v > b.1 + 1e-12) {
                    *best = Some((x, v, t));
                }
                v
            }
            None => f64::NEG_INFINITY,
        }
    };
    eval(lo, &mut best);
    if hi > lo {
        eval(hi, &mut best);
        let (mut a, mut b) = (lo, hi);
        let mut c = b - INV_PHI * (b - a);
        let mut d = a + INV_PHI * (b - a);
        let (mut fc, mut fd) = (eval(c, &mut best), eval(d, &mut best));
        for _ in 0..60 {
            if b - a < 1e-9 {
                break;
            }
            if fc >= fd {
                b = d;
                d = c;
                fd = fc;
                c = b - INV_PHI * (b - a);
                fc = eval(c, &mut best);
            } else {
                a = c;
                c = d;
                fc = fd;
                d = a + INV_PHI * (b - a);
                fd = eval(d, &mut best);
            }
        }
    }
    best
}

/// Each group's decision point maximizing the total count of correct
/// decisions with every band met (one or two bands). `None` only if no
/// placement of the bands is feasible, which the all-negative point of
/// every group rules out for positive rates, TPR and FPR, and the coin
/// flip for accuracy.
pub(crate) fn fit(rocs: &[Roc], bands: &[Band]) -> Option<Vec<Point>> {
    match bands {
        [] => best_points(rocs, &[], &[]).map(|b| b.1),
        [band] => {
            let (lo, hi) = feasible_lows(rocs, &[], &[], *band)?;
            golden(lo, hi, |low| best_points(rocs, bands, &[low])).map(|b| b.2)
        }
        [outer, inner] => {
            let (lo, hi) = feasible_lows(rocs, &[], &[], *outer)?;
            let inner_best = |low: f64| -> Option<(f64, Vec<Point>)> {
                let (ilo, ihi) = feasible_lows(rocs, &[*outer], &[low], *inner)?;
                golden(ilo, ihi, |i| best_points(rocs, bands, &[low, i])).map(|b| (b.1, b.2))
            };
            // The outer feasible set is an interval inside [lo, hi]; a scan
            // finds its part, then the search refines between the scanned
            // feasible points around the best one.
            const SCAN: usize = 24;
            let xs: Vec<f64> = (0..=SCAN).map(|k| lo + (hi - lo) * k as f64 / SCAN as f64).collect();
            let values: Vec<Option<f64>> = xs.iter().map(|&x| inner_best(x).map(|b| b.0)).collect();
            let k = (0..xs.len()).filter(|&k| values[k].is_some()).max_by(|&a, &b| {
                values[a].unwrap_or(f64::NEG_INFINITY).total_cmp(&values[b].unwrap_or(f64::NEG_INFINITY))
            })?;
            let left = if k > 0 && values[k - 1].is_some() { xs[k - 1] } else { xs[k] };
            let right = if k + 1 < xs.len() && values[k + 1].is_some() { xs[k + 1] } else { xs[k] };
            golden(left, right, inner_best).map(|b| b.2)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roc(rows: &[(f32, bool)]) -> Roc {
        Roc::of(rows)
    }

    /// Brute force: every pair of achievable positive rates on a grid.
    #[test]
    fn demographic_parity_matches_a_grid_search_over_positive_rates() {
        let a = roc(&[(3.0, true), (2.0, true), (1.0, false), (0.5, true), (-1.0, false), (-2.0, false)]);
        let b = roc(&[(1.0, true), (0.0, false), (-0.5, false), (-1.0, false), (-3.0, false), (-4.0, false)]);
        let rocs = [a, b];
        let band = Band { rate: Rate::Positive, width: 0.1 };
        let points = fit(&rocs, &[band]).unwrap();
        let total: f64 = rocs.iter().zip(&points).map(|(r, &p)| r.correct(p)).sum();
        let rate = |r: &Roc, p: Point| {
            let (af, at, c) = Rate::Positive.coefficients(r).unwrap();
            af * p.0 + at * p.1 + c
        };
        let (ra, rb) = (rate(&rocs[0], points[0]), rate(&rocs[1], points[1]));
        assert!((ra - rb).abs() <= 0.1 + 1e-9, "{ra} {rb}");
        // Grid over band positions, each group at its best point in the band.
        let mut best = 0.0f64;
        for k in 0..=2000 {
            let low = -0.1 + 1.1 * k as f64 / 2000.0;
            if let Some((t, _)) = best_points(&rocs, &[band], &[low]) {
                best = best.max(t);
            }
        }
        assert!(total >= best - 1e-6, "{total} < {best}");
        // Unconstrained, a is at its best (5 of 6 right) predicting 2 or 4
        // of 6 positive and b (6 of 6) predicting 1: the bound costs.
        let free: f64 = fit(&rocs, &[]).unwrap().iter().zip(&rocs).map(|(&p, r)| r.correct(p)).sum();
        assert_eq!(free, 11.0);
        assert!(total < free - 0.1, "{total}");
    }

    #[test]
    fn a_slack_bound_keeps_each_group_at_its_own_best() {
        let a = roc(&[(2.0, true), (1.0, true), (-1.0, false), (-2.0, false)]);
        let b = roc(&[(2.0, true), (1.0, false), (-1.0, false), (-2.0, true)]);
        let rocs = [a, b];
        let free = fit(&rocs, &[]).unwrap();
        let slack = fit(&rocs, &[Band { rate: Rate::Tpr, width: 1.0 }, Band { rate: Rate::Fpr, width: 1.0 }]).unwrap();
        let correct = |pts: &[Point]| rocs.iter().zip(pts).map(|(r, &p)| r.correct(p)).sum::<f64>();
        assert!((correct(&free) - correct(&slack)).abs() < 1e-9);
    }

    #[test]
    fn equalized_odds_puts_both_rates_within_the_bound() {
        let a = roc(&[(3.0, true), (2.0, true), (1.5, true), (1.0, false), (0.0, true), (-1.0, false), (-2.0, false)]);
        let b = roc(&[(2.0, true), (1.0, false), (0.5, false), (0.0, true), (-1.0, false), (-1.5, false)]);
        let rocs = [a, b];
        let bands = [Band { rate: Rate::Tpr, width: 0.05 }, Band { rate: Rate::Fpr, width: 0.05 }];
        let points = fit(&rocs, &bands).unwrap();
        assert!((points[0].0 - points[1].0).abs() <= 0.05 + 1e-9);
        assert!((points[0].1 - points[1].1).abs() <= 0.05 + 1e-9);
        // At least as good as the best common point on a fine grid.
        let total: f64 = rocs.iter().zip(&points).map(|(r, &p)| r.correct(p)).sum();
        let mut best = 0.0f64;
        for i in 0..=100 {
            for j in 0..=100 {
                let lows = [-0.05 + 1.05 * i as f64 / 100.0, -0.05 + 1.05 * j as f64 / 100.0];
                if let Some((t, _)) = best_points(&rocs, &bands, &lows) {
                    best = best.max(t);
                }
            }
        }
        assert!(total >= best - 1e-6, "{total} < {best}");
    }
}
