//! The operator CLI run as a child process against a SQLite file that a running `roster
//! serve` (also a child process) shares: what each command prints, how it fails, and that
//! the server sees its change within the second the contract allows. Every wait is bounded
//! and every child is killed when its test ends.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail loudly on purpose"
)]

#[path = "support/process.rs"]
mod process;
use process::{drain, hermetic, run, wait_with_deadline};

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

/// Longest a CLI command (or a digest tool) may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest the server may take to print its listen address.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// The contract gives a running server one second to see a change made by the CLI; this
/// much more covers the requests made while waiting.
const PROPAGATION: Duration = Duration::from_millis(1500);

const OPERATOR_TOKEN: &str = "operator-token-for-cli-tests";
const PHONE: &str = "+919812345678";
const NO_USER: &str = "0123456789abcdef0123456789abcdef";

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
// accounts delete
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn accounts_delete_prints_the_sid_and_the_running_server_refuses_the_accounts_key_within_a_second(
) {
    let roster = Roster::new();
    let acme = roster.account_with_key("acme");
    let globex = roster.account_with_key("globex");
    let server = roster.serve(None);
    server.create_user(&acme).await;

    let printed = roster.cli_json(&["accounts", "delete", "acme"]);

    assert_eq!(printed, json!({ "sid": "acme", "deleted": true }));
    assert_eq!(keys(&printed), ["sid", "deleted"]);
    // Its key went with it: an unknown key is an authentication failure.
    let (status, body) = server
        .wait_for(&acme, "/v2/accounts/acme/users", |status, _| status == 401)
        .await;
    assert_error(status, &body, 401, 1010);
    let sids = roster.cli_json(&["accounts", "list"]);
    assert_eq!(sids.as_array().unwrap().len(), 1);
    assert_eq!(sids[0]["sid"], "globex");
    roster.cli_fails(&["accounts", "show", "acme"], "acme");
    roster.cli_fails(&["accounts", "delete", "acme"], "acme");
    let (status, body) = server.get(&globex, "/v2/accounts/globex/users").await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn an_account_recreated_after_delete_starts_without_the_old_users_or_keys() {
    let roster = Roster::new();
    let acme = roster.account_with_key("acme");
    let server = roster.serve(None);
    let user = server.create_user(&acme).await;
    roster.cli_json(&["accounts", "delete", "acme"]);

    let reborn = roster.account_with_key("acme");

    let listed = roster.cli_json(&["keys", "list", "acme"]);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["api_key"], reborn.key.as_str());
    let user_path = format!("/v2/accounts/acme/users/{}", user["id"].as_str().unwrap());
    let (status, body) = server
        .wait_for(&reborn, &user_path, |status, _| status != 403)
        .await;
    assert_error(status, &body, 404, 10801);
    // The number and the email are free again.
    let (status, body) = server
        .post(&reborn, "/v2/accounts/acme/users", &create_body())
        .await;
    assert_eq!(status, 200, "{body}");
}

// ---------------------------------------------------------------------------------------
// accounts update, keys
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn accounts_update_by_the_cli_reaches_the_running_server_within_a_second() {
    let roster = Roster::new();
    let acme = roster.account_with_key("acme");
    let server = roster.serve(None);
    let (status, body) = server.get(&acme, "/v2/accounts/acme/users").await;
    assert_eq!(status, 200, "{body}");

    let updated = roster.cli_json(&["accounts", "update", "acme", "--trial", "true"]);

    assert_eq!(updated["trial"], true);
    let (status, body) = server
        .wait_for(&acme, "/v2/accounts/acme/users", |status, _| status != 200)
        .await;
    assert_error(status, &body, 403, 10815);
}

#[tokio::test]
async fn keys_list_prints_every_key_without_its_token_and_when_a_key_was_revoked() {
    let roster = Roster::new();
    let first = roster.account_with_key("acme");
    let issued = roster.cli_json(&["keys", "create", "acme"]);
    let second = credentials("acme", &issued);
    roster.cli_json(&["keys", "revoke", &second.key]);

    let output = roster.cli(&["keys", "list", "acme"]);

    assert!(output.status.success(), "{}", describe(&output));
    let text = stdout_of(&output);
    assert!(
        !text.contains(&first.token) && !text.contains(&second.token),
        "a token was printed: {text}"
    );
    let listed = parse(&text);
    let listed = listed.as_array().expect("an array of keys");
    assert_eq!(listed.len(), 2, "{text}");
    for key in listed {
        assert_eq!(keys(key), ["api_key", "date_created", "date_revoked"]);
        assert_recent_kolkata_timestamp(&key["date_created"]);
    }
    let find = |api_key: &str| {
        listed
            .iter()
            .find(|key| key["api_key"] == api_key)
            .unwrap_or_else(|| panic!("{api_key} is not listed: {text}"))
    };
    assert_eq!(find(&first.key)["date_revoked"], Value::Null);
    assert_recent_kolkata_timestamp(&find(&second.key)["date_revoked"]);
    roster.cli_fails(&["keys", "list", "missing"], "missing");
}

