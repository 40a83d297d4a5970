//! The rules: from what the probes saw (and what the provider table
//! knows) to findings. Pure functions, no I/O: every rule can be tested
//! with a hand-made [`ServerReport`].

use super::fixes::{self, capitalise};
use super::{Context, Finding, FindingCode, Planned, Role, ServerCheck, Severity};
use crate::probe::wire::sasl::SecretKind;
use crate::probe::{LoginStatus, ProbeError, ServerReport};
use crate::settings::{AuthMethod, Security, ServerUrl};

/// All findings for the checked servers, most severe first.
pub fn diagnose(ctx: &Context, plan: &[Planned], servers: &[ServerCheck]) -> Vec<Finding> {
    let mut out = Vec::new();
    account_rules(ctx, &mut out);
    for (p, s) in plan.iter().zip(servers) {
        static_rules(ctx, p, &s.report, &mut out);
        if !ctx.offline {
            probe_rules(ctx, p, &s.report, &mut out);
        }
    }
    // One oauth-required finding is enough: the one a refused login
    // proved, else the provider table's.
    let proved = out
        .iter()
        .position(|f| f.code == FindingCode::OauthRequired && f.server.is_some());
    let keep = proved.or_else(|| {
        out.iter()
            .position(|f| f.code == FindingCode::OauthRequired)
    });
    let mut i = 0;
    out.retain(|f| {
        let kept = f.code != FindingCode::OauthRequired || Some(i) == keep;
        i += 1;
        kept
    });
    out.sort_by_key(|f| f.severity);
    out
}

fn finding(
    severity: Severity,
    code: FindingCode,
    server: Option<&ServerUrl>,
    message: impl Into<String>,
    fix: impl Into<String>,
) -> Finding {
    Finding {
        severity,
        code,
        server: server.map(ToString::to_string),
        message: message.into(),
        fix: fix.into(),
        url: None,
    }
}

/// Rules about the account as a whole: a provider that takes no passwords.
fn account_rules(ctx: &Context, out: &mut Vec<Finding>) {
    let Some(p) = ctx.provider else { return };
    let Some(note) = fixes::oauth_required(p) else {
        return;
    };
    if ctx.secret == Some(SecretKind::OauthToken) {
        return;
    }
    // With a password this will fail; without one it is what to know.
    let severity = if ctx.secret == Some(SecretKind::Password) {
        Severity::Error
    } else {
        Severity::Warning
    };
    let mut f = finding(
        severity,
        FindingCode::OauthRequired,
        None,
        note.text.clone(),
        format!("{}.", capitalise(&fixes::oauth_path(p))),
    );
    f.url = note.url.clone();
    out.push(f);
}

/// Rules that need no network: the settings themselves.
fn static_rules(ctx: &Context, p: &Planned, r: &ServerReport, out: &mut Vec<Finding>) {
    let url = &p.url;
    if p.role == Role::Outgoing && url.port == 25 {
        out.push(finding(
            Severity::Warning,
            FindingCode::Port25Submission,
            Some(url),
            "Port 25 is for mail servers talking to each other, not for mail apps: many internet providers block it, and servers often refuse to take mail from apps there.",
            format!(
                "Send through port 587 with STARTTLS ({}) or port 465 with SSL/TLS ({}).",
                ServerUrl { port: 587, security: Security::Starttls, ..url.clone() },
                fixes::tls_alternative(url)
            ),
        ));
    }
    if url.security == Security::None && !p.auth.iter().all(|a| *a == AuthMethod::None) {
        let sent = if ctx.secret.is_some() {
            " Your password was not sent."
        } else {
            ""
        };
        let fix = if r.starttls_offered == Some(true) {
            format!(
                "The server offers STARTTLS: turn encryption on (STARTTLS on port {}, {}), or use SSL/TLS on port {} ({}).",
                url.port,
                ServerUrl {
                    security: Security::Starttls,
                    ..url.clone()
                },
                url.protocol.default_port(Security::Tls),
                fixes::tls_alternative(url)
            )
        } else {
            format!(
                "Turn encryption on: SSL/TLS on port {} ({}) or STARTTLS.",
                url.protocol.default_port(Security::Tls),
                fixes::tls_alternative(url)
            )
        };
        out.push(finding(
            Severity::Error,
            FindingCode::PlaintextAuth,
            Some(url),
            format!("These settings would send the password unencrypted: anyone on the network could read it.{sent}"),
            fix,
        ));
    }
    if p.given {
        settings_differ(ctx, p, out);
    }
}

