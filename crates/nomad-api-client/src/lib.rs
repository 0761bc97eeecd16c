//! A typed client of Nomad's `/v1` HTTP API.
//!
//! Owns: addressing an agent (`NOMAD_ADDR` / `-address`, default
//! `http://127.0.0.1:4646`), the request conventions (`X-Nomad-Token` from
//! `NOMAD_TOKEN`, `region` from `NOMAD_REGION`, `namespace` from
//! `NOMAD_NAMESPACE`), blocking queries (`index`/`wait`, returning the value
//! with its [`QueryMeta`]), lenient decoding of responses into
//! `nomad_types`, Nomad's error text (`Unexpected response code: 404
//! (job not found)`), the event stream ([`Client::event_stream`]: typed
//! `nomad_types::event::Events`, heartbeats skipped) and followed files
//! ([`Client::alloc_fs_stream`]: decoded frames, heartbeats skipped).
//!
//! Must not depend on: server crates (state, raft, scheduler, server); it
//! only speaks HTTP. Used by the CLI, the client agent's tests and benches.

mod client_api;
mod events;
mod files;
mod routes;
pub mod stats;

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

pub use client_api::{
    AllocRestartRequest, AllocSignalRequest, ExecExitResult, ExecInput, ExecIo, ExecOutput,
    ExecReader, ExecSession, ExecWriter, TerminalSize,
};
pub use events::{EventStream, EventStreamRequest};
pub use files::{FileChunk, FileStream, FileStreamRequest};
pub use routes::{Dispatch, JoinResponse, LogStream};

/// Default agent address.
pub const DEFAULT_ADDRESS: &str = "http://127.0.0.1:4646";

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The agent answered with a non-2xx status; `body` is its text.
    #[error("Unexpected response code: {code} ({body})")]
    Status {
        /// HTTP status code.
        code: u16,
        /// Response body (Nomad's error text).
        body: String,
    },
    /// The agent could not be reached or the transfer broke.
    #[error("{0}")]
    Transport(String),
    /// The response was not the JSON expected.
    #[error("decoding response: {0}")]
    Decode(String),
    /// A bad address or option.
    #[error("{0}")]
    Config(String),
}

impl Error {
    /// The HTTP status, when the agent answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Status { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// Where and as whom to talk.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// Base address, `http://host:port`.
    pub address: String,
    /// `?region=` for every request (empty: the agent's).
    pub region: String,
    /// `?namespace=` for every request (empty: `default`).
    pub namespace: String,
    /// ACL token (`X-Nomad-Token`).
    pub token: String,
}

impl Config {
    /// From `NOMAD_ADDR`, `NOMAD_REGION`, `NOMAD_NAMESPACE`, `NOMAD_TOKEN`.
    pub fn from_env(env: &[(String, String)]) -> Config {
        let get = |k: &str| {
            env.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let address = get("NOMAD_ADDR");
        Config {
            address: if address.is_empty() {
                DEFAULT_ADDRESS.to_string()
            } else {
                address
            },
            region: get("NOMAD_REGION"),
            namespace: get("NOMAD_NAMESPACE"),
            token: get("NOMAD_TOKEN"),
        }
    }
}

/// Options of one read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryOptions {
    /// Block until the result's index passes this (0: no blocking).
    pub wait_index: u64,
    /// Longest block (the agent caps it at 5 minutes).
    pub wait_time: Option<Duration>,
    /// Allow any server to answer.
    pub allow_stale: bool,
    /// ID prefix filter.
    pub prefix: String,
    /// Namespace for this call (overrides the client's).
    pub namespace: String,
    /// Page size (0: all).
    pub per_page: u32,
    /// Page token from the previous [`QueryMeta::next_token`].
    pub next_token: String,
    /// A go-bexpr expression over each listed object (`Status == "running"`;
    /// empty: none).
    pub filter: String,
    /// Other parameters.
    pub params: Vec<(String, String)>,
}

