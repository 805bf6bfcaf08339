//! Tests of the built `roster` program, run as a child process the way an operator and
//! real clients use it: the operator CLI over a fresh SQLite file, `serve` on port 0 (the
//! port read back from its log line), and requests made with curl, Python `requests` and
//! a raw TCP socket. Every wait is bounded, and every child is killed when its test ends.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail loudly on purpose"
)]

#[path = "support/process.rs"]
mod process;
use process::{hermetic, run, wait_with_deadline};

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{json, Value};

/// Longest a CLI command, curl or the Python client may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest the server may take to print its listen address.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// The contract: after SIGTERM or SIGINT the server exits within 10 seconds.
const EXIT_DEADLINE: Duration = Duration::from_secs(10);
/// How soon an idle server should be gone after a stop signal: nothing to drain.
const IDLE_EXIT: Duration = Duration::from_secs(3);

/// The user every test creates: the fields a client sends to create one.
const FIRST_NAME: &str = "Asha";
const LAST_NAME: &str = "Rao";
const EMAIL: &str = "asha@example.com";
const PHONE: &str = "+919812345678";

/// What `date_created` and `date_updated` look like in the default zone, Asia/Kolkata;
/// `#` stands for one ASCII digit.
const KOLKATA_TIMESTAMP: &str = "####-##-##T##:##:##+05:30";

const USER_KEYS: [&str; 8] = [
    "date_created",
    "date_updated",
    "email",
    "email_verified",
    "first_name",
    "id",
    "last_name",
    "role",
];
const USER_KEYS_WITH_DEVICES: [&str; 9] = [
    "date_created",
    "date_updated",
    "devices",
    "email",
    "email_verified",
    "first_name",
    "id",
    "last_name",
    "role",
];
const DEVICE_KEYS: [&str; 7] = [
    "available",
    "contact_uri",
    "id",
    "name",
    "status",
    "type",
    "verified",
];

// ---------------------------------------------------------------------------------------
// The seed request, as Exotel's examples make it
// ---------------------------------------------------------------------------------------

#[test]
fn the_seed_curl_command_with_credentials_in_the_url_returns_the_user_in_exotels_envelope() {
    let roster = Roster::new();
    let acme = roster.account_with_key("acme");
    let server = roster.serve(&[]);
    let created = create_user_with_curl(&server, &acme);
    let id = created.get("id").as_str().to_owned();

    // Exactly the seed page's command line, with the placeholders filled in.
    let url = server.url_with_credentials(&acme, &format!("/v2/accounts/acme/users/{id}"));
    let output = curl(&["--location", "--request", "GET", &url]);

    assert!(
        output.status.success(),
        "curl failed: {}",
        describe(&output)
    );
    let data = assert_success_envelope(&stdout_of(&output), "GET");
    assert_eq!(data.keys(), USER_KEYS);
    assert_user_fields(&data, &id);
    assert_eq!(data.get("date_created"), created.get("date_created"));
    assert_eq!(data.get("date_updated"), created.get("date_updated"));
}

#[test]
fn fields_devices_over_curl_shows_the_new_phone_as_an_unverified_free_tel_device() {
    let roster = Roster::new();
    let acme = roster.account_with_key("acme");
    let server = roster.serve(&[]);
    let created = create_user_with_curl(&server, &acme);
    let id = created.get("id").as_str().to_owned();

    let url = server.url_with_credentials(
        &acme,
        &format!("/v2/accounts/acme/users/{id}?fields=devices"),
    );
    let output = curl(&["--location", "--request", "GET", &url]);

    assert!(
        output.status.success(),
        "curl failed: {}",
        describe(&output)
    );
    let data = assert_success_envelope(&stdout_of(&output), "GET");
    assert_eq!(data.keys(), USER_KEYS_WITH_DEVICES);
    assert_user_fields(&data, &id);
    let devices = data.get("devices").as_array();
    assert_eq!(devices.len(), 1, "{data:?}");
    let device = &devices[0];
    assert_new_phone(device);
    assert_eq!(
        device,
        &created.get("devices").as_array()[0],
        "the device differs from the one created"
    );
}

#[test]
fn an_unknown_user_over_curl_gets_404_with_exotel_code_10801() {
    let roster = Roster::new();
    let acme = roster.account_with_key("acme");
    let server = roster.serve(&[]);
    create_user_with_curl(&server, &acme);

    let url = server.url_with_credentials(
        &acme,
        "/v2/accounts/acme/users/0123456789abcdef0123456789abcdef",
    );
    let (status, body) = curl_with_status(&["--location", "--request", "GET", &url]);

    assert_eq!(status, 404, "{body}");
    assert_error_envelope(&body, "GET", 404, 10801);
}

#[test]
fn a_python_requests_client_written_like_the_seed_example_gets_the_user() {
    let roster = Roster::new();
    let acme = roster.account_with_key("acme");
    let server = roster.serve(&[]);
    let created = create_user_with_curl(&server, &acme);
    let id = created.get("id").as_str().to_owned();

    let output = seed_request_py(&server, &acme.key, &acme.token, &id);

    assert!(
        output.status.success(),
        "the Python client failed: {}",
        describe(&output)
    );
    let data = assert_success_envelope(stdout_of(&output).trim_end(), "GET");
    assert_eq!(data.keys(), USER_KEYS);
    assert_user_fields(&data, &id);
}

