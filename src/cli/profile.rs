//! `mailsetup profile EMAIL`: wiring only.
//!
//! Settings come from `lookup` (or `--incoming/--outgoing`), the file from
//! [`mailsetup::profile::render`]. `-o FILE` writes the file, replacing one
//! that exists (as `curl -o` and `openssl -out` do); without it the file
//! goes to standard output, except a signed (binary) profile when standard
//! output is a terminal.

use std::io::{IsTerminal, Write};

use mailsetup::address::EmailAddress;
use mailsetup::apple::sign::Signer;
use mailsetup::apple::{iphone, mobileconfig};
use mailsetup::dav::{self, Dav, DavServer};
use mailsetup::lookup::{self, Lookup};
use mailsetup::output::human;
use mailsetup::profile::{self, Format, ProfileError, Request};
use mailsetup::settings::{Security, ServerUrl, Settings, Trust};

use super::args::{Global, ProfileArgs};
use super::{Fatal, Outcome};

/// Runs `profile`.
pub fn run(a: ProfileArgs, g: &Global) -> Result<Outcome, Fatal> {
    let email: EmailAddress = a.email.parse()?;
    let format: Format = a.format.parse().map_err(Fatal::msg)?;
    let incoming = a
        .incoming
        .as_deref()
        .map(str::parse::<ServerUrl>)
        .transpose()?;
    let outgoing = a
        .outgoing
        .as_deref()
        .map(str::parse::<ServerUrl>)
        .transpose()?;
    let dav_server = |url: &Option<String>| {
        url.as_deref()
            .map(|u| DavServer::parse(&dav::expand(&email, u)))
            .transpose()
            .map_err(|e| Fatal::msg(format!("{e}")))
    };
    let dav = Dav {
        caldav: dav_server(&a.caldav)?,
        carddav: dav_server(&a.carddav)?,
    };
    let signer = match (&a.sign_cert, &a.sign_key) {
        (Some(cert), Some(key)) => Some(Signer::load(cert, key)?),
        _ => None,
    };

    let Some(settings) = settings(&email, g, incoming.as_ref(), outgoing.as_ref())? else {
        return Ok(Outcome::Negative);
    };
    // Servers without encryption only when the user named them.
    let settings = match profile::without_unencrypted(
        &settings,
        incoming.is_some(),
        outgoing.is_some(),
    ) {
        Ok(s) => s,
        Err(which) => {
            return refuse_device_file(
                &email,
                "no-encryption",
                &format!(
                    "the {} server found for {} has no encryption, so the password would cross the network readable by anyone on the way. No file was written. Ask your provider for a server with TLS; to write this one anyway, give it explicitly with --{} URL?security=none",
                    which.word(),
                    email.domain(),
                    which.word()
                ),
                g,
            );
        }
    };

    if matches!(format, Format::Mobileconfig | Format::IosSteps) {
        warn_if_unencrypted(&settings);
    }

    let options = mobileconfig::Options::default();
    let req = Request {
        email: &email,
        settings: &settings,
        format,
        exchange: a.exchange,
        signer: signer.as_ref(),
        options: &options,
        dav: Some(&dav),
        short_name: None,
    };
    let rendered = match profile::render(&req) {
        Ok(r) => r,
        Err(e) if e.is_refusal() => return refuse(&email, &e, g),
        Err(e) => return Err(Fatal::msg(e.for_cli())),
    };

    // Unverified settings go into no file that configures a device unless
    // the user says so. The iPhone steps are for a person to read, with the
    // warning; an Exchange profile names Microsoft's own server and signs
    // in on Microsoft's page, so it carries nothing an attacker chose. A
    // refusal of the account itself (OAuth only, …) was said above.
    let device_file = format != Format::IosSteps && !a.exchange;
    if settings.trust == Trust::Unverified {
        if !a.allow_unverified && device_file {
            return refuse_device_file(
                &email,
                "unverified",
                &format!(
                    "the settings found for {} are unverified: they came over plain HTTP or from DNS records without DNSSEC, where anyone on the way could have changed them to servers of their own and so received your password. No file was written. Compare them with your provider's own instructions (mailsetup lookup shows them), then write the file anyway with --allow-unverified, or give the servers with --incoming and --outgoing",
                    email.domain()
                ),
                g,
            );
        }
        eprintln!(
            "mailsetup: warning: these settings come from an unverified source; confirm them with your provider before typing your password"
        );
    }

    let mut stdout = std::io::stdout().lock();
    match &a.output {
        Some(path) => {
            std::fs::write(path, &rendered.bytes)
                .map_err(|e| Fatal::context(format!("cannot write {}", path.display()), e))?;
            if g.json {
                let doc = serde_json::json!({
                    "email": email.to_string(),
                    "format": format.to_string(),
                    "signed": rendered.signed,
                    "content_type": rendered.content_type,
                    "file": path.display().to_string(),
                    "bytes": rendered.bytes.len(),
                });
                serde_json::to_writer_pretty(&mut stdout, &doc)?;
                writeln!(stdout)?;
            }
        }
        None if rendered.signed => {
            if g.json || std::io::stdout().is_terminal() {
                return Err(Fatal::msg(
                    "a signed profile is binary (DER): write it to a file with -o FILE",
                ));
            }
            stdout.write_all(&rendered.bytes)?;
        }
        None if g.json => {
            let doc = serde_json::json!({
                "email": email.to_string(),
                "format": format.to_string(),
                "signed": false,
                "content_type": rendered.content_type,
                "content": String::from_utf8_lossy(&rendered.bytes),
            });
            serde_json::to_writer_pretty(&mut stdout, &doc)?;
            writeln!(stdout)?;
        }
        None => stdout.write_all(&rendered.bytes)?,
    }
    stdout.flush()?;
    Ok(Outcome::Success)
}

