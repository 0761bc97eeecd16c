//! The bounded buffer of recent events and the subscriptions that read it.
//!
//! The store appends each entry's [`EventBatch`] under a short lock, before
//! it raises the applied index that wakes waiters, and drops the oldest
//! batches once more than the configured number of events are held (the
//! newest batch is always kept, however large). Apply never waits for a
//! subscriber: subscribers copy `Arc`s out at their own pace, and one that
//! falls so far behind that a batch it had not read was dropped ends with
//! [`EventStreamError::Dropped`], as Nomad's subscriptions end with `event
//! dropped from buffer`. A restored snapshot ends every subscription
//! ([`EventStreamError::Closed`]): the state it described is gone.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use super::{Event, EventBatch};
use crate::watch::{Notifier, WaitFor};

/// Events the store keeps by default (see
/// [`StateStore::with_event_buffer`](crate::StateStore::with_event_buffer)).
pub const DEFAULT_EVENT_BUFFER_SIZE: usize = 10_000;

/// Why a subscription ended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventStreamError {
    /// The subscriber fell behind: events it had not read were dropped
    /// from the buffer. Subscribe again (from the index it had reached).
    #[error("event dropped from buffer")]
    Dropped,
    /// The state was replaced by a snapshot; subscribe again.
    #[error("subscription closed by server, client should resubscribe")]
    Closed,
    /// The store keeps no events (a buffer size of 0).
    #[error("event broker is disabled")]
    Disabled,
}

/// The recent batches, oldest first.
#[derive(Debug)]
pub(crate) struct EventRing {
    max_events: usize,
    batches: VecDeque<Arc<EventBatch>>,
    /// Events in `batches`.
    held: usize,
    /// Every batch with an index above this is (or was never dropped
    /// from) the buffer: the index of the last batch dropped, or of the
    /// restore that emptied it.
    floor: u64,
    /// The applied index published with the latest append.
    last_index: u64,
    /// Raised by every restore.
    generation: u64,
}

impl EventRing {
    pub fn new(max_events: usize) -> Self {
        EventRing {
            max_events,
            batches: VecDeque::new(),
            held: 0,
            floor: 0,
            last_index: 0,
            generation: 0,
        }
    }

    /// Sets the bound, dropping old batches to meet it (0: keep none).
    pub fn set_max_events(&mut self, max_events: usize) {
        self.max_events = max_events;
        if max_events == 0 {
            if let Some(b) = self.batches.back() {
                self.floor = self.floor.max(b.index);
            }
            self.batches.clear();
            self.held = 0;
        }
        self.trim();
    }

    /// Records that the entry at `index` was applied, with its events.
    pub fn append(&mut self, index: u64, events: Vec<Event>) {
        self.last_index = index;
        if events.is_empty() || self.max_events == 0 {
            return;
        }
        self.held += events.len();
        self.batches
            .push_back(Arc::new(EventBatch { index, events }));
        self.trim();
    }

    fn trim(&mut self) {
        while self.held > self.max_events && self.batches.len() > 1 {
            if let Some(old) = self.batches.pop_front() {
                self.held -= old.events.len();
                self.floor = old.index;
            }
        }
    }

    /// The state was replaced at `index`: forget everything.
    pub fn reset(&mut self, index: u64) {
        self.batches.clear();
        self.held = 0;
        self.floor = index;
        self.last_index = index;
        self.generation += 1;
    }

    pub fn held(&self) -> usize {
        self.held
    }
}

/// A reader of the event buffer, from some index on; made by
/// [`StateReader::subscribe_events`](crate::StateReader::subscribe_events).
///
/// [`EventSubscription::next_batches`] returns what is there now without
/// blocking; [`EventSubscription::wait`] resolves once a newer entry has
/// been applied (possibly one without events: read again and wait again).
pub struct EventSubscription {
    ring: Arc<Mutex<EventRing>>,
    notifier: Arc<Notifier>,
    /// The next index wanted: everything below it was delivered.
    next: u64,
    /// [`Notifier::published`] before the last read that reached the end
    /// of the buffer: a later publish may have appended more.
    seen: u64,
    /// The buffer's generation at the first read.
    generation: Option<u64>,
}

impl EventSubscription {
    pub(crate) fn new(ring: Arc<Mutex<EventRing>>, notifier: Arc<Notifier>, from: u64) -> Self {
        EventSubscription {
            ring,
            notifier,
            next: from,
            seen: 0,
            generation: None,
        }
    }

    fn lock(&self) -> MutexGuard<'_, EventRing> {
        // Every update of the ring is complete before anything can panic.
        self.ring.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The batches not yet delivered, oldest first, at most `max` of them.
    ///
    /// The first call starts at the subscription's index, or at the oldest
    /// batch still held when that index is older (Nomad's "the next
    /// available index"), or with the next entry applied when it is past
    /// the applied index (Nomad would repeat its newest batch). Later calls
    /// fail once batches this subscription had not read were dropped, or
    /// the state was restored.
    pub fn next_batches(&mut self, max: usize) -> Result<Vec<Arc<EventBatch>>, EventStreamError> {
        // Read before the buffer: the store appends to the buffer before it
        // publishes, so whatever this read misses publishes after it.
        let published = self.notifier.published();
        let ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        if ring.max_events == 0 {
            return Err(EventStreamError::Disabled);
        }
        match self.generation {
            None => {
                self.generation = Some(ring.generation);
                if ring.floor >= self.next {
                    self.next = ring.floor + 1;
                }
                // An index past the applied one (another cluster's, an
                // index from before a restore) starts with the next entry.
                self.next = self.next.min(ring.last_index + 1);
            }
            Some(g) if g != ring.generation => return Err(EventStreamError::Closed),
            Some(_) if ring.floor >= self.next => return Err(EventStreamError::Dropped),
            Some(_) => {}
        }
        let start = ring.batches.partition_point(|b| b.index < self.next);
        let out: Vec<Arc<EventBatch>> = ring.batches.range(start..).take(max).cloned().collect();
        if start + out.len() == ring.batches.len() {
            self.seen = published;
            self.next = self.next.max(ring.last_index + 1);
        } else if let Some(last) = out.last() {
            // More are there already: the next wait returns at once.
            self.seen = published.saturating_sub(1);
            self.next = last.index + 1;
        }
        Ok(out)
    }

    /// Resolves once the store has published past what was read (an entry
    /// applied, with or without events, or a restore).
    pub fn wait(&self) -> WaitFor {
        WaitFor::published_past(Arc::clone(&self.notifier), self.seen)
    }

    /// The next index this subscription will deliver: pass it as the
    /// `from` of a new subscription to resume.
    pub fn position(&self) -> u64 {
        self.next
    }

    /// Events held by the buffer now (for metrics and tests).
    pub fn buffered(&self) -> usize {
        self.lock().held()
    }
}
