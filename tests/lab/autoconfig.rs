//! Autoconfig files (`config-v1.1.xml`) for the lab's web servers: one
//! IMAP and one SMTP server, each with its port, socket type and user name
//! placeholder, written the way Thunderbird's draft spells them.
//!
//! ```ignore
//! let xml = Autoconfig::new("ac.test")
//!     .imap("imap.ac.test", 993, "SSL")
//!     .incoming_username("%EMAILLOCALPART%")
//!     .smtp("smtp.ac.test", 465, "SSL")
//!     .xml();
//! ```

/// One server of the file.
struct Server {
    host: String,
    port: u16,
    socket: String,
    username: String,
}

impl Server {
    fn new(host: &str, port: u16, socket: &str) -> Server {
        Server {
            host: host.to_string(),
            port,
            socket: socket.to_string(),
            username: "%EMAILADDRESS%".to_string(),
        }
    }

    fn xml(&self, element: &str, kind: &str) -> String {
        let Server {
            host,
            port,
            socket,
            username,
        } = self;
        format!(
            r#"    <{element} type="{kind}">
      <hostname>{host}</hostname><port>{port}</port><socketType>{socket}</socketType>
      <username>{username}</username><authentication>password-cleartext</authentication>
    </{element}>
"#
        )
    }
}

/// An autoconfig file being put together; [`Autoconfig::xml`] writes it.
pub struct Autoconfig {
    domain: String,
    display_name: Option<String>,
    imap: Server,
    smtp: Server,
}

impl Autoconfig {
    /// The file of `domain` (its provider id too), with IMAP on
    /// `imap.DOMAIN:993` and SMTP on `smtp.DOMAIN:465`, both over TLS
    /// from the first byte, and the whole address as user name.
    pub fn new(domain: &str) -> Autoconfig {
        Autoconfig {
            domain: domain.to_string(),
            display_name: None,
            imap: Server::new(&format!("imap.{domain}"), 993, "SSL"),
            smtp: Server::new(&format!("smtp.{domain}"), 465, "SSL"),
        }
    }

    /// A `displayName`, written as given (so `&amp;` stays an escape).
    pub fn display_name(mut self, name: &str) -> Autoconfig {
        self.display_name = Some(name.to_string());
        self
    }

    /// The IMAP server: `socket` is `SSL`, `STARTTLS` or `plain`.
    pub fn imap(mut self, host: &str, port: u16, socket: &str) -> Autoconfig {
        self.imap = Server::new(host, port, socket);
        self
    }

    /// The SMTP server: `socket` is `SSL`, `STARTTLS` or `plain`.
    pub fn smtp(mut self, host: &str, port: u16, socket: &str) -> Autoconfig {
        self.smtp = Server::new(host, port, socket);
        self
    }

    /// The IMAP server's user name (a placeholder such as
    /// `%EMAILLOCALPART%`), instead of `%EMAILADDRESS%`.
    pub fn incoming_username(mut self, username: &str) -> Autoconfig {
        self.imap.username = username.to_string();
        self
    }

    /// The file.
    pub fn xml(&self) -> String {
        let domain = &self.domain;
        let name = match &self.display_name {
            Some(n) => format!("    <displayName>{n}</displayName>\n"),
            None => String::new(),
        };
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="{domain}">
    <domain>{domain}</domain>
{name}{}{}  </emailProvider>
</clientConfig>
"#,
            self.imap.xml("incomingServer", "imap"),
            self.smtp.xml("outgoingServer", "smtp"),
        )
    }
}
