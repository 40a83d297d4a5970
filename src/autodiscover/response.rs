//! The Outlook POX Autodiscover response (the 2006a Outlook response
//! schema): read by discovery and `check`, free of I/O.
//!
//! Responses are read by the module's one hardened reader, by local
//! element name, so namespace prefixes do not matter. No DTD is ever
//! expanded: a document with a `<!DOCTYPE>` is refused outright, and only
//! the five predefined entities and character references are resolved.
//! Input is limited to [`MAX_XML_BYTES`] and to [`super::MAX_DEPTH`] nested
//! elements. [`to_settings`] turns the `<Protocol>` entries into settings.

use super::xml::{self, Node};
use super::{Document, PoxError};

use crate::address::EmailAddress;
use crate::settings::{AuthMethod, Protocol, Security, Server, ServerUrl, Settings, Source, Trust};

/// The most XML read.
pub const MAX_XML_BYTES: usize = 1024 * 1024;

/// One `<Protocol>` element, as written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoxProtocol {
    /// `IMAP`, `POP3`, `SMTP`, `EXCH`, `WEB`, ….
    pub kind: String,
    /// `<Server>`.
    pub server: Option<String>,
    /// `<Port>`, as text.
    pub port: Option<String>,
    /// `<SSL>`: `on` / `off`.
    pub ssl: Option<String>,
    /// `<Encryption>`: `SSL`, `TLS`, `None`, `Auto`.
    pub encryption: Option<String>,
    /// `<LoginName>`.
    pub login_name: Option<String>,
    /// `<SPA>`: `on` means NTLM.
    pub spa: Option<String>,
    /// `<DomainRequired>`.
    pub domain_required: Option<String>,
    /// `<DomainName>`.
    pub domain_name: Option<String>,
}

/// What a response says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PoxResponse {
    /// Settings, one entry per `<Protocol>`.
    Settings(Vec<PoxProtocol>),
    /// Ask again for this address.
    RedirectAddr(String),
    /// Ask again at this URL.
    RedirectUrl(String),
    /// The server's error.
    Error(String),
}

/// Reads a response.
pub fn parse(xml: &[u8]) -> Result<PoxResponse, PoxError> {
    let mut protocols: Vec<PoxProtocol> = Vec::new();
    let mut fields: Vec<(String, String)> = Vec::new(); // (path tail, text)
    xml::walk(Document::Response, xml, MAX_XML_BYTES, |path, node| {
        match node {
            Node::Open if path.last().is_some_and(|n| n == "Protocol") => {
                protocols.push(PoxProtocol::default());
            }
            Node::Open => {}
            Node::Text(text) => add_text(path, text, &mut protocols, &mut fields),
        }
        Ok(())
    })?;
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
    };
    if let Some(msg) = field("Error/Message").or_else(|| field("Error/ErrorCode")) {
        return Ok(PoxResponse::Error(msg));
    }
    let unusable = |why: &str| PoxError::Unusable(why.to_string());
    match field("Account/Action")
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("redirectaddr") => field("Account/RedirectAddr")
            .map(PoxResponse::RedirectAddr)
            .ok_or_else(|| unusable("redirectAddr without an address")),
        Some("redirecturl") => field("Account/RedirectUrl")
            .map(PoxResponse::RedirectUrl)
            .ok_or_else(|| unusable("redirectUrl without a URL")),
        _ if !protocols.is_empty() => Ok(PoxResponse::Settings(protocols)),
        _ => Err(unusable("no <Account> settings")),
    }
}

