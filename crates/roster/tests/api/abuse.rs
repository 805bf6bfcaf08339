//! Hostile and broken clients: oversized, deeply nested, malformed and NUL-laden input,
//! slow and stalled connections. Each gets an enveloped 4xx where roster can write one,
//! and the HTTP layer's bare answer where it cannot (docs/api.md lists those), nothing
//! of it is stored, and the server goes on serving everyone else meanwhile.
//!
//! Tests already elsewhere: a client that stops inside its headers, and a body shorter
//! than announced (envelope.rs); more than 50 filter values (list.rs).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{device_of_type, user_id, Answer, Credentials, TestApp, OPERATOR_TOKEN};

/// roster's own limits on the request target and on all header bytes (docs/api.md).
const TARGET_LIMIT: usize = 32 * 1024;
const HEADER_LIMIT: usize = 32 * 1024;
/// hyper's: the longest request target it parses, and its read buffer for a request head.
const HYPER_TARGET_LIMIT: usize = 65_534;
const HYPER_HEAD_BUFFER: usize = 8192 + 4096 * 100;

// ---------------------------------------------------------------------------------------
// Sizes
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn deeply_nested_json_is_an_unreadable_body_not_a_crash() {
    let app = TestApp::spawn().await;
    let users = "/v2/accounts/acme/users";
    // Each under the 64 KiB body limit, so the JSON parser is what refuses them.
    let bodies = [
        "[".repeat(60_000),
        format!("{}{}", "[".repeat(30_000), "]".repeat(30_000)),
        "{\"a\":".repeat(13_000),
        format!("{{\"first_name\":{}", "[".repeat(60_000)),
    ];

    for body in &bodies {
        assert!(body.len() <= 64 * 1024);
        let answer = send_body(&app, Method::POST, users, Some(&app.acme), body).await;
        answer.assert_error(400, Some(1007));
        assert!(
            answer.description().contains("not valid JSON"),
            "{}",
            answer.body
        );
        let answer = send_body(&app, Method::POST, "/operator/v1/accounts", None, body).await;
        answer.assert_error(400, Some(1007));
    }
    // 100,000 levels do not fit in the body limit: refused for their size, unparsed.
    let deepest = "[".repeat(100_000);
    send_body(&app, Method::POST, users, Some(&app.acme), &deepest)
        .await
        .assert_error(413, Some(1007));

    app.create_user(&app.acme, TestApp::new_user(1)).await;
}

#[tokio::test]
async fn a_ten_mib_body_is_refused_with_413_long_before_it_has_arrived() {
    let app = TestApp::spawn().await;
    let declared = 10 * 1024 * 1024;
    let sent = 256 * 1024;
    let head = |framing: &str| {
        format!(
            "POST /v2/accounts/acme/users HTTP/1.1\r\nHost: roster\r\nAuthorization: {}\r\n\
             Content-Type: application/json\r\n{framing}\r\n\r\n",
            app.acme.basic_header()
        )
    };
    let mut with_length = head(&format!("Content-Length: {declared}")).into_bytes();
    with_length.extend(std::iter::repeat_n(b' ', sent));
    let mut chunked = head("Transfer-Encoding: chunked").into_bytes();
    for _ in 0..sent / 0x8000 {
        chunked.extend_from_slice(b"8000\r\n");
        chunked.extend(std::iter::repeat_n(b' ', 0x8000));
        chunked.extend_from_slice(b"\r\n");
    }

    for request in [with_length, chunked] {
        // Only a fortieth of the body is ever sent: the answer must not wait for the rest.
        let started = Instant::now();
        let raw = exchange(&app, &request).await;
        raw.assert_error(413, 1007);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }
    app.create_user(&app.acme, TestApp::new_user(1)).await;
}

