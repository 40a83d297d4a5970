//! The router: every endpoint, and the layers around them.
//!
//! [`app`] builds the whole service from an [`AppState`], so tests can
//! drive it with `tower::ServiceExt::oneshot` as well as over a socket.
//! Layers, outermost first: case-insensitive Autodiscover paths, the
//! metrics and request log (one INFO line per request: route pattern, status,
//! bytes, time and the client's masked address, never the query, so no
//! email address; see [`super::accesslog`]), request deadline (408),
//! security headers, body size limit. `/metrics` is served here only when
//! the configuration gives it no listener of its own (`metrics_listen`). The
//! per-client limit on discovery is not a layer: only a request that
//! starts a network discovery is charged, so [`super::resolve::Resolver`]
//! applies it.

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;

use super::accesslog;
use super::handlers::{api, apple, autoconfig, autodiscover, ops, page};
use super::metrics;
use super::state::AppState;
use crate::autodiscover::request::MAX_BODY;

/// The whole service: the router, behind the fold of Autodiscover's path
/// case. A plain synchronous wrapper, not another router, since it runs on
/// every request.
pub type App = tower::util::MapRequest<Router, fn(Request) -> Request>;

/// The whole service.
pub fn app(state: AppState) -> App {
    let mut routes = Router::new()
        .route("/mail/config-v1.1.xml", get(autoconfig::autoconfig))
        .route(
            "/.well-known/autoconfig/mail/config-v1.1.xml",
            get(autoconfig::autoconfig),
        )
        .route("/autodiscover/autodiscover.xml", post(autodiscover::pox))
        .route("/apple/mobileconfig", get(apple::mobileconfig))
        .route("/apple/steps", get(apple::steps))
        .route("/api/v1/lookup", get(api::lookup))
        .route("/", get(page::index))
        .route("/autodiscover/autodiscover.json", get(autodiscover::json))
        .route(
            "/autodiscover/autodiscover.json/v1.0/{email}",
            get(autodiscover::json_v1),
        )
        .route("/qr.svg", get(page::qr))
        .route("/static/style.css", get(page::style))
        .route("/static/app.js", get(page::script))
        .route("/static/logo", get(page::logo))
        .route("/healthz", get(ops::healthz));
    if state.serve_metrics {
        routes = routes.route(
            "/metrics",
            get(metrics::serve).with_state(state.metrics.clone()),
        );
    }
    let routes = routes
        .fallback(ops::not_found)
        // One composed layer: `Router::layer` boxes each layer it is given
        // around every route, and every request then pays a boxed clone per
        // layer. Outermost first.
        .layer(
            tower::ServiceBuilder::new()
                .layer(from_fn_with_state(state.clone(), accesslog::log))
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::REQUEST_TIMEOUT,
                    state.request_timeout,
                ))
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::REFERRER_POLICY,
                    HeaderValue::from_static("no-referrer"),
                ))
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ))
                .layer(DefaultBodyLimit::max(MAX_BODY)),
        )
        .with_state(state);
    // Routing happens inside `routes`, so the path is folded outside it.
    tower::util::MapRequest::new(routes, case_insensitive_paths as fn(Request) -> Request)
}

/// Outlook and its kin spell the Autodiscover path every way
/// (`/Autodiscover/Autodiscover.xml`, `/AutoDiscover/...`): fold its fixed
/// part to lower case before routing. The rest (an address in the v1.0
/// form) keeps its case.
fn case_insensitive_paths(mut req: Request) -> Request {
    const FIXED: [&str; 2] = [
        "/autodiscover/autodiscover.xml",
        "/autodiscover/autodiscover.json",
    ];
    let path = req.uri().path();
    let Some(prefix) = FIXED.iter().find(|f| {
        path.get(..f.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(f))
    }) else {
        return req;
    };
    if path.starts_with(prefix) {
        return req;
    }
    let rest = &path[prefix.len()..];
    let rest = match rest.get(..6) {
        Some(v) if v.eq_ignore_ascii_case("/v1.0/") => format!("/v1.0/{}", &rest[6..]),
        _ => rest.to_string(),
    };
    let new_path = match req.uri().query() {
        Some(q) => format!("{prefix}{rest}?{q}"),
        None => format!("{prefix}{rest}"),
    };
    let mut parts = req.uri().clone().into_parts();
    if let Ok(pq) = new_path.parse() {
        parts.path_and_query = Some(pq);
        if let Ok(uri) = Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
    }
    req
}