#[test]
fn the_python_client_fails_when_the_server_refuses_its_credentials() {
    // Proves the script checks the answer rather than printing whatever comes back.
    let roster = Roster::new();
    let acme = roster.account_with_key("acme");
    let server = roster.serve(&[]);
    let created = create_user_with_curl(&server, &acme);
    let id = created.get("id").as_str().to_owned();

    let wrong_token = "0".repeat(acme.token.len());
    let output = seed_request_py(&server, &acme.key, &wrong_token, &id);

    assert!(
        !output.status.success(),
        "the Python client accepted a refusal: {}",
        describe(&output)
    );
    assert!(
        stderr_of(&output).contains("HTTP 401"),
        "{}",
        describe(&output)
    );
}

// ---------------------------------------------------------------------------------------
// Stopping
// ---------------------------------------------------------------------------------------

#[test]
fn sigterm_lets_a_request_already_received_finish_and_then_exits_with_status_zero() {
    let roster = Roster::new();
    let acme = roster.account_with_key("acme");
    let mut server = roster.serve(&[]);
    let body = create_body().to_string();
    let (first_half, second_half) = body.as_bytes().split_at(body.len() / 2);

    let mut stream =
        TcpStream::connect_timeout(&server.address, Duration::from_secs(5)).expect("connecting");
    stream
        .set_read_timeout(Some(EXIT_DEADLINE))
        .expect("setting the read timeout");
    stream
        .set_write_timeout(Some(EXIT_DEADLINE))
        .expect("setting the write timeout");
    let head = format!(
        "POST /v2/accounts/acme/users HTTP/1.1\r\nHost: {address}\r\nAuthorization: Basic {auth}\r\n\
         Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n",
        address = server.address,
        auth = base64(format!("{}:{}", acme.key, acme.token).as_bytes()),
        length = body.len(),
    );
    stream.write_all(head.as_bytes()).expect("sending the head");
    stream.write_all(first_half).expect("sending half the body");
    stream.flush().expect("flushing");
    // Let the server read the head, so the request is in flight when the signal lands.
    thread::sleep(Duration::from_millis(500));

    let signalled = Instant::now();
    server.signal("TERM");
    server
        .output
        .wait_for_line("the stop-signal log line", |line| {
            line.contains("stop signal received")
        });
    thread::sleep(Duration::from_millis(300));
    assert!(
        server.exit_status().is_none(),
        "the server exited with a request half received"
    );
    assert!(
        TcpStream::connect_timeout(&server.address, Duration::from_secs(1)).is_err(),
        "the server still accepts connections after SIGTERM"
    );

    stream
        .write_all(second_half)
        .expect("sending the rest of the body");
    let response = read_response(&mut stream);

    assert_eq!(response.status, 200, "{}", response.body);
    let data = assert_success_envelope(&response.body, "POST");
    assert_eq!(data.get("first_name").as_str(), FIRST_NAME);
    assert_eq!(data.get("email").as_str(), EMAIL);
    let status = server.wait_exit(EXIT_DEADLINE.saturating_sub(signalled.elapsed()));
    assert_eq!(status.code(), Some(0), "{}", server.output.transcript());
    // The client still holds its connection open: the server must not wait for it.
    drop(stream);
}

#[test]
fn sigterm_on_an_idle_server_makes_it_exit_with_status_zero_promptly() {
    idle_server_exits_cleanly_on("TERM");
}

#[test]
fn sigint_on_an_idle_server_makes_it_exit_with_status_zero_promptly() {
    idle_server_exits_cleanly_on("INT");
}

fn idle_server_exits_cleanly_on(signal: &str) {
    let roster = Roster::new();
    roster.account_with_key("acme");
    let mut server = roster.serve(&[]);

    let signalled = Instant::now();
    server.signal(signal);
    let status = server.wait_exit(EXIT_DEADLINE);

    assert_eq!(
        status.code(),
        Some(0),
        "SIG{signal}: {}",
        server.output.transcript()
    );
    assert!(
        signalled.elapsed() < IDLE_EXIT,
        "SIG{signal}: exiting took {:?}",
        signalled.elapsed()
    );
    assert!(
        TcpStream::connect_timeout(&server.address, Duration::from_secs(1)).is_err(),
        "SIG{signal}: the port still accepts connections after exit"
    );
}

// ---------------------------------------------------------------------------------------
// The operator CLI
// ---------------------------------------------------------------------------------------

