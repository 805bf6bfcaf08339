//! What the dashboard borrows from the API so that it keeps the API's rules: the same
//! admission steps for a sign-in, the same failure budget per address, and the same
//! words for every refusal.

use std::net::IpAddr;
use std::sync::Arc;

use axum::http::StatusCode;
use roster_domain::{Account, AccountSid, RuleError};
use roster_service::{AccountStatus, ServiceError};

use crate::auth;
use crate::error::ApiError;
use crate::AppState;

/// A refusal as the API would have written it: status, Exotel code and both texts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    pub code: Option<u32>,
    /// Exotel's short message, such as "Invalid parameter value".
    pub message: &'static str,
    /// What exactly was wrong, such as "invalid email: ...".
    pub description: String,
}

impl Refusal {
    /// An unexpected failure: the cause goes to the log, the person sees the API's text.
    pub fn is_internal(&self) -> bool {
        self.status == StatusCode::INTERNAL_SERVER_ERROR
    }
}

impl From<ApiError> for Refusal {
    fn from(error: ApiError) -> Self {
        if let ApiError::Internal(cause) = &error {
            tracing::error!(%cause, "dashboard request failed");
        }
        let (status, code, message, description) = error.parts();
        Refusal {
            status,
            code,
            message,
            description,
        }
    }
}

impl From<ServiceError> for Refusal {
    fn from(error: ServiceError) -> Self {
        Refusal::from(ApiError::from(error))
    }
}

/// The status the API answers a broken rule with.
pub fn rule_status(rule: &RuleError) -> StatusCode {
    crate::error::rule_status(rule).0
}

/// Signs in with an API key and token: the API gate's steps in its order (credentials,
/// account, region, KYC, trial), and a failed attempt counts against the address's budget
/// exactly as a failed API call does.
pub async fn sign_in(
    state: &AppState,
    key: &str,
    token: &str,
    client: Option<IpAddr>,
) -> Result<Arc<Account>, Refusal> {
    let sid = match state.directory.authenticate(key, token).await {
        Ok(sid) => sid,
        Err(ServiceError::Unauthenticated) => {
            if auth::count_failure(state, client).is_some() {
                return Err(ApiError::RateLimited {
                    description: ApiError::TOO_MANY_FAILURES,
                }
                .into());
            }
            return Err(ApiError::Unauthenticated.into());
        }
        Err(other) => return Err(other.into()),
    };
    admit_account(state, &sid).await
}

/// The gate's checks after the credentials, for a signed-in session's every page: the
/// account still exists here, in this region, with KYC done and not on trial.
pub async fn admit_account(state: &AppState, sid: &AccountSid) -> Result<Arc<Account>, Refusal> {
    let account = state
        .directory
        .account(sid)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    if account.region != *state.region {
        return Err(ApiError::WrongRegion(account.region.to_string()).into());
    }
    match AccountStatus::of(&account) {
        AccountStatus::KycIncomplete => Err(ApiError::KycIncomplete.into()),
        AccountStatus::Trial => Err(ApiError::Trial.into()),
        AccountStatus::Usable => Ok(account),
    }
}

pub use crate::events::StillAdmitted;

/// The account's event stream for a signed-in page, exactly as the API streams it;
/// `last_event_id` is what the browser sends when it reconnects. `recheck` ends the stream
/// once the session no longer holds.
pub async fn event_stream(
    state: &AppState,
    account: Arc<Account>,
    last_event_id: Option<&str>,
    recheck: StillAdmitted,
) -> Result<axum::response::Response, Refusal> {
    let resume = last_event_id.map(crate::events::event_id).transpose()?;
    Ok(crate::events::open_stream(state, account, resume, recheck).await?)
}
