//! `--live-filter`: a small expression choosing which live lines print.
//!
//! ```text
//! expr  := and ("or" and)*
//! and   := unary (["and"] unary)*        adjacent terms are and-ed
//! unary := "not" unary | "(" expr ")" | test
//! test  := KEY "=" VALUE | "text" "~" VALUE
//! ```
//!
//! Keys: `conn` (connection number), `dir` (`c2s`/`client`, `s2c`/`server`),
//! `op` (`text`, `binary`, `cont`, `close`, `ping`, `pong`, `data`,
//! `control`, or a number 0–15; only frame lines have one), `kind`
//! (`open`, `http`, `frame`, `message`, `violation`, `note`, `tcp`,
//! `closed`) and `text ~ WORD` (the payload, close reason or line text
//! contains WORD). `op=close` shows only close frames; `conn=3` only
//! connection 3; `conn=3 and not op=ping`; `kind=open or kind=closed`.
//! Values are bare words or `"quoted"`. A malformed expression is a
//! usage error naming the column.

use crate::session::Direction;

/// What a live line is about, for the filter.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// Connection number.
    pub conn: u64,
    /// Direction, if the line has one.
    pub dir: Option<Direction>,
    /// Opcode, for frame lines.
    pub opcode: Option<u8>,
    /// The line's kind (`frame`, `open`, …).
    pub kind: &'static str,
    /// Text to match `text ~` against.
    pub text: &'a str,
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// Every line.
    All,
    /// `a or b`.
    Or(Box<Filter>, Box<Filter>),
    /// `a and b`.
    And(Box<Filter>, Box<Filter>),
    /// `not a`.
    Not(Box<Filter>),
    /// `conn=N`.
    Conn(u64),
    /// `dir=…`.
    Dir(Direction),
    /// `op=…`: the opcodes it names.
    Op(Vec<u8>),
    /// `kind=…`.
    Kind(String),
    /// `text~…`.
    Text(String),
}

impl Filter {
    /// Parses `source` (the empty string selects everything).
    pub fn parse(source: &str) -> Result<Filter, String> {
        let tokens = tokenize(source)?;
        if tokens.is_empty() {
            return Ok(Filter::All);
        }
        let mut p = Parser { tokens, at: 0, len: source.len() };
        let f = p.or()?;
        match p.tokens.get(p.at) {
            None => Ok(f),
            Some(t) => Err(format!("at column {}: unexpected {:?}", t.col + 1, t.text)),
        }
    }

    /// True if the line about `s` prints.
    pub fn matches(&self, s: &Subject<'_>) -> bool {
        match self {
            Filter::All => true,
            Filter::Or(a, b) => a.matches(s) || b.matches(s),
            Filter::And(a, b) => a.matches(s) && b.matches(s),
            Filter::Not(a) => !a.matches(s),
            Filter::Conn(n) => s.conn == *n,
            Filter::Dir(d) => s.dir == Some(*d),
            Filter::Op(ops) => s.opcode.is_some_and(|o| ops.contains(&o)),
            Filter::Kind(k) => s.kind == k,
            Filter::Text(t) => s.text.contains(t.as_str()),
        }
    }
}

#[derive(Debug, Clone)]
struct Token {
    text: String,
    col: usize,
    quoted: bool,
}

