//! Actions compiled to exact bytes: what a replay engine writes, and what it
//! logs.
//!
//! Contract: [`compile`] is pure and total for a checked scenario. Every
//! frame becomes one [`Send`]: the wire-log metadata Autobahn records as a
//! `TF` entry, and the socket writes (`TO` entries) in order. Frames are
//! encoded with [`crate::wire::FrameHeader`], so an invalid header in the
//! scenario is an invalid header on the wire, byte for byte.
//!
//! The plan is static. State-dependent behaviour stays with the engine and
//! the judge's tracker: a [`Step::Close`] is written only while the
//! connection is OPEN, and the automatic close of §2.2 is decided at run
//! time by [`crate::judge::Tracker`].

use std::time::Duration;

use super::action::{Action, CloseSpec, CloseVia, FrameSpec, RawSpec, WaitFor};
use super::payload::Payload;
use crate::wire::{Deflater, FrameHeader, LenForm, OpCode};

/// Longest close reason the normal close API sends uncut.
pub const MAX_API_REASON: usize = 123;

/// One step of a compiled scenario.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// Send a frame.
    Send(Send),
    /// Write raw bytes (no `TF` entry).
    Raw(Vec<Write>),
    /// The server's own close: write `send` only if the connection is OPEN,
    /// then record `close` as the local close.
    Close {
        /// Code and reason for `localCloseCode`/`localCloseReason`.
        close: LocalClose,
        /// The close frame.
        send: Send,
    },
    /// Sleep.
    Delay(Duration),
    /// Wait for the client.
    Wait(WaitFor),
    /// Drop TCP.
    DropTcp,
    /// Arm the case timer (`KL` entry with the seconds as given).
    KillAfter(f64),
    /// Arm the close timer (`TI` entry with the seconds as given).
    CloseAfter(f64),
    /// Record a marker event.
    Timeout(String),
    /// Switch the wire log (`WLM` when `logged` and it changes).
    Wirelog {
        /// On or off.
        on: bool,
        /// Logged (`enableWirelog`) rather than quiet.
        logged: bool,
    },
    /// Skip the rest of the plan unless the connection is OPEN.
    IfOpen,
    /// Start a message loop (see [`crate::scenario::series`]).
    Series(crate::scenario::series::SeriesSpec),
    /// Without permessage-deflate: UNIMPLEMENTED, close with this code
    /// through the API, skip the rest of the plan.
    RequireDeflate(u16),
    /// Run the following steps later, if still not closed (`CT`, `CTE`).
    ContinueLater {
        /// Seconds to wait.
        after: f64,
        /// The wire log's tag.
        tag: Option<String>,
    },
}

/// A frame on its way out: its `TF` log entry and its socket writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Send {
    /// What Autobahn logs as `TF`.
    pub log: TxFrameLog,
    /// The socket writes, in order; concatenated they are the frame.
    pub writes: Vec<Write>,
    /// Set for a message to compress when permessage-deflate was
    /// negotiated; `log` and `writes` are then its uncompressed form.
    pub compress: Option<Compress>,
}

/// A message compressed at run time: the compressor's state depends on the
/// agreement and on every message compressed before.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Compress {
    /// The frame's header fields before compressing (RSV1 is added).
    pub header: FrameHeader,
    /// The uncompressed payload.
    pub payload: Vec<u8>,
    /// Chop size, as for any frame.
    pub chop: Option<usize>,
    /// Sync flag, as for any frame.
    pub sync: bool,
}

impl Compress {
    /// The frame compressed with `deflater`, RSV1 set.
    pub fn send(&self, deflater: &mut Deflater) -> Send {
        let payload = deflater.compress_message(&self.payload);
        let mut header = self.header;
        header.rsv |= RSV1;
        header.len = payload.len() as u64;
        header.len_form = LenForm::minimal(header.len);
        Send {
            writes: split(header.encode_frame(&payload), self.chop, self.sync),
            log: TxFrameLog {
                payload,
                opcode: header.opcode.value(),
                fin: header.fin,
                rsv: header.rsv,
                mask: header.mask,
                repeat_len: None,
                chopsize: self.chop,
                sync: self.sync,
            },
            compress: None,
        }
    }
}

/// The RSV bit permessage-deflate marks compressed messages with.
pub const RSV1: u8 = 0b100;

