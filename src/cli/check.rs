//! `mailsetup check`: wiring only. Reads the secret (a prompt on a
//! terminal, else standard input), runs [`mailsetup::diagnose::check`]
//! with a spinner naming the current step on a terminal, prints the
//! report, and maps error findings to exit status 1. The report is printed
//! whatever was found: exit status 2 is only for usage and internal errors.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

use mailsetup::address::{EmailAddress, check_domain};
use mailsetup::diagnose::{self, CheckRequest};
use mailsetup::output;
use mailsetup::probe::{Credentials, ProbeOptions, read_secret, secret_from_line};
use mailsetup::settings::{Protocol, ServerUrl};

use super::args::{CheckArgs, Global};
use super::{Fatal, Outcome};

/// Runs `check`.
pub fn run(a: CheckArgs, g: &Global) -> Result<Outcome, Fatal> {
    if !a.target.contains('@') {
        if let Ok(domain) = check_domain(&a.target) {
            return audit(&a, &domain, g);
        }
    }
    let email: EmailAddress = a.target.parse()?;
    run_address(email, a, g)
}

/// `check EMAIL`: the address's servers (given, or discovered).
pub fn run_address(email: EmailAddress, a: CheckArgs, g: &Global) -> Result<Outcome, Fatal> {
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
    let spinner = spinner(g);
    let progress = spinner.clone().map(|pb| {
        Arc::new(move |step: &str| pb.set_message(step.to_string())) as diagnose::Progress
    });
    let report = rt.block_on(diagnose::check_with_progress(
        &req,
        &g.options(),
        &probe_opts,
        progress,
    ));
    if let Some(pb) = spinner {
        pb.finish_and_clear();
    }
    let report = report?;
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

/// A spinner with the current step on a terminal; nothing when stderr is
/// a pipe or a file, with `--json`, or when `-v` narrates instead.
pub fn spinner(g: &Global) -> Option<indicatif::ProgressBar> {
    if g.json || g.verbose || !std::io::stderr().is_terminal() {
        return None;
    }
    let pb = indicatif::ProgressBar::new_spinner();
    // One line, cut to the terminal's width: a long URL must not wrap.
    if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {wide_msg}") {
        pb.set_style(style);
    }
    pb.set_message("starting…");
    pb.enable_steady_tick(Duration::from_millis(100));
    Some(pb)
}

/// `check DOMAIN`: the domain audit.
fn audit(a: &CheckArgs, domain: &str, g: &Global) -> Result<Outcome, Fatal> {
    if a.incoming.is_some()
        || a.outgoing.is_some()
        || a.username.is_some()
        || a.password_stdin
        || a.oauth_token_stdin
    {
        return Err(Fatal(format!(
            "--incoming, --outgoing, --username and secrets are for checking an account: give an address (someone@{domain}), or drop them to audit {domain}"
        )));
    }
    if g.offline {
        return Err(Fatal(format!(
            "auditing {domain} means asking its servers: drop --offline"
        )));
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = rt.block_on(mailsetup::audit::audit(domain, &g.options()))?;
    let mut stdout = std::io::stdout().lock();
    if g.json {
        serde_json::to_writer_pretty(&mut stdout, &report)?;
        writeln!(stdout)?;
    } else {
        stdout.write_all(mailsetup::audit::human::report(&report).as_bytes())?;
    }
    Ok(if report.has_errors() {
        Outcome::Negative
    } else {
        Outcome::Success
    })
}

fn server_arg(s: Option<&str>, flag: &str, incoming: bool) -> Result<Option<ServerUrl>, Fatal> {
    let Some(s) = s else { return Ok(None) };
    let url: ServerUrl = s.parse().map_err(|e| Fatal(format!("{flag}: {e}")))?;
    if incoming == (url.protocol == Protocol::Smtp) {
        let want = if incoming {
            "an IMAP or POP3 server (imaps://, imap://, pop3s://, pop3://)"
        } else {
            "an SMTP server (smtps:// or smtp://)"
        };
        return Err(Fatal(format!("{flag} takes {want}, not {url}")));
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