fn tokenize(source: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = source.char_indices().peekable();
    while let Some(&(col, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if matches!(c, '(' | ')' | '=' | '~') {
            chars.next();
            out.push(Token { text: c.to_string(), col, quoted: false });
        } else if c == '"' {
            chars.next();
            let mut text = String::new();
            loop {
                match chars.next() {
                    Some((_, '"')) => break,
                    Some((_, '\\')) => text.extend(chars.next().map(|(_, c)| c)),
                    Some((_, c)) => text.push(c),
                    None => return Err(format!("at column {}: the quote is never closed", col + 1)),
                }
            }
            out.push(Token { text, col, quoted: true });
        } else {
            let mut text = String::new();
            while let Some(&(_, c)) = chars.peek() {
                if c.is_whitespace() || matches!(c, '(' | ')' | '=' | '~' | '"') {
                    break;
                }
                text.push(c);
                chars.next();
            }
            out.push(Token { text, col, quoted: false });
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    len: usize,
}

impl Parser {
    fn peek_word(&self, word: &str) -> bool {
        self.tokens.get(self.at).is_some_and(|t| !t.quoted && t.text == word)
    }

    fn next(&mut self, what: &str) -> Result<Token, String> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t.ok_or_else(|| format!("at column {}: expected {what}, found the end", self.len + 1))
    }

    fn or(&mut self) -> Result<Filter, String> {
        let mut f = self.and()?;
        while self.peek_word("or") {
            self.at += 1;
            f = Filter::Or(Box::new(f), Box::new(self.and()?));
        }
        Ok(f)
    }

    fn and(&mut self) -> Result<Filter, String> {
        let mut f = self.unary()?;
        loop {
            if self.peek_word("and") {
                self.at += 1;
            } else if self.at >= self.tokens.len() || self.peek_word("or") || self.peek_word(")") {
                return Ok(f);
            }
            f = Filter::And(Box::new(f), Box::new(self.unary()?));
        }
    }

    fn unary(&mut self) -> Result<Filter, String> {
        if self.peek_word("not") {
            self.at += 1;
            return Ok(Filter::Not(Box::new(self.unary()?)));
        }
        if self.peek_word("(") {
            self.at += 1;
            let f = self.or()?;
            let close = self.next("`)`")?;
            if close.quoted || close.text != ")" {
                return Err(format!("at column {}: expected `)`, found {:?}", close.col + 1, close.text));
            }
            return Ok(f);
        }
        self.test()
    }

    fn test(&mut self) -> Result<Filter, String> {
        let key = self.next("a test such as conn=3 or op=close")?;
        let op = self.next("`=` or `~`")?;
        let value = self.next("a value")?;
        let bad = |what: &str| format!("at column {}: {what}", value.col + 1);
        let v = value.text.as_str();
        match (key.text.as_str(), op.text.as_str()) {
            ("conn", "=") => v.parse().map(Filter::Conn).map_err(|_| bad("conn takes a connection number")),
            ("dir", "=") => match v {
                "c2s" | "client" => Ok(Filter::Dir(Direction::ClientToServer)),
                "s2c" | "server" => Ok(Filter::Dir(Direction::ServerToClient)),
                _ => Err(bad("dir is c2s (client) or s2c (server)")),
            },
            ("op", "=") => opcodes(v)
                .map(Filter::Op)
                .ok_or_else(|| bad("op is text, binary, cont, close, ping, pong, data, control or a number 0-15")),
            ("kind", "=") => match v {
                "open" | "http" | "frame" | "message" | "violation" | "note" | "tcp" | "closed" => {
                    Ok(Filter::Kind(v.to_owned()))
                }
                _ => Err(bad("kind is open, http, frame, message, violation, note, tcp or closed")),
            },
            ("text", "~") => Ok(Filter::Text(v.to_owned())),
            _ => Err(format!(
                "at column {}: expected conn=N, dir=…, op=…, kind=… or text~WORD, found {:?}",
                key.col + 1,
                format!("{}{}{}", key.text, op.text, value.text)
            )),
        }
    }
}

fn opcodes(name: &str) -> Option<Vec<u8>> {
    if let Some(op) = crate::wire::OpCode::from_name(name) {
        return Some(vec![op.value()]);
    }
    Some(match name {
        "cont" => vec![0],
        "data" => vec![0, 1, 2],
        "control" => vec![8, 9, 10],
        n => vec![n.parse().ok().filter(|o: &u8| *o < 16)?],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(conn: u64, opcode: u8, text: &str) -> Subject<'_> {
        Subject { conn, dir: Some(Direction::ClientToServer), opcode: Some(opcode), kind: "frame", text }
    }

    #[test]
    fn the_examples_select_what_they_say() {
        let closes = Filter::parse("op=close").unwrap();
        assert!(closes.matches(&frame(1, 8, "")));
        assert!(!closes.matches(&frame(1, 1, "")));
        let opened = Subject { conn: 1, dir: None, opcode: None, kind: "open", text: "" };
        assert!(!closes.matches(&opened), "connection lines have no opcode");
        let third = Filter::parse("conn=3").unwrap();
        assert!(third.matches(&frame(3, 1, "")) && !third.matches(&frame(4, 1, "")));
        let f = Filter::parse(r#"conn=3 not op=ping or text~"hello world""#).unwrap();
        assert!(f.matches(&frame(3, 1, "")));
        assert!(!f.matches(&frame(3, 9, "")));
        assert!(f.matches(&frame(9, 9, "say hello world")));
        let f = Filter::parse("(kind=open or kind=closed) and dir=client").unwrap();
        assert!(!f.matches(&opened), "no direction");
        assert_eq!(Filter::parse("  ").unwrap(), Filter::All);
    }

    #[test]
    fn mistakes_name_their_column() {
        for (src, want) in [
            ("op=clse", "at column 4: op is"),
            ("conn=x", "at column 6: conn takes"),
            ("conn=1 )", "at column 8: unexpected \")\""),
            ("(conn=1", "expected `)`, found the end"),
            ("size>3", "expected `=` or `~`, found the end"),
            ("size=3", "at column 1: expected conn=N"),
            ("text~\"open", "at column 6: the quote is never closed"),
            ("op=", "expected a value, found the end"),
        ] {
            let err = Filter::parse(src).unwrap_err();
            assert!(err.contains(want), "{src}: {err}");
        }
    }
}
