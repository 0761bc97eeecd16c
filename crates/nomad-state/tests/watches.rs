//! Watches: blocking queries wake when their table passes an index, and
//! never miss a change made between their read and their wait.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use nomad_state::Table;

#[test]
fn wakes_when_the_watched_table_changes() {
    let mut c = Cluster::default();
    c.add_node("n1");
    let reader = c.store.reader();
    let seen = reader.snapshot().table_index(Table::Allocs);
    let waiter = {
        let reader = reader.clone();
        std::thread::spawn(move || {
            reader
                .wait_past(&[Table::Allocs], seen)
                .blocking(Duration::from_secs(20))
        })
    };
    while reader.notifier().waiter_count() == 0 {
        std::thread::yield_now();
    }
    c.add_node("n2"); // nodes only: must not wake an allocs watcher
    std::thread::sleep(Duration::from_millis(20));
    assert!(!waiter.is_finished(), "woken by an unrelated table");
    c.register(job("web", &[("g", 1)]));
    let j = c.snap().job_by_id("default", "web").unwrap();
    let r = c.place(&j, vec![alloc("a1", "web", "g", "n1", "e")]);
    assert_eq!(waiter.join().unwrap(), Some(r.index));
    assert_eq!(reader.notifier().waiter_count(), 0);
}

#[test]
fn times_out_without_changes() {
    let c = Cluster::default();
    let reader = c.store.reader();
    assert_eq!(
        reader
            .wait_past(&[Table::Jobs], 0)
            .blocking(Duration::from_millis(10)),
        None
    );
    assert_eq!(reader.notifier().waiter_count(), 0);
}

/// Many blocking queries race many writes: each query reads, then waits
/// past what it read; none may sleep through a write it did not see.
#[test]
fn never_misses_a_change_between_read_and_wait() {
    let cluster = Arc::new(Mutex::new(Cluster::default()));
    let reader = cluster.lock().unwrap().store.reader();
    let done = Arc::new(AtomicBool::new(false));
    let mut queries = Vec::new();
    for _ in 0..4 {
        let reader = reader.clone();
        let done = Arc::clone(&done);
        queries.push(std::thread::spawn(move || {
            let mut woke = 0u32;
            while !done.load(Ordering::SeqCst) {
                let snap = reader.snapshot();
                let seen = snap.table_index(Table::Nodes);
                // Long timeout: a missed wake-up would stall the test.
                match reader
                    .wait_past(&[Table::Nodes], seen)
                    .blocking(Duration::from_secs(5))
                {
                    Some(idx) => {
                        assert!(idx > seen);
                        assert!(
                            reader.snapshot().table_index(Table::Nodes) >= idx,
                            "the new state is visible"
                        );
                        woke += 1;
                    }
                    None => assert!(
                        done.load(Ordering::SeqCst),
                        "missed a change after index {seen}"
                    ),
                }
            }
            woke
        }));
    }
    for i in 0..300 {
        cluster.lock().unwrap().add_node(&format!("n{i}"));
        if i % 50 == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    done.store(true, Ordering::SeqCst);
    // Keep writing until every query has noticed it should stop.
    for i in 0..5000 {
        if queries.iter().all(|q| q.is_finished()) {
            break;
        }
        cluster.lock().unwrap().add_node(&format!("last{i}"));
        std::thread::sleep(Duration::from_millis(1));
    }
    for q in queries {
        assert!(q.join().unwrap() > 0);
    }
}

#[test]
fn applied_index_waits_cover_barriers() {
    let mut c = Cluster::default();
    let reader = c.store.reader();
    let w = reader.wait_applied(2);
    c.ok(nomad_state::Command::Noop);
    c.ok(nomad_state::Command::Noop);
    assert_eq!(w.blocking(Duration::from_secs(5)), Some(2));
}

#[test]
fn the_future_works_under_any_executor() {
    // A minimal executor: poll, park on the waker, repeat.
    use std::future::Future;
    use std::task::{Context, Poll, Wake, Waker};
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let mut c = Cluster::default();
    let reader = c.store.reader();
    let mut fut = Box::pin(reader.wait_past(&[Table::Jobs, Table::Evals], 0));
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    assert!(fut.as_mut().poll(&mut cx).is_pending());
    let writer = std::thread::spawn(move || {
        c.register(job("web", &[("g", 1)]));
    });
    let got = loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            break v;
        }
        std::thread::park_timeout(Duration::from_secs(5));
    };
    writer.join().unwrap();
    assert_eq!(got, 1);
}
