//! An Autodiscover POX response as a discovering client reads it, and its
//! conversion to settings.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailsetup::address::EmailAddress;
use mailsetup::settings::Trust;

fuzz_target!(|data: &[u8]| {
    let Ok(response) = mailsetup::discover::pox::parse(data) else {
        return;
    };
    let email: EmailAddress = "someone@example.com".parse().unwrap();
    let _ = format!("{response:?}");
    if let mailsetup::discover::pox::PoxResponse::Settings(protocols) = &response {
        let _ = mailsetup::discover::pox::to_settings(protocols, &email, Trust::Unverified);
    }
});
