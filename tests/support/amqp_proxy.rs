//! A TCP proxy in front of the real broker that can play a resource alarm on the connections
//! through it, the way RabbitMQ does one: it sends `connection.blocked` to the client and stops
//! reading what the client sends (heartbeats aside), then sends `connection.unblocked` and
//! lets everything held through, in order. Raising a real memory alarm would block every test
//! sharing the machine's broker; this blocks only the connections of one test.
//!
//! The proxy works on whole AMQP 0-9-1 frames (type, channel, size, payload, `0xCE`), so the
//! injected frames never split one of the broker's.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinHandle;

const FRAME_METHOD: u8 = 1;
const FRAME_HEARTBEAT: u8 = 8;
const FRAME_END: u8 = 0xCE;

/// The running proxy. Dropping it stops accepting and closes every proxied connection.
#[derive(Debug)]
pub struct AmqpProxy {
    /// `AMQP_URL` for a client that should go through the proxy.
    pub url: String,
    blocked: watch::Sender<bool>,
    inject: broadcast::Sender<Vec<u8>>,
    connections: Arc<AtomicUsize>,
    accept: JoinHandle<()>,
}

impl AmqpProxy {
    /// Listen on a free local port and forward to the broker at `upstream` (an `AMQP_URL`).
    pub async fn start(upstream: &str) -> Self {
        let uri: lapin::uri::AMQPUri = upstream.parse().expect("a valid AMQP_URL");
        let target = format!("{}:{}", uri.authority.host, uri.authority.port);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let url = format!(
            "amqp://{}:{}@127.0.0.1:{port}/{}",
            uri.authority.userinfo.username,
            uri.authority.userinfo.password,
            uri.vhost.replace('%', "%25").replace('/', "%2f"),
        );
        let (blocked, _) = watch::channel(false);
        let (inject, _) = broadcast::channel(16);
        let connections = Arc::new(AtomicUsize::new(0));
        let accept = tokio::spawn({
            let (blocked, inject, connections) =
                (blocked.clone(), inject.clone(), connections.clone());
            async move {
                let mut open = tokio::task::JoinSet::new();
                while let Ok((client, _)) = listener.accept().await {
                    let Ok(server) = TcpStream::connect(&target).await else {
                        continue;
                    };
                    connections.fetch_add(1, Ordering::SeqCst);
                    open.spawn(proxy(
                        client,
                        server,
                        blocked.subscribe(),
                        inject.subscribe(),
                    ));
                }
            }
        });
        Self {
            url,
            blocked,
            inject,
            connections,
            accept,
        }
    }

    /// Play a resource alarm: `connection.blocked` to every client, and hold what they send.
    pub fn block(&self) {
        self.blocked.send_replace(true);
        let _ = self
            .inject
            .send(blocked_frame("low on memory (test alarm)"));
    }

    /// Lift it: `connection.unblocked`, and what was held goes through.
    pub fn unblock(&self) {
        let _ = self.inject.send(method_frame(10, 61, &[]));
        self.blocked.send_replace(false);
    }

    /// Connections accepted so far (a reconnecting client shows up as a new one).
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for AmqpProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn proxy(
    client: TcpStream,
    server: TcpStream,
    blocked: watch::Receiver<bool>,
    inject: broadcast::Receiver<Vec<u8>>,
) {
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let upstream = to_server(client_read, server_write, blocked);
    let downstream = to_client(server_read, client_write, inject);
    // Either side ending ends the connection.
    tokio::select! {
        _ = upstream => {}
        _ = downstream => {}
    }
}

/// Client to broker: the protocol header, then frames; while blocked, all but heartbeats wait.
async fn to_server(
    mut client: OwnedReadHalf,
    mut server: OwnedWriteHalf,
    mut blocked: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let mut header = [0u8; 8];
    client.read_exact(&mut header).await?;
    server.write_all(&header).await?;
    let (frames_tx, mut frames) = mpsc::unbounded_channel();
    let reader = tokio::spawn(async move {
        while let Ok(frame) = read_frame(&mut client).await {
            if frames_tx.send(frame).is_err() {
                break;
            }
        }
    });
    let mut held: Vec<Vec<u8>> = Vec::new();
    let result = loop {
        tokio::select! {
            frame = frames.recv() => {
                let Some(frame) = frame else { break Ok(()) };
                if *blocked.borrow() && frame[0] != FRAME_HEARTBEAT {
                    held.push(frame);
                } else if let Err(error) = server.write_all(&frame).await {
                    break Err(error);
                }
            }
            changed = blocked.changed() => {
                if changed.is_err() {
                    break Ok(());
                }
                if !*blocked.borrow() {
                    for frame in held.drain(..) {
                        server.write_all(&frame).await?;
                    }
                }
            }
        }
    };
    reader.abort();
    result
}

/// Broker to client: frames as they come, with the injected ones between them.
async fn to_client(
    mut server: OwnedReadHalf,
    mut client: OwnedWriteHalf,
    mut inject: broadcast::Receiver<Vec<u8>>,
) -> std::io::Result<()> {
    let (frames_tx, mut frames) = mpsc::unbounded_channel();
    let reader = tokio::spawn(async move {
        while let Ok(frame) = read_frame(&mut server).await {
            if frames_tx.send(frame).is_err() {
                break;
            }
        }
    });
    let result = loop {
        let frame = tokio::select! {
            frame = frames.recv() => match frame {
                Some(frame) => frame,
                None => break Ok(()),
            },
            injected = inject.recv() => match injected {
                Ok(frame) => frame,
                Err(_) => break Ok(()),
            },
        };
        if let Err(error) = client.write_all(&frame).await {
            break Err(error);
        }
    };
    reader.abort();
    result
}

/// One whole frame, header and end octet included.
async fn read_frame(stream: &mut OwnedReadHalf) -> std::io::Result<Vec<u8>> {
    let mut frame = vec![0u8; 7];
    stream.read_exact(&mut frame).await?;
    let size = u32::from_be_bytes([frame[3], frame[4], frame[5], frame[6]]) as usize;
    frame.resize(7 + size + 1, 0);
    stream.read_exact(&mut frame[7..]).await?;
    if frame[7 + size] != FRAME_END {
        return Err(std::io::Error::other("frame without its end octet"));
    }
    Ok(frame)
}

/// A method frame on channel 0.
fn method_frame(class: u16, method: u16, arguments: &[u8]) -> Vec<u8> {
    let mut payload = Vec::with_capacity(4 + arguments.len());
    payload.extend_from_slice(&class.to_be_bytes());
    payload.extend_from_slice(&method.to_be_bytes());
    payload.extend_from_slice(arguments);
    let mut frame = vec![FRAME_METHOD, 0, 0];
    frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    frame.extend_from_slice(&payload);
    frame.push(FRAME_END);
    frame
}

/// `connection.blocked` (class 10, method 60) with its reason as a short string.
fn blocked_frame(reason: &str) -> Vec<u8> {
    let mut arguments = vec![reason.len() as u8];
    arguments.extend_from_slice(reason.as_bytes());
    method_frame(10, 60, &arguments)
}
