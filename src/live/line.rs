//! One live line per event: what `wstap record` prints as traffic flows.
//!
//! ```text
//! 10:00:00.100 #1 open 127.0.0.1:50412 → 127.0.0.1:8080
//! 10:00:00.101 #1 c→s GET /chat HTTP/1.1
//! 10:00:00.102 #1 s→c HTTP/1.1 101 Switching Protocols
//! 10:00:00.103 #1 c→s text   fin=1 rsv=0 masked        13 B "Hello, wstap!"
//! 10:00:00.104 #1 s→c binary fin=1 rsv=0 unmasked    256 B 000102030405060708090a0b0c0d0e0f… (256 B)
//! 10:00:00.140 #1 c→s close  fin=1 rsv=0 masked        15 B 1000 "bye"
//! 10:00:00.141 #1 closed: client closed first, client 1000 "bye", server 1000 "bye", clean; TCP: server first (client fin, server fin); 41 ms, 5 + 4 frames
//! ```
//!
//! Payload previews keep the first [`PREVIEW`] bytes: text through
//! [`crate::escape::quoted`], binary as hex, cut with `…` and the full
//! length. Every untrusted piece is escaped before colour is added.

use super::filter::Subject;
use crate::escape;
use crate::session::{CloseInfo, Data, Direction, Event, EventKind, Frame, Side, Summary, TcpEnd};
use crate::term::{self, paint};

/// Payload bytes shown per line.
pub const PREVIEW: usize = 32;
/// Payload bytes `text~` is matched against.
pub const MATCH_BYTES: usize = 1024;

/// A line ready to print, and what the filter needs to know about it.
pub struct Line {
    /// Connection number.
    pub conn: u64,
    /// Direction, when the line has one.
    pub dir: Option<Direction>,
    /// Opcode, for frames.
    pub opcode: Option<u8>,
    /// `open`, `http`, `frame`, …
    pub kind: &'static str,
    /// What `text~` matches (payload text, reason, head line).
    pub text: String,
    /// The line as printed, without the time and connection prefix.
    pub body: String,
}

impl Line {
    /// The filter's view of this line.
    pub fn subject(&self) -> Subject<'_> {
        Subject { conn: self.conn, dir: self.dir, opcode: self.opcode, kind: self.kind, text: &self.text }
    }

    /// The printed line: `HH:MM:SS.mmm #N body`.
    pub fn render(&self, at_micros: u64, color: bool) -> String {
        let clock = crate::session::time::clock_millis(at_micros);
        let conn = format!("#{}", self.conn);
        let code = match (self.kind, self.dir) {
            ("open" | "closed", _) => term::CYAN,
            ("violation", _) => term::YELLOW,
            (_, Some(Direction::ClientToServer)) => term::MAGENTA,
            (_, Some(Direction::ServerToClient)) => term::BLUE,
            _ => "",
        };
        format!("{} {} {}", paint(color, term::DIM, &clock), conn, paint(color, code, &self.body))
    }
}

fn arrow(dir: Direction) -> &'static str {
    match dir {
        Direction::ClientToServer => "c→s",
        Direction::ServerToClient => "s→c",
    }
}

/// The opcode's name, padded to 6.
pub fn opcode_name(opcode: u8) -> String {
    let name = match opcode {
        0 => "cont",
        1 => "text",
        2 => "binary",
        8 => "close",
        9 => "ping",
        10 => "pong",
        n => return format!("op{n:<4}"),
    };
    format!("{name:<6}")
}

/// The connection-open line.
pub fn open(conn: u64, client: &str, server: &str) -> Line {
    let (client, server) = (escape::line(client), escape::line(server));
    Line {
        conn, dir: None, opcode: None, kind: "open", text: String::new(), body: format!("open {client} → {server}")
    }
}

