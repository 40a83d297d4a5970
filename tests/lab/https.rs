//! The lab's web servers: HTTPS (with the lab CA's certificates) or plain
//! HTTP, serving autoconfig files, an ISPDB, redirects and fake Autodiscover
//! responders, and recording every request they get — so a test can prove
//! what was (and was not) asked, and that no credentials were sent.
//!
//! Each server runs on its own thread and runtime, so a test can run the
//! `mailsetup` binary synchronously while the server answers.
//!
//! ```ignore
//! let web = Web::start("127.0.1.11", 443, Some(&leaf), vec![
//!     Route::get("autoconfig.a.test", "/mail/config-v1.1.xml", Reply::xml(CONFIG)),
//! ]);
//! // ... run mailsetup ...
//! assert!(web.requests().iter().all(|r| r.authorization.is_none()));
//! ```

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::Frame;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

use super::{Leaf, TestCa};

/// What a route answers.
#[derive(Clone, Debug)]
pub enum Reply {
    /// 200 with this body.
    Body(&'static str, String),
    /// A redirect (301, 302, 307, 308) to this location.
    Redirect(u16, String),
    /// A bare status.
    Status(u16),
    /// A status with a `WWW-Authenticate` challenge (401).
    Challenge(u16, &'static str),
    /// 200 with this many bytes of `<`, streamed without a length.
    Huge(usize),
    /// Never answers (the connection stays open).
    Never,
}

impl Reply {
    /// 200 with an XML body.
    pub fn xml(body: impl Into<String>) -> Reply {
        Reply::Body("text/xml", body.into())
    }
}

/// One route: a host (from the Host header, `*` for any), an optional
/// method, a path (without the query), and the reply.
#[derive(Clone, Debug)]
pub struct Route {
    host: String,
    method: Option<&'static str>,
    path: String,
    reply: Reply,
}

impl Route {
    /// Any method.
    pub fn any(host: &str, path: &str, reply: Reply) -> Route {
        Route {
            host: host.into(),
            method: None,
            path: path.into(),
            reply,
        }
    }
    /// GET only.
    pub fn get(host: &str, path: &str, reply: Reply) -> Route {
        Route {
            method: Some("GET"),
            ..Route::any(host, path, reply)
        }
    }
    /// POST only.
    pub fn post(host: &str, path: &str, reply: Reply) -> Route {
        Route {
            method: Some("POST"),
            ..Route::any(host, path, reply)
        }
    }
}

/// A request as received.
#[derive(Clone, Debug)]
pub struct Seen {
    /// GET, POST, ….
    pub method: String,
    /// The Host header, without a port.
    pub host: String,
    /// Path and query.
    pub target: String,
    /// The Authorization header, if any (must never be there).
    pub authorization: Option<String>,
    /// Every header name.
    pub header_names: Vec<String>,
    /// The body.
    pub body: String,
}

struct State {
    routes: Vec<Route>,
    delay: Duration,
    seen: Mutex<Vec<Seen>>,
}

/// A running web server.
pub struct Web {
    /// Where it listens.
    pub addr: SocketAddr,
    state: Arc<State>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestCa {
    /// An HTTPS server on `ip`, port 443, with a certificate of this CA for
    /// `names`, serving `routes`.
    pub fn web(&self, ip: &str, names: &[&str], routes: Vec<Route>) -> Web {
        self.web_delayed(ip, names, routes, Duration::ZERO)
    }

    /// Like [`TestCa::web`], answering every request only after `delay`.
    pub fn web_delayed(
        &self,
        ip: &str,
        names: &[&str],
        routes: Vec<Route>,
        delay: Duration,
    ) -> Web {
        Web::start_delayed(ip, 443, Some(&self.issue(names)), routes, delay)
    }
}

impl Web {
    /// Serves `routes` on `ip:port`, over TLS with `leaf` when given.
    pub fn start(ip: &str, port: u16, leaf: Option<&Leaf>, routes: Vec<Route>) -> Web {
        Web::start_delayed(ip, port, leaf, routes, Duration::ZERO)
    }

    /// Like [`Web::start`], answering every request only after `delay`.
    pub fn start_delayed(
        ip: &str,
        port: u16,
        leaf: Option<&Leaf>,
        routes: Vec<Route>,
        delay: Duration,
    ) -> Web {
        super::require();
        let addr: SocketAddr = format!("{ip}:{port}").parse().expect("an IP address");
        let tls = leaf.map(|l| tokio_rustls::TlsAcceptor::from(l.server_config()));
        let state = Arc::new(State {
            routes,
            delay,
            seen: Mutex::new(Vec::new()),
        });
        let st = state.clone();
        let (stop_tx, thread) = super::spawn_listener(addr, "the web server", move |listener| {
            accept_loop(listener, tls, st)
        });
        Web {
            addr,
            state,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }
}

impl Drop for Web {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    state: Arc<State>,
) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let tls = tls.clone();
        let state = state.clone();
        tokio::spawn(async move {
            match tls {
                Some(acceptor) => {
                    if let Ok(s) = acceptor.accept(tcp).await {
                        serve(s, state).await;
                    }
                }
                None => serve(tcp, state).await,
            }
        });
    }
}

async fn serve<S>(stream: S, state: Arc<State>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(move |req| handle(state.clone(), req));
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), svc)
        .await;
}

type Body = BoxBody<Bytes, Infallible>;

async fn handle(
    state: Arc<State>,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Body>, Infallible> {
    let header = |name: hyper::header::HeaderName| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let host = header(hyper::header::HOST).unwrap_or_default();
    let host = host
        .split(':')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let method = req.method().to_string();
    let target = req
        .uri()
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    let path = req.uri().path().to_string();
    let authorization = header(hyper::header::AUTHORIZATION);
    let header_names = req.headers().keys().map(|k| k.to_string()).collect();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
        .unwrap_or_default();
    state.seen.lock().unwrap().push(Seen {
        method: method.clone(),
        host: host.clone(),
        target,
        authorization,
        header_names,
        body,
    });
    tokio::time::sleep(state.delay).await;
    let route = state.routes.iter().find(|r| {
        (r.host == "*" || r.host == host) && r.path == path && r.method.is_none_or(|m| m == method)
    });
    let reply = route.map(|r| r.reply.clone()).unwrap_or(Reply::Status(404));
    Ok(respond(reply).await)
}

async fn respond(reply: Reply) -> Response<Body> {
    let full = |s: String| Full::new(Bytes::from(s)).boxed();
    match reply {
        Reply::Body(ct, body) => Response::builder()
            .header("content-type", ct)
            .body(full(body))
            .unwrap(),
        Reply::Redirect(code, to) => Response::builder()
            .status(code)
            .header("location", to)
            .body(full(String::new()))
            .unwrap(),
        Reply::Status(code) => Response::builder()
            .status(StatusCode::from_u16(code).unwrap())
            .body(full(String::new()))
            .unwrap(),
        Reply::Challenge(code, challenge) => Response::builder()
            .status(StatusCode::from_u16(code).unwrap())
            .header("www-authenticate", challenge)
            .body(full(String::new()))
            .unwrap(),
        Reply::Huge(n) => {
            let chunk = Bytes::from(vec![b'<'; 64 * 1024]);
            let count = n.div_ceil(chunk.len());
            let stream = futures::stream::iter(
                (0..count).map(move |_| Ok::<_, Infallible>(Frame::data(chunk.clone()))),
            );
            Response::builder()
                .header("content-type", "text/xml")
                .body(BodyExt::boxed(StreamBody::new(stream)))
                .unwrap()
        }
        Reply::Never => std::future::pending().await,
    }
}