/// The router driven in memory with `oneshot`: no socket, no network
/// (discovery is offline; the domain is the operator's own).
#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    const TOML: &str = r#"
[[domain]]
name = "example.test"
incoming = [{ url = "imaps://imap.example.test", auth = ["password"] }]
outgoing = [{ url = "smtps://smtp.example.test", auth = ["password"] }]
"#;

    fn router() -> App {
        let config = super::super::config::parse(TOML, std::path::Path::new("mail.toml"))
            .expect("a valid configuration");
        let discover = super::super::resolve::network_discovery(
            crate::lookup::Options {
                offline: true,
                ..crate::lookup::Options::default()
            },
            &config.discovery,
        );
        app(AppState::new(&config, discover).expect("the state builds"))
    }

    async fn get(uri: &str) -> (StatusCode, String, String) {
        let r = router()
            .oneshot(
                Request::get(uri)
                    .header(header::HOST, "autoconfig.example.test")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        let status = r.status();
        let content_type = r
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let body = r.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            content_type,
            String::from_utf8(body.to_vec()).unwrap(),
        )
    }

    #[tokio::test]
    async fn every_address_endpoint_reads_the_address_the_same_way() {
        for (uri, want) in [
            (
                "/api/v1/lookup?email=jane@example.test",
                "imap.example.test",
            ),
            (
                "/api/v1/lookup?EMAILADDRESS=jane@example.test",
                "imap.example.test",
            ),
            (
                "/mail/config-v1.1.xml?emailaddress=jane@example.test",
                "imap.example.test",
            ),
            (
                "/apple/steps?emailaddress=jane@example.test",
                "imap.example.test",
            ),
            ("/apple/steps?Email=jane@example.test", "imap.example.test"),
            (
                "/apple/mobileconfig?emailaddress=jane@example.test",
                "imap.example.test",
            ),
        ] {
            let (status, _, body) = get(uri).await;
            assert_eq!(status, StatusCode::OK, "{uri}: {body}");
            assert!(body.contains(want), "{uri}: {body}");
            assert!(body.contains("jane@example.test"), "{uri}: {body}");
        }
    }

    #[tokio::test]
    async fn a_missing_or_bad_address_is_a_400_that_says_what_to_send() {
        for (uri, json, want) in [
            ("/api/v1/lookup", true, "add ?email=someone@example.com"),
            ("/api/v1/lookup?email=%20", true, "empty"),
            (
                "/api/v1/lookup?email=no-at-sign",
                true,
                "not a usable email address",
            ),
            (
                "/apple/mobileconfig",
                false,
                "add ?emailaddress=someone@example.com",
            ),
            (
                "/apple/steps?emailaddress=a@@b",
                false,
                "not a usable email address",
            ),
            ("/qr.svg", false, "add ?emailaddress="),
            ("/mail/config-v1.1.xml?emailaddress=", false, "empty"),
        ] {
            let (status, content_type, body) = get(uri).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
            assert_eq!(content_type.starts_with("application/json"), json, "{uri}");
            assert!(body.contains(want), "{uri}: {body}");
        }
    }

    #[tokio::test]
    async fn autoconfig_without_an_address_keeps_the_placeholders() {
        let (status, _, body) = get("/mail/config-v1.1.xml").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.contains("%EMAILADDRESS%"), "{body}");
    }

    #[tokio::test]
    async fn a_domain_not_served_here_is_a_404_in_words_for_people() {
        let (status, _, body) = get("/api/v1/lookup?email=a@elsewhere.test").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        assert!(!body.contains("--"), "no command-line flags: {body}");
    }
}
