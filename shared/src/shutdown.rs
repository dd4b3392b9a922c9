//! Shutdown: a [`CancellationToken`] cancelled on SIGTERM or SIGINT.
//!
//! `main` creates the token with [`on_signals`] and hands it to `run`; tests create their own
//! token and cancel it, so no global state is involved.

use std::future::Future;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A token cancelled when the process receives SIGTERM or SIGINT.
///
/// The handlers are installed before this returns, so a signal sent at any moment after the
/// call (for example right after the process has printed that it is ready) cancels the token
/// instead of killing the process. Must be called inside a Tokio runtime.
pub fn on_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let trigger = token.clone();
    let signals = Signals::install();
    tokio::spawn(async move {
        signals.received().await;
        tracing::info!("shutdown signal received");
        trigger.cancel();
    });
    token
}

#[cfg(unix)]
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn install() -> Self {
        use tokio::signal::unix::{SignalKind, signal};
        Self {
            term: signal(SignalKind::terminate()).expect("SIGTERM handler"),
            int: signal(SignalKind::interrupt()).expect("SIGINT handler"),
        }
    }

    async fn received(mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }
}

#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn install() -> Self {
        Self
    }

    async fn received(self) {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Run `drain` to completion or until `grace` has passed. Returns whether it finished.
pub async fn within_grace<F: Future<Output = ()>>(grace: Duration, what: &str, drain: F) -> bool {
    match tokio::time::timeout(grace, drain).await {
        Ok(()) => true,
        Err(_) => {
            tracing::warn!(
                what,
                grace_seconds = grace.as_secs(),
                "drain did not finish within the grace period"
            );
            false
        }
    }
}
