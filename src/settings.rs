//! The settings model: what an email client needs to know.
//!
//! Every other module speaks these types. A [`Server`] is one way to reach
//! one mailbox service (protocol, host, port, security, authentication
//! methods, username); [`Settings`] is the incoming and outgoing servers of
//! one account, best first, with where they came from ([`Source`]), how far
//! they can be trusted ([`Trust`]) and the [`Note`]s a user must read before
//! logging in.
//!
//! Servers are written as URLs with curl's scheme names (`imaps://host:993`,
//! `smtp://host:587`, `…?security=none`), parsed by [`ServerUrl`].
//!
//! ```
//! use mailsetup::settings::{ServerUrl, Protocol, Security};
//! let u: ServerUrl = "SMTP://Smtp-Mail.Outlook.com".parse().unwrap();
//! assert_eq!((u.protocol, u.port, u.security), (Protocol::Smtp, 587, Security::Starttls));
//! assert_eq!(u.to_string(), "smtp://smtp-mail.outlook.com:587");
//! ```

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A mail protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// IMAP4 (RFC 9051): mail stays on the server.
    Imap,
    /// POP3 (RFC 1939): mail is downloaded.
    Pop3,
    /// SMTP submission (RFC 6409): sending.
    Smtp,
}

impl Protocol {
    /// The name people see: "IMAP", "POP3", "SMTP".
    pub fn label(self) -> &'static str {
        match self {
            Protocol::Imap => "IMAP",
            Protocol::Pop3 => "POP3",
            Protocol::Smtp => "SMTP",
        }
    }

    /// Whether this protocol is for incoming mail.
    pub fn is_incoming(self) -> bool {
        self != Protocol::Smtp
    }

    /// The standard port for `security` (RFC 8314 §7).
    pub fn default_port(self, security: Security) -> u16 {
        match (self, security) {
            (Protocol::Imap, Security::Tls) => 993,
            (Protocol::Imap, _) => 143,
            (Protocol::Pop3, Security::Tls) => 995,
            (Protocol::Pop3, _) => 110,
            (Protocol::Smtp, Security::Tls) => 465,
            (Protocol::Smtp, _) => 587,
        }
    }

    fn scheme(self, security: Security) -> &'static str {
        match (self, security) {
            (Protocol::Imap, Security::Tls) => "imaps",
            (Protocol::Imap, _) => "imap",
            (Protocol::Pop3, Security::Tls) => "pop3s",
            (Protocol::Pop3, _) => "pop3",
            (Protocol::Smtp, Security::Tls) => "smtps",
            (Protocol::Smtp, _) => "smtp",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Imap => "imap",
            Protocol::Pop3 => "pop3",
            Protocol::Smtp => "smtp",
        })
    }
}

/// How a connection is encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// TLS from the first byte (993, 995, 465). Preferred (RFC 8314).
    Tls,
    /// Plaintext upgraded with STARTTLS/STLS (143, 110, 587).
    Starttls,
    /// No encryption. Never recommended.
    None,
}

impl Security {
    /// Whether the connection is encrypted at all.
    pub fn is_encrypted(self) -> bool {
        self != Security::None
    }

    /// How the iPhone and most clients label it.
    pub fn label(self) -> &'static str {
        match self {
            Security::Tls => "SSL/TLS",
            Security::Starttls => "STARTTLS",
            Security::None => "none",
        }
    }
}

impl fmt::Display for Security {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Security::Tls => "tls",
            Security::Starttls => "starttls",
            Security::None => "none",
        })
    }
}

/// An authentication method, grouped the way users meet them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMethod {
    /// PLAIN, LOGIN, USER/PASS: the password itself, inside TLS.
    Password,
    /// CRAM-MD5, SCRAM and kin: a challenge-response with the password.
    PasswordEncrypted,
    /// XOAUTH2 / OAUTHBEARER: a token from the provider's sign-in page.
    Oauth2,
    /// NTLM (Microsoft).
    Ntlm,
    /// Kerberos.
    Gssapi,
    /// A TLS client certificate.
    ClientCert,
    /// No authentication (or by client IP address).
    None,
}

