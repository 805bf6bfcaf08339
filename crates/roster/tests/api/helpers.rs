//! `TestApp`: a running server with two ready accounts, a controllable clock, captured
//! logs, and assertions for the Exotel envelope.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};

use crate::store_support::Backend;
use jiff::Timestamp;
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use roster::config::{Database, LogFormat, Settings};
use roster::startup::{self, Server};
use roster_domain::{AccountSettings, ManualClock, NamePolicy, RegionName};
use roster_service::Directory;
use serde_json::{json, Value};

/// The moment every test starts at: the seed page's example, 18:27:24 in Kolkata.
pub const START: &str = "2021-07-26T12:57:24Z";

/// The operator token every test server is configured with.
pub const OPERATOR_TOKEN: &str = "operator-token-for-tests";

/// An account's sid with a key and token for it.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub sid: String,
    pub key: String,
    pub token: String,
}

impl Credentials {
    /// The `Authorization` header value, for requests written by hand.
    pub fn basic_header(&self) -> String {
        use base64::Engine;
        let pair = format!("{}:{}", self.key, self.token);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    }
}

pub struct TestApp {
    pub address: SocketAddr,
    pub directory: Arc<Directory>,
    pub clock: Arc<ManualClock>,
    /// The database this server uses, with raw access for checks beside the API.
    pub backend: Backend,
    pub database: Database,
    pub acme: Credentials,
    pub globex: Credentials,
    client: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_in_region("local").await
    }

    pub async fn spawn_in_region(region: &str) -> Self {
        capture_logs();
        let backend = Backend::from_env().await;
        let database = roster::config::parse_database(&backend.url()).unwrap();
        let settings = Settings {
            listen: "127.0.0.1:0".parse().unwrap(),
            database: database.clone(),
            region: RegionName::parse(region).unwrap(),
            log_format: LogFormat::Text,
            token_pepper: None,
            names: NamePolicy::Exotel,
            auth_failures_per_minute: 30,
            sip_realm: "roster".to_owned(),
            operator_token: Some(OPERATOR_TOKEN.to_owned()),
            redis_url: None,
            tls: None,
            event_retention_hours: 24,
            webhook_retry_seconds: 3,
        };
        let clock = Arc::new(ManualClock::new(START.parse().unwrap()));
        let store = startup::open_store(&settings.database).await.unwrap();
        let directory = startup::open_directory(&settings, store, clock.clone())
            .await
            .unwrap();
        let server = Server::bind(&settings, directory.clone()).await.unwrap();
        let address = server.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(server.run_until(async move {
            let _ = stopped.await;
        }));

        let acme = issue(&directory, "acme", AccountSettings::default()).await;
        let globex = issue(&directory, "globex", AccountSettings::default()).await;
        let client = reqwest::Client::builder().build().unwrap();
        Self {
            address,
            directory,
            clock,
            backend,
            database,
            acme,
            globex,
            client,
            stop: Some(stop),
        }
    }

    /// Creates another account with `settings` and a key for it.
    pub async fn account(&self, sid: &str, settings: AccountSettings) -> Credentials {
        issue(&self.directory, sid, settings).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub async fn get(&self, who: &Credentials, path: &str) -> Answer {
        let request = self
            .client
            .get(self.url(path))
            .basic_auth(&who.key, Some(&who.token));
        Answer::read(request.send().await.unwrap()).await
    }

    pub async fn post(&self, who: &Credentials, path: &str, body: &Value) -> Answer {
        let request = self
            .client
            .post(self.url(path))
            .basic_auth(&who.key, Some(&who.token))
            .header("content-type", "application/json")
            .body(body.to_string());
        Answer::read(request.send().await.unwrap()).await
    }

    /// Sends anything: for requests the helpers above would make too well-formed.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        Answer::read(request.send().await.unwrap()).await
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Creates a user in `who`'s account and returns its `data`.
    pub async fn create_user(&self, who: &Credentials, body: Value) -> Value {
        let answer = self
            .post(who, &format!("/v2/accounts/{}/users", who.sid), &body)
            .await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "create failed: {}",
            answer.body
        );
        answer.body["response"]["data"].clone()
    }

    /// A valid create body; `n` keeps numbers and emails apart.
    pub fn new_user(n: u32) -> Value {
        json!({
            "first_name": "Asha",
            "last_name": "Rao",
            "email": format!("asha{n}@example.com"),
            "device_contact_uri": format!("+9198123{n:05}"),
        })
    }

    pub fn now(&self) -> Timestamp {
        use roster_domain::Clock;
        self.clock.now()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn issue(directory: &Directory, sid: &str, settings: AccountSettings) -> Credentials {
    directory.create_account(sid, settings).await.unwrap();
    let issued = directory.issue_key(sid).await.unwrap();
    Credentials {
        sid: sid.to_owned(),
        key: issued.key.id.to_string(),
        token: issued.token.expose().to_owned(),
    }
}

/// A response, with its body parsed (keys kept in the order they were sent).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    async fn read(response: reqwest::Response) -> Self {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text:?}"));
        Self {
            status,
            headers,
            body,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    /// Checks the whole error envelope: statuses agree, the Exotel code, a fresh request
    /// id that matches its header, `status: failure` and `data: null`.
    pub fn assert_error(&self, http: u16, code: Option<u64>) {
        assert_eq!(self.status.as_u16(), http, "{}", self.body);
        self.assert_envelope();
        let response = &self.body["response"];
        assert_eq!(keys(response), ["code", "error_data", "status", "data"]);
        assert_eq!(response["code"], http);
        assert_eq!(response["status"], "failure");
        assert_eq!(response["data"], Value::Null);
        let error = &response["error_data"];
        assert_eq!(keys(error), ["code", "message", "description"]);
        assert_eq!(error["code"].as_u64(), code, "{}", self.body);
        assert!(!error["message"].as_str().unwrap().is_empty());
        assert!(!error["description"].as_str().unwrap().is_empty());
    }

    /// Checks the envelope of a single-record success and returns its `data`.
    pub fn assert_success(&self) -> &Value {
        assert_eq!(self.status, StatusCode::OK, "{}", self.body);
        self.assert_envelope();
        let response = &self.body["response"];
        assert_eq!(keys(response), ["code", "error_data", "status", "data"]);
        assert_eq!(response["code"], 200);
        assert_eq!(response["error_data"], Value::Null);
        assert_eq!(response["status"], "success");
        &response["data"]
    }

    fn assert_envelope(&self) {
        assert_eq!(
            keys(&self.body),
            ["request_id", "method", "http_code", "response"]
        );
        let id = self.body["request_id"].as_str().unwrap();
        assert!(
            id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
            "{id}"
        );
        assert_eq!(self.header("x-request-id"), Some(id));
        assert_eq!(self.body["http_code"], self.status.as_u16());
        assert_eq!(self.header("content-type"), Some("application/json"));
    }

    pub fn description(&self) -> &str {
        self.body["response"]["error_data"]["description"]
            .as_str()
            .unwrap_or_default()
    }
}

/// An object's keys in the order they were sent.
pub fn keys(value: &Value) -> Vec<&str> {
    value
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect()
}

/// Every log line written by every server in this test binary.
pub fn logs() -> String {
    let buffer = LOGS.get().expect("logs are captured").lock().unwrap();
    String::from_utf8_lossy(&buffer).into_owned()
}

static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

fn capture_logs() {
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        let _ = tracing_subscriber::fmt()
            .with_env_filter("info")
            .with_ansi(false)
            .with_writer(move || LogWriter(sink.clone()))
            .try_init();
        buffer
    });
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// Requests, accounts and list checks for the list, update, delete and device endpoints.

