//! The server's side of the permessage-deflate negotiation (RFC 7692 §7.1):
//! a client's offers plus what the server wants give the agreement to send.
//!
//! Rules, per offer in the client's order (the first acceptable one wins):
//! - An offer with an unknown, repeated or malformed parameter is declined.
//! - `server_no_context_takeover` is agreed if the client asked for it or
//!   the server wants it; likewise `client_no_context_takeover` (a client
//!   that offers it has promised not to use context takeover anyway).
//! - `server_max_window_bits` is the smaller of the offer's value and what
//!   the server wants. An offer of `server_max_window_bits=8` is declined:
//!   the answer must not exceed 8, and zlib cannot compress with 8 bits.
//!   A server that wants 8 gets 9.
//! - `client_max_window_bits` is answered only if the client offered it: with
//!   the smaller of the offered value and what the server wants (a bare
//!   offer lets the server pick; a server that wants 15 then leaves it out).
//!   The server inflates with a 15-bit window whatever is agreed.

use super::{DeflateParams, MIN_COMPRESS_BITS};
use crate::wire::Extension;

/// The extension token.
pub const PERMESSAGE_DEFLATE: &str = "permessage-deflate";

/// A permessage-deflate agreement: the parameters in force, and the
/// `Sec-WebSocket-Extensions` element that announces them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Agreement {
    /// The parameters both sides now use.
    pub params: DeflateParams,
    /// The response element, e.g. `permessage-deflate; server_max_window_bits=10`.
    pub element: String,
}

/// Answers the client's `offers` (every extension it offered, in order)
/// for a server that wants `wanted`; `None` declines permessage-deflate.
pub fn negotiate(offers: &[Extension], wanted: &DeflateParams) -> Option<Agreement> {
    offers.iter().filter(|e| e.name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE)).find_map(|offer| answer(offer, wanted))
}

/// The answer to one offer, or `None` to decline it.
fn answer(offer: &Extension, wanted: &DeflateParams) -> Option<Agreement> {
    let asked = DeflateParams::from_extension(offer).ok()?;
    let offered_bits = |name| offer.param(name).map(|v| v.and_then(|v| v.parse::<u8>().ok()));
    let mut params = DeflateParams {
        server_no_context_takeover: asked.server_no_context_takeover || wanted.server_no_context_takeover,
        client_no_context_takeover: asked.client_no_context_takeover || wanted.client_no_context_takeover,
        server_max_window_bits: wanted.server_max_window_bits.max(MIN_COMPRESS_BITS),
        client_max_window_bits: 15,
    };
    let server_bits = offered_bits("server_max_window_bits");
    if let Some(bits) = server_bits {
        // from_extension checked that a value 8..=15 is there.
        let bits = bits?;
        if bits < MIN_COMPRESS_BITS {
            return None;
        }
        params.server_max_window_bits = params.server_max_window_bits.min(bits);
    }
    let client_bits = match offered_bits("client_max_window_bits") {
        Some(Some(bits)) => Some(bits.min(wanted.client_max_window_bits.max(MIN_COMPRESS_BITS))),
        Some(None) => Some(wanted.client_max_window_bits.max(MIN_COMPRESS_BITS)).filter(|&b| b < 15),
        None => None,
    };
    params.client_max_window_bits = client_bits.unwrap_or(15);
    let show_server_bits = server_bits.is_some() || params.server_max_window_bits < 15;
    Some(Agreement { element: element(&params, show_server_bits, client_bits.is_some()), params })
}

/// One way a server accepts a client's permessage-deflate offer (a
/// scenario's `handshake.deflate_accept` entry; see [`accept_by_rules`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptRule {
    /// Ask the client not to take over context (`client_no_context_takeover`).
    #[serde(default)]
    pub client_no_context_takeover: bool,
    /// Ask the client for this window size (`client_max_window_bits=N`,
    /// 8–15); the rule then only takes offers that allow it.
    #[serde(default)]
    pub client_max_window_bits: Option<u8>,
}