impl AuthMethod {
    /// Words for people.
    pub fn label(self) -> &'static str {
        match self {
            AuthMethod::Password => "password",
            AuthMethod::PasswordEncrypted => "encrypted password (CRAM-MD5)",
            AuthMethod::Oauth2 => "OAuth2",
            AuthMethod::Ntlm => "NTLM",
            AuthMethod::Gssapi => "Kerberos (GSSAPI)",
            AuthMethod::ClientCert => "client certificate",
            AuthMethod::None => "none",
        }
    }

    /// The autoconfig `<authentication>` value for this method.
    pub fn autoconfig_name(self) -> &'static str {
        match self {
            AuthMethod::Password => "password-cleartext",
            AuthMethod::PasswordEncrypted => "password-encrypted",
            AuthMethod::Oauth2 => "OAuth2",
            AuthMethod::Ntlm => "NTLM",
            AuthMethod::Gssapi => "GSSAPI",
            AuthMethod::ClientCert => "TLS-client-cert",
            AuthMethod::None => "none",
        }
    }

    /// Reads an autoconfig `<authentication>` value; `None` for values that
    /// name no method we can use (e.g. `smtp-after-pop`).
    pub fn from_autoconfig(s: &str) -> Option<AuthMethod> {
        Some(match s.trim() {
            "password-cleartext" | "plain" => AuthMethod::Password,
            "password-encrypted" | "secure" => AuthMethod::PasswordEncrypted,
            "OAuth2" | "oauth2" => AuthMethod::Oauth2,
            "NTLM" => AuthMethod::Ntlm,
            "GSSAPI" => AuthMethod::Gssapi,
            "TLS-client-cert" => AuthMethod::ClientCert,
            "none" | "client-IP-address" => AuthMethod::None,
            _ => return None,
        })
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The JSON spelling, so Display and serde agree.
        let s = serde_json::to_value(self).ok();
        f.write_str(s.as_ref().and_then(|v| v.as_str()).unwrap_or("?"))
    }
}

/// Why a server URL could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlError {
    /// Not `scheme://host[:port]`.
    #[error("'{0}' is not a server URL: write it like imaps://imap.example.com:993")]
    Shape(String),
    /// An unknown scheme.
    #[error(
        "'{0}' is not a mail scheme: use imaps, imap, pop3s, pop3, smtps or smtp (the s means TLS)"
    )]
    Scheme(String),
    /// A port that is not 1–65535.
    #[error("'{0}' is not a port number (1-65535)")]
    Port(String),
    /// A bad host.
    #[error("'{0}' is not a valid host name: {1}")]
    Host(String, &'static str),
    /// An unknown query.
    #[error("'{0}' is not understood: the only option is ?security=none")]
    Query(String),
}

/// A server address in URL form: protocol, host, port, security.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServerUrl {
    /// The protocol.
    pub protocol: Protocol,
    /// The host, normalised (lower case, punycode, no trailing dot).
    pub host: String,
    /// The port.
    pub port: u16,
    /// The security.
    pub security: Security,
}

impl ServerUrl {
    /// A URL from its parts; the host is normalised.
    pub fn new(
        protocol: Protocol,
        host: &str,
        port: u16,
        security: Security,
    ) -> Result<Self, UrlError> {
        let host = normalize_server_host(host)?;
        Ok(ServerUrl {
            protocol,
            host,
            port,
            security,
        })
    }
}

fn normalize_server_host(host: &str) -> Result<String, UrlError> {
    // IP addresses are allowed for servers (a user may type one).
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<std::net::IpAddr>().is_ok() {
        return Ok(bare.to_string());
    }
    crate::address::normalize_host(host).map_err(|why| UrlError::Host(host.to_string(), why))
}

impl FromStr for ServerUrl {
    type Err = UrlError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (scheme, rest) = s
            .split_once("://")
            .ok_or_else(|| UrlError::Shape(s.to_string()))?;
        let (protocol, mut security) = match scheme.to_ascii_lowercase().as_str() {
            "imaps" => (Protocol::Imap, Security::Tls),
            "imap" => (Protocol::Imap, Security::Starttls),
            "pop3s" | "pops" => (Protocol::Pop3, Security::Tls),
            "pop3" | "pop" => (Protocol::Pop3, Security::Starttls),
            "smtps" | "submissions" => (Protocol::Smtp, Security::Tls),
            "smtp" | "submission" => (Protocol::Smtp, Security::Starttls),
            _ => return Err(UrlError::Scheme(scheme.to_string())),
        };
        let (authority, query) = match rest.split_once('?') {
            Some((a, q)) => (a, Some(q)),
            None => (rest, None),
        };
        let authority = authority.strip_suffix('/').unwrap_or(authority);
        if let Some(q) = query {
            if q.eq_ignore_ascii_case("security=none") {
                security = Security::None;
            } else {
                return Err(UrlError::Query(q.to_string()));
            }
        }
        if authority.contains('/') || authority.contains('@') || authority.is_empty() {
            return Err(UrlError::Shape(s.to_string()));
        }
        let (host, port) = split_host_port(authority)?;
        let port = match port {
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|&p| p > 0)
                .ok_or_else(|| UrlError::Port(p.to_string()))?,
            None => protocol.default_port(security),
        };
        ServerUrl::new(protocol, host, port, security)
    }
}

fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), UrlError> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (h, after) = rest
            .split_once(']')
            .ok_or_else(|| UrlError::Shape(authority.to_string()))?;
        return match after.strip_prefix(':') {
            Some(p) => Ok((h, Some(p))),
            None if after.is_empty() => Ok((h, None)),
            None => Err(UrlError::Shape(authority.to_string())),
        };
    }
    Ok(match authority.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    })
}

impl fmt::Display for ServerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        write!(
            f,
            "{}://{}:{}",
            self.protocol.scheme(self.security),
            host,
            self.port
        )?;
        if self.security == Security::None {
            f.write_str("?security=none")?;
        }
        Ok(())
    }
}

/// One server of an account, ready for a client.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Server {
    /// The protocol.
    pub protocol: Protocol,
    /// The host, normalised.
    pub host: String,
    /// The port.
    pub port: u16,
    /// The security.
    pub security: Security,
    /// Authentication methods, best first.
    pub auth: Vec<AuthMethod>,
    /// The username to log in with (placeholders already expanded).
    pub username: String,
}

impl Server {
    /// The server's address as a URL.
    pub fn url(&self) -> ServerUrl {
        ServerUrl {
            protocol: self.protocol,
            host: self.host.clone(),
            port: self.port,
            security: self.security,
        }
    }

    /// Whether only OAuth2 is accepted (no password of any kind).
    pub fn oauth_only(&self) -> bool {
        !self.auth.is_empty() && self.auth.iter().all(|a| *a == AuthMethod::Oauth2)
    }
}

impl Serialize for Server {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Server", 7)?;
        st.serialize_field("protocol", &self.protocol)?;
        st.serialize_field("host", &self.host)?;
        st.serialize_field("port", &self.port)?;
        st.serialize_field("security", &self.security)?;
        st.serialize_field("auth", &self.auth)?;
        st.serialize_field("username", &self.username)?;
        st.serialize_field("url", &self.url().to_string())?;
        st.end()
    }
}

/// Where settings came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// The program's own provider table.
    ProviderDb,
    /// The domain's own autoconfig file.
    Autoconfig,
    /// A Thunderbird-style ISPDB.
    Ispdb,
    /// Microsoft POX Autodiscover.
    Autodiscover,
    /// RFC 6186 SRV records.
    Srv,
    /// A provider recognised by the domain's MX host.
    Mx,
    /// Probed host names.
    Guess,
    /// Given on the command line.
    User,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = serde_json::to_value(self).ok();
        f.write_str(v.as_ref().and_then(|v| v.as_str()).unwrap_or("?"))
    }
}

/// How far settings can be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Trust {
    /// HTTPS with a valid certificate, built-in data, or a probe whose
    /// certificate matched.
    Verified,
    /// Plain HTTP, DNS without DNSSEC pointing outside the domain, or a
    /// guess not yet probed.
    Unverified,
}

/// Something a user must know before logging in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// A stable code: `oauth-required`, `app-password`, `enable-imap`,
    /// `enable-pop`, `provider-status`, `documentation`, `subaddress`, ….
    pub code: String,
    /// What to do, in words.
    pub text: String,
    /// The provider's own help page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl Note {
    /// A note with a code and text.
    pub fn new(code: &str, text: impl Into<String>) -> Note {
        Note {
            code: code.to_string(),
            text: text.into(),
            url: None,
        }
    }

    /// With a help link.
    pub fn with_url(mut self, url: impl Into<String>) -> Note {
        self.url = Some(url.into());
        self
    }
}

/// The provider an account belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderRef {
    /// A stable id, e.g. `outlook.com`.
    pub id: String,
    /// The provider's name.
    pub name: String,
}

/// The settings of one account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Settings {
    /// The provider, when known.
    pub provider: Option<ProviderRef>,
    /// Incoming servers, best first.
    pub incoming: Vec<Server>,
    /// Outgoing servers, best first.
    pub outgoing: Vec<Server>,
    /// Where they came from.
    pub source: Source,
    /// How far they can be trusted.
    pub trust: Trust,
    /// What the user must know.
    pub notes: Vec<Note>,
}

impl Settings {
    /// Orders servers best first: implicit TLS before STARTTLS before none
    /// (RFC 8314), IMAP before POP3, keeping the given order otherwise.
    pub fn sort_servers(&mut self) {
        let key = |s: &Server| (s.protocol, s.security);
        self.incoming.sort_by_key(key);
        self.outgoing.sort_by_key(key);
    }

    /// Whether every server accepts only OAuth2.
    pub fn oauth_only(&self) -> bool {
        self.incoming
            .iter()
            .chain(&self.outgoing)
            .all(Server::oauth_only)
            && !(self.incoming.is_empty() && self.outgoing.is_empty())
    }

