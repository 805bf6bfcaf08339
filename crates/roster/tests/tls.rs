//! HTTPS served by the built `roster` program itself: certificates from a test CA made in
//! each test, the seed's request with the credentials in the URL, TLS 1.2 and TLS 1.3,
//! HTTP/2 and HTTP/1.1 chosen by ALPN, a certificate swapped on SIGHUP while a connection
//! stays open, timeouts for clients that stall, and a start refused on bad TLS settings.
//! Every server listens on an ephemeral loopback port, every wait is bounded, and every
//! child is killed when its test ends.

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
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine as _;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, ProtocolVersion, RootCertStore,
    SignatureScheme, StreamOwned,
};
use serde_json::{json, Value};

/// Longest a CLI command or curl may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest the server may take to print a line the test waits for.
const LINE_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest one read or write on a test's own connection may block.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// The contract: after SIGTERM the server exits within 10 seconds.
const EXIT_DEADLINE: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------
// The seed request over HTTPS
// ---------------------------------------------------------------------------------------

#[test]
fn the_seed_request_over_https_with_credentials_in_the_url_returns_the_user() {
    let roster = Roster::new();
    let acme = roster.account_with_key("acme");
    let ca = TestCa::new("Roster test CA");
    let files = roster.certificate_files(&ca.issue_server_certificate());
    let server = roster.serve_https(&files);
    let created = block_on(create_user(&server, &ca, &acme));
    let id = created["id"].as_str().unwrap().to_owned();

    // A client that turns the URL's user info into Basic credentials, as the seed's
    // examples rely on, trusting the test CA alone.
    let url = server.url_with_credentials(&acme, &format!("/v2/accounts/acme/users/{id}"));
    let (status, version, text) = block_on(async {
        let response = http_client(&ca)
            .build()
            .unwrap()
            .get(&url)
            .send()
            .await
            .unwrap();
        (
            response.status().as_u16(),
            response.version(),
            response.text().await.unwrap(),
        )
    });
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        version,
        reqwest::Version::HTTP_2,
        "ALPN should settle on h2"
    );
    let data = success_data(&text, "GET");
    let keys: Vec<&str> = data
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "date_created",
            "date_updated",
            "email",
            "email_verified",
            "first_name",
            "id",
            "last_name",
            "role"
        ],
        "{text}"
    );
    assert_eq!(data, created_without_devices(&created), "{text}");

    // And the seed's own command line, told to trust the test CA.
    let output = run(
        curl_command(&[
            "--location",
            "--request",
            "GET",
            &url,
            "--cacert",
            path_str(&roster.path("ca.pem", &ca.pem())),
        ]),
        COMMAND_TIMEOUT,
    );
    assert!(output.status.success(), "curl: {}", describe(&output));
    let text = String::from_utf8(output.stdout).unwrap();
    assert_eq!(success_data(&text, "GET"), data, "{text}");
}

