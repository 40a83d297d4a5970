//! Network plumbing shared by discovery, probes and the server: the TLS
//! trust store and client configuration, the DNS resolver and the HTTPS
//! client. Protocol logic lives elsewhere.

pub mod dns;
pub mod http;
pub mod tls;
