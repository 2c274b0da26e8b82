//! Binary cross-entropy on logits, in the numerically stable form.

/// BCE-with-logits of logit `z` against label `y` (0 or 1) and its
/// derivative with respect to `z`:
/// `loss = max(z, 0) - z*y + ln(1 + exp(-|z|))`, `d loss / dz = sigmoid(z) - y`.
///
/// ```
/// use fairtrain::model::loss::bce_with_logits;
/// let (loss, d) = bce_with_logits(0.0, 1.0);
/// assert!((loss - std::f32::consts::LN_2).abs() < 1e-7);
/// assert!((d + 0.5).abs() < 1e-7);
/// ```
#[inline]
pub fn bce_with_logits(z: f32, y: f32) -> (f32, f32) {
    let e = (-z.abs()).exp();
    let loss = z.max(0.0) - z * y + e.ln_1p();
    let sigmoid = if z >= 0.0 { 1.0 / (1.0 + e) } else { e / (1.0 + e) };
    (loss, sigmoid - y)
}

/// Each row's `(loss, d loss / dz)` under `loss`, from the rows' logits
/// and labels, into `losses` and `dlosses`.
#[inline]
pub fn row_losses(
    logits: &[f32],
    labels: &[f32],
    losses: &mut [f32],
    dlosses: &mut [f32],
    loss: impl Fn(f32, f32) -> (f32, f32),
) {
    for (((&z, &y), l), d) in logits.iter().zip(labels).zip(losses.iter_mut()).zip(dlosses.iter_mut()) {
        (*l, *d) = loss(z, y);
    }
}

/// The logistic function, stable for large `|z|`.
#[inline]
pub fn sigmoid(z: f32) -> f32 {
    let e = (-z.abs()).exp();
    if z >= 0.0 { 1.0 / (1.0 + e) } else { e / (1.0 + e) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_naive_formula_and_stays_finite() {
        for &z in &[-30.0f32, -3.0, -0.5, 0.0, 0.2, 4.0, 30.0] {
            for &y in &[0.0f32, 1.0] {
                let (loss, d) = bce_with_logits(z, y);
                // ln(1 + e^z) - z y, exact enough in f64 for |z| <= 30.
                let (z64, y64) = (z as f64, y as f64);
                let reference = (1.0 + z64.exp()).ln() - z64 * y64;
                assert!((loss as f64 - reference).abs() < 1e-5 * reference.max(1.0), "z={z} y={y}");
                let p = 1.0 / (1.0 + (-z64).exp());
                assert!((d as f64 - (p - y64)).abs() < 1e-6);
                assert!(loss.is_finite());
            }
        }
        // Far in the tail the naive formula overflows; the stable one does not.
        assert!((bce_with_logits(-100.0, 1.0).0 - 100.0).abs() < 1e-4);
    }
}
