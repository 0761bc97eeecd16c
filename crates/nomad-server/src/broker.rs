//! The evaluation broker (leader only, in memory).
//!
//! Semantics follow Nomad's `nomad/eval_broker.go`: ready queues per
//! scheduler type ordered by priority (higher first) then age (lower create
//! index first); at most one evaluation per job is ready or in flight, later
//! ones wait as pending and, when the job's evaluation is acknowledged, only
//! the newest pending one goes on (the others are returned to be cancelled);
//! delivery is at least once, with a token: a nack (or a nack timeout)
//! redelivers until the delivery limit, after which the evaluation is
//! returned as failed; evaluations with a `WaitUntil` in the future are held
//! until then.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use nomad_types::Evaluation;
use tokio::sync::Notify;

type JobKey = (String, String);

fn job_key(e: &Evaluation) -> JobKey {
    (e.namespace.clone(), e.job_id.clone())
}

struct Unacked {
    eval: Evaluation,
    token: String,
    deadline: Instant,
}

/// Order of a ready queue: higher priority first, then the older
/// evaluation (lower create index), then arrival.
type ReadyKey = (std::cmp::Reverse<i64>, u64, u64);

#[derive(Default)]
struct State {
    enabled: bool,
    /// Per scheduler type, in dequeue order (see [`ReadyKey`]).
    ready: HashMap<String, BTreeMap<ReadyKey, Evaluation>>,
    /// Arrival counter: evaluations of equal priority and index leave in
    /// the order they came.
    next_seq: u64,
    unack: HashMap<String, Unacked>,
    /// Job → the evaluation ready or in flight for it.
    in_flight: HashMap<JobKey, String>,
    pending: HashMap<JobKey, Vec<Evaluation>>,
    delayed: Vec<(Instant, Evaluation)>,
    deliveries: HashMap<String, u32>,
    known: HashSet<String>,
}

/// Counts, for tests and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BrokerStats {
    /// Ready to dequeue.
    pub ready: usize,
    /// Dequeued, not yet acknowledged.
    pub unacked: usize,
    /// Waiting behind another evaluation of the same job.
    pub pending: usize,
    /// Held until their `WaitUntil`.
    pub delayed: usize,
}

/// What the server must write after a broker transition.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Superseded pending evaluations, to mark `canceled`.
    pub cancelled: Vec<Evaluation>,
    /// Evaluations past their delivery limit, to mark `failed`.
    pub failed: Vec<Evaluation>,
}

/// The broker.
pub struct EvalBroker {
    state: Mutex<State>,
    notify: Notify,
    nack_timeout: Duration,
    delivery_limit: u32,
}

fn unix_nanos_of(t: &nomad_types::GoTime) -> Option<i64> {
    if t.is_zero() {
        return None;
    }
    // RFC 3339 `YYYY-MM-DDTHH:MM:SS[.frac]Z`, as GoTime::from_unix_nanos writes.
    let s = t.0.as_str();
    let num = |a: usize, b: usize| s.get(a..b).and_then(|x| x.parse::<i64>().ok());
    let (y, mo, d, h, mi, se) = (
        num(0, 4)?,
        num(5, 7)?,
        num(8, 10)?,
        num(11, 13)?,
        num(14, 16)?,
        num(17, 19)?,
    );
    let mut frac = 0i64;
    if s.as_bytes().get(19) == Some(&b'.') {
        let digits: String = s[20..].chars().take_while(|c| c.is_ascii_digit()).collect();
        let padded = format!("{digits:0<9}");
        frac = padded.get(..9)?.parse().ok()?;
    }
    // days from civil (Howard Hinnant)
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + h * 3600 + mi * 60 + se) * 1_000_000_000 + frac)
}

