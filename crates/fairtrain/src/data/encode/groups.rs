//! Groups: the sensitive columns ([`GroupColumn`]: plain, one-vs-rest, or
//! numeric bands), and each kept row's group, named from its values and
//! ordered by size over the training rows.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::RowRef;
use crate::data::peers::Peers;
use crate::data::table::RawTable;
use crate::error::{Error, Result};

/// One sensitive column. Its values name the groups, unless `keep` is set:
/// then the value `keep` is one group and every other value is the group
/// `rest` (Adult's race: `White` vs `Non-White`); or unless `bands` is
/// set: then the column is numeric and each band between consecutive cut
/// points is a group (age bands).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupColumn {
    /// Column name.
    pub name: String,
    /// One-vs-rest recoding: `(value kept, name of the rest)`.
    pub one_vs_rest: Option<(String, String)>,
    /// Increasing cut points of a numeric column: `[a, b]` gives the
    /// groups `name<a`, `a<=name<b` and `name>=b`. Empty: the values are
    /// the groups.
    pub bands: Vec<f64>,
}

impl GroupColumn {
    /// A column whose values are the groups.
    pub fn plain(name: impl Into<String>) -> Self {
        GroupColumn { name: name.into(), one_vs_rest: None, bands: Vec::new() }
    }

    /// A column whose value `keep` is one group and every other value the
    /// group `rest`.
    pub fn one_vs_rest(name: impl Into<String>, keep: impl Into<String>, rest: impl Into<String>) -> Self {
        GroupColumn { name: name.into(), one_vs_rest: Some((keep.into(), rest.into())), bands: Vec::new() }
    }

    /// A group column as `--group` writes it: `COL`, or `COL:a:b:...` for
    /// bands of a numeric column at increasing cut points.
    ///
    /// ```
    /// use fairtrain::data::GroupColumn;
    /// let age = GroupColumn::parse("age:30:50").unwrap();
    /// assert_eq!((age.name.as_str(), age.bands.as_slice()), ("age", &[30.0, 50.0][..]));
    /// assert_eq!(age.band_names(), ["age<30", "30<=age<50", "age>=50"]);
    /// assert!(GroupColumn::parse("age:50:30").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Self> {
        let mut parts = text.split(':');
        let name = parts.next().unwrap_or_default().trim();
        if name.is_empty() {
            return Err(Error::config("group", format!("'{text}' names no column")));
        }
        let bands = parts
            .map(|p| {
                p.trim().parse::<f64>().ok().filter(|v| v.is_finite()).ok_or_else(|| {
                    Error::config("group", format!("'{text}': cut point '{p}' is not a number (COLUMN:a:b:...)"))
                })
            })
            .collect::<Result<Vec<f64>>>()?;
        if bands.windows(2).any(|w| w[0] >= w[1]) {
            return Err(Error::config("group", format!("'{text}': the cut points must increase")));
        }
        Ok(GroupColumn { name: name.to_string(), one_vs_rest: None, bands })
    }

    /// The groups' names when the column is cut into bands (empty when it
    /// is not).
    pub fn band_names(&self) -> Vec<String> {
        if self.bands.is_empty() {
            return Vec::new();
        }
        let (n, b) = (&self.name, &self.bands);
        let mut names = vec![format!("{n}<{}", b[0])];
        names.extend(b.windows(2).map(|w| format!("{}<={n}<{}", w[0], w[1])));
        names.push(format!("{n}>={}", b[b.len() - 1]));
        names
    }

    /// The band of numeric value `v`.
    fn band(&self, v: f64) -> usize {
        self.bands.partition_point(|&cut| cut <= v)
    }

    /// This column's part of a row's group name, from the row's `value`
    /// (`band_names` from [`band_names`](Self::band_names)); `None` when
    /// the column is cut into bands and `value` is not a number.
    ///
    /// ```
    /// use fairtrain::data::GroupColumn;
    /// let age = GroupColumn::parse("age:30").unwrap();
    /// let bands = age.band_names();
    /// assert_eq!(age.group_part("42", &bands), Some("age>=30"));
    /// assert_eq!(age.group_part("n/a", &bands), None);
    /// let race = GroupColumn::one_vs_rest("race", "White", "Non-White");
    /// assert_eq!(race.group_part("Asian-Pac-Islander", &[]), Some("Non-White"));
    /// ```
    pub fn group_part<'a>(&'a self, value: &'a str, band_names: &'a [String]) -> Option<&'a str> {
        if !self.bands.is_empty() {
            let x = value.trim().parse::<f64>().ok().filter(|x| x.is_finite())?;
            return Some(band_names[self.band(x)].as_str());
        }
        Some(match &self.one_vs_rest {
            Some((keep, rest)) if value != keep => rest.as_str(),
            _ => value,
        })
    }
}

