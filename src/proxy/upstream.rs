//! Reaching the real server: the one place the proxy opens an upstream
//! connection.
//!
//! Every proxied connection calls [`connect`] once. It is bounded twice:
//! by the configured timeout (an upstream whose SYN queue is full never
//! answers, and the kernel would retry for minutes), and by the proxy's
//! shutdown signal, so SIGINT never waits for a connect in progress. Both
//! outcomes are failures the caller records as the connection's end.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::watch;

/// `record --connect-timeout` when not given.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the upstream connection was not made.
#[derive(Debug)]
pub enum ConnectError {
    /// The connect itself failed (refused, unreachable, out of descriptors).
    Failed(io::Error),
    /// No answer within the timeout.
    TimedOut(Duration),
    /// The proxy is shutting down.
    Shutdown,
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::Failed(e) => write!(f, "upstream connect failed: {e}"),
            ConnectError::TimedOut(t) => write!(f, "upstream connect timed out after {}", show(*t)),
            ConnectError::Shutdown => write!(f, "upstream connect cancelled: the proxy is shutting down"),
        }
    }
}

impl std::error::Error for ConnectError {}

/// Connects to `upstream`, giving up after `timeout` or when `stop` turns true.
pub async fn connect(
    upstream: SocketAddr,
    timeout: Duration,
    stop: &mut watch::Receiver<bool>,
) -> Result<TcpStream, ConnectError> {
    tokio::select! {
        biased;
        _ = stop.wait_for(|stopped| *stopped) => Err(ConnectError::Shutdown),
        connected = tokio::time::timeout(timeout, TcpStream::connect(upstream)) => match connected {
            Ok(Ok(stream)) => Ok(stream),
            Ok(Err(e)) => Err(ConnectError::Failed(e)),
            Err(_) => Err(ConnectError::TimedOut(timeout)),
        },
    }
}

/// `5s`, `250ms`, `1.5s`: a timeout as a person writes it.
fn show(t: Duration) -> String {
    match t.subsec_millis() {
        0 if t.as_secs() > 0 => format!("{}s", t.as_secs()),
        _ if t < Duration::from_secs(1) => format!("{}ms", t.as_millis()),
        _ => format!("{:.3}s", t.as_secs_f64()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_read_as_written() {
        assert_eq!(show(Duration::from_secs(5)), "5s");
        assert_eq!(show(Duration::from_millis(250)), "250ms");
        assert_eq!(show(Duration::from_millis(1500)), "1.500s");
    }
}
