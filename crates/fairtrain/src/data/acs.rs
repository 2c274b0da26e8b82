//! American Community Survey (ACS) PUMS tasks, defined exactly as the
//! Python package folktables 0.0.12 defines them (Ding et al., 2021):
//! the same features, target thresholds and row filters, with the group
//! column `RAC1P`.
//!
//! Person files are read streaming (a state file can hold hundreds of
//! thousands of rows and nearly 300 columns), straight out of the Census
//! zip archive, keeping only the columns the task needs.
//!
//! folktables' known quirks are explicit here:
//! - Missing values (e.g. `COW` of a person who never worked) become 0, not
//!   -1: folktables passes -1 as numpy's `copy` flag (its issue #39). That
//!   is the default, for comparability; [`AcsMissing::MinusOne`] gives the
//!   documented intent.
//! - `RELP` is absent from 2019 on (the Census renamed it `RELSHIPP`);
//!   folktables fails on those years. Here it is an error naming the
//!   rename, unless [`AcsRequest::relshipp`] asks to use `RELSHIPP`.
//! - Income is not adjusted for inflation (`ADJINC` is ignored), and
//!   filters compare raw values; a comparison with a missing value is
//!   false (the row is dropped by a filter, the label is 0), as in pandas.
//!
//! Categorical codes are one-hot encoded (the tasks mix codes and numbers;
//! fairtrain treats `AGEP`, `WKHP`, `PINCP`, `JWMNP` and `POVPIP` as
//! numbers and every other feature as categories). Group choices: `race`
//! (White alone vs everyone else, as in the humancompatible benchmark),
//! `RAC1P` (the nine census codes, labelled) and `sex`.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::cache::{Cache, Progress, sha256_file};
use super::encode::{GroupColumn, MissingPolicy, TableSpec};
use super::table::RawTable;
use crate::error::{Error, Result};

/// A comparison of a numeric column with a constant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cmp {
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `==`
    Eq,
}

/// `column cmp value`; false when the column is missing (NaN in pandas).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Condition {
    /// PUMS column.
    pub column: &'static str,
    /// Comparison.
    pub cmp: Cmp,
    /// Constant.
    pub value: f64,
}

const fn cond(column: &'static str, cmp: Cmp, value: f64) -> Condition {
    Condition { column, cmp, value }
}

impl Condition {
    /// Evaluates the condition on a cell (`None` = missing).
    pub fn holds(&self, cell: Option<f64>) -> bool {
        let Some(x) = cell else { return false };
        match self.cmp {
            Cmp::Gt => x > self.value,
            Cmp::Ge => x >= self.value,
            Cmp::Lt => x < self.value,
            Cmp::Le => x <= self.value,
            Cmp::Eq => x == self.value,
        }
    }

    fn describe(&self) -> String {
        let op = match self.cmp {
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Eq => "==",
        };
        format!("{} {op} {}", self.column, self.value)
    }
}

/// An ACS prediction task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AcsTask {
    /// Income above $50,000 (the Adult replacement).
    Income,
    /// Employed.
    Employment,
    /// Public health coverage, among low-income people under 65.
    PublicCoverage,
    /// Moved in the last year, among 18-35 year olds.
    Mobility,
    /// Commute over 20 minutes, among workers.
    TravelTime,
    /// Income under 250% of the poverty line.
    IncomePovertyRatio,
}

/// A task's folktables definition.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TaskDefinition {
    /// The folktables name (`ACSIncome`).
    pub folktables: &'static str,
    /// The `--data` name (`acs-income`).
    pub name: &'static str,
    /// Feature columns, in folktables' order.
    pub features: &'static [&'static str],
    /// The label rule.
    pub target: Condition,
    /// Row filters (all must hold).
    pub filters: &'static [Condition],
}

/// Features read as numbers; every other feature is a categorical code.
pub const NUMERIC_FEATURES: [&str; 5] = ["AGEP", "WKHP", "PINCP", "JWMNP", "POVPIP"];

use Cmp::*;

const INCOME: TaskDefinition = TaskDefinition {
    folktables: "ACSIncome",
    name: "acs-income",
    features: &["AGEP", "COW", "SCHL", "MAR", "OCCP", "POBP", "RELP", "WKHP", "SEX", "RAC1P"],
    target: cond("PINCP", Gt, 50_000.0),
    filters: &[cond("AGEP", Gt, 16.0), cond("PINCP", Gt, 100.0), cond("WKHP", Gt, 0.0), cond("PWGTP", Ge, 1.0)],
};