impl Send {
    /// The whole frame: every write concatenated.
    pub fn bytes(&self) -> Vec<u8> {
        self.writes.iter().flat_map(|w| w.bytes.iter().copied()).collect()
    }
}

/// One socket write (a `TO` entry).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Write {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// True for chopped or sync writes (flushed before the next one).
    pub sync: bool,
}

/// The fields of Autobahn's `TF` wire-log entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxFrameLog {
    /// The payload *argument*: for a repeated payload, only the pattern.
    pub payload: Vec<u8>,
    /// Opcode, 0–15.
    pub opcode: u8,
    /// FIN bit.
    pub fin: bool,
    /// RSV bits, 0–7.
    pub rsv: u8,
    /// Masking key, if any.
    pub mask: Option<[u8; 4]>,
    /// The repeat length (Autobahn's `payload_len`), if the payload repeats.
    pub repeat_len: Option<u64>,
    /// Chop size, if the frame is written in pieces.
    pub chopsize: Option<usize>,
    /// The sync flag as given.
    pub sync: bool,
}

impl TxFrameLog {
    /// The length Autobahn logs: that of the payload argument.
    pub fn payload_len(&self) -> usize {
        self.payload.len()
    }
}

/// A close the server sends: what is recorded as `localCloseCode` and
/// `localCloseReason`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LocalClose {
    /// Status code, if any.
    pub code: Option<u16>,
    /// Reason bytes, if any (not necessarily UTF-8: see 7.5.1).
    pub reason: Option<Vec<u8>>,
}

impl LocalClose {
    /// A close with a code and a text reason.
    pub fn new(code: u16, reason: &str) -> LocalClose {
        let reason = (!reason.is_empty()).then(|| reason.as_bytes().to_vec());
        LocalClose { code: Some(code), reason }
    }

    /// The close frame payload: code (big-endian) then reason.
    pub fn payload(&self) -> Vec<u8> {
        let code = self.code.map(u16::to_be_bytes);
        let code = code.as_ref().map_or(&[][..], |c| &c[..]);
        [code, self.reason.as_deref().unwrap_or_default()].concat()
    }

    /// The close frame as one plain, unmasked write.
    pub fn send(&self) -> Send {
        Send::plain(OpCode::CLOSE, self.payload())
    }
}

impl Send {
    /// One unmasked frame with the given FIN bit and a minimal length.
    pub fn with_header(opcode: OpCode, fin: bool, payload: Vec<u8>) -> Send {
        Send::data(opcode, fin, 0, payload)
    }

    /// One unmasked frame with the given FIN and RSV bits and a minimal
    /// length, in one write.
    pub fn data(opcode: OpCode, fin: bool, rsv: u8, payload: Vec<u8>) -> Send {
        let mut header = FrameHeader::new(opcode, payload.len() as u64);
        header.fin = fin;
        header.rsv = rsv;
        let bytes = header.encode_frame(&payload);
        let mut send = Send::plain(opcode, payload);
        send.log.fin = fin;
        send.log.rsv = rsv;
        send.writes = vec![Write { bytes, sync: false }];
        send
    }

    /// Marks the frame as a sync write (logged `sync`, flushed alone).
    pub fn set_sync(&mut self, sync: bool) {
        self.log.sync = sync;
        for w in &mut self.writes {
            w.sync = sync;
        }
    }

    /// One well-formed frame (FIN, no RSV, unmasked, minimal length) in one
    /// write: what the fuzzer sends by itself (closes, pongs).
    pub fn plain(opcode: OpCode, payload: Vec<u8>) -> Send {
        let bytes = FrameHeader::new(opcode, payload.len() as u64).encode_frame(&payload);
        let log = TxFrameLog {
            payload,
            opcode: opcode.value(),
            fin: true,
            rsv: 0,
            mask: None,
            repeat_len: None,
            chopsize: None,
            sync: false,
        };
        Send { log, writes: vec![Write { bytes, sync: false }], compress: None }
    }
}

/// Compiles actions into steps. Recorded compressed messages are sent as
/// recorded if `as_recorded`, else recompressed.
pub fn compile(actions: &[Action], as_recorded: bool) -> Vec<Step> {
    actions.iter().flat_map(|a| compile_one(a, as_recorded)).collect()
}

