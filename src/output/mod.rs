//! Text for people: the human-readable answers of `lookup` and `check`
//! (wrapped by [`crate::text`]).
//!
//! Each submodule turns a result into text and does nothing else: no I/O,
//! no discovery. The files mail clients read are written by their formats'
//! own modules ([`crate::autoconfig`], [`crate::autodiscover`],
//! [`crate::apple`]).

pub mod check;
pub mod human;

/// Re-exported at the paths the tests and fuzz targets know: Apple's
/// profile writer and the iPhone's rules live in [`crate::apple`].
pub use crate::apple::{iphone, mobileconfig};
/// Re-exported at the path the tests know; the DAV servers live in
/// [`crate::dav`].
pub use crate::dav;