const EMPLOYMENT: TaskDefinition = TaskDefinition {
    folktables: "ACSEmployment",
    name: "acs-employment",
    features: &[
        "AGEP", "SCHL", "MAR", "RELP", "DIS", "ESP", "CIT", "MIG", "MIL", "ANC", "NATIVITY", "DEAR", "DEYE", "DREM",
        "SEX", "RAC1P",
    ],
    target: cond("ESR", Eq, 1.0),
    // The README says ages 16-90; the code filters nothing (quirk 2).
    filters: &[],
};

const PUBLIC_COVERAGE: TaskDefinition = TaskDefinition {
    folktables: "ACSPublicCoverage",
    name: "acs-public-coverage",
    features: &[
        "AGEP", "SCHL", "MAR", "SEX", "DIS", "ESP", "CIT", "MIG", "MIL", "ANC", "NATIVITY", "DEAR", "DEYE", "DREM",
        "PINCP", "ESR", "ST", "FER", "RAC1P",
    ],
    target: cond("PUBCOV", Eq, 1.0),
    filters: &[cond("AGEP", Lt, 65.0), cond("PINCP", Le, 30_000.0)],
};

const MOBILITY: TaskDefinition = TaskDefinition {
    folktables: "ACSMobility",
    name: "acs-mobility",
    features: &[
        "AGEP", "SCHL", "MAR", "SEX", "DIS", "ESP", "CIT", "MIL", "ANC", "NATIVITY", "RELP", "DEAR", "DEYE", "DREM",
        "RAC1P", "GCL", "COW", "ESR", "WKHP", "JWMNP", "PINCP",
    ],
    target: cond("MIG", Eq, 1.0),
    filters: &[cond("AGEP", Gt, 18.0), cond("AGEP", Lt, 35.0)],
};

const TRAVEL_TIME: TaskDefinition = TaskDefinition {
    folktables: "ACSTravelTime",
    name: "acs-travel-time",
    features: &[
        "AGEP", "SCHL", "MAR", "SEX", "DIS", "ESP", "MIG", "RELP", "RAC1P", "PUMA", "ST", "CIT", "OCCP", "JWTR",
        "POWPUMA", "POVPIP",
    ],
    target: cond("JWMNP", Gt, 20.0),
    filters: &[cond("AGEP", Gt, 16.0), cond("PWGTP", Ge, 1.0), cond("ESR", Eq, 1.0)],
};

const INCOME_POVERTY_RATIO: TaskDefinition = TaskDefinition {
    folktables: "ACSIncomePovertyRatio",
    name: "acs-income-poverty-ratio",
    features: &[
        "AGEP", "SCHL", "MAR", "SEX", "DIS", "ESP", "MIG", "CIT", "MIL", "ANC", "NATIVITY", "RELP", "DEAR", "DEYE",
        "DREM", "RAC1P", "GCL", "ESR", "OCCP", "WKHP",
    ],
    target: cond("POVPIP", Lt, 250.0),
    filters: &[],
};

impl AcsTask {
    /// Every task.
    pub const ALL: [AcsTask; 6] = [
        AcsTask::Income,
        AcsTask::Employment,
        AcsTask::PublicCoverage,
        AcsTask::Mobility,
        AcsTask::TravelTime,
        AcsTask::IncomePovertyRatio,
    ];

    /// The task's definition.
    pub fn definition(self) -> &'static TaskDefinition {
        match self {
            AcsTask::Income => &INCOME,
            AcsTask::Employment => &EMPLOYMENT,
            AcsTask::PublicCoverage => &PUBLIC_COVERAGE,
            AcsTask::Mobility => &MOBILITY,
            AcsTask::TravelTime => &TRAVEL_TIME,
            AcsTask::IncomePovertyRatio => &INCOME_POVERTY_RATIO,
        }
    }

    /// The task called `name` (`acs-income` or `ACSIncome`).
    pub fn from_name(name: &str) -> Option<AcsTask> {
        AcsTask::ALL.into_iter().find(|t| {
            let d = t.definition();
            d.name == name || d.folktables.eq_ignore_ascii_case(name)
        })
    }

    /// A one-line description: label rule and filters.
    pub fn describe(self) -> String {
        let d = self.definition();
        let filters = if d.filters.is_empty() {
            "no row filter".to_string()
        } else {
            format!("rows with {}", d.filters.iter().map(Condition::describe).collect::<Vec<_>>().join(", "))
        };
        format!("{}: label {}; {filters}; {} features", d.folktables, d.target.describe(), d.features.len())
    }
}

/// 1-year or 5-year estimates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Horizon {
    /// One survey year.
    #[default]
    #[serde(rename = "1-Year")]
    OneYear,
    /// Five pooled years ending in the survey year.
    #[serde(rename = "5-Year")]
    FiveYear,
}

