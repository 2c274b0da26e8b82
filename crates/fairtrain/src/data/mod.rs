//! Data: reading tables, encoding them into model inputs, the built-in data
//! sets, and minibatch sampling.
//!
//! A [`Dataset`] stores each row as a few standardized numeric values plus,
//! for each categorical column, the index of its one-hot input (at most one
//! input per categorical column is non-zero). Models read rows in this form,
//! so a one-hot encoded row costs as many operations as it has non-zeros
//! rather than as many as it has inputs.

pub mod acs;
pub mod adult;
pub mod arff;
pub mod cache;
pub mod catalog;
pub mod column;
pub mod compas;
pub mod csv_shard;
pub mod encode;
pub mod german;
pub mod law;
#[cfg(feature = "parquet")]
pub mod parquet;
pub mod peers;
pub mod sampler;
pub mod schema;
pub mod short_keys;
pub mod source;
pub mod synthetic;
pub mod table;

use std::sync::Arc;

use crate::error::{Error, Result};

pub use encode::{Encoded, GroupColumn, MissingPolicy, PrepReport, Split, TableSpec};
pub use sampler::EpochSampler;
pub use source::{DataSource, LoadOptions, load};
pub use table::excerpt;

/// Marks a categorical cell with no one-hot input (a category not seen in
/// the training data); such a cell contributes nothing to the input.
pub const NO_INPUT: u32 = u32::MAX;

/// A categorical feature: its one-hot inputs are `offset..offset + categories.len()`.
#[derive(Debug, Clone, PartialEq)]
pub struct CategoricalFeature {
    /// Column name.
    pub name: String,
    /// Categories seen in the training data, in input order.
    pub categories: Vec<String>,
    /// Index of the first one-hot input.
    pub offset: u32,
}

/// How table columns map to model inputs: numeric features first (inputs
/// `0..numeric.len()`, standardized with training statistics), then the
/// one-hot blocks of the categorical features.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FeatureLayout {
    /// Numeric feature names, in input order.
    pub numeric: Vec<String>,
    /// Training mean of each numeric feature.
    pub means: Vec<f64>,
    /// Training standard deviation (population) of each numeric feature; 1 for constant columns.
    pub stds: Vec<f64>,
    /// Categorical features, in input order.
    pub categorical: Vec<CategoricalFeature>,
}

impl FeatureLayout {
    /// Total number of model inputs (numeric plus one-hot).
    pub fn n_inputs(&self) -> usize {
        self.numeric.len() + self.categorical.iter().map(|c| c.categories.len()).sum::<usize>()
    }

    /// Name of every model input, e.g. `age` or `sex=Female`.
    pub fn input_names(&self) -> Vec<String> {
        let mut names = self.numeric.clone();
        for c in &self.categorical {
            names.extend(c.categories.iter().map(|v| format!("{}={}", c.name, v)));
        }
        names
    }
}

/// An encoded data set: inputs, binary labels and group membership.
///
/// ```
/// use fairtrain::data::Dataset;
/// // Three rows with two numeric features, two groups.
/// let data = Dataset::from_dense(
///     vec![0.0, 1.0, 1.0, 0.5, -1.0, 2.0],
///     2,
///     vec![1.0, 0.0, 1.0],
///     vec![0, 1, 1],
///     vec!["a".into(), "b".into()],
/// )
/// .unwrap();
/// assert_eq!(data.n_rows(), 3);
/// assert_eq!(data.group_counts(), vec![1, 2]);
/// ```
#[derive(Debug, Clone)]
pub struct Dataset {
    layout: Arc<FeatureLayout>,
    group_names: Arc<Vec<String>>,
    dense: Vec<f32>,
    cats: Vec<u32>,
    labels: Vec<f32>,
    groups: Vec<u32>,
    /// Sample weights; empty when every row weighs 1.
    weights: Vec<f32>,
    /// The rows' features are held elsewhere ([`Dataset::outcomes_of`]).
    outcomes_only: bool,
}

