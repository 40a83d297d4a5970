//! Thunderbird's autoconfig format (`clientConfig` 1.1,
//! draft-ietf-mailmaint-autoconfig): the model and reader here, the writer
//! in [`mod@write`].
//!
//! One parser serves every place this format appears: a domain's own
//! autoconfig file, an ISPDB answer, and the ISPDB corpus the tests check the
//! provider table against. It is free of I/O: callers fetch the bytes (with a
//! size limit) and hand them here.
//!
//! Parsing is done by quick-xml's serde support. Unknown elements are
//! ignored, as the draft asks; internal DTD entities are not expanded (quick-xml
//! resolves only the five predefined ones and fails on any other), so an
//! entity bomb is an error, not a hang.
//!
//! [`EmailProvider::to_settings`] turns a parsed file into [`Settings`] for
//! one address: placeholders expanded, servers of unknown type skipped,
//! `<enable>`, `<documentation>` and OAuth2 turned into notes;
//! [`ClientConfig::settings_for`] first picks the provider that serves the
//! domain.

pub mod write;

use serde::Deserialize;

use crate::address::EmailAddress;
use crate::settings::{
    AuthMethod, Note, Protocol, Security, Server, ServerUrl, Settings, Source, Trust,
};

/// The most XML this parser accepts. Fetchers must stop reading here too.
pub const MAX_XML_BYTES: usize = 1024 * 1024;

/// Why a config file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Larger than [`MAX_XML_BYTES`].
    #[error("the config file is larger than 1 MiB")]
    TooLarge,
    /// Not well-formed XML, or not a `clientConfig`.
    #[error("the config file is not valid autoconfig XML: {0}")]
    Xml(String),
    /// Valid XML without any `emailProvider`.
    #[error("the config file names no email provider")]
    NoProvider,
    /// No server that a mail client can use.
    #[error("the config file lists no usable IMAP, POP3 or SMTP server")]
    NoServers,
}

/// A whole `clientConfig` document.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct ClientConfig {
    /// The `version` attribute.
    #[serde(rename = "@version", default)]
    pub version: Option<String>,
    /// The providers (one in practice).
    #[serde(rename = "emailProvider", default)]
    pub providers: Vec<EmailProvider>,
    /// OAuth2 endpoints, when the provider supports them.
    #[serde(rename = "oAuth2", default)]
    pub oauth2: Option<OAuth2>,
    /// `<enable>` at the top level (some ISPDB files put it here).
    #[serde(rename = "enable", default)]
    pub enable: Vec<Enable>,
}

/// One `emailProvider`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct EmailProvider {
    /// The `id` attribute.
    #[serde(rename = "@id", default)]
    pub id: String,
    /// The domains this provider serves.
    #[serde(rename = "domain", default)]
    pub domains: Vec<String>,
    /// The provider's name.
    #[serde(rename = "displayName", default)]
    pub display_name: Option<String>,
    /// A short name.
    #[serde(rename = "displayShortName", default)]
    pub display_short_name: Option<String>,
    /// Incoming servers, in file order.
    #[serde(rename = "incomingServer", default)]
    pub incoming: Vec<XmlServer>,
    /// Outgoing servers, in file order.
    #[serde(rename = "outgoingServer", default)]
    pub outgoing: Vec<XmlServer>,
    /// Help pages.
    #[serde(rename = "documentation", default)]
    pub documentation: Vec<Documentation>,
    /// Steps needed before IMAP/POP works.
    #[serde(rename = "enable", default)]
    pub enable: Vec<Enable>,
}

/// One `incomingServer` or `outgoingServer`, as written.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct XmlServer {
    /// `imap`, `pop3`, `smtp` (others such as `exchange` are skipped).
    #[serde(rename = "@type", default)]
    pub kind: String,
    /// The host name (may contain placeholders).
    #[serde(default)]
    pub hostname: Option<String>,
    /// The port, as text (checked on conversion).
    #[serde(default)]
    pub port: Option<String>,
    /// `SSL`, `STARTTLS` or `plain`.
    #[serde(rename = "socketType", default)]
    pub socket_type: Option<String>,
    /// The username template.
    #[serde(default)]
    pub username: Option<String>,
    /// Authentication methods, best first.
    #[serde(rename = "authentication", default)]
    pub authentication: Vec<String>,
}

