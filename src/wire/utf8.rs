//! Incremental UTF-8 validation across frame and read boundaries.
//!
//! A text message may be split anywhere, even inside a code point, so the
//! validator carries up to three bytes of an unfinished sequence between
//! calls. It reports only *that* the input is invalid and where.

/// Streaming UTF-8 validator.
#[derive(Clone, Debug, Default)]
pub struct Utf8Validator {
    pending: [u8; 4],
    pending_len: usize,
    failed: bool,
    fed: u64,
}

/// Length of the sequence started by a lead byte, or 0 for an invalid lead.
fn sequence_len(lead: u8) -> usize {
    match lead {
        0x00..=0x7f => 1,
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => 0,
    }
}

impl Utf8Validator {
    /// A fresh validator.
    pub fn new() -> Self {
        Self::default()
    }

    /// True once invalid input was seen; further input is not checked.
    pub fn failed(&self) -> bool {
        self.failed
    }

    /// Feeds more bytes. On the first invalid sequence, returns the index,
    /// counted from the first byte ever fed, where that sequence starts.
    pub fn feed(&mut self, data: &[u8]) -> Result<(), u64> {
        if self.failed {
            return Ok(());
        }
        let before = self.fed;
        self.fed += data.len() as u64;
        let mut rest = data;
        let mut base = 0;
        if self.pending_len > 0 {
            let want = sequence_len(self.pending[0]).max(self.pending_len);
            let take = (want - self.pending_len).min(rest.len());
            self.pending[self.pending_len..self.pending_len + take].copy_from_slice(&rest[..take]);
            let held = self.pending_len;
            self.pending_len += take;
            match std::str::from_utf8(&self.pending[..self.pending_len]) {
                Ok(_) => self.pending_len = 0,
                Err(e) if e.error_len().is_none() => return Ok(()),
                Err(_) => return self.fail(before - held as u64),
            }
            rest = &rest[take..];
            base = take;
        }
        match std::str::from_utf8(rest) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_none() => {
                let tail = &rest[e.valid_up_to()..];
                self.pending[..tail.len()].copy_from_slice(tail);
                self.pending_len = tail.len();
                Ok(())
            }
            Err(e) => self.fail(before + (base + e.valid_up_to()) as u64),
        }
    }

    /// Ends the input: an unfinished sequence is invalid.
    pub fn finish(&mut self) -> Result<(), u64> {
        if self.pending_len > 0 && !self.failed {
            let at = self.fed - self.pending_len as u64;
            self.pending_len = 0;
            return self.fail(at);
        }
        Ok(())
    }

    /// Forgets everything, ready for the next message.
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    fn fail(&mut self, at: u64) -> Result<(), u64> {
        self.failed = true;
        Err(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid_in_pieces(data: &[u8], split: usize) -> bool {
        let mut v = Utf8Validator::new();
        let (a, b) = data.split_at(split.min(data.len()));
        v.feed(a).is_ok() && v.feed(b).is_ok() && v.finish().is_ok()
    }

    #[test]
    fn agrees_with_std_at_every_split() {
        let samples: [&[u8]; 6] = [
            "κόσμε".as_bytes(),
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
            "a€𝄞b".as_bytes(),
            b"\xf4\x90\x80\x80",
            b"\xe0\x80\xaf",
            b"ok\xf0\x9f",
        ];
        for s in samples {
            let expect = std::str::from_utf8(s).is_ok();
            for split in 0..=s.len() {
                assert_eq!(valid_in_pieces(s, split), expect, "{s:?} split {split}");
            }
        }
    }

    #[test]
    fn reports_position() {
        let mut v = Utf8Validator::new();
        assert_eq!(v.feed(b"abc\xffdef"), Err(3));
        assert!(v.failed());
        let mut v = Utf8Validator::new();
        assert_eq!(v.feed(b"ab\xe0"), Ok(()));
        assert_eq!(v.feed(b"\x80"), Err(2));
        let mut v = Utf8Validator::new();
        assert_eq!(v.feed(b"abcd\xe2\x82"), Ok(()));
        assert_eq!(v.finish(), Err(4));
    }
}
