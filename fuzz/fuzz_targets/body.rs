//! Request bodies as the server reads them: the first byte picks an endpoint and the
//! `If-Match` or `Idempotency-Key` header sent with it, the rest is sent as its JSON body
//! through the whole application (gate, header and body readers, field readers, the
//! service's validation, a fixed store), and the answer must be a success or one of the
//! refusals the contract lists for that endpoint, in the envelope.
#![no_main]

use axum::http::{HeaderName, Method};
use libfuzzer_sys::fuzz_target;
use roster_fuzz::{
    app, assert_outcome, device_version, Answer, PASSWORD_MARK, PLAIN, USER_A, USER_A_VERSION,
    USER_B, USER_B_VERSION, VOIP,
};
use serde_json::Value;

/// The JSON type a handler reads a field as.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Text,
    Flag,
    /// A whole number from 0 to 2^64 - 1, however written: `1342`, `1342.0`, `1.342e3`.
    Count,
    /// Only whether it is there counts (`role` and `id` on update).
    Any,
}

/// Which of roster's extension headers an endpoint evaluates.
#[derive(Clone, Copy, PartialEq)]
enum Reads {
    Neither,
    /// `If-Match`, against the fixed version of the record it writes.
    IfMatch {
        version: u64,
    },
    IdempotencyKey,
}

/// The `ETag` a success carries.
#[derive(Clone, Copy)]
enum Tag {
    /// Not checked.
    Any,
    /// This version: a record just created.
    Exactly(u64),
    /// The record's fixed version, or the next one when the write changed it.
    From(u64),
}

struct Endpoint {
    name: &'static str,
    method: Method,
    sid: &'static str,
    path: String,
    fields: &'static [(&'static str, Kind)],
    /// A field whose absence is 400 / 1001 before any other field is read.
    required_first: Option<&'static str>,
    /// An empty body is read from the query string instead (update device).
    empty_allowed: bool,
    /// `false` for a delete, which never looks at a body.
    reads_body: bool,
    reads: Reads,
    /// A version the record is not at: another record's, so checking against the wrong
    /// one shows.
    stale: u64,
    tag: Tag,
    allowed: &'static [(u16, u32)],
}

impl Endpoint {
    /// The record's version `If-Match` is checked against (1 when it is not read).
    fn version(&self) -> u64 {
        match self.reads {
            Reads::IfMatch { version } => version,
            _ => 1,
        }
    }
}

const CREATE_FIELDS: &[(&str, Kind)] = &[
    ("first_name", Kind::Text),
    ("last_name", Kind::Text),
    ("email", Kind::Text),
    ("device_contact_uri", Kind::Text),
    ("device_name", Kind::Text),
    ("role", Kind::Text),
];
const CREATE_ERRORS: &[(u16, u32)] = &[
    (400, 1007),
    (400, 1001),
    (400, 1002),
    (400, 1401),
    (400, 1402),
    (409, 10812),
    (409, 10813),
];
const UPDATE_USER_FIELDS: &[(&str, Kind)] = &[
    ("first_name", Kind::Text),
    ("last_name", Kind::Text),
    ("email", Kind::Text),
    ("role", Kind::Any),
    ("id", Kind::Any),
];
const UPDATE_USER_ERRORS: &[(u16, u32)] = &[(400, 1007), (400, 1002), (409, 10813), (412, 1009)];
const DEVICE_FIELDS: &[(&str, Kind)] = &[("available", Kind::Flag), ("contact_uri", Kind::Text)];
const DEVICE_ERRORS: &[(u16, u32)] = &[
    (400, 1007),
    (400, 1401),
    (409, 10809),
    (409, 10811),
    (403, 10810),
    (403, 10817),
    (412, 1009),
];
const PASSWORD_FIELDS: &[(&str, Kind)] = &[("password", Kind::Text)];
const PASSWORD_ERRORS: &[(u16, u32)] = &[(400, 1007), (400, 1001), (400, 1002)];
const DELETE_ERRORS: &[(u16, u32)] = &[(400, 1007), (412, 1009)];
const SETTINGS_FIELDS: &[(&str, Kind)] = &[
    ("sid", Kind::Text),
    ("name", Kind::Text),
    ("region", Kind::Text),
    ("timezone", Kind::Text),
    ("voip_enabled", Kind::Flag),
    ("trial", Kind::Flag),
    ("kyc_complete", Kind::Flag),
    ("rate_limit_per_minute", Kind::Count),
];

