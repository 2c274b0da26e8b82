//! Resolving `--data` (a built-in name, an ACS task, or a CSV/ARFF path)
//! and loading it into encoded train/test data sets, fetching into the
//! cache what is not shipped (unless offline).

use std::path::{Path, PathBuf};

use super::acs::{self, AcsRequest, AcsTask};
use super::cache::{Cache, FileSpec, Progress, Sha256Reader};
use super::catalog::{self, DatasetInfo};
use super::csv_shard::read_csv_shard;
use super::encode::{Encoded, GroupColumn, MissingPolicy, Split, TableSpec, encode, encode_among, used_columns};
use super::peers::Peers;
use super::schema::{ColumnType, Schema};
use super::table::{RawTable, ReadOptions, TextColumns};
use super::{adult, arff, compas, german, law, synthetic};
use crate::error::{Error, Result};

/// Where the data comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum DataSource {
    /// UCI Adult, shipped with the library.
    Adult,
    /// German credit, shipped with the library.
    German,
    /// ProPublica COMPAS, fetched into the cache.
    Compas,
    /// Law school bar passage, fetched into the cache.
    Law,
    /// The generated data set of [`synthetic`].
    Synthetic,
    /// A variant of it (`--data synthetic:minority=0.05,shift=-2,...`).
    SyntheticWith(synthetic::SyntheticSpec),
    /// An ACS PUMS task (folktables' definitions).
    Acs(AcsRequest),
    /// A CSV file with a header line.
    Csv(PathBuf),
    /// An ARFF file.
    Arff(PathBuf),
    /// A Parquet file (see [`super::parquet`]).
    Parquet(PathBuf),
    /// A table given in memory (`frame:NAME`, e.g. a Python data frame):
    /// its run reads the rows it was given; a configuration naming it
    /// cannot read them again.
    Frame(String),
}

impl DataSource {
    /// Parses a `--data` value: a built-in name, an ACS task (`acs-income`
    /// or `ACSIncome`, for the reference survey: 2018, 1-Year, Oklahoma),
    /// or a path (anything containing `/` or ending in `.csv`, `.arff` or
    /// `.parquet`; the extension picks the reader, CSV otherwise).
    ///
    /// ```
    /// use fairtrain::data::DataSource;
    /// assert!(matches!(DataSource::parse("runs/census.parquet").unwrap(), DataSource::Parquet(_)));
    /// assert!(matches!(DataSource::parse("census.txt").unwrap_err().to_string(), e if e.contains("file path")));
    /// ```
    pub fn parse(value: &str) -> Result<Self> {
        match value {
            "adult" => return Ok(DataSource::Adult),
            "german" => return Ok(DataSource::German),
            "compas" => return Ok(DataSource::Compas),
            "law" => return Ok(DataSource::Law),
            "synthetic" => return Ok(DataSource::Synthetic),
            _ => {}
        }
        if let Some(overrides) = value.strip_prefix("synthetic:") {
            return Ok(DataSource::SyntheticWith(synthetic::SyntheticSpec::parse(overrides)?));
        }
        if let Some(task) = AcsTask::from_name(value) {
            return Ok(DataSource::Acs(AcsRequest::new(task)));
        }
        if let Some(name) = value.strip_prefix("frame:") {
            return Ok(DataSource::Frame(name.to_string()));
        }
        let lower = value.to_ascii_lowercase();
        if lower.ends_with(".arff") {
            return Ok(DataSource::Arff(PathBuf::from(value)));
        }
        if lower.ends_with(".parquet") || lower.ends_with(".pq") {
            return Ok(DataSource::Parquet(PathBuf::from(value)));
        }
        if value.contains('/') || value.contains(std::path::MAIN_SEPARATOR) || lower.ends_with(".csv") {
            return Ok(DataSource::Csv(PathBuf::from(value)));
        }
        let acs: Vec<&str> = AcsTask::ALL.iter().map(|t| t.definition().name).collect();
        Err(Error::config(
            "data",
            format!(
                "'{value}' is neither a built-in data set (adult, german, compas, law, synthetic), an ACS task \
                 ({}), nor a file path (a path contains '/' or ends in .csv, .arff or .parquet)",
                acs.join(", ")
            ),
        ))
    }

    /// The name used in reports: the built-in name, the ACS survey or the path.
    pub fn name(&self) -> String {
        match self {
            DataSource::Acs(r) => r.display_name(),
            DataSource::SyntheticWith(spec) => spec.data_value(),
            DataSource::Csv(p) | DataSource::Arff(p) | DataSource::Parquet(p) => p.display().to_string(),
            DataSource::Frame(name) => format!("frame:{name}"),
            other => other.info().expect("a built-in").name.to_string(),
        }
    }