#[tokio::test]
async fn a_path_and_query_over_32_kib_is_414_in_the_envelope_and_past_hypers_limit_bare() {
    let app = TestApp::spawn().await;
    let prefix = "/v2/accounts/acme/users?email=";
    let at_limit = format!("{prefix}{}", "a".repeat(TARGET_LIMIT - prefix.len()));
    let over = format!("{at_limit}a");
    let long_path = format!("/v2/accounts/acme/users/{}", "a".repeat(TARGET_LIMIT));

    // An address that is not valid matches nothing: the longest accepted query still works.
    let longest = app.get(&app.acme, &at_limit).await;
    assert_eq!(longest.assert_page().0["total"], 0);
    app.get(&app.acme, &over)
        .await
        .assert_error(414, Some(1007));
    app.get(&app.acme, &long_path)
        .await
        .assert_error(414, Some(1007));
    // Refused before the credentials are looked at, so it costs no lookup.
    let anonymous = app.client().get(app.url(&over));
    app.send(anonymous).await.assert_error(414, Some(1007));
    let raw_get = |length: usize| {
        let target = format!("{prefix}{}", "a".repeat(length - prefix.len()));
        format!(
            "GET {target} HTTP/1.1\r\nHost: roster\r\nAuthorization: {}\r\n\
             Connection: close\r\n\r\n",
            app.acme.basic_header()
        )
    };
    exchange(&app, raw_get(HYPER_TARGET_LIMIT).as_bytes())
        .await
        .assert_error(414, 1007);

    // Past hyper's own limits the HTTP layer answers before roster sees the request.
    for (length, status) in [
        (HYPER_TARGET_LIMIT + 1, 414),
        (100 * 1024, 414),
        (1024 * 1024, 431),
    ] {
        exchange(&app, raw_get(length).as_bytes())
            .await
            .assert_bare(status);
    }
    assert_eq!(
        app.get(&app.acme, "/v2/accounts/acme/users").await.status,
        200
    );
}

#[tokio::test]
async fn headers_over_32_kib_are_431_in_the_envelope_and_past_hypers_limits_bare() {
    let app = TestApp::spawn().await;
    let path = "/v2/accounts/acme/users/9f7100ea9a484b75aadefa94303f62eb";
    let with_headers = |headers: &[(String, String)]| {
        let mut request = app
            .client()
            .get(app.url(path))
            .basic_auth(&app.acme.key, Some(&app.acme.token));
        for (name, value) in headers {
            request = request.header(name, value);
        }
        request
    };
    let one = |size: usize| vec![("x-padding".to_owned(), "a".repeat(size))];
    let many = |count: usize, size: usize| -> Vec<(String, String)> {
        (0..count)
            .map(|i| (format!("x-padding-{i}"), "a".repeat(size)))
            .collect()
    };

    // Well-sized heads pass, even near the limit.
    app.send(with_headers(&one(30 * 1024)))
        .await
        .assert_error(404, Some(10801));
    app.send(with_headers(&many(90, 300)))
        .await
        .assert_error(404, Some(10801));
    app.send(with_headers(&one(HEADER_LIMIT)))
        .await
        .assert_error(431, Some(1007));
    app.send(with_headers(&many(90, 400)))
        .await
        .assert_error(431, Some(1007));

    // More than 100 fields, or a head past hyper's buffer, is answered bare by hyper.
    let flood: String = (0..150).map(|i| format!("X-Flood-{i}: a\r\n")).collect();
    // hyper checks its buffer only while a head is still incomplete, so a head just over
    // it may pass: twice the buffer never does.
    let huge = format!("X-Padding: {}\r\n", "a".repeat(2 * HYPER_HEAD_BUFFER));
    for extra in [flood, huge] {
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: roster\r\nAuthorization: {}\r\n{extra}\r\n",
            app.acme.basic_header()
        );
        exchange(&app, request.as_bytes()).await.assert_bare(431);
    }
    // A NUL in a header value is not HTTP: bare 400. Bytes that are not UTF-8 in the
    // credentials are simply not credentials: 401 in the envelope.
    let mut nul = format!("GET {path} HTTP/1.1\r\nHost: roster\r\nX-Nul: a").into_bytes();
    nul.extend_from_slice(b"\0b\r\n\r\n");
    exchange(&app, &nul).await.assert_bare(400);
    let mut latin =
        format!("GET {path} HTTP/1.1\r\nHost: roster\r\nAuthorization: Basic ").into_bytes();
    latin.extend_from_slice(b"\xff\xfe\r\nConnection: close\r\n\r\n");
    exchange(&app, &latin).await.assert_error(401, 1010);
}

