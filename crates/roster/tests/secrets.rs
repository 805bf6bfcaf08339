//! Secrets in the real binary's output and at rest. `roster serve` and the operator CLI run
//! with every log level on (`RUST_LOG=trace`), in both log formats, while clients send good,
//! wrong, revoked and misplaced API tokens, operator tokens and SIP passwords, and settings
//! with secrets fail at start. Then every byte the processes wrote is searched for each
//! secret (as sent, in its `Authorization` forms, base64, hex, percent-encoded), and so is
//! every value of every table and, for SQLite, the raw database files. What is stored of
//! tokens and passwords must be exactly the documented hashes. On a SQLite file and on a
//! PostgreSQL schema of its own in `TEST_DATABASE_URL`; every request goes to loopback.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code fails loudly on purpose"
)]

#[path = "../../roster-store/tests/support/mod.rs"]
#[allow(dead_code, reason = "the storage tests use the rest of it")]
mod store_support;

#[path = "support/process.rs"]
#[allow(dead_code, reason = "other test targets use the rest of it")]
mod process;

#[path = "support/serve.rs"]
#[allow(dead_code, reason = "other test targets use the rest of it")]
mod serve;

/// MD5 and SHA-256 written out in the tests, independent of the server's hashing crates.
#[path = "api/digests.rs"]
mod digests;

