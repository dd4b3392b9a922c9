//! A plain TCP proxy that a test can cut and restore, to take a dependency away from one
//! process without disturbing the other tests that share the machine's server: cutting closes
//! every connection through it and refuses new ones until it is restored.

use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The running proxy; dropping it stops it.
#[derive(Debug)]
pub struct TcpProxy {
    /// `127.0.0.1:<port>` it listens on.
    pub addr: std::net::SocketAddr,
    cut: Arc<watch::Sender<bool>>,
    accept: JoinHandle<()>,
}

impl TcpProxy {
    /// Listen on a free local port and forward to `upstream` (`host:port`).
    pub async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (cut, _) = watch::channel(false);
        let cut = Arc::new(cut);
        let accept = tokio::spawn({
            let cut = cut.clone();
            async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    if *cut.borrow() {
                        drop(client);
                        continue;
                    }
                    let upstream = upstream.clone();
                    let mut cut_now = cut.subscribe();
                    tokio::spawn(async move {
                        let Ok(mut server) = TcpStream::connect(&upstream).await else {
                            return;
                        };
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                            _ = cut_now.wait_for(|c| *c) => {}
                        }
                    });
                }
            }
        });
        Self { addr, cut, accept }
    }

    /// Close every connection and refuse new ones.
    pub fn cut(&self) {
        self.cut.send_replace(true);
    }

    /// Accept connections again.
    pub fn restore(&self) {
        self.cut.send_replace(false);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.cut.send_replace(true);
        self.accept.abort();
    }
}
