//! The constraints' Jacobian as Stochastic Ghost uses it, and the SIMD
//! products over its rows.

use crate::constraints::ConstraintFactors;
use crate::simd::{dispatched, fmadd, fmadd64, isa};

/// The constraints' Jacobian `A = T B`: a sparse `m x r` matrix `T` over
/// the gradients `B` (`r x n`, by rows) of `r` statistics. Pairwise gaps
/// over `k` groups have `k (k - 1)` rows but only `k` statistics, so every
/// product below costs `r n`, not `m n`; a problem without that structure
/// gives `T = I`, `B = A`.
pub(super) struct Jacobian<'a> {
    pub(super) t: &'a ConstraintFactors,
    pub(super) b: &'a [f32],
    pub(super) n: usize,
}

impl Jacobian<'_> {
    pub(super) fn r(&self) -> usize {
        self.t.statistics()
    }

    /// Row `k` of `B`.
    pub(super) fn basis(&self, k: usize) -> &[f32] {
        &self.b[k * self.n..(k + 1) * self.n]
    }

    /// `out = B^T y` (f64), skipping statistics whose weight is 0.
    pub(super) fn basis_combination(&self, y: &[f64], out: &mut [f64]) {
        out.fill(0.0);
        for (k, &yk) in y.iter().enumerate() {
            if yk != 0.0 {
                axpy_f64(isa(), out, yk, self.basis(k));
            }
        }
    }

    /// Row `i` of `A`, written to `out`.
    pub(super) fn row_into(&self, i: usize, out: &mut [f32]) {
        out.fill(0.0);
        for &(k, coef) in self.t.row(i) {
            weighted_add(isa(), out, coef, self.basis(k));
        }
    }
}

#[inline(always)]
fn weighted_add_impl<const FMA: bool>(y: &mut [f32], a: f32, x: &[f32]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y = fmadd::<FMA>(a, x, *y);
    }
}

/// `sum_j a_j sign(t_j)` (with sign(+0) = 1), branch-free.
#[inline(always)]
fn signed_sum_impl<const FMA: bool>(a: &[f32], t: &[f32], out: &mut f32) {
    let mut acc = [0f32; 8];
    let (ac, tc) = (a.chunks_exact(8), t.chunks_exact(8));
    let tail: f32 = ac.remainder().iter().zip(tc.remainder()).map(|(&x, &s)| x * 1f32.copysign(s)).sum();
    for (x, s) in ac.zip(tc) {
        for k in 0..8 {
            acc[k] = fmadd::<FMA>(x[k], 1f32.copysign(s[k]), acc[k]);
        }
    }
    *out = acc.iter().sum::<f32>() + tail;
}

dispatched! {
    /// `y += a x`
    fn weighted_add(y: &mut [f32], a: f32, x: &[f32]) => weighted_add_impl;
}

#[inline(always)]
fn axpy_f64_impl<const FMA: bool>(y: &mut [f64], a: f64, x: &[f32]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y = fmadd64::<FMA>(a, x as f64, *y);
    }
}

dispatched! {
    /// `y += a x` in f64.
    fn axpy_f64(y: &mut [f64], a: f64, x: &[f32]) => axpy_f64_impl;
}

/// `sum_j x_j z_j` accumulated in f64 (the f32 products are exact there),
/// in eight lanes.
#[inline(always)]
fn dot_f64_impl<const FMA: bool, Z: Copy + Into<f64>>(x: &[f32], z: &[Z], out: &mut f64) {
    let mut acc = [0f64; 8];
    let (xc, zc) = (x.chunks_exact(8), z.chunks_exact(8));
    let tail: f64 = xc.remainder().iter().zip(zc.remainder()).map(|(&a, &b)| a as f64 * b.into()).sum();
    for (a, b) in xc.zip(zc) {
        for k in 0..8 {
            acc[k] = fmadd64::<FMA>(a[k] as f64, b[k].into(), acc[k]);
        }
    }
    *out += acc.iter().sum::<f64>() + tail;
}

#[inline(always)]
fn dot_f32_impl<const FMA: bool>(x: &[f32], z: &[f32], out: &mut f64) {
    dot_f64_impl::<FMA, f32>(x, z, out)
}

#[inline(always)]
fn dot_mixed_impl<const FMA: bool>(x: &[f32], z: &[f64], out: &mut f64) {
    dot_f64_impl::<FMA, f64>(x, z, out)
}

dispatched! {
    /// `out += x . z` accumulated in f64.
    fn dot_f32(x: &[f32], z: &[f32], out: &mut f64) => dot_f32_impl;
}

dispatched! {
    /// `out += x . z` accumulated in f64.
    fn dot_f64(x: &[f32], z: &[f64], out: &mut f64) => dot_mixed_impl;
}

dispatched! {
    /// `sum_j a_j sign(t_j)`
    fn signed_sum_into(a: &[f32], t: &[f32], out: &mut f32) => signed_sum_impl;
}

pub(super) fn signed_sum(isa: crate::simd::Isa, a: &[f32], t: &[f32]) -> f32 {
    let mut out = 0.0;
    signed_sum_into(isa, a, t, &mut out);
    out
}
