//! Email addresses as typed: any address that parses prints and re-parses
//! to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailsetup::address::EmailAddress;

fuzz_target!(|input: &str| {
    let Ok(a) = EmailAddress::parse(input) else {
        return;
    };
    let shown = a.to_string();
    let again = EmailAddress::parse(&shown)
        .unwrap_or_else(|e| panic!("{input:?} printed as {shown:?}, which fails: {e}"));
    assert_eq!(again, a, "{input:?} -> {shown:?}");
    let ascii = EmailAddress::parse(&a.ascii())
        .unwrap_or_else(|e| panic!("{input:?} ascii {:?} fails: {e}", a.ascii()));
    assert_eq!(ascii.domain(), a.domain());
    let _ = a.expand("%EMAILLOCALPART%@%EMAILDOMAIN% %EMAILADDRESS%");
});
