//! Nomad's request conventions: query parameters (`index`, `wait`, `stale`,
//! `namespace`, `region`, `prefix`, `per_page`, `next_token`, `filter`,
//! `pretty`),
//! Go's boolean syntax, lenient JSON bodies, blocking queries, and the
//! responses (`X-Nomad-*` headers, Go-compatible JSON, plain-text errors).

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use nomad_state::{StateSnapshot, Table};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::cluster::{ClusterApi, ClusterError, ReadMeta};
use crate::filter::Filter;

/// Longest (and default) blocking-query wait, as Nomad's.
pub const MAX_QUERY_TIME: Duration = Duration::from_secs(300);

/// One HTTP request, taken apart.
pub(crate) struct Req {
    pub method: Method,
    /// Path below the route's prefix (`example/allocations` for
    /// `/v1/job/example/allocations`), percent-decoded.
    pub rest: String,
    pub query: Vec<(String, String)>,
    /// Request headers (`X-Nomad-Token`, once ACLs exist).
    #[allow(dead_code)]
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Go's `strconv.ParseBool`.
pub fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// The parsed common query options (Nomad's `QueryOptions`).
#[derive(Debug, Clone, Default)]
pub(crate) struct QueryOptions {
    pub namespace: String,
    pub stale: bool,
    pub prefix: String,
    pub min_index: u64,
    pub max_wait: Duration,
    pub per_page: usize,
    pub next_token: String,
    pub reverse: bool,
    /// `filter`: a go-bexpr expression over each listed object's JSON.
    pub filter: Option<Filter>,
}

impl QueryOptions {
    /// `namespace=*`.
    pub fn all_namespaces(&self) -> bool {
        self.namespace == "*"
    }

    /// Whether `obj` passes the `filter` parameter (always, without one).
    /// The expression sees the whole object as the state holds it (the
    /// job, not its list stub), as Nomad's filters do. A filter that cannot
    /// be evaluated on it (a field the object does not have) is a 400
    /// naming the selector.
    pub fn passes<T: Serialize + ?Sized>(&self, obj: &T) -> Result<bool, ClusterError> {
        let Some(f) = &self.filter else {
            return Ok(true);
        };
        f.matches_object(obj)
            .map_err(|e| ClusterError::BadRequest(format!("failed to read result page: {e}")))
    }

