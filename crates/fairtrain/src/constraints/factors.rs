//! The scalar constraints as a sparse matrix over the statistics they
//! combine: `c = T s + offset`. Pairwise gaps over `k` groups are
//! `k (k - 1)` rows over `k` statistics, so a method that needs every
//! constraint's gradient (a Jacobian) can take the `k` statistics'
//! gradients and combine them instead.

/// A sparse `m x r` matrix `T` (rows: scalar constraints; columns:
/// statistics), stored by rows.
///
/// ```
/// use fairtrain::constraints::ConstraintFactors;
/// // c_0 = s_0 - s_1, c_1 = s_1 - s_0: two constraints over two statistics.
/// let t = ConstraintFactors::from_rows(2, &[vec![(0, 1.0), (1, -1.0)], vec![(1, 1.0), (0, -1.0)]]);
/// assert_eq!((t.rows(), t.statistics()), (2, 2));
/// assert_eq!(t.row(1), &[(1, 1.0), (0, -1.0)]);
/// let mut c = [0.0; 2];
/// t.times(&[0.25, 0.5], &mut c);
/// assert_eq!(c, [-0.25, 0.25]);
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConstraintFactors {
    statistics: usize,
    /// Row `i` is `terms[starts[i]..starts[i + 1]]`.
    starts: Vec<usize>,
    terms: Vec<(usize, f32)>,
}

impl ConstraintFactors {
    /// The matrix with the given rows of (statistic, coefficient) terms,
    /// over `statistics` statistics.
    ///
    /// # Panics
    /// When a term names a statistic `>= statistics`.
    pub fn from_rows(statistics: usize, rows: &[Vec<(usize, f32)>]) -> Self {
        let mut starts = Vec::with_capacity(rows.len() + 1);
        let mut terms = Vec::new();
        starts.push(0);
        for row in rows {
            assert!(row.iter().all(|&(k, _)| k < statistics), "a term names a statistic beyond {statistics}");
            terms.extend_from_slice(row);
            starts.push(terms.len());
        }
        ConstraintFactors { statistics, starts, terms }
    }

    /// The `m x m` identity: each constraint is its own statistic (a
    /// problem without a cheaper structure).
    pub fn identity(m: usize) -> Self {
        ConstraintFactors { statistics: m, starts: (0..=m).collect(), terms: (0..m).map(|i| (i, 1.0)).collect() }
    }

    /// Number of rows (scalar constraints).
    pub fn rows(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }

    /// Number of columns (statistics).
    pub fn statistics(&self) -> usize {
        self.statistics
    }

    /// The terms of row `i`.
    pub fn row(&self, i: usize) -> &[(usize, f32)] {
        &self.terms[self.starts[i]..self.starts[i + 1]]
    }

    /// `out = T s`.
    pub fn times(&self, s: &[f64], out: &mut [f64]) {
        for (i, o) in out.iter_mut().enumerate() {
            *o = self.row(i).iter().map(|&(k, coef)| coef as f64 * s[k]).sum();
        }
    }

    /// `out = T^T w`.
    pub fn transpose_times(&self, w: &[f64], out: &mut [f64]) {
        out.fill(0.0);
        for (i, &wi) in w.iter().enumerate() {
            if wi != 0.0 {
                for &(k, coef) in self.row(i) {
                    out[k] += coef as f64 * wi;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_match_the_dense_matrix() {
        let rows = vec![vec![(0, 1.0), (2, -0.5)], vec![], vec![(1, 2.0)]];
        let t = ConstraintFactors::from_rows(3, &rows);
        let dense = [[1.0, 0.0, -0.5], [0.0, 0.0, 0.0], [0.0, 2.0, 0.0]];
        let s = [0.5, -1.0, 4.0];
        let mut ts = [0.0; 3];
        t.times(&s, &mut ts);
        for i in 0..3 {
            assert_eq!(ts[i], (0..3).map(|k| dense[i][k] * s[k]).sum::<f64>());
        }
        let w = [1.0, 3.0, -2.0];
        let mut tw = [9.0; 3];
        t.transpose_times(&w, &mut tw);
        for k in 0..3 {
            assert_eq!(tw[k], (0..3).map(|i| dense[i][k] * w[i]).sum::<f64>());
        }
        let id = ConstraintFactors::identity(3);
        id.times(&s, &mut ts);
        assert_eq!(ts, s);
    }
}
