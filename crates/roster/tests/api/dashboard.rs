//! The dashboard over real HTTP, as a browser without JavaScript uses it: sessions and
//! their cookie, CSRF, the API's rules and words on its forms, escaping, the live stream,
//! the import and the key pages. (The browser tests in `e2e/` drive the same pages in
//! Chromium.)

use std::collections::HashMap;
use std::time::Duration;

use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{user_id, Credentials, TestApp};

/// A browser: its own cookie jar, no redirects followed (each is asserted), and the
/// session's CSRF token as its pages carry it.
struct Browser {
    client: reqwest::Client,
    base: String,
    cookies: HashMap<String, String>,
    csrf: String,
}

struct Page {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Page {
    fn location(&self) -> &str {
        self.headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    fn set_cookies(&self) -> Vec<&str> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect()
    }
}

impl Browser {
    fn new(app: &TestApp) -> Self {
        Browser {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: app.url(""),
            cookies: HashMap::new(),
            csrf: String::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Page {
        let response = request
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        let page = Page {
            status: response.status(),
            headers: response.headers().clone(),
            body: response.text().await.unwrap(),
        };
        for cookie in page.set_cookies() {
            let pair = cookie.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if cookie.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        if let Some(token) = hidden_csrf(&page.body) {
            self.csrf = token;
        }
        page
    }

    async fn get(&mut self, path: &str) -> Page {
        let request = self.client.get(format!("{}{path}", self.base));
        self.send(request).await
    }

    /// Posts a form with the session's CSRF token, as the page's own form would.
    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut fields: Vec<(&str, &str)> = fields.to_vec();
        let csrf = self.csrf.clone();
        fields.push(("_csrf", &csrf));
        self.post_raw(path, &fields).await
    }

    async fn post_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body = fields
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let request = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        self.send(request).await
    }

    async fn sign_in(&mut self, who: &Credentials) -> Page {
        let form = self.get("/signin").await;
        assert_eq!(form.status, 200, "{}", form.body);
        let page = self
            .post(
                "/signin",
                &[("api_key", &who.key), ("api_token", &who.token)],
            )
            .await;
        if page.status == StatusCode::SEE_OTHER {
            // The signed-in pages carry the session's own token.
            let home = self.get("/").await;
            assert_eq!(home.status, 200, "{}", home.body);
        }
        page
    }
}

fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn hidden_csrf(body: &str) -> Option<String> {
    let at = body.find("name=\"_csrf\" value=\"")?;
    let rest = &body[at + "name=\"_csrf\" value=\"".len()..];
    Some(rest[..rest.find('"')?].to_owned())
}

async fn users_in(app: &TestApp, who: &Credentials) -> usize {
    let answer = app
        .get(who, &format!("/v2/accounts/{}/users", who.sid))
        .await;
    answer.body["response"].as_array().unwrap().len()
}

#[tokio::test]
async fn every_page_sends_a_stranger_to_sign_in() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    for path in ["/", "/users/new", "/settings", "/import", "/live"] {
        let page = browser.get(path).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(page.location(), "/signin", "{path}");
    }
    // A made-up session is no session.
    browser
        .cookies
        .insert("roster_session".into(), "acme.bm90LWEtdG9rZW4".into());
    assert_eq!(browser.get("/").await.location(), "/signin");
}

#[tokio::test]
async fn signing_in_sets_a_hardened_cookie_and_refuses_wrong_credentials_in_the_apis_words() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);

    let form = browser.get("/signin").await;
    let sign_in_cookie = form
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("roster_signin="))
        .expect("a sign-in form token")
        .to_owned();
    assert!(sign_in_cookie.contains("HttpOnly") && sign_in_cookie.contains("SameSite=Lax"));

    let wrong = browser
        .post(
            "/signin",
            &[("api_key", &app.acme.key), ("api_token", "not-the-token")],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(
        wrong
            .body
            .contains("the API key and token are missing, malformed, unknown or revoked"),
        "{}",
        wrong.body
    );
    assert!(wrong.body.contains("role=\"alert\""));
    assert!(!browser.cookies.contains_key("roster_session"));

    let page = browser.sign_in(&app.acme).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), "/");
    let session = page
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("roster_session="))
        .expect("a session cookie")
        .to_owned();
    for part in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=43200"] {
        assert!(session.contains(part), "{session}");
    }
    // Plain HTTP: a `Secure` cookie would never come back (tests/tls.rs checks HTTPS).
    assert!(!session.contains("Secure"), "{session}");
    let home = browser.get("/").await;
    assert!(home.body.contains("<h1>Users</h1>"), "{}", home.body);
    assert!(home.body.contains("account acme"));
}