    /// Whether an object in `ns` is visible.
    pub fn ns_matches(&self, ns: &str) -> bool {
        self.all_namespaces() || self.namespace == ns
    }
}

impl Req {
    /// The first value of a query parameter; an empty value counts as unset.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// Every non-empty value of a repeated parameter (`?address=a&address=b`),
    /// in order.
    pub fn params(&self, key: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Whether a parameter is present at all (even empty).
    pub fn has_param(&self, key: &str) -> bool {
        self.query.iter().any(|(k, _)| k == key)
    }

    /// A boolean parameter, parsed like Go's `strconv.ParseBool`.
    pub fn bool_param(&self, key: &str) -> Result<Option<bool>, ClusterError> {
        match self.param(key) {
            None => Ok(None),
            Some(v) => parse_go_bool(v).map(Some).ok_or_else(|| {
                ClusterError::BadRequest(format!(
                    "Failed to parse value of {key:?} ({v}) as a bool: strconv.ParseBool: parsing {v:?}: invalid syntax"
                ))
            }),
        }
    }

    /// An integer parameter.
    pub fn int_param(&self, key: &str) -> Result<Option<i64>, ClusterError> {
        match self.param(key) {
            None => Ok(None),
            Some(v) => v.parse::<i64>().map(Some).map_err(|_| {
                ClusterError::BadRequest(format!(
                    "Failed to parse value of {key:?} ({v}) as a int: strconv.Atoi: parsing {v:?}: invalid syntax"
                ))
            }),
        }
    }

    /// The namespace of the request (`default` when unset).
    pub fn namespace(&self) -> String {
        self.param("namespace")
            .unwrap_or(nomad_types::consts::job_defaults::NAMESPACE)
            .to_string()
    }

    /// Parses the common query options, answering 400 for bad values.
    pub fn query_options(&self) -> Result<QueryOptions, ClusterError> {
        let mut q = QueryOptions {
            namespace: self.namespace(),
            max_wait: MAX_QUERY_TIME,
            ..QueryOptions::default()
        };
        if self.has_param("stale") {
            q.stale = match self.param("stale") {
                None => true,
                Some(v) => parse_go_bool(v).ok_or_else(|| {
                    ClusterError::BadRequest(
                        "Expect `true` or `false` for `stale` query string parameter".into(),
                    )
                })?,
            };
        }
        q.prefix = self.param("prefix").unwrap_or_default().to_string();
        if let Some(w) = self.param("wait") {
            let d: nomad_types::Nanos = w
                .parse()
                .map_err(|_| ClusterError::BadRequest("Invalid wait time".into()))?;
            let d = d
                .to_std()
                .ok_or_else(|| ClusterError::BadRequest("Invalid wait time".into()))?;
            q.max_wait = if d.is_zero() || d > MAX_QUERY_TIME {
                MAX_QUERY_TIME
            } else {
                d
            };
        }
        if let Some(i) = self.param("index") {
            q.min_index = i
                .parse()
                .map_err(|_| ClusterError::BadRequest("Invalid index".into()))?;
        }
        if let Some(p) = self.param("per_page") {
            let n: i32 = p.parse().map_err(|_| {
                ClusterError::BadRequest(
                    "Expect a number for `per_page` query string parameter".into(),
                )
            })?;
            q.per_page = usize::try_from(n).unwrap_or(0);
        }
        q.next_token = self.param("next_token").unwrap_or_default().to_string();
        q.reverse = self.param("reverse") == Some("true");
        if let Some(src) = self.param("filter").filter(|f| !f.trim().is_empty()) {
            let f = Filter::parse(src).map_err(|e| {
                ClusterError::BadRequest(format!("failed to read filter expression: {e}"))
            })?;
            q.filter = Some(f);
        }
        Ok(q)
    }

    /// Decodes the JSON body leniently (case-insensitive field names).
    ///
    /// Go's decoder reads `null` into a non-pointer field as "leave it
    /// unset", and clients rely on it: `nomad-client-rs` sends every unset
    /// field of a register request as `null` (`"EnforceIndex": null`). A
    /// body that fails to decode and holds a `null` is decoded again with
    /// its `null` members removed (absent = the field's default). The
    /// common body pays nothing for this.
    pub fn json_body<T: DeserializeOwned>(&self) -> Result<T, ClusterError> {
        if self.body.is_empty() {
            return Err(ClusterError::BadRequest("Request body is empty".into()));
        }
        match nomad_types::json::from_slice(&self.body) {
            Ok(v) => Ok(v),
            Err(first) => {
                let Ok(mut tree) = serde_json::from_slice::<serde_json::Value>(&self.body) else {
                    return Err(ClusterError::BadRequest(first.to_string()));
                };
                if !drop_null_members(&mut tree) {
                    return Err(ClusterError::BadRequest(first.to_string()));
                }
                nomad_types::json::from_value(tree)
                    .map_err(|e| ClusterError::BadRequest(e.to_string()))
            }
        }
    }

    /// `?pretty` (any value but `0`).
    pub fn pretty(&self) -> bool {
        self.query.iter().any(|(k, v)| k == "pretty" && v != "0")
    }

    /// PUT and POST are the same to Nomad.
    pub fn is_write(&self) -> bool {
        self.method == Method::PUT || self.method == Method::POST
    }
}

/// Removes every `null`-valued member of every object in `v` (array
/// elements stay); true when it removed any.
fn drop_null_members(v: &mut serde_json::Value) -> bool {
    match v {
        serde_json::Value::Object(m) => {
            let before = m.len();
            m.retain(|_, x| !x.is_null());
            let mut dropped = m.len() != before;
            for x in m.values_mut() {
                dropped |= drop_null_members(x);
            }
            dropped
        }
        serde_json::Value::Array(a) => a.iter_mut().fold(false, |d, x| drop_null_members(x) | d),
        _ => false,
    }
}

/// Splits a raw query string into decoded pairs.
pub(crate) fn parse_query(raw: Option<&str>) -> Vec<(String, String)> {
    let Some(raw) = raw else { return Vec::new() };
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k, true), percent_decode(v, true))
        })
        .collect()
}

