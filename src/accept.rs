//! Accepting connections without spinning: the one accept loop step every
//! listener in wstap uses (the recording proxy, the embedded echo server,
//! `serve`, and each replay case).
//!
//! `accept` fails for two kinds of reasons:
//! - the connection itself went wrong before it was accepted (reset or
//!   aborted by the peer, interrupted): try the next one at once;
//! - the process cannot take it now: out of file descriptors (EMFILE,
//!   ENFILE) or memory (ENOBUFS, ENOMEM), or anything unknown. The listener
//!   stays readable while the connection waits in the backlog, so retrying at
//!   once spins a core and floods the log. [`Acceptor`] backs off instead,
//!   from [`FIRST_PAUSE`] doubling to [`MAX_PAUSE`], logs the first failure
//!   of a burst once, and when an accept succeeds again logs how many
//!   attempts failed and for how long. The backlog keeps the waiting
//!   connections, so serving resumes by itself when descriptors free up.
//!
//! The acceptor never returns an error: a listener is only given up by its
//! owner (shutdown, a timeout), never by a transient failure.

use std::io::{self, ErrorKind};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};

/// The first pause after a failed accept.
pub const FIRST_PAUSE: Duration = Duration::from_millis(10);

/// The longest pause between attempts: the most a freed descriptor waits
/// before the backlog is served again.
pub const MAX_PAUSE: Duration = Duration::from_secs(1);

/// A listener with the back-off policy above; `name` says whose in the log.
#[derive(Debug)]
pub struct Acceptor {
    listener: TcpListener,
    name: &'static str,
    burst: Option<Burst>,
}

/// A run of failed accepts.
#[derive(Debug)]
struct Burst {
    since: Instant,
    failures: u64,
    pause: Duration,
}

impl Acceptor {
    /// Wraps `listener`; `name` (e.g. "record") prefixes the log lines.
    pub fn new(listener: TcpListener, name: &'static str) -> Acceptor {
        Acceptor { listener, name, burst: None }
    }

    /// The listening address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The next connection, waiting out failures as described above.
    /// Cancel-safe: dropping the future loses no connection.
    pub async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            match self.listener.accept().await {
                Ok(accepted) => {
                    if let Some(b) = self.burst.take() {
                        tracing::warn!(
                            "{}: accepting again after {} failed attempt(s) over {:.1}s",
                            self.name,
                            b.failures,
                            b.since.elapsed().as_secs_f64()
                        );
                    }
                    return accepted;
                }
                Err(e) if is_per_connection(&e) => tracing::debug!("{}: accept: {e}", self.name),
                Err(e) => {
                    let pause = self.failed(&e);
                    tokio::time::sleep(pause).await;
                }
            }
        }
    }

    /// Counts a failure (logging the first of a burst); returns the pause.
    fn failed(&mut self, e: &io::Error) -> Duration {
        let burst = self.burst.get_or_insert_with(|| {
            tracing::warn!("{}: cannot accept connections: {e}; backing off until it clears", self.name);
            Burst { since: Instant::now(), failures: 0, pause: FIRST_PAUSE / 2 }
        });
        burst.failures += 1;
        burst.pause = (burst.pause * 2).min(MAX_PAUSE);
        burst.pause
    }
}

/// Failures that belong to one connection, not to the listener.
fn is_per_connection(e: &io::Error) -> bool {
    matches!(e.kind(), ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::Interrupted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pauses_double_up_to_the_cap_and_reset_after_a_success() {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut acceptor = Acceptor::new(listener, "test");
        let emfile = io::Error::from_raw_os_error(24);
        let pauses: Vec<Duration> = (0..9).map(|_| acceptor.failed(&emfile)).collect();
        assert_eq!(pauses[0], FIRST_PAUSE);
        assert_eq!(pauses[1], FIRST_PAUSE * 2);
        assert_eq!(pauses[8], MAX_PAUSE);
        assert!(pauses.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(acceptor.burst.as_ref().unwrap().failures, 9);
        let _client = TcpStream::connect(addr).await.unwrap();
        acceptor.accept().await;
        assert!(acceptor.burst.is_none(), "a success ends the burst");
        assert_eq!(acceptor.failed(&emfile), FIRST_PAUSE);
    }

    #[test]
    fn per_connection_failures_are_not_backed_off() {
        assert!(is_per_connection(&io::Error::from(ErrorKind::ConnectionAborted)));
        assert!(!is_per_connection(&io::Error::from_raw_os_error(24)), "EMFILE");
        assert!(!is_per_connection(&io::Error::from_raw_os_error(23)), "ENFILE");
    }
}
