//! Output directories and files: nothing is created before the inputs are
//! validated, and finished files appear atomically (written to a temporary
//! name, then renamed), so a failed run never leaves a half-written
//! `metrics.json` or `config.toml`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// Files that mark a directory as holding a run.
const RUN_FILES: [&str; 3] = ["metrics.json", "history.csv", "config.toml"];

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
        bail!("output path {} exists and is not a directory", dir.display());
    }
    if !overwrite {
        if let Some(f) = RUN_FILES.iter().find(|f| dir.join(f).exists()) {
            bail!(
                "output directory {} already holds a run ({f}); choose another --out or pass --overwrite",
                dir.display()
            );
        }
    }
    Ok(dir)
}

/// Creates the output directory (and its parents).
pub fn create_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create output directory {}", dir.display()))?;
    // Creating can succeed on a read-only directory that already exists;
    // probe that a file can be written before training starts.
    let probe = dir.join(".fairtrain-write-test");
    fs::write(&probe, b"").with_context(|| format!("cannot write to output directory {}", dir.display()))?;
    let _ = fs::remove_file(probe);
    Ok(())
}

/// Writes `contents` to `dir/name` atomically.
pub fn write_atomic(dir: &Path, name: &str, contents: &[u8]) -> Result<()> {
    let target = dir.join(name);
    let temporary = dir.join(format!(".{name}.tmp"));
    let write = || -> std::io::Result<()> {
        let mut f = fs::File::create(&temporary)?;
        f.write_all(contents)?;
        f.sync_all()?;
        fs::rename(&temporary, &target)
    };
    write().with_context(|| format!("cannot write {}", target.display()))
}

/// `YYYYMMDD-HHMMSS` in UTC.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_directory_holding_a_run() {
        let dir = std::env::temp_dir().join(format!("fairtrain-output-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("metrics.json"), "{}").unwrap();
        let err = choose_dir(Some(&dir), false).unwrap_err();
        assert!(err.to_string().contains("already holds a run (metrics.json)"), "{err}");
        assert!(choose_dir(Some(&dir), true).is_ok());
        write_atomic(&dir, "x.txt", b"hello").unwrap();
        assert_eq!(fs::read_to_string(dir.join("x.txt")).unwrap(), "hello");
        assert!(!dir.join(".x.txt.tmp").exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn default_directory_is_timestamped() {
        let dir = choose_dir(None, false).unwrap();
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        assert_eq!(name.len(), 15, "{name}");
        assert!(dir.starts_with("runs"));
    }
}