#[tokio::test]
async fn a_sign_in_without_its_form_token_is_refused() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    // No form was loaded, so there is no sign-in cookie to match.
    let page = browser
        .post_raw(
            "/signin",
            &[
                ("api_key", &app.acme.key),
                ("api_token", &app.acme.token),
                ("_csrf", "guess"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(!browser.cookies.contains_key("roster_session"));
}

#[tokio::test]
async fn forms_without_the_session_token_or_from_another_site_change_nothing() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&app.acme).await;
    let fields = [
        ("first_name", "Asha"),
        ("last_name", "Rao"),
        ("device_contact_uri", "+919812300001"),
    ];

    let mut no_token: Vec<(&str, &str)> = fields.to_vec();
    no_token.push(("_csrf", "wrong"));
    let page = browser.post_raw("/users/new", &no_token).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);

    let csrf = browser.csrf.clone();
    let mut with_token = fields.to_vec();
    with_token.push(("_csrf", &csrf));
    let body = with_token
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let request = browser
        .client
        .post(format!("{}/users/new", browser.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", "http://attacker.invalid")
        .body(body);
    let page = browser.send(request).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);

    assert_eq!(users_in(&app, &app.acme).await, 0);
}

#[tokio::test]
async fn a_broken_rule_is_shown_at_its_field_and_nothing_is_created() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&app.acme).await;

    let page = browser
        .post(
            "/users/new",
            &[
                ("first_name", "Asha"),
                ("last_name", "Rao"),
                ("email", "not-an-email"),
                ("role", "user"),
                ("device_contact_uri", "+919812300001"),
                ("device_name", ""),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    let at = page
        .body
        .find("id=\"email-error\"")
        .expect("an error at the email field");
    assert!(page.body[at..].contains("invalid email"), "{}", page.body);
    assert!(page
        .body
        .contains("aria-describedby=\"email-hint email-error\""));
    // What was typed comes back.
    assert!(page.body.contains("value=\"not-an-email\""));
    assert_eq!(users_in(&app, &app.acme).await, 0);

    let page = browser
        .post(
            "/users/new",
            &[
                ("first_name", "Asha"),
                ("last_name", "Rao"),
                ("email", "asha@example.com"),
                ("role", "supervisor"),
                ("device_contact_uri", "+919812300001"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let id = page.location().strip_prefix("/users/").unwrap().to_owned();
    let user = app
        .get(
            &app.acme,
            &format!("/v2/accounts/acme/users/{id}?fields=devices"),
        )
        .await;
    let data = &user.body["response"]["data"];
    assert_eq!(data["role"], "supervisor");
    assert_eq!(data["devices"][0]["contact_uri"], "+919812300001");
    let shown = browser.get(page.location()).await;
    assert!(shown.body.contains("User created"), "{}", shown.body);

    // The same number again: the API's conflict, at the number's field.
    let page = browser
        .post(
            "/users/new",
            &[
                ("first_name", "Ravi"),
                ("last_name", "Kumar"),
                ("device_contact_uri", "+919812300001"),
            ],
        )
        .await;
    let at = page
        .body
        .find("id=\"device_contact_uri-error\"")
        .expect("at the number");
    assert!(page.body[at..].contains("already used"), "{}", page.body);
    // The status the API answers the same create with.
    assert_eq!(page.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn what_users_typed_is_escaped_on_every_page() {
    let app = TestApp::spawn().await;
    let user = app
        .create_user(
            &app.acme,
            json!({
                "first_name": "Asha",
                "last_name": "Rao",
                "device_contact_uri": "+919812300001",
                "device_name": "<script>alert(1)</script>",
            }),
        )
        .await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&app.acme).await;
    let page = browser.get(&format!("/users/{}", user_id(&user))).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!page.body.contains("<script>alert"));
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(page.headers["cache-control"], "no-store");
    assert_eq!(page.headers["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn devices_switch_by_the_apis_rules_with_its_messages() {
    let app = TestApp::spawn().await;
    let user = app
        .create_user(
            &app.acme,
            json!({ "first_name": "Asha", "last_name": "Rao", "device_contact_uri": "+919812300001" }),
        )
        .await;
    let id = user_id(&user);
    let device = user["devices"][0]["id"].as_u64().unwrap();
    let mut browser = Browser::new(&app);
    browser.sign_in(&app.acme).await;
    let toggle = format!("/users/{id}/devices/{device}/toggle");

    let page = browser.post(&toggle, &[("available", "true")]).await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    assert!(page
        .body
        .contains("the device is not verified and cannot be turned on"));

    app.directory
        .verify_device("acme", "+919812300001")
        .await
        .unwrap();
    let page = browser.post(&toggle, &[("available", "true")]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let devices = app
        .get(&app.acme, &format!("/v2/accounts/acme/users/{id}/devices"))
        .await;
    assert_eq!(devices.body["response"][0]["data"]["available"], true);

    // A second verified device cannot go on while the first is.
    let added = browser
        .post(
            &format!("/users/{id}/devices"),
            &[("contact_uri", "+919812300002"), ("name", "Desk")],
        )
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    app.directory
        .verify_device("acme", "+919812300002")
        .await
        .unwrap();
    let page = browser.get(&format!("/users/{id}")).await;
    let second = page
        .body
        .match_indices("data-device-id=\"")
        .map(|(at, m)| {
            page.body[at + m.len()..]
                .split('"')
                .next()
                .unwrap()
                .to_owned()
        })
        .find(|d| *d != device.to_string())
        .expect("the second device");
    let page = browser
        .post(
            &format!("/users/{id}/devices/{second}/toggle"),
            &[("available", "true")],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page
        .body
        .contains("another device of this user is on; turn it off first"));

    // A number the add form cannot take is named at its field.
    let page = browser
        .post(&format!("/users/{id}/devices"), &[("contact_uri", "12ab")])
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(
        page.body.contains("id=\"contact_uri-error\""),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn the_list_searches_and_pages() {
    let app = TestApp::spawn().await;
    let roomy = app.roomy_account("roomy").await;
    for n in 0..25 {
        let mut body = TestApp::new_user(n);
        if n == 7 {
            body["first_name"] = json!("Zubin");
        }
        app.create_user(&roomy, body).await;
    }
    let mut browser = Browser::new(&app);
    browser.sign_in(&roomy).await;

    let first = browser.get("/").await;
    assert!(
        first.body.contains("Showing 1&ndash;20 of 25"),
        "{}",
        first.body
    );
    assert!(first.body.contains("Next page"));
    assert!(!first.body.contains("Previous page"));
    let second = browser.get("/?page=2").await;
    assert!(second.body.contains("Showing 21&ndash;25 of 25"));
    assert_eq!(second.body.matches("data-user-id=").count(), 5);

    let found = browser.get("/?q=zub").await;
    assert_eq!(
        found.body.matches("data-user-id=").count(),
        1,
        "{}",
        found.body
    );
    assert!(found.body.contains("Zubin Rao"));
    let by_number = browser.get("/?q=123%2000007").await;
    assert_eq!(by_number.body.matches("data-user-id=").count(), 0);
    let by_number = browser.get("/?q=12300007").await;
    assert_eq!(by_number.body.matches("data-user-id=").count(), 1);
    // Nonsense page numbers are the first page, never an error.
    assert_eq!(browser.get("/?page=-3").await.status, 200);
    assert_eq!(browser.get("/?page=99999999999999999999").await.status, 200);
    // A page number that is a valid 64-bit number but too far for any account's users is
    // an empty page past the last, not an overflow (it used to drop the connection).
    for far in ["18446744073709551615", "922337203685477582", "4294967296"] {
        let past = browser.get(&format!("/?page={far}&q=rao")).await;
        assert_eq!(past.status, 200, "page {far}: {}", past.body);
        assert!(
            past.body.contains("This page is past the last one"),
            "{}",
            past.body
        );
        assert!(
            past.body.contains("href=\"/?page=2&amp;q=rao\">Last page"),
            "{}",
            past.body
        );
    }

    // A search holding a control character (PostgreSQL refuses a NUL outright) is named
    // as the search's problem, not a failure of the server.
    for control in ["a%00b", "%07", "x%0Ay"] {
        let refused = browser.get(&format!("/?q={control}")).await;
        assert_eq!(refused.status, 400, "{control}: {}", refused.body);
        assert!(refused.body.contains("id=\"q-error\""), "{}", refused.body);
        assert!(
            refused.body.contains("control characters"),
            "{}",
            refused.body
        );
    }
}

#[tokio::test]
async fn signing_out_ends_the_session_for_every_copy_of_its_cookie() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&app.acme).await;
    let stolen = browser.cookies["roster_session"].clone();

    let page = browser.post("/signout", &[]).await;
    assert_eq!(page.location(), "/signin");
    assert!(!browser.cookies.contains_key("roster_session"));
    assert!(browser.get("/signin").await.body.contains("Signed out"));

    browser.cookies.insert("roster_session".into(), stolen);
    assert_eq!(browser.get("/").await.location(), "/signin");
}

#[tokio::test]
async fn revoking_the_key_ends_its_sessions_and_keys_are_managed_from_settings() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&app.acme).await;

    let page = browser.post("/settings/keys", &[]).await;
    assert_eq!(page.status, 200);
    let grab = |id: &str| {
        let start = page.body.find(&format!("id=\"{id}\">")).unwrap() + id.len() + 6;
        page.body[start..].split('<').next().unwrap().to_owned()
    };
    let (key, token) = (grab("new-key"), grab("new-token"));
    let fresh = Credentials {
        sid: "acme".into(),
        key: key.clone(),
        token,
    };
    assert_eq!(app.get(&fresh, "/v2/accounts/acme/users").await.status, 200);
    // The token is shown once: the settings page never shows it again.
    let settings = browser.get("/settings").await;
    assert!(!settings.body.contains(&fresh.token));
    assert!(settings.body.contains(&format!("data-key-id=\"{key}\"")));

    let page = browser
        .post(&format!("/settings/keys/{key}/revoke"), &[])
        .await;
    assert_eq!(page.location(), "/settings");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(app.get(&fresh, "/v2/accounts/acme/users").await.status, 401);

    // Another account's key is not this account's to revoke.
    let page = browser
        .post(&format!("/settings/keys/{}/revoke", app.globex.key), &[])
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.get(&app.globex, "/v2/accounts/globex/users")
            .await
            .status,
        200
    );

    // Revoking the key this session signed in with ends the session, like its API calls.
    let own = app.acme.key.clone();
    let page = browser
        .post(&format!("/settings/keys/{own}/revoke"), &[])
        .await;
    assert_eq!(page.location(), "/signin");
    let told = browser.get("/signin").await;
    assert!(
        told.body.contains("the key this session signed in with"),
        "{}",
        told.body
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(browser.get("/").await.location(), "/signin");
}

#[tokio::test]
async fn another_accounts_user_is_not_found_here() {
    let app = TestApp::spawn().await;
    let theirs = app.create_user(&app.globex, TestApp::new_user(1)).await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&app.acme).await;
    let page = browser.get(&format!("/users/{}", user_id(&theirs))).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    let page = browser
        .post(&format!("/users/{}/delete", user_id(&theirs)), &[])
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert_eq!(users_in(&app, &app.globex).await, 1);
}

#[tokio::test]
async fn the_live_stream_carries_the_accounts_changes_to_a_signed_in_page() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&app.acme).await;
    let mut stream = browser
        .client
        .get(format!("{}/live", browser.base))
        .header("cookie", browser.cookie_header())
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert!(stream.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));

    app.create_user(&app.acme, TestApp::new_user(1)).await;
    app.create_user(&app.globex, TestApp::new_user(2)).await;
    let seen = read_until(&mut stream, "event: user.created").await;
    assert!(seen.contains("\"account_sid\":\"acme\""), "{seen}");
    assert!(!seen.contains("globex"), "{seen}");
}

/// What a stream sends until `needle` arrives, which must be within 5 s.
async fn read_until(stream: &mut reqwest::Response, needle: &str) -> String {
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !seen.contains(needle) {
        let chunk = tokio::time::timeout_at(deadline, stream.chunk())
            .await
            .unwrap_or_else(|_| panic!("{needle:?} within 5 s; got {seen}"))
            .unwrap()
            .expect("the stream stays open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    seen
}

fn multipart(csrf: &str, csv: &str, dry_run: bool) -> (String, String) {
    let boundary = "roster-test-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\n{csrf}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"users.csv\"\r\n\
         Content-Type: text/csv\r\n\r\n{csv}\r\n"
    );
    if dry_run {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"dry_run\"\r\n\r\n1\r\n"
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(browser: &mut Browser, csv: &str, dry_run: bool) -> Page {
    let (kind, body) = multipart(&browser.csrf, csv, dry_run);
    let request = browser
        .client
        .post(format!("{}/import", browser.base))
        .header("content-type", kind)
        .body(body);
    browser.send(request).await
}

#[tokio::test]
async fn the_import_page_names_bad_rows_and_creates_all_or_nothing() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&app.acme).await;
    let bad =
        "first_name,last_name,device_contact_uri\nAsha,Rao,+919812300001\nRavi,,+919812300002\n";
    let page = upload(&mut browser, bad, false).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.body.contains("row 2 (line 3): last_name is mandatory"),
        "{}",
        page.body
    );
    assert_eq!(users_in(&app, &app.acme).await, 0);

    let good = "first_name,last_name,device_contact_uri\nAsha,Rao,+919812300001\nRavi,Kumar,+919812300002\n";
    let page = upload(&mut browser, good, true).await;
    assert!(
        page.body.contains("2 rows are valid; nothing was created"),
        "{}",
        page.body
    );
    assert_eq!(users_in(&app, &app.acme).await, 0);

    let page = upload(&mut browser, good, false).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert!(browser.get("/").await.body.contains("Imported 2 users"));
    assert_eq!(users_in(&app, &app.acme).await, 2);

    // A file that is no users CSV at all is refused as a whole, in one sentence.
    let page = upload(&mut browser, "nickname\nAsha\n", false).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("Unknown column"), "{}", page.body);
    assert_eq!(users_in(&app, &app.acme).await, 2);

    // A forged upload (no session token) is refused before the file is read.
    let (kind, body) = multipart("forged", good, false);
    let request = browser
        .client
        .post(format!("{}/import", browser.base))
        .header("content-type", kind)
        .body(body);
    assert_eq!(browser.send(request).await.status, StatusCode::FORBIDDEN);
    assert_eq!(users_in(&app, &app.acme).await, 2);
}

