//! Crash safety: `roster serve` is killed with SIGKILL in the middle of a burst of
//! concurrent writes and restarted on the same storage, three times over. Every write it
//! answered 200 is there, whole; a write that got no answer is there whole or not at all;
//! no user exists without the device its create made, no device without its user, and
//! nothing is there twice. On a SQLite file and on a PostgreSQL schema of its own in
//! `TEST_DATABASE_URL`. Every request goes to loopback; every wait is bounded.

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

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use serve::{cli, Serve};
use store_support::{Backend, PostgresSchema};

const SID: &str = "crashco";
/// Clients writing at once.
const CLIENTS: usize = 16;
/// Kills, each followed by a restart on the same storage.
const ROUNDS: usize = 3;
/// Creates answered 200 in a round before its kill; it varies so the kill lands at
/// different points.
const CREATES_BEFORE_KILL: [usize; ROUNDS] = [150, 300, 220];
/// Longest a round may take to get there.
const ROUND_LIMIT: Duration = Duration::from_secs(60);
/// Longest one request may take; a request to a killed server fails well before.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_amid_writes_on_sqlite_loses_no_answered_write_and_leaves_none_half_done() {
    let backend = Backend::Sqlite(tempfile::tempdir().unwrap());
    crash_and_check(&backend).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_amid_writes_on_postgres_loses_no_answered_write_and_leaves_none_half_done() {
    let backend = Backend::Postgres(PostgresSchema::create().await);
    crash_and_check(&backend).await;
}

async fn crash_and_check(backend: &Backend) {
    let database = backend.url();
    cli(
        &database,
        &["accounts", "create", SID, "--rate-limit", "1000000"],
    );
    let (issued, _) = cli(&database, &["keys", "create", SID]);
    let issued: Value = serde_json::from_str(&issued).unwrap();
    let credentials = Arc::new((
        issued["api_key"].as_str().unwrap().to_owned(),
        issued["api_token"].as_str().unwrap().to_owned(),
    ));
    let client = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .unwrap();
    let ledger = Arc::new(Ledger::default());
    let next = Arc::new(AtomicUsize::new(0));

    for (round, target) in CREATES_BEFORE_KILL.into_iter().enumerate() {
        let mut server = tokio::task::block_in_place(|| Serve::start(&database, &[], &[]));
        if round > 0 {
            check(backend, &ledger, &server, &client, &credentials).await;
        }
        let answered_before = ledger.created.load(Ordering::SeqCst);
        let writers: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let writer = Writer {
                    client: client.clone(),
                    base: server.url(&format!("/v2/accounts/{SID}/users")),
                    credentials: credentials.clone(),
                    next: next.clone(),
                    ledger: ledger.clone(),
                };
                tokio::spawn(writer.write_until_cut_off())
            })
            .collect();

        let started = Instant::now();
        while ledger.created.load(Ordering::SeqCst) < answered_before + target {
            assert!(
                started.elapsed() < ROUND_LIMIT,
                "round {round}: only {} creates answered in {ROUND_LIMIT:?}; refused: {:?}",
                ledger.created.load(Ordering::SeqCst) - answered_before,
                ledger.refused.lock().unwrap()
            );
            assert!(
                writers.iter().any(|w| !w.is_finished()),
                "every writer stopped early: {:?}",
                ledger.refused.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        server.kill();
        for writer in writers {
            writer.await.unwrap();
        }
        assert!(
            ledger.refused.lock().unwrap().is_empty(),
            "answers other than 200: {:?}",
            ledger.refused.lock().unwrap()
        );
    }

    let server = tokio::task::block_in_place(|| Serve::start(&database, &[], &[]));
    let report = check(backend, &ledger, &server, &client, &credentials).await;
    eprintln!("{}: {report}", backend.name());

    // And it serves as before: a new user, with its phone, at once.
    let n = next.fetch_add(1, Ordering::SeqCst);
    let (status, created) = send(
        client
            .post(server.url(&format!("/v2/accounts/{SID}/users")))
            .basic_auth(&credentials.0, Some(&credentials.1))
            .json(&new_user(n)),
    )
    .await
    .expect("an answer after the restart");
    assert_eq!(status, 200, "{created}");
    assert_eq!(
        created["response"]["data"]["devices"][0]["contact_uri"],
        phone(n)
    );
}

// ---------------------------------------------------------------------------------------
// What the clients were told
// ---------------------------------------------------------------------------------------

/// A user as storage may hold it: absent, or present with exactly these device numbers.
type State = Option<BTreeSet<String>>;

/// What the answers allow storage to hold for one user (by email).
#[derive(Debug)]
struct Expected {
    /// The id the create was answered with; `None` when it got no answer.
    id: Option<String>,
    /// Every state storage may be in, given the answers.
    allowed: Vec<State>,
}

