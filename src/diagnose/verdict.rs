//! The one sentence a non-expert reads first: does receiving work, does
//! sending work, and if not, why — in plain words.

use super::{Context, Finding, FindingCode, Role, ServerCheck, Severity};
use crate::probe::LoginStatus;
use crate::probe::wire::sasl::SecretKind;

/// Sums up a check.
pub fn verdict(ctx: &Context, servers: &[ServerCheck], findings: &[Finding]) -> String {
    let mut out = String::new();
    let provider_oauth = findings
        .iter()
        .find(|f| f.code == FindingCode::OauthRequired);
    if let (Some(f), Some(p)) = (provider_oauth, ctx.provider) {
        out.push_str(&format!(
            "{} does not accept passwords from mail apps. {} ",
            p.name, f.fix
        ));
    }
    let missing = findings
        .iter()
        .any(|f| matches!(f.code, FindingCode::NoIncoming | FindingCode::NoOutgoing));
    if ctx.offline && missing {
        out.push_str("Nothing could be checked: no usable server is known for this account without asking the network (--offline); see the findings.");
        return out.trim_end().to_string();
    }
    if ctx.offline {
        out.push_str("The servers were not contacted (--offline): the findings come from the provider table only.");
        return out.trim_end().to_string();
    }
    let state = |role: Role| -> Option<Result<(), String>> {
        let missing = match role {
            Role::Incoming => FindingCode::NoIncoming,
            Role::Outgoing => FindingCode::NoOutgoing,
        };
        if findings.iter().any(|f| f.code == missing) {
            return Some(Err(reason(missing).to_string()));
        }
        let s = servers
            .iter()
            .find(|s| s.role == role && !s.is_alternative())?;
        let url = s.report.url.to_string();
        let first_error = findings
            .iter()
            .filter(|f| f.severity == Severity::Error && f.server.as_deref() == Some(url.as_str()))
            .min_by_key(|f| rank(f.code));
        Some(match first_error {
            Some(f) => {
                let mut why = reason(f.code).to_string();
                let works_instead = servers
                    .iter()
                    .find(|a| a.instead_of.as_deref() == Some(url.as_str()) && a.report.works());
                if let Some(a) = works_instead {
                    why.push_str(&format!(
                        " (port {} of the same server works: {})",
                        a.report.url.port, a.report.url
                    ));
                }
                Err(why)
            }
            None => Ok(()),
        })
    };
    let planned = || servers.iter().filter(|s| !s.is_alternative());
    let logged_in = planned().any(|s| s.report.login == LoginStatus::Ok);
    let all_logged_in =
        planned().next().is_some() && planned().all(|s| s.report.login == LoginStatus::Ok);
    let sentence = match (state(Role::Incoming), state(Role::Outgoing)) {
        (Some(Ok(())), Some(Ok(()))) => {
            let login = match ctx.secret {
                None if provider_oauth.is_some() => {
                    " (no sign-in was tried: use --oauth-token-stdin to test an OAuth2 token)"
                }
                None => {
                    " (no password was given, so logging in was not tried: use --password-stdin to test it)"
                }
                Some(_) if all_logged_in => ", and the login was accepted by both",
                Some(_) => "",
            };
            format!("Your incoming and outgoing mail servers work{login}.")
        }
        (Some(Ok(())), Some(Err(why))) => {
            format!("Your incoming mail server works; sending mail will fail because {why}.")
        }
        (Some(Err(why)), Some(Ok(()))) => {
            format!("Sending mail works; receiving mail will fail because {why}.")
        }
        (Some(Err(a)), Some(Err(b))) if a == b => {
            format!("Neither receiving nor sending mail will work: {a}.")
        }
        (Some(Err(a)), Some(Err(b))) => {
            format!(
                "Neither receiving nor sending mail will work: for incoming mail {a}; for outgoing mail {b}."
            )
        }
        (Some(Ok(())), None) => "Your incoming mail server works.".to_string(),
        (Some(Err(why)), None) => format!("Receiving mail will fail because {why}."),
        (None, Some(Ok(()))) => "Your outgoing mail server works.".to_string(),
        (None, Some(Err(why))) => format!("Sending mail will fail because {why}."),
        (None, None) => "No server was checked.".to_string(),
    };
    out.push_str(&sentence);
    if logged_in && ctx.secret == Some(SecretKind::OauthToken) {
        out.push_str(" OAuth2 sign-in works.");
    }
    out
}

