//! Tests of the Autodiscover (POX) response parser: real-shaped answers,
//! redirects, and hostile input (DTDs, entities, depth, size).

use super::*;
use crate::autodiscover::request::request;

const SETTINGS: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">
  <Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a">
    <Account>
      <AccountType>email</AccountType>
      <Action>settings</Action>
      <Protocol>
        <Type>EXCH</Type><Server>ex.example.test</Server>
      </Protocol>
      <Protocol>
        <Type>IMAP</Type>
        <Server>IMAP.Example.test</Server>
        <Port>993</Port>
        <LoginName>jane</LoginName>
        <SPA>off</SPA>
        <SSL>on</SSL>
        <AuthRequired>on</AuthRequired>
      </Protocol>
      <Protocol>
        <Type>POP3</Type><Server>pop.example.test</Server><Port>110</Port><SSL>off</SSL>
      </Protocol>
      <Protocol>
        <Type>SMTP</Type>
        <Server>smtp.example.test</Server>
        <Port>587</Port>
        <SSL>on</SSL>
        <SPA>on</SPA>
        <Encryption>TLS</Encryption>
        <DomainRequired>on</DomainRequired>
        <DomainName>CORP</DomainName>
      </Protocol>
    </Account>
  </Response>
</Autodiscover>"#;

fn jane() -> EmailAddress {
    "jane+tag@example.test".parse().unwrap()
}

#[test]
fn the_request_names_the_address_and_the_outlook_schema() {
    let r = request("a<b@example.test");
    assert!(r.contains("<EMailAddress>a&lt;b@example.test</EMailAddress>"));
    assert!(r.contains("outlook/responseschema/2006a"));
    assert!(matches!(
        parse(r.as_bytes()),
        Err(PoxError::NotAutodiscover(..) | PoxError::Unusable(_))
    ));
}

#[test]
fn settings_become_servers() {
    let PoxResponse::Settings(p) = parse(SETTINGS.as_bytes()).unwrap() else {
        panic!("settings expected")
    };
    assert_eq!(p.len(), 4);
    let s = to_settings(&p, &jane(), Trust::Verified).unwrap();
    let urls: Vec<String> = s.incoming.iter().map(|s| s.url().to_string()).collect();
    assert_eq!(
        urls,
        [
            "imaps://imap.example.test:993",
            "pop3://pop.example.test:110?security=none"
        ]
    );
    assert_eq!(s.incoming[0].username, "jane");
    assert_eq!(s.incoming[0].auth, [AuthMethod::Password]);
    assert_eq!(s.incoming[1].username, "jane@example.test", "no LoginName");
    let smtp = &s.outgoing[0];
    assert_eq!(smtp.url().to_string(), "smtp://smtp.example.test:587");
    assert_eq!(smtp.auth, [AuthMethod::Ntlm]);
    assert_eq!(smtp.username, "CORP\\jane@example.test");
    assert_eq!(s.source, Source::Autodiscover);
}

#[test]
fn redirects_and_errors_are_recognised() {
    let addr = r#"<Autodiscover><Response><Account><Action>redirectAddr</Action>
        <RedirectAddr>jane@mail.example.test</RedirectAddr></Account></Response></Autodiscover>"#;
    assert_eq!(
        parse(addr.as_bytes()).unwrap(),
        PoxResponse::RedirectAddr("jane@mail.example.test".into())
    );
    let url = r#"<a:Autodiscover xmlns:a="x"><a:Response><a:Account><a:Action>redirectUrl</a:Action>
        <a:RedirectUrl>https://ad.example.test/autodiscover/autodiscover.xml</a:RedirectUrl></a:Account></a:Response></a:Autodiscover>"#;
    assert_eq!(
        parse(url.as_bytes()).unwrap(),
        PoxResponse::RedirectUrl("https://ad.example.test/autodiscover/autodiscover.xml".into())
    );
    let err = r#"<Autodiscover><Response><Error Time="1" Id="2"><ErrorCode>500</ErrorCode>
        <Message>The e-mail address cannot be found.</Message></Error></Response></Autodiscover>"#;
    assert_eq!(
        parse(err.as_bytes()).unwrap(),
        PoxResponse::Error("The e-mail address cannot be found.".into())
    );
}

