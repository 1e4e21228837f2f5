//! The streams the relay pumps: plain TCP or TLS over TCP, behind one
//! small interface ([`Duplex`]) so the relay stays one byte pump whatever
//! carries the bytes.
//!
//! A [`Duplex`] splits into a read half, a write half and a [`Resetter`]
//! (a duplicate of the TCP socket's descriptor, so a reset can be passed on
//! after the halves have been moved into the pumps). A TLS duplex also
//! names how its peer ended ([`Duplex::TLS`] and [`tls_ending`]): a
//! close_notify, a TCP FIN without one, or an alert.

use crate::session::TlsClose;
use std::io;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// One side of a relayed connection.
pub trait Duplex: Send + 'static {
    /// The read half.
    type Read: AsyncRead + Unpin + Send + 'static;
    /// The write half.
    type Write: AsyncWrite + Unpin + Send + 'static;
    /// True if reads are decrypted TLS: endings are then classified by
    /// [`tls_ending`].
    const TLS: bool;

    /// Splits for the two pumps (and sets TCP_NODELAY).
    fn split(self) -> (Self::Read, Self::Write, Resetter);

    /// Drops the write half without an orderly shutdown (the reset path).
    fn abandon(write: Self::Write) {
        drop(write);
    }
}

/// Any byte stream a replay case runs on: plain TCP or TLS over it.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Turns the eventual close of a TCP socket into a reset.
pub struct Resetter(Option<socket2::Socket>);

impl Resetter {
    /// A resetter for `tcp` (a duplicate of its descriptor).
    pub fn of(tcp: &TcpStream) -> Resetter {
        #[cfg(unix)]
        {
            use std::os::fd::AsFd;
            Resetter(tcp.as_fd().try_clone_to_owned().ok().map(socket2::Socket::from))
        }
        #[cfg(not(unix))]
        {
            let _ = tcp;
            Resetter(None)
        }
    }

    /// Sets SO_LINGER to zero: closing the socket sends RST, not FIN.
    pub fn reset(&self) {
        if let Some(s) = &self.0 {
            let _ = s.set_linger(Some(Duration::ZERO));
        }
    }
}

impl Duplex for TcpStream {
    type Read = OwnedReadHalf;
    type Write = OwnedWriteHalf;
    const TLS: bool = false;

    fn split(self) -> (OwnedReadHalf, OwnedWriteHalf, Resetter) {
        let _ = self.set_nodelay(true);
        let resetter = Resetter::of(&self);
        let (r, w) = self.into_split();
        (r, w, resetter)
    }

    fn abandon(write: OwnedWriteHalf) {
        // No FIN from us: the zero-linger close sends the reset.
        write.forget();
    }
}

impl Duplex for tokio_rustls::TlsStream<TcpStream> {
    type Read = tokio::io::ReadHalf<Self>;
    type Write = tokio::io::WriteHalf<Self>;
    const TLS: bool = true;

    fn split(self) -> (Self::Read, Self::Write, Resetter) {
        let tcp = self.get_ref().0;
        let _ = tcp.set_nodelay(true);
        let resetter = Resetter::of(tcp);
        let (r, w) = tokio::io::split(self);
        (r, w, resetter)
    }
}

/// How a TLS peer ended, from what a read returned: `None` for data.
/// `Ok(0)` is a close_notify; an unexpected EOF is TCP ending without
/// one; a rustls error is an alert received or a failure on our side.
pub fn tls_ending(read: &io::Result<usize>) -> Option<(TlsClose, Option<String>)> {
    match read {
        Ok(0) => Some((TlsClose::CloseNotify, None)),
        Ok(_) => None,
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Some((TlsClose::NoCloseNotify, None)),
        Err(e) => Some(classify(e)),
    }
}

/// A TLS error as a recorded ending.
pub fn classify(e: &io::Error) -> (TlsClose, Option<String>) {
    match e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::AlertReceived(alert)) => (TlsClose::Alert, Some(crate::tls::alert_name(*alert))),
        Some(other) => (TlsClose::Failed, Some(other.to_string())),
        None => (TlsClose::Failed, Some(e.to_string())),
    }
}
