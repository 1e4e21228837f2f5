//! tokio-tungstenite as an Autobahn peer, in both roles.
//!
//! * [`fuzzingserver_client`]: the client under test of Autobahn's
//!   fuzzingserver, driven the way library drivers do it: `/getCaseCount`
//!   (unless the case numbers are given, as drivers that hard-code them do:
//!   7.1.1 is 210 in the full catalogue), `/runCase` for each number, echoing
//!   every message with its type, then `/updateReports`.
//! * [`echo_server`]: the server under test of Autobahn's fuzzingclient, an
//!   echo server.
//!
//! Both leave pings, pongs and the close handshake to the library and raise
//! its size limits to [`MAX_SIZE`] (category 9 sends up to 16 MiB). The file
//! is compiled into the integration tests (`tests/it/oracle/`) and into the
//! `autobahn_peer` example (`cargo run --example autobahn_peer`), which the
//! scripts use.

use std::net::SocketAddr;
use std::ops::RangeInclusive;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error, Message};

/// Largest message and frame accepted: 64 MiB, four times category 9's largest.
pub const MAX_SIZE: usize = 64 << 20;

fn config() -> WebSocketConfig {
    WebSocketConfig::default().max_message_size(Some(MAX_SIZE)).max_frame_size(Some(MAX_SIZE))
}

/// Echoes text and binary messages until the connection ends; the library
/// answers pings and the peer's close. Errors end the connection: judging
/// it is the other side's job.
async fn echo<S>(mut ws: tokio_tungstenite::WebSocketStream<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    while let Some(Ok(msg)) = ws.next().await {
        if (msg.is_text() || msg.is_binary()) && ws.send(msg).await.is_err() {
            return;
        }
    }
}

/// The text the server sends on a control endpoint (`/getCaseCount`).
async fn control_text(url: &str) -> Result<String, Error> {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await?;
    let mut text = String::new();
    while let Some(Ok(msg)) = ws.next().await {
        if let Message::Text(t) = msg {
            text = t.to_string();
        }
    }
    Ok(text)
}

/// Runs cases `cases` (default 1..=getCaseCount) one at a time against the
/// fuzzingserver at `base` (`ws://host:port`), then asks it to write its
/// reports. A case whose connection fails is reported on stderr and the
/// run goes on.
pub async fn fuzzingserver_client(base: &str, agent: &str, cases: Option<RangeInclusive<u32>>) -> Result<(), String> {
    let base = base.trim_end_matches('/');
    let cases = match cases {
        Some(cases) => cases,
        None => {
            let text = control_text(&format!("{base}/getCaseCount")).await.map_err(|e| format!("getCaseCount: {e}"))?;
            let count: u32 = text.trim().parse().map_err(|_| format!("getCaseCount sent {text:?}"))?;
            1..=count
        }
    };
    for n in cases {
        let url = format!("{base}/runCase?case={n}&agent={agent}");
        match tokio_tungstenite::connect_async_with_config(&url, Some(config()), false).await {
            Ok((ws, _)) => echo(ws).await,
            Err(e) => eprintln!("case {n}: {e}"),
        }
    }
    update_reports(base, agent).await
}

/// Asks the fuzzingserver at `base` to write its reports, and waits until it has.
pub async fn update_reports(base: &str, agent: &str) -> Result<(), String> {
    let base = base.trim_end_matches('/');
    control_text(&format!("{base}/updateReports?agent={agent}")).await.map_err(|e| format!("updateReports: {e}"))?;
    Ok(())
}

/// Binds `bind` and echoes on every connection; returns the bound address
/// at once (the listener is ready) and serves in a spawned task.
pub async fn echo_server(bind: SocketAddr) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(bind).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                if let Ok(ws) = tokio_tungstenite::accept_async_with_config(stream, Some(config())).await {
                    echo(ws).await;
                }
            });
        }
    });
    Ok(addr)
}
