//! The OpenAPI 3.1 document of the API as this server serves it, served at `/openapi.json`.
//!
//! Each handler carries its own `#[utoipa::path]` (path, parameters, body, the answers
//! only it gives), and the route table registers handlers through those declarations, so
//! a route cannot be served without being documented nor documented without being served.
//! [`finish`] then adds what every operation shares: the security scheme, the answers of
//! the account gate and of body reading, and the response headers.
//!
//! To document more: a request header of one operation goes in its handler's `params(...)`
//! as `("Name" = String, Header, description = ...)`; a response header of one answer in
//! that response's `headers(...)`; an answer of one operation in its `responses(...)`, and
//! an answer or header every operation shares in [`shared_answers`] / `add_headers`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{json, Value};
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::{Response as Answer, ResponseBuilder};
use utoipa::openapi::schema::{Object, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, Header, OpenApi, Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

use crate::envelope::{Envelope, Unwrapped};
use crate::reply::Failure;

/// The security scheme of the Users API.
const BASIC: &str = "basic";
/// The security scheme of the operator API.
const OPERATOR: &str = "operator";
/// The component every error answer refers to: the name utoipa gives `Envelope<Failure>`,
/// which the handlers' own error answers use too.
const ERROR: &str = "Envelope_Failure";

/// The parts of the document that are not operations.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "roster",
        description = "Exotel's CCM v2 Users API (users of an account and their devices), \
            self-hosted, and roster's operator API. Every answer, success or error, is one \
            JSON envelope: `request_id`, `method`, `http_code`, (`metadata` on paged lists), \
            `response`, in that order. Every Users API path is also served with `Accounts` \
            in place of `accounts`; the document lists the lower-case spelling only. Error \
            answers name their Exotel code in `response.error_data.code`; each response's \
            description lists the codes it can carry.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    tags(
        (name = "users", description = "Users of an account (Exotel's CCM v2 Users API)."),
        (name = "devices", description = "A user's devices: ON and OFF, numbers, SIP passwords; \
            listing, adding and removing them is an extension."),
        (name = "operator", description = "Extension: what Exotel does in its dashboard and \
            telephony platform, for the operator of a roster deployment. Served only when an \
            operator token is configured; this document lists it only then."),
    )
)]
struct Base;

/// The document's frame, before the route table adds its operations.
pub(crate) fn base() -> OpenApi {
    <Base as utoipa::OpenApi>::openapi()
}

/// Adds what every operation shares, and returns the document as the bytes to serve.
pub(crate) fn finish(mut doc: OpenApi) -> Bytes {
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    let components = doc.components.get_or_insert_with(Default::default);
    components
        .schemas
        .insert(ERROR.to_owned(), <Envelope<Failure<'static>>>::schema());
    let mut nested = Vec::new();
    <Envelope<Failure<'static>> as ToSchema>::schemas(&mut nested);
    components.schemas.extend(nested);
    components.add_security_scheme(
        BASIC,
        SecurityScheme::Http(
            Http::builder()
                .scheme(HttpAuthScheme::Basic)
                .description(Some(
                    "User name = API key, password = API token, as issued by \
                     `roster keys create` or the operator API.",
                ))
                .build(),
        ),
    );
    components.add_security_scheme(
        OPERATOR,
        SecurityScheme::Http(
            Http::builder()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "The setting `operator_token` (`ROSTER_OPERATOR_TOKEN`).",
                ))
                .build(),
        ),
    );

    for (path, item) in doc.paths.paths.iter_mut() {
        optional_bodies(item);
        let users_api = path.starts_with("/v2/");
        let operations = [
            item.get.as_mut(),
            item.put.as_mut(),
            item.post.as_mut(),
            item.delete.as_mut(),
        ];
        for operation in operations.into_iter().flatten() {
            shared_answers(operation, users_api);
        }
    }

    // Our own document always serialises; an empty object would still parse.
    let Ok(mut value) = serde_json::to_value(&doc) else {
        return Bytes::from_static(b"{}");
    };
    require_headers(&mut value);
    serde_json::to_vec(&value)
        .map(Bytes::from)
        .unwrap_or_else(|_| Bytes::from_static(b"{}"))
}

/// An optional body is documented by utoipa as `oneOf: [body, null]`, but what may be left
/// out is the body itself, not a JSON `null` (which is 400 like any body that is not an
/// object): keep the body's schema and mark it not required.
fn optional_bodies(item: &mut utoipa::openapi::PathItem) {
    let operations = [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
    ];
    for operation in operations.into_iter().flatten() {
        let Some(RefOr::T(body)) = operation.request_body.as_mut() else {
            continue;
        };
        if body.required == Some(utoipa::openapi::Required::True) {
            continue;
        }
        for content in body.content.values_mut() {
            let RefOr::T(content) = content else { continue };
            if let Some(RefOr::T(Schema::OneOf(one_of))) = &content.schema {
                let body_schema = one_of.items.iter().find(|item| !is_null(item)).cloned();
                if let Some(body_schema) = body_schema {
                    content.schema = Some(body_schema);
                }
            }
        }
        body.required = Some(utoipa::openapi::Required::False);
    }
}

