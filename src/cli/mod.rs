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
pub mod quick;
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
///
/// It keeps the error it was made from, with that error's chain of causes,
/// so that `main` can tell a closed stdout (`| head`) from a real failure
/// by looking for [`std::io::ErrorKind::BrokenPipe`] anywhere in the chain.
#[derive(Debug)]
pub struct Fatal(Box<dyn std::error::Error + Send + Sync + 'static>);

impl Fatal {
    /// A failure that is only a message (usage mistakes found after
    /// parsing).
    pub fn msg(message: impl Into<String>) -> Fatal {
        Fatal(message.into().into())
    }

    /// A failure saying what was being done, caused by `source`; shown as
    /// `WHAT: SOURCE`.
    pub fn context(
        what: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Fatal {
        Fatal(Box::new(Context {
            what: what.into(),
            source: Box::new(source),
        }))
    }

    /// Whether the failure is a reader that went away: writing to a closed
    /// pipe, anywhere down the chain of causes.
    pub fn is_broken_pipe(&self) -> bool {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&*self.0);
        while let Some(e) = cause {
            if let Some(io) = e.downcast_ref::<std::io::Error>() {
                if io.kind() == std::io::ErrorKind::BrokenPipe {
                    return true;
                }
            }
            // serde_json keeps the io::Error inside without exposing it as
            // the source.
            if let Some(json) = e.downcast_ref::<serde_json::Error>() {
                if json.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe) {
                    return true;
                }
            }
            cause = e.source();
        }
        false
    }
}

/// What was being done when an error happened; the error is its source.
#[derive(Debug)]
struct Context {
    what: String,
    source: Box<dyn std::error::Error + Send + Sync + 'static>,
}

impl std::fmt::Display for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.what)
    }
}

impl std::error::Error for Context {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

impl<E: Into<Box<dyn std::error::Error + Send + Sync + 'static>>> From<E> for Fatal {
    fn from(e: E) -> Self {
        Fatal(e.into())
    }
}

impl std::fmt::Display for Fatal {
    /// The message, then each cause the message does not already say,
    /// separated by `: `.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut said = self.0.to_string();
        f.write_str(&said)?;
        let mut cause = self.0.source();
        while let Some(e) = cause {
            let text = e.to_string();
            if !said.contains(&text) {
                write!(f, ": {text}")?;
                said.push_str(&text);
            }
            cause = e.source();
        }
        Ok(())
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