fn endpoints() -> Vec<Endpoint> {
    let users = |sid: &str| format!("/v2/accounts/{sid}/users");
    let device = |user: &str, id: u64| format!("{}/{user}/devices/{id}", users(PLAIN));
    let fixed = |id| device_version(id).expect("a fixed device");
    // Devices are checked against a user's version, users against a device's.
    let user_version = |user| match user {
        USER_A => USER_A_VERSION,
        _ => USER_B_VERSION,
    };
    let plain = |name, method, path, fields, allowed| Endpoint {
        name,
        method,
        sid: PLAIN,
        path,
        fields,
        required_first: None,
        empty_allowed: false,
        reads_body: true,
        reads: Reads::Neither,
        stale: 0,
        tag: Tag::Any,
        allowed,
    };
    let update_device = |name, user, id| Endpoint {
        empty_allowed: true,
        reads: Reads::IfMatch { version: fixed(id) },
        stale: user_version(user),
        tag: Tag::From(fixed(id)),
        ..plain(
            name,
            Method::PUT,
            device(user, id),
            DEVICE_FIELDS,
            DEVICE_ERRORS,
        )
    };
    let password = |name, id| Endpoint {
        tag: Tag::From(fixed(id)),
        ..plain(
            name,
            Method::PUT,
            format!("{}/password", device(USER_A, id)),
            PASSWORD_FIELDS,
            PASSWORD_ERRORS,
        )
    };
    let create = |name, sid| Endpoint {
        sid,
        reads: Reads::IdempotencyKey,
        tag: Tag::Exactly(1),
        ..plain(name, Method::POST, users(sid), CREATE_FIELDS, CREATE_ERRORS)
    };
    let update_user = |name, user, stale| Endpoint {
        reads: Reads::IfMatch {
            version: user_version(user),
        },
        stale,
        tag: Tag::From(user_version(user)),
        ..plain(
            name,
            Method::PUT,
            format!("{}/{user}", users(PLAIN)),
            UPDATE_USER_FIELDS,
            UPDATE_USER_ERRORS,
        )
    };
    let delete = |name, path, version, stale| Endpoint {
        reads_body: false,
        reads: Reads::IfMatch { version },
        stale,
        ..plain(name, Method::DELETE, path, &[], DELETE_ERRORS)
    };
    vec![
        create("create user", PLAIN),
        create("create user with VOIP", VOIP),
        update_user("update user", USER_A, fixed(11)),
        update_user("update user with email", USER_B, fixed(21)),
        Endpoint {
            reads: Reads::IdempotencyKey,
            tag: Tag::Exactly(1),
            ..plain(
                "add device",
                Method::POST,
                format!("{}/{USER_A}/devices", users(PLAIN)),
                &[("contact_uri", Kind::Text), ("name", Kind::Text)],
                &[
                    (400, 1007),
                    (400, 1001),
                    (400, 1002),
                    (400, 1401),
                    (409, 10812),
                ],
            )
        },
        update_device("update verified phone", USER_A, 11),
        update_device("update unverified phone", USER_A, 12),
        update_device("update softphone", USER_A, 13),
        update_device("update phone beside an ON softphone", USER_B, 21),
        password("softphone password", 13),
        password("phone password", 11),
        Endpoint {
            required_first: Some("sid"),
            ..plain(
                "operator create account",
                Method::POST,
                "/operator/v1/accounts".to_owned(),
                SETTINGS_FIELDS,
                &[(400, 1007), (400, 1001), (400, 1002), (409, 1005)],
            )
        },
        plain(
            "operator update account",
            Method::PUT,
            format!("/operator/v1/accounts/{PLAIN}"),
            &SETTINGS_FIELDS[1..],
            &[(400, 1007), (400, 1002)],
        ),
        Endpoint {
            required_first: Some("contact_uri"),
            ..plain(
                "operator verification",
                Method::POST,
                format!("/operator/v1/accounts/{PLAIN}/verifications"),
                &[("contact_uri", Kind::Text)],
                &[(400, 1007), (400, 1001), (404, 1000)],
            )
        },
        delete(
            "delete user",
            format!("{}/{USER_B}", users(PLAIN)),
            USER_B_VERSION,
            fixed(21),
        ),
        delete(
            "delete device",
            device(USER_A, 12),
            fixed(12),
            USER_A_VERSION,
        ),
    ]
}