use std::net::TcpListener;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};
use serve::{cli_with_env, roster, Serve};
use store_support::{Backend, PostgresSchema};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_logs_or_is_stored_in_the_clear_on_sqlite() {
    let backend = Backend::Sqlite(tempfile::tempdir().unwrap());
    secrets_stay_secret(&backend, backend.url(), None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_logs_or_is_stored_in_the_clear_on_postgres() {
    let backend = Backend::Postgres(PostgresSchema::create().await);
    // The test server trusts loopback, so a password in the URL is sent to nobody; roster
    // must still keep it out of everything it writes.
    let (url, password) = with_password(&backend.url());
    secrets_stay_secret(&backend, url, Some(password)).await;
}

/// Everything secret the test used, and everything the processes wrote.
#[derive(Default)]
struct Evidence {
    /// (what, value): each must appear in no log and in no stored value.
    secrets: Vec<(String, String)>,
    /// API keys with their tokens, whose `Authorization: Basic` form must appear nowhere.
    pairs: Vec<(String, String)>,
    /// Stored by design, but never logged: SIP digests (password-equivalent) and the
    /// dashboard's CSRF tokens (which must be compared with what forms send back).
    digests: Vec<String>,
    /// Keys issued, with their tokens: what the database must hold hashes of.
    issued: Vec<(String, String)>,
    logs: String,
}

impl Evidence {
    fn secret(&mut self, what: &str, value: &str) {
        self.secrets.push((what.to_owned(), value.to_owned()));
    }
}

async fn secrets_stay_secret(backend: &Backend, database: String, db_password: Option<String>) {
    let mut evidence = Evidence::default();
    let pepper = format!("pepper-{}", random_hex(16));
    let operator = format!("operator-{}", random_hex(16));
    evidence.secret("token pepper", &pepper);
    evidence.secret("operator token", &operator);
    if let Some(password) = &db_password {
        evidence.secret("database password", password);
    }
    let env = [
        ("ROSTER_TOKEN_PEPPER", pepper.as_str()),
        ("ROSTER_OPERATOR_TOKEN", operator.as_str()),
        ("RUST_LOG", "trace"),
    ];

    let mut cli = |args: &[&str]| {
        let (stdout, stderr) = cli_with_env(&database, args, &env);
        evidence.logs.push_str(&stderr);
        stdout
    };
    cli(&["accounts", "create", "acme", "--voip", "true"]);
    let good = issued(&cli(&["keys", "create", "acme"]));
    let revoked = issued(&cli(&["keys", "create", "acme"]));
    cli(&["keys", "revoke", &revoked.0]);
    cli(&["keys", "list", "acme"]);
    for (key, token) in [&good, &revoked] {
        evidence.secret("API token", token);
        evidence.pairs.push((key.clone(), token.clone()));
        evidence.issued.push((key.clone(), token.clone()));
    }

    let mut stored = Vec::new();
    let mut requests = 0;
    for (run, format) in ["text", "json"].into_iter().enumerate() {
        let server = tokio::task::block_in_place(|| {
            Serve::start(&database, &["--log-format", format], &env)
        });
        let exercise = Exercise {
            server: &server,
            client: reqwest::Client::new(),
            good: &good,
            revoked: &revoked,
            operator: &operator,
            sent: AtomicUsize::new(0),
        };
        let (outcome, sent) = exercise.run(run, &mut evidence).await;
        stored.push(outcome);
        requests += sent;
        let (status, output) = tokio::task::block_in_place(|| server.terminate());
        assert!(status.success(), "{status}: {output}");
        let completed = output.matches("request completed").count();
        assert!(
            completed >= sent,
            "{format}: {completed} request lines for {sent} requests: {output}"
        );
        evidence.logs.push_str(&output);
    }
    failed_starts(&database, &db_password, &env, &mut evidence);

    assert_nothing_logged(&evidence);
    assert_nothing_stored_in_the_clear(backend, &evidence).await;
    assert_stored_as_documented(backend, &pepper, &evidence, &stored).await;
    eprintln!(
        "{}: {requests} requests, {} secrets, {} bytes of logs searched",
        backend.name(),
        evidence.secrets.len(),
        evidence.logs.len()
    );
}

/// One server run's requests.
struct Exercise<'a> {
    server: &'a Serve,
    client: reqwest::Client,
    good: &'a (String, String),
    revoked: &'a (String, String),
    operator: &'a str,
    /// Requests sent so far.
    sent: AtomicUsize,
}

/// What one run left stored: the softphone's user name and its password.
struct Stored {
    username: String,
    password: String,
}

const USERS: &str = "/v2/accounts/acme/users";
const ACCOUNTS: &str = "/operator/v1/accounts";

impl Exercise<'_> {
    /// Sends every kind of request that carries a secret; returns what it stored and how
    /// many requests it sent.
    async fn run(&self, run: usize, evidence: &mut Evidence) -> (Stored, usize) {
        let (user, softphone, username) = self.credentials(run, evidence).await;
        self.operator_side(evidence).await;
        let password = self
            .sip_passwords(run, &user, softphone, &username, evidence)
            .await;
        self.guesses(evidence).await;
        self.dashboard(evidence).await;
        (
            Stored { username, password },
            self.sent.load(Ordering::Relaxed),
        )
    }

    /// The dashboard: a wrong and a right sign-in, pages with the session cookie, a key
    /// created there (its token shown once), and a sign-out.
    async fn dashboard(&self, evidence: &mut Evidence) {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let (key, token) = self.good;
        let form = client.get(self.server.url("/signin")).send().await.unwrap();
        let form_cookie = cookie_pair(form.headers(), "roster_signin");
        let form_token = hidden_csrf(&form.text().await.unwrap());
        evidence.secret("sign-in form token", &form_token);
        let sign_in = |api_token: &str| {
            client
                .post(self.server.url("/signin"))
                .header("cookie", &form_cookie)
                .form(&[
                    ("api_key", key.as_str()),
                    ("api_token", api_token),
                    ("_csrf", &form_token),
                ])
        };
        let wrong = random_hex(32);
        evidence.secret("wrong token at the dashboard", &wrong);
        // 429 once the guesses above spent this address's budget of failures.
        let refused = sign_in(&wrong).send().await.unwrap().status().as_u16();
        assert!(matches!(refused, 401 | 429), "{refused}");
        let signed = sign_in(token).send().await.unwrap();
        assert_eq!(signed.status(), 303);
        let session = cookie_pair(signed.headers(), "roster_session");
        let (_, value) = session.split_once('=').unwrap();
        evidence.secret("dashboard session", value);
        let (_, session_token) = value.split_once('.').unwrap();
        evidence.secret("dashboard session token", session_token);

        let home = client
            .get(self.server.url("/"))
            .header("cookie", &session)
            .send()
            .await
            .unwrap();
        assert_eq!(home.status(), 200);
        let csrf = hidden_csrf(&home.text().await.unwrap());
        evidence.digests.push(csrf.clone());
        let created = client
            .post(self.server.url("/settings/keys"))
            .header("cookie", &session)
            .form(&[("_csrf", csrf.as_str())])
            .send()
            .await
            .unwrap();
        let page = created.text().await.unwrap();
        let shown = |id: &str| {
            let start = page.find(&format!("id=\"{id}\">")).unwrap() + id.len() + 6;
            page[start..].split('<').next().unwrap().to_owned()
        };
        let (new_key, new_token) = (shown("new-key"), shown("new-token"));
        evidence.secret("token issued by the dashboard", &new_token);
        evidence.pairs.push((new_key.clone(), new_token.clone()));
        evidence.issued.push((new_key, new_token));
        let out = client
            .post(self.server.url("/signout"))
            .header("cookie", &session)
            .form(&[("_csrf", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(out.status(), 303);
        self.sent.fetch_add(6, Ordering::Relaxed);
    }

    /// Good credentials, in the header and in the URL; wrong, misplaced and revoked ones.
    /// Returns the user created, its softphone and the softphone's user name.
    async fn credentials(&self, run: usize, evidence: &mut Evidence) -> (String, u64, String) {
        let (key, token) = self.good;
        let user = json!({"first_name": "Asha", "last_name": "Rao",
            "email": format!("asha{run}@example.com"),
            "device_contact_uri": format!("+91981234567{run}")});
        let created = self
            .basic(reqwest::Method::POST, USERS, self.good)
            .json(&user);
        let created = self.expect(created, 200).await;
        let data = &created["response"]["data"];
        let id = data["id"].as_str().unwrap().to_owned();
        let devices = data["devices"].as_array().unwrap();
        let sip = devices.iter().find(|d| d["type"] == "sip").unwrap();
        let username = sip["contact_uri"].as_str().unwrap()[4..].to_owned();
        let in_url = format!("http://{key}:{token}@{}{USERS}/{id}", self.server.address);
        self.expect(self.client.get(in_url), 200).await;

        let wrong = random_hex(32);
        evidence.secret("wrong API token", &wrong);
        evidence.pairs.push((key.clone(), wrong.clone()));
        let unknown_key = random_hex(20);
        evidence.pairs.push((unknown_key.clone(), token.clone()));
        let get = reqwest::Method::GET;
        for (request, status) in [
            (
                self.basic(get.clone(), USERS, &(key.clone(), wrong.clone())),
                401,
            ),
            (
                self.basic(get.clone(), USERS, &(unknown_key, token.clone())),
                401,
            ),
            (self.basic(get, USERS, self.revoked), 401),
            (
                self.client.get(self.server.url(USERS)).bearer_auth(token),
                401,
            ),
            // A token sent where a name goes is refused without being quoted anywhere.
            (
                self.basic(reqwest::Method::POST, USERS, self.good)
                    .json(&json!({"first_name": token, "last_name": wrong})),
                400,
            ),
        ] {
            self.expect(request, status).await;
        }
        (id, sip["id"].as_u64().unwrap(), username)
    }

    /// The operator's token, right and wrong, and a key issued over HTTP and used.
    async fn operator_side(&self, evidence: &mut Evidence) {
        let wrong_operator = format!("operator-{}", random_hex(16));
        evidence.secret("wrong operator token", &wrong_operator);
        let get = reqwest::Method::GET;
        let right = self.operator(get.clone(), ACCOUNTS, self.operator);
        self.expect(right, 200).await;
        let wrong = self.operator(get.clone(), ACCOUNTS, &wrong_operator);
        self.expect(wrong, 401).await;
        let keys = format!("{ACCOUNTS}/acme/keys");
        let issued = self.operator(reqwest::Method::POST, &keys, self.operator);
        let issued = self.expect(issued, 200).await;
        let data = &issued["response"]["data"];
        let http_key = (
            data["api_key"].as_str().unwrap().to_owned(),
            data["api_token"].as_str().unwrap().to_owned(),
        );
        evidence.secret("API token issued over HTTP", &http_key.1);
        evidence.pairs.push(http_key.clone());
        evidence.issued.push(http_key.clone());
        self.expect(self.basic(get, USERS, &http_key), 200).await;
    }

    /// A weak SIP password, one with a control character, a good one; then the digests a
    /// registrar reads. Returns the good password.
    async fn sip_passwords(
        &self,
        run: usize,
        user: &str,
        softphone: u64,
        username: &str,
        evidence: &mut Evidence,
    ) -> String {
        let password = format!("Sip-Secret-{run}-{}", random_hex(4));
        let weak = format!("weakpassword{}", random_hex(4).to_lowercase());
        let control = format!("Ctrl-\u{7}Secret-{}", random_hex(4));
        let path = format!("{USERS}/{user}/devices/{softphone}/password");
        for (value, status) in [(&weak, 400), (&control, 400), (&password, 200)] {
            evidence.secret("SIP password", value);
            let request = self
                .basic(reqwest::Method::PUT, &path, self.good)
                .json(&json!({"password": value}));
            self.expect(request, status).await;
        }
        let path = format!("{ACCOUNTS}/acme/sip-credentials/{username}");
        let credentials = self.operator(reqwest::Method::GET, &path, self.operator);
        let credentials = self.expect(credentials, 200).await;
        for digest in ["ha1_md5", "ha1_sha256"] {
            let value = credentials["response"]["data"][digest].as_str().unwrap();
            evidence.digests.push(value.to_owned());
        }
        password
    }

    /// Guesses tokens until the address is refused.
    async fn guesses(&self, evidence: &mut Evidence) {
        let mut limited = false;
        for _ in 0..40 {
            let guess = (self.good.0.clone(), random_hex(32));
            evidence.pairs.push(guess.clone());
            let request = self.basic(reqwest::Method::GET, USERS, &guess);
            let status = request.send().await.unwrap().status();
            self.sent.fetch_add(1, Ordering::Relaxed);
            limited |= status == 429;
        }
        assert!(limited, "40 guesses were never limited");
    }

    fn basic(
        &self,
        method: reqwest::Method,
        path: &str,
        (key, token): &(String, String),
    ) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.server.url(path))
            .basic_auth(key, Some(token))
    }

    fn operator(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
    ) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.server.url(path))
            .bearer_auth(token)
    }

    /// Sends `request`, checks its status, and returns its body.
    async fn expect(&self, request: reqwest::RequestBuilder, status: u16) -> Value {
        let response = request.send().await.unwrap();
        self.sent.fetch_add(1, Ordering::Relaxed);
        let got = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        assert_eq!(got, status, "{body}");
        body
    }
}

