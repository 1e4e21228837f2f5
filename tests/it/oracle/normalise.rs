//! What may legitimately differ between two runs of the same case, and how
//! it is taken out before comparing (docs/oracle.md lists the same rules).
//!
//! Everything else in a per-case JSON and its `index.json` entry must be
//! equal. Each rule names what it replaces; a replaced value becomes a
//! `<placeholder>` string, so a field that is missing on one side still
//! shows as a difference.
//!
//! 1. **Time**: `started` and `duration` (per case and in the index). They
//!    are wall-clock facts of one run.
//! 2. **Per-connection handshake values**, in `httpRequest` and
//!    `httpResponse`: the port of `Host`, `Sec-WebSocket-Key`,
//!    `Sec-WebSocket-Accept` (derived from the key) and `Date`.
//! 3. **The fuzzer's own identity**: in the handshake message the fuzzer
//!    wrote (the 101 when it is the server, `isServer: true`; the upgrade
//!    request when it is the client), the values of `Server`,
//!    `X-Powered-By` and `User-Agent`. wstap names itself there on purpose
//!    (docs/replay.md). The peer's own headers are compared as they are.
//! 4. **Handshake octets**: the wire-log entries that carry the handshake
//!    (the first `RO` and the first `TO`) show a hex preview of it; the
//!    preview is replaced (the text itself is compared through rules 2–3)
//!    and their lengths, and the matching `rxOctetStats`/`txOctetStats`
//!    buckets, are recounted as the normalised header block's length, so
//!    that only a difference rule 2 or 3 explains is taken out.
//! 5. **Masks**: the side that masks (the client: RX when the fuzzer is the
//!    server, TX when it is the client) picks a new random key per frame.
//!    The key in `RF`/`TF` entries and the hex preview of that side's octet
//!    entries after the handshake are replaced; their lengths stay. `RF`
//!    entries still carry the unmasked payload, so nothing the client sent
//!    is hidden.
//! 6. **Agent-derived file names**: the agent part of `reportfile`.
//! 7. **Read boundaries**: how the peer's bytes are cut into reads depends
//!    on TCP segmentation and scheduling, not on either implementation (two
//!    runs of the real suite against the same client differ in 7.1.6, and
//!    coalesce an echo with the close reply or not). So `RO` entries are
//!    dropped from the wire log and `rxOctetStats` becomes the total
//!    octets read, `{"<total>": N}` (rule 4 applied to the request's
//!    share). The frames read (`RF`, `rxFrameStats`) are compared as they
//!    are; writes (`TO`, `txOctetStats`) are the fuzzer's own and stay.
//! 8. **Cases whose events are a race by design** ([`RACES`]): 7.1.6 sends a
//!    256 KiB message, a text, a close and a ping back to back; whether the
//!    client echoes the messages before it answers the close is up to its
//!    scheduling ("Case outcome depends on implementation defined close
//!    behavior"), and two runs of the real suite differ. Its `received`,
//!    `result`, `rxFrameStats`, `rxOctetStats` and received data frames are
//!    taken out; the verdicts (INFORMATIONAL either way), the closing
//!    flags, the close frames and everything sent are still compared.
//! 9. **Reads among queued writes**: when a case chops its frames or writes
//!    them synchronously (`TO` with sync, `TF` with a chop size: 2.11, 3.4,
//!    4.1.5, 5.8, 5.14, …), Autobahn logs each queued write when the reactor
//!    really writes it, so where the client's frames (`RF`) fall among those
//!    writes depends on when they arrive; two runs of the real suite differ.
//!    In such a case the `RF` entries are moved out of `wirelog` into
//!    `wirelogRead` and the `TO` entries into `wirelogWritten`, each
//!    keeping its order, and the three sequences are compared. A client
//!    that fails the connection mid-way also cuts the writes short at a
//!    point that varies (3.4, 4.1.5, 5.14; with python even the fuzzer's
//!    close reply in 5.11/5.14 is logged as `TF` but never written): when
//!    one side's writes are a prefix of the other's, the comparison
//!    ([`queued_prefix`]) drops the longer side's extra writes, from
//!    `wirelogWritten` and from `txOctetStats`. Every frame the fuzzer meant to send (`TF`, with its
//!    chop size) is still compared.

use serde_json::Value;

