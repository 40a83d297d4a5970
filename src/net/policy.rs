//! Where discovery may connect: the one place that decides, for every
//! connection discovery and probing make, whether an address and port may
//! be dialled, and how many connections and DNS questions one discovery may
//! spend.
//!
//! The HTTP service runs discovery on behalf of anonymous visitors, who
//! choose the domain and so every DNS answer, SRV target and redirect.
//! Without a rule they could make the service connect to its own network
//! (interface rule 10). So:
//!
//! - **Addresses** are checked on the address actually dialled, at connect
//!   time: the HTTPS client resolves through [`super::http`]'s guarded
//!   resolver and dials exactly what it returns, and the probes check each
//!   address in [`crate::probe`]'s dialer just before `connect`. There is
//!   no second lookup between check and connect, so a name that answers
//!   "public" once and "private" the next time (DNS rebinding) gains
//!   nothing. [`is_public`] is the classifier.
//! - **Ports**: only the standard port of each protocol ([`HTTP_PORTS`],
//!   [`MAIL_PORTS`]).
//! - **Budget**: at most [`MAX_CONNECTIONS`] connections and
//!   [`MAX_DNS_QUESTIONS`] DNS questions per discovery; low-priority work
//!   (guessing) leaves [`LOW_PRIORITY_RESERVE`] for the better sources.
//!
//! The command line keeps reaching private addresses (a person's own
//! network), but never through a redirect from a public host to a private
//! one ([`Policy::CLI`]).

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// Ports a configuration fetch may use: HTTPS and HTTP.
pub const HTTP_PORTS: [u16; 2] = [443, 80];

/// Ports a mail probe may use: IMAP, POP3 and submission, with and without
/// implicit TLS.
pub const MAIL_PORTS: [u16; 6] = [993, 143, 995, 110, 465, 587];

/// Connections one service discovery may open.
pub const MAX_CONNECTIONS: u32 = 24;

/// DNS questions one service discovery may ask.
pub const MAX_DNS_QUESTIONS: u32 = 48;

/// What low-priority work leaves to the better sources: (connections, DNS
/// questions).
pub const LOW_PRIORITY_RESERVE: (u32, u32) = (8, 12);

/// The reason recorded for a refused address.
pub const NOT_PUBLIC: &str = "not a public address";

/// What discovery may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Private, loopback and other special addresses may be dialled (still
    /// never through a redirect from a public host).
    pub allow_private: bool,
    /// Only the standard ports of each protocol.
    pub standard_ports_only: bool,
    /// The most connections and DNS questions; `None`: unlimited.
    pub budget: Option<(u32, u32)>,
    /// Answers go to anonymous visitors: `tried` keeps no network text.
    pub anonymous: bool,
}

impl Policy {
    /// A person on their own machine: any address (their own network),
    /// any port, no budget; a redirect from a public host to a private
    /// address is still refused.
    pub const CLI: Policy = Policy {
        allow_private: true,
        standard_ports_only: false,
        budget: None,
        anonymous: false,
    };

    /// The HTTP service: public addresses only unless `allow_private`,
    /// standard ports, the budget, no network text in answers.
    pub fn service(allow_private: bool) -> Policy {
        Policy {
            allow_private,
            standard_ports_only: true,
            budget: Some((MAX_CONNECTIONS, MAX_DNS_QUESTIONS)),
            anonymous: true,
        }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy::CLI
    }
}

/// Why a connection or question was not made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The address is loopback, private, link-local or otherwise special.
    #[error("not a public address")]
    NotPublic(IpAddr),
    /// A redirect from a public host led to a private address.
    #[error("not a public address (reached by a redirect from a public host)")]
    PrivateAfterPublic(IpAddr),
    /// Not the protocol's standard port.
    #[error("not a standard port ({0}): not dialled by the service")]
    Port(u16),
    /// The discovery's connections are spent.
    #[error("not asked: the discovery's budget of connections is spent")]
    Connections,
    /// The discovery's DNS questions are spent.
    #[error("not asked: the discovery's budget of DNS questions is spent")]
    Questions,
}

