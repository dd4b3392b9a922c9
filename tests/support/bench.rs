//! What the benchmarks share: a minimal HTTP/1.1 load generator over keep-alive loopback
//! connections (closed loop, and open loop with coordinated omission corrected), and the
//! statistics they report.
//!
//! The generator writes one prepared request and reads the status line, the headers and a
//! `Content-Length` body: little enough work that the server, not the client, is measured.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A prepared request: where, and its bytes.
#[derive(Debug, Clone)]
pub struct Target {
    /// The server.
    pub addr: SocketAddr,
    /// The whole request, headers and body.
    pub request: Arc<Vec<u8>>,
    /// The status that counts as success.
    pub expected: u16,
}

impl Target {
    /// `POST path` to `base` (`http://127.0.0.1:port`) with `headers` and `body`.
    pub fn post(
        base: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        expected: u16,
    ) -> Self {
        let host = base.trim_start_matches("http://").trim_end_matches('/');
        let addr: SocketAddr = host.parse().expect("an ip:port base URL");
        let mut request = format!(
            "POST {path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
            body.len()
        );
        for (k, v) in headers {
            request.push_str(&format!("{k}: {v}\r\n"));
        }
        request.push_str("\r\n");
        let mut bytes = request.into_bytes();
        bytes.extend_from_slice(body);
        Self {
            addr,
            request: Arc::new(bytes),
            expected,
        }
    }
}

/// What a load run saw.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    /// Answers with the expected status.
    pub ok: u64,
    /// Other answers.
    pub other: u64,
    /// Latency of each expected answer, in microseconds (open loop: from when the request
    /// was due, not from when it left).
    pub latencies_us: Vec<u64>,
    /// How long the run lasted.
    pub elapsed: Duration,
}

impl Samples {
    /// Expected answers a second.
    pub fn per_second(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }

    /// The `p`-quantile latency in milliseconds (`p` in 0..=1); NaN without samples.
    pub fn percentile_ms(&mut self, p: f64) -> f64 {
        self.latencies_us.sort_unstable();
        percentile(&self.latencies_us, p) as f64 / 1000.0
    }
}

/// The `p`-quantile of sorted `values` (nearest rank); 0 when empty.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// The median of `values`.
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Run `load` on a runtime of its own on a new OS thread (so that the client does not share
/// the servers' runtime) and wait for it without blocking the caller's runtime.
pub async fn on_own_thread<F, Fut>(load: F) -> Samples
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Samples>,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("client runtime");
        let _ = tx.send(runtime.block_on(load()));
    });
    rx.await.expect("the load thread finished")
}

/// Closed loop: `connections` keep-alive connections, one request in flight on each, for
/// `length`.
pub async fn closed_loop(target: Target, connections: usize, length: Duration) -> Samples {
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (target, stop) = (target.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut samples = Samples::default();
            let mut stream = TcpStream::connect(target.addr).await.expect("connect");
            let _ = stream.set_nodelay(true);
            let mut buffer = Vec::with_capacity(4096);
            while !stop.load(Ordering::Relaxed) {
                let sent = Instant::now();
                stream.write_all(&target.request).await.expect("write");
                let status = read_response(&mut stream, &mut buffer).await;
                if status == target.expected {
                    samples.ok += 1;
                    samples.latencies_us.push(sent.elapsed().as_micros() as u64);
                } else {
                    samples.other += 1;
                }
            }
            samples
        }));
    }
    tokio::time::sleep(length).await;
    stop.store(true, Ordering::Relaxed);
    gather(tasks, started).await
}

/// Open loop: request `i` is due at `start + i / rate`, whatever happened to the ones before;
/// `connections` keep-alive connections take the next due request as soon as they are free.
/// Latency is measured from when a request was due, so a slow answer delays the requests
/// queued behind it and their latency says so (coordinated omission corrected).
pub async fn open_loop(target: Target, rate: f64, connections: usize, length: Duration) -> Samples {
    let total = (rate * length.as_secs_f64()) as u64;
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now() + Duration::from_millis(50);
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (target, next) = (target.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut samples = Samples::default();
            let mut stream = TcpStream::connect(target.addr).await.expect("connect");
            let _ = stream.set_nodelay(true);
            let mut buffer = Vec::with_capacity(4096);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let due = started + Duration::from_secs_f64(i as f64 / rate);
                // The timer's granularity is a millisecond: sleep to just before, then yield
                // until due, so that the client's lateness is not counted as the server's.
                if let Some(early) = due.checked_sub(Duration::from_millis(1)) {
                    tokio::time::sleep_until(early.into()).await;
                }
                while Instant::now() < due {
                    tokio::task::yield_now().await;
                }
                stream.write_all(&target.request).await.expect("write");
                let status = read_response(&mut stream, &mut buffer).await;
                if status == target.expected {
                    samples.ok += 1;
                    samples.latencies_us.push(due.elapsed().as_micros() as u64);
                } else {
                    samples.other += 1;
                }
            }
            samples
        }));
    }
    let mut samples = gather(tasks, started).await;
    // Until the last answer: a server that falls behind answers fewer than `rate` a second.
    samples.elapsed = samples.elapsed.max(length);
    samples
}

async fn gather(tasks: Vec<tokio::task::JoinHandle<Samples>>, started: Instant) -> Samples {
    let mut all = Samples::default();
    for task in tasks {
        let samples = task.await.expect("load task");
        all.ok += samples.ok;
        all.other += samples.other;
        all.latencies_us.extend(samples.latencies_us);
    }
    all.elapsed = started.elapsed();
    all
}

/// Read one response; its status code.
async fn read_response(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> u16 {
    buffer.clear();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(end) = find(buffer, b"\r\n\r\n") {
            break end + 4;
        }
        let n = stream.read(&mut chunk).await.expect("read");
        assert!(n > 0, "the server closed the connection");
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_ascii_lowercase();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        let n = stream.read(&mut chunk).await.expect("read body");
        assert!(n > 0, "the server closed the connection");
        buffer.extend_from_slice(&chunk[..n]);
    }
    status
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// CPU seconds (user and system) a process has used, from `/proc/<pid>/stat`.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name and state.
    (ticks(11) + ticks(12)) / clock_ticks()
}

fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// A process's resident memory now and at its peak, in MiB (`VmRSS`, `VmHWM`).
pub fn memory_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    (kib("VmRSS:") / 1024.0, kib("VmHWM:") / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let values: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&values, 0.5), 50);
        assert_eq!(percentile(&values, 0.99), 99);
        assert_eq!(percentile(&values, 0.999), 100);
        assert_eq!(percentile(&[], 0.5), 0);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
    }
}