#[tokio::test]
async fn an_import_with_no_file_chosen_asks_for_one_and_an_empty_file_is_called_empty() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&app.acme).await;
    let boundary = "roster-test-boundary";
    // What a browser posts when its file field was left empty: the part, no name, no bytes.
    for (filename, expected) in [
        ("", "Choose a CSV file to import."),
        ("users.csv", "The file is empty"),
    ] {
        let body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\n{}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n\r\n--{boundary}--\r\n",
            browser.csrf
        );
        let request = browser
            .client
            .post(format!("{}/import", browser.base))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body);
        let page = browser.send(request).await;
        assert_eq!(
            page.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{filename:?}"
        );
        assert!(page.body.contains(expected), "{filename:?}: {}", page.body);
    }
}

#[tokio::test]
async fn a_save_never_undoes_someone_elses_edit_but_a_call_in_between_does_not_block_it() {
    let app = TestApp::spawn().await;
    let user = app.create_user(&app.acme, TestApp::new_user(1)).await;
    let id = user_id(&user);
    let device = user["devices"][0]["id"].as_u64().unwrap().to_string();
    let mut browser = Browser::new(&app);
    browser.sign_in(&app.acme).await;
    let form = browser.get(&format!("/users/{id}")).await;
    assert!(form.body.contains("name=\"was_last_name\" value=\"Rao\""));

    // A call starts on the user's device: the user's version moves, its details do not.
    app.directory
        .record_call("acme", &device, roster_service::CallEvent::Started)
        .await
        .unwrap();
    let save = |last: &'static str| {
        [
            ("was_first_name", "Asha"),
            ("was_last_name", "Rao"),
            ("was_email", "asha1@example.com"),
            ("first_name", "Asha"),
            ("last_name", last),
            ("email", "asha1@example.com"),
        ]
    };
    let page = browser.post(&format!("/users/{id}"), &save("Iyer")).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);

    // Someone else renames the user; a form filled in before that is refused.
    let path = format!("/v2/accounts/acme/users/{id}");
    app.put(&app.acme, &path, &json!({ "last_name": "Menon" }))
        .await;
    let page = browser.post(&format!("/users/{id}"), &save("Nair")).await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    assert!(page.body.contains("Someone changed this user"));
    assert!(page.body.contains("value=\"Menon\""));
    let stored = app.get(&app.acme, &path).await;
    assert_eq!(stored.body["response"]["data"]["last_name"], "Menon");
}

