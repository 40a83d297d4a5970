//! The SASL exchange of the probes: a server's capabilities choose the
//! mechanism, the client's messages are built from arbitrary credentials
//! (and must decode back to them), and server challenges are decoded for
//! display.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use mailsetup::probe::wire::{imap, sasl};

#[derive(Arbitrary, Debug)]
struct Exchange<'a> {
    capabilities: &'a str,
    oauth: bool,
    command: bool,
    user: &'a str,
    secret: &'a str,
    host: &'a str,
    port: u16,
    challenges: Vec<&'a str>,
}

fuzz_target!(|x: Exchange<'_>| {
    let caps = imap::capabilities(x.capabilities.split(' '));
    let kind = if x.oauth {
        sasl::SecretKind::OauthToken
    } else {
        sasl::SecretKind::Password
    };
    if let Some(mechanism) = sasl::choose(&caps, kind, x.command) {
        let messages = sasl::messages(mechanism, x.user, x.secret, x.host, x.port);
        for m in &messages {
            // Every message is base64 that decodes.
            assert!(sasl::decode_challenge(&m.data).is_some() || m.data.len() > sasl::MAX_CHALLENGE);
        }
        if mechanism == sasl::Mechanism::Plain {
            assert_eq!(messages.len(), 1);
            assert_eq!(*messages[0].data, *sasl::plain(x.user, x.secret));
        }
    }
    for c in &x.challenges {
        if let Some(shown) = sasl::decode_challenge(c) {
            assert!(!shown.chars().any(char::is_control), "{shown:?}");
        }
    }
});