fn compile_one(action: &Action, as_recorded: bool) -> Vec<Step> {
    let step = match action {
        Action::Recorded(rec) => {
            let actions = match &rec.recompressed {
                Some(again) if !as_recorded => again,
                _ => &rec.as_recorded,
            };
            return compile(actions, as_recorded);
        }
        Action::Frame(frame) => Step::Send(frame_send(frame)),
        Action::Raw(RawSpec { hex, chop, sync }) => Step::Raw(split(hex.0.clone(), *chop, *sync)),
        Action::Close(spec) => {
            let close = local_close(spec);
            Step::Close { send: close.send(), close }
        }
        Action::Delay(ms) => Step::Delay(Duration::from_millis(*ms)),
        Action::Wait(what) => Step::Wait(*what),
        Action::DropTcp => Step::DropTcp,
        Action::KillAfter(secs) => Step::KillAfter(*secs),
        Action::CloseAfter(secs) => Step::CloseAfter(*secs),
        Action::Timeout(tag) => Step::Timeout(tag.clone()),
        Action::Wirelog(w) => Step::Wirelog { on: w.on, logged: w.how == super::expect::WirelogSwitch::Logged },
        Action::IfOpen => Step::IfOpen,
        Action::Message(message) => {
            let sends = message.frames().into_iter().map(|(opcode, fin, payload)| {
                let mut send = Send::plain(opcode, payload);
                if !fin {
                    send = Send::with_header(opcode, fin, send.log.payload);
                }
                send.set_sync(message.sync);
                Step::Send(send)
            });
            return sends.collect();
        }
        Action::ContinueLater(spec) => Step::ContinueLater { after: spec.after, tag: spec.tag.clone() },
        Action::Series(series) => Step::Series(series.clone()),
        Action::RequireDeflate(spec) => Step::RequireDeflate(spec.close),
    };
    vec![step]
}

fn frame_send(frame: &FrameSpec) -> Send {
    let mut header = FrameHeader::new(frame.opcode.0, frame.declared_len());
    header.fin = frame.fin;
    header.rsv = frame.rsv.0;
    header.mask = frame.mask.map(|m| m.0);
    if let Some(form) = frame.len_form {
        header.len_form = form.0;
    }
    let payload = frame.payload_bytes();
    let bytes = header.encode_frame(&payload);
    let compress = frame.compress.then_some(Compress { header, payload, chop: frame.chop, sync: frame.sync });
    Send {
        compress,
        writes: split(bytes, frame.chop, frame.sync),
        log: TxFrameLog {
            payload: frame.payload.as_ref().map_or(Vec::new(), |p| p.bytes().to_vec()),
            opcode: header.opcode.value(),
            fin: header.fin,
            rsv: header.rsv,
            mask: header.mask,
            repeat_len: frame.repeat_to,
            chopsize: frame.chop,
            sync: frame.sync,
        },
    }
}

/// The local close a close action records; the API cuts long reasons.
fn local_close(spec: &CloseSpec) -> LocalClose {
    let mut reason = spec.reason.as_ref().map(|r: &Payload| r.bytes().to_vec());
    let too_long = |r: &&mut Vec<u8>| r.len() > MAX_API_REASON;
    if let Some(r) = reason.as_mut().filter(too_long).filter(|_| spec.via == CloseVia::Api) {
        r.truncate(MAX_API_REASON - 3);
        r.extend_from_slice(b"...");
    }
    LocalClose { code: spec.code, reason }
}