#[tokio::test]
async fn thousands_of_filter_values_are_refused_without_being_looked_up() {
    let app = TestApp::spawn().await;
    let five_thousand = |item: &str| vec![item; 5_000].join(",");
    let addresses: Vec<String> = (0..2_000).map(|i| format!("user{i}@example.com")).collect();
    let addresses = addresses.join(",");
    assert!(addresses.len() > TARGET_LIMIT);

    for query in [
        format!("email={}", five_thousand("a")),
        format!("email={}", five_thousand("x@y")),
        format!("devices.contact_uri={}", five_thousand("1")),
    ] {
        let answer = app
            .get(&app.acme, &format!("/v2/accounts/acme/users?{query}"))
            .await;
        answer.assert_error(400, Some(1002));
        assert!(
            answer.description().contains("at most 50"),
            "{}",
            answer.body
        );
    }
    app.get(
        &app.acme,
        &format!("/v2/accounts/acme/users?email={addresses}"),
    )
    .await
    .assert_error(414, Some(1007));
    // `fields` names what to show; unknown names are ignored, however many.
    let fields = format!("/v2/accounts/acme/users?fields={}", five_thousand("x"));
    assert_eq!(app.get(&app.acme, &fields).await.status, 200);
}

// ---------------------------------------------------------------------------------------
// Bytes that are not text
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn invalid_utf8_in_the_path_query_or_body_is_an_unreadable_request() {
    let app = TestApp::spawn().await;
    let user = app.create_user(&app.acme, TestApp::new_user(1)).await;
    let user = user_id(&user);
    let base = "/v2/accounts/acme/users";
    for path in [
        format!("{base}/%FF"),
        format!("{base}/%C0%AF"),
        format!("{base}/%ED%A0%80"),
        format!("{base}/{user}/devices/%FF"),
        format!("{base}?email=%FF"),
        format!("{base}?fields=devices%C3%28"),
        format!("{base}/{user}?fields=%ED%A0%80"),
    ] {
        let method = if path.contains("/devices/") {
            Method::DELETE
        } else {
            Method::GET
        };
        let request = app
            .client()
            .request(method, app.url(&path))
            .basic_auth(&app.acme.key, Some(&app.acme.token));
        app.send(request).await.assert_error(400, Some(1007));
    }
    for body in [
        &b"{\"first_name\":\"As\xffha\",\"last_name\":\"Rao\"}"[..],
        b"{\"first_name\":\"As\xc3\x28ha\",\"last_name\":\"Rao\"}",
        b"{\"first_name\":\"\xed\xa0\x80\",\"last_name\":\"Rao\"}",
        b"{\"first_name\":\"As\\ud800ha\",\"last_name\":\"Rao\"}",
    ] {
        for (method, path) in [
            (Method::POST, base.to_owned()),
            (Method::PUT, format!("{base}/{user}")),
        ] {
            let request = app
                .client()
                .request(method, app.url(&path))
                .basic_auth(&app.acme.key, Some(&app.acme.token))
                .header("content-type", "application/json")
                .body(body.to_vec());
            app.send(request).await.assert_error(400, Some(1007));
        }
    }
    // A raw byte that is not ASCII cannot be in a request target at all: bare 400.
    let mut raw = format!("GET {base}/").into_bytes();
    raw.extend_from_slice(b"\xff HTTP/1.1\r\nHost: roster\r\n\r\n");
    exchange(&app, &raw).await.assert_bare(400);

    let stored = app.get(&app.acme, &format!("{base}/{user}")).await;
    assert_eq!(stored.assert_success()["first_name"], "Asha");
}

/// One request carrying a NUL, and what it must be answered.
struct NulCase {
    method: Method,
    path: String,
    body: Option<Value>,
    operator: bool,
    status: u16,
    code: u64,
}

