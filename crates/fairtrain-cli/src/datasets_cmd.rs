//! `fairtrain datasets list|info|fetch`: what data is available, what it
//! is, and getting it into the cache (downloaded or imported, verified).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use fairtrain::data::acs::{AcsMissing, AcsTask, Horizon};
use fairtrain::data::cache::{Cache, FileStatus};
use fairtrain::data::catalog::{BUILTINS, DatasetInfo};
use fairtrain::data::source::{FetchFrom, fetch};
use fairtrain::data::{DataSource, Dataset, LoadOptions, load};
use fairtrain::run::write_atomic;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// `fairtrain datasets` subcommands.
#[derive(Debug, Subcommand)]
pub enum DatasetsCommand {
    /// List every built-in data set and ACS task: cached or not, size, groups, label
    List(CacheArgs),
    /// Describe a data set: source, licence, citation, preprocessing, rows, features, groups, base rates
    Info(InfoArgs),
    /// Download a data set into the cache (or import a local copy with --from), verifying size and sha256
    Fetch(FetchArgs),
    /// Write a data set's encoded rows, pooled and split again (stratified by group and label), to train.csv and test.csv, for other tools to train on the same split
    Export(ExportArgs),
}

/// `datasets export` flags.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Data set: a built-in name, a synthetic variant (synthetic:minority=0.05) or an ACS task
    pub name: String,
    /// Output directory (created; existing train.csv/test.csv are refused unless --overwrite)
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Group column(s) [default: the data set's]
    #[arg(long, value_delimiter = ',')]
    pub group: Option<Vec<String>>,
    /// Fraction of the pooled rows in test.csv
    #[arg(long, default_value_t = 0.3)]
    pub test_fraction: f64,
    /// Seed of the split
    #[arg(long, default_value_t = 0)]
    pub split_seed: u64,
    /// Replace existing files
    #[arg(long)]
    pub overwrite: bool,
    #[command(flatten)]
    pub acs: AcsArgs,
    #[command(flatten)]
    pub cache: CacheArgs,
}

/// The cache flags.
#[derive(Debug, Clone, Args)]
pub struct CacheArgs {
    /// Cache directory [default: $FAIRTRAIN_CACHE, else the platform cache dir]/fairtrain
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// Never touch the network
    #[arg(long)]
    pub offline: bool,
}

/// Which ACS survey (ignored for other data sets).
#[derive(Debug, Clone, Args)]
pub struct AcsArgs {
    /// ACS: state postal code(s) [default: OK]
    #[arg(long, value_delimiter = ',')]
    pub state: Option<Vec<String>>,
    /// ACS: survey year [default: 2018]
    #[arg(long)]
    pub year: Option<u16>,
    /// ACS: 1-Year or 5-Year [default: 1-Year]
    #[arg(long)]
    pub horizon: Option<String>,
}

/// `datasets info` flags.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// Data set name (adult, german, compas, law, synthetic, or an ACS task)
    pub name: String,
    /// Group column(s) to describe [default: the data set's]
    #[arg(long, value_delimiter = ',')]
    pub group: Option<Vec<String>>,
    #[command(flatten)]
    pub acs: AcsArgs,
    #[command(flatten)]
    pub cache: CacheArgs,
}

/// `datasets fetch` flags.
#[derive(Debug, Args)]
pub struct FetchArgs {
    /// Data set name (compas, law, or an ACS task; adult and german are shipped)
    pub name: String,
    /// Import from a local directory (or file) instead of downloading, with the same checks
    #[arg(long, value_name = "DIR")]
    pub from: Option<PathBuf>,
    /// Download from a mirror: MIRROR/NAME/FILE (ACS: MIRROR/YEAR/HORIZON/csv_pXX.zip)
    #[arg(long, value_name = "URL")]
    pub mirror: Option<String>,
    #[command(flatten)]
    pub acs: AcsArgs,
    #[command(flatten)]
    pub cache: CacheArgs,
}

/// Runs a `datasets` subcommand.
pub fn run(command: DatasetsCommand) -> Result<()> {
    match command {
        DatasetsCommand::List(c) => list(&c),
        DatasetsCommand::Info(a) => info(&a),
        DatasetsCommand::Fetch(a) => fetch_cmd(&a),
        DatasetsCommand::Export(a) => export(&a),
    }
}

/// Writes `data` as CSV: one column per model input (numeric inputs
/// standardized as training sees them, one-hot inputs 0/1), then `group`
/// and `label` (0/1).
pub(crate) fn export_csv(data: &Dataset, dir: &Path, name: &str) -> Result<()> {
    write_atomic(dir, name, &csv_bytes(data)?)?;
    Ok(())
}

