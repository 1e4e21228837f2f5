//! wstap's integration tests, in one binary (faster to link).
//!
//! Every test uses real peers on loopback port 0: tokio-tungstenite clients
//! and servers, raw TCP peers for malformed traffic, and the real `wstap`
//! binary where signals or exit codes matter.

mod util;

mod against;
mod bad_servers;
mod cli;
mod deflate;
mod deflate_replay;
mod faults;
mod format_v1;
mod forward_proxy;
mod fuzz_regressions;
mod fuzz_servers;
mod har_import;
mod hostile_files;
mod hostile_net;
mod live;
mod oracle;
mod pcap;
mod proxy;
mod pty;
mod record_files;
mod replay;
mod replay_cli;
mod replay_recording;
mod replay_signals;
mod replay_tls;
mod series;
mod serve;
mod show_diff;
mod tls_termination;
mod tlsutil;
mod upstreams;
mod wss;
mod wss_capture;