fn case(method: Method, path: &str, body: Option<Value>, status: u16, code: u64) -> NulCase {
    NulCase {
        method,
        path: path.to_owned(),
        body,
        operator: path.starts_with("/operator"),
        status,
        code,
    }
}

/// Every string a request can carry, each with a NUL in it: JSON fields as `\u0000`,
/// path segments and query values as `%00`.
#[allow(clippy::too_many_lines, reason = "one table of cases")]
fn nul_cases(user: &str, phone: u64, sip: u64, username: &str) -> Vec<NulCase> {
    let users = "/v2/accounts/acme/users";
    let me = format!("{users}/{user}");
    let devices = format!("{me}/devices");
    let tel = format!("{devices}/{phone}");
    let password = format!("{devices}/{sip}/password");
    let op = "/operator/v1/accounts";
    let create = |field: &str, value: &str| {
        let mut body = json!({"first_name": "Ravi", "last_name": "Kumar",
            "email": "ravi@example.com", "device_contact_uri": "+919812399999",
            "device_name": "Desk", "role": "user"});
        body[field] = json!(value);
        Some(body)
    };
    let field = |name: &str, value: &str| Some(json!({ name: value }));
    let new_account = |name: &str, value: &str| Some(json!({"sid": "nulco", name: value}));
    let (get, put, post, delete) = (Method::GET, Method::PUT, Method::POST, Method::DELETE);
    let table: Vec<(&Method, String, Option<Value>, u16, u64)> = vec![
        (
            &post,
            users.to_owned(),
            create("first_name", "Ra\0vi"),
            400,
            1002,
        ),
        (
            &post,
            users.to_owned(),
            create("last_name", "Ku\0mar"),
            400,
            1002,
        ),
        (
            &post,
            users.to_owned(),
            create("email", "ravi\0@example.com"),
            400,
            1002,
        ),
        (&post, users.to_owned(), create("role", "user\0"), 400, 1002),
        (
            &post,
            users.to_owned(),
            create("device_contact_uri", "+9198\u{0}12399999"),
            400,
            1401,
        ),
        (
            &post,
            users.to_owned(),
            create("device_name", "De\0sk"),
            400,
            1002,
        ),
        (&put, me.clone(), field("first_name", "Ra\0vi"), 400, 1002),
        (&put, me.clone(), field("last_name", "Ku\0mar"), 400, 1002),
        (
            &put,
            me.clone(),
            field("email", "x\0@example.com"),
            400,
            1002,
        ),
        (
            &put,
            tel.clone(),
            field("contact_uri", "+91\u{0}9812399999"),
            400,
            1401,
        ),
        (
            &put,
            format!("{tel}?contact_uri=%2B91%009812399999"),
            None,
            400,
            1401,
        ),
        (&put, format!("{tel}?available=tr%00ue"), None, 400, 1002),
        (
            &post,
            devices.clone(),
            field("contact_uri", "sip:ab\0c"),
            400,
            1401,
        ),
        (
            &post,
            devices.clone(),
            Some(json!({"contact_uri": "+919812300001", "name": "a\0b"})),
            400,
            1002,
        ),
        (
            &put,
            password.clone(),
            field("password", "Str0ng-\0Secret"),
            400,
            1002,
        ),
        (
            &get,
            format!("{users}?devices.contact_uri=%2B91%00"),
            None,
            400,
            1401,
        ),
        (&get, format!("{users}?offset=1%00"), None, 400, 1002),
        (&get, format!("{users}?limit=%00"), None, 400, 1002),
        (&get, format!("{me}%00"), None, 404, 10801),
        (&get, format!("{users}/%00"), None, 404, 10801),
        (&delete, format!("{tel}%00"), None, 404, 1000),
        (
            &put,
            format!("{devices}/{sip}%00/password"),
            field("password", "Str0ng-Secret"),
            404,
            1000,
        ),
        (
            &get,
            "/v2/accounts/ac%00me/users".to_owned(),
            None,
            403,
            1003,
        ),
        (&post, op.to_owned(), field("sid", "ab\0c"), 400, 1002),
        (&post, op.to_owned(), new_account("name", "A\0B"), 400, 1002),
        (
            &post,
            op.to_owned(),
            new_account("timezone", "Asia/Kolkata\0"),
            400,
            1002,
        ),
        (
            &post,
            op.to_owned(),
            new_account("region", "lo\0cal"),
            400,
            1002,
        ),
        (&put, format!("{op}/acme"), field("name", "A\0B"), 400, 1002),
        (&get, format!("{op}/ac%00me"), None, 404, 1000),
        (&get, format!("{op}/ac%00me/keys"), None, 404, 1000),
        (
            &delete,
            "/operator/v1/keys/ab%00c".to_owned(),
            None,
            404,
            1000,
        ),
        (
            &post,
            format!("{op}/acme/verifications"),
            field("contact_uri", "+9198\u{0}12345678"),
            404,
            1000,
        ),
        (
            &get,
            format!("{op}/acme/sip-credentials/{username}%00"),
            None,
            404,
            1000,
        ),
        (
            &post,
            format!("{op}/acme/users/{user}%00/logins"),
            None,
            404,
            1000,
        ),
        (
            &post,
            format!("{op}/acme/devices/{phone}%00/calls/start"),
            None,
            404,
            1000,
        ),
    ];
    table
        .into_iter()
        .map(|(method, path, body, status, code)| case(method.clone(), &path, body, status, code))
        .collect()
}

