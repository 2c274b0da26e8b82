//! Files of run directories: choosing one (never a run's by accident),
//! creating it, writing files atomically, continuing a CSV log.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::metrics::METRICS_FILE;
use crate::error::{Error, Result};

/// The resolved configuration's file name.
pub const CONFIG_FILE: &str = "config.toml";
/// The history's file name.
pub const HISTORY_FILE: &str = "history.csv";

/// Files that mark a directory as holding a run.
const RUN_FILES: [&str; 3] = [METRICS_FILE, HISTORY_FILE, CONFIG_FILE];

/// The output directory to use: `out`, or `runs/<UTC timestamp>`. Refuses a
/// directory that already holds a run unless `overwrite`. Creates nothing.
pub fn choose_dir(out: Option<&Path>, overwrite: bool) -> Result<PathBuf> {
    let dir = match out {
        Some(d) => d.to_path_buf(),
        None => {
            let base = PathBuf::from("runs").join(timestamp());
            let mut dir = base.clone();
            let mut k = 2;
            while dir.exists() {
                dir = PathBuf::from(format!("{}-{k}", base.display()));
                k += 1;
            }
            dir
        }
    };
    if dir.exists() && !dir.is_dir() {
        return Err(Error::Data(format!("output path {} exists and is not a directory", dir.display())));
    }
    if !overwrite {
        if let Some(f) = RUN_FILES.iter().find(|f| dir.join(f).exists()) {
            return Err(Error::Data(format!(
                "output directory {} already holds a run ({f}); choose another --out or pass --overwrite",
                dir.display()
            )));
        }
    }
    Ok(dir)
}

/// Creates the output directory (and its parents) and checks it is writable.
pub fn create_dir(dir: &Path) -> Result<()> {
    let cannot =
        |what: &str, e: std::io::Error| Error::Data(format!("cannot {what} output directory {}: {e}", dir.display()));
    fs::create_dir_all(dir).map_err(|e| cannot("create", e))?;
    // Creating can succeed on a read-only directory that already exists;
    // probe that a file can be written before training starts.
    let probe = dir.join(".fairtrain-write-test");
    fs::write(&probe, b"").map_err(|e| cannot("write to", e))?;
    let _ = fs::remove_file(probe);
    Ok(())
}

/// Writes `contents` to `dir/name` atomically.
pub fn write_atomic(dir: &Path, name: &str, contents: &[u8]) -> Result<()> {
    let target = dir.join(name);
    let temporary = dir.join(format!(".{name}.tmp"));
    let write = || -> std::io::Result<()> {
        let mut f = File::create(&temporary)?;
        f.write_all(contents)?;
        f.sync_all()?;
        fs::rename(&temporary, &target)
    };
    write().map_err(|e| Error::Data(format!("cannot write {}: {e}", target.display())))
}

/// The current UTC time as `YYYYMMDD-HHMMSS`.
pub fn timestamp() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}{:02}{:02}-{:02}{:02}{:02}",
        now.year(),
        now.month() as u8,
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    )
}

/// Keeps the header and the rows of a CSV log up to `iteration` (a resumed
/// run continues it from there).
pub(crate) fn truncate_log(path: &Path, iteration: u64) -> Result<()> {
    let text = fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut kept = String::with_capacity(text.len());
    for (i, line) in text.lines().enumerate() {
        let keep = i == 0 || line.split(',').next().and_then(|v| v.parse::<u64>().ok()).is_some_and(|k| k <= iteration);
        if keep {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("log.csv");
    write_atomic(dir, name, kept.as_bytes())
}

/// A CSV log opened for a run: new, or continued after `resumed_from`.
pub(crate) fn open_log(path: &Path, resumed_from: Option<u64>) -> Result<(BufWriter<File>, bool)> {
    if let (Some(k), true) = (resumed_from, path.exists()) {
        truncate_log(path, k)?;
        let file = fs::OpenOptions::new().append(true).open(path).map_err(|e| Error::io(path, e))?;
        return Ok((BufWriter::new(file), true));
    }
    let file = File::create(path).map_err(|e| Error::io(path, e))?;
    Ok((BufWriter::new(file), false))
}
