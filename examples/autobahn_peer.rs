//! tokio-tungstenite as an Autobahn peer, for scripts (`scripts/autobahn-compare`).
//!
//! ```text
//! cargo run --example autobahn_peer -- client ws://127.0.0.1:9001 AGENT [FIRST-LAST]
//! cargo run --example autobahn_peer -- echo [ADDR]     # prints the bound port, then serves
//! ```
//!
//! `client` plays the client under test of a fuzzingserver (Autobahn's or
//! `wstap serve`); `FIRST-LAST` hard-codes the case numbers instead of asking
//! `/getCaseCount`. `echo` is the server under test of a fuzzingclient; it
//! binds 127.0.0.1:0 unless given an address and prints the port on stdout
//! when it is listening. The code is `tests/peers/rust/tungstenite_peer.rs`.

#[path = "../tests/peers/rust/tungstenite_peer.rs"]
mod tungstenite_peer;

use std::process::ExitCode;

fn usage() -> ExitCode {
    eprintln!("usage: autobahn_peer client URL AGENT [FIRST-LAST] | autobahn_peer echo [ADDR]");
    ExitCode::from(2)
}

fn range(text: &str) -> Option<std::ops::RangeInclusive<u32>> {
    let (first, last) = text.split_once('-').unwrap_or((text, text));
    Some(first.parse().ok()?..=last.parse().ok()?)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["client", url, agent, rest @ ..] if rest.len() <= 1 => {
            let cases = match rest.first() {
                Some(text) => match range(text) {
                    Some(r) => Some(r),
                    None => return usage(),
                },
                None => None,
            };
            match tungstenite_peer::fuzzingserver_client(url, agent, cases).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("autobahn_peer: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        ["echo", rest @ ..] if rest.len() <= 1 => {
            let bind = match rest.first().map(|a| a.parse()) {
                None => ([127, 0, 0, 1], 0).into(),
                Some(Ok(addr)) => addr,
                Some(Err(_)) => return usage(),
            };
            match tungstenite_peer::echo_server(bind).await {
                Ok(addr) => {
                    println!("{}", addr.port());
                    std::future::pending::<()>().await;
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("autobahn_peer: cannot bind {bind}: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        _ => usage(),
    }
}
