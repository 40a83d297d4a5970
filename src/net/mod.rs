//! Network plumbing shared by discovery, probes and the server: the TLS
//! trust store and client configuration, the DNS resolver and the HTTPS
//! client, the policy of where discovery may connect, and the limit of
//! connections per host. Protocol logic
//! lives elsewhere.

pub mod dns;
pub mod http;
pub mod limit;
pub mod policy;
pub mod tls;
