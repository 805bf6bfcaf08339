//! Extractors that answer a malformed request with a page, under the status the framework
//! chose (400, 413, 415...), rather than with a bare line of text.

use axum::extract::rejection::{FormRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::Form;
use serde::de::DeserializeOwned;

use crate::error::PageError;

/// A `application/x-www-form-urlencoded` body read into `T`.
pub(crate) struct WebForm<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for WebForm<T> {
    type Rejection = PageError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        Form::<T>::from_request(request, state)
            .await
            .map(|Form(value)| WebForm(value))
            .map_err(|rejection: FormRejection| {
                PageError::malformed(rejection.status(), rejection.body_text())
            })
    }
}

/// Path parameters: ids are strings here, so only a segment that is not UTF-8 fails.
pub(crate) struct WebPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for WebPath<T> {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| WebPath(value))
            .map_err(|rejection: PathRejection| {
                PageError::malformed(rejection.status(), rejection.body_text())
            })
    }
}

/// The query string read into `T`.
pub(crate) struct WebQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for WebQuery<T> {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| WebQuery(value))
            .map_err(|rejection: QueryRejection| {
                PageError::malformed(rejection.status(), rejection.body_text())
            })
    }
}