/// Files text under the last two elements of `path`, or into the current
/// `<Protocol>`. Text that is only white space (the indentation between
/// elements) is skipped.
fn add_text(
    path: &[String],
    text: &str,
    protocols: &mut [PoxProtocol],
    fields: &mut Vec<(String, String)>,
) {
    if text.trim().is_empty() {
        return;
    }
    let n = path.len();
    if n >= 2 && path[n - 2] == "Protocol" {
        if let Some(p) = protocols.last_mut() {
            let slot = match path[n - 1].as_str() {
                "Type" => {
                    p.kind.push_str(text);
                    return;
                }
                "Server" => &mut p.server,
                "Port" => &mut p.port,
                "SSL" => &mut p.ssl,
                "Encryption" => &mut p.encryption,
                "LoginName" => &mut p.login_name,
                "SPA" => &mut p.spa,
                "DomainRequired" => &mut p.domain_required,
                "DomainName" => &mut p.domain_name,
                _ => return,
            };
            slot.get_or_insert_with(String::new).push_str(text);
        }
    } else if n >= 2 && fields.len() < 64 {
        let key = format!("{}/{}", path[n - 2], path[n - 1]);
        match fields.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push_str(text),
            None => fields.push((key, text.to_string())),
        }
    }
}

fn on(v: &Option<String>) -> Option<bool> {
    match v
        .as_deref()
        .map(|s| s.trim().to_ascii_lowercase())
        .as_deref()
    {
        Some("on") | Some("true") => Some(true),
        Some("off") | Some("false") => Some(false),
        _ => None,
    }
}

impl PoxProtocol {
    /// This protocol as a server for `email`; `None` for kinds a mail app
    /// cannot use (`EXCH`, `WEB`) or unusable values.
    pub fn to_server(&self, email: &EmailAddress) -> Option<Server> {
        let protocol = match self.kind.trim().to_ascii_uppercase().as_str() {
            "IMAP" => Protocol::Imap,
            "POP3" => Protocol::Pop3,
            "SMTP" => Protocol::Smtp,
            _ => return None,
        };
        let port = match &self.port {
            Some(p) => Some(p.trim().parse::<u16>().ok().filter(|&p| p > 0)?),
            None => None,
        };
        let by_port = |port: Option<u16>| match port {
            Some(993 | 995 | 465) | None => Security::Tls,
            Some(_) => Security::Starttls,
        };
        let enc = self
            .encryption
            .as_deref()
            .map(|e| e.trim().to_ascii_lowercase());
        let security = match enc.as_deref() {
            Some("ssl") => Security::Tls,
            Some("tls") => Security::Starttls,
            Some("none") => Security::None,
            _ if on(&self.ssl) == Some(false) => Security::None,
            _ => by_port(port),
        };
        let port = port.unwrap_or(protocol.default_port(security));
        let url = ServerUrl::new(protocol, self.server.as_deref()?.trim(), port, security).ok()?;
        let login = self
            .login_name
            .as_deref()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| email.login_address());
        let username = match (on(&self.domain_required), self.domain_name.as_deref()) {
            (Some(true), Some(d)) if !d.trim().is_empty() => format!("{}\\{login}", d.trim()),
            _ => login,
        };
        let auth = if on(&self.spa) == Some(true) {
            AuthMethod::Ntlm
        } else {
            AuthMethod::Password
        };
        Some(Server {
            protocol,
            host: url.host,
            port,
            security,
            auth: vec![auth],
            username,
        })
    }
}

/// The settings `protocols` give `email`; `None` if none is usable.
pub fn to_settings(
    protocols: &[PoxProtocol],
    email: &EmailAddress,
    trust: Trust,
) -> Option<Settings> {
    let servers: Vec<Server> = protocols
        .iter()
        .filter_map(|p| p.to_server(email))
        .collect();
    if servers.is_empty() {
        return None;
    }
    let (incoming, outgoing) = servers.into_iter().partition(|s| s.protocol.is_incoming());
    let mut s = Settings {
        provider: None,
        incoming,
        outgoing,
        source: Source::Autodiscover,
        trust,
        notes: Vec::new(),
    };
    s.sort_servers();
    Some(s)
}

#[cfg(test)]
#[path = "response_tests.rs"]
mod tests;
