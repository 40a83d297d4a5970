//! The `[discovery]` table: how far discovery run on behalf of visitors
//! may reach.
//!
//! ```toml
//! [discovery]
//! # Lift the public-address rule (a lab, an intranet). Ports and the
//! # budget per request stay.
//! allow_private_addresses = false
//! # Discoveries running at once; beyond it requests get 503 + Retry-After.
//! max_concurrent = 32
//! ```

use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use super::ConfigError;

/// How discovery started by the service may reach out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiscoveryConfig {
    /// Whether private, loopback and other non-public addresses may be
    /// dialled. Off by default: anyone can make the service look up any
    /// domain, and so aim it at any address that domain's DNS names.
    pub allow_private_addresses: bool,
    /// The most discoveries running at once.
    pub max_concurrent: u32,
}

/// How many discoveries run at once unless the configuration says.
pub const DEFAULT_MAX_CONCURRENT: u32 = 32;

impl Default for DiscoveryConfig {
    fn default() -> Self {
        DiscoveryConfig {
            allow_private_addresses: false,
            max_concurrent: DEFAULT_MAX_CONCURRENT,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileDiscovery {
    #[serde(default)]
    allow_private_addresses: bool,
    max_concurrent: Option<Spanned<u32>>,
}

pub(super) fn discovery(
    file: Option<&FileDiscovery>,
    at: &impl Fn(Range<usize>, String) -> ConfigError,
) -> Result<DiscoveryConfig, ConfigError> {
    let Some(f) = file else {
        return Ok(DiscoveryConfig::default());
    };
    let max_concurrent = match &f.max_concurrent {
        None => DEFAULT_MAX_CONCURRENT,
        Some(m) if !(1..=10_000).contains(m.get_ref()) => {
            return Err(at(
                m.span(),
                "discovery.max_concurrent must be between 1 and 10000".into(),
            ));
        }
        Some(m) => *m.get_ref(),
    };
    Ok(DiscoveryConfig {
        allow_private_addresses: f.allow_private_addresses,
        max_concurrent,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::parse;
    use super::*;

    #[test]
    fn private_addresses_are_refused_unless_the_file_allows_them() {
        let c = parse("", Path::new("mail.toml")).unwrap();
        assert_eq!(c.discovery, DiscoveryConfig::default());
        assert!(!c.discovery.allow_private_addresses);
        let c = parse(
            "[discovery]\nallow_private_addresses = true\nmax_concurrent = 4\n",
            Path::new("mail.toml"),
        )
        .unwrap();
        assert!(c.discovery.allow_private_addresses);
        assert_eq!(c.discovery.max_concurrent, 4);
    }

    #[test]
    fn bad_values_name_their_line() {
        let e = parse(
            "[discovery]\n\nmax_concurrent = 0\n",
            Path::new("mail.toml"),
        )
        .unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("between 1 and 10000"), "{e}");
        let e = parse(
            "[discovery]\nallow_private = true\n",
            Path::new("mail.toml"),
        )
        .unwrap_err();
        assert_eq!(e.line, 2);
    }
}