    /// The `--data` value that selects this source (ACS: the task name).
    pub fn data_value(&self) -> String {
        match self {
            DataSource::Acs(r) => r.task.definition().name.to_string(),
            _ => self.name(),
        }
    }

    /// The catalogue entry of a built-in data set.
    pub fn info(&self) -> Option<&'static DatasetInfo> {
        match self {
            DataSource::Adult => Some(&catalog::ADULT),
            DataSource::German => Some(&catalog::GERMAN),
            DataSource::Compas => Some(&catalog::COMPAS),
            DataSource::Law => Some(&catalog::LAW),
            DataSource::Synthetic | DataSource::SyntheticWith(_) => Some(&catalog::SYNTHETIC),
            _ => None,
        }
    }

    /// True for files the user brings (CSV, ARFF, Parquet): target,
    /// encoding and split are theirs to choose.
    pub fn is_file(&self) -> bool {
        matches!(self, DataSource::Csv(_) | DataSource::Arff(_) | DataSource::Parquet(_))
    }

    /// True for the user's own tables, files or in memory: target,
    /// encoding and split are theirs to choose.
    ///
    /// ```
    /// use fairtrain::data::{DataSource, LoadOptions, load};
    /// let frame = DataSource::parse("frame:python").unwrap();
    /// assert!(frame.is_table() && !frame.is_file());
    /// assert_eq!(frame.name(), "frame:python");
    /// let err = load(&frame, &LoadOptions { group: Some(vec!["g".into()]), ..LoadOptions::default() });
    /// assert!(err.unwrap_err().to_string().contains("was a table given in memory"));
    /// ```
    pub fn is_table(&self) -> bool {
        self.is_file() || matches!(self, DataSource::Frame(_))
    }

    /// True when the test rows come from a seeded random split (so
    /// `--split-seed` and `--test-fraction` apply).
    pub fn has_random_split(&self) -> bool {
        !matches!(self, DataSource::Adult | DataSource::Synthetic | DataSource::SyntheticWith(_))
    }

    /// The sensitive columns used when none are given.
    pub fn default_groups(&self) -> Option<Vec<String>> {
        match self {
            DataSource::Acs(_) => Some(vec!["race".into()]),
            DataSource::Csv(_) | DataSource::Arff(_) | DataSource::Parquet(_) | DataSource::Frame(_) => None,
            other => Some(vec![other.info().expect("a built-in").default_group.to_string()]),
        }
    }
}

/// How to load a data source. `None` means "not given": built-in data sets
/// reject the file-only options when given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadOptions {
    /// Target column (CSV/ARFF only).
    pub target: Option<String>,
    /// Positive target value (CSV/ARFF only).
    pub positive: Option<String>,
    /// Sensitive columns; the data source's default when `None`.
    pub group: Option<Vec<String>>,
    /// Columns forced to be categorical (CSV/ARFF only).
    pub categorical: Vec<String>,
    /// Columns to ignore (CSV/ARFF only).
    pub drop: Vec<String>,
    /// Missing-value policy.
    pub missing: MissingPolicy,
    /// Test fraction of the random split (default 0.2).
    pub test_fraction: Option<f64>,
    /// Seed of the random split.
    pub split_seed: u64,
    /// A separate test file (CSV/ARFF only, same columns as the data file):
    /// its rows are the test split, instead of a random one.
    pub test_file: Option<PathBuf>,
    /// Keep the sensitive columns among the features.
    pub keep_group_feature: bool,
    /// Sample-weight column (e.g. Adult's `fnlwgt`, ACS's `PWGTP`).
    pub weight: Option<String>,
    /// An explicit schema for a CSV/ARFF file (options given here win).
    pub schema: Option<Schema>,
    /// The cache directory (default: [`Cache::resolve`]).
    pub cache: Option<PathBuf>,
    /// Never touch the network: a data set missing from the cache is an error.
    pub offline: bool,
    /// Download from this mirror instead of the origin.
    pub mirror: Option<String>,
}

/// Default fraction of rows held out for testing when there is no
/// official test split.
pub const DEFAULT_TEST_FRACTION: f64 = 0.2;

/// A loaded data source.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// Display name of the source.
    pub name: String,
    /// sha256 of the file(s) read (train file first).
    pub sha256: Vec<String>,
    /// The sensitive columns used.
    pub group_columns: Vec<String>,
    /// The encoded train and test data.
    pub encoded: Encoded,
}

