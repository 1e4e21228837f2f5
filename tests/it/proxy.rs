//! The recording proxy between real peers.

use crate::util::*;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use wstap::session::{Data, Direction, EventKind, Frame, Recording, Side, TcpEnd};
use wstap::wire::OpCode;

fn frames_in(rec: &Recording, dir: Direction) -> Vec<&Frame> {
    rec.frames().filter(|(e, _)| e.dir == dir).map(|(_, f)| f).collect()
}

#[tokio::test]
async fn tungstenite_session_is_recorded_field_by_field() {
    let server = tungstenite_echo().await;
    let proxy = TestProxy::start(server).await;
    let (mut ws, _) = within("connect", tokio_tungstenite::connect_async(proxy.url())).await.unwrap();
    let big = big_payload();
    every_frame_type(&mut ws).await;
    close_going_away(ws).await;
    wait_for_summaries(proxy.dir.path(), 1).await;

    let (recorded, _dir) = proxy.finish().await;
    assert_eq!(recorded.len(), 1);
    let rec = wstap::store::load(&recorded[0].path).unwrap();
    assert!(rec.warnings.is_empty(), "{:?}", rec.warnings);
    assert_eq!(rec.wstap_recording, wstap::session::FORMAT_VERSION);
    assert_eq!(rec.server, server.to_string());

    let c2s = frames_in(&rec, Direction::ClientToServer);
    let ops: Vec<u8> = c2s.iter().map(|f| f.opcode).collect();
    assert_eq!(ops, [1, 2, 1, 0, 9, 2, 8]);
    assert!(c2s.iter().all(|f| f.mask.as_ref().is_some_and(|m| m.len() == 8)), "client frames are masked");
    assert_eq!(c2s[0].payload, Data::Text("hello".into()));
    assert_eq!(c2s[1].payload, Data::Hex("000102ff".into()));
    assert_eq!((c2s[2].fin, c2s[3].fin), (false, true));
    assert_eq!(c2s[5].len, big.len() as u64);
    let Data::Sidecar(side) = &c2s[5].payload else { panic!("1 MiB payload should be in a sidecar") };
    assert_eq!(side.blake3.as_deref(), Some(digest(&big).as_str()));
    assert_eq!(rec.data_bytes(&c2s[5].payload).unwrap(), big);
    assert_eq!((c2s[6].close_code, c2s[6].close_reason.as_deref()), (Some(1001), Some("bye now")));

    let s2c = frames_in(&rec, Direction::ServerToClient);
    assert!(s2c.iter().all(|f| f.mask.is_none()));
    assert!(s2c.iter().any(|f| f.opcode == 10 && f.payload == Data::Text("p1".into())));
    let messages: Vec<u32> = rec
        .events_in(Direction::ClientToServer)
        .filter_map(|e| match &e.kind {
            EventKind::Message(m) => Some(m.frames),
            _ => None,
        })
        .collect();
    assert_eq!(messages, [1, 1, 2, 1]);

    let s = rec.summary();
    assert_eq!(s.closed_first_by, Some(Side::Client));
    assert!(s.clean && s.upgraded);
    assert_eq!(s.client_close.as_ref().unwrap().code, Some(1001));
    assert_eq!(s.violations, 0);
    assert!(s.client_tcp_end.is_some() && s.server_tcp_end.is_some());
}

/// A raw server that records everything it receives, sends `reply`, then
/// reads to EOF and closes.
async fn raw_server(reply: Vec<u8>) -> (std::net::SocketAddr, tokio::task::JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind(loopback()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        s.write_all(&reply).await.unwrap();
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got).await;
        got
    });
    (addr, task)
}

#[tokio::test]
async fn garbage_and_invalid_frames_pass_through_exactly_and_are_rebuilt() {
    use wstap::wire::FrameHeader;
    let request = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    let mut reply = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
        .to_vec();
    reply.extend(FrameHeader { rsv: 3, ..FrameHeader::new(OpCode::new(4), 3) }.encode_frame(b"bad"));
    let (server, received) = raw_server(reply.clone()).await;
    let proxy = TestProxy::start(server).await;

    let mut sent = request.to_vec();
    sent.extend(FrameHeader::new(OpCode::TEXT, 2).encode_frame(b"hi")); // unmasked
    sent.extend(
        FrameHeader { mask: Some([1, 2, 3, 4]), fin: false, ..FrameHeader::new(OpCode::PING, 200) }
            .encode_frame(&[7; 200]),
    );
    sent.extend((0..5000u32).map(|i| (i * 7919 % 256) as u8)); // garbage
    let mut client = TcpStream::connect(proxy.addr).await.unwrap();
    for chunk in sent.chunks(333) {
        client.write_all(chunk).await.unwrap();
    }
    client.shutdown().await.unwrap();
    let mut got = Vec::new();
    within("client read", client.read_to_end(&mut got)).await.unwrap();
    let at_server = within("server read", received).await.unwrap();
    assert_eq!(digest(&at_server), digest(&sent), "server got exactly what the client sent");
    assert_eq!(digest(&got), digest(&reply), "client got exactly what the server sent");
    wait_for_summaries(proxy.dir.path(), 1).await;

    let (recorded, _dir) = proxy.finish().await;
    let rec = wstap::store::load(&recorded[0].path).unwrap();
    assert_eq!(rec.stream(Direction::ClientToServer).unwrap(), sent);
    assert_eq!(rec.stream(Direction::ServerToClient).unwrap(), reply);
    let chunks = rec.read_chunks(Direction::ClientToServer).unwrap();
    assert_eq!(chunks.iter().map(|c| c.1.len()).sum::<usize>(), sent.len());
    let kinds: Vec<String> = rec
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Violation { kind, .. } => Some(format!("{}:{kind}", e.dir.short())),
            _ => None,
        })
        .collect();
    for expected in [
        "s2c:reserved_bits",
        "s2c:reserved_opcode",
        "c2s:unmasked_client_frame",
        "c2s:fragmented_control_frame",
        "c2s:control_frame_too_long",
    ] {
        assert!(kinds.contains(&expected.to_string()), "missing {expected} in {kinds:?}");
    }
}

