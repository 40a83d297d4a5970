//! `mailsetup lookup EMAIL`: wiring only.

use std::io::Write;

use mailsetup::address::EmailAddress;
use mailsetup::lookup::{self, LookupError};
use mailsetup::output::human;

use super::args::{Global, LookupArgs};
use super::{Fatal, Outcome};

/// Runs `lookup`.
pub fn run(a: LookupArgs, g: &Global) -> Result<Outcome, Fatal> {
    let email: EmailAddress = a.email.parse()?;
    let mut opts = g.options();
    opts.verify = a.verify;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let result = rt.block_on(lookup::lookup(&email, &opts));
    let mut stdout = std::io::stdout().lock();
    match result {
        Ok(found) => {
            if g.verbose {
                eprint!("{}", human::tried(&found.tried));
            }
            if g.json {
                serde_json::to_writer_pretty(&mut stdout, &found)?;
                writeln!(stdout)?;
            } else {
                stdout.write_all(human::lookup(&found).as_bytes())?;
            }
            Ok(Outcome::Success)
        }
        Err(e) => {
            if g.json {
                let doc = serde_json::json!({
                    "email": email.to_string(),
                    "error": e.to_string(),
                    "tried": e.tried(),
                });
                serde_json::to_writer_pretty(&mut stdout, &doc)?;
                writeln!(stdout)?;
            }
            if g.verbose || matches!(e, LookupError::NotFound { .. }) {
                eprint!("{}", human::tried(e.tried()));
            }
            eprintln!("mailsetup: {e}");
            Ok(Outcome::Negative)
        }
    }
}
