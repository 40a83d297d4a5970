//! What the server answers when it cannot do what was asked.
//!
//! Handlers return [`AppError`]; it becomes a response with a status that
//! says whose fault it is (4xx: the request; 5xx: ours) and a message that
//! says what to do. Internal failures are logged with their details and
//! answered with a generic sentence, so nothing internal (paths, key
//! material, stack traces) reaches a client. [`ApiError`] gives the same
//! errors as JSON for `/api/v1/...`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::address::AddressError;
use crate::lookup::LookupError;

/// A request the server cannot answer as asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// The request is missing something or is malformed (400).
    #[error("{0}")]
    BadRequest(String),
    /// The address is not an email address (400).
    #[error("{0}")]
    Address(#[from] AddressError),
    /// The domain is not served here, or nothing was found for it (404).
    #[error("{0}")]
    NotFound(String),
    /// The request was understood but cannot be answered with what was asked
    /// for, e.g. a password profile for an OAuth-only provider (422).
    #[error("{0}")]
    Unprocessable(String),
    /// The body is not of a type this endpoint reads (415).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The body is larger than the endpoint accepts (413).
    #[error("the request body is larger than {0} bytes")]
    TooLarge(usize),
    /// The client asked too often (429).
    #[error("too many requests from your address: try again in {0} seconds")]
    RateLimited(u64),
    /// Too many discoveries are running at once (503); retry after this
    /// many seconds.
    #[error("the server is busy looking up other domains: try again in {0} seconds")]
    Busy(u64),
    /// The server's own name server did not answer, so nothing could be
    /// looked up (503); the detail is logged, never shown.
    #[error(
        "the server cannot look up mail domains right now (its DNS does not answer): try again in a few minutes"
    )]
    DnsDown(String),
    /// Our own failure (500); the detail is logged, never shown.
    #[error("something went wrong on the server; the operator can find the details in its log")]
    Internal(String),
}

/// How long a client told that the service's DNS does not answer is asked
/// to wait ("a few minutes" in the message).
pub const DNS_RETRY_AFTER_SECS: u64 = 120;

impl AppError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) | AppError::Address(_) => StatusCode::BAD_REQUEST,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::Busy(_) | AppError::DnsDown(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message for the client.
    pub fn message(&self) -> String {
        match self {
            AppError::Address(e) => format!("not a usable email address: {e}"),
            other => other.to_string(),
        }
    }

    /// Logs internal failures; call once when turning into a response.
    fn log(&self) {
        match self {
            AppError::Internal(detail) => tracing::error!(%detail, "internal error"),
            AppError::DnsDown(detail) => tracing::error!(%detail, "DNS does not answer"),
            _ => {}
        }
    }

    /// Headers every error response carries.
    fn decorate(&self, mut r: Response) -> Response {
        let retry_after = match self {
            AppError::RateLimited(secs) | AppError::Busy(secs) => Some(*secs),
            AppError::DnsDown(_) => Some(DNS_RETRY_AFTER_SECS),
            _ => None,
        };
        if let Some(secs) = retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        r
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        self.log();
        let r = (self.status(), format!("{}\n", self.message())).into_response();
        self.decorate(r)
    }
}

impl From<LookupError> for AppError {
    /// Nothing found is the request's answer (404), said for people who
    /// use a mail app rather than for the command line; discovery that
    /// could not start is our misconfiguration (500): its detail is logged,
    /// not shown.
    fn from(e: LookupError) -> Self {
        match e {
            LookupError::NotFound { domain, tried, .. }
                if crate::lookup::dns_unanswered(&tried) =>
            {
                AppError::DnsDown(format!(
                    "no name server answered while looking up {domain}: check the name server the service uses (/etc/resolv.conf, or --dns)"
                ))
            }
            LookupError::NotFound { domain, .. } => AppError::NotFound(format!(
                "no mail settings found for {domain}: none of the usual places (the domain's own configuration file, Autodiscover, DNS) answered; check the spelling of the address, or ask your mail provider for its incoming (IMAP) and outgoing (SMTP) server names"
            )),
            LookupError::NotBuiltIn { domain, .. } => AppError::NotFound(format!(
                "{domain} is not served here: this server answers only for the domains it knows; ask your mail provider for its incoming (IMAP) and outgoing (SMTP) server names"
            )),
            LookupError::DidYouMean {
                domain, suggestion, ..
            } => AppError::NotFound(format!(
                "did you mean {suggestion}? {domain} is one or two letters away from {suggestion}, a well-known mail provider, so no settings are offered for it: check the address"
            )),
            LookupError::Setup(detail) => {
                AppError::Internal(format!("discovery could not start: {detail}"))
            }
        }
    }
}