/// Splits `bytes` into writes: pieces of `chop` bytes (all sync), or one.
pub fn split(bytes: Vec<u8>, chop: Option<usize>, sync: bool) -> Vec<Write> {
    match chop {
        Some(size) => bytes.chunks(size.max(1)).map(|c| Write { bytes: c.to_vec(), sync: true }).collect(),
        None => vec![Write { bytes, sync }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::payload::{decode_hex, encode_hex};

    fn compile_yaml(yaml: &str) -> Vec<Step> {
        compile(&crate::scenario::from_yaml::<Vec<Action>>(yaml).unwrap(), true)
    }

    fn only_send(steps: &[Step]) -> &Send {
        match steps {
            [Step::Send(send)] => send,
            other => panic!("expected one send, got {other:?}"),
        }
    }

    #[test]
    fn invalid_headers_are_expressible() {
        let steps =
            compile_yaml("- frame: {opcode: 11, fin: false, rsv: 5, len: 3, len_form: 64, payload: {hex: 'ff'}}");
        let send = only_send(&steps);
        assert_eq!(encode_hex(&send.bytes()), "5b7f0000000000000003ff");
        assert_eq!((send.log.opcode, send.log.fin, send.log.rsv), (11, false, 5));
    }

    #[test]
    fn masked_frames_are_masked_and_logged() {
        // RFC 6455 §5.7: masked "Hello".
        let steps = compile_yaml("- frame: {opcode: text, mask: 37fa213d, payload: {text: Hello}}");
        let send = only_send(&steps);
        assert_eq!(send.bytes(), decode_hex("818537fa213d7f9f4d5158").unwrap());
        assert_eq!(send.log.mask, Some([0x37, 0xfa, 0x21, 0x3d]));
    }

    #[test]
    fn chopped_frames_are_sync_writes_of_at_most_chop_bytes() {
        let steps = compile_yaml("- frame: {opcode: ping, payload: {text: abcde}, chop: 3}");
        let send = only_send(&steps);
        let sizes: Vec<(usize, bool)> = send.writes.iter().map(|w| (w.bytes.len(), w.sync)).collect();
        assert_eq!(sizes, vec![(3, true), (3, true), (1, true)]);
        assert_eq!(send.bytes(), b"\x89\x05abcde");
        assert_eq!((send.log.chopsize, send.log.sync), (Some(3), false));
    }

    #[test]
    fn raw_bytes_and_timers_pass_through() {
        let steps = compile_yaml("- raw: {hex: '0102 03', chop: 2}\n- delay: 1500\n- drop_tcp\n- kill_after: 1");
        let Step::Raw(writes) = &steps[0] else { panic!("{steps:?}") };
        assert_eq!(writes.iter().map(|w| w.bytes.clone()).collect::<Vec<_>>(), vec![vec![1, 2], vec![3]]);
        assert_eq!(steps[1..], [Step::Delay(Duration::from_millis(1500)), Step::DropTcp, Step::KillAfter(1.0)]);
    }

    #[test]
    fn api_close_cuts_long_reasons_and_raw_close_does_not() {
        let reason = "x".repeat(124);
        let close_of = |via: &str| {
            let yaml = format!("- close: {{code: 1000, reason: {{text: {reason}}}, via: {via}}}");
            match compile_yaml(&yaml).remove(0) {
                Step::Close { close, send } => (close, send),
                other => panic!("{other:?}"),
            }
        };
        let (api, api_send) = close_of("api");
        assert_eq!(api.reason.as_ref().map(Vec::len), Some(123));
        assert!(api.reason.as_ref().unwrap().ends_with(b"x..."));
        assert_eq!(api_send.bytes().len(), 2 + 2 + 123);
        let (raw, raw_send) = close_of("raw");
        assert_eq!(raw.reason.map(|r| r.len()), Some(124));
        assert_eq!(encode_hex(&raw_send.bytes()[..4]), "887e007e");
    }

    #[test]
    fn compressed_frames_compress_at_run_time() {
        let steps = compile_yaml("- frame: {opcode: text, payload: {text: Hello}, compress: true}");
        let send = only_send(&steps);
        assert_eq!(send.bytes(), b"\x81\x05Hello", "uncompressed unless negotiated");
        let mut deflater = Deflater::new(15, false).unwrap();
        let compressed = send.compress.as_ref().unwrap().send(&mut deflater);
        // RFC 7692 §7.2.3.1: "Hello" compressed.
        assert_eq!(encode_hex(&compressed.bytes()), "c107f248cdc9c90700");
        assert_eq!((compressed.log.rsv, compressed.compress.is_none()), (4, true));
    }

    #[test]
    fn close_payload_without_code_is_the_reason_alone() {
        let close = LocalClose { code: None, reason: Some(b"a".to_vec()) };
        assert_eq!(close.send().bytes(), b"\x88\x01a");
        assert_eq!(LocalClose::new(1001, "Going Away").payload(), b"\x03\xe9Going Away");
        assert_eq!(LocalClose::new(1000, "").reason, None);
    }
}