impl Horizon {
    /// The Census's directory name.
    pub fn dir(self) -> &'static str {
        match self {
            Horizon::OneYear => "1-Year",
            Horizon::FiveYear => "5-Year",
        }
    }

    /// Parses `1-Year`/`1-year`/`1` and `5-Year`/`5-year`/`5`.
    pub fn parse(s: &str) -> Result<Horizon> {
        match s.to_ascii_lowercase().as_str() {
            "1-year" | "1" | "1year" => Ok(Horizon::OneYear),
            "5-year" | "5" | "5year" => Ok(Horizon::FiveYear),
            _ => Err(Error::config("horizon", format!("'{s}' (use 1-Year or 5-Year)"))),
        }
    }
}

/// What a missing cell becomes (see the module's quirks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AcsMissing {
    /// 0, as folktables actually does.
    #[default]
    Zero,
    /// -1, as folktables' code intends.
    MinusOne,
}

/// The states (and DC, PR) with their FIPS codes.
pub const STATES: [(&str, &str); 52] = [
    ("AL", "01"),
    ("AK", "02"),
    ("AZ", "04"),
    ("AR", "05"),
    ("CA", "06"),
    ("CO", "08"),
    ("CT", "09"),
    ("DE", "10"),
    ("DC", "11"),
    ("FL", "12"),
    ("GA", "13"),
    ("HI", "15"),
    ("ID", "16"),
    ("IL", "17"),
    ("IN", "18"),
    ("IA", "19"),
    ("KS", "20"),
    ("KY", "21"),
    ("LA", "22"),
    ("ME", "23"),
    ("MD", "24"),
    ("MA", "25"),
    ("MI", "26"),
    ("MN", "27"),
    ("MS", "28"),
    ("MO", "29"),
    ("MT", "30"),
    ("NE", "31"),
    ("NV", "32"),
    ("NH", "33"),
    ("NJ", "34"),
    ("NM", "35"),
    ("NY", "36"),
    ("NC", "37"),
    ("ND", "38"),
    ("OH", "39"),
    ("OK", "40"),
    ("OR", "41"),
    ("PA", "42"),
    ("RI", "44"),
    ("SC", "45"),
    ("SD", "46"),
    ("TN", "47"),
    ("TX", "48"),
    ("UT", "49"),
    ("VT", "50"),
    ("VA", "51"),
    ("WA", "53"),
    ("WV", "54"),
    ("WI", "55"),
    ("WY", "56"),
    ("PR", "72"),
];

/// The census's labels of the `RAC1P` codes.
pub const RAC1P_LABELS: [(&str, &str); 9] = [
    ("1", "White"),
    ("2", "Black"),
    ("3", "American Indian"),
    ("4", "Alaska Native"),
    ("5", "American Indian and Alaska Native tribes"),
    ("6", "Asian"),
    ("7", "Native Hawaiian and Pacific Islander"),
    ("8", "Some other race"),
    ("9", "Two or more races"),
];

/// Group choices of the ACS tasks.
pub const GROUP_COLUMNS: [&str; 3] = ["race", "RAC1P", "sex"];

/// The reference experiment's survey: 2018, 1-Year, Oklahoma.
pub const DEFAULT_YEAR: u16 = 2018;
/// The reference experiment's state.
pub const DEFAULT_STATE: &str = "OK";
/// Census download root.
pub const CENSUS_BASE: &str = "https://www2.census.gov/programs-surveys/acs/data/pums";

/// Which ACS data to load.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AcsRequest {
    /// The task.
    pub task: AcsTask,
    /// Survey year (2014 or later).
    pub year: u16,
    /// 1-year or 5-year files.
    pub horizon: Horizon,
    /// Postal codes of the states, upper case.
    pub states: Vec<String>,
    /// What missing cells become.
    pub missing: AcsMissing,
    /// Use `RELSHIPP` where `RELP` is absent (2019 on).
    pub relshipp: bool,
}

impl AcsRequest {
    /// The reference experiment's survey (2018 1-Year, Oklahoma) for `task`.
    pub fn new(task: AcsTask) -> Self {
        AcsRequest {
            task,
            year: DEFAULT_YEAR,
            horizon: Horizon::OneYear,
            states: vec![DEFAULT_STATE.into()],
            missing: AcsMissing::Zero,
            relshipp: false,
        }
    }

    /// Checks year and states.
    pub fn validate(&self) -> Result<()> {
        if self.year < 2014 {
            return Err(Error::config(
                "year",
                format!("{} (PUMS person files in this layout exist from 2014 on)", self.year),
            ));
        }
        if self.states.is_empty() {
            return Err(Error::config("state", "no state given"));
        }
        for s in &self.states {
            fips(s)?;
        }
        Ok(())
    }

