//! One case on one connection: the fuzzer's side of a category-7 style
//! test, driven exactly as `crate::judge`'s module docs describe.
//!
//! Order of events, as in Autobahn's wire log: `RO` for the request, `TO`
//! for the 101, then the plan's steps run at once (on-open): each frame's
//! `TF` before its `TO`s, `KL` when the kill timer is armed. Bytes that came
//! with the request are decoded after on-open. Then the engine waits for
//! the client's bytes (`RO`, `RF` per complete frame) or the next timer
//! (`KLE` when the kill timer fires on a live connection), and carries out
//! every [`Reaction`] the tracker gives. It ends when TCP is gone; the
//! report's last wire-log line (`TCP DROPPED BY ME/PEER`) follows from
//! `droppedByMe`.
//!
//! The engine only sleeps until a timer or a scenario delay is due; a client
//! that answers promptly ends its case promptly.
//!
//! The same engine plays the client side (`wstap fuzz`, [`super::as_client`]):
//! the connection's [`crate::judge::Role`] (from its [`WireIo`]) selects the
//! tracker's client rules, decodes the server's direction, and masks every
//! frame it writes ([`OutboundMasker`], a new random key per frame unless the
//! scenario gives one). The plan, the timers and the judging are the same.
//!
//! A `series` (12.x/13.x) is the one step that goes on after the plan: each
//! right echo makes the tracker ask for the next round
//! ([`Reaction::SendAgain`]), and the engine generates, compresses and
//! fragments that message. The engine also counts Autobahn's
//! `trafficStats` ([`TrafficStats`]); an echo check keeps them when done.

use std::path::PathBuf;
use std::time::Duration;

use tokio::net::TcpStream;

use super::case_report::{self, Connection};
use super::inbound::{Inbound, Item};
use super::wire_io::{Request, WireIo};
use super::{Case, CaseRun, Response, Settings};
use crate::judge::{Behavior, Fired, Occurrence, Reaction, State, Tracker, judge};
use crate::report::{TrafficStats, TxFrameSpec, WireLogEntry};
use crate::scenario::series::SeriesSpec;
use crate::scenario::{Event, Handshake, Send, Step, Write};
use crate::wire::deflate::negotiate::{self, Agreement};
use crate::wire::handshake::parse_extensions;
use crate::wire::{DeflateParams, Deflater, OpCode, OutboundMasker, accept_key};

/// Runs `case` on a freshly accepted connection.
pub async fn run_case(stream: TcpStream, case: &Case, settings: &Settings) -> CaseRun {
    run_case_on(WireIo::new(stream, record_path(settings, case).as_deref()), case, settings).await
}

/// Runs `case` on an accepted connection already wrapped (TLS, say).
pub async fn run_case_on(mut io: WireIo, case: &Case, settings: &Settings) -> CaseRun {
    match io.read_request().await {
        Ok(request) => run_with_request(io, request, case, settings).await,
        Err(why) => unopened(io, case, settings, &format!("no valid upgrade request: {why}")).await,
    }
}

/// Runs `case` on a connection whose upgrade request was already read
/// (the `serve` mode reads it to pick the case).
pub async fn run_with_request(mut io: WireIo, request: Request, case: &Case, settings: &Settings) -> CaseRun {
    io.set_faults(settings.faults.for_connection(u64::from(case.number)));
    if !request.head.is_websocket_request() {
        io.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", false).await;
        return unopened(io, case, settings, "the request is not a WebSocket upgrade").await;
    }
    let (deflate, as_recorded) = agree_deflate(&request, case);
    let mut engine = Engine::new(io, case, settings.policy, deflate.as_ref().map(|a| a.params), as_recorded);
    if settings.fail_by_drop {
        engine.fail_by_drop();
    }
    let response = response_101(&request, &case.response, &case.scenario.handshake, deflate.as_ref());
    engine.open(&request.raw, &response).await;
    engine.run(request.rest.clone()).await;
    engine.finish(case, settings, &request.raw, &response).await
}

/// Where a case's observed recording goes.
pub fn record_path(settings: &Settings, case: &Case) -> Option<PathBuf> {
    let stem = crate::report::agent_file_name(&settings.agent);
    let dir = settings.record_dir.as_ref()?;
    Some(dir.join(format!("{stem}_case_{}.yaml", case.scenario.id.replace('.', "_"))))
}

