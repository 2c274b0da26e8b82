//! One group's achievable decisions: the points (FPR, TPR) of its ROC
//! curve on a scored split, and their convex hull, which is exactly what
//! mixtures of decision thresholds reach.

/// A point in ROC space: `(false positive rate, true positive rate)`.
pub(crate) type Point = (f64, f64);

/// One group's ROC curve on a scored split and its convex hull.
#[derive(Debug, Clone)]
pub(crate) struct Roc {
    /// Weighted positives and negatives of the group.
    pub(crate) positives: f64,
    pub(crate) negatives: f64,
    /// Hull vertices (counter-clockwise), each with the logit threshold that
    /// reaches it (predict positive when the logit is at least it).
    pub(crate) hull: Vec<(Point, f32)>,
}

/// The threshold that predicts nothing positive.
pub(crate) const NOTHING: f32 = f32::INFINITY;
/// The threshold that predicts everything positive.
pub(crate) const EVERYTHING: f32 = f32::MIN;

fn cross(o: Point, a: Point, b: Point) -> f64 {
    (a.0 - o.0) * (b.1 - o.1) - (a.1 - o.1) * (b.0 - o.0)
}

impl Roc {
    /// The ROC of rows `(logit, label, weight)` of one group. Thresholds sit
    /// halfway between consecutive distinct logits, so new rows scoring
    /// between two validation rows are decided by the nearer one.
    pub(crate) fn new(rows: &mut [(f32, bool, f64)]) -> Roc {
        rows.sort_by(|a, b| b.0.total_cmp(&a.0));
        let positives: f64 = rows.iter().filter(|r| r.1).map(|r| r.2).sum();
        let negatives: f64 = rows.iter().filter(|r| !r.1).map(|r| r.2).sum();
        let rate = |count: f64, total: f64| if total > 0.0 { count / total } else { 0.0 };
        let mut curve: Vec<(Point, f32)> = vec![((0.0, 0.0), NOTHING)];
        let (mut tp, mut fp) = (0.0, 0.0);
        let mut i = 0;
        while i < rows.len() {
            let z = rows[i].0;
            while i < rows.len() && rows[i].0 == z {
                if rows[i].1 {
                    tp += rows[i].2;
                } else {
                    fp += rows[i].2;
                }
                i += 1;
            }
            let threshold = match rows.get(i) {
                None => EVERYTHING,
                Some(next) => {
                    let mid = ((z as f64 + next.0 as f64) / 2.0) as f32;
                    if mid > next.0 && mid <= z { mid } else { z }
                }
            };
            curve.push(((rate(fp, negatives), rate(tp, positives)), threshold));
        }
        Roc { positives, negatives, hull: convex_hull(curve) }
    }

    /// The ROC of unit-weight rows `(logit, label)` (for tests).
    #[cfg(test)]
    pub(crate) fn of(rows: &[(f32, bool)]) -> Roc {
        let mut rows: Vec<(f32, bool, f64)> = rows.iter().map(|&(z, y)| (z, y, 1.0)).collect();
        Roc::new(&mut rows)
    }

    /// The weighted count of correct decisions at `p`.
    pub(crate) fn correct(&self, p: Point) -> f64 {
        self.positives * p.1 + self.negatives * (1.0 - p.0)
    }

    /// `p` (a point of the hull) as a mixture of at most three hull
    /// vertices: `(threshold, weight)` pairs with weights summing to 1.
    pub(crate) fn mixture(&self, p: Point) -> Vec<(f32, f64)> {
        let h = &self.hull;
        let mut best: Option<(f64, Vec<(f32, f64)>)> = None;
        let mut consider = |error: f64, parts: Vec<(f32, f64)>| {
            if best.as_ref().is_none_or(|b| error < b.0) {
                best = Some((error, parts));
            }
        };
        match h.len() {
            0 => return vec![(NOTHING, 1.0)],
            1 => return vec![(h[0].1, 1.0)],
            _ => {}
        }
        // Segments (a hull of two vertices, or p on an edge).
        for k in 0..h.len() {
            let (a, b) = (h[k], h[(k + 1) % h.len()]);
            let d = (b.0.0 - a.0.0, b.0.1 - a.0.1);
            let len2 = d.0 * d.0 + d.1 * d.1;
            let s = if len2 > 0.0 { (((p.0 - a.0.0) * d.0 + (p.1 - a.0.1) * d.1) / len2).clamp(0.0, 1.0) } else { 0.0 };
            let q = (a.0.0 + s * d.0, a.0.1 + s * d.1);
            let error = (q.0 - p.0).abs() + (q.1 - p.1).abs();
            consider(error, vec![(a.1, 1.0 - s), (b.1, s)]);
        }
        // Triangles of a fan from the first vertex.
        for k in 1..h.len().saturating_sub(1) {
            let (a, b, c) = (h[0], h[k], h[k + 1]);
            let area = cross(a.0, b.0, c.0);
            if area.abs() < 1e-15 {
                continue;
            }
            let wb = cross(a.0, p, c.0) / cross(a.0, b.0, c.0);
            let wc = cross(a.0, b.0, p) / area;
            let wa = 1.0 - wb - wc;
            if wa >= -1e-12 && wb >= -1e-12 && wc >= -1e-12 {
                consider(0.0, vec![(a.1, wa.max(0.0)), (b.1, wb.max(0.0)), (c.1, wc.max(0.0))]);
            }
        }
        let mut parts = best.map(|b| b.1).unwrap_or_default();
        parts.retain(|&(_, w)| w > 1e-12);
        let total: f64 = parts.iter().map(|p| p.1).sum();
        parts.iter_mut().for_each(|p| p.1 /= total);
        parts
    }
}