#[tokio::test]
async fn keys_list_prints_what_the_operator_api_of_a_running_server_answers() {
    let roster = Roster::new();
    let acme = roster.account_with_key("acme");
    roster.cli_json(&["keys", "revoke", &acme.key]);
    roster.account_with_key("globex");
    let server = roster.serve(Some(OPERATOR_TOKEN));

    let printed = roster.cli_json(&["keys", "list", "acme"]);

    let (status, body) = server
        .operator(Method::GET, "/operator/v1/accounts/acme/keys", None)
        .await;
    assert_eq!(status, 200, "{body}");
    let served: Vec<Value> = body["response"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["data"].clone())
        .collect();
    assert_eq!(Value::Array(served), printed);
}

// ---------------------------------------------------------------------------------------
// devices verify
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn devices_verify_prints_the_verified_phone_and_the_running_server_lets_its_user_turn_it_on()
{
    let roster = Roster::new();
    let acme = roster.account_with_key("acme");
    let server = roster.serve(None);
    let user = server.create_user(&acme).await;
    let phone = user["devices"][0].clone();
    let device_path = format!(
        "/v2/accounts/acme/users/{}/devices/{}",
        user["id"].as_str().unwrap(),
        phone["id"].as_u64().unwrap()
    );
    let (status, body) = server
        .put(&acme, &device_path, &json!({ "available": true }))
        .await;
    assert_error(status, &body, 409, 10809);

    let verified = roster.cli_json(&["devices", "verify", "acme", PHONE]);

    assert_eq!(keys(&verified), DEVICE_KEYS);
    let mut expected = phone;
    expected["verified"] = json!(true);
    expected["available"] = json!(false);
    assert_eq!(verified, expected);
    let deadline = Instant::now() + PROPAGATION;
    let turned_on = loop {
        let (status, body) = server
            .put(&acme, &device_path, &json!({ "available": true }))
            .await;
        if status == 200 {
            break body;
        }
        assert!(
            Instant::now() < deadline,
            "the server still refuses to turn the phone on: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(turned_on["response"]["data"]["available"], true);

    // A second missed call changes nothing: the phone stays on.
    let again = roster.cli_json(&["devices", "verify", "acme", PHONE]);
    assert_eq!(again["available"], true);
    assert_eq!(again["verified"], true);
}

// ---------------------------------------------------------------------------------------
// calls start | end
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn calls_start_and_end_show_on_the_running_server_as_active_call_within_a_second() {
    let roster = Roster::new();
    let acme = roster.account_with_key("acme");
    let server = roster.serve(None);
    let user = server.create_user(&acme).await;
    let device = user["devices"][0]["id"].as_u64().unwrap().to_string();
    let user_path = format!(
        "/v2/accounts/acme/users/{}?fields=active_call",
        user["id"].as_str().unwrap()
    );
    let (_, before) = server.get(&acme, &user_path).await;
    assert_eq!(before["response"]["data"]["active_call"], false, "{before}");

    let started = roster.cli_json(&["calls", "start", "acme", &device]);

    assert_eq!(keys(&started), DEVICE_KEYS);
    assert_eq!(started["status"], "busy");
    assert_eq!(started["id"].to_string(), device);
    server
        .wait_for(&acme, &user_path, |_, body| {
            body["response"]["data"]["active_call"] == true
        })
        .await;

    let ended = roster.cli_json(&["calls", "end", "acme", &device]);

    assert_eq!(ended["status"], "free");
    let mut expected = started.clone();
    expected["status"] = json!("free");
    assert_eq!(
        ended, expected,
        "ending the call changed more than the status"
    );
    server
        .wait_for(&acme, &user_path, |_, body| {
            body["response"]["data"]["active_call"] == false
        })
        .await;
}

// ---------------------------------------------------------------------------------------
// users login
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn users_login_prints_the_user_with_last_login_and_the_running_server_reports_the_same_moment(
) {
    let roster = Roster::new();
    let acme = roster.account_with_key("acme");
    let server = roster.serve(None);
    let user = server.create_user(&acme).await;
    let user_id = user["id"].as_str().unwrap();
    let user_path = format!("/v2/accounts/acme/users/{user_id}?fields=last_login");

    let printed = roster.cli_json(&["users", "login", "acme", user_id]);

    assert_eq!(
        keys(&printed),
        [
            "date_created",
            "date_updated",
            "email",
            "email_verified",
            "first_name",
            "id",
            "last_login",
            "last_name",
            "role"
        ]
    );
    assert_eq!(printed["id"], user_id);
    assert_recent_kolkata_timestamp(&printed["last_login"]);
    let (_, body) = server
        .wait_for(&acme, &user_path, |_, body| {
            !body["response"]["data"]["last_login"].is_null()
        })
        .await;
    assert_eq!(body["response"]["data"], printed);
}

// ---------------------------------------------------------------------------------------
// sip credentials
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn sip_credentials_prints_the_digests_of_the_password_as_the_operator_api_does() {
    let roster = Roster::new();
    roster.cli_json(&["accounts", "create", "voipco", "--voip", "true"]);
    let issued = roster.cli_json(&["keys", "create", "voipco"]);
    let voip = credentials("voipco", &issued);
    let server = roster.serve(Some(OPERATOR_TOKEN));
    let user = server.create_user(&voip).await;
    let softphone = user["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|device| device["type"] == "sip")
        .unwrap_or_else(|| panic!("no softphone: {user}"))
        .clone();
    let uri = softphone["contact_uri"].as_str().unwrap();
    let username = uri.strip_prefix("sip:").unwrap();
    let password_path = format!(
        "/v2/accounts/voipco/users/{}/devices/{}/password",
        user["id"].as_str().unwrap(),
        softphone["id"].as_u64().unwrap()
    );
    let (status, body) = server
        .put(
            &voip,
            &password_path,
            &json!({ "password": "Corr3ct-Horse" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let output = roster.cli(&["sip", "credentials", "voipco", username]);

    assert!(output.status.success(), "{}", describe(&output));
    let text = stdout_of(&output);
    assert!(!text.contains("Corr3ct-Horse"), "{text}");
    let printed = parse(&text);
    let secret = format!("{username}:roster:Corr3ct-Horse");
    assert_eq!(
        printed,
        json!({
            "contact_uri": uri,
            "device_id": softphone["id"],
            "ha1_md5": digest("md5sum", &secret),
            "ha1_sha256": digest("sha256sum", &secret),
            "realm": "roster",
            "user_id": user["id"],
            "username": username,
        })
    );
    assert_eq!(
        keys(&printed),
        [
            "contact_uri",
            "device_id",
            "ha1_md5",
            "ha1_sha256",
            "realm",
            "user_id",
            "username"
        ]
    );
    let (status, body) = server
        .operator(
            Method::GET,
            &format!("/operator/v1/accounts/voipco/sip-credentials/{username}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["response"]["data"], printed);
}

// ---------------------------------------------------------------------------------------
// Mistakes
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn operator_commands_given_bad_arguments_fail_with_one_line_on_stderr_and_change_nothing() {
    let roster = Roster::new();
    let acme = roster.account_with_key("acme");
    let server = roster.serve(None);
    let user = server.create_user(&acme).await;
    let device = user["devices"][0]["id"].as_u64().unwrap().to_string();

    // Each bad invocation, and a word its error must contain.
    let cases: &[(&[&str], &str)] = &[
        (&["calls", "start", "acme", "abc"], "device"),
        (&["calls", "end", "acme", "123456789"], "device"),
        (&["calls", "start", "missing", &device], "missing"),
        (&["calls", "start", "acme"], "required"),
        (&["calls", "pause", "acme", &device], "pause"),
        (&["users", "login", "acme", NO_USER], "user"),
        (&["users", "login", "acme", "not-a-user-id"], "user"),
        (&["users", "login", "missing", NO_USER], "missing"),
        (
            &["devices", "verify", "acme", "+919800000000"],
            "+919800000000",
        ),
        (
            &["devices", "verify", "acme", "not-a-number"],
            "not-a-number",
        ),
        (&["devices", "verify", "missing", PHONE], "missing"),
        (&["devices", "verify", "acme"], "required"),
        (&["sip", "credentials", "acme", "nobody"], "nobody"),
        (&["sip", "credentials", "missing", "nobody"], "missing"),
        (&["keys", "list", "missing"], "missing"),
        (&["accounts", "delete", "missing"], "missing"),
        (&["accounts", "delete"], "required"),
    ];

    for (args, names) in cases {
        roster.cli_fails(args, names);
    }

    // None of them changed anything.
    let accounts = roster.cli_json(&["accounts", "list"]);
    assert_eq!(accounts.as_array().unwrap().len(), 1);
    let (status, body) = server
        .get(
            &acme,
            &format!(
                "/v2/accounts/acme/users/{}?fields=devices,active_call,last_login",
                user["id"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let data = &body["response"]["data"];
    assert_eq!(data["active_call"], false);
    assert_eq!(data["last_login"], Value::Null);
    assert_eq!(data["devices"][0]["verified"], false);
}

// ---------------------------------------------------------------------------------------
// The operator API of the built server
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn the_servers_operator_api_is_off_without_roster_operator_token_and_on_with_it() {
    let roster = Roster::new();
    roster.account_with_key("acme");

    let off = roster.serve(None);
    let (status, body) = off
        .operator(Method::GET, "/operator/v1/accounts", None)
        .await;
    assert_error(status, &body, 404, 1000);
    drop(off);

    let on = roster.serve(Some(OPERATOR_TOKEN));
    let (status, body) = on
        .operator(Method::GET, "/operator/v1/accounts", None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["response"][0]["data"]["sid"], "acme");
    let (status, body) = on
        .request(
            Method::GET,
            "/operator/v1/accounts",
            Auth::Bearer("not-the-operator-token"),
            None,
        )
        .await;
    assert_error(status, &body, 401, 1010);
}

#[test]
fn an_operator_token_shorter_than_16_characters_is_refused_at_start() {
    let roster = Roster::new();
    let mut command = roster.command(&["serve", "--listen", "127.0.0.1:0"]);
    command.env("ROSTER_OPERATOR_TOKEN", "too-short");

    let output = run(command, COMMAND_TIMEOUT);

    assert_one_line_failure(&["serve"], &output, "operator_token");
}

// ---------------------------------------------------------------------------------------
// The program under test
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Credentials {
    sid: String,
    key: String,
    token: String,
}

fn credentials(sid: &str, issued: &Value) -> Credentials {
    assert_eq!(keys(issued), ["api_key", "api_token"]);
    Credentials {
        sid: sid.to_owned(),
        key: issued["api_key"].as_str().unwrap().to_owned(),
        token: issued["api_token"].as_str().unwrap().to_owned(),
    }
}

// ---------------------------------------------------------------------------------------
// users import / export
// ---------------------------------------------------------------------------------------

const CSV_HEADER: &str = "first_name,last_name,email,device_contact_uri,device_name,role";

#[tokio::test]
async fn users_import_creates_every_row_and_the_api_lists_them_with_their_devices() {
    let roster = Roster::new();
    let acme = roster.account_with_key("acme");
    let server = roster.serve(None);
    // A spreadsheet's file: byte order mark, CRLF, its own column order, quoted cells.
    let csv = "\u{feff}email,role,first_name,last_name,device_contact_uri,device_name\r\n\
               asha@example.com,admin,Asha,Rao,+919812345678,\"Desk \"\"A\"\", main\"\r\n\
               ,,Ravi,Kumar,+919812345679,\r\n\
               \"meera@example.com\",supervisor,Meera,Iyer,+919812345670,Mobile\r\n";
    let file = roster.write_file("users.csv", csv.as_bytes());

    let printed = roster.cli_json(&["users", "import", "acme", &file]);

    assert_eq!(printed, json!({ "sid": "acme", "created": 3 }));
    assert_eq!(keys(&printed), ["sid", "created"]);
    let (status, body) = server
        .get(&acme, "/v2/accounts/acme/users?fields=devices&limit=10")
        .await;
    assert_eq!(status, 200, "{body}");
    let mut listed: Vec<[String; 5]> = body["response"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            let user = &item["data"];
            let devices = user["devices"].as_array().unwrap();
            assert_eq!(devices.len(), 1, "{user}");
            [
                &user["first_name"],
                &user["email"],
                &user["role"],
                &devices[0]["contact_uri"],
                &devices[0]["name"],
            ]
            .map(|v| v.as_str().unwrap_or("").to_owned())
        })
        .collect();
    listed.sort();
    assert_eq!(
        listed,
        [
            [
                "Asha",
                "asha@example.com",
                "admin",
                "+919812345678",
                "Desk \"A\", main"
            ],
            [
                "Meera",
                "meera@example.com",
                "supervisor",
                "+919812345670",
                "Mobile"
            ],
            ["Ravi", "", "user", "+919812345679", "Phone"],
        ]
        .map(|row| row.map(str::to_owned))
    );
}

#[test]
fn users_import_with_bad_rows_creates_nothing_and_names_every_bad_row_with_its_line() {
    let roster = Roster::new();
    roster.account_with_key("acme");
    let existing = roster.write_file(
        "existing.csv",
        format!("{CSV_HEADER}\nOld,User,old@example.com,+919800000001,,\n").as_bytes(),
    );
    roster.cli_json(&["users", "import", "acme", &existing]);
    let csv = format!(
        "{CSV_HEADER}\n\
         Asha,Rao,asha@example.com,+919812345678,,\n\
         Ravi,Kumar,not-an-email,+919812345679,,\n\
         \n\
         Meera,,meera@example.com,+919812345670,,\n\
         Kiran,Das,ASHA@Example.com,+919812345671,,\n\
         Kavya,\"Na\nir\",kavya@example.com,+919812345678,,\n\
         Dev,Shah,OLD@example.com,+919812345672,,\n\
         Anil,Roy,anil@example.com,+919800000001,,\n\
         Uma,Sen,uma@example.com,+919812345673,,pilot\n\
         Good,Row,good@example.com,+919812345674,,\n"
    );
    let file = roster.write_file("users.csv", csv.as_bytes());

    let output = roster.cli(&["users", "import", "acme", &file]);

    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    assert!(output.stdout.is_empty(), "{}", describe(&output));
    assert_eq!(
        stderr_of(&output).lines().collect::<Vec<_>>(),
        [
            "row 2 (line 3): invalid email: must look like name@example.com",
            "row 3 (line 5): last_name is mandatory",
            "row 4 (line 6): this email is also on row 1",
            "row 5 (line 7): invalid last_name: may hold only A-Z, a-z, 0-9, '.', ''', '-' and space",
            "row 6 (line 9): this email is already used by a user of this account",
            "row 7 (line 10): this number is already used by a device of this account",
            "row 8 (line 11): invalid role: must be one of admin, supervisor, user",
            "roster: 7 of 9 rows cannot be created; nothing was imported",
        ]
    );
    assert_eq!(
        export_rows(&roster, "acme"),
        ["Old,User,old@example.com,+919800000001,Phone,user"]
    );
}

#[test]
fn users_import_names_a_number_repeated_within_the_file_and_rows_of_the_wrong_width() {
    let roster = Roster::new();
    roster.account_with_key("acme");
    let csv = format!(
        "{CSV_HEADER}\n\
         Asha,Rao,,+919812345678,,\n\
         Ravi,Kumar,,+91 98123 45678,,\n\
         Meera,Iyer,,+919812345670\n"
    );
    let file = roster.write_file("users.csv", csv.as_bytes());

    let output = roster.cli(&["users", "import", "acme", &file, "--dry-run"]);

    assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
    assert_eq!(
        stderr_of(&output).lines().collect::<Vec<_>>(),
        [
            "row 2 (line 3): this number is also on row 1",
            "row 3 (line 4): has 4 cells where the header has 6",
            "roster: 2 of 3 rows cannot be created; nothing was imported",
        ]
    );
    assert!(export_rows(&roster, "acme").is_empty());
}

#[test]
fn users_import_dry_run_checks_and_counts_but_creates_nothing() {
    let roster = Roster::new();
    roster.account_with_key("acme");
    let csv = format!(
        "{CSV_HEADER}\nAsha,Rao,asha@example.com,+919812345678,,\nRavi,Kumar,,+919812345679,,\n"
    );
    let file = roster.write_file("users.csv", csv.as_bytes());

    let printed = roster.cli_json(&["users", "import", "acme", &file, "--dry-run"]);

    assert_eq!(
        printed,
        json!({ "sid": "acme", "dry_run": true, "would_create": 2 })
    );
    assert!(export_rows(&roster, "acme").is_empty());
    let created = roster.cli_json(&["users", "import", "acme", &file]);
    assert_eq!(created["created"], 2);
    assert_eq!(export_rows(&roster, "acme").len(), 2);
}

#[test]
fn users_import_refuses_a_file_it_cannot_read_in_one_line() {
    let roster = Roster::new();
    roster.account_with_key("acme");
    let unknown = roster.write_file("unknown.csv", b"first_name,last_name,phone\nA,B,C\n");
    let twice = roster.write_file("twice.csv", b"email,first_name,email\n");
    let empty = roster.write_file("empty.csv", b"");
    let mut latin1 = format!("{CSV_HEADER}\nAsha,Rao,,+919812345678,,\nJos").into_bytes();
    latin1.extend_from_slice(b"\xe9,Rao,,+919812345679,,\n");
    let latin1 = roster.write_file("latin1.csv", &latin1);
    let valid = roster.write_file(
        "valid.csv",
        format!("{CSV_HEADER}\nAsha,Rao,,+919812345678,,\n").as_bytes(),
    );

    let import = |file: &str, names: &str| {
        roster.cli_fails(&["users", "import", "acme", file], names);
    };
    import(&unknown, "unknown column \"phone\"");
    import(&twice, "column \"email\" appears twice");
    import(&empty, "needs a header row");
    import(&latin1, "line 3 is not UTF-8");
    import("missing.csv", "cannot open missing.csv");
    roster.cli_fails(&["users", "import", "globex", &valid], "globex");
    roster.cli_fails(&["users", "export", "globex"], "globex");
    assert!(export_rows(&roster, "acme").is_empty());
}

#[test]
fn users_export_then_import_into_another_account_recreates_the_same_users() {
    let roster = Roster::new();
    roster.account_with_key("acme");
    roster.account_with_key("globex");
    let csv = format!(
        "{CSV_HEADER}\n\
         Asha,Rao,asha@example.com,+919812345678,\"Desk, main\",admin\n\
         Ravi,Kumar,,+919812345679,,supervisor\n\
         Meera,Iyer,meera@example.com,+919812345670,Mobile,\n"
    );
    let file = roster.write_file("users.csv", csv.as_bytes());
    roster.cli_json(&["users", "import", "acme", &file]);

    let exported = roster.cli(&["users", "export", "acme"]);
    assert!(exported.status.success(), "{}", describe(&exported));
    let exported = stdout_of(&exported);
    let again = roster.write_file("exported.csv", exported.as_bytes());
    let printed = roster.cli_json(&["users", "import", "globex", &again]);

    assert_eq!(printed, json!({ "sid": "globex", "created": 3 }));
    assert_eq!(exported.lines().next(), Some(CSV_HEADER));
    let mut acme = export_rows(&roster, "acme");
    let mut globex = export_rows(&roster, "globex");
    acme.sort();
    globex.sort();
    assert_eq!(
        acme,
        [
            "Asha,Rao,asha@example.com,+919812345678,\"Desk, main\",admin",
            "Meera,Iyer,meera@example.com,+919812345670,Mobile,user",
            "Ravi,Kumar,,+919812345679,Phone,supervisor",
        ]
    );
    assert_eq!(globex, acme);
}

#[test]
fn users_import_of_thousands_of_rows_made_in_one_second_gives_every_device_its_own_id() {
    let roster = Roster::new();
    roster.account_with_key("acme");
    // Device ids made in one second share their upper bits: drawn independently, 5,000 of
    // them would clash several times over.
    let mut csv = format!("{CSV_HEADER}\n");
    for n in 0..5_000 {
        csv.push_str(&format!("User,Number{n},u{n}@example.com,+9198{n:08},,\n"));
    }
    let file = roster.write_file("many.csv", csv.as_bytes());

    let printed = roster.cli_json(&["users", "import", "acme", &file]);

    assert_eq!(printed, json!({ "sid": "acme", "created": 5_000 }));
    assert_eq!(export_rows(&roster, "acme").len(), 5_000);
}

/// The data rows `roster users export` prints for the account, after checking its header.
fn export_rows(roster: &Roster, sid: &str) -> Vec<String> {
    let output = roster.cli(&["users", "export", sid]);
    assert!(output.status.success(), "{}", describe(&output));
    assert!(output.stderr.is_empty(), "{}", describe(&output));
    let text = stdout_of(&output);
    let mut lines = text.lines().map(str::to_owned);
    assert_eq!(lines.next().as_deref(), Some(CSV_HEADER), "{text}");
    lines.collect()
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

    /// Writes a file in the temp dir and returns the name the CLI finds it by there.
    fn write_file(&self, name: &str, contents: &[u8]) -> String {
        std::fs::write(self.dir.path().join(name), contents).expect("writing a test file");
        name.to_owned()
    }

    fn cli(&self, args: &[&str]) -> Output {
        run(self.command(args), COMMAND_TIMEOUT)
    }

    /// Runs a CLI command that must succeed quietly, and parses the JSON it prints.
    fn cli_json(&self, args: &[&str]) -> Value {
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
        parse(&stdout_of(&output))
    }

    /// Runs a CLI command that must be refused with one line naming `names`.
    fn cli_fails(&self, args: &[&str], names: &str) {
        assert_one_line_failure(args, &self.cli(args), names);
    }

    fn account_with_key(&self, sid: &str) -> Credentials {
        self.cli_json(&["accounts", "create", sid]);
        credentials(sid, &self.cli_json(&["keys", "create", sid]))
    }

    /// Starts `roster serve` on a port of the kernel's choosing, with the operator API on
    /// when a token is given, and waits until it says where it listens.
    fn serve(&self, operator_token: Option<&str>) -> Server {
        let mut command = self.command(&["serve", "--listen", "127.0.0.1:0"]);
        if let Some(token) = operator_token {
            command.env("ROSTER_OPERATOR_TOKEN", token);
        }
        command
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("starting roster serve");
        let output = ChildOutput::capture(&mut child);
        let child = KillOnDrop(child);
        let line = output.wait_for_line(|line| line.contains("roster is serving"));
        let address = line
            .split_whitespace()
            .find_map(|word| word.strip_prefix("listen="))
            .and_then(|address| address.parse::<SocketAddr>().ok())
            .unwrap_or_else(|| panic!("no listen=ADDRESS in {line:?}"));
        assert!(address.ip().is_loopback(), "listening on {address}");
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(COMMAND_TIMEOUT)
            .build()
            .expect("an HTTP client");
        Server {
            _child: child,
            address,
            client,
            operator_token: operator_token.map(str::to_owned),
        }
    }
}

/// A running `roster serve`, and an HTTP client for it.
struct Server {
    _child: KillOnDrop,
    address: SocketAddr,
    client: reqwest::Client,
    operator_token: Option<String>,
}

enum Auth<'a> {
    Basic(&'a Credentials),
    Bearer(&'a str),
}

impl Server {
    /// Sends a request and returns the status with the parsed body.
    async fn request(
        &self,
        method: Method,
        path: &str,
        auth: Auth<'_>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut request = self
            .client
            .request(method, format!("http://{}{path}", self.address));
        request = match auth {
            Auth::Basic(who) => request.basic_auth(&who.key, Some(&who.token)),
            Auth::Bearer(token) => request.bearer_auth(token),
        };
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.expect("a response");
        let status = response.status().as_u16();
        let text = response.text().await.expect("a body");
        (status, parse(&text))
    }

    async fn get(&self, who: &Credentials, path: &str) -> (u16, Value) {
        self.request(Method::GET, path, Auth::Basic(who), None)
            .await
    }

    async fn post(&self, who: &Credentials, path: &str, body: &Value) -> (u16, Value) {
        self.request(Method::POST, path, Auth::Basic(who), Some(body))
            .await
    }

    async fn put(&self, who: &Credentials, path: &str, body: &Value) -> (u16, Value) {
        self.request(Method::PUT, path, Auth::Basic(who), Some(body))
            .await
    }

    /// An operator request with the token the server was started with (or the test's
    /// token when it was started without one).
    async fn operator(&self, method: Method, path: &str, body: Option<&Value>) -> (u16, Value) {
        let token = self.operator_token.as_deref().unwrap_or(OPERATOR_TOKEN);
        self.request(method, path, Auth::Bearer(token), body).await
    }

    /// Creates the test's user (a phone, and a softphone on a VOIP account) and returns it.
    async fn create_user(&self, who: &Credentials) -> Value {
        let path = format!("/v2/accounts/{}/users", who.sid);
        let (status, body) = self.post(who, &path, &create_body()).await;
        assert_eq!(status, 200, "create failed: {body}");
        body["response"]["data"].clone()
    }

    /// GETs `path` until `done` holds, failing after [`PROPAGATION`]; returns the answer.
    async fn wait_for(
        &self,
        who: &Credentials,
        path: &str,
        done: impl Fn(u16, &Value) -> bool,
    ) -> (u16, Value) {
        let deadline = Instant::now() + PROPAGATION;
        loop {
            let (status, body) = self.get(who, path).await;
            if done(status, &body) {
                return (status, body);
            }
            assert!(
                Instant::now() < deadline,
                "the server did not see the change within {PROPAGATION:?}: {status} {body}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn create_body() -> Value {
    json!({
        "first_name": "Asha",
        "last_name": "Rao",
        "email": "asha@example.com",
        "device_contact_uri": PHONE,
    })
}

/// Kills the child when dropped, so a failing test never leaves a server behind.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A child's stdout line by line as it comes, and both streams kept for failure messages.
struct ChildOutput {
    lines: Receiver<String>,
    transcript: Arc<Mutex<Vec<String>>>,
}

impl ChildOutput {
    fn capture(child: &mut Child) -> Self {
        let (sender, lines) = mpsc::channel();
        let transcript = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().expect("a piped stdout");
        let seen = Arc::clone(&transcript);
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                seen.lock().expect("the transcript").push(line.clone());
                // The test may have stopped listening; keep draining regardless.
                let _ = sender.send(line);
            }
        });
        let stderr = child.stderr.take().expect("a piped stderr");
        let seen = Arc::clone(&transcript);
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                seen.lock().expect("the transcript").push(line);
            }
        });
        Self { lines, transcript }
    }

    /// The first stdout line satisfying `wanted`, waiting at most [`START_TIMEOUT`].
    fn wait_for_line(&self, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if wanted(&line) => return line,
                Ok(_) => {}
                Err(error) => {
                    // Let the stderr reader catch up before showing what it read.
                    thread::sleep(Duration::from_millis(100));
                    panic!(
                        "the server did not start ({error}): {}",
                        self.transcript.lock().expect("the transcript").join("\n")
                    )
                }
            }
        }
    }
}

/// The digest coreutils' `md5sum` or `sha256sum` prints for `text`.
fn digest(tool: &str, text: &str) -> String {
    let mut command = Command::new(tool);
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {tool}: {e}"));
    let mut stdin = child.stdin.take().expect("a piped stdin");
    stdin.write_all(text.as_bytes()).expect("feeding the tool");
    drop(stdin);
    let stdout = drain(child.stdout.take().expect("a piped stdout"));
    let status = wait_with_deadline(&mut child, COMMAND_TIMEOUT).unwrap_or_else(|| {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{tool} did not finish within {COMMAND_TIMEOUT:?}")
    });
    assert!(status.success(), "{tool} failed");
    let printed = String::from_utf8(stdout.join().expect("the stdout reader")).expect("UTF-8");
    let hex = printed
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned();
    let length = if tool == "md5sum" { 32 } else { 64 };
    assert!(
        hex.len() == length && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
        "{tool} printed {printed:?}"
    );
    hex
}

// ---------------------------------------------------------------------------------------
// Assertions
// ---------------------------------------------------------------------------------------

/// A refused invocation: non-zero exit, nothing on stdout, and on stderr one line that
/// names `names` and no panic.
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
    assert!(stderr.ends_with('\n'), "{args:?}: unterminated: {stderr:?}");
    assert!(
        stderr.contains(names),
        "{args:?}: the error does not name {names:?}: {stderr}"
    );
    assert!(
        output.stdout.is_empty(),
        "{args:?} printed on stdout: {}",
        describe(output)
    );
}

/// An error envelope with this status and Exotel code.
fn assert_error(status: u16, body: &Value, http: u16, code: u64) {
    assert_eq!(status, http, "{body}");
    assert_eq!(body["http_code"], http, "{body}");
    assert_eq!(body["response"]["status"], "failure", "{body}");
    assert_eq!(body["response"]["error_data"]["code"], code, "{body}");
}

/// A timestamp in Asia/Kolkata's offset, within a few minutes of now.
fn assert_recent_kolkata_timestamp(value: &Value) {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("not a timestamp: {value}"));
    assert!(text.ends_with("+05:30"), "{text}");
    let at: jiff::Timestamp = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
    let drift = jiff::Timestamp::now().as_second() - at.as_second();
    assert!((-5..300).contains(&drift), "{text} is not recent");
}

/// An object's keys in the order they were printed.
fn keys(value: &Value) -> Vec<&str> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .map(String::as_str)
        .collect()
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text:?}"))
}

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
// event stream and webhooks
// ---------------------------------------------------------------------------------------

/// The `event:` and parsed `data:` of the next event on an SSE response, within `wait`.
async fn next_event(
    response: &mut reqwest::Response,
    buffer: &mut String,
    wait: Duration,
) -> Option<(String, Value)> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let field = |name: &str| {
                block
                    .lines()
                    .find_map(|l| l.strip_prefix(name))
                    .map(|v| v.trim().to_owned())
            };
            if let (Some(event), Some(data)) = (field("event:"), field("data:")) {
                return Some((event, parse(&data)));
            }
        }
        let chunk = tokio::time::timeout_at(deadline, response.chunk()).await;
        match chunk {
            Ok(Ok(Some(bytes))) => buffer.push_str(std::str::from_utf8(&bytes).unwrap()),
            _ => return None,
        }
    }
}

