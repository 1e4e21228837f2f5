//! Autobahn's `fuzzingserver.json`, as libraries keep it, for `wstap serve
//! --spec` and `wstap replay --spec`; and its `fuzzingclient.json` for
//! `wstap fuzz --spec` ([`load_client`]).
//!
//! Read: `url` (the listen address: `ws://HOST:PORT`), `outdir` (the report
//! directory), `cases` and `exclude-cases` (Autobahn's patterns; numbering
//! as in Autobahn), `exclude-agent-cases` (`{agentPattern: [casePattern]}`,
//! see [`crate::replay::exclude`]) and `options.failByDrop` (Autobahn's
//! protocol option: the fuzzer fails a connection by dropping TCP instead
//! of closing). Every other key, and every other option, is named in a
//! warning and ignored: `protocols` and `key`/`cert` are Autobahn's but
//! not carried out (`--tls` is wstap's way to wss); `webport` and the rest
//! have no meaning here. Errors name the file and what was expected.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::replay::exclude::AgentExclusions;

/// What a spec file sets.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Spec {
    /// From `url`.
    pub listen: Option<SocketAddr>,
    /// From `outdir`.
    pub outdir: Option<PathBuf>,
    /// From `cases`; empty means all.
    pub cases: Vec<String>,
    /// From `exclude-cases`.
    pub exclude: Vec<String>,
    /// From `exclude-agent-cases`.
    pub exclude_agent: AgentExclusions,
    /// From `options.failByDrop` (Autobahn's fuzzingserver forces false,
    /// then applies `options`).
    pub fail_by_drop: Option<bool>,
    /// One line per key that is ignored, saying why.
    pub warnings: Vec<String>,
}

/// Keys Autobahn reads that wstap does not carry out.
const NOT_CARRIED_OUT: [&str; 3] = ["protocols", "key", "cert"];

/// Reads and checks a spec file.
pub fn load(path: &Path) -> Result<Spec, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Parses a spec's JSON text.
pub fn parse(text: &str) -> Result<Spec, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(map) = value else { return Err("expected a JSON object".into()) };
    let mut spec = Spec::default();
    for (key, value) in &map {
        match key.as_str() {
            "url" => spec.listen = Some(listen_of(value)?),
            "outdir" => {
                let dir = value.as_str().ok_or("expected outdir to be a string")?;
                spec.outdir = Some(PathBuf::from(dir));
            }
            "cases" => spec.cases = patterns(key, value)?,
            "exclude-cases" => spec.exclude = patterns(key, value)?,
            "exclude-agent-cases" => spec.exclude_agent = agent_exclusions(value)?,
            "options" => options(value, &mut spec)?,
            k if NOT_CARRIED_OUT.contains(&k) => {
                spec.warnings.push(format!("{k:?} is not carried out by wstap (see --tls for wss); ignored"))
            }
            k => spec.warnings.push(format!("unknown key {k:?}; ignored")),
        }
    }
    if spec.cases == ["*"] {
        spec.cases.clear();
    }
    Ok(spec)
}

/// `{agentPattern: [casePattern, ...]}`.
fn agent_exclusions(value: &Value) -> Result<AgentExclusions, String> {
    let expected = "expected exclude-agent-cases to be an object of agent pattern -> list of case patterns";
    let map = value.as_object().ok_or(expected)?;
    let rules = map
        .iter()
        .map(|(agent, cases)| Ok((agent.clone(), patterns(&format!("exclude-agent-cases[{agent:?}]"), cases)?)));
    Ok(AgentExclusions::new(rules.collect::<Result<_, String>>()?))
}

/// Autobahn's protocol options: `failByDrop` is carried out, the others
/// are named in a warning.
fn options(value: &Value, spec: &mut Spec) -> Result<(), String> {
    let map = value.as_object().ok_or("expected options to be an object (Autobahn's protocol options)")?;
    for (key, value) in map {
        match key.as_str() {
            "failByDrop" => {
                let on = value.as_bool().ok_or("expected options.failByDrop to be true or false")?;
                spec.fail_by_drop = Some(on);
            }
            k => spec.warnings.push(format!("option {k:?} is not carried out by wstap; ignored")),
        }
    }
    Ok(())
}

