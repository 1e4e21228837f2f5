//! Reaching the real server: the one place the proxy opens an upstream
//! connection.
//!
//! Every proxied connection calls [`connect`] once. The name is resolved
//! and each address tried in turn ([`crate::net::connect`]), each attempt
//! bounded by the configured timeout (an upstream whose SYN queue is full
//! never answers, and the kernel would retry for minutes); the whole is
//! bounded by the proxy's shutdown signal, so SIGINT never waits for a
//! connect in progress. Every failure is one the caller records as the
//! connection's end.

use crate::net::{Connected, LoopGuard, Target};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// `record --connect-timeout` when not given.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the upstream connection was not made.
#[derive(Debug)]
pub enum UpstreamError {
    /// Resolution, every address, or the loop check failed.
    Net(crate::net::ConnectError),
    /// The proxy is shutting down.
    Shutdown,
}

impl fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpstreamError::Net(e) => write!(f, "{e}"),
            UpstreamError::Shutdown => write!(f, "upstream connect cancelled: the proxy is shutting down"),
        }
    }
}

impl std::error::Error for UpstreamError {}

/// Connects to `upstream`, each address given `timeout`, giving up when
/// `stop` turns true.
pub async fn connect(
    upstream: &Target,
    guard: &Arc<LoopGuard>,
    timeout: Duration,
    stop: &mut watch::Receiver<bool>,
) -> Result<Connected, UpstreamError> {
    tokio::select! {
        biased;
        _ = stop.wait_for(|stopped| *stopped) => Err(UpstreamError::Shutdown),
        connected = crate::net::connect(upstream, Some(guard), timeout) => connected.map_err(UpstreamError::Net),
    }
}