#[tokio::test]
async fn an_email_set_by_someone_else_meanwhile_is_shown_read_only_as_stored_and_saving_again_works(
) {
    let app = TestApp::spawn().await;
    let mut body = TestApp::new_user(1);
    body.as_object_mut().unwrap().remove("email");
    let id = user_id(&app.create_user(&app.acme, body).await);
    let mut browser = Browser::new(&app);
    browser.sign_in(&app.acme).await;
    browser.get(&format!("/users/{id}")).await;

    // Someone else sets an email while this person types a name and another email.
    let path = format!("/v2/accounts/acme/users/{id}");
    app.put(&app.acme, &path, &json!({ "email": "stored@example.com" }))
        .await;
    let page = browser
        .post(
            &format!("/users/{id}"),
            &[
                ("was_first_name", "Asha"),
                ("was_last_name", "Rao"),
                ("was_email", ""),
                ("first_name", "Ashaa"),
                ("last_name", "Rao"),
                ("email", "typed@example.com"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    // The email is read-only now, so it must show what is stored: a typed address there
    // could be neither saved nor corrected.
    assert!(
        page.body
            .contains("value=\"stored@example.com\" autocomplete=\"off\" readonly"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("typed@example.com"), "{}", page.body);
    assert!(page.body.contains("value=\"Ashaa\""), "{}", page.body);

    // Saving again, as the refused form now stands, applies the typed name.
    let page = browser
        .post(
            &format!("/users/{id}"),
            &[
                ("was_first_name", "Asha"),
                ("was_last_name", "Rao"),
                ("was_email", "stored@example.com"),
                ("first_name", "Ashaa"),
                ("last_name", "Rao"),
                ("email", "stored@example.com"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let stored = app.get(&app.acme, &path).await;
    assert_eq!(stored.body["response"]["data"]["first_name"], "Ashaa");
    assert_eq!(
        stored.body["response"]["data"]["email"],
        "stored@example.com"
    );
}

#[tokio::test]
async fn malformed_requests_get_a_page_with_the_frameworks_status() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&app.acme).await;
    for (path, status) in [
        ("/users/%FF", StatusCode::BAD_REQUEST),
        ("/?q=a&q=b", StatusCode::BAD_REQUEST),
    ] {
        let page = browser.get(path).await;
        assert_eq!(page.status, status, "{path}");
        assert!(
            page.body.contains("Request not understood"),
            "{path}: {}",
            page.body
        );
        assert!(page.body.starts_with("<!DOCTYPE html>"), "{path}");
    }
    let request = browser
        .client
        .post(format!("{}/import", browser.base))
        .header("content-type", "application/json")
        .body("{}");
    let page = browser.send(request).await;
    assert!(page.status.is_client_error(), "{}", page.status);
    assert!(
        page.body.contains("Request not understood"),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn a_page_past_the_last_links_back_and_an_ended_session_is_told() {
    let app = TestApp::spawn().await;
    for n in 0..3 {
        app.create_user(&app.acme, TestApp::new_user(n)).await;
    }
    let mut browser = Browser::new(&app);
    browser.sign_in(&app.acme).await;
    let page = browser.get("/?page=9").await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("No users yet"), "{}", page.body);
    assert!(
        page.body.contains("href=\"/?page=1\">Last page"),
        "{}",
        page.body
    );

    // Signed out from another browser: this one is sent to sign in, and told why.
    let mut other = Browser::new(&app);
    other.cookies = browser.cookies.clone();
    other.csrf = browser.csrf.clone();
    assert_eq!(
        other.post("/signout", &[]).await.status,
        StatusCode::SEE_OTHER
    );
    let page = browser.get("/").await;
    assert_eq!(page.location(), "/signin");
    let told = browser.get("/signin").await;
    assert!(
        told.body.contains("Your session has ended"),
        "{}",
        told.body
    );

    // Methods a page does not take get a page, with the methods it does.
    let mut browser = Browser::new(&app);
    browser.sign_in(&app.acme).await;
    let request = browser.client.delete(format!("{}/", browser.base));
    let page = browser.send(request).await;
    assert_eq!(page.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(
        page.body.contains("Request not understood"),
        "{}",
        page.body
    );
    assert!(page.headers["allow"].to_str().unwrap().contains("GET"));
    // A form body over 64 KiB is refused whole.
    let long = "x".repeat(100 * 1024);
    let page = browser
        .post("/users/new", &[("first_name", &long), ("last_name", "Rao")])
        .await;
    assert_eq!(page.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(!page.body.contains(&long[..1000]));
}

#[tokio::test]
async fn a_page_stream_starts_where_the_page_was_read() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&app.acme).await;
    let page = browser.get("/").await;
    let marker = "data-live-from=\"";
    let at = page.body.find(marker).expect("the page names its event") + marker.len();
    let from: u64 = page.body[at..].split('"').next().unwrap().parse().unwrap();

    // A change between reading the page and opening its stream still reaches it.
    app.create_user(&app.acme, TestApp::new_user(1)).await;
    let mut stream = browser
        .client
        .get(format!("{}/live?last_event_id={from}", browser.base))
        .header("cookie", browser.cookie_header())
        .send()
        .await
        .unwrap();
    read_until(&mut stream, "event: user.created").await;
}
