//! Small-sample statistics for comparing runs over seeds: the mean with
//! its 95% t-interval, and the exact Wilcoxon signed-rank test for paired
//! differences.

/// Two-sided 97.5% quantiles of Student's t for 1..=30 degrees of freedom.
const T975: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120,
    2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/// The mean of `x` and the half-width of its 95% t-interval (`NaN` for
/// fewer than two values).
///
/// ```
/// use fairtrain::evaluation::stats::mean_ci;
/// let (m, h) = mean_ci(&[1.0, 2.0, 3.0]);
/// assert_eq!(m, 2.0);
/// assert!((h - 4.303 / 3f64.sqrt()).abs() < 1e-9); // t(2) * sd / sqrt(n), sd = 1
/// ```
pub fn mean_ci(x: &[f64]) -> (f64, f64) {
    let n = x.len();
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let mean = x.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return (mean, f64::NAN);
    }
    let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let t = if n - 1 <= 30 { T975[n - 2] } else { 1.96 };
    (mean, t * (var / n as f64).sqrt())
}

/// The two-sided p-value of the Wilcoxon signed-rank test of the paired
/// differences `a[i] - b[i]` (zeros dropped, tied magnitudes given their
/// average rank), from the exact null distribution of the signed-rank sum.
/// Returns 1 when no difference is non-zero.
///
/// ```
/// use fairtrain::evaluation::stats::wilcoxon_signed_rank;
/// // Five positive differences: the most extreme of 2^5 sign patterns.
/// let p = wilcoxon_signed_rank(&[2.0, 3.0, 4.0, 5.0, 6.0], &[1.0; 5]);
/// assert!((p - 2.0 / 32.0).abs() < 1e-12);
/// ```
pub fn wilcoxon_signed_rank(a: &[f64], b: &[f64]) -> f64 {
    let mut d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).filter(|v| *v != 0.0 && v.is_finite()).collect();
    let n = d.len();
    if n == 0 {
        return 1.0;
    }
    d.sort_by(|x, y| x.abs().total_cmp(&y.abs()));
    // Doubled ranks (integers even with ties).
    let mut ranks = vec![0usize; n];
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && d[j + 1].abs() == d[i].abs() {
            j += 1;
        }
        for r in &mut ranks[i..=j] {
            *r = i + j + 2; // 2 * average of ranks i+1..=j+1
        }
        i = j + 1;
    }
    let total: usize = ranks.iter().sum();
    let w_plus: usize = ranks.iter().zip(&d).filter(|(_, v)| **v > 0.0).map(|(r, _)| r).sum();
    // Null distribution of the doubled positive-rank sum: every sign equally likely.
    let mut counts = vec![0f64; total + 1];
    counts[0] = 1.0;
    for &r in &ranks {
        for s in (r..=total).rev() {
            counts[s] += counts[s - r];
        }
    }
    let all = 2f64.powi(n as i32);
    let extreme = w_plus.min(total - w_plus);
    let tail: f64 = counts[..=extreme].iter().sum::<f64>() / all;
    (2.0 * tail).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilcoxon_matches_hand_computed_values() {
        // Differences 1, -2, 3, 4: W+ = 1 + 3 + 4 = 8 of 10; P(W+ >= 8) =
        // #{sums >= 8} / 16 = {8, 9, 10} -> subsets {1,3,4},{2,3,4},{1,2,3,4}
        // = 3/16; two-sided 6/16.
        let p = wilcoxon_signed_rank(&[1.0, -2.0, 3.0, 4.0], &[0.0; 4]);
        assert!((p - 6.0 / 16.0).abs() < 1e-12, "{p}");
        assert_eq!(wilcoxon_signed_rank(&[1.0, 2.0], &[1.0, 2.0]), 1.0);
        // Symmetric: swapping the samples gives the same p.
        assert_eq!(wilcoxon_signed_rank(&[0.0; 4], &[1.0, -2.0, 3.0, 4.0]), p);
    }

    #[test]
    fn interval_of_constant_values_is_zero() {
        assert_eq!(mean_ci(&[0.5, 0.5, 0.5]), (0.5, 0.0));
        assert!(mean_ci(&[1.0]).1.is_nan());
    }
}
