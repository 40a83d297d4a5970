//! The `mailsetup` command. All logic lives in the library; this file only
//! parses the command line, runs it and maps the result to an exit status.

#![forbid(unsafe_code)]

mod cli;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of glibc's allocator: a scan or a busy `serve`
/// allocates and frees from every worker thread at once, and glibc's arenas
/// then wait on each other's locks and grow and shrink their heaps (an
/// `mprotect` for each change, about 35 for each scanned domain). With
/// mimalloc's per-thread free lists a scan runs at 800 domains a second
/// instead of 450 (bench/scan.sh). The price is paid at start: about
/// 0.15 ms more for `lookup --offline`, the first touch of one page per
/// size class (bench/lookup.sh). Version 2 without transparent huge pages:
/// version 3 and huge pages cost 0.4 ms. The `mimalloc` feature (on by
/// default) chooses it.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // A plain `lookup` is read without building clap's whole definition
    // (start-up time, see cli/quick.rs); every other command line is clap's.
    let quick = cli::quick::parse(std::env::args_os().skip(1));
    let cli = match quick.map_or_else(cli::Cli::try_parse, Ok) {
        Ok(c) => c,
        Err(e) => {
            // clap prints help/version to stdout (exit 0) and usage errors
            // to stderr (exit 2).
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let result = cli::run(cli);
    if let Err(e) = &result {
        // A reader that went away (`| head`) is not an error: stop quietly,
        // as other Unix tools do.
        if e.is_broken_pipe() {
            return ExitCode::SUCCESS;
        }
        eprintln!("mailsetup: {e}");
    }
    cli::exit_code(&result)
}