/// A case that never reached OPEN: judged as such, and FAILED with `why`.
pub async fn unopened(io: WireIo, case: &Case, settings: &Settings, why: &str) -> CaseRun {
    let tracker = Tracker::new(&case.scenario.expect, settings.policy).with_role(io.role());
    unopened_with(io, tracker, case, settings, why, None).await
}

/// [`unopened`] with the tracker's flags so far (an opening-handshake
/// timeout, a failed handshake) and what was sent as the request.
pub async fn unopened_with(
    mut io: WireIo,
    tracker: Tracker,
    case: &Case,
    settings: &Settings,
    why: &str,
    request: Option<&[u8]>,
) -> CaseRun {
    io.drop_tcp().await;
    let obs = tracker.finish(io.now());
    let mut verdict = judge(&case.scenario.expect, &obs);
    verdict.behavior = Behavior::Failed;
    verdict.result = why.to_owned();
    let recording = io.finish().await;
    let conn = Connection {
        started_micros: io.started_micros,
        duration_ms: 0,
        request,
        response: None,
        trace: std::mem::take(&mut io.trace),
        tls: io.tls().cloned(),
        traffic: None,
    };
    CaseRun { report: case_report::build(case, settings, &obs, &verdict, conn), recording }
}

/// A case with no connection at all (the client never connected, or its
/// command failed): FAILED with `why`.
pub fn no_connection(case: &Case, settings: &Settings, why: &str) -> CaseRun {
    let obs = Tracker::new(&case.scenario.expect, settings.policy).finish(Duration::ZERO);
    let mut verdict = judge(&case.scenario.expect, &obs);
    verdict.behavior = Behavior::Failed;
    verdict.result = why.to_owned();
    let started_micros = crate::session::time::unix_micros(std::time::SystemTime::now());
    let conn = Connection {
        started_micros,
        duration_ms: 0,
        request: None,
        response: None,
        trace: Default::default(),
        tls: None,
        traffic: None,
    };
    CaseRun { report: case_report::build(case, settings, &obs, &verdict, conn), recording: None }
}

/// The permessage-deflate agreement for this request, if the case accepts
/// permessage-deflate and the client offered something acceptable; and
/// whether recorded compressed messages may be sent as recorded (the
/// agreement is exactly the recorded one, or there is nothing recorded).
pub fn agree_deflate(request: &Request, case: &Case) -> (Option<Agreement>, bool) {
    let offers = request.head.header(EXTENSIONS).map(|v| parse_extensions(&v)).unwrap_or_default();
    if let (Response::Autobahn, Some(rules)) = (&case.response, &case.scenario.handshake.deflate_accept) {
        return (negotiate::accept_by_rules(&offers, rules), true);
    }
    let wanted = match &case.response {
        Response::Autobahn => case.scenario.handshake.extensions.iter().find_map(|e| negotiate::wanted(e)),
        Response::Recorded(headers) => headers
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case(EXTENSIONS))
            .find_map(|(_, value)| negotiate::wanted(value)),
    };
    let agreement = wanted.as_ref().and_then(|w| negotiate::negotiate(&offers, w));
    let as_recorded = agreement.as_ref().map(|a| a.params) == wanted;
    (agreement, as_recorded)
}

/// The extensions header.
const EXTENSIONS: &str = "sec-websocket-extensions";

