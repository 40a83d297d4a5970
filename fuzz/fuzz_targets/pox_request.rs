//! The body of a POST to `serve`'s Autodiscover endpoint: anyone on the
//! internet can send it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = mailsetup::server::pox::parse_request(data);
});