#[test]
fn entities_are_limited_to_the_predefined_ones() {
    let ok = r#"<Autodiscover><Response><Account><Protocol><Type>IMAP</Type>
        <Server>imap.ex&#97;mple.test</Server><LoginName>a&amp;b</LoginName></Protocol></Account></Response></Autodiscover>"#;
    let PoxResponse::Settings(p) = parse(ok.as_bytes()).unwrap() else {
        panic!()
    };
    assert_eq!(p[0].server.as_deref(), Some("imap.example.test"));
    assert_eq!(p[0].login_name.as_deref(), Some("a&b"));
    let unknown = ok.replace("&amp;", "&nbsp;");
    assert!(parse(unknown.as_bytes()).is_err());
}

#[test]
fn a_dtd_is_refused_so_entity_bombs_cannot_expand() {
    let bomb = r#"<?xml version="1.0"?>
<!DOCTYPE Autodiscover [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>
<Autodiscover><Response><Account><Protocol><Type>IMAP</Type><Server>&b;</Server></Protocol></Account></Response></Autodiscover>"#;
    let e = parse(bomb.as_bytes()).unwrap_err();
    assert!(e.to_string().contains("DOCTYPE"), "{e}");
}

#[test]
fn malformed_oversized_and_deep_inputs_are_errors() {
    for bad in [
        "",
        "<",
        "not xml at all",
        "<html><body>It works!</body></html>",
        "<Autodiscover><Response>",
        "<Autodiscover></Autodiscover>",
        "<Autodiscover><Response><Account><Action>redirectAddr</Action></Account></Response></Autodiscover>",
        "<Autodiscover><a></b></Autodiscover>",
    ] {
        assert!(parse(bad.as_bytes()).is_err(), "{bad:?}");
    }
    assert!(matches!(
        parse(&[0xff, 0xfe, 0x00]),
        Err(PoxError::NotUtf8(Document::Response))
    ));
    let big = vec![b' '; MAX_XML_BYTES + 1];
    assert_eq!(
        parse(&big),
        Err(PoxError::TooLarge(Document::Response, MAX_XML_BYTES))
    );
    let deep = format!(
        "<Autodiscover>{}{}</Autodiscover>",
        "<a>".repeat(1000),
        "</a>".repeat(1000)
    );
    let e = parse(deep.as_bytes()).unwrap_err();
    assert_eq!(e, PoxError::TooDeep(Document::Response));
    assert!(e.to_string().contains("deeper than"), "{e}");
}

#[test]
fn unusable_protocols_give_no_settings() {
    let p = vec![
        PoxProtocol {
            kind: "EXCH".into(),
            server: Some("ex.example.test".into()),
            ..Default::default()
        },
        PoxProtocol {
            kind: "IMAP".into(),
            server: Some("imap.example.test".into()),
            port: Some("99999".into()),
            ..Default::default()
        },
        PoxProtocol {
            kind: "IMAP".into(),
            server: Some("bad..host".into()),
            ..Default::default()
        },
        PoxProtocol {
            kind: "SMTP".into(),
            server: None,
            ..Default::default()
        },
    ];
    assert!(to_settings(&p, &jane(), Trust::Verified).is_none());
}

#[test]
fn security_follows_encryption_then_ssl_then_port() {
    let proto = |port: Option<&str>, ssl: Option<&str>, enc: Option<&str>| PoxProtocol {
        kind: "IMAP".into(),
        server: Some("imap.example.test".into()),
        port: port.map(Into::into),
        ssl: ssl.map(Into::into),
        encryption: enc.map(Into::into),
        ..Default::default()
    };
    let sec = |p: PoxProtocol| {
        let s = p.to_server(&jane()).unwrap();
        (s.security, s.port)
    };
    assert_eq!(sec(proto(None, None, None)), (Security::Tls, 993));
    assert_eq!(
        sec(proto(Some("143"), Some("on"), None)),
        (Security::Starttls, 143)
    );
    assert_eq!(
        sec(proto(Some("143"), Some("off"), None)),
        (Security::None, 143)
    );
    assert_eq!(
        sec(proto(Some("993"), Some("off"), Some("SSL"))),
        (Security::Tls, 993)
    );
    assert_eq!(
        sec(proto(None, None, Some("TLS"))),
        (Security::Starttls, 143)
    );
    assert_eq!(
        sec(proto(Some("993"), None, Some("Auto"))),
        (Security::Tls, 993)
    );
}