/// A `documentation` element.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Documentation {
    /// The page.
    #[serde(rename = "@url", default)]
    pub url: Option<String>,
    /// Descriptions by language.
    #[serde(rename = "descr", default)]
    pub descr: Vec<LangText>,
}

/// An `enable` element: what to switch on first.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Enable {
    /// Where to do it.
    #[serde(rename = "@visiturl", default)]
    pub visit_url: Option<String>,
    /// Instructions by language.
    #[serde(rename = "instruction", default)]
    pub instruction: Vec<LangText>,
}

/// Text with an optional `lang` attribute.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct LangText {
    /// The language, absent for the default (English).
    #[serde(rename = "@lang", default)]
    pub lang: Option<String>,
    /// The text.
    #[serde(rename = "$text", default)]
    pub text: String,
}

/// An `oAuth2` element.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct OAuth2 {
    /// The issuer host.
    #[serde(default)]
    pub issuer: Option<String>,
    /// Scopes, space separated.
    #[serde(default)]
    pub scope: Option<String>,
    /// The authorization URL.
    #[serde(rename = "authURL", default)]
    pub auth_url: Option<String>,
    /// The token URL.
    #[serde(rename = "tokenURL", default)]
    pub token_url: Option<String>,
}

/// Parses a `clientConfig` document.
pub fn parse(xml: &[u8]) -> Result<ClientConfig, ConfigError> {
    if xml.len() > MAX_XML_BYTES {
        return Err(ConfigError::TooLarge);
    }
    let text = std::str::from_utf8(xml).map_err(|_| ConfigError::Xml("it is not UTF-8".into()))?;
    if !text.contains("clientConfig") {
        return Err(ConfigError::Xml(
            "the root element is not <clientConfig>".into(),
        ));
    }
    let cfg: ClientConfig =
        quick_xml::de::from_str(text).map_err(|e| ConfigError::Xml(short(&e.to_string())))?;
    if cfg.providers.is_empty() {
        return Err(ConfigError::NoProvider);
    }
    Ok(cfg)
}

fn short(s: &str) -> String {
    s.chars().take(200).collect()
}

impl ClientConfig {
    /// The settings this file gives `email` of `domain`: from the provider
    /// that lists `domain`, else the file's first provider.
    pub fn settings_for(
        &self,
        email: &EmailAddress,
        domain: &str,
        source: Source,
        trust: Trust,
    ) -> Result<Settings, ConfigError> {
        let provider = self
            .providers
            .iter()
            .find(|p| p.domains.iter().any(|d| d.eq_ignore_ascii_case(domain)))
            .or(self.providers.first())
            .ok_or(ConfigError::NoProvider)?;
        provider.to_settings(email, self, source, trust)
    }
}

/// Picks the English (or language-less) text of a list.
pub fn english(texts: &[LangText]) -> Option<&str> {
    texts
        .iter()
        .find(|t| t.lang.is_none() || t.lang.as_deref() == Some("en"))
        .or(texts.first())
        .map(|t| t.text.trim())
        .filter(|t| !t.is_empty())
}