#[test]
fn the_dashboard_over_https_sets_only_secure_host_only_cookies() {
    let roster = Roster::new();
    let acme = roster.account_with_key("acme");
    let ca = TestCa::new("Roster test CA");
    let files = roster.certificate_files(&ca.issue_server_certificate());
    let server = roster.serve_https(&files);
    let base = format!("https://{}", server.address);
    let cookies = block_on(async {
        let client = http_client(&ca)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let form = client.get(format!("{base}/signin")).send().await.unwrap();
        let sign_in = form.headers()["set-cookie"].to_str().unwrap().to_owned();
        let body = form.text().await.unwrap();
        let token = body
            .split("name=\"_csrf\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap()
            .to_owned();
        let pair = sign_in.split(';').next().unwrap().to_owned();
        let signed = client
            .post(format!("{base}/signin"))
            .header("cookie", pair)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "api_key={}&api_token={}&_csrf={token}",
                acme.key, acme.token
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(signed.status().as_u16(), 303);
        let mut cookies: Vec<String> = signed
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        cookies.push(sign_in);
        cookies
    });
    let session = cookies
        .iter()
        .find(|c| c.starts_with("__Host-roster_session="))
        .unwrap_or_else(|| panic!("a __Host- session cookie in {cookies:?}"));
    for cookie in &cookies {
        assert!(cookie.starts_with("__Host-"), "{cookie}");
        for part in ["; Secure", "; HttpOnly", "; SameSite=Lax", "; Path=/"] {
            assert!(cookie.contains(part), "{cookie}");
        }
        assert!(!cookie.contains("Domain="), "{cookie}");
    }
    assert!(!session.contains("Max-Age=0"), "{session}");
}

/// Browsers speak HTTP/2 over TLS, where the host arrives as `:authority` and there is no
/// `Host` header, and they send `Origin` with every form post: such a post must not be
/// taken for one from another site.
#[test]
fn the_dashboards_forms_work_over_http2_as_a_browser_posts_them() {
    let roster = Roster::new();
    let acme = roster.account_with_key("acme");
    let ca = TestCa::new("Roster test CA");
    let files = roster.certificate_files(&ca.issue_server_certificate());
    let server = roster.serve_https(&files);
    let base = format!("https://{}", server.address);
    let ca_file = roster.path("ca.pem", &ca.pem());
    let jar = roster.dir.path().join("cookies.txt");
    let curl = |args: &[&str]| {
        let mut all = vec![
            "--http2",
            "--cacert",
            path_str(&ca_file),
            "--cookie",
            path_str(&jar),
            "--cookie-jar",
            path_str(&jar),
        ];
        all.extend_from_slice(args);
        let output = run(curl_command(&all), COMMAND_TIMEOUT);
        assert!(output.status.success(), "curl: {}", describe(&output));
        String::from_utf8(output.stdout).unwrap()
    };

    let form = curl(&[&format!("{base}/signin")]);
    let token = form
        .split("name=\"_csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("a form token in {form}"))
        .to_owned();
    let signed = curl(&[
        "--output",
        "/dev/null",
        "--write-out",
        "%{http_version} %{http_code}",
        "--header",
        &format!("Origin: {base}"),
        "--data-urlencode",
        &format!("api_key={}", acme.key),
        "--data-urlencode",
        &format!("api_token={}", acme.token),
        "--data-urlencode",
        &format!("_csrf={token}"),
        &format!("{base}/signin"),
    ]);
    assert_eq!(signed, "2 303");

    // The base URL the settings page gives integrations names this server too.
    let settings = curl(&[&format!("{base}/settings")]);
    assert!(
        settings.contains(&format!("{base}/v2/accounts/{}", acme.sid)),
        "{settings}"
    );
}

#[test]
fn a_client_that_does_not_trust_the_issuer_is_refused_before_any_request() {
    let roster = Roster::new();
    let acme = roster.account_with_key("acme");
    let ca = TestCa::new("Roster test CA");
    let stranger = TestCa::new("Some other CA");
    let files = roster.certificate_files(&ca.issue_server_certificate());
    let server = roster.serve_https(&files);

    let error = TlsClient::connect(server.address, &stranger, Tls::Any, &[])
        .err()
        .expect("a handshake trusting another CA succeeded");
    assert!(error.to_string().contains("UnknownIssuer"), "{error}");
    // Plain HTTP on the HTTPS port gets no answer a client could take for the API's.
    let mut plain = TcpStream::connect(server.address).unwrap();
    plain.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    plain
        .write_all(b"GET /v2/accounts/acme/users HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    let _ = plain.read_to_end(&mut answer);
    assert!(
        !answer.starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );
    // The trusted client still works on the same server.
    let mut client = TlsClient::connect(server.address, &ca, Tls::Any, &[]).unwrap();
    let (status, _) = client.get("/v2/accounts/acme/users", &acme);
    assert_eq!(status, 200);
}

// ---------------------------------------------------------------------------------------
// Protocol versions and ALPN
// ---------------------------------------------------------------------------------------

#[test]
fn tls_1_2_only_and_tls_1_3_only_clients_are_both_served() {
    let roster = Roster::new();
    let acme = roster.account_with_key("acme");
    let ca = TestCa::new("Roster test CA");
    let files = roster.certificate_files(&ca.issue_server_certificate());
    let server = roster.serve_https(&files);

    for (only, expected) in [
        (Tls::V1_2, ProtocolVersion::TLSv1_2),
        (Tls::V1_3, ProtocolVersion::TLSv1_3),
    ] {
        let mut client = TlsClient::connect(server.address, &ca, only, &[]).unwrap();
        assert_eq!(client.stream.conn.protocol_version(), Some(expected));
        let (status, body) = client.get("/v2/accounts/acme/users", &acme);
        assert_eq!(status, 200, "{expected:?}: {body}");
        // The bulk list's envelope: no user yet.
        let envelope: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(envelope["method"], "GET", "{body}");
        assert_eq!(envelope["http_code"], 200, "{body}");
        assert_eq!(envelope["metadata"]["total"], 0, "{body}");
        assert_eq!(envelope["response"], json!([]), "{body}");
    }

    // And with a client library pinned to each version, over HTTP/2.
    let url = server.url_with_credentials(&acme, "/v2/accounts/acme/users");
    for version in [
        reqwest::tls::Version::TLS_1_2,
        reqwest::tls::Version::TLS_1_3,
    ] {
        let (status, http) = block_on(async {
            let response = http_client(&ca)
                .min_tls_version(version)
                .max_tls_version(version)
                .build()
                .unwrap()
                .get(&url)
                .send()
                .await
                .unwrap();
            (response.status().as_u16(), response.version())
        });
        assert_eq!(
            (status, http),
            (200, reqwest::Version::HTTP_2),
            "{version:?}"
        );
    }
}

#[test]
fn rsa_pkcs1_rsa_pkcs8_ec_sec1_and_ed25519_keys_made_by_openssl_all_serve() {
    let roster = Roster::new();
    let acme = roster.account_with_key("acme");
    // Each as `openssl` writes it by default (KEY stands for the file), with the PEM label
    // that form has.
    let keys: [(&str, &[&str], &str); 4] = [
        (
            "rsa-pkcs1",
            &["genrsa", "-traditional", "-out", "KEY", "2048"],
            "-----BEGIN RSA PRIVATE KEY-----",
        ),
        (
            "rsa-pkcs8",
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-out",
                "KEY",
            ],
            "-----BEGIN PRIVATE KEY-----",
        ),
        (
            "ec-sec1",
            &["ecparam", "-name", "secp384r1", "-genkey", "-out", "KEY"],
            "-----BEGIN EC PRIVATE KEY-----",
        ),
        (
            "ed25519",
            &["genpkey", "-algorithm", "ed25519", "-out", "KEY"],
            "-----BEGIN PRIVATE KEY-----",
        ),
    ];
    let pairs: Vec<(CertificateFiles, CertificateDer<'static>)> = keys
        .iter()
        .map(|(name, generate, label)| {
            let key = roster.dir.path().join(format!("{name}.key"));
            let cert = roster.dir.path().join(format!("{name}.pem"));
            let generate: Vec<&str> = generate
                .iter()
                .map(|arg| if *arg == "KEY" { path_str(&key) } else { arg })
                .collect();
            openssl(&roster, &generate);
            let key_path = path_str(&key);
            let cert_path = path_str(&cert);
            openssl(
                &roster,
                &[
                    "req",
                    "-new",
                    "-x509",
                    "-days",
                    "2",
                    "-subj",
                    "/CN=localhost",
                    "-addext",
                    "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-key",
                    key_path,
                    "-out",
                    cert_path,
                ],
            );
            let text = std::fs::read_to_string(&key).unwrap();
            assert!(text.contains(label), "{name}: {text:.40}");
            let der = CertificateDer::from_pem_file(&cert).unwrap();
            (CertificateFiles { cert, key }, der)
        })
        .collect();

    let files = CertificateFiles {
        cert: roster.dir.path().join("cert.pem"),
        key: roster.dir.path().join("key.pem"),
    };
    let mut server: Option<Server> = None;
    for (index, ((name, _, _), (pair, der))) in keys.iter().zip(&pairs).enumerate() {
        std::fs::copy(&pair.cert, &files.cert).unwrap();
        std::fs::copy(&pair.key, &files.key).unwrap();
        // The first pair is read at start, every later one on a SIGHUP.
        let running = server.get_or_insert_with(|| roster.serve_https(&files));
        if index > 0 {
            running.signal("HUP");
            running.output.wait_for_count(
                "the reload line",
                |line| line.contains("certificate reloaded"),
                index,
            );
        }
        for (only, expected) in [
            (Tls::V1_2, ProtocolVersion::TLSv1_2),
            (Tls::V1_3, ProtocolVersion::TLSv1_3),
        ] {
            let mut client = TlsClient::connect_pinned(running.address, der, only)
                .unwrap_or_else(|e| panic!("{name} over {expected:?}: {e}"));
            assert_eq!(client.stream.conn.protocol_version(), Some(expected));
            let (status, body) = client.get("/v2/accounts/acme/users", &acme);
            assert_eq!(status, 200, "{name} over {expected:?}: {body}");
        }
    }
}

#[test]
fn alpn_h2_gets_http2_and_http11_or_no_alpn_gets_http11() {
    let roster = Roster::new();
    let acme = roster.account_with_key("acme");
    let ca = TestCa::new("Roster test CA");
    let files = roster.certificate_files(&ca.issue_server_certificate());
    let server = roster.serve_https(&files);

    for offered in [
        &[b"h2".as_slice()][..],
        &[b"h2", b"http/1.1"],
        &[b"http/1.1", b"h2"],
    ] {
        let client = TlsClient::connect(server.address, &ca, Tls::Any, offered).unwrap();
        assert_eq!(
            client.stream.conn.alpn_protocol(),
            Some(b"h2".as_slice()),
            "offered {offered:?}"
        );
    }
    let mut client = TlsClient::connect(server.address, &ca, Tls::Any, &[b"http/1.1"]).unwrap();
    assert_eq!(
        client.stream.conn.alpn_protocol(),
        Some(b"http/1.1".as_slice())
    );
    assert_eq!(client.get("/v2/accounts/acme/users", &acme).0, 200);
    let mut client = TlsClient::connect(server.address, &ca, Tls::Any, &[]).unwrap();
    assert_eq!(client.stream.conn.alpn_protocol(), None);
    assert_eq!(client.get("/v2/accounts/acme/users", &acme).0, 200);

    // Full requests over each protocol, POST and GET, with the version the server answered in.
    let url = server.url_with_credentials(&acme, "/v2/accounts/acme/users");
    for (http1_only, expected) in [
        (false, reqwest::Version::HTTP_2),
        (true, reqwest::Version::HTTP_11),
    ] {
        let (created, fetched) = block_on(async {
            let mut builder = http_client(&ca);
            if http1_only {
                builder = builder.http1_only();
            }
            let client = builder.build().unwrap();
            let body = create_body(u8::from(http1_only));
            let response = client.post(&url).json(&body).send().await.unwrap();
            let created = (response.version(), response.text().await.unwrap());
            let id = success_data(&created.1, "POST")["id"]
                .as_str()
                .unwrap()
                .to_owned();
            let response = client.get(format!("{url}/{id}")).send().await.unwrap();
            (
                created,
                (response.version(), response.text().await.unwrap()),
            )
        });
        assert_eq!(created.0, expected, "{}", created.1);
        assert_eq!(fetched.0, expected, "{}", fetched.1);
        assert_eq!(
            success_data(&fetched.1, "GET"),
            created_without_devices(&success_data(&created.1, "POST"))
        );
    }
}

// ---------------------------------------------------------------------------------------
// Certificate reload
// ---------------------------------------------------------------------------------------

#[test]
fn sighup_gives_new_connections_the_new_certificate_and_keeps_open_ones_serving() {
    let roster = Roster::new();
    let acme = roster.account_with_key("acme");
    let first_ca = TestCa::new("Roster test CA one");
    let first = first_ca.issue_server_certificate();
    let files = roster.certificate_files(&first);
    let mut server = roster.serve_https(&files);

    // A keep-alive connection opened before the reload, one request done on it.
    let mut before = TlsClient::connect(server.address, &first_ca, Tls::Any, &[]).unwrap();
    assert_eq!(before.get("/v2/accounts/acme/users", &acme).0, 200);
    assert_eq!(before.server_certificate(), first.der);

    let second_ca = TestCa::new("Roster test CA two");
    let second = second_ca.issue_server_certificate();
    files.replace_with(&second);
    server.signal("HUP");
    server
        .output
        .wait_for_line("the reload line", |line| line.contains("reloaded"));

    let mut after = TlsClient::connect(server.address, &second_ca, Tls::Any, &[]).unwrap();
    assert_eq!(after.server_certificate(), second.der);
    assert_eq!(after.get("/v2/accounts/acme/users", &acme).0, 200);
    assert!(
        TlsClient::connect(server.address, &first_ca, Tls::Any, &[]).is_err(),
        "a new connection still got the old certificate"
    );
    // The connection from before the reload goes on with the old certificate.
    let (status, body) = before.get("/v2/accounts/acme/users", &acme);
    assert_eq!(status, 200, "{body}");
    assert_eq!(before.server_certificate(), first.der);

    // The reloaded certificate over HTTP/2 as well.
    let url = server.url_with_credentials(&acme, "/v2/accounts/acme/users");
    let status = block_on(async {
        let response = http_client(&second_ca)
            .build()
            .unwrap()
            .get(&url)
            .send()
            .await;
        response.unwrap().status().as_u16()
    });
    assert_eq!(status, 200);
    assert!(server.is_running());
}

#[test]
fn a_reload_that_fails_keeps_the_current_certificate_and_logs_no_key_material() {
    let roster = Roster::new();
    let acme = roster.account_with_key("acme");
    let ca = TestCa::new("Roster test CA");
    let served = ca.issue_server_certificate();
    let files = roster.certificate_files(&served);
    let mut server = roster.serve_https(&files);
    let marker = "TOPSECRETKEYMATERIAL";

    // A key file that is broken PEM, one whose PEM is not a key, and a certificate that
    // does not go with the key: each reload is refused, and the old certificate stays.
    let not_base64 =
        format!("-----BEGIN PRIVATE KEY-----\n{marker}!!\n-----END PRIVATE KEY-----\n");
    let not_a_key = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(format!("{marker}{marker}"))
    );
    let other = ca.issue_server_certificate();
    let attempts = [
        (served.cert_pem.clone(), not_base64),
        (served.cert_pem.clone(), not_a_key),
        (other.cert_pem.clone(), served.key_pem.clone()),
    ];
    for (count, (cert, key)) in attempts.into_iter().enumerate() {
        std::fs::write(&files.cert, cert).unwrap();
        std::fs::write(&files.key, key).unwrap();
        server.signal("HUP");
        server.output.wait_for_count(
            "the reload warning",
            |line| line.contains("WARN") && line.contains("not reloaded"),
            count + 1,
        );
        let mut client = TlsClient::connect(server.address, &ca, Tls::Any, &[]).unwrap();
        assert_eq!(client.server_certificate(), served.der, "attempt {count}");
        assert_eq!(client.get("/v2/accounts/acme/users", &acme).0, 200);
    }
    let transcript = server.output.transcript();
    assert!(
        transcript.contains("invalid setting tls_key"),
        "{transcript}"
    );
    assert!(!transcript.contains(marker), "{transcript}");
    assert!(!transcript.contains("BEGIN"), "{transcript}");
    assert!(server.is_running());
}

// ---------------------------------------------------------------------------------------
// Clients that stall, and stopping
// ---------------------------------------------------------------------------------------

#[test]
fn clients_that_never_handshake_or_never_send_a_request_are_disconnected() {
    let roster = Roster::new();
    let ca = TestCa::new("Roster test CA");
    let files = roster.certificate_files(&ca.issue_server_certificate());
    let mut server = roster.serve_https(&files);
    let address = server.address;

    let silent_tcp = thread::spawn(move || {
        let mut stream = TcpStream::connect(address).unwrap();
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        time_until_closed(&mut stream)
    });
    let ca_one = ca.clone();
    let silent_http1 = thread::spawn(move || {
        let mut client = TlsClient::connect(address, &ca_one, Tls::Any, &[b"http/1.1"]).unwrap();
        time_until_closed(&mut client.stream)
    });
    let silent_http2 = thread::spawn(move || {
        let mut client = TlsClient::connect(address, &ca, Tls::Any, &[b"h2"]).unwrap();
        time_until_closed(&mut client.stream)
    });
    for (what, probe) in [
        ("no TLS handshake", silent_tcp),
        ("no HTTP/1.1 request", silent_http1),
        ("no HTTP/2 preface", silent_http2),
    ] {
        let held = probe.join().unwrap();
        // The timeouts are 10 s: not at once, and not much later either.
        assert!(
            held >= Duration::from_secs(9) && held <= Duration::from_secs(20),
            "{what}: closed after {held:?}"
        );
    }
    assert!(server.is_running());
}

#[test]
fn sigterm_finishes_a_request_in_flight_over_https_and_does_not_wait_for_idle_clients() {
    let roster = Roster::new();
    let acme = roster.account_with_key("acme");
    let ca = TestCa::new("Roster test CA");
    let files = roster.certificate_files(&ca.issue_server_certificate());
    let mut server = roster.serve_https(&files);

    // Idle connections of both protocols, one of them never past the HTTP/2 preface.
    let _idle_http1 = TlsClient::connect(server.address, &ca, Tls::Any, &[b"http/1.1"]).unwrap();
    let _idle_http2 = TlsClient::connect(server.address, &ca, Tls::Any, &[b"h2"]).unwrap();
    let mut busy = TlsClient::connect(server.address, &ca, Tls::Any, &[]).unwrap();
    let body = create_body(0).to_string();
    let (first_half, second_half) = body.as_bytes().split_at(body.len() / 2);
    let head = format!(
        "POST /v2/accounts/acme/users HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        basic(&acme),
        body.len()
    );
    busy.stream.write_all(head.as_bytes()).unwrap();
    busy.stream.write_all(first_half).unwrap();
    busy.stream.flush().unwrap();
    // Let the server read the head, so the request is in flight when the signal lands.
    thread::sleep(Duration::from_millis(500));

    let signalled = Instant::now();
    server.signal("TERM");
    server.output.wait_for_line("the stop-signal line", |line| {
        line.contains("stop signal received")
    });
    thread::sleep(Duration::from_millis(300));
    assert!(server.is_running(), "exited with a request half received");
    busy.stream.write_all(second_half).unwrap();
    busy.stream.flush().unwrap();
    let (status, text) = busy.read_response();
    assert_eq!(status, 200, "{text}");
    assert_eq!(success_data(&text, "POST")["first_name"], "Asha");

    let answered = Instant::now();
    let status = server.wait_exit(EXIT_DEADLINE.saturating_sub(signalled.elapsed()));
    assert_eq!(status.code(), Some(0), "{}", server.output.transcript());
    assert!(
        answered.elapsed() < Duration::from_secs(3),
        "the idle connections held the exit for {:?}",
        answered.elapsed()
    );
}

// ---------------------------------------------------------------------------------------
// Bad settings
// ---------------------------------------------------------------------------------------

#[test]
fn bad_tls_settings_stop_the_start_with_a_message_naming_the_setting() {
    let roster = Roster::new();
    let ca = TestCa::new("Roster test CA");
    let files = roster.certificate_files(&ca.issue_server_certificate());
    let other = roster.path("other-key.pem", &ca.issue_server_certificate().key_pem);
    let missing = roster.dir.path().join("missing.pem");
    let not_pem = roster.path("not.pem", "just some text\n");
    let config = roster.path(
        "roster.toml",
        &format!("tls_cert = {:?}\n", path_str(&files.cert)),
    );
    let cert = path_str(&files.cert);
    let key = path_str(&files.key);
    let directory = path_str(roster.dir.path());

    let refused = |what: &str, args: &[&str], env: &[(&str, &str)], expected: &[&str]| {
        let mut command = roster.command(&["serve", "--listen", "127.0.0.1:0"]);
        command.args(args).envs(env.iter().copied());
        let output = run(command, COMMAND_TIMEOUT);
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert_eq!(
            output.status.code(),
            Some(1),
            "{what}: {}",
            describe(&output)
        );
        assert!(stderr.starts_with("roster: "), "{what}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{what}: {stderr}");
        for part in expected {
            assert!(stderr.contains(part), "{what}: no {part:?} in {stderr}");
        }
        assert!(!stderr.contains("panicked"), "{what}: {stderr}");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(!stdout.contains("roster is serving"), "{what}: {stdout}");
    };

    refused(
        "a certificate alone",
        &["--tls-cert", cert],
        &[],
        &["invalid setting tls_key", "missing"],
    );
    refused(
        "a key alone, from the environment",
        &[],
        &[("ROSTER_TLS_KEY", key)],
        &["invalid setting tls_cert", "missing"],
    );
    refused(
        "a certificate alone, from the config file",
        &["--config", path_str(&config)],
        &[],
        &["invalid setting tls_key"],
    );
    refused(
        "a certificate file that does not exist",
        &["--tls-cert", path_str(&missing), "--tls-key", key],
        &[],
        &["invalid setting tls_cert", "cannot read", "missing.pem"],
    );
    refused(
        "a certificate path that is a directory",
        &["--tls-cert", directory, "--tls-key", key],
        &[],
        &["invalid setting tls_cert", "cannot read"],
    );
    refused(
        "a certificate file without a certificate",
        &["--tls-cert", path_str(&not_pem), "--tls-key", key],
        &[],
        &["invalid setting tls_cert", "no PEM certificate"],
    );
    refused(
        "a key file that does not exist",
        &["--tls-cert", cert, "--tls-key", path_str(&missing)],
        &[],
        &["invalid setting tls_key", "cannot read"],
    );
    refused(
        "a key file holding a certificate",
        &["--tls-cert", cert, "--tls-key", cert],
        &[],
        &["invalid setting tls_key", "no PEM private key"],
    );
    refused(
        "a key of another certificate",
        &["--tls-cert", cert, "--tls-key", path_str(&other)],
        &[],
        &["invalid setting tls_key", "not the key"],
    );
}

// ---------------------------------------------------------------------------------------
// Certificates
// ---------------------------------------------------------------------------------------

/// A certificate authority made for one test.
#[derive(Clone)]
struct TestCa {
    cert: Arc<rcgen::Certificate>,
    key: Arc<KeyPair>,
}

/// A server certificate for 127.0.0.1 and localhost, with its key.
struct Issued {
    der: CertificateDer<'static>,
    cert_pem: String,
    key_pem: String,
}

impl TestCa {
    fn new(name: &str) -> Self {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).unwrap();
        Self {
            cert: Arc::new(cert),
            key: Arc::new(key),
        }
    }

    fn pem(&self) -> String {
        self.cert.pem()
    }

    fn issue_server_certificate(&self) -> Issued {
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, "roster");
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        Issued {
            der: cert.der().clone(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    fn roots(&self) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        roots.add(self.cert.der().clone()).unwrap();
        roots
    }
}

/// Where the server reads its certificate and key.
struct CertificateFiles {
    cert: PathBuf,
    key: PathBuf,
}

impl CertificateFiles {
    /// Puts another pair in place the way a renewal tool does: written aside, then renamed.
    fn replace_with(&self, issued: &Issued) {
        for (path, text) in [(&self.cert, &issued.cert_pem), (&self.key, &issued.key_pem)] {
            let aside = path.with_extension("new");
            std::fs::write(&aside, text).unwrap();
            std::fs::rename(&aside, path).unwrap();
        }
    }
}

// ---------------------------------------------------------------------------------------
// Clients
// ---------------------------------------------------------------------------------------

/// Which TLS versions a test client offers.
#[derive(Debug, Clone, Copy)]
enum Tls {
    Any,
    V1_2,
    V1_3,
}

/// A blocking TLS connection of the test's own, for looking at what was negotiated and
/// for sending HTTP/1.1 by hand.
struct TlsClient {
    stream: StreamOwned<ClientConnection, TcpStream>,
}

impl TlsClient {
    /// Connects to `address` as `127.0.0.1`, trusting only `ca`, and completes the handshake.
    fn connect(
        address: SocketAddr,
        ca: &TestCa,
        versions: Tls,
        alpn: &[&[u8]],
    ) -> std::io::Result<Self> {
        let mut config = client_config(versions)
            .with_root_certificates(ca.roots())
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|name| name.to_vec()).collect();
        Self::handshake(address, config)
    }

    /// Connects trusting exactly one certificate, whoever issued it: for certificates made
    /// by another tool. The handshake's signatures are still checked against it.
    fn connect_pinned(
        address: SocketAddr,
        pinned: &CertificateDer<'static>,
        versions: Tls,
    ) -> std::io::Result<Self> {
        let verifier = Pinned {
            cert: pinned.clone(),
            algorithms: rustls::crypto::ring::default_provider().signature_verification_algorithms,
        };
        let config = client_config(versions)
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        Self::handshake(address, config)
    }

    fn handshake(address: SocketAddr, config: ClientConfig) -> std::io::Result<Self> {
        let name = ServerName::try_from("127.0.0.1").unwrap();
        let connection = ClientConnection::new(Arc::new(config), name).unwrap();
        let socket = TcpStream::connect_timeout(&address, IO_TIMEOUT)?;
        socket.set_read_timeout(Some(IO_TIMEOUT))?;
        socket.set_write_timeout(Some(IO_TIMEOUT))?;
        let mut stream = StreamOwned::new(connection, socket);
        while stream.conn.is_handshaking() {
            stream.conn.complete_io(&mut stream.sock)?;
        }
        Ok(Self { stream })
    }

    fn server_certificate(&self) -> CertificateDer<'static> {
        self.stream.conn.peer_certificates().unwrap()[0].clone()
    }

    /// Sends a GET with Basic credentials on this connection, keeping it open.
    fn get(&mut self, path: &str, who: &Credentials) -> (u16, String) {
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic {}\r\n\r\n",
            basic(who)
        );
        self.stream.write_all(request.as_bytes()).unwrap();
        self.stream.flush().unwrap();
        self.read_response()
    }

    /// Reads one HTTP/1.1 response with a Content-Length: its status and body.
    fn read_response(&mut self) -> (u16, String) {
        let mut raw = Vec::new();
        let mut byte = [0_u8; 1];
        while !raw.ends_with(b"\r\n\r\n") {
            let read = self.stream.read(&mut byte).unwrap();
            assert_eq!(read, 1, "the connection closed mid-head: {raw:?}");
            raw.push(byte[0]);
        }
        let head = String::from_utf8(raw).unwrap();
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("no status in {head:?}"));
        let length: usize = head
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .unwrap_or_else(|| panic!("no Content-Length in {head:?}"));
        let mut body = vec![0; length];
        self.stream.read_exact(&mut body).unwrap();
        (status, String::from_utf8(body).unwrap())
    }
}