const STARTED: &str = "<started>";
const DURATION: &str = "<duration>";
const MASK: &str = "<mask>";
const MASKED_OCTETS: &str = "<masked octets>";
const HANDSHAKE_OCTETS: &str = "<handshake octets>";
const TOTAL: &str = "<total>";
const RACE: &str = "<a race by design>";

/// Cases whose received events depend on the client's scheduling (rule 8).
pub const RACES: [&str; 1] = ["7.1.6"];

/// Headers whose values are new on every connection (rule 2).
const PER_CONNECTION: [&str; 3] = ["sec-websocket-key", "sec-websocket-accept", "date"];
/// Headers that name the fuzzer's implementation (rule 3).
const IDENTITY: [&str; 3] = ["server", "x-powered-by", "user-agent"];

/// Normalises one `index.json` entry (rules 1 and 6).
pub fn index_entry(entry: &mut Value) {
    if let Some(obj) = entry.as_object_mut() {
        if obj.contains_key("duration") {
            obj.insert("duration".into(), DURATION.into());
        }
        if let Some(Value::String(file)) = obj.get_mut("reportfile") {
            *file = without_agent(file);
        }
    }
}

/// `py_case_7_1_1.json` → `<agent>_case_7_1_1.json`.
fn without_agent(file: &str) -> String {
    match file.rfind("_case_") {
        Some(at) => format!("<agent>{}", &file[at..]),
        None => file.to_owned(),
    }
}

/// Normalises one per-case JSON report (all rules).
pub fn case(report: &mut Value) {
    let Some(obj) = report.as_object_mut() else { return };
    for (key, placeholder) in [("started", STARTED), ("duration", DURATION)] {
        if obj.contains_key(key) {
            obj.insert(key.into(), placeholder.into());
        }
    }
    let is_server = obj.get("isServer").and_then(Value::as_bool).unwrap_or(true);
    // The fuzzer writes the response as server, the request as client.
    let (request_ours, response_ours) = (!is_server, is_server);
    let request = handshake(obj.get_mut("httpRequest"), request_ours);
    let response = handshake(obj.get_mut("httpResponse"), response_ours);
    // The peer's handshake is what the fuzzer reads first; its own, what it writes first.
    let (rx_hs, tx_hs) = if is_server { (request, response) } else { (response, request) };
    let wirelog = obj.get_mut("wirelog").and_then(Value::as_array_mut);
    let (rx_len, tx_len) = wirelog.map(|log| wirelog_entries(log, is_server, rx_hs, tx_hs)).unwrap_or_default();
    recount(obj.get_mut("rxOctetStats"), rx_len.or(rx_hs.map(|h| (h.original, h.normalised))));
    recount(obj.get_mut("txOctetStats"), tx_len.or(tx_hs.map(|h| (h.original, h.normalised))));
    total_octets(obj.get_mut("rxOctetStats"));
    if let Some(Value::Array(log)) = obj.get_mut("wirelog") {
        log.retain(|entry| entry.get(0).and_then(Value::as_str) != Some("RO"));
    }
    reads_apart_from_queued_writes(obj);
    let id = obj.get("id").and_then(Value::as_str).unwrap_or_default();
    if RACES.contains(&id) {
        race(obj);
    }
}

/// The name under which rule 9 keeps the frames read.
pub const WIRELOG_READ: &str = "wirelogRead";
/// The name under which rule 9 keeps the writes of a case with queued writes.
pub const WIRELOG_QUEUED: &str = "wirelogWritten";

/// Rule 9.
fn reads_apart_from_queued_writes(obj: &mut serde_json::Map<String, Value>) {
    let Some(Value::Array(log)) = obj.get_mut("wirelog") else { return };
    // ["TO", [len, hex], sync]; ["TF", [len, text], op, fin, rsv, mask, repeat, chop, sync]
    let queued = |e: &Value| match e.get(0).and_then(Value::as_str) {
        Some("TO") => e[2] == true,
        Some("TF") => e[8] == true || !e[7].is_null(),
        _ => false,
    };
    if !log.iter().any(queued) {
        return;
    }
    let is_read = |e: &Value| e.get(0).and_then(Value::as_str) == Some("RF");
    let is_write = |e: &Value| e.get(0).and_then(Value::as_str) == Some("TO");
    let (mut reads, mut writes, mut rest) = (Vec::new(), Vec::new(), Vec::new());
    for entry in std::mem::take(log) {
        match () {
            _ if is_read(&entry) => reads.push(entry),
            _ if is_write(&entry) => writes.push(entry),
            _ => rest.push(entry),
        }
    }
    *log = rest;
    obj.insert(WIRELOG_READ.into(), reads.into());
    obj.insert(WIRELOG_QUEUED.into(), writes.into());
}