#[test]
fn bad_command_line_arguments_fail_with_one_line_on_stderr_and_never_panic() {
    let roster = Roster::new();
    roster.cli_json(&["accounts", "create", "acme"]);
    let config = roster.dir.path().join("roster.toml");
    std::fs::write(
        &config,
        "listen = \"127.0.0.1:0\"\nlisen = \"127.0.0.1:0\"\n",
    )
    .expect("writing the config");
    let config = config.to_str().expect("a UTF-8 temp path");
    let absent_config = roster.dir.path().join("absent.toml");
    let absent_config = absent_config.to_str().expect("a UTF-8 temp path");
    // A port that is taken: our own listener on loopback, held for the whole test.
    let holder = std::net::TcpListener::bind("127.0.0.1:0").expect("binding a loopback port");
    let taken = holder.local_addr().expect("its address").to_string();

    // Each bad invocation, and a word its error must contain so the operator knows
    // which value to fix.
    let cases: &[(&[&str], &str)] = &[
        (&["accounts", "create", "bad sid!"], "sid"),
        (&["accounts", "create", ""], "sid"),
        (&["accounts", "create", "x", "--voip", "maybe"], "--voip"),
        (&["accounts", "create", "x", "--trial", "2"], "--trial"),
        (
            &["accounts", "create", "x", "--timezone", "Mars/Base"],
            "timezone",
        ),
        (
            &["accounts", "create", "x", "--rate-limit", "0"],
            "rate-limit",
        ),
        (
            &["accounts", "create", "x", "--rate-limit", "many"],
            "rate-limit",
        ),
        (
            &["accounts", "create", "x", "--rate-limit", "-5"],
            "rate-limit",
        ),
        (
            &["accounts", "create", "x", "--region", "Mumbai!"],
            "region",
        ),
        (&["accounts", "create", "x", "--name", " "], "name"),
        (&["accounts", "create", "acme"], "acme"),
        (&["accounts", "show", "missing"], "missing"),
        (
            &["accounts", "update", "missing", "--voip", "true"],
            "missing",
        ),
        (&["accounts", "frobnicate"], "frobnicate"),
        (&["keys", "create", "missing"], "missing"),
        (&["keys", "revoke", "nosuchkey"], "nosuchkey"),
        (&["serve", "--listen", "nowhere"], "listen"),
        (&["serve", "--log-format", "xml"], "log_format"),
        (&["--config", config, "accounts", "list"], "lisen"),
        (&["--config", config, "serve"], "lisen"),
        (&["--config", absent_config, "accounts", "list"], "config"),
        (&["serve", "--listen", &taken], &taken),
        // A missing argument: clap's message continues on a second line, which is dropped.
        (&["accounts", "create"], "required"),
    ];

    for (args, names) in cases {
        assert_one_line_failure(args, &roster.cli(args), names);
    }
    // Databases given by the caller (`command` would add a second `--database`): one that
    // cannot be opened, and a URL of a kind roster does not speak, not taken for a file.
    let databases = [
        ("/nonexistent/roster/roster.db", "database"),
        ("mysql://db.invalid/roster", "mysql://"),
    ];
    for (database, names) in databases {
        let args = ["--database", database, "accounts", "list"];
        let mut command = Command::new(env!("CARGO_BIN_EXE_roster"));
        command.args(args).current_dir(roster.dir.path());
        assert_one_line_failure(&args, &run(hermetic(command), COMMAND_TIMEOUT), names);
    }

    // None of the refused commands changed anything.
    let accounts = roster.cli_json(&["accounts", "list"]);
    let sids: Vec<&str> = accounts
        .as_array()
        .iter()
        .map(|account| account.get("sid").as_str())
        .collect();
    assert_eq!(sids, ["acme"]);
}

/// A refused invocation: non-zero exit, nothing on stdout, and on stderr one line that
/// names `names` (the setting or value at fault) and no panic.
fn assert_one_line_failure(args: &[&str], output: &Output, names: &str) {
    let stderr = stderr_of(output);
    assert!(
        !output.status.success(),
        "{args:?} succeeded: {}",
        describe(output)
    );
    assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
    assert_eq!(
        stderr.lines().count(),
        1,
        "{args:?} did not print exactly one line: {stderr:?}"
    );
    assert!(
        stderr.ends_with('\n'),
        "{args:?}: the line is not terminated: {stderr:?}"
    );
    assert!(
        stderr.contains(names),
        "{args:?}: the error does not name {names:?}: {stderr}"
    );
    assert!(
        stdout_of(output).is_empty(),
        "{args:?} printed on stdout: {}",
        describe(output)
    );
}

#[test]
fn accounts_create_prints_the_account_with_every_default() {
    let roster = Roster::new();

    let account = roster.cli_json(&["accounts", "create", "acme"]);

    assert_eq!(
        account.keys(),
        [
            "date_created",
            "date_updated",
            "kyc_complete",
            "name",
            "rate_limit_per_minute",
            "region",
            "sid",
            "timezone",
            "trial",
            "voip_enabled"
        ]
    );
    let value = account.to_value();
    assert_eq!(value["sid"], "acme");
    assert_eq!(value["name"], "acme", "the name defaults to the sid");
    assert_eq!(value["region"], "local");
    assert_eq!(value["timezone"], "Asia/Kolkata");
    assert_eq!(value["voip_enabled"], false);
    assert_eq!(value["trial"], false);
    assert_eq!(value["kyc_complete"], true);
    assert_eq!(value["rate_limit_per_minute"], 200);
    assert_recent_kolkata_timestamp(account.get("date_created").as_str());
    assert_eq!(account.get("date_updated"), account.get("date_created"));
}

