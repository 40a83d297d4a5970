//! The operator's `serve --config` file: errors, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Err(e) = mailsetup::server::config::parse(text, std::path::Path::new("mail.toml")) {
        let _ = e.to_string();
    }
});