/// The line for `event`, or `None` for events not shown (reads, the
/// upgrade itself: the response line says it). `text_message` tells
/// whether continuation frames belong to a text message.
pub fn event(conn: u64, event: &Event, text_message: bool) -> Option<Line> {
    let dir = Some(event.dir);
    let a = arrow(event.dir);
    let line = |kind, text: String, body: String| Line { conn, dir, opcode: None, kind, text, body };
    Some(match &event.kind {
        EventKind::Read { .. } | EventKind::Upgrade { .. } => return None,
        EventKind::Frame(f) => return Some(frame(conn, event.dir, f, text_message)),
        EventKind::Http { data, .. } => {
            let head = data.inline_bytes().ok().flatten().unwrap_or_default();
            let first =
                String::from_utf8_lossy(head.split(|b| *b == b'\r' || *b == b'\n').next().unwrap_or(&[])).into_owned();
            line("http", first.clone(), format!("{a} {}", escape::line(&first)))
        }
        EventKind::Message(m) if m.compressed => {
            let kind = if m.opcode == 1 { "text" } else { "binary" };
            let (preview, text) = match &m.inflated {
                Some(i) => preview(&i.data, m.opcode == 1, i.len),
                None => ("(not inflated)".to_owned(), String::new()),
            };
            let body = format!("{a} message {kind} {} B inflated from {} B {preview}", m.shown_len(), m.len);
            let mut l = line("message", text, body);
            l.opcode = Some(m.opcode);
            l
        }
        EventKind::Message(_) => return None,
        EventKind::Note { kind, detail } => {
            line("note", detail.clone(), format!("{a} note {}: {}", escape::line(kind), escape::line(detail)))
        }
        EventKind::Violation { kind, detail, .. } => {
            line("violation", detail.clone(), format!("{a} violation {}: {}", escape::line(kind), escape::line(detail)))
        }
        EventKind::Raw { reason, data, .. } => {
            let len = data_len(data);
            line("frame", reason.clone(), format!("{a} raw {len} B not WebSocket: {}", escape::line(reason)))
        }
        EventKind::Gap { len, .. } => line("tcp", String::new(), format!("{a} gap: {len} B not captured")),
        EventKind::Tls(t) => {
            let version = t.version.as_deref().unwrap_or("?");
            line("note", String::new(), format!("{a} tls {:?} {}", t.leg, escape::line(version)))
        }
        EventKind::TlsEnd { leg, how, .. } => line("tcp", String::new(), format!("{a} tls {leg:?} end: {how:?}")),
        EventKind::Rewrite { header, to, .. } => {
            line("note", to.clone(), format!("{a} rewrite {}: {}", escape::line(header), escape::line(to)))
        }
        EventKind::Fault { rule, action, detail, .. } => {
            line("note", detail.clone(), format!("{a} fault {rule} {}: {}", escape::line(action), escape::line(detail)))
        }
        EventKind::Fin => line("tcp", String::new(), format!("{a} tcp fin")),
        EventKind::Rst { error } => {
            let why = error.as_deref().map(|e| format!(" ({})", escape::line(e))).unwrap_or_default();
            line("tcp", error.clone().unwrap_or_default(), format!("{a} tcp rst{why}"))
        }
    })
}

fn frame(conn: u64, dir: Direction, f: &Frame, text_message: bool) -> Line {
    let mask = if f.mask.is_some() { "masked  " } else { "unmasked" };
    let head =
        format!("{} {} fin={} rsv={} {mask} {:>8} B", arrow(dir), opcode_name(f.opcode), u8::from(f.fin), f.rsv, f.len);
    let cut = if f.cut { " (cut short)" } else { "" };
    let (shown, text) = match f.opcode {
        8 => close_preview(f),
        _ => preview(&f.payload, f.opcode == 1 || (f.opcode == 0 && text_message), f.len),
    };
    let sep = if shown.is_empty() { "" } else { " " };
    Line { conn, dir: Some(dir), opcode: Some(f.opcode), kind: "frame", text, body: format!("{head}{sep}{shown}{cut}") }
}

fn close_preview(f: &Frame) -> (String, String) {
    match (f.close_code, &f.close_reason) {
        (Some(code), Some(reason)) if !reason.is_empty() => {
            (format!("{code} {}", escape::quoted(&cut_text(reason, PREVIEW).0)), reason.clone())
        }
        (Some(code), _) => (code.to_string(), String::new()),
        (None, _) if f.len == 0 => (String::new(), String::new()),
        (None, _) => preview(&f.payload, false, f.len),
    }
}

/// The payload's preview and the text to match, from its first bytes.
fn preview(data: &Data, text: bool, len: u64) -> (String, String) {
    let Some(bytes) = first_bytes(data, MATCH_BYTES) else {
        return (format!("({len} B, not inline)"), String::new());
    };
    if bytes.is_empty() {
        return (String::new(), String::new());
    }
    let whole = bytes.len() as u64 == len && bytes.len() <= PREVIEW;
    let suffix = if whole { String::new() } else { format!("… ({len} B)") };
    let as_text = std::str::from_utf8(&bytes).ok().or_else(|| {
        // A cut in the middle of a character is still text.
        let valid = std::str::from_utf8(&bytes).err()?.valid_up_to();
        (bytes.len() - valid < 4 && valid > 0).then(|| std::str::from_utf8(&bytes[..valid]).ok()).flatten()
    });
    match as_text {
        Some(t) if text => {
            let (shown, _) = cut_text(t, PREVIEW);
            (format!("{}{suffix}", escape::quoted(&shown)), t.to_owned())
        }
        _ => {
            let shown = crate::session::data::hex(&bytes[..bytes.len().min(PREVIEW)]);
            (format!("{shown}{suffix}"), as_text.unwrap_or_default().to_owned())
        }
    }
}