    /// The cache directory of this survey, relative to the cache root.
    pub fn cache_dir(&self) -> PathBuf {
        PathBuf::from("acs").join(self.year.to_string()).join(self.horizon.dir())
    }

    /// The archive name of a state's person file (`csv_pok.zip`).
    pub fn archive_name(state: &str) -> String {
        format!("csv_p{}.zip", state.to_ascii_lowercase())
    }

    /// The CSV name inside the archive (`psam_p40.csv` from 2017,
    /// `ss16pok.csv` before).
    pub fn csv_name(&self, state: &str) -> Result<String> {
        Ok(if self.year >= 2017 {
            format!("psam_p{}.csv", fips(state)?)
        } else {
            format!("ss{:02}p{}.csv", self.year % 100, state.to_ascii_lowercase())
        })
    }

    /// The Census address of a state's archive (or under `mirror`).
    pub fn url(&self, state: &str, mirror: Option<&str>) -> String {
        let base = mirror.unwrap_or(CENSUS_BASE).trim_end_matches('/');
        format!("{base}/{}/{}/{}", self.year, self.horizon.dir(), Self::archive_name(state))
    }

    /// A short name for reports: `acs-income:OK:2018:1-Year`.
    pub fn display_name(&self) -> String {
        format!("{}:{}:{}:{}", self.task.definition().name, self.states.join("+"), self.year, self.horizon.dir())
    }
}

/// The two-digit FIPS code of a postal code.
pub fn fips(state: &str) -> Result<&'static str> {
    let up = state.trim().to_ascii_uppercase();
    STATES.iter().find(|(s, _)| *s == up).map(|(_, f)| *f).ok_or_else(|| {
        Error::config("state", format!("'{state}' is not a state postal code the Census publishes (e.g. OK, CA, DC)"))
    })
}

/// The cached file of one state: the archive, or an imported CSV.
pub fn cached_file(cache: &Cache, request: &AcsRequest, state: &str) -> Result<Option<PathBuf>> {
    let dir = cache.root().join(request.cache_dir());
    for name in [AcsRequest::archive_name(state), request.csv_name(state)?] {
        let p = dir.join(&name);
        if p.is_file() {
            return Ok(Some(p));
        }
    }
    Ok(None)
}

/// The cache manifest of ACS files: the sha256 each file had when it was
/// first stored (the Census publishes no checksums).
#[derive(Debug, Default, Serialize, Deserialize)]
struct Manifest {
    files: BTreeMap<String, ManifestEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ManifestEntry {
    sha256: String,
    size: u64,
    origin: String,
}

fn manifest_path(cache: &Cache) -> PathBuf {
    cache.root().join("acs").join("manifest.json")
}

fn read_manifest(cache: &Cache) -> Result<Manifest> {
    let path = manifest_path(cache);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            Error::Data(format!("{}: not a valid manifest ({e}); delete it to start over", path.display()))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Manifest::default()),
        Err(e) => Err(Error::io(path, e)),
    }
}

fn write_manifest(cache: &Cache, manifest: &Manifest) -> Result<()> {
    let path = manifest_path(cache);
    let temp = path.with_extension("json.part");
    let text = serde_json::to_string_pretty(manifest).expect("a manifest serializes");
    std::fs::write(&temp, text).map_err(|e| Error::io(&temp, e))?;
    std::fs::rename(&temp, &path).map_err(|e| Error::io(&path, e))
}

/// Records `path` in the manifest the first time it is stored; afterwards
/// compares and returns a warning when its sha256 changed.
fn record(cache: &Cache, path: &Path, origin: &str) -> Result<Option<String>> {
    let key = path.strip_prefix(cache.root()).unwrap_or(path).to_string_lossy().replace('\\', "/");
    let sha256 = sha256_file(path)?;
    let size = std::fs::metadata(path).map_err(|e| Error::io(path, e))?.len();
    let mut manifest = read_manifest(cache)?;
    let warning = match manifest.files.get(&key) {
        Some(old) if old.sha256 != sha256 => Some(format!(
            "{key} changed since it was first fetched (sha256 {} from {}, now {sha256}); the Census may have \
             republished it, and results may differ from earlier runs",
            old.sha256, old.origin
        )),
        Some(_) => return Ok(None),
        None => None,
    };
    manifest.files.insert(key, ManifestEntry { sha256, size, origin: origin.to_string() });
    write_manifest(cache, &manifest)?;
    Ok(warning)
}