impl Refusal {
    /// Whether this is the budget running out (recorded `cancelled`), not
    /// a refused target (`refused-insecure`).
    pub fn is_budget(&self) -> bool {
        matches!(self, Refusal::Connections | Refusal::Questions)
    }
}

/// A discovery's guard: its policy and what it has spent. Clones share the
/// count.
#[derive(Debug, Clone)]
pub struct Guard {
    state: Arc<State>,
    low: bool,
}

#[derive(Debug)]
struct State {
    policy: Policy,
    connections: AtomicU32,
    questions: AtomicU32,
    /// The questions asked so far: asked again, the resolver's cache
    /// answers, so they cost nothing more.
    asked: Mutex<HashSet<String>>,
}

impl Default for Guard {
    fn default() -> Self {
        Guard::new(Policy::CLI)
    }
}

impl Guard {
    /// A fresh guard for one discovery.
    pub fn new(policy: Policy) -> Guard {
        Guard {
            state: Arc::new(State {
                policy,
                connections: AtomicU32::new(0),
                questions: AtomicU32::new(0),
                asked: Mutex::new(HashSet::new()),
            }),
            low: false,
        }
    }

    /// The same guard for low-priority work, which leaves
    /// [`LOW_PRIORITY_RESERVE`] of the budget to the better sources.
    pub fn low_priority(&self) -> Guard {
        Guard {
            state: self.state.clone(),
            low: true,
        }
    }

    /// The policy.
    pub fn policy(&self) -> Policy {
        self.state.policy
    }

    /// Connections and DNS questions spent so far.
    pub fn spent(&self) -> (u32, u32) {
        (
            self.state.connections.load(Ordering::Relaxed),
            self.state.questions.load(Ordering::Relaxed),
        )
    }

    /// Whether `port` may be dialled for a protocol whose standard ports
    /// are `standard`.
    pub fn check_port(&self, port: u16, standard: &[u16]) -> Result<(), Refusal> {
        if self.state.policy.standard_ports_only && !standard.contains(&port) {
            return Err(Refusal::Port(port));
        }
        Ok(())
    }

    /// Whether `ip` may be dialled; `after_public`: the connection follows
    /// a redirect from a host with a public address.
    pub fn check_addr(&self, ip: IpAddr, after_public: bool) -> Result<(), Refusal> {
        if is_public(ip) {
            return Ok(());
        }
        if !self.state.policy.allow_private {
            return Err(Refusal::NotPublic(ip));
        }
        if after_public {
            return Err(Refusal::PrivateAfterPublic(ip));
        }
        Ok(())
    }

    /// Spends one connection.
    pub fn take_connection(&self) -> Result<(), Refusal> {
        let Some((limit, _)) = self.state.policy.budget else {
            return Ok(());
        };
        let limit = self.limit(limit, LOW_PRIORITY_RESERVE.0);
        take(&self.state.connections, 1, limit).map_err(|()| Refusal::Connections)
    }

    /// Spends `n` DNS questions.
    pub fn take_questions(&self, n: u32) -> Result<(), Refusal> {
        let Some((_, limit)) = self.state.policy.budget else {
            return Ok(());
        };
        let limit = self.limit(limit, LOW_PRIORITY_RESERVE.1);
        take(&self.state.questions, n, limit).map_err(|()| Refusal::Questions)
    }

    /// Spends `n` DNS questions for `key` (name and type), unless the same
    /// question was asked before in this discovery.
    pub fn take_questions_for(&self, key: &str, n: u32) -> Result<(), Refusal> {
        if self.state.policy.budget.is_none() {
            return Ok(());
        }
        let mut asked = self
            .state
            .asked
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if asked.contains(key) {
            return Ok(());
        }
        self.take_questions(n)?;
        asked.insert(key.to_string());
        Ok(())
    }

    fn limit(&self, limit: u32, reserve: u32) -> u32 {
        if self.low {
            limit.saturating_sub(reserve)
        } else {
            limit
        }
    }
}

