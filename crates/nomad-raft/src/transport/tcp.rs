//! TCP transport: one outbound connection per peer, each fed by a bounded queue and written
//! by its own task, which reconnects with exponential backoff; inbound connections are read
//! by one task each and must open with a hello frame.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use raft::eraftpb::{Message, MessageType};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::runtime::Handle;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;

use super::wire::{decode_frame, encode_frame, encode_frame_into, Frame, FrameError, WIRE_VERSION};
use super::{Inbox, Transport};
use crate::error::RaftError;

/// Tuning of [`TcpTransport`].
#[derive(Debug, Clone)]
pub struct TcpOptions {
    /// Largest accepted frame (snapshots travel in one frame).
    pub max_frame: usize,
    /// Outbound queue length per peer; further messages are dropped.
    pub queue_len: usize,
    /// Timeout of one connection attempt.
    pub connect_timeout: Duration,
    /// First reconnect delay; doubles up to `backoff_max`.
    pub backoff_min: Duration,
    /// Longest reconnect delay.
    pub backoff_max: Duration,
    /// Time an inbound connection has to send its hello.
    pub handshake_timeout: Duration,
    /// Most inbound connections served at once.
    pub max_inbound: usize,
    /// Address announced to peers (defaults to the bound address; set it when binding a
    /// wildcard address).
    pub advertise: Option<String>,
    /// A byte written before the hello on every outbound connection, for a listener that
    /// serves several protocols on one port (Nomad's RPC port carries Raft after the byte
    /// `0x02`). Inbound connections of such a listener arrive through a [`RaftAcceptor`],
    /// the byte already read.
    pub connect_prefix: Option<u8>,
}

impl Default for TcpOptions {
    fn default() -> Self {
        TcpOptions {
            max_frame: 256 << 20,
            queue_len: 4096,
            connect_timeout: Duration::from_secs(1),
            backoff_min: Duration::from_millis(50),
            backoff_max: Duration::from_secs(1),
            handshake_timeout: Duration::from_secs(5),
            max_inbound: 256,
            advertise: None,
            connect_prefix: None,
        }
    }
}

struct Peer {
    addr: String,
    tx: mpsc::Sender<Message>,
    task: JoinHandle<()>,
}

struct Shared {
    id: u64,
    cluster: String,
    advertise: String,
    opts: TcpOptions,
    /// Addresses peers announced in their hello, for peers not (yet) in the address book.
    learned: Mutex<HashMap<u64, String>>,
}

/// The TCP transport; see the module docs. Create it inside a tokio runtime.
pub struct TcpTransport {
    shared: Arc<Shared>,
    rt: Handle,
    local_addr: SocketAddr,
    listener: Option<TcpListener>,
    /// Set instead of `listener` by [`TcpTransport::unbound`].
    external: Option<RaftAcceptor>,
    accept: Option<JoinHandle<()>>,
    inbox: Option<Inbox>,
    peers: HashMap<u64, Peer>,
    book: BTreeMap<u64, String>,
}

impl TcpTransport {
    /// Binds the listener for node `id` (port 0 picks a free port).
    pub async fn bind(
        id: u64,
        cluster_id: &str,
        addr: SocketAddr,
        opts: TcpOptions,
    ) -> std::io::Result<TcpTransport> {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        let listener = socket.listen(1024)?;
        let local_addr = listener.local_addr()?;
        let advertise = opts
            .advertise
            .clone()
            .unwrap_or_else(|| local_addr.to_string());
        Ok(TcpTransport {
            shared: Arc::new(Shared {
                id,
                cluster: cluster_id.to_string(),
                advertise,
                opts,
                learned: Mutex::new(HashMap::new()),
            }),
            rt: Handle::current(),
            local_addr,
            listener: Some(listener),
            external: None,
            accept: None,
            inbox: None,
            peers: HashMap::new(),
            book: BTreeMap::new(),
        })
    }