/// `name=value` of the cookie `name` a response sets.
fn cookie_pair(headers: &reqwest::header::HeaderMap, name: &str) -> String {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|c| c.split(';').next().unwrap().to_owned())
        .find(|pair| pair.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no cookie {name}"))
}

/// The CSRF token a dashboard page's forms carry.
fn hidden_csrf(page: &str) -> String {
    let marker = "name=\"_csrf\" value=\"";
    let start = page.find(marker).unwrap() + marker.len();
    page[start..].split('"').next().unwrap().to_owned()
}

/// Settings that hold secrets but stop the server from starting: the error must name
/// the setting, not quote it.
fn failed_starts(
    database: &str,
    db_password: &Option<String>,
    env: &[(&str, &str)],
    evidence: &mut Evidence,
) {
    let short_operator = format!("op{}", random_hex(6));
    let short_pepper = format!("pe{}", random_hex(6));
    evidence.secret("short operator token", &short_operator);
    evidence.secret("short token pepper", &short_pepper);
    let mut attempts: Vec<(Command, &str)> = Vec::new();
    for (name, value, setting) in [
        ("ROSTER_OPERATOR_TOKEN", &short_operator, "operator_token"),
        ("ROSTER_TOKEN_PEPPER", &short_pepper, "token_pepper"),
    ] {
        let mut command = roster(database);
        command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .envs(env.iter().copied());
        command.env(name, value);
        attempts.push((command, setting));
    }

    // A database that hangs up at once, with a password in its URL.
    let mut hanging_up = None;
    let done = Arc::new(AtomicBool::new(false));
    if let Some(password) = db_password {
        let done = done.clone();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        hanging_up = Some(std::thread::spawn(move || {
            let until = Instant::now() + Duration::from_secs(60);
            while Instant::now() < until && !done.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => drop(stream),
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        }));
        let url = format!("postgres://postgres:{password}@127.0.0.1:{port}/test");
        let mut command = roster(&url);
        command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .envs(env.iter().copied());
        attempts.push((command, "PostgreSQL"));
    }

    for (command, named) in attempts {
        let output = process::run(command, Duration::from_secs(30));
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(!output.status.success(), "started anyway: {text}");
        assert!(text.contains(named), "{named} not named: {text}");
        evidence.logs.push_str(&text);
    }
    done.store(true, Ordering::Relaxed);
    if let Some(thread) = hanging_up {
        thread.join().unwrap();
    }
}

