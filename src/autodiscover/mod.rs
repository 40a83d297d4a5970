//! Outlook's Autodiscover, everything about it in one place: the POX
//! request and response documents (read and written), and the v2 JSON
//! answer new Outlook asks for first.
//!
//! | document | written by | read by |
//! |---|---|---|
//! | POX request | [`request::request`] (discovery, `check`) | [`request::parse_request`] (the server) |
//! | POX response | [`write::write`], [`write::error_response`] (the server, `profile`) | [`response::parse`] (discovery, `check`) |
//! | v2 JSON pointer | [`v2::pointer`], [`v2::error`] (the server) | — |
//!
//! Both readers share one hardened reader (`xml`), one error type
//! ([`PoxError`]) and one nesting limit ([`MAX_DEPTH`]). Nothing here does
//! I/O: discovery ([`crate::discover::autodiscover`]),
//! the domain check ([`crate::audit`]), the server's handler and
//! [`crate::profile`] fetch or send the bytes.

pub mod request;
pub mod response;
pub mod v2;
pub mod write;
mod xml;

use std::fmt;

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

/// The deepest element nesting accepted in any Autodiscover document: a
/// request nests three deep and a response six; the rest is room for
/// extensions, while the work per document stays bounded.
pub const MAX_DEPTH: usize = 32;

/// Which Autodiscover document a [`PoxError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Document {
    /// A request a client sent to the server.
    Request,
    /// An answer a server gave to discovery or `check`.
    Response,
}

impl fmt::Display for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Document::Request => "the Autodiscover request",
            Document::Response => "the Autodiscover answer",
        })
    }
}

/// Why an Autodiscover document could not be read. Each message names the
/// document and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PoxError {
    /// Over the size limit (in bytes) for its kind of document.
    #[error("{0} is over {1} bytes; an Autodiscover document is a few kilobytes at most")]
    TooLarge(Document, usize),
    /// Not UTF-8.
    #[error("{0} is not UTF-8 text")]
    NotUtf8(Document),
    /// A DOCTYPE declaration.
    #[error("{0} has a DOCTYPE declaration, which is not accepted: Autodiscover needs no DTD")]
    Dtd(Document),
    /// An entity other than `&amp;` `&lt;` `&gt;` `&quot;` `&apos;`.
    #[error(
        "{0} uses the entity &{1};, which is not accepted: only XML's five predefined entities and character references are"
    )]
    Entity(Document, String),
    /// Deeper than [`MAX_DEPTH`].
    #[error("{0} nests elements deeper than {MAX_DEPTH} levels")]
    TooDeep(Document),
    /// A request field over [`request::MAX_FIELD`].
    #[error(
        "a field of the Autodiscover request is longer than {} bytes",
        request::MAX_FIELD
    )]
    FieldTooLong,
    /// Not well-formed XML.
    #[error("{0} is not well-formed XML: {1}")]
    Malformed(Document, String),
    /// No element at all.
    #[error("{0} holds no XML element: it is not an Outlook Autodiscover document")]
    NoRoot(Document),
    /// Well-formed, but the root is not `<Autodiscover>`.
    #[error(
        "{0} has the root element <{1}>, not <Autodiscover>: it is not an Outlook Autodiscover document"
    )]
    NotAutodiscover(Document, String),
    /// A request without `Request/EMailAddress`.
    #[error("the Autodiscover request has no <EMailAddress> in <Request>")]
    NoEmail,
    /// A response that is well-formed Autodiscover but holds nothing usable
    /// (no `<Account>` settings, a redirect without its target).
    #[error("the Autodiscover answer is not usable: {0}")]
    Unusable(String),
}
