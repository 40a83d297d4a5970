//! The floor for the serve benchmark (`bench/serve.sh`): a bare axum
//! server on the same runtime and HTTP stack as `mailsetup serve`, that
//! answers every GET and POST with a fixed body. Whatever latency this
//! shows is the machine's, not the program's.
//!
//! ```sh
//! cargo run --release --example serve_bare -- 127.0.0.1:18082
//! ```

use axum::Router;
use axum::routing::any;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18082".to_string());
    let app = Router::new().fallback(any(|| async {
        (
            [("content-type", "application/xml")],
            "<?xml version=\"1.0\"?><clientConfig version=\"1.1\"/>\n",
        )
    }));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("serve_bare: listening on http://{addr}");
    axum::serve(listener, app).await
}
