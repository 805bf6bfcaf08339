//! The stylesheet and the one script, built into the binary.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

const CSS: &str = include_str!("../assets/dashboard.css");
const JS: &str = include_str!("../assets/dashboard.js");
const ICON: &str = include_str!("../assets/favicon.svg");

/// Versioned so a browser never pairs a page with an older build's files.
pub(crate) const CSS_PATH: &str = concat!("/assets/dashboard.css?v=", env!("CARGO_PKG_VERSION"));
pub(crate) const JS_PATH: &str = concat!("/assets/dashboard.js?v=", env!("CARGO_PKG_VERSION"));
pub(crate) const ICON_PATH: &str = concat!("/assets/favicon.svg?v=", env!("CARGO_PKG_VERSION"));

pub(crate) async fn serve(Path(file): Path<String>) -> Response {
    let (body, kind) = match file.as_str() {
        "dashboard.css" => (CSS, "text/css; charset=utf-8"),
        "dashboard.js" => (JS, "text/javascript; charset=utf-8"),
        "favicon.svg" => (ICON, "image/svg+xml"),
        _ => return (StatusCode::NOT_FOUND, "no such file").into_response(),
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    response
}