/// Loads and encodes `source`.
///
/// ```
/// use fairtrain::data::{DataSource, LoadOptions, load};
/// let loaded = load(&DataSource::Synthetic, &LoadOptions::default()).unwrap();
/// assert_eq!(loaded.encoded.train.group_names(), ["A", "B"]);
/// ```
pub fn load(source: &DataSource, options: &LoadOptions) -> Result<Loaded> {
    let p = prepare(source, options, Peers::alone())?;
    Ok(Loaded { name: p.name, sha256: p.sha256, group_columns: p.groups, encoded: encode(p.table, p.split, &p.spec)? })
}

/// Loads this process's share of `source` in a data-parallel load: its
/// part of the training rows and of the test rows, contiguous in row order
/// (rank 0 the first), each exactly as [`load`] encodes it from all rows
/// (see [`encode_among`]). A CSV or Parquet file (and its test file) is
/// read in shares: each process reads the header and its own rows (see
/// [`read_csv_shard`], [`read_parquet_share`](super::parquet::read_parquet_share)),
/// and only rank 0 reads the whole file, for its sha256 (streamed, not
/// kept). Other sources are loaded whole and cut into shares.
pub fn load_among(source: &DataSource, options: &LoadOptions, peers: Peers) -> Result<Loaded> {
    if peers.is_alone() {
        return load(source, options);
    }
    if let DataSource::Csv(_) | DataSource::Parquet(_) = source {
        let p = prepare(source, options, peers)?;
        let encoded = encode_among(p.table, p.split, &p.spec, peers)?;
        return Ok(Loaded { name: p.name, sha256: p.sha256, group_columns: p.groups, encoded });
    }
    let mut loaded = load(source, options)?;
    let share = |n: usize| n * peers.rank() / peers.size()..n * (peers.rank() + 1) / peers.size();
    let e = &mut loaded.encoded;
    let (train, test) = (share(e.train.n_rows()), share(e.test.n_rows()));
    e.train = e.train.subset(&train.clone().collect::<Vec<_>>())?;
    e.test = e.test.subset(&test.clone().collect::<Vec<_>>())?;
    e.train_origin = e.train_origin[train].to_vec();
    e.test_origin = e.test_origin[test].to_vec();
    Ok(loaded)
}

/// A source's tables and how they become a data set, before encoding.
struct Prepared {
    name: String,
    sha256: Vec<String>,
    groups: Vec<String>,
    table: RawTable,
    split: Split,
    spec: TableSpec,
}

