//! The state-machine contract and a small deterministic key/value state machine used by the
//! tests, the `raft-kv` binary and the benchmark.

use std::collections::BTreeMap;

/// Writes a state machine image captured at one point in time; it may run on another thread
/// while the state machine goes on applying entries. See [`StateMachine::snapshot_writer`].
pub type SnapshotWriter =
    Box<dyn FnOnce(&mut dyn std::io::Write) -> std::io::Result<()> + Send + 'static>;

/// A proposer's own decoded form of the command it proposes (see
/// [`StateMachine::apply_decoded`]): the state machine downcasts it to its command type.
pub type Decoded = Box<dyn std::any::Any + Send>;

/// One committed entry handed to [`StateMachine::apply_batch`].
pub struct Committed<'a> {
    /// Its log index.
    pub index: u64,
    /// Its bytes, as every server has them.
    pub data: &'a [u8],
    /// This node's in-memory form of `data`, when this node proposed it (see
    /// [`StateMachine::apply_decoded`]).
    pub decoded: Option<Decoded>,
    /// Whether a proposer on this node waits for the entry's result. When
    /// false the result is dropped, so the state machine may return an empty
    /// one instead of encoding it (a follower applies every entry and
    /// answers almost none).
    pub wanted: bool,
}

/// A deterministic state machine fed by committed Raft entries.
///
/// Same shape as `nomad-state`'s FSM, so that any FSM plugs in without this crate depending on
/// it. `apply` must be deterministic: the same entries in the same order give the same state and
/// the same results on every server.
pub trait StateMachine: Send + 'static {
    /// Applies the command committed at `index` and returns its result (given back to the
    /// proposer).
    fn apply(&mut self, index: u64, data: &[u8]) -> Vec<u8>;
    /// Applies an entry this node proposed with [`crate::RaftHandle::propose_decoded`]:
    /// `decoded` is the proposer's in-memory form of exactly `data`, so the state machine may
    /// apply it without decoding `data` again. It must give the same state and result as
    /// `apply(index, data)` would (every other server decodes `data`). The default ignores it.
    fn apply_decoded(&mut self, index: u64, data: &[u8], decoded: Decoded) -> Vec<u8> {
        drop(decoded);
        self.apply(index, data)
    }
    /// Applies consecutive committed entries, in order, and returns their results in order.
    /// It must give the same state and results as applying them one at a time with
    /// [`StateMachine::apply`] / [`StateMachine::apply_decoded`]; what it may save is the work
    /// between entries (a state machine that publishes a read view after each entry can publish
    /// once, at the end). The node answers the entries' proposers only after it returns. The
    /// default applies them one at a time.
    fn apply_batch(&mut self, entries: Vec<Committed<'_>>) -> Vec<Vec<u8>> {
        entries
            .into_iter()
            .map(|e| match e.decoded {
                Some(d) => self.apply_decoded(e.index, e.data, d),
                None => self.apply(e.index, e.data),
            })
            .collect()
    }
    /// A serialised image of the whole state (taken at the current applied index).
    fn snapshot(&self) -> Vec<u8>;
    /// Writes the same image as [`StateMachine::snapshot`] into `w`. Large state machines
    /// override it to stream the image instead of building it in memory (the node writes
    /// its snapshots this way, straight into the snapshot file).
    fn write_snapshot(&self, w: &mut dyn std::io::Write) -> std::io::Result<()> {
        w.write_all(&self.snapshot())
    }
    /// A writer of the image of the state as it is now, to run on another thread: the node
    /// then writes its snapshots in the background while it goes on applying entries. It must
    /// write exactly the bytes [`StateMachine::write_snapshot`] writes now, and taking it must
    /// be cheap (e.g. an O(1) clone of persistent maps). `None` (the default): the node writes
    /// snapshots on its own thread with `write_snapshot`, stalling Raft meanwhile.
    fn snapshot_writer(&self) -> Option<SnapshotWriter> {
        None
    }
    /// Replaces the state with a snapshot image.
    fn restore(&mut self, data: &[u8]) -> Result<(), Box<dyn std::error::Error + Send + Sync>>;
    /// The index of the last entry this state machine applied (0 for a fresh one). A
    /// persistent state machine reports where it is so that entries are not applied twice.
    fn applied_index(&self) -> u64;
}

/// A state machine shared with other threads (e.g. to serve reads): the node locks it for
/// each apply, snapshot and restore.
impl<F: StateMachine> StateMachine for std::sync::Arc<std::sync::Mutex<F>> {
    fn apply(&mut self, index: u64, data: &[u8]) -> Vec<u8> {
        lock(self).apply(index, data)
    }
    fn snapshot(&self) -> Vec<u8> {
        lock(self).snapshot()
    }
    fn write_snapshot(&self, w: &mut dyn std::io::Write) -> std::io::Result<()> {
        lock(self).write_snapshot(w)
    }
    /// Taken under the lock (only the point-in-time capture); the writer runs without it.
    fn snapshot_writer(&self) -> Option<SnapshotWriter> {
        lock(self).snapshot_writer()
    }
    fn restore(&mut self, data: &[u8]) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        lock(self).restore(data)
    }
    fn apply_decoded(&mut self, index: u64, data: &[u8], decoded: Decoded) -> Vec<u8> {
        lock(self).apply_decoded(index, data, decoded)
    }
    /// One lock for the whole batch.
    fn apply_batch(&mut self, entries: Vec<Committed<'_>>) -> Vec<Vec<u8>> {
        lock(self).apply_batch(entries)
    }
    fn applied_index(&self) -> u64 {
        lock(self).applied_index()
    }
}

