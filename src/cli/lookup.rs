//! `mailsetup lookup EMAIL`: wiring only.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

use mailsetup::address::EmailAddress;
use mailsetup::lookup::{self, LookupError};
use mailsetup::output::human;
use mailsetup::settings::Source;

use super::args::{Global, LookupArgs};
use super::{Fatal, Outcome};

/// Runs `lookup`.
pub fn run(a: LookupArgs, g: &Global) -> Result<Outcome, Fatal> {
    let email: EmailAddress = a.email.parse()?;
    let mut opts = g.options();
    opts.verify = a.verify;
    init_tracing(g.verbose);
    // The built-in table (and --offline) answer without the network: then
    // no runtime, resolver or spinner is started, which is most of what a
    // lookup would cost at start-up (bench/lookup.sh).
    let local = match a.verify {
        true => None,
        false => lookup::lookup_local(&email, &opts).transpose(),
    };
    let result = match local {
        Some(answer) => answer,
        // With --verify the table was not asked yet: the whole lookup.
        None => discover(&email, &opts, g.verbose, a.verify)?,
    };
    let mut stdout = std::io::stdout().lock();
    match result {
        Ok(found) => {
            if g.verbose {
                eprint!("{}", human::tried(&found.tried));
            }
            if g.json {
                serde_json::to_writer_pretty(&mut stdout, &found)?;
                writeln!(stdout)?;
            } else {
                stdout.write_all(human::lookup(&found).as_bytes())?;
            }
            // A built-in entry that knows no encrypted way in (the notes say
            // why and what works instead) is not a usable answer.
            if found.settings.source == Source::ProviderDb && !found.settings.has_secure_servers() {
                let name = found
                    .settings
                    .provider
                    .as_ref()
                    .map_or("this provider", |p| p.name.as_str());
                eprintln!(
                    "mailsetup: no settings with encryption are known for {name}: see the notes for what works instead"
                );
                return Ok(Outcome::Negative);
            }
            Ok(Outcome::Success)
        }
        Err(LookupError::Setup(msg)) => Err(Fatal::msg(msg)),
        Err(e) => {
            if g.json {
                let doc = serde_json::json!({
                    "email": email.to_string(),
                    "error": e.to_string(),
                    "notes": e.notes(),
                    "tried": e.tried(),
                });
                serde_json::to_writer_pretty(&mut stdout, &doc)?;
                writeln!(stdout)?;
            }
            if g.verbose || matches!(e, LookupError::NotFound { .. }) {
                eprint!("{}", human::tried(e.tried()));
            }
            eprintln!("mailsetup: {e}");
            Ok(Outcome::Negative)
        }
    }
}

/// The lookup's network part (all of it when `whole`: the table not asked
/// yet), with a spinner on a terminal.
fn discover(
    email: &EmailAddress,
    opts: &mailsetup::lookup::Options,
    verbose: bool,
    whole: bool,
) -> Result<Result<lookup::Lookup, LookupError>, Fatal> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let spinner = spinner(verbose);
    let observer = spinner.clone().map(|pb| {
        Arc::new(move |t: &lookup::Tried| {
            pb.set_message(format!("{}: {}", t.source, t.url));
        }) as mailsetup::discover::Observer
    });
    let result = rt.block_on(async {
        match whole {
            true => lookup::lookup_observed(email, opts, observer).await,
            false => lookup::lookup_network(email, opts, observer).await,
        }
    });
    if let Some(pb) = spinner {
        pb.finish_and_clear();
    }
    Ok(result)
}

/// `-v`: the library narrates its steps through `tracing`, on stderr.
pub fn init_tracing(verbose: bool) {
    if !verbose {
        return;
    }
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::new("mailsetup=debug"))
        .without_time()
        .with_target(false)
        .try_init();
}

/// A spinner on a terminal; nothing when stderr is a pipe or a file, or when
/// `-v` narrates instead.
fn spinner(verbose: bool) -> Option<indicatif::ProgressBar> {
    if verbose || !std::io::stderr().is_terminal() {
        return None;
    }
    let pb = indicatif::ProgressBar::new_spinner();
    pb.set_message("looking up…");
    pb.enable_steady_tick(Duration::from_millis(100));
    Some(pb)
}
