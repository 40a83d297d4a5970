//! Network plumbing shared by discovery, probes and the server: the TLS
//! trust store and client configuration. Protocol logic lives elsewhere.

pub mod tls;
