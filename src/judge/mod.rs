//! Judging a case the way Autobahn|Testsuite's fuzzingserver (or, with
//! [`Role::Client`], its fuzzingclient) does. Pure: no sockets, no clocks.
//!
//! Two halves, used in this order by a replay engine:
//! 1. [`Tracker`]: fed the connection's timeline ([`Occurrence`]s with
//!    times), it answers with [`Reaction`]s (close replies, drops, pongs,
//!    the automatic close) and finally yields an [`Observation`]: the
//!    report flags `closedByMe`, `failedByMe`, `droppedByMe`, `wasClean`, …
//!    (§2.5–2.6 of the reference).
//! 2. [`judge`]: expectations plus observation give the [`Verdict`]
//!    (`behavior`, `behaviorClose`, `result`, `resultClose`, §2.3–2.4).
//!
//! How an engine drives a case (times are since TCP accept):
//! - after writing the 101: `apply(t, Opened)`;
//! - for each [`crate::scenario::Step`]: `Send`/`Raw` are written as is;
//!   `Close { close, .. }` becomes `apply(t, Occurrence::Close(close))` and
//!   its bytes are written only if that returns [`Reaction::SendClose`];
//!   `KillAfter` becomes [`Occurrence::KillAfter`]; `Wait` polls
//!   [`crate::scenario::WaitFor::is_met`] with [`Tracker::received`] and
//!   [`Tracker::client_closed`];
//! - for each complete client message, pong, ping, close frame or
//!   violation decoded by [`crate::wire`]: the matching [`Occurrence`];
//! - when idle, sleep until [`Tracker::next_deadline`] and call
//!   [`Tracker::advance`];
//! - carry out every [`Reaction`] in order (a close frame's bytes are
//!   [`crate::scenario::LocalClose::send`]);
//! - once TCP is gone: [`Tracker::finish`], then [`judge`].
//!
//! Keeping the flags separate from the verdict mirrors the report, which
//! shows both, and lets each be tested on its own (the §2.8 matrix checks
//! flags and verdicts row by row in `tests.rs`).

pub mod tracker;
pub mod verdict;

pub use tracker::{Fired, Occurrence, Reaction, Role, State, Tracker};
pub use verdict::{Behavior, CloseBehavior, Observation, Verdict, judge, matching_outcome};

#[cfg(test)]
mod client_tests;
#[cfg(test)]
mod tests;
