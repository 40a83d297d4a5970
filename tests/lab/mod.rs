//! The test lab, shared by every integration test that needs a network.
//!
//! `scripts/test.sh` runs the tests inside a private network, PID and mount
//! namespace (`scripts/lab-run.sh`): loopback is up, every 127.0.0.x
//! address and every port is ours, and nothing can leave the machine. Daemons
//! a test starts (dnsmasq, dovecot, fake servers) die with the namespace.
//!
//! Tests that need the lab are written inside [`lab_test!`], which marks
//! them `#[ignore]` with the one reason string (the script runs them with
//! `--include-ignored`) and starts them with [`require`], so such a test
//! fails loudly, instead of touching the real network, when run outside
//! the lab. A [`scenario::Scenario`] sets up what a test needs (DNS
//! records, certificates from the one throwaway [`TestCa`], HTTPS routes,
//! mail greeters) and runs `lookup`, `check` or `profile` against it;
//! [`autoconfig::Autoconfig`] writes the autoconfig files they serve;
//! [`mailsetup`], [`stdout`] and [`ip`] are the helpers every test file
//! used to write for itself.
//!
//! Address plan (each test binary and each test takes its own addresses so
//! tests can run in parallel):
//! - 127.0.0.53        the lab's DNS server (dnsmasq)
//! - 127.0.1.0/24      discovery tests (issue: network lookup)
//! - 127.0.2.0/24      check / probe tests
//! - 127.0.3.0/24      profile tests
//! - 127.0.4.0/24      serve tests
//! - 127.0.9.0/24      the lab's own checks (tests/lab_selftest.rs)
//! - 127.0.14.0/24     domain checks, `check DOMAIN` (tests/audit.rs)
//! - 127.0.12.0/24     outbound-policy tests (tests/netpolicy.rs), which
//!   also put 10.0.12.0/24, 169.254.12.0/24, 169.254.169.254 and a
//!   stand-in public range, 11.0.12.0/24, on loopback
//! - 127.0.20.0/24     DNSSEC tests (tests/dnssec.rs): BIND serving signed
//!   zones ([`bind`]), each address put on loopback since named listens
//!   only on addresses an interface carries

#![allow(dead_code)]

pub mod autoconfig;
pub mod bind;
pub mod dns;
pub mod dovecot;
pub mod fake;
pub mod greeter;
pub mod https;
pub mod scenario;
pub mod server;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

/// A test that needs the lab: `#[test]` (or the `#[tokio::test(..)]`
/// written first), `#[ignore]` with the one reason string, and
/// [`require`] before the body.
///
/// ```ignore
/// lab_test! {
///     /// What it proves.
///     fn a_name() {
///         // ...
///     }
/// }
/// ```
#[macro_export]
macro_rules! lab_test {
    (#[tokio::test $($args:tt)*] $(#[$attr:meta])* async fn $name:ident() $body:block) => {
        #[tokio::test $($args)*]
        #[ignore = "needs the test lab: run ./scripts/test.sh"]
        $(#[$attr])*
        async fn $name() {
            $crate::lab::require();
            $body
        }
    };
    ($(#[$attr:meta])* fn $name:ident() $body:block) => {
        #[test]
        #[ignore = "needs the test lab: run ./scripts/test.sh"]
        $(#[$attr])*
        fn $name() {
            $crate::lab::require();
            $body
        }
    };
}

/// Address `n` of the block `127.0.{block}.0/24` (see the address plan
/// above).
pub fn ip(block: u8, n: u8) -> String {
    format!("127.0.{block}.{n}")
}

/// Runs the `mailsetup` binary with `args` (standard input empty,
/// backtraces on).
pub fn mailsetup(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mailsetup"))
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("the binary runs")
}

/// Runs the `mailsetup` binary with `args`, writing `input` to its
/// standard input (empty when `None`), backtraces on.
pub fn mailsetup_with_input(args: &[&str], input: Option<&str>) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_mailsetup"))
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut stdin = child.stdin.take().unwrap();
    if let Some(s) = input {
        stdin.write_all(s.as_bytes()).unwrap();
    }
    drop(stdin);
    child.wait_with_output().unwrap()
}

/// The codes of the findings of a `check --json` report, in order.
pub fn codes(report: &serde_json::Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .expect("a findings list")
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect()
}

/// A command's standard output, which must be UTF-8.
pub fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("standard output is UTF-8")
}

/// A command's standard error, which must be UTF-8.
pub fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).expect("standard error is UTF-8")
}

/// Panics unless running inside the lab's namespace.
pub fn require() {
    assert!(
        std::env::var_os("MAILSETUP_LAB").is_some(),
        "this test needs the test lab's private network namespace: run ./scripts/test.sh"
    );
}

