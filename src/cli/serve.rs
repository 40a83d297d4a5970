//! `mailsetup serve`: wiring only.

use mailsetup::server::{self, Config, Server, resolve};

use super::args::{Global, ServeArgs};
use super::{Fatal, Outcome};

/// Runs `serve` until SIGTERM or Ctrl-C.
pub fn run(a: ServeArgs, g: &Global) -> Result<Outcome, Fatal> {
    let default_level = if g.verbose { "debug" } else { "info" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
    let config = match &a.config {
        Some(path) => server::config::load(path)
            .map_err(|e| Fatal(format!("{e}\nmailsetup: the server did not start")))?,
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
    })?;
    Ok(Outcome::Success)
}
