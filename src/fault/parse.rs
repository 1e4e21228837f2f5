//! The rule language: `DIR TRIGGER ACTION [OPTION…]`, words separated by
//! spaces, values after `=`, strings in double quotes (`\"` and `\\`
//! escaped). Errors name the column of the word at fault and what was
//! expected; [`parse_file`] adds the line of a `--faults` file.

use super::{Action, Chance, Ending, Injected, Rule, Trigger};
use crate::wire::{Direction, OpCode};
use std::fmt;
use std::time::Duration;

/// A rule that could not be parsed: where, and what was expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// The rule's text.
    pub rule: String,
    /// Line of the rule in its file (1-based), for `--faults`.
    pub line: Option<usize>,
    /// Column of the offending word in the rule (1-based, in characters).
    pub column: usize,
    /// What is wrong and what was expected.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}, ")?;
        }
        if self.rule.is_empty() {
            return write!(f, "column {}: {}", self.column, self.message);
        }
        let shown = crate::escape::line(&self.rule);
        let caret = " ".repeat(self.column.saturating_sub(1));
        write!(f, "column {}: {}\n  {shown}\n  {caret}^", self.column, self.message)
    }
}

impl std::error::Error for ParseError {}

/// One word of a rule: its text (quotes removed) and column.
struct Word {
    key: String,
    value: Option<String>,
    column: usize,
}

type Res<T> = Result<T, (usize, String)>;

/// Parses one rule.
pub fn parse_rule(text: &str) -> Result<Rule, ParseError> {
    let fail = |(column, message)| ParseError { rule: text.to_string(), line: None, column, message };
    let words = words(text).map_err(fail)?;
    rule(text, &words).map_err(fail)
}

/// Parses a `--faults` file: a YAML list of rule strings.
pub fn parse_file(text: &str) -> Result<Vec<Rule>, ParseError> {
    let items: Vec<String> = match serde_yaml::from_str::<Option<Vec<String>>>(text) {
        Ok(items) => items.unwrap_or_default(),
        Err(e) => {
            let line = e.location().map(|l| l.line());
            let column = e.location().map_or(1, |l| l.column());
            let message = format!("not a YAML list of rule strings: {e}");
            return Err(ParseError { rule: String::new(), line, column, message });
        }
    };
    let lines = item_lines(text);
    items
        .iter()
        .enumerate()
        .map(|(i, item)| parse_rule(item).map_err(|e| ParseError { line: lines.get(i).copied(), ..e }))
        .collect()
}

/// The line of each top-level `- ` item of a YAML block list.
fn item_lines(text: &str) -> Vec<usize> {
    let items = text.lines().enumerate().filter(|(_, l)| l.starts_with('-'));
    items.map(|(i, _)| i + 1).collect()
}

fn words(text: &str) -> Res<Vec<Word>> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let column = i + 1;
        let mut word = String::new();
        let mut quoted = false;
        while i < chars.len() && (quoted || !chars[i].is_whitespace()) {
            match chars[i] {
                '"' => quoted = !quoted,
                '\\' if quoted && i + 1 < chars.len() => {
                    i += 1;
                    word.push(if chars[i] == '"' { '\u{0}' } else { chars[i] });
                }
                c => word.push(c),
            }
            i += 1;
        }
        if quoted {
            return Err((column, "a string is not closed (missing \")".into()));
        }
        let (key, value) = match word.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.replace('\u{0}', "\""))),
            None => (word.replace('\u{0}', "\""), None),
        };
        out.push(Word { key, value, column });
    }
    Ok(out)
}

const DIRS: &str = "c2s or s2c";
const TRIGGERS: &str = "frame=N, message=N, first=OPCODE, text=\"…\", bytes=N, after=DURATION or every";
const ACTIONS: &str = "drop, delay=DURATION, cut=fin|rst, rst, fin, hold, close-code=CODE|none, \
                       inject-before=FRAME, inject-after=FRAME or slice=N";

