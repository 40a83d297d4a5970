//! `mailsetup generate`: man pages and shell completions, rendered from
//! the same flag definitions as `--help`.
//!
//! `generate man DIR` writes `mailsetup.1`, one `mailsetup-COMMAND.1` per
//! command (with examples), and `mailsetup.toml.5`, the configuration
//! file of `serve` with an example; `generate man` alone prints the main
//! page.

use std::io::Write;
use std::path::Path;

use clap::CommandFactory;

use super::args::GenerateArgs;
use super::{Cli, Fatal, Outcome};

/// Writes the requested document to stdout, or the man pages into a
/// directory.
pub fn run(a: GenerateArgs) -> Result<Outcome, Fatal> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    let shell = match a.what.as_str() {
        "man" => {
            match &a.dir {
                Some(dir) => write_man_pages(dir)?,
                None => {
                    clap_mangen::Man::new(cmd).render(&mut out)?;
                    std::io::stdout().write_all(&out)?;
                }
            }
            return Ok(Outcome::Success);
        }
        "bash" => clap_complete::Shell::Bash,
        "zsh" => clap_complete::Shell::Zsh,
        "fish" => clap_complete::Shell::Fish,
        "elvish" => clap_complete::Shell::Elvish,
        "powershell" => clap_complete::Shell::PowerShell,
        other => {
            return Err(Fatal::msg(format!(
                "cannot generate '{other}': choose man, bash, zsh, fish, elvish or powershell"
            )));
        }
    };
    clap_complete::generate(shell, &mut cmd, "mailsetup", &mut out);
    std::io::stdout().write_all(&out)?;
    Ok(Outcome::Success)
}

/// Examples for each command's page, as (command line, what it does).
fn examples(command: &str) -> &'static [(&'static str, &'static str)] {
    match command {
        "lookup" => &[
            (
                "mailsetup lookup someone@msn.com",
                "The settings from the built-in provider table.",
            ),
            (
                "mailsetup lookup --json me@example.org",
                "Discover a domain's settings, as one JSON document.",
            ),
            (
                "mailsetup lookup --verify me@example.org",
                "Also probe the servers found (never a login).",
            ),
        ],
        "check" => &[
            (
                "mailsetup check me@example.org",
                "Check the discovered servers, without logging in.",
            ),
            (
                "mailsetup check me@example.org --incoming imaps://mail.example.org --password-stdin < pw",
                "Check a given server and log in with the password read from a file.",
            ),
            (
                "mailsetup check example.org",
                "Audit what the domain publishes for mail clients.",
            ),
        ],
        "profile" => &[
            (
                "mailsetup profile alice@posteo.de -o alice.mobileconfig",
                "An iPhone profile.",
            ),
            (
                "mailsetup profile alice@posteo.de --sign-cert signer.pem --sign-key signer.key -o alice.mobileconfig",
                "A signed profile (shown as Verified).",
            ),
            (
                "mailsetup profile me@example.org --format ios-steps",
                "Step-by-step iPhone instructions.",
            ),
        ],
        "serve" => &[
            (
                "mailsetup serve",
                "A help desk for any domain on 127.0.0.1:8080.",
            ),
            (
                "mailsetup serve --config /etc/mailsetup/mail.toml",
                "Serve the operator's domains (see mailsetup.toml(5)); SIGHUP reloads the file.",
            ),
            (
                "mailsetup serve --check-config --config /etc/mailsetup/mail.toml",
                "Check the file and what it names, without listening.",
            ),
        ],
        "generate" => &[
            (
                "mailsetup generate man /usr/local/share/man/man1",
                "Write every man page.",
            ),
            (
                "mailsetup generate bash > /etc/bash_completion.d/mailsetup",
                "Bash completions.",
            ),
        ],
        _ => &[],
    }
}

fn write_man_pages(dir: &Path) -> Result<(), Fatal> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Fatal::msg(format!("cannot create {}: {e}", dir.display())))?;
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.join(name);
        std::fs::write(&path, bytes)
            .map_err(|e| Fatal::msg(format!("cannot write {}: {e}", path.display())))
    };
    let cmd = Cli::command();
    let mut top = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut top)?;
    write("mailsetup.1", &top)?;
    for sub in cmd.get_subcommands() {
        let name = sub.get_name().to_string();
        // A subcommand's page carries the global options too.
        let sub = sub
            .clone()
            .name(format!("mailsetup-{name}"))
            .args(cmd.get_arguments().filter(|a| a.is_global_set()).cloned());
        let man = clap_mangen::Man::new(sub.clone());
        let mut page = Vec::new();
        man.render_title(&mut page)?;
        man.render_name_section(&mut page)?;
        man.render_synopsis_section(&mut page)?;
        man.render_description_section(&mut page)?;
        man.render_options_section(&mut page)?;
        let ex = examples(&name);
        if !ex.is_empty() {
            page.extend_from_slice(b".SH EXAMPLES\n");
            for (line, what) in ex {
                page.extend_from_slice(
                    format!(
                        ".TP\n\\fB{}\\fR\n{}\n",
                        roff_escape(line),
                        roff_escape(what)
                    )
                    .as_bytes(),
                );
            }
        }
        page.extend_from_slice(
            b".SH EXIT STATUS\n0 success, 1 a negative answer (nothing found, an error finding, a refused profile), 2 a usage, configuration or internal error.\n.SH SEE ALSO\nmailsetup(1), mailsetup.toml(5)\n",
        );
        write(&format!("mailsetup-{name}.1"), &page)?;
    }
    write("mailsetup.toml.5", CONFIG_PAGE.as_bytes())?;
    Ok(())
}

