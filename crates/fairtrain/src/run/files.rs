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
pub(crate) const RUN_FILES: [&str; 3] = [METRICS_FILE, HISTORY_FILE, CONFIG_FILE];

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
    if !overwrite && let Some(f) = RUN_FILES.iter().find(|f| dir.join(f).exists()) {
        return Err(Error::Data(format!(
            "output directory {} already holds a run ({f}); choose another `out` or pass `overwrite`",
            dir.display()
        )));
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

/// A CSV log opened for a run: new, or continued where a checkpoint left
/// it (`keep`: the lines it had written, header included). A resumed log
/// keeps exactly those lines; one with fewer (truncated, or replaced) is an
/// error naming it, as a resumed run could not reproduce it. Returns the
/// writer and, when continued, the lines kept.
pub(crate) fn open_log(path: &Path, keep: Option<u64>) -> Result<(BufWriter<File>, Option<u64>)> {
    if let Some(keep) = keep.filter(|&k| k > 0) {
        let bytes = fs::read(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::Data(format!(
                "{}: missing; its checkpoint holds {keep} lines of it, so the run cannot be resumed exactly",
                path.display()
            )),
            _ => Error::io(path, e),
        })?;
        // The end of the `keep`-th complete line.
        let end = bytes
            .iter()
            .enumerate()
            .filter(|&(_, &b)| b == b'\n')
            .nth(keep as usize - 1)
            .map(|(i, _)| i + 1)
            .ok_or_else(|| {
                let complete = bytes.iter().filter(|&&b| b == b'\n').count();
                Error::Data(format!(
                    "{}: holds {complete} complete lines, its checkpoint {keep}: the file was truncated or replaced \
                     after the checkpoint, so the run cannot be resumed exactly",
                    path.display()
                ))
            })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("log.csv");
        write_atomic(dir, name, &bytes[..end])?;
        let file = fs::OpenOptions::new().append(true).open(path).map_err(|e| Error::io(path, e))?;
        return Ok((BufWriter::new(file), Some(keep)));
    }
    let file = File::create(path).map_err(|e| Error::io(path, e))?;
    Ok((BufWriter::new(file), None))
}
