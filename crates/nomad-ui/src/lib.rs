//! The web UI, served by every agent at `/ui/` as Nomad's is.
//!
//! Owns: the UI's files (`assets/`: one `index.html`, a stylesheet, an icon
//! and plain JavaScript ES modules), compiled into the binary with
//! `include_bytes!`, and the answer to every `/ui` path: which file, with
//! which content type and cache headers. The page is a client-side
//! application that talks to the agent's `/v1` HTTP API only (blocking
//! queries for live updates, `X-Nomad-Token` from the browser's storage);
//! nothing is rendered on the server.
//!
//! Caching: assets live under `/ui/assets/<version>/…`, where `<version>` is
//! a hash of every embedded file, so they are served as immutable for a year;
//! `index.html` (every other `/ui/` path, for the client-side routes) is
//! `no-cache` and names the current version, so a new binary is picked up on
//! the next load. Both carry an `ETag`.
//!
//! The modules (`assets/`): `app.js` (client-side routes under `/ui/`, the
//! namespace switcher, mounting one view at a time), `lib/api.js` (requests
//! with `X-Nomad-Token`, errors carrying the API's text, and `Scope`: a
//! view's requests, aborted when the view is left), `lib/dom.js` (building
//! nodes without `innerHTML`), `lib/format.js` and `lib/diff.js` (pure: the
//! CLI's placement-failure and job-diff wording, times, sizes),
//! `lib/ui.js` (status bars, dialogs, notifications), `lib/logs.js` (log
//! streaming), and one module per page under `views/`.
//!
//! Live updates: each watched resource has exactly one outstanding blocking
//! query (`?index=N&wait=60s`), re-issued when it returns; bursts are
//! coalesced (at least 250 ms between requests of a watch), errors back off
//! exponentially up to 30 s, a hidden tab issues nothing, and an endpoint
//! that does not block (no `X-Nomad-Index`) is re-read every 10 s. A page
//! holds at most four watches, so the browser's six connections per host
//! leave room for actions and a log stream.
//!
//! Must not depend on: anything at all: no HTTP framework (nomad-api turns a
//! [`UiResponse`] into its own response type), no other crate of ours, no
//! build step. There is no Node.js, npm or network access at build time and
//! the page loads nothing from outside the agent. (The optional tests under
//! `tests/js/` run the modules under Node when it is installed; nothing
//! needs it.)

use std::sync::OnceLock;

/// One embedded file.
#[derive(Debug)]
pub struct Asset {
    /// Path below `assets/` (`app.js`, `views/jobs.js`).
    pub path: &'static str,
    pub bytes: &'static [u8],
    pub content_type: &'static str,
}

/// Where the UI lives.
pub const UI_ROOT: &str = "/ui/";
/// Where its assets live; the next path segment is [`version`].
pub const ASSETS_ROOT: &str = "/ui/assets/";
/// `Cache-Control` of versioned assets.
pub const CACHE_IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `Cache-Control` of the index page (always revalidated).
pub const CACHE_NO_CACHE: &str = "no-cache";
/// The index page's content security policy: everything from this agent,
/// nothing inline, nothing from elsewhere.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// The placeholder in `index.html` replaced by `/ui/assets/<version>`.
const ASSETS_PLACEHOLDER: &str = "{{ASSETS}}";

const INDEX_TEMPLATE: &str = include_str!("../assets/index.html");

macro_rules! assets {
    ($($path:literal),* $(,)?) => {
        &[$(Asset {
            path: $path,
            bytes: include_bytes!(concat!("../assets/", $path)),
            content_type: content_type($path),
        }),*]
    };
}

/// Every asset but `index.html` (which is served at every page path).
static ASSETS: &[Asset] = assets![
    "style.css",
    "favicon.svg",
    "app.js",
    "lib/api.js",
    "lib/dom.js",
    "lib/format.js",
    "lib/diff.js",
    "lib/ui.js",
    "lib/logs.js",
    "views/jobs.js",
    "views/job.js",
    "views/job_actions.js",
    "views/run.js",
    "views/alloc.js",
    "views/clients.js",
    "views/client.js",
    "views/servers.js",
    "views/topology.js",
    "views/evals.js",
    "views/settings.js",
];

/// The content type of a file, by its extension.
pub const fn content_type(path: &str) -> &'static str {
    let b = path.as_bytes();
    if ends_with(b, b".js") || ends_with(b, b".mjs") {
        "text/javascript; charset=utf-8"
    } else if ends_with(b, b".css") {
        "text/css; charset=utf-8"
    } else if ends_with(b, b".html") {
        "text/html; charset=utf-8"
    } else if ends_with(b, b".svg") {
        "image/svg+xml"
    } else if ends_with(b, b".json") {
        "application/json"
    } else if ends_with(b, b".png") {
        "image/png"
    } else if ends_with(b, b".woff2") {
        "font/woff2"
    } else {
        "application/octet-stream"
    }
}

