//! IMAP server lines as the probe reads them, one per input line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailsetup::probe::wire::imap;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for line in text.split('\n') {
        let line = line.trim_end_matches('\r');
        let _ = imap::parse_greeting(line);
        if let Ok(r) = imap::parse_response(line) {
            let _ = format!("{r:?}");
        }
        if let Some(tokens) = imap::capability_tokens(line) {
            let caps = imap::capabilities(tokens);
            let _ = caps.offers("PLAIN");
        }
        let _ = imap::response_code(line);
        let _ = imap::referral(line);
        let _ = imap::quoted(line);
        let _ = mailsetup::probe::wire::clean(line, 300);
    }
});
