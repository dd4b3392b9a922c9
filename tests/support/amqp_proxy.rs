//! A TCP proxy in front of the real broker that can play a resource alarm on the connections
//! through it, the way RabbitMQ does one: while the alarm is on, a connection that publishes
//! is blocked at its first `basic.publish`: the proxy sends it `connection.blocked` and holds
//! that frame and everything after it (heartbeats aside) instead of passing them on.
//! Connections that only consume go on. When the alarm lifts, each blocked connection gets
//! `connection.unblocked` and what was held goes through, in order. Raising a real memory
//! alarm would block every test sharing the machine's broker; this blocks only one test's
//! connections.
//!
//! It can also withhold publisher confirms: while on, the broker's `basic.ack` and
//! `basic.nack` frames are dropped on their way to the client, as from a broker that takes
//! messages and never confirms them (a quorum queue without a majority), heartbeats flowing.
//!
//! The proxy works on whole AMQP 0-9-1 frames (type, channel, size, payload, `0xCE`), so the
//! injected frames never split one of the broker's.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

const FRAME_METHOD: u8 = 1;
const FRAME_HEARTBEAT: u8 = 8;
const FRAME_END: u8 = 0xCE;
/// `basic.publish`: class 60, method 40.
const BASIC_PUBLISH: [u8; 4] = [0, 60, 0, 40];
/// `basic.ack` and `basic.nack`: class 60, methods 80 and 120.
const CONFIRMS: [[u8; 4]; 2] = [[0, 60, 0, 80], [0, 60, 0, 120]];

/// The running proxy. Dropping it stops accepting and closes every proxied connection.
#[derive(Debug)]
pub struct AmqpProxy {
    /// `AMQP_URL` for a client that should go through the proxy.
    pub url: String,
    alarm: watch::Sender<bool>,
    withhold: watch::Sender<bool>,
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
        let (alarm, _) = watch::channel(false);
        let (withhold, _) = watch::channel(false);
        let connections = Arc::new(AtomicUsize::new(0));
        let accept = tokio::spawn({
            let (alarm, withhold, connections) =
                (alarm.clone(), withhold.clone(), connections.clone());
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
                        alarm.subscribe(),
                        withhold.subscribe(),
                    ));
                }
            }
        });
        Self {
            url,
            alarm,
            withhold,
            connections,
            accept,
        }
    }

    /// Raise the alarm: from now on, a connection that publishes is blocked.
    pub fn block(&self) {
        self.alarm.send_replace(true);
    }

    /// Lift it: blocked connections get `connection.unblocked`, and what was held goes through.
    pub fn unblock(&self) {
        self.alarm.send_replace(false);
    }

    /// Drop (`true`) or pass on (`false`) the broker's publisher confirms from now on.
    pub fn withhold_confirms(&self, on: bool) {
        self.withhold.send_replace(on);
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
    alarm: watch::Receiver<bool>,
    withhold: watch::Receiver<bool>,
) {
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let (inject, injected) = mpsc::unbounded_channel();
    let upstream = to_server(client_read, server_write, alarm, inject);
    let downstream = to_client(server_read, client_write, injected, withhold);
    // Either side ending ends the connection.
    tokio::select! {
        _ = upstream => {}
        _ = downstream => {}
    }
}

/// Client to broker: the protocol header, then frames. Under the alarm, the first
/// `basic.publish` blocks the connection: it and every later frame but heartbeats are held.
async fn to_server(
    mut client: OwnedReadHalf,
    mut server: OwnedWriteHalf,
    mut alarm: watch::Receiver<bool>,
    inject: mpsc::UnboundedSender<Vec<u8>>,
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
    let result = async {
        // `Some` while this connection is blocked: what it sent since, in order.
        let mut held: Option<Vec<Vec<u8>>> = None;
        loop {
            tokio::select! {
                frame = frames.recv() => {
                    let Some(frame) = frame else { return Ok(()) };
                    if held.is_none() && *alarm.borrow() && is_publish(&frame) {
                        let _ = inject.send(blocked_frame("low on memory (test alarm)"));
                        held = Some(Vec::new());
                    }
                    match &mut held {
                        Some(held) if frame[0] != FRAME_HEARTBEAT => held.push(frame),
                        _ => server.write_all(&frame).await?,
                    }
                }
                changed = alarm.changed() => {
                    if changed.is_err() {
                        return Ok(());
                    }
                    if !*alarm.borrow()
                        && let Some(held) = held.take()
                    {
                        let _ = inject.send(method_frame(10, 61, &[]));
                        for frame in held {
                            server.write_all(&frame).await?;
                        }
                    }
                }
            }
        }
    }
    .await;
    reader.abort();
    result
}

fn is_publish(frame: &[u8]) -> bool {
    frame[0] == FRAME_METHOD && frame.len() >= 11 && frame[7..11] == BASIC_PUBLISH
}

fn is_confirm(frame: &[u8]) -> bool {
    frame[0] == FRAME_METHOD && frame.len() >= 11 && CONFIRMS.iter().any(|m| frame[7..11] == *m)
}

/// Broker to client: frames as they come, with the injected ones between them, and without
/// the confirms while they are withheld.
async fn to_client(
    mut server: OwnedReadHalf,
    mut client: OwnedWriteHalf,
    mut injected: mpsc::UnboundedReceiver<Vec<u8>>,
    withhold: watch::Receiver<bool>,
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
                Some(frame) if *withhold.borrow() && is_confirm(&frame) => continue,
                Some(frame) => frame,
                None => break Ok(()),
            },
            frame = injected.recv() => match frame {
                Some(frame) => frame,
                None => break Ok(()),
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