#[derive(Default)]
struct Ledger {
    users: Mutex<BTreeMap<String, Expected>>,
    /// Creates answered 200, over all rounds.
    created: AtomicUsize,
    /// Requests answered other than 200, which none of them should be.
    refused: Mutex<Vec<String>>,
}

impl Ledger {
    fn expect(&self, email: &str, id: Option<&str>, allowed: Vec<State>) {
        let mut users = self.users.lock().unwrap();
        let entry = users.entry(email.to_owned()).or_insert(Expected {
            id: None,
            allowed: Vec::new(),
        });
        if let Some(id) = id {
            entry.id = Some(id.to_owned());
        }
        entry.allowed = allowed;
    }
}

fn numbers(of: &[&str]) -> State {
    Some(of.iter().map(|n| (*n).to_owned()).collect())
}

fn new_user(n: usize) -> Value {
    json!({
        "first_name": "Crash",
        "last_name": "Test",
        "email": format!("crash{n}@example.com"),
        "device_contact_uri": phone(n),
    })
}

fn phone(n: usize) -> String {
    format!("+9199{n:08}")
}

/// One client: creates users one after another, and changes some of them, until a request
/// gets no answer (the server was killed) or an answer other than 200.
struct Writer {
    client: reqwest::Client,
    base: String,
    credentials: Arc<(String, String)>,
    next: Arc<AtomicUsize>,
    ledger: Arc<Ledger>,
}

impl Writer {
    async fn write_until_cut_off(self) {
        while self.write_one().await.is_some() {}
    }

    /// One user's create and follow-up; `None` once it is time to stop.
    async fn write_one(&self) -> Option<()> {
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        let email = format!("crash{n}@example.com");
        let first = phone(n);
        let Some(created) = self
            .call(reqwest::Method::POST, "", Some(new_user(n)))
            .await
        else {
            self.ledger
                .expect(&email, None, vec![None, numbers(&[&first])]);
            return None;
        };
        let data = &created?["response"]["data"];
        let id = data["id"].as_str().unwrap().to_owned();
        let device = data["devices"][0]["id"].as_u64().unwrap();
        self.ledger
            .expect(&email, Some(&id), vec![numbers(&[&first])]);
        self.ledger.created.fetch_add(1, Ordering::SeqCst);

        let user = format!("/{id}");
        match n % 4 {
            // A new number for the phone.
            1 => {
                let second = format!("+9188{n:08}");
                let body = json!({"contact_uri": second});
                let path = format!("{user}/devices/{device}");
                let answer = self.call(reqwest::Method::PUT, &path, Some(body)).await;
                self.settle(&email, answer, numbers(&[&second]), numbers(&[&first]))?;
            }
            // A second device, then its removal.
            2 => {
                let second = format!("+9177{n:08}");
                let body = json!({"contact_uri": second});
                let path = format!("{user}/devices");
                let answer = self.call(reqwest::Method::POST, &path, Some(body)).await;
                let both = numbers(&[&first, &second]);
                let added = self.settle(&email, answer, both.clone(), numbers(&[&first]))?;
                let added = added["response"]["data"]["id"].as_u64().unwrap();
                let path = format!("{user}/devices/{added}");
                let answer = self.call(reqwest::Method::DELETE, &path, None).await;
                self.settle(&email, answer, numbers(&[&first]), both)?;
            }
            // The user's removal.
            3 => {
                let answer = self.call(reqwest::Method::DELETE, &user, None).await;
                self.settle(&email, answer, None, numbers(&[&first]))?;
            }
            _ => {}
        }
        Some(())
    }

    /// Records what a change's answer allows: `after` when it was answered 200, `before`
    /// or `after` when it got no answer. Returns the answer when there is one to go on with.
    fn settle(
        &self,
        email: &str,
        answer: Option<Option<Value>>,
        after: State,
        before: State,
    ) -> Option<Value> {
        match answer {
            Some(Some(body)) => {
                self.ledger.expect(email, None, vec![after]);
                Some(body)
            }
            Some(None) => None,
            None => {
                self.ledger.expect(email, None, vec![before, after]);
                None
            }
        }
    }

    /// `None`: no answer. `Some(None)`: an answer other than 200, recorded as refused.
    /// `Some(Some(body))`: 200.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Option<Option<Value>> {
        let mut request = self
            .client
            .request(method.clone(), format!("{}{path}", self.base))
            .basic_auth(&self.credentials.0, Some(&self.credentials.1));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let (status, body) = send(request).await?;
        if status == 200 {
            return Some(Some(body));
        }
        self.ledger
            .refused
            .lock()
            .unwrap()
            .push(format!("{method} {path}: {status} {body}"));
        Some(None)
    }
}