impl QueryOptions {
    /// Reads with an ID prefix.
    pub fn prefix(prefix: impl Into<String>) -> Self {
        QueryOptions {
            prefix: prefix.into(),
            ..QueryOptions::default()
        }
    }

    /// A blocking read past `index`, waiting at most `wait`.
    pub fn blocking(index: u64, wait: Duration) -> Self {
        QueryOptions {
            wait_index: index,
            wait_time: Some(wait),
            ..QueryOptions::default()
        }
    }

    /// Only the objects `expr` (a go-bexpr filter) passes.
    pub fn filtered(mut self, expr: impl Into<String>) -> Self {
        self.filter = expr.into();
        self
    }

    /// In one namespace.
    pub fn in_namespace(mut self, ns: impl Into<String>) -> Self {
        self.namespace = ns.into();
        self
    }

    /// With an extra parameter.
    pub fn param(mut self, k: impl Into<String>, v: impl Into<String>) -> Self {
        self.params.push((k.into(), v.into()));
        self
    }
}

/// What a read reports besides its value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryMeta {
    /// `X-Nomad-Index`: pass it as the next [`QueryOptions::wait_index`].
    pub last_index: u64,
    /// `X-Nomad-KnownLeader`.
    pub known_leader: bool,
    /// `X-Nomad-LastContact`, milliseconds.
    pub last_contact_ms: u64,
    /// `X-Nomad-NextToken`.
    pub next_token: String,
}

/// The client.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    cfg: Config,
}

impl Client {
    /// A client for `cfg`.
    pub fn new(mut cfg: Config) -> Result<Client, Error> {
        if cfg.address.is_empty() {
            cfg.address = DEFAULT_ADDRESS.to_string();
        }
        if !cfg.address.contains("://") {
            cfg.address = format!("http://{}", cfg.address);
        }
        if cfg.address.starts_with("https://") {
            return Err(Error::Config(format!(
                "{}: HTTPS agent addresses are not supported by this client yet",
                cfg.address
            )));
        }
        cfg.address = cfg.address.trim_end_matches('/').to_string();
        let http = reqwest::Client::builder()
            .build()
            .map_err(|e| Error::Config(e.to_string()))?;
        Ok(Client { http, cfg })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Sets the namespace of later calls.
    pub fn set_namespace(&mut self, ns: impl Into<String>) {
        self.cfg.namespace = ns.into();
    }

    /// Sets the region of later calls.
    pub fn set_region(&mut self, region: impl Into<String>) {
        self.cfg.region = region.into();
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.cfg.address, path)
    }

    fn base_params(&self, ns_override: &str) -> Vec<(String, String)> {
        let mut p = Vec::new();
        if !self.cfg.region.is_empty() {
            p.push(("region".to_string(), self.cfg.region.clone()));
        }
        let ns = if ns_override.is_empty() {
            &self.cfg.namespace
        } else {
            ns_override
        };
        if !ns.is_empty() {
            p.push(("namespace".to_string(), ns.to_string()));
        }
        p
    }

    fn query_params(&self, q: &QueryOptions) -> Vec<(String, String)> {
        let mut p = self.base_params(&q.namespace);
        if q.wait_index > 0 {
            p.push(("index".into(), q.wait_index.to_string()));
        }
        if let Some(w) = q.wait_time {
            p.push(("wait".into(), format!("{}ms", w.as_millis())));
        }
        if q.allow_stale {
            p.push(("stale".into(), String::new()));
        }
        if !q.prefix.is_empty() {
            p.push(("prefix".into(), q.prefix.clone()));
        }
        if !q.filter.is_empty() {
            p.push(("filter".into(), q.filter.clone()));
        }
        if q.per_page > 0 {
            p.push(("per_page".into(), q.per_page.to_string()));
        }
        if !q.next_token.is_empty() {
            p.push(("next_token".into(), q.next_token.clone()));
        }
        p.extend(q.params.iter().cloned());
        p
    }

    fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        params: &[(String, String)],
    ) -> reqwest::RequestBuilder {
        let mut rb = self.http.request(method, self.url(path)).query(params);
        if !self.cfg.token.is_empty() {
            rb = rb.header("X-Nomad-Token", &self.cfg.token);
        }
        rb
    }

    async fn send(rb: reqwest::RequestBuilder) -> Result<reqwest::Response, Error> {
        let resp = rb
            .send()
            .await
            .map_err(|e| Error::Transport(transport_text(&e)))?;
        let code = resp.status().as_u16();
        if !(200..300).contains(&code) {
            let body = resp.text().await.unwrap_or_default();
            return Err(Error::Status {
                code,
                body: body.trim().to_string(),
            });
        }
        Ok(resp)
    }

    async fn decode<T: DeserializeOwned>(resp: reqwest::Response) -> Result<T, Error> {
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| Error::Transport(transport_text(&e)))?;
        if bytes.is_empty() {
            return nomad_types::json::from_slice(b"null")
                .map_err(|e| Error::Decode(e.to_string()));
        }
        nomad_types::json::from_slice(&bytes).map_err(|e| Error::Decode(e.to_string()))
    }

    /// `GET path` with query options; the value and its meta.
    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        q: &QueryOptions,
    ) -> Result<(T, QueryMeta), Error> {
        let params = self.query_params(q);
        let resp = Self::send(self.request(reqwest::Method::GET, path, &params)).await?;
        let meta = meta_of(resp.headers());
        Ok((Self::decode(resp).await?, meta))
    }

    /// `PUT path` with a JSON body (or none).
    pub async fn put<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: Option<&B>,
        params: &[(String, String)],
    ) -> Result<T, Error> {
        self.put_in(path, body, "", params).await
    }

    /// `PUT path` in a namespace (empty: the client's), with a JSON body
    /// (or none).
    pub async fn put_in<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: Option<&B>,
        namespace: &str,
        params: &[(String, String)],
    ) -> Result<T, Error> {
        let mut p = self.base_params(namespace);
        p.extend(params.iter().cloned());
        let mut rb = self.request(reqwest::Method::PUT, path, &p);
        if let Some(b) = body {
            let text =
                nomad_types::json::to_string_go(b).map_err(|e| Error::Config(e.to_string()))?;
            rb = rb.header("Content-Type", "application/json").body(text);
        }
        Self::decode(Self::send(rb).await?).await
    }

    /// `DELETE path`.
    pub async fn delete<T: DeserializeOwned>(
        &self,
        path: &str,
        params: &[(String, String)],
    ) -> Result<T, Error> {
        let mut p = self.base_params("");
        p.extend(params.iter().cloned());
        Self::decode(Self::send(self.request(reqwest::Method::DELETE, path, &p)).await?).await
    }

    /// `GET path` returning the raw streaming response.
    pub async fn get_stream(
        &self,
        path: &str,
        params: &[(String, String)],
    ) -> Result<LogStream, Error> {
        let mut p = self.base_params("");
        p.extend(params.iter().cloned());
        let resp = Self::send(self.request(reqwest::Method::GET, path, &p)).await?;
        Ok(LogStream::new(resp))
    }
}

fn meta_of(h: &reqwest::header::HeaderMap) -> QueryMeta {
    let get = |k: &str| {
        h.get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    QueryMeta {
        last_index: get("X-Nomad-Index").parse().unwrap_or(0),
        known_leader: get("X-Nomad-KnownLeader") == "true",
        last_contact_ms: get("X-Nomad-LastContact").parse().unwrap_or(0),
        next_token: get("X-Nomad-NextToken"),
    }
}

/// Go's client prints the cause of a failed connection; keep the chain.
fn transport_text(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

/// Percent-encodes one path segment (job IDs may hold `/` and spaces).
pub fn escape_path(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