impl EvalBroker {
    /// A disabled broker.
    pub fn new(nack_timeout: Duration, delivery_limit: u32) -> Self {
        EvalBroker {
            state: Mutex::new(State::default()),
            notify: Notify::new(),
            nack_timeout,
            delivery_limit: delivery_limit.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Enables (on gaining leadership) or disables and empties (on losing it).
    pub fn set_enabled(&self, enabled: bool) {
        let mut s = self.lock();
        if !enabled {
            *s = State::default();
        }
        s.enabled = enabled;
        drop(s);
        self.notify.notify_waiters();
    }

    /// Whether the broker is enabled.
    pub fn enabled(&self) -> bool {
        self.lock().enabled
    }

    /// Counts.
    pub fn stats(&self) -> BrokerStats {
        let s = self.lock();
        BrokerStats {
            ready: s.ready.values().map(BTreeMap::len).sum(),
            unacked: s.unack.len(),
            pending: s.pending.values().map(Vec::len).sum(),
            delayed: s.delayed.len(),
        }
    }

    /// Enqueues an evaluation (ignored when disabled or already tracked).
    pub fn enqueue(&self, eval: Evaluation) {
        let mut s = self.lock();
        if !s.enabled || s.known.contains(&eval.id) {
            return;
        }
        s.known.insert(eval.id.clone());
        if let Some(at) = unix_nanos_of(&eval.wait_until) {
            let now = crate::now_nanos();
            if at > now {
                let when = Instant::now() + Duration::from_nanos((at - now) as u64);
                s.delayed.push((when, eval));
                return;
            }
        }
        Self::enqueue_ready(&mut s, eval);
        drop(s);
        self.notify.notify_waiters();
    }

    fn enqueue_ready(s: &mut State, eval: Evaluation) {
        let key = job_key(&eval);
        if !eval.job_id.is_empty() {
            if let Some(cur) = s.in_flight.get(&key) {
                if cur != &eval.id {
                    s.pending.entry(key).or_default().push(eval);
                    return;
                }
            }
            s.in_flight.insert(key, eval.id.clone());
        }
        Self::push_ready(s, eval);
    }

    fn push_ready(s: &mut State, eval: Evaluation) {
        let key = (
            std::cmp::Reverse(eval.priority),
            eval.create_index,
            s.next_seq,
        );
        s.next_seq += 1;
        s.ready
            .entry(eval.eval_type.clone())
            .or_default()
            .insert(key, eval);
    }

    fn take_ready(&self, s: &mut State, types: &[String]) -> Option<(Evaluation, String)> {
        // The head of each type's queue; across types a later type wins
        // only with a strictly higher priority or older index.
        let mut best: Option<(&String, ReadyKey)> = None;
        for t in types {
            let Some((k, _)) = s.ready.get(t).and_then(BTreeMap::first_key_value) else {
                continue;
            };
            if best.is_none_or(|(_, b)| (k.0, k.1) < (b.0, b.1)) {
                best = Some((t, *k));
            }
        }
        let (t, k) = best.map(|(t, k)| (t.clone(), k))?;
        let eval = s.ready.get_mut(&t)?.remove(&k)?;
        let token = crate::new_id();
        *s.deliveries.entry(eval.id.clone()).or_default() += 1;
        s.unack.insert(
            eval.id.clone(),
            Unacked {
                eval: eval.clone(),
                token: token.clone(),
                deadline: Instant::now() + self.nack_timeout,
            },
        );
        Some((eval, token))
    }

    /// Dequeues the best ready evaluation of `types`, waiting up to `timeout`.
    pub async fn dequeue(
        &self,
        types: &[String],
        timeout: Duration,
    ) -> Option<(Evaluation, String)> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut s = self.lock();
                if s.enabled {
                    if let Some(got) = self.take_ready(&mut s, types) {
                        return Some(got);
                    }
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return None;
            }
        }
    }

    /// The token of an unacknowledged evaluation.
    pub fn outstanding(&self, eval_id: &str) -> Option<String> {
        self.lock().unack.get(eval_id).map(|u| u.token.clone())
    }

