//! Diffing two Autobahn-format report directories (what `wstap replay
//! --report` writes, and what the fuzzingserver writes).
//!
//! Cases are paired by id (and agent, when a directory holds several; a
//! directory with one agent pairs with another single-agent directory
//! whatever the names, since v1 and v2 of a client usually report different
//! agent strings). Output: verdict changes (`OK → FAILED`), closing-flag
//! changes, and a unified diff of each case's normalised wire log. The wire
//! log is normalised like a recording: masks become `mask=*`, octet entries
//! (`RO`/`TO`, which carry masked bytes) are dropped unless `segments`, and
//! handshake heads lose their volatile headers.

use super::normalize::keep_header;
use super::{Change, ChangeKind, DiffOptions, DiffOutcome, render, timing};
use serde::Serialize;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Closing flags compared per case, with the words used for them. The
/// fuzzingserver is the server, so "remote" is the client under test.
pub const CLOSING_FLAGS: [(&str, &str); 12] = [
    ("remoteCloseCode", "client close code"),
    ("remoteCloseReason", "client close reason"),
    ("localCloseCode", "server close code"),
    ("localCloseReason", "server close reason"),
    ("closedByMe", "closed by the server (closedByMe)"),
    ("failedByMe", "failed by the server (failedByMe)"),
    ("droppedByMe", "TCP dropped by the server (droppedByMe)"),
    ("wasClean", "clean close (wasClean)"),
    ("wasNotCleanReason", "reason not clean (wasNotCleanReason)"),
    ("wasServerConnectionDropTimeout", "server drop timeout"),
    ("wasOpenHandshakeTimeout", "opening handshake timeout"),
    ("wasCloseHandshakeTimeout", "closing handshake timeout"),
];

/// Why a report directory could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// A file is not valid JSON.
    #[error("{path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The parse error.
        source: serde_json::Error,
    },
    /// The JSON does not have the Autobahn shape.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// A case whose verdict changed (absent on one side: `None`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VerdictChange {
    /// Case id, prefixed by the agent when several agents are compared.
    pub case: String,
    /// `behavior` in A.
    pub before: Option<String>,
    /// `behavior` in B.
    pub after: Option<String>,
}

/// True if `path` is a directory with an `index.json`.
pub fn is_report_dir(path: &Path) -> bool {
    path.join("index.json").is_file()
}

/// Compares report directories `a` and `b`.
pub fn diff_reports(a: &Path, b: &Path, opts: &DiffOptions, color: bool) -> Result<DiffOutcome, ReportError> {
    let (ia, ib) = (read_json(&a.join("index.json"))?, read_json(&b.join("index.json"))?);
    let mut out = DiffOutcome::default();
    let pairs = pair_agents(&ia, &ib).ok_or_else(|| ReportError::Format {
        path: b.join("index.json"),
        message: "no agent to pair with the other directory's".into(),
    })?;
    let several = pairs.len() > 1;
    for (agent_a, agent_b) in pairs {
        let (ca, cb) = (&ia[&agent_a], &ib[&agent_b]);
        for id in case_ids(ca, cb) {
            let label = if several { format!("{agent_a} {id}") } else { id.clone() };
            let dirs = Dirs { a, b };
            diff_case(&mut out, &label, dirs, (ca.get(&id), cb.get(&id)), opts, color)?;
        }
    }
    Ok(out)
}

/// The two report directories.
#[derive(Clone, Copy)]
struct Dirs<'a> {
    a: &'a Path,
    b: &'a Path,
}

fn read_json(path: &Path) -> Result<Value, ReportError> {
    let text = std::fs::read_to_string(path).map_err(|source| ReportError::Io { path: path.into(), source })?;
    let value: Value = serde_json::from_str(&text).map_err(|source| ReportError::Json { path: path.into(), source })?;
    match value.is_object() {
        true => Ok(value),
        false => Err(ReportError::Format { path: path.into(), message: "expected a JSON object".into() }),
    }
}

fn pair_agents(a: &Value, b: &Value) -> Option<Vec<(String, String)>> {
    let (ka, kb) = (a.as_object()?, b.as_object()?);
    if ka.len() == 1 && kb.len() == 1 {
        return Some(vec![(ka.keys().next()?.clone(), kb.keys().next()?.clone())]);
    }
    let common: Vec<_> = ka.keys().filter(|k| kb.contains_key(*k)).map(|k| (k.clone(), k.clone())).collect();
    (!common.is_empty()).then_some(common)
}

