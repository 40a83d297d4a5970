//! The floor for the serve benchmark (`bench/serve.sh`): a bare axum
//! server on the same runtime and HTTP stack as `mailsetup serve`, that
//! answers every GET with one fixed body and every POST with another,
//! after reading the POST's body as any Autodiscover server must.
//! Whatever latency this shows is the machine's, not the program's.
//!
//! The bodies are files, so the benchmark can hand it the very bytes
//! mailsetup answers with: the floor then moves as many bytes per request
//! as the server measured against it, and what remains of the difference
//! is the work mailsetup does per request. Without files it answers a
//! short autoconfig document.
//!
//! ```sh
//! cargo run --release --example serve_bare -- 127.0.0.1:18082 [GET_BODY POST_BODY]
//! ```

use axum::Router;
use axum::body::Bytes;
use axum::routing::get;

/// The same allocator as `mailsetup` (src/main.rs), so the difference is
/// the program's work, not the allocator's.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SHORT: &[u8] = b"<?xml version=\"1.0\"?><clientConfig version=\"1.1\"/>\n";

fn body(path: Option<String>) -> std::io::Result<Bytes> {
    match path {
        Some(p) => Ok(Bytes::from(std::fs::read(p)?)),
        None => Ok(Bytes::from_static(SHORT)),
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:18082".to_string());
    let get_body = body(args.next())?;
    let post_body = body(args.next())?;
    let xml = [("content-type", "application/xml")];
    let app = Router::new().fallback(
        get(move || async move { (xml, get_body) })
            .post(move |_request: Bytes| async move { (xml, post_body) }),
    );
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("serve_bare: listening on http://{addr}");
    axum::serve(listener, app).await
}
