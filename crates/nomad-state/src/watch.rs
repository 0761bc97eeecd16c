//! Watches for blocking queries, without an async runtime.
//!
//! A blocking query reads a snapshot, and if the index it reports is not
//! past the client's `?index=N`, waits for a table it read to change and
//! reads again. [`Notifier`] keeps the published index of every table and
//! a list of wakers; the store publishes a new snapshot *first* and then
//! raises the indexes of the tables the entry changed and wakes the waiters
//! on those tables. A waiter compares the published index with the one it
//! saw, under the same lock it registers under, so a change that lands
//! between the read and the wait is never missed: the wait just returns at
//! once.
//!
//! The wait is a plain [`Future`] built on `std::task::Waker`, so any
//! executor can drive it (tokio included, with `tokio::time::timeout` for
//! the query's deadline) and this crate needs none; [`WaitFor::blocking`]
//! drives the same future on the calling thread for synchronous callers.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use crate::table::{Table, TableIndexes, TableSet};

/// What a waiter waits for.
#[derive(Debug, Clone, Copy)]
enum Condition {
    /// Some table of the set has an index greater than the value.
    TablesPast(TableSet, u64),
    /// The applied index is at least the value.
    Applied(u64),
    /// More states than the value have been published.
    Published(u64),
}

#[derive(Default)]
struct Inner {
    indexes: TableIndexes,
    applied: u64,
    /// States published so far (every entry, restores included).
    published: u64,
    next_id: u64,
    waiters: BTreeMap<u64, (Condition, Waker)>,
}

impl Inner {
    /// The index the condition reports when it holds.
    fn check(&self, c: Condition) -> Option<u64> {
        match c {
            Condition::TablesPast(set, min) => {
                let idx = set.iter().map(|t| self.indexes.get(t)).max().unwrap_or(0);
                (idx > min).then_some(idx)
            }
            Condition::Applied(min) => (self.applied >= min).then_some(self.applied),
            Condition::Published(n) => (self.published > n).then_some(self.applied),
        }
    }
}

/// Published table indexes and the wakers waiting on them.
#[derive(Default)]
pub struct Notifier {
    inner: Mutex<Inner>,
}

impl Notifier {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding this lock cannot leave `Inner` inconsistent
        // (every update is a plain store), so a poisoned lock is usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records newly published indexes and wakes the waiters that may now
    /// be satisfied. Called after the snapshot holding these indexes is
    /// visible to readers.
    pub(crate) fn publish(&self, indexes: TableIndexes, applied: u64, changed: TableSet) {
        let wake: Vec<Waker> = {
            let mut g = self.lock();
            g.indexes = indexes;
            g.applied = applied;
            g.published += 1;
            let ready: Vec<u64> = g
                .waiters
                .iter()
                .filter(|(_, (c, _))| match c {
                    Condition::TablesPast(set, _) => set.iter().any(|t| changed.contains(t)),
                    Condition::Applied(_) | Condition::Published(_) => true,
                })
                .filter(|(_, (c, _))| g.check(*c).is_some())
                .map(|(id, _)| *id)
                .collect();
            ready
                .into_iter()
                .filter_map(|id| g.waiters.remove(&id).map(|(_, w)| w))
                .collect()
        };
        for w in wake {
            w.wake();
        }
    }

    /// The published index of each table.
    pub fn indexes(&self) -> TableIndexes {
        self.lock().indexes
    }

    /// How many states have been published (every applied entry and
    /// restore counts one).
    pub fn published(&self) -> u64 {
        self.lock().published
    }

    /// Number of registered waiters (for tests and metrics).
    pub fn waiter_count(&self) -> usize {
        self.lock().waiters.len()
    }
}

/// A future that resolves, with the index that satisfied it, once one of
/// the watched tables passes an index (or the applied index reaches one).
///
/// Dropping it unregisters it.
pub struct WaitFor {
    notifier: Arc<Notifier>,
    cond: Condition,
    slot: Option<u64>,
}

impl WaitFor {
    /// Resolves when the greatest index of `tables` exceeds `index`.
    pub(crate) fn tables_past(notifier: Arc<Notifier>, tables: &[Table], index: u64) -> Self {
        WaitFor {
            notifier,
            cond: Condition::TablesPast(tables.iter().copied().collect(), index),
            slot: None,
        }
    }

    /// Resolves when the applied index is at least `index`.
    pub(crate) fn applied(notifier: Arc<Notifier>, index: u64) -> Self {
        WaitFor {
            notifier,
            cond: Condition::Applied(index),
            slot: None,
        }
    }

    /// Resolves, with the applied index, once more than `count` states
    /// have been published (see [`Notifier::published`]).
    pub(crate) fn published_past(notifier: Arc<Notifier>, count: u64) -> Self {
        WaitFor {
            notifier,
            cond: Condition::Published(count),
            slot: None,
        }
    }

    /// Waits on the calling thread, at most `timeout`. `None` on timeout.
    pub fn blocking(mut self, timeout: Duration) -> Option<u64> {
        let deadline = Instant::now() + timeout;
        let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        loop {
            if let Poll::Ready(idx) = Pin::new(&mut self).poll(&mut cx) {
                return Some(idx);
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            std::thread::park_timeout(deadline - now);
        }
    }
}

impl Future for WaitFor {
    type Output = u64;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u64> {
        let this = &mut *self;
        let mut g = this.notifier.lock();
        if let Some(idx) = g.check(this.cond) {
            if let Some(id) = this.slot.take() {
                g.waiters.remove(&id);
            }
            return Poll::Ready(idx);
        }
        let id = match this.slot {
            Some(id) => id,
            None => {
                g.next_id += 1;
                let id = g.next_id;
                this.slot = Some(id);
                id
            }
        };
        g.waiters.insert(id, (this.cond, cx.waker().clone()));
        Poll::Pending
    }
}

impl Drop for WaitFor {
    fn drop(&mut self) {
        if let Some(id) = self.slot.take() {
            self.notifier.lock().waiters.remove(&id);
        }
    }
}

struct ThreadWaker(std::thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_at_once_when_already_past() {
        let n = Arc::new(Notifier::default());
        let mut ix = TableIndexes::default();
        ix.set(Table::Allocs, 5);
        n.publish(ix, 5, [Table::Allocs].into_iter().collect());
        let w = WaitFor::tables_past(Arc::clone(&n), &[Table::Allocs], 4);
        assert_eq!(w.blocking(Duration::from_millis(1)), Some(5));
        let w = WaitFor::tables_past(Arc::clone(&n), &[Table::Allocs], 5);
        assert_eq!(w.blocking(Duration::from_millis(1)), None);
        assert_eq!(n.waiter_count(), 0, "timed-out waiter unregistered");
    }

    #[test]
    fn other_tables_do_not_wake() {
        let n = Arc::new(Notifier::default());
        let waiter = {
            let n = Arc::clone(&n);
            std::thread::spawn(move || {
                WaitFor::tables_past(n, &[Table::Jobs], 0).blocking(Duration::from_secs(10))
            })
        };
        while n.waiter_count() == 0 {
            std::thread::yield_now();
        }
        let mut ix = TableIndexes::default();
        ix.set(Table::Nodes, 3);
        n.publish(ix, 3, [Table::Nodes].into_iter().collect());
        assert_eq!(n.waiter_count(), 1);
        ix.set(Table::Jobs, 4);
        n.publish(ix, 4, [Table::Jobs].into_iter().collect());
        assert_eq!(waiter.join().unwrap(), Some(4));
    }
}