/// Decodes `%XX` escapes (and `+` as a space in query strings).
pub(crate) fn percent_decode(s: &str, plus_is_space: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A response under construction.
pub(crate) struct Reply {
    pub status: StatusCode,
    pub headers: Vec<(&'static str, String)>,
    pub content_type: &'static str,
    pub body: Body,
}

impl Reply {
    /// A JSON body written as Go's encoder writes it.
    pub fn json<T: Serialize + ?Sized>(value: &T, pretty: bool) -> Result<Reply, ClusterError> {
        let text = if pretty {
            nomad_types::json::to_string_pretty_go(value).map(|mut s| {
                s.push('\n');
                s
            })
        } else {
            nomad_types::json::to_string_go(value)
        }
        .map_err(|e| ClusterError::Internal(format!("encoding response: {e}")))?;
        Ok(Reply {
            status: StatusCode::OK,
            headers: Vec::new(),
            content_type: "application/json",
            body: Body::from(text),
        })
    }

    /// An empty 200 (Nomad's handlers that return nil).
    pub fn empty() -> Reply {
        Reply {
            status: StatusCode::OK,
            headers: Vec::new(),
            content_type: "application/json",
            body: Body::empty(),
        }
    }

    /// Raw bytes.
    pub fn raw(body: Body, content_type: &'static str) -> Reply {
        Reply {
            status: StatusCode::OK,
            headers: Vec::new(),
            content_type,
            body,
        }
    }

    /// Adds Nomad's `QueryMeta` headers.
    pub fn with_meta(mut self, index: u64, meta: ReadMeta) -> Reply {
        self.headers.push(("X-Nomad-Index", index.to_string()));
        self.headers
            .push(("X-Nomad-KnownLeader", meta.known_leader.to_string()));
        self.headers
            .push(("X-Nomad-LastContact", meta.last_contact_ms.to_string()));
        self
    }

    /// Adds `X-Nomad-Index` alone (write responses).
    pub fn with_index(mut self, index: u64) -> Reply {
        self.headers.push(("X-Nomad-Index", index.to_string()));
        self
    }

    /// Adds `X-Nomad-NextToken` when there is a next page.
    pub fn with_next_token(mut self, token: Option<String>) -> Reply {
        if let Some(t) = token.filter(|t| !t.is_empty()) {
            self.headers.push(("X-Nomad-NextToken", t));
        }
        self
    }

    pub fn into_response(self) -> Response<Body> {
        let mut resp = Response::new(self.body);
        *resp.status_mut() = self.status;
        let h = resp.headers_mut();
        h.insert("Content-Type", HeaderValue::from_static(self.content_type));
        for (k, v) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&v) {
                h.insert(k, v);
            }
        }
        resp
    }
}

/// The plain-text error response Nomad writes.
pub(crate) fn error_response(err: &ClusterError) -> Response<Body> {
    let mut resp = Response::new(Body::from(err.to_string()));
    *resp.status_mut() =
        StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut()
        .insert("Content-Type", HeaderValue::from_static("text/plain"));
    resp
}

/// A blocking query over `tables`: runs `run` on a snapshot and, when the
/// client asked for `?index=N` and the result's index is not past `N`, waits
/// for one of the tables to change (or the wait to expire) and runs it again.
/// `run` returns the value and its index (an object's modify index, or a
/// table index); the reported index is never below 1, as Nomad's.
pub(crate) async fn blocking<T, F>(
    api: &dyn ClusterApi,
    q: &QueryOptions,
    tables: &[Table],
    mut run: F,
) -> Result<(T, u64, ReadMeta), ClusterError>
where
    F: FnMut(&StateSnapshot) -> Result<(T, u64), ClusterError>,
{
    let reader = api.state()?;
    let deadline = tokio::time::Instant::now() + q.max_wait + jitter(q.max_wait);
    loop {
        let meta = api.read_barrier(q.stale).await?;
        let snap = reader.snapshot();
        let table_index = tables
            .iter()
            .map(|t| snap.table_index(*t))
            .max()
            .unwrap_or(0);
        let (value, index) = run(&snap)?;
        let index = index.max(1);
        if q.min_index == 0 || index > q.min_index {
            return Ok((value, index, meta));
        }
        // Wait past the tables' index (not the object's, which may be lower
        // and would return at once) and read again.
        let wait = reader.wait_past(tables, table_index);
        if tokio::time::timeout_at(deadline, wait).await.is_err() {
            return Ok((value, index, meta));
        }
    }
}