impl Dataset {
    /// Builds a data set from parts. `dense` is row-major with
    /// `layout.numeric.len()` values per row and `cats` row-major with
    /// `layout.categorical.len()` input indices per row (or [`NO_INPUT`]).
    pub fn new(
        layout: Arc<FeatureLayout>,
        group_names: Arc<Vec<String>>,
        dense: Vec<f32>,
        cats: Vec<u32>,
        labels: Vec<f32>,
        groups: Vec<u32>,
    ) -> Result<Self> {
        let n = labels.len();
        let n_dense = layout.numeric.len();
        let n_cat = layout.categorical.len();
        if dense.len() != n * n_dense || cats.len() != n * n_cat || groups.len() != n {
            return Err(Error::Data(format!(
                "inconsistent data set: {n} labels, {} numeric values ({n_dense} per row), \
                 {} categorical values ({n_cat} per row), {} group entries",
                dense.len(),
                cats.len(),
                groups.len()
            )));
        }
        if let Some(v) = dense.iter().find(|v| !v.is_finite()) {
            return Err(Error::Data(format!("data set holds a non-finite feature value ({v})")));
        }
        if let Some(&l) = labels.iter().find(|&&l| l != 0.0 && l != 1.0) {
            return Err(Error::Data(format!("labels must be 0 or 1, found {l}")));
        }
        if let Some(&g) = groups.iter().find(|&&g| g as usize >= group_names.len()) {
            return Err(Error::Data(format!("group index {g} out of range for {} groups", group_names.len())));
        }
        let n_inputs = layout.n_inputs() as u32;
        if let Some(&c) = cats.iter().find(|&&c| c != NO_INPUT && (c < n_dense as u32 || c >= n_inputs)) {
            return Err(Error::Data(format!(
                "categorical input index {c} outside the one-hot range {n_dense}..{n_inputs}"
            )));
        }
        Ok(Dataset { layout, group_names, dense, cats, labels, groups, weights: Vec::new(), outcomes_only: false })
    }

    /// Rows' labels, groups and (optional) weights without their features:
    /// what every process of a data-parallel run holds of all the training
    /// rows while each holds a share of their features (see
    /// [`TabularProblem::with_share`](crate::problem::TabularProblem::with_share)).
    /// `layout` is the features' encoding; the rows have no inputs to read
    /// ([`Dataset::dense_row`] and [`Dataset::cat_row`] panic).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use fairtrain::data::{Dataset, FeatureLayout};
    /// let names = Arc::new(vec!["a".to_string(), "b".to_string()]);
    /// let rows = Dataset::outcomes_of(Arc::new(FeatureLayout::default()), names, vec![1.0, 0.0], vec![0, 1], None)
    ///     .unwrap();
    /// assert_eq!((rows.n_rows(), rows.group_counts()), (2, vec![1, 1]));
    /// ```
    pub fn outcomes_of(
        layout: Arc<FeatureLayout>,
        group_names: Arc<Vec<String>>,
        labels: Vec<f32>,
        groups: Vec<u32>,
        weights: Option<Vec<f32>>,
    ) -> Result<Dataset> {
        let empty = Arc::new(FeatureLayout::default());
        let mut data = Dataset::new(empty, group_names, Vec::new(), Vec::new(), labels, groups)?;
        data.layout = layout;
        data.outcomes_only = true;
        match weights {
            Some(w) => data.with_weights(w),
            None => Ok(data),
        }
    }

    /// The same data with per-row sample weights (non-negative, finite,
    /// not all zero). Weighted data weights every row's term in the
    /// objective, the group statistics and the metrics.
    ///
    /// ```
    /// use fairtrain::data::Dataset;
    /// let data = Dataset::from_dense(vec![0.0, 1.0], 1, vec![1.0, 0.0], vec![0, 1], vec!["a".into(), "b".into()])
    ///     .unwrap()
    ///     .with_weights(vec![2.0, 0.5])
    ///     .unwrap();
    /// assert_eq!(data.weight(0), 2.0);
    /// ```
    pub fn with_weights(self, weights: Vec<f32>) -> Result<Self> {
        let data = self.with_share_weights(weights)?;
        if !data.weights.iter().any(|&w| w > 0.0) {
            return Err(Error::Data("every sample weight is zero".into()));
        }
        Ok(data)
    }

    /// [`Dataset::with_weights`] for one process's share of a data set's
    /// rows, whose weights may all be zero where another share's are not
    /// (the caller checks the whole).
    pub(crate) fn with_share_weights(mut self, weights: Vec<f32>) -> Result<Self> {
        if weights.len() != self.n_rows() {
            return Err(Error::Data(format!("{} weights for {} rows", weights.len(), self.n_rows())));
        }
        if let Some(w) = weights.iter().find(|w| !(w.is_finite() && **w >= 0.0)) {
            return Err(Error::Data(format!("sample weight {w} is not a non-negative number")));
        }
        self.weights = weights;
        Ok(self)
    }

    /// The sample weights, when the data has them.
    pub fn weights(&self) -> Option<&[f32]> {
        (!self.weights.is_empty()).then_some(self.weights.as_slice())
    }