/// Rule 9, across a pair of normalised reports: if one side's writes
/// are a prefix of the other's, the other's extra writes are
/// dropped (they happened to reach the wire before the connection ended).
pub fn queued_prefix(a: &mut Value, b: &mut Value) {
    let len = |r: &Value| r.get(WIRELOG_QUEUED).and_then(Value::as_array).map(Vec::len);
    let (Some(la), Some(lb)) = (len(a), len(b)) else { return };
    let (short, long) = if la <= lb { (&*a, &mut *b) } else { (&*b, &mut *a) };
    let keep = short[WIRELOG_QUEUED].as_array().unwrap().clone();
    let Some(Value::Array(writes)) = long.get_mut(WIRELOG_QUEUED) else { return };
    if writes.len() == keep.len() || writes[..keep.len()] != keep[..] {
        return;
    }
    let extra: Vec<Value> = writes.split_off(keep.len());
    let Some(Value::Object(stats)) = long.get_mut("txOctetStats") else { return };
    for write in extra {
        let key = write[1][0].as_u64().unwrap_or_default().to_string();
        match stats.get(&key).and_then(Value::as_u64) {
            Some(n) if n > 1 => {
                stats.insert(key, (n - 1).into());
            }
            _ => {
                stats.remove(&key);
            }
        }
    }
}

/// Rule 7: `{"288": 1, "8": 2}` → `{"<total>": 304}`.
fn total_octets(stats: Option<&mut Value>) {
    let Some(Value::Object(stats)) = stats else { return };
    let total: u64 = stats.iter().map(|(size, n)| size.parse::<u64>().unwrap_or(0) * n.as_u64().unwrap_or(0)).sum();
    stats.clear();
    stats.insert(TOTAL.into(), total.into());
}

/// Rule 8.
fn race(obj: &mut serde_json::Map<String, Value>) {
    for key in ["received", "result", "rxFrameStats", "rxOctetStats"] {
        if obj.contains_key(key) {
            obj.insert(key.into(), RACE.into());
        }
    }
    if let Some(Value::Array(log)) = obj.get_mut("wirelog") {
        let data_frame =
            |e: &Value| e.get(0).and_then(Value::as_str) == Some("RF") && e[2].as_u64().is_some_and(|op| op < 8);
        log.retain(|entry| !data_frame(entry));
    }
}

/// Lengths of a header block before and after normalisation.
#[derive(Clone, Copy, Debug)]
struct Lengths {
    original: usize,
    normalised: usize,
}

/// Rules 2 and 3 on a header block; returns its lengths.
fn handshake(field: Option<&mut Value>, ours: bool) -> Option<Lengths> {
    let Some(Value::String(text)) = field else { return None };
    let original = text.len();
    let lines: Vec<String> = text.split("\r\n").map(|line| header_line(line, ours)).collect();
    *text = lines.join("\r\n");
    Some(Lengths { original, normalised: text.len() })
}

fn header_line(line: &str, ours: bool) -> String {
    let Some((name, value)) = line.split_once(':') else { return line.to_owned() };
    let lower = name.trim().to_ascii_lowercase();
    if PER_CONNECTION.contains(&lower.as_str()) || (ours && IDENTITY.contains(&lower.as_str())) {
        return format!("{name}: <{lower}>");
    }
    if lower == "host" {
        let value = value.trim();
        if let Some((host, port)) = value.rsplit_once(':')
            && !port.is_empty()
            && port.bytes().all(|b| b.is_ascii_digit())
        {
            return format!("{name}: {host}:<port>");
        }
    }
    line.to_owned()
}

/// An octet count before and after rule 4.
type Recount = (usize, usize);

