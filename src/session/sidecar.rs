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
//! - the bytes read must have the recorded digest (BLAKE3, or SHA-256 in a
//!   version-1 recording); a mismatch, or no digest, is an error.
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
    let recorded = r.digest().ok_or("no digest: expected `blake3` (`sha256` in a version-1 recording)")?;
    file.seek(SeekFrom::Start(r.offset)).map_err(|e| format!("cannot seek to {}: {e}", r.offset))?;
    let mut hasher = Hasher::like(&recorded);
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
    if !digest.matches(&recorded) {
        return Err(format!(
            "{} mismatch: the recording says {:?}, the bytes hash to {}",
            recorded.algorithm(),
            recorded.hex(),
            digest.hex()
        ));
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
    use crate::session::data::Digest;

    fn reference(file: &str, offset: u64, len: u64, bytes: &[u8]) -> SidecarRef {
        SidecarRef::new(file.into(), offset, len, Digest::of(bytes))
    }

    /// A version-1 reference: SHA-256.
    fn reference_v1(file: &str, offset: u64, len: u64, bytes: &[u8]) -> SidecarRef {
        let mut h = Hasher::like(&Digest::Sha256(String::new()));
        h.update(bytes);
        SidecarRef::new(file.into(), offset, len, h.finish())
    }

    #[test]
    fn reads_a_checked_range() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("r.c2s.bin"), b"0123456789").unwrap();
        assert_eq!(read(dir.path(), &reference("r.c2s.bin", 2, 3, b"234")).unwrap(), b"234");
        let mut upper = reference("r.c2s.bin", 2, 3, b"234");
        upper.blake3 = upper.blake3.map(|d| d.to_uppercase());
        assert_eq!(read(dir.path(), &upper).unwrap(), b"234", "digests compare in either case");
        let v1 = reference_v1("r.c2s.bin", 2, 3, b"234");
        assert!(v1.blake3.is_none() && v1.sha256.is_some());
        assert_eq!(read(dir.path(), &v1).unwrap(), b"234", "a version-1 reference is checked with SHA-256");
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
            (SidecarRef { blake3: Some("00".into()), ..reference("r.bin", 0, 2, b"01") }, "BLAKE3 mismatch"),
            (SidecarRef { sha256: Some("00".into()), ..reference_v1("r.bin", 0, 2, b"01") }, "SHA-256 mismatch"),
            (SidecarRef { blake3: None, ..reference("r.bin", 0, 2, b"01") }, "no digest"),
            // Both given: BLAKE3 decides, and it does not match.
            (SidecarRef { blake3: Some("00".into()), ..reference_v1("r.bin", 0, 2, b"01") }, "BLAKE3 mismatch"),
        ] {
            let err = read(&dir, &r).unwrap_err();
            assert!(err.contains(want), "{r:?}: {err}");
        }
    }
}
