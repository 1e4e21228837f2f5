//! Autobahn's wire log entries, truncation rules and wire statistics.
//!
//! Contracts:
//! - [`WireLogEntry`] serialises to exactly the JSON tuple Autobahn stores
//!   for that tag (§3.1 of the reference), e.g.
//!   `["RF", [len, text], opcode, fin, rsv, masked, mask]`.
//! - The constructors apply the §3.3 truncation rules, so a log built here
//!   holds the same strings as Autobahn's: octets longer than
//!   [`TRUNCATE_ABOVE`] bytes show the hex of the first [`TRUNCATE_KEEP`]
//!   bytes plus ` ...` (so 61–64-byte chunks are shown whole *and* get
//!   ` ...`, a quirk reproduced on purpose); payload text is the same cut,
//!   strictly UTF-8 decoded, else `0x` + the octet rendering.
//! - Encoded surrogates (`ed a0 80`) decode as Python 2 decoded them
//!   (0.8.2's `\ud800`), or with `--compat 25` not at all (`0x…`, as
//!   Python 3 shows them): [`super::compat`].
//! - [`WireTrace`] keeps the statistics even while logging is off, as
//!   Autobahn does, so stats and log never disagree about what was counted.

use super::pyfmt::hex;
use crate::session::Preview;
use serde::ser::{Serialize, SerializeSeq, Serializer};
use std::collections::BTreeMap;

/// Data longer than this many bytes is truncated in the log.
pub const TRUNCATE_ABOVE: usize = 60;
/// How many bytes a truncated rendering keeps (Autobahn's 60/64 mismatch).
pub const TRUNCATE_KEEP: usize = 64;
/// What Autobahn appends to a truncated rendering.
pub(crate) const ELLIPSIS: &str = " ...";

const _: () = assert!(TRUNCATE_KEEP <= crate::session::PREVIEW_LEN, "a preview holds all a report shows");

/// Hex rendering of octets per §3.3.
pub fn octets_text(data: &[u8]) -> String {
    octets_text_of(&Preview::of(data))
}

/// [`octets_text`] of bytes known by their [`Preview`] (all it shows).
pub fn octets_text_of(p: &Preview) -> String {
    let kept = &p.head[..p.head.len().min(TRUNCATE_KEEP)];
    if p.len > TRUNCATE_ABOVE as u64 { format!("{}{ELLIPSIS}", hex(kept)) } else { hex(kept) }
}

/// Payload rendering per §3.3: UTF-8 text as Python 2 decodes it, else
/// `0x` + octets.
///
/// Python 2's decoder also accepts encoded surrogates (`ED A0 80` is
/// U+D800), which no Rust string can hold. Each such surrogate is kept as
/// [`SURROGATE_MARK`] plus its four hex digits, and written back the way
/// Python 2 writes it: `\ud800` in JSON ([`super::json`]) and in reprs and
/// pages ([`shown`]). So `wstap`'s reports equal 0.8.2's byte for byte in
/// the 16 category-6 cases that depend on it (issue 11's `--compat 0.8.2`).
pub fn payload_text(data: &[u8]) -> String {
    payload_text_of(&Preview::of(data))
}

/// [`payload_text`] of bytes known by their [`Preview`] (all it shows).
pub fn payload_text_of(p: &Preview) -> String {
    payload_text_in(super::compat::get(), p)
}

/// [`payload_text_of`] as release `compat` renders it.
pub fn payload_text_in(compat: super::compat::Compat, p: &Preview) -> String {
    let python_2 = compat == super::compat::Compat::V0_8_2;
    let truncated = p.len > TRUNCATE_ABOVE as u64;
    let kept = &p.head[..p.head.len().min(TRUNCATE_KEEP)];
    match std::str::from_utf8(kept).map(str::to_owned).ok().or_else(|| python_2.then(|| py2_decode(kept)).flatten()) {
        Some(text) if truncated => format!("{text}{ELLIPSIS}"),
        Some(text) => text,
        None => format!("0x{}", octets_text_of(p)),
    }
}