/// The CSV [`export_csv`] writes.
pub(crate) fn csv_bytes(data: &Dataset) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = data.layout().input_names();
    header.extend(["group".to_string(), "label".to_string()]);
    w.write_record(&header)?;
    let mut record: Vec<String> = Vec::with_capacity(header.len());
    for i in 0..data.n_rows() {
        record.clear();
        record.extend(data.dense_input(i).iter().map(|v| v.to_string()));
        record.push(data.group_names()[data.groups()[i] as usize].clone());
        record.push(format!("{}", data.labels()[i] as u8));
        w.write_record(&record)?;
    }
    w.into_inner().map_err(|e| anyhow::anyhow!("internal: {e}"))
}

fn export(args: &ExportArgs) -> Result<()> {
    if !(args.test_fraction > 0.0 && args.test_fraction < 1.0) {
        bail!("invalid value for test-fraction: {} (must be between 0 and 1, exclusive)", args.test_fraction);
    }
    let source = source_of(&args.name, &args.acs)?;
    for file in ["train.csv", "test.csv"] {
        if args.out.join(file).exists() && !args.overwrite {
            bail!("{} exists; pass --overwrite to replace it", args.out.join(file).display());
        }
    }
    ensure_cached(&source, args.cache.cache.as_deref(), args.cache.offline)?;
    let options = LoadOptions {
        group: args.group.clone(),
        cache: args.cache.cache.clone(),
        offline: args.cache.offline,
        ..LoadOptions::default()
    };
    let loaded = load(&source, &options)?;
    let pooled = loaded.encoded.train.concat(&loaded.encoded.test)?;
    let (train, test) = pooled.split_off(args.test_fraction, args.split_seed)?;
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    export_csv(&train, &args.out, "train.csv")?;
    export_csv(&test, &args.out, "test.csv")?;
    outln!(
        "{}: {} train and {} test rows ({} inputs, groups {}) in {}; train on them with \
         --data {}/train.csv --test-data {}/test.csv --target label --group group",
        loaded.name,
        train.n_rows(),
        test.n_rows(),
        train.n_inputs(),
        train.group_names().join(", "),
        args.out.display(),
        args.out.display(),
        args.out.display()
    );
    Ok(())
}

fn source_of(name: &str, acs: &AcsArgs) -> Result<DataSource> {
    let mut source = DataSource::parse(name)?;
    match &mut source {
        DataSource::Acs(request) => {
            if let Some(s) = &acs.state {
                request.states = s.iter().map(|s| s.trim().to_ascii_uppercase()).collect();
            }
            if let Some(y) = acs.year {
                request.year = y;
            }
            if let Some(h) = &acs.horizon {
                request.horizon = Horizon::parse(h)?;
            }
            request.validate()?;
        }
        DataSource::Csv(_) | DataSource::Arff(_) | DataSource::Parquet(_) => {
            bail!("'{name}' is a file path, not a data set name")
        }
        _ => {
            if acs.state.is_some() || acs.year.is_some() || acs.horizon.is_some() {
                bail!("--state, --year and --horizon apply only to ACS tasks, not to {name}");
            }
        }
    }
    Ok(source)
}

fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 20 => format!("{:.1} MB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.0} KB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

fn cache_state(cache: &Cache, info: &DatasetInfo) -> String {
    if info.shipped {
        return "shipped".into();
    }
    let size: u64 = info.files.iter().map(|f| f.size).sum();
    let states: Vec<FileStatus> = info.files.iter().map(|f| cache.status(info.name, f)).collect();
    if states.iter().all(|s| *s == FileStatus::Present) {
        format!("cached ({})", human_bytes(size))
    } else if states.iter().any(|s| matches!(s, FileStatus::WrongSize(_))) {
        "damaged in cache: fetch again".into()
    } else {
        format!("not cached ({} to fetch)", human_bytes(size))
    }
}

/// The ACS surveys in the cache: `2018 1-Year: OK, CA` per survey.
fn cached_acs(cache: &Cache) -> Vec<String> {
    let mut out = Vec::new();
    let root = cache.root().join("acs");
    let Ok(years) = std::fs::read_dir(&root) else { return out };
    let mut years: Vec<PathBuf> = years.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_dir()).collect();
    years.sort();
    for year in years {
        for horizon in ["1-Year", "5-Year"] {
            let Ok(files) = std::fs::read_dir(year.join(horizon)) else { continue };
            let mut states: Vec<String> = Vec::new();
            let mut bytes = 0;
            for f in files.filter_map(|e| e.ok()) {
                let name = f.file_name().to_string_lossy().to_string();
                if name.starts_with('.') {
                    continue;
                }
                bytes += f.metadata().map(|m| m.len()).unwrap_or(0);
                if let Some(st) = name.strip_prefix("csv_p").and_then(|n| n.strip_suffix(".zip")) {
                    states.push(st.to_ascii_uppercase());
                } else if let Some(code) = name.strip_prefix("psam_p").and_then(|n| n.strip_suffix(".csv")) {
                    let st = fairtrain::data::acs::STATES.iter().find(|(_, f)| *f == code).map(|(s, _)| *s);
                    states.push(st.unwrap_or(code).to_string());
                }
            }
            if !states.is_empty() {
                states.sort();
                out.push(format!(
                    "{} {horizon}: {} ({})",
                    year.file_name().unwrap_or_default().to_string_lossy(),
                    states.join(", "),
                    human_bytes(bytes)
                ));
            }
        }
    }
    out
}

