//! `wstap serve`: Autobahn's fuzzingserver URL protocol (§5.2 of the
//! reference), so Autobahn client drivers run against wstap unchanged.
//!
//! Endpoints: `/getCaseCount`, `/runCase?case=N&agent=A` (or
//! `casetuple=ID`), `/getCaseInfo?case=N`, `/getCaseStatus?case=N&agent=A`,
//! `/updateReports?agent=A[&shutdownOnComplete=true]`, `/stopServer`.
//! Numbering is Autobahn's rule over the *selected* cases: with the whole
//! shipped catalogue, `case=N` is Autobahn 0.8.2's case N. Results live in memory,
//! keyed by (agent, case ID); a re-run overwrites; `/updateReports` writes
//! the reports of every agent, once the cases still running have stored
//! theirs ([`REPORT_WAIT`]).
//!
//! A request wstap cannot serve is refused with an HTTP status that names
//! the client's mistake, and stores nothing: 400 for a malformed request
//! or a missing, repeated or invalid parameter; 404 for an unknown path or
//! a case number or ID that does not exist; 426 (with `Upgrade: websocket`)
//! for a request that is not a WebSocket upgrade, such as a plain
//! `curl /getCaseCount`. 500 is kept for wstap's own failures (the reports
//! cannot be written).
//!
//! On SIGINT or SIGTERM [`Server::run`] stops accepting, cuts the cases
//! still running, and returns every stored result, so the caller can write
//! the reports of what ran.

use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use super::engine::{record_path, response_101, run_with_request};
use super::inbound::Item;
use super::wire_io::{Request, WireIo};
use super::{Case, Response, Settings};
use crate::report::CaseReport;
use crate::wire::{FrameHeader, OpCode};

/// How long a control endpoint waits for the driver's close reply.
pub const CONTROL_CLOSE_WAIT: Duration = Duration::from_secs(5);

/// How long `/updateReports` waits for cases still running. A case stores
/// its result only after its TCP connection is gone, and a driver starts
/// its next request as soon as it sees the connection end; without the
/// wait the last case's result could miss the reports. The cases' own
/// timers end them, so the bound only matters for a case that is still
/// being played to another client.
pub const REPORT_WAIT: Duration = Duration::from_secs(60);

struct State {
    cases: Vec<Case>,
    settings: Settings,
    report_dir: PathBuf,
    results: Mutex<BTreeMap<(String, u32), CaseReport>>,
    changed: watch::Sender<u64>,
    /// Cases being run now.
    running: watch::Sender<usize>,
    stop: watch::Sender<bool>,
    /// Colour the per-case lines (stderr is a terminal, no `NO_COLOR`).
    color: bool,
}

/// Counts a case as running while it lives.
struct Running<'a>(&'a watch::Sender<usize>);

impl<'a> Running<'a> {
    fn start(count: &'a watch::Sender<usize>) -> Running<'a> {
        count.send_modify(|n| *n += 1);
        Running(count)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n -= 1);
    }
}

/// A bound server.
pub struct Server {
    listener: crate::accept::Acceptor,
    state: Arc<State>,
    tls: Option<crate::tls::ServerTls>,
}

/// A request refused with an HTTP status (see the module docs).
#[derive(Debug, PartialEq, Eq)]
struct Refusal {
    status: u16,
    message: String,
}

impl Refusal {
    fn bad_request(message: impl Into<String>) -> Refusal {
        Refusal { status: 400, message: message.into() }
    }

    fn not_found(message: impl Into<String>) -> Refusal {
        Refusal { status: 404, message: message.into() }
    }
}

/// How [`Server::run`] ended.
#[derive(Debug)]
pub struct Ended {
    /// True when SIGINT/SIGTERM (the shutdown future) ended it, false for `/stopServer`.
    pub interrupted: bool,
    /// Every stored result, of every agent.
    pub results: Vec<CaseReport>,
}

/// The endpoints, by path.
const ENDPOINTS: [&str; 6] =
    ["/runCase", "/getCaseCount", "/getCaseInfo", "/getCaseStatus", "/updateReports", "/stopServer"];

/// A parsed endpoint request.
struct Call {
    path: String,
    params: BTreeMap<String, Vec<String>>,
}

impl Server {
    /// Binds `addr` to serve `cases` (already selected and numbered).
    pub async fn bind(
        addr: SocketAddr,
        cases: Vec<Case>,
        settings: Settings,
        report_dir: PathBuf,
    ) -> io::Result<Server> {
        let listener = crate::accept::Acceptor::new(TcpListener::bind(addr).await?, "serve");
        let state = State {
            cases,
            settings,
            report_dir,
            results: Mutex::default(),
            changed: watch::channel(0).0,
            running: watch::channel(0).0,
            stop: watch::channel(false).0,
            color: crate::term::color_for(crate::term::Stream::Stderr),
        };
        Ok(Server { listener, state: Arc::new(state), tls: None })
    }

