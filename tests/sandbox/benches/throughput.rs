//! Throughput of the simulators, so a benchmark of the fleet never measures the sandbox.
//!
//! The sandbox runs on a single-threaded Tokio runtime on its own OS thread (one core); the
//! load comes from another thread over many keep-alive loopback connections with a minimal
//! HTTP/1.1 client, so the client costs as little as possible. Each route is driven for
//! several fixed-length runs and the median requests per second is reported.
//!
//! Run by hand (release build): `cargo bench -p sandbox --bench throughput`.
//! Bounded: 2 routes × (1 warm-up + 5 runs) × 2 s, 127.0.0.1 only.

use sandbox::{Sandbox, SandboxConfig};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const CONNECTIONS: usize = 64;
const RUNS: usize = 5;
const RUN: Duration = Duration::from_secs(2);

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("throughput: run with `cargo bench -p sandbox --bench throughput`");
        return;
    }
    let (urls_tx, urls_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("server runtime");
        runtime.block_on(async move {
            let mut config = SandboxConfig::default();
            config.entrata.rate_limit_per_minute = u32::MAX / 2000;
            let sandbox = Sandbox::start(config).await.expect("sandbox starts");
            urls_tx
                .send((sandbox.payscore_url(), sandbox.entrata_url()))
                .expect("send urls");
            let _ = stop_rx.await;
            sandbox.shutdown().await;
        });
    });
    let (payscore, entrata) = urls_rx.recv().expect("urls");
    let client = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    client.block_on(async {
        let token = token(&payscore).await;
        let create = post(
            &payscore,
            "/api/v1/screening_groups",
            &[("authorization", token.as_str())],
            &create_body(),
        );
        let leads = post(
            &entrata,
            "/leads",
            &[("x-api-key", "sandbox-api-key")],
            r#"{"auth":{"type":"apikey"},"requestId":"1","method":{"name":"getLeads","version":"r1","params":{"propertyId":"100001","leadId":"500001"}}}"#,
        );
        println!("| route | median req/s | runs (req/s) |\n|---|---|---|");
        for (name, (addr, request), expected) in [
            ("POST /api/v1/screening_groups", create, 201),
            ("POST leads/getLeads", leads, 200),
        ] {
            let request = Arc::new(request);
            drive(addr, request.clone(), expected, Duration::from_millis(500)).await;
            let mut rates: Vec<f64> = Vec::new();
            for _ in 0..RUNS {
                rates.push(drive(addr, request.clone(), expected, RUN).await);
            }
            let runs: Vec<String> = rates.iter().map(|r| format!("{r:.0}")).collect();
            rates.sort_by(f64::total_cmp);
            println!("| {name} | {:.0} | {} |", rates[RUNS / 2], runs.join(", "));
        }
    });
    let _ = stop_tx.send(());
    server.join().expect("server thread");
}

/// Drive `request` over [`CONNECTIONS`] connections for `length`; requests per second.
async fn drive(addr: SocketAddr, request: Arc<Vec<u8>>, expected: u16, length: Duration) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let (request, stop, done) = (request.clone(), stop.clone(), done.clone());
            tokio::spawn(async move {
                let mut stream = TcpStream::connect(addr).await.expect("connect");
                stream.set_nodelay(true).expect("nodelay");
                let mut buffer = Vec::with_capacity(16 * 1024);
                while !stop.load(Ordering::Relaxed) {
                    stream.write_all(&request).await.expect("write");
                    let status = read_response(&mut stream, &mut buffer).await;
                    assert_eq!(status, expected, "unexpected status");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let started = Instant::now();
    tokio::time::sleep(length).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed();
    let count = done.load(Ordering::Relaxed);
    for task in tasks {
        task.await.expect("connection task");
    }
    count as f64 / elapsed.as_secs_f64()
}

/// Read one response with a `Content-Length`; its status.
async fn read_response(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> u16 {
    buffer.clear();
    let mut chunk = [0u8; 8192];
    loop {
        let n = stream.read(&mut chunk).await.expect("read");
        assert!(n > 0, "connection closed");
        buffer.extend_from_slice(&chunk[..n]);
        let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = std::str::from_utf8(&buffer[..end]).expect("ascii head");
        let status: u16 = head[9..12].parse().expect("status");
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .unwrap_or(0);
        while buffer.len() < end + 4 + length {
            let n = stream.read(&mut chunk).await.expect("read body");
            assert!(n > 0, "connection closed");
            buffer.extend_from_slice(&chunk[..n]);
        }
        return status;
    }
}

fn post(base: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (SocketAddr, Vec<u8>) {
    let rest = base.strip_prefix("http://").expect("http URL");
    let (host, prefix) = rest.split_once('/').map_or((rest, ""), |(h, p)| (h, p));
    let addr: SocketAddr = host.parse().expect("loopback address");
    assert!(
        addr.ip().is_loopback(),
        "the benchmark only targets 127.0.0.1"
    );
    let mut request = format!(
        "POST /{prefix}{path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
        body.len()
    )
    .replace("//", "/");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    (addr, request.into_bytes())
}

async fn token(payscore: &str) -> String {
    let (addr, request) = post(
        payscore,
        "/api/v1/tenants/auth",
        &[],
        r#"{"client_id":"sandbox-client","secret_key":"sandbox-secret"}"#,
    );
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(&request).await.expect("write");
    let mut buffer = Vec::new();
    assert_eq!(read_response(&mut stream, &mut buffer).await, 204);
    let head = String::from_utf8_lossy(&buffer).to_string();
    head.lines()
        .find_map(|l| l.strip_prefix("authorization: "))
        .expect("token header")
        .to_owned()
}

fn create_body() -> String {
    serde_json::json!({
        "applicants": [
            { "applicant_first_name": "Ann", "applicant_last_name": "Lee",
              "applicant_email": "ann.lee@example.com", "applicant_phone_number": "+15125550142" },
            { "applicant_first_name": "Bo", "applicant_last_name": "Kim", "applicant_email": "bo.kim@example.com" }
        ],
        "property": { "street_address": "4100 Lakeshore Dr", "city": "Austin", "state": "Texas",
                      "zip_code": "78701", "unit": "1204" },
        "is_decision_maker_paying": true,
        "decision_maker_display_name": "Sandbox Property Management",
        "monthly_rent": 1650,
        "webhook_url": "http://127.0.0.1:9/webhooks/payscore",
        "correlation_id": "entrata:100001:500001"
    })
    .to_string()
}
