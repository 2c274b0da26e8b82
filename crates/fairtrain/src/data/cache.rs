//! The data cache: files fetched once from their public origin (or imported
//! from a local copy), verified against a manifest shipped in the code, and
//! read offline from then on.
//!
//! Layout: `ROOT/DATASET/FILE`. A file enters the cache only after its size
//! and sha256 match: downloads and imports are written to a temporary file
//! in the same directory and renamed into place, so an interrupted transfer
//! never leaves a file that looks complete. Every load verifies the sha256
//! again, so a file edited in the cache is refused rather than trained on.
//!
//! ```
//! use fairtrain::data::cache::{Cache, FileSpec};
//! let dir = std::env::temp_dir().join("fairtrain-doc-cache");
//! let cache = Cache::new(&dir);
//! let spec = FileSpec { name: "x.csv", url: "https://example.org/x.csv", size: 2, sha256: "…" };
//! assert_eq!(cache.path("demo", &spec), dir.join("demo").join("x.csv"));
//! ```

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The environment variable that overrides the default cache directory.
pub const CACHE_ENV: &str = "FAIRTRAIN_CACHE";

/// One file of a data set as its origin publishes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileSpec {
    /// File name in the cache (and in a `--from` directory).
    pub name: &'static str,
    /// Where it is downloaded from (a pinned, immutable address).
    pub url: &'static str,
    /// Size in bytes.
    pub size: u64,
    /// Hex sha256.
    pub sha256: &'static str,
}

/// The state of a file in the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileStatus {
    /// Not in the cache.
    Missing,
    /// Present with the expected size (the sha256 is checked on load).
    Present,
    /// Present with another size: a damaged or foreign file.
    WrongSize(u64),
}

/// A cache directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cache {
    root: PathBuf,
}

/// Progress of a transfer: bytes so far and the total when known.
pub type Progress<'a> = &'a mut dyn FnMut(u64, Option<u64>);

impl Cache {
    /// A cache rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Cache { root: root.into() }
    }

    /// The cache to use: `explicit` (a `--cache` flag), else the
    /// `FAIRTRAIN_CACHE` environment variable, else the platform cache
    /// directory (`$XDG_CACHE_HOME/fairtrain`, `~/.cache/fairtrain`,
    /// `~/Library/Caches/fairtrain`, `%LOCALAPPDATA%\fairtrain`).
    pub fn resolve(explicit: Option<&Path>) -> Result<Self> {
        if let Some(dir) = explicit {
            return Ok(Cache::new(dir));
        }
        if let Some(dir) = std::env::var_os(CACHE_ENV).filter(|v| !v.is_empty()) {
            return Ok(Cache::new(PathBuf::from(dir)));
        }
        dirs::cache_dir().map(|d| Cache::new(d.join("fairtrain"))).ok_or_else(|| {
            Error::config("cache", format!("no platform cache directory; give `cache DIR` or set {CACHE_ENV}"))
        })
    }

    /// The cache's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where `file` of `dataset` lives in the cache.
    pub fn path(&self, dataset: &str, file: &FileSpec) -> PathBuf {
        self.root.join(dataset).join(file.name)
    }

    /// Whether `file` is in the cache (by size; [`Cache::read`] checks the sha256).
    pub fn status(&self, dataset: &str, file: &FileSpec) -> FileStatus {
        match std::fs::metadata(self.path(dataset, file)) {
            Ok(m) if m.len() == file.size => FileStatus::Present,
            Ok(m) => FileStatus::WrongSize(m.len()),
            Err(_) => FileStatus::Missing,
        }
    }

    /// Reads a cached file and verifies its sha256. A missing file is an
    /// error that says how to get it.
    pub fn read(&self, dataset: &str, file: &FileSpec) -> Result<Vec<u8>> {
        let path = self.path(dataset, file);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::Data(format!(
                    "{dataset} is not in the cache ({} is missing); run `fairtrain datasets fetch {dataset}` \
                     (or `fairtrain datasets fetch {dataset} --from DIR` with a local copy of {})",
                    path.display(),
                    file.name
                )));
            }
            Err(e) => return Err(Error::io(path, e)),
        };
        verify(&bytes, &path.display().to_string(), file)?;
        Ok(bytes)
    }

    /// Copies `file` from the directory `from` (or `from` itself when it is
    /// the file) into the cache, after checking its size and sha256.
    pub fn import(&self, dataset: &str, file: &FileSpec, from: &Path) -> Result<PathBuf> {
        let source = if from.is_dir() { from.join(file.name) } else { from.to_path_buf() };
        let input = File::open(&source).map_err(|e| Error::io(&source, e))?;
        self.store(dataset, file, &source.display().to_string(), BufReader::new(input), None, &mut |_, _| {})
    }

    /// Downloads `file` from `url` (its manifest address unless a mirror is
    /// used) into the cache, verifying size and sha256 before it is kept.
    pub fn download(&self, dataset: &str, file: &FileSpec, url: &str, progress: Progress) -> Result<PathBuf> {
        let (reader, length) = http_get(url)?;
        if let Some(n) = length.filter(|&n| n != file.size) {
            return Err(Error::Data(format!(
                "{url}: the server announces {n} bytes, but {} has {} bytes; refusing the download",
                file.name, file.size
            )));
        }
        self.store(dataset, file, url, reader, Some(file.size), progress)
    }

    /// Streams `reader` into a temporary file while hashing it, checks size
    /// and sha256, then renames it into place.
    fn store(
        &self,
        dataset: &str,
        file: &FileSpec,
        origin: &str,
        reader: impl Read,
        total: Option<u64>,
        progress: Progress,
    ) -> Result<PathBuf> {
        let dir = self.root.join(dataset);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let target = dir.join(file.name);
        store_atomically(&target, origin, reader, Some(file.size), total, progress, |_, n, found| {
            if n != file.size {
                return Err(Error::Data(format!(
                    "{origin}: {n} bytes where {} has {}: a different file (or version), or a download cut short",
                    file.name, file.size
                )));
            }
            if found != file.sha256 {
                return Err(Error::Checksum {
                    name: origin.to_string(),
                    expected: file.sha256.into(),
                    found: found.to_string(),
                });
            }
            Ok(())
        })?;
        Ok(target)
    }
}

