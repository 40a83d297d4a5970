//! `mailsetup check`: wiring only.

use super::args::{CheckArgs, Global};
use super::{Fatal, Outcome};

/// Runs `check`.
pub fn run(_a: CheckArgs, _g: &Global) -> Result<Outcome, Fatal> {
    Err(Fatal("'check' is not available in this version yet".into()))
}