/// Marks a surrogate code unit (followed by its 4 lowercase hex digits)
/// in a payload text decoded the Python 2 way. A noncharacter, so never
/// meant to be interchanged; a literal one in such a text is marked too.
pub const SURROGATE_MARK: char = '\u{fdd0}';

/// UTF-8 as Python 2.7 decodes it: strict, except that encoded surrogates
/// (`ED A0..BF 80..BF`) are code units of their own, marked.
fn py2_decode(mut data: &[u8]) -> Option<String> {
    let mut out = String::new();
    loop {
        let (good, rest) = match std::str::from_utf8(data) {
            Ok(text) => (text, &[][..]),
            Err(e) => {
                let (good, rest) = data.split_at(e.valid_up_to());
                (std::str::from_utf8(good).ok()?, rest)
            }
        };
        for c in good.chars() {
            if c == SURROGATE_MARK {
                out.push_str(&format!("{SURROGATE_MARK}fdd0"));
            } else {
                out.push(c);
            }
        }
        match rest {
            [] => return Some(out),
            [0xed, b2 @ 0xa0..=0xbf, b3 @ 0x80..=0xbf, tail @ ..] => {
                let unit = 0xd000 | (u32::from(b2 & 0x3f) << 6) | u32::from(b3 & 0x3f);
                out.push_str(&format!("{SURROGATE_MARK}{unit:04x}"));
                data = tail;
            }
            _ => return None,
        }
    }
}

/// `text` for people: each marked surrogate as Python's `\udXXXX`.
pub fn shown(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains(SURROGATE_MARK) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            SURROGATE_MARK => {
                let digits: String = chars.by_ref().take(4).collect();
                if digits == "fdd0" {
                    out.push(SURROGATE_MARK);
                } else {
                    out.push_str("\\u");
                    out.push_str(&digits);
                }
            }
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// One line of Autobahn's wire log. Variant docs name the JSON tag.
#[derive(Debug, Clone, PartialEq)]
pub enum WireLogEntry {
    /// `RO`: one TCP read, `[len, hex]`.
    RxOctets {
        /// Bytes read.
        len: usize,
        /// Truncated hex ([`octets_text`]).
        hex: String,
    },
    /// `TO`: one socket write, `[len, hex]`, sync.
    TxOctets {
        /// Bytes written.
        len: usize,
        /// Truncated hex ([`octets_text`]).
        hex: String,
        /// True for chopped or sync writes.
        sync: bool,
    },
    /// `RF`: a received frame (payload unmasked).
    RxFrame {
        /// Full payload length.
        len: usize,
        /// Truncated payload text ([`payload_text`]).
        text: String,
        /// Opcode.
        opcode: u8,
        /// FIN bit.
        fin: bool,
        /// RSV bits as a number 0–7.
        rsv: u8,
        /// Whether the frame was masked.
        masked: bool,
        /// The mask as 8 hex digits.
        mask: Option<String>,
    },
    /// `TF`: a frame the fuzzer sent.
    TxFrame(TxFrameEntry),
    /// `KL`: kill timer armed, delay in seconds.
    KillAfter(f64),
    /// `KLE`: kill timer fired while still open.
    KillAfterFired,
    /// `TI`: close timer armed, delay in seconds.
    CloseAfter(f64),
    /// `TIE`: close timer fired.
    CloseAfterFired,
    /// `CT`: delayed continuation armed: delay and tag.
    Continue(f64, Option<String>),
    /// `CTE`: delayed continuation fired: tag.
    ContinueFired(Option<String>),
    /// `WLM`: wire logging switched on (true) or off.
    WirelogMode(bool),
    /// `FLT` (wstap's own, not Autobahn's): a `--fault` rule changed what
    /// was forwarded; `[rule, spec, action, detail]`.
    Fault {
        /// The rule's number.
        rule: u32,
        /// The rule as written.
        spec: String,
        /// What was done (`drop`, `cut`, …).
        action: String,
        /// What happened, in words.
        detail: String,
    },
}

/// The fields of a `TF` entry, in Autobahn's order.
#[derive(Debug, Clone, PartialEq)]
pub struct TxFrameEntry {
    /// Length of the payload *argument* (the pattern length when repeated).
    pub len: usize,
    /// Truncated payload text of the payload argument.
    pub text: String,
    /// Opcode.
    pub opcode: u8,
    /// FIN bit.
    pub fin: bool,
    /// RSV bits as a number 0–7.
    pub rsv: u8,
    /// The mask as 8 hex digits, if masked.
    pub mask: Option<String>,
    /// Total payload length when built by repeating the payload.
    pub repeat: Option<usize>,
    /// Chop size of the write, if chopped.
    pub chopsize: Option<usize>,
    /// Whether the write was synchronous.
    pub sync: bool,
}

/// Input for [`WireLogEntry::tx_frame`]: what the fuzzer sent.
#[derive(Debug, Clone, Copy, Default)]
pub struct TxFrameSpec<'a> {
    /// The payload argument (the pattern, when `repeat` is set).
    pub payload: &'a [u8],
    /// Opcode.
    pub opcode: u8,
    /// FIN bit.
    pub fin: bool,
    /// RSV bits as a number 0–7.
    pub rsv: u8,
    /// Masking key, if masked.
    pub mask: Option<[u8; 4]>,
    /// Total payload length when the pattern is repeated.
    pub repeat: Option<usize>,
    /// Chop size of the write, if chopped.
    pub chopsize: Option<usize>,
    /// Whether the write was synchronous.
    pub sync: bool,
}

