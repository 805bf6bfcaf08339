//! Query strings: the first byte picks an endpoint that reads one (list users, get a
//! user, update a device from the query string), the rest is the query. The product's
//! reader is compared with an independent decoder, then the request goes through the
//! whole application, whose answer must follow from what the decoder read.
#![no_main]

use axum::http::{Method, Uri};
use libfuzzer_sys::fuzz_target;
use roster_api::fuzzing::{parse_query, QueryString};
use roster_domain::{ContactUri, Field};
use roster_fuzz::{app, assert_outcome, Answer, PLAIN, USER_A};

/// Decodes a query string the way the API documents it, written apart from the product:
/// `&`-separated pairs, `+` is a space, `%XY` a byte, the result UTF-8; `None` if not.
fn oracle(raw: &str) -> Option<Vec<(String, String)>> {
    fn decode(text: &str) -> Option<String> {
        let mut out = Vec::new();
        let mut rest = text.as_bytes();
        while let Some((&first, tail)) = rest.split_first() {
            rest = tail;
            match first {
                b'+' => out.push(b' '),
                b'%' => {
                    let hex = std::str::from_utf8(rest.get(..2)?).ok()?;
                    if !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                        return None;
                    }
                    out.push(u8::from_str_radix(hex, 16).ok()?);
                    rest = &rest[2..];
                }
                byte => out.push(byte),
            }
        }
        String::from_utf8(out).ok()
    }
    raw.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = match pair.find('=') {
                Some(at) => (&pair[..at], &pair[at + 1..]),
                None => (pair, ""),
            };
            Some((decode(name)?, decode(value)?))
        })
        .collect()
}

fn last<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// What a comma-list parameter should give: its non-blank items, `Err` past 50.
fn oracle_list(value: Option<&str>) -> Result<Option<Vec<String>>, ()> {
    let Some(value) = value else { return Ok(None) };
    let items: Vec<String> = value
        .split(',')
        .filter(|item| !item.trim().is_empty())
        .map(String::from)
        .collect();
    match items.len() {
        0 => Ok(None),
        1..=50 => Ok(Some(items)),
        _ => Err(()),
    }
}

fn oracle_number(value: Option<&str>, default: u64, low: u64, high: u64) -> Result<u64, ()> {
    let Some(value) = value else {
        return Ok(default);
    };
    if value.is_empty() || !value.chars().all(|c| c.is_ascii_digit()) {
        return Err(());
    }
    value
        .parse::<u64>()
        .ok()
        .filter(|n| (low..=high).contains(n))
        .ok_or(())
}

/// The optional user parts `fields` asks for: devices, active_call, last_login.
fn oracle_fields(value: Option<&str>) -> [bool; 3] {
    let names: Vec<&str> = value.unwrap_or("").split(',').map(str::trim).collect();
    ["devices", "active_call", "last_login"].map(|name| names.contains(&name))
}

fn assert_refusal_names(
    refusal: &roster_api::fuzzing::Refusal,
    status: u16,
    code: u32,
    field: &str,
) {
    assert_eq!((refusal.status, refusal.code), (status, Some(code)));
    assert!(
        refusal.description.contains(field),
        "{:?}",
        refusal.description
    );
}

/// The product's reader against the oracle's pairs.
fn check_reader(query: &QueryString, pairs: &[(String, String)]) {
    for (name, _) in pairs {
        assert_eq!(query.get(name), last(pairs, name), "value of {name:?}");
    }
    for field in [Field::Email, Field::DevicesContactUri] {
        let name = field.wire_name();
        match (query.list(field), oracle_list(last(pairs, name))) {
            (Ok(got), Ok(want)) => assert_eq!(got, want, "{name}"),
            (Err(refusal), Err(())) => assert_refusal_names(&refusal, 400, 1002, name),
            (got, want) => panic!("{name}: reader {got:?}, oracle {want:?}"),
        }
    }
    for (field, default, low, high) in [(Field::Offset, 0, 0, u64::MAX), (Field::Limit, 20, 1, 50)]
    {
        let name = field.wire_name();
        match (
            query.number(field, default, low..=high),
            oracle_number(last(pairs, name), default, low, high),
        ) {
            (Ok(got), Ok(want)) => assert_eq!(got, want, "{name}"),
            (Err(refusal), Err(())) => assert_refusal_names(&refusal, 400, 1002, name),
            (got, want) => panic!("{name}: reader {got:?}, oracle {want:?}"),
        }
    }
}

