//! TLS secrets in NSS key-log format, for decrypting a separate capture of
//! the real TLS (Wireshark's `tls.keylog_file`, `editcap --inject-secrets`).
//!
//! `--keylog FILE`, or the `SSLKEYLOGFILE` variable that browsers and curl
//! honour, appends one line per secret for both legs (wstap as the TLS
//! server towards the client, and as the TLS client towards the server):
//! `LABEL <client random, hex> <secret, hex>`. The file is opened for
//! appending, created with mode 0600 (it decrypts everything it covers),
//! and each line is written whole.

use rustls::KeyLog;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Appends key-log lines to one file.
#[derive(Debug)]
pub struct KeyLogFile {
    path: PathBuf,
    file: Mutex<File>,
}

impl KeyLogFile {
    /// Opens `path` for appending (created 0600). Errors name the file.
    pub fn open(path: &Path) -> Result<Arc<KeyLogFile>, String> {
        let mut options = std::fs::OpenOptions::new();
        options.append(true).create(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(path).map_err(|e| format!("cannot open the key log {}: {e}", path.display()))?;
        Ok(Arc::new(KeyLogFile { path: path.to_path_buf(), file: Mutex::new(file) }))
    }

    /// `--keylog FILE` if given, else `$SSLKEYLOGFILE` if set and not empty.
    pub fn from_flag_or_env(flag: Option<&Path>) -> Result<Option<Arc<dyn KeyLog>>, String> {
        let env = std::env::var_os("SSLKEYLOGFILE").filter(|v| !v.is_empty()).map(PathBuf::from);
        match flag.map(Path::to_path_buf).or(env) {
            Some(path) => Ok(Some(KeyLogFile::open(&path)? as Arc<dyn KeyLog>)),
            None => Ok(None),
        }
    }
}

impl KeyLog for KeyLogFile {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        use crate::session::data::hex;
        let line = format!("{label} {} {}\n", hex(client_random), hex(secret));
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = file.write_all(line.as_bytes()) {
            tracing::warn!("key log {}: {e}", self.path.display());
        }
    }

    fn will_log(&self, _label: &str) -> bool {
        true
    }
}
