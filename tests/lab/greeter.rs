//! The lab's minimal mail servers for guessing: each accepts connections on
//! one address and port, optionally does a TLS handshake with a lab
//! certificate, sends one greeting line, and records every byte the client
//! sends afterwards — so a test can prove that guessing never logs in.
//!
//! Real IMAP/POP3/SMTP servers (dovecot) are for the probe tests; guessing
//! only needs a greeting.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::Leaf;

/// A running greeter.
pub struct Greeter {
    /// Where it listens.
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<u8>>>,
    connections: Arc<Mutex<usize>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Greeter {
    /// Greets with `greeting` on `ip:port`, over TLS with `leaf` when given,
    /// after `delay` (before the handshake, like a slow network).
    pub fn start(
        ip: &str,
        port: u16,
        leaf: Option<&Leaf>,
        greeting: &str,
        delay: Duration,
    ) -> Greeter {
        super::require();
        let addr: SocketAddr = format!("{ip}:{port}").parse().expect("an IP address");
        let tls = leaf.map(|l| tokio_rustls::TlsAcceptor::from(l.server_config()));
        let greeting = format!("{greeting}\r\n");
        let received = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(Mutex::new(0));
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (rx, conns) = (received.clone(), connections.clone());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .unwrap_or_else(|e| panic!("bind {addr}: {e}"));
                ready_tx.send(()).unwrap();
                let serve = async move {
                    loop {
                        let Ok((tcp, _)) = listener.accept().await else {
                            continue;
                        };
                        *conns.lock().unwrap() += 1;
                        let (tls, greeting, rx) = (tls.clone(), greeting.clone(), rx.clone());
                        tokio::spawn(async move {
                            tokio::time::sleep(delay).await;
                            match tls {
                                Some(a) => {
                                    if let Ok(s) = a.accept(tcp).await {
                                        talk(s, &greeting, &rx).await;
                                    }
                                }
                                None => talk(tcp, &greeting, &rx).await,
                            }
                        });
                    }
                };
                tokio::select! {
                    _ = serve => {}
                    _ = stop_rx => {}
                }
            });
        });
        ready_rx
            .recv_timeout(Duration::from_secs(5))
            .expect("the greeter starts");
        Greeter {
            addr,
            received,
            connections,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// Every byte clients sent after the greeting (TLS decrypted).
    pub fn received(&self) -> Vec<u8> {
        self.received.lock().unwrap().clone()
    }

    /// How many connections were accepted.
    pub fn connections(&self) -> usize {
        *self.connections.lock().unwrap()
    }
}

async fn talk<S>(mut s: S, greeting: &str, rx: &Mutex<Vec<u8>>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    if s.write_all(greeting.as_bytes()).await.is_err() || s.flush().await.is_err() {
        return;
    }
    let mut buf = [0u8; 1024];
    while let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf)).await {
        if n == 0 {
            break;
        }
        rx.lock().unwrap().extend_from_slice(&buf[..n]);
    }
}

impl Drop for Greeter {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
