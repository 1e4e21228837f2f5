//! Integration-style tests of export and import, kept inside the crate so
//! the crate keeps a single integration-test binary.
//!
//! - [`fixtures`]: a WebSocket conversation, frame encoding, raw pcap
//!   building and link-type rewriting;
//! - `export`: what tshark makes of our files (skipped without tshark);
//! - `import`: round trips and damaged captures, built in memory;
//! - `live`: captures made by tcpdump/dumpcap on the loopback interface.

mod export;
mod fixtures;
mod import;
mod live;
