//! The command line of a plain `lookup`, read without clap.
//!
//! `mailsetup lookup --offline someone@msn.com` answers from the built-in
//! table in well under a millisecond, and clap would spend more than that
//! answer again on building the definition of every command and flag
//! (mostly the first use of its code and memory in a fresh process). So the
//! most common shapes of a lookup are recognised here first: the word
//! `lookup`, the flags that take no value, and one address, in any order.
//! Anything else (a flag with a value, a flag given twice, `--help`, `--`,
//! an argument starting with `-`, text that is not UTF-8) is left to clap,
//! which defines, explains and rejects the command line as always. What is
//! recognised here is exactly what clap would make of it: a test compares
//! the two on every shape this accepts.

use std::ffi::OsString;

use super::args::{Cli, Command, Global, LookupArgs};

/// The parsed command line, when `args` (without the program name) is a
/// plain `lookup`; `None` means "ask clap".
pub fn parse<I: IntoIterator<Item = OsString>>(args: I) -> Option<Cli> {
    let mut args = args.into_iter();
    if args.next()? != "lookup" {
        return None;
    }
    let mut flags = Flags::default();
    let mut email = None;
    for arg in args {
        let arg = arg.into_string().ok()?;
        let flag = match arg.as_str() {
            "--json" => &mut flags.json,
            "--verbose" | "-v" => &mut flags.verbose,
            "--offline" => &mut flags.offline,
            "--no-typo-check" => &mut flags.no_typo_check,
            "--verify" => &mut flags.verify,
            // Any other flag, `-` and `--`: clap's.
            _ if arg.is_empty() || arg.starts_with('-') => return None,
            _ if email.is_some() => return None,
            _ => {
                email = Some(arg);
                continue;
            }
        };
        // clap refuses a flag given twice.
        if std::mem::replace(flag, true) {
            return None;
        }
    }
    Some(Cli {
        global: Global {
            json: flags.json,
            verbose: flags.verbose,
            dns: None,
            ca_file: None,
            trust_anchor: None,
            // The default of --timeout (args.rs); the tests compare.
            timeout: std::time::Duration::from_secs(15),
            ispdb_url: mailsetup::lookup::DEFAULT_ISPDB_URL.to_string(),
            offline: flags.offline,
            no_typo_check: flags.no_typo_check,
        },
        command: Command::Lookup(LookupArgs {
            email: email?,
            verify: flags.verify,
        }),
    })
}

#[derive(Default)]
struct Flags {
    json: bool,
    verbose: bool,
    offline: bool,
    no_typo_check: bool,
    verify: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use proptest::prelude::*;

    /// What clap makes of `args`: the parsed command line, or its error.
    fn clap(args: &[&str]) -> String {
        match Cli::try_parse_from(std::iter::once("mailsetup").chain(args.iter().copied())) {
            Ok(cli) => format!("{cli:?}"),
            Err(e) => format!("error: {}", e.kind()),
        }
    }

    fn quick(args: &[&str]) -> Option<String> {
        parse(args.iter().map(OsString::from)).map(|cli| format!("{cli:?}"))
    }

    /// Every command line the quick path accepts, clap parses the same way.
    fn agrees(args: &[&str]) {
        if let Some(q) = quick(args) {
            assert_eq!(q, clap(args), "command line {args:?}");
        }
    }

    #[test]
    fn plain_lookups_are_read_as_clap_reads_them() {
        let shapes: &[&[&str]] = &[
            &["lookup", "someone@msn.com"],
            &["lookup", "--offline", "someone@msn.com"],
            &["lookup", "someone@msn.com", "--offline"],
            &["lookup", "--json", "--offline", "someone@msn.com"],
            &["lookup", "-v", "someone@msn.com", "--verify"],
            &["lookup", "--verbose", "--no-typo-check", "a@gmial.com"],
            &["lookup", "not an address"],
            &["lookup", "ü@bücher.example", "--json"],
        ];
        for args in shapes {
            assert!(quick(args).is_some(), "{args:?} is a plain lookup");
            agrees(args);
        }
    }

    #[test]
    fn everything_else_is_left_to_clap() {
        let shapes: &[&[&str]] = &[
            &[],
            &["lookup"],
            &["--offline", "lookup", "someone@msn.com"],
            &["check", "someone@msn.com"],
            &["lookup", "a@msn.com", "b@msn.com"],
            &["lookup", "--offline", "--offline", "a@msn.com"],
            &["lookup", "-v", "--verbose", "a@msn.com"],
            &["lookup", "--help"],
            &["lookup", "-h"],
            &["lookup", "--version"],
            &["lookup", "--", "a@msn.com"],
            &["lookup", "-", "a@msn.com"],
            &["lookup", ""],
            &["lookup", "--timeout", "3", "a@msn.com"],
            &["lookup", "--timeout=3", "a@msn.com"],
            &["lookup", "--json=true", "a@msn.com"],
            &["lookup", "-vv", "a@msn.com"],
            &["lookup", "--dns", "127.0.0.1", "a@msn.com"],
            &["lookup", "--bogus", "a@msn.com"],
            &["look", "a@msn.com"],
        ];
        for args in shapes {
            assert_eq!(quick(args), None, "{args:?} is for clap");
        }
    }

    #[cfg(unix)]
    #[test]
    fn text_that_is_not_utf8_is_left_to_clap() {
        use std::os::unix::ffi::OsStringExt;
        let args = [
            OsString::from("lookup"),
            OsString::from_vec(b"a@\xffmsn.com".to_vec()),
        ];
        assert!(parse(args).is_none());
    }

    proptest! {
        /// Any order and mix of the words a lookup is made of, and some
        /// that are not: whatever the quick path accepts, clap reads alike.
        #[test]
        fn any_mix_agrees_with_clap(
            words in proptest::collection::vec(
                prop_oneof![
                    Just("--json"), Just("--verbose"), Just("-v"), Just("--offline"),
                    Just("--no-typo-check"), Just("--verify"), Just("someone@msn.com"),
                    Just("x"), Just("-"), Just("--"), Just("--help"), Just("--timeout"),
                    Just("5"), Just("lookup"), Just("check"), Just("-vj"),
                ],
                0..7,
            ),
            lookup_first in any::<bool>(),
        ) {
            let mut args: Vec<&str> = Vec::new();
            if lookup_first {
                args.push("lookup");
            }
            args.extend(words);
            agrees(&args);
        }
    }
}
