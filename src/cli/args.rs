//! Every flag of `mailsetup`, defined once with its help.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use mailsetup::lookup::{DEFAULT_ISPDB_URL, Options};
use mailsetup::net::dns::TrustAnchor;

/// Finds, checks and writes email account settings.
///
/// mailsetup finds the incoming and outgoing servers, ports, security,
/// authentication and username an email address needs; checks that those
/// servers really work and says how to fix them when they don't; and writes
/// an iPhone configuration profile, Thunderbird autoconfig or Outlook
/// Autodiscover file.
#[derive(Debug, Parser)]
#[command(
    name = "mailsetup",
    version,
    about,
    long_about,
    propagate_version = true
)]
#[command(
    after_help = "Exit status: 0 success, 1 nothing found or an error finding, 2 usage or internal error."
)]
pub struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub global: Global,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Discover the account settings of an address.
    ///
    /// Asks the built-in provider table first; for other domains (unless
    /// --offline) the domain's autoconfig file, the ISPDB, Autodiscover, DNS
    /// MX and SRV records, and likely server names, all at once.
    Lookup(LookupArgs),
    /// Connect to the servers and report what is wrong, with fixes.
    ///
    /// Probes the incoming and outgoing servers (given, or discovered):
    /// DNS, TCP, TLS, certificate, STARTTLS, capabilities, authentication
    /// mechanisms, and a login when a secret is given. Exit status 0 when no
    /// error was found, 1 when at least one was.
    Check(CheckArgs),
    /// Write a profile: iPhone .mobileconfig, Thunderbird autoconfig, Outlook
    /// Autodiscover XML, or iPhone steps.
    Profile(ProfileArgs),
    /// Run the HTTP service: autoconfig, Autodiscover, iPhone profiles and a
    /// web page.
    Serve(ServeArgs),
    /// Look up (or audit) every address or domain of a file, one a line.
    ///
    /// JSON Lines with --json (one object a line, with its input line
    /// number, flushed as it goes; a summary object last); a progress bar
    /// on a terminal. --timeout is the deadline of each entry.
    Scan(ScanArgs),
    /// Write the man pages (`generate man DIR`) or shell completions.
    Generate(GenerateArgs),
}

/// Options every command takes.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Global options")]
pub struct Global {
    /// Print one JSON document on stdout and nothing else.
    #[arg(long, global = true, help_heading = "Global options")]
    pub json: bool,
    /// Narrate each step on stderr (secrets are never shown).
    #[arg(short, long, global = true, help_heading = "Global options")]
    pub verbose: bool,
    /// Use this DNS server instead of the system's (IP or IP:PORT).
    #[arg(long, value_name = "IP[:PORT]", global = true, help_heading = "Global options", value_parser = parse_dns)]
    pub dns: Option<SocketAddr>,
    /// Trust the root certificates in this PEM file too.
    #[arg(
        long,
        value_name = "PEM",
        global = true,
        help_heading = "Global options"
    )]
    pub ca_file: Option<PathBuf>,
    /// Trust the DNSSEC keys (DNSKEY records, zone-file format) in this file
    /// too, each for its own zone: SRV records that zone signs with them
    /// count as DNSSEC-validated.
    #[arg(long, value_name = "FILE", global = true, help_heading = "Global options", value_parser = parse_trust_anchor)]
    pub trust_anchor: Option<TrustAnchor>,
    /// One overall deadline for network work, in seconds.
    #[arg(long, value_name = "SECS", default_value = "15", global = true, help_heading = "Global options", value_parser = parse_secs)]
    pub timeout: Duration,
    /// Base URL of a Thunderbird-style ISPDB; URL/<domain> is fetched.
    #[arg(long, value_name = "URL", default_value = DEFAULT_ISPDB_URL, global = true, help_heading = "Global options")]
    pub ispdb_url: String,
    /// Use built-in data only: nothing touches the network.
    #[arg(long, global = true, help_heading = "Global options")]
    pub offline: bool,
    /// Look up a domain even though it is one or two letters away from a
    /// well-known provider's (gmial.com); without it such a lookup stops
    /// with "did you mean …?" before asking the network.
    #[arg(long, global = true)]
    pub no_typo_check: bool,
}

impl Global {
    /// The library's lookup options.
    pub fn options(&self) -> Options {
        Options {
            offline: self.offline,
            timeout: self.timeout,
            dns: self.dns,
            ca_file: self.ca_file.clone(),
            trust_anchor: self.trust_anchor.clone(),
            ispdb_url: self.ispdb_url.clone(),
            verify: false,
            policy: mailsetup::net::policy::Policy::CLI,
            typo_check: !self.no_typo_check,
        }
    }
}

/// `lookup EMAIL`.
#[derive(Debug, Args)]
pub struct LookupArgs {
    /// The email address, e.g. someone@msn.com.
    #[arg(value_name = "EMAIL")]
    pub email: String,
    /// Also probe the servers found (TLS handshake and capabilities, never a
    /// login) and mark them verified when the certificate matches.
    #[arg(long)]
    pub verify: bool,
}

/// `check EMAIL|DOMAIN`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The email address (or, for a domain audit, the domain).
    #[arg(value_name = "EMAIL")]
    pub target: String,
    /// The incoming server to check instead of the discovered one, e.g.
    /// imaps://outlook.office365.com:993.
    #[arg(long, value_name = "URL")]
    pub incoming: Option<String>,
    /// The outgoing server to check instead of the discovered one, e.g.
    /// smtp://smtp-mail.outlook.com:587.
    #[arg(long, value_name = "URL")]
    pub outgoing: Option<String>,
    /// The username to log in with (default: as discovered, usually the
    /// address).
    #[arg(long, value_name = "U")]
    pub username: Option<String>,
    /// Read the password from standard input and log in.
    #[arg(long, conflicts_with = "oauth_token_stdin")]
    pub password_stdin: bool,
    /// Read an OAuth2 access token from standard input and log in with
    /// XOAUTH2.
    #[arg(long)]
    pub oauth_token_stdin: bool,
}