fn is_null(schema: &RefOr<Schema>) -> bool {
    matches!(schema, RefOr::T(Schema::Object(object))
        if object.schema_type == utoipa::openapi::schema::SchemaType::Type(Type::Null))
}

/// The answers every operation of its API can give besides its own, and the headers
/// every answer carries.
fn shared_answers(operation: &mut Operation, users_api: bool) {
    let scheme = if users_api { BASIC } else { OPERATOR };
    operation.security = Some(vec![SecurityRequirement::new(scheme, Vec::<String>::new())]);

    add_error(
        operation,
        StatusCode::BAD_REQUEST,
        "1007 the request could not be read: a malformed query string, or a path segment \
         that is not UTF-8.",
    );
    if users_api {
        add_error(
            operation,
            StatusCode::UNAUTHORIZED,
            "1010 the API key and token are missing, malformed, unknown or revoked, or the \
             account is homed in another region (the description names it).",
        );
        add_error(
            operation,
            StatusCode::FORBIDDEN,
            "1003 the credentials are not this account's (or the sid is unknown); 10814 the \
             account's KYC is incomplete; 10815 a trial account.",
        );
        add_error(
            operation,
            StatusCode::TOO_MANY_REQUESTS,
            "The account's budget for this minute is spent, or this address failed \
             authentication too often this minute; `error_data.code` is `null`.",
        );
    } else {
        add_error(
            operation,
            StatusCode::UNAUTHORIZED,
            "1010 the operator token is missing or wrong.",
        );
    }
    if operation.request_body.is_some() {
        add_error(
            operation,
            StatusCode::PAYLOAD_TOO_LARGE,
            "1007 the body is larger than 64 KiB.",
        );
        add_error(
            operation,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "1011 a `Content-Type` other than `application/json` (with or without \
             parameters); a body without one is read as JSON.",
        );
    }
    add_error(
        operation,
        StatusCode::INTERNAL_SERVER_ERROR,
        "1004 an unexpected error, logged with the request_id.",
    );

    for (status, answer) in operation.responses.responses.iter_mut() {
        if let RefOr::T(answer) = answer {
            add_headers(answer, status, users_api);
        }
    }
}

/// Documents an error answer, or adds to the description of one the handler declared.
fn add_error(operation: &mut Operation, status: StatusCode, description: &str) {
    let key = status.as_u16().to_string();
    match operation.responses.responses.get_mut(&key) {
        Some(RefOr::T(answer)) => {
            answer.description = format!("{} {description}", answer.description);
        }
        Some(RefOr::Ref(_)) => {}
        None => {
            let answer = ResponseBuilder::new()
                .description(description)
                .content("application/json", Content::new(Some(error_schema())))
                .build();
            operation.responses.responses.insert(key, RefOr::T(answer));
        }
    }
}

/// The schema every error answer has: the envelope around a failure.
pub(crate) fn error_schema() -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(ERROR))
}

fn add_headers(answer: &mut Answer, status: &str, users_api: bool) {
    let headers = &mut answer.headers;
    headers.insert(
        "X-Request-Id".to_owned(),
        RefOr::T(header(
            text().pattern(Some("^[0-9a-f]{32}$")).build(),
            "The envelope's `request_id`.",
        )),
    );
    match (status, users_api) {
        ("401", true) => {
            headers.insert(
                "WWW-Authenticate".to_owned(),
                RefOr::T(header(
                    text().build(),
                    "`Basic realm=\"roster\"` on refused credentials.",
                )),
            );
        }
        ("401", false) => {
            headers.insert(
                "WWW-Authenticate".to_owned(),
                RefOr::T(header(
                    text().build(),
                    "`Bearer realm=\"roster-operator\"`.",
                )),
            );
        }
        _ => {}
    }
    if status == "429" {
        headers.insert(
            "Retry-After".to_owned(),
            RefOr::T(header(integer(0), "Seconds until the budget refills.")),
        );
    }
    // Every request that passed the credential, account and region checks counts, so
    // these come on every answer but a 401 and some 403s.
    if users_api && status != "401" {
        for (name, description) in [
            ("X-RateLimit-Limit", "The account's requests a minute."),
            (
                "X-RateLimit-Remaining",
                "Requests still allowed this minute after this one.",
            ),
            (
                "X-RateLimit-Reset",
                "Epoch seconds when the budget refills.",
            ),
        ] {
            headers.insert(name.to_owned(), RefOr::T(header(integer(0), description)));
        }
    }
}

fn header(schema: Object, description: &str) -> Header {
    let mut header = Header::new(schema);
    header.description = Some(description.to_owned());
    header
}