// ---------------------------------------------------------------------------------------
// The searches
// ---------------------------------------------------------------------------------------

/// The ways a secret could show up in text: as sent, base64 (standard and URL-safe),
/// hex, and percent-encoded.
fn forms(secret: &str) -> Vec<String> {
    let bytes = secret.as_bytes();
    let mut forms = vec![
        secret.to_owned(),
        base64::engine::general_purpose::STANDARD.encode(bytes),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
        bytes.iter().map(|b| format!("{b:02x}")).collect(),
        bytes
            .iter()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    char::from(*b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect(),
    ];
    // A log line escapes control characters; the rest of the secret is just as telling.
    forms.extend(
        secret
            .split(char::is_control)
            .filter(|part| part.len() >= 8)
            .map(str::to_owned),
    );
    forms.sort();
    forms.dedup();
    forms
}

fn assert_nothing_logged(evidence: &Evidence) {
    let logs = &evidence.logs;
    assert!(logs.contains("roster is serving"), "no server log: {logs}");
    for (what, secret) in &evidence.secrets {
        for form in forms(secret) {
            assert!(
                !logs.contains(&form),
                "the {what} is in the logs as {form:?}"
            );
        }
    }
    for (key, token) in &evidence.pairs {
        let basic = format!("{key}:{token}");
        for form in forms(&basic) {
            assert!(
                !logs.contains(&form),
                "credentials are in the logs as {form:?}"
            );
        }
    }
    for digest in &evidence.digests {
        assert!(
            !logs.contains(digest),
            "a SIP digest or CSRF token is in the logs"
        );
    }
}

async fn assert_nothing_stored_in_the_clear(backend: &Backend, evidence: &Evidence) {
    let mut stored = backend.dump().await.into_bytes();
    if let Backend::Sqlite(dir) = backend {
        // The raw files too: pages and WAL frames can hold bytes no table shows any more.
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            stored.extend(std::fs::read(entry.unwrap().path()).unwrap());
        }
    }
    assert!(
        contains(&stored, b"acme") && contains(&stored, b"roster"),
        "nothing was read from storage"
    );
    for (what, secret) in &evidence.secrets {
        for form in forms(secret) {
            assert!(
                !contains(&stored, form.as_bytes()),
                "the {what} is stored as {form:?}"
            );
        }
    }
}

