//! The review pages: one HTML shell, a style sheet and a script (no build step), compiled into
//! the binary. The script draws each page from the JSON API, so the pages see and change only
//! what the API lets the logged-in account see and change.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

const SHELL: &str = include_str!("pages/shell.html");
const SCRIPT: &str = include_str!("pages/app.js");
const STYLE: &str = include_str!("pages/app.css");

fn text(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// Every page (`/`, `/login`, `/recordings`, `/recordings/{id}`, `/sars`, `/sars/{id}`).
pub async fn shell() -> Response {
    text("text/html; charset=utf-8", SHELL)
}

/// `/static/app.js`.
pub async fn script() -> Response {
    text("text/javascript; charset=utf-8", SCRIPT)
}

/// `/static/app.css`.
pub async fn style() -> Response {
    text("text/css; charset=utf-8", STYLE)
}

/// Headers on every response: only this origin's scripts, styles and media, never framed, no
/// content sniffing, no referrer sent elsewhere.
pub async fn harden(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self'; media-src 'self'; object-src 'none'; \
             base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}
