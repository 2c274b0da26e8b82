//! [`RunData`]: the encoded splits a run trains, validates and tests on.

use std::path::Path;
use std::sync::Arc;

use super::plan::RunPlan;
use crate::data::{Dataset, PrepReport, load};
use crate::error::{Error, Result};

/// Groups with fewer training rows get a warning.
pub const MIN_GROUP_ROWS: usize = 50;

/// Loaded and encoded data, shareable between runs.
#[derive(Debug, Clone)]
pub struct RunData {
    /// The data set's name in reports.
    pub name: String,
    /// sha256 of the files read (of the table's contents, for in-memory data).
    pub sha256: Vec<String>,
    /// The sensitive columns.
    pub group_columns: Vec<String>,
    /// What encoding did (dropped rows, the positive label, warnings).
    pub report: PrepReport,
    /// The rows training sees.
    pub train: Arc<Dataset>,
    /// Held out from the training split for the margin and the selection.
    pub validation: Option<Arc<Dataset>>,
    /// The test split.
    pub test: Arc<Dataset>,
}

impl RunData {
    /// Loads the data of `plan` (the cache and network use `cache` and
    /// `offline`) and holds out its validation split.
    pub fn load(plan: &RunPlan, cache: Option<&Path>, offline: bool) -> Result<RunData> {
        let mut options = plan.load.clone();
        options.cache = cache.map(Path::to_path_buf);
        options.offline = offline;
        Self::from_loaded(plan, load(&plan.source, &options)?)
    }

    /// An in-memory table (a data frame's columns, see
    /// [`RawTable::from_columns`](crate::data::table::RawTable::from_columns))
    /// read as a CSV file's contents under `plan`'s data keys (target,
    /// groups, column types, the test split), with the validation split
    /// held out as [`RunData::load`] does.
    pub fn from_table(plan: &RunPlan, table: crate::data::table::RawTable) -> Result<RunData> {
        Self::from_loaded(plan, crate::data::source::load_table(table, &plan.load)?)
    }

    /// Loaded data with `plan`'s validation split held out.
    fn from_loaded(plan: &RunPlan, loaded: crate::data::source::Loaded) -> Result<RunData> {
        let mut data = RunData::from_splits(
            loaded.name,
            loaded.encoded.train,
            loaded.encoded.test,
            plan.validation_fraction,
            plan.load.split_seed,
        )?;
        data.sha256 = loaded.sha256;
        data.group_columns = loaded.group_columns;
        data.report = loaded.encoded.report;
        Ok(data)
    }

    /// Data built in memory (e.g. [`Dataset::from_dense`]): `train` loses a
    /// stratified `validation_fraction` of its rows to validation.
    ///
    /// ```
    /// use fairtrain::data::Dataset;
    /// use fairtrain::run::RunData;
    /// let rows = |n: usize| -> Dataset {
    ///     let x: Vec<f32> = (0..n).map(|i| (i % 7) as f32).collect();
    ///     let y: Vec<f32> = (0..n).map(|i| (i % 3 == 0) as u8 as f32).collect();
    ///     let g: Vec<u32> = (0..n).map(|i| (i % 2) as u32).collect();
    ///     Dataset::from_dense(x, 1, y, g, vec!["a".into(), "b".into()]).unwrap()
    /// };
    /// let data = RunData::from_splits("toy".into(), rows(200), rows(100), 0.2, 0).unwrap();
    /// assert_eq!(data.train.n_rows() + data.validation.as_ref().unwrap().n_rows(), 200);
    /// ```
    pub fn from_splits(
        name: String,
        train: Dataset,
        test: Dataset,
        validation_fraction: f64,
        split_seed: u64,
    ) -> Result<RunData> {
        if train.n_inputs() != test.n_inputs() || train.group_names() != test.group_names() {
            return Err(Error::Data(format!(
                "{name}: the test split has {} inputs and groups {:?}; the training split {} and {:?}",
                test.n_inputs(),
                test.group_names(),
                train.n_inputs(),
                train.group_names()
            )));
        }
        let (train, validation) = if validation_fraction > 0.0 {
            let (fit, held) = train.split_off(validation_fraction, split_seed)?;
            (fit, Some(Arc::new(held)))
        } else {
            (train, None)
        };
        Ok(RunData {
            name,
            sha256: Vec::new(),
            group_columns: vec!["group".into()],
            report: PrepReport { target: "label".into(), positive: "1".into(), ..PrepReport::default() },
            train: Arc::new(train),
            validation,
            test: Arc::new(test),
        })
    }
}

impl RunData {
    /// Warnings about the data: columns that look like mistakes, groups too
    /// small for their statistics to mean much.
    pub fn warnings(&self) -> Vec<String> {
        let train = &self.train;
        let mut out = self.report.warnings.clone();
        for (name, n) in train.group_names().iter().zip(train.group_counts()) {
            if n < MIN_GROUP_ROWS {
                out.push(format!(
                    "group '{name}' has only {n} training rows; its statistics (and constraints) are noisy \
                     estimates, and held-out values may differ widely"
                ));
            }
        }
        out
    }
}