fn rule(text: &str, words: &[Word]) -> Res<Rule> {
    let end = text.chars().count() + 1;
    let dir_word = words.first().ok_or((1, format!("empty rule; expected a direction ({DIRS})")))?;
    let dir = match (dir_word.key.as_str(), &dir_word.value) {
        ("c2s", None) => Direction::ClientToServer,
        ("s2c", None) => Direction::ServerToClient,
        _ => return Err((dir_word.column, format!("expected a direction ({DIRS})"))),
    };
    let t = words.get(1).ok_or((end, format!("expected a trigger ({TRIGGERS})")))?;
    let trigger = trigger(t)?;
    let a = words.get(2).ok_or((end, format!("expected an action ({ACTIONS})")))?;
    let mut action = action(a)?;
    let mut chance = None;
    for w in &words[3..] {
        option(w, &mut action, &mut chance)?;
    }
    Ok(Rule { dir, trigger, action, chance, spec: text.trim().to_string() })
}

fn trigger(w: &Word) -> Res<Trigger> {
    let value = || w.value.as_deref().ok_or((w.column, format!("{} needs a value ({}=…)", w.key, w.key)));
    Ok(match w.key.as_str() {
        "frame" => Trigger::Frame(count(w, value()?)?),
        "message" => Trigger::Message(count(w, value()?)?),
        "first" => Trigger::First(opcode(w, value()?)?),
        "text" if value()?.is_empty() => return Err((w.column, "text= needs a non-empty string".into())),
        "text" => Trigger::Text(value()?.to_string()),
        "bytes" => Trigger::Bytes(number(w, value()?)?),
        "after" => Trigger::After(duration(w, value()?)?),
        "every" if w.value.is_none() => Trigger::Every,
        _ => return Err((w.column, format!("unknown trigger {:?}; expected {TRIGGERS}", w.key))),
    })
}

fn action(w: &Word) -> Res<Action> {
    let value = || w.value.as_deref().ok_or((w.column, format!("{} needs a value ({}=…)", w.key, w.key)));
    let bare = |a: Action| if w.value.is_some() { Err((w.column, format!("{} takes no value", w.key))) } else { Ok(a) };
    match w.key.as_str() {
        "drop" => bare(Action::Drop),
        "rst" => bare(Action::End(Ending::Rst)),
        "fin" => bare(Action::End(Ending::Fin)),
        "hold" => bare(Action::End(Ending::Hold)),
        "delay" => Ok(Action::Delay(duration(w, value()?)?)),
        "cut" => match value()? {
            "fin" => Ok(Action::Cut { keep: None, end: Ending::Fin }),
            "rst" => Ok(Action::Cut { keep: None, end: Ending::Rst }),
            _ => Err((w.column, "cut= takes fin or rst".into())),
        },
        "close-code" => Ok(Action::CloseCode { code: close_code(w, value()?)?, reason: None }),
        "inject-before" => Ok(Action::Inject { what: injected(w, value()?)?, after: false }),
        "inject-after" => Ok(Action::Inject { what: injected(w, value()?)?, after: true }),
        "slice" => match number(w, value()?)? {
            0 => Err((w.column, "slice= needs at least 1 byte per write".into())),
            n => Ok(Action::Slice { size: n as usize, gap: Duration::ZERO, aligned: false }),
        },
        _ => Err((w.column, format!("unknown action {:?}; expected {ACTIONS}", w.key))),
    }
}

fn option(w: &Word, action: &mut Action, chance: &mut Option<Chance>) -> Res<()> {
    let value = || w.value.as_deref().ok_or((w.column, format!("{} needs a value ({}=…)", w.key, w.key)));
    let wrong = |what: &str| Err((w.column, format!("{} applies only to {what}", w.key)));
    match (w.key.as_str(), action) {
        ("p", _) => {
            let p: f64 = value()?.parse().map_err(|_| (w.column, "p= takes a probability from 0 to 1".to_string()))?;
            if !(0.0..=1.0).contains(&p) {
                return Err((w.column, "p= takes a probability from 0 to 1".into()));
            }
            chance.get_or_insert(Chance { p, seed: 0 }).p = p;
        }
        ("seed", _) => {
            let seed = number(w, value()?)?;
            chance.get_or_insert(Chance { p: 1.0, seed }).seed = seed;
        }
        ("reason", Action::CloseCode { code, reason }) => {
            if code.is_none() {
                return Err((w.column, "close-code=none sends an empty close: it has no reason".into()));
            }
            let r = value()?;
            if r.len() > 123 {
                return Err((w.column, "a close reason is at most 123 bytes".into()));
            }
            *reason = Some(r.to_string());
        }
        ("reason", _) => return wrong("close-code"),
        ("at", Action::Cut { keep, .. }) => *keep = Some(number(w, value()?)?),
        ("at", _) => return wrong("cut"),
        ("gap", Action::Slice { gap, .. }) => *gap = duration(w, value()?)?,
        ("aligned", Action::Slice { aligned, .. }) if w.value.is_none() => *aligned = true,
        ("gap" | "aligned", _) => return wrong("slice"),
        _ => {
            return Err((
                w.column,
                format!("unknown option {:?}; expected p=, seed=, reason=, at=, gap= or aligned", w.key),
            ));
        }
    }
    Ok(())
}