/// Streams `reader` into `target` through a temporary file beside it,
/// hashing as it goes and refusing more than `limit` bytes. `check` sees
/// the temporary file, the byte count and the sha256 once the transfer is
/// complete; only then is the file renamed into place. On any error the
/// temporary file is removed, so nothing half-written is left.
pub(crate) fn store_atomically(
    target: &Path,
    origin: &str,
    mut reader: impl Read,
    limit: Option<u64>,
    total: Option<u64>,
    progress: Progress,
    check: impl FnOnce(&Path, u64, &str) -> Result<()>,
) -> Result<()> {
    let name = target.file_name().and_then(|n| n.to_str()).unwrap_or("download");
    let temp = target.with_file_name(format!(".{name}.part"));
    let result = (|| {
        let mut out = BufWriter::new(File::create(&temp).map_err(|e| Error::io(&temp, e))?);
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        let mut n = 0u64;
        loop {
            let k = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(k) => k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let of = limit.or(total).map_or(String::new(), |t| format!(" of {t}"));
                    return Err(Error::Data(format!("{origin}: transfer failed after {n}{of} bytes: {e}")));
                }
            };
            n += k as u64;
            if let Some(limit) = limit.filter(|&l| n > l) {
                return Err(Error::Data(format!("{origin}: more than the expected {limit} bytes; refusing it")));
            }
            hasher.update(&buf[..k]);
            out.write_all(&buf[..k]).map_err(|e| Error::io(&temp, e))?;
            progress(n, total);
        }
        out.flush().map_err(|e| Error::io(&temp, e))?;
        drop(out);
        check(&temp, n, &hex(&hasher.finalize()))
    })();
    match result {
        Ok(()) => std::fs::rename(&temp, target).map_err(|e| Error::io(target, e)),
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            Err(e)
        }
    }
}

/// Checks size and sha256 of bytes said to be `file`.
pub fn verify(bytes: &[u8], origin: &str, file: &FileSpec) -> Result<()> {
    if bytes.len() as u64 != file.size {
        return Err(Error::Data(format!(
            "{origin}: {} bytes, but {} has {} bytes (truncated or a different version?)",
            bytes.len(),
            file.name,
            file.size
        )));
    }
    let found = sha256_hex(bytes);
    if found != file.sha256 {
        return Err(Error::Checksum { name: origin.to_string(), expected: file.sha256.into(), found });
    }
    Ok(())
}

/// Hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// A reader that hashes what passes through it, so a file is parsed and
/// its sha256 taken in one pass, without holding the file in memory.
///
/// ```
/// use std::io::Read;
/// use fairtrain::data::cache::{Sha256Reader, sha256_hex};
/// let mut r = Sha256Reader::new(&b"a,b\n1,2\n"[..]);
/// let mut head = [0u8; 4];
/// r.read_exact(&mut head).unwrap();
/// // What was not read yet is hashed too.
/// assert_eq!(r.finish().unwrap(), sha256_hex(b"a,b\n1,2\n"));
/// ```
pub struct Sha256Reader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Sha256Reader<R> {
    /// Hashes what is read from `inner`.
    pub fn new(inner: R) -> Self {
        Sha256Reader { inner, hasher: Sha256::new() }
    }

    /// The hex sha256 of the whole input: the rest is read first.
    pub fn finish(mut self) -> std::io::Result<String> {
        std::io::copy(&mut self, &mut std::io::sink())?;
        Ok(hex(&self.hasher.finalize()))
    }
}

impl<R: Read> Read for Sha256Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.hasher.update(&buf[..k]);
        Ok(k)
    }
}

/// Hex sha256 of a file, read in blocks.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut input = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match input.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => hasher.update(&buf[..k]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(path, e)),
        }
    }
    Ok(hex(&hasher.finalize()))
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Starts a GET of `url`; returns the body reader and the announced length.
pub fn http_get(url: &str) -> Result<(impl Read, Option<u64>)> {
    // Fail fast when the host is unreachable; a slow body is fine (state
    // files of the Census run to hundreds of MB).
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(std::time::Duration::from_secs(30)))
        .timeout_recv_response(Some(std::time::Duration::from_secs(60)))
        .build()
        .into();
    let response =
        agent.get(url).header("User-Agent", concat!("fairtrain/", env!("CARGO_PKG_VERSION"))).call().map_err(|e| {
            Error::Data(format!(
                "{url}: download failed: {e} (no network here? import a local copy with \
                 `fairtrain datasets fetch NAME --from DIR`)"
            ))
        })?;
    let length = response
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    Ok((response.into_body().into_reader(), length))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(bytes: &[u8]) -> FileSpec {
        let sha: &'static str = Box::leak(sha256_hex(bytes).into_boxed_str());
        FileSpec { name: "f.csv", url: "http://127.0.0.1:1/f.csv", size: bytes.len() as u64, sha256: sha }
    }

    #[test]
    fn import_verifies_and_stores_atomically() {
        let tmp = tempdir();
        let dir = tmp.path();
        let src = dir.join("src");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(src.join("f.csv"), b"a,b\n1,2\n").unwrap();
        let cache = Cache::new(dir.join("cache"));
        let file = spec(b"a,b\n1,2\n");
        assert_eq!(cache.status("d", &file), FileStatus::Missing);
        let err = cache.read("d", &file).unwrap_err().to_string();
        assert!(err.contains("d is not in the cache") && err.contains("fairtrain datasets fetch d"), "{err}");
        cache.import("d", &file, &src).unwrap();
        assert_eq!(cache.status("d", &file), FileStatus::Present);
        assert_eq!(cache.read("d", &file).unwrap(), b"a,b\n1,2\n");

        // A corrupted source is refused and leaves nothing behind.
        std::fs::write(src.join("f.csv"), b"a,b\n1,3\n").unwrap();
        let other = Cache::new(dir.join("cache2"));
        let err = other.import("d", &file, &src).unwrap_err();
        assert!(matches!(err, Error::Checksum { .. }), "{err}");
        assert_eq!(std::fs::read_dir(dir.join("cache2").join("d")).unwrap().count(), 0);

        // A truncated source names the byte counts.
        std::fs::write(src.join("f.csv"), b"a,b\n").unwrap();
        let err = other.import("d", &file, &src).unwrap_err().to_string();
        assert!(err.contains("4 bytes where f.csv has 8: a different file"), "{err}");

        // A cached file edited later is refused on load.
        std::fs::write(cache.path("d", &file), b"a,b\n9,2\n").unwrap();
        assert!(matches!(cache.read("d", &file).unwrap_err(), Error::Checksum { .. }));
    }

    /// A fresh folder, removed when it is dropped.
    fn tempdir() -> tempfile::TempDir {
        tempfile::Builder::new().prefix("fairtrain-cache-test-").tempdir().unwrap()
    }
}
