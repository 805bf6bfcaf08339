//! Every error the API answers with, mapped to its HTTP status, Exotel code and message in
//! this one place.

use std::sync::{Arc, OnceLock};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use roster_domain::RuleError;
use roster_service::ServiceError;

use crate::reply::{ErrorData, Reply};

#[derive(Debug, Clone)]
pub(crate) enum ApiError {
    Rule(RuleError),
    /// 401 / 1010; the description says what was wrong without revealing which part.
    Unauthenticated,
    /// The operator API's bearer token is missing or wrong.
    OperatorUnauthenticated,
    /// 401 / 1010 for an account homed in another region.
    WrongRegion(String),
    /// 403 / 1003: valid credentials of another account.
    Forbidden,
    RateLimited {
        description: &'static str,
    },
    KycIncomplete,
    Trial,
    /// 400 / 1007, with what was wrong with the request's form.
    BadRequest(String),
    PayloadTooLarge,
    /// 414 / 1007: a path and query longer than roster reads.
    UriTooLong,
    /// 431 / 1007: more header bytes than roster reads.
    HeadersTooLarge,
    UnsupportedMediaType,
    RouteNotFound,
    MethodNotAllowed,
    /// 404 / 1000 for something an operator named that does not exist.
    NotFound(String),
    /// 409 / 1005: an operator tried to create what already exists.
    AlreadyExists(String),
    /// 400 / 1002 for a bad operator setting, named in the description.
    InvalidSetting(String),
    /// 500 / 1004. The cause goes to the log with the request id; the client sees
    /// nothing of it.
    Internal(Arc<str>),
}

impl ApiError {
    pub(crate) fn parts(&self) -> (StatusCode, Option<u32>, &'static str, String) {
        use ApiError as E;
        match self {
            E::Rule(rule) => {
                let (status, message) = rule_status(rule);
                (status, Some(rule.code()), message, rule.to_string())
            }
            E::Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                Some(1010),
                "Authentication failed",
                "the API key and token are missing, malformed, unknown or revoked".to_owned(),
            ),
            E::OperatorUnauthenticated => (
                StatusCode::UNAUTHORIZED,
                Some(1010),
                "Authentication failed",
                "the operator token is missing or wrong".to_owned(),
            ),
            E::WrongRegion(region) => (
                StatusCode::UNAUTHORIZED,
                Some(1010),
                "Authentication failed",
                format!("this account is homed in region '{region}'; send requests to that region's host"),
            ),
            E::Forbidden => (
                StatusCode::FORBIDDEN,
                Some(1003),
                "API credentials used are unauthorized",
                "these credentials do not belong to the account in the path".to_owned(),
            ),
            E::RateLimited { description } => {
                (StatusCode::TOO_MANY_REQUESTS, None, "Too many requests", (*description).to_owned())
            }
            E::KycIncomplete => (
                StatusCode::FORBIDDEN,
                Some(10814),
                "This account's KYC is incomplete. Operation not permitted",
                "complete the account's KYC to use the Users API".to_owned(),
            ),
            E::Trial => (
                StatusCode::FORBIDDEN,
                Some(10815),
                "This is a trial account. Operation not permitted",
                "the Users API is not available to trial accounts".to_owned(),
            ),
            E::BadRequest(description) => {
                (StatusCode::BAD_REQUEST, Some(1007), "Request format is invalid", description.clone())
            }
            E::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                Some(1007),
                "Request format is invalid",
                "the request body is larger than 64 KiB".to_owned(),
            ),
            E::UriTooLong => (
                StatusCode::URI_TOO_LONG,
                Some(1007),
                "Request format is invalid",
                "the path and query string are longer than 32 KiB".to_owned(),
            ),
            E::HeadersTooLarge => (
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                Some(1007),
                "Request format is invalid",
                "the request headers are larger than 32 KiB".to_owned(),
            ),
            E::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Some(1011),
                "Unsupported media type",
                "send the body as application/json".to_owned(),
            ),
            E::RouteNotFound => {
                (StatusCode::NOT_FOUND, Some(1000), "Not found", "no such resource".to_owned())
            }
            E::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                Some(1007),
                "Request format is invalid",
                "this resource does not support this method; see the Allow header".to_owned(),
            ),
            E::NotFound(description) => {
                (StatusCode::NOT_FOUND, Some(1000), "Not found", description.clone())
            }
            E::AlreadyExists(description) => {
                (StatusCode::CONFLICT, Some(1005), "Already exists", description.clone())
            }
            E::InvalidSetting(description) => {
                (StatusCode::BAD_REQUEST, Some(1002), "Invalid parameter value", description.clone())
            }
            E::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                Some(1004),
                "Internal Server Error",
                "an unexpected error occurred; quote the request_id when reporting it".to_owned(),
            ),
        }
    }

    pub(crate) fn into_reply(self) -> Reply {
        // Refusals that never vary are serialised once: they are what a flood of bad or
        // over-budget requests gets, and should cost as little as possible.
        static CONSTANT: [OnceLock<Reply>; 13] = [const { OnceLock::new() }; 13];
        if let Some(slot) = self.constant_slot().and_then(|at| CONSTANT.get(at)) {
            return slot.get_or_init(|| self.render()).clone();
        }
        self.render()
    }

    /// Where a refusal whose answer never varies is kept once rendered.
    fn constant_slot(&self) -> Option<usize> {
        use ApiError as E;
        Some(match self {
            E::Unauthenticated => 0,
            E::OperatorUnauthenticated => 1,
            E::Forbidden => 2,
            E::KycIncomplete => 3,
            E::Trial => 4,
            E::PayloadTooLarge => 5,
            E::UnsupportedMediaType => 6,
            E::RouteNotFound => 7,
            E::MethodNotAllowed => 8,
            E::RateLimited { description } if *description == Self::BUDGET_SPENT => 9,
            E::RateLimited { description } if *description == Self::TOO_MANY_FAILURES => 10,
            E::UriTooLong => 11,
            E::HeadersTooLarge => 12,
            _ => return None,
        })
    }

    /// The account's budget for this minute is spent.
    pub(crate) const BUDGET_SPENT: &'static str =
        "the account's request budget for this minute is spent";
    /// The client address failed authentication too often this minute.
    pub(crate) const TOO_MANY_FAILURES: &'static str =
        "too many failed authentication attempts from this address";

    fn render(self) -> Reply {
        let (status, code, message, description) = self.parts();
        let mut reply = Reply::error(
            status,
            ErrorData {
                code,
                message,
                description: &description,
            },
        );
        if let ApiError::Internal(cause) = self {
            reply.cause = Some(cause);
        }
        reply
    }

    /// An unexpected failure, with the cause to log.
    pub(crate) fn internal(cause: impl std::fmt::Display) -> Self {
        ApiError::Internal(cause.to_string().into())
    }
}

