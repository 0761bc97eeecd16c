//! The routes a client agent answers: `/v1/client/stats`,
//! `/v1/client/allocation/:id/{stats,restart,signal,exec}`.
//!
//! `exec` is a websocket carrying JSON frames, as Nomad's: the caller
//! sends `{"stdin":{"data":"<base64>"}}`, `{"stdin":{"close":true}}` and
//! `{"tty_size":{"height":H,"width":W}}`; the agent sends
//! `{"stdout":{"data":…}}`, `{"stderr":{"data":…}}`, `{"stdout":{"close":true}}`
//! and finally `{"exited":true,"result":{"exit_code":N}}`.

use serde::{Deserialize, Serialize};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::stats::{AllocResourceUsage, HostStats};
use crate::{escape_path, Client, Error, QueryOptions};

/// Bytes as Go's `[]byte` JSON (standard base64).
mod b64 {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = Option::<String>::deserialize(d)?.unwrap_or_default();
        base64::engine::general_purpose::STANDARD
            .decode(s.as_bytes())
            .map_err(serde::de::Error::custom)
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Data on one stream of an exec session, or its end.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecIo {
    /// Bytes.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "b64")]
    pub data: Vec<u8>,
    /// The stream ended.
    #[serde(default, skip_serializing_if = "is_false")]
    pub close: bool,
}

/// A terminal's size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminalSize {
    /// Rows.
    #[serde(default)]
    pub height: u16,
    /// Columns.
    #[serde(default)]
    pub width: u16,
}

/// A frame from the caller.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecInput {
    /// Input for the command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdin: Option<ExecIo>,
    /// The terminal was resized.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tty_size: Option<TerminalSize>,
}

/// How the command exited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecExitResult {
    /// Exit code.
    #[serde(default)]
    pub exit_code: i32,
}

/// A frame from the agent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecOutput {
    /// Output on stdout (with a TTY: all output).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout: Option<ExecIo>,
    /// Output on stderr.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stderr: Option<ExecIo>,
    /// The command exited; `result` has its code.
    #[serde(default, skip_serializing_if = "is_false")]
    pub exited: bool,
    /// The exit result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<ExecExitResult>,
}

/// `PUT /v1/client/allocation/:id/restart`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocRestartRequest {
    /// One task (empty: every running task).
    pub task_name: String,
    /// Every task.
    pub all_tasks: bool,
}

/// `PUT /v1/client/allocation/:id/signal`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocSignalRequest {
    /// One task (empty: every running task).
    pub task: String,
    /// Signal name (empty: `SIGKILL`).
    pub signal: String,
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// An open `alloc exec` session; [`ExecSession::split`] gives its two
/// directions, to be driven at once.
pub struct ExecSession {
    ws: Ws,
}

impl ExecSession {
    /// The sending and the receiving half.
    pub fn split(self) -> (ExecWriter, ExecReader) {
        use futures_util::StreamExt;
        let (sink, stream) = self.ws.split();
        (ExecWriter { sink }, ExecReader { stream })
    }
}

/// What the caller sends: input, its end, terminal sizes.
pub struct ExecWriter {
    sink: futures_util::stream::SplitSink<Ws, Message>,
}

impl ExecWriter {
    async fn send(&mut self, frame: &ExecInput) -> Result<(), Error> {
        use futures_util::SinkExt;
        let text = serde_json::to_string(frame).map_err(|e| Error::Config(e.to_string()))?;
        self.sink
            .send(Message::text(text))
            .await
            .map_err(|e| Error::Transport(e.to_string()))
    }

    /// Sends input to the command.
    pub async fn send_stdin(&mut self, data: &[u8]) -> Result<(), Error> {
        self.send(&ExecInput {
            stdin: Some(ExecIo {
                data: data.to_vec(),
                close: false,
            }),
            tty_size: None,
        })
        .await
    }

    /// Closes the command's input.
    pub async fn close_stdin(&mut self) -> Result<(), Error> {
        self.send(&ExecInput {
            stdin: Some(ExecIo {
                data: Vec::new(),
                close: true,
            }),
            tty_size: None,
        })
        .await
    }

    /// Tells the agent the terminal's size.
    pub async fn resize(&mut self, size: TerminalSize) -> Result<(), Error> {
        self.send(&ExecInput {
            stdin: None,
            tty_size: Some(size),
        })
        .await
    }
}

/// What the agent sends: output and the exit.
pub struct ExecReader {
    stream: futures_util::stream::SplitStream<Ws>,
}

impl ExecReader {
    /// The next frame from the agent; `None` when the connection closed.
    /// A close with a reason (the agent's error) is an error.
    pub async fn next(&mut self) -> Result<Option<ExecOutput>, Error> {
        use futures_util::StreamExt;
        loop {
            let Some(msg) = self.stream.next().await else {
                return Ok(None);
            };
            let msg = msg.map_err(|e| Error::Transport(e.to_string()))?;
            let bytes = match msg {
                Message::Text(t) => t.as_bytes().to_vec(),
                Message::Binary(b) => b.to_vec(),
                Message::Close(Some(frame)) if !frame.reason.is_empty() => {
                    return Err(Error::Status {
                        code: 500,
                        body: frame.reason.to_string(),
                    })
                }
                Message::Close(_) => return Ok(None),
                _ => continue,
            };
            let out: ExecOutput = serde_json::from_slice(&bytes)
                .map_err(|e| Error::Decode(format!("exec frame: {e}")))?;
            return Ok(Some(out));
        }
    }
}

