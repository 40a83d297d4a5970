//! Outlook's Autodiscover, everything about it in one place: the POX
//! request and response documents (read and written), and the v2 JSON
//! answer new Outlook asks for first.
//!
//! | document | written by | read by |
//! |---|---|---|
//! | POX request | [`request::request`] (discovery, `check`) | [`request::parse_request`] (the server) |
//! | POX response | [`write::write`], [`write::error_response`] (the server, `profile`) | [`response::parse`] (discovery, `check`) |
//!
//! Nothing here does I/O: discovery ([`crate::discover::autodiscover`]),
//! the domain check ([`crate::audit`]), the server's handler and
//! [`crate::profile`] fetch or send the bytes.

pub mod request;
pub mod response;
pub mod write;

/// The namespace of Outlook's request (the 2006 request schema).
pub const NS_REQUEST: &str =
    "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006";
/// The namespace of the `<Autodiscover>` root of a response (the 2006
/// response schema).
pub const NS_RESPONSE_ROOT: &str =
    "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006";
/// The Outlook response schema (2006a): what discovery asks for, and the
/// only one the server answers with.
pub const OUTLOOK_2006A: &str =
    "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a";