/// An [`AppError`] answered as `{"error": "..."}`.
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl<E: Into<AppError>> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        e.log();
        let body = serde_json::json!({ "error": e.message() });
        let r = (e.status(), axum::Json(body)).into_response();
        e.decorate(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_errors_say_whose_fault_it_is_in_words_for_people() {
        let not_found = AppError::from(LookupError::NotFound {
            domain: "example.org".into(),
            tried: Vec::new(),
            connections: 0,
        });
        assert_eq!(not_found.status(), StatusCode::NOT_FOUND);
        let m = not_found.message();
        assert!(
            m.contains("example.org") && m.contains("mail provider"),
            "{m}"
        );
        assert!(!m.contains("--"), "no command-line flags in {m}");
        let offline = AppError::from(LookupError::NotBuiltIn {
            domain: "example.org".into(),
            tried: Vec::new(),
        });
        assert_eq!(offline.status(), StatusCode::NOT_FOUND);
        assert!(
            !offline.message().contains("--offline"),
            "{}",
            offline.message()
        );
        let setup = AppError::from(LookupError::Setup(
            "cannot read /etc/secret-ca.pem: permission denied".into(),
        ));
        assert_eq!(setup.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(
            !setup.message().contains("secret-ca"),
            "{}",
            setup.message()
        );
        assert!(matches!(&setup, AppError::Internal(d) if d.contains("secret-ca")));
    }

    #[test]
    fn a_dns_outage_is_the_servers_trouble_not_the_visitors_typo() {
        let problem = crate::probe::ProbeError::DnsFailed {
            host: "imap.example.org".into(),
            detail: "SERVFAIL".into(),
        };
        let e = AppError::from(LookupError::NotFound {
            domain: "example.org".into(),
            tried: vec![crate::lookup::Tried {
                source: crate::settings::Source::Guess,
                url: "imaps://imap.example.org:993".into(),
                result: crate::lookup::TryResult::Error,
                ms: 0,
                detail: None,
                problem: Some(problem),
            }],
            connections: 0,
        });
        assert_eq!(e.status(), StatusCode::SERVICE_UNAVAILABLE);
        let m = e.message();
        assert!(m.contains("DNS") && m.contains("try again"), "{m}");
        // The detail (for the log) names the fix; the visitor sees neither
        // it nor a command-line flag.
        assert!(!m.contains("resolv.conf") && !m.contains("--"), "{m}");
    }

    #[test]
    fn statuses_say_whose_fault_it_is() {
        let bad: AddressError = crate::address::EmailAddress::parse("x").unwrap_err();
        assert_eq!(AppError::from(bad).status(), StatusCode::BAD_REQUEST);
        assert_eq!(AppError::TooLarge(1).status().as_u16(), 413);
        assert_eq!(AppError::RateLimited(3).status().as_u16(), 429);
        assert!(AppError::Internal("x".into()).status().is_server_error());
    }

    #[test]
    fn internal_details_are_not_shown() {
        let e = AppError::Internal("/etc/secret/key.pem: permission denied".into());
        assert!(!e.message().contains("key.pem"));
        let r = e.into_response();
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn rate_limited_answers_carry_retry_after() {
        let r = ApiError(AppError::RateLimited(7)).into_response();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()[header::RETRY_AFTER], "7");
        let r = AppError::Busy(5).into_response();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()[header::RETRY_AFTER], "5");
    }

    #[test]
    fn address_errors_say_what_to_fix() {
        let e = AppError::from(crate::address::EmailAddress::parse("a.b").unwrap_err());
        assert!(e.message().contains("has no @"), "{}", e.message());
    }
}
