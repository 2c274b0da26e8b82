//! Which columns play which part: the target, the group columns, the
//! sample weight, dropped columns, forced types, and the features left.

use super::TableSpec;
use crate::data::table::RawTable;
use crate::error::{Error, Result};

/// Column indices of the training table, by role.
pub(super) struct Columns {
    pub(super) target: usize,
    pub(super) groups: Vec<usize>,
    pub(super) weight: Option<usize>,
    /// Declared categorical, declared numeric.
    pub(super) forced_categorical: Vec<usize>,
    pub(super) forced_numeric: Vec<usize>,
    /// The feature columns, in table order.
    pub(super) features: Vec<usize>,
    /// Every column a row needs (features, target, groups, weight), sorted.
    pub(super) used: Vec<usize>,
}

impl Columns {
    /// The roles `spec` gives the columns of `main`: an unknown column, or
    /// one with two incompatible roles, is an error naming it.
    pub(super) fn resolve(main: &RawTable, spec: &TableSpec) -> Result<Self> {
        let target = main.column_index(&spec.target)?;
        let mut groups = Vec::with_capacity(spec.groups.len());
        for g in &spec.groups {
            let c = main.column_index(&g.name)?;
            if c == target {
                return Err(Error::Data(format!("column '{}' cannot be both the target and a group column", g.name)));
            }
            if groups.contains(&c) {
                return Err(Error::Data(format!("group column '{}' is named twice", g.name)));
            }
            groups.push(c);
        }
        let mut dropped = Vec::new();
        for d in &spec.drop {
            let c = main.column_index(d)?;
            if c == target || groups.contains(&c) {
                return Err(Error::Data(format!("column '{d}' is dropped but is the target or a group column")));
            }
            dropped.push(c);
        }
        let mut forced_categorical = Vec::new();
        for name in &spec.categorical {
            forced_categorical.push(main.column_index(name)?);
        }
        let mut forced_numeric = Vec::new();
        for name in &spec.numeric {
            let c = main.column_index(name)?;
            if forced_categorical.contains(&c) {
                return Err(Error::Data(format!("column '{name}' is declared both numeric and categorical")));
            }
            forced_numeric.push(c);
        }
        let weight = match &spec.weight {
            Some(w) => {
                let c = main.column_index(w)?;
                if c == target || groups.contains(&c) || dropped.contains(&c) {
                    return Err(Error::Data(format!(
                        "weight column '{w}' is also the target, a group column or a dropped column"
                    )));
                }
                Some(c)
            }
            None => None,
        };
        let features: Vec<usize> = (0..main.names.len())
            .filter(|&c| {
                c != target
                    && Some(c) != weight
                    && !dropped.contains(&c)
                    && (spec.keep_group_feature || !groups.contains(&c))
            })
            .collect();
        if features.is_empty() {
            return Err(Error::Data(format!(
                "{}: no feature columns are left after removing the target, group and dropped columns",
                main.source
            )));
        }
        let mut used: Vec<usize> = features.clone();
        used.push(target);
        used.extend(groups.iter().filter(|c| !features.contains(c)));
        used.extend(weight);
        used.sort_unstable();
        Ok(Columns { target, groups, weight, forced_categorical, forced_numeric, features, used })
    }
}