    /// The sample weight of row `i` (1 without weights).
    #[inline]
    pub fn weight(&self, i: usize) -> f32 {
        if self.weights.is_empty() { 1.0 } else { self.weights[i] }
    }

    /// A data set of dense numeric features only (row-major, `n_features`
    /// per row), taken as they are (no standardization).
    pub fn from_dense(
        features: Vec<f32>,
        n_features: usize,
        labels: Vec<f32>,
        groups: Vec<u32>,
        group_names: Vec<String>,
    ) -> Result<Self> {
        let layout = FeatureLayout {
            numeric: (0..n_features).map(|i| format!("x{i}")).collect(),
            means: vec![0.0; n_features],
            stds: vec![1.0; n_features],
            categorical: Vec::new(),
        };
        Dataset::new(Arc::new(layout), Arc::new(group_names), features, Vec::new(), labels, groups)
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.labels.len()
    }

    /// Number of model inputs.
    pub fn n_inputs(&self) -> usize {
        self.layout.n_inputs()
    }

    /// The feature layout (shared by the splits of one data set).
    pub fn layout(&self) -> &Arc<FeatureLayout> {
        &self.layout
    }

    /// Numeric inputs of row `i`.
    #[inline]
    pub fn dense_row(&self, i: usize) -> &[f32] {
        let d = self.layout.numeric.len();
        &self.dense[i * d..(i + 1) * d]
    }

    /// One-hot input indices of row `i` (one per categorical feature, or [`NO_INPUT`]).
    #[inline]
    pub fn cat_row(&self, i: usize) -> &[u32] {
        let c = self.layout.categorical.len();
        &self.cats[i * c..(i + 1) * c]
    }

    /// Binary labels (0 or 1).
    pub fn labels(&self) -> &[f32] {
        &self.labels
    }

    /// Group index of every row.
    pub fn groups(&self) -> &[u32] {
        &self.groups
    }

    /// Group names; group `g` is `group_names()[g]`.
    pub fn group_names(&self) -> &[String] {
        &self.group_names
    }

    /// Shared handle on the group names.
    pub fn group_names_arc(&self) -> &Arc<Vec<String>> {
        &self.group_names
    }

    /// Number of groups.
    pub fn n_groups(&self) -> usize {
        self.group_names.len()
    }

    /// The bytes the rows take in memory (features, labels, groups,
    /// weights).
    pub fn memory_bytes(&self) -> usize {
        4 * (self.dense.len() + self.cats.len() + self.labels.len() + self.groups.len() + self.weights.len())
    }