/// The settings to write: discovered, with the user's servers in place.
/// `None` when nothing was found (already explained on stderr).
fn settings(
    email: &EmailAddress,
    g: &Global,
    incoming: Option<&ServerUrl>,
    outgoing: Option<&ServerUrl>,
) -> Result<Option<Settings>, Fatal> {
    let base: Option<Lookup> = if incoming.is_some() && outgoing.is_some() {
        // Both servers given: only the built-in provider data (names,
        // notes, OAuth rules) is needed, which never touches the network.
        lookup::lookup_builtin(email)
    } else {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        match rt.block_on(lookup::lookup(email, &g.options())) {
            Ok(found) => Some(found),
            Err(e) => {
                if g.verbose || matches!(e, lookup::LookupError::NotFound { .. }) {
                    eprint!("{}", human::tried(e.tried()));
                }
                eprintln!("mailsetup: {e}");
                eprintln!(
                    "mailsetup: give both servers with --incoming URL --outgoing URL to write a profile anyway"
                );
                if g.json {
                    let doc = serde_json::json!({
                        "email": email.to_string(),
                        "error": e.to_string(),
                        "tried": e.tried(),
                    });
                    writeln!(std::io::stdout(), "{}", serde_json::to_string_pretty(&doc)?)?;
                }
                return Ok(None);
            }
        }
    };
    if g.verbose {
        if let Some(l) = &base {
            eprint!("{}", human::tried(&l.tried));
        }
    }
    let base = base.map(|l| l.settings);
    if incoming.is_none() && outgoing.is_none() {
        // lookup() answered, so there is a base.
        return Ok(base);
    }
    Ok(Some(profile::with_user_servers(
        email, base, incoming, outgoing,
    )?))
}

/// Says so when the iPhone would send the password without encryption
/// (only servers given as `?security=none` are like that).
fn warn_if_unencrypted(settings: &Settings) {
    let Ok(chosen) = iphone::servers(settings) else {
        return;
    };
    for s in [chosen.incoming, chosen.outgoing] {
        if s.server.security == Security::None && s.auth.needs_password() {
            eprintln!(
                "mailsetup: warning: {} has no encryption: the iPhone will send the password readable to anyone on the way",
                s.server.url()
            );
        }
    }
}

/// Says why no file was written for settings a device should not get
/// (exit status 1, like every refusal).
fn refuse_device_file(
    email: &EmailAddress,
    code: &str,
    message: &str,
    g: &Global,
) -> Result<Outcome, Fatal> {
    eprintln!("mailsetup: {message}");
    if g.json {
        let doc = serde_json::json!({
            "email": email.to_string(),
            "code": code,
            "error": message,
        });
        writeln!(std::io::stdout(), "{}", serde_json::to_string_pretty(&doc)?)?;
    }
    Ok(Outcome::Negative)
}

fn refuse(email: &EmailAddress, e: &ProfileError, g: &Global) -> Result<Outcome, Fatal> {
    let message = e.for_cli();
    eprintln!("mailsetup: {message}");
    if g.json {
        let doc = serde_json::json!({
            "email": email.to_string(),
            "code": e.code(),
            "error": message,
        });
        writeln!(std::io::stdout(), "{}", serde_json::to_string_pretty(&doc)?)?;
    }
    Ok(Outcome::Negative)
}