    /// A transport without a listener of its own: another server (one that multiplexes a
    /// port) hands inbound Raft connections to the returned [`RaftAcceptor`]. `advertise`
    /// is the address peers dial (that listener's), also reported by [`local_addr`].
    ///
    /// [`local_addr`]: TcpTransport::local_addr
    pub fn unbound(
        id: u64,
        cluster_id: &str,
        advertise: SocketAddr,
        mut opts: TcpOptions,
    ) -> (TcpTransport, RaftAcceptor) {
        let adv = opts
            .advertise
            .get_or_insert_with(|| advertise.to_string())
            .clone();
        let shared = Arc::new(Shared {
            id,
            cluster: cluster_id.to_string(),
            advertise: adv,
            learned: Mutex::new(HashMap::new()),
            opts,
        });
        let acceptor = RaftAcceptor {
            limit: Arc::new(Semaphore::new(shared.opts.max_inbound)),
            shared: shared.clone(),
            inbox: Arc::new(std::sync::OnceLock::new()),
        };
        let t = TcpTransport {
            shared,
            rt: Handle::current(),
            local_addr: advertise,
            listener: None,
            external: Some(acceptor.clone()),
            accept: None,
            inbox: None,
            peers: HashMap::new(),
            book: BTreeMap::new(),
        };
        (t, acceptor)
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The address announced to peers.
    pub fn advertise(&self) -> &str {
        &self.shared.advertise
    }

    fn connect_peer(&mut self, id: u64, addr: String) {
        let Some(inbox) = self.inbox.clone() else {
            return;
        };
        let (tx, rx) = mpsc::channel(self.shared.opts.queue_len);
        let task = self.rt.spawn(peer_sender(
            self.shared.clone(),
            inbox,
            id,
            addr.clone(),
            rx,
        ));
        tracing::debug!(node = self.shared.id, peer = id, %addr, "peer added");
        self.peers.insert(id, Peer { addr, tx, task });
    }

    /// The address to use for `id`: the address book's, else the one it announced.
    fn address_of(&self, id: u64) -> Option<String> {
        if let Some(a) = self.book.get(&id) {
            return Some(a.clone());
        }
        let learned = self
            .shared
            .learned
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        learned.get(&id).cloned()
    }
}

impl Transport for TcpTransport {
    fn start(&mut self, inbox: Inbox) -> Result<(), RaftError> {
        if let Some(ext) = &self.external {
            self.inbox = Some(inbox.clone());
            return ext
                .inbox
                .set(inbox)
                .map_err(|_| RaftError::Transport("transport already started".into()));
        }
        let listener = self
            .listener
            .take()
            .ok_or_else(|| RaftError::Transport("transport already started".into()))?;
        self.inbox = Some(inbox.clone());
        let shared = self.shared.clone();
        self.accept = Some(self.rt.spawn(accept_loop(listener, shared, inbox)));
        Ok(())
    }

    fn send(&mut self, msg: Message) {
        let to = msg.to;
        let is_snap = msg.get_msg_type() == MessageType::MsgSnapshot;
        if !self.peers.contains_key(&to) && to != self.shared.id {
            if let Some(addr) = self.address_of(to) {
                self.connect_peer(to, addr);
            }
        }
        let sent = match self.peers.get(&to) {
            Some(p) => p.tx.try_send(msg).is_ok(),
            None => false,
        };
        if !sent {
            tracing::trace!(node = self.shared.id, to, "outbound message dropped");
            if let Some(inbox) = &self.inbox {
                if is_snap {
                    inbox.report_snapshot(to, false);
                }
            }
        }
    }

    fn update_peers(&mut self, peers: &BTreeMap<u64, String>) {
        self.book = peers.clone();
        let wanted: HashMap<u64, Option<String>> = self
            .peers
            .keys()
            .map(|id| (*id, self.address_of(*id)))
            .collect();
        self.peers.retain(|id, p| {
            let keep = wanted.get(id).and_then(|a| a.as_ref()) == Some(&p.addr);
            if !keep {
                p.task.abort();
            }
            keep
        });
        for (id, addr) in peers {
            if *id != self.shared.id && !self.peers.contains_key(id) {
                self.connect_peer(*id, addr.clone());
            }
        }
    }

