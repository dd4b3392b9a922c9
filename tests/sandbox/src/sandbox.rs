//! [`Sandbox`]: both simulators started in-process, each on its own listener, stopped
//! together.

use crate::client::ControlClient;
use crate::config::SandboxConfig;
use crate::core::{Core, Simulator};
use crate::entrata::{self, EntrataState};
use crate::metrics::SandboxMetrics;
use crate::payscore::{self, PayscoreState};
use crate::server;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Running Payscore and Entrata simulators.
#[derive(Debug)]
pub struct Sandbox {
    payscore_addr: SocketAddr,
    entrata_addr: SocketAddr,
    subdomain: String,
    shutdown: CancellationToken,
    servers: Vec<JoinHandle<()>>,
    control: ControlClient,
}

/// `http://host:port` for a bound address (the loopback address when bound to all).
fn base_url(addr: SocketAddr) -> String {
    let ip = if addr.ip().is_unspecified() {
        std::net::IpAddr::from([127, 0, 0, 1])
    } else {
        addr.ip()
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

impl Sandbox {
    /// Bind both listen addresses of `config` (port 0 picks a free port) and serve.
    pub async fn start(config: SandboxConfig) -> std::io::Result<Sandbox> {
        let payscore = TcpListener::bind(config.payscore_listen).await?;
        let entrata = TcpListener::bind(config.entrata_listen).await?;
        Self::serve(config, payscore, entrata)
    }

    /// Serve on listeners the caller has bound.
    pub fn serve(
        config: SandboxConfig,
        payscore: TcpListener,
        entrata: TcpListener,
    ) -> std::io::Result<Sandbox> {
        let (payscore_addr, entrata_addr) = (payscore.local_addr()?, entrata.local_addr()?);
        let shutdown = CancellationToken::new();
        let metrics = SandboxMetrics::new();
        let core = |simulator, faults: &std::collections::BTreeMap<String, crate::Faults>| {
            let core = Core::new(simulator, metrics.clone(), shutdown.clone());
            for (route, f) in faults {
                core.faults.set(route, f.clone());
            }
            Arc::new(core)
        };
        let payscore_state = Arc::new(PayscoreState::new(
            config.payscore.clone(),
            core(Simulator::Payscore, &config.faults.payscore),
            config.seed,
            base_url(payscore_addr),
        ));
        let entrata_state = Arc::new(EntrataState::new(
            config.entrata.clone(),
            core(Simulator::Entrata, &config.faults.entrata),
            config.seed,
            config.ingest.clone(),
            config.payscore.nonexistent_emails.clone(),
        ));
        let servers = vec![
            tokio::spawn(server::serve(
                payscore,
                payscore::router(payscore_state),
                shutdown.clone(),
            )),
            tokio::spawn(server::serve(
                entrata,
                entrata::router(entrata_state),
                shutdown.clone(),
            )),
        ];
        let control = ControlClient::new(&base_url(payscore_addr), &base_url(entrata_addr));
        tracing::info!(
            payscore = %base_url(payscore_addr),
            entrata = %base_url(entrata_addr),
            seed = config.seed,
            "sandbox listening"
        );
        Ok(Sandbox {
            payscore_addr,
            entrata_addr,
            subdomain: config.entrata.subdomain,
            shutdown,
            servers,
            control,
        })
    }

    /// `PAYSCORE_API_BASE_URL`, e.g. `http://127.0.0.1:41234`.
    pub fn payscore_url(&self) -> String {
        base_url(self.payscore_addr)
    }

    /// `ENTRATA_API_BASE_URL`, e.g. `http://127.0.0.1:41235/ext/orgs/sandbox/v1`.
    pub fn entrata_url(&self) -> String {
        format!(
            "{}/ext/orgs/{}/v1",
            base_url(self.entrata_addr),
            self.subdomain
        )
    }

    /// Base of the Payscore control routes: `http://127.0.0.1:PORT/_control`.
    pub fn payscore_control_url(&self) -> String {
        format!("{}/_control", base_url(self.payscore_addr))
    }

    /// Base of the Entrata control routes.
    pub fn entrata_control_url(&self) -> String {
        format!("{}/_control", base_url(self.entrata_addr))
    }

    /// The typed client over both simulators' control routes.
    pub fn control(&self) -> &ControlClient {
        &self.control
    }

    /// Stop both simulators: no new connections, open ones drained briefly, hanging
    /// requests dropped.
    pub async fn shutdown(mut self) {
        self.shutdown.cancel();
        for server in self.servers.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
        }
        tracing::info!("sandbox stopped");
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
