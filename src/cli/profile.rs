//! `mailsetup profile`: wiring only.

use super::args::{Global, ProfileArgs};
use super::{Fatal, Outcome};

/// Runs `profile`.
pub fn run(_a: ProfileArgs, _g: &Global) -> Result<Outcome, Fatal> {
    Err(Fatal(
        "'profile' is not available in this version yet".into(),
    ))
}