#[test]
fn accounts_update_changes_only_the_settings_given_and_list_shows_every_account() {
    let roster = Roster::new();
    let created = roster.cli_json(&[
        "accounts",
        "create",
        "acme",
        "--name",
        "Acme Corp",
        "--timezone",
        "Europe/London",
        "--rate-limit",
        "50",
    ]);
    roster.cli_json(&["accounts", "create", "globex"]);

    let updated = roster.cli_json(&[
        "accounts",
        "update",
        "acme",
        "--voip",
        "true",
        "--kyc-complete",
        "false",
    ]);

    let mut expected = created.to_value();
    expected["voip_enabled"] = json!(true);
    expected["kyc_complete"] = json!(false);
    // Only the update time may move besides the two settings given.
    expected["date_updated"] = updated.to_value()["date_updated"].clone();
    assert_eq!(updated.to_value(), expected);
    assert_eq!(updated.to_value()["timezone"], "Europe/London");
    assert_eq!(updated.to_value()["rate_limit_per_minute"], 50);
    assert_eq!(updated.to_value()["name"], "Acme Corp");

    let shown = roster.cli_json(&["accounts", "show", "acme"]);
    assert_eq!(
        shown.to_value(),
        updated.to_value(),
        "show disagrees with what update printed"
    );

    let listed = roster.cli_json(&["accounts", "list"]);
    let listed = listed.as_array();
    let sids: Vec<&str> = listed
        .iter()
        .map(|account| account.get("sid").as_str())
        .collect();
    assert_eq!(sids, ["acme", "globex"]);
    assert_eq!(listed[0].to_value(), updated.to_value());
    assert_eq!(listed[1].to_value()["rate_limit_per_minute"], 200);
}

#[test]
fn keys_create_prints_a_key_and_token_that_the_server_accepts_until_revoked() {
    let roster = Roster::new();
    let acme = roster.account_with_key("acme");
    let server = roster.serve(&[]);
    let url = server.url_with_credentials(
        &acme,
        "/v2/accounts/acme/users/0123456789abcdef0123456789abcdef",
    );

    // Accepted: the unknown user is the only complaint.
    let (status, body) = curl_with_status(&["--request", "GET", &url]);
    assert_eq!(status, 404, "{body}");

    let revoked = roster.cli_json(&["keys", "revoke", &acme.key]);
    assert_eq!(
        revoked.to_value(),
        json!({ "api_key": acme.key, "revoked": true })
    );

    // The contract gives running servers a second to notice a revocation.
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let (status, body) = curl_with_status(&["--request", "GET", &url]);
        if status == 401 {
            assert_error_envelope(&body, "GET", 401, 1010);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the revoked key still works: {status} {body}"
        );
        thread::sleep(Duration::from_millis(100));
    }
}

// ---------------------------------------------------------------------------------------
// The demo
// ---------------------------------------------------------------------------------------

#[test]
fn serve_demo_prints_credentials_and_curl_commands_that_work_when_run() {
    let roster = Roster::new();
    let server = roster.serve(&["--demo"]);
    let fetch_line = server
        .output
        .wait_for_line("the demo's fetch command", is_fetch_command);
    let printed = server.output.stdout_text();

    let api_key = printed_value(&printed, "api_key:");
    let api_token = printed_value(&printed, "api_token:");
    assert!(printed.contains("created account demo"), "{printed}");
    let create_command = printed_command(&printed, "/v2/accounts/demo/users'");
    assert!(
        create_command.contains(&format!("http://{api_key}:{api_token}@{}/", server.address)),
        "the command does not carry the printed credentials and the real address: {create_command}"
    );

    // Run as printed: a shell reads the line continuation and the quotes.
    let output = shell(&create_command);
    assert!(
        output.status.success(),
        "the printed command failed: {}",
        describe(&output)
    );
    let data = assert_success_envelope(&stdout_of(&output), "POST");
    assert_eq!(data.keys(), USER_KEYS_WITH_DEVICES);
    let id = data.get("id").as_str().to_owned();
    assert!(is_lower_hex_32(&id), "{id}");

    // The second command, with the id put in place of USER_ID as the demo text says.
    let fetch_command = fetch_line.trim().replace("USER_ID", &id);
    let output = shell(&fetch_command);
    assert!(
        output.status.success(),
        "the printed fetch command failed: {}",
        describe(&output)
    );
    let fetched = assert_success_envelope(&stdout_of(&output), "GET");
    assert_eq!(fetched.keys(), USER_KEYS_WITH_DEVICES);
    assert_eq!(fetched.get("devices"), data.get("devices"));
    drop(server);

    // A second demo start keeps the account and issues another key.
    let again = roster.serve(&["--demo"]);
    again
        .output
        .wait_for_line("the demo's fetch command", is_fetch_command);
    let printed_again = again.output.stdout_text();
    assert!(
        printed_again.contains("account demo already existed"),
        "{printed_again}"
    );
    assert_ne!(printed_value(&printed_again, "api_key:"), api_key);
}

// ---------------------------------------------------------------------------------------
// Assertions on answers
// ---------------------------------------------------------------------------------------