    /// Terminates TLS on every connection (`serve --tls`): drivers use `wss://`.
    pub fn with_tls(mut self, tls: Option<crate::tls::ServerTls>) -> Server {
        self.tls = tls;
        self
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Number of cases served.
    pub fn case_count(&self) -> usize {
        self.state.cases.len()
    }

    /// `(case=N, ID)` for every case.
    pub fn numbering(&self) -> Vec<(u32, String)> {
        self.state.cases.iter().map(|c| (c.number, c.scenario.id.clone())).collect()
    }

    /// Serves until `shutdown` completes or a driver calls `/stopServer`.
    /// Connections still open then are cut (a case running on one stores
    /// no result).
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) -> Ended {
        let mut stop = self.state.stop.subscribe();
        let mut running = tokio::task::JoinSet::new();
        tokio::pin!(shutdown);
        let interrupted = loop {
            tokio::select! {
                (stream, _) = self.listener.accept() => {
                    let (state, tls) = (self.state.clone(), self.tls.clone());
                    running.spawn(async move {
                        match tls {
                            None => handle(state, WireIo::deferred(stream)).await,
                            Some(tls) => {
                                let addrs = (stream.peer_addr().ok(), stream.local_addr().ok());
                                let _ = stream.set_nodelay(true);
                                match tls.accept(stream, None).await {
                                    Ok((s, info)) => handle(state, WireIo::wrap(Box::new(s), addrs, Some(info), None).defer()).await,
                                    Err(f) => tracing::warn!("serve --tls: {f}"),
                                }
                            }
                        }
                    });
                }
                Some(_) = running.join_next(), if !running.is_empty() => {}
                _ = stop.wait_for(|s| *s) => break false,
                _ = &mut shutdown => break true,
            }
        };
        running.shutdown().await;
        let results = self.state.results.lock().unwrap_or_else(|e| e.into_inner()).values().cloned().collect();
        Ended { interrupted, results }
    }
}

async fn handle(state: Arc<State>, mut io: WireIo) {
    let request = match io.read_request().await {
        Ok(request) => request,
        Err(why) => {
            // A malformed head; a peer that hung up or timed out gets nothing.
            if !io.closed {
                refuse(&mut io, &Refusal::bad_request(format!("malformed HTTP request: {why}"))).await;
            }
            return;
        }
    };
    let call = parse_call(&request.head.path);
    if !ENDPOINTS.contains(&call.path.as_str()) {
        let known = ENDPOINTS.join(", ");
        return refuse(&mut io, &Refusal::not_found(format!("unknown path {}; the endpoints are {known}", call.path)))
            .await;
    }
    if !request.head.is_websocket_request() {
        let why = format!("{} needs a WebSocket upgrade (GET with Upgrade: websocket)", call.path);
        return refuse(&mut io, &Refusal { status: 426, message: why }).await;
    }
    let outcome = match call.path.as_str() {
        "/runCase" => run_case(&state, io, request, &call).await,
        "/getCaseCount" => control(io, &request, Some(state.cases.len().to_string())).await,
        "/getCaseInfo" => match state.case_of(&call) {
            Ok(case) => control(io, &request, Some(case_info(case))).await,
            Err(e) => Err((io, e)),
        },
        "/getCaseStatus" => case_status(&state, io, &request, &call).await,
        "/updateReports" => update_reports(&state, io, &request, &call).await,
        "/stopServer" => {
            let done = control(io, &request, None).await;
            state.stop.send_replace(true);
            done
        }
        _ => unreachable!("checked against ENDPOINTS"),
    };
    if let Err((mut io, refusal)) = outcome {
        refuse(&mut io, &refusal).await;
    }
}

type Outcome = Result<(), (WireIo, Refusal)>;