    fn shutdown(&mut self) {
        if let Some(a) = self.accept.take() {
            a.abort();
        }
        for (_, p) in self.peers.drain() {
            p.task.abort();
        }
        self.listener = None;
    }
}

impl Drop for TcpTransport {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Serves inbound Raft connections accepted by someone else's listener (see
/// [`TcpTransport::unbound`]). Cheap to clone.
#[derive(Clone)]
pub struct RaftAcceptor {
    shared: Arc<Shared>,
    inbox: Arc<std::sync::OnceLock<Inbox>>,
    limit: Arc<Semaphore>,
}

impl std::fmt::Debug for RaftAcceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RaftAcceptor")
            .field("node", &self.shared.id)
            .finish()
    }
}

impl RaftAcceptor {
    /// Reads Raft frames (hello first) from `stream` on a task of its own until it closes.
    /// Dropped when the node has not started yet or too many connections are open.
    pub fn accept(&self, stream: TcpStream) {
        let Some(inbox) = self.inbox.get().cloned() else {
            tracing::debug!(
                node = self.shared.id,
                "raft connection before the node started; closing"
            );
            return;
        };
        let Ok(permit) = self.limit.clone().try_acquire_owned() else {
            tracing::warn!(
                node = self.shared.id,
                "too many inbound raft connections; closing"
            );
            return;
        };
        let shared = self.shared.clone();
        tokio::spawn(async move {
            if let Err(e) = serve_inbound(stream, &shared, &inbox).await {
                tracing::debug!(node = shared.id, error = %e, "inbound raft connection closed");
            }
            drop(permit);
        });
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, inbox: Inbox) {
    let limit = Arc::new(Semaphore::new(shared.opts.max_inbound));
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let (stream, remote) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(node = shared.id, error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        while conns.try_join_next().is_some() {}
        let Ok(permit) = limit.clone().try_acquire_owned() else {
            tracing::warn!(node = shared.id, %remote, "too many inbound raft connections; closing");
            continue;
        };
        let shared = shared.clone();
        let inbox = inbox.clone();
        conns.spawn(async move {
            if let Err(e) = serve_inbound(stream, &shared, &inbox).await {
                tracing::debug!(node = shared.id, %remote, error = %e, "inbound raft connection closed");
            }
            drop(permit);
        });
    }
}

#[derive(Debug, thiserror::Error)]
enum ConnError {
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Frame(#[from] FrameError),
    #[error("handshake: {0}")]
    Handshake(String),
}

async fn read_frame<R: AsyncRead + Unpin>(r: &mut R, max: usize) -> Result<Vec<u8>, ConnError> {
    let len = r.read_u32().await? as usize;
    if len == 0 {
        return Err(FrameError::Empty.into());
    }
    if len > max {
        return Err(FrameError::TooLarge { len, max }.into());
    }
    // Up to 4 MiB is taken at its word (one allocation for an append of
    // many entries); beyond that the buffer grows as bytes arrive, so a
    // peer announcing a huge frame and sending nothing costs nothing.
    let mut body = Vec::with_capacity(len.min(4 << 20));
    let n = r.take(len as u64).read_to_end(&mut body).await?;
    if n != len {
        return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
    }
    Ok(body)
}

async fn serve_inbound(stream: TcpStream, shared: &Shared, inbox: &Inbox) -> Result<(), ConnError> {
    stream.set_nodelay(true)?;
    let mut r = BufReader::with_capacity(64 * 1024, stream);
    let hello = tokio::time::timeout(shared.opts.handshake_timeout, read_frame(&mut r, 4096))
        .await
        .map_err(|_| ConnError::Handshake("no hello in time".into()))??;
    let from = match decode_frame(&hello)? {
        Frame::Hello {
            version,
            from,
            cluster,
            advertise,
        } => {
            if version != WIRE_VERSION {
                return Err(ConnError::Handshake(format!("wire version {version}")));
            }
            if !cluster.is_empty() && !shared.cluster.is_empty() && cluster != shared.cluster {
                return Err(ConnError::Handshake(format!(
                    "peer is in cluster {cluster:?}, we are in {:?}",
                    shared.cluster
                )));
            }
            if from == shared.id || from == 0 {
                return Err(ConnError::Handshake(format!("bad peer id {from}")));
            }
            if !advertise.is_empty() {
                let mut learned = shared.learned.lock().unwrap_or_else(|e| e.into_inner());
                learned.insert(from, advertise);
            }
            from
        }
        Frame::Raft(_) => return Err(ConnError::Handshake("expected hello".into())),
    };
    loop {
        let body = read_frame(&mut r, shared.opts.max_frame).await?;
        match decode_frame(&body)? {
            Frame::Raft(m) => {
                if m.to != shared.id || m.from != from {
                    tracing::warn!(
                        node = shared.id,
                        to = m.to,
                        from = m.from,
                        peer = from,
                        "misaddressed raft message dropped"
                    );
                    continue;
                }
                if !inbox.deliver(m) {
                    tracing::trace!(node = shared.id, from, "inbox full; message dropped");
                }
            }
            Frame::Hello { .. } => return Err(ConnError::Handshake("second hello".into())),
        }
    }
}

/// Most messages written in one batch.
const WRITE_BATCH: usize = 256;

async fn peer_sender(
    shared: Arc<Shared>,
    inbox: Inbox,
    peer: u64,
    addr: String,
    mut rx: mpsc::Receiver<Message>,
) {
    let opts = &shared.opts;
    let mut backoff = opts.backoff_min;
    let hello = match encode_frame(&Frame::Hello {
        version: WIRE_VERSION,
        from: shared.id,
        cluster: shared.cluster.clone(),
        advertise: shared.advertise.clone(),
    }) {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(node = shared.id, error = %e, "cannot encode hello");
            return;
        }
    };
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut snaps = Vec::new();
    loop {
        let stream =
            match tokio::time::timeout(opts.connect_timeout, TcpStream::connect(&addr)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(node = shared.id, peer, %addr, error = %e, "connect failed");
                    if fail_queue(&mut rx, &inbox, peer) {
                        return;
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(opts.backoff_max);
                    continue;
                }
                Err(_) => {
                    if fail_queue(&mut rx, &inbox, peer) {
                        return;
                    }
                    backoff = (backoff * 2).min(opts.backoff_max);
                    continue;
                }
            };
        let _ = stream.set_nodelay(true);
        let (mut rd, mut wr) = stream.into_split();
        if let Some(b) = opts.connect_prefix {
            if wr.write_all(&[b]).await.is_err() {
                continue;
            }
        }
        if wr.write_all(&hello).await.is_err() {
            continue;
        }
        backoff = opts.backoff_min;
        tracing::debug!(node = shared.id, peer, %addr, "connected");
        let mut probe = [0u8; 1];
        loop {
            let first = tokio::select! {
                m = rx.recv() => match m {
                    Some(m) => m,
                    None => return,
                },
                // The peer never writes on this connection: EOF or an error means it is gone.
                _ = rd.read(&mut probe) => break,
            };
            buf.clear();
            snaps.clear();
            let mut next = Some(first);
            let mut n = 0;
            while let Some(m) = next.take() {
                if m.get_msg_type() == MessageType::MsgSnapshot {
                    snaps.push(m.to);
                }
                match encode_frame_into(&Frame::Raft(m), &mut buf) {
                    Ok(()) => {}
                    Err(e) => {
                        tracing::warn!(node = shared.id, peer, error = %e, "cannot encode message")
                    }
                }
                n += 1;
                if n < WRITE_BATCH {
                    next = rx.try_recv().ok();
                }
            }
            if let Err(e) = wr.write_all(&buf).await {
                tracing::debug!(node = shared.id, peer, error = %e, "write failed; reconnecting");
                for _ in &snaps {
                    inbox.report_snapshot(peer, false);
                }
                inbox.report_unreachable(peer);
                break;
            }
            for _ in &snaps {
                inbox.report_snapshot(peer, true);
            }
        }
    }
}

/// Drops what is queued for an unreachable peer. Returns true when the queue is closed.
fn fail_queue(rx: &mut mpsc::Receiver<Message>, inbox: &Inbox, peer: u64) -> bool {
    inbox.report_unreachable(peer);
    loop {
        match rx.try_recv() {
            Ok(m) => {
                if m.get_msg_type() == MessageType::MsgSnapshot {
                    inbox.report_snapshot(peer, false);
                }
            }
            Err(mpsc::error::TryRecvError::Empty) => return false,
            Err(mpsc::error::TryRecvError::Disconnected) => return true,
        }
    }
}