impl WireLogEntry {
    /// `RO` for bytes read from the peer.
    pub fn rx_octets(data: &[u8]) -> Self {
        Self::rx_octets_of(&Preview::of(data))
    }

    /// [`rx_octets`](Self::rx_octets) of bytes known by their preview.
    pub fn rx_octets_of(p: &Preview) -> Self {
        Self::RxOctets { len: p.len as usize, hex: octets_text_of(p) }
    }

    /// `TO` for bytes written to the peer.
    pub fn tx_octets(data: &[u8], sync: bool) -> Self {
        Self::tx_octets_of(&Preview::of(data), sync)
    }

    /// [`tx_octets`](Self::tx_octets) of bytes known by their preview.
    pub fn tx_octets_of(p: &Preview, sync: bool) -> Self {
        Self::TxOctets { len: p.len as usize, hex: octets_text_of(p), sync }
    }

    /// `RF` for a received frame; `payload` is already unmasked.
    pub fn rx_frame(payload: &[u8], opcode: u8, fin: bool, rsv: u8, mask: Option<[u8; 4]>) -> Self {
        Self::rx_frame_of(&Preview::of(payload), opcode, fin, rsv, mask)
    }

    /// [`rx_frame`](Self::rx_frame) of a payload known by its preview.
    pub fn rx_frame_of(payload: &Preview, opcode: u8, fin: bool, rsv: u8, mask: Option<[u8; 4]>) -> Self {
        Self::RxFrame {
            len: payload.len as usize,
            text: payload_text_of(payload),
            opcode,
            fin,
            rsv,
            masked: mask.is_some(),
            mask: mask.map(|m| hex(&m)),
        }
    }

    /// `TF` for a frame the fuzzer sent.
    pub fn tx_frame(spec: &TxFrameSpec<'_>) -> Self {
        Self::TxFrame(TxFrameEntry {
            len: spec.payload.len(),
            text: payload_text(spec.payload),
            opcode: spec.opcode,
            fin: spec.fin,
            rsv: spec.rsv,
            mask: spec.mask.map(|m| hex(&m)),
            repeat: spec.repeat,
            chopsize: spec.chopsize,
            sync: spec.sync,
        })
    }