/// Tokens are kept only as HMAC-SHA256(pepper, token) and SIP passwords only as the two
/// HA1 digests (docs/api.md).
async fn assert_stored_as_documented(
    backend: &Backend,
    pepper: &str,
    evidence: &Evidence,
    runs: &[Stored],
) {
    let hex = match backend.name() {
        "postgres" => "encode(token_hash, 'hex')",
        _ => "lower(hex(token_hash))",
    };
    assert_eq!(
        evidence.issued.len(),
        6,
        "two keys from the CLI, one per run over HTTP, one per run from the dashboard"
    );
    for (key, token) in &evidence.issued {
        let stored = backend
            .strings(&format!("SELECT {hex} FROM api_keys WHERE key = '{key}'"))
            .await;
        assert_eq!(
            stored,
            [hmac_sha256_hex(pepper.as_bytes(), token.as_bytes())],
            "{key}"
        );
    }
    let peppers = backend
        .strings("SELECT count(*) FROM roster_secrets WHERE name = 'token_pepper'")
        .await;
    assert_eq!(peppers, ["0"], "a pepper set in the environment was stored");

    for run in runs {
        let stored = backend
            .strings(&format!(
                "SELECT realm || ' ' || ha1_md5 || ' ' || ha1_sha256 FROM sip_credentials \
                 WHERE username = '{}'",
                run.username
            ))
            .await;
        let secret = format!("{}:roster:{}", run.username, run.password);
        let expected = format!(
            "roster {} {}",
            digests::md5_hex(secret.as_bytes()),
            digests::sha256_hex(secret.as_bytes())
        );
        assert_eq!(stored, [expected], "{}", run.username);
    }
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn issued(printed: &str) -> (String, String) {
    let issued: Value = serde_json::from_str(printed).unwrap();
    (
        issued["api_key"].as_str().unwrap().to_owned(),
        issued["api_token"].as_str().unwrap().to_owned(),
    )
}

/// `bytes` random bytes as hex (from v4 UUIDs, which the test crates already have).
fn random_hex(bytes: usize) -> String {
    let mut text = String::new();
    while text.len() < 2 * bytes {
        text.push_str(&uuid::Uuid::new_v4().simple().to_string());
    }
    text.truncate(2 * bytes);
    text
}

/// `url` with a password for its user (one of its own when it already has one).
fn with_password(url: &str) -> (String, String) {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (userinfo, host) = rest.split_once('@').expect("a user in TEST_DATABASE_URL");
    if let Some((_, password)) = userinfo.split_once(':') {
        return (url.to_owned(), password.to_owned());
    }
    let password = format!("dbpass{}", random_hex(8));
    (format!("{scheme}://{userinfo}:{password}@{host}"), password)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// HMAC (RFC 2104) over the tests' own SHA-256, as hex.
fn hmac_sha256_hex(key: &[u8], message: &[u8]) -> String {
    let sha256 = |data: &[u8]| -> Vec<u8> {
        let hex = digests::sha256_hex(data);
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect()
    };
    let mut block = if key.len() > 64 {
        sha256(key)
    } else {
        key.to_vec()
    };
    block.resize(64, 0);
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = sha256(&[pad(0x36), message.to_vec()].concat());
    digests::sha256_hex(&[pad(0x5c), inner].concat())
}