/// Adds `n` to `counter` unless that passes `limit`.
fn take(counter: &AtomicU32, n: u32, limit: u32) -> Result<(), ()> {
    counter
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
            used.checked_add(n).filter(|&u| u <= limit)
        })
        .map(drop)
        .map_err(drop)
}

/// Whether `ip` is an ordinary public unicast address: not loopback,
/// unspecified, private (RFC 1918, ULA), shared (CGNAT), link-local,
/// multicast, broadcast, reserved, documentation or benchmarking — nor an
/// IPv6 form that embeds such an IPv4 address (IPv4-mapped,
/// IPv4-compatible, 6to4, NAT64).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

/// IPv4 ranges that are not public: (network, prefix length).
const V4_SPECIAL: [([u8; 4], u8); 16] = [
    ([0, 0, 0, 0], 8),       // "this network", unspecified
    ([10, 0, 0, 0], 8),      // RFC 1918
    ([100, 64, 0, 0], 10),   // shared address space (CGNAT), RFC 6598
    ([127, 0, 0, 0], 8),     // loopback
    ([169, 254, 0, 0], 16),  // link-local (cloud metadata lives here)
    ([172, 16, 0, 0], 12),   // RFC 1918
    ([192, 0, 0, 0], 24),    // IETF protocol assignments
    ([192, 0, 2, 0], 24),    // TEST-NET-1 (documentation)
    ([192, 31, 196, 0], 24), // AS112-v4
    ([192, 52, 193, 0], 24), // AMT
    ([192, 88, 99, 0], 24),  // 6to4 relay anycast (deprecated)
    ([192, 168, 0, 0], 16),  // RFC 1918
    ([198, 18, 0, 0], 15),   // benchmarking
    ([198, 51, 100, 0], 24), // TEST-NET-2 (documentation)
    ([203, 0, 113, 0], 24),  // TEST-NET-3 (documentation)
    ([224, 0, 0, 0], 3),     // multicast 224/4 and reserved 240/4 with broadcast
];

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let a = u32::from(ip);
    !V4_SPECIAL.iter().any(|(net, len)| {
        let mask = u32::MAX << (32 - u32::from(*len));
        a & mask == u32::from(Ipv4Addr::from(*net))
    })
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    // IPv4-mapped (::ffff:0:0/96): an IPv4 address in IPv6 clothing.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    // IPv4-compatible (::/96, deprecated by RFC 4291), including :: and
    // ::1: never dialled, whatever they embed.
    if s[..6] == [0; 6] {
        return false;
    }
    // NAT64 well-known prefix 64:ff9b::/96: the IPv4 address it embeds.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_public_v4(v4_at(&ip, 12));
    }
    // Local-use NAT64 (RFC 8215): the operator's own translator.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1 {
        return false;
    }
    // 6to4 (2002::/16): the IPv4 address in bits 16..48.
    if s[0] == 0x2002 {
        return is_public_v4(v4_at(&ip, 2));
    }
    // Only global unicast (2000::/3) is public; that excludes ULA
    // fc00::/7, link-local fe80::/10, site-local fec0::/10, multicast
    // ff00::/8, discard 100::/64 and every other reserved block.
    if s[0] & 0xe000 != 0x2000 {
        return false;
    }
    // IETF protocol assignments 2001::/23: Teredo 2001::/32 (tunnels to an
    // embedded IPv4 address), benchmarking 2001:2::/48, ORCHID.
    if s[0] == 0x2001 && s[1] < 0x0200 {
        return false;
    }
    // Documentation: 2001:db8::/32 and 3fff::/20.
    if (s[0] == 0x2001 && s[1] == 0x0db8) || (s[0] == 0x3fff && s[1] < 0x1000) {
        return false;
    }
    true
}

