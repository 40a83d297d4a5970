//! The command line: flag definitions and the thin wiring from flags to the
//! library. Every flag is defined once, here, with its help text beside it;
//! `mailsetup generate man` and `mailsetup generate <shell>` render the same
//! definitions as a man page and shell completions.
//!
//! Exit status, decided in one place ([`crate::main`]): 0 success, 1 a
//! negative answer (nothing found, an error finding), 2 a usage or internal
//! error. A closed pipe is not an error.

pub mod args;
pub mod check;
pub mod generate;
pub mod lookup;
pub mod profile;
pub mod scan;
pub mod serve;

use std::process::ExitCode;

pub use args::{Cli, Command};

/// What a command reports back to `main`.
pub enum Outcome {
    /// Exit status 0.
    Success,
    /// Exit status 1: a negative answer, already explained on stderr.
    Negative,
}

/// A failure that ends the program with status 2 and one line on stderr.
#[derive(Debug)]
pub struct Fatal(pub String);

impl<E: std::fmt::Display> From<E> for Fatal {
    fn from(e: E) -> Self {
        Fatal(e.to_string())
    }
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<Outcome, Fatal> {
    match cli.command {
        Command::Lookup(a) => lookup::run(a, &cli.global),
        Command::Check(a) => check::run(a, &cli.global),
        Command::Profile(a) => profile::run(a, &cli.global),
        Command::Serve(a) => serve::run(a, &cli.global),
        Command::Scan(a) => scan::run(a, &cli.global),
        Command::Generate(a) => generate::run(a),
    }
}

/// Maps an outcome to the process's exit status.
pub fn exit_code(r: &Result<Outcome, Fatal>) -> ExitCode {
    match r {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Negative) => ExitCode::from(1),
        Err(_) => ExitCode::from(2),
    }
}
