//! The MLP's forward and backward passes over dataset rows, written for
//! small batches on one core (the README's "Speed" section has the
//! numbers).
//!
//! * Weights are stored `[input][output]`: a layer's output is a weighted
//!   sum of weight rows, and its weight gradient adds scaled copies of the
//!   output delta to weight rows; every inner loop is contiguous.
//! * The first layer reads only the non-zero inputs: the numeric values and
//!   one one-hot row per categorical column (11 of Adult's 82 inputs).
//! * Outputs are built in register blocks of 32 (then 8, then 1) columns,
//!   with two accumulator sets so that enough FMA chains are in flight.
//! * Only active ReLU units (h > 0) enter the next layer and its gradients;
//!   activity is a bitmask, walked bit by bit, because a branch on it would
//!   mispredict half the time.
//! * Dot products of the backward pass are taken eight units at a time and
//!   reduced together.
//! * Each entry point is compiled for AVX2+FMA, AVX-512 and the baseline
//!   target and chosen at run time (see [`crate::simd`]). Helpers are
//!   `#[inline(always)]` functions, never closures that do arithmetic: a
//!   closure the compiler declines to inline loses the target features.

use super::Layer;
use crate::buffer::AlignedVec;
use crate::data::{Dataset, NO_INPUT};
use crate::simd::{dispatched, fmadd};

/// Runs `body` over the register blocks of a row of `width` columns: blocks
/// of 32 columns, then of 8, then single columns; in `body`, `col` is the
/// block's first column and `B` its width (a constant).
macro_rules! for_each_block {
    ($width:expr, |$col:ident, $b:ident| $body:expr) => {{
        let width = $width;
        let mut $col = 0;
        while $col + 32 <= width {
            const $b: usize = 32;
            $body;
            $col += 32;
        }
        while $col + 8 <= width {
            const $b: usize = 8;
            $body;
            $col += 8;
        }
        while $col < width {
            const $b: usize = 1;
            $body;
            $col += 1;
        }
    }};
}

/// Shapes of the network, borrowed for a kernel call.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Net<'a> {
    pub layers: &'a [Layer],
    /// Sum of the hidden widths: activations stored per row.
    pub act_stride: usize,
}

/// Per-row storage of a batch's forward pass, kept for the backward pass.
#[derive(Debug, Clone, Default)]
pub struct Workspace {
    capacity: usize,
    n_hidden: usize,
    acts: AlignedVec,
    active: Vec<u16>,
    n_active: Vec<u16>,
    dh_a: Vec<f32>,
    dh_b: Vec<f32>,
}

impl Workspace {
    pub(crate) fn new(capacity: usize, layers: &[Layer]) -> Self {
        let hidden: Vec<usize> = layers[..layers.len() - 1].iter().map(|l| l.n_out).collect();
        let act_stride: usize = hidden.iter().sum();
        let max_width = hidden.iter().copied().max().unwrap_or(0);
        Workspace {
            capacity,
            n_hidden: hidden.len(),
            acts: AlignedVec::zeros(capacity * act_stride),
            active: vec![0; capacity * act_stride],
            n_active: vec![0; capacity * hidden.len()],
            dh_a: vec![0.0; max_width],
            dh_b: vec![0.0; max_width],
        }
    }

    /// Rows this workspace can hold.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

/// y += a * x
#[inline(always)]
fn axpy<const FMA: bool>(y: &mut [f32], a: f32, x: &[f32]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y = fmadd::<FMA>(a, x, *y);
    }
}

/// y += x
#[inline(always)]
fn add(y: &mut [f32], x: &[f32]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y += x;
    }
}