/// `text` cut to at most `max` bytes at a character boundary.
fn cut_text(text: &str, max: usize) -> (String, bool) {
    if text.len() <= max {
        return (text.to_owned(), false);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (text[..end].to_owned(), true)
}

/// Up to `max` first bytes of inline data; `None` for sidecars and digests.
fn first_bytes(data: &Data, max: usize) -> Option<Vec<u8>> {
    use base64::Engine;
    let mut bytes = match data {
        Data::Text(s) => s.as_bytes()[..s.len().min(max)].to_vec(),
        Data::TextCrlf(s) => s[..s.len().min(max)].replace('\n', "\r\n").into_bytes(),
        Data::Hex(h) => crate::session::data::unhex(&h[..h.len().min(2 * max) & !1]).ok()?,
        Data::Base64(b) => {
            let chars = b.trim();
            let take = chars.len().min(max.div_ceil(3) * 4);
            base64::engine::general_purpose::STANDARD.decode(&chars[..take]).ok()?
        }
        Data::Sidecar(_) | Data::Blake3(_) | Data::Sha256(_) => return None,
    };
    bytes.truncate(max);
    Some(bytes)
}

fn data_len(data: &Data) -> u64 {
    match data {
        Data::Sidecar(s) => s.len,
        other => other.inline_bytes().ok().flatten().map_or(0, |b| b.len() as u64),
    }
}

/// The connection-closed line, from its summary.
pub fn closed(conn: u64, s: &Summary) -> Line {
    let side = |side: Option<Side>| match side {
        Some(Side::Client) => "client",
        Some(Side::Server) => "server",
        None => "nobody",
    };
    let close = |who: &str, c: &Option<CloseInfo>| match c {
        None => format!("{who} sent no close"),
        Some(CloseInfo { code: None, .. }) => format!("{who} close without code"),
        Some(CloseInfo { code: Some(code), reason: Some(r), .. }) if !r.is_empty() => {
            format!("{who} {code} {}", escape::quoted(r))
        }
        Some(CloseInfo { code: Some(code), .. }) => format!("{who} {code}"),
    };
    let end = |e: Option<TcpEnd>| match e {
        Some(TcpEnd::Fin) => "fin",
        Some(TcpEnd::Rst) => "rst",
        None => "open",
    };
    let who_closed = match s.closed_first_by {
        Some(by) => format!("{} closed first", side(Some(by))),
        None => "no close handshake".to_owned(),
    };
    let body = format!(
        "closed: {who_closed}, {}, {}, {}; TCP: {} first (client {}, server {}); {} ms, {} + {} frames{}",
        close("client", &s.client_close),
        close("server", &s.server_close),
        if s.clean { "clean" } else { "not clean" },
        side(s.tcp_closed_first_by),
        end(s.client_tcp_end),
        end(s.server_tcp_end),
        s.duration_us / 1000,
        s.client_frames,
        s.server_frames,
        if s.violations > 0 { format!(", {} violation(s)", s.violations) } else { String::new() },
    );
    Line { conn, dir: None, opcode: None, kind: "closed", text: String::new(), body }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame_event(opcode: u8, payload: &[u8], len: u64) -> Event {
        let f = Frame {
            offset: 0,
            fin: true,
            rsv: 0,
            opcode,
            mask: Some("01020304".into()),
            len,
            len_bits: None,
            close_code: None,
            close_reason: None,
            cut: false,
            payload: Data::inline(payload),
        };
        Event { at: 0, dir: Direction::ClientToServer, kind: EventKind::Frame(f) }
    }

    #[test]
    fn frames_show_flags_length_and_an_escaped_preview() {
        let l = event(1, &frame_event(1, b"hi\x1b[2J", 6), false).unwrap();
        assert_eq!(l.body, r#"c→s text   fin=1 rsv=0 masked          6 B "hi\u{1b}[2J""#);
        let big = vec![b'a'; 100];
        let l = event(1, &frame_event(1, &big, 100), false).unwrap();
        assert!(l.body.ends_with(&format!("\"{}\"… (100 B)", "a".repeat(PREVIEW))), "{}", l.body);
        let l = event(2, &frame_event(2, &[0, 1, 0xff], 3), false).unwrap();
        assert!(l.body.ends_with("3 B 0001ff"), "{}", l.body);
        let l = event(2, &frame_event(0, b"more", 4), true).unwrap();
        assert!(l.body.ends_with("\"more\""), "continuation of a text message: {}", l.body);
        let l = event(2, &frame_event(9, b"", 0), false).unwrap();
        assert!(l.body.ends_with("0 B"), "{}", l.body);
    }

    #[test]
    fn the_closed_line_says_who_what_and_how() {
        let s = Summary {
            upgraded: true,
            duration_us: 41_000,
            closed_first_by: Some(Side::Client),
            clean: true,
            client_close: Some(CloseInfo { code: Some(1000), reason: Some("bye".into()), reason_hex: None }),
            server_close: Some(CloseInfo { code: Some(1000), reason: None, reason_hex: None }),
            tcp_closed_first_by: Some(Side::Server),
            client_tcp_end: Some(TcpEnd::Fin),
            server_tcp_end: Some(TcpEnd::Fin),
            client_frames: 5,
            server_frames: 4,
            violations: 0,
        };
        assert_eq!(
            closed(1, &s).body,
            r#"closed: client closed first, client 1000 "bye", server 1000, clean; TCP: server first (client fin, server fin); 41 ms, 5 + 4 frames"#
        );
    }
}
