//! The fuzzer's connection state machine, as pure data: a timeline of
//! what happened in, an [`Observation`] (the report flags) out. It plays
//! either [`Role`]: the fuzzingserver (the default) or the fuzzingclient.
//!
//! Why a state machine and not a checklist: Autobahn's flags depend on the
//! *order* of events (a close frame means "reply" in CLOSING and "peer
//! initiated" in OPEN; a timer does nothing once the socket is closed), and
//! the server reacts while the case runs (replies, drops, fails). The
//! replay engine feeds [`Occurrence`]s with their time and carries out the
//! [`Reaction`]s; the tracker never touches a socket or a clock.
//!
//! Contract:
//! - Time is a [`Duration`] since TCP accept and must not go backwards.
//!   Before each occurrence, every timer due at or before its time fires
//!   first, earliest deadline first; on a tie the close-handshake timer
//!   fires before the kill timer (§9 of the reference), so the outcome is
//!   deterministic where Autobahn's is a race.
//! - Close frames from the client are checked under the given
//!   [`CodePolicy`] (Autobahn's engine: [`CodePolicy::Autobahn`]).
//! - [`Tracker::finish`] is called once TCP is gone (either side); it fires
//!   any timers due by then and applies Autobahn's connection-lost rule.
//! - The role changes only what autobahn-python's engine does differently
//!   as a client (`isServer: false`): after the closing handshake the
//!   *server* is expected to drop TCP, so the fuzzer as client never drops
//!   at once; it waits [`SERVER_DROP_TIMEOUT`] for the server's drop after
//!   the close reply it received, and drops itself only when that timer
//!   (or the kill timer) fires. Everything else (timers, fail rules, close
//!   checks) is the same state machine. "Client" and "peer" below: the
//!   peer is the other side (the client in the server role).

use std::time::Duration;

use super::verdict::Observation;
use crate::scenario::{Event, Expect, ExpectedEvents, LocalClose};
use crate::wire::{ClosePayload, CloseProblem, CodePolicy};

/// Autobahn's close-handshake timeout: armed when the server closes first.
pub const CLOSE_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(1);
/// Autobahn's opening-handshake timeout, from TCP accept (or connect).
pub const OPEN_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// Autobahn's `serverConnectionDropTimeout` (client role): how long the
/// server has to drop TCP once the closing handshake is done.
pub const SERVER_DROP_TIMEOUT: Duration = Duration::from_secs(1);

/// `wasNotCleanReason` when the close-handshake timer fired.
pub const NO_CLOSE_REPLY: &str = "peer did not respond (in time) in closing handshake";
/// `wasNotCleanReason` when the opening-handshake timer fired.
pub const NO_OPEN_HANDSHAKE: &str = "peer did not finish (in time) the opening handshake";
/// `wasNotCleanReason` when the fuzzer failed the connection under `failByDrop`.
pub const DROPPED_ON_FAIL: &str = "I failed the WebSocket connection by dropping the TCP connection";
/// `wasNotCleanReason` when the server did not drop TCP in time (client role).
pub const SERVER_DID_NOT_DROP: &str = "server did not drop TCP connection (in time)";
/// `wasNotCleanReason` when the client dropped TCP without closing.
pub const PEER_DROPPED: &str = "peer dropped the TCP connection without previous WebSocket closing handshake";

/// Close code and reason the kill timer fails an OPEN connection with.
pub const GOING_AWAY: (u16, &str) = (1001, "Going Away");
/// Close code for a protocol violation.
pub const PROTOCOL_ERROR: u16 = 1002;
/// Close code for an invalid payload (bad UTF-8).
pub const INVALID_PAYLOAD: u16 = 1007;
/// Code the server replies with when the client closes first
/// (`echoCloseCodeReason` is off).
pub const REPLY_CODE: u16 = 1000;

/// Which side of the connection the fuzzer plays.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Role {
    /// Autobahn's fuzzingserver: the peer is a client under test.
    #[default]
    Server,
    /// Autobahn's fuzzingclient: the peer is a server under test.
    Client,
}

impl Role {
    /// True for [`Role::Server`] (the report's `isServer`).
    pub fn is_server(self) -> bool {
        self == Role::Server
    }
}

/// The fuzzer's WebSocket state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Before the 101 response.
    Connecting,
    /// Upgraded, no close sent.
    Open,
    /// A close was sent; waiting for the reply.
    Closing,
    /// The server dropped (or lost) TCP; nothing more is processed.
    Closed,
}