async fn run_case(state: &State, mut io: WireIo, request: Request, call: &Call) -> Outcome {
    let (case, agent) = match (state.case_of(call), call.one("agent")) {
        (Ok(case), Ok(agent)) => (case, agent),
        (Err(e), _) | (_, Err(e)) => return Err((io, e)),
    };
    if state.settings.exclude_agent.excludes(&agent, &case.scenario.id) {
        // Autobahn: accepted, closed at once with an empty close, no result stored.
        let (id, agent) = (crate::escape::line(&case.scenario.id), crate::escape::line(&agent));
        eprintln!("wstap: skipping case {id} for agent {agent} (exclude-agent-cases)");
        return control(io, &request, None).await;
    }
    let _running = Running::start(&state.running);
    let mut settings = state.settings.clone();
    settings.agent = agent;
    if let Some(path) = record_path(&settings, case) {
        io.start_recording(&path);
    }
    let run = run_with_request(io, request, case, &settings).await;
    let total = state.cases.len();
    let line = super::output::progress_line_colored(case.number as usize, total, &run, state.color);
    eprintln!("wstap: {} {line}", crate::escape::line(&settings.agent));
    let key = (settings.agent.clone(), case.number);
    state.results.lock().unwrap_or_else(|e| e.into_inner()).insert(key, run.report);
    state.changed.send_modify(|n| *n += 1);
    Ok(())
}

/// Autobahn accepts the upgrade first and then waits for the result, so a
/// driver with an open timeout does not give up. While it waits it reads
/// the driver: a close is answered (1000) and a hang-up ends the wait, so
/// no socket is left in CLOSE-WAIT.
async fn case_status(state: &State, mut io: WireIo, request: &Request, call: &Call) -> Outcome {
    let (case, agent) = match (state.case_of(call), call.one("agent")) {
        (Ok(case), Ok(agent)) => (case, agent),
        (Err(e), _) | (_, Err(e)) => return Err((io, e)),
    };
    let key = (agent, case.number);
    let mut changed = state.changed.subscribe();
    accept(&mut io, request).await;
    let mut inbound = super::inbound::Inbound::new();
    let behavior = loop {
        if let Some(r) = state.results.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            break r.behavior.as_str();
        }
        tokio::select! {
            more = changed.changed() => if more.is_err() {
                io.drop_tcp().await;
                return Ok(());
            },
            read = io.read() => match read {
                Ok(Some(bytes)) if !answer_while_waiting(&mut io, &mut inbound, &bytes).await => {}
                _ => {
                    io.drop_tcp().await;
                    return Ok(());
                }
            },
        }
    };
    end_control(io, Some(format!("{{\"behavior\": \"{behavior}\"}}"))).await
}

/// What a driver sends while `/getCaseStatus` waits: a ping gets its pong,
/// a close gets a 1000 close (Autobahn does not echo codes), a protocol
/// violation ends the connection. True when the connection is to end.
async fn answer_while_waiting(io: &mut WireIo, inbound: &mut super::inbound::Inbound, bytes: &[u8]) -> bool {
    for item in inbound.push(bytes) {
        match item {
            Item::Frame { header, payload } if header.opcode == OpCode::PING => {
                let pong = FrameHeader::new(OpCode::PONG, payload.len() as u64).encode_frame(&payload);
                io.write(&pong, false).await;
            }
            Item::Frame { header, .. } if header.opcode == OpCode::CLOSE => {
                io.write(&[0x88, 0x02, 0x03, 0xe8], false).await;
                return true;
            }
            Item::Violation { .. } => return true,
            _ => {}
        }
    }
    false
}

async fn update_reports(state: &State, io: WireIo, request: &Request, call: &Call) -> Outcome {
    if let Err(e) = call.one("agent") {
        return Err((io, e));
    }
    let _ = tokio::time::timeout(REPORT_WAIT, state.running.subscribe().wait_for(|n| *n == 0)).await;
    let reports: Vec<CaseReport> = state.results.lock().unwrap_or_else(|e| e.into_inner()).values().cloned().collect();
    if let Err(e) = crate::report::write_report_dir(&state.report_dir, &reports) {
        let message = format!("cannot write reports into {}: {e}", state.report_dir.display());
        return Err((io, Refusal { status: 500, message }));
    }
    let done = control(io, request, None).await;
    let shutdown = call.params.get("shutdownOnComplete").and_then(|v| v.first());
    if shutdown.is_some_and(|v| v == "true" || v == "yes") {
        state.stop.send_replace(true);
    }
    done
}

impl State {
    /// The case named by `case=N` or `casetuple=ID`.
    fn case_of(&self, call: &Call) -> Result<&Case, Refusal> {
        if call.params.contains_key("casetuple") {
            let id = call.one("casetuple")?;
            let unknown = || Refusal::not_found(format!("unknown case ID {}", crate::escape::quoted(&id)));
            return self.cases.iter().find(|c| c.scenario.id == id).ok_or_else(unknown);
        }
        let text = call.one("case")?;
        let invalid = || Refusal::bad_request(format!("invalid case number {}", crate::escape::quoted(&text)));
        let n: u32 = text.parse().map_err(|_| invalid())?;
        let count = self.cases.len();
        self.cases.iter().find(|c| c.number == n).ok_or(Refusal::not_found(format!("case {n} is outside 1..{count}")))
    }
}

