//! The web UI: `/` redirects to `/ui/`, and everything under `/ui/` is
//! answered by [`nomad_ui::resolve`] (the embedded assets, or the index
//! page for client-side routes). This module only turns its answer into an
//! HTTP response: methods, conditional requests, headers.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, Response, StatusCode, Uri};
use axum::routing::any;
use axum::Router;

/// The UI's routes, merged into the API router ahead of its fallback.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", any(serve))
        .route("/ui", any(serve))
        .route("/ui/", any(serve))
        .route("/ui/{*rest}", any(serve))
}

async fn serve(method: Method, uri: Uri, headers: HeaderMap) -> Response<Body> {
    if method != Method::GET && method != Method::HEAD {
        let mut resp = Response::new(Body::from("Invalid method"));
        *resp.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        resp.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return resp;
    }
    let ui = nomad_ui::resolve(uri.path());
    let not_modified = ui.status == 200
        && ui.etag.is_some_and(|tag| {
            headers
                .get(header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"))
        });
    let body = if method == Method::HEAD || not_modified {
        Body::empty()
    } else {
        Body::from(ui.body)
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = if not_modified {
        StatusCode::NOT_MODIFIED
    } else {
        StatusCode::from_u16(ui.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    };
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(ui.content_type),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if method == Method::HEAD && !not_modified {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(ui.body.len()));
    }
    let statics = [
        (header::CACHE_CONTROL, ui.cache_control),
        (header::ETAG, ui.etag),
        (header::LOCATION, ui.location),
        (header::CONTENT_SECURITY_POLICY, ui.csp),
    ];
    for (name, value) in statics {
        if let Some(v) = value {
            h.insert(name, HeaderValue::from_static(v));
        }
    }
    if ui.csp.is_some() {
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    resp
}
