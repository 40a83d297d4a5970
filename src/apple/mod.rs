//! What Apple's devices install, and how: configuration profiles
//! ([`mobileconfig`]), signed for iOS to show them as verified ([`sign`]),
//! the iPhone Mail app's rules that both follow ([`iphone`]), and the
//! step-by-step instructions for setting up by hand ([`ios_steps`]).
//!
//! Everything here writes bytes or text and does no I/O except
//! [`sign::Signer::load`], which reads the operator's certificate and key.

pub mod ios_steps;
pub mod iphone;
pub mod mobileconfig;
pub mod sign;