/// The 101 response for this request. A permessage-deflate element the
/// case accepts is replaced by `deflate`'s, or left out without one.
pub fn response_101(request: &Request, response: &Response, hs: &Handshake, deflate: Option<&Agreement>) -> Vec<u8> {
    let accept = accept_key(&request.head.header("sec-websocket-key").unwrap_or_default());
    let mut out = String::from("HTTP/1.1 101 Switching Protocols\r\n");
    match response {
        Response::Autobahn => {
            out += &format!("Server: {}\r\nX-Powered-By: {}\r\n", super::SERVER_HEADER, super::POWERED_BY_HEADER);
            out += &format!("Upgrade: WebSocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n");
            if let Some(p) = &hs.subprotocol {
                out += &format!("Sec-WebSocket-Protocol: {p}\r\n");
            }
            for ext in hs.extensions.iter().filter_map(|e| negotiate::rewrite(e, deflate)) {
                out += &format!("Sec-WebSocket-Extensions: {ext}\r\n");
            }
            if let Some(agreed) = deflate.filter(|_| hs.deflate_accept.is_some()) {
                out += &format!("Sec-WebSocket-Extensions: {}\r\n", agreed.element);
            }
            for h in &hs.headers {
                out += &format!("{}: {}\r\n", h.name, h.value);
            }
        }
        Response::Recorded(headers) => {
            for (name, value) in headers {
                let value = match name.to_ascii_lowercase().as_str() {
                    "sec-websocket-accept" => accept.clone(),
                    EXTENSIONS => match negotiate::rewrite(value, deflate) {
                        Some(v) => v,
                        None => continue,
                    },
                    _ => value.clone(),
                };
                out += &format!("{name}: {value}\r\n");
            }
        }
    }
    out += "\r\n";
    out.into_bytes()
}

enum Wake {
    Read(std::io::Result<Option<Vec<u8>>>),
    Timer,
}

/// One case on one connection (either role); see the module docs.
pub(super) struct Engine {
    io: WireIo,
    /// Masks what we write, in the client role.
    masker: Option<OutboundMasker>,
    tracker: Tracker,
    inbound: Inbound,
    steps: Vec<Step>,
    cursor: usize,
    resume_at: Option<Duration>,
    /// The last frame the plan sent (an echo check sends it again).
    last_send: Option<Send>,
    /// The tag of a `continue_later` being waited for (logged as `CTE`).
    continuing: Option<Option<String>>,
    opened_at: Duration,
    /// Compresses `compress: true` messages, once permessage-deflate is agreed.
    deflater: Option<Deflater>,
    /// The running `series` and the number of its next message.
    series: Option<(SeriesSpec, usize)>,
    /// Traffic counted since the 101 (`trafficStats`).
    traffic: TrafficStats,
    /// The statistics an echo check kept ([`Reaction::SnapshotTraffic`]).
    kept_traffic: Option<TrafficStats>,
    /// Autobahn's `failByDrop` option.
    fail_by_drop: bool,
}

impl Engine {
    /// An engine for `case` on `io`, in `io`'s role.
    pub(super) fn new(
        io: WireIo,
        case: &Case,
        policy: crate::wire::CodePolicy,
        deflate: Option<DeflateParams>,
        as_recorded: bool,
    ) -> Engine {
        let role = io.role();
        let tracker = Tracker::new(&case.scenario.expect, policy).with_role(role);
        let ours = if role.is_server() {
            crate::wire::Direction::ServerToClient
        } else {
            crate::wire::Direction::ClientToServer
        };
        Engine {
            io,
            masker: (!role.is_server()).then(OutboundMasker::new),
            tracker: match &case.fixture.close_reply {
                Some(reply) => tracker.with_close_reply(reply.clone()),
                None => tracker,
            },
            inbound: Inbound::for_role(role, deflate),
            steps: case.scenario.plan_with(as_recorded),
            deflater: deflate.map(|p| p.deflater(ours)),
            cursor: 0,
            resume_at: None,
            continuing: None,
            last_send: None,
            opened_at: Duration::ZERO,
            series: None,
            traffic: TrafficStats::default(),
            kept_traffic: None,
            fail_by_drop: false,
        }
    }

    /// Autobahn's `failByDrop`: a failure drops TCP and nothing more of
    /// the read is processed (not even the frame being decoded).
    fn fail_by_drop(&mut self) {
        self.fail_by_drop = true;
        self.tracker = self.tracker.clone().with_fail_by_drop(true);
    }

    async fn open(&mut self, request: &[u8], response: &[u8]) {
        self.traffic.preopen_incoming_wire = request.len() as u64;
        self.traffic.preopen_outgoing_wire = response.len() as u64;
        if self.io.write(response, false).await {
            self.on_open().await;
        }
    }

    /// The opening handshake is done (the 101 was written, or read in the
    /// client role): OPEN, and the case's on-open steps run next.
    pub(super) async fn on_open(&mut self) {
        self.opened_at = self.io.now();
        let reactions = self.apply(Occurrence::Opened);
        self.carry(reactions, None).await;
    }