/// Runs `task` on a thread of its own with a single-threaded runtime, so
/// the test can run the binary synchronously meanwhile.
pub fn spawn_runtime<F, Fut>(task: F) -> std::thread::JoinHandle<()>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(task())
    })
}

/// Binds a TCP listener on `addr` and runs `serve` with it on
/// [`spawn_runtime`] until the returned sender is used or dropped. Returns
/// once the listener is bound; panics, naming `what`, if it cannot be.
pub fn spawn_listener<F, Fut>(
    addr: std::net::SocketAddr,
    what: &str,
    serve: F,
) -> (
    tokio::sync::oneshot::Sender<()>,
    std::thread::JoinHandle<()>,
)
where
    F: FnOnce(tokio::net::TcpListener) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let thread = spawn_runtime(move || async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .unwrap_or_else(|e| panic!("bind {addr}: {e}"));
        ready_tx.send(()).unwrap();
        tokio::select! {
            _ = serve(listener) => {}
            _ = stop_rx => {}
        }
    });
    ready_rx
        .recv_timeout(std::time::Duration::from_secs(5))
        .unwrap_or_else(|_| panic!("{what} starts"));
    (stop_tx, thread)
}

/// A throwaway certificate authority made at test time.
pub struct TestCa {
    dir: tempfile::TempDir,
    issuer: Issuer<'static, KeyPair>,
    /// The CA certificate, PEM.
    pub ca_pem: String,
}

/// A leaf certificate issued by a [`TestCa`].
pub struct Leaf {
    /// The certificate followed by the CA certificate, PEM.
    pub chain_pem: String,
    /// The private key, PEM.
    pub key_pem: String,
    /// `chain_pem` written to a file.
    pub cert_file: PathBuf,
    /// `key_pem` written to a file.
    pub key_file: PathBuf,
}

impl TestCa {
    /// A new CA, its certificate written to [`TestCa::ca_file`].
    pub fn new() -> TestCa {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "mailsetup test CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let ca_pem = cert.pem();
        std::fs::write(dir.path().join("ca.pem"), &ca_pem).unwrap();
        TestCa {
            dir,
            issuer: Issuer::new(params, key),
            ca_pem,
        }
    }

    /// The CA certificate's file, for `--ca-file`.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// A directory that lives as long as the CA.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A leaf for `names` (DNS names or IP addresses), valid now.
    pub fn issue(&self, names: &[&str]) -> Leaf {
        self.issue_with(names, |_| {})
    }

    /// A leaf for `names`, with `tweak` applied to its parameters (e.g. to
    /// make it expired: set `not_after` in the past).
    pub fn issue_with(&self, names: &[&str], tweak: impl FnOnce(&mut CertificateParams)) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, names.first().copied().unwrap_or("leaf"));
        tweak(&mut params);
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let chain_pem = format!("{}{}", cert.pem(), self.ca_pem);
        let key_pem = key.serialize_pem();
        let stem = names
            .first()
            .copied()
            .unwrap_or("leaf")
            .replace(['*', ':'], "_");
        let unique = format!("{stem}-{}", rand_suffix());
        let cert_file = self.dir.path().join(format!("{unique}.crt"));
        let key_file = self.dir.path().join(format!("{unique}.key"));
        std::fs::write(&cert_file, &chain_pem).unwrap();
        std::fs::write(&key_file, &key_pem).unwrap();
        Leaf {
            chain_pem,
            key_pem,
            cert_file,
            key_file,
        }
    }
}

/// An intermediate CA under a [`TestCa`], for chains of three (a signed
/// profile carries its signer's chain).
pub struct Intermediate {
    issuer: Issuer<'static, KeyPair>,
    /// Its certificate, PEM.
    pub pem: String,
}

fn ca_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params
}

impl TestCa {
    /// An intermediate CA named `name`, issued by this CA.
    pub fn intermediate(&self, name: &str) -> Intermediate {
        let key = KeyPair::generate().unwrap();
        let params = ca_params(name);
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Intermediate {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }
}

impl Intermediate {
    /// A certificate named `common_name` (no host names) for the PKCS #8
    /// key `key_pem`, followed by this intermediate: a PEM chain.
    pub fn issue_for_key(&self, key_pem: &str, common_name: &str) -> String {
        let key = KeyPair::from_pem(key_pem).unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        format!("{}{}", cert.pem(), self.pem)
    }
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

impl Leaf {
    /// A rustls server configuration presenting this certificate.
    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        use rustls::pki_types::pem::PemObject;
        let certs: Vec<_> =
            rustls::pki_types::CertificateDer::pem_slice_iter(self.chain_pem.as_bytes())
                .map(Result::unwrap)
                .collect();
        let key =
            rustls::pki_types::PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes()).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
        Arc::new(config)
    }
}
