//! The profile writers fed arbitrary settings: whatever the names, hosts
//! and user names hold, autoconfig and Autodiscover output must re-parse as
//! XML with the program's own readers, and a mobileconfig as a plist.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use mailsetup::address::EmailAddress;
use mailsetup::output::mobileconfig;
use mailsetup::profile::{self, Format, Request};
use mailsetup::settings::{
    AuthMethod, Protocol, ProviderRef, Security, Server, Settings, Source, Trust,
};

#[derive(Arbitrary, Debug)]
struct FuzzServer {
    protocol: u8,
    host: String,
    port: u16,
    security: u8,
    auth: Vec<u8>,
    username: String,
}

#[derive(Arbitrary, Debug)]
struct Input {
    local: String,
    provider: Option<(String, String)>,
    servers: Vec<FuzzServer>,
    short_name: Option<String>,
    organization: Option<String>,
    account_name: Option<String>,
    exchange: bool,
}

const AUTH: [AuthMethod; 7] = [
    AuthMethod::Password,
    AuthMethod::PasswordEncrypted,
    AuthMethod::Oauth2,
    AuthMethod::Ntlm,
    AuthMethod::Gssapi,
    AuthMethod::ClientCert,
    AuthMethod::None,
];

fn server(s: &FuzzServer) -> Server {
    Server {
        protocol: [Protocol::Imap, Protocol::Pop3, Protocol::Smtp][usize::from(s.protocol % 3)],
        host: s.host.clone(),
        port: s.port,
        security: [Security::Tls, Security::Starttls, Security::None][usize::from(s.security % 3)],
        auth: s
            .auth
            .iter()
            .take(8)
            .map(|a| AUTH[usize::from(*a) % AUTH.len()])
            .collect(),
        username: s.username.clone(),
    }
}

fuzz_target!(|input: Input| {
    let email = EmailAddress::parse(&format!("{}@example.com", input.local))
        .unwrap_or_else(|_| EmailAddress::parse("someone@example.com").unwrap());
    let (incoming, outgoing): (Vec<Server>, Vec<Server>) = input
        .servers
        .iter()
        .take(8)
        .map(server)
        .partition(|s| s.protocol != Protocol::Smtp);
    let settings = Settings {
        provider: input
            .provider
            .map(|(id, name)| ProviderRef { id, name }),
        incoming,
        outgoing,
        source: Source::Autoconfig,
        trust: Trust::Verified,
        notes: vec![],
    };
    let options = mobileconfig::Options {
        organization: input.organization,
        account_name: input.account_name,
        ..mobileconfig::Options::default()
    };
    for format in [
        Format::Autoconfig,
        Format::Autodiscover,
        Format::Mobileconfig,
        Format::IosSteps,
    ] {
        let req = Request {
            email: &email,
            settings: &settings,
            format,
            exchange: input.exchange,
            signer: None,
            options: &options,
            dav: None,
            short_name: input.short_name.as_deref(),
        };
        let Ok(out) = profile::render(&req) else {
            continue;
        };
        match format {
            Format::Autoconfig => {
                if let Err(e) = mailsetup::autoconfig::parse(&out.bytes) {
                    panic!("autoconfig output does not re-parse: {e}\n{}", String::from_utf8_lossy(&out.bytes));
                }
            }
            Format::Autodiscover => {
                if let Err(e) = mailsetup::discover::pox::parse(&out.bytes) {
                    panic!("Autodiscover output does not re-parse: {e}\n{}", String::from_utf8_lossy(&out.bytes));
                }
            }
            Format::Mobileconfig => {
                if let Err(e) = plist::Value::from_reader_xml(out.bytes.as_slice()) {
                    panic!("mobileconfig is not a plist: {e}\n{}", String::from_utf8_lossy(&out.bytes));
                }
            }
            _ => {}
        }
    }
});
