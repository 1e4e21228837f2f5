//! Output paths checked before any work starts, so a run that cannot save
//! its results fails at once with the path and the reason (exit 2),
//! instead of after every case has run or while traffic is being lost.
//!
//! Writability is tested by doing it (creating a probe file), not by
//! reading mode bits: root ignores them, and read-only mounts, full disks
//! and `chattr +i` directories do not show in them.

use anyhow::{Result, bail};
use std::fs::OpenOptions;
use std::path::Path;

/// Makes sure `dir` is a directory (creating it and its parents if
/// missing) in which files can be created. `what` names it for the user,
/// e.g. `--out`.
pub fn writable_dir(dir: &Path, what: &str) -> Result<()> {
    let shown = dir.display();
    if dir.exists() && !dir.is_dir() {
        bail!("{what} {shown}: exists and is not a directory");
    }
    if let Err(e) = std::fs::create_dir_all(dir) {
        bail!("{what} {shown}: cannot create the directory: {e}");
    }
    let probe = dir.join(format!(".wstap-write-check-{}", std::process::id()));
    match OpenOptions::new().write(true).create_new(true).open(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => bail!("{what} {shown}: cannot create files in this directory: {e}"),
    }
}

/// Makes sure `file` can be written: its directory exists and the file
/// can be created or opened for writing. Leaves an existing file as it is
/// and removes a file it had to create.
pub fn writable_file(file: &Path, what: &str) -> Result<()> {
    let shown = file.display();
    if file.is_dir() {
        bail!("{what} {shown}: is a directory, expected a file name");
    }
    let parent = file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if parent.exists() && !parent.is_dir() {
        bail!("{what} {shown}: {} is not a directory", parent.display());
    }
    if !parent.is_dir() {
        bail!("{what} {shown}: the directory {} does not exist", parent.display());
    }
    let existed = file.exists();
    match OpenOptions::new().append(true).create(true).open(file) {
        Ok(_) => {
            if !existed {
                let _ = std::fs::remove_file(file);
            }
            Ok(())
        }
        Err(e) => bail!("{what} {shown}: cannot write this file: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_are_created_and_probed() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        writable_dir(&dir, "--out").unwrap();
        assert!(dir.is_dir());
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "the probe is removed");
        let file = tmp.path().join("f");
        std::fs::write(&file, "x").unwrap();
        let e = writable_dir(&file, "--out").unwrap_err().to_string();
        assert!(e.starts_with("--out ") && e.contains("exists and is not a directory"), "{e}");
        let e = writable_dir(&file.join("sub"), "--out").unwrap_err().to_string();
        assert!(e.contains("cannot create the directory"), "{e}");
    }

    #[test]
    fn files_are_checked_without_being_left_behind() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("junit.xml");
        writable_file(&file, "--junit").unwrap();
        assert!(!file.exists(), "a probe file is removed");
        std::fs::write(&file, "keep").unwrap();
        writable_file(&file, "--junit").unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep", "an existing file is left as it is");
        let e = writable_file(&tmp.path().join("no/such/dir.xml"), "--junit").unwrap_err().to_string();
        assert!(e.contains("does not exist"), "{e}");
        let e = writable_file(tmp.path(), "--junit").unwrap_err().to_string();
        assert!(e.contains("is a directory"), "{e}");
    }
}
