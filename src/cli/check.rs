//! `mailsetup check`: wiring only. Reads the secret (a prompt on a
//! terminal, else standard input), runs [`mailsetup::diagnose::check`],
//! prints the report, and maps error findings to exit status 1.

use std::io::{IsTerminal, Write};

use mailsetup::address::{EmailAddress, check_domain};
use mailsetup::diagnose::{self, CheckRequest};
use mailsetup::output;
use mailsetup::probe::{Credentials, ProbeOptions, read_secret, secret_from_line};
use mailsetup::settings::{Protocol, ServerUrl};

use super::args::{CheckArgs, Global};
use super::{Fatal, Outcome};

/// Runs `check`.
pub fn run(a: CheckArgs, g: &Global) -> Result<Outcome, Fatal> {
    if !a.target.contains('@') && check_domain(&a.target).is_ok() {
        return Err(Fatal::msg(format!(
            "auditing a whole domain ('check {}') is not available in this version yet: give an address, such as someone@{}",
            a.target, a.target
        )));
    }
    let email: EmailAddress = a.target.parse()?;
    let incoming = server_arg(a.incoming.as_deref(), "--incoming", true)?;
    let outgoing = server_arg(a.outgoing.as_deref(), "--outgoing", false)?;
    let username = a.username.clone().unwrap_or_else(|| email.login_address());
    let credentials = if a.password_stdin {
        Some(Credentials::password(
            &username,
            secret("Password", &username)?,
        ))
    } else if a.oauth_token_stdin {
        Some(Credentials::oauth_token(
            &username,
            secret("OAuth2 access token", &username)?,
        ))
    } else {
        None
    };
    let req = CheckRequest {
        email,
        incoming,
        outgoing,
        username: a.username,
        credentials,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // The resolver is made inside the runtime.
    let probe_opts = {
        let _runtime = rt.enter();
        ProbeOptions::new(g.timeout, g.dns, g.ca_file.as_deref())?
    };
    let report = rt.block_on(diagnose::check(&req, &g.options(), &probe_opts))?;
    if g.verbose {
        eprint!("{}", output::human::tried(&report.tried));
        eprint!("{}", output::check::transcript(&report));
    }
    let mut stdout = std::io::stdout().lock();
    if g.json {
        serde_json::to_writer_pretty(&mut stdout, &report)?;
        writeln!(stdout)?;
    } else {
        stdout.write_all(output::check::check(&report).as_bytes())?;
    }
    Ok(if report.has_errors() {
        Outcome::Negative
    } else {
        Outcome::Success
    })
}

fn server_arg(s: Option<&str>, flag: &str, incoming: bool) -> Result<Option<ServerUrl>, Fatal> {
    let Some(s) = s else { return Ok(None) };
    let url: ServerUrl = s.parse().map_err(|e| Fatal::msg(format!("{flag}: {e}")))?;
    if incoming == (url.protocol == Protocol::Smtp) {
        let want = if incoming {
            "an IMAP or POP3 server (imaps://, imap://, pop3s://, pop3://)"
        } else {
            "an SMTP server (smtps:// or smtp://)"
        };
        return Err(Fatal::msg(format!("{flag} takes {want}, not {url}")));
    }
    Ok(Some(url))
}

/// The secret: asked for without echo on a terminal, else read from
/// standard input.
fn secret(what: &str, username: &str) -> Result<secrecy::SecretString, Fatal> {
    if std::io::stdin().is_terminal() {
        let typed = zeroize::Zeroizing::new(rpassword::prompt_password(format!(
            "{what} for {username}: "
        ))?);
        return Ok(secret_from_line(&typed)?);
    }
    Ok(read_secret(std::io::stdin().lock())?)
}