/// Something that happened on the connection, as the server sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Occurrence {
    /// The 101 response was written (on-open).
    Opened,
    /// The scenario armed the kill timer for this long.
    KillAfter(Duration),
    /// The scenario armed the close timer for this long.
    CloseAfter(Duration),
    /// The scenario's own close ([`crate::scenario::Step::Close`]).
    Close(LocalClose),
    /// A complete message or a pong arrived from the client.
    Received(Event),
    /// The case recorded a marker (`["timeout", tag]`).
    Marker(String),
    /// A ping arrived from the client.
    Ping(Vec<u8>),
    /// The case needs something the client did not agree to (12.x/13.x
    /// without permessage-deflate): UNIMPLEMENTED, and the server closes
    /// through the API with this code.
    Unimplemented(u16),
    /// A close frame arrived from the peer (the client, in the server
    /// role), with its raw payload. A one-byte payload is not judged here:
    /// report it first as a [`Occurrence::Violation`], when its header
    /// arrives, as Autobahn does.
    ClientClose(Vec<u8>),
    /// The peer's opening handshake was wrong (the client role: a bad
    /// 101 response): the fuzzer drops TCP, with this as the reason.
    HandshakeFailed(String),
    /// The client broke a rule in some other frame (unmasked, RSV, bad
    /// UTF-8 text, ...): the server fails the connection.
    Violation {
        /// [`PROTOCOL_ERROR`] or [`INVALID_PAYLOAD`].
        code: u16,
        /// Reason text for the server's close.
        reason: String,
    },
}

/// What the engine must do in response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reaction {
    /// Write this close frame (bytes from [`LocalClose::send`]).
    SendClose(LocalClose),
    /// Write a pong with this payload.
    Pong(Vec<u8>),
    /// Close TCP: `abort` drops at once, otherwise flush pending writes first.
    Drop {
        /// Abortive (Twisted `abortConnection`) rather than graceful.
        abort: bool,
    },
    /// Send the plan's last frame again, or a series' next message (an
    /// echo check's next round trip).
    SendAgain,
    /// Keep the connection's traffic statistics as they are now: they are
    /// the report's `trafficStats` (an echo check with `traffic_stats`).
    SnapshotTraffic,
    /// Switch the wire log's traffic entries on or off.
    Wirelog {
        /// On or off.
        on: bool,
        /// With a `WLM` entry (when it changes).
        logged: bool,
    },
}

/// A timer of the scenario's that fired on a live connection: the wire
/// log's `KLE` and `TIE` entries, in the order they fired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fired {
    /// The kill timer (`KLE`).
    Kill,
    /// The close timer (`TIE`).
    CloseAfter,
}

/// The server's timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    // Declaration order is the tie-break order.
    CloseHandshake,
    ServerDrop,
    Kill,
    CloseAfter,
    OpenHandshake,
}

/// Derives the report flags from a timeline. See the module docs.
#[derive(Clone, Debug)]
pub struct Tracker {
    policy: CodePolicy,
    role: Role,
    /// Code and event lists for the automatic close (§2.2), if enabled.
    auto_close: Option<(u16, ExpectedEvents)>,
    state: State,
    obs: Observation,
    client_closed: bool,
    kill_fired: bool,
    fired: Vec<Fired>,
    deadlines: Vec<(Duration, Timer)>,
    /// What the fuzzer replies to a close the client sent first.
    reply: LocalClose,
    /// Category 9's echo check and the right echoes so far.
    echo: Option<(crate::scenario::EchoCheck, usize)>,
    /// SHA-1 of the message a series sent last (12.x/13.x echo checks).
    sent: Option<[u8; 20]>,
    /// Fail by dropping TCP ([`Tracker::with_fail_by_drop`]).
    fail_by_drop: bool,
}

impl Tracker {
    /// A tracker for a case with these expectations, at TCP accept (t = 0).
    pub fn new(expect: &Expect, policy: CodePolicy) -> Tracker {
        let auto_code = expect.close.codes.first().copied();
        let auto = expect.auto_close && expect.close.closed_by_me && expect.events.declared().next().is_some();
        Tracker {
            policy,
            role: Role::Server,
            auto_close: auto_code.filter(|_| auto).map(|code| (code, expect.events.clone())),
            state: State::Connecting,
            obs: Observation::default(),
            client_closed: false,
            kill_fired: false,
            fired: Vec::new(),
            deadlines: vec![(OPEN_HANDSHAKE_TIMEOUT, Timer::OpenHandshake)],
            reply: LocalClose { code: Some(REPLY_CODE), reason: None },
            echo: expect.echo.clone().map(|check| (check, 0)),
            sent: None,
            fail_by_drop: false,
        }
    }

