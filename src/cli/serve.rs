//! `mailsetup serve`: logging set-up and wiring.
//!
//! Logs go to stderr, as text or (`--log-format json`) one JSON object a
//! line. `RUST_LOG` decides what is logged when set; otherwise mailsetup's
//! own modules log at INFO (DEBUG with `-v`) and other crates only warnings,
//! so `-v` does not drown the log in the dependencies' chatter.

use std::io::Write;

use mailsetup::server::{self, Config, Server, reload, resolve};

use super::args::{Global, LogFormat, ServeArgs};
use super::{Fatal, Outcome};

/// Runs `serve` until SIGTERM or Ctrl-C, or checks its configuration.
pub fn run(a: ServeArgs, g: &Global) -> Result<Outcome, Fatal> {
    init_logging(g.verbose, a.log_format);
    if a.check_config {
        return check_config(&a);
    }
    let config = match &a.config {
        Some(path) => server::config::load(path)
            .map_err(|e| Fatal::msg(format!("{e}\nmailsetup: the server did not start")))?,
        None => Config::default(),
    };
    let listen: Vec<_> = a.listen.into_iter().collect();
    let discover = resolve::network_discovery(g.options(), &config.discovery);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let stop = server::shutdown_signal().map_err(server::StartError::Signals)?;
        let server = Server::bind(&config, &listen, discover).await?;
        server.serve(stop).await
    })
    .map_err(|e| Fatal::msg(format!("{e}\nmailsetup: the server did not start")))?;
    Ok(Outcome::Success)
}

/// The filter used when `RUST_LOG` is not set.
pub fn default_filter(verbose: bool) -> &'static str {
    if verbose {
        "warn,mailsetup=debug"
    } else {
        "warn,mailsetup=info"
    }
}

fn init_logging(verbose: bool, format: LogFormat) {
    let filter = match std::env::var("RUST_LOG") {
        Ok(v) if !v.trim().is_empty() => {
            tracing_subscriber::EnvFilter::try_new(&v).unwrap_or_else(|e| {
                eprintln!("mailsetup: RUST_LOG={v:?} is not a log filter ({e}); using the default");
                tracing_subscriber::EnvFilter::new(default_filter(verbose))
            })
        }
        _ => tracing_subscriber::EnvFilter::new(default_filter(verbose)),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}

/// `serve --check-config`: loads the file and what it names as `serve`
/// would, without listening. Exit 0 when it would start, 2 when not.
fn check_config(a: &ServeArgs) -> Result<Outcome, Fatal> {
    let Some(path) = &a.config else {
        return Err(Fatal(
            "--check-config needs --config FILE: the file to check".into(),
        ));
    };
    let (config, warnings) = reload::check_file(path).map_err(|e| Fatal::msg(e.to_string()))?;
    let mut err = std::io::stderr().lock();
    for w in &warnings {
        let _ = writeln!(err, "mailsetup: warning: {w}");
    }
    let names: std::collections::BTreeSet<&str> =
        config.domains.values().map(|d| d.name.as_str()).collect();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{}: the configuration is usable ({} domains{}{}{})",
        path.display(),
        names.len(),
        if config.help_desk { ", help desk" } else { "" },
        if config.tls.is_some() { ", TLS" } else { "" },
        if config.signing.is_some() {
            ", signing"
        } else {
            ""
        },
    )?;
    Ok(Outcome::Success)
}