/// Plain group columns from `groups`, each of which must be one of
/// `allowed` (the sensitive columns data set `name` offers).
pub fn allowed_groups(name: &str, groups: &[String], allowed: &[&str]) -> Result<Vec<GroupColumn>> {
    groups
        .iter()
        .map(|g| {
            if allowed.contains(&g.as_str()) {
                Ok(GroupColumn::plain(g.as_str()))
            } else {
                Err(Error::config(
                    "group",
                    format!("'{g}' is not a sensitive column of {name} (use {})", allowed.join(" or ")),
                ))
            }
        })
        .collect()
}

/// The name of the one group of a run without sensitive columns.
pub const ALL: &str = "all";

/// The groups of the kept rows: their names (largest first over the
/// training rows, `tables[0]`'s, then by name) and each kept row's group.
/// No group columns put every row in the one group [`ALL`] (a run without
/// fairness constraints); with group columns, fewer than two groups, a group value that is not a number where the
/// column is cut into bands, or a test row whose group has no training rows
/// is an error naming file and line.
pub(super) fn assign_groups(
    tables: &[RawTable],
    kept: &[RowRef],
    groups: &[GroupColumn],
    group_cols: &[usize],
    peers: Peers,
) -> Result<(Vec<String>, Vec<u32>)> {
    let band_names: Vec<Vec<String>> = groups.iter().map(GroupColumn::band_names).collect();
    let group_key = |r: RowRef| -> Result<String> {
        let table = &tables[r.table];
        let parts = groups
            .iter()
            .zip(group_cols)
            .zip(&band_names)
            .map(|((g, &c), bands)| {
                let v = table.columns[c].text(r.row).unwrap_or_default();
                g.group_part(&v, bands).map(str::to_string).ok_or_else(|| {
                    Error::Data(format!(
                        "{}, line {}, column '{}': '{v}' is not a number (the group is cut into bands)",
                        table.source, table.lines[r.row], g.name
                    ))
                })
            })
            .collect::<Result<Vec<String>>>()?;
        // No sensitive column: every row is in the one group `all`.
        Ok(if parts.is_empty() { ALL.to_string() } else { parts.join(" & ") })
    };
    // Each distinct combination of a table's group cells is named once
    // (the group columns are in dictionary form): `combo_of[i]` indexes
    // `combos`, whose entries are (name, training rows).
    let mut combo_ids: HashMap<Vec<u32>, u32, foldhash::fast::FixedState> = HashMap::default();
    let mut combos: Vec<(String, usize)> = Vec::new();
    let mut combo_of: Vec<u32> = Vec::with_capacity(kept.len());
    let mut codes: Vec<u32> = Vec::with_capacity(group_cols.len() + 1);
    let named = (|| -> Result<()> {
        for &r in kept {
            codes.clear();
            codes.push(r.table as u32);
            codes.extend(group_cols.iter().map(|&c| tables[r.table].columns[c].codes[r.row]));
            let id = match combo_ids.get(codes.as_slice()) {
                Some(&id) => id,
                None => {
                    let id = combos.len() as u32;
                    combos.push((group_key(r)?, 0));
                    combo_ids.insert(codes.clone(), id);
                    id
                }
            };
            combos[id as usize].1 += (r.table == 0) as usize;
            combo_of.push(id);
        }
        Ok(())
    })();
    peers.agree(named)?;
    let mut local: BTreeMap<&str, usize> = BTreeMap::new();
    for (name, n) in &combos {
        *local.entry(name.as_str()).or_default() += n;
    }
    // Training rows per name over every process's share.
    let shares = peers.gather(&local.into_iter().map(|(name, n)| (name.to_string(), n as u64)).collect::<Vec<_>>());
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for (name, n) in shares.iter().flatten() {
        *counts.entry(name.as_str()).or_default() += *n as usize;
    }
    // (A name with no training rows is a test row's unknown group.)
    counts.retain(|_, n| *n > 0);
    let mut group_names: Vec<(&str, usize)> = counts.into_iter().collect();
    group_names.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let group_label = groups.iter().map(|g| g.name.as_str()).collect::<Vec<_>>().join(",");
    if group_names.len() < 2 && !groups.is_empty() {
        let only = group_names.first().map_or("", |g| g.0);
        return Err(Error::Data(format!(
            "group column '{group_label}' has only one group ('{only}') in the training data; \
             fairness constraints need at least two groups"
        )));
    }
    let group_index: HashMap<&str, u32> =
        group_names.iter().enumerate().map(|(i, (name, _))| (*name, i as u32)).collect();
    let combo_group: Vec<Option<u32>> =
        combos.iter().map(|(name, _)| group_index.get(name.as_str()).copied()).collect();
    let group_of = kept
        .iter()
        .zip(&combo_of)
        .map(|(r, &id)| {
            combo_group[id as usize].ok_or_else(|| {
                Error::Data(format!(
                    "{}, line {}: group '{}' does not occur in the training data",
                    tables[r.table].source, tables[r.table].lines[r.row], combos[id as usize].0
                ))
            })
        })
        .collect::<Result<Vec<u32>>>();
    Ok((group_names.iter().map(|(n, _)| n.to_string()).collect(), peers.agree(group_of)?))
}