/// Checks a success envelope around one record and returns the record.
fn assert_success_envelope(text: &str, method: &str) -> Json {
    let body = Json::parse(text);
    assert_envelope_head(&body, method, 200, text);
    let response = body.get("response");
    assert_eq!(
        response.keys(),
        ["code", "error_data", "status", "data"],
        "{text}"
    );
    assert_eq!(response.get("code").to_value(), json!(200), "{text}");
    assert_eq!(response.get("error_data"), &Json::Null, "{text}");
    assert_eq!(response.get("status").as_str(), "success", "{text}");
    let data = response.get("data");
    assert!(
        matches!(data, Json::Object(_)),
        "data is not a record: {text}"
    );
    data.clone()
}

/// Checks an error envelope: statuses agree, Exotel's code, `failure`, `data: null`.
fn assert_error_envelope(text: &str, method: &str, http: u16, code: u64) {
    let body = Json::parse(text);
    assert_envelope_head(&body, method, http, text);
    let response = body.get("response");
    assert_eq!(
        response.keys(),
        ["code", "error_data", "status", "data"],
        "{text}"
    );
    assert_eq!(response.get("code").to_value(), json!(http), "{text}");
    assert_eq!(response.get("status").as_str(), "failure", "{text}");
    assert_eq!(response.get("data"), &Json::Null, "{text}");
    let error = response.get("error_data");
    assert_eq!(error.keys(), ["code", "message", "description"], "{text}");
    assert_eq!(error.get("code").to_value(), json!(code), "{text}");
    assert!(!error.get("message").as_str().is_empty(), "{text}");
    assert!(!error.get("description").as_str().is_empty(), "{text}");
}

fn assert_envelope_head(body: &Json, method: &str, http: u16, text: &str) {
    assert_eq!(
        body.keys(),
        ["request_id", "method", "http_code", "response"],
        "{text}"
    );
    let request_id = body.get("request_id").as_str();
    assert!(
        is_lower_hex_32(request_id),
        "request_id {request_id:?} is not 32 lower-case hex"
    );
    assert_eq!(body.get("method").as_str(), method, "{text}");
    assert_eq!(body.get("http_code").to_value(), json!(http), "{text}");
}

/// Checks a user record against what [`create_body`] sent.
fn assert_user_fields(data: &Json, id: &str) {
    let value = data.to_value();
    assert_eq!(value["id"], id);
    assert!(is_lower_hex_32(id), "user id {id:?}");
    assert_eq!(value["first_name"], FIRST_NAME);
    assert_eq!(value["last_name"], LAST_NAME);
    assert_eq!(value["email"], EMAIL);
    assert_eq!(value["email_verified"], false);
    assert_eq!(value["role"], "user");
    assert_recent_kolkata_timestamp(data.get("date_created").as_str());
    assert_eq!(
        data.get("date_updated"),
        data.get("date_created"),
        "a new user was never updated"
    );
}

/// The phone a new user gets from `device_contact_uri`: unverified, so `available` is null.
fn assert_new_phone(device: &Json) {
    assert_eq!(device.keys(), DEVICE_KEYS, "{device:?}");
    let value = device.to_value();
    assert_eq!(value["available"], Value::Null);
    assert_eq!(value["contact_uri"], PHONE);
    let id = value["id"]
        .as_u64()
        .unwrap_or_else(|| panic!("device id {} is not a positive integer", value["id"]));
    assert!(id > 0 && id < (1 << 53), "device id {id} is out of range");
    assert!(!device.get("name").as_str().is_empty(), "{device:?}");
    assert_eq!(value["status"], "free");
    assert_eq!(value["type"], "tel");
    assert_eq!(value["verified"], false);
}

/// A timestamp in Asia/Kolkata's offset, to the second, and close to now.
fn assert_recent_kolkata_timestamp(text: &str) {
    let shaped = text.len() == KOLKATA_TIMESTAMP.len()
        && text.bytes().zip(KOLKATA_TIMESTAMP.bytes()).all(|(t, s)| {
            if s == b'#' {
                t.is_ascii_digit()
            } else {
                t == s
            }
        });
    assert!(shaped, "{text:?} is not shaped like {KOLKATA_TIMESTAMP}");
    let at: jiff::Timestamp = text
        .parse()
        .unwrap_or_else(|e| panic!("{text:?} is not a timestamp: {e}"));
    let skew = (jiff::Timestamp::now().as_second() - at.as_second()).abs();
    assert!(skew < 300, "{text} is {skew} s away from now");
}