#[tokio::test]
async fn a_stream_sees_a_change_made_through_the_api_then_one_made_by_the_cli_in_order_within_a_second(
) {
    let roster = Roster::new();
    let acme = roster.account_with_key("acme");
    let server = roster.serve(None);
    let mut stream = server
        .client
        .get(format!("http://{}/v2/accounts/acme/events", server.address))
        .basic_auth(&acme.key, Some(&acme.token))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let mut buffer = String::new();

    let started = Instant::now();
    let user = server.create_user(&acme).await;
    let (created, through_api) = next_event(&mut stream, &mut buffer, Duration::from_secs(1))
        .await
        .expect("the API's change within a second");
    let api_latency = started.elapsed();
    let device = user["devices"][0]["id"].as_u64().unwrap().to_string();
    let started = Instant::now();
    roster.cli_json(&["calls", "start", "acme", &device]);
    let cli_done = started.elapsed();
    let (updated, through_cli) = next_event(&mut stream, &mut buffer, Duration::from_secs(1))
        .await
        .expect("the CLI's change within a second");
    let cli_latency = started.elapsed() - cli_done;

    assert!(api_latency < Duration::from_secs(1), "{api_latency:?}");
    assert!(cli_latency < Duration::from_secs(1), "{cli_latency:?}");
    assert_eq!(created, "user.created");
    assert_eq!(through_api["data"]["id"], user["id"]);
    assert_eq!(updated, "device.updated");
    assert_eq!(through_cli["data"]["status"], "busy");
    assert_eq!(
        through_cli["id"].as_u64(),
        through_api["id"].as_u64().map(|id| id + 1)
    );
}

