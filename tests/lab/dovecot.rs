//! A real dovecot (IMAP 143/993, POP3 110/995, submission 587/465) for the
//! lab: configured from a temporary directory, one passwd-file user, the
//! lab CA's certificate, started in the foreground and stopped when the
//! handle drops (or when the lab's namespace ends).
//!
//! ```ignore
//! let ca = lab::TestCa::new();
//! let dovecot = lab::dovecot::Dovecot::start("127.0.2.10", &ca.issue(&["mail.lab.test", "127.0.2.10"]));
//! // imaps://127.0.2.10:993, user dovecot.user, password dovecot.password
//! ```
//!
//! The configuration is written for dovecot 2.3, the series Debian 12
//! ships; 2.4 renamed most settings, so [`Dovecot::start`] checks the
//! version first and says so plainly instead of failing on the config.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::Leaf;

/// The lab user's address.
pub const USER: &str = "alice@lab.test";

/// A running dovecot.
pub struct Dovecot {
    child: Child,
    dir: tempfile::TempDir,
    /// The address it listens on.
    pub ip: String,
    /// The user it knows.
    pub user: &'static str,
    /// That user's password.
    pub password: String,
}

impl Dovecot {
    /// Starts dovecot on `ip` with `leaf` as its certificate and one user,
    /// [`USER`], whose password is `password`. Submission relays to
    /// `ip`:2525, where nothing needs to listen: only AUTH is tested.
    pub fn start(ip: &str, leaf: &Leaf, password: &str) -> Dovecot {
        super::require();
        let version = installed_version();
        assert!(
            version.starts_with("2.3."),
            "the lab writes a dovecot 2.3 configuration, but dovecot {version} is installed: add a 2.4 variant to tests/lab/dovecot.rs"
        );
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        // Login processes run as dovenull and mail processes as dovecot:
        // both must reach into the directory.
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
        let home = d.join("home");
        std::fs::create_dir(&home).unwrap();
        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o777)).unwrap();
        std::fs::write(
            d.join("passwd"),
            format!("{USER}:{{PLAIN}}{password}:::::\n"),
        )
        .unwrap();
        std::fs::write(d.join("dovecot.conf"), config(d, ip, leaf)).unwrap();
        let log = std::fs::File::create(d.join("stderr.log")).unwrap();
        let child = Command::new("dovecot")
            .arg("-F")
            .arg("-c")
            .arg(d.join("dovecot.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("dovecot runs (install dovecot-imapd, dovecot-pop3d, dovecot-submissiond: scripts/install-deps.sh)");
        let mut dv = Dovecot {
            child,
            dir,
            ip: ip.to_string(),
            user: USER,
            password: password.to_string(),
        };
        dv.wait_ready();
        dv
    }

    /// Dovecot's log so far (for failure messages).
    pub fn log(&self) -> String {
        let read = |p: PathBuf| std::fs::read_to_string(p).unwrap_or_default();
        read(self.dir.path().join("dovecot.log")) + &read(self.dir.path().join("stderr.log"))
    }

    /// Waits until IMAP greets as ready, not with "Waiting for
    /// authentication process", so the first test login finds auth up.
    fn wait_ready(&mut self) {
        let addr: SocketAddr = format!("{}:143", self.ip).parse().unwrap();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("dovecot exited at start ({status}):\n{}", self.log());
            }
            if let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
                let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
                let mut buf = [0u8; 512];
                let n = s.read(&mut buf).unwrap_or(0);
                let greeting = String::from_utf8_lossy(&buf[..n]);
                let _ = s.write_all(b"a LOGOUT\r\n");
                if greeting.contains("ready") {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("dovecot did not become ready on {addr}:\n{}", self.log());
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `dovecot --version`, e.g. "2.3.19.1 (9b53102964)".
fn installed_version() -> String {
    let out = Command::new("dovecot")
        .arg("--version")
        .output()
        .expect("dovecot runs (install dovecot-imapd, dovecot-pop3d, dovecot-submissiond: scripts/install-deps.sh)");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn config(d: &Path, ip: &str, leaf: &Leaf) -> String {
    let d = d.display();
    let cert = leaf.cert_file.display();
    let key = leaf.key_file.display();
    format!(
        r#"# Written by the mailsetup test lab.
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = imap pop3 submission
listen = {ip}
hostname = mail.lab.test
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
# 2.3 wants DH parameters for DHE suites (2.4 drops the setting).
ssl_dh = </usr/share/dovecot/dh.pem
ssl_min_protocol = TLSv1.2
# Passwords only inside TLS: before STARTTLS, IMAP says LOGINDISABLED.
disable_plaintext_auth = yes
auth_mechanisms = plain login
# Tests of wrong passwords should not wait the default 2 seconds.
auth_failure_delay = 0
default_internal_user = dovecot
default_login_user = dovenull
# Mail processes run as the system user "dovecot", below the default 500.
first_valid_uid = 1
submission_relay_host = {ip}
submission_relay_port = 2525
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/passwd
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={d}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    port = 143
  }}
  inet_listener imaps {{
    port = 993
    ssl = yes
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 110
  }}
  inet_listener pop3s {{
    port = 995
    ssl = yes
  }}
}}
service submission-login {{
  inet_listener submission {{
    port = 587
  }}
  inet_listener submissions {{
    port = 465
    ssl = yes
  }}
}}
"#
    )
}
