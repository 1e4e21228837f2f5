//! Servers that misbehave around the upgrade, on raw TCP (loopback port
//! 0), for the tests of wstap as a client (`fuzz`, `replay --against`).
//! Each answers every connection the same way and returns its `ws://` URL.

use crate::util::loopback;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A server that does `behave` with every connection.
pub async fn raw_server<F, Fut>(behave: F) -> String
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind(loopback()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(behave(stream));
        }
    });
    format!("ws://{addr}/")
}

/// Reads the upgrade request head, byte by byte, up to its blank line.
pub async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).await.is_ok_and(|n| n == 1) {
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// A valid 101 for the request `head`.
pub fn switching(head: &str) -> String {
    let key = head
        .lines()
        .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("sec-websocket-key")).map(|(_, v)| v))
        .unwrap_or_default();
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        wstap::wire::accept_key(key.trim())
    )
}

/// Reads the request and answers nothing, holding the socket until the
/// client leaves.
pub async fn silent() -> String {
    raw_server(|mut s| async move {
        let _ = read_head(&mut s).await;
        let _ = s.read_to_end(&mut Vec::new()).await;
    })
    .await
}

/// Reads the request and resets the connection.
pub async fn reset() -> String {
    raw_server(|mut s| async move {
        let _ = read_head(&mut s).await;
        wstap::net::stream::Resetter::of(&s).reset();
        drop(s);
    })
    .await
}

/// Answers the request with bytes that are not HTTP.
pub async fn garbage() -> String {
    raw_server(|mut s| async move {
        let _ = read_head(&mut s).await;
        let _ = s.write_all(b"\x00\xffnot http at all\r\n\r\n").await;
        let _ = s.read_to_end(&mut Vec::new()).await;
    })
    .await
}

/// Answers with a valid 101, then says nothing more.
pub async fn mute_after_101() -> String {
    raw_server(|mut s| async move {
        let head = read_head(&mut s).await;
        let _ = s.write_all(switching(&head).as_bytes()).await;
        let _ = s.read_to_end(&mut Vec::new()).await;
    })
    .await
}
