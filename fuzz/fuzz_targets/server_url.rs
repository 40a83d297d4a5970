//! Server URLs (`imaps://host:993`) from the command line and the serve
//! configuration: any that parses prints and re-parses to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailsetup::settings::ServerUrl;

fuzz_target!(|input: &str| {
    let Ok(url) = input.parse::<ServerUrl>() else {
        return;
    };
    let shown = url.to_string();
    let again: ServerUrl = shown
        .parse()
        .unwrap_or_else(|e| panic!("{input:?} printed as {shown:?}, which fails: {e}"));
    assert_eq!(again, url, "{input:?} -> {shown:?}");
});
