//! The server's Prometheus metrics, served at `/metrics`.
//!
//! Three families, kept with the maintained `prometheus-client` crate and
//! encoded in the OpenMetrics text format:
//!
//! - `mailsetup_http_requests_total{endpoint,status}` — every answer;
//! - `mailsetup_http_request_duration_seconds{endpoint}` — latency;
//! - `mailsetup_discovery_sources_total{source,result}` — what each network
//!   discovery asked and what came of it (cache hits are not discoveries);
//! - `mailsetup_certificate_expiry_seconds{certificate}` — seconds until the
//!   TLS (`tls`) or profile-signing (`signing`) certificate expires,
//!   negative once it has; updated at load, on reload and daily.
//! - `mailsetup_connections_refused_total{reason}` — connections closed as
//!   soon as accepted because a cap was reached (`total`, `per-client`);
//! - `mailsetup_accept_errors_total` — failed accepts for want of file
//!   descriptors or memory (each is followed by a pause).
//!
//! `endpoint` is the route's pattern (`/api/v1/lookup`), never the path a
//! client sent, so the number of series stays bounded whatever is asked.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::lookup::Tried;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    endpoint: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CertificateLabels {
    certificate: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusedLabels {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DiscoveryLabels {
    source: String,
    result: String,
}

fn latency_histogram() -> Histogram {
    // 0.25 ms to about 4 s.
    Histogram::new(exponential_buckets(0.00025, 2.0, 15))
}

/// The metrics registry and its families.
pub struct Metrics {
    registry: Mutex<Registry>,
    requests: Family<RequestLabels, Counter>,
    latency: Family<EndpointLabels, Histogram, fn() -> Histogram>,
    discovery: Family<DiscoveryLabels, Counter>,
    expiry: Family<CertificateLabels, Gauge>,
    refused: Family<RefusedLabels, Counter>,
    accept_errors: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Empty metrics.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("mailsetup");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<EndpointLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        let discovery = Family::<DiscoveryLabels, Counter>::default();
        let expiry = Family::<CertificateLabels, Gauge>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by endpoint and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by endpoint",
            latency.clone(),
        );
        registry.register(
            "discovery_sources",
            "Sources asked by network discovery, by source and outcome",
            discovery.clone(),
        );
        registry.register(
            "certificate_expiry_seconds",
            "Seconds until the certificate expires (negative: expired), by use: tls or signing",
            expiry.clone(),
        );
        let refused = Family::<RefusedLabels, Counter>::default();
        registry.register(
            "connections_refused",
            "Connections closed as soon as accepted because a cap was reached, by cap",
            refused.clone(),
        );
        let accept_errors = Counter::default();
        registry.register(
            "accept_errors",
            "Connections not accepted for want of file descriptors or memory",
            accept_errors.clone(),
        );
        Metrics {
            registry: Mutex::new(registry),
            requests,
            latency,
            discovery,
            expiry,
            refused,
            accept_errors,
        }
    }

    /// Counts one answered request.
    pub fn request(&self, endpoint: &str, status: StatusCode, seconds: f64) {
        let endpoint = endpoint.to_string();
        self.requests
            .get_or_create(&RequestLabels {
                endpoint: endpoint.clone(),
                status: status.as_u16(),
            })
            .inc();
        self.latency
            .get_or_create(&EndpointLabels { endpoint })
            .observe(seconds);
    }

    /// Counts the sources one discovery asked.
    pub fn discovery(&self, tried: &[Tried]) {
        for t in tried {
            let result = serde_json::to_value(t.result)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_else(|| "unknown".into());
            self.discovery
                .get_or_create(&DiscoveryLabels {
                    source: t.source.to_string(),
                    result,
                })
                .inc();
        }
    }

    /// Sets the seconds until the `certificate` ("tls", "signing")
    /// expires; `None` removes it (no such certificate configured).
    pub fn certificate_expiry(&self, certificate: &str, seconds: Option<i64>) {
        let labels = CertificateLabels {
            certificate: certificate.to_string(),
        };
        match seconds {
            Some(s) => {
                self.expiry.get_or_create(&labels).set(s);
            }
            None => {
                self.expiry.remove(&labels);
            }
        }
    }

    /// Counts a connection closed at once because of `why`.
    pub fn connection_refused(&self, why: crate::server::conn::Refusal) {
        self.refused
            .get_or_create(&RefusedLabels {
                reason: why.as_str(),
            })
            .inc();
    }

    /// Counts an accept that failed for want of resources.
    pub fn accept_error(&self) {
        self.accept_errors.inc();
    }

    /// The OpenMetrics text of every family.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // A poisoned lock means a panic while encoding earlier; the registry
        // itself is still consistent, so keep serving it.
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &registry) {
            tracing::error!(error = %e, "encoding metrics");
        }
        out
    }
}

/// `GET /metrics`.
pub async fn serve(State(metrics): State<Arc<Metrics>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics.encode(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lookup::TryResult;
    use crate::settings::Source;

    #[test]
    fn requests_and_discoveries_are_counted() {
        let m = Metrics::new();
        m.request("/healthz", StatusCode::OK, 0.001);
        m.request("/healthz", StatusCode::OK, 0.002);
        m.request("/api/v1/lookup", StatusCode::BAD_REQUEST, 0.001);
        m.discovery(&[Tried {
            source: Source::Autoconfig,
            url: "https://autoconfig.example.org/".into(),
            result: TryResult::NotFound,
            ms: 3,
            detail: None,
            problem: None,
        }]);
        m.certificate_expiry("tls", Some(86_400));
        m.certificate_expiry("signing", Some(-5));
        m.certificate_expiry("signing", None);
        let text = m.encode();
        assert!(
            text.contains(r#"mailsetup_certificate_expiry_seconds{certificate="tls"} 86400"#),
            "{text}"
        );
        assert!(!text.contains(r#"certificate="signing""#), "{text}");
        assert!(
            text.contains(r#"mailsetup_http_requests_total{endpoint="/healthz",status="200"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(
                r#"mailsetup_http_requests_total{endpoint="/api/v1/lookup",status="400"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"mailsetup_http_request_duration_seconds_count{endpoint="/healthz"} 2"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"mailsetup_discovery_sources_total{source="autoconfig",result="not-found"} 1"#
            ),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"));
    }
}