#[tokio::test]
async fn a_nul_in_any_string_is_refused_in_the_envelope_and_nothing_of_it_is_stored() {
    let app = TestApp::spawn().await;
    let created = app.create_user(&app.acme, TestApp::new_user(1)).await;
    let user = user_id(&created);
    let phone = device_of_type(&created, "tel");
    let softphone = app
        .post(
            &app.acme,
            &format!("/v2/accounts/acme/users/{user}/devices"),
            &json!({"contact_uri": "sip:ashar0001"}),
        )
        .await;
    let sip = softphone.assert_success()["id"].as_u64().unwrap();
    let before = app
        .get(
            &app.acme,
            &format!("/v2/accounts/acme/users/{user}?fields=devices"),
        )
        .await;

    for case in nul_cases(&user, phone, sip, "ashar0001") {
        let mut request = app
            .client()
            .request(case.method.clone(), app.url(&case.path));
        request = if case.operator {
            request.bearer_auth(OPERATOR_TOKEN)
        } else {
            request.basic_auth(&app.acme.key, Some(&app.acme.token))
        };
        if let Some(body) = &case.body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let answer = app.send(request).await;
        assert_eq!(
            (
                answer.status.as_u16(),
                answer.body["response"]["error_data"]["code"].as_u64()
            ),
            (case.status, Some(case.code)),
            "{} {}: {}",
            case.method,
            case.path,
            answer.body
        );
        answer.assert_error(case.status, Some(case.code));
    }
    // A raw NUL inside a JSON string is not JSON at all.
    let raw = app
        .client()
        .post(app.url("/v2/accounts/acme/users"))
        .basic_auth(&app.acme.key, Some(&app.acme.token))
        .header("content-type", "application/json")
        .body(&b"{\"first_name\":\"As\0ha\",\"last_name\":\"Rao\"}"[..]);
    app.send(raw).await.assert_error(400, Some(1007));
    // A filter value with a NUL is no address, so it matches nothing.
    let filtered = app
        .get(
            &app.acme,
            "/v2/accounts/acme/users?email=asha1%00@example.com",
        )
        .await;
    assert_eq!(filtered.assert_page().0["total"], 0);

    let after = app
        .get(&app.acme, "/v2/accounts/acme/users?fields=devices")
        .await;
    let (metadata, users) = after.assert_page();
    assert_eq!(metadata["total"], 1);
    assert_eq!(users[0], before.assert_success());
    for value in stored_text(&app).await {
        assert!(!value.contains('\0'), "a NUL was stored: {value:?}");
    }
}