const fn ends_with(s: &[u8], suffix: &[u8]) -> bool {
    if s.len() < suffix.len() {
        return false;
    }
    let off = s.len() - suffix.len();
    let mut i = 0;
    while i < suffix.len() {
        if s[off + i] != suffix[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Every embedded asset (not `index.html`).
pub fn assets() -> &'static [Asset] {
    ASSETS
}

/// The asset at `path` below `assets/` (`app.js`, `views/job.js`).
pub fn asset(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

/// A hash of every embedded file (16 hex digits): the assets' URL segment
/// and the `ETag` of every UI response.
pub fn version() -> &'static str {
    static V: OnceLock<String> = OnceLock::new();
    V.get_or_init(|| {
        // FNV-1a, 64 bits: stable across builds and platforms, no dependency.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |bytes: &[u8]| {
            for b in bytes {
                h ^= u64::from(*b);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
        };
        eat(INDEX_TEMPLATE.as_bytes());
        for a in ASSETS {
            eat(a.path.as_bytes());
            eat(&(a.bytes.len() as u64).to_le_bytes());
            eat(a.bytes);
        }
        format!("{h:016x}")
    })
}

/// `/ui/assets/<version>`: the prefix of every asset URL.
pub fn assets_base() -> &'static str {
    static B: OnceLock<String> = OnceLock::new();
    B.get_or_init(|| format!("{ASSETS_ROOT}{}", version()))
}

/// The page served at `/ui/` and every client-side route below it.
pub fn index_html() -> &'static str {
    static I: OnceLock<String> = OnceLock::new();
    I.get_or_init(|| INDEX_TEMPLATE.replace(ASSETS_PLACEHOLDER, assets_base()))
}

/// The raw `index.html` (with its `{{ASSETS}}` placeholder), for tests
/// that check its references.
pub fn index_template() -> &'static str {
    INDEX_TEMPLATE
}

fn etag() -> &'static str {
    static E: OnceLock<String> = OnceLock::new();
    E.get_or_init(|| format!("\"{}\"", version()))
}

/// What to answer for a request path, independent of the HTTP framework.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UiResponse {
    pub status: u16,
    pub content_type: &'static str,
    pub body: &'static [u8],
    /// `Cache-Control`, when there is a body worth caching.
    pub cache_control: Option<&'static str>,
    /// `ETag` (quoted), for conditional requests.
    pub etag: Option<&'static str>,
    /// `Location`, for redirects.
    pub location: Option<&'static str>,
    /// `Content-Security-Policy` (the index page only).
    pub csp: Option<&'static str>,
}

impl UiResponse {
    fn redirect(status: u16, to: &'static str) -> UiResponse {
        UiResponse {
            status,
            content_type: "text/html; charset=utf-8",
            body: b"",
            cache_control: None,
            etag: None,
            location: Some(to),
            csp: None,
        }
    }

    fn not_found() -> UiResponse {
        UiResponse {
            status: 404,
            content_type: "text/plain",
            body: b"404 page not found",
            cache_control: None,
            etag: None,
            location: None,
            csp: None,
        }
    }
}

/// Whether `path` is one [`resolve`] answers: `/`, `/ui` and below.
pub fn is_ui_path(path: &str) -> bool {
    path == "/" || path == "/ui" || path.starts_with(UI_ROOT)
}

/// The answer for a GET of `path` (the request's path, not decoded):
/// `/` redirects to `/ui/` (307, as Nomad's agent), `/ui` to `/ui/` (301);
/// `/ui/assets/<version>/<file>` is that asset or 404 (as is any other path
/// under `/ui/assets/`); any other `/ui/…` path is the index page, so that
/// deep links into client-side routes load the application.
pub fn resolve(path: &str) -> UiResponse {
    if path == "/" {
        return UiResponse::redirect(307, UI_ROOT);
    }
    if path == "/ui" {
        return UiResponse::redirect(301, UI_ROOT);
    }
    let Some(rest) = path.strip_prefix(UI_ROOT) else {
        return UiResponse::not_found();
    };
    if let Some(under) = rest.strip_prefix("assets/") {
        let found = under
            .split_once('/')
            .filter(|(v, _)| *v == version())
            .and_then(|(_, file)| asset(file));
        return match found {
            Some(a) => UiResponse {
                status: 200,
                content_type: a.content_type,
                body: a.bytes,
                cache_control: Some(CACHE_IMMUTABLE),
                etag: Some(etag()),
                location: None,
                csp: None,
            },
            None => UiResponse::not_found(),
        };
    }
    if rest == "assets" {
        return UiResponse::not_found();
    }
    UiResponse {
        status: 200,
        content_type: "text/html; charset=utf-8",
        body: index_html().as_bytes(),
        cache_control: Some(CACHE_NO_CACHE),
        etag: Some(etag()),
        location: None,
        csp: Some(CONTENT_SECURITY_POLICY),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_by_extension() {
        assert_eq!(content_type("a/b.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("s.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("i.svg"), "image/svg+xml");
        assert_eq!(content_type("x.bin"), "application/octet-stream");
        assert_eq!(content_type("js"), "application/octet-stream");
    }

    #[test]
    fn version_is_stable_hex() {
        assert_eq!(version().len(), 16);
        assert!(version().bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(version(), version());
        assert!(!index_html().contains(ASSETS_PLACEHOLDER));
        assert!(index_html().contains(assets_base()));
    }
}