/// Which error explains a failure best: the earliest step wins.
fn rank(code: FindingCode) -> usize {
    match code {
        FindingCode::NoIncoming | FindingCode::NoOutgoing => 0,
        FindingCode::DnsFailure => 1,
        FindingCode::DnsNotFound => 2,
        FindingCode::TcpUnreachable => 3,
        FindingCode::TlsMismatch => 4,
        FindingCode::Preauth => 5,
        FindingCode::StarttlsInjection => 6,
        FindingCode::StarttlsMissing => 7,
        FindingCode::TlsOutdated => 8,
        FindingCode::CertExpired => 9,
        FindingCode::CertNameMismatch => 10,
        FindingCode::CertUntrusted => 11,
        FindingCode::PlaintextAuth => 12,
        FindingCode::ServerError => 13,
        FindingCode::OauthRequired => 14,
        FindingCode::AuthFailed => 15,
        FindingCode::AuthUnsupported => 16,
        // Never errors of one server in an address check.
        FindingCode::CertExpiring
        | FindingCode::Port25Submission
        | FindingCode::SettingsDiffer
        | FindingCode::ConfigHttpOnly
        | FindingCode::ConfigPlaintextServer
        | FindingCode::SrvOffDomain
        | FindingCode::SourcesDisagree
        | FindingCode::AutodiscoverHttpAuth
        | FindingCode::ConfigInvalid
        | FindingCode::SourceOk => 17,
    }
}

