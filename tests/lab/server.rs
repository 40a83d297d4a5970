//! Starting `mailsetup serve` for tests: in-process on a loopback port
//! (the library's [`Server`]), or as the real binary, whose stderr is
//! watched for the "listening on" line that tells its address.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use mailsetup::lookup::Options;
use mailsetup::server::resolve::{self, DiscoverFn};
use mailsetup::server::{AppState, Config, Server, config};

/// An operator's configuration for the made-up domain `example.test`:
/// IMAP with implicit TLS, POP3 with STARTTLS, SMTP with STARTTLS on 587
/// and implicit TLS on 465.
pub const OPERATOR_TOML: &str = r#"
[[domain]]
name = "example.test"
aliases = ["example-alias.test"]
display_name = "Example & Co <Mail>"
incoming = [
  { url = "imaps://imap.example.test", auth = ["password"] },
  { url = "pop3://pop.example.test", auth = ["password"] },
]
outgoing = [
  { url = "smtp://smtp.example.test", auth = ["password"] },
  { url = "smtps://smtp.example.test", auth = ["password"] },
]
caldav = "https://dav.example.test/cal/%EMAILADDRESS%/"
"#;

/// `text` parsed as a configuration file.
pub fn config(text: &str) -> Config {
    config::parse(text, Path::new("mail.toml")).expect("a valid test configuration")
}

/// Discovery that never touches the network (built-in data only).
pub fn offline() -> DiscoverFn {
    resolve::network_discovery(
        Options {
            offline: true,
            ..Options::default()
        },
        &Default::default(),
    )
}

/// An HTTP client that trusts the program's roots plus `ca_file`, and
/// follows no redirects.
pub fn client_trusting(ca_file: Option<&Path>) -> reqwest::Client {
    let tls = mailsetup::net::tls::client_config(ca_file).expect("trust store");
    reqwest::Client::builder()
        .tls_backend_preconfigured(rustls::ClientConfig::clone(&tls))
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .expect("an HTTP client")
}

/// The response schema Outlook asks Autodiscover for.
pub const OUTLOOK_2006A: &str =
    "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a";

/// A POX Autodiscover request for `email`, accepting `schema`.
pub fn pox_request(email: &str, schema: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
  <Request>
    <EMailAddress>{email}</EMailAddress>
    <AcceptableResponseSchema>{schema}</AcceptableResponseSchema>
  </Request>
</Autodiscover>"#
    )
}

/// An HTTP client for plain-HTTP tests.
pub fn client() -> reqwest::Client {
    client_trusting(None)
}

/// A server running inside the test's runtime.
pub struct Running {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Its state (metrics, limiter).
    pub state: AppState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Starts `config` on a free port of `ip`.
    pub async fn start(config: Config, discover: DiscoverFn, ip: &str) -> Running {
        let addr: SocketAddr = format!("{ip}:0").parse().expect("an IP address");
        let server = Server::bind(&config, &[addr], discover)
            .await
            .expect("the server binds");
        let addr = server.local_addrs()[0];
        let state = server.state().clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            server
                .serve(async {
                    let _ = rx.await;
                })
                .await
                .expect("the server serves");
        });
        Running {
            base: format!("http://{addr}"),
            state,
            stop: Some(tx),
            task,
        }
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The answer to `GET path`, asked with a fresh [`client`].
    pub async fn fetch(&self, path: &str) -> reqwest::Response {
        client()
            .get(self.url(path))
            .send()
            .await
            .expect("the server answers")
    }

    /// The answer to `GET path` sent with `Host: host`, asked with a fresh
    /// [`client`].
    pub async fn fetch_as(&self, path: &str, host: &str) -> reqwest::Response {
        client()
            .get(self.url(path))
            .header("Host", host)
            .send()
            .await
            .expect("the server answers")
    }

    /// The answer to Outlook's POX Autodiscover request for `email`,
    /// posted with `client`.
    pub async fn autodiscover(&self, client: &reqwest::Client, email: &str) -> reqwest::Response {
        client
            .post(self.url("/autodiscover/autodiscover.xml"))
            .header("content-type", "text/xml")
            .body(pox_request(email, OUTLOOK_2006A))
            .send()
            .await
            .expect("the server answers")
    }

    /// Asks the server to shut down; returns when it has.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }

    /// Asks the server to shut down, without waiting.
    pub fn signal_stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }

    /// Waits until the server has stopped.
    pub async fn stopped(self) -> Result<(), tokio::task::JoinError> {
        self.task.await
    }
}

