//! Checks that the test lab itself works: the namespace, loopback addresses,
//! and the throwaway CA, so a broken lab fails here first and clearly.

mod lab;

use std::net::SocketAddr;

#[tokio::test]
async fn test_ca_issues_certificates_that_the_program_trusts() {
    let ca = lab::TestCa::new();
    let leaf = ca.issue(&["imap.lab.test", "127.0.9.1"]);
    let acceptor = tokio_rustls::TlsAcceptor::from(leaf.server_config());
    let client = mailsetup::net::tls::client_config(Some(&ca.ca_file())).unwrap();
    let connector = tokio_rustls::TlsConnector::from(client);
    let (a, b) = tokio::io::duplex(64 * 1024);
    tokio::spawn(async move { acceptor.accept(b).await.map(|_| ()) });
    let name = rustls::pki_types::ServerName::try_from("imap.lab.test").unwrap();
    connector
        .connect(name, a)
        .await
        .expect("handshake with a lab certificate");

    // Without --ca-file the same certificate is refused.
    let plain = tokio_rustls::TlsConnector::from(mailsetup::net::tls::client_config(None).unwrap());
    let acceptor = tokio_rustls::TlsAcceptor::from(leaf.server_config());
    let (a, b) = tokio::io::duplex(64 * 1024);
    tokio::spawn(async move { acceptor.accept(b).await.map(|_| ()) });
    let name = rustls::pki_types::ServerName::try_from("imap.lab.test").unwrap();
    assert!(
        plain.connect(name, a).await.is_err(),
        "an unknown CA must be refused"
    );
}

lab_test! {
    #[tokio::test]
    async fn lab_has_every_loopback_address_and_privileged_ports() {
        // Standard ports on addresses other than 127.0.0.1: only possible in the
        // lab's own namespace, as root.
        let addr: SocketAddr = "127.0.9.9:993".parse().unwrap();
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .expect("bind 127.0.9.9:993 in the lab");
        let accept = tokio::spawn(async move { listener.accept().await.map(|_| ()) });
        tokio::net::TcpStream::connect(addr)
            .await
            .expect("connect inside the lab");
        accept.await.unwrap().unwrap();
    }
}

lab_test! {
    #[tokio::test]
    async fn lab_dns_answers_its_records_and_nothing_else() {
        use hickory_resolver::config::{NameServerConfig, ResolverConfig};
        use lab::dns::{Dns, Record};
        let dns = Dns::start(
            "127.0.9.53",
            &[
                Record::a("imap.selftest.test", "127.0.9.10"),
                Record::mx("selftest.test", "mx.selftest.test", 10),
            ],
        );
        let config = ResolverConfig::from_name_servers(vec![NameServerConfig::udp(dns.addr.ip())]);
        let resolver = hickory_resolver::Resolver::builder_with_config(
            config,
            hickory_resolver::net::runtime::TokioRuntimeProvider::default(),
        )
        .build()
        .unwrap();
        let ips = resolver.lookup_ip("imap.selftest.test.").await.unwrap();
        assert_eq!(ips.iter().next().unwrap().to_string(), "127.0.9.10");
        let mx = resolver.mx_lookup("selftest.test.").await.unwrap();
        let names: Vec<String> = mx.answers().iter().map(|r| r.data.to_string()).collect();
        assert!(
            names.iter().any(|n| n.contains("mx.selftest.test")),
            "{names:?}"
        );
        assert!(resolver.lookup_ip("nothing.selftest.test.").await.is_err());
    }
}

lab_test! {
    /// A scenario wires DNS, certificates, HTTPS and a greeter together, and
    /// `lookup` finds the domain's own autoconfig file through them.
    fn a_scenario_serves_dns_https_and_a_greeter_to_lookup() {
        use lab::https::{Reply, Route};
        use lab::scenario::Scenario;
        // One host for both, as a small provider's.
        let config = lab::autoconfig::Autoconfig::new("scenario.test")
            .smtp("imap.scenario.test", 465, "SSL")
            .xml();
        let lab = Scenario::new("127.0.9.20")
            .https(
                1,
                &["autoconfig.scenario.test"],
                vec![Route::get(
                    "autoconfig.scenario.test",
                    "/mail/config-v1.1.xml",
                    Reply::xml(config),
                )],
            )
            .greeter(2, &["imap.scenario.test"], 993, "* OK")
            .start();
        let run = lab.lookup("jane@scenario.test", &[]);
        assert_eq!(run.code, Some(0), "{}\n{}", run.json, run.stderr);
        assert_eq!(run.json["source"], "autoconfig");
        assert_eq!(run.json["trust"], "verified");
        assert_eq!(
            run.json["incoming"][0]["url"],
            "imaps://imap.scenario.test:993"
        );
        assert_eq!(lab.webs[0].requests().len(), 1);
        let _ = lab.ip(2);
    }
}
