//! WebSocket opcodes (RFC 6455 §5.2), kept by number.
//!
//! A recorder must round-trip every value it sees, so an opcode is a plain
//! newtype over the 4-bit field rather than a closed enum: reserved opcodes
//! (3–7, 11–15) are recorded as they came and flagged as violations by the
//! decoder, never rejected here.

use std::fmt;

/// A 4-bit frame opcode. Values above 15 cannot be built through [`OpCode::new`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OpCode(u8);

impl OpCode {
    /// Continuation of a fragmented message.
    pub const CONTINUATION: OpCode = OpCode(0);
    /// Text message (UTF-8).
    pub const TEXT: OpCode = OpCode(1);
    /// Binary message.
    pub const BINARY: OpCode = OpCode(2);
    /// Connection close.
    pub const CLOSE: OpCode = OpCode(8);
    /// Ping.
    pub const PING: OpCode = OpCode(9);
    /// Pong.
    pub const PONG: OpCode = OpCode(10);

    /// Builds an opcode from the low four bits of `value`.
    pub const fn new(value: u8) -> OpCode {
        OpCode(value & 0x0f)
    }

    /// The numeric value, 0–15.
    pub const fn value(self) -> u8 {
        self.0
    }

    /// Control frames have the high bit of the opcode set (8–15).
    pub const fn is_control(self) -> bool {
        self.0 & 0x08 != 0
    }

    /// True for 3–7 and 11–15, which RFC 6455 reserves.
    pub const fn is_reserved(self) -> bool {
        matches!(self.0, 3..=7 | 11..=15)
    }

    /// True for text and binary, the opcodes that start a message.
    pub const fn starts_message(self) -> bool {
        matches!(self.0, 1 | 2)
    }

    /// A short lowercase name: `text`, `close`, … or `reserved-N`.
    pub fn name(self) -> String {
        match self.0 {
            0 => "continuation".into(),
            1 => "text".into(),
            2 => "binary".into(),
            8 => "close".into(),
            9 => "ping".into(),
            10 => "pong".into(),
            n => format!("reserved-{n}"),
        }
    }

    /// The opcode a [`name`](Self::name) names (`text`, `close`, …); `None`
    /// for anything else. The scenario format, fault rules and the live
    /// filter all spell opcodes this way.
    pub fn from_name(name: &str) -> Option<OpCode> {
        [Self::CONTINUATION, Self::TEXT, Self::BINARY, Self::CLOSE, Self::PING, Self::PONG]
            .into_iter()
            .find(|op| op.name() == name)
    }
}

impl fmt::Display for OpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_name_inverts_name_for_named_opcodes_only() {
        for v in 0..16u8 {
            let op = OpCode::new(v);
            let back = OpCode::from_name(&op.name());
            assert_eq!(back, [0, 1, 2, 8, 9, 10].contains(&v).then_some(op), "{v}");
        }
        assert_eq!(OpCode::from_name("TEXT"), None);
    }

    #[test]
    fn classification_covers_all_sixteen() {
        let control: Vec<u8> = (0..16).filter(|&v| OpCode::new(v).is_control()).collect();
        assert_eq!(control, (8..16).collect::<Vec<_>>());
        let reserved: Vec<u8> = (0..16).filter(|&v| OpCode::new(v).is_reserved()).collect();
        assert_eq!(reserved, vec![3, 4, 5, 6, 7, 11, 12, 13, 14, 15]);
        assert_eq!(OpCode::new(0x1f), OpCode::new(0x0f));
        assert_eq!(OpCode::new(5).name(), "reserved-5");
    }
}
