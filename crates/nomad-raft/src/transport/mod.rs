//! Moving Raft messages between servers.
//!
//! A [`Transport`] is owned by the node thread: it queues outbound messages without blocking
//! (dropping them when a peer's queue is full; Raft retransmits) and delivers inbound ones to
//! the node's [`Inbox`].

mod tcp;
mod wire;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;

use raft::eraftpb::Message;

use crate::error::RaftError;
use crate::node::Event;

pub use tcp::{RaftAcceptor, TcpOptions, TcpTransport};
pub use wire::{decode_frame, encode_frame, Frame, FrameError, WIRE_VERSION};

/// Carries Raft messages between servers.
pub trait Transport: Send + 'static {
    /// Called once when the node starts; inbound messages and delivery reports go to `inbox`.
    fn start(&mut self, inbox: Inbox) -> Result<(), RaftError>;
    /// Queues `msg` for peer `msg.to`. Must not block; may drop the message.
    fn send(&mut self, msg: Message);
    /// The current address book (all members, this node included).
    fn update_peers(&mut self, peers: &BTreeMap<u64, String>);
    /// Stops all connections and the listener.
    fn shutdown(&mut self);
}

/// The node's inbound queue, handed to the transport.
#[derive(Clone)]
pub struct Inbox {
    tx: mpsc::Sender<Event>,
    queued: Arc<AtomicUsize>,
    cap: usize,
}

impl Inbox {
    pub(crate) fn new(tx: mpsc::Sender<Event>, queued: Arc<AtomicUsize>, cap: usize) -> Inbox {
        Inbox { tx, queued, cap }
    }

    /// Delivers a message from a peer. Returns false when it was dropped (the node's queue
    /// is full, or the node stopped).
    pub fn deliver(&self, msg: Message) -> bool {
        if self.queued.load(Ordering::Relaxed) >= self.cap {
            return false;
        }
        self.queued.fetch_add(1, Ordering::Relaxed);
        if self.tx.send(Event::Raft(msg)).is_err() {
            self.queued.fetch_sub(1, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// Reports that `peer` could not be reached (the leader then probes it instead of
    /// streaming).
    pub fn report_unreachable(&self, peer: u64) {
        let _ = self.tx.send(Event::Unreachable(peer));
    }

    /// Reports whether a snapshot message to `peer` was written out (`true`) or lost.
    pub fn report_snapshot(&self, peer: u64, delivered: bool) {
        let _ = self.tx.send(Event::SnapshotStatus(peer, delivered));
    }
}