    fn done(&self) -> bool {
        self.io.closed || self.tracker.state() == State::Closed
    }

    /// Runs the plan and reacts to the peer until TCP is gone; `early` is
    /// what came with the handshake.
    pub(super) async fn run(&mut self, early: Vec<u8>) {
        self.run_steps().await;
        if !early.is_empty() && !self.done() {
            self.on_bytes(&early).await;
        }
        while !self.done() {
            self.run_steps().await;
            if self.done() {
                break;
            }
            let wake = self.next_wake();
            let woke = tokio::select! {
                read = self.io.read() => Wake::Read(read),
                _ = sleep_until(wake) => Wake::Timer,
            };
            match woke {
                Wake::Read(Ok(Some(bytes))) => self.on_bytes(&bytes).await,
                Wake::Read(_) => break,
                Wake::Timer => {
                    let now = self.io.now();
                    let reactions = self.tracker.advance(now);
                    self.note_fired();
                    self.carry(reactions, None).await;
                }
            }
        }
    }

    fn next_wake(&self) -> Option<tokio::time::Instant> {
        let due = [self.tracker.next_deadline(), self.resume_at].into_iter().flatten().min()?;
        Some(tokio::time::Instant::from_std(self.io.t0 + due))
    }

    /// Runs plan steps until one blocks (a delay or wait) or the plan ends.
    async fn run_steps(&mut self) {
        while let Some(step) = self.steps.get(self.cursor).cloned() {
            if self.done() || !self.step(step).await {
                return;
            }
            self.cursor += 1;
        }
    }

    /// Carries out one step; false if it must wait.
    async fn step(&mut self, step: Step) -> bool {
        match step {
            Step::Delay(d) => {
                let until = *self.resume_at.get_or_insert(self.io.now() + d);
                if self.io.now() < until {
                    return false;
                }
                self.resume_at = None;
            }
            Step::Wait(w) => return w.is_met(self.tracker.received(), self.tracker.client_closed()),
            Step::Send(send) => {
                self.send(&send).await;
                self.last_send = Some(send);
            }
            Step::Wirelog { on, logged } => self.wirelog(on, logged),
            Step::Raw(writes) => self.write_raw(&writes).await,
            Step::Close { close, send } => {
                let reactions = self.apply(Occurrence::Close(close));
                self.carry(reactions, Some(&send)).await;
            }
            Step::DropTcp => self.io.drop_tcp().await,
            Step::KillAfter(secs) => {
                self.io.trace.log(WireLogEntry::KillAfter(secs));
                let reactions = self.apply(Occurrence::KillAfter(Duration::from_secs_f64(secs)));
                self.carry(reactions, None).await;
            }
            Step::CloseAfter(secs) => {
                self.io.trace.log(WireLogEntry::CloseAfter(secs));
                let reactions = self.apply(Occurrence::CloseAfter(Duration::from_secs_f64(secs)));
                self.carry(reactions, None).await;
            }
            Step::ContinueLater { after, tag } => return self.continue_later(after, tag),
            Step::Timeout(tag) => {
                let reactions = self.apply(Occurrence::Marker(tag));
                self.carry(reactions, None).await;
            }
            Step::IfOpen if self.tracker.state() != State::Open => self.cursor = self.steps.len(),
            Step::IfOpen => {}
            Step::Series(spec) => {
                self.series = Some((spec, 0));
                self.send_round().await;
            }
            Step::RequireDeflate(code) if self.deflater.is_none() => {
                let reactions = self.apply(Occurrence::Unimplemented(code));
                self.carry(reactions, None).await;
                self.cursor = self.steps.len();
            }
            Step::RequireDeflate(_) => {}
        }
        true
    }

    /// `CT` when first reached, then false until `after` has passed; then
    /// `CTE` (the steps only get here while the connection is not closed).
    fn continue_later(&mut self, after: f64, tag: Option<String>) -> bool {
        if self.continuing.is_none() {
            self.io.trace.log(WireLogEntry::Continue(after, tag.clone()));
            self.continuing = Some(tag);
            self.resume_at = Some(self.io.now() + Duration::from_secs_f64(after));
        }
        if self.resume_at.is_some_and(|at| self.io.now() < at) {
            return false;
        }
        self.resume_at = None;
        let tag = self.continuing.take().flatten();
        self.io.trace.log(WireLogEntry::ContinueFired(tag));
        true
    }