/// Rules 4 and 5 on the wire log; returns the (original, normalised)
/// lengths of the first RO and the first TO entry.
fn wirelog_entries(
    log: &mut [Value],
    is_server: bool,
    rx_hs: Option<Lengths>,
    tx_hs: Option<Lengths>,
) -> (Option<Recount>, Option<Recount>) {
    let (mut rx, mut tx) = (None, None);
    for entry in log.iter_mut() {
        let Some(items) = entry.as_array_mut() else { continue };
        let tag = items.first().and_then(Value::as_str).unwrap_or_default().to_owned();
        match tag.as_str() {
            "RO" | "TO" => {
                let (seen, hs, masked_side) = match tag.as_str() {
                    "RO" => (&mut rx, rx_hs, is_server),
                    _ => (&mut tx, tx_hs, !is_server),
                };
                let Some(Value::Array(octets)) = items.get_mut(1) else { continue };
                if seen.is_none() {
                    let len = octets.first().and_then(Value::as_u64).unwrap_or_default() as usize;
                    let new_len = match hs {
                        Some(h) => (len + h.normalised).saturating_sub(h.original),
                        None => len,
                    };
                    *seen = Some((len, new_len));
                    if hs.is_some() {
                        octets[0] = new_len.into();
                        octets[1] = HANDSHAKE_OCTETS.into();
                    }
                } else if masked_side && octets.len() > 1 {
                    octets[1] = MASKED_OCTETS.into();
                }
            }
            // ["RF", [len, text], opcode, fin, rsv, masked, mask]
            "RF" if is_server => mask_at(items, 6),
            // ["TF", [len, text], opcode, fin, rsv, mask, repeat, chop, sync]
            "TF" if !is_server => mask_at(items, 5),
            _ => {}
        }
    }
    (rx, tx)
}

fn mask_at(items: &mut [Value], at: usize) {
    if let Some(mask) = items.get_mut(at)
        && !mask.is_null()
    {
        *mask = MASK.into();
    }
}