/// Case ids of both sides, in numeric order (`7.1.10` after `7.1.9`).
fn case_ids(a: &Value, b: &Value) -> Vec<String> {
    let mut ids: Vec<String> = a.as_object().into_iter().chain(b.as_object()).flat_map(|m| m.keys().cloned()).collect();
    let order = |id: &str| id.split('.').map(|p| p.parse::<u64>().unwrap_or(u64::MAX)).collect::<Vec<_>>();
    ids.sort_by_cached_key(|id| (order(id), id.clone()));
    ids.dedup();
    ids
}

fn text_of(v: Option<&Value>, key: &str) -> Option<String> {
    v?.get(key).map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
}

fn diff_case(
    out: &mut DiffOutcome,
    label: &str,
    dirs: Dirs<'_>,
    entries: (Option<&Value>, Option<&Value>),
    opts: &DiffOptions,
    color: bool,
) -> Result<(), ReportError> {
    let (ea, eb) = entries;
    let (va, vb) = (text_of(ea, "behavior"), text_of(eb, "behavior"));
    if va != vb {
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "missing".into());
        out.changes.push(Change::new(ChangeKind::Verdict, format!("{} → {}", show(&va), show(&vb))).in_case(label));
        out.verdicts.push(VerdictChange { case: label.to_string(), before: va, after: vb });
    }
    let (ca, cb) = (text_of(ea, "behaviorClose"), text_of(eb, "behaviorClose"));
    if ca != cb && ea.is_some() && eb.is_some() {
        let text = format!("closing behaviour {} → {}", ca.unwrap_or_default(), cb.unwrap_or_default());
        out.changes.push(Change::new(ChangeKind::Verdict, text).in_case(label));
    }
    let (Some(ea), Some(eb)) = (ea, eb) else {
        return Ok(());
    };
    let (fa, fb) = (case_file(dirs.a, ea)?, case_file(dirs.b, eb)?);
    compare_cases(out, label, (&fa, &fb), dirs, opts, color);
    Ok(())
}

fn case_file(dir: &Path, entry: &Value) -> Result<(String, Value), ReportError> {
    let name = entry.get("reportfile").and_then(Value::as_str).ok_or_else(|| ReportError::Format {
        path: dir.join("index.json"),
        message: "a case entry has no reportfile".into(),
    })?;
    Ok((name.to_string(), read_json(&dir.join(name))?))
}

fn compare_cases(
    out: &mut DiffOutcome,
    label: &str,
    files: (&(String, Value), &(String, Value)),
    dirs: Dirs<'_>,
    opts: &DiffOptions,
    color: bool,
) {
    let ((name_a, a), (name_b, b)) = files;
    let before = out.changes.len();
    for (key, words) in CLOSING_FLAGS {
        let (x, y) = (a.get(key).unwrap_or(&Value::Null), b.get(key).unwrap_or(&Value::Null));
        if x != y {
            out.changes.push(Change::new(ChangeKind::Verdict, format!("{words} {x} → {y}")).in_case(label));
        }
    }
    if let Some(tol) = opts.timing {
        out.changes.extend(duration_change(a, b, tol).map(|c| c.in_case(label)));
    }
    let (la, lb) = (wire_lines(a, opts), wire_lines(b, opts));
    // The headers name the two files, under the directories as given.
    let (path_a, path_b) = (dirs.a.join(name_a).display().to_string(), dirs.b.join(name_b).display().to_string());
    let diff = render::unified(&la, &lb, (&path_a, &path_b), color);
    out.timed_out |= diff.timed_out;
    if la != lb && out.changes.len() == before {
        out.changes.push(render::generic_change(&diff).in_case(label));
    }
    out.unified.push_str(&diff.plain);
    if let Some(c) = diff.colored {
        out.colored.get_or_insert_with(String::new).push_str(&c);
    }
}

fn duration_change(a: &Value, b: &Value, tolerance: Duration) -> Option<Change> {
    let (da, db) = (a.get("duration")?.as_u64()? * 1000, b.get("duration")?.as_u64()? * 1000);
    (da.abs_diff(db) > tolerance.as_micros() as u64).then(|| {
        let text = format!("the case now takes {} instead of {}", timing::show(db), timing::show(da));
        Change::new(ChangeKind::Timing, text)
    })
}