fn list(args: &CacheArgs) -> Result<()> {
    let cache = Cache::resolve(args.cache.as_deref())?;
    outln!("built-in data sets (cache: {}):", cache.root().display());
    outln!("  {:<10} {:<28} {:<34} label", "name", "status", "groups (--group; first is default)");
    for info in BUILTINS {
        let groups: Vec<&str> = info.groups.iter().map(|(g, _)| *g).collect();
        outln!("  {:<10} {:<28} {:<34} {}", info.name, cache_state(&cache, info), groups.join(", "), info.label);
    }
    outln!("\nACS PUMS tasks (folktables definitions; --state, --year, --horizon; default 2018 1-Year OK):");
    for task in AcsTask::ALL {
        outln!("  {:<26} {}", task.definition().name, task.describe());
    }
    outln!("  groups: race (White vs Non-White, default), RAC1P (nine census codes), sex");
    let cached = cached_acs(&cache);
    if cached.is_empty() {
        outln!("  cached surveys: none (fairtrain datasets fetch acs-income --state OK)");
    } else {
        outln!("  cached surveys: {}", cached.join("; "));
    }
    Ok(())
}

fn info(args: &InfoArgs) -> Result<()> {
    let source = source_of(&args.name, &args.acs)?;
    let cache = Cache::resolve(args.cache.cache.as_deref())?;
    match source.info() {
        Some(info) => {
            outln!("{} — {}", info.name, info.title);
            outln!("  label:     {}", info.label);
            for (g, meaning) in info.groups {
                let default = if *g == info.default_group { " (default)" } else { "" };
                outln!("  group:     {g}: {meaning}{default}");
            }
            outln!("  origin:    {}", info.origin);
            outln!("  licence:   {}", info.licence);
            outln!("  citation:  {}", info.citation);
            outln!("  split:     {}", crate::console::with_flags(info.split));
            for f in info.files {
                outln!("  file:      {} ({} bytes, sha256 {})\n             from {}", f.name, f.size, f.sha256, f.url);
            }
            outln!("  status:    {}", cache_state(&cache, info));
            for p in info.preprocessing {
                outln!("  prep:      {}", crate::console::with_flags(p));
            }
        }
        None => {
            let DataSource::Acs(request) = &source else { unreachable!("names parse to built-ins or ACS") };
            let def = request.task.definition();
            outln!("{} — ACS PUMS person data, {}", def.name, request.task.describe());
            outln!("  survey:    {} {} {}", request.year, request.horizon.dir(), request.states.join(", "));
            outln!("  features:  {}", def.features.join(", "));
            outln!("  origin:    {}", request.url(&request.states[0], None));
            outln!("  licence:   US Census Bureau public data (no licence restrictions); cite the ACS PUMS and");
            outln!("             Ding, F. et al. (2021). Retiring Adult: New Datasets for Fair Machine Learning.");
            outln!("  split:     seeded 80/20 split stratified by group and label (--split-seed, --test-fraction)");
            outln!("  groups:    race (White vs Non-White, default), RAC1P (nine codes), sex");
            let missing = match request.missing {
                AcsMissing::Zero => "0 (folktables' behaviour)",
                AcsMissing::MinusOne => "-1",
            };
            outln!(
                "  prep:      missing cells become {missing}; codes one-hot encoded; AGEP/WKHP/PINCP/JWMNP/POVPIP numeric"
            );
        }
    }
    // The figures need the data: computed offline from the cache.
    let options =
        LoadOptions { group: args.group.clone(), offline: true, cache: args.cache.cache.clone(), ..Default::default() };
    let options = LoadOptions {
        test_fraction: source.has_random_split().then_some(fairtrain::data::source::DEFAULT_TEST_FRACTION),
        ..options
    };
    match load(&source, &options) {
        Ok(loaded) => {
            let e = &loaded.encoded;
            let (train, test) = (&e.train, &e.test);
            outln!(
                "  rows:      {} ({} train / {} test) after preprocessing; {} read, {} dropped for missing values",
                train.n_rows() + test.n_rows(),
                train.n_rows(),
                test.n_rows(),
                e.report.rows_read,
                e.report.rows_dropped
            );
            outln!(
                "  features:  {} inputs after encoding ({} numeric, {} categorical columns)",
                train.n_inputs(),
                e.report.numeric.len(),
                e.report.categorical.len()
            );
            let positives = |d: &fairtrain::data::Dataset, g: usize| -> (usize, usize) {
                let mut n = 0;
                let mut p = 0;
                for i in 0..d.n_rows() {
                    if d.groups()[i] as usize == g {
                        n += 1;
                        p += (d.labels()[i] > 0.5) as usize;
                    }
                }
                (n, p)
            };
            let (mut all_n, mut all_p) = (0, 0);
            for (g, name) in train.group_names().iter().enumerate() {
                let (a, b) = (positives(train, g), positives(test, g));
                let (n, p) = (a.0 + b.0, a.1 + b.1);
                all_n += n;
                all_p += p;
                outln!(
                    "  group {:<22} {n:>7} rows, base rate {:.3} (positive '{}')",
                    format!("'{name}':"),
                    p as f64 / n as f64,
                    e.report.positive
                );
            }
            outln!("  overall base rate {:.3}", all_p as f64 / all_n as f64);
            for w in &e.report.warnings {
                outln!("  warning:   {}", crate::console::with_flags(w));
            }
        }
        // `info` reads the cache only (it never downloads): say so in its
        // own words rather than the loader's, which speak of --offline.
        Err(_) if Cache::resolve(args.cache.cache.as_deref()).is_ok_and(|c| missing_from(&source, &c)) => outln!(
            "  data:      not in the cache; `fairtrain datasets fetch {name}` downloads it (or `--from DIR` \
             imports a local copy), then `info` shows its figures",
            name = args.name
        ),
        Err(err) => outln!("  data:      not loaded ({err})"),
    }
    Ok(())
}

