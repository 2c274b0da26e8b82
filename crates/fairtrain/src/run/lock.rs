//! [`DirLock`]: one process at a time writes an output directory. A second
//! `train` (or `bench`) on the same directory fails at once with a clear
//! message instead of interleaving its files with the first's; the lock of
//! a process that died (killed, crashed) is detected and taken over.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The lock file's name in the locked directory.
pub const LOCK_FILE: &str = ".fairtrain.lock";

/// A held lock on a directory, released when dropped.
#[derive(Debug)]
pub struct DirLock {
    path: PathBuf,
}

impl DirLock {
    /// Locks `dir` (which must exist) for this process.
    pub fn acquire(dir: &Path) -> Result<DirLock> {
        let path = dir.join(LOCK_FILE);
        for _ in 0..2 {
            match fs::OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut file) => {
                    file.write_all(std::process::id().to_string().as_bytes()).map_err(|e| Error::io(&path, e))?;
                    return Ok(DirLock { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = fs::read_to_string(&path).ok().and_then(|t| t.trim().parse::<u32>().ok());
                    match holder {
                        Some(pid) if process_alive(pid) && pid != std::process::id() => {
                            return Err(Error::Data(format!(
                                "{} is being written by another fairtrain process (pid {pid}, {}); wait for it, or \
                                 choose another output directory",
                                dir.display(),
                                path.display()
                            )));
                        }
                        // The process that held it is gone: take it over.
                        _ => {
                            let _ = fs::remove_file(&path);
                        }
                    }
                }
                Err(e) => return Err(Error::io(&path, e)),
            }
        }
        Err(Error::Data(format!("{}: cannot take the lock of the output directory", path.display())))
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Whether process `pid` still runs. Where the system gives no way to
/// tell (no `/proc`), a lock is taken as held.
fn process_alive(pid: u32) -> bool {
    let proc = Path::new("/proc");
    if proc.join("self").exists() { proc.join(pid.to_string()).exists() } else { true }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_refuses_and_a_dead_ones_is_taken_over() {
        let tmp = tempfile::tempdir().unwrap();
        let lock = DirLock::acquire(tmp.path()).unwrap();
        // Held by this process: a second acquisition in it is allowed
        // (the same process), so hold one under a live foreign pid.
        drop(lock);
        assert!(!tmp.path().join(LOCK_FILE).exists(), "released on drop");
        // pid 1 is alive on every Linux system.
        std::fs::write(tmp.path().join(LOCK_FILE), "1").unwrap();
        if Path::new("/proc/self").exists() {
            let e = DirLock::acquire(tmp.path()).unwrap_err().to_string();
            assert!(e.contains("is being written by another fairtrain process (pid 1"), "{e}");
        }
        // A pid no process has.
        std::fs::write(tmp.path().join(LOCK_FILE), "4194999").unwrap();
        let lock = DirLock::acquire(tmp.path()).unwrap();
        assert_eq!(std::fs::read_to_string(tmp.path().join(LOCK_FILE)).unwrap(), std::process::id().to_string());
        drop(lock);
    }
}