/// Checks a cached file against the sha256 recorded when it was first
/// stored; returns a warning when it differs.
pub fn check_recorded(cache: &Cache, path: &Path) -> Result<Option<String>> {
    let key = path.strip_prefix(cache.root()).unwrap_or(path).to_string_lossy().replace('\\', "/");
    let manifest = read_manifest(cache)?;
    let Some(entry) = manifest.files.get(&key) else { return Ok(None) };
    let sha256 = sha256_file(path)?;
    Ok((sha256 != entry.sha256).then(|| {
        format!(
            "{key}: sha256 {sha256} differs from the {} recorded when it was stored; the file changed in the cache",
            entry.sha256
        )
    }))
}

/// Downloads one state's archive into the cache. Returns the path and a
/// warning when the file differs from an earlier download.
pub fn download(
    cache: &Cache,
    request: &AcsRequest,
    state: &str,
    mirror: Option<&str>,
    progress: Progress,
) -> Result<(PathBuf, Option<String>)> {
    let url = request.url(state, mirror);
    let dir = cache.root().join(request.cache_dir());
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let target = dir.join(AcsRequest::archive_name(state));
    let (reader, total) = super::cache::http_get(&url)?;
    super::cache::store_atomically(&target, &url, reader, None, total, progress, |temp, n, _| {
        if let Some(t) = total.filter(|&t| t != n) {
            return Err(Error::Data(format!("{url}: truncated: {n} of {t} bytes arrived")));
        }
        // An archive that cannot be opened is not kept.
        zip::ZipArchive::new(File::open(temp).map_err(|e| Error::io(temp, e))?)
            .map_err(|e| Error::Data(format!("{url}: not a readable zip archive ({e})")))?;
        Ok(())
    })?;
    let warning = record(cache, &target, &url)?;
    Ok((target, warning))
}

/// Imports one state's archive or CSV from a local directory.
pub fn import(cache: &Cache, request: &AcsRequest, state: &str, from: &Path) -> Result<(PathBuf, Option<String>)> {
    let candidates = [AcsRequest::archive_name(state), request.csv_name(state)?];
    let source = candidates.iter().map(|n| from.join(n)).find(|p| p.is_file()).ok_or_else(|| {
        Error::Data(format!("{}: neither {} nor {} is there", from.display(), candidates[0], candidates[1]))
    })?;
    let dir = cache.root().join(request.cache_dir());
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let name = source.file_name().expect("a file name");
    let target = dir.join(name);
    let temp = dir.join(format!(".{}.part", name.to_string_lossy()));
    std::fs::copy(&source, &temp).map_err(|e| Error::io(&source, e))?;
    std::fs::rename(&temp, &target).map_err(|e| Error::io(&target, e))?;
    let warning = record(cache, &target, &source.display().to_string())?;
    Ok((target, warning))
}

/// Reads the task's rows from PUMS person files (CSV or zip archives
/// holding one), in order, into one table with the feature columns, the
/// derived `race` and `sex` group columns, `PWGTP` and the label `label`.
pub fn read_task(request: &AcsRequest, files: &[PathBuf]) -> Result<RawTable> {
    let def = request.task.definition();
    let mut table = RawTable::with_names(request.display_name(), table_columns(def));
    for path in files {
        let name = path.display().to_string();
        let is_zip = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("zip"));
        if is_zip {
            let file = File::open(path).map_err(|e| Error::io(path, e))?;
            let mut archive = zip::ZipArchive::new(BufReader::new(file))
                .map_err(|e| Error::Data(format!("{name}: not a readable zip archive ({e})")))?;
            let index = (0..archive.len())
                .find(|&i| archive.name_for_index(i).is_some_and(|n| n.to_ascii_lowercase().ends_with(".csv")))
                .ok_or_else(|| Error::Data(format!("{name}: the archive holds no .csv file")))?;
            let entry = archive.by_index(index).map_err(|e| Error::Data(format!("{name}: {e}")))?;
            let source = format!("{name}!{}", entry.name());
            read_pums(entry, &source, request, &mut table)?;
        } else {
            let file = File::open(path).map_err(|e| Error::io(path, e))?;
            read_pums(BufReader::new(file), &name, request, &mut table)?;
        }
    }
    Ok(table)
}

/// The columns of a task's table: its features, `race`, `sex`, `PWGTP`
/// and `label`. (`RELSHIPP`, where it stands in for `RELP`, keeps the
/// name `RELP`.)
pub fn table_columns(def: &TaskDefinition) -> Vec<String> {
    let mut names: Vec<String> = def.features.iter().map(|s| s.to_string()).collect();
    names.extend(["race".into(), "sex".into(), "PWGTP".into(), "label".into()]);
    names
}