/// The `mailsetup` binary serving, killed when dropped.
pub struct Binary {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Everything it wrote to stderr so far, line by line, as it comes.
    pub stderr: mpsc::Receiver<String>,
    /// The lines it wrote before saying where it listens.
    pub start_log: Vec<String>,
}

impl Binary {
    /// Runs `mailsetup serve ARGS` with `RUST_LOG=info` and waits for its
    /// "listening on" line.
    pub fn start(args: &[&str]) -> Binary {
        Binary::start_full(&[], args, Some("info"))
    }

    /// Runs `mailsetup serve --offline` with the configuration `file` on a
    /// free loopback port (see [`Binary::start`]).
    pub fn start_offline(file: &std::path::Path) -> Binary {
        Binary::start(&[
            "--offline",
            "--listen",
            "127.0.0.1:0",
            "--config",
            file.to_str().expect("a UTF-8 path"),
        ])
    }

    /// Runs `mailsetup serve ARGS` with `RUST_LOG` set to `rust_log` (or
    /// unset) and waits for its "listening on" line.
    pub fn start_with(args: &[&str], rust_log: Option<&str>) -> Binary {
        Binary::start_full(&[], args, rust_log)
    }

    /// Runs `WRAPPER... mailsetup serve ARGS` (e.g. `prlimit --nofile=…`,
    /// which runs the program in its own place, keeping the pid) and waits
    /// for its "listening on" line.
    pub fn start_under(wrapper: &[&str], args: &[&str]) -> Binary {
        Binary::start_full(wrapper, args, Some("info"))
    }

    fn start_full(wrapper: &[&str], args: &[&str], rust_log: Option<&str>) -> Binary {
        let bin = env!("CARGO_BIN_EXE_mailsetup");
        let mut command = match wrapper.split_first() {
            Some((program, rest)) => {
                let mut c = Command::new(program);
                c.args(rest).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        command.arg("serve").args(args);
        match rust_log {
            Some(v) => command.env("RUST_LOG", v),
            None => command.env_remove("RUST_LOG"),
        };
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary runs");
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let mut start_log = Vec::new();
        let addr = loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let line = match rx.recv_timeout(left) {
                Ok(l) => l,
                Err(_) => {
                    let _ = child.kill();
                    panic!("mailsetup serve did not say where it listens");
                }
            };
            if let Some(rest) = line.split("listening on ").nth(1) {
                let hostport = rest.split("://").nth(1).unwrap_or(rest);
                // Text ends the line there; JSON closes the string.
                let hostport = hostport.split(['"', ' ']).next().unwrap_or(hostport).trim();
                break hostport
                    .parse()
                    .expect("a socket address after 'listening on'");
            }
            start_log.push(line);
        };
        Binary {
            child,
            addr,
            stderr: rx,
            start_log,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (e.g. "TERM", "HUP") to the process.
    pub fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill runs")
            .success();
        assert!(ok, "kill -{signal} failed");
    }

    /// Waits up to `limit` for the process to exit.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + limit;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Waits up to `limit` for a stderr line containing `needle`.
    pub fn wait_for_log(&self, needle: &str, limit: Duration) -> Option<String> {
        let deadline = std::time::Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(l) if l.contains(needle) => return Some(l),
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