    /// The JSON tag of this entry (`"RO"`, `"TF"`, …).
    pub fn tag(&self) -> &'static str {
        match self {
            Self::RxOctets { .. } => "RO",
            Self::TxOctets { .. } => "TO",
            Self::RxFrame { .. } => "RF",
            Self::TxFrame(_) => "TF",
            Self::KillAfter(_) => "KL",
            Self::KillAfterFired => "KLE",
            Self::CloseAfter(_) => "TI",
            Self::CloseAfterFired => "TIE",
            Self::Continue(..) => "CT",
            Self::ContinueFired(_) => "CTE",
            Self::WirelogMode(_) => "WLM",
            Self::Fault { .. } => "FLT",
        }
    }

    /// Whether this entry records traffic (as opposed to a timer or mode).
    pub fn is_traffic(&self) -> bool {
        matches!(self, Self::RxOctets { .. } | Self::TxOctets { .. } | Self::RxFrame { .. } | Self::TxFrame(_))
    }
}

impl Serialize for WireLogEntry {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(None)?;
        seq.serialize_element(self.tag())?;
        match self {
            Self::RxOctets { len, hex } => seq.serialize_element(&(len, hex))?,
            Self::TxOctets { len, hex, sync } => {
                seq.serialize_element(&(len, hex))?;
                seq.serialize_element(sync)?;
            }
            Self::RxFrame { len, text, opcode, fin, rsv, masked, mask } => {
                seq.serialize_element(&(len, text))?;
                seq.serialize_element(opcode)?;
                seq.serialize_element(fin)?;
                seq.serialize_element(rsv)?;
                seq.serialize_element(masked)?;
                seq.serialize_element(mask)?;
            }
            Self::TxFrame(f) => {
                seq.serialize_element(&(f.len, &f.text))?;
                seq.serialize_element(&f.opcode)?;
                seq.serialize_element(&f.fin)?;
                seq.serialize_element(&f.rsv)?;
                seq.serialize_element(&f.mask)?;
                seq.serialize_element(&f.repeat)?;
                seq.serialize_element(&f.chopsize)?;
                seq.serialize_element(&f.sync)?;
            }
            Self::KillAfter(d) | Self::CloseAfter(d) => seq.serialize_element(&Delay(*d))?,
            Self::Continue(d, tag) => {
                seq.serialize_element(&Delay(*d))?;
                seq.serialize_element(tag)?;
            }
            Self::ContinueFired(tag) => seq.serialize_element(tag)?,
            Self::WirelogMode(on) => seq.serialize_element(on)?,
            Self::Fault { rule, spec, action, detail } => {
                seq.serialize_element(rule)?;
                seq.serialize_element(spec)?;
                seq.serialize_element(action)?;
                seq.serialize_element(detail)?;
            }
            Self::KillAfterFired | Self::CloseAfterFired => {}
        }
        seq.end()
    }
}

/// A timer delay as Autobahn stores it: the number the case passed, so a
/// whole number of seconds stays an integer (`1`, not `1.0`).
struct Delay(f64);

impl Serialize for Delay {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let whole = self.0.fract() == 0.0 && self.0.abs() < 1e15;
        if whole { serializer.serialize_i64(self.0 as i64) } else { serializer.serialize_f64(self.0) }
    }
}

/// A `{key → count}` histogram (chop sizes or opcodes), serialised as a
/// JSON object with stringified integer keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct Histogram(pub BTreeMap<u64, u64>);

impl Histogram {
    /// Count one occurrence of `key`.
    pub fn add(&mut self, key: u64) {
        *self.0.entry(key).or_default() += 1;
    }

    /// Sum of all counts.
    pub fn total_count(&self) -> u64 {
        self.0.values().sum()
    }

    /// Sum of key × count (the octets column of the chop-size tables).
    pub fn total_weight(&self) -> u64 {
        self.0.iter().map(|(k, c)| k * c).sum()
    }
}

impl FromIterator<u64> for Histogram {
    fn from_iter<I: IntoIterator<Item = u64>>(keys: I) -> Self {
        let mut histogram = Self::default();
        keys.into_iter().for_each(|k| histogram.add(k));
        histogram
    }
}

