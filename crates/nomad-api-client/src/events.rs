//! `GET /v1/event/stream`: Nomad's event stream, typed.

use nomad_types::event::Events;

use crate::{Client, Error};

/// What to subscribe to: `(topic, key)` pairs (`("Job", "web")`,
/// `("Node", "*")`; an empty key means every key, sent as a bare
/// `topic=Node`), a namespace (empty: the client's; `*`: all) and the index
/// to start at (0: the oldest event the agent still holds).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventStreamRequest {
    /// Topics and keys; none: every topic (`*:*`).
    pub topics: Vec<(String, String)>,
    /// Start at this index (inclusive).
    pub index: u64,
    /// Namespace (empty: the client's).
    pub namespace: String,
}

impl EventStreamRequest {
    /// Adds a topic and key (`*` or empty: every key).
    pub fn topic(mut self, topic: impl Into<String>, key: impl Into<String>) -> Self {
        self.topics.push((topic.into(), key.into()));
        self
    }

    /// Starts at `index`.
    pub fn from_index(mut self, index: u64) -> Self {
        self.index = index;
        self
    }

    /// In `namespace` (`*`: all).
    pub fn in_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }
}

/// An open event stream: one [`Events`] per agent entry that passed the
/// filter. Dropping it closes the connection.
pub struct EventStream {
    resp: reqwest::Response,
    buf: Vec<u8>,
    ended: bool,
}

impl EventStream {
    /// The next events, heartbeats skipped; `None` once the agent ended
    /// the stream. An agent that ends it with an error (a subscriber too
    /// slow for its buffer, a snapshot restore) gives
    /// `Error::Status { code: 500, body }` with Nomad's text: subscribe
    /// again from the index reached.
    pub async fn next(&mut self) -> Result<Option<Events>, Error> {
        loop {
            match self.next_frame().await? {
                Some(e) if e.is_heartbeat() => continue,
                other => return Ok(other),
            }
        }
    }

    /// The next line, heartbeats (`{}`: [`Events::is_heartbeat`]) included.
    pub async fn next_frame(&mut self) -> Result<Option<Events>, Error> {
        loop {
            if let Some(pos) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=pos).collect();
                return parse_line(&line[..pos]).map(Some);
            }
            if self.ended {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                let rest = std::mem::take(&mut self.buf);
                return parse_line(&rest).map(Some);
            }
            match self.resp.chunk().await {
                Ok(Some(c)) => self.buf.extend_from_slice(&c),
                Ok(None) => self.ended = true,
                Err(e) => return Err(Error::Transport(e.to_string())),
            }
        }
    }
}

/// One line: JSON events, or the agent's error text that ends a stream.
fn parse_line(line: &[u8]) -> Result<Events, Error> {
    let text = String::from_utf8_lossy(line);
    let text = text.trim();
    if !text.starts_with('{') {
        return Err(Error::Status {
            code: 500,
            body: text.to_string(),
        });
    }
    nomad_types::json::from_str(text).map_err(|e| Error::Decode(e.to_string()))
}

impl Client {
    /// `GET /v1/event/stream`: subscribes and returns once the agent has
    /// answered (the stream's first line is a heartbeat).
    pub async fn event_stream(&self, req: &EventStreamRequest) -> Result<EventStream, Error> {
        let mut params = self.base_params(&req.namespace);
        params.push(("index".into(), req.index.to_string()));
        for (topic, key) in &req.topics {
            let value = if key.is_empty() {
                topic.clone()
            } else {
                format!("{topic}:{key}")
            };
            params.push(("topic".into(), value));
        }
        let resp =
            Self::send(self.request(reqwest::Method::GET, "/v1/event/stream", &params)).await?;
        Ok(EventStream {
            resp,
            buf: Vec::new(),
            ended: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_as_events_heartbeats_or_errors() {
        assert!(parse_line(b"{}").unwrap().is_heartbeat());
        let e = parse_line(br#"{"Index":3,"Events":[{"Topic":"Node","Type":"NodeRegistration","Key":"n1","Namespace":"","FilterKeys":null,"Index":3,"Payload":{"Node":{"ID":"n1"}}}]}"#).unwrap();
        assert_eq!(e.index, 3);
        assert_eq!(e.events[0].payload.node.as_ref().unwrap().id, "n1");
        let err = parse_line(b"event dropped from buffer").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Unexpected response code: 500 (event dropped from buffer)"
        );
    }
}