/// Convex hull of the curve's points (monotone chain), counter-clockwise,
/// without collinear points; ties keep the first threshold seen.
fn convex_hull(mut points: Vec<(Point, f32)>) -> Vec<(Point, f32)> {
    points.sort_by(|a, b| a.0.0.total_cmp(&b.0.0).then(a.0.1.total_cmp(&b.0.1)));
    points.dedup_by(|b, a| a.0 == b.0);
    if points.len() < 3 {
        return points;
    }
    let mut lower: Vec<(Point, f32)> = Vec::new();
    for &p in &points {
        while lower.len() >= 2 && cross(lower[lower.len() - 2].0, lower[lower.len() - 1].0, p.0) <= 0.0 {
            lower.pop();
        }
        lower.push(p);
    }
    let mut upper: Vec<(Point, f32)> = Vec::new();
    for &p in points.iter().rev() {
        while upper.len() >= 2 && cross(upper[upper.len() - 2].0, upper[upper.len() - 1].0, p.0) <= 0.0 {
            upper.pop();
        }
        upper.push(p);
    }
    lower.pop();
    upper.pop();
    lower.extend(upper);
    lower
}

/// The part of convex polygon `poly` where `a.0 * f + a.1 * t <= c`
/// (Sutherland-Hodgman against one half-plane).
pub(crate) fn clip(poly: &[Point], a: (f64, f64), c: f64) -> Vec<Point> {
    let inside = |p: Point| a.0 * p.0 + a.1 * p.1 <= c + 1e-12;
    let mut out = Vec::with_capacity(poly.len() + 1);
    for k in 0..poly.len() {
        let (p, q) = (poly[k], poly[(k + 1) % poly.len()]);
        let (pin, qin) = (inside(p), inside(q));
        if pin {
            out.push(p);
        }
        if pin != qin && poly.len() > 1 {
            let (vp, vq) = (a.0 * p.0 + a.1 * p.1 - c, a.0 * q.0 + a.1 * q.1 - c);
            let s = vp / (vp - vq);
            out.push((p.0 + s * (q.0 - p.0), p.1 + s * (q.1 - p.1)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roc(rows: &[(f32, bool)]) -> Roc {
        Roc::of(rows)
    }

    #[test]
    fn the_hull_of_a_perfect_ranking_is_the_unit_square_corner() {
        let r = roc(&[(2.0, true), (1.0, true), (-1.0, false), (-2.0, false)]);
        let points: Vec<Point> = r.hull.iter().map(|h| h.0).collect();
        assert_eq!(points, [(0.0, 0.0), (1.0, 1.0), (0.0, 1.0)]);
        // (0, 1) is reached by the threshold halfway between 1 and -1.
        assert_eq!(r.hull[2].1, 0.0);
        assert_eq!(r.correct((0.0, 1.0)), 4.0);
    }

    #[test]
    fn a_point_inside_the_hull_is_a_mixture_of_its_vertices() {
        let r = roc(&[(2.0, true), (1.0, false), (0.0, true), (-1.0, false)]);
        let p = (0.3, 0.6);
        let m = r.mixture(p);
        let vertex = |t: f32| r.hull.iter().find(|h| h.1 == t).unwrap().0;
        let f: f64 = m.iter().map(|&(t, w)| w * vertex(t).0).sum();
        let tp: f64 = m.iter().map(|&(t, w)| w * vertex(t).1).sum();
        assert!((f - 0.3).abs() < 1e-12 && (tp - 0.6).abs() < 1e-12, "{m:?}");
        assert!((m.iter().map(|x| x.1).sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn clipping_keeps_the_side_asked_for() {
        let square = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)];
        let left = clip(&square, (1.0, 0.0), 0.5);
        assert_eq!(left, [(0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0)]);
    }
}