fn is_lower_hex_32(text: &str) -> bool {
    text.len() == 32 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

// ---------------------------------------------------------------------------------------
// Clients
// ---------------------------------------------------------------------------------------

/// The body of every create request.
fn create_body() -> Value {
    json!({
        "first_name": FIRST_NAME,
        "last_name": LAST_NAME,
        "email": EMAIL,
        "device_contact_uri": PHONE,
    })
}

/// Creates the test user with curl, credentials in the URL, and returns its record.
fn create_user_with_curl(server: &Server, who: &Credentials) -> Json {
    let url = server.url_with_credentials(who, &format!("/v2/accounts/{}/users", who.sid));
    let body = create_body().to_string();
    let (status, text) = curl_with_status(&[
        "--location",
        "--request",
        "POST",
        &url,
        "--header",
        "Content-Type: application/json",
        "--data",
        &body,
    ]);
    assert_eq!(status, 200, "create failed: {text}");
    let data = assert_success_envelope(&text, "POST");
    assert_eq!(data.keys(), USER_KEYS_WITH_DEVICES, "{text}");
    data
}

fn curl(args: &[&str]) -> Output {
    let mut command = Command::new("curl");
    command.args(args);
    run(hermetic(command), COMMAND_TIMEOUT)
}

/// Runs curl with `args`, and returns the HTTP status with the body.
fn curl_with_status(args: &[&str]) -> (u16, String) {
    let mut all = vec!["--silent", "--show-error", "--write-out", "\n%{http_code}"];
    all.extend_from_slice(args);
    let output = curl(&all);
    assert!(
        output.status.success(),
        "curl failed: {}",
        describe(&output)
    );
    let text = stdout_of(&output);
    let (body, status) = text
        .rsplit_once('\n')
        .unwrap_or_else(|| panic!("no status after the body: {text:?}"));
    (
        status
            .parse()
            .unwrap_or_else(|_| panic!("bad status {status:?}")),
        body.to_owned(),
    )
}

fn seed_request_py(server: &Server, key: &str, token: &str, user_id: &str) -> Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/seed_request.py");
    let mut command = Command::new("python3");
    command
        .arg(script)
        .arg(format!("http://{}", server.address))
        .arg("acme")
        .arg(key)
        .arg(token)
        .arg(user_id)
        // Keeps the test tree free of bytecode caches.
        .env("PYTHONDONTWRITEBYTECODE", "1");
    run(hermetic(command), COMMAND_TIMEOUT)
}

fn shell(script: &str) -> Output {
    let mut command = Command::new("sh");
    command.arg("-c").arg(script);
    run(hermetic(command), COMMAND_TIMEOUT)
}

/// A response read off a raw socket.
struct RawResponse {
    status: u16,
    body: String,
}

/// Reads one HTTP/1.1 response, framed by Content-Length, chunks, or the end of the stream.
fn read_response(stream: &mut TcpStream) -> RawResponse {
    let mut received = Vec::new();
    let head_end = loop {
        if let Some(at) = find(&received, b"\r\n\r\n") {
            break at + 4;
        }
        assert!(
            read_more(stream, &mut received),
            "closed before a whole head: {}",
            String::from_utf8_lossy(&received)
        );
    };
    let head = String::from_utf8_lossy(&received[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let header = |name: &str| {
        head.split("\r\n")
            .skip(1)
            .filter_map(|line| line.split_once(':'))
            .find(|(key, _)| key.trim().eq_ignore_ascii_case(name))
            .map(|(_, value)| value.trim().to_owned())
    };

    let mut body = received.split_off(head_end);
    if let Some(length) = header("content-length") {
        let length: usize = length
            .parse()
            .unwrap_or_else(|_| panic!("bad Content-Length {length:?}"));
        while body.len() < length {
            assert!(
                read_more(stream, &mut body),
                "closed {} bytes into a {length}-byte body",
                body.len()
            );
        }
        body.truncate(length);
    } else if header("transfer-encoding").is_some_and(|value| value.eq_ignore_ascii_case("chunked"))
    {
        while !body.ends_with(b"0\r\n\r\n") {
            assert!(read_more(stream, &mut body), "closed inside a chunked body");
        }
        body = decode_chunked(&body);
    } else {
        while read_more(stream, &mut body) {}
    }
    RawResponse {
        status,
        body: String::from_utf8(body).expect("a UTF-8 body"),
    }
}

/// Appends what the stream has next; false at its end.
fn read_more(stream: &mut TcpStream, into: &mut Vec<u8>) -> bool {
    let mut chunk = [0_u8; 4096];
    let read = stream
        .read(&mut chunk)
        .expect("reading the response (timed out?)");
    into.extend_from_slice(&chunk[..read]);
    read > 0
}

fn decode_chunked(mut raw: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let line_end = find(raw, b"\r\n").expect("a chunk size line");
        let size = std::str::from_utf8(&raw[..line_end]).expect("an ASCII chunk size");
        let size = usize::from_str_radix(size.split(';').next().unwrap_or_default().trim(), 16)
            .expect("a hex chunk size");
        raw = &raw[line_end + 2..];
        if size == 0 {
            return body;
        }
        body.extend_from_slice(&raw[..size]);
        raw = &raw[size + 2..];
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// Standard base64 with padding, for a Basic `Authorization` header on the raw socket.
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let byte = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let triple = (byte(0) << 16) | (byte(1) << 8) | byte(2);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(
                    ALPHABET[((triple >> (18 - 6 * i)) & 63) as usize],
                ));
            } else {
                out.push('=');
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// The program under test
// ---------------------------------------------------------------------------------------

/// An account's sid with a key and token for it.
struct Credentials {
    sid: String,
    key: String,
    token: String,
}

/// One test's installation: a temp dir with the SQLite file, and the CLI over it.
struct Roster {
    dir: tempfile::TempDir,
    database: PathBuf,
}

impl Roster {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("creating a temp dir");
        let database = dir.path().join("roster.db");
        Self { dir, database }
    }

    /// `roster --database <file> ARGS`, run in the temp dir.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_roster"));
        command
            .arg("--database")
            .arg(&self.database)
            .args(args)
            .current_dir(self.dir.path());
        hermetic(command)
    }

    fn cli(&self, args: &[&str]) -> Output {
        run(self.command(args), COMMAND_TIMEOUT)
    }

    /// Runs a CLI command that must succeed, and parses the JSON it prints.
    fn cli_json(&self, args: &[&str]) -> Json {
        let output = self.cli(args);
        assert!(
            output.status.success(),
            "{args:?} failed: {}",
            describe(&output)
        );
        assert!(
            output.stderr.is_empty(),
            "{args:?} wrote on stderr: {}",
            describe(&output)
        );
        Json::parse(&stdout_of(&output))
    }

    /// Creates an account with default settings and issues it a key.
    fn account_with_key(&self, sid: &str) -> Credentials {
        self.cli_json(&["accounts", "create", sid]);
        let issued = self.cli_json(&["keys", "create", sid]);
        assert_eq!(issued.keys(), ["api_key", "api_token"]);
        Credentials {
            sid: sid.to_owned(),
            key: issued.get("api_key").as_str().to_owned(),
            token: issued.get("api_token").as_str().to_owned(),
        }
    }

    /// Starts `roster serve` on a port of the kernel's choosing and waits until it says
    /// where it listens.
    fn serve(&self, extra: &[&str]) -> Server {
        let mut command = self.command(&["serve", "--listen", "127.0.0.1:0"]);
        command
            .args(extra)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("starting roster serve");
        let output = ChildOutput::capture(&mut child);
        // From here on the guard kills the server whatever happens.
        let child = KillOnDrop(child);
        let line =
            output.wait_for_line("the listen line", |line| line.contains("roster is serving"));
        let address = line
            .split_whitespace()
            .find_map(|word| word.strip_prefix("listen="))
            .and_then(|address| address.parse::<SocketAddr>().ok())
            .unwrap_or_else(|| panic!("no listen=ADDRESS in {line:?}"));
        assert!(
            address.ip().is_loopback() && address.port() != 0,
            "listening on {address}"
        );
        Server {
            child,
            address,
            output,
        }
    }
}