impl Call {
    /// Exactly one value of parameter `name`.
    fn one(&self, name: &str) -> Result<String, Refusal> {
        match self.params.get(name).map(Vec::as_slice) {
            Some([value]) => Ok(value.clone()),
            Some(_) => Err(Refusal::bad_request(format!("parameter {name} given more than once"))),
            None => Err(Refusal::bad_request(format!("missing parameter {name}"))),
        }
    }
}

fn parse_call(target: &str) -> Call {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut params: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        params.entry(percent_decode(k)).or_default().push(percent_decode(v));
    }
    Call { path: path.to_owned(), params }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `{"id": "7.3.1", "description": "…"}`: the description cut at the first
/// `<` and its whitespace collapsed, as Autobahn sends it.
fn case_info(case: &Case) -> String {
    let description = case.scenario.description.split('<').next().unwrap_or_default();
    let description = description.split_whitespace().collect::<Vec<_>>().join(" ");
    let quote = |s: &str| serde_json::to_string(s).unwrap_or_default();
    format!("{{\"id\": {}, \"description\": {}}}", quote(&case.scenario.id), quote(&description))
}

/// Accepts the upgrade, sends `text` if any, then an empty close, and
/// waits (bounded) for the driver to answer or hang up.
async fn control(mut io: WireIo, request: &Request, text: Option<String>) -> Outcome {
    accept(&mut io, request).await;
    end_control(io, text).await
}

/// Writes the 101 of a control endpoint.
async fn accept(io: &mut WireIo, request: &Request) {
    let response = response_101(request, &Response::Autobahn, &Default::default(), None);
    io.write(&response, false).await;
}

/// After the 101: sends `text` if any, then an empty close, and waits
/// (bounded) for the driver to answer or hang up.
async fn end_control(mut io: WireIo, text: Option<String>) -> Outcome {
    if let Some(text) = text {
        io.write(&FrameHeader::new(OpCode::TEXT, text.len() as u64).encode_frame(text.as_bytes()), false).await;
    }
    io.write(&[0x88, 0x00], false).await;
    // Autobahn drops TCP once it has read the driver's close reply.
    let mut inbound = super::inbound::Inbound::new();
    let is_close = |item: &Item| matches!(item, Item::Frame { header, .. } if header.opcode == OpCode::CLOSE);
    let _ = tokio::time::timeout(CONTROL_CLOSE_WAIT, async {
        while let Ok(Some(bytes)) = io.read().await {
            if inbound.push(&bytes).iter().any(is_close) {
                return;
            }
        }
    })
    .await;
    io.drop_tcp().await;
    Ok(())
}

/// Answers `refusal` as an HTTP error with a one-line text body, then
/// closes the connection.
async fn refuse(io: &mut WireIo, refusal: &Refusal) {
    io.write(&refusal_response(refusal), false).await;
    io.drop_tcp().await;
}

fn refusal_response(refusal: &Refusal) -> Vec<u8> {
    let reason = match refusal.status {
        400 => "Bad Request",
        404 => "Not Found",
        426 => "Upgrade Required",
        _ => "Internal Server Error",
    };
    let upgrade = if refusal.status == 426 { "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n" } else { "" };
    let body = format!("wstap: {}\n", refusal.message);
    let head = format!(
        "HTTP/1.1 {} {reason}\r\n{upgrade}Content-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        refusal.status,
        body.len()
    );
    [head.into_bytes(), body.into_bytes()].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_parse_with_percent_escapes_and_repeats() {
        let call = parse_call("/runCase?case=3&agent=my%20client&x=1&x=2");
        assert_eq!(call.path, "/runCase");
        assert_eq!(call.one("agent").unwrap(), "my client");
        assert_eq!(call.one("case").unwrap(), "3");
        assert!(call.one("x").unwrap_err().message.contains("more than once"));
        assert_eq!(call.one("y").unwrap_err(), Refusal::bad_request("missing parameter y"));
    }

    #[test]
    fn case_info_cuts_at_markup_and_collapses_whitespace() {
        let mut case = super::super::catalogue::shipped().into_iter().find(|c| c.scenario.id == "7.1.1").unwrap();
        case.scenario.description = "Send  a\nmessage <b>bold</b>".into();
        assert_eq!(case_info(&case), r#"{"id": "7.1.1", "description": "Send a message"}"#);
    }
}