/// `profile EMAIL`.
#[derive(Debug, Args)]
pub struct ProfileArgs {
    /// The email address.
    #[arg(value_name = "EMAIL")]
    pub email: String,
    /// Write to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
    /// mobileconfig (default), autoconfig, autodiscover or ios-steps.
    #[arg(
        long,
        value_name = "FORMAT",
        default_value = "mobileconfig",
        value_parser = ["mobileconfig", "autoconfig", "autodiscover", "ios-steps"]
    )]
    pub format: String,
    /// Sign the profile with this certificate (PEM; the chain may follow).
    #[arg(long, value_name = "PEM", requires = "sign_key")]
    pub sign_cert: Option<std::path::PathBuf>,
    /// The private key of --sign-cert (PEM).
    #[arg(long, value_name = "PEM", requires = "sign_cert")]
    pub sign_key: Option<std::path::PathBuf>,
    /// The incoming server instead of the discovered one. A server given
    /// here with ?security=none is written as given (with a warning).
    #[arg(long, value_name = "URL")]
    pub incoming: Option<String>,
    /// The outgoing server instead of the discovered one (?security=none
    /// as for --incoming).
    #[arg(long, value_name = "URL")]
    pub outgoing: Option<String>,
    /// Write the file even when the settings are unverified (found over
    /// plain HTTP or in DNS without DNSSEC, where anyone on the way could
    /// have changed them); check them with your provider first. Discovered
    /// servers without encryption are never written: pass one explicitly
    /// with --incoming/--outgoing URL?security=none if you really mean it.
    #[arg(long)]
    pub allow_unverified: bool,
    /// For Outlook.com and Microsoft 365: an Exchange account that signs in
    /// with Microsoft (OAuth) instead of an IMAP account.
    #[arg(long)]
    pub exchange: bool,
    /// Add a calendar account at this CalDAV URL (https://; %EMAILADDRESS%,
    /// %EMAILLOCALPART% and %EMAILDOMAIN% are filled in).
    #[arg(long, value_name = "URL")]
    pub caldav: Option<String>,
    /// Add a contacts account at this CardDAV URL (https://; placeholders
    /// as for --caldav).
    #[arg(long, value_name = "URL")]
    pub carddav: Option<String>,
}

/// `scan FILE`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// One address or domain a line ('-' for standard input); blank lines
    /// and lines starting with # are skipped.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Entries at once (default: 256 per CPU core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub jobs: Option<u32>,
    /// Connections at once to any one target host (0: no limit).
    #[arg(long, value_name = "N", default_value = "8")]
    pub per_host: usize,
    /// Only every N-th line, starting at line K+1 (K from 0), so that N
    /// machines split one input.
    #[arg(long, value_name = "K/N", value_parser = clap::value_parser!(mailsetup::scan::input::Shard))]
    pub shard: Option<mailsetup::scan::input::Shard>,
    /// Skip the lines OUT already holds (the output of an earlier run) and
    /// append the rest to it, as JSON Lines.
    #[arg(long, value_name = "OUT")]
    pub resume: Option<PathBuf>,
    /// Write to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE", conflicts_with = "resume")]
    pub output: Option<PathBuf>,
    /// Audit each domain (as check DOMAIN does) instead of looking up
    /// settings.
    #[arg(long)]
    pub audit: bool,
}

/// `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The operator's configuration (TOML; see mailsetup.toml(5)). SIGHUP
    /// reads it again.
    #[arg(long, value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
    /// The address to listen on [default: `listen` in the configuration,
    /// else 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Check the configuration and the files it names, then exit (0 usable,
    /// 2 not) without listening.
    #[arg(long, requires = "config")]
    pub check_config: bool,
    /// How log lines are written to stderr.
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// The format of `serve`'s log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One line of text per event.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// `generate WHAT`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// man, bash, zsh, fish, elvish or powershell.
    #[arg(
        value_name = "WHAT",
        value_parser = ["man", "bash", "zsh", "fish", "elvish", "powershell"]
    )]
    pub what: String,
    /// For `man`: the directory to write every page into (mailsetup.1,
    /// mailsetup-COMMAND.1, mailsetup.toml.5); without it the main page
    /// goes to standard output.
    #[arg(value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub dir: Option<std::path::PathBuf>,
}

fn parse_trust_anchor(s: &str) -> Result<TrustAnchor, String> {
    TrustAnchor::load(std::path::Path::new(s)).map_err(|e| e.to_string())
}

fn parse_dns(s: &str) -> Result<SocketAddr, String> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    s.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| format!("'{s}' is not an IP address or IP:PORT"))
}

fn parse_secs(s: &str) -> Result<Duration, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 3600.0 => Ok(Duration::from_secs_f64(v)),
        _ => Err(format!(
            "'{s}' is not a number of seconds between 0 and 3600"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn flag_table_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn dns_accepts_ip_and_ip_port() {
        assert_eq!(parse_dns("127.0.0.53").unwrap().port(), 53);
        assert_eq!(parse_dns("127.0.0.53:5353").unwrap().port(), 5353);
        assert_eq!(parse_dns("[::1]:53").unwrap().port(), 53);
        assert!(parse_dns("dns.example").is_err());
    }

    #[test]
    fn timeout_must_be_positive() {
        assert_eq!(parse_secs("1.5").unwrap(), Duration::from_millis(1500));
        assert!(parse_secs("0").is_err());
        assert!(parse_secs("-1").is_err());
        assert!(parse_secs("nan").is_err());
    }
}
