//! The Outlook "POX" Autodiscover codec (requests in the 2006 request
//! schema, responses in the 2006a outlook response schema), free of I/O.
//!
//! Responses are read with quick-xml's event reader by local element name,
//! so namespace prefixes do not matter. The reader never expands a DTD: a
//! document with a `<!DOCTYPE>` is refused outright, and only the five
//! predefined entities and character references are resolved. Input is
//! limited to [`MAX_XML_BYTES`] and to [`MAX_DEPTH`] nested elements.

use quick_xml::events::Event;

use crate::address::EmailAddress;
use crate::settings::{AuthMethod, Protocol, Security, Server, ServerUrl, Settings, Source, Trust};

/// The most XML read.
pub const MAX_XML_BYTES: usize = 1024 * 1024;
/// The deepest nesting accepted.
pub const MAX_DEPTH: usize = 32;

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

/// Why a response could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PoxError {
    /// Larger than [`MAX_XML_BYTES`].
    #[error("the Autodiscover answer is larger than 1 MiB")]
    TooLarge,
    /// Not XML, or not an Autodiscover response.
    #[error("the Autodiscover answer is not valid: {0}")]
    Invalid(String),
}

fn invalid(s: impl Into<String>) -> PoxError {
    PoxError::Invalid(s.into())
}

/// Reads a response.
pub fn parse(xml: &[u8]) -> Result<PoxResponse, PoxError> {
    if xml.len() > MAX_XML_BYTES {
        return Err(PoxError::TooLarge);
    }
    let text = std::str::from_utf8(xml).map_err(|_| invalid("it is not UTF-8"))?;
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().trim_text(true);
    let mut path: Vec<String> = Vec::new();
    let mut protocols: Vec<PoxProtocol> = Vec::new();
    let mut fields: Vec<(String, String)> = Vec::new(); // (path tail, text)
    let mut saw_root = false;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| invalid(short(&e.to_string())))?;
        match event {
            Event::Start(e) => {
                let name = e.local_name().as_ref().to_string();
                if path.is_empty() {
                    if name != "Autodiscover" {
                        return Err(invalid(format!("the root element is <{name}>")));
                    }
                    saw_root = true;
                }
                if name == "Protocol" {
                    protocols.push(PoxProtocol::default());
                }
                path.push(name);
                if path.len() > MAX_DEPTH {
                    return Err(invalid("elements nested too deeply"));
                }
            }
            Event::End(_) => {
                path.pop();
            }
            Event::Empty(_) | Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
            Event::Text(t) => add_text(&path, &t.xml10_content(), &mut protocols, &mut fields),
            Event::CData(t) => {
                let s = t.into_inner().into_owned();
                add_text(&path, &s, &mut protocols, &mut fields);
            }
            Event::GeneralRef(r) => {
                let s = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    _ => {
                        let name = r.xml10_content();
                        quick_xml::escape::resolve_predefined_entity(&name)
                            .ok_or_else(|| invalid(format!("unknown entity &{name};")))?
                            .to_string()
                    }
                };
                add_text(&path, &s, &mut protocols, &mut fields);
            }
            Event::DocType(_) => return Err(invalid("a DOCTYPE is not allowed")),
            Event::Eof => break,
        }
    }
    if !saw_root {
        return Err(invalid("no <Autodiscover> element"));
    }
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
    };
    if let Some(msg) = field("Error/Message").or_else(|| field("Error/ErrorCode")) {
        return Ok(PoxResponse::Error(msg));
    }
    match field("Account/Action")
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("redirectaddr") => field("Account/RedirectAddr")
            .map(PoxResponse::RedirectAddr)
            .ok_or_else(|| invalid("redirectAddr without an address")),
        Some("redirecturl") => field("Account/RedirectUrl")
            .map(PoxResponse::RedirectUrl)
            .ok_or_else(|| invalid("redirectUrl without a URL")),
        _ if !protocols.is_empty() => Ok(PoxResponse::Settings(protocols)),
        _ => Err(invalid("no <Account> settings")),
    }
}

fn short(s: &str) -> String {
    s.chars().take(200).collect()
}

/// Files text under the last two elements of `path`, or into the current
/// `<Protocol>`.
fn add_text(
    path: &[String],
    text: &str,
    protocols: &mut [PoxProtocol],
    fields: &mut Vec<(String, String)>,
) {
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
