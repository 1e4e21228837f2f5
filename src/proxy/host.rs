//! The one change the proxy may make to forwarded bytes: the `Host` header
//! of the client's request head, rewritten to name the upstream.
//!
//! A client pointed at the proxy sends `Host: 127.0.0.1:9001`; a server
//! that serves several names needs its own. When the rule is on (a
//! hostname upstream, without `--keep-host`), the c2s pump holds the
//! client's bytes until the request head is complete (at most
//! [`MAX_HEAD_LEN`](crate::wire::MAX_HEAD_LEN) bytes), forwards the head
//! with every `Host` line's value replaced, then everything after it
//! unchanged, and the recording gets a `rewrite` event holding the head as
//! forwarded. Bytes that do not start like an HTTP request, a head that
//! never ends, or a head without a `Host` header are forwarded as they
//! came (with a note saying so). Nothing else is ever changed.

use crate::session::{Data, EventKind};
use crate::wire::{MAX_HEAD_LEN, find_head_end};

/// The pending rule, and the bytes held so far.
#[derive(Debug)]
pub struct HostRewrite {
    rule: Rule,
    held: Vec<u8>,
}

/// What is changed in the head.
#[derive(Debug)]
enum Rule {
    /// Every `Host` line's value becomes this.
    Host(String),
    /// An absolute-URI request-target (`GET http://host/path`, sent to a
    /// forward proxy) becomes origin form (`GET /path`).
    OriginForm,
}

/// What the pump does with a read while the rule is pending.
#[derive(Debug)]
pub enum Step {
    /// Hold it: the head is not complete yet.
    Hold,
    /// Forward these bytes (the head as rewritten and what followed, or
    /// everything held unchanged); the rule is done. The event, if any,
    /// goes to the recording.
    Forward(Vec<u8>, Option<Box<EventKind>>),
}

impl HostRewrite {
    /// A rule that sets `Host` to `value`.
    pub fn new(value: String) -> HostRewrite {
        HostRewrite { rule: Rule::Host(value), held: Vec::new() }
    }

    /// A rule that turns an absolute-URI request-target into origin form
    /// (`record --proxy`, plain ws).
    pub fn origin_form() -> HostRewrite {
        HostRewrite { rule: Rule::OriginForm, held: Vec::new() }
    }

    /// Takes one read of the client's bytes.
    pub fn push(&mut self, bytes: &[u8]) -> Step {
        self.held.extend_from_slice(bytes);
        let Some(end) = find_head_end(&self.held) else {
            if self.held.len() > MAX_HEAD_LEN || !starts_like_request(&self.held) {
                return self.give_up(format!("the client's bytes are not an HTTP request head; {}", UNCHANGED));
            }
            return Step::Hold;
        };
        let mut held = std::mem::take(&mut self.held);
        let rest = held.split_off(end);
        let (rewritten, header) = match &self.rule {
            Rule::Host(value) => (rewrite(&held, value).map(|(out, from)| (out, from, value.clone())), "Host"),
            Rule::OriginForm => (origin_form(&held), "request-target"),
        };
        match rewritten {
            Some((mut out, from, to)) => {
                let event = EventKind::Rewrite {
                    offset: 0,
                    len: held.len() as u64,
                    header: header.into(),
                    from,
                    to,
                    forwarded: Data::inline(&out),
                };
                out.extend_from_slice(&rest);
                Step::Forward(out, Some(Box::new(event)))
            }
            None => {
                held.extend_from_slice(&rest);
                self.held = held;
                let why = match self.rule {
                    Rule::Host(_) => "the request has no Host header",
                    Rule::OriginForm => "the request-target is not an absolute http:// or ws:// URI",
                };
                self.give_up(format!("{why}; {UNCHANGED}"))
            }
        }
    }

    /// The stream ended while held: forward what was held, unchanged.
    pub fn finish(&mut self) -> Step {
        self.give_up(format!("the client's stream ended inside its request head; {UNCHANGED}"))
    }

    fn give_up(&mut self, detail: String) -> Step {
        let note = EventKind::Note { kind: "host_not_rewritten".into(), detail };
        Step::Forward(std::mem::take(&mut self.held), Some(Box::new(note)))
    }
}

const UNCHANGED: &str = "forwarded unchanged";

/// Could `buf` be the start of an HTTP request (a method token, then a space)?
fn starts_like_request(buf: &[u8]) -> bool {
    let token = buf.iter().take_while(|b| b.is_ascii_alphabetic() || **b == b'-').count();
    match buf.get(token) {
        None => token == buf.len() && token <= 16,
        Some(b' ') => token > 0,
        Some(_) => false,
    }
}