fn roff_escape(s: &str) -> String {
    s.replace('\\', "\\e").replace('-', "\\-")
}

/// `mailsetup.toml(5)`: the configuration file of `mailsetup serve`.
const CONFIG_PAGE: &str = r#".TH MAILSETUP.TOML 5 "" "mailsetup" "File Formats"
.SH NAME
mailsetup.toml \- configuration of mailsetup serve
.SH SYNOPSIS
\fBmailsetup serve \-\-config\fR \fIFILE\fR
.SH DESCRIPTION
A TOML file that names the operator's mail domains and how the service runs.
Every key but \fB[[domain]]\fR is optional; a file without domains serves
any domain (help desk mode). A mistake is reported as \fIFILE\fR:\fILINE\fR:
what to change, and the server does not start; \fBmailsetup serve
\-\-check\-config \-\-config\fR \fIFILE\fR checks a file without listening.
SIGHUP reads the file again and swaps it in whole; a file with a mistake
leaves the running configuration in place. \fBlisten\fR, \fBmetrics_listen\fR,
\fB[connections]\fR and whether \fB[tls]\fR is present take effect on restart.
.SH KEYS
.TP
\fBlisten\fR = ["IP:PORT", ...]
Where to listen (default 127.0.0.1:8080; \fB\-\-listen\fR overrides).
.TP
\fBmetrics_listen\fR = "IP:PORT"
Serve /metrics on this address only, not on the public listeners.
.TP
\fBpublic_url\fR = "https://..."
The base of links and QR codes.
.TP
\fBtrust_forwarded\fR = true|false
Behind a reverse proxy: take the client from X\-Forwarded\-For.
.TP
\fBlog_addresses\fR = true|false
Log client IP addresses and email addresses in full (default: client
addresses masked to their /24 or /48, email addresses only at debug level).
.TP
\fBrequest_timeout_secs\fR = N
The deadline of one request, 1 to 600 (default 30).
.TP
\fB[tls]\fR cert, key
PEM files for HTTPS; plain HTTP when absent.
.TP
\fB[signing]\fR cert, key
PEM files that sign iPhone profiles.
.TP
\fB[rate_limit]\fR per_minute, burst
Discoveries per client per minute; 0 turns the limit off.
.TP
\fB[cache]\fR ttl_secs, capacity
The discovery cache.
.TP
\fB[page]\fR name, logo, help_url, help_text
The settings page's operator name, logo file (PNG, SVG, JPEG or WebP, at most
256 KiB) and help link (https:// or mailto:).
.TP
\fB[[domain]]\fR name, aliases, display_name, short_name, username, incoming, outgoing, caldav, carddav, discover
One of the operator's domains: its servers as URLs (imaps://, imap://,
pop3s://, pop3://, smtps://, smtp://) with their authentication, or
\fBdiscover = true\fR.
.PP
TLS and signing certificates that have expired or expire within 30 days are
logged at start, on reload and daily, and exported as the gauge
mailsetup_certificate_expiry_seconds.
.SH EXAMPLE
.nf
listen = ["[::]:443"]
metrics_listen = "127.0.0.1:9090"
public_url = "https://autoconfig.example.com"

[tls]
cert = "/etc/mailsetup/fullchain.pem"
key = "/etc/mailsetup/privkey.pem"

[page]
name = "Example Mail"
logo = "/etc/mailsetup/logo.svg"
help_url = "https://help.example.com/mail"

[[domain]]
name = "example.com"
aliases = ["example.net"]
display_name = "Example Mail"
incoming = [{ url = "imaps://imap.example.com", auth = ["password"] }]
outgoing = [{ url = "smtps://smtp.example.com", auth = ["password"] }]

[[domain]]
name = "example.org"
discover = true
.fi
.SH SEE ALSO
mailsetup(1), mailsetup\-serve(1)
"#;