/// A running `roster serve`.
struct Server {
    child: KillOnDrop,
    address: SocketAddr,
    output: ChildOutput,
}

impl Server {
    /// `http://KEY:TOKEN@127.0.0.1:PORT/path`, as Exotel's examples write URLs.
    fn url_with_credentials(&self, who: &Credentials, path: &str) -> String {
        format!("http://{}:{}@{}{path}", who.key, who.token, self.address)
    }

    /// Sends a signal by name (`TERM`, `INT`) with kill(1).
    fn signal(&self, name: &str) {
        let mut command = Command::new("kill");
        command
            .arg(format!("-{name}"))
            .arg(self.child.0.id().to_string());
        let output = run(command, COMMAND_TIMEOUT);
        assert!(
            output.status.success(),
            "kill -{name} failed: {}",
            describe(&output)
        );
    }

    fn exit_status(&mut self) -> Option<ExitStatus> {
        self.child.0.try_wait().expect("polling the server")
    }

    /// Waits for the server to exit, failing the test when it is still running after `limit`.
    fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        wait_with_deadline(&mut self.child.0, limit).unwrap_or_else(|| {
            panic!(
                "the server was still running after {limit:?}: {}",
                self.output.transcript()
            )
        })
    }
}

/// Kills the child when dropped, so a failing test never leaves a server behind.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A child's stdout, line by line as it comes, and its stderr, kept for failure messages.
/// Reader threads drain both pipes to the end so the child never blocks on a full pipe.
struct ChildOutput {
    lines: Receiver<String>,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl ChildOutput {
    fn capture(child: &mut Child) -> Self {
        let (sender, lines) = mpsc::channel();
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let pipe = child.stdout.take().expect("a piped stdout");
        let seen = Arc::clone(&stdout);
        thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                seen.lock().expect("the stdout log").push(line.clone());
                // The test may have stopped listening; keep draining regardless.
                let _ = sender.send(line);
            }
        });
        let pipe = child.stderr.take().expect("a piped stderr");
        let seen = Arc::clone(&stderr);
        thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                seen.lock().expect("the stderr log").push(line);
            }
        });
        Self {
            lines,
            stdout,
            stderr,
        }
    }

    /// Returns the first stdout line, printed so far or within [`START_TIMEOUT`], that
    /// satisfies `wanted`. Lines already printed count: the demo text, for one, may come
    /// out before the log line the server was waited on for.
    fn wait_for_line(&self, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            // The reader thread records a line before announcing it, so a wake-up below
            // always finds the new line here.
            if let Some(line) = self
                .stdout
                .lock()
                .expect("the stdout log")
                .iter()
                .find(|line| wanted(line))
            {
                return line.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => {
                    panic!("no {what} within {START_TIMEOUT:?}: {}", self.transcript())
                }
                Err(RecvTimeoutError::Disconnected) => {
                    if let Some(line) = self
                        .stdout
                        .lock()
                        .expect("the stdout log")
                        .iter()
                        .find(|line| wanted(line))
                    {
                        return line.clone();
                    }
                    // Let the stderr thread catch up before showing what it read.
                    thread::sleep(Duration::from_millis(100));
                    panic!("stdout closed before {what}: {}", self.transcript())
                }
            }
        }
    }

    fn stdout_text(&self) -> String {
        self.stdout.lock().expect("the stdout log").join("\n")
    }

    fn transcript(&self) -> String {
        let stderr = self.stderr.lock().expect("the stderr log").join("\n");
        format!(
            "\n--- stdout ---\n{}\n--- stderr ---\n{stderr}",
            self.stdout_text()
        )
    }
}