/// Reads (fetching what the cache lacks) the tables of `source` and the
/// spec that encodes them; a CSV or Parquet file in shares among `peers`.
fn prepare(source: &DataSource, options: &LoadOptions, peers: Peers) -> Result<Prepared> {
    let schema = options.schema.clone().unwrap_or_default();
    let groups = match (&options.group, source.default_groups(), &schema.group) {
        (Some(g), _, _) => g.clone(),
        (None, Some(g), _) => g,
        (None, None, Some(g)) => g.clone(),
        (None, None, None) => {
            return Err(Error::config("group", "CSV/ARFF data needs `group COLUMN` (the sensitive attribute)"));
        }
    };
    // No group column (`group = []`) is a run of one group, without
    // fairness constraints.
    if groups.iter().any(|g| g.trim().is_empty()) {
        return Err(Error::config("group", "empty column name"));
    }
    if !source.is_table() {
        let fixed = [
            ("target", options.target.is_some()),
            ("positive", options.positive.is_some()),
            ("categorical", !options.categorical.is_empty()),
            ("drop", !options.drop.is_empty()),
            ("schema", options.schema.is_some()),
            ("test-fraction", options.test_fraction.is_some() && !source.has_random_split()),
            ("test-data", options.test_file.is_some()),
        ];
        if let Some((field, _)) = fixed.iter().find(|(_, given)| *given) {
            return Err(Error::config(
                *field,
                format!("applies only to CSV/ARFF data; {} has a fixed target, encoding and test split", source.name()),
            ));
        }
    }
    let random = Split::Random {
        test_fraction: options.test_fraction.unwrap_or(DEFAULT_TEST_FRACTION),
        seed: options.split_seed,
    };
    let with_weight = |mut spec: TableSpec| -> TableSpec {
        if let Some(w) = &options.weight {
            // A built-in's weight column is dropped as a feature by default.
            spec.drop.retain(|d| d != w);
            spec.weight = Some(w.clone());
        }
        spec
    };
    let (name, sha256, table, split, spec) = match source {
        DataSource::Adult => {
            let (train, test) = adult::raw_tables()?;
            let spec = adult::spec(&groups, options.missing, options.keep_group_feature)?;
            let sha = vec![adult::TRAIN_SHA256.into(), adult::TEST_SHA256.into()];
            (source.name(), sha, train, Split::Table(test), with_weight(spec))
        }
        DataSource::German => {
            let spec = german::spec(&groups, options.missing, options.keep_group_feature)?;
            (source.name(), vec![german::SHA256.into()], german::table()?, random, with_weight(spec))
        }
        DataSource::Compas => {
            let spec = compas::spec(&groups, options.missing, options.keep_group_feature)?;
            let bytes = cached_or_fetched("compas", &compas::FILE, options)?;
            let table = compas::table(&bytes, groups.iter().any(|g| g == "race"))?;
            (source.name(), vec![compas::FILE.sha256.into()], table, random, with_weight(spec))
        }
        DataSource::Law => {
            let spec = law::spec(&groups, options.missing, options.keep_group_feature)?;
            let bytes = cached_or_fetched("law", &law::FILE, options)?;
            (source.name(), vec![law::FILE.sha256.into()], law::table(&bytes)?, random, with_weight(spec))
        }
        DataSource::Synthetic | DataSource::SyntheticWith(_) => {
            let generator = match source {
                DataSource::SyntheticWith(spec) => spec.clone(),
                _ => synthetic::SyntheticSpec::default(),
            };
            let (train, test) = generator.tables();
            let mut spec = synthetic::spec(options.missing, options.keep_group_feature);
            spec.groups = groups.iter().map(|g| GroupColumn::parse(g)).collect::<Result<_>>()?;
            (source.name(), vec![], train, Split::Table(test), with_weight(spec))
        }
        DataSource::Acs(request) => {
            request.validate()?;
            let spec = acs::spec(request, &groups, options.missing, options.keep_group_feature)?;
            let cache = Cache::resolve(options.cache.as_deref())?;
            let mut files = Vec::new();
            let mut sha = Vec::new();
            for state in &request.states {
                let path = match acs::cached_file(&cache, request, state)? {
                    Some(p) => p,
                    None if options.offline => return Err(offline_acs(&cache, request, state)),
                    None => acs::download(&cache, request, state, options.mirror.as_deref(), &mut |_, _| {})?.0,
                };
                if let Some(w) = acs::check_recorded(&cache, &path)? {
                    return Err(Error::Data(w));
                }
                sha.push(super::cache::sha256_file(&path)?);
                files.push(path);
            }
            (source.name(), sha, acs::read_task(request, &files)?, random, with_weight(spec))
        }
        DataSource::Frame(name) => {
            return Err(Error::config(
                "data",
                format!(
                    "'frame:{name}' was a table given in memory (a Python data frame): it cannot be read again; \
                     fit on the frame, or save it as CSV and give the file"
                ),
            ));
        }
        DataSource::Csv(path) | DataSource::Arff(path) | DataSource::Parquet(path) => {
            let delimiter = schema.delimiter.map_or(b',', |d| d as u8);
            // The target, groups and declared categories keep their text
            // exactly (category and group names are reported as written).
            let mut text: Vec<String> = options.target.iter().chain(&schema.target).cloned().collect();
            text.extend(groups.iter().map(|g| GroupColumn::parse(g).map_or(g.clone(), |g| g.name)));
            text.extend(options.categorical.iter().chain(&schema.columns_of(ColumnType::Categorical)).cloned());
            let csv_options = ReadOptions { delimiter, text: TextColumns::Named(text), ..ReadOptions::default() };
            // One pass per file: a CSV or ARFF file is parsed and hashed as
            // it streams in. The header is checked first (an unknown target
            // or group column is reported before any row is read), and
            // only the columns the run uses are stored.
            let read =
                |path: &Path, header: Option<&RawTable>| -> Result<(String, RawTable, Vec<String>, Vec<String>)> {
                    let select = |t: &RawTable| -> Result<Option<Vec<bool>>> {
                        let main = match header {
                            Some(main) if main.names != t.names => {
                                return Err(Error::Data(format!(
                                    "{} and {} have different columns",
                                    main.source, t.source
                                )));
                            }
                            Some(main) => main,
                            None => t,
                        };
                        let spec = file_spec(main, options, &schema, &groups, vec![], vec![])?;
                        let used = used_columns(main, &spec)?;
                        Ok(Some((0..main.names.len()).map(|c| used.contains(&c)).collect()))
                    };
                    if !peers.is_alone() {
                        return read_share(source, path, &csv_options, select, peers);
                    }
                    if let DataSource::Parquet(_) = source {
                        return read_parquet_file(path, select);
                    }
                    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
                    let mut input = Sha256Reader::new(file);
                    let name = path.display().to_string();
                    let (table, nominal, numeric) = if let DataSource::Arff(_) = source {
                        let a = arff::read_arff(&mut input, &name)?;
                        (a.table, a.nominal, a.numeric)
                    } else {
                        (RawTable::read_selected(&mut input, &name, &csv_options, select)?, vec![], vec![])
                    };
                    let sha = input.finish().map_err(|e| Error::io(path, e))?;
                    Ok((sha, table, nominal, numeric))
                };
            let name = path.display().to_string();
            let (sha, table, nominal, numeric) = read(path, None)?;
            let mut sha = vec![sha];
            let split = match &options.test_file {
                Some(test_path) => {
                    let (test_sha, test, ..) = read(test_path, Some(&table))?;
                    sha.push(test_sha);
                    Split::Table(test)
                }
                None => random,
            };
            let spec = file_spec(&table, options, &schema, &groups, nominal, numeric)?;
            (name, sha, table, split, spec)
        }
    };
    Ok(Prepared { name, sha256, groups, table, split, spec })
}