fn number(w: &Word, v: &str) -> Res<u64> {
    v.parse().map_err(|_| (w.column, format!("{}= takes a whole number, not {v:?}", w.key)))
}

fn count(w: &Word, v: &str) -> Res<u64> {
    match number(w, v)? {
        0 => Err((w.column, format!("{}= counts from 1", w.key))),
        n => Ok(n),
    }
}

fn opcode(w: &Word, v: &str) -> Res<OpCode> {
    let op = match OpCode::from_name(v) {
        Some(op) => op.value(),
        None => match v.parse::<u8>() {
            Ok(n) if n < 16 => n,
            _ => return Err((w.column, "first= takes text, binary, continuation, close, ping, pong or 0-15".into())),
        },
    };
    Ok(OpCode::new(op))
}

fn close_code(w: &Word, v: &str) -> Res<Option<u16>> {
    if v == "none" {
        return Ok(None);
    }
    v.parse().map(Some).map_err(|_| (w.column, format!("{}= takes a close code (0-65535) or none", w.key)))
}

/// A duration: a number with a unit, `us`, `ms` or `s` (`1.5s`).
fn duration(w: &Word, v: &str) -> Res<Duration> {
    let bad = || (w.column, format!("{}= takes a duration with a unit (250ms, 2s, 100us), not {v:?}", w.key));
    let (n, scale) = if let Some(n) = v.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = v.strip_suffix("us") {
        (n, 1e-6)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1.0)
    } else {
        return Err(bad());
    };
    let n: f64 = n.parse().map_err(|_| bad())?;
    if !(0.0..=86_400.0).contains(&(n * scale)) {
        return Err((w.column, format!("{}= is at most 24h", w.key)));
    }
    Ok(Duration::from_secs_f64(n * scale))
}

fn injected(w: &Word, v: &str) -> Res<Injected> {
    let (kind, arg) = match v.split_once(':') {
        Some((k, a)) => (k, Some(a)),
        None => (v, None),
    };
    let hex = |a: Option<&str>| -> Res<Vec<u8>> {
        let a = a.ok_or((w.column, format!("{kind}: needs hex bytes ({kind}:0a0b…)")))?;
        crate::session::data::unhex(a).map_err(|e| (w.column, format!("{kind}: {e}")))
    };
    let text = |a: Option<&str>| a.unwrap_or("").as_bytes().to_vec();
    let control = |p: Vec<u8>| {
        if p.len() > 125 {
            Err((w.column, "a control frame's payload is at most 125 bytes".to_string()))
        } else {
            Ok(p)
        }
    };
    Ok(match kind {
        "ping" => Injected::Ping(control(text(arg))?),
        "pong" => Injected::Pong(control(text(arg))?),
        "text" => Injected::Text(arg.unwrap_or("").to_string()),
        "binary" => Injected::Binary(hex(arg)?),
        "raw" => Injected::Raw(hex(arg)?),
        "close" => {
            let (code, reason) = match arg.map(|a| a.split_once(':').unwrap_or((a, ""))) {
                None => (None, ""),
                Some((code, reason)) => (close_code(w, code)?, reason),
            };
            if code.is_none() && !reason.is_empty() {
                return Err((w.column, "close:none has no reason".into()));
            }
            control(super::close_payload(code, reason))?;
            Injected::Close(code, reason.to_string())
        }
        _ => {
            let expected = "ping[:TEXT], pong[:TEXT], close[:CODE[:REASON]], text:TEXT, binary:HEX or raw:HEX";
            return Err((w.column, format!("unknown frame {kind:?}; expected {expected}")));
        }
    })
}