/// Builds a wire log and its four statistics together, the way the fuzzer
/// does while a case runs. Statistics are kept even when logging is off.
#[derive(Debug, Clone, PartialEq)]
pub struct WireTrace {
    /// The log so far.
    pub wirelog: Vec<WireLogEntry>,
    /// Whether traffic entries are currently recorded.
    pub logging: bool,
    /// `rxOctetStats`: read sizes.
    pub rx_octets: Histogram,
    /// `txOctetStats`: write sizes.
    pub tx_octets: Histogram,
    /// `rxFrameStats`: received opcodes.
    pub rx_frames: Histogram,
    /// `txFrameStats`: sent opcodes.
    pub tx_frames: Histogram,
}

impl Default for WireTrace {
    fn default() -> Self {
        Self {
            wirelog: Vec::new(),
            logging: true,
            rx_octets: Histogram::default(),
            tx_octets: Histogram::default(),
            rx_frames: Histogram::default(),
            tx_frames: Histogram::default(),
        }
    }
}

impl WireTrace {
    /// Record a TCP read.
    pub fn rx_octets(&mut self, data: &[u8]) {
        self.rx_octets.add(data.len() as u64);
        if self.logging {
            self.log(WireLogEntry::rx_octets(data));
        }
    }

    /// [`rx_octets`](Self::rx_octets) of bytes known by their preview.
    pub fn rx_octets_of(&mut self, p: &Preview) {
        self.rx_octets.add(p.len);
        if self.logging {
            self.log(WireLogEntry::rx_octets_of(p));
        }
    }

    /// Record a socket write.
    pub fn tx_octets(&mut self, data: &[u8], sync: bool) {
        self.tx_octets.add(data.len() as u64);
        if self.logging {
            self.log(WireLogEntry::tx_octets(data, sync));
        }
    }

    /// [`tx_octets`](Self::tx_octets) of bytes known by their preview.
    pub fn tx_octets_of(&mut self, p: &Preview, sync: bool) {
        self.tx_octets.add(p.len);
        if self.logging {
            self.log(WireLogEntry::tx_octets_of(p, sync));
        }
    }

    /// Record a complete received frame (payload unmasked).
    pub fn rx_frame(&mut self, payload: &[u8], opcode: u8, fin: bool, rsv: u8, mask: Option<[u8; 4]>) {
        self.rx_frames.add(u64::from(opcode));
        if self.logging {
            self.log(WireLogEntry::rx_frame(payload, opcode, fin, rsv, mask));
        }
    }

    /// [`rx_frame`](Self::rx_frame) of a payload known by its preview.
    pub fn rx_frame_of(&mut self, payload: &Preview, opcode: u8, fin: bool, rsv: u8, mask: Option<[u8; 4]>) {
        self.rx_frames.add(u64::from(opcode));
        // Traffic entries are dropped while logging is off: not built either.
        if self.logging {
            self.log(WireLogEntry::rx_frame_of(payload, opcode, fin, rsv, mask));
        }
    }

    /// Record a frame the fuzzer sent (log it before its octets).
    pub fn tx_frame(&mut self, spec: &TxFrameSpec<'_>) {
        self.tx_frames.add(u64::from(spec.opcode));
        if self.logging {
            self.log(WireLogEntry::tx_frame(spec));
        }
    }

    /// [`tx_frame`](Self::tx_frame) of a payload known by its preview
    /// (`spec.payload` is ignored).
    pub fn tx_frame_of(&mut self, spec: &TxFrameSpec<'_>, payload: &Preview) {
        self.tx_frames.add(u64::from(spec.opcode));
        if !self.logging {
            return;
        }
        let mut entry = WireLogEntry::tx_frame(&TxFrameSpec { payload: &[], ..*spec });
        if let WireLogEntry::TxFrame(e) = &mut entry {
            e.len = payload.len as usize;
            e.text = payload_text_of(payload);
        }
        self.log(entry);
    }

    /// Switch traffic logging on or off; the switch itself is logged (`WLM`).
    pub fn set_logging(&mut self, enabled: bool) {
        self.logging = enabled;
        self.wirelog.push(WireLogEntry::WirelogMode(enabled));
    }

