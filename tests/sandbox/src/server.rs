//! The HTTP/1.1 accept loop both simulators run on.
//!
//! Not `axum::serve`, because fault injection needs one thing it cannot give: closing a
//! connection *without answering* ("dropped connection"). Every request carries a
//! [`Connection`] handle in its extensions; a handler that calls [`Connection::drop_now`]
//! makes the connection task drop the socket while the request is still unanswered, which a
//! client sees as an incomplete message / connection reset.
//!
//! Shutdown: when the token is cancelled the listener stops accepting, each connection is
//! told to finish its current request and close (hyper's graceful shutdown), and
//! connections that do not finish within [`DRAIN`] are dropped.

use axum::Router;
use axum::extract::Request;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_service::Service;

/// How long open connections may take to finish once shutdown starts.
const DRAIN: Duration = Duration::from_secs(2);

/// A handle on the connection a request arrived on.
#[derive(Clone, Debug)]
pub struct Connection {
    kill: CancellationToken,
}

impl Connection {
    /// Close the connection at once, without answering the request in flight.
    pub fn drop_now(&self) {
        self.kill.cancel();
    }
}

/// Serve `router` on `listener` until `shutdown` is cancelled, then drain.
pub async fn serve(listener: TcpListener, router: Router, shutdown: CancellationToken) {
    let connections = TaskTracker::new();
    loop {
        let (stream, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // EMFILE and friends: back off briefly instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            let kill = CancellationToken::new();
            let handle = Connection { kill: kill.clone() };
            let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
                request.extensions_mut().insert(handle.clone());
                let mut router = router.clone();
                async move { router.call(request).await }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => return,
                () = kill.cancelled() => return,
                () = shutdown.cancelled() => connection.as_mut().graceful_shutdown(),
            }
            tokio::select! {
                _ = connection.as_mut() => {}
                () = kill.cancelled() => {}
                () = tokio::time::sleep(DRAIN) => {}
            }
        });
    }
    connections.close();
    let _ = tokio::time::timeout(DRAIN + Duration::from_millis(500), connections.wait()).await;
}