/// A data set's rows as the CLI trains on them, before encoding: the
/// feature columns' cells (in the CLI's column order), the 0/1 labels and
/// each row's group, for the training or the test split, in the CLI's row
/// order after its missing-value rule. Language bindings build their data
/// frames from it.
#[derive(Debug, Clone)]
pub struct Frame {
    /// The feature columns' names.
    pub names: Vec<String>,
    /// Per feature column, a cell per row (`None` where missing, for a
    /// column that allows it).
    pub columns: Vec<Vec<Option<String>>>,
    /// Per row, 1 for the positive class.
    pub labels: Vec<f32>,
    /// Per row, its group's name.
    pub groups: Vec<String>,
    /// The positive class's value, and the target column's name.
    pub positive: String,
    /// The target column.
    pub target: String,
}

/// The training (`test` false) or test split of `source` as a [`Frame`].
///
/// ```
/// use fairtrain::data::{DataSource, LoadOptions, source::load_frame};
/// let frame = load_frame(&DataSource::Adult, &LoadOptions::default(), false).unwrap();
/// assert_eq!(frame.labels.len(), 30_162);
/// assert!(!frame.names.iter().any(|n| n == "fnlwgt" || n == "education" || n == "race"));
/// assert_eq!(frame.groups[0], "White");
/// ```
pub fn load_frame(source: &DataSource, options: &LoadOptions, test: bool) -> Result<Frame> {
    let p = prepare(source, options, Peers::alone())?;
    let tables: Vec<RawTable> = match &p.split {
        Split::Table(t) => vec![p.table.clone(), t.clone()],
        Split::Random { .. } => vec![p.table.clone()],
    };
    let encoded = encode(p.table, p.split, &p.spec)?;
    let (data, origin) =
        if test { (&encoded.test, &encoded.test_origin) } else { (&encoded.train, &encoded.train_origin) };
    let main = &tables[0];
    let columns = encoded
        .features
        .iter()
        .map(|name| {
            let c = main.column_index(name)?;
            Ok(origin
                .iter()
                .map(|&(t, r)| tables[t as usize].columns[c].text(r as usize).map(|v| v.into_owned()))
                .collect())
        })
        .collect::<Result<Vec<Vec<Option<String>>>>>()?;
    let names = data.group_names();
    Ok(Frame {
        names: encoded.features.clone(),
        columns,
        labels: data.labels().to_vec(),
        groups: data.groups().iter().map(|&g| names[g as usize].clone()).collect(),
        positive: encoded.report.positive.clone(),
        target: encoded.report.target.clone(),
    })
}

/// How a table read from a file (or given in memory) becomes a data set:
/// the target, groups and column types from `options` and `schema`, with an
/// ARFF file's declared `nominal` and `numeric` attributes.
fn file_spec(
    table: &RawTable,
    options: &LoadOptions,
    schema: &Schema,
    groups: &[String],
    nominal: Vec<String>,
    numeric: Vec<String>,
) -> Result<TableSpec> {
    schema.check(table, "the schema")?;
    let target = options
        .target
        .clone()
        .or(schema.target.clone())
        .ok_or_else(|| Error::config("target", "CSV/ARFF data needs `target COLUMN` (the label column)"))?;
    let mut drop = options.drop.clone();
    drop.extend(schema.columns_of(ColumnType::Drop).into_iter().chain(schema.drop.iter().cloned()));
    drop.sort();
    drop.dedup();
    let mut categorical = options.categorical.clone();
    categorical.extend(schema.columns_of(ColumnType::Categorical));
    categorical.extend(nominal.into_iter().filter(|n| !drop.contains(n)));
    categorical.sort();
    categorical.dedup();
    let mut numeric_cols = schema.columns_of(ColumnType::Numeric);
    numeric_cols.extend(numeric.into_iter().filter(|n| !drop.contains(n) && !categorical.contains(n)));
    numeric_cols.sort();
    numeric_cols.dedup();
    Ok(TableSpec {
        target,
        positive: options.positive.clone().or(schema.positive.clone()),
        groups: groups.iter().map(|g| GroupColumn::parse(g)).collect::<Result<_>>()?,
        drop,
        categorical,
        numeric: numeric_cols,
        missing: schema.missing.unwrap_or(options.missing),
        keep_group_feature: options.keep_group_feature,
        weight: options.weight.clone().or(schema.weight.clone()),
    })
}