/// Nomad adds up to wait/16 of random jitter so that many blocked clients
/// do not all come back at once.
fn jitter(wait: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let max = wait / 16;
    if max.is_zero() {
        return Duration::ZERO;
    }
    Duration::from_nanos(u64::from(nanos) % (max.as_nanos() as u64).max(1))
}

/// Applies `next_token` and `per_page` to a sorted list keyed by `key`;
/// returns the page and the token of the next one. The list is filtered
/// first ([`QueryOptions::passes`]), so objects the filter drops do not
/// count towards a page, as in Nomad.
pub(crate) fn paginate<T>(
    items: Vec<T>,
    q: &QueryOptions,
    key: impl Fn(&T) -> String,
) -> (Vec<T>, Option<String>) {
    let mut items = items;
    if q.reverse {
        items.reverse();
    }
    let mut out: Vec<T> = Vec::new();
    let mut next = None;
    for item in items {
        let k = key(&item);
        if !q.next_token.is_empty() {
            let before = if q.reverse {
                k > q.next_token
            } else {
                k < q.next_token
            };
            if before {
                continue;
            }
        }
        if q.per_page > 0 && out.len() == q.per_page {
            next = Some(k);
            break;
        }
        out.push(item);
    }
    (out, next)
}

/// Go's multierror text.
pub(crate) fn multierror(errs: &[String]) -> String {
    let mut s = if errs.len() == 1 {
        "1 error occurred:\n".to_string()
    } else {
        format!("{} errors occurred:\n", errs.len())
    };
    for e in errs {
        s.push_str(&format!("\t* {e}\n"));
    }
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_members_read_as_unset_like_go() {
        let req = Req {
            method: Method::PUT,
            rest: String::new(),
            query: Vec::new(),
            headers: HeaderMap::new(),
            body: Bytes::from_static(
                br#"{"EnforceIndex":null,"JobModifyIndex":null,"Namespace":null,"Job":{"ID":"x","Meta":null}}"#,
            ),
        };
        let r: nomad_types::api::JobRegisterRequest = req.json_body().expect("decoded");
        assert!(!r.enforce_index);
        assert_eq!(r.job_modify_index, 0);
        assert_eq!(r.job.and_then(|j| j.id).as_deref(), Some("x"));
        // A real type error is still reported with its field.
        let bad = Req {
            body: Bytes::from_static(br#"{"EnforceIndex":"yes","Namespace":null}"#),
            ..req
        };
        let e = bad
            .json_body::<nomad_types::api::JobRegisterRequest>()
            .expect_err("a string is not a bool");
        assert!(e.to_string().contains("EnforceIndex"), "{e}");
    }

    #[test]
    fn go_bools() {
        for t in ["1", "t", "T", "TRUE", "true", "True"] {
            assert_eq!(parse_go_bool(t), Some(true), "{t}");
        }
        for f in ["0", "f", "F", "FALSE", "false", "False"] {
            assert_eq!(parse_go_bool(f), Some(false), "{f}");
        }
        for bad in ["", "yes", "tRUE", "2"] {
            assert_eq!(parse_go_bool(bad), None, "{bad}");
        }
    }

    #[test]
    fn query_strings_decode() {
        let q = parse_query(Some("prefix=ab%2Fc&namespace=%2A&x=a+b&empty="));
        assert_eq!(q[0], ("prefix".into(), "ab/c".into()));
        assert_eq!(q[1], ("namespace".into(), "*".into()));
        assert_eq!(q[2], ("x".into(), "a b".into()));
        assert_eq!(q[3], ("empty".into(), "".into()));
        assert_eq!(percent_decode("100%", false), "100%");
        assert_eq!(percent_decode("%zz", false), "%zz");
    }

    #[test]
    fn pages() {
        let q = QueryOptions {
            per_page: 2,
            ..QueryOptions::default()
        };
        let (p, next) = paginate(vec!["a", "b", "c"], &q, |s| s.to_string());
        assert_eq!(p, ["a", "b"]);
        assert_eq!(next.as_deref(), Some("c"));
        let q = QueryOptions {
            per_page: 2,
            next_token: "c".into(),
            ..QueryOptions::default()
        };
        let (p, next) = paginate(vec!["a", "b", "c"], &q, |s| s.to_string());
        assert_eq!(p, ["c"]);
        assert_eq!(next, None);
    }
}
