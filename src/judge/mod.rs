//! Judging a case the way Autobahn|Testsuite's fuzzingserver does. Pure:
//! no sockets, no clocks.
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
//! Keeping the flags separate from the verdict mirrors the report, which
//! shows both, and lets each be tested on its own (the §2.8 matrix checks
//! flags and verdicts row by row in `tests.rs`).

pub mod tracker;
pub mod verdict;

pub use tracker::{Occurrence, Reaction, State, Tracker};
pub use verdict::{Behavior, CloseBehavior, Observation, Verdict, judge, matching_outcome};

#[cfg(test)]
mod tests;