    fn apply(&mut self, occurrence: Occurrence) -> Vec<Reaction> {
        let reactions = self.tracker.apply(self.io.now(), occurrence);
        self.note_fired();
        reactions
    }

    /// Switches the wire log: `logged` writes a `WLM` entry when it changes
    /// (Autobahn's `enableWirelog`), otherwise it is silent.
    fn wirelog(&mut self, on: bool, logged: bool) {
        if logged && self.io.trace.logging != on {
            self.io.trace.set_logging(on);
        } else {
            self.io.trace.logging = on;
        }
    }

    /// Logs `KLE`/`TIE` for the scenario timers that fired on a live
    /// connection, before their reactions are carried out.
    fn note_fired(&mut self) {
        for fired in self.tracker.take_fired() {
            self.io.trace.log(match fired {
                Fired::Kill => WireLogEntry::KillAfterFired,
                Fired::CloseAfter => WireLogEntry::CloseAfterFired,
            });
        }
    }

    /// Carries out reactions; `close_bytes` is the scenario's own close frame.
    async fn carry(&mut self, reactions: Vec<Reaction>, close_bytes: Option<&Send>) {
        for reaction in reactions {
            match reaction {
                Reaction::SendClose(close) => match close_bytes {
                    Some(send) => self.send(send).await,
                    None => self.send(&close.send()).await,
                },
                Reaction::Pong(payload) => self.send(&Send::plain(OpCode::PONG, payload)).await,
                Reaction::Drop { .. } => self.io.drop_tcp().await,
                Reaction::SendAgain if self.series.is_some() => self.send_round().await,
                Reaction::SendAgain => {
                    if let Some(send) = self.last_send.clone() {
                        self.send(&send).await;
                    }
                }
                Reaction::SnapshotTraffic => self.kept_traffic = Some(self.traffic),
                Reaction::Wirelog { on, logged } => self.wirelog(on, logged),
            }
        }
    }

    /// Sends the series' next message: compressed if agreed, cut into
    /// `fragment`-octet frames, RSV1 on the first frame when compressed.
    async fn send_round(&mut self) {
        let Some((spec, next)) = self.series.as_mut() else { return };
        let spec = spec.clone();
        let message = spec.message(*next);
        *next += 1;
        self.tracker.sent_message(&message);
        // Autobahn's sendMessage sends nothing unless OPEN; the next
        // expected echo has moved on all the same.
        if self.tracker.state() != State::Open {
            return;
        }
        let (payload, rsv) = match (spec.compress, self.deflater.as_mut()) {
            (true, Some(deflater)) => (deflater.compress_message(&message), crate::scenario::plan::RSV1),
            _ => (message.clone(), 0),
        };
        let stats = &mut self.traffic;
        stats.outgoing_messages += 1;
        stats.outgoing_app += message.len() as u64;
        stats.outgoing_websocket += payload.len() as u64;
        for (i, (opcode, fin, piece)) in spec.frames(&payload).into_iter().enumerate() {
            self.send(&Send::data(opcode, fin, if i == 0 { rsv } else { 0 }, piece)).await;
        }
    }

    async fn send(&mut self, send: &Send) {
        let compressed = match (&send.compress, self.deflater.as_mut()) {
            (Some(message), Some(deflater)) => Some(message.send(deflater)),
            _ => None,
        };
        let send = compressed.as_ref().unwrap_or(send);
        let masked = self.masker.as_mut().map(|m| mask_send(m, send));
        let send = masked.as_ref().unwrap_or(send);
        let log = &send.log;
        if log.opcode <= 2 {
            self.traffic.outgoing_frames += 1;
        }
        self.io.trace.tx_frame(&TxFrameSpec {
            payload: &log.payload,
            opcode: log.opcode,
            fin: log.fin,
            rsv: log.rsv,
            mask: log.mask,
            repeat: log.repeat_len.map(|n| n as usize),
            chopsize: log.chopsize,
            sync: log.sync,
        });
        self.write_all(&send.writes).await;
    }