/// The extension headers a request carries: the first byte's high part picks one of
/// these, the same for every endpoint, so a header reaches endpoints that do not read it
/// too. `If-Match` tags are made from the endpoint's record's versions.
const HEADER_CHOICES: usize = 16;

static IF_MATCH: HeaderName = HeaderName::from_static("if-match");
static IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// The headers of choice `choice` (below [`HEADER_CHOICES`]), and the body: choices 14
/// and 15 take their header's value from the input up to its first line feed.
fn headers<'a>(
    choice: usize,
    endpoint: &Endpoint,
    input: &'a [u8],
) -> (Vec<(HeaderName, Vec<u8>)>, &'a [u8]) {
    let (current, stale) = (endpoint.version(), endpoint.stale);
    let if_match = |value: String| vec![(IF_MATCH.clone(), value.into_bytes())];
    let key = |value: Vec<u8>| vec![(IDEMPOTENCY_KEY.clone(), value)];
    let sent = match choice {
        0 => Vec::new(),
        1 => if_match(format!("\"{current}\"")),
        2 => if_match(format!("\"{stale}\"")),
        3 => if_match("*".to_owned()),
        4 => if_match(format!("W/\"{current}\"")),
        5 => if_match(format!("\"{stale}\", \"{current}\"")),
        6 => [stale, current]
            .iter()
            .flat_map(|v| if_match(format!("\"{v}\"")))
            .collect(),
        7 => if_match(current.to_string()),
        8 => if_match(format!("\"{current}")),
        9 => if_match(format!("\"v{current}\"")),
        10 => key(b"0f8fad5b-d9cb-469f-a165-70867728950e".to_vec()),
        11 => key(vec![b'k'; 256]),
        12 => key("cl\u{e9}-1".as_bytes().to_vec()),
        13 => key(b"  ".to_vec()),
        _ => {
            let (value, body) = match input.iter().position(|&b| b == b'\n') {
                Some(at) => (&input[..at], &input[at + 1..]),
                None => (input, &[][..]),
            };
            let name = if choice == 14 {
                &IF_MATCH
            } else {
                &IDEMPOTENCY_KEY
            };
            return (vec![(name.clone(), value.to_vec())], body);
        }
    };
    (sent, input)
}

/// What the headers alone decide for an endpoint, worked out from api.md apart from the
/// product's readers.
#[derive(Debug, PartialEq)]
enum Verdict {
    /// No extension header sent.
    NotSent,
    /// Sent but not evaluated here, or satisfied: the answer is the one without it.
    NoEffect,
    /// 400 / 1007, the description naming the header.
    Malformed(&'static str),
    /// `If-Match` names no version the record is at: 412 / 1009 once the body is read.
    Stale,
}

fn verdict(endpoint: &Endpoint, sent: &[(HeaderName, Vec<u8>)]) -> Verdict {
    if sent.is_empty() {
        return Verdict::NotSent;
    }
    let values = |name: &HeaderName| -> Vec<&[u8]> {
        sent.iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
            .collect()
    };
    match endpoint.reads {
        Reads::IfMatch { version } if !values(&IF_MATCH).is_empty() => {
            if_match_verdict(&values(&IF_MATCH), version)
        }
        Reads::IdempotencyKey => match values(&IDEMPOTENCY_KEY).first() {
            Some(value) if !valid_key(value) => Verdict::Malformed("Idempotency-Key"),
            _ => Verdict::NoEffect,
        },
        _ => Verdict::NoEffect,
    }
}

/// Header text as roster reads it: visible ASCII, spaces and tabs.
fn header_text(value: &[u8]) -> Option<&str> {
    value
        .iter()
        .all(|&b| b == b'\t' || (b' '..=b'~').contains(&b))
        .then(|| std::str::from_utf8(value).ok())
        .flatten()
}

/// `If-Match` per api.md: `*` or a comma-separated list of quoted tags (several headers
/// joined); a weak tag never matches, and a strong one only when it is exactly the tag
/// roster issues for the version (`"7"`, compared character by character).
fn if_match_verdict(values: &[&[u8]], version: u64) -> Verdict {
    let issued = version.to_string();
    let (mut any, mut matched) = (false, false);
    for value in values {
        let Some(text) = header_text(value) else {
            return Verdict::Malformed("If-Match");
        };
        for item in text.split(',').map(|t| t.trim_matches([' ', '\t'])) {
            if item.is_empty() {
                continue;
            }
            if item == "*" {
                any = true;
                continue;
            }
            let (weak, quoted) = match item.strip_prefix("W/") {
                Some(rest) => (true, rest),
                None => (false, item),
            };
            let opaque = match quoted.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
                Some(opaque) if !opaque.contains('"') => opaque,
                _ => return Verdict::Malformed("If-Match"),
            };
            matched |= !weak && opaque == issued;
        }
    }
    if any || matched {
        Verdict::NoEffect
    } else {
        Verdict::Stale
    }
}