impl TestApp {
    pub async fn put(&self, who: &Credentials, path: &str, body: &Value) -> Answer {
        let request = self
            .client
            .put(self.url(path))
            .basic_auth(&who.key, Some(&who.token))
            .header("content-type", "application/json")
            .body(body.to_string());
        self.send(request).await
    }

    pub async fn delete(&self, who: &Credentials, path: &str) -> Answer {
        let request = self
            .client
            .delete(self.url(path))
            .basic_auth(&who.key, Some(&who.token));
        self.send(request).await
    }

    /// Another account whose budget big scenarios cannot exhaust.
    pub async fn roomy_account(&self, sid: &str) -> Credentials {
        let settings = AccountSettings {
            rate_limit: Some(roster_domain::RateLimit::new(100_000).unwrap()),
            ..Default::default()
        };
        self.account(sid, settings).await
    }

    /// Another account with VOIP enabled, so its users get a softphone.
    pub async fn voip_account(&self, sid: &str) -> Credentials {
        let settings = AccountSettings {
            voip_enabled: Some(true),
            rate_limit: Some(roster_domain::RateLimit::new(100_000).unwrap()),
            ..Default::default()
        };
        self.account(sid, settings).await
    }

    /// Starts a second server over the same database file, as another node of the same
    /// deployment would be, and returns its base URL (`http://127.0.0.1:port`).
    pub async fn second_node(&self) -> String {
        let settings = Settings {
            listen: "127.0.0.1:0".parse().unwrap(),
            database: self.database.clone(),
            region: RegionName::parse("local").unwrap(),
            log_format: LogFormat::Text,
            token_pepper: None,
            names: NamePolicy::Exotel,
            auth_failures_per_minute: 30,
            sip_realm: "roster".to_owned(),
            operator_token: Some(OPERATOR_TOKEN.to_owned()),
            redis_url: None,
            tls: None,
            event_retention_hours: 24,
            webhook_retry_seconds: 3,
        };
        let store = startup::open_store(&settings.database).await.unwrap();
        let directory = startup::open_directory(&settings, store, self.clock.clone())
            .await
            .unwrap();
        let server = Server::bind(&settings, directory).await.unwrap();
        let address = server.local_addr().unwrap();
        tokio::spawn(server.run_until(std::future::pending()));
        format!("http://{address}")
    }
}