/// Every text value of every table (not the binary hashes and pepper, which may hold any
/// byte).
async fn stored_text(app: &TestApp) -> Vec<String> {
    let columns = match app.backend.name() {
        "postgres" => {
            "SELECT table_name || '.' || column_name FROM information_schema.columns \
             WHERE table_schema = current_schema() AND data_type IN ('text', 'character varying')"
        }
        _ => {
            "SELECT m.name || '.' || c.name FROM sqlite_master m, pragma_table_info(m.name) c \
             WHERE m.type = 'table'"
        }
    };
    let mut values = Vec::new();
    for column in app.backend.strings(columns).await {
        let (table, column) = column.split_once('.').unwrap();
        // SQLite keeps a value's own type whatever the column says: read text as bytes,
        // so a NUL inside it is not cut off.
        let sql = match app.backend.name() {
            "postgres" => format!("SELECT \"{column}\" FROM \"{table}\""),
            _ => format!(
                "SELECT CAST(\"{column}\" AS BLOB) FROM \"{table}\" WHERE typeof(\"{column}\") = 'text'"
            ),
        };
        values.extend(app.backend.strings(&sql).await);
    }
    assert!(
        values.iter().any(|v| v == "acme"),
        "no stored text was read"
    );
    values
}

// ---------------------------------------------------------------------------------------
// Slow clients
// ---------------------------------------------------------------------------------------

