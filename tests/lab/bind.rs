//! A signing DNS server for the lab: BIND's `named`, serving zones signed
//! at test time with `dnssec-keygen` and `dnssec-signzone` (Debian packages
//! bind9 and bind9-utils), since dnsmasq cannot sign.
//!
//! ```ignore
//! let key = lab::bind::Key::new("signed.test");
//! let zone = Zone::new("signed.test", &["_imaps._tcp IN SRV 0 1 993 imap.elsewhere.test."])
//!     .signed(&key, Signing::Valid);
//! let ns = Bind::start("127.0.20.1", &[zone]);
//! // mailsetup lookup --dns 127.0.20.1 --trust-anchor {key.anchor_file()} a@signed.test
//! ```
//!
//! Each zone is written, signed and served as a plain primary zone: `named`
//! re-signs nothing and checks no signature, so a zone signed wrongly on
//! purpose ([`Signing`]) is served as it is.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A DNSSEC key pair of one zone (ECDSA P-256, algorithm 13), made by
/// `dnssec-keygen` in a directory of its own. One key signs everything
/// (a "combined signing key"), as many small zones do.
pub struct Key {
    dir: tempfile::TempDir,
    /// The zone.
    pub zone: String,
    /// `K<zone>.+013+<id>`: the stem of the `.key` and `.private` files.
    stem: String,
}

impl Key {
    /// A new key for `zone`.
    pub fn new(zone: &str) -> Key {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("dnssec-keygen")
            .args(["-q", "-a", "ECDSAP256SHA256", "-f", "KSK", "-K"])
            .arg(dir.path())
            .arg(zone)
            .output()
            .expect("dnssec-keygen runs (install bind9-utils: scripts/install-deps.sh)");
        assert!(
            out.status.success(),
            "dnssec-keygen failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stem = String::from_utf8(out.stdout).unwrap().trim().to_string();
        assert!(stem.starts_with('K'), "dnssec-keygen printed {stem:?}");
        Key {
            dir,
            zone: zone.to_string(),
            stem,
        }
    }

    /// The public key file `dnssec-keygen` wrote: comments, then the
    /// zone's DNSKEY record in zone-file format. It is the trust anchor.
    pub fn anchor_file(&self) -> PathBuf {
        self.dir.path().join(format!("{}.key", self.stem))
    }

    /// The DNSKEY record line (without the comments).
    pub fn dnskey(&self) -> String {
        std::fs::read_to_string(self.anchor_file())
            .unwrap()
            .lines()
            .find(|l| !l.starts_with(';') && l.contains("DNSKEY"))
            .expect("a DNSKEY line")
            .to_string()
    }

    fn private(&self) -> PathBuf {
        self.dir.path().join(&self.stem)
    }
}

/// How a zone is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signing {
    /// Not at all.
    Unsigned,
    /// Properly: signatures valid from an hour ago for 30 days.
    Valid,
    /// With signatures that expired in 2020.
    Expired,
    /// Properly, then every SRV record's target is changed to
    /// `imap.forged.test` in the signed file: their RRSIGs no longer match.
    Tampered,
}

/// One zone: its name, its records (zone-file lines relative to the
/// origin; an SOA and an NS record are added) and how it is signed.
pub struct Zone<'k> {
    name: String,
    records: Vec<String>,
    key: Option<&'k Key>,
    signing: Signing,
}