#[tokio::test]
async fn webhooks_are_added_listed_without_secrets_shown_in_deliveries_and_removed() {
    let roster = Roster::new();
    roster.account_with_key("acme");

    let added = roster.cli_json(&["webhooks", "add", "acme", "http://127.0.0.1:9/hooks"]);
    let id = added["id"].as_str().unwrap().to_owned();
    let listed = roster.cli_json(&["webhooks", "list", "acme"]);
    let deliveries = roster.cli_json(&["webhooks", "deliveries", "acme"]);
    let removed = roster.cli_json(&["webhooks", "remove", "acme", &id]);
    let after = roster.cli_json(&["webhooks", "list", "acme"]);

    assert_eq!(
        keys(&added),
        [
            "id",
            "account_sid",
            "url",
            "last_event_id",
            "date_created",
            "secret"
        ]
    );
    assert!(id.starts_with("wh_"), "{id}");
    let secret = added["secret"].as_str().unwrap();
    assert!(
        secret.starts_with("whsec_") && secret.len() == 70,
        "{secret}"
    );
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["url"], "http://127.0.0.1:9/hooks");
    assert!(!listed.to_string().contains(secret));
    assert_eq!(deliveries, json!([]));
    assert_eq!(removed, json!({ "webhook_id": id, "removed": true }));
    assert_eq!(after, json!([]));
    roster.cli_fails(&["webhooks", "add", "acme", "ftp://example.com"], "url");
    roster.cli_fails(&["webhooks", "remove", "acme", &id], &id);
    roster.cli_fails(&["webhooks", "list", "missing"], "missing");
}
