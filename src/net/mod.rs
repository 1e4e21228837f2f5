//! The network edge: naming upstreams and listen addresses, resolving and
//! connecting them per connection, and refusing loops.
//!
//! Nothing here looks at the bytes of a connection; the relay and the
//! recorder see the same streams they always did.

pub mod connect;
pub mod stream;
pub mod target;

pub use connect::{ConnectError, Connected, LoopGuard, connect};
pub use target::{Host, Listen, Target};