/// Streams one PUMS CSV, appending the rows that pass the task's filters
/// to `table` (laid out by [`table_columns`]).
pub fn read_pums(reader: impl Read, source: &str, request: &AcsRequest, table: &mut RawTable) -> Result<()> {
    let def = request.task.definition();
    let mut csv = csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(reader);
    let header = csv.byte_headers().map_err(|e| parse_error(source, e))?.clone();
    let find = |name: &str| header.iter().position(|h| h.trim_ascii() == name.as_bytes());
    let column = |name: &str| -> Result<usize> {
        if let Some(i) = find(name) {
            return Ok(i);
        }
        if name == "RELP" {
            if request.relshipp {
                if let Some(i) = find("RELSHIPP") {
                    return Ok(i);
                }
            } else if find("RELSHIPP").is_some() {
                return Err(Error::Data(format!(
                    "{source}: {} needs RELP, which the Census renamed RELSHIPP from 2019 on (folktables fails \
                     here too); pass `acs-relshipp` to use RELSHIPP in its place",
                    def.folktables
                )));
            }
        }
        Err(Error::Data(format!("{source}: no column {name} in the header; is this a PUMS person file?")))
    };
    let feature_cols: Vec<usize> = def.features.iter().map(|f| column(f)).collect::<Result<_>>()?;
    let filter_cols: Vec<usize> = def.filters.iter().map(|c| column(c.column)).collect::<Result<_>>()?;
    let target_col = column(def.target.column)?;
    let (race_col, sex_col, weight_col) = (column("RAC1P")?, column("SEX")?, column("PWGTP")?);
    let fill = match request.missing {
        AcsMissing::Zero => "0",
        AcsMissing::MinusOne => "-1",
    };
    let number = |record: &csv::ByteRecord, c: usize| -> Option<f64> {
        std::str::from_utf8(record.get(c)?).ok().map(str::trim).filter(|s| !s.is_empty())?.parse::<f64>().ok()
    };
    let mut record = csv::ByteRecord::new();
    let mut cells: Vec<String> = Vec::with_capacity(feature_cols.len() + 4);
    loop {
        match csv.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(parse_error(source, e)),
        }
        let line = record.position().map_or(0, |p| p.line());
        if !def.filters.iter().zip(&filter_cols).all(|(c, &col)| c.holds(number(&record, col))) {
            continue;
        }
        cells.clear();
        for &c in &feature_cols {
            let raw = std::str::from_utf8(record.get(c).unwrap_or(b"")).map_err(|_| Error::Parse {
                source_name: source.to_string(),
                line,
                message: "the line is not valid UTF-8".into(),
            })?;
            // PUMS pads nothing but folktables strips spaces inside lines.
            let v: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
            cells.push(if v.is_empty() { fill.to_string() } else { v });
        }
        let race_code = std::str::from_utf8(record.get(race_col).unwrap_or(b"")).unwrap_or("").trim().to_string();
        let race = if race_code == "1" { "White" } else { "Non-White" };
        let sex = match number(&record, sex_col) {
            Some(1.0) => "Male",
            Some(2.0) => "Female",
            _ => "",
        };
        let weight = std::str::from_utf8(record.get(weight_col).unwrap_or(b"")).unwrap_or("").trim().to_string();
        let label = if def.target.holds(number(&record, target_col)) { "1" } else { "0" };
        // RAC1P as a feature carries its census label.
        for (cell, name) in cells.iter_mut().zip(def.features) {
            if *name == "RAC1P"
                && let Some((_, l)) = RAC1P_LABELS.iter().find(|(code, _)| *code == cell.as_str())
            {
                *cell = l.to_string();
            }
        }
        table.push_row(line, cells.iter().map(String::as_str).chain([race, sex, weight.as_str(), label]));
    }
    Ok(())
}

fn parse_error(source: &str, e: csv::Error) -> Error {
    let line = e.position().map_or(0, |p| p.line());
    Error::Parse { source_name: source.to_string(), line, message: e.to_string() }
}