/// This process's share of a CSV or Parquet file (see [`load_among`]): the
/// file's sha256 (rank 0's), its cells, and a Parquet file's string and
/// floating-point columns. Whether every process can open the file is
/// agreed first, so that none waits for one that failed.
fn read_share(
    source: &DataSource,
    path: &Path,
    csv_options: &ReadOptions,
    select: impl FnOnce(&RawTable) -> Result<Option<Vec<bool>>>,
    peers: Peers,
) -> Result<(String, RawTable, Vec<String>, Vec<String>)> {
    peers.agree(std::fs::File::open(path).map(drop).map_err(|e| Error::io(path, e)))?;
    let sha = if peers.rank() == 0 { super::cache::sha256_file(path) } else { Ok(String::new()) };
    let sha = peers.agree(sha).map(|sha| peers.gather(&sha).swap_remove(0))?;
    if let DataSource::Parquet(_) = source {
        #[cfg(feature = "parquet")]
        {
            let p = peers.agree(super::parquet::read_parquet_share(path, select, peers))?;
            return Ok((sha, p.table, p.categorical, p.numeric));
        }
        #[cfg(not(feature = "parquet"))]
        return read_parquet_file(path, select);
    }
    Ok((sha, read_csv_shard(path, csv_options, select, peers)?, Vec::new(), Vec::new()))
}

/// Reads a Parquet file: its sha256, cells, and string (categorical) and
/// floating-point (numeric) columns.
#[cfg(feature = "parquet")]
fn read_parquet_file(
    path: &Path,
    select: impl FnOnce(&RawTable) -> Result<Option<Vec<bool>>>,
) -> Result<(String, RawTable, Vec<String>, Vec<String>)> {
    let p = super::parquet::read_parquet(path, select)?;
    Ok((super::cache::sha256_file(path)?, p.table, p.categorical, p.numeric))
}

#[cfg(not(feature = "parquet"))]
fn read_parquet_file(
    path: &Path,
    _: impl FnOnce(&RawTable) -> Result<Option<Vec<bool>>>,
) -> Result<(String, RawTable, Vec<String>, Vec<String>)> {
    Err(Error::Data(format!(
        "{}: this build of fairtrain reads no Parquet files (built without its `parquet` feature)",
        path.display()
    )))
}

/// Loads and encodes an in-memory table (e.g. a data frame's columns, see
/// [`RawTable::from_columns`]) as a CSV file's contents: `options` name the
/// target and groups and may set the column types, drops and the test
/// split (a seeded stratified `test_fraction`, 0.2 by default).
///
/// ```
/// use fairtrain::data::table::RawTable;
/// use fairtrain::data::{LoadOptions, source::load_table};
/// let cell = |v: &str| Some(v.to_string());
/// let x = (0..40).map(|i| cell(&(i % 7).to_string())).collect();
/// let y = (0..40).map(|i| cell(if i % 3 == 0 { "yes" } else { "no" })).collect();
/// let g = (0..40).map(|i| cell(if i % 2 == 0 { "a" } else { "b" })).collect();
/// let table = RawTable::from_columns("frame", vec!["x".into(), "y".into(), "g".into()], vec![x, y, g]).unwrap();
/// let options = LoadOptions { target: Some("y".into()), group: Some(vec!["g".into()]), ..LoadOptions::default() };
/// let loaded = load_table(table, &options).unwrap();
/// assert_eq!(loaded.encoded.train.n_rows() + loaded.encoded.test.n_rows(), 40);
/// assert_eq!(loaded.encoded.report.positive, "yes");
/// ```
pub fn load_table(table: RawTable, options: &LoadOptions) -> Result<Loaded> {
    let schema = options.schema.clone().unwrap_or_default();
    let groups = match (&options.group, &schema.group) {
        (Some(g), _) => g.clone(),
        (None, Some(g)) => g.clone(),
        (None, None) => {
            return Err(Error::config("group", "in-memory data needs `group COLUMN` (the sensitive attribute)"));
        }
    };
    if options.test_file.is_some() {
        return Err(Error::config("test-data", "does not apply to in-memory data (its test rows are a random split)"));
    }
    let split = Split::Random {
        test_fraction: options.test_fraction.unwrap_or(DEFAULT_TEST_FRACTION),
        seed: options.split_seed,
    };
    let spec = file_spec(&table, options, &schema, &groups, Vec::new(), Vec::new())?;
    let name = table.source.clone();
    let sha256 = vec![table.sha256()];
    Ok(Loaded { name, sha256, group_columns: groups, encoded: encode(table, split, &spec)? })
}