    /// Acknowledges a processed evaluation; the job's newest pending
    /// evaluation becomes ready and older pending ones are returned.
    pub fn ack(&self, eval_id: &str, token: &str) -> Result<Outcome, String> {
        let mut s = self.lock();
        match s.unack.get(eval_id) {
            Some(u) if u.token == token => {}
            Some(_) => return Err(format!("token does not match for evaluation {eval_id}")),
            None => return Err(format!("evaluation {eval_id} is not outstanding")),
        }
        let Some(u) = s.unack.remove(eval_id) else {
            return Err(format!("evaluation {eval_id} is not outstanding"));
        };
        s.known.remove(eval_id);
        s.deliveries.remove(eval_id);
        let out = Self::release_job(&mut s, &u.eval);
        drop(s);
        self.notify.notify_waiters();
        Ok(out)
    }

    fn release_job(s: &mut State, eval: &Evaluation) -> Outcome {
        let mut out = Outcome::default();
        let key = job_key(eval);
        if s.in_flight.get(&key) == Some(&eval.id) {
            s.in_flight.remove(&key);
        }
        if let Some(mut pending) = s.pending.remove(&key) {
            pending.sort_by_key(|e| (e.modify_index, e.create_index));
            if let Some(newest) = pending.pop() {
                for old in pending {
                    s.known.remove(&old.id);
                    out.cancelled.push(old);
                }
                Self::enqueue_ready(s, newest);
            }
        }
        out
    }

    /// Negatively acknowledges: redelivers, or fails the evaluation past
    /// the delivery limit.
    pub fn nack(&self, eval_id: &str, token: &str) -> Result<Outcome, String> {
        let mut s = self.lock();
        match s.unack.get(eval_id) {
            Some(u) if u.token == token => {}
            _ => {
                return Err(format!(
                    "evaluation {eval_id} is not outstanding with that token"
                ))
            }
        }
        let out = self.requeue_locked(&mut s, eval_id);
        drop(s);
        self.notify.notify_waiters();
        Ok(out)
    }

    fn requeue_locked(&self, s: &mut State, eval_id: &str) -> Outcome {
        let Some(u) = s.unack.remove(eval_id) else {
            return Outcome::default();
        };
        let delivered = s.deliveries.get(eval_id).copied().unwrap_or(0);
        if delivered >= self.delivery_limit {
            s.known.remove(eval_id);
            s.deliveries.remove(eval_id);
            let mut out = Self::release_job(s, &u.eval);
            out.failed.push(u.eval);
            out
        } else {
            Self::push_ready(s, u.eval);
            Outcome::default()
        }
    }

