//! Finding the external tools the oracle needs, and the skip rule.
//!
//! A test whose tool is missing prints one `SKIPPED` line on stderr and
//! passes, except under CI (`CI` set), where it fails: CI installs every
//! tool (`.ci/run`), so a missing one there is a broken setup, not a reason
//! to pass.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The real Autobahn|Testsuite 0.8.2 wrapper: `$WSTAP_AUTOBAHN_WSTEST`, or
/// `shared/tools/autobahn-wstest` in the first ancestor of the repository
/// that has it (the project keeps it beside the repository, in `../shared`).
pub fn wstest_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("WSTAP_AUTOBAHN_WSTEST") {
        return Some(PathBuf::from(path));
    }
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    repo.ancestors().map(|dir| dir.join("shared/tools/autobahn-wstest")).find(|p| p.is_file())
}

/// The wrapper, installed and runnable, or why not. The first use installs
/// Autobahn (pip); doing that once per test process, before any test starts
/// it, keeps parallel tests from racing on the install (`.ci/run` warms it
/// too).
pub fn wstest() -> Result<PathBuf, String> {
    static WARM: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    WARM.get_or_init(|| {
        let path = wstest_path().ok_or("no autobahn-wstest: set WSTAP_AUTOBAHN_WSTEST or provide ../shared/tools")?;
        let out = Command::new(&path)
            .arg("--help")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{} does not run: {e}", path.display()))?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            return Err(format!("{} --help failed: {}", path.display(), stderr.trim()));
        }
        Ok(path)
    })
    .clone()
}

/// Python websockets 17.4 (the version the peers and the references were
/// made with), or why not.
pub fn python_websockets() -> Result<(), String> {
    let check = "import websockets, sys; sys.exit(websockets.__version__ != '17.4')";
    let ok = Command::new("python3").args(["-c", check]).stderr(Stdio::null()).status();
    match ok {
        Ok(s) if s.success() => Ok(()),
        _ => Err("python3 with websockets 17.4 is needed: `python3 -m pip install websockets==17.4`".into()),
    }
}

/// node with ws installed in `tests/peers/node` (`npm ci` there), or why not.
pub fn node_ws() -> Result<(), String> {
    let dir = peers_dir().join("node");
    let installed = dir.join("node_modules/ws/package.json").is_file();
    let node = Command::new("node").arg("--version").stdout(Stdio::null()).status().is_ok_and(|s| s.success());
    match (node, installed) {
        (true, true) => Ok(()),
        (false, _) => Err("node is needed".into()),
        (true, false) => Err(format!("run `npm ci` in {}", dir.display())),
    }
}

/// node with ws and the HTTP(S) proxy agents installed in
/// `tests/peers/node` (the TLS and forward-proxy tests' client), or why not.
pub fn node_ws_with_proxy_agents() -> Result<(), String> {
    node_ws()?;
    let dir = peers_dir().join("node/node_modules");
    for package in ["https-proxy-agent", "http-proxy-agent"] {
        if !dir.join(package).join("package.json").is_file() {
            return Err(format!("{package} is missing: run `npm ci` in {}", peers_dir().join("node").display()));
        }
    }
    Ok(())
}

/// `tests/peers/`.
pub fn peers_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers")
}

/// Whether `test` may run given `needs`: true if every requirement holds;
/// otherwise [`crate::util::skip_or_fail`] (one `SKIPPED` line on stderr,
/// or a panic under CI) and false.
pub fn ready(test: &str, needs: &[Result<(), String>]) -> bool {
    let missing: Vec<&str> = needs.iter().filter_map(|r| r.as_ref().err().map(String::as_str)).collect();
    if missing.is_empty() {
        return true;
    }
    crate::util::skip_or_fail(test, &missing.join("; "));
    false
}