/// The IPv4 address in bytes `at..at + 4` of `ip`.
fn v4_at(ip: &Ipv6Addr, at: usize) -> Ipv4Addr {
    let o = ip.octets();
    Ipv4Addr::new(o[at], o[at + 1], o[at + 2], o[at + 3])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every special range, at its first, an inner and its last address,
    /// with the public neighbours just outside.
    const TABLE: &[(&str, bool)] = &[
        // IPv4 public
        ("1.1.1.1", true),
        ("8.8.8.8", true),
        ("11.0.9.1", true),
        ("93.184.216.34", true),
        ("223.255.255.255", true),
        // 0/8
        ("0.0.0.0", false),
        ("0.1.2.3", false),
        ("0.255.255.255", false),
        ("1.0.0.0", true),
        // 10/8
        ("9.255.255.255", true),
        ("10.0.0.0", false),
        ("10.0.0.5", false),
        ("10.255.255.255", false),
        ("11.0.0.0", true),
        // 100.64/10
        ("100.63.255.255", true),
        ("100.64.0.0", false),
        ("100.100.100.200", false),
        ("100.127.255.255", false),
        ("100.128.0.0", true),
        // 127/8
        ("126.255.255.255", true),
        ("127.0.0.1", false),
        ("127.0.0.53", false),
        ("127.255.255.255", false),
        ("128.0.0.0", true),
        // 169.254/16
        ("169.253.255.255", true),
        ("169.254.0.0", false),
        ("169.254.169.254", false),
        ("169.254.255.255", false),
        ("169.255.0.0", true),
        // 172.16/12
        ("172.15.255.255", true),
        ("172.16.0.0", false),
        ("172.20.1.1", false),
        ("172.31.255.255", false),
        ("172.32.0.0", true),
        // 192.0.0/24, 192.0.2/24
        ("191.255.255.255", true),
        ("192.0.0.0", false),
        ("192.0.0.170", false),
        ("192.0.1.1", true),
        ("192.0.2.0", false),
        ("192.0.2.255", false),
        ("192.0.3.0", true),
        ("192.31.196.1", false),
        ("192.52.193.1", false),
        ("192.88.99.1", false),
        // 192.168/16
        ("192.167.255.255", true),
        ("192.168.0.1", false),
        ("192.168.255.255", false),
        ("192.169.0.0", true),
        // 198.18/15
        ("198.17.255.255", true),
        ("198.18.0.0", false),
        ("198.19.255.255", false),
        ("198.20.0.0", true),
        // 198.51.100/24, 203.0.113/24
        ("198.51.99.255", true),
        ("198.51.100.7", false),
        ("198.51.101.0", true),
        ("203.0.112.255", true),
        ("203.0.113.9", false),
        ("203.0.114.0", true),
        // multicast, 240/4, broadcast
        ("224.0.0.1", false),
        ("239.255.255.250", false),
        ("240.0.0.1", false),
        ("255.255.255.254", false),
        ("255.255.255.255", false),
        // IPv6 public
        ("2001:4860:4860::8888", true),
        ("2606:4700::1111", true),
        ("2a00:1450::1", true),
        ("2001:200::1", true),
        ("3ffe::1", true),
        // unspecified, loopback, IPv4-compatible
        ("::", false),
        ("::1", false),
        ("::8.8.8.8", false),
        ("::10.0.0.5", false),
        // IPv4-mapped
        ("::ffff:127.0.0.1", false),
        ("::ffff:10.0.0.5", false),
        ("::ffff:169.254.169.254", false),
        ("::ffff:0.0.0.0", false),
        ("::ffff:8.8.8.8", true),
        // NAT64
        ("64:ff9b::8.8.8.8", true),
        ("64:ff9b::127.0.0.1", false),
        ("64:ff9b::10.0.0.5", false),
        ("64:ff9b::a9fe:a9fe", false),
        ("64:ff9b:1::8.8.8.8", false),
        // 6to4
        ("2002:0808:0808::1", true),
        ("2002:7f00:0001::1", false),
        ("2002:0a00:0005::1", false),
        ("2002:a9fe:a9fe::1", false),
        ("2002:c0a8:0101::1", false),
        // Teredo, benchmarking, ORCHID, documentation
        ("2001::1", false),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", false),
        ("2001:2::1", false),
        ("2001:20::1", false),
        ("2001:db8::1", false),
        ("2001:db8:ffff::1", false),
        ("2001:db9::1", true),
        ("3fff::1", false),
        ("3fff:fff::1", false),
        // ULA, link-local, site-local, multicast, discard, reserved
        ("fc00::1", false),
        ("fd12:3456::1", false),
        ("fdff:ffff::1", false),
        ("fe80::1", false),
        ("febf::1", false),
        ("fec0::1", false),
        ("ff02::1", false),
        ("ff0e::1", false),
        ("100::1", false),
        ("1000::1", false),
        ("4000::1", false),
        ("5f00::1", false),
    ];

    #[test]
    fn the_classifier_knows_every_special_range() {
        for (text, public) in TABLE {
            let ip: IpAddr = text.parse().unwrap();
            assert_eq!(is_public(ip), *public, "{text}");
        }
    }

    #[test]
    fn the_service_refuses_private_addresses_and_other_ports() {
        let g = Guard::new(Policy::service(false));
        let ten: IpAddr = "10.0.0.5".parse().unwrap();
        assert_eq!(g.check_addr(ten, false), Err(Refusal::NotPublic(ten)));
        assert_eq!(
            g.check_addr(ten, false).unwrap_err().to_string(),
            NOT_PUBLIC
        );
        assert!(g.check_addr("8.8.8.8".parse().unwrap(), true).is_ok());
        assert_eq!(g.check_port(6379, &HTTP_PORTS), Err(Refusal::Port(6379)));
        assert!(g.check_port(443, &HTTP_PORTS).is_ok());
        assert!(g.check_port(587, &MAIL_PORTS).is_ok());
        assert_eq!(g.check_port(22, &MAIL_PORTS), Err(Refusal::Port(22)));
        // A lab or intranet may allow private addresses; ports stay.
        let lab = Guard::new(Policy::service(true));
        assert!(lab.check_addr(ten, false).is_ok());
        assert!(lab.check_port(8443, &HTTP_PORTS).is_err());
    }

    #[test]
    fn the_cli_reaches_private_addresses_but_not_through_a_public_redirect() {
        let g = Guard::default();
        let home: IpAddr = "192.168.1.10".parse().unwrap();
        assert!(g.check_addr(home, false).is_ok());
        assert_eq!(
            g.check_addr(home, true),
            Err(Refusal::PrivateAfterPublic(home))
        );
        assert!(g.check_port(2525, &MAIL_PORTS).is_ok());
        for _ in 0..1000 {
            g.take_connection().unwrap();
        }
    }

    #[test]
    fn the_budget_is_shared_and_low_priority_work_leaves_a_reserve() {
        let g = Guard::new(Policy::service(false));
        let low = g.low_priority();
        let (reserve_c, reserve_q) = LOW_PRIORITY_RESERVE;
        for _ in 0..MAX_CONNECTIONS - reserve_c {
            low.take_connection().unwrap();
        }
        assert_eq!(low.take_connection(), Err(Refusal::Connections));
        for _ in 0..reserve_c {
            g.take_connection().unwrap();
        }
        assert_eq!(g.take_connection(), Err(Refusal::Connections));
        assert_eq!(g.spent().0, MAX_CONNECTIONS);

        low.take_questions(MAX_DNS_QUESTIONS - reserve_q).unwrap();
        assert_eq!(low.take_questions(1), Err(Refusal::Questions));
        g.take_questions(reserve_q).unwrap();
        assert_eq!(g.take_questions(1), Err(Refusal::Questions));
        assert!(Refusal::Questions.is_budget() && !Refusal::Port(1).is_budget());
    }

    #[test]
    fn a_question_asked_again_costs_nothing() {
        let g = Guard::new(Policy::service(false));
        for _ in 0..100 {
            g.take_questions_for("A mail.x.test", 2).unwrap();
        }
        g.take_questions_for("MX x.test", 1).unwrap();
        assert_eq!(g.spent().1, 3);
    }
}