/// Reads a CSV (with a header line) or, by its `.arff` extension, an ARFF
/// file into raw cells, with the default reading options but `text`: the
/// columns whose cells must keep their text (identifiers shown back,
/// categories, groups).
pub fn read_table_file(path: &Path, text: TextColumns) -> Result<RawTable> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    if name.to_ascii_lowercase().ends_with(".arff") {
        Ok(arff::read_arff(file, &name)?.table)
    } else {
        RawTable::read(file, &name, &ReadOptions { text, ..ReadOptions::default() })
    }
}

fn offline_acs(cache: &Cache, request: &AcsRequest, state: &str) -> Error {
    Error::Data(format!(
        "{} for {state} is not in the cache ({}) and `offline` forbids downloading it; run `fairtrain datasets \
         fetch {} --state {state} --year {} --horizon {}` where the Census site is reachable, or add --from DIR \
         with a copy of {} or {}",
        request.task.definition().name,
        cache.root().join(request.cache_dir()).display(),
        request.task.definition().name,
        request.year,
        request.horizon.dir(),
        AcsRequest::archive_name(state),
        request.csv_name(state).unwrap_or_default(),
    ))
}

/// The verified bytes of a fetched data set's file: from the cache, or
/// downloaded into it first (unless offline).
fn cached_or_fetched(dataset: &str, file: &FileSpec, options: &LoadOptions) -> Result<Vec<u8>> {
    let cache = Cache::resolve(options.cache.as_deref())?;
    if cache.status(dataset, file) != super::cache::FileStatus::Present {
        if options.offline {
            return Err(Error::Data(format!(
                "{dataset} is not in the cache ({} is missing or incomplete) and `offline` forbids downloading \
                 it; run `fairtrain datasets fetch {dataset}` where the network is reachable, or `fairtrain \
                 datasets fetch {dataset} --from DIR` with a local copy of {}",
                cache.path(dataset, file).display(),
                file.name
            )));
        }
        let url = mirror_url(options.mirror.as_deref(), dataset, file);
        cache.download(dataset, file, &url, &mut |_, _| {})?;
    }
    cache.read(dataset, file)
}

/// The download address of `file`: its origin, or `MIRROR/DATASET/FILE`.
pub fn mirror_url(mirror: Option<&str>, dataset: &str, file: &FileSpec) -> String {
    match mirror {
        Some(m) => format!("{}/{dataset}/{}", m.trim_end_matches('/'), file.name),
        None => file.url.to_string(),
    }
}

