//! What a page answers when it cannot show what was asked: the sign-in page for a missing
//! session, and otherwise a page in the dashboard's layout with the API's words.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use roster_api::dashboard::Refusal;

use crate::page;

#[derive(Debug)]
pub(crate) enum PageError {
    /// No session: sign in.
    SignIn,
    /// A session cookie whose session no longer holds: sign in again, told why.
    SessionEnded,
    /// A form without this session's CSRF token, or posted from another site.
    Forbidden,
    /// A request no page of ours sends: a body that is no form, a path segment or query
    /// that cannot be read, a body over its limit. The status is the framework's.
    Malformed { status: StatusCode, reason: String },
    /// What the API would have refused, with its status and description.
    Refused(Refusal),
}

impl PageError {
    pub fn malformed(status: StatusCode, reason: impl Into<String>) -> Self {
        PageError::Malformed {
            status,
            reason: reason.into(),
        }
    }
}

impl From<Refusal> for PageError {
    fn from(refusal: Refusal) -> Self {
        PageError::Refused(refusal)
    }
}

impl From<roster_service::ServiceError> for PageError {
    fn from(error: roster_service::ServiceError) -> Self {
        PageError::Refused(error.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, title, text) = match self {
            PageError::SessionEnded => {
                return crate::page::redirect_with("/signin", crate::page::Flash::SessionEnded)
            }
            PageError::SignIn => {
                // The session cookie is left alone: it may belong to a newer sign-in in
                // another tab, and a stale one is refused anyway.
                let mut response = Redirect::to("/signin").into_response();
                response.headers_mut().insert(
                    header::CACHE_CONTROL,
                    header::HeaderValue::from_static("no-store"),
                );
                return response;
            }
            PageError::Forbidden => (
                StatusCode::FORBIDDEN,
                "Form refused",
                "This form was stale or came from another site, so nothing was changed. \
                 Go back, reload the page and try again."
                    .to_owned(),
            ),
            PageError::Malformed { status, reason } => (
                status,
                "Request not understood",
                format!("This request could not be read ({reason}); nothing was changed."),
            ),
            PageError::Refused(refusal) if refusal.is_internal() => (
                refusal.status,
                "Something went wrong",
                "roster could not do this just now; nothing was changed. Try again, and \
                 tell the operator if it keeps happening."
                    .to_owned(),
            ),
            PageError::Refused(refusal) => (refusal.status, refusal.message, refusal.description),
        };
        let body = html! {
            div role="alert" class="problem" {
                p { (text) }
            }
            p { a href="/" { "Back to the users" } }
        };
        (status, page::bare(title, body)).into_response()
    }
}

/// A handler that panicked still answers, with the internal-error page, and the request
/// still gets its log line (the panic message goes to the log, never to the page).
pub(crate) fn panic_page(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|m| (*m).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    tracing::error!(panic = message.as_str(), "dashboard handler panicked");
    PageError::Refused(Refusal {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        code: Some(1004),
        message: "Internal Server Error",
        description: String::new(),
    })
    .into_response()
}

/// A method a dashboard path does not take: a page, with the `Allow` header the router set.
pub(crate) async fn method_not_allowed() -> PageError {
    PageError::malformed(
        StatusCode::METHOD_NOT_ALLOWED,
        "this page does not take this method",
    )
}