impl XmlServer {
    /// This server for `email`, or `None` if it is not one a mail client
    /// can use (unknown type, bad host or port).
    pub fn to_server(&self, email: &EmailAddress) -> Option<Server> {
        let protocol = match self.kind.trim() {
            "imap" => Protocol::Imap,
            "pop3" => Protocol::Pop3,
            "smtp" => Protocol::Smtp,
            _ => return None,
        };
        let security = match self.socket_type.as_deref().map(str::trim) {
            Some("SSL") | Some("TLS") => Security::Tls,
            Some("STARTTLS") => Security::Starttls,
            Some("plain") => Security::None,
            _ => return None,
        };
        let host = email.expand(self.hostname.as_deref()?.trim());
        let port = match &self.port {
            Some(p) => p.trim().parse::<u16>().ok().filter(|&p| p > 0)?,
            None => protocol.default_port(security),
        };
        let url = ServerUrl::new(protocol, &host, port, security).ok()?;
        let mut auth: Vec<AuthMethod> = Vec::new();
        for a in self
            .authentication
            .iter()
            .filter_map(|a| AuthMethod::from_autoconfig(a))
        {
            if !auth.contains(&a) {
                auth.push(a);
            }
        }
        if auth.is_empty() {
            auth.push(AuthMethod::Password);
        }
        let username = email.expand(self.username.as_deref().unwrap_or("%EMAILADDRESS%").trim());
        Some(Server {
            protocol,
            host: url.host,
            port,
            security,
            auth,
            username,
        })
    }
}