/// A finding as the end of "… will fail because …".
fn reason(code: FindingCode) -> &'static str {
    match code {
        FindingCode::NoIncoming | FindingCode::NoOutgoing => {
            "no server could be found that works safely (see the findings)"
        }
        FindingCode::DnsFailure => {
            "DNS did not answer, so the server could not even be looked up (a network problem, not the settings)"
        }
        FindingCode::DnsNotFound => "the server name was not found in DNS",
        FindingCode::TcpUnreachable => {
            "the server cannot be reached on that port (blocked or wrong port)"
        }
        FindingCode::TlsMismatch => {
            "the encryption setting (SSL/TLS or STARTTLS) does not fit the port"
        }
        FindingCode::Preauth => {
            "the server skips the login before encryption starts, so the connection cannot be protected"
        }
        FindingCode::StarttlsInjection => "someone may be tampering with the connection",
        FindingCode::StarttlsMissing => "the server does not offer encryption on that port",
        FindingCode::TlsOutdated => "the server only speaks outdated encryption that phones refuse",
        FindingCode::CertExpired => "the server's certificate has expired",
        FindingCode::CertNameMismatch => "the server's certificate is for a different name",
        FindingCode::CertUntrusted => "the server's certificate is not trusted",
        FindingCode::PlaintextAuth => "the settings would send your password unencrypted",
        FindingCode::OauthRequired => "the provider no longer accepts passwords",
        FindingCode::AuthFailed => "the username or password was rejected",
        FindingCode::AuthUnsupported => "the server does not accept this way of logging in",
        FindingCode::ServerError
        | FindingCode::CertExpiring
        | FindingCode::Port25Submission
        | FindingCode::SettingsDiffer
        | FindingCode::ConfigHttpOnly
        | FindingCode::ConfigPlaintextServer
        | FindingCode::SrvOffDomain
        | FindingCode::SourcesDisagree
        | FindingCode::AutodiscoverHttpAuth
        | FindingCode::ConfigInvalid
        | FindingCode::SourceOk => "the server did not answer as a mail server should",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::EmailAddress;
    use crate::probe::ServerReport;

    fn server(role: Role, url: &str) -> ServerCheck {
        ServerCheck {
            role,
            probed: true,
            username: "u".into(),
            instead_of: None,
            report: ServerReport::new(url.parse().unwrap()),
        }
    }

    fn error(code: &str, server: &str) -> Finding {
        Finding {
            severity: Severity::Error,
            code: code.parse().unwrap(),
            server: Some(server.into()),
            message: String::new(),
            fix: String::new(),
            url: None,
        }
    }

    fn say(servers: &[ServerCheck], findings: &[Finding]) -> String {
        let email: EmailAddress = "u@example.test".parse().unwrap();
        let ctx = Context {
            email: &email,
            provider: None,
            discovered: None,
            secret: None,
            offline: false,
        };
        verdict(&ctx, servers, findings)
    }

    #[test]
    fn the_failing_side_and_the_earliest_reason_are_named() {
        let s = [
            server(Role::Incoming, "imaps://i.test"),
            server(Role::Outgoing, "smtp://o.test"),
        ];
        assert!(say(&s, &[]).starts_with("Your incoming and outgoing mail servers work"));
        let out = [
            error("auth-failed", "smtp://o.test:587"),
            error("cert-expired", "smtp://o.test:587"),
        ];
        assert_eq!(
            say(&s, &out),
            "Your incoming mail server works; sending mail will fail because the server's certificate has expired."
        );
        let both = [
            error("tcp-unreachable", "smtp://o.test:587"),
            error("tcp-unreachable", "imaps://i.test:993"),
        ];
        assert!(say(&s, &both).starts_with(
            "Neither receiving nor sending mail will work: the server cannot be reached"
        ));
        // A warning does not make a server fail.
        let mut warn = error("port-25-submission", "smtp://o.test:587");
        warn.severity = Severity::Warning;
        assert!(say(&s, &[warn]).starts_with("Your incoming and outgoing"));
    }

    #[test]
    fn a_missing_side_fails_that_side_and_a_working_stand_in_is_named() {
        let s = [server(Role::Incoming, "imaps://i.test")];
        let mut missing = error("no-outgoing", "");
        missing.server = None;
        assert_eq!(
            say(&s, &[missing.clone()]),
            "Your incoming mail server works; sending mail will fail because no server could be found that works safely (see the findings)."
        );
        let mut no_in = missing.clone();
        no_in.code = FindingCode::NoIncoming;
        assert!(
            say(&[], &[no_in, missing])
                .starts_with("Neither receiving nor sending mail will work: no server")
        );

        let mut out = [
            server(Role::Incoming, "imaps://i.test"),
            server(Role::Outgoing, "smtp://o.test"),
            server(Role::Outgoing, "smtps://o.test"),
        ];
        out[2].instead_of = Some("smtp://o.test:587".into());
        let blocked = [error("tcp-unreachable", "smtp://o.test:587")];
        assert_eq!(
            say(&out, &blocked),
            "Your incoming mail server works; sending mail will fail because the server cannot be reached on that port (blocked or wrong port) (port 465 of the same server works: smtps://o.test:465)."
        );
    }

    #[test]
    fn every_server_error_code_has_its_own_words_and_a_rank() {
        // The codes a probe or a missing side can end in; the others are
        // warnings or audit findings and fall under the last rank.
        for code in FindingCode::ALL.iter().copied() {
            let server_error = !matches!(
                code,
                FindingCode::ServerError
                    | FindingCode::CertExpiring
                    | FindingCode::Port25Submission
                    | FindingCode::SettingsDiffer
                    | FindingCode::ConfigHttpOnly
                    | FindingCode::ConfigPlaintextServer
                    | FindingCode::SrvOffDomain
                    | FindingCode::SourcesDisagree
                    | FindingCode::AutodiscoverHttpAuth
                    | FindingCode::ConfigInvalid
                    | FindingCode::SourceOk
            );
            if server_error {
                assert_ne!(reason(code), reason(FindingCode::ServerError), "{code}");
                assert!(rank(code) < rank(FindingCode::ConfigInvalid), "{code}");
            }
        }
    }
}