impl<'k> Zone<'k> {
    /// An unsigned zone.
    pub fn new(name: &str, records: &[&str]) -> Zone<'k> {
        Zone {
            name: name.to_string(),
            records: records.iter().map(|r| r.to_string()).collect(),
            key: None,
            signing: Signing::Unsigned,
        }
    }

    /// The zone signed with `key`, as `signing` says.
    pub fn signed(mut self, key: &'k Key, signing: Signing) -> Zone<'k> {
        self.key = Some(key);
        self.signing = signing;
        self
    }

    /// Writes the zone file into `dir`, signs it, and returns the file to
    /// serve.
    fn write(&self, dir: &Path, ns_ip: &str) -> PathBuf {
        let mut text = format!(
            "$ORIGIN {name}.\n$TTL 300\n@ IN SOA ns.{name}. hostmaster.{name}. 1 3600 600 86400 300\n@ IN NS ns.{name}.\nns IN A {ns_ip}\n",
            name = self.name
        );
        for r in &self.records {
            text.push_str(r);
            text.push('\n');
        }
        let plain = dir.join(format!("{}.zone", self.name));
        let (key, signing) = match (self.key, self.signing) {
            (Some(k), s) if s != Signing::Unsigned => (k, s),
            _ => {
                std::fs::write(&plain, text).unwrap();
                return plain;
            }
        };
        text.push_str(&std::fs::read_to_string(key.anchor_file()).unwrap());
        std::fs::write(&plain, text).unwrap();
        let signed = dir.join(format!("{}.signed", self.name));
        let mut cmd = Command::new("dnssec-signzone");
        // -z: the one key signs every record; -P: no check afterwards
        // (expired signatures are the point of one case).
        cmd.args(["-q", "-z", "-P", "-o", &self.name, "-f"])
            .arg(&signed)
            // Its dsset-ZONE file goes there too, not into the checkout.
            .arg("-d")
            .arg(dir)
            .current_dir(dir);
        if signing == Signing::Expired {
            cmd.args(["-s", "20200101000000", "-e", "20200201000000"]);
        }
        let out = cmd
            .arg(&plain)
            .arg(key.private())
            .output()
            .expect("dnssec-signzone runs (install bind9-utils: scripts/install-deps.sh)");
        assert!(
            out.status.success(),
            "dnssec-signzone failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if signing == Signing::Tampered {
            let text = std::fs::read_to_string(&signed).unwrap();
            let mut done = false;
            let text: String = text
                .lines()
                .map(|line| {
                    let words: Vec<&str> = line.split_whitespace().collect();
                    if !words.contains(&"SRV") || words.contains(&"RRSIG") {
                        return format!("{line}\n");
                    }
                    done = true;
                    let target = words.last().unwrap();
                    format!("{}\n", line.replace(target, "imap.forged.test."))
                })
                .collect();
            assert!(done, "an SRV record to tamper with");
            std::fs::write(&signed, text).unwrap();
        }
        signed
    }
}

/// A running `named`, authoritative for its zones only (no recursion).
pub struct Bind {
    child: Child,
    /// Where it listens (UDP and TCP, port 53).
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Bind {
    /// Writes and signs `zones`, and starts `named` on `ip`:53 serving
    /// them.
    pub fn start(ip: &str, zones: &[Zone<'_>]) -> Bind {
        super::require();
        let addr: SocketAddr = format!("{ip}:53").parse().expect("an IP address");
        // named listens only on addresses an interface carries (dnsmasq
        // binds any 127.x): give it to loopback. "File exists" is fine.
        let _ = Command::new("ip")
            .args(["addr", "add", &format!("{ip}/32"), "dev", "lo"])
            .stderr(Stdio::null())
            .status();
        let dir = tempfile::tempdir().unwrap();
        let mut conf = format!(
            "options {{\n  directory \"{dir}\";\n  listen-on port 53 {{ {ip}; }};\n  listen-on-v6 {{ none; }};\n  pid-file none;\n  recursion no;\n  dnssec-validation no;\n  notify no;\n  allow-transfer {{ none; }};\n}};\n",
            dir = dir.path().display()
        );
        for z in zones {
            let file = z.write(dir.path(), ip);
            conf.push_str(&format!(
                "zone \"{}\" {{ type primary; file \"{}\"; }};\n",
                z.name,
                file.display()
            ));
        }
        let conf_file = dir.path().join("named.conf");
        std::fs::write(&conf_file, conf).unwrap();
        let log = std::fs::File::create(dir.path().join("named.log")).unwrap();
        let child = Command::new("named")
            .args(["-g", "-u", "root", "-c"])
            .arg(&conf_file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("named runs (install bind9: scripts/install-deps.sh)");
        let mut bind = Bind {
            child,
            addr,
            _dir: dir,
        };
        bind.wait_ready();
        bind
    }

    fn wait_ready(&mut self) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("named exited at start ({status}): {}", self.log());
            }
            if self.log().contains("running")
                && TcpStream::connect_timeout(&self.addr, Duration::from_millis(100)).is_ok()
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "named did not start listening on {}: {}",
            self.addr,
            self.log()
        );
    }

    /// The zone file served for `zone` (signed or not), for messages.
    pub fn zone_text(&self, zone: &str) -> String {
        let dir = self._dir.path();
        std::fs::read_to_string(dir.join(format!("{zone}.signed")))
            .or_else(|_| std::fs::read_to_string(dir.join(format!("{zone}.zone"))))
            .unwrap_or_default()
    }

    /// What `named` wrote to its log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("named.log")).unwrap_or_default()
    }
}

impl Drop for Bind {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