fn text() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn integer(minimum: i64) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(minimum))
        .build()
}

/// `X-Request-Id` is on every answer; the others only on some, so only it is required.
/// utoipa's `Header` has no `required`, so it is set on the serialised document.
fn require_headers(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for item in paths.values_mut().filter_map(Value::as_object_mut) {
        for operation in item.values_mut() {
            let Some(responses) = operation
                .get_mut("responses")
                .and_then(Value::as_object_mut)
            else {
                continue;
            };
            for answer in responses.values_mut() {
                if let Some(id) = answer.pointer_mut("/headers/X-Request-Id") {
                    id["required"] = json!(true);
                }
            }
        }
    }
}

/// A string schema that is one of `values`.
pub(crate) fn enumeration<const N: usize>(values: [&'static str; N]) -> Object {
    text().enum_values(Some(values)).build()
}

/// An IANA time zone this server knows (from the time zone database it reads).
pub(crate) struct TimeZoneId;

impl PartialSchema for TimeZoneId {
    fn schema() -> RefOr<Schema> {
        let mut names: Vec<String> = jiff::tz::db()
            .available()
            .map(|name| name.as_str().to_owned())
            .collect();
        names.sort_unstable();
        names.dedup();
        text().enum_values(Some(names)).into()
    }
}

impl ToSchema for TimeZoneId {}

/// The served document: JSON as built once, outside the Exotel envelope.
pub(crate) fn serve(document: &Bytes) -> Response {
    let mut response = document.clone().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response.extensions_mut().insert(Unwrapped);
    response
}

/// String formats of request fields, each a pattern of what the handler accepts. An
/// optional field's format also allows a blank value, as blank counts as not sent.
macro_rules! text_format {
    ($(#[$meta:meta])* $name:ident = $pattern:expr, blank: $blank:literal) => {
        $(#[$meta])*
        pub(crate) struct $name;

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                let pattern = if $blank {
                    format!("^(\\s*|{})$", $pattern)
                } else {
                    format!("^({})$", $pattern)
                };
                text().pattern(Some(pattern)).into()
            }
        }

        impl ToSchema for $name {}
    };
}

/// A first or last name under the default rule: 3 to 20 of `A-Z a-z 0-9 . ' -` and space,
/// not starting or ending with a space (`name_policy = "unicode"` also allows any Unicode
/// letter).
const NAME: &str = r"[A-Za-z0-9.'-][A-Za-z0-9.' -]{1,18}[A-Za-z0-9.'-]";
/// `local@domain` of at most 254 characters: a dot-atom local part of at most 64, and a
/// domain of host-name labels ending in an alphabetic label of two or more letters.
const EMAIL: &str = concat!(
    r"(?=[^@]{1,64}@)(?=.{1,254}$)",
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*",
    r"@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
);
/// E.164 once spaces, hyphens, dots and parentheses are removed: `+`, a digit 1-9, then 7
/// to 14 digits.
const PHONE: &str = r"[ .()-]*\+[ .()-]*[1-9]([ .()-]*[0-9]){7,14}[ .()-]*";
/// What follows the `+` of a number.
const PHONE_DIGITS: &str = r"[ .()-]*[1-9]([ .()-]*[0-9]){7,14}[ .()-]*";
/// A SIP URI as roster writes them: `sip:` and 1 to 64 of lower-case letters, digits, `.`,
/// `_` and `-`.
const SIP: &str = r"sip:[a-z0-9._-]{1,64}";
/// 1 to 50 characters without control characters.
const LABEL: &str = r"[^\x00-\x1f\x7f-\x9f]{1,50}";

text_format! {
    /// A first or last name under the default rule (see `NAME`).
    PersonName = NAME, blank: false
}
text_format! {
    /// A first or last name under the default rule (see `NAME`), or blank.
    PersonNameOrBlank = NAME, blank: true
}
text_format! {
    /// An email address, or blank.
    EmailAddressOrBlank = EMAIL, blank: true
}
text_format! {
    /// A phone number, or blank.
    PhoneNumberOrBlank = PHONE, blank: true
}
text_format! {
    /// The `devices.contact_uri` filter: a comma list of numbers and SIP URIs; blank items
    /// are skipped, and a leading space (an unencoded `+`) is read as `+`.
    ContactFilter = format!("{item}(,{item})*", item = format!(
        r"(\s*|( \s*{PHONE_DIGITS}|[.()-]*\+{PHONE_DIGITS}|{SIP})\s*)"
    )),
    blank: false
}
text_format! {
    /// A phone number (E.164) or a SIP URI.
    ContactAddress = format!("{PHONE}|{SIP}"), blank: false
}
text_format! {
    /// A device's name, or blank.
    DeviceLabelOrBlank = LABEL, blank: true
}
text_format! {
    /// A role, or blank.
    RoleNameOrBlank = roster_domain::Role::ALL.map(roster_domain::Role::as_str).join("|"),
    blank: true
}
