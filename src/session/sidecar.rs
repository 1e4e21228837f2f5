//! Reading a sidecar's bytes back, from an untrusted recording.
//!
//! Recordings are kept in repositories and replayed in CI, so a recording
//! is input an attacker may have written. A sidecar reference is therefore
//! checked before a byte of it is used:
//! - `file` is a plain file name beside the recording: no separators, not
//!   `.` or `..`, not absolute. A symlink is followed only if its target is
//!   a regular file in the same directory;
//! - `offset + len` lies within the file's size, so a declared length never
//!   decides an allocation (`len: 10^15` is an error, not an abort);
//! - the bytes read must have the recorded SHA-256; a mismatch is an error.
//!
//! Nothing is read from a file that fails the first two checks, and no
//! bytes leave [`read`] unless the digest matches. [`scan`] streams a range
//! in bounded memory (for `show` of a 256 MiB message) and fails the same
//! way, at the end of the range.

use super::SidecarRef;
use super::data::Hasher;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};

/// Reads the bytes `r` points at in `dir` (the recording's directory),
/// after the checks in the module docs. The error says which check failed.
pub fn read(dir: &Path, r: &SidecarRef) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    scan(dir, r, |chunk| bytes.extend_from_slice(chunk))?;
    #[cfg(test)]
    MATERIALISED.with(|m| m.set(m.get() + bytes.len() as u64));
    Ok(bytes)
}

#[cfg(test)]
thread_local! {
    /// Sidecar bytes this thread has read into one buffer with [`read`]:
    /// tests of streaming readers (`show`) check that it stays 0.
    pub static MATERIALISED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Bytes [`scan`] hands over at a time.
pub const SCAN_CHUNK: usize = 64 * 1024;

/// Streams the bytes `r` points at to `visit`, [`SCAN_CHUNK`] bytes at a
/// time, after the same checks as [`read`]; memory stays bounded whatever
/// `len` is. The digest is checked at the end, so `visit` may have seen the
/// bytes of a range that then fails: callers keep the `Err` and throw away
/// what they built from them.
pub fn scan(dir: &Path, r: &SidecarRef, mut visit: impl FnMut(&[u8])) -> Result<(), String> {
    let path = resolve(dir, &r.file)?;
    let mut file = File::open(&path).map_err(|e| format!("cannot open: {e}"))?;
    let size = file.metadata().map_err(|e| format!("cannot read its size: {e}"))?.len();
    r.offset
        .checked_add(r.len)
        .filter(|end| *end <= size)
        .ok_or_else(|| format!("bytes {}..+{} lie beyond the end of the file ({size} bytes)", r.offset, r.len))?;
    file.seek(SeekFrom::Start(r.offset)).map_err(|e| format!("cannot seek to {}: {e}", r.offset))?;
    let mut hasher = Hasher::default();
    let mut buf = vec![0; SCAN_CHUNK.min(r.len as usize)];
    let mut left = r.len;
    while left > 0 {
        let want = buf.len().min(left as usize);
        let n = file.read(&mut buf[..want]).map_err(|e| format!("cannot read: {e}"))?;
        if n == 0 {
            return Err(format!("the file ended after {} of {} bytes", r.len - left, r.len));
        }
        hasher.update(&buf[..n]);
        visit(&buf[..n]);
        left -= n as u64;
    }
    let digest = hasher.finish();
    if !digest.eq_ignore_ascii_case(r.sha256.trim()) {
        return Err(format!("SHA-256 mismatch: the recording says {:?}, the bytes hash to {digest}", r.sha256));
    }
    Ok(())
}

/// The path of sidecar `name` in `dir`, if it is a plain name there that
/// resolves to a regular file in that same directory.
fn resolve(dir: &Path, name: &str) -> Result<PathBuf, String> {
    let plain = !name.is_empty()
        && !name.contains(['/', '\\', '\0'])
        && matches!(Path::new(name).components().collect::<Vec<_>>()[..], [Component::Normal(_)]);
    if !plain {
        return Err("not a plain file name beside the recording".to_string());
    }
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    let home = dir.canonicalize().map_err(|e| format!("cannot resolve {}: {e}", dir.display()))?;
    let target = dir.join(name).canonicalize().map_err(|e| format!("cannot open: {e}"))?;
    if target.parent() != Some(home.as_path()) {
        return Err("a link leading out of the recording's directory".to_string());
    }
    let meta = target.metadata().map_err(|e| format!("cannot open: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file".to_string());
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::data::sha256_hex;

    fn reference(file: &str, offset: u64, len: u64, bytes: &[u8]) -> SidecarRef {
        SidecarRef { file: file.into(), offset, len, sha256: sha256_hex(bytes) }
    }

    #[test]
    fn reads_a_checked_range() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("r.c2s.bin"), b"0123456789").unwrap();
        assert_eq!(read(dir.path(), &reference("r.c2s.bin", 2, 3, b"234")).unwrap(), b"234");
        let mut upper = reference("r.c2s.bin", 2, 3, b"234");
        upper.sha256 = upper.sha256.to_uppercase();
        assert_eq!(read(dir.path(), &upper).unwrap(), b"234", "digests compare in either case");
        std::os::unix::fs::symlink("r.c2s.bin", dir.path().join("alias.bin")).unwrap();
        assert_eq!(read(dir.path(), &reference("alias.bin", 0, 2, b"01")).unwrap(), b"01", "a link beside it");
    }

    #[test]
    fn refuses_names_ranges_and_digests_it_should_not_trust() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("recordings");
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(root.path().join("secret"), b"secret").unwrap();
        std::fs::write(dir.join("sub/x.bin"), b"secret").unwrap();
        std::fs::write(dir.join("r.bin"), b"0123456789").unwrap();
        std::os::unix::fs::symlink("../secret", dir.join("out.bin")).unwrap();
        std::os::unix::fs::symlink("/dev/zero", dir.join("zero.bin")).unwrap();
        std::os::unix::fs::symlink("sub", dir.join("subdir")).unwrap();
        let abs = root.path().join("secret");
        let s = b"secret";
        for (r, want) in [
            (reference(abs.to_str().unwrap(), 0, 6, s), "not a plain file name"),
            (reference("../secret", 0, 6, s), "not a plain file name"),
            (reference("sub/x.bin", 0, 6, s), "not a plain file name"),
            (reference("..", 0, 6, s), "not a plain file name"),
            (reference(".", 0, 6, s), "not a plain file name"),
            (reference("", 0, 6, s), "not a plain file name"),
            (reference("out.bin", 0, 6, s), "leading out of the recording's directory"),
            (reference("zero.bin", 0, 6, &[0; 6]), "leading out of the recording's directory"),
            (reference("subdir", 0, 6, s), "not a regular file"),
            (reference("missing.bin", 0, 6, s), "cannot open"),
            (reference("r.bin", 0, 1_000_000_000_000_000, s), "beyond the end of the file (10 bytes)"),
            (reference("r.bin", u64::MAX, 2, s), "beyond the end"),
            (reference("r.bin", 8, 3, s), "beyond the end"),
            (SidecarRef { sha256: "00".into(), ..reference("r.bin", 0, 2, b"01") }, "SHA-256 mismatch"),
        ] {
            let err = read(&dir, &r).unwrap_err();
            assert!(err.contains(want), "{r:?}: {err}");
        }
    }
}