impl Client {
    /// `GET /v1/client/stats` of the agent addressed (or, with `node_id`,
    /// of that node).
    pub async fn client_stats(&self, node_id: &str) -> Result<HostStats, Error> {
        let mut q = QueryOptions::default();
        if !node_id.is_empty() {
            q = q.param("node_id", node_id);
        }
        Ok(self.get("/v1/client/stats", &q).await?.0)
    }

    /// `GET /v1/client/allocation/:id/stats`.
    pub async fn alloc_stats(&self, alloc_id: &str) -> Result<AllocResourceUsage, Error> {
        let path = format!("/v1/client/allocation/{}/stats", escape_path(alloc_id));
        Ok(self.get(&path, &QueryOptions::default()).await?.0)
    }

    /// `PUT /v1/client/allocation/:id/restart`.
    pub async fn alloc_restart(&self, alloc_id: &str, task: &str, all: bool) -> Result<(), Error> {
        let path = format!("/v1/client/allocation/{}/restart", escape_path(alloc_id));
        let body = AllocRestartRequest {
            task_name: task.to_string(),
            all_tasks: all,
        };
        let _: serde_json::Value = self.put(&path, Some(&body), &[]).await?;
        Ok(())
    }

    /// `PUT /v1/client/allocation/:id/signal`.
    pub async fn alloc_signal(
        &self,
        alloc_id: &str,
        task: &str,
        signal: &str,
    ) -> Result<(), Error> {
        let path = format!("/v1/client/allocation/{}/signal", escape_path(alloc_id));
        let body = AllocSignalRequest {
            task: task.to_string(),
            signal: signal.to_string(),
        };
        let _: serde_json::Value = self.put(&path, Some(&body), &[]).await?;
        Ok(())
    }

    /// Opens `/v1/client/allocation/:id/exec` for `command` in `task`.
    pub async fn alloc_exec(
        &self,
        alloc_id: &str,
        task: &str,
        command: &[String],
        tty: bool,
    ) -> Result<ExecSession, Error> {
        let cmd = serde_json::to_string(command).map_err(|e| Error::Config(e.to_string()))?;
        let mut params = self.base_params("");
        params.push(("task".into(), task.to_string()));
        params.push(("command".into(), cmd));
        params.push(("tty".into(), tty.to_string()));
        let query: String = params
            .iter()
            .map(|(k, v)| format!("{}={}", query_escape(k), query_escape(v)))
            .collect::<Vec<_>>()
            .join("&");
        let base = self
            .cfg
            .address
            .replacen("http://", "ws://", 1)
            .replacen("https://", "wss://", 1);
        let url = format!(
            "{base}/v1/client/allocation/{}/exec?{query}",
            escape_path(alloc_id)
        );
        let mut req = url
            .into_client_request()
            .map_err(|e| Error::Config(e.to_string()))?;
        if !self.cfg.token.is_empty() {
            let v = self
                .cfg
                .token
                .parse()
                .map_err(|_| Error::Config("invalid token".into()))?;
            req.headers_mut().insert("X-Nomad-Token", v);
        }
        match tokio_tungstenite::connect_async(req).await {
            Ok((ws, _)) => Ok(ExecSession { ws }),
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
                let code = resp.status().as_u16();
                let body = resp
                    .body()
                    .as_ref()
                    .map(|b| String::from_utf8_lossy(b).trim().to_string())
                    .unwrap_or_default();
                Err(Error::Status { code, body })
            }
            Err(e) => Err(Error::Transport(e.to_string())),
        }
    }
}

/// Percent-encodes a query component.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_nomads() {
        let f = ExecInput {
            stdin: Some(ExecIo {
                data: b"hi".to_vec(),
                close: false,
            }),
            tty_size: None,
        };
        assert_eq!(
            serde_json::to_string(&f).unwrap(),
            r#"{"stdin":{"data":"aGk="}}"#
        );
        let out: ExecOutput =
            serde_json::from_str(r#"{"exited":true,"result":{"exit_code":3}}"#).unwrap();
        assert!(out.exited);
        assert_eq!(out.result.map(|r| r.exit_code), Some(3));
        let out: ExecOutput = serde_json::from_str(r#"{"stdout":{"data":"aGkK"}}"#).unwrap();
        assert_eq!(out.stdout.unwrap().data, b"hi\n");
        let r: ExecInput =
            serde_json::from_str(r#"{"tty_size":{"height":24,"width":80}}"#).unwrap();
        assert_eq!(
            r.tty_size,
            Some(TerminalSize {
                height: 24,
                width: 80
            })
        );
    }
}