impl EmailProvider {
    /// The settings this provider gives `email`.
    pub fn to_settings(
        &self,
        email: &EmailAddress,
        config: &ClientConfig,
        source: Source,
        trust: Trust,
    ) -> Result<Settings, ConfigError> {
        let incoming: Vec<Server> = self
            .incoming
            .iter()
            .filter_map(|s| s.to_server(email))
            .filter(|s| s.protocol.is_incoming())
            .collect();
        let outgoing: Vec<Server> = self
            .outgoing
            .iter()
            .filter_map(|s| s.to_server(email))
            .filter(|s| s.protocol == Protocol::Smtp)
            .collect();
        if incoming.is_empty() && outgoing.is_empty() {
            return Err(ConfigError::NoServers);
        }
        let mut notes = Vec::new();
        let all = incoming.iter().chain(&outgoing);
        if all.clone().all(Server::oauth_only) {
            notes.push(Note::new(
                "oauth-required",
                "This provider accepts only OAuth2 sign-in: use a mail app that opens the provider's own sign-in page; passwords will not work.",
            ));
        } else if all.clone().any(|s| s.auth.contains(&AuthMethod::Oauth2)) {
            notes.push(Note::new(
                "oauth-available",
                "This provider supports OAuth2 sign-in; prefer it where your mail app offers it.",
            ));
        }
        for e in config.enable.iter().chain(&self.enable) {
            let text = english(&e.instruction)
                .unwrap_or("Turn on IMAP/POP access in the provider's web settings first.")
                .to_string();
            let mut n = Note::new("enable-imap", text);
            n.url = e.visit_url.clone();
            notes.push(n);
        }
        for d in &self.documentation {
            if let Some(url) = &d.url {
                let text = english(&d.descr)
                    .unwrap_or("The provider's help page for mail apps")
                    .to_string();
                notes.push(Note::new("documentation", text).with_url(url.clone()));
            }
        }
        let name = self
            .display_name
            .clone()
            .or_else(|| self.display_short_name.clone())
            .unwrap_or_else(|| self.id.clone());
        Ok(Settings {
            provider: Some(crate::settings::ProviderRef {
                id: self.id.clone(),
                name,
            }),
            incoming,
            outgoing,
            source,
            trust,
            notes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"<?xml version="1.0"?>
<clientConfig version="1.1">
  <emailProvider id="example.com">
    <domain>example.com</domain>
    <displayName>Example Mail</displayName>
    <incomingServer type="imap">
      <hostname>IMAP.%EMAILDOMAIN%</hostname>
      <port>993</port>
      <socketType>SSL</socketType>
      <username>%EMAILLOCALPART%</username>
      <authentication>password-cleartext</authentication>
      <authentication>OAuth2</authentication>
    </incomingServer>
    <incomingServer type="exchange"><hostname>x.example.com</hostname></incomingServer>
    <incomingServer type="pop3">
      <hostname>pop.example.com</hostname>
      <port>99999</port>
      <socketType>SSL</socketType>
    </incomingServer>
    <outgoingServer type="smtp">
      <hostname>smtp.example.com</hostname>
      <port>587</port>
      <socketType>STARTTLS</socketType>
      <authentication>password-encrypted</authentication>
      <unknownElement>ignored</unknownElement>
    </outgoingServer>
    <documentation url="https://example.com/help"><descr lang="de">Hilfe</descr><descr lang="en">Help</descr></documentation>
    <enable visiturl="https://example.com/settings"><instruction>Turn IMAP on</instruction></enable>
  </emailProvider>
</clientConfig>"#;

    fn alice() -> EmailAddress {
        "alice+x@example.com".parse().unwrap()
    }

    #[test]
    fn parses_and_expands_placeholders() {
        let cfg = parse(SAMPLE.as_bytes()).unwrap();
        let p = &cfg.providers[0];
        let s = p
            .to_settings(&alice(), &cfg, Source::Autoconfig, Trust::Verified)
            .unwrap();
        assert_eq!(s.incoming.len(), 1, "exchange and the bad port are skipped");
        assert_eq!(s.incoming[0].host, "imap.example.com");
        assert_eq!(s.incoming[0].username, "alice");
        assert_eq!(
            s.incoming[0].auth,
            vec![AuthMethod::Password, AuthMethod::Oauth2]
        );
        assert_eq!(
            s.outgoing[0].url().to_string(),
            "smtp://smtp.example.com:587"
        );
        assert_eq!(s.outgoing[0].username, "alice@example.com");
        let codes: Vec<_> = s.notes.iter().map(|n| n.code.as_str()).collect();
        assert_eq!(codes, ["oauth-available", "enable-imap", "documentation"]);
        assert_eq!(s.notes[2].text, "Help");
    }

    #[test]
    fn malformed_inputs_are_errors_not_panics() {
        for bad in [
            "",
            "<",
            "<html><body>404</body></html>",
            "<clientConfig>",
            "<clientConfig version='1.1'></clientConfig>",
            "<clientConfig><emailProvider><incomingServer type='imap'><port>1</port></incomingServer></clientConfig>",
            "\u{0}\u{1}clientConfig",
        ] {
            assert!(parse(bad.as_bytes()).is_err(), "{bad:?}");
        }
        assert!(matches!(parse(&[0xff, 0xfe]), Err(ConfigError::Xml(_))));
    }

    #[test]
    fn entity_bombs_are_refused() {
        let bomb = r#"<?xml version="1.0"?>
<!DOCTYPE clientConfig [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>
<clientConfig><emailProvider id="x"><domain>&b;</domain>
<incomingServer type="imap"><hostname>h.example</hostname><port>993</port><socketType>SSL</socketType></incomingServer>
</emailProvider></clientConfig>"#;
        match parse(bomb.as_bytes()) {
            Err(_) => {}
            Ok(cfg) => assert!(
                !cfg.providers[0].domains.iter().any(|d| d.contains("aaaa")),
                "entity expanded"
            ),
        }
    }

    #[test]
    fn oversized_and_deeply_nested_inputs_are_refused() {
        let big = vec![b' '; MAX_XML_BYTES + 1];
        assert!(matches!(parse(&big), Err(ConfigError::TooLarge)));
        let deep = format!(
            "<clientConfig>{}{}</clientConfig>",
            "<a>".repeat(20000),
            "</a>".repeat(20000)
        );
        assert!(parse(deep.as_bytes()).is_err());
    }

    #[test]
    fn no_usable_servers_is_an_error() {
        let xml = r#"<clientConfig><emailProvider id="x"><incomingServer type="exchange"><hostname>a.example</hostname></incomingServer></emailProvider></clientConfig>"#;
        let cfg = parse(xml.as_bytes()).unwrap();
        let e = cfg.providers[0].to_settings(&alice(), &cfg, Source::Ispdb, Trust::Verified);
        assert!(matches!(e, Err(ConfigError::NoServers)));
    }
}