/// Where `datasets fetch` gets files.
#[derive(Debug, Clone, Copy)]
pub enum FetchFrom<'a> {
    /// The origin, or a mirror.
    Network(Option<&'a str>),
    /// A local directory (or file) holding a copy.
    Local(&'a Path),
}

/// Puts the files of `source` into the cache (downloaded or imported),
/// verified; files already there are verified and kept. Returns what was
/// done, one line per file, and any warnings (ACS files that changed).
pub fn fetch(
    source: &DataSource,
    cache: &Cache,
    from: FetchFrom,
    progress: &mut dyn FnMut(&str, u64, Option<u64>),
) -> Result<(Vec<String>, Vec<String>)> {
    let mut done = Vec::new();
    let mut warnings = Vec::new();
    match source {
        DataSource::Acs(request) => {
            request.validate()?;
            for state in &request.states {
                let label = format!("{} {state}", AcsRequest::archive_name(state));
                let mut p = |n: u64, t: Option<u64>| progress(&label, n, t);
                let (path, warning) = match from {
                    FetchFrom::Local(dir) => acs::import(cache, request, state, dir)?,
                    FetchFrom::Network(mirror) => acs::download(cache, request, state, mirror, &mut p)?,
                };
                warnings.extend(warning);
                done.push(format!("{}", path.display()));
            }
        }
        other => {
            let info = other.info().ok_or_else(|| {
                Error::config("data", format!("{} is a file; there is nothing to fetch", other.name()))
            })?;
            if info.files.is_empty() {
                done.push(format!("{} is shipped inside fairtrain; nothing to fetch", info.name));
            }
            for file in info.files {
                if cache.status(info.name, file) == super::cache::FileStatus::Present
                    && cache.read(info.name, file).is_ok()
                {
                    done.push(format!("{} already cached and verified", cache.path(info.name, file).display()));
                    continue;
                }
                let path = match from {
                    FetchFrom::Local(dir) => cache.import(info.name, file, dir)?,
                    FetchFrom::Network(mirror) => {
                        let url = mirror_url(mirror, info.name, file);
                        let p: Progress = &mut |n, t| progress(file.name, n, t);
                        cache.download(info.name, file, &url, p)?
                    }
                };
                done.push(format!("{} ({} bytes, sha256 verified)", path.display(), file.size));
            }
        }
    }
    Ok((done, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_data_values() {
        assert_eq!(DataSource::parse("adult").unwrap(), DataSource::Adult);
        assert_eq!(DataSource::parse("synthetic").unwrap(), DataSource::Synthetic);
        let DataSource::SyntheticWith(v) = DataSource::parse("synthetic:minority=0.1").unwrap() else { panic!() };
        assert_eq!(v.minority_fraction, 0.1);
        assert!(DataSource::parse("synthetic:minority=2").unwrap_err().to_string().contains("between 0 and 1"));
        assert_eq!(DataSource::parse("x.CSV").unwrap(), DataSource::Csv("x.CSV".into()));
        assert_eq!(DataSource::parse("dir/x").unwrap(), DataSource::Csv("dir/x".into()));
        assert_eq!(DataSource::parse("german").unwrap(), DataSource::German);
        assert_eq!(DataSource::parse("x.arff").unwrap(), DataSource::Arff("x.arff".into()));
        assert_eq!(DataSource::parse("ACSIncome").unwrap(), DataSource::Acs(AcsRequest::new(AcsTask::Income)));
        let err = DataSource::parse("adutl").unwrap_err();
        assert!(err.to_string().contains("'adutl' is neither a built-in data set"));
    }

    #[test]
    fn built_ins_reject_csv_options() {
        let options = LoadOptions { target: Some("y".into()), ..LoadOptions::default() };
        let err = load(&DataSource::Adult, &options).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid value for target: applies only to CSV/ARFF data; adult has a fixed target, \
             encoding and test split"
        );
    }

    #[test]
    fn a_test_file_is_the_test_split() {
        let dir = tempfile::tempdir().unwrap();
        let (train, test, other) = (dir.path().join("tr.csv"), dir.path().join("te.csv"), dir.path().join("o.csv"));
        let rows = |n: usize| -> String {
            (0..n).map(|i| format!("{},{},{}\n", i as f64 / 10.0, i % 2, (i / 2) % 2)).collect::<String>()
        };
        std::fs::write(&train, format!("x,g,y\n{}", rows(40))).unwrap();
        std::fs::write(&test, format!("x,g,y\n{}", rows(6))).unwrap();
        std::fs::write(&other, format!("x,h,y\n{}", rows(6))).unwrap();
        let options = LoadOptions {
            target: Some("y".into()),
            group: Some(vec!["g".into()]),
            test_file: Some(test.clone()),
            ..LoadOptions::default()
        };
        let loaded = load(&DataSource::Csv(train.clone()), &options).unwrap();
        // Every row of the data file trains; the test file's six rows test.
        assert_eq!((loaded.encoded.train.n_rows(), loaded.encoded.test.n_rows()), (40, 6));
        assert_eq!(loaded.sha256.len(), 2);
        let options = LoadOptions { test_file: Some(other.clone()), ..options };
        let err = load(&DataSource::Csv(train.clone()), &options).unwrap_err();
        assert_eq!(err.to_string(), format!("{} and {} have different columns", train.display(), other.display()));
        let err = load(&DataSource::German, &LoadOptions { test_file: Some(test), ..LoadOptions::default() });
        assert!(err.unwrap_err().to_string().starts_with("invalid value for test-data: applies only to CSV/ARFF"));
    }

    #[test]
    fn missing_csv_file_is_named() {
        let options = LoadOptions { target: Some("y".into()), group: Some(vec!["g".into()]), ..LoadOptions::default() };
        let err = load(&DataSource::Csv("no/such/nope.csv".into()), &options).unwrap_err();
        assert!(err.to_string().starts_with("no/such/nope.csv: "), "{err}");
    }
}