/// What a fuzzingclient spec sets.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ClientSpec {
    /// From `servers`: each one's `url` and `agent` (when given), in order.
    pub servers: Vec<(String, Option<String>)>,
    /// From `outdir`.
    pub outdir: Option<PathBuf>,
    /// From `cases`; empty means all.
    pub cases: Vec<String>,
    /// From `exclude-cases`.
    pub exclude: Vec<String>,
    /// One line per key that is ignored, saying why.
    pub warnings: Vec<String>,
}

/// Reads and checks a fuzzingclient spec file.
pub fn load_client(path: &Path) -> Result<ClientSpec, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse_client(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Parses a fuzzingclient spec's JSON text: `servers` (`[{agent, url,
/// options}]`), `outdir`, `cases`, `exclude-cases`; the rest is warned about.
pub fn parse_client(text: &str) -> Result<ClientSpec, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(map) = value else { return Err("expected a JSON object".into()) };
    let mut spec = ClientSpec::default();
    for (key, value) in &map {
        match key.as_str() {
            "servers" => spec.servers = servers(value, &mut spec.warnings)?,
            "outdir" => spec.outdir = Some(PathBuf::from(value.as_str().ok_or("expected outdir to be a string")?)),
            "cases" => spec.cases = patterns(key, value)?,
            "exclude-cases" => spec.exclude = patterns(key, value)?,
            "exclude-agent-cases" | "options" if value.as_object().is_some_and(|m| m.is_empty()) => {}
            "exclude-agent-cases" | "options" => {
                spec.warnings.push(format!("{key:?} is not carried out by wstap fuzz yet; ignored"))
            }
            k => spec.warnings.push(format!("unknown key {k:?}; ignored")),
        }
    }
    if !map.contains_key("servers") {
        return Err("expected a \"servers\" list: [{\"agent\": \"...\", \"url\": \"ws://...\"}]".into());
    }
    if spec.cases == ["*"] {
        spec.cases.clear();
    }
    Ok(spec)
}

fn servers(value: &Value, warnings: &mut Vec<String>) -> Result<Vec<(String, Option<String>)>, String> {
    let list = value.as_array().ok_or("expected servers to be a list of {\"agent\", \"url\"} objects")?;
    let mut out = Vec::new();
    for (i, server) in list.iter().enumerate() {
        let at = format!("servers[{i}]");
        let obj = server.as_object().ok_or_else(|| format!("{at}: expected an object with \"url\""))?;
        let url = obj.get("url").and_then(Value::as_str).ok_or_else(|| format!("{at}: expected \"url\" (a string)"))?;
        let agent = match obj.get("agent") {
            None | Some(Value::Null) => None,
            Some(Value::String(a)) => Some(a.clone()),
            Some(_) => return Err(format!("{at}: expected \"agent\" to be a string")),
        };
        for (key, value) in obj {
            match key.as_str() {
                "url" | "agent" => {}
                "options" if value.as_object().is_some_and(|m| m.is_empty()) => {}
                k @ ("options" | "hostname" | "origin" | "protocols") => {
                    warnings.push(format!("{at}: {k:?} is not carried out by wstap fuzz yet; ignored"))
                }
                k => warnings.push(format!("{at}: unknown key {k:?}; ignored")),
            }
        }
        out.push((url.to_owned(), agent));
    }
    Ok(out)
}

fn patterns(key: &str, value: &Value) -> Result<Vec<String>, String> {
    let expected = || format!("expected {key} to be a list of case patterns (strings)");
    let list = value.as_array().ok_or_else(expected)?;
    list.iter().map(|p| p.as_str().map(str::to_owned).ok_or_else(expected)).collect()
}