/// Dot product with 8 partial sums (vectorizes; order fixed, so results
/// are reproducible for a given instruction set).
#[inline(always)]
fn dot<const FMA: bool>(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; 8];
    let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ar, br) = (ac.remainder(), bc.remainder());
    for (x, y) in ac.zip(bc) {
        for k in 0..8 {
            acc[k] = fmadd::<FMA>(x[k], y[k], acc[k]);
        }
    }
    let mut tail = 0.0;
    for (x, y) in ar.iter().zip(br) {
        tail = fmadd::<FMA>(*x, *y, tail);
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

/// `out = bias + sum_t a_t * W[r_t]` over two lists of terms, `first(t)`
/// for `t < n_first` and `second(t)` for `t < n_second`, each giving
/// `(r_t, a_t)`; `W` has rows of `width`. (Two lists keep the first layer's
/// numeric and one-hot terms apart without a branch per term.) The output
/// is built in register blocks ([`for_each_block`]): each block accumulates
/// every term before it is stored, instead of re-loading and re-storing the
/// output per term.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn weighted_rows<const FMA: bool>(
    out: &mut [f32],
    bias: &[f32],
    w: &[f32],
    width: usize,
    n_first: usize,
    first: impl Fn(usize) -> (usize, f32) + Copy,
    n_second: usize,
    second: impl Fn(usize) -> (usize, f32) + Copy,
) {
    for_each_block!(width, |col, B| weighted_rows_block::<FMA, B>(
        out, bias, w, width, col, n_first, first, n_second, second
    ));
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn weighted_rows_block<const FMA: bool, const B: usize>(
    out: &mut [f32],
    bias: &[f32],
    w: &[f32],
    width: usize,
    col: usize,
    n_first: usize,
    first: impl Fn(usize) -> (usize, f32),
    n_second: usize,
    second: impl Fn(usize) -> (usize, f32),
) {
    // Two accumulator sets, alternating over the terms: twice the FMA
    // chains in flight (one 32-wide block is only 4 chains of 8 lanes).
    let mut acc: [f32; B] = bias[col..col + B].try_into().expect("block within the bias");
    let mut acc2 = [0f32; B];
    accumulate_terms::<FMA, B>(&mut acc, &mut acc2, w, width, col, n_first, first);
    accumulate_terms::<FMA, B>(&mut acc, &mut acc2, w, width, col, n_second, second);
    for (o, (a, b)) in out[col..col + B].iter_mut().zip(acc.iter().zip(&acc2)) {
        *o = a + b;
    }
}

/// Adds terms `0..n` to `acc` and `acc2` alternately.
#[inline(always)]
fn accumulate_terms<const FMA: bool, const B: usize>(
    acc: &mut [f32; B],
    acc2: &mut [f32; B],
    w: &[f32],
    width: usize,
    col: usize,
    n: usize,
    term: impl Fn(usize) -> (usize, f32),
) {
    let mut t = 0;
    while t + 2 <= n {
        let (r, a) = term(t);
        accumulate_block::<FMA, B>(acc, a, &w[r * width + col..]);
        let (r, a) = term(t + 1);
        accumulate_block::<FMA, B>(acc2, a, &w[r * width + col..]);
        t += 2;
    }
    if t < n {
        let (r, a) = term(t);
        accumulate_block::<FMA, B>(acc, a, &w[r * width + col..]);
    }
}

/// `acc += a * row[..B]`. A function, not a closure: a closure that the
/// compiler declines to inline is compiled without the caller's target
/// features, and its `mul_add` becomes a slow library call.
#[inline(always)]
fn accumulate_block<const FMA: bool, const B: usize>(acc: &mut [f32; B], a: f32, row: &[f32]) {
    let row: &[f32; B] = row[..B].try_into().expect("block within the row");
    for k in 0..B {
        acc[k] = fmadd::<FMA>(a, row[k], acc[k]);
    }
}

/// The first layer's one-hot term for a categorical cell: its row with
/// weight 1, or (for a category unseen in training) row 0 with weight 0,
/// chosen without a branch.
#[inline(always)]
fn one_hot_term(c: u32) -> (usize, f32) {
    let seen = c != NO_INPUT;
    ((if seen { c } else { 0 }) as usize, if seen { 1.0 } else { 0.0 })
}

/// `W[r_t] += a_t * d` over two lists of terms (as in [`weighted_rows`];
/// the weight gradient of a layer for one row), with `d` held in registers
/// block by block.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn scatter_rows<const FMA: bool>(
    g: &mut [f32],
    width: usize,
    d: &[f32],
    n_first: usize,
    first: impl Fn(usize) -> (usize, f32) + Copy,
    n_second: usize,
    second: impl Fn(usize) -> (usize, f32) + Copy,
) {
    for_each_block!(width, |col, B| scatter_rows_block::<FMA, B>(g, width, col, d, n_first, first, n_second, second));
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn scatter_rows_block<const FMA: bool, const B: usize>(
    g: &mut [f32],
    width: usize,
    col: usize,
    d: &[f32],
    n_first: usize,
    first: impl Fn(usize) -> (usize, f32),
    n_second: usize,
    second: impl Fn(usize) -> (usize, f32),
) {
    let dv: [f32; B] = d[col..col + B].try_into().expect("block within the delta");
    for t in 0..n_first {
        let (r, a) = first(t);
        let row: &mut [f32; B] = (&mut g[r * width + col..][..B]).try_into().expect("block within the gradient");
        accumulate_block::<FMA, B>(row, a, &dv);
    }
    for t in 0..n_second {
        let (r, a) = second(t);
        let row: &mut [f32; B] = (&mut g[r * width + col..][..B]).try_into().expect("block within the gradient");
        accumulate_block::<FMA, B>(row, a, &dv);
    }
}

/// Backward through a hidden layer for one row: for each active input unit
/// `i`, `gW[i] += h_in[i] * d` and `dp[i] += W[i] . d` (`dp` must start at
/// zero; inactive units keep 0, which is the ReLU's derivative).
#[inline(always)]
fn hidden_backward<const FMA: bool>(
    g: &mut [f32],
    w: &[f32],
    width: usize,
    active: &[u16],
    h_in: &[f32],
    d: &[f32],
    dp: &mut [f32],
) {
    for_each_block!(width, |col, B| hidden_backward_block::<FMA, B>(g, w, width, col, active, h_in, d, dp));
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn hidden_backward_block<const FMA: bool, const B: usize>(
    g: &mut [f32],
    w: &[f32],
    width: usize,
    col: usize,
    active: &[u16],
    h_in: &[f32],
    d: &[f32],
    dp: &mut [f32],
) {
    let dv: [f32; B] = d[col..col + B].try_into().expect("block within the delta");
    for &i in active {
        let i = i as usize;
        let start = i * width + col;
        let a = h_in[i];
        let grow: &mut [f32; B] = (&mut g[start..start + B]).try_into().expect("block within the gradient");
        for k in 0..B {
            grow[k] = fmadd::<FMA>(a, dv[k], grow[k]);
        }
    }
    // The dot products W[i] . d, eight units at a time: eight 8-lane
    // partial sums, then one reduction of all eight. (One unit at a time,
    // the compiler vectorizes across units, two per register, and spends
    // most of the time shuffling.)
    let mut groups = active.chunks_exact(8);
    for group in &mut groups {
        let mut acc = [[0f32; 8]; 8];
        for (lanes, &i) in acc.iter_mut().zip(group) {
            let start = i as usize * width + col;
            let wrow: &[f32; B] = w[start..start + B].try_into().expect("block within the weights");
            for k in 0..B {
                lanes[k % 8] = fmadd::<FMA>(wrow[k], dv[k], lanes[k % 8]);
            }
        }
        let sums = reduce_8x8(&acc);
        for (&i, s) in group.iter().zip(sums) {
            dp[i as usize] += s;
        }
    }
    for &i in groups.remainder() {
        let start = i as usize * width + col;
        let wrow: &[f32; B] = w[start..start + B].try_into().expect("block within the weights");
        let mut lanes = [0f32; 8];
        for k in 0..B {
            lanes[k % 8] = fmadd::<FMA>(wrow[k], dv[k], lanes[k % 8]);
        }
        dp[i as usize] += reduce_8x8(&[lanes; 8])[0];
    }
}

/// `out[j] = sum of acc[j]`, in a fixed order (pairwise, as a vector
/// "horizontal add" tree would do it).
#[inline(always)]
fn reduce_8x8(acc: &[[f32; 8]; 8]) -> [f32; 8] {
    let mut out = [0f32; 8];
    for (o, a) in out.iter_mut().zip(acc) {
        *o = ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
    }
    out
}

/// ReLU in place; writes the indices of the active units (h > 0) to
/// `active` and returns their number. About half the units are active, so
/// a branch on activity would mispredict constantly: the ReLU is a vector
/// max, the activity a bitmask built 8 lanes at a time, and the indices come
/// from walking the mask's set bits (a few instructions per active unit).
#[inline(always)]
fn relu_compact(h: &mut [f32], active: &mut [u16]) -> usize {
    for v in h.iter_mut() {
        *v = v.max(0.0);
    }
    let mut k = 0;
    for (c, chunk) in h.chunks(64).enumerate() {
        let mut mask: u64 = 0;
        for (j, &v) in chunk.iter().enumerate() {
            mask |= ((v > 0.0) as u64) << j;
        }
        let base = c * 64;
        while mask != 0 {
            active[k] = (base + mask.trailing_zeros() as usize) as u16;
            k += 1;
            mask &= mask - 1;
        }
    }
    k
}

/// Forward pass of one row: fills the row's activations and active lists
/// (when there are hidden layers) and returns the logit.
#[inline(always)]
fn forward_row<const FMA: bool>(
    net: Net,
    p: &[f32],
    dense: &[f32],
    cats: &[u32],
    acts: &mut [f32],
    active: &mut [u16],
    n_active: &mut [u16],
) -> f32 {
    let layers = net.layers;
    let first = &layers[0];
    if layers.len() == 1 {
        // No hidden layer: a linear model.
        let w = &p[first.w..first.w + first.n_in];
        let mut z = p[first.b];
        for (&x, &wj) in dense.iter().zip(w) {
            z = fmadd::<FMA>(x, wj, z);
        }
        for &c in cats {
            if c != NO_INPUT {
                z += w[c as usize];
            }
        }
        return z;
    }
    // First hidden layer from the sparse input: numeric values weight their
    // rows of W, each categorical adds its one-hot row (a missing category
    // adds row 0 with weight 0).
    let width = first.n_out;
    let n_dense = dense.len();
    {
        let h = &mut acts[..width];
        let w = &p[first.w..first.b];
        let numeric = |t: usize| (t, dense[t]);
        let one_hot = |t: usize| one_hot_term(cats[t]);
        weighted_rows::<FMA>(h, &p[first.b..first.b + width], w, width, n_dense, numeric, cats.len(), one_hot);
        n_active[0] = relu_compact(h, &mut active[..width]) as u16;
    }
    // Further hidden layers over the active units of the previous one.
    let mut in_off = 0;
    for (li, layer) in layers.iter().enumerate().take(layers.len() - 1).skip(1) {
        let out_off = in_off + layer.n_in;
        let (prev, cur) = acts.split_at_mut(out_off);
        let h_in = &prev[in_off..];
        let h = &mut cur[..layer.n_out];
        let k = n_active[li - 1] as usize;
        let (act_prev, act_cur) = active.split_at_mut(out_off);
        let on = &act_prev[in_off..in_off + k];
        let term = |t: usize| {
            let i = on[t] as usize;
            (i, h_in[i])
        };
        let none = |_: usize| (0, 0.0);
        let w = &p[layer.w..layer.b];
        weighted_rows::<FMA>(h, &p[layer.b..layer.b + layer.n_out], w, layer.n_out, k, term, 0, none);
        n_active[li] = relu_compact(h, &mut act_cur[..layer.n_out]) as u16;
        in_off = out_off;
    }
    // Output unit: a dense dot (inactive units hold 0).
    let out = &layers[layers.len() - 1];
    let h_last = &acts[in_off..in_off + out.n_in];
    p[out.b] + dot::<FMA>(h_last, &p[out.w..out.w + out.n_in])
}

/// Backward pass of one row with upstream derivative `dz`, accumulating
/// into `g`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn backward_row<const FMA: bool>(
    net: Net,
    p: &[f32],
    g: &mut [f32],
    dense: &[f32],
    cats: &[u32],
    acts: &[f32],
    active: &[u16],
    n_active: &[u16],
    dz: f32,
    dh_a: &mut [f32],
    dh_b: &mut [f32],
) {
    let layers = net.layers;
    let first = &layers[0];
    if layers.len() == 1 {
        g[first.b] += dz;
        let gw = &mut g[first.w..first.w + first.n_in];
        for (gj, &x) in gw.iter_mut().zip(dense) {
            *gj = fmadd::<FMA>(dz, x, *gj);
        }
        for &c in cats {
            if c != NO_INPUT {
                gw[c as usize] += dz;
            }
        }
        return;
    }
    let n_hidden = layers.len() - 1;
    // Output unit.
    let out = &layers[n_hidden];
    let mut in_off = net.act_stride - out.n_in;
    {
        let h_last = &acts[in_off..in_off + out.n_in];
        g[out.b] += dz;
        axpy::<FMA>(&mut g[out.w..out.w + out.n_in], dz, h_last);
        let w = &p[out.w..out.w + out.n_in];
        for ((d, &h), &wi) in dh_a[..out.n_in].iter_mut().zip(h_last).zip(w) {
            *d = if h > 0.0 { dz * wi } else { 0.0 };
        }
    }
    // Hidden layers from the last to the second: dh_a holds the gradient
    // at this layer's pre-activation (already masked), dh_b receives the
    // previous layer's.
    let (mut dh, mut dprev) = (dh_a, dh_b);
    for li in (1..n_hidden).rev() {
        let layer = &layers[li];
        let prev_off = in_off - layer.n_in;
        let h_in = &acts[prev_off..in_off];
        let d = &dh[..layer.n_out];
        add(&mut g[layer.b..layer.b + layer.n_out], d);
        let dp = &mut dprev[..layer.n_in];
        dp.fill(0.0);
        let k = n_active[li - 1] as usize;
        let on = &active[prev_off..prev_off + k];
        hidden_backward::<FMA>(&mut g[layer.w..layer.b], &p[layer.w..layer.b], layer.n_out, on, h_in, d, dp);
        in_off = prev_off;
        std::mem::swap(&mut dh, &mut dprev);
    }
    // First layer: the same terms as in the forward pass.
    let width = first.n_out;
    let d = &dh[..width];
    add(&mut g[first.b..first.b + width], d);
    let numeric = |t: usize| (t, dense[t]);
    let one_hot = |t: usize| one_hot_term(cats[t]);
    scatter_rows::<FMA>(&mut g[first.w..first.b], width, d, dense.len(), numeric, cats.len(), one_hot);
}

#[inline(always)]
fn forward_rows_impl<const FMA: bool>(
    net: Net,
    p: &[f32],
    data: &Dataset,
    rows: &[u32],
    ws: &mut Workspace,
    slot_offset: usize,
    logits: &mut [f32],
) {
    let stride = net.act_stride;
    let nh = ws.n_hidden;
    for (i, (&r, z)) in rows.iter().zip(logits.iter_mut()).enumerate() {
        let slot = slot_offset + i;
        let r = r as usize;
        *z = forward_row::<FMA>(
            net,
            p,
            data.dense_row(r),
            data.cat_row(r),
            &mut ws.acts[slot * stride..(slot + 1) * stride],
            &mut ws.active[slot * stride..(slot + 1) * stride],
            &mut ws.n_active[slot * nh..(slot + 1) * nh],
        );
    }
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn backward_rows_impl<const FMA: bool>(
    net: Net,
    p: &[f32],
    data: &Dataset,
    rows: &[u32],
    ws: &mut Workspace,
    slot_offset: usize,
    dz: &[f32],
    g: &mut [f32],
) {
    let stride = net.act_stride;
    let nh = ws.n_hidden;
    for (i, (&r, &d)) in rows.iter().zip(dz).enumerate() {
        if d == 0.0 {
            continue;
        }
        let slot = slot_offset + i;
        let r = r as usize;
        backward_row::<FMA>(
            net,
            p,
            g,
            data.dense_row(r),
            data.cat_row(r),
            &ws.acts[slot * stride..(slot + 1) * stride],
            &ws.active[slot * stride..(slot + 1) * stride],
            &ws.n_active[slot * nh..(slot + 1) * nh],
            d,
            &mut ws.dh_a,
            &mut ws.dh_b,
        );
    }
}

#[inline(always)]
fn logits_range_impl<const FMA: bool>(
    net: Net,
    p: &[f32],
    data: &Dataset,
    start: usize,
    ws: &mut Workspace,
    out: &mut [f32],
) {
    let nh = ws.n_hidden;
    for (i, z) in out.iter_mut().enumerate() {
        let r = start + i;
        *z = forward_row::<FMA>(
            net,
            p,
            data.dense_row(r),
            data.cat_row(r),
            &mut ws.acts[..net.act_stride],
            &mut ws.active[..net.act_stride],
            &mut ws.n_active[..nh],
        );
    }
}

dispatched! {
    /// Forward pass of `rows` into workspace slots starting at `slot_offset`.
    fn forward_rows(net: Net, p: &[f32], data: &Dataset, rows: &[u32], ws: &mut Workspace, slot_offset: usize, logits: &mut [f32]) => forward_rows_impl;
}

dispatched! {
    /// Backward pass of `rows`, stored in workspace slots starting at
    /// `slot_offset`, with per-row derivatives `dz`; accumulates into `g`.
    fn backward_rows(net: Net, p: &[f32], data: &Dataset, rows: &[u32], ws: &mut Workspace, slot_offset: usize, dz: &[f32], g: &mut [f32]) => backward_rows_impl;
}

dispatched! {
    /// Logits of rows `start..start + out.len()` (no gradients kept).
    fn logits_range(net: Net, p: &[f32], data: &Dataset, start: usize, ws: &mut Workspace, out: &mut [f32]) => logits_range_impl;
}
