//! Autobahn's `trafficStats`: octets and frames per layer, counted while
//! the connection is open, with the compression ratios and protocol
//! overheads derived from them (12.x/13.x report them).
//!
//! The layers, as Autobahn's `TrafficStats` counts them: *wire* is every
//! octet on the socket after the 101 (control frames included; before it,
//! the `preopen` counters); *WebSocket* is data-frame payload as sent
//! (compressed, if it was); *app* is message payload before compression.
//! Frames and messages count data frames (opcodes 0–2) and data messages
//! only. The engine counts; this module only adds up and renders.

use serde_json::{Value, json};

/// The counters of one connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrafficStats {
    /// Octets written after the 101.
    pub outgoing_wire: u64,
    /// Data-frame payload octets sent (compressed size).
    pub outgoing_websocket: u64,
    /// Message octets sent, before compression.
    pub outgoing_app: u64,
    /// Data frames sent.
    pub outgoing_frames: u64,
    /// Messages sent.
    pub outgoing_messages: u64,
    /// Octets read while open.
    pub incoming_wire: u64,
    /// Data-frame payload octets received (compressed size).
    pub incoming_websocket: u64,
    /// Message octets received, after inflating.
    pub incoming_app: u64,
    /// Data frames received.
    pub incoming_frames: u64,
    /// Messages received.
    pub incoming_messages: u64,
    /// Octets written before the connection was open (the 101).
    pub preopen_outgoing_wire: u64,
    /// Octets read before the connection was open (the request).
    pub preopen_incoming_wire: u64,
}

impl TrafficStats {
    /// Autobahn's JSON object: the 12 counters plus the two compression
    /// ratios (WebSocket / app octets) and two overheads ((wire −
    /// WebSocket) / WebSocket octets), null where the divisor is 0.
    pub fn to_json(&self) -> Value {
        let ratio = |num: u64, den: u64| if den > 0 { json!(num as f64 / den as f64) } else { Value::Null };
        let overhead = |wire: u64, ws: u64| {
            if ws > 0 { json!((wire as f64 - ws as f64) / ws as f64) } else { Value::Null }
        };
        json!({
            "outgoingOctetsWireLevel": self.outgoing_wire,
            "outgoingOctetsWebSocketLevel": self.outgoing_websocket,
            "outgoingOctetsAppLevel": self.outgoing_app,
            "outgoingCompressionRatio": ratio(self.outgoing_websocket, self.outgoing_app),
            "outgoingWebSocketOverhead": overhead(self.outgoing_wire, self.outgoing_websocket),
            "outgoingWebSocketFrames": self.outgoing_frames,
            "outgoingWebSocketMessages": self.outgoing_messages,
            "preopenOutgoingOctetsWireLevel": self.preopen_outgoing_wire,
            "incomingOctetsWireLevel": self.incoming_wire,
            "incomingOctetsWebSocketLevel": self.incoming_websocket,
            "incomingOctetsAppLevel": self.incoming_app,
            "incomingCompressionRatio": ratio(self.incoming_websocket, self.incoming_app),
            "incomingWebSocketOverhead": overhead(self.incoming_wire, self.incoming_websocket),
            "incomingWebSocketFrames": self.incoming_frames,
            "incomingWebSocketMessages": self.incoming_messages,
            "preopenIncomingOctetsWireLevel": self.preopen_incoming_wire,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_and_overheads_are_autobahns() {
        // Numbers from a real 0.8.2 report (12.1.1, python websockets).
        let stats = TrafficStats {
            outgoing_wire: 6673,
            outgoing_websocket: 4673,
            outgoing_app: 16000,
            outgoing_frames: 1000,
            outgoing_messages: 1000,
            incoming_wire: 10673,
            incoming_websocket: 4673,
            incoming_app: 16000,
            incoming_frames: 1000,
            incoming_messages: 1000,
            preopen_outgoing_wire: 252,
            preopen_incoming_wire: 303,
        };
        let json = stats.to_json();
        assert_eq!(json["outgoingCompressionRatio"], 0.2920625);
        // Python 2.7: float(10673 - 4673) / float(4673).
        assert_eq!(json["incomingWebSocketOverhead"], 1.2839717526214423);
        assert_eq!(json["outgoingWebSocketOverhead"], 0.4279905842071474);
        assert_eq!(json.as_object().unwrap().len(), 16);
        let empty = TrafficStats::default().to_json();
        assert!(empty["incomingCompressionRatio"].is_null() && empty["outgoingWebSocketOverhead"].is_null());
    }
}
