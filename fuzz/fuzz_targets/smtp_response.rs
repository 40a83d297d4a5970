//! SMTP reply lines, assembled into replies as the probe does, and the
//! EHLO capabilities read from them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailsetup::probe::wire::smtp;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut builder = smtp::ReplyBuilder::default();
    for line in text.split('\n') {
        let line = line.trim_end_matches('\r');
        let _ = smtp::parse_line(line);
        match builder.push(line) {
            Ok(Some(reply)) => {
                let caps = smtp::capabilities(&reply);
                let _ = (caps.offers("LOGIN"), reply.text(), reply.is_positive());
                builder = smtp::ReplyBuilder::default();
            }
            Ok(None) => {}
            Err(_) => builder = smtp::ReplyBuilder::default(),
        }
    }
});