fn settings_differ(ctx: &Context, p: &Planned, out: &mut Vec<Finding>) {
    let Some(d) = ctx.discovered else { return };
    let list = match p.role {
        Role::Incoming => &d.incoming,
        Role::Outgoing => &d.outgoing,
    };
    let Some(best) = list.first() else { return };
    if best.url() == p.url {
        return;
    }
    let who = ctx
        .provider
        .map(|p| p.name.clone())
        .unwrap_or_else(|| "The discovered settings".into());
    let listed = list.iter().any(|s| s.url() == p.url);
    let (severity, message) = if listed {
        (
            Severity::Info,
            format!(
                "{} is one of {who}'s servers, but not the recommended one.",
                p.url
            ),
        )
    } else {
        (
            Severity::Warning,
            format!(
                "{} is not among {who}'s servers ({} from {}).",
                p.url,
                list.iter()
                    .map(|s| s.url().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                d.source
            ),
        )
    };
    out.push(finding(
        severity,
        FindingCode::SettingsDiffer,
        Some(&p.url),
        message,
        format!(
            "The recommended {} server is {} (username {}).",
            role_word(p.role),
            best.url(),
            best.username
        ),
    ));
}

fn role_word(r: Role) -> &'static str {
    match r {
        Role::Incoming => "incoming",
        Role::Outgoing => "outgoing",
    }
}

/// Rules on what a probe saw.
fn probe_rules(ctx: &Context, p: &Planned, r: &ServerReport, out: &mut Vec<Finding>) {
    let url = &p.url;
    if let Some(e) = &r.error {
        out.push(error_finding(ctx, url, e));
        return;
    }
    cert_expiring(url, r, now_unix(), out);
    match r.login {
        LoginStatus::Failed => {
            let (fix, help) = fixes::auth_failed(ctx, url.protocol, &p.username);
            let mut message = format!(
                "The server rejected the login as {}{}.",
                p.username,
                r.login_reply
                    .as_deref()
                    .map(|t| format!(": \"{t}\""))
                    .unwrap_or_default()
            );
            if let Some(referral) = &r.referral {
                message.push_str(&format!(
                    " It referred the login to {referral}, which mailsetup does not follow (a referral could send your password elsewhere)."
                ));
            }
            let mut f = finding(
                Severity::Error,
                FindingCode::AuthFailed,
                Some(url),
                message,
                fix,
            );
            f.url = help;
            out.push(f);
            // A failed password on a provider that takes no passwords.
            if let (Some(SecretKind::Password), Some(pr)) = (ctx.secret, ctx.provider) {
                if let Some(note) = fixes::oauth_required(pr) {
                    let mut f = finding(
                        Severity::Error,
                        FindingCode::OauthRequired,
                        Some(url),
                        format!(
                            "The password was refused, and {} no longer accepts passwords: {}",
                            pr.name, note.text
                        ),
                        format!("{}.", capitalise(&fixes::oauth_path(pr))),
                    );
                    f.url = note.url;
                    out.push(f);
                }
            }
        }
        LoginStatus::Ok | LoginStatus::Skipped | LoginStatus::RefusedInsecure => {}
    }
    auth_unsupported(ctx, p, r, out);
}