/// Autobahn 12.x/13.x's accept functions, as rules: each rule in order is
/// tried against every permessage-deflate offer in the client's order, and
/// the first offer a rule takes is the agreement; `None` declines.
///
/// As in Autobahn 0.8.2 (`PerMessageDeflateOfferAccept`): an offer with an
/// unknown, repeated or malformed parameter is skipped; a rule asking for
/// `client_max_window_bits` takes only offers that contain
/// `client_max_window_bits` (with or without a value, which is not
/// compared); `client_no_context_takeover` may always be asked for (RFC 7692
/// §7.1.1.2). The answer repeats what the offer asked of the server
/// (`server_no_context_takeover`, `server_max_window_bits=N`, 8 included:
/// wstap then compresses with 9 bits, see [`super::Deflater`]), then adds
/// the rule's requests, in that order.
pub fn accept_by_rules(offers: &[Extension], rules: &[AcceptRule]) -> Option<Agreement> {
    let offers: Vec<(&Extension, DeflateParams)> = offers
        .iter()
        .filter(|e| e.name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE))
        .filter_map(|e| DeflateParams::from_extension(e).ok().map(|p| (e, p)))
        .collect();
    rules.iter().find_map(|rule| {
        offers.iter().find_map(|(offer, asked)| {
            let allows_bits = offer.param("client_max_window_bits").is_some();
            if rule.client_max_window_bits.is_some() && !allows_bits {
                return None;
            }
            let server_bits = offer.param("server_max_window_bits").is_some();
            let params = DeflateParams {
                server_no_context_takeover: asked.server_no_context_takeover,
                client_no_context_takeover: rule.client_no_context_takeover,
                server_max_window_bits: if server_bits { asked.server_max_window_bits } else { 15 },
                client_max_window_bits: rule.client_max_window_bits.unwrap_or(15),
            };
            let mut element = String::from(PERMESSAGE_DEFLATE);
            if params.server_no_context_takeover {
                element += "; server_no_context_takeover";
            }
            if server_bits {
                element += &format!("; server_max_window_bits={}", params.server_max_window_bits);
            }
            if rule.client_no_context_takeover {
                element += "; client_no_context_takeover";
            }
            if let Some(bits) = rule.client_max_window_bits {
                element += &format!("; client_max_window_bits={bits}");
            }
            Some(Agreement { params, element })
        })
    })
}

/// What a server accepting `value` (a `Sec-WebSocket-Extensions` value or
/// one element of it) wants from permessage-deflate, if it accepts it.
/// Parameters are read leniently: what cannot be read keeps its default.
pub fn wanted(value: &str) -> Option<DeflateParams> {
    let exts = crate::wire::handshake::parse_extensions(value);
    let pmd = exts.iter().find(|e| e.name == PERMESSAGE_DEFLATE)?;
    Some(DeflateParams::from_extension_lenient(pmd).0)
}

/// `value` (a `Sec-WebSocket-Extensions` value) with its permessage-deflate
/// element replaced by `agreement`'s, or removed without one. Other
/// elements are kept as written; `None` if nothing is left.
pub fn rewrite(value: &str, agreement: Option<&Agreement>) -> Option<String> {
    let elements: Vec<String> = value
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .filter_map(|e| match wanted(e) {
            Some(_) => agreement.map(|a| a.element.clone()),
            None => Some(e.to_string()),
        })
        .collect();
    (!elements.is_empty()).then(|| elements.join(", "))
}

