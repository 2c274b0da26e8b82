//! A `[[constraint]]` declaration to and from a [`FairnessConstraint`].

use super::config::{ConstraintSpec, KindName, SenseName};
use crate::constraints::{Comparison, ConstraintKind, FairnessConstraint, Notion, Sense};
use crate::error::{Error, Result};

/// A constraint from its declaration and its bound (the declaration's own,
/// else the positional `bound`, else the notion's default).
pub fn resolve_constraint(spec: &ConstraintSpec, positional: Option<f64>) -> Result<FairnessConstraint> {
    if spec.bound.is_some() && positional.is_some() {
        return Err(Error::config("bound", "given both in a [[constraint]] table and as a top-level bound"));
    }
    let bound = spec.bound.or(positional);
    let mut constraint = match (spec.notion, spec.kind) {
        (Some(notion), None) => {
            if spec.statistic.is_some() || spec.sense.is_some() {
                return Err(Error::config(
                    "constraint",
                    format!("{} fixes its statistics and sense; use kind = ... for a custom constraint", notion.name()),
                ));
            }
            match bound {
                Some(b) => FairnessConstraint::new(notion, b)?,
                None => FairnessConstraint::with_default_bound(notion)?,
            }
        }
        (None, Some(kind)) => {
            let statistics = spec.statistic.clone().unwrap_or_default();
            if kind != KindName::WeightNorm && statistics.is_empty() {
                return Err(Error::config("constraint", "a custom constraint needs statistic = ..."));
            }
            if kind != KindName::Gap && statistics.len() > 1 {
                return Err(Error::config("statistic", "only a gap takes several statistics"));
            }
            let first = statistics.first().copied();
            let kind = match kind {
                KindName::Gap => {
                    ConstraintKind::Gap { statistics: statistics.clone(), comparison: Comparison::Pairwise }
                }
                KindName::GroupBound => ConstraintKind::GroupBound {
                    statistic: first.expect("checked above"),
                    sense: match spec.sense {
                        Some(SenseName::AtLeast) => Sense::AtLeast,
                        _ => Sense::AtMost,
                    },
                },
                KindName::AbsoluteBound => ConstraintKind::AbsoluteBound { statistic: first.expect("checked above") },
                KindName::Ratio => ConstraintKind::Ratio { statistic: first.expect("checked above") },
                KindName::WeightNorm => ConstraintKind::WeightNorm,
            };
            let bound = bound.ok_or_else(|| Error::config("bound", "a custom constraint needs a bound"))?;
            let default_name = match &kind {
                ConstraintKind::WeightNorm => "weight-norm".to_string(),
                _ => format!(
                    "{}:{}",
                    spec.kind.expect("a kind").name(),
                    statistics.iter().map(|s| s.name()).collect::<Vec<_>>().join("+")
                ),
            };
            FairnessConstraint::custom(spec.name.clone().unwrap_or(default_name), kind, bound)?
        }
        (Some(_), Some(_)) => return Err(Error::config("constraint", "give either a notion or a kind, not both")),
        (None, None) => {
            return Err(Error::config(
                "constraint",
                "a [[constraint]] table needs notion = \"...\" (or kind = ... and statistic = ...)",
            ));
        }
    };
    if let Some(comparison) = spec.comparison {
        match &mut constraint.kind {
            ConstraintKind::Gap { comparison: c, .. } => *c = comparison,
            _ => return Err(Error::config("comparison", format!("applies to gaps, not to {}", constraint.name))),
        }
    }
    if let Some(name) = &spec.name {
        constraint.name = name.clone();
    }
    Ok(constraint)
}

/// A constraint as a declaration: a named notion (with its comparison when
/// it is measured against all rows), or a kind with its statistics.
pub fn spec_of(c: &FairnessConstraint) -> ConstraintSpec {
    let bound = Some(c.bound);
    if let Some(notion) = Notion::ALL.into_iter().find(|n| n.name() == c.name) {
        let comparison = match (notion.kind(), &c.kind) {
            (ConstraintKind::Gap { statistics: a, .. }, ConstraintKind::Gap { statistics: b, comparison })
                if &a == b =>
            {
                Some((*comparison != Comparison::Pairwise).then_some(*comparison))
            }
            (kind, own) if &kind == own => Some(None),
            _ => None,
        };
        if let Some(comparison) = comparison {
            return ConstraintSpec { notion: Some(notion), bound, comparison, ..ConstraintSpec::default() };
        }
    }
    let (kind, statistic, comparison, sense) = match &c.kind {
        ConstraintKind::Gap { statistics, comparison } => {
            (KindName::Gap, Some(statistics.clone()), Some(*comparison), None)
        }
        ConstraintKind::GroupBound { statistic, sense } => (
            KindName::GroupBound,
            Some(vec![*statistic]),
            None,
            Some(if *sense == Sense::AtLeast { SenseName::AtLeast } else { SenseName::AtMost }),
        ),
        ConstraintKind::AbsoluteBound { statistic } => (KindName::AbsoluteBound, Some(vec![*statistic]), None, None),
        ConstraintKind::Ratio { statistic } => (KindName::Ratio, Some(vec![*statistic]), None, None),
        ConstraintKind::WeightNorm => (KindName::WeightNorm, None, None, None),
    };
    ConstraintSpec {
        kind: Some(kind),
        statistic,
        comparison,
        sense,
        bound,
        name: Some(c.name.clone()),
        ..ConstraintSpec::default()
    }
}