/// The normalised wire log of one per-case report.
pub fn wire_lines(case: &Value, opts: &DiffOptions) -> Vec<String> {
    let mut lines = Vec::new();
    for (key, dir) in [("httpRequest", "c2s"), ("httpResponse", "s2c")] {
        head_lines(&mut lines, dir, case.get(key).and_then(Value::as_str).unwrap_or("?"), opts);
    }
    let log = case.get("wirelog").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    lines.extend(log.iter().filter_map(|e| entry_line(e, opts)));
    let dropped = if case.get("droppedByMe").and_then(Value::as_bool) == Some(true) { "me" } else { "peer" };
    lines.push(format!("tcp dropped by {dropped}"));
    lines
}

fn head_lines(lines: &mut Vec<String>, dir: &str, head: &str, opts: &DiffOptions) {
    let mut it = head.lines().map(str::trim_end).filter(|l| !l.is_empty());
    lines.push(format!("{dir} http {}", super::normalize::start_line(it.next().unwrap_or("?"))));
    for header in it {
        let (name, value) = header.split_once(':').unwrap_or((header, ""));
        if let Some(value) = keep_header(name.trim(), value.trim(), &opts.ignore_headers) {
            lines.push(format!("{dir} header {}: {value}", name.trim()));
        }
    }
}

/// One wirelog entry as a line, or `None` if it is dropped.
fn entry_line(entry: &Value, opts: &DiffOptions) -> Option<String> {
    let items = entry.as_array()?;
    let tag = items.first()?.as_str()?;
    let len = || items.get(1).and_then(|p| p.get(0)).cloned().unwrap_or(Value::Null);
    match tag {
        "RF" => Some(format!("c2s frame {}", frame_fields(items, String::new()))),
        "TF" => Some(format!("s2c frame {}", frame_fields(items, tx_extras(items, opts)))),
        "RO" => opts.segments.then(|| format!("c2s read {}", len())),
        "TO" => opts.segments.then(|| format!("s2c write {}", len())),
        _ => Some(format!("event {}", items.iter().map(Value::to_string).collect::<Vec<_>>().join(" "))),
    }
}

/// `text fin=1 rsv=0 len=5 mask=*{extras} "hello"` from
/// `[tag, [len, text], opcode, fin, rsv, mask, …]`.
fn frame_fields(items: &[Value], extras: String) -> String {
    let payload = items.get(1).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let op = items.get(2).and_then(Value::as_u64).map_or("?".into(), |o| crate::wire::OpCode::new(o as u8).name());
    let fin = u8::from(items.get(3).and_then(Value::as_bool).unwrap_or(false));
    let rsv = items.get(4).cloned().unwrap_or(Value::Null);
    let len = payload.first().cloned().unwrap_or(Value::Null);
    let text = payload.get(1).cloned().unwrap_or(Value::Null);
    let mask = masked(items.get(5));
    format!("{op} fin={fin} rsv={rsv} len={len}{mask}{extras} {text}")
}

/// ` mask=*` for masked frames (RF: bool; TF: mask hex or null).
fn masked(field: Option<&Value>) -> &'static str {
    match field {
        Some(Value::Bool(true)) | Some(Value::String(_)) => " mask=*",
        _ => " unmasked",
    }
}

/// TF's repeat length always, its chop size and sync only with `segments`.
fn tx_extras(items: &[Value], opts: &DiffOptions) -> String {
    let mut out = String::new();
    if let Some(n) = items.get(6).filter(|v| !v.is_null()) {
        out.push_str(&format!(" repeat={n}"));
    }
    if opts.segments {
        let chop = items.get(7).cloned().unwrap_or(Value::Null);
        let sync = items.get(8).cloned().unwrap_or(Value::Null);
        out.push_str(&format!(" chop={chop} sync={sync}"));
    }
    out
}

/// The verdict table: case, verdict in A, verdict in B.
pub fn verdict_table(verdicts: &[VerdictChange]) -> String {
    let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "missing".into());
    let width = |f: &dyn Fn(&VerdictChange) -> String, title: &str| {
        verdicts.iter().map(|v| f(v).len()).max().unwrap_or(0).max(title.len())
    };
    let (wc, wa) = (width(&|v| v.case.clone(), "case"), width(&|v| show(&v.before), "a"));
    let mut out = format!("{:wc$}  {:wa$}  b\n", "case", "a");
    for v in verdicts {
        out.push_str(&format!("{:wc$}  {:wa$}  {}\n", v.case, show(&v.before), show(&v.after)));
    }
    out
}