/// The preprocessing of an ACS task for the given groups.
pub fn spec(
    request: &AcsRequest,
    groups: &[String],
    missing: MissingPolicy,
    keep_group_feature: bool,
) -> Result<TableSpec> {
    let def = request.task.definition();
    let mut columns = Vec::new();
    let mut drop: Vec<String> = vec!["PWGTP".into()];
    for g in groups {
        match g.as_str() {
            "race" => {
                columns.push(GroupColumn::plain("race"));
                if !keep_group_feature && def.features.contains(&"RAC1P") {
                    drop.push("RAC1P".into());
                }
            }
            "RAC1P" => {
                if !def.features.contains(&"RAC1P") {
                    return Err(Error::config("group", format!("{} has no RAC1P feature", def.folktables)));
                }
                columns.push(GroupColumn::plain("RAC1P"));
            }
            "sex" => {
                columns.push(GroupColumn::plain("sex"));
                if !keep_group_feature && def.features.contains(&"SEX") {
                    drop.push("SEX".into());
                }
            }
            other => {
                return Err(Error::config(
                    "group",
                    format!("'{other}' is not a group of the ACS tasks (use race, RAC1P or sex)"),
                ));
            }
        }
    }
    for derived in ["race", "sex"] {
        if !groups.iter().any(|g| g == derived) {
            drop.push(derived.into());
        }
    }
    let categorical = def
        .features
        .iter()
        .filter(|f| !NUMERIC_FEATURES.contains(f))
        .map(|f| f.to_string())
        .filter(|f| !drop.contains(f))
        .collect();
    let numeric = def.features.iter().filter(|f| NUMERIC_FEATURES.contains(f)).map(|f| f.to_string()).collect();
    Ok(TableSpec { drop, categorical, numeric, ..TableSpec::fixed("label", "1", columns, missing, keep_group_feature) })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PUMS-like person file: extra columns, columns in another order.
    const HEADER: &str = "RT,SERIALNO,ST,PUMA,AGEP,COW,SCHL,MAR,OCCP,POBP,RELP,WKHP,SEX,RAC1P,PINCP,PWGTP,ESR,DIS,\
                          ESP,CIT,MIG,MIL,ANC,NATIVITY,DEAR,DEYE,DREM,PUBCOV,FER,GCL,JWMNP,JWTR,POWPUMA,POVPIP";

    fn row(fields: &[(&str, &str)]) -> String {
        let names: Vec<&str> = HEADER.split(',').collect();
        names
            .iter()
            .map(|n| fields.iter().find(|(k, _)| k == n).map_or("1", |(_, v)| *v).to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    fn read(task: AcsTask, rows: &[String], missing: AcsMissing) -> RawTable {
        let text = format!("{HEADER}\n{}\n", rows.join("\n"));
        let mut request = AcsRequest::new(task);
        request.missing = missing;
        let mut table = RawTable::with_names("t", table_columns(task.definition()));
        read_pums(text.as_bytes(), "t.csv", &request, &mut table).unwrap();
        table
    }

    /// A (small, so dictionary-form) column's cells.
    fn column<'a>(t: &'a RawTable, name: &str) -> Vec<Option<&'a str>> {
        let column = &t.columns[t.column_index(name).unwrap()];
        column.codes.iter().map(|&c| column.values.get(c as usize).map(String::as_str)).collect()
    }

    #[test]
    fn income_filters_and_threshold() {
        let rows = [
            row(&[("AGEP", "30"), ("PINCP", "50001"), ("WKHP", "40"), ("PWGTP", "12")]), // kept, 1
            row(&[("AGEP", "30"), ("PINCP", "50000"), ("WKHP", "40")]),                  // kept, 0 (not >)
            row(&[("AGEP", "16"), ("PINCP", "90000"), ("WKHP", "40")]),                  // AGEP > 16 fails
            row(&[("AGEP", "40"), ("PINCP", "100"), ("WKHP", "40")]),                    // PINCP > 100 fails
            row(&[("AGEP", "40"), ("PINCP", "5000"), ("WKHP", "")]),                     // WKHP missing: dropped
            row(&[("AGEP", "40"), ("PINCP", "5000"), ("WKHP", "10"), ("PWGTP", "0")]),   // PWGTP >= 1 fails
            row(&[("AGEP", "17"), ("PINCP", "101"), ("WKHP", "1"), ("COW", ""), ("RAC1P", "6"), ("SEX", "2")]), // kept
        ];
        let t = read(AcsTask::Income, &rows, AcsMissing::Zero);
        assert_eq!(t.n_rows(), 3);
        assert_eq!(t.lines, [2, 3, 8]);
        assert_eq!(column(&t, "label"), [Some("1"), Some("0"), Some("0")]);
        // Missing COW becomes 0 (folktables' behaviour) or -1 on request.
        assert_eq!(column(&t, "COW")[2], Some("0"));
        assert_eq!(column(&t, "race"), [Some("White"), Some("White"), Some("Non-White")]);
        assert_eq!(column(&t, "RAC1P")[2], Some("Asian"));
        assert_eq!(column(&t, "sex")[2], Some("Female"));
        assert_eq!(column(&t, "PWGTP")[0], Some("12"));
        let t = read(AcsTask::Income, &rows, AcsMissing::MinusOne);
        assert_eq!(column(&t, "COW")[2], Some("-1"));
    }

    #[test]
    fn every_task_applies_its_rule() {
        // Employment: no filter; ESR == 1; a missing ESR is label 0.
        let rows = [row(&[("ESR", "1")]), row(&[("ESR", "6")]), row(&[("ESR", ""), ("AGEP", "5")])];
        let t = read(AcsTask::Employment, &rows, AcsMissing::Zero);
        assert_eq!(column(&t, "label"), [Some("1"), Some("0"), Some("0")]);

        // Public coverage: AGEP < 65, PINCP <= 30000; PUBCOV == 1.
        let rows = [
            row(&[("AGEP", "64"), ("PINCP", "30000"), ("PUBCOV", "1")]),
            row(&[("AGEP", "65"), ("PINCP", "100"), ("PUBCOV", "1")]),
            row(&[("AGEP", "30"), ("PINCP", "30001"), ("PUBCOV", "1")]),
            row(&[("AGEP", "30"), ("PINCP", "-500"), ("PUBCOV", "2")]),
        ];
        let t = read(AcsTask::PublicCoverage, &rows, AcsMissing::Zero);
        assert_eq!(t.lines, [2, 5]);
        assert_eq!(column(&t, "label"), [Some("1"), Some("0")]);

        // Mobility: 18 < AGEP < 35; MIG == 1.
        let rows = [
            row(&[("AGEP", "18"), ("MIG", "1")]),
            row(&[("AGEP", "19"), ("MIG", "1")]),
            row(&[("AGEP", "34"), ("MIG", "3")]),
            row(&[("AGEP", "35"), ("MIG", "1")]),
        ];
        let t = read(AcsTask::Mobility, &rows, AcsMissing::Zero);
        assert_eq!(t.lines, [3, 4]);
        assert_eq!(column(&t, "label"), [Some("1"), Some("0")]);

        // Travel time: AGEP > 16, PWGTP >= 1, ESR == 1; JWMNP > 20.
        let rows = [
            row(&[("AGEP", "30"), ("ESR", "1"), ("JWMNP", "21")]),
            row(&[("AGEP", "30"), ("ESR", "1"), ("JWMNP", "20")]),
            row(&[("AGEP", "30"), ("ESR", "3"), ("JWMNP", "45")]),
            row(&[("AGEP", "30"), ("ESR", "1"), ("JWMNP", "")]),
        ];
        let t = read(AcsTask::TravelTime, &rows, AcsMissing::Zero);
        assert_eq!(t.lines, [2, 3, 5]);
        assert_eq!(column(&t, "label"), [Some("1"), Some("0"), Some("0")]);

        // Income-poverty ratio: no filter; POVPIP < 250.
        let rows = [row(&[("POVPIP", "249")]), row(&[("POVPIP", "250")]), row(&[("POVPIP", "")])];
        let t = read(AcsTask::IncomePovertyRatio, &rows, AcsMissing::Zero);
        assert_eq!(column(&t, "label"), [Some("1"), Some("0"), Some("0")]);
    }

    #[test]
    fn relp_rename_is_an_explicit_switch() {
        let header = HEADER.replace("RELP", "RELSHIPP");
        let text = format!("{header}\n{}\n", row(&[("AGEP", "30"), ("PINCP", "60000"), ("WKHP", "40")]));
        let mut request = AcsRequest::new(AcsTask::Income);
        let mut table = RawTable::with_names("t", table_columns(&INCOME));
        let err = read_pums(text.as_bytes(), "p.csv", &request, &mut table).unwrap_err();
        assert!(err.to_string().contains("renamed RELSHIPP"), "{err}");
        request.relshipp = true;
        read_pums(text.as_bytes(), "p.csv", &request, &mut table).unwrap();
        assert_eq!(table.n_rows(), 1);
    }

    #[test]
    fn names_urls_and_states() {
        let mut r = AcsRequest::new(AcsTask::Income);
        assert_eq!(r.url("OK", None), format!("{CENSUS_BASE}/2018/1-Year/csv_pok.zip"));
        assert_eq!(r.csv_name("CA").unwrap(), "psam_p06.csv");
        r.year = 2016;
        r.horizon = Horizon::FiveYear;
        assert_eq!(r.csv_name("AL").unwrap(), "ss16pal.csv");
        assert_eq!(r.url("AL", Some("http://m/")), "http://m/2016/5-Year/csv_pal.zip");
        assert_eq!(fips("dc").unwrap(), "11");
        assert!(fips("XX").unwrap_err().to_string().contains("'XX' is not a state"));
        assert_eq!(AcsTask::from_name("ACSIncome"), Some(AcsTask::Income));
        assert_eq!(AcsTask::from_name("acs-travel-time"), Some(AcsTask::TravelTime));
    }
}