    /// Append an entry; traffic entries are dropped while logging is off,
    /// timer and mode entries always stay.
    pub fn log(&mut self, entry: WireLogEntry) {
        if self.logging || !entry.is_traffic() {
            self.wirelog.push(entry);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn json_of(entry: &WireLogEntry) -> serde_json::Value {
        serde_json::to_value(entry).unwrap()
    }

    #[test]
    fn truncation_follows_60_64_rule() {
        assert_eq!(octets_text(&[0x88, 0x00]), "8800");
        assert_eq!(octets_text(&[0xab; 60]), "ab".repeat(60));
        assert_eq!(octets_text(&[0xab; 61]), format!("{} ...", "ab".repeat(61)));
        assert_eq!(octets_text(&[0xab; 300]), format!("{} ...", "ab".repeat(64)));
    }

    #[test]
    fn payload_text_decodes_or_falls_back_to_hex() {
        assert_eq!(payload_text(&[0x03, 0xe8]), "0x03e8");
        assert_eq!(payload_text(&[0x04, 0x4c]), "\u{4}L");
        let mut close = vec![0x03, 0xe8];
        close.extend([b'*'; 123]);
        assert_eq!(payload_text(&close), format!("0x03e8{} ...", "2a".repeat(62)));
        assert_eq!(payload_text(&[b'a'; 70]), format!("{} ...", "a".repeat(64)));
        // Python 2 accepts encoded surrogates, and so does 0.8.2's report.
        assert_eq!(payload_text(&[0xed, 0xa0, 0x80]), format!("{SURROGATE_MARK}d800"));
        assert_eq!(payload_text(&[0xed, 0xa0]), "0xeda0");
    }

    #[test]
    fn entries_serialise_to_autobahn_tuples() {
        let rf = WireLogEntry::rx_frame(b"", 8, true, 0, Some([0x5e, 0x17, 0xaa, 0x53]));
        assert_eq!(json_of(&rf), json!(["RF", [0, ""], 8, true, 0, true, "5e17aa53"]));
        assert_eq!(json_of(&WireLogEntry::rx_octets(&[1, 2])), json!(["RO", [2, "0102"]]));
        assert_eq!(json_of(&WireLogEntry::tx_octets(&[0x88, 0], false)), json!(["TO", [2, "8800"], false]));
        let tf = WireLogEntry::tx_frame(&TxFrameSpec {
            payload: b"BAsd7&jh23",
            opcode: 1,
            fin: true,
            repeat: Some(262144),
            ..Default::default()
        });
        assert_eq!(json_of(&tf), json!(["TF", [10, "BAsd7&jh23"], 1, true, 0, null, 262144, null, false]));
        assert_eq!(json_of(&WireLogEntry::KillAfter(1.0)), json!(["KL", 1]));
        assert_eq!(json_of(&WireLogEntry::CloseAfter(0.5)), json!(["TI", 0.5]));
        assert_eq!(json_of(&WireLogEntry::KillAfterFired), json!(["KLE"]));
        assert_eq!(json_of(&WireLogEntry::Continue(1.0, None)), json!(["CT", 1, null]));
        assert_eq!(json_of(&WireLogEntry::ContinueFired(Some("A".into()))), json!(["CTE", "A"]));
        assert_eq!(json_of(&WireLogEntry::WirelogMode(false)), json!(["WLM", false]));
    }

    #[test]
    fn trace_keeps_stats_while_logging_is_off() {
        let mut trace = WireTrace::default();
        trace.rx_octets(&[0; 6]);
        trace.set_logging(false);
        trace.rx_octets(&[0; 350]);
        trace.rx_frame(b"", 8, true, 0, None);
        trace.log(WireLogEntry::KillAfter(1.0));
        assert_eq!(trace.wirelog.len(), 3, "{:?}", trace.wirelog);
        assert_eq!(trace.rx_octets, [6, 350].into_iter().collect());
        assert_eq!(trace.rx_octets.total_weight(), 356);
        assert_eq!(trace.rx_frames.total_count(), 1);
    }
}
