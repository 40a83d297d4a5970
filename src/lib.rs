//! mailsetup: gets people's email working.
//!
//! The library behind the `mailsetup` command and its HTTP service. Data
//! flows one way:
//!
//! 1. **input** — [`address`] parses what the user typed; [`settings`] is the
//!    model every other module speaks.
//! 2. **discovery** — [`lookup`] asks the built-in [`provider`] table, then
//!    the network sources ([`discover`], over [`net`]); [`autoconfig`] reads
//!    Thunderbird's XML format.
//! 3. **output** — [`output`] renders results for people and programs;
//!    [`profile`] writes what a mail client installs, signed by [`sign`].
//!
//! Beside that flow, [`audit`] checks what a whole domain publishes for
//! mail clients (`check DOMAIN`), and [`scan`] runs lookups or audits for a
//! file of addresses and domains.
//!
//! The CLI (`src/main.rs`, `src/cli/`) and the server only wire these
//! together; neither holds logic of its own.
//!
//! ```
//! use mailsetup::{address::EmailAddress, lookup};
//! let email: EmailAddress = "someone@msn.com".parse().unwrap();
//! let found = lookup::lookup_builtin(&email).unwrap();
//! assert_eq!(found.settings.incoming[0].host, "outlook.office365.com");
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod address;
pub mod apple;
pub mod audit;
pub mod autoconfig;
pub mod autodiscover;
pub mod dav;
pub mod diagnose;
pub mod discover;
pub mod finding;
pub mod lookup;
pub mod net;
pub mod output;
pub mod probe;
pub mod profile;
pub mod provider;
pub mod scan;
pub mod server;
pub mod settings;
pub mod text;
pub mod typo;
pub mod xml_text;

pub use apple::sign;