pub(crate) fn rule_status(rule: &RuleError) -> (StatusCode, &'static str) {
    use RuleError as R;
    match rule {
        R::Missing(_) => (StatusCode::BAD_REQUEST, "Mandatory parameter missing"),
        R::Invalid { .. } => (StatusCode::BAD_REQUEST, "Invalid parameter value"),
        R::NotE164 { .. } => (StatusCode::BAD_REQUEST, "Invalid contact URI"),
        R::ContactRequired => (StatusCode::BAD_REQUEST, "Device contact URI required"),
        R::UserNotFound => (StatusCode::NOT_FOUND, "User not found"),
        R::DeviceNotFound => (StatusCode::NOT_FOUND, "Device not found"),
        R::NumberTakenOnCreate | R::NumberTakenOnUpdate => {
            (StatusCode::CONFLICT, "Number already in use")
        }
        R::EmailTaken => (StatusCode::CONFLICT, "Email already in use"),
        R::DeviceUnverified => (StatusCode::CONFLICT, "Device not verified"),
        R::AnotherDeviceOn => (StatusCode::FORBIDDEN, "Another device is already on"),
        R::NotTelDevice => (
            StatusCode::FORBIDDEN,
            "Operation not allowed for this device type",
        ),
        R::PreconditionFailed => (StatusCode::PRECONDITION_FAILED, "Precondition failed"),
        R::IdempotencyKeyReused => (StatusCode::CONFLICT, "Idempotency key reused"),
    }
}

impl From<RuleError> for ApiError {
    fn from(rule: RuleError) -> Self {
        ApiError::Rule(rule)
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::Rule(rule) => ApiError::Rule(rule),
            ServiceError::Unauthenticated => ApiError::Unauthenticated,
            ServiceError::AccountNotFound(_)
            | ServiceError::KeyNotFound(_)
            | ServiceError::NotFound(_) => ApiError::NotFound(error.to_string()),
            ServiceError::AccountExists(_) => ApiError::AlreadyExists(error.to_string()),
            ServiceError::InvalidSetting { .. } => ApiError::InvalidSetting(error.to_string()),
            other => ApiError::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.into_reply().into_response()
    }
}