fn lock<F>(m: &std::sync::Mutex<F>) -> std::sync::MutexGuard<'_, F> {
    // A panic while holding the lock leaves the state as the last completed apply left it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A deterministic key/value state machine.
///
/// Commands: [`KvCommand::encode`]. `Set` returns the previous value (empty if none).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct KvStateMachine {
    map: BTreeMap<Vec<u8>, Vec<u8>>,
    applied: u64,
}

/// A command for [`KvStateMachine`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvCommand {
    /// Sets `key` to `value`.
    Set(Vec<u8>, Vec<u8>),
    /// Removes `key`.
    Delete(Vec<u8>),
}

impl KvCommand {
    /// Encodes the command: one tag byte, then length-prefixed key (and value).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            KvCommand::Set(k, v) => {
                out.push(1);
                put_bytes(&mut out, k);
                put_bytes(&mut out, v);
            }
            KvCommand::Delete(k) => {
                out.push(2);
                put_bytes(&mut out, k);
            }
        }
        out
    }

    /// Decodes a command; `None` if malformed.
    pub fn decode(data: &[u8]) -> Option<KvCommand> {
        let (&tag, mut rest) = data.split_first()?;
        match tag {
            1 => {
                let k = take_bytes(&mut rest)?;
                let v = take_bytes(&mut rest)?;
                rest.is_empty().then_some(KvCommand::Set(k, v))
            }
            2 => {
                let k = take_bytes(&mut rest)?;
                rest.is_empty().then_some(KvCommand::Delete(k))
            }
            _ => None,
        }
    }
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_be_bytes());
    out.extend_from_slice(b);
}

fn take_bytes(rest: &mut &[u8]) -> Option<Vec<u8>> {
    if rest.len() < 4 {
        return None;
    }
    let (len, tail) = rest.split_at(4);
    let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
    if tail.len() < len {
        return None;
    }
    let (b, tail) = tail.split_at(len);
    *rest = tail;
    Some(b.to_vec())
}

fn take_u64(rest: &mut &[u8]) -> Option<u64> {
    if rest.len() < 8 {
        return None;
    }
    let (n, tail) = rest.split_at(8);
    *rest = tail;
    let mut b = [0u8; 8];
    b.copy_from_slice(n);
    Some(u64::from_be_bytes(b))
}

impl KvStateMachine {
    /// An empty state machine.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads a key.
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.map.get(key).map(Vec::as_slice)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when there are no keys.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// FNV-1a digest of the contents (keys in order); equal states give equal digests.
    pub fn digest(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |b: &[u8]| {
            for x in (b.len() as u64).to_be_bytes().iter().chain(b) {
                h ^= u64::from(*x);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
        };
        for (k, v) in &self.map {
            eat(k);
            eat(v);
        }
        h
    }
}

impl StateMachine for KvStateMachine {
    fn apply(&mut self, index: u64, data: &[u8]) -> Vec<u8> {
        self.applied = index;
        match KvCommand::decode(data) {
            Some(KvCommand::Set(k, v)) => self.map.insert(k, v).unwrap_or_default(),
            Some(KvCommand::Delete(k)) => self.map.remove(&k).unwrap_or_default(),
            // A malformed command is applied as a no-op on every server alike.
            None => Vec::new(),
        }
    }

    fn snapshot(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&self.applied.to_be_bytes());
        out.extend_from_slice(&(self.map.len() as u64).to_be_bytes());
        for (k, v) in &self.map {
            put_bytes(&mut out, k);
            put_bytes(&mut out, v);
        }
        out
    }

    /// A clone of the map (O(n), fine for a test state machine) written on the snapshot
    /// thread.
    fn snapshot_writer(&self) -> Option<SnapshotWriter> {
        let copy = self.clone();
        Some(Box::new(move |w| w.write_all(&copy.snapshot())))
    }

    fn restore(&mut self, data: &[u8]) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let mut rest = data;
        let applied = take_u64(&mut rest).ok_or("kv snapshot: truncated header")?;
        let n = take_u64(&mut rest).ok_or("kv snapshot: truncated header")?;
        let mut map = BTreeMap::new();
        for _ in 0..n {
            let k = take_bytes(&mut rest).ok_or("kv snapshot: truncated entry")?;
            let v = take_bytes(&mut rest).ok_or("kv snapshot: truncated entry")?;
            map.insert(k, v);
        }
        if !rest.is_empty() {
            return Err("kv snapshot: trailing bytes".into());
        }
        self.map = map;
        self.applied = applied;
        Ok(())
    }

    fn applied_index(&self) -> u64 {
        self.applied
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kv_roundtrip_and_snapshot() {
        let mut kv = KvStateMachine::new();
        let old = kv.apply(1, &KvCommand::Set(b"a".to_vec(), b"1".to_vec()).encode());
        assert!(old.is_empty());
        let old = kv.apply(2, &KvCommand::Set(b"a".to_vec(), b"2".to_vec()).encode());
        assert_eq!(old, b"1");
        kv.apply(3, b"\xffgarbage");
        let snap = kv.snapshot();
        let mut other = KvStateMachine::new();
        other.restore(&snap).unwrap();
        assert_eq!(other, kv);
        assert_eq!(other.digest(), kv.digest());
        assert!(other.restore(&snap[..snap.len() - 1]).is_err());
        let writer = kv.snapshot_writer().expect("kv has a writer");
        kv.apply(4, &KvCommand::Set(b"b".to_vec(), b"3".to_vec()).encode());
        let mut written = Vec::new();
        writer(&mut written).unwrap();
        assert_eq!(written, snap, "the writer writes the state it was taken at");
    }
}