fn client_config(versions: Tls) -> rustls::ConfigBuilder<ClientConfig, rustls::WantsVerifier> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: &[&rustls::SupportedProtocolVersion] = match versions {
        Tls::Any => rustls::DEFAULT_VERSIONS,
        Tls::V1_2 => &[&rustls::version::TLS12],
        Tls::V1_3 => &[&rustls::version::TLS13],
    };
    ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
}

/// Accepts one certificate only, and checks the server's handshake signatures with it.
#[derive(Debug)]
struct Pinned {
    cert: CertificateDer<'static>,
    algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.cert.as_ref() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "not the pinned certificate".to_owned(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Reads until the server closes the connection, and says how long that took.
fn time_until_closed(stream: &mut impl Read) -> Duration {
    let started = Instant::now();
    let mut buffer = [0_u8; 1024];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(_) => {}
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(error) if error.kind() == std::io::ErrorKind::TimedOut => {}
            // A close without TLS's close_notify, or a reset: closed all the same.
            Err(_) => break,
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the connection is still open after 30 s"
        );
    }
    started.elapsed()
}

/// A client library set up as an application would: trusting `ca` only, offering HTTP/2
/// and HTTP/1.1 by ALPN, and never going through a proxy.
fn http_client(ca: &TestCa) -> reqwest::ClientBuilder {
    let root = reqwest::Certificate::from_pem(ca.pem().as_bytes()).unwrap();
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(root)
        .no_proxy()
        .timeout(COMMAND_TIMEOUT)
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// Creates the test user, credentials in the URL, and returns its record.
async fn create_user(server: &Server, ca: &TestCa, who: &Credentials) -> Value {
    let url = server.url_with_credentials(who, &format!("/v2/accounts/{}/users", who.sid));
    let response = http_client(ca)
        .build()
        .unwrap()
        .post(&url)
        .json(&create_body(0))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(status, 200, "{text}");
    success_data(&text, "POST")
}

/// A new user's fields; the email and phone must differ between users of one account.
fn create_body(n: u8) -> Value {
    json!({
        "first_name": "Asha",
        "last_name": "Rao",
        "email": format!("asha{n}@example.com"),
        "device_contact_uri": format!("+91981234567{n}"),
    })
}

/// What GET returns for a user just created: the same record without its devices.
fn created_without_devices(created: &Value) -> Value {
    let mut record = created.clone();
    record.as_object_mut().unwrap().shift_remove("devices");
    record
}

/// Checks Exotel's success envelope, in its key order, and returns the record in it.
fn success_data(text: &str, method: &str) -> Value {
    let body: Value =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    let keys = |value: &Value| -> Vec<String> {
        value
            .as_object()
            .unwrap_or_else(|| panic!("not an object: {value}"))
            .keys()
            .cloned()
            .collect()
    };
    assert_eq!(
        keys(&body),
        ["request_id", "method", "http_code", "response"],
        "{text}"
    );
    let request_id = body["request_id"].as_str().unwrap();
    assert!(
        request_id.len() == 32 && request_id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{text}"
    );
    assert_eq!(body["method"], method, "{text}");
    assert_eq!(body["http_code"], 200, "{text}");
    let response = &body["response"];
    assert_eq!(
        keys(response),
        ["code", "error_data", "status", "data"],
        "{text}"
    );
    assert_eq!(response["code"], 200, "{text}");
    assert_eq!(response["error_data"], Value::Null, "{text}");
    assert_eq!(response["status"], "success", "{text}");
    let data = response["data"].clone();
    if method == "POST" || data.get("id").is_some() {
        assert_eq!(data["first_name"], "Asha", "{text}");
        assert_eq!(data["last_name"], "Rao", "{text}");
        assert_eq!(data["role"], "user", "{text}");
    }
    data
}

fn basic(who: &Credentials) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", who.key, who.token))
}

