//! Reading a server certificate for the report: the names it is valid for,
//! its subject and issuer, its validity dates. Parsing only (x509-cert, the
//! same parser that signs profiles); whether the certificate is *valid* is
//! decided by webpki in [`super::tls`], never here.

use const_oid::ObjectIdentifier;
use const_oid::db::rfc3280;
use const_oid::db::rfc4519::{self, CN};
use der::asn1::{Ia5StringRef, PrintableStringRef, TeletexStringRef, Utf8StringRef};
use der::{Decode, Encode};
use x509_cert::Certificate;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::name::Name;

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
    let cert = Certificate::from_der(der).ok()?;
    let tbs = &cert.tbs_certificate;
    let mut names = Vec::new();
    if let Ok(Some((_, san))) = tbs.get::<SubjectAltName>() {
        for n in &san.0 {
            match n {
                GeneralName::DnsName(d) => names.push(super::wire::clean(d.as_str(), 253)),
                GeneralName::IpAddress(ip) => {
                    if let Some(ip) = ip_from_bytes(ip.as_bytes()) {
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
        for cn in common_names(&tbs.subject).take(MAX_NAMES) {
            names.push(super::wire::clean(&cn, 253));
        }
    }
    let unix = |t: x509_cert::time::Time| {
        i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
    };
    Some(CertInfo {
        names,
        self_signed: tbs.subject == tbs.issuer,
        subject: super::wire::clean(&name_text(&tbs.subject), 300),
        issuer: super::wire::clean(&name_text(&tbs.issuer), 300),
        not_before: unix(tbs.validity.not_before),
        not_after: unix(tbs.validity.not_after),
    })
}

/// A distinguished name in the order the certificate lists it
/// (`C=DE, O=Example, CN=mail.example.com`), as people read it in
/// certificate viewers; values are escaped per RFC 4514.
///
/// Written here, not with x509-cert's `Display`: that one looks each
/// attribute up in const-oid's database of over a thousand names, and the
/// database's pointers would be fixed up by the loader at every start of
/// the program (bench/lookup.sh) to print the dozen a certificate uses.
/// The format is the same: RFC 4514 escaping, `+` within a relative name,
/// and an attribute without a known name or a string value as
/// `OID=#` and its DER in hex.
fn name_text(name: &Name) -> String {
    let mut out = String::new();
    for (i, rdn) in name.0.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        for (j, atv) in rdn.0.iter().enumerate() {
            if j > 0 {
                out.push('+');
            }
            attribute_text(&mut out, &atv.oid, &atv.value);
        }
    }
    out
}

/// The short names of the attributes server certificates use.
const ATTRIBUTE_NAMES: [(ObjectIdentifier, &str); 11] = [
    (rfc4519::CN, "CN"),
    (rfc4519::C, "C"),
    (rfc4519::L, "L"),
    (rfc4519::ST, "ST"),
    (rfc4519::STREET, "STREET"),
    (rfc4519::O, "O"),
    (rfc4519::OU, "OU"),
    (rfc4519::SERIAL_NUMBER, "SERIALNUMBER"),
    (rfc4519::DC, "DC"),
    (rfc4519::UID, "UID"),
    (rfc3280::EMAIL_ADDRESS, "EMAILADDRESS"),
];

fn attribute_text(out: &mut String, oid: &ObjectIdentifier, value: &der::Any) {
    use std::fmt::Write as _;
    let key = ATTRIBUTE_NAMES
        .iter()
        .find(|(o, _)| o == oid)
        .map(|(_, k)| *k);
    match (key, string_value(value)) {
        (Some(key), Some(val)) => {
            out.push_str(key);
            out.push('=');
            let mut chars = val.char_indices().peekable();
            while let Some((i, c)) = chars.next() {
                match c {
                    '#' if i == 0 => out.push_str("\\#"),
                    ' ' if i == 0 || chars.peek().is_none() => out.push_str("\\ "),
                    '"' | '+' | ',' | ';' | '<' | '>' | '\\' => {
                        out.push('\\');
                        out.push(c);
                    }
                    '\x00'..='\x1f' | '\x7f' => {
                        let _ = write!(out, "\\{:02x}", c as u8);
                    }
                    _ => out.push(c),
                }
            }
        }
        _ => {
            let _ = write!(out, "{oid}=#");
            for b in value.to_der().unwrap_or_default() {
                let _ = write!(out, "{b:02x}");
            }
        }
    }
}

/// An attribute value in one of the string types names use.
fn string_value(v: &der::Any) -> Option<&str> {
    v.decode_as::<Utf8StringRef<'_>>()
        .map(|s| s.as_str())
        .or_else(|_| v.decode_as::<PrintableStringRef<'_>>().map(|s| s.as_str()))
        .or_else(|_| v.decode_as::<Ia5StringRef<'_>>().map(|s| s.as_str()))
        .or_else(|_| v.decode_as::<TeletexStringRef<'_>>().map(|s| s.as_str()))
        .ok()
}

/// The subject's common names, in the string types certificates use.
fn common_names(name: &Name) -> impl Iterator<Item = String> + '_ {
    name.0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .filter(|atv| atv.oid == CN)
        .filter_map(|atv| string_value(&atv.value).map(str::to_string))
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

/// A Unix time as RFC 3339 UTC (`2027-01-01T00:00:00Z`); a time outside
/// the years 0000–9999 is shown as the seconds it is.
pub fn rfc3339(ts: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ts)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("@{ts}"))
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
    fn names_read_as_x509_cert_writes_them_without_its_database() {
        let mut p = rcgen::CertificateParams::new(vec!["imap.example.test".into()]).unwrap();
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::CountryName, "DE");
        dn.push(rcgen::DnType::OrganizationName, "Mail, \"Inc.\" <+;\\>");
        dn.push(rcgen::DnType::OrganizationalUnitName, "#1 team ");
        dn.push(rcgen::DnType::CommonName, " imap\u{7}.example.test");
        dn.push(rcgen::DnType::CustomDnType(vec![1, 2, 3, 4]), "other");
        p.distinguished_name = dn;
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = p.self_signed(&key).unwrap();
        let parsed = Certificate::from_der(cert.der()).unwrap();
        let subject = &parsed.tbs_certificate.subject;
        // x509-cert's own text, which the test binary may link.
        let reference: Vec<String> = subject.0.iter().map(ToString::to_string).collect();
        let text = name_text(subject);
        assert_eq!(text, reference.join(", "));
        assert!(
            text.contains("O=Mail\\, \\\"Inc.\\\" \\<\\+\\;\\\\\\>"),
            "{text}"
        );
        assert!(text.contains("OU=\\#1 team\\ "), "{text}");
        assert!(text.contains("1.2.3.4=#"), "{text}");
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
