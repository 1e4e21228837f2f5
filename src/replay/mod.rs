//! Replay: wstap acts as Autobahn|Testsuite's fuzzingserver towards a real
//! client, one case per connection, and judges what the client does; and,
//! from the same scenarios, as its fuzzingclient towards a real server
//! (`wstap fuzz`, [`as_client`]).
//!
//! Layout:
//! - [`wire_io`]: one accepted connection as the fuzzer sees it: every read
//!   (`RO`) and write (`TO`) logged, counted, and saved as a recording;
//! - [`case_report`]: the Autobahn report of a case from its pieces;
//! - [`inbound`]: the client's bytes decoded into what the judge consumes;
//! - [`engine`]: one case on one connection, in either role: the plan, the
//!   timers, the [`crate::judge::Tracker`], and the [`CaseReport`] at the end;
//! - [`as_client`]: the client role's handshake and entry points;
//! - [`from_recording`]: a `wstap record` recording turned into a case;
//! - [`catalogue`]: the shipped scenarios and loading of PATH arguments;
//! - [`runner`]: many cases, `--jobs` at a time, each with its own port and
//!   (optionally) its own client process, stopped early on SIGINT/SIGTERM;
//! - [`client`]: the client command as a process group;
//! - [`fuzz`]: many cases as the client against servers (`wstap fuzz`);
//! - [`output`]: the summary table, JUnit, report directory;
//! - [`serve`]: Autobahn's URL protocol (`/runCase`, `/updateReports`, …).
//!
//! Contracts:
//! - A case's outcome is decided by the tracker and [`crate::judge::judge`]
//!   only; the engine carries out reactions and never judges by itself,
//!   except when no WebSocket connection happened at all (a client that
//!   never connects or a command that fails), which is a `FAILED` case
//!   with the reason as its result text.
//! - The engine never sleeps except until a timer or a scenario delay: a
//!   client that closes promptly finishes its case promptly.

pub mod against;
pub mod as_client;
pub mod case_report;
pub mod catalogue;
pub mod client;
pub mod engine;
pub mod exclude;
pub mod from_recording;
pub mod fuzz;
pub mod inbound;
pub mod output;
pub mod runner;
pub mod serve;
pub mod walk;
pub mod wire_io;

use std::path::PathBuf;

use crate::report::CaseReport;
use crate::scenario::{LocalClose, Scenario};
use crate::wire::CodePolicy;

/// The `Server` header of the 101 response (Autobahn sends
/// `AutobahnTestSuite/<version>-0.10.9`).
pub const SERVER_HEADER: &str = concat!("wstap/", env!("CARGO_PKG_VERSION"));
/// The `X-Powered-By` header of the 101 response (Autobahn sends
/// `AutobahnPython/0.10.9`).
pub const POWERED_BY_HEADER: &str = concat!("wstap-replay/", env!("CARGO_PKG_VERSION"));

/// How the 101 response is built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Response {
    /// Autobahn's header set and order: `Server`, `X-Powered-By`,
    /// `Upgrade: WebSocket`, `Connection: Upgrade`, `Sec-WebSocket-Accept`,
    /// then the scenario's own handshake headers.
    Autobahn,
    /// A recorded response: these header lines in order, with
    /// `Sec-WebSocket-Accept` recomputed for the new key.
    Recorded(Vec<(String, String)>),
}

/// One runnable case.
#[derive(Clone, Debug)]
pub struct Case {
    /// What the server does and expects.
    pub scenario: Scenario,
    /// Autobahn's `case=N` number (1-based over the selected cases).
    pub number: u32,
    /// The 101 response.
    pub response: Response,
    /// The file it came from.
    pub origin: PathBuf,
    /// What a case made from a recording reproduces besides its scenario
    /// (empty for scenario files).
    pub fixture: Fixture,
}

/// What a case derived from a recording reproduces of the recorded
/// connection beyond the scenario, so that replaying a fixture to a client
/// that behaves as recorded observes what was recorded (README workflow 3).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fixture {
    /// The recorded request target (`/chat?room=1`): the client is given
    /// this URL path instead of `/runCase?case=N&agent=A`.
    pub request_target: Option<String>,
    /// The played side's recorded reply to a close the peer sent first,
    /// sent instead of Autobahn's plain 1000 (the server's reply to the
    /// client, or with `--against` the client's reply to the server).
    pub close_reply: Option<LocalClose>,
    /// The recorded upgrade request, sent with a new key and `Host` when
    /// the case plays the client side (`replay --against`).
    pub request: Option<against::RecordedRequest>,
    /// The permessage-deflate parameters the recorded server agreed to
    /// (`replay --against`): the recorded client's compressed messages are
    /// sent as recorded only under the same agreement.
    pub deflate: Option<crate::wire::DeflateParams>,
}

/// Settings shared by every case of a run.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The client's name in reports (`agent`).
    pub agent: String,
    /// Where to save what each case observed as a recording, if anywhere.
    pub record_dir: Option<PathBuf>,
    /// Which close codes the fuzzer accepts from the client.
    pub policy: CodePolicy,
    /// Fault rules for the server's side (`replay --fault`); a case's
    /// connection number is its case number.
    pub faults: std::sync::Arc<crate::fault::Plan>,
    /// Autobahn's `failByDrop` option (off, as the fuzzingserver forces
    /// it): the fuzzer fails a connection by dropping TCP at once instead
    /// of sending a close, and stops reading.
    pub fail_by_drop: bool,
    /// The spec's `exclude-agent-cases` (`serve`: such a case is accepted
    /// and closed at once, storing no result).
    pub exclude_agent: exclude::AgentExclusions,
}

impl Settings {
    /// Settings with Autobahn's code policy and no recordings.
    pub fn new(agent: impl Into<String>) -> Settings {
        Settings {
            agent: agent.into(),
            record_dir: None,
            policy: CodePolicy::Autobahn,
            faults: Default::default(),
            fail_by_drop: false,
            exclude_agent: Default::default(),
        }
    }
}

/// What one case produced.
#[derive(Clone, Debug)]
pub struct CaseRun {
    /// The Autobahn report (verdicts, flags, wire log).
    pub report: CaseReport,
    /// The recording of what was observed, if one was saved.
    pub recording: Option<PathBuf>,
}

impl CaseRun {
    /// True when the case passes: `behavior` is OK, NON-STRICT or
    /// INFORMATIONAL and `behaviorClose` is not FAILED or UNCLEAN (no red
    /// cell in Autobahn's index).
    pub fn passed(&self) -> bool {
        passed(&self.report)
    }
}

/// See [`CaseRun::passed`].
pub fn passed(report: &CaseReport) -> bool {
    use crate::report::{Behavior, CloseBehavior};
    let behavior_ok = matches!(report.behavior, Behavior::Ok | Behavior::NonStrict | Behavior::Informational);
    behavior_ok && !matches!(report.behavior_close, CloseBehavior::Failed | CloseBehavior::Unclean)
}
