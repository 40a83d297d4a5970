//! Thunderbird autoconfig XML, as fetched from a domain or the ISPDB: the
//! parser and the conversion to settings must not panic on any bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailsetup::address::EmailAddress;
use mailsetup::settings::{Source, Trust};

fuzz_target!(|data: &[u8]| {
    let Ok(config) = mailsetup::autoconfig::parse(data) else {
        return;
    };
    let email: EmailAddress = "someone@example.com".parse().unwrap();
    for p in &config.providers {
        let _ = p.to_settings(&email, &config, Source::Autoconfig, Trust::Verified);
    }
});