    /// The same tracker playing `role` (see the module docs).
    pub fn with_role(mut self, role: Role) -> Tracker {
        self.role = role;
        self.obs.is_server = role.is_server();
        self
    }

    /// The role played.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The server sent `message` as the next round of a series: the next
    /// echo's content is compared with it (see
    /// [`crate::scenario::EchoCheck::wrong_content`]).
    pub fn sent_message(&mut self, message: &[u8]) {
        use sha1::Digest as _;
        self.sent = Some(sha1::Sha1::digest(message).into());
    }

    /// Replies to a close the client sends first with `reply` instead of
    /// Autobahn's [`REPLY_CODE`] (a recording's own reply, when replayed).
    pub fn with_close_reply(mut self, reply: LocalClose) -> Tracker {
        self.reply = reply;
        self
    }

    /// Autobahn's `failByDrop` option: failing the connection drops TCP at
    /// once (abortively, no close frame), with [`DROPPED_ON_FAIL`] as the
    /// reason, in OPEN as in CLOSING. Off by default, as the fuzzingserver
    /// forces it off unless the spec's `options` turn it on.
    pub fn with_fail_by_drop(mut self, on: bool) -> Tracker {
        self.fail_by_drop = on;
        self
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The events recorded so far (for `wait` actions).
    pub fn received(&self) -> &[Event] {
        &self.obs.received
    }

    /// True once a close frame from the client was processed (for
    /// [`crate::scenario::WaitFor::Close`]).
    pub fn client_closed(&self) -> bool {
        self.client_closed
    }

    /// True once the fuzzer failed the connection (`failedByMe`).
    pub fn failed_by_me(&self) -> bool {
        self.obs.failed_by_me
    }

    /// True once the kill timer fired while the connection was not yet
    /// closed (the wire log's `KLE` entry).
    pub fn kill_fired(&self) -> bool {
        self.kill_fired
    }

    /// The scenario timers that fired since the last call, in order (for
    /// the wire log's `KLE`/`TIE` entries).
    pub fn take_fired(&mut self) -> Vec<Fired> {
        std::mem::take(&mut self.fired)
    }

    /// The earliest armed timer, for the engine to sleep until.
    pub fn next_deadline(&self) -> Option<Duration> {
        self.deadlines.iter().map(|(at, _)| *at).min()
    }

    /// Fires every timer due at or before `now`.
    pub fn advance(&mut self, now: Duration) -> Vec<Reaction> {
        let mut out = Vec::new();
        while let Some(i) = self.due_timer(now) {
            let (at, timer) = self.deadlines.remove(i);
            out.extend(self.fire(at, timer));
        }
        out
    }

    /// Applies one occurrence at time `at` (after firing due timers).
    pub fn apply(&mut self, at: Duration, occurrence: Occurrence) -> Vec<Reaction> {
        let mut out = self.advance(at);
        out.extend(match occurrence {
            Occurrence::Opened => self.opened(),
            Occurrence::KillAfter(after) => self.arm(at + after, Timer::Kill),
            Occurrence::CloseAfter(after) => self.arm(at + after, Timer::CloseAfter),
            Occurrence::Close(close) => self.close_first(at, close),
            Occurrence::Received(event) => self.received_event(at, event),
            Occurrence::Marker(tag) => {
                // Appended by the case itself: no automatic-close check.
                self.obs.received.push(Event::Timeout(tag));
                Vec::new()
            }
            Occurrence::Ping(payload) => self.ping(payload),
            Occurrence::Unimplemented(code) => {
                self.obs.unimplemented = true;
                self.close_first(at, LocalClose { code: Some(code), reason: None })
            }
            Occurrence::ClientClose(payload) => self.client_close(at, &payload),
            Occurrence::Violation { code, reason } => self.fail(at, code, &reason),
            Occurrence::HandshakeFailed(reason) if self.state == State::Connecting => {
                self.obs.was_not_clean_reason = Some(reason);
                self.drop_tcp(true)
            }
            Occurrence::HandshakeFailed(_) => Vec::new(),
        });
        out
    }

    /// TCP is gone at `at`: fires due timers, applies the connection-lost
    /// rule, and returns the final flags.
    pub fn finish(mut self, at: Duration) -> Observation {
        self.advance(at);
        self.state = State::Closed;
        let obs = &mut self.obs;
        if !obs.was_clean && !obs.dropped_by_me && obs.was_not_clean_reason.is_none() {
            obs.was_not_clean_reason = Some(PEER_DROPPED.into());
        }
        self.obs
    }

    fn due_timer(&self, now: Duration) -> Option<usize> {
        let due = self.deadlines.iter().enumerate().filter(|(_, (at, _))| *at <= now);
        due.min_by_key(|(_, key)| **key).map(|(i, _)| i)
    }

    fn arm(&mut self, at: Duration, timer: Timer) -> Vec<Reaction> {
        self.deadlines.retain(|(_, t)| *t != timer);
        self.deadlines.push((at, timer));
        Vec::new()
    }

    fn fire(&mut self, at: Duration, timer: Timer) -> Vec<Reaction> {
        match (timer, self.state) {
            (_, State::Closed) => Vec::new(),
            (Timer::Kill, _) => {
                self.kill_fired = true;
                self.fired.push(Fired::Kill);
                self.fail(at, GOING_AWAY.0, GOING_AWAY.1)
            }
            (Timer::CloseAfter, _) => {
                // Autobahn's sendClose(): an empty close, only while OPEN.
                self.fired.push(Fired::CloseAfter);
                self.close_first(at, LocalClose::default())
            }
            (Timer::CloseHandshake, _) => {
                self.obs.was_close_handshake_timeout = true;
                self.not_clean(NO_CLOSE_REPLY)
            }
            (Timer::ServerDrop, _) => {
                self.obs.was_server_connection_drop_timeout = true;
                self.not_clean(SERVER_DID_NOT_DROP)
            }
            (Timer::OpenHandshake, State::Connecting) => {
                self.obs.was_open_handshake_timeout = true;
                self.not_clean(NO_OPEN_HANDSHAKE)
            }
            (Timer::OpenHandshake, _) => Vec::new(),
        }
    }

    fn not_clean(&mut self, reason: &str) -> Vec<Reaction> {
        self.obs.was_clean = false;
        self.obs.was_not_clean_reason = Some(reason.into());
        self.drop_tcp(true)
    }

    fn opened(&mut self) -> Vec<Reaction> {
        if self.state == State::Connecting {
            self.state = State::Open;
            self.obs.handshake_completed = true;
            self.deadlines.retain(|(_, t)| *t != Timer::OpenHandshake);
        }
        Vec::new()
    }

    /// The server's own close; only sent while OPEN, like Autobahn's API.
    fn close_first(&mut self, at: Duration, close: LocalClose) -> Vec<Reaction> {
        if self.state != State::Open {
            return Vec::new();
        }
        self.obs.closed_by_me = true;
        self.arm(at + CLOSE_HANDSHAKE_TIMEOUT, Timer::CloseHandshake);
        self.send_close(close)
    }

    /// Writes a close while OPEN: records it as the local close, goes to CLOSING.
    fn send_close(&mut self, close: LocalClose) -> Vec<Reaction> {
        self.obs.local_close_code = close.code;
        self.obs.local_close_reason = close.reason.clone();
        self.state = State::Closing;
        vec![Reaction::SendClose(close)]
    }

    fn drop_tcp(&mut self, abort: bool) -> Vec<Reaction> {
        if self.state == State::Closed {
            return Vec::new();
        }
        self.obs.dropped_by_me = true;
        self.state = State::Closed;
        vec![Reaction::Drop { abort }]
    }

    /// Fails the connection: close first if OPEN, drop if CLOSING.
    fn fail(&mut self, at: Duration, code: u16, reason: &str) -> Vec<Reaction> {
        if self.fail_by_drop && matches!(self.state, State::Open | State::Closing) {
            self.obs.failed_by_me = true;
            self.obs.was_clean = false;
            self.obs.was_not_clean_reason = Some(DROPPED_ON_FAIL.into());
            return self.drop_tcp(true);
        }
        match self.state {
            State::Open => {
                self.obs.failed_by_me = true;
                self.close_first(at, LocalClose::new(code, reason))
            }
            State::Closing => {
                self.obs.failed_by_me = true;
                self.drop_tcp(false)
            }
            State::Connecting | State::Closed => Vec::new(),
        }
    }

    fn received_event(&mut self, at: Duration, event: Event) -> Vec<Reaction> {
        let live = matches!(self.state, State::Open | State::Closing);
        if let (Some(_), Event::Message { data, binary }) = (&self.echo, &event) {
            return if live && !self.obs.failed_by_me { self.echoed(at, *binary, data) } else { Vec::new() };
        }
        if live && (event.is_pong() || !self.obs.failed_by_me) {
            self.obs.received.push(event);
        }
        match self.auto_close_code() {
            Some(code) => self.close_first(at, LocalClose { code: Some(code), reason: None }),
            None => Vec::new(),
        }
    }

    /// Category 9: one echo judged by type and length (see
    /// [`crate::scenario::EchoCheck`]); messages are not recorded.
    fn echoed(&mut self, at: Duration, binary: bool, data: &[u8]) -> Vec<Reaction> {
        let Some((check, right)) = self.echo.as_mut() else { return Vec::new() };
        let (ok, text) = match check.wrong(binary, data, self.sent.as_ref()) {
            Some(text) => (false, text),
            None => {
                *right += 1;
                if *right < check.count {
                    return vec![Reaction::SendAgain];
                }
                (true, check.ok.clone())
            }
        };
        let logged = check.wirelog == crate::scenario::WirelogSwitch::Logged;
        let snapshot = ok && check.traffic_stats;
        self.obs.echo = Some((ok, text));
        let mut out = if snapshot { vec![Reaction::SnapshotTraffic] } else { Vec::new() };
        out.push(Reaction::Wirelog { on: true, logged });
        out.extend(self.close_first(at, LocalClose { code: Some(REPLY_CODE), reason: None }));
        out
    }

    /// §2.2: close once the received events equal every declared list.
    fn auto_close_code(&self) -> Option<u16> {
        let (code, events) = self.auto_close.as_ref()?;
        let all_met = events.declared().all(|(_, list)| list == self.obs.received.as_slice());
        (all_met && self.state == State::Open).then_some(*code)
    }

    fn ping(&mut self, payload: Vec<u8>) -> Vec<Reaction> {
        if self.state == State::Open { vec![Reaction::Pong(payload)] } else { Vec::new() }
    }

    /// A close frame from the client (§2.5, §2.6).
    fn client_close(&mut self, at: Duration, payload: &[u8]) -> Vec<Reaction> {
        if matches!(self.state, State::Connecting | State::Closed) {
            return Vec::new();
        }
        self.client_closed = true;
        let parsed = ClosePayload::parse(payload);
        self.obs.remote_close_code = parsed.code;
        self.obs.remote_close_reason = parsed.reason_text().filter(|_| payload.len() > 2).map(str::to_owned);
        // A one-byte payload was reported by the caller at the frame's header, as Autobahn does.
        let problem = ClosePayload::problem(payload, self.policy).filter(|p| *p != CloseProblem::OneByte);
        let mut out = match problem {
            Some(problem) => self.fail(at, problem_code(problem), &problem_text(problem)),
            None => Vec::new(),
        };
        if problem.is_some() && self.fail_by_drop {
            // Autobahn stops at the failure: the reason is never read.
            self.obs.remote_close_reason = None;
            return out;
        }
        // Processing continues after a failure (failByDrop is off).
        out.extend(match (self.state, self.role) {
            (State::Closing, Role::Server) => {
                self.obs.was_clean = true;
                self.drop_tcp(true)
            }
            (State::Closing, Role::Client) => {
                // The reply to our close: now the server drops TCP.
                self.obs.was_clean = true;
                self.deadlines.retain(|(_, t)| *t != Timer::CloseHandshake);
                self.arm(at + SERVER_DROP_TIMEOUT, Timer::ServerDrop)
            }
            (State::Open, Role::Server) => {
                self.obs.was_clean = true;
                let mut reply = self.send_close(self.reply.clone());
                reply.extend(self.drop_tcp(false));
                reply
            }
            (State::Open, Role::Client) => {
                self.obs.was_clean = true;
                let reply = self.send_close(self.reply.clone());
                // Autobahn waits for the server's drop with no timer of its
                // own here, bounded by the case's kill timer; a case without
                // one (2.x's closeAfter) would wait forever, so wstap bounds
                // it with the server-drop timer instead.
                if !self.deadlines.iter().any(|(_, t)| *t == Timer::Kill) {
                    self.arm(at + SERVER_DROP_TIMEOUT, Timer::ServerDrop);
                }
                reply
            }
            (State::Closed | State::Connecting, _) => {
                self.obs.was_clean = false;
                Vec::new()
            }
        });
        out
    }
}

fn problem_code(problem: CloseProblem) -> u16 {
    match problem {
        CloseProblem::InvalidUtf8(_) => INVALID_PAYLOAD,
        CloseProblem::OneByte | CloseProblem::InvalidCode(_) => PROTOCOL_ERROR,
    }
}

fn problem_text(problem: CloseProblem) -> String {
    match problem {
        CloseProblem::OneByte => "close frame with payload length 1".into(),
        CloseProblem::InvalidCode(code) => format!("invalid close code {code}"),
        CloseProblem::InvalidUtf8(_) => "invalid close reason (non-UTF-8 payload)".into(),
    }
}