/// The demo's last line: the curl command that fetches the user it had you create.
fn is_fetch_command(line: &str) -> bool {
    line.trim_start().starts_with("curl ") && line.contains("USER_ID")
}

/// The value printed after `label` on a line of the demo text.
fn printed_value(printed: &str, label: &str) -> String {
    printed
        .lines()
        .find_map(|line| line.trim().strip_prefix(label))
        .map(|value| value.trim().to_owned())
        .unwrap_or_else(|| panic!("no {label:?} line in: {printed}"))
}

/// The shell command printed on the line containing `marker`, with its continuation lines.
fn printed_command(printed: &str, marker: &str) -> String {
    let mut lines = printed
        .lines()
        .skip_while(|line| !(line.trim_start().starts_with("curl ") && line.contains(marker)));
    let mut command = lines
        .next()
        .unwrap_or_else(|| panic!("no curl command for {marker:?} in: {printed}"))
        .trim()
        .to_owned();
    while command.ends_with('\\') {
        let next = lines
            .next()
            .unwrap_or_else(|| panic!("the command stops at a continuation: {printed}"));
        command.push('\n');
        command.push_str(next);
    }
    command
}

// ---------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------

fn stdout_of(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("UTF-8 on stdout")
}

fn stderr_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn describe(output: &Output) -> String {
    format!(
        "{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        stderr_of(output)
    )
}

// ---------------------------------------------------------------------------------------
// JSON with its key order
// ---------------------------------------------------------------------------------------

/// A JSON value whose objects keep their keys in the order they were written (and any
/// duplicates), read straight from the text: the order is part of the contract.
#[derive(Debug, Clone, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    fn parse(text: &str) -> Self {
        serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text:?}"))
    }

    fn keys(&self) -> Vec<&str> {
        match self {
            Self::Object(entries) => entries.iter().map(|(key, _)| key.as_str()).collect(),
            other => panic!("not an object: {other:?}"),
        }
    }

    /// The member `key` of an object, which must be there exactly once.
    fn get(&self, key: &str) -> &Json {
        let Self::Object(entries) = self else {
            panic!("looking up {key:?} in a non-object: {self:?}")
        };
        let mut found = entries
            .iter()
            .filter(|(name, _)| name == key)
            .map(|(_, value)| value);
        let value = found
            .next()
            .unwrap_or_else(|| panic!("no {key:?} in {self:?}"));
        assert!(found.next().is_none(), "{key:?} appears twice in {self:?}");
        value
    }

    fn as_str(&self) -> &str {
        match self {
            Self::String(text) => text,
            other => panic!("not a string: {other:?}"),
        }
    }

    fn as_array(&self) -> &[Json] {
        match self {
            Self::Array(items) => items,
            other => panic!("not an array: {other:?}"),
        }
    }

    /// The same value as a `serde_json::Value`, for comparing values (not key order).
    fn to_value(&self) -> Value {
        match self {
            Self::Null => Value::Null,
            Self::Bool(flag) => Value::Bool(*flag),
            Self::Number(number) => Value::Number(number.clone()),
            Self::String(text) => Value::String(text.clone()),
            Self::Array(items) => Value::Array(items.iter().map(Self::to_value).collect()),
            Self::Object(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(key, value)| (key.clone(), value.to_value()))
                    .collect(),
            ),
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, value: bool) -> Result<Json, E> {
        Ok(Json::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Json, E> {
        Ok(Json::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Json, E> {
        Ok(Json::Number(value.into()))
    }

    fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<Json, E> {
        serde_json::Number::from_f64(value)
            .map(Json::Number)
            .ok_or_else(|| E::custom("a non-finite number"))
    }

    fn visit_str<E>(self, value: &str) -> Result<Json, E> {
        Ok(Json::String(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Json, E> {
        Ok(Json::String(value))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry::<String, Json>()? {
            entries.push(entry);
        }
        Ok(Json::Object(entries))
    }
}

#[test]
fn output_into_a_closed_pipe_is_an_error_line_not_a_panic() {
    let roster = Roster::new();
    roster.account_with_key("acme");
    // The reading end is gone before roster writes: `roster keys list acme | true`.
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let mut command = roster.command(&["keys", "list", "acme"]);
    command.stdout(writer).stderr(Stdio::piped());
    let output = command
        .spawn()
        .and_then(|child| child.wait_with_output())
        .expect("running roster");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("cannot write to stdout"), "{stderr}");
}
