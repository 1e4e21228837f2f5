//! One proxied connection: two byte pumps and the tap.
//!
//! The relay is a byte pump. Each pump reads, writes the bytes to the other
//! side *first*, and only then copies them to the recorder; nothing the
//! recorder does can alter, reorder or delay bytes already read.
//!
//! Endings are passed on as they happened:
//! - EOF (FIN) on one side shuts down the write half towards the other side,
//!   and the other direction keeps flowing (half-close);
//! - a reset or read error on one side resets the other side (SO_LINGER 0
//!   then close) and ends both pumps.

use super::recorder::{Tap, TapSender};
use crate::session::{Direction, TcpEnd};
use bytes::BytesMut;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{Notify, watch};

/// Bytes read per call at most; also the largest chunk handed to the recorder.
pub const READ_BUFFER: usize = 64 * 1024;

/// A pump reads into the free tail of its current [`READ_BUFFER`] block and
/// hands the bytes read to the recorder without copying; a new block is
/// taken (or the old one reclaimed, once the recorder has dropped every
/// piece of it) when less than this is left.
const MIN_READ: usize = 16 * 1024;

/// Relays between `client` and `server` until both directions have ended or
/// `stop` turns true, tapping every read into `tap`.
pub async fn relay(client: TcpStream, server: TcpStream, tap: TapSender, t0: Instant, mut stop: watch::Receiver<bool>) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_r, client_w) = client.into_split();
    let (server_r, server_w) = server.into_split();
    let abort = Arc::new(Notify::new());
    let c2s = pump(client_r, server_w, Direction::ClientToServer, tap.clone(), t0, abort.clone());
    let s2c = pump(server_r, client_w, Direction::ServerToClient, tap, t0, abort.clone());
    tokio::select! {
        _ = async { tokio::join!(c2s, s2c) } => {}
        _ = stop.wait_for(|stopped| *stopped) => {}
    }
}

fn micros(t0: Instant) -> u64 {
    t0.elapsed().as_micros() as u64
}

async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    dir: Direction,
    tap: TapSender,
    t0: Instant,
    abort: Arc<Notify>,
) {
    let mut buf = BytesMut::with_capacity(READ_BUFFER);
    loop {
        if buf.capacity() < MIN_READ {
            buf.reserve(READ_BUFFER);
        }
        let read = tokio::select! {
            r = from.read_buf(&mut buf) => r,
            _ = abort.notified() => {
                // The other side was reset: no FIN from us, the socket's
                // zero-linger close sends the reset.
                to.forget();
                return;
            }
        };
        let at = micros(t0);
        match read {
            Ok(0) => {
                let _ = to.shutdown().await;
                let _ = tap.send(Tap::End { dir, at, how: TcpEnd::Fin, error: None }).await;
                return;
            }
            Ok(_) => {
                let bytes = buf.split().freeze();
                let written = to.write_all(&bytes).await;
                let _ = tap.send(Tap::Data { dir, at, bytes }).await;
                if let Err(e) = written {
                    // The receiving peer is gone: that is its reset, not ours.
                    let error = Some(format!("forwarding failed: {e}"));
                    let _ = tap.send(Tap::End { dir: dir.reverse(), at: micros(t0), how: TcpEnd::Rst, error }).await;
                    reset(from.as_ref());
                    abort.notify_one();
                    to.forget();
                    return;
                }
            }
            Err(e) => {
                let _ = tap.send(Tap::End { dir, at, how: TcpEnd::Rst, error: Some(e.to_string()) }).await;
                reset(to.as_ref());
                abort.notify_one();
                to.forget();
                return;
            }
        }
    }
}

/// Makes the eventual close of `stream` a reset rather than a FIN.
fn reset(stream: &TcpStream) {
    #[allow(deprecated)] // set_linger is deprecated only for its blocking close; zero linger never blocks.
    let _ = stream.set_linger(Some(Duration::ZERO));
}