/// Moves one count of an octet-stats bucket from the original handshake
/// length to the normalised one.
fn recount(stats: Option<&mut Value>, lengths: Option<Recount>) {
    let (Some(Value::Object(stats)), Some((from, to))) = (stats, lengths) else { return };
    if from == to {
        return;
    }
    let key = from.to_string();
    let Some(count) = stats.get(&key).and_then(Value::as_u64) else { return };
    if count <= 1 {
        stats.remove(&key);
    } else {
        stats.insert(key, (count - 1).into());
    }
    let to = to.to_string();
    let before = stats.get(&to).and_then(Value::as_u64).unwrap_or(0);
    stats.insert(to, (before + 1).into());
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report(server: &str, port: u16, mask: &str) -> Value {
        let request = format!(
            "GET /runCase?case=1&agent=a HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nSec-WebSocket-Key: k{mask}==\r\n\r\n"
        );
        let response =
            format!("HTTP/1.1 101 Switching Protocols\r\nServer: {server}\r\nSec-WebSocket-Accept: a{mask}=\r\n\r\n");
        json!({
            "isServer": true, "started": "2026-01-01T00:00:00.000Z", "duration": 3,
            "httpRequest": request, "httpResponse": response,
            "rxOctetStats": {request.len().to_string(): 1, "8": 1},
            "txOctetStats": {response.len().to_string(): 1, "4": 2},
            "wirelog": [
                ["RO", [request.len(), "4745"]], ["TO", [response.len(), "4854"], false],
                ["TO", [4, "880203e8"], false], ["RO", [8, format!("8882{mask}")]],
                ["RF", [2, "0x03e8"], 8, true, 0, true, mask],
            ],
        })
    }

    #[test]
    fn runs_that_differ_only_in_legitimate_values_normalise_equal() {
        let (mut a, mut b) =
            (report("AutobahnTestSuite/0.8.2-0.10.9", 40001, "aaaa"), report("wstap/0.1.0", 5000, "bbbb"));
        case(&mut a);
        case(&mut b);
        assert_eq!(a, b);
        assert_eq!(a["wirelog"][2][6], MASK);
        assert_eq!(a["wirelog"][1][1][1], "880203e8", "the server's own frames stay");
        assert_eq!(a["wirelog"].as_array().unwrap().len(), 3, "reads are dropped: {a}");
        assert!(a["httpRequest"].as_str().unwrap().contains("Host: 127.0.0.1:<port>\r\n"));
    }

    #[test]
    fn a_real_difference_survives_normalisation() {
        let (mut a, mut b) = (report("x", 40001, "aaaa"), report("x", 40001, "aaaa"));
        b["wirelog"][2][1][1] = "880203e9".into();
        b["rxOctetStats"]["8"] = 2.into();
        b["txOctetStats"]["4"] = 3.into();
        case(&mut a);
        case(&mut b);
        assert_ne!(a["wirelog"], b["wirelog"]);
        assert_ne!(a["rxOctetStats"], b["rxOctetStats"], "8 more octets read");
        assert_ne!(a["txOctetStats"], b["txOctetStats"]);
    }

    #[test]
    fn read_boundaries_do_not_matter_but_the_total_does() {
        let (mut a, mut b) = (report("x", 40001, "aaaa"), report("x", 40001, "aaaa"));
        b["rxOctetStats"] = json!({b["httpRequest"].as_str().unwrap().len().to_string(): 1, "4": 2});
        b["wirelog"][3] = json!(["RO", [4, "8882"]]);
        b["wirelog"].as_array_mut().unwrap().insert(4, json!(["RO", [4, "aaaa"]]));
        case(&mut a);
        case(&mut b);
        assert_eq!(a, b);
        assert_eq!(a["rxOctetStats"], json!({TOTAL: a["httpRequest"].as_str().unwrap().len() + 8}));
    }

    #[test]
    fn only_the_racy_case_loses_its_received_events() {
        let mut r = report("x", 1, "aaaa");
        r["received"] = json!([["message", "x", false]]);
        r["wirelog"].as_array_mut().unwrap().push(json!(["RF", [1, "x"], 1, true, 0, true, "aaaa"]));
        let mut racy = r.clone();
        racy["id"] = "7.1.6".into();
        case(&mut r);
        case(&mut racy);
        assert_eq!(r["received"], json!([["message", "x", false]]));
        assert_eq!(racy["received"], RACE);
        let log = racy["wirelog"].as_array().unwrap();
        assert_eq!(log.iter().filter(|e| e[0] == "RF").count(), 1, "the close frame stays: {log:?}");
    }

    #[test]
    fn reads_may_fall_anywhere_among_queued_writes_only() {
        let sync_write = json!(["TO", [1, "09"], true]);
        let read = json!(["RF", [1, "x"], 1, true, 0, true, "aaaa"]);
        let (mut a, mut b) = (report("x", 1, "aaaa"), report("x", 1, "aaaa"));
        for (r, order) in [(&mut a, [&sync_write, &read]), (&mut b, [&read, &sync_write])] {
            r["wirelog"].as_array_mut().unwrap().extend(order.into_iter().cloned());
        }
        let (mut plain_a, mut plain_b) = (a.clone(), b.clone());
        for r in [&mut plain_a, &mut plain_b] {
            r["wirelog"].as_array_mut().unwrap().iter_mut().for_each(|e| {
                if e[0] == "TO" {
                    e[2] = false.into()
                }
            });
        }
        for r in [&mut a, &mut b, &mut plain_a, &mut plain_b] {
            case(r);
        }
        assert_eq!(a, b, "queued writes: the interleaving is not compared");
        assert_eq!(a[WIRELOG_READ].as_array().unwrap().len(), 2, "the reads are still compared: {a}");
        assert_ne!(plain_a, plain_b, "plain writes: the interleaving is compared");
    }

    #[test]
    fn a_queue_cut_short_compares_up_to_the_cut_and_no_further() {
        let write = |hex: &str| json!(["TO", [1, hex], true]);
        let run = |hexes: &[&str]| {
            let mut r = report("x", 1, "aaaa");
            r["wirelog"].as_array_mut().unwrap().extend(hexes.iter().map(|h| write(h)));
            r["txOctetStats"]["1"] = hexes.len().into();
            case(&mut r);
            r
        };
        let (mut short, mut long) = (run(&["48", "65"]), run(&["48", "65", "6c", "6c"]));
        queued_prefix(&mut short, &mut long);
        assert_eq!(short, long);
        let (mut other, mut long) = (run(&["48", "66"]), run(&["48", "65", "6c"]));
        queued_prefix(&mut other, &mut long);
        assert_ne!(other, long, "not a prefix: a real difference");
    }

    #[test]
    fn the_peers_identity_is_kept() {
        let mut r = report("x", 1, "aaaa");
        r["isServer"] = false.into();
        case(&mut r);
        assert!(r["httpResponse"].as_str().unwrap().contains("Server: x\r\n"), "{r}");
    }

    #[test]
    fn index_entries_lose_time_and_agent() {
        let mut e = json!({"behavior": "OK", "duration": 7, "reportfile": "my_agent_case_7_1_1.json"});
        index_entry(&mut e);
        assert_eq!(e, json!({"behavior": "OK", "duration": DURATION, "reportfile": "<agent>_case_7_1_1.json"}));
    }
}