    /// Number of rows in each group.
    pub fn group_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.n_groups()];
        for &g in &self.groups {
            counts[g as usize] += 1;
        }
        counts
    }

    /// The rows of group `g`, in order.
    pub fn group_rows(&self, g: usize) -> Vec<u32> {
        (0..self.n_rows() as u32).filter(|&i| self.groups[i as usize] as usize == g).collect()
    }

    /// The rows `rows` (in that order) as a data set sharing this one's
    /// layout and group names.
    pub fn subset(&self, rows: &[usize]) -> Result<Dataset> {
        if self.outcomes_only {
            return Dataset::outcomes_of(
                self.layout.clone(),
                self.group_names.clone(),
                rows.iter().map(|&i| self.labels[i]).collect(),
                rows.iter().map(|&i| self.groups[i]).collect(),
                self.weights().map(|w| rows.iter().map(|&i| w[i]).collect()),
            );
        }
        let (d, c) = (self.layout.numeric.len(), self.layout.categorical.len());
        let mut dense = Vec::with_capacity(rows.len() * d);
        let mut cats = Vec::with_capacity(rows.len() * c);
        for &i in rows {
            dense.extend_from_slice(self.dense_row(i));
            cats.extend_from_slice(self.cat_row(i));
        }
        let data = Dataset::new(
            self.layout.clone(),
            self.group_names.clone(),
            dense,
            cats,
            rows.iter().map(|&i| self.labels[i]).collect(),
            rows.iter().map(|&i| self.groups[i]).collect(),
        )?;
        match self.weights() {
            Some(w) => data.with_weights(rows.iter().map(|&i| w[i]).collect()),
            None => Ok(data),
        }
    }

    /// This data set's rows followed by `other`'s (which must share the
    /// layout and group names, e.g. the test split of the same load).
    ///
    /// ```
    /// use fairtrain::data::{DataSource, LoadOptions, load};
    /// let e = load(&DataSource::Synthetic, &LoadOptions::default()).unwrap().encoded;
    /// let all = e.train.concat(&e.test).unwrap();
    /// assert_eq!(all.n_rows(), e.train.n_rows() + e.test.n_rows());
    /// assert_eq!(all.dense_row(e.train.n_rows()), e.test.dense_row(0));
    /// ```
    pub fn concat(&self, other: &Dataset) -> Result<Dataset> {
        if self.layout != other.layout
            || self.group_names != other.group_names
            || self.outcomes_only != other.outcomes_only
        {
            return Err(Error::Data("cannot join data sets with different inputs or groups".into()));
        }
        let weights = (self.weights().is_some() || other.weights().is_some()).then(|| {
            let weight = |d: &Dataset| (0..d.n_rows()).map(|i| d.weight(i)).collect::<Vec<_>>();
            [weight(self), weight(other)].concat()
        });
        if self.outcomes_only {
            let (labels, groups) =
                ([&self.labels[..], &other.labels].concat(), [&self.groups[..], &other.groups].concat());
            return Dataset::outcomes_of(self.layout.clone(), self.group_names.clone(), labels, groups, weights);
        }
        let data = Dataset::new(
            self.layout.clone(),
            self.group_names.clone(),
            [&self.dense[..], &other.dense].concat(),
            [&self.cats[..], &other.cats].concat(),
            [&self.labels[..], &other.labels].concat(),
            [&self.groups[..], &other.groups].concat(),
        )?;
        match weights {
            None => Ok(data),
            Some(w) => data.with_weights(w),
        }
    }

    /// Splits off `fraction` of the rows as a second data set (a
    /// validation split), stratified by group and label like the
    /// train/test split, seeded by `seed`. Every group keeps rows on both
    /// sides, or it is an error naming the group.
    ///
    /// ```
    /// use fairtrain::data::{DataSource, LoadOptions, load};
    /// let train = load(&DataSource::Synthetic, &LoadOptions::default()).unwrap().encoded.train;
    /// let (fit, validation) = train.split_off(0.2, 0).unwrap();
    /// assert_eq!(fit.n_rows() + validation.n_rows(), train.n_rows());
    /// assert_eq!(validation.n_rows(), 6_000);
    /// ```
    pub fn split_off(&self, fraction: f64, seed: u64) -> Result<(Dataset, Dataset)> {
        let (keep, out) = self.split_off_rows(fraction, seed)?;
        Ok((self.subset(&keep)?, self.subset(&out)?))
    }

    /// The rows [`Dataset::split_off`] keeps and splits off, in order.
    pub fn split_off_rows(&self, fraction: f64, seed: u64) -> Result<(Vec<usize>, Vec<usize>)> {
        use rand::SeedableRng;
        use rand::seq::SliceRandom;
        if !(fraction > 0.0 && fraction < 1.0) {
            return Err(Error::config(
                "validation-fraction",
                format!("{fraction} (must be between 0 and 1, exclusive)"),
            ));
        }
        let mut cells: std::collections::BTreeMap<(u32, bool), Vec<usize>> = std::collections::BTreeMap::new();
        for i in 0..self.n_rows() {
            cells.entry((self.groups[i], self.labels[i] > 0.5)).or_default().push(i);
        }
        // A stream of its own, so the split does not repeat the test split's draws.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(7);
        let mut held = vec![false; self.n_rows()];
        for rows in cells.values_mut() {
            rows.shuffle(&mut rng);
            let k = ((fraction * rows.len() as f64).round() as usize).min(rows.len() - 1);
            for &i in &rows[..k] {
                held[i] = true;
            }
        }
        let (keep, out): (Vec<usize>, Vec<usize>) = (0..self.n_rows()).partition(|&i| !held[i]);
        for (g, name) in self.group_names.iter().enumerate() {
            if !out.iter().any(|&i| self.groups[i] as usize == g) {
                return Err(Error::Data(format!(
                    "group '{name}' has no rows in the validation split (too few training rows; a larger \
                     `validation-fraction`, or 0 to disable it)"
                )));
            }
        }
        Ok((keep, out))
    }

    /// The input vector of row `i` as a dense vector (for inspection and for
    /// backends that take dense inputs).
    pub fn dense_input(&self, i: usize) -> Vec<f32> {
        let mut x = vec![0.0; self.n_inputs()];
        let d = self.dense_row(i);
        x[..d.len()].copy_from_slice(d);
        for &c in self.cat_row(i) {
            if c != NO_INPUT {
                x[c as usize] = 1.0;
            }
        }
        x
    }
}
