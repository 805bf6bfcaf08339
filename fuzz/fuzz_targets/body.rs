//! Request bodies as the server reads them: the first byte picks an endpoint, the rest is
//! sent as its JSON body through the whole application (gate, body reader, field readers,
//! the service's validation, a fixed store), and the answer must be a success or one of
//! the refusals the contract lists for that endpoint, in the envelope.
#![no_main]

use axum::http::Method;
use libfuzzer_sys::fuzz_target;
use roster_fuzz::{app, assert_outcome, PASSWORD_MARK, PLAIN, USER_A, USER_B, VOIP};
use serde_json::Value;

/// The JSON type a handler reads a field as.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Text,
    Flag,
    Count,
    /// Only whether it is there counts (`role` and `id` on update).
    Any,
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
    allowed: &'static [(u16, u32)],
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
const UPDATE_USER_ERRORS: &[(u16, u32)] = &[(400, 1007), (400, 1002), (409, 10813)];
const DEVICE_FIELDS: &[(&str, Kind)] = &[("available", Kind::Flag), ("contact_uri", Kind::Text)];
const DEVICE_ERRORS: &[(u16, u32)] = &[
    (400, 1007),
    (400, 1401),
    (409, 10809),
    (409, 10811),
    (403, 10810),
    (403, 10817),
];
const PASSWORD_FIELDS: &[(&str, Kind)] = &[("password", Kind::Text)];
const PASSWORD_ERRORS: &[(u16, u32)] = &[(400, 1007), (400, 1001), (400, 1002)];
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
    let update_device = |name, user, id| Endpoint {
        name,
        method: Method::PUT,
        sid: PLAIN,
        path: device(user, id),
        fields: DEVICE_FIELDS,
        required_first: None,
        empty_allowed: true,
        allowed: DEVICE_ERRORS,
    };
    let password = |name, id| Endpoint {
        name,
        method: Method::PUT,
        sid: PLAIN,
        path: format!("{}/password", device(USER_A, id)),
        fields: PASSWORD_FIELDS,
        required_first: None,
        empty_allowed: false,
        allowed: PASSWORD_ERRORS,
    };
    let create = |name, sid| Endpoint {
        name,
        method: Method::POST,
        sid,
        path: users(sid),
        fields: CREATE_FIELDS,
        required_first: None,
        empty_allowed: false,
        allowed: CREATE_ERRORS,
    };
    let update_user = |name, user| Endpoint {
        name,
        method: Method::PUT,
        sid: PLAIN,
        path: format!("{}/{user}", users(PLAIN)),
        fields: UPDATE_USER_FIELDS,
        required_first: None,
        empty_allowed: false,
        allowed: UPDATE_USER_ERRORS,
    };
    vec![
        create("create user", PLAIN),
        create("create user with VOIP", VOIP),
        update_user("update user", USER_A),
        update_user("update user with email", USER_B),
        Endpoint {
            name: "add device",
            method: Method::POST,
            sid: PLAIN,
            path: format!("{}/{USER_A}/devices", users(PLAIN)),
            fields: &[("contact_uri", Kind::Text), ("name", Kind::Text)],
            required_first: None,
            empty_allowed: false,
            allowed: &[
                (400, 1007),
                (400, 1001),
                (400, 1002),
                (400, 1401),
                (409, 10812),
            ],
        },
        update_device("update verified phone", USER_A, 11),
        update_device("update unverified phone", USER_A, 12),
        update_device("update softphone", USER_A, 13),
        update_device("update phone beside an ON softphone", USER_B, 21),
        password("softphone password", 13),
        password("phone password", 11),
        Endpoint {
            name: "operator create account",
            method: Method::POST,
            sid: PLAIN,
            path: "/operator/v1/accounts".to_owned(),
            fields: SETTINGS_FIELDS,
            required_first: Some("sid"),
            empty_allowed: false,
            allowed: &[(400, 1007), (400, 1001), (400, 1002), (409, 1005)],
        },
        Endpoint {
            name: "operator update account",
            method: Method::PUT,
            sid: PLAIN,
            path: format!("/operator/v1/accounts/{PLAIN}"),
            fields: &SETTINGS_FIELDS[1..],
            required_first: None,
            empty_allowed: false,
            allowed: &[(400, 1007), (400, 1002)],
        },
        Endpoint {
            name: "operator verification",
            method: Method::POST,
            sid: PLAIN,
            path: format!("/operator/v1/accounts/{PLAIN}/verifications"),
            fields: &[("contact_uri", Kind::Text)],
            required_first: Some("contact_uri"),
            empty_allowed: false,
            allowed: &[(400, 1007), (400, 1001), (404, 1000)],
        },
    ]
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
        (Some(value), Kind::Count) => value.as_u64().is_some(),
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
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let endpoints = endpoints();
    // Counted from '0', so a seed file reads `0{...}` for the first endpoint.
    let endpoint = &endpoints[usize::from(selector.wrapping_sub(b'0')) % endpoints.len()];

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

    let Some(answer) = app().send(endpoint.method.clone(), endpoint.sid, &endpoint.path, body)
    else {
        return;
    };
    let field_names: Vec<&str> = endpoint.fields.iter().map(|(name, _)| *name).collect();
    assert_outcome(&answer, endpoint.allowed, &field_names, endpoint.name);

    let is_1007 = answer.outcome() == (400, Some(1007));
    match expected(endpoint, body) {
        Expected::Unreadable => assert!(
            is_1007,
            "{}: expected 1007, got {}",
            endpoint.name, answer.text
        ),
        Expected::Missing => assert_eq!(answer.outcome(), (400, Some(1001)), "{}", endpoint.name),
        Expected::Readable => assert!(
            !is_1007,
            "{}: readable body refused: {}",
            endpoint.name, answer.text
        ),
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