/// A `devices.contact_uri` filter value the list accepts: a leading space (an unencoded
/// `+`) read back as `+`, then a SIP URI or an E.164 number.
fn contact_filter_ok(value: &str) -> bool {
    let value = value.trim_end();
    let restored = match value.strip_prefix(' ') {
        Some(rest) => format!("+{}", rest.trim_start()),
        None => value.to_owned(),
    };
    ContactUri::parse(&restored).is_ok()
}

fn check_user(data: &serde_json::Value, fields: [bool; 3]) {
    let shown = ["devices", "active_call", "last_login"].map(|key| data.get(key).is_some());
    assert_eq!(shown, fields, "optional parts shown: {data}");
}

fn check_list(answer: &Answer, pairs: &[(String, String)]) {
    let get = |name| last(pairs, name);
    let expected = if oracle_number(get("offset"), 0, 0, u64::MAX).is_err() {
        Some((1002, "offset"))
    } else if oracle_number(get("limit"), 20, 1, 50).is_err() {
        Some((1002, "limit"))
    } else if oracle_list(get("email")).is_err() {
        Some((1002, "email"))
    } else {
        match oracle_list(get("devices.contact_uri")) {
            Err(()) => Some((1002, "devices.contact_uri")),
            Ok(Some(values)) if !values.iter().all(|v| contact_filter_ok(v)) => {
                Some((1401, "devices.contact_uri"))
            }
            Ok(_) => None,
        }
    };
    match expected {
        Some((code, field)) => {
            assert_eq!(answer.outcome(), (400, Some(code)), "{}", answer.text);
            assert!(answer.description.contains(field), "{}", answer.description);
        }
        None => {
            assert_eq!(answer.status, 200, "{}", answer.text);
            let metadata = &answer.envelope["metadata"];
            let offset = oracle_number(get("offset"), 0, 0, u64::MAX).unwrap_or_default();
            let limit = oracle_number(get("limit"), 20, 1, 50).unwrap_or_default();
            assert_eq!(metadata["offset"].as_u64(), Some(offset));
            assert_eq!(metadata["limit"].as_u64(), Some(limit));
            let items = answer.envelope["response"].as_array().expect("a list");
            assert_eq!(metadata["count"].as_u64(), Some(items.len() as u64));
            let fields = oracle_fields(get("fields"));
            items
                .iter()
                .for_each(|item| check_user(&item["data"], fields));
        }
    }
}

fn check_device_update(answer: &Answer, pairs: &[(String, String)]) {
    let available = last(pairs, "available");
    let valid = ["true", "false", "True", "False", "1", "0"];
    if available.is_some_and(|value| !valid.contains(&value)) {
        assert_eq!(answer.outcome(), (400, Some(1002)), "{}", answer.text);
        assert!(answer.description.contains("available"));
    } else {
        let allowed = [
            (400, 1401),
            (409, 10809),
            (409, 10811),
            (403, 10810),
            (403, 10817),
        ];
        assert_outcome(answer, &allowed, &["contact_uri"], "update device by query");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let raw = String::from_utf8_lossy(rest);

    let pairs = oracle(&raw);
    match (parse_query(&raw), &pairs) {
        (Ok(query), Some(pairs)) => check_reader(&query, pairs),
        (Err(refusal), None) => assert_eq!((refusal.status, refusal.code), (400, Some(1007))),
        (got, want) => panic!("reader {got:?}, oracle {want:?}"),
    }

    // Counted from '0', so a seed file reads `0fields=...` for the first endpoint.
    let endpoint = selector.wrapping_sub(b'0') % 5;
    let users = format!("/v2/accounts/{PLAIN}/users");
    let (method, path) = match endpoint {
        0 => (Method::GET, users),
        1 => (Method::GET, format!("{users}/{USER_A}")),
        2 => (Method::PUT, format!("{users}/{USER_A}/devices/11")),
        3 => (Method::PUT, format!("{users}/{USER_A}/devices/12")),
        _ => (Method::PUT, format!("{users}/{USER_A}/devices/13")),
    };
    let uri = format!("{path}?{raw}");
    // What a client could not send, the server never sees.
    let Ok(parsed) = uri.parse::<Uri>() else {
        return;
    };
    let seen = parsed.query().unwrap_or("");
    let Some(answer) = app().send(method, PLAIN, &uri, b"") else {
        return;
    };
    let Some(pairs) = oracle(seen) else {
        assert_eq!(answer.outcome(), (400, Some(1007)), "{}", answer.text);
        return;
    };
    match endpoint {
        0 => check_list(&answer, &pairs),
        1 => {
            assert_eq!(answer.status, 200, "{}", answer.text);
            check_user(
                &answer.envelope["response"]["data"],
                oracle_fields(last(&pairs, "fields")),
            );
        }
        _ => check_device_update(&answer, &pairs),
    }
});
