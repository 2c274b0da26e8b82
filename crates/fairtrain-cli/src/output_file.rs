//! A file a command writes where the user says (`predict --out`, `audit
//! --out`): checked before any work, so that nothing of the user's is
//! replaced by accident and a command never writes over its own input.

use std::path::Path;

use anyhow::{Result, bail};

/// Refuses `out` when it is one of `inputs` (whatever `overwrite` says),
/// a directory, or an existing file without `overwrite`.
pub fn check(out: &Path, overwrite: bool, inputs: &[&Path]) -> Result<()> {
    if let Some(input) = inputs.iter().find(|input| same_file(out, input)) {
        bail!(
            "--out {} is this command's input {}: choose another file (it is never replaced)",
            out.display(),
            input.display()
        );
    }
    if out.is_dir() {
        bail!("--out {} is a directory: name a file", out.display());
    }
    if out.exists() && !overwrite {
        bail!("{} exists; pass --overwrite to replace it", out.display());
    }
    Ok(())
}

/// Whether `a` and `b` name the same existing file (through links and
/// relative paths).
fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_never_outputs_and_files_need_overwrite() {
        let tmp = tempfile::tempdir().unwrap();
        let input = tmp.path().join("data.csv");
        std::fs::write(&input, "a\n1\n").unwrap();
        let e = check(&tmp.path().join("./data.csv"), true, &[&input]).unwrap_err().to_string();
        assert!(e.contains("is this command's input"), "{e}");
        let e = check(&input, false, &[]).unwrap_err().to_string();
        assert!(e.ends_with("exists; pass --overwrite to replace it"), "{e}");
        check(&input, true, &[]).unwrap();
        check(&tmp.path().join("new.json"), false, &[&input]).unwrap();
        let e = check(tmp.path(), true, &[]).unwrap_err().to_string();
        assert!(e.contains("is a directory"), "{e}");
    }
}