/// The response element for `params`.
fn element(params: &DeflateParams, server_bits: bool, client_bits: bool) -> String {
    let mut out = String::from(PERMESSAGE_DEFLATE);
    if params.server_no_context_takeover {
        out += "; server_no_context_takeover";
    }
    if params.client_no_context_takeover {
        out += "; client_no_context_takeover";
    }
    if server_bits {
        out += &format!("; server_max_window_bits={}", params.server_max_window_bits);
    }
    if client_bits {
        out += &format!("; client_max_window_bits={}", params.client_max_window_bits);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::handshake::parse_extensions;

    fn agree(offer: &str, wanted: &str) -> Option<String> {
        let wanted = DeflateParams::from_extension(&parse_extensions(wanted)[0]).unwrap();
        negotiate(&parse_extensions(offer), &wanted).map(|a| a.element)
    }

    #[test]
    fn plain_offer_plain_answer() {
        let got = agree("permessage-deflate; client_max_window_bits", "permessage-deflate");
        assert_eq!(got.as_deref(), Some("permessage-deflate"));
        assert_eq!(agree("x-webkit-deflate-frame", "permessage-deflate"), None);
    }

    #[test]
    fn context_takeover_is_off_if_either_side_says_so() {
        let got =
            agree("permessage-deflate; server_no_context_takeover", "permessage-deflate; client_no_context_takeover");
        assert_eq!(got.as_deref(), Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover"));
    }

    #[test]
    fn window_bits_take_the_smaller_and_echo_offered_values() {
        let got =
            agree("permessage-deflate; server_max_window_bits=12", "permessage-deflate; server_max_window_bits=10");
        assert_eq!(got.as_deref(), Some("permessage-deflate; server_max_window_bits=10"));
        let got = agree("permessage-deflate; server_max_window_bits=10", "permessage-deflate");
        assert_eq!(got.as_deref(), Some("permessage-deflate; server_max_window_bits=10"));
        // A bare client_max_window_bits lets the server pick.
        let got = agree("permessage-deflate; client_max_window_bits", "permessage-deflate; client_max_window_bits=11");
        assert_eq!(got.as_deref(), Some("permessage-deflate; client_max_window_bits=11"));
        // Not offered: never answered.
        assert_eq!(
            agree("permessage-deflate", "permessage-deflate; client_max_window_bits=11").unwrap(),
            PERMESSAGE_DEFLATE
        );
        let got = agree("permessage-deflate; client_max_window_bits=12", "permessage-deflate");
        assert_eq!(got.as_deref(), Some("permessage-deflate; client_max_window_bits=12"));
    }

    #[test]
    fn eight_bits_is_declined_or_raised_to_nine() {
        assert_eq!(agree("permessage-deflate; server_max_window_bits=8", "permessage-deflate"), None);
        let got = agree("permessage-deflate; server_max_window_bits=8, permessage-deflate", "permessage-deflate");
        assert_eq!(got.as_deref(), Some("permessage-deflate"), "the fallback offer is taken");
        let got = agree(
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate; server_max_window_bits=8; client_max_window_bits=8",
        );
        assert_eq!(got.as_deref(), Some("permessage-deflate; server_max_window_bits=9; client_max_window_bits=9"));
    }

    #[test]
    fn rewrites_only_the_deflate_element() {
        let a = Agreement { params: DeflateParams::default(), element: "permessage-deflate".into() };
        let value = "foo; bar=1, permessage-deflate; server_max_window_bits=10";
        assert_eq!(rewrite(value, Some(&a)).as_deref(), Some("foo; bar=1, permessage-deflate"));
        assert_eq!(rewrite(value, None).as_deref(), Some("foo; bar=1"));
        assert_eq!(rewrite("permessage-deflate", None), None);
        assert_eq!(wanted(value).map(|p| p.server_max_window_bits), Some(10));
    }

    fn by_rules(offer: &str, rules: &str) -> Option<String> {
        let rules: Vec<AcceptRule> = serde_yaml::from_str(rules).unwrap();
        accept_by_rules(&parse_extensions(offer), &rules).map(|a| a.element)
    }

    #[test]
    fn rules_answer_like_autobahns_accept_functions() {
        let python = "permessage-deflate; client_max_window_bits";
        assert_eq!(by_rules(python, "[{}]").as_deref(), Some("permessage-deflate"));
        let ncc = "[{client_no_context_takeover: true}]";
        assert_eq!(by_rules(python, ncc).as_deref(), Some("permessage-deflate; client_no_context_takeover"));
        let nine = "[{client_no_context_takeover: true, client_max_window_bits: 9}]";
        let want = "permessage-deflate; client_no_context_takeover; client_max_window_bits=9";
        assert_eq!(by_rules(python, nine).as_deref(), Some(want));
        // An offer without client_max_window_bits: the window rule declines,
        // a fallback rule (13.7) takes it.
        assert_eq!(by_rules("permessage-deflate", nine), None);
        let fallback =
            "[{client_no_context_takeover: true, client_max_window_bits: 9}, {client_no_context_takeover: true}, {}]";
        assert_eq!(
            by_rules("permessage-deflate", fallback).as_deref(),
            Some("permessage-deflate; client_no_context_takeover")
        );
        // What the client asked of the server is repeated first; 8 too.
        let asked = "permessage-deflate; server_no_context_takeover; server_max_window_bits=8; client_max_window_bits";
        let want =
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=8; client_max_window_bits=15";
        assert_eq!(by_rules(asked, "[{client_max_window_bits: 15}]").as_deref(), Some(want));
        assert_eq!(by_rules("permessage-deflate; foo, x-webkit-deflate-frame", "[{}]"), None);
        assert_eq!(by_rules("", "[{}]"), None);
    }

    #[test]
    fn malformed_offers_are_declined() {
        for offer in [
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; foo",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        ] {
            assert_eq!(agree(offer, "permessage-deflate"), None, "{offer}");
        }
    }
}