/// A created user's id.
pub fn user_id(user: &Value) -> String {
    user["id"].as_str().expect("a user id").to_owned()
}

/// The id of a created user's device at `index` (devices are ordered by id).
pub fn device_id(user: &Value, index: usize) -> u64 {
    user["devices"][index]["id"].as_u64().expect("a device id")
}

/// The id of a created user's device of type `kind` (`tel` or `sip`).
pub fn device_of_type(user: &Value, kind: &str) -> u64 {
    user["devices"]
        .as_array()
        .expect("devices")
        .iter()
        .find(|d| d["type"] == kind)
        .unwrap_or_else(|| panic!("no {kind} device: {user}"))["id"]
        .as_u64()
        .expect("a device id")
}

impl Answer {
    /// Checks a paged list (`GET .../users`): the envelope with `metadata`, whose keys are
    /// `total, count, offset, limit` in that order and whose `count` is the number of
    /// items; every item is `{code: 200, status: "success", data}`. Returns the metadata
    /// and each item's `data`.
    pub fn assert_page(&self) -> (&Value, Vec<&Value>) {
        let items = self.assert_list_envelope(&[
            "request_id",
            "method",
            "http_code",
            "metadata",
            "response",
        ]);
        let metadata = &self.body["metadata"];
        assert_eq!(keys(metadata), ["total", "count", "offset", "limit"]);
        assert_eq!(metadata["count"].as_u64(), Some(items.len() as u64));
        (metadata, items)
    }

    /// Checks an unpaged list (`GET .../devices`): the list envelope without `metadata`.
    /// Returns each item's `data`.
    pub fn assert_list_success(&self) -> Vec<&Value> {
        self.assert_list_envelope(&["request_id", "method", "http_code", "response"])
    }

    fn assert_list_envelope(&self, envelope_keys: &[&str]) -> Vec<&Value> {
        assert_eq!(self.status, StatusCode::OK, "{}", self.body);
        assert_eq!(keys(&self.body), envelope_keys);
        let id = self.body["request_id"].as_str().unwrap();
        assert!(
            id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
            "{id}"
        );
        assert_eq!(self.header("x-request-id"), Some(id));
        assert_eq!(self.body["http_code"], 200);
        assert_eq!(self.header("content-type"), Some("application/json"));
        let items = self.body["response"]
            .as_array()
            .unwrap_or_else(|| panic!("response is not an array: {}", self.body));
        items
            .iter()
            .map(|item| {
                assert_eq!(keys(item), ["code", "status", "data"], "{item}");
                assert_eq!(item["code"], 200);
                assert_eq!(item["status"], "success");
                &item["data"]
            })
            .collect()
    }
}