/// How close to its end a valid certificate is worth a warning.
pub const EXPIRING_WITHIN_DAYS: i64 = 30;

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A valid certificate that ends within [`EXPIRING_WITHIN_DAYS`] of `now`.
fn cert_expiring(url: &ServerUrl, r: &ServerReport, now: i64, out: &mut Vec<Finding>) {
    let Some(tls) = r.tls.as_ref().filter(|t| t.cert_valid) else {
        return;
    };
    let Some(end) = tls.not_after_unix else {
        return;
    };
    let left = end - now;
    if !(0..=EXPIRING_WITHIN_DAYS * 86_400).contains(&left) {
        return;
    }
    let date = crate::probe::rfc3339(end);
    let day = date.get(..10).unwrap_or(&date);
    let when = match left / 86_400 {
        0 => "less than a day from now".to_string(),
        1 => "in 1 day".to_string(),
        n => format!("in {n} days"),
    };
    out.push(finding(
        Severity::Warning,
        FindingCode::CertExpiring,
        Some(url),
        format!(
            "The certificate of {} ends on {day} ({date}), {when}: from then on, mail apps will refuse to connect.",
            url.host
        ),
        format!(
            "Nothing to change on your side yet. Server operators: renew the certificate before {day} (with automatic renewal, such as Let's Encrypt's, check that it runs and that the mail server reloads the new certificate)."
        ),
    ));
}

/// The server offers no way in that the settings (or the secret) can use.
fn auth_unsupported(ctx: &Context, p: &Planned, r: &ServerReport, out: &mut Vec<Finding>) {
    if r.preauth {
        return;
    }
    let offered = if r.auth_mechanisms.is_empty() {
        "no authentication mechanism at all".to_string()
    } else {
        r.auth_mechanisms.join(", ")
    };
    let wants_password = match ctx.secret {
        Some(kind) => kind == SecretKind::Password,
        None => p
            .auth
            .iter()
            .any(|a| matches!(a, AuthMethod::Password | AuthMethod::PasswordEncrypted)),
    };
    let wants_oauth = !wants_password
        && (ctx.secret == Some(SecretKind::OauthToken) || p.auth.contains(&AuthMethod::Oauth2));
    let unusable = match ctx.secret {
        Some(_) => r.no_usable_mechanism,
        // Without a secret, judge by the methods the settings expect
        // (NTLM, Kerberos and certificates are not examined).
        None => {
            !p.auth.is_empty()
                && !p.auth.iter().any(|a| match a {
                    AuthMethod::Password | AuthMethod::PasswordEncrypted => {
                        r.password_login_offered
                    }
                    AuthMethod::Oauth2 => r.oauth_offered,
                    _ => true,
                })
        }
    };
    if !unusable {
        return;
    }
    let fix = if wants_password && r.oauth_offered {
        match ctx.provider {
            Some(pr) => format!("{}.", capitalise(&fixes::oauth_path(pr))),
            None => "This server takes only OAuth2 sign-in: use a mail app that can sign in with the provider (OAuth2) instead of a password.".into(),
        }
    } else if wants_oauth {
        "This server takes no OAuth2 token: log in with the password (or app password) instead."
            .into()
    } else {
        "Ask the provider how mail apps should log in; the server may need to be set up to offer PLAIN or LOGIN inside TLS.".into()
    };
    let what = if wants_oauth {
        "an OAuth2 token"
    } else {
        "a password"
    };
    out.push(finding(
        Severity::Error,
        FindingCode::AuthUnsupported,
        Some(&p.url),
        format!("The server offers {offered}, none of which can log in with {what}."),
        fix,
    ));
}

