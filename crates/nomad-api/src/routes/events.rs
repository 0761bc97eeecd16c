//! `GET /v1/event/stream`: Nomad's event stream.
//!
//! The body is newline-delimited JSON, sent with chunked transfer as it
//! happens: `{}` at once (the connection is up), then one
//! `{"Index":N,"Events":[…]}` per applied entry whose events pass the
//! filter, and `{}` again after every [`ClusterApi::event_heartbeat`]
//! without one. Events come from the agent's state store (its bounded
//! buffer, see `nomad_state::events`): `index=N` starts at entry `N`, at
//! the oldest entry still buffered when `N` is older, or with the next
//! entry when `N` is past the agent's index. Parameters as Nomad's:
//! `topic=Topic` or `topic=Topic:Key`, repeatable (default `*:*`), and
//! `namespace` (default `default`, `*` for all).
//!
//! The stream ends when the client goes away (the body is dropped, and
//! with it the wait on the store). A subscriber that falls so far behind
//! that events it had not read leave the buffer, or that a snapshot
//! restore overtakes, gets Nomad's error text as the last line and the
//! stream ends; it may subscribe again from the index it had reached.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::Method;
use nomad_state::{EventBatch, EventFilter, EventSubscription, WaitFor};

use crate::cluster::{ClusterApi, ClusterError};
use crate::query::{Reply, Req};

/// Batches taken from the buffer per read.
const READ_BATCHES: usize = 64;

/// `GET /v1/event/stream`.
pub(crate) async fn stream(api: &dyn ClusterApi, req: &Req) -> Result<Reply, ClusterError> {
    if req.method != Method::GET {
        return Err(ClusterError::InvalidMethod);
    }
    let index = match req.param("index") {
        None => 0,
        Some(v) => v.parse::<i64>().map_err(|_| {
            ClusterError::BadRequest(format!(
                "Unable to parse index: strconv.Atoi: parsing {v:?}: invalid syntax"
            ))
        })?,
    };
    let filter = parse_filter(req)?;
    let sub = api
        .state()?
        .subscribe_events(u64::try_from(index).unwrap_or(0));
    let body = Body::from_stream(feed(sub, filter, api.event_heartbeat()));
    let mut reply = Reply::raw(body, "application/json");
    reply
        .headers
        .push(("Cache-Control", "no-cache".to_string()));
    Ok(reply)
}

/// The `topic` and `namespace` parameters. No `topic` at all means every
/// topic; each one is `Topic` (every key) or `Topic:Key`.
fn parse_filter(req: &Req) -> Result<EventFilter, ClusterError> {
    let namespace = req.namespace();
    let topics: Vec<&str> = req
        .query
        .iter()
        .filter(|(k, _)| k == "topic")
        .map(|(_, v)| v.as_str())
        .collect();
    if topics.is_empty() {
        return Ok(EventFilter::all(namespace));
    }
    let mut filter = EventFilter::none(namespace);
    for t in topics {
        let (topic, key) = EventFilter::parse_topic(t).map_err(|e| {
            ClusterError::BadRequest(format!("Invalid topic query: error parsing topics: {e}"))
        })?;
        filter = filter.with_topic(topic, key);
    }
    Ok(filter)
}

/// The state of one open stream.
struct Feed {
    sub: EventSubscription,
    filter: EventFilter,
    heartbeat: tokio::time::Interval,
    pending: VecDeque<Arc<EventBatch>>,
    /// The wait on the store, kept across heartbeats.
    wait: Option<WaitFor>,
    greeted: bool,
    done: bool,
}

const HEARTBEAT: &[u8] = b"{}\n";

fn feed(
    sub: EventSubscription,
    filter: EventFilter,
    every: Duration,
) -> impl futures_util::Stream<Item = Result<Bytes, Infallible>> + Send + 'static {
    let every = every.max(Duration::from_millis(1));
    let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let state = Feed {
        sub,
        filter,
        heartbeat,
        pending: VecDeque::new(),
        wait: None,
        greeted: false,
        done: false,
    };
    futures_util::stream::unfold(state, |mut st| async move {
        let chunk = next_chunk(&mut st).await?;
        Some((Ok(chunk), st))
    })
}

/// The next piece of the body: a line of events, a heartbeat, or the
/// error that ends the stream; `None` once it has ended.
async fn next_chunk(st: &mut Feed) -> Option<Bytes> {
    if st.done {
        return None;
    }
    if !st.greeted {
        st.greeted = true;
        return Some(Bytes::from_static(HEARTBEAT));
    }
    loop {
        while let Some(batch) = st.pending.pop_front() {
            if let Some(line) = batch.to_wire(&st.filter) {
                // Nomad writes events with HTML characters as is.
                match serde_json::to_vec(&line) {
                    Ok(mut bytes) => {
                        bytes.push(b'\n');
                        st.heartbeat.reset();
                        return Some(Bytes::from(bytes));
                    }
                    Err(e) => {
                        tracing::error!(index = batch.index, error = %e, "encoding events");
                    }
                }
            }
        }
        match st.sub.next_batches(READ_BATCHES) {
            Ok(batches) if !batches.is_empty() => {
                st.pending.extend(batches);
                st.wait = None;
                continue;
            }
            Ok(_) => {}
            Err(e) => {
                // Nomad's text, after the lines already sent, then the end.
                st.done = true;
                return Some(Bytes::from(e.to_string()));
            }
        }
        let wait = st.wait.get_or_insert_with(|| st.sub.wait());
        tokio::select! {
            _ = wait => st.wait = None,
            _ = st.heartbeat.tick() => return Some(Bytes::from_static(HEARTBEAT)),
        }
    }
}