/// Runs `openssl ARGS` in the temp dir; it must succeed.
fn openssl(roster: &Roster, args: &[&str]) {
    let mut command = hermetic(Command::new("openssl"));
    command.args(args).current_dir(roster.dir.path());
    let output = run(command, COMMAND_TIMEOUT);
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        describe(&output)
    );
}

fn curl_command(args: &[&str]) -> Command {
    let mut command = hermetic(Command::new("curl"));
    command.arg("--silent").arg("--show-error").args(args);
    command
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temp path")
}

fn describe(output: &Output) -> String {
    format!(
        "{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
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

/// One test's installation: a temp dir with the SQLite file, the certificate files, and
/// the CLI over them.
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

    /// Writes `text` to a file in the temp dir and returns its path.
    fn path(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn certificate_files(&self, issued: &Issued) -> CertificateFiles {
        CertificateFiles {
            cert: self.path("cert.pem", &issued.cert_pem),
            key: self.path("key.pem", &issued.key_pem),
        }
    }

    /// Creates an account with default settings and issues it a key, with the CLI.
    fn account_with_key(&self, sid: &str) -> Credentials {
        for args in [&["accounts", "create", sid][..], &["keys", "create", sid]] {
            let output = run(self.command(args), COMMAND_TIMEOUT);
            assert!(output.status.success(), "{args:?}: {}", describe(&output));
            if args[0] == "keys" {
                let issued: Value = serde_json::from_slice(&output.stdout).unwrap();
                return Credentials {
                    sid: sid.to_owned(),
                    key: issued["api_key"].as_str().unwrap().to_owned(),
                    token: issued["api_token"].as_str().unwrap().to_owned(),
                };
            }
        }
        unreachable!("the loop returns on its last command")
    }

    /// Starts `roster serve` with HTTPS on a port of the kernel's choosing and waits
    /// until it says where it listens.
    fn serve_https(&self, files: &CertificateFiles) -> Server {
        let mut command = self.command(&["serve", "--listen", "127.0.0.1:0"]);
        command
            .arg("--tls-cert")
            .arg(&files.cert)
            .env("ROSTER_TLS_KEY", &files.key)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("starting roster serve");
        let output = ChildOutput::capture(&mut child);
        let child = KillOnDrop(child);
        let line =
            output.wait_for_line("the listen line", |line| line.contains("roster is serving"));
        assert!(line.contains("scheme=https"), "{line}");
        let address = line
            .split_whitespace()
            .find_map(|word| word.strip_prefix("listen="))
            .and_then(|address| address.parse::<SocketAddr>().ok())
            .unwrap_or_else(|| panic!("no listen=ADDRESS in {line:?}"));
        assert!(address.ip().is_loopback() && address.port() != 0, "{line}");
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
    /// `https://KEY:TOKEN@127.0.0.1:PORT/path`, as Exotel's examples write URLs.
    fn url_with_credentials(&self, who: &Credentials, path: &str) -> String {
        format!("https://{}:{}@{}{path}", who.key, who.token, self.address)
    }

    /// Sends a signal by name (`HUP`, `TERM`) with kill(1).
    fn signal(&self, name: &str) {
        let mut command = Command::new("kill");
        command
            .arg(format!("-{name}"))
            .arg(self.child.0.id().to_string());
        let output = run(command, COMMAND_TIMEOUT);
        assert!(
            output.status.success(),
            "kill -{name}: {}",
            describe(&output)
        );
    }

    fn is_running(&mut self) -> bool {
        self.child
            .0
            .try_wait()
            .expect("polling the server")
            .is_none()
    }

    fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        wait_with_deadline(&mut self.child.0, limit).unwrap_or_else(|| {
            panic!(
                "still running after {limit:?}: {}",
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
    lines: Receiver<()>,
    stdout: Arc<Mutex<Vec<String>>>,
    stdout_closed: Arc<Mutex<bool>>,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl ChildOutput {
    fn capture(child: &mut Child) -> Self {
        let (sender, lines) = mpsc::channel();
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stdout_closed = Arc::new(Mutex::new(false));
        let pipe = child.stdout.take().expect("a piped stdout");
        let (seen, closed) = (Arc::clone(&stdout), Arc::clone(&stdout_closed));
        thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                seen.lock().unwrap().push(line);
                let _ = sender.send(());
            }
            *closed.lock().unwrap() = true;
        });
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let pipe = child.stderr.take().expect("a piped stderr");
        let seen = Arc::clone(&stderr);
        thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                seen.lock().unwrap().push(line);
            }
        });
        Self {
            lines,
            stdout,
            stdout_closed,
            stderr,
        }
    }

    fn closed(&self) -> bool {
        *self.stdout_closed.lock().unwrap()
    }

    /// The first stdout line, printed so far or within [`LINE_TIMEOUT`], that satisfies
    /// `wanted`.
    fn wait_for_line(&self, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        self.wait_for_count(what, &wanted, 1);
        self.stdout
            .lock()
            .unwrap()
            .iter()
            .find(|line| wanted(line))
            .cloned()
            .expect("a line just counted")
    }

    /// Waits until `count` stdout lines satisfy `wanted`.
    fn wait_for_count(&self, what: &str, wanted: impl Fn(&str) -> bool, count: usize) {
        let deadline = Instant::now() + LINE_TIMEOUT;
        loop {
            let seen = self
                .stdout
                .lock()
                .unwrap()
                .iter()
                .filter(|line| wanted(line))
                .count();
            if seen >= count {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero() && !self.closed(),
                "no {what} (#{count}) within {LINE_TIMEOUT:?}: {}",
                self.transcript()
            );
            let _ = self
                .lines
                .recv_timeout(left.min(Duration::from_millis(200)));
        }
    }

    fn transcript(&self) -> String {
        let stdout = self.stdout.lock().unwrap().join("\n");
        let stderr = self.stderr.lock().unwrap().join("\n");
        format!("\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}")
    }
}