/// The contract's 10 s for headers and for a declared body, with room for a busy machine.
const CUT_OFF: std::ops::Range<Duration> = Duration::from_secs(9)..Duration::from_secs(16);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trickling_clients_are_cut_off_after_10_s_however_steadily_they_send() {
    let app = TestApp::spawn().await;
    let auth = app.acme.basic_header();

    // One byte of a header every 300 ms: progress does not extend the deadline.
    let headers = async {
        let mut stream = TcpStream::connect(app.address).await.unwrap();
        let started = Instant::now();
        stream
            .write_all(
                format!(
                    "GET /v2/accounts/acme/users HTTP/1.1\r\nAuthorization: {auth}\r\nX-Slow: "
                )
                .as_bytes(),
            )
            .await
            .unwrap();
        trickle_until_closed(stream, started).await
    };
    // A declared body, one byte every 300 ms.
    let body = async {
        let mut stream = TcpStream::connect(app.address).await.unwrap();
        let started = Instant::now();
        let head = format!(
            "POST /v2/accounts/acme/users HTTP/1.1\r\nHost: roster\r\nAuthorization: {auth}\r\n\
             Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        trickle_until_closed(stream, started).await
    };
    // A keep-alive connection that goes quiet after its first answer.
    let idle = async {
        let mut stream = TcpStream::connect(app.address).await.unwrap();
        let request = format!(
            "GET /v2/accounts/acme/users HTTP/1.1\r\nHost: roster\r\nAuthorization: {auth}\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut first = [0u8; 12];
        stream.read_exact(&mut first).await.unwrap();
        assert_eq!(&first, b"HTTP/1.1 200");
        let started = Instant::now();
        let mut rest = Vec::new();
        let read = tokio::time::timeout(CUT_OFF.end, stream.read_to_end(&mut rest)).await;
        assert!(
            read.is_ok(),
            "an idle connection was held past {:?}",
            CUT_OFF.end
        );
        started.elapsed()
    };

    let ((header_answer, header_wait), (body_answer, body_wait), idle_wait) =
        tokio::join!(headers, body, idle);

    assert!(
        CUT_OFF.contains(&header_wait),
        "headers cut after {header_wait:?}"
    );
    assert!(header_answer.is_empty(), "{header_answer:?}");
    assert!(CUT_OFF.contains(&body_wait), "body cut after {body_wait:?}");
    let body_answer = Raw::parse(&body_answer);
    body_answer.assert_error(400, 1007);
    assert!(
        body_answer.json()["response"]["error_data"]["description"]
            .as_str()
            .unwrap()
            .contains("did not arrive"),
        "{:?}",
        body_answer.json()
    );
    assert!(
        CUT_OFF.contains(&idle_wait),
        "idle connection closed after {idle_wait:?}"
    );
}

/// Sends a byte every 300 ms until the server closes the connection (or `CUT_OFF.end`
/// passes); returns what the server said and when it closed.
async fn trickle_until_closed(stream: TcpStream, started: Instant) -> (Vec<u8>, Duration) {
    let (mut reader, mut writer) = stream.into_split();
    let stop = Arc::new(AtomicBool::new(false));
    let writing = {
        let stop = stop.clone();
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if writer.write_all(b"a").await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        })
    };
    let mut answer = Vec::new();
    let read = tokio::time::timeout(CUT_OFF.end, async {
        let mut buffer = [0u8; 4096];
        loop {
            match reader.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    let waited = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let _ = writing.await;
    assert!(
        read.is_ok(),
        "the server still held the connection after {waited:?}"
    );
    (answer, waited)
}

// ---------------------------------------------------------------------------------------
// Everyone else
// ---------------------------------------------------------------------------------------

/// How long one ordinary request may take while the server is under abuse.
const SERVED_WITHIN: Duration = Duration::from_secs(3);
/// How long the abuse lasts.
const ABUSE_FOR: Duration = Duration::from_secs(6);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ordinary_client_is_served_promptly_while_others_abuse_the_server() {
    let app = Arc::new(TestApp::spawn().await);
    let abuser = app.roomy_account("abuser").await;
    let stop = Arc::new(AtomicBool::new(false));
    let refusals = Arc::new(AtomicUsize::new(0));

    // Connections that stall half-way through their headers, held open throughout.
    let mut stalled = Vec::new();
    for _ in 0..100 {
        let mut stream = TcpStream::connect(app.address).await.unwrap();
        stream
            .write_all(b"GET /v2/accounts/acme/users HTTP/1.1\r\nHost: roster\r\n")
            .await
            .unwrap();
        stalled.push(stream);
    }
    let mut abusers = Vec::new();
    for kind in 0..12 {
        let (app, abuser, stop, refusals) =
            (app.clone(), abuser.clone(), stop.clone(), refusals.clone());
        abusers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let (request, expected) = abusive_request(&abuser, kind);
                let raw = exchange(&app, &request).await;
                assert!(expected.contains(&raw.status), "{kind}: {}", raw.head);
                refusals.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }

    // Meanwhile an ordinary client reads and writes as usual.
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    let mut served = 0;
    let mut n = 0;
    while started.elapsed() < ABUSE_FOR {
        n += 1;
        let sent = Instant::now();
        let answer = if n % 2 == 0 {
            app.post(
                &app.globex,
                "/v2/accounts/globex/users",
                &TestApp::new_user(n),
            )
            .await
        } else {
            app.get(&app.globex, "/v2/accounts/globex/users?limit=5")
                .await
        };
        let took = sent.elapsed();
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert!(took < SERVED_WITHIN, "request {n} took {took:?}");
        slowest = slowest.max(took);
        served += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for task in abusers {
        task.await.unwrap();
    }
    drop(stalled);

    let refused = refusals.load(Ordering::Relaxed);
    eprintln!(
        "ordinary requests: {served}, slowest {slowest:?}; abusive requests answered: {refused}"
    );
    assert!(
        served >= 10,
        "only {served} ordinary requests in {ABUSE_FOR:?}"
    );
    assert!(refused >= 100, "the abuse did not run: {refused} answers");
}

/// One abusive request of kind `kind`, and the statuses it may get.
fn abusive_request(abuser: &Credentials, kind: usize) -> (Vec<u8>, &'static [u16]) {
    let auth = abuser.basic_header();
    let users = format!("/v2/accounts/{}/users", abuser.sid);
    let post = |body: &[u8], framing: &str| {
        let mut request = format!(
            "POST {users} HTTP/1.1\r\nHost: roster\r\nAuthorization: {auth}\r\n\
             Content-Type: application/json\r\nConnection: close\r\n{framing}\r\n\r\n"
        )
        .into_bytes();
        request.extend_from_slice(body);
        request
    };
    let get = |target: &str, auth: &str, extra: &str| {
        format!(
            "GET {target} HTTP/1.1\r\nHost: roster\r\nAuthorization: {auth}\r\n\
             Connection: close\r\n{extra}\r\n"
        )
        .into_bytes()
    };
    match kind % 6 {
        // A 10 MiB body, of which 128 KiB is sent.
        0 => {
            let framing = format!("Content-Length: {}", 10 * 1024 * 1024);
            (post(&vec![b' '; 128 * 1024], &framing), &[413])
        }
        1 => {
            let deep = "[".repeat(60_000);
            let framing = format!("Content-Length: {}", deep.len());
            (post(deep.as_bytes(), &framing), &[400])
        }
        2 => {
            let target = format!("{users}?email={}", "a,".repeat(20_000));
            (get(&target, &auth, ""), &[414])
        }
        3 => {
            let target = format!("{users}?email={}", "a".repeat(200 * 1024));
            (get(&target, &auth, ""), &[414])
        }
        4 => {
            let flood: String = (0..500).map(|i| format!("X-Flood-{i}: a\r\n")).collect();
            (get(&users, &auth, &flood), &[431])
        }
        // Guessed credentials: refused, and soon limited for this address.
        _ => (get(&users, "Basic AAAA", ""), &[401, 429]),
    }
}

// ---------------------------------------------------------------------------------------
// Raw connections
// ---------------------------------------------------------------------------------------

/// What came back on a raw connection.
struct Raw {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Raw {
    fn parse(bytes: &[u8]) -> Self {
        let text = String::from_utf8_lossy(bytes);
        let split = bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("no complete head in {text:?}"));
        let head = String::from_utf8_lossy(&bytes[..split]).into_owned();
        let status = head
            .strip_prefix("HTTP/1.1 ")
            .and_then(|rest| rest.get(..3))
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("no status line in {text:?}"));
        let mut body = bytes[split + 4..].to_vec();
        if let Some(length) = head.lines().find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        }) {
            body.truncate(length);
        }
        Self { status, head, body }
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// An answer in the envelope: statuses agree, Exotel's code, a request id.
    fn assert_error(&self, status: u16, code: u64) {
        assert_eq!(self.status, status, "{}", self.head);
        let body = self.json();
        assert_eq!(body["http_code"], status, "{body}");
        assert_eq!(body["response"]["code"], status, "{body}");
        assert_eq!(body["response"]["status"], "failure", "{body}");
        assert_eq!(body["response"]["error_data"]["code"], code, "{body}");
        let id = body["request_id"].as_str().unwrap();
        assert!(self
            .head
            .to_ascii_lowercase()
            .contains(&format!("x-request-id: {id}")));
    }

    /// The HTTP layer's own refusal: the status, no body, and the connection closed.
    fn assert_bare(&self, status: u16) {
        assert_eq!(self.status, status, "{}", self.head);
        assert!(
            self.body.is_empty(),
            "{}",
            String::from_utf8_lossy(&self.body)
        );
        let head = self.head.to_ascii_lowercase();
        assert!(head.contains("connection: close"), "{head}");
        assert!(!head.contains("x-request-id"), "{head}");
    }
}

/// Writes `bytes` on a fresh connection while reading what comes back until the server
/// closes it. The server may stop reading (and close) before all is written: write errors
/// are expected then, and what it answered is still read.
async fn exchange(app: &TestApp, bytes: &[u8]) -> Raw {
    let stream = TcpStream::connect(app.address).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let bytes = bytes.to_vec();
    let writing = tokio::spawn(async move {
        let _ = writer.write_all(&bytes).await;
        writer
    });
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), async {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            match reader.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no end of the answer within 20 s");
    writing.abort();
    Raw::parse(&answer)
}

/// Sends `body` as JSON with `who`'s credentials, or the operator token when `who` is None.
async fn send_body(
    app: &TestApp,
    method: Method,
    path: &str,
    who: Option<&Credentials>,
    body: &str,
) -> Answer {
    let request = app
        .client()
        .request(method, app.url(path))
        .header("content-type", "application/json")
        .body(body.to_owned());
    let request = match who {
        Some(who) => request.basic_auth(&who.key, Some(&who.token)),
        None => request.bearer_auth(OPERATOR_TOKEN),
    };
    app.send(request).await
}
