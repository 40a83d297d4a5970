//! `mailsetup serve`: wiring only.

use super::args::{Global, ServeArgs};
use super::{Fatal, Outcome};

/// Runs `serve`.
pub fn run(_a: ServeArgs, _g: &Global) -> Result<Outcome, Fatal> {
    Err(Fatal("'serve' is not available in this version yet".into()))
}
