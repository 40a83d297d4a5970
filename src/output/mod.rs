//! Output formats: how results are shown to people and programs.
//!
//! Each submodule turns a result into text and does nothing else: no I/O,
//! no discovery. The CLI and the HTTP server both call these writers, so
//! there is one copy of every format.

pub mod autoconfig_xml;
pub mod autodiscover_xml;
pub mod check;
pub mod dav;
pub mod human;
pub mod ios_steps;
pub mod iphone;
pub mod mobileconfig;
pub mod text;
pub mod xml_text;
