//! Several `roster serve` processes sharing one PostgreSQL schema and one Redis, as nodes
//! behind a load balancer would: one budget per account, one device ON per user, a
//! revocation seen everywhere within a second, and a write readable on every node at once.
//! PostgreSQL comes from `TEST_DATABASE_URL`, Redis from `TEST_REDIS_URL` (default
//! `redis://127.0.0.1:6379`). Every request goes to loopback; every wait is bounded.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code fails loudly on purpose"
)]

#[path = "../../roster-store/tests/support/mod.rs"]
#[allow(dead_code, reason = "the storage tests use the rest of it")]
mod store_support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use store_support::PostgresSchema;

const OPERATOR_TOKEN: &str = "multi-node-operator-token";

fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A `roster` command over the test's database, with no settings leaking in from outside.
fn roster(database: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_roster"));
    for (name, _) in std::env::vars() {
        if name.starts_with("ROSTER_") {
            command.env_remove(name);
        }
    }
    command.arg("--database").arg(database);
    command
}

fn cli_json(database: &str, args: &[&str]) -> Value {
    let output = roster(database).args(args).output().unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// A running node; killed when dropped.
struct Node {
    child: Child,
    address: SocketAddr,
    log: mpsc::Receiver<String>,
}

impl Node {
    fn start(database: &str, redis: &str) -> Self {
        let mut child = roster(database)
            .args(["serve", "--listen", "127.0.0.1:0", "--redis", redis])
            .env("ROSTER_OPERATOR_TOKEN", OPERATOR_TOKEN)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (lines, log) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = lines.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        let address = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = log
                .recv_timeout(left)
                .expect("the node never said where it listens");
            if let Some(address) = line
                .split_whitespace()
                .find_map(|w| w.strip_prefix("listen="))
            {
                break address.parse().unwrap();
            }
        };
        Self {
            child,
            address,
            log,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Log lines written so far.
    fn lines(&self) -> Vec<String> {
        self.log.try_iter().collect()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A deployment: one schema, three nodes, and an account with a key.
struct Cluster {
    nodes: Vec<Node>,
    database: String,
    sid: String,
    key: String,
    token: String,
    client: reqwest::Client,
    _schema: PostgresSchema,
}

impl Cluster {
    async fn start(rate_limit: u32) -> Self {
        let schema = PostgresSchema::create().await;
        let database = schema.url.clone();
        // A fresh sid per run keeps Redis counters of other runs out of this one.
        let sid = format!("mn{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        cli_json(
            &database,
            &[
                "accounts",
                "create",
                &sid,
                "--voip",
                "true",
                "--rate-limit",
                &rate_limit.to_string(),
            ],
        );
        let issued = cli_json(&database, &["keys", "create", &sid]);
        let nodes = (0..3)
            .map(|_| Node::start(&database, &redis_url()))
            .collect();
        Self {
            nodes,
            database,
            sid,
            key: issued["api_key"].as_str().unwrap().to_owned(),
            token: issued["api_token"].as_str().unwrap().to_owned(),
            client: reqwest::Client::new(),
            _schema: schema,
        }
    }

    fn users(&self) -> String {
        format!("/v2/accounts/{}/users", self.sid)
    }

    async fn send(
        &self,
        node: usize,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .client
            .request(method, self.nodes[node % 3].url(path))
            .basic_auth(&self.key, Some(&self.token))
            .timeout(Duration::from_secs(10));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }
}

/// Waits until at least `seconds_left` seconds remain in the wall-clock minute, so a test
/// that counts a minute's budget is not split by the window turning.
async fn wait_for_room_in_this_minute(seconds_left: i64) {
    let second = jiff::Timestamp::now().as_second().rem_euclid(60);
    if 60 - second < seconds_left {
        tokio::time::sleep(Duration::from_secs((60 - second + 1) as u64)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_accounts_budget_is_spent_across_nodes_exactly_once() {
    let cluster = Cluster::start(30).await;
    wait_for_room_in_this_minute(20).await;
    let path = format!("{}/9f7100ea9a484b75aadefa94303f62eb", cluster.users());

    let mut answers = Vec::new();
    for i in 0..45 {
        answers.push(cluster.send(i, reqwest::Method::GET, &path, None).await.0);
    }

    let admitted = answers.iter().filter(|s| **s == 404).count();
    let refused = answers.iter().filter(|s| **s == 429).count();
    assert_eq!((admitted, refused), (30, 15), "{answers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_devices_turned_on_through_different_nodes_end_with_one_on() {
    let cluster = Cluster::start(10_000).await;
    let body =
        json!({"first_name": "Asha", "last_name": "Rao", "device_contact_uri": "+919812345678"});
    let (status, created) = cluster
        .send(0, reqwest::Method::POST, &cluster.users(), Some(body))
        .await;
    assert_eq!(status, 200, "{created}");
    let user = created["response"]["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    cli_json(
        &cluster.database,
        &["devices", "verify", &cluster.sid, "+919812345678"],
    );
    let devices: Vec<u64> = created["response"]["data"]["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_u64().unwrap())
        .collect();
    assert_eq!(devices.len(), 2, "a phone and a softphone");

    let tasks: Vec<_> = (0..30)
        .map(|i| {
            let path = format!("{}/{user}/devices/{}", cluster.users(), devices[i % 2]);
            let cluster = &cluster;
            async move {
                cluster
                    .send(
                        i,
                        reqwest::Method::PUT,
                        &path,
                        Some(json!({"available": true})),
                    )
                    .await
            }
        })
        .collect();
    let answers = futures_join_all(tasks).await;

    for (status, body) in &answers {
        let code = &body["response"]["error_data"]["code"];
        assert!(
            *status == 200 || (*status == 403 && *code == 10810),
            "{status}: {body}"
        );
    }
    let (_, listed) = cluster
        .send(
            1,
            reqwest::Method::GET,
            &format!("{}/{user}?fields=devices", cluster.users()),
            None,
        )
        .await;
    let on = listed["response"]["data"]["devices"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["available"] == true)
        .count();
    assert_eq!(on, 1, "{listed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_revoked_through_one_node_is_refused_by_every_node_within_a_second() {
    let cluster = Cluster::start(10_000).await;
    let path = format!("{}/9f7100ea9a484b75aadefa94303f62eb", cluster.users());
    for node in 0..3 {
        assert_eq!(
            cluster
                .send(node, reqwest::Method::GET, &path, None)
                .await
                .0,
            404
        );
    }

    let revoke = cluster
        .client
        .delete(cluster.nodes[0].url(&format!("/operator/v1/keys/{}", cluster.key)))
        .bearer_auth(OPERATOR_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), 200);
    let revoked_at = Instant::now();
    let mut refused_after = [None; 3];
    while refused_after.iter().any(Option::is_none) && revoked_at.elapsed() < Duration::from_secs(5)
    {
        for (node, refused) in refused_after.iter_mut().enumerate() {
            if refused.is_none()
                && cluster
                    .send(node, reqwest::Method::GET, &path, None)
                    .await
                    .0
                    == 401
            {
                *refused = Some(revoked_at.elapsed());
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    eprintln!("revocation reached the nodes after {refused_after:?}");
    for (node, after) in refused_after.iter().enumerate() {
        let after = after.unwrap_or_else(|| panic!("node {node} still admits the revoked key"));
        // The cache trusts a key for one second; the rest is this loop's own pace.
        assert!(
            after < Duration::from_millis(1_250),
            "node {node} refused it only after {after:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_created_on_one_node_is_readable_on_every_other_node_at_once() {
    let cluster = Cluster::start(10_000).await;

    for round in 0..10 {
        let body = json!({"first_name": "Asha", "last_name": "Rao", "device_contact_uri": format!("+91981230{round:04}")});
        let (status, created) = cluster
            .send(round, reqwest::Method::POST, &cluster.users(), Some(body))
            .await;
        assert_eq!(status, 200, "{created}");
        let id = created["response"]["data"]["id"].as_str().unwrap();
        for other in 1..3 {
            let (status, read) = cluster
                .send(
                    round + other,
                    reqwest::Method::GET,
                    &format!("{}/{id}", cluster.users()),
                    None,
                )
                .await;
            assert_eq!(
                status,
                200,
                "round {round}, node {}: {read}",
                (round + other) % 3
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_a_node_falls_back_to_its_own_budget_and_says_so() {
    let schema = PostgresSchema::create().await;
    cli_json(
        &schema.url,
        &["accounts", "create", "solo", "--rate-limit", "5"],
    );
    let issued = cli_json(&schema.url, &["keys", "create", "solo"]);
    // Port 1 on loopback: nothing listens, so every connection is refused at once.
    let node = Node::start(&schema.url, "redis://127.0.0.1:1");
    wait_for_room_in_this_minute(15).await;
    let client = reqwest::Client::new();
    let url = node.url("/v2/accounts/solo/users/9f7100ea9a484b75aadefa94303f62eb");

    let mut answers = Vec::new();
    for _ in 0..7 {
        let request = client.get(&url).basic_auth(
            issued["api_key"].as_str().unwrap(),
            issued["api_token"].as_str(),
        );
        answers.push(request.send().await.unwrap().status().as_u16());
    }

    assert_eq!(answers, [404, 404, 404, 404, 404, 429, 429]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        node.lines().iter().any(|l| l.contains("redis unreachable")),
        "no warning about redis"
    );
}

/// Runs futures concurrently on this task and collects their outputs in order.
async fn futures_join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in pinned.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => *output = Some(value),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs
        .into_iter()
        .map(|o| o.expect("every future finished"))
        .collect()
}

#[tokio::test]
async fn migrate_applies_the_schema_and_serve_refuses_one_newer_than_it_knows() {
    let schema = PostgresSchema::create().await;

    let migrated = cli_json(&schema.url, &["migrate"]);
    let (client, connection) = tokio_postgres::connect(&schema.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .batch_execute("INSERT INTO roster_migrations (version, applied_at) VALUES (999, 0)")
        .await
        .unwrap();
    let mut serve = roster(&schema.url)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while serve.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = serve.kill();
            panic!("serve started on a schema newer than it knows");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let refused = serve.wait_with_output().unwrap();

    assert_eq!(
        migrated["schema_version"],
        roster_store::postgres::KNOWN_VERSION
    );
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("schema version 999 is newer than this roster knows"),
        "{stderr}"
    );
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
}