/// `Idempotency-Key` per api.md: 1 to 255 ASCII characters from space to `~` once the
/// spaces around it are taken off (roster counts an inner space as visible).
fn valid_key(value: &[u8]) -> bool {
    header_text(value)
        .map(|text| text.trim_matches([' ', '\t']))
        .is_some_and(|key| (1..=255).contains(&key.len()) && !key.contains('\t'))
}

/// `"7"` for 7.
fn quoted(version: u64) -> String {
    format!("\"{version}\"")
}

fn send(endpoint: &Endpoint, sent: &[(HeaderName, Vec<u8>)], body: &[u8]) -> Option<Answer> {
    let sent: Vec<(HeaderName, &[u8])> = sent
        .iter()
        .map(|(name, value)| (name.clone(), value.as_slice()))
        .collect();
    app().send_with(
        endpoint.method.clone(),
        endpoint.sid,
        &endpoint.path,
        &sent,
        body,
    )
}

/// What the body alone decides, worked out independently of the product's reader.
#[derive(Debug, PartialEq)]
enum Expected {
    /// 400 / 1007: not a JSON object, or a field of the wrong JSON type.
    Unreadable,
    /// 400 / 1001: the field read first is missing.
    Missing,
    /// Readable: whatever follows is the endpoint's rules.
    Readable,
}