    /// Whether an encrypted incoming and an encrypted outgoing server are
    /// known: without both, a mail app cannot be set up safely.
    pub fn has_secure_servers(&self) -> bool {
        let secure = |list: &[Server]| list.iter().any(|s| s.security.is_encrypted());
        secure(&self.incoming) && secure(&self.outgoing)
    }

    /// Moves servers without encryption after the encrypted ones, keeping
    /// the order otherwise: a server without encryption never ranks before
    /// an encrypted one.
    pub fn encrypted_first(&mut self) {
        let key = |s: &Server| !s.security.is_encrypted();
        self.incoming.sort_by_key(key);
        self.outgoing.sort_by_key(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scheme_parses_with_its_default_port() {
        let cases = [
            ("imaps://h.example", Protocol::Imap, Security::Tls, 993),
            ("imap://h.example", Protocol::Imap, Security::Starttls, 143),
            ("pop3s://h.example", Protocol::Pop3, Security::Tls, 995),
            ("pop3://h.example", Protocol::Pop3, Security::Starttls, 110),
            ("smtps://h.example", Protocol::Smtp, Security::Tls, 465),
            ("smtp://h.example", Protocol::Smtp, Security::Starttls, 587),
        ];
        for (s, p, sec, port) in cases {
            let u: ServerUrl = s.parse().unwrap();
            assert_eq!((u.protocol, u.security, u.port), (p, sec, port), "{s}");
            assert_eq!(u.to_string(), format!("{s}:{port}"));
        }
    }

    #[test]
    fn security_none_round_trips() {
        let u: ServerUrl = "imap://h.example:143?security=none".parse().unwrap();
        assert_eq!(u.security, Security::None);
        assert_eq!(u.to_string(), "imap://h.example:143?security=none");
        assert_eq!(u.to_string().parse::<ServerUrl>().unwrap(), u);
    }

    #[test]
    fn hosts_are_case_insensitive() {
        let a: ServerUrl = "imaps://OUTLOOK.Office365.com.".parse().unwrap();
        let b: ServerUrl = "imaps://outlook.office365.com:993".parse().unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn ip_hosts_are_allowed() {
        let u: ServerUrl = "imaps://127.0.0.2:993".parse().unwrap();
        assert_eq!(u.host, "127.0.0.2");
        let v: ServerUrl = "imaps://[::1]:993".parse().unwrap();
        assert_eq!(v.to_string(), "imaps://[::1]:993");
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        for (s, want) in [
            ("outlook.office365.com", "not a server URL"),
            ("http://x.example", "not a mail scheme"),
            ("imaps://x.example:0", "not a port"),
            ("imaps://x.example:99999", "not a port"),
            ("imaps://x.example:abc", "not a port"),
            ("imaps://", "not a server URL"),
            ("imaps://user@x.example", "not a server URL"),
            ("imaps://x.example?tls=off", "not understood"),
            ("imaps://x..example", "not a valid host"),
            ("imaps://[::1", "not a server URL"),
        ] {
            let e = s.parse::<ServerUrl>().unwrap_err().to_string();
            assert!(e.contains(want), "{s}: {e}");
        }
    }

    #[test]
    fn servers_sort_tls_first_then_imap_before_pop() {
        let srv = |p, sec| Server {
            protocol: p,
            host: "h".into(),
            port: 1,
            security: sec,
            auth: vec![],
            username: String::new(),
        };
        let mut s = Settings {
            provider: None,
            incoming: vec![
                srv(Protocol::Pop3, Security::Tls),
                srv(Protocol::Imap, Security::Starttls),
                srv(Protocol::Imap, Security::Tls),
            ],
            outgoing: vec![
                srv(Protocol::Smtp, Security::Starttls),
                srv(Protocol::Smtp, Security::Tls),
            ],
            source: Source::User,
            trust: Trust::Verified,
            notes: vec![],
        };
        s.sort_servers();
        let order: Vec<_> = s
            .incoming
            .iter()
            .map(|s| (s.protocol, s.security))
            .collect();
        assert_eq!(
            order,
            [
                (Protocol::Imap, Security::Tls),
                (Protocol::Imap, Security::Starttls),
                (Protocol::Pop3, Security::Tls)
            ]
        );
        assert_eq!(s.outgoing[0].security, Security::Tls);
    }

    #[test]
    fn json_names_match_the_interface() {
        assert_eq!(
            serde_json::to_string(&Source::ProviderDb).unwrap(),
            "\"provider-db\""
        );
        assert_eq!(
            serde_json::to_string(&AuthMethod::PasswordEncrypted).unwrap(),
            "\"password-encrypted\""
        );
        assert_eq!(AuthMethod::Oauth2.to_string(), "oauth2");
        assert_eq!(Source::Autodiscover.to_string(), "autodiscover");
    }
}