/// The finding for a probe that stopped with `e` at `url`.
pub(crate) fn error_finding(ctx: &Context, url: &ServerUrl, e: &ProbeError) -> Finding {
    let message = match e {
        ProbeError::Refused { .. }
        | ProbeError::ConnectTimedOut { .. }
        | ProbeError::Unreachable { .. } => {
            let kind = match e {
                ProbeError::Refused { .. } => {
                    "refused (nothing listens on that port, or a firewall rejects it)"
                }
                ProbeError::ConnectTimedOut { .. } => {
                    "timed out (no answer at all: a firewall is dropping it)"
                }
                _ => "impossible (no route to the server)",
            };
            format!(
                "The connection to {} port {} was {kind}.",
                url.host, url.port
            )
        }
        other => {
            let mut s = capitalise(&other.to_string());
            s.push('.');
            s
        }
    };
    let severity = Severity::Error;
    finding(
        severity,
        e.code(),
        Some(url),
        message,
        fixes::for_error(e, url, ctx),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::EmailAddress;
    use crate::probe::wire::sasl::SecretKind;
    use crate::provider::ProviderTable;
    use crate::settings::{Settings, Source};

    struct Case {
        email: EmailAddress,
        discovered: Option<Settings>,
        secret: Option<SecretKind>,
        offline: bool,
    }

    impl Case {
        fn new(email: &str) -> Case {
            let email: EmailAddress = email.parse().unwrap();
            let discovered = ProviderTable::builtin()
                .by_domain(email.domain())
                .map(|p| p.settings_for(&email, Source::ProviderDb));
            Case {
                email,
                discovered,
                secret: None,
                offline: false,
            }
        }

        fn run(&self, planned: &[(Planned, ServerReport)]) -> Vec<Finding> {
            let ctx = Context {
                email: &self.email,
                provider: ProviderTable::builtin().by_domain(self.email.domain()),
                discovered: self.discovered.as_ref(),
                secret: self.secret,
                offline: self.offline,
            };
            let plan: Vec<Planned> = planned.iter().map(|(p, _)| p.clone()).collect();
            let servers: Vec<ServerCheck> = planned
                .iter()
                .map(|(p, r)| ServerCheck {
                    role: p.role,
                    probed: !self.offline,
                    username: p.username.clone(),
                    instead_of: None,
                    report: r.clone(),
                })
                .collect();
            diagnose(&ctx, &plan, &servers)
        }
    }

    fn planned(url: &str, auth: &[AuthMethod], given: bool) -> Planned {
        let url: ServerUrl = url.parse().unwrap();
        Planned {
            role: if url.protocol.is_incoming() {
                Role::Incoming
            } else {
                Role::Outgoing
            },
            url,
            username: "u@example.test".into(),
            auth: auth.to_vec(),
            given,
        }
    }

    fn working(p: &Planned) -> ServerReport {
        let mut r = ServerReport::new(p.url.clone());
        r.reachable = true;
        r.password_login_offered = true;
        r.auth_mechanisms = vec!["PLAIN".into()];
        r
    }

    fn codes(f: &[Finding]) -> Vec<&str> {
        f.iter().map(|f| f.code.as_str()).collect()
    }

    #[test]
    fn a_working_server_has_no_findings() {
        let p = planned("imaps://imap.example.test", &[AuthMethod::Password], false);
        let r = working(&p);
        assert!(Case::new("u@example.test").run(&[(p, r)]).is_empty());
    }

    #[test]
    fn a_refused_password_on_an_oauth_provider_keeps_the_proved_finding() {
        let mut case = Case::new("someone@msn.com");
        case.secret = Some(SecretKind::Password);
        let p = planned("imaps://imap.example.test", &[AuthMethod::Password], true);
        let mut r = working(&p);
        r.login = LoginStatus::Failed;
        let f = case.run(&[(p, r)]);
        let oauth: Vec<_> = f
            .iter()
            .filter(|f| f.code == FindingCode::OauthRequired)
            .collect();
        assert_eq!(oauth.len(), 1);
        assert_eq!(
            oauth[0].server.as_deref(),
            Some("imaps://imap.example.test:993")
        );
        assert!(codes(&f).contains(&"auth-failed"));
        assert!(codes(&f).contains(&"settings-differ"));
        // Errors come first.
        assert_eq!(f[0].severity, Severity::Error);
    }

    #[test]
    fn a_token_silences_the_tables_oauth_finding() {
        let mut case = Case::new("someone@msn.com");
        let d = case.discovered.clone().unwrap();
        let p = planned(
            &d.incoming[0].url().to_string(),
            &[AuthMethod::Oauth2],
            false,
        );
        let mut r = working(&p);
        r.oauth_offered = true;
        assert_eq!(
            codes(&case.run(&[(p.clone(), r.clone())])),
            ["oauth-required"]
        );
        case.secret = Some(SecretKind::OauthToken);
        r.login = LoginStatus::Ok;
        assert!(case.run(&[(p, r)]).is_empty());
    }

    #[test]
    fn settings_differ_is_info_for_an_alternative_and_a_warning_otherwise() {
        let case = Case::new("max@gmx.de");
        let d = case.discovered.clone().unwrap();
        let alt = d.incoming[1].url().to_string();
        let p = planned(&alt, &[AuthMethod::Password], true);
        let r = working(&p);
        let f = case.run(&[(p, r)]);
        assert_eq!(
            (f[0].code, f[0].severity),
            (FindingCode::SettingsDiffer, Severity::Info)
        );
        let p = planned("imaps://mail.elsewhere.test", &[AuthMethod::Password], true);
        let r = working(&p);
        let f = case.run(&[(p, r)]);
        assert_eq!(f[0].severity, Severity::Warning);
        assert!(f[0].fix.contains(&d.incoming[0].url().to_string()));
    }

    #[test]
    fn security_none_is_plaintext_auth_even_offline_and_without_a_secret() {
        let mut case = Case::new("u@example.test");
        case.offline = true;
        let p = planned(
            "imap://h.example.test?security=none",
            &[AuthMethod::Password],
            true,
        );
        let r = ServerReport::new(p.url.clone());
        let f = case.run(&[(p, r)]);
        assert_eq!(codes(&f), ["plaintext-auth"]);
        assert!(!f[0].message.contains("not sent"));
    }

    #[test]
    fn offline_runs_no_probe_rules() {
        let mut case = Case::new("u@example.test");
        case.offline = true;
        let p = planned("imaps://h.example.test", &[AuthMethod::Password], true);
        // An empty report would mean "offers nothing" if probe rules ran.
        let r = ServerReport::new(p.url.clone());
        assert!(case.run(&[(p, r)]).is_empty());
    }

    #[test]
    fn without_a_secret_the_expected_methods_are_judged() {
        let case = Case::new("u@example.test");
        let p = planned("imaps://h.example.test", &[AuthMethod::Password], true);
        let mut r = working(&p);
        r.password_login_offered = false;
        r.oauth_offered = true;
        r.auth_mechanisms = vec!["XOAUTH2".into()];
        let f = case.run(&[(p.clone(), r.clone())]);
        assert_eq!(codes(&f), ["auth-unsupported"]);
        assert!(f[0].message.contains("XOAUTH2"));
        // Settings that expect OAuth2 are fine with it.
        let p = planned("imaps://h.example.test", &[AuthMethod::Oauth2], true);
        assert!(case.run(&[(p, r)]).is_empty());
    }

    #[test]
    fn a_certificate_ending_within_30_days_is_a_warning_with_its_date() {
        let url: ServerUrl = "imaps://h.example.test".parse().unwrap();
        let mut r = ServerReport::new(url.clone());
        let now = 1_800_000_000;
        let mut tls = crate::probe::TlsReport {
            cert_valid: true,
            ..Default::default()
        };
        let run = |tls: &crate::probe::TlsReport, r: &mut ServerReport| {
            r.tls = Some(tls.clone());
            let mut out = Vec::new();
            cert_expiring(&url, r, now, &mut out);
            out
        };
        tls.not_after_unix = Some(now + 10 * 86_400 + 5);
        let f = run(&tls, &mut r);
        assert_eq!(f.len(), 1);
        assert_eq!(
            (f[0].code, f[0].severity),
            (FindingCode::CertExpiring, Severity::Warning)
        );
        let date = crate::probe::rfc3339(now + 10 * 86_400 + 5);
        assert!(f[0].message.contains(&date[..10]), "{}", f[0].message);
        assert!(f[0].message.contains("in 10 days"), "{}", f[0].message);
        // 31 days: nothing; an invalid certificate is another finding.
        tls.not_after_unix = Some(now + 31 * 86_400);
        assert!(run(&tls, &mut r).is_empty());
        tls.not_after_unix = Some(now + 86_400);
        tls.cert_valid = false;
        assert!(run(&tls, &mut r).is_empty());
    }

    #[test]
    fn a_probe_error_is_one_finding_and_stops_the_other_probe_rules() {
        let case = Case::new("u@example.test");
        let p = planned("imaps://h.example.test", &[AuthMethod::Password], true);
        let mut r = ServerReport::new(p.url.clone());
        r.error = Some(ProbeError::Preauth);
        let f = case.run(&[(p, r)]);
        assert_eq!(codes(&f), ["preauth"]);
        assert!(f[0].fix.contains("imaps://h.example.test:993"));
    }
}