fn expected(endpoint: &Endpoint, body: &[u8]) -> Expected {
    if !endpoint.reads_body {
        return Expected::Readable;
    }
    if endpoint.empty_allowed && body.iter().all(u8::is_ascii_whitespace) {
        return Expected::Readable;
    }
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
        return Expected::Unreadable;
    };
    let sent = |name: &str| map.get(name).filter(|v| !v.is_null());
    let type_ok = |name: &str, kind: Kind| match (sent(name), kind) {
        (None, _) | (Some(_), Kind::Any) => true,
        (Some(value), Kind::Text) => value.is_string(),
        (Some(value), Kind::Flag) => value.is_boolean(),
        (Some(value), Kind::Count) => {
            value.as_u64().is_some()
                || value
                    .as_f64()
                    .is_some_and(|n| n.fract() == 0.0 && (0.0..2f64.powi(64)).contains(&n))
        }
    };
    if let Some(first) = endpoint.required_first {
        if !type_ok(first, Kind::Text) {
            return Expected::Unreadable;
        }
        if sent(first).is_none() {
            return Expected::Missing;
        }
    }
    if endpoint
        .fields
        .iter()
        .all(|&(name, kind)| type_ok(name, kind))
    {
        Expected::Readable
    } else {
        Expected::Unreadable
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let endpoints = endpoints();
    // Counted from '0', so a seed file reads `0{...}` for the first endpoint without a
    // header; the high part of the byte picks the header.
    let index = usize::from(selector.wrapping_sub(b'0'));
    let endpoint = &endpoints[index % endpoints.len()];
    let (sent, body) = headers(index / endpoints.len() % HEADER_CHOICES, endpoint, rest);

    // Cheap, and the reader the handlers use: its verdict must match the independent one.
    let direct = roster_api::fuzzing::parse_body(body);
    let object = matches!(serde_json::from_slice::<Value>(body), Ok(Value::Object(_)));
    assert_eq!(
        direct.is_ok(),
        object,
        "the body reader disagrees with serde_json"
    );
    if let Err(refusal) = &direct {
        assert_eq!((refusal.status, refusal.code), (400, Some(1007)));
    }

    let Some(answer) = send(endpoint, &sent, body) else {
        return;
    };
    let field_names: Vec<&str> = endpoint.fields.iter().map(|(name, _)| *name).collect();
    assert_outcome(&answer, endpoint.allowed, &field_names, endpoint.name);

    let is_1007 = answer.outcome() == (400, Some(1007));
    let readable = expected(endpoint, body);
    let headers = verdict(endpoint, &sent);
    assert!(
        answer.outcome() != (412, Some(1009)) || headers == Verdict::Stale,
        "{}: 412 without a stale If-Match: {}",
        endpoint.name,
        answer.text
    );
    match (&headers, &readable) {
        // Headers are read before the body.
        (Verdict::Malformed(header), _) => assert!(
            is_1007 && answer.description.contains(header),
            "{}: malformed {header} not refused: {}",
            endpoint.name,
            answer.text
        ),
        // A stale tag is refused before the body's fields are checked (its form is
        // checked first: a body that is not one reads as 1007 below).
        (Verdict::Stale, Expected::Readable) => assert_eq!(
            answer.outcome(),
            (412, Some(1009)),
            "{}: stale If-Match not refused: {}",
            endpoint.name,
            answer.text
        ),
        (_, Expected::Unreadable) => assert!(
            is_1007,
            "{}: expected 1007, got {}",
            endpoint.name, answer.text
        ),
        (_, Expected::Missing) => {
            assert_eq!(answer.outcome(), (400, Some(1001)), "{}", endpoint.name)
        }
        (_, Expected::Readable) => assert!(
            !is_1007,
            "{}: readable body refused: {}",
            endpoint.name, answer.text
        ),
    }
    if headers == Verdict::NoEffect {
        // The store never changes, so the same request without the header must end alike.
        if let Some(without) = send(endpoint, &[], body) {
            assert_eq!(
                answer.outcome(),
                without.outcome(),
                "{}: a header without effect changed the answer: {}",
                endpoint.name,
                answer.text
            );
        }
    }

    if answer.status == 200 {
        let etag = answer.etag.as_deref();
        match endpoint.tag {
            Tag::Any => {}
            Tag::Exactly(version) => {
                assert_eq!(etag, Some(quoted(version).as_str()), "{}", endpoint.name)
            }
            Tag::From(version) => assert!(
                etag == Some(&quoted(version)) || etag == Some(&quoted(version + 1)),
                "{}: ETag {etag:?} for a record at {version}",
                endpoint.name
            ),
        }
    }

    if endpoint.fields == PASSWORD_FIELDS && body.windows(4).any(|w| w == PASSWORD_MARK.as_bytes())
    {
        assert!(
            !answer.text.contains(PASSWORD_MARK),
            "a password reached the answer: {}",
            answer.text
        );
    }

    if answer.status == 200 && endpoint.fields == CREATE_FIELDS {
        let data = &answer.envelope["response"]["data"];
        let devices = data["devices"]
            .as_array()
            .expect("a new user shows its devices");
        let kinds: Vec<&str> = devices.iter().filter_map(|d| d["type"].as_str()).collect();
        let voip = endpoint.sid == VOIP;
        assert_eq!(
            kinds.contains(&"sip"),
            voip,
            "softphone iff VOIP: {}",
            answer.text
        );
        assert!(
            voip || kinds == ["tel"],
            "one phone without VOIP: {}",
            answer.text
        );
        let sent: Value = serde_json::from_slice(body).expect("a created user's body parsed");
        assert_eq!(
            data["first_name"], sent["first_name"],
            "first_name kept as sent"
        );
    }
});
