//! `wstap demo`: a whole record session with nothing outside the binary.
//!
//! The embedded echo server, the recording proxy in front of it, and a
//! built-in client that talks through the proxy: text, binary, a fragmented
//! message, ping/pong, a 64 KiB message, and a close 1000 with a reason.
//! Then the recording is replayed (wstap as the recorded server) to the same
//! built-in client and judged: a recording is a regression test.

use crate::echo::EchoServer;
use crate::peer::{Incoming, WsPeer};
use crate::proxy::{Proxy, ProxyConfig, recorder::Recorded};
use crate::wire::OpCode;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use tokio::net::TcpStream;

/// The reason the demo client gives in its close frame.
pub const CLOSE_REASON: &str = "demo complete";

/// Size of the demo's large message.
pub const LARGE_MESSAGE: usize = 64 * 1024;

/// Runs echo server + proxy + client, and returns the recording made.
pub async fn record_demo(out_dir: &Path) -> io::Result<Recorded> {
    let loopback: SocketAddr = ([127, 0, 0, 1], 0).into();
    let echo = EchoServer::start(loopback).await?;
    let config = ProxyConfig::new(echo.addr(), out_dir, "demo");
    let proxy = Proxy::bind(loopback, config).await?;
    let addr = proxy.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(proxy.run(async {
        let _ = stopped.await;
    }));
    let talked = client_session(addr).await;
    let _ = stop.send(());
    let mut recorded = running.await.map_err(io::Error::other)?;
    talked?;
    recorded.pop().ok_or_else(|| io::Error::other("the proxy recorded no connection"))
}

/// The built-in client's session; checks every echo.
pub async fn client_session(addr: SocketAddr) -> io::Result<()> {
    let stream = TcpStream::connect(addr).await?;
    let mut ws = WsPeer::connect(stream, &addr.to_string(), "/demo").await?;
    let binary: Vec<u8> = (0..=255).collect();
    let large: Vec<u8> = (0..LARGE_MESSAGE).map(|i| b"wstap "[i % 6]).collect();
    ws.send(OpCode::TEXT, true, b"Hello, wstap!").await?;
    expect(&mut ws, Incoming::Message { opcode: OpCode::TEXT, payload: b"Hello, wstap!".to_vec() }).await?;
    ws.send(OpCode::BINARY, true, &binary).await?;
    expect(&mut ws, Incoming::Message { opcode: OpCode::BINARY, payload: binary }).await?;
    ws.send(OpCode::TEXT, false, b"frag").await?;
    ws.send(OpCode::CONTINUATION, false, b"ment").await?;
    ws.send(OpCode::CONTINUATION, true, b"ed").await?;
    expect(&mut ws, Incoming::Message { opcode: OpCode::TEXT, payload: b"fragmented".to_vec() }).await?;
    ws.send(OpCode::PING, true, b"are you there?").await?;
    expect(&mut ws, Incoming::Pong(b"are you there?".to_vec())).await?;
    ws.send(OpCode::TEXT, true, &large).await?;
    expect(&mut ws, Incoming::Message { opcode: OpCode::TEXT, payload: large }).await?;
    ws.close(Some(1000), CLOSE_REASON).await?;
    match ws.recv().await? {
        Some(Incoming::Close(c)) if c.code == Some(1000) => {}
        other => return Err(io::Error::other(format!("expected close 1000 back, got {other:?}"))),
    }
    ws.shutdown().await?;
    while ws.recv().await?.is_some() {}
    Ok(())
}

async fn expect(ws: &mut WsPeer, want: Incoming) -> io::Result<()> {
    match ws.recv().await? {
        Some(got) if got == want => Ok(()),
        got => Err(io::Error::other(format!("demo: expected {}, got {}", brief(Some(&want)), brief(got.as_ref())))),
    }
}

fn brief(item: Option<&Incoming>) -> String {
    match item {
        None => "end of stream".into(),
        Some(Incoming::Message { opcode, payload }) => format!("{} message of {} bytes", opcode.name(), payload.len()),
        Some(other) => format!("{other:?}"),
    }
}

/// Replays a demo recording with wstap as the server and the built-in
/// client as the client under test; returns the judged case.
pub async fn replay_demo(recording: &Path) -> io::Result<crate::replay::CaseRun> {
    let mut case = crate::replay::from_recording::load(recording, Default::default()).map_err(io::Error::other)?;
    case.number = 1;
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let mut listener = crate::accept::Acceptor::new(listener, "demo");
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await;
        let settings = crate::replay::Settings::new("wstap demo client");
        Ok::<_, io::Error>(crate::replay::engine::run_case(stream, &case, &settings).await)
    });
    let talked = client_session(addr).await;
    let run = server.await.map_err(io::Error::other)??;
    talked.map_err(|e| io::Error::other(format!("the built-in client failed against the replay: {e}")))?;
    Ok(run)
}