/// `ws://HOST:PORT[/]` as the address to listen on.
fn listen_of(value: &Value) -> Result<SocketAddr, String> {
    let url = value.as_str().ok_or("expected url to be a string like ws://127.0.0.1:9001")?;
    let rest = url
        .strip_prefix("ws://")
        .ok_or_else(|| format!("expected url to start with ws:// (wss:// is `serve --tls`), got {url:?}"))?;
    let host_port = rest.trim_end_matches('/');
    let with_port = if host_port.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) {
        host_port.to_owned()
    } else {
        format!("{host_port}:80")
    };
    with_port
        .to_socket_addrs()
        .map_err(|e| format!("url {url:?}: {e}"))?
        .next()
        .ok_or_else(|| format!("url {url:?}: no address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_library_spec_reads_and_names_what_it_ignores() {
        let text = r#"{"url": "ws://127.0.0.1:9001", "outdir": "./reports/clients",
            "cases": ["*"], "exclude-cases": ["9.*", "12.*"], "exclude-agent-cases": {},
            "options": {"failByDrop": false, "version": 18}, "webport": 8080, "protocols": []}"#;
        let spec = parse(text).unwrap();
        assert_eq!(spec.listen, Some("127.0.0.1:9001".parse().unwrap()));
        assert_eq!(spec.outdir, Some(PathBuf::from("./reports/clients")));
        assert!(spec.cases.is_empty(), "[\"*\"] is all");
        assert_eq!(spec.exclude, ["9.*", "12.*"]);
        assert_eq!(spec.fail_by_drop, Some(false));
        assert!(spec.exclude_agent.is_empty());
        assert_eq!(spec.warnings.len(), 3, "{:?}", spec.warnings);
        assert!(spec.warnings.iter().any(|w| w.contains("option \"version\" is not carried out")));
        assert!(spec.warnings.iter().any(|w| w.contains("\"protocols\" is not carried out")));
        assert!(spec.warnings.iter().any(|w| w.contains("unknown key \"webport\"")));
    }

    #[test]
    fn exclude_agent_cases_and_fail_by_drop_are_read() {
        let spec =
            parse(r#"{"exclude-agent-cases": {"node*": ["9.*", "6.4.1"]}, "options": {"failByDrop": true}}"#).unwrap();
        assert!(spec.warnings.is_empty(), "{:?}", spec.warnings);
        assert_eq!(spec.fail_by_drop, Some(true));
        assert!(spec.exclude_agent.excludes("node ws", "9.2.1"));
        assert!(!spec.exclude_agent.excludes("python", "9.2.1"));
    }

    #[test]
    fn a_fuzzingclient_spec_reads_servers_and_names_what_it_ignores() {
        let text = r#"{"outdir": "./reports/servers", "options": {"failByDrop": false},
            "servers": [{"agent": "tungstenite", "url": "ws://127.0.0.1:9002", "options": {}},
                        {"url": "ws://localhost:9003/echo", "hostname": "x"}],
            "cases": ["7.*"], "exclude-cases": ["7.1.6"], "exclude-agent-cases": {}, "webport": 1}"#;
        let spec = parse_client(text).unwrap();
        assert_eq!(
            spec.servers,
            [
                ("ws://127.0.0.1:9002".to_owned(), Some("tungstenite".to_owned())),
                ("ws://localhost:9003/echo".to_owned(), None)
            ]
        );
        assert_eq!(
            (spec.outdir, spec.cases, spec.exclude),
            (Some("./reports/servers".into()), vec!["7.*".to_owned()], vec!["7.1.6".to_owned()])
        );
        assert_eq!(spec.warnings.len(), 3, "{:?}", spec.warnings);
        assert!(spec.warnings.iter().any(|w| w.contains("\"options\" is not carried out by wstap fuzz")));
        assert!(spec.warnings.iter().any(|w| w.contains("servers[1]: \"hostname\"")));
        assert!(spec.warnings.iter().any(|w| w.contains("unknown key \"webport\"")));
        assert!(parse_client("{}").unwrap_err().contains("\"servers\""));
        assert!(parse_client(r#"{"servers": [{"agent": "a"}]}"#).unwrap_err().contains("servers[0]: expected \"url\""));
        assert!(parse_client(r#"{"servers": "ws://x"}"#).unwrap_err().contains("list"));
    }

    #[test]
    fn bad_specs_say_what_was_expected() {
        assert!(parse("[]").unwrap_err().contains("JSON object"));
        assert!(parse(r#"{"cases": "7.*"}"#).unwrap_err().contains("list of case patterns"));
        assert!(parse(r#"{"url": "http://x:1"}"#).unwrap_err().contains("ws://"));
        assert!(parse("{").unwrap_err().starts_with("not JSON"));
        let agents = parse(r#"{"exclude-agent-cases": ["7.*"]}"#).unwrap_err();
        assert!(agents.contains("agent pattern -> list of case patterns"), "{agents}");
        let cases = parse(r#"{"exclude-agent-cases": {"a": "7.*"}}"#).unwrap_err();
        assert!(cases.contains("exclude-agent-cases[\"a\"] to be a list"), "{cases}");
        assert!(parse(r#"{"options": {"failByDrop": "yes"}}"#).unwrap_err().contains("true or false"));
        assert!(parse(r#"{"options": []}"#).unwrap_err().contains("options to be an object"));
    }
}
