//! The recorder's order across directions: a read keeps the place its
//! ticket took, however late it is handed off.

use super::*;
use crate::session::Side;

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
const RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
/// A masked client close 1000 (mask 0, so the payload reads as is).
const CLIENT_CLOSE: &[u8] = &[0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8];
const SERVER_CLOSE: &[u8] = &[0x88, 0x02, 0x03, 0xe8];

fn data(dir: Direction, at: u64, bytes: &'static [u8]) -> Tap {
    Tap::Data { dir, at, bytes: Bytes::from_static(bytes) }
}

/// Records a session where the client's close is handed off after the
/// server's reply to it (the pump was preempted between forwarding and
/// hand-off), its ticket taken first; `early_skip` also drops one ticket
/// unused in between. Returns the loaded recording.
async fn record(early_skip: bool) -> Recording {
    use Direction::{ClientToServer as C2S, ServerToClient as S2C};
    let dir = tempfile::tempdir().unwrap();
    let (recorder, thread) = Recorder::start().unwrap();
    let path = dir.path().join("r.yaml");
    let header = Recording {
        wstap_recording: crate::session::FORMAT_VERSION,
        started: "2026-12-02T10:00:00.000000Z".into(),
        client: "127.0.0.1:1".into(),
        server: "127.0.0.1:2".into(),
        ..Recording::default()
    };
    let (tap, outcome) = recorder.open(1, header, path.clone(), OpenOptions::default()).await;
    tap.send(data(C2S, 10, REQUEST)).await;
    tap.send(data(S2C, 20, RESPONSE)).await;
    let client_close = tap.ticket();
    if early_skip {
        drop(tap.ticket());
    }
    tap.send(data(S2C, 40, SERVER_CLOSE)).await;
    tap.send_ticketed(client_close, data(C2S, 30, CLIENT_CLOSE)).await;
    tap.send(Tap::End { dir: S2C, at: 50, how: TcpEnd::Fin, error: None }).await;
    tap.send(Tap::End { dir: C2S, at: 60, how: TcpEnd::Fin, error: None }).await;
    tap.close().await;
    outcome.await.unwrap().unwrap();
    drop(recorder);
    thread.join().unwrap();
    crate::store::load(&path).unwrap()
}

#[tokio::test]
async fn a_read_handed_off_late_keeps_its_place_before_the_answer_it_caused() {
    for early_skip in [false, true] {
        let rec = record(early_skip).await;
        let summary = rec.summary();
        assert_eq!(summary.closed_first_by, Some(Side::Client), "skip {early_skip}: {:?}", rec.events);
        let times: Vec<u64> = rec.events.iter().map(|e| e.at).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "events in read order: {times:?}");
    }
}