    /// Raw bytes: as they are, or masked frame by frame in the client role.
    async fn write_raw(&mut self, writes: &[Write]) {
        let Some(masker) = self.masker.as_mut() else { return self.write_all(writes).await };
        let masked: Vec<Write> = writes
            .iter()
            .map(|w| Write { bytes: masker.push(&w.bytes, &mut crate::peer::next_mask).0, sync: w.sync })
            .filter(|w| !w.bytes.is_empty())
            .collect();
        self.write_all(&masked).await
    }

    async fn write_all(&mut self, writes: &[Write]) {
        for w in writes {
            self.traffic.outgoing_wire += w.bytes.len() as u64;
            if !self.io.write(&w.bytes, w.sync).await {
                return;
            }
        }
    }

    async fn on_bytes(&mut self, bytes: &[u8]) {
        if self.tracker.failed_by_me() {
            self.inbound.set_failed();
        }
        // A violation inside a frame's payload: that frame's end is still logged.
        let mut finish_frame = false;
        let open = self.tracker.state() == State::Open;
        if open {
            self.traffic.incoming_wire += bytes.len() as u64;
        }
        for item in self.inbound.push(bytes) {
            if self.done() {
                if let (true, Item::Frame { header, payload }) = (finish_frame, &item) {
                    self.io.trace.rx_frame(payload, header.opcode.value(), header.fin, header.rsv, header.mask);
                }
                return;
            }
            if self.tracker.state() == State::Open {
                count_incoming(&mut self.traffic, &item);
            }
            let occurrence = match item {
                Item::Frame { header, payload } => {
                    let (op, fin, rsv, mask) = (header.opcode, header.fin, header.rsv, header.mask);
                    self.io.trace.rx_frame(&payload, op.value(), fin, rsv, mask);
                    match op {
                        OpCode::PING => Some(Occurrence::Ping(payload)),
                        OpCode::PONG => Some(Occurrence::Received(Event::Pong(payload))),
                        OpCode::CLOSE => Some(Occurrence::ClientClose(payload)),
                        _ => None,
                    }
                }
                Item::Message { data, binary } => Some(Occurrence::Received(Event::Message { data, binary })),
                Item::Violation { code, reason, in_payload } => {
                    finish_frame = in_payload && !self.fail_by_drop;
                    Some(Occurrence::Violation { code, reason })
                }
            };
            if let Some(occurrence) = occurrence {
                let reactions = self.apply(occurrence);
                self.carry(reactions, None).await;
            }
        }
    }

    /// Judges the case once TCP is gone; `request` and `response` are the
    /// handshake as sent and received.
    pub(super) async fn finish(mut self, case: &Case, settings: &Settings, request: &[u8], response: &[u8]) -> CaseRun {
        let lost = self.io.now();
        let obs = self.tracker.finish(lost);
        let verdict = judge(&case.scenario.expect, &obs);
        let recording = self.io.finish().await;
        let conn = Connection {
            started_micros: self.io.started_micros,
            duration_ms: (lost.saturating_sub(self.opened_at).as_micros() as u64 + 500) / 1000,
            request: Some(request),
            response: Some(response),
            trace: std::mem::take(&mut self.io.trace),
            tls: self.io.tls().cloned(),
            traffic: self.kept_traffic,
        };
        CaseRun { report: case_report::build(case, settings, &obs, &verdict, conn), recording }
    }
}

/// A frame masked for the client role: a new key unless the scenario gave
/// one, written in the same chops (Autobahn chops the masked frame).
fn mask_send(masker: &mut OutboundMasker, send: &Send) -> Send {
    let (bytes, key) = masker.push(&send.bytes(), &mut crate::peer::next_mask);
    let mut log = send.log.clone();
    log.mask = log.mask.or(key);
    let writes = crate::scenario::plan::split(bytes, log.chopsize, log.sync);
    Send { log, writes, compress: None }
}

/// Adds one decoded item to the incoming counters (data frames at their
/// wire size, messages at their inflated size).
fn count_incoming(stats: &mut TrafficStats, item: &Item) {
    match item {
        Item::Frame { header, payload } if header.opcode.value() <= 2 => {
            stats.incoming_frames += 1;
            stats.incoming_websocket += payload.len() as u64;
        }
        Item::Message { data, .. } => {
            stats.incoming_messages += 1;
            stats.incoming_app += data.len() as u64;
        }
        _ => {}
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