/// The status and JSON body, or `None` when no whole answer came.
async fn send(request: reqwest::RequestBuilder) -> Option<(u16, Value)> {
    let response = request.send().await.ok()?;
    let status = response.status().as_u16();
    let bytes = response.bytes().await.ok()?;
    Some((status, serde_json::from_slice(&bytes).ok()?))
}

// ---------------------------------------------------------------------------------------
// What storage holds
// ---------------------------------------------------------------------------------------

/// A user as stored: its id and its devices' numbers.
type Stored = BTreeMap<String, (String, BTreeSet<String>)>;

/// Checks storage, read directly and through the restarted server, against the ledger.
async fn check(
    backend: &Backend,
    ledger: &Ledger,
    server: &Serve,
    client: &reqwest::Client,
    credentials: &(String, String),
) -> String {
    let stored = read_storage(backend).await;
    let orphans = backend
        .strings(&format!(
            "SELECT count(*) FROM devices d WHERE d.account_sid = '{SID}' AND NOT EXISTS \
             (SELECT 1 FROM users u WHERE u.account_sid = d.account_sid AND u.id = d.user_id)"
        ))
        .await;
    assert_eq!(orphans, ["0"], "devices without their user");
    let rows = backend
        .strings(&format!(
            "SELECT count(*) FROM users WHERE account_sid = '{SID}'"
        ))
        .await;
    assert_eq!(rows, [stored.len().to_string()], "a user stored twice");

    let (landed_unanswered, uncertain) = {
        let users = ledger.users.lock().unwrap();
        let mut landed_unanswered = 0;
        for (email, (id, numbers)) in &stored {
            let expected = users
                .get(email)
                .unwrap_or_else(|| panic!("{email} is stored but was never sent"));
            assert!(
                expected.allowed.contains(&Some(numbers.clone())),
                "{email} is stored with {numbers:?}; its answers allow {:?}",
                expected.allowed
            );
            match &expected.id {
                Some(answered) => assert_eq!(answered, id, "{email}"),
                None => landed_unanswered += 1,
            }
        }
        let mut uncertain = 0;
        for (email, expected) in users.iter() {
            if expected.allowed.len() > 1 {
                uncertain += 1;
            }
            if !expected.allowed.contains(&None) {
                assert!(
                    stored.contains_key(email),
                    "{email} was answered 200 but is gone"
                );
            }
        }
        (landed_unanswered, uncertain)
    };

    let listed = list_through_api(server, client, credentials).await;
    assert_eq!(listed, stored, "the API and storage disagree");
    format!(
        "{} creates answered 200, {} users stored, {uncertain} requests without an answer \
         ({landed_unanswered} unanswered creates had landed, whole)",
        ledger.created.load(Ordering::SeqCst),
        stored.len()
    )
}

async fn read_storage(backend: &Backend) -> Stored {
    let rows = backend
        .strings(&format!(
            "SELECT u.email || '|' || u.id || '|' || COALESCE(d.contact_uri, '') \
             FROM users u LEFT JOIN devices d ON d.account_sid = u.account_sid AND d.user_id = u.id \
             WHERE u.account_sid = '{SID}'"
        ))
        .await;
    let mut stored = Stored::new();
    for row in rows {
        let mut fields = row.split('|');
        let (email, id, contact) = (
            fields.next().unwrap(),
            fields.next().unwrap(),
            fields.next().unwrap(),
        );
        let entry = stored
            .entry(email.to_owned())
            .or_insert_with(|| (id.to_owned(), BTreeSet::new()));
        assert_eq!(entry.0, id, "{email} stored under two ids");
        if !contact.is_empty() {
            assert!(entry.1.insert(contact.to_owned()), "{contact} twice");
        }
    }
    stored
}

async fn list_through_api(
    server: &Serve,
    client: &reqwest::Client,
    credentials: &(String, String),
) -> Stored {
    let mut listed = Stored::new();
    let mut offset = 0;
    loop {
        let url = server.url(&format!(
            "/v2/accounts/{SID}/users?fields=devices&limit=50&offset={offset}"
        ));
        let (status, page) = send(
            client
                .get(url)
                .basic_auth(&credentials.0, Some(&credentials.1)),
        )
        .await
        .expect("an answer from the restarted server");
        assert_eq!(status, 200, "{page}");
        let items = page["response"].as_array().unwrap();
        if items.is_empty() {
            break;
        }
        for item in items {
            let user = &item["data"];
            let numbers = user["devices"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["contact_uri"].as_str().unwrap().to_owned())
                .collect();
            let email = user["email"].as_str().unwrap().to_owned();
            let id = user["id"].as_str().unwrap().to_owned();
            assert!(
                listed.insert(email, (id, numbers)).is_none(),
                "listed twice"
            );
        }
        offset += items.len();
    }
    listed
}
