//! The settings page in a real browser: headless Chromium driven over
//! WebDriver (chromedriver, with the `fantoccini` crate) at an iPhone's
//! viewport (390×844) and at a desktop's (1280×900, in dark mode). It types
//! addresses as a person would — an Outlook.com address (msn.com), a
//! Microsoft 365 custom domain (found by its MX record in the lab's DNS),
//! posteo.de and a misspelt domain — reads what the page shows, follows the
//! profile link, decodes the QR code from pixels, checks that host names
//! are never broken across lines, and saves screenshots under
//! `target/serve-browser/` as artifacts. A session with JavaScript switched
//! off checks the plain-form path.
//!
//! Needs the Debian packages chromium and chromium-driver
//! (`scripts/install-deps.sh`); runs in the test lab.

mod lab;

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use lab::dns::{Dns, Record};
use lab::server::{Running, config, offline};
use mailsetup::lookup::Options;
use mailsetup::server::resolve;

/// chromedriver, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
    /// The sessions' fresh user-data directories.
    profiles: tempfile::TempDir,
}

impl Driver {
    fn start(port: u16) -> Driver {
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver runs (install chromium-driver: scripts/install-deps.sh)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            profiles: tempfile::tempdir().unwrap(),
        }
    }

    /// A new browser session; `javascript` false switches scripts off.
    async fn session(&self, javascript: bool) -> Client {
        self.session_at(javascript, Size::Phone).await
    }

    /// A new browser session at `size`.
    async fn session_at(&self, javascript: bool, size: Size) -> Client {
        let profile = self.profiles.path().join(format!(
            "{}-{}",
            if javascript { "js" } else { "nojs" },
            size.name()
        ));
        let mut prefs = serde_json::Map::new();
        if !javascript {
            prefs.insert(
                "profile.managed_default_content_settings.javascript".into(),
                2.into(),
            );
        }
        let mut args = vec![
            "--headless".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--hide-scrollbars".into(),
            format!("--user-data-dir={}", profile.display()),
        ];
        let mut options = serde_json::json!({ "binary": "/usr/bin/chromium", "prefs": prefs });
        match size {
            Size::Phone => {
                args.push("--window-size=390,844".into());
                // An iPhone 14's viewport and pixel density (headless
                // windows cannot be narrower than 500 px).
                options["mobileEmulation"] = serde_json::json!({
                    "deviceMetrics": { "width": 390, "height": 844, "pixelRatio": 3.0, "touch": true },
                    "userAgent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
                });
            }
            Size::Desktop => {
                args.push("--window-size=1280,900".into());
                // The system setting for dark mode, as a desktop may have it.
                args.push("--force-dark-mode".into());
            }
        }
        options["args"] = serde_json::json!(args);
        let caps = serde_json::json!({
            "browserName": "chrome",
            "goog:chromeOptions": options,
        });
        let serde_json::Value::Object(caps) = caps else {
            unreachable!("a JSON object literal")
        };
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("a Chromium session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The viewports the page is tried at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Size {
    /// An iPhone 14: 390×844 CSS pixels.
    Phone,
    /// A laptop: 1280×900, in dark mode.
    Desktop,
}

impl Size {
    fn name(self) -> &'static str {
        match self {
            Size::Phone => "390x844",
            Size::Desktop => "1280x900-dark",
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Where artifacts go: `target/serve-browser/`.
fn artifact_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/serve-browser");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The text of the QR code in a PNG image.
fn decode_qr(png_bytes: &[u8]) -> String {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let (w, h) = (info.width as usize, info.height as usize);
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| {
        let i = (y * w + x) * channels;
        let px = &buf[i..i + channels.min(3)];
        (px.iter().map(|&v| u32::from(v)).sum::<u32>() / px.len() as u32) as u8
    });
    let grids = img.detect_grids();
    if grids.len() != 1 {
        let path = artifact_dir().join("qr-unreadable.png");
        std::fs::write(&path, png_bytes).unwrap();
        panic!(
            "{} QR codes in the image, saved as {}",
            grids.len(),
            path.display()
        );
    }
    grids[0].decode().expect("a readable QR code").1
}

/// A screenshot of the element `css`, scrolled wholly into view first
/// (a screenshot shows only what is inside the viewport).
async fn element_png(c: &Client, css: &str) -> Vec<u8> {
    c.execute(
        "document.querySelector(arguments[0]).scrollIntoView({block: 'center'});",
        vec![serde_json::Value::String(css.to_string())],
    )
    .await
    .unwrap();
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .screenshot()
        .await
        .unwrap()
}

async fn type_address(c: &Client, address: &str) {
    let input = c.find(Locator::Id("email")).await.unwrap();
    input.clear().await.unwrap();
    input.send_keys(address).await.unwrap();
    // Enter submits the form, as on a phone's keyboard.
    input.send_keys("\u{E007}").await.unwrap();
}

async fn wait_for_heading(c: &Client, contains: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(h) = c.find(Locator::Css("#result h2")).await
            && let Ok(text) = h.text().await
            && text.contains(contains)
        {
            return text;
        }
        assert!(Instant::now() < deadline, "no answer for {contains}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

lab_test! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_person_gets_settings_profile_and_qr_code_at_phone_size() {
        let s = Running::start(config(""), offline(), "127.0.4.20").await;
        let driver = Driver::start(free_port());
        let c = driver.session(true).await;
        c.goto(&s.url("/")).await.unwrap();
        let width = c.execute("return window.innerWidth", vec![]).await.unwrap();
        assert_eq!(width, 390, "an iPhone-sized viewport");
        let label = c.find(Locator::Css("label[for=email]")).await.unwrap();
        assert!(
            !label.text().await.unwrap().is_empty(),
            "the input is labelled"
        );

        // An Outlook.com address: the built-in account type leads, with the
        // OAuth note, and the settings table is shown.
        type_address(&c, "someone@msn.com").await;
        wait_for_heading(&c, "Outlook.com").await;
        let lead = text_of(&c, "#builtin").await;
        assert!(lead.contains("built-in Outlook.com account"), "{lead}");
        let note = text_of(&c, ".note.important[data-code=oauth-required]").await;
        assert!(note.contains("Add Account › Outlook.com"), "{note}");
        let table = text_of(&c, "table.settings").await;
        assert!(table.contains("outlook.office365.com"), "{table}");
        let exchange = c.find(Locator::Id("profile-link")).await.unwrap();
        assert!(exchange.text().await.unwrap().contains("Exchange (OAuth)"));
        // The page was answered without a reload: the address is in the URL
        // for sharing, and no navigation happened.
        let url = c.current_url().await.unwrap();
        assert_eq!(url.query(), Some("email=someone%40msn.com"));

        // A provider with a password profile.
        type_address(&c, "alice@posteo.de").await;
        wait_for_heading(&c, "Posteo").await;
        let link = c.find(Locator::Id("profile-link")).await.unwrap();
        let href = link.attr("href").await.unwrap().expect("a profile link");
        assert_eq!(
            href,
            s.url("/apple/mobileconfig?emailaddress=alice%40posteo.de")
        );
        // Follow the link from inside the page, as the browser would.
        let got = c
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 fetch(arguments[0]).then(r => r.text().then(t =>
                   done([r.status, r.headers.get('content-type'), r.headers.get('content-disposition'), t])));",
                vec![serde_json::Value::String(href.clone())],
            )
            .await
            .unwrap();
        assert_eq!(got[0], 200);
        assert_eq!(got[1], "application/x-apple-aspen-config");
        assert!(
            got[2]
                .as_str()
                .unwrap()
                .contains("alice@posteo.de.mobileconfig")
        );
        assert!(got[3].as_str().unwrap().contains("com.apple.mail.managed"));
        // The QR code, as the browser drew it, opens the same link (once the
        // image has loaded).
        assert_eq!(decode_qr(&element_png(&c, "#qr svg").await), href);
        // Copy buttons are there with JavaScript.
        let copies = c.find_all(Locator::Css("button.copy")).await.unwrap();
        assert!(!copies.is_empty());
        assert!(copies[0].is_displayed().await.unwrap());
        let steps = text_of(&c, "#steps").await;
        assert!(steps.contains("posteo.de"), "{steps}");

        let shot = c.screenshot().await.unwrap();
        let path = artifact_dir().join("page-390x844-posteo.png");
        std::fs::write(&path, &shot).unwrap();
        println!("screenshot: {}", path.display());
        c.close().await.unwrap();

        // Without JavaScript the same form is answered by the server.
        let c = driver.session(false).await;
        c.goto(&s.url("/")).await.unwrap();
        type_address(&c, "alice@posteo.de").await;
        wait_for_heading(&c, "Posteo").await;
        let url = c.current_url().await.unwrap();
        assert_eq!(url.path(), "/");
        assert_eq!(url.query(), Some("email=alice%40posteo.de"));
        let table = text_of(&c, "table.settings").await;
        assert!(table.contains("posteo.de"), "{table}");
        let href = c
            .find(Locator::Id("profile-link"))
            .await
            .unwrap()
            .attr("href")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(decode_qr(&element_png(&c, "#qr svg").await), href);
        // Without JavaScript there is nothing a copy button could do.
        let copy = c.find(Locator::Css("button.copy")).await.unwrap();
        assert!(!copy.is_displayed().await.unwrap());
        let shot = c.screenshot().await.unwrap();
        let path = artifact_dir().join("page-390x844-nojs.png");
        std::fs::write(&path, &shot).unwrap();
        println!("screenshot: {}", path.display());
        c.close().await.unwrap();
        s.stop().await;
    }
}

/// Saves a screenshot of the page scrolled to `css` as `name`.
async fn shot(c: &Client, css: &str, name: &str) {
    c.execute(
        "document.querySelector(arguments[0]).scrollIntoView({block: 'start'});",
        vec![serde_json::Value::String(css.to_string())],
    )
    .await
    .unwrap();
    let png = c.screenshot().await.unwrap();
    let path = artifact_dir().join(format!("{name}.png"));
    std::fs::write(&path, &png).unwrap();
    println!("screenshot: {}", path.display());
}

/// Every exact value (host name, port, user name) is on one line: its box
/// is no taller than one line of its text.
async fn values_are_unbroken(c: &Client) {
    let broken = c
        .execute(
            "return Array.from(document.querySelectorAll('#result code.value'))
               .filter(e => e.getClientRects().length > 1
                 || e.getBoundingClientRect().height > 2 * parseFloat(getComputedStyle(e).fontSize))
               .map(e => e.textContent);",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(broken, serde_json::json!([]), "values broken across lines");
}

async fn text_of(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .unwrap()
}

lab_test! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn outlook_microsoft_365_posteo_and_a_typo_at_phone_and_desktop_size() {
        // A Microsoft 365 customer's own domain, known only by its MX record.
        let dns = Dns::start(
            "127.0.4.53",
            &[Record::mx(
                "contoso.test",
                "contoso-test.mail.protection.outlook.com",
                0,
            )],
        );
        let discover = resolve::network_discovery(
            Options {
                dns: Some(dns.addr),
                timeout: Duration::from_secs(5),
                ispdb_url: "https://ispdb.invalid/v1.1".into(),
                ..Options::default()
            },
            &Default::default(),
        );
        let s = Running::start(config(""), discover, "127.0.4.21").await;
        let driver = Driver::start(free_port());
        for size in [Size::Phone, Size::Desktop] {
            let c = driver.session_at(true, size).await;
            c.goto(&s.url("/")).await.unwrap();
            let n = size.name();

            // msn.com: the built-in Outlook.com account leads; the Exchange
            // profile's hint names the sign-in page; each note once; by hand
            // is not offered under a heading that says it works.
            type_address(&c, "someone@msn.com").await;
            wait_for_heading(&c, "Outlook.com").await;
            let lead = text_of(&c, "#builtin").await;
            assert!(lead.contains("built-in Outlook.com account"), "{lead}");
            let hint = text_of(&c, "#profile-hint").await;
            assert!(hint.contains("opens Outlook.com's sign-in page"), "{hint}");
            assert!(!hint.contains("asks for the password"), "{hint}");
            let oauth_notes = c
                .find_all(Locator::Css("[data-code=oauth-required]"))
                .await
                .unwrap();
            assert_eq!(oauth_notes.len(), 1, "each note once");
            let steps = text_of(&c, "#steps").await;
            assert!(!steps.contains("Set it up by hand"), "{steps}");
            let first = text_of(&c, "#steps-built-in ol li").await;
            assert!(first.contains("Add Account › Outlook.com"), "{first}");
            values_are_unbroken(&c).await;
            shot(&c, "#result h2", &format!("msn-{n}")).await;
            shot(&c, "#steps", &format!("msn-steps-{n}")).await;

            // A Microsoft 365 domain: the iPhone's account type is Microsoft
            // Exchange (there is no "Microsoft 365" account type).
            type_address(&c, "alex@contoso.test").await;
            wait_for_heading(&c, "Microsoft 365").await;
            let lead = text_of(&c, "#builtin").await;
            assert!(
                lead.contains("built-in Microsoft Exchange account"),
                "{lead}"
            );
            assert!(!lead.contains("built-in Microsoft 365"), "{lead}");
            values_are_unbroken(&c).await;
            shot(&c, "#result h2", &format!("m365-{n}")).await;

            // posteo.de: a profile, steps as ordered lists with labelled rows.
            type_address(&c, "alice@posteo.de").await;
            wait_for_heading(&c, "Posteo").await;
            let rows = c
                .find_all(Locator::Css("#steps-by-hand ol > li dl.fields .field dt"))
                .await
                .unwrap();
            let mut labels = Vec::new();
            for r in rows {
                labels.push(r.text().await.unwrap());
            }
            for want in ["Email", "Host Name", "User Name", "Server Port", "Use SSL"] {
                assert!(labels.iter().any(|l| l == want), "{want} in {labels:?}");
            }
            values_are_unbroken(&c).await;
            shot(&c, "#result h2", &format!("posteo-{n}")).await;
            shot(&c, "#steps", &format!("posteo-steps-{n}")).await;

            // A misspelt domain: an answer for people, not for programs.
            type_address(&c, "someone@gmial.test").await;
            let deadline = Instant::now() + Duration::from_secs(15);
            let error = loop {
                if let Ok(e) = c.find(Locator::Css("#result .error")).await {
                    break e.text().await.unwrap();
                }
                assert!(Instant::now() < deadline, "no answer for the typo");
                tokio::time::sleep(Duration::from_millis(50)).await;
            };
            assert!(error.contains("Check the spelling"), "{error}");
            assert!(!error.contains("tried"), "{error}");
            shot(&c, "#result", &format!("typo-{n}")).await;
            c.close().await.unwrap();
        }
        s.stop().await;
    }
}
