//! The Autodiscover v2 JSON answer new Outlook asks for first
//! (`GET /autodiscover/autodiscover.json?Email=E&Protocol=AutodiscoverV1`).
//!
//! It holds no settings: it only points at the POX endpoint
//! ([`pointer`]), or says why not ([`error`]). Only the `AutodiscoverV1`
//! protocol is answered; Exchange's other protocols (EWS, ActiveSync) are
//! not served.

use serde_json::{Value, json};

/// The one protocol answered: a pointer to the POX endpoint.
pub const PROTOCOL_V1: &str = "AutodiscoverV1";

/// Whether the request's `Protocol` parameter asks for [`PROTOCOL_V1`]
/// (case-insensitive, as Outlook varies it).
pub fn asks_v1(protocol: &str) -> bool {
    protocol.eq_ignore_ascii_case(PROTOCOL_V1)
}

/// The answer pointing at the POX endpoint under `base` (scheme and host).
pub fn pointer(base: &str) -> Value {
    json!({
        "Protocol": PROTOCOL_V1,
        "Url": format!("{base}/autodiscover/autodiscover.xml"),
    })
}

/// The error answer: Exchange's `ErrorCode` word and a message.
pub fn error(code: &str, message: &str) -> Value {
    json!({ "ErrorCode": code, "ErrorMessage": message })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pointer_and_the_error_have_exchanges_shape() {
        let p = pointer("https://autodiscover.example.com");
        assert_eq!(p["Protocol"], "AutodiscoverV1");
        assert_eq!(
            p["Url"],
            "https://autodiscover.example.com/autodiscover/autodiscover.xml"
        );
        let e = error("InvalidUser", "no address");
        assert_eq!(e["ErrorCode"], "InvalidUser");
        assert_eq!(e["ErrorMessage"], "no address");
        assert!(asks_v1("autodiscoverv1") && !asks_v1("Ews"));
    }
}