/// `head` with its request-target `scheme://authority/path` turned into
/// `/path`, with the old and new targets.
fn origin_form(head: &[u8]) -> Option<(Vec<u8>, Option<String>, String)> {
    let line_end = head.iter().position(|&b| b == b'\n')?;
    let line = std::str::from_utf8(&head[..line_end]).ok()?;
    let mut parts = line.splitn(3, ' ');
    let (method, target, rest) = (parts.next()?, parts.next()?, parts.next()?);
    let after_scheme = &target[target.find("://")? + 3..];
    let path = match after_scheme.find(['/', '?']) {
        Some(i) if after_scheme.as_bytes()[i] == b'/' => after_scheme[i..].to_string(),
        Some(i) => format!("/{}", &after_scheme[i..]),
        None => "/".to_string(),
    };
    let mut out = format!("{method} {path} {rest}").into_bytes();
    out.push(b'\n');
    out.extend_from_slice(&head[line_end + 1..]);
    Some((out, Some(target.to_string()), path))
}

/// `head` with every `Host:` line's value set to `value`, and the first
/// old value; `None` if the head has no `Host` line.
pub fn rewrite(head: &[u8], value: &str) -> Option<(Vec<u8>, Option<String>)> {
    let mut out = Vec::with_capacity(head.len() + value.len());
    let mut from = None;
    let mut found = false;
    for (i, line) in head.split_inclusive(|&b| b == b'\n').enumerate() {
        let is_host = i > 0 && line.len() > 5 && line[..5].eq_ignore_ascii_case(b"host:");
        if !is_host {
            out.extend_from_slice(line);
            continue;
        }
        let old = String::from_utf8_lossy(&line[5..]).trim().to_string();
        from.get_or_insert(old);
        found = true;
        out.extend_from_slice(&line[..5]);
        out.push(b' ');
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(if line.ends_with(b"\r\n") { b"\r\n" } else { b"\n" });
    }
    found.then_some((out, from))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &[u8] = b"GET /chat HTTP/1.1\r\nhost: 127.0.0.1:9001\r\nUpgrade: websocket\r\n\r\n";

    #[test]
    fn only_the_host_value_changes() {
        let (out, from) = rewrite(HEAD, "example.com").unwrap();
        assert_eq!(out, b"GET /chat HTTP/1.1\r\nhost: example.com\r\nUpgrade: websocket\r\n\r\n");
        assert_eq!(from.as_deref(), Some("127.0.0.1:9001"));
        assert!(rewrite(b"GET / HTTP/1.1\r\nX-Host: a\r\n\r\n", "b").is_none());
    }

    #[test]
    fn the_head_is_held_until_complete_and_the_rest_follows_unchanged() {
        let mut rule = HostRewrite::new("h:1".into());
        assert!(matches!(rule.push(&HEAD[..10]), Step::Hold));
        let Step::Forward(out, Some(event)) = rule.push(&[&HEAD[10..], b"\x81\x00"].concat()) else { panic!("held") };
        let EventKind::Rewrite { len, to, .. } = *event else { panic!("not rewritten") };
        assert_eq!(len, HEAD.len() as u64);
        assert_eq!(to, "h:1");
        assert!(out.ends_with(b"\r\n\r\n\x81\x00"));
        assert!(out.starts_with(b"GET /chat HTTP/1.1\r\nhost: h:1\r\n"));
    }

    #[test]
    fn absolute_targets_become_origin_form() {
        let head = b"GET http://example.com:8080/chat?x=1 HTTP/1.1\r\nHost: example.com:8080\r\n\r\n";
        let (out, from, to) = origin_form(head).unwrap();
        assert_eq!(out, b"GET /chat?x=1 HTTP/1.1\r\nHost: example.com:8080\r\n\r\n");
        assert_eq!((from.as_deref(), to.as_str()), (Some("http://example.com:8080/chat?x=1"), "/chat?x=1"));
        assert_eq!(origin_form(b"GET ws://h HTTP/1.1\r\n\r\n").unwrap().2, "/");
        assert_eq!(origin_form(b"GET ws://h?q HTTP/1.1\r\n\r\n").unwrap().2, "/?q");
        assert!(origin_form(b"GET /already HTTP/1.1\r\n\r\n").is_none());
    }

    #[test]
    fn anything_else_is_forwarded_as_it_came() {
        let tls = b"\x16\x03\x01\x00\xa5\x01";
        let Step::Forward(out, Some(event)) = HostRewrite::new("h".into()).push(tls) else {
            panic!("held a TLS hello")
        };
        let EventKind::Note { kind, .. } = *event else { panic!("not a note") };
        assert_eq!((out.as_slice(), kind.as_str()), (&tls[..], "host_not_rewritten"));
        let mut rule = HostRewrite::new("h".into());
        assert!(matches!(rule.push(b"GET / HT"), Step::Hold));
        assert!(matches!(rule.finish(), Step::Forward(out, Some(_)) if out == b"GET / HT"));
        let no_host = b"GET / HTTP/1.1\r\n\r\nxyz";
        assert!(matches!(HostRewrite::new("h".into()).push(no_host), Step::Forward(out, _) if out == no_host));
    }
}
