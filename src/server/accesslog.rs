//! The request log: one INFO line per answered request, and the request
//! metrics (see [`super::metrics`]), counted in the same middleware.
//!
//! Each line has the method, the route's pattern (`/api/v1/lookup`, never
//! the path or query a client sent, so no email address reaches the log
//! this way), the status, the body's size in bytes, the time taken in
//! milliseconds and the client's address. The address is masked to its
//! network (`203.0.113.0/24`, `2001:db8:1234::/48`) unless the operator
//! sets `log_addresses = true`. The fields are structured, so
//! `--log-format json` gives each its own key:
//!
//! ```text
//! INFO request{method=GET route=/}: mailsetup::access: answered status=200 bytes=5120 ms=3 client=127.0.0.0/24
//! ```

use std::net::IpAddr;
use std::time::Instant;

use axum::body::HttpBody;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use super::state::AppState;

/// The log target of request lines, for `RUST_LOG=mailsetup::access=off`.
pub const TARGET: &str = "mailsetup::access";

/// Middleware: counts and times every request in the metrics under its
/// route pattern and, with request lines on, runs it inside a span naming
/// its route and logs one line when it is answered. One middleware rather
/// than two, since each layer costs every request a boxed call.
pub async fn log(State(state): State<AppState>, req: Request, next: Next) -> Response {
    // MatchedPath is a shared string: cloning it allocates nothing.
    let route = req.extensions().get::<MatchedPath>().cloned();
    let start = Instant::now();
    // With request lines off (RUST_LOG=warn, say) only the metrics are
    // kept.
    if !tracing::enabled!(target: TARGET, tracing::Level::INFO) {
        let response = next.run(req).await;
        count(&state, route.as_ref(), &response, start);
        return response;
    }
    let route_name = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    let method = req.method().clone();
    let (parts, body) = req.into_parts();
    let ip = state.origin.client_ip(&parts);
    let req = Request::from_parts(parts, body);
    let client = if state.log_addresses {
        ip.to_string()
    } else {
        masked(ip)
    };
    let span = tracing::info_span!("request", method = %method, route = %route_name);
    let response = next.run(req).instrument(span.clone()).await;
    count(&state, route.as_ref(), &response, start);
    let ms = start.elapsed().as_millis() as u64;
    let bytes = response.body().size_hint().exact();
    let status = response.status().as_u16();
    span.in_scope(|| match bytes {
        Some(bytes) => tracing::info!(target: TARGET, status, bytes, ms, %client, "answered"),
        None => tracing::info!(target: TARGET, status, bytes = "streamed", ms, %client, "answered"),
    });
    response
}

fn count(state: &AppState, route: Option<&MatchedPath>, response: &Response, start: Instant) {
    state.metrics.request(
        route.map_or("unmatched", MatchedPath::as_str),
        response.status(),
        start.elapsed().as_secs_f64(),
    );
}

/// The client's network instead of its address: the /24 of an IPv4
/// address, the /48 of an IPv6 one (an IPv4-mapped IPv6 address as IPv4).
pub fn masked(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => masked(IpAddr::V4(v4)),
            None => {
                let s = v6.segments();
                let net = std::net::Ipv6Addr::new(s[0], s[1], s[2], 0, 0, 0, 0, 0);
                format!("{net}/48")
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_masked_to_their_network() {
        assert_eq!(masked("203.0.113.77".parse().unwrap()), "203.0.113.0/24");
        assert_eq!(
            masked("2001:db8:1234:5678::9".parse().unwrap()),
            "2001:db8:1234::/48"
        );
        assert_eq!(
            masked("::ffff:198.51.100.9".parse().unwrap()),
            "198.51.100.0/24"
        );
    }
}