    /// Periodic work: nack timeouts and delayed evaluations coming due.
    pub fn tick(&self) -> Outcome {
        let now = Instant::now();
        let mut s = self.lock();
        let mut out = Outcome::default();
        let expired: Vec<String> = s
            .unack
            .iter()
            .filter(|(_, u)| u.deadline <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            tracing::warn!(eval_id = %id, "evaluation not acknowledged in time; redelivering");
            let o = self.requeue_locked(&mut s, &id);
            out.cancelled.extend(o.cancelled);
            out.failed.extend(o.failed);
        }
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut s.delayed)
            .into_iter()
            .partition(|(at, _)| *at <= now);
        s.delayed = later;
        let woke = !due.is_empty();
        for (_, e) in due {
            Self::enqueue_ready(&mut s, e);
        }
        drop(s);
        if woke {
            self.notify.notify_waiters();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(id: &str, job: &str, prio: i64, create: u64) -> Evaluation {
        Evaluation {
            id: id.into(),
            namespace: "default".into(),
            job_id: job.into(),
            priority: prio,
            eval_type: "service".into(),
            create_index: create,
            modify_index: create,
            ..Evaluation::default()
        }
    }

    fn types() -> Vec<String> {
        vec!["service".into()]
    }

    #[tokio::test]
    async fn priority_then_age_and_one_per_job() {
        let b = EvalBroker::new(Duration::from_secs(60), 3);
        b.set_enabled(true);
        b.enqueue(ev("a", "j1", 50, 1));
        b.enqueue(ev("b", "j2", 70, 2));
        b.enqueue(ev("c", "j3", 50, 0));
        b.enqueue(ev("d", "j1", 90, 3)); // pending behind a
        b.enqueue(ev("e", "j1", 90, 4)); // pending, newer
        let t = Duration::from_millis(10);
        let (x, _) = b.dequeue(&types(), t).await.unwrap();
        assert_eq!(x.id, "b");
        let (y, _) = b.dequeue(&types(), t).await.unwrap();
        assert_eq!(y.id, "c");
        let (z, tz) = b.dequeue(&types(), t).await.unwrap();
        assert_eq!(z.id, "a");
        assert!(b.dequeue(&types(), t).await.is_none());
        let out = b.ack("a", &tz).unwrap();
        assert_eq!(
            out.cancelled
                .iter()
                .map(|e| e.id.as_str())
                .collect::<Vec<_>>(),
            ["d"]
        );
        let (w, _) = b.dequeue(&types(), t).await.unwrap();
        assert_eq!(w.id, "e");
    }

    #[tokio::test]
    async fn equal_evaluations_leave_in_arrival_order_and_types_compete_by_priority() {
        let b = EvalBroker::new(Duration::from_secs(60), 3);
        b.set_enabled(true);
        // Evaluations written by one entry share their index.
        for (i, id) in ["n3", "n1", "n2"].iter().enumerate() {
            b.enqueue(ev(id, &format!("j{i}"), 50, 7));
        }
        let mut sys = ev("s", "js", 60, 9);
        sys.eval_type = "system".into();
        b.enqueue(sys);
        let both = vec!["service".to_string(), "system".to_string()];
        let t = Duration::from_millis(10);
        let mut got = Vec::new();
        while let Some((e, _)) = b.dequeue(&both, t).await {
            got.push(e.id);
        }
        assert_eq!(got, ["s", "n3", "n1", "n2"]);
        assert_eq!(b.stats().ready, 0);
    }

    #[tokio::test]
    async fn nack_redelivers_until_limit() {
        let b = EvalBroker::new(Duration::from_secs(60), 2);
        b.set_enabled(true);
        b.enqueue(ev("a", "j", 50, 1));
        let t = Duration::from_millis(10);
        let (_, t1) = b.dequeue(&types(), t).await.unwrap();
        assert!(b.nack("a", &t1).unwrap().failed.is_empty());
        let (_, t2) = b.dequeue(&types(), t).await.unwrap();
        assert!(b.ack("a", "wrong").is_err());
        let out = b.nack("a", &t2).unwrap();
        assert_eq!(out.failed.len(), 1);
        assert!(b.dequeue(&types(), t).await.is_none());
    }

    #[tokio::test]
    async fn nack_timeout_and_delay() {
        let b = EvalBroker::new(Duration::from_millis(20), 3);
        b.set_enabled(true);
        b.enqueue(ev("a", "j", 50, 1));
        let mut d = ev("d", "k", 50, 2);
        d.wait_until = nomad_types::GoTime::from_unix_nanos(crate::now_nanos() + 60_000_000);
        b.enqueue(d);
        let t = Duration::from_millis(5);
        let _ = b.dequeue(&types(), t).await.unwrap();
        assert!(b.dequeue(&types(), t).await.is_none());
        tokio::time::sleep(Duration::from_millis(80)).await;
        b.tick();
        let mut got: Vec<String> = Vec::new();
        while let Some((e, _)) = b.dequeue(&types(), t).await {
            got.push(e.id);
        }
        got.sort();
        assert_eq!(got, ["a", "d"]);
    }
}
