//! Reading a posted form, with a page (not a bare text answer) when it cannot be read.

use axum::extract::{FromRequest, Request};
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
            .map_err(|rejection| PageError::BadForm(rejection.body_text()))
    }
}