#[tokio::test]
async fn half_close_keeps_the_other_direction_flowing() {
    let listener = TcpListener::bind(loopback()).await.unwrap();
    let server_addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).await.unwrap(); // client half-closed
        s.write_all(b"answer after your FIN").await.unwrap();
        got
    });
    let proxy = TestProxy::start(server_addr).await;
    let mut client = TcpStream::connect(proxy.addr).await.unwrap();
    client.write_all(b"question").await.unwrap();
    client.shutdown().await.unwrap();
    let mut answer = Vec::new();
    within("answer", client.read_to_end(&mut answer)).await.unwrap();
    assert_eq!(answer, b"answer after your FIN");
    assert_eq!(within("server", server).await.unwrap(), b"question");
    wait_for_summaries(proxy.dir.path(), 1).await;
    let (recorded, _dir) = proxy.finish().await;
    let rec = wstap::store::load(&recorded[0].path).unwrap();
    let s = rec.summary();
    assert_eq!(s.tcp_closed_first_by, Some(Side::Client));
    assert_eq!((s.client_tcp_end, s.server_tcp_end), (Some(TcpEnd::Fin), Some(TcpEnd::Fin)));
    let raw: Vec<&str> = rec
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Raw { reason, .. } => Some(reason.as_str()),
            _ => None,
        })
        .collect();
    assert!(raw.iter().all(|r| r.starts_with("not HTTP") || r.contains("HTTP head")), "{raw:?}");
}

#[tokio::test]
async fn abrupt_drop_mid_frame_is_passed_on_and_recorded() {
    let request = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    let partial = [0x82u8, 0xfe, 0x10, 0x00, 1, 2, 3, 4, 9, 9, 9]; // 4096-byte frame, 3 bytes of it
    let listener = TcpListener::bind(loopback()).await.unwrap();
    let server_addr = listener.local_addr().unwrap();
    let (got_all, got_all_rx) = tokio::sync::oneshot::channel();
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut head = vec![0; request.len()];
        s.read_exact(&mut head).await.unwrap();
        s.write_all(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
        )
        .await
        .unwrap();
        let mut frame = [0u8; 11];
        s.read_exact(&mut frame).await.unwrap();
        got_all.send(()).unwrap();
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).await.map(|_| rest.len())
    });
    let proxy = TestProxy::start(server_addr).await;
    let mut client = TcpStream::connect(proxy.addr).await.unwrap();
    client.write_all(request).await.unwrap();
    let mut answer = [0u8; 129];
    within("101", client.read_exact(&mut answer)).await.unwrap();
    client.write_all(&partial).await.unwrap();
    within("server has the partial frame", got_all_rx).await.unwrap();
    #[allow(deprecated)]
    client.set_linger(Some(std::time::Duration::ZERO)).unwrap();
    drop(client); // RST
    let server_end = within("server sees the reset", server).await.unwrap();
    assert!(server_end.is_err(), "the reset is passed on to the server: {server_end:?}");
    wait_for_summaries(proxy.dir.path(), 1).await;
    let (recorded, _dir) = proxy.finish().await;
    let rec = wstap::store::load(&recorded[0].path).unwrap();
    let s = rec.summary();
    assert_eq!(s.tcp_closed_first_by, Some(Side::Client));
    assert_eq!(s.client_tcp_end, Some(TcpEnd::Rst));
    let cut: Vec<&Frame> = rec.frames().map(|(_, f)| f).filter(|f| f.cut).collect();
    assert_eq!(cut.len(), 1, "the frame cut short is recorded as cut");
    assert_eq!((cut[0].len, rec.data_bytes(&cut[0].payload).unwrap().len()), (4096, 3));
}

#[tokio::test]
async fn two_hundred_concurrent_connections_are_all_recorded() {
    let server = tungstenite_echo().await;
    let proxy = TestProxy::start(server).await;
    let url = proxy.url();
    let mut clients = tokio::task::JoinSet::new();
    for i in 0..200 {
        let url = url.clone();
        clients.spawn(async move {
            let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
            ws.send(Message::text(format!("client {i}"))).await.unwrap();
            let echo = ws.next().await.unwrap().unwrap();
            assert_eq!(echo, Message::text(format!("client {i}")));
            ws.close(None).await.unwrap();
            while let Some(Ok(_)) = ws.next().await {}
        });
    }
    while let Some(done) = within("clients", clients.join_next()).await {
        done.unwrap();
    }
    wait_for_summaries(proxy.dir.path(), 200).await;
    let (recorded, dir) = proxy.finish().await;
    assert_eq!(recorded.len(), 200);
    let files = yaml_files(dir.path());
    assert_eq!(files.len(), 200);
    let mut seen: Vec<String> = files
        .iter()
        .map(|f| {
            let rec = wstap::store::load(f).unwrap();
            assert!(rec.summary().clean);
            match &frames_in(&rec, Direction::ClientToServer)[0].payload {
                Data::Text(t) => t.clone(),
                other => panic!("{other:?}"),
            }
        })
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 200, "every client's message is in its own recording");
}
