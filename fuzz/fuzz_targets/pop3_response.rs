//! POP3 server lines as the probe reads them: greeting, replies and a CAPA
//! listing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailsetup::probe::wire::pop3;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lines: Vec<&str> = text.split('\n').map(|l| l.trim_end_matches('\r')).collect();
    for line in &lines {
        let _ = pop3::parse_greeting(line);
        let _ = pop3::parse_reply(line);
        let _ = pop3::parse_list_line(line);
    }
    let caps = pop3::capabilities(lines.iter().copied());
    let _ = caps.offers("PLAIN");
});