/// A byte-progress bar on stderr (hidden when it is not a terminal).
fn download_bar() -> ProgressBar {
    let target =
        if std::io::stderr().is_terminal() { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
    let bar = ProgressBar::with_draw_target(None, target);
    bar.set_style(
        ProgressStyle::with_template("{msg} {bar:32} {bytes}/{total_bytes} · {bytes_per_sec} · eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

fn run_fetch(source: &DataSource, cache: &Cache, from: FetchFrom) -> Result<()> {
    let bar = download_bar();
    let mut progress = |name: &str, n: u64, total: Option<u64>| {
        if let Some(t) = total {
            bar.set_length(t);
        }
        bar.set_message(name.to_string());
        bar.set_position(n);
    };
    let result = fetch(source, cache, from, &mut progress);
    bar.finish_and_clear();
    let (done, warnings) = result?;
    for line in done {
        outln!("{line}");
    }
    for w in warnings {
        errln!("warning: {w}");
    }
    Ok(())
}

fn fetch_cmd(args: &FetchArgs) -> Result<()> {
    let source = source_of(&args.name, &args.acs)?;
    let cache = Cache::resolve(args.cache.cache.as_deref())?;
    let from = match (&args.from, args.cache.offline) {
        (Some(dir), _) => FetchFrom::Local(dir.as_path()),
        (None, true) => bail!(
            "--offline forbids downloading {}; give --from DIR with a local copy, or fetch without --offline",
            args.name
        ),
        (None, false) => FetchFrom::Network(args.mirror.as_deref()),
    };
    if args.from.is_some() && args.mirror.is_some() {
        bail!("give --from or --mirror, not both");
    }
    run_fetch(&source, &cache, from)
}

/// Whether a fetched data set lacks files in `cache`.
fn missing_from(source: &DataSource, cache: &Cache) -> bool {
    match source {
        DataSource::Acs(request) => {
            request.states.iter().any(|s| fairtrain::data::acs::cached_file(cache, request, s).ok().flatten().is_none())
        }
        other => other
            .info()
            .is_some_and(|info| info.files.iter().any(|f| cache.status(info.name, f) != FileStatus::Present)),
    }
}

/// Before training: downloads (with a progress bar) a fetched data set
/// that is not in the cache yet, unless offline (then loading reports
/// what is missing and how to get it).
pub fn ensure_cached(source: &DataSource, cache_dir: Option<&Path>, offline: bool) -> Result<()> {
    if offline {
        return Ok(());
    }
    let cache = Cache::resolve(cache_dir)?;
    if missing_from(source, &cache) {
        errln!("fetching {} into {}", source.name(), cache.root().display());
        run_fetch(source, &cache, FetchFrom::Network(None))?;
    }
    Ok(())
}
