//! [`RunData`]: the encoded splits a run trains, validates and tests on.

use std::path::Path;
use std::sync::Arc;

use super::plan::RunPlan;
use super::split_rows::{FeatureShare, SplitRows};
use crate::data::peers::Peers;
use crate::data::{Dataset, PrepReport, load};
use crate::distributed::Collective;
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
    /// In a data-parallel run over shares ([`RunData::load_among`]): the
    /// features of each split that this process holds. The splits above
    /// then hold every row's labels, groups and weights only.
    pub(crate) shares: Option<RunShares>,
}

/// This process's features of each split in a run over shares.
#[derive(Debug, Clone)]
pub(crate) struct RunShares {
    train: FeatureShare,
    validation: Option<FeatureShare>,
    test: FeatureShare,
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

    /// Loads this process's share of the data of `plan` in a data-parallel
    /// run over `group`: each process reads and encodes only its share of
    /// the rows (see [`crate::data::source::load_among`]: the shares are
    /// the rows one process would encode, bit for bit) and all hold every
    /// row's label, group and weight, from which the validation split is
    /// held out as [`RunData::load`] holds it out. Models are judged on
    /// every row ([`RunData::train_rows`] and its siblings), so every
    /// process reports what one process would.
    pub fn load_among(
        plan: &RunPlan,
        cache: Option<&Path>,
        offline: bool,
        group: Arc<dyn Collective>,
    ) -> Result<RunData> {
        let peers = Peers::of(&*group);
        if peers.is_alone() {
            return RunData::load(plan, cache, offline);
        }
        let mut options = plan.load.clone();
        options.cache = cache.map(Path::to_path_buf);
        options.offline = offline;
        let loaded = crate::data::source::load_among(&plan.source, &options, peers)?;
        let shared = |features: Dataset| -> Result<SplitRows> {
            let (first, _) = peers.offset(features.n_rows());
            let mut weighted = [features.weights().is_some()];
            peers.any(&mut weighted);
            let weights = weighted[0].then(|| {
                let mine: Vec<f32> = (0..features.n_rows()).map(|i| features.weight(i)).collect();
                peers.gather(&mine).concat()
            });
            let outcomes = Dataset::outcomes_of(
                features.layout().clone(),
                features.group_names_arc().clone(),
                peers.gather(&features.labels().to_vec()).concat(),
                peers.gather(&features.groups().to_vec()).concat(),
                weights,
            )?;
            let share = FeatureShare { features: Arc::new(features), first, group: group.clone() };
            Ok(SplitRows::shared(Arc::new(outcomes), share))
        };
        let encoded = loaded.encoded;
        let (train, test) = (shared(encoded.train)?, shared(encoded.test)?);
        let (train, validation) = if plan.validation_fraction > 0.0 {
            let (keep, held) = train.outcomes().split_off_rows(plan.validation_fraction, plan.load.split_seed)?;
            (train.subset(&keep)?, Some(train.subset(&held)?))
        } else {
            (train, None)
        };
        let share = |rows: &SplitRows| rows.share().expect("a shared split").clone();
        Ok(RunData {
            name: loaded.name,
            sha256: loaded.sha256,
            group_columns: loaded.group_columns,
            report: encoded.report,
            shares: Some(RunShares {
                train: share(&train),
                validation: validation.as_ref().map(share),
                test: share(&test),
            }),
            train: train.outcomes().clone(),
            validation: validation.as_ref().map(|v| v.outcomes().clone()),
            test: test.outcomes().clone(),
        })
    }

    /// The MB (2^20 bytes) of encoded rows this process holds: every
    /// split's features, labels, groups and weights; in a run over shares,
    /// its share of the features and every row's labels, groups and weights.
    pub fn held_mb(&self) -> f64 {
        let splits = [Some(&self.train), self.validation.as_ref(), Some(&self.test)];
        let mut bytes: usize = splits.into_iter().flatten().map(|d| d.memory_bytes()).sum();
        if let Some(s) = &self.shares {
            bytes += [Some(&s.train), s.validation.as_ref(), Some(&s.test)]
                .into_iter()
                .flatten()
                .map(|share| share.features.memory_bytes())
                .sum::<usize>();
        }
        bytes as f64 / (1u64 << 20) as f64
    }

    /// The training split as models are judged on it (see [`SplitRows`]).
    pub fn train_rows(&self) -> SplitRows {
        self.rows(&self.train, self.shares.as_ref().map(|s| &s.train))
    }

    /// The validation split as models are judged on it.
    pub fn validation_rows(&self) -> Option<SplitRows> {
        let share = self.shares.as_ref().and_then(|s| s.validation.as_ref());
        self.validation.as_ref().map(|v| self.rows(v, share))
    }

    /// The test split as models are judged on it.
    pub fn test_rows(&self) -> SplitRows {
        self.rows(&self.test, self.shares.as_ref().map(|s| &s.test))
    }

    fn rows(&self, split: &Arc<Dataset>, share: Option<&FeatureShare>) -> SplitRows {
        match share {
            None => SplitRows::whole(split.clone()),
            Some(share) => SplitRows::shared(split.clone(), share.clone()),
        }
    }

    /// The features of the training rows this process holds and the first
    /// of them, in a run over shares.
    pub(crate) fn train_share(&self) -> Option<(&Arc<Dataset>, usize, &Arc<dyn Collective>)> {
        self.shares.as_ref().map(|s| (&s.train.features, s.train.first, &s.train.group))
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
            shares: None,
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
