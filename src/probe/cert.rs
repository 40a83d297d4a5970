//! Reading a server certificate for the report: the names it is valid for,
//! its subject and issuer, its validity dates. Parsing only (x509-parser);
//! whether the certificate is *valid* is decided by webpki in
//! [`super::tls`], never here.

use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

/// What a certificate says about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CertInfo {
    /// DNS names and IP addresses of the subjectAltName extension; the
    /// subject's common name only when there is no such extension (which
    /// RFC 7817 §3 clients no longer accept, but users want to see).
    pub names: Vec<String>,
    pub subject: String,
    pub issuer: String,
    pub not_before: i64,
    pub not_after: i64,
    pub self_signed: bool,
}

/// The most names listed from one certificate.
const MAX_NAMES: usize = 50;

/// Reads a DER certificate; `None` when it does not parse.
pub(crate) fn describe(der: &[u8]) -> Option<CertInfo> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let mut names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for n in &san.value.general_names {
            match n {
                GeneralName::DNSName(d) => names.push(super::wire::clean(d, 253)),
                GeneralName::IPAddress(ip) => {
                    if let Some(ip) = ip_from_bytes(ip) {
                        names.push(ip);
                    }
                }
                _ => {}
            }
            if names.len() == MAX_NAMES {
                break;
            }
        }
    } else {
        for cn in cert.subject().iter_common_name().take(MAX_NAMES) {
            if let Ok(s) = cn.as_str() {
                names.push(super::wire::clean(s, 253));
            }
        }
    }
    let subject = super::wire::clean(&cert.subject().to_string(), 300);
    let issuer = super::wire::clean(&cert.issuer().to_string(), 300);
    Some(CertInfo {
        names,
        self_signed: cert.subject().as_raw() == cert.issuer().as_raw(),
        subject,
        issuer,
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
    })
}

fn ip_from_bytes(b: &[u8]) -> Option<String> {
    match b.len() {
        4 => Some(std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string()),
        16 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(b);
            Some(std::net::Ipv6Addr::from(a).to_string())
        }
        _ => None,
    }
}

/// A Unix time as RFC 3339 UTC (`2027-01-01T00:00:00Z`).
pub fn rfc3339(ts: i64) -> String {
    let days = ts.div_euclid(86_400);
    let secs = ts.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian
/// calendar: Howard Hinnant's `civil_from_days`, a dozen lines that spare
/// a date crate.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_798_761_599), "2026-12-31T23:59:59Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
        assert_eq!(rfc3339(253_402_300_799), "9999-12-31T23:59:59Z");
    }

    #[test]
    fn garbage_is_not_a_certificate() {
        assert!(describe(b"").is_none());
        assert!(describe(b"\x30\x82\xff\xff").is_none());
        assert!(describe(&[0x30; 5000]).is_none());
    }

    #[test]
    fn names_issuer_and_dates_are_read() {
        let mut p = rcgen::CertificateParams::new(vec![
            "imap.example.test".to_string(),
            "127.0.0.9".to_string(),
        ])
        .unwrap();
        p.not_after = rcgen::date_time_ymd(2030, 6, 1);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = p.self_signed(&key).unwrap();
        let info = describe(cert.der()).unwrap();
        assert_eq!(info.names, ["imap.example.test", "127.0.0.9"]);
        assert!(info.self_signed);
        assert_eq!(rfc3339(info.not_after), "2030-06-01T00:00:00Z");
    }
}
