//! The OpenAPI document at `/openapi.json`: it is OpenAPI 3.1, it lists exactly the
//! endpoints the contract names and the server serves, and real answers conform to it.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{device_of_type, user_id, Answer, Credentials, TestApp, OPERATOR_TOKEN};
use crate::operator::spawn_node;

/// Every endpoint of the contract (docs/api.md), as the document must list it: the Users
/// API under the lower-case `accounts` (with the event stream, an extension), then the
/// operator API.
const USERS_API: [(&str, &str); 11] = [
    ("get", "/v2/accounts/{sid}/users"),
    ("post", "/v2/accounts/{sid}/users"),
    ("get", "/v2/accounts/{sid}/users/{user_id}"),
    ("put", "/v2/accounts/{sid}/users/{user_id}"),
    ("delete", "/v2/accounts/{sid}/users/{user_id}"),
    ("get", "/v2/accounts/{sid}/users/{user_id}/devices"),
    ("post", "/v2/accounts/{sid}/users/{user_id}/devices"),
    (
        "put",
        "/v2/accounts/{sid}/users/{user_id}/devices/{device_id}",
    ),
    (
        "delete",
        "/v2/accounts/{sid}/users/{user_id}/devices/{device_id}",
    ),
    (
        "put",
        "/v2/accounts/{sid}/users/{user_id}/devices/{device_id}/password",
    ),
    ("get", "/v2/accounts/{sid}/events"),
];

const OPERATOR_API: [(&str, &str); 17] = [
    ("get", "/operator/v1/accounts"),
    ("post", "/operator/v1/accounts"),
    ("get", "/operator/v1/accounts/{sid}"),
    ("put", "/operator/v1/accounts/{sid}"),
    ("delete", "/operator/v1/accounts/{sid}"),
    ("get", "/operator/v1/accounts/{sid}/keys"),
    ("post", "/operator/v1/accounts/{sid}/keys"),
    ("delete", "/operator/v1/keys/{api_key}"),
    ("post", "/operator/v1/accounts/{sid}/verifications"),
    (
        "post",
        "/operator/v1/accounts/{sid}/devices/{device_id}/calls/start",
    ),
    (
        "post",
        "/operator/v1/accounts/{sid}/devices/{device_id}/calls/end",
    ),
    ("post", "/operator/v1/accounts/{sid}/users/{user_id}/logins"),
    (
        "get",
        "/operator/v1/accounts/{sid}/sip-credentials/{username}",
    ),
    ("get", "/operator/v1/accounts/{sid}/webhooks"),
    ("post", "/operator/v1/accounts/{sid}/webhooks"),
    (
        "delete",
        "/operator/v1/accounts/{sid}/webhooks/{webhook_id}",
    ),
    ("get", "/operator/v1/accounts/{sid}/webhooks/deliveries"),
];

const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

/// Fetches the document without credentials and checks it is served as JSON.
async fn document(base: &str, app: &TestApp) -> Value {
    let answer = app
        .send(app.client().get(format!("{base}/openapi.json")))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert!(answer.header("x-request-id").is_some());
    answer.body
}

/// The (method, path) pairs the document lists.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if item.get(method).is_some() {
                out.insert((method.to_owned(), path.clone()));
            }
        }
    }
    out
}

fn expected(lists: &[&[(&str, &str)]]) -> BTreeSet<(String, String)> {
    lists
        .iter()
        .flat_map(|list| list.iter())
        .map(|(method, path)| ((*method).to_owned(), (*path).to_owned()))
        .collect()
}

/// A path with its parameters filled by well-formed values nothing has.
fn concrete(template: &str) -> String {
    template
        .replace("{sid}", "acme")
        .replace("{user_id}", "9f7100ea9a484b75aadefa94303f62eb")
        .replace("{device_id}", "12345")
        .replace("{api_key}", "0000000000000000000000000000000000000000")
        .replace("{username}", "nobody")
        .replace("{webhook_id}", "wh_0000000000000000")
}

#[tokio::test]
async fn the_document_is_openapi_3_1_and_lists_exactly_the_served_endpoints() {
    let app = TestApp::spawn().await;
    let base = app.url("");
    let doc = document(&base, &app).await;

    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(operations(&doc), expected(&[&USERS_API, &OPERATOR_API]));

    for (method, template) in operations(&doc) {
        // A fresh minute for each operation: together they fail authentication more often
        // than one address may in a minute.
        app.clock.advance(61);
        let users_api = template.starts_with("/v2/");
        let mut paths = vec![concrete(&template)];
        if users_api {
            paths.push(concrete(&template).replacen("/v2/accounts/", "/v2/Accounts/", 1));
        }
        for path in paths {
            // Without credentials every served route answers 401: routing found it, and
            // the gate refused it; an unknown route would be 404 / 1000, a method it does
            // not serve 405.
            let http_method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let request = app
                .client()
                .request(http_method, app.url(&path))
                .header("content-type", "application/json")
                .body("{}");
            app.send(request).await.assert_error(401, Some(1010));
        }

        // The methods the document does not list for this path are not served there.
        let listed: BTreeSet<&str> = METHODS
            .into_iter()
            .filter(|m| doc["paths"][&template].get(*m).is_some())
            .collect();
        for other in METHODS.into_iter().filter(|m| !listed.contains(m)) {
            let http_method = Method::from_bytes(other.to_uppercase().as_bytes()).unwrap();
            let request = app
                .client()
                .request(http_method, app.url(&concrete(&template)));
            let answer = app.send(request).await;
            answer.assert_error(405, Some(1007));
            let allow: BTreeSet<String> = answer
                .header("allow")
                .unwrap_or_default()
                .split(',')
                .map(|m| m.trim().to_lowercase())
                .filter(|m| m != "head")
                .collect();
            let listed: BTreeSet<String> = listed.iter().map(|m| (*m).to_owned()).collect();
            assert_eq!(allow, listed, "{template}");
        }
    }
}

#[tokio::test]
async fn every_operation_is_described_with_its_parameters_security_and_errors() {
    let app = TestApp::spawn().await;
    let doc = document(&app.url(""), &app).await;

    for (method, template) in operations(&doc) {
        let operation = &doc["paths"][&template][&method];
        let name = format!("{method} {template}");
        assert!(operation["operationId"].is_string(), "{name}");
        assert!(operation["summary"].is_string(), "{name}");

        // Path parameters: exactly those of the template, each required.
        let in_template: BTreeSet<String> = template
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(str::to_owned)
            .collect();
        let documented: BTreeSet<String> = operation["parameters"]
            .as_array()
            .map(|ps| {
                ps.iter()
                    .filter(|p| p["in"] == "path")
                    .inspect(|p| assert_eq!(p["required"], true, "{name}"))
                    .map(|p| p["name"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(documented, in_template, "{name}");

        let scheme = if template.starts_with("/v2/") {
            "basic"
        } else {
            "operator"
        };
        assert_eq!(operation["security"], json!([{ scheme: [] }]), "{name}");
        assert!(doc["components"]["securitySchemes"][scheme].is_object());

        let responses = operation["responses"].as_object().unwrap();
        let mut statuses: Vec<&str> = responses.keys().map(String::as_str).collect();
        statuses.sort_unstable();
        assert!(statuses.contains(&"200"), "{name}");
        let gate: &[&str] = if scheme == "basic" {
            &["400", "401", "403", "429", "500"]
        } else {
            &["400", "401", "500"]
        };
        for status in gate {
            assert!(statuses.contains(status), "{name} lacks {status}");
        }
        if operation.get("requestBody").is_some() {
            for status in ["413", "415"] {
                assert!(statuses.contains(&status), "{name} lacks {status}");
            }
        }
        for (status, response) in responses {
            assert_eq!(
                response["headers"]["X-Request-Id"]["required"], true,
                "{name} {status}"
            );
            // The event stream's 200 is a stream, not one JSON answer.
            if response["content"]["text/event-stream"].is_object() {
                assert_eq!(template, "/v2/accounts/{sid}/events", "{name}");
                continue;
            }
            let schema = &response["content"]["application/json"]["schema"];
            let envelope = resolve(&doc, schema);
            let required: Vec<&str> = envelope["required"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            assert!(required.contains(&"request_id"), "{name} {status}");
            if status != "200" {
                assert_eq!(
                    schema["$ref"], "#/components/schemas/Envelope_Failure",
                    "{name} {status}"
                );
            }
        }
    }
}

#[tokio::test]
async fn every_reference_in_the_document_resolves() {
    let app = TestApp::spawn().await;
    let doc = document(&app.url(""), &app).await;

    let mut references = Vec::new();
    collect_references(&doc, &mut references);
    assert!(references.len() > 20, "{references:?}");
    for reference in references {
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("not local: {reference}"));
        assert!(
            doc.pointer(pointer).is_some(),
            "{reference} does not resolve"
        );
    }
}

fn collect_references(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(object) => {
            if let Some(Value::String(reference)) = object.get("$ref") {
                out.push(reference.clone());
            }
            object.values().for_each(|v| collect_references(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_references(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn without_the_operator_api_the_document_leaves_it_out() {
    let app = TestApp::spawn().await;
    let node = spawn_node(&app.backend.url(), app.clock.clone(), None).await;
    let doc = document(&format!("http://{node}"), &app).await;

    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(operations(&doc), expected(&[&USERS_API]));
}

#[tokio::test]
async fn the_document_needs_no_credentials_and_stays_the_same() {
    let app = TestApp::spawn().await;
    let first = document(&app.url(""), &app).await;
    // Credentials of any kind change nothing, and it is not counted against a budget.
    let request = app
        .client()
        .get(app.url("/openapi.json"))
        .basic_auth("nobody", Some("nothing"));
    let second = app.send(request).await;
    assert_eq!(second.status, 200);
    assert_eq!(second.body, first);
    assert_eq!(second.header("x-ratelimit-limit"), None);

    let refused = app
        .send(app.client().post(app.url("/openapi.json")).body("{}"))
        .await;
    refused.assert_error(405, Some(1007));
}

// Real answers against the document: each one's status must be documented for its
// operation, and its body must validate against that response's schema.

/// One request of a conformance run: what to send, and the operation it is documented as.
struct Call {
    method: &'static str,
    path: String,
    template: &'static str,
    body: Option<Value>,
}

fn call(method: &'static str, path: String, template: &'static str, body: Option<Value>) -> Call {
    Call {
        method,
        path,
        template,
        body,
    }
}

/// Who a conformance run's requests come from.
enum Auth<'a> {
    Basic(&'a Credentials),
    Operator,
    Nobody,
}

/// Sends each call, checks its answer against the document, and returns the statuses seen.
async fn run(app: &TestApp, doc: &Value, auth: Auth<'_>, calls: Vec<Call>) -> BTreeSet<u16> {
    let mut statuses = BTreeSet::new();
    for call in calls {
        let method = Method::from_bytes(call.method.to_uppercase().as_bytes()).unwrap();
        let mut request = app.client().request(method, app.url(&call.path));
        request = match &auth {
            Auth::Basic(who) => request.basic_auth(&who.key, Some(&who.token)),
            Auth::Operator => request.bearer_auth(OPERATOR_TOKEN),
            Auth::Nobody => request,
        };
        if let Some(body) = call.body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let answer = app.send(request).await;
        statuses.insert(answer.status.as_u16());
        conforms(doc, &answer, call.method, call.template);
    }
    statuses
}

const USERS: &str = "/v2/accounts/{sid}/users";
const USER: &str = "/v2/accounts/{sid}/users/{user_id}";
const DEVICES: &str = "/v2/accounts/{sid}/users/{user_id}/devices";
const DEVICE: &str = "/v2/accounts/{sid}/users/{user_id}/devices/{device_id}";
const PASSWORD: &str = "/v2/accounts/{sid}/users/{user_id}/devices/{device_id}/password";

#[tokio::test]
async fn answers_of_the_users_api_conform_to_the_document() {
    let app = TestApp::spawn().await;
    let doc = document(&app.url(""), &app).await;
    let voip = app.voip_account("voipco").await;
    let users = "/v2/accounts/voipco/users".to_owned();

    let created = app.post(&voip, &users, &TestApp::new_user(1)).await;
    conforms(&doc, &created, "post", USERS);
    let user = created.assert_success().clone();
    let one = format!("{users}/{}", user_id(&user));
    let phone = format!("{one}/devices/{}", device_of_type(&user, "tel"));
    let softphone = format!("{one}/devices/{}", device_of_type(&user, "sip"));

    let calls = vec![
        call("get", one.clone(), USER, None),
        call(
            "get",
            format!("{one}?fields=devices,active_call,last_login"),
            USER,
            None,
        ),
        call(
            "get",
            format!("{users}?limit=5&fields=devices"),
            USERS,
            None,
        ),
        call("get", format!("{users}?limit=0"), USERS, None),
        call("post", users.clone(), USERS, Some(TestApp::new_user(1))),
        call(
            "put",
            one.clone(),
            USER,
            Some(json!({"first_name": "Ravi"})),
        ),
        call("put", one.clone(), USER, Some(json!({"role": "admin"}))),
        call("get", format!("{one}/devices"), DEVICES, None),
        call(
            "post",
            format!("{one}/devices"),
            DEVICES,
            Some(json!({"contact_uri": "sip:extra.line"})),
        ),
        call(
            "put",
            softphone.clone(),
            DEVICE,
            Some(json!({"available": true})),
        ),
        call(
            "put",
            phone.clone(),
            DEVICE,
            Some(json!({"available": true})),
        ),
        call(
            "put",
            format!("{softphone}/password"),
            PASSWORD,
            Some(json!({"password": "Str0ng-Secret"})),
        ),
        call(
            "put",
            format!("{phone}/password"),
            PASSWORD,
            Some(json!({"password": "Str0ng-Secret"})),
        ),
        call("delete", phone, DEVICE, None),
        call("delete", one.clone(), USER, None),
        call("get", one, USER, None),
    ];
    let statuses = run(&app, &doc, Auth::Basic(&voip), calls).await;
    // The calls above were chosen to give successes and errors alike.
    assert_eq!(statuses, BTreeSet::from([200, 400, 404, 409]));

    // The gate's refusals: unknown credentials, and another account's.
    let refused = vec![call("get", users.clone(), USERS, None)];
    assert_eq!(
        run(&app, &doc, Auth::Nobody, refused).await,
        BTreeSet::from([401])
    );
    let refused = vec![call("get", users, USERS, None)];
    assert_eq!(
        run(&app, &doc, Auth::Basic(&app.acme), refused).await,
        BTreeSet::from([403])
    );
}

#[tokio::test]
async fn answers_of_the_operator_api_conform_to_the_document() {
    let app = TestApp::spawn().await;
    let doc = document(&app.url(""), &app).await;
    let voip = app.voip_account("voipco").await;
    let user = app.create_user(&voip, TestApp::new_user(1)).await;
    let id = user_id(&user);
    let softphone = device_of_type(&user, "sip");
    let contact = user["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["type"] == "sip")
        .unwrap()["contact_uri"]
        .as_str()
        .unwrap()
        .to_owned();
    let sip_user = contact.trim_start_matches("sip:");
    app.put(
        &voip,
        &format!("/v2/accounts/voipco/users/{id}/devices/{softphone}/password"),
        &json!({"password": "Str0ng-Secret"}),
    )
    .await
    .assert_success();

    let accounts = "/operator/v1/accounts";
    let account = "/operator/v1/accounts/{sid}";
    let keys = "/operator/v1/accounts/{sid}/keys";
    let calls = vec![
        call("get", accounts.into(), accounts, None),
        call(
            "post",
            accounts.into(),
            accounts,
            Some(json!({"sid": "newco", "voip_enabled": true})),
        ),
        call(
            "post",
            accounts.into(),
            accounts,
            Some(json!({"sid": "newco"})),
        ),
        call("get", format!("{accounts}/newco"), account, None),
        call(
            "put",
            format!("{accounts}/newco"),
            account,
            Some(json!({"timezone": "Nowhere/Land"})),
        ),
        call("post", format!("{accounts}/newco/keys"), keys, None),
        call("get", format!("{accounts}/newco/keys"), keys, None),
        call(
            "post",
            format!("{accounts}/voipco/devices/{softphone}/calls/start"),
            "/operator/v1/accounts/{sid}/devices/{device_id}/calls/start",
            None,
        ),
        call(
            "post",
            format!("{accounts}/voipco/users/{id}/logins"),
            "/operator/v1/accounts/{sid}/users/{user_id}/logins",
            None,
        ),
        call(
            "get",
            format!("{accounts}/voipco/sip-credentials/{sip_user}"),
            "/operator/v1/accounts/{sid}/sip-credentials/{username}",
            None,
        ),
        call(
            "post",
            format!("{accounts}/voipco/verifications"),
            "/operator/v1/accounts/{sid}/verifications",
            Some(json!({"contact_uri": "+919999999999"})),
        ),
        call("delete", format!("{accounts}/newco"), account, None),
        call(
            "delete",
            "/operator/v1/keys/0000000000000000000000000000000000000000".into(),
            "/operator/v1/keys/{api_key}",
            None,
        ),
    ];
    let statuses = run(&app, &doc, Auth::Operator, calls).await;
    // The calls above were chosen to give successes and errors alike.
    assert_eq!(statuses, BTreeSet::from([200, 400, 404, 409]));

    let refused = vec![call("get", accounts.into(), accounts, None)];
    assert_eq!(
        run(&app, &doc, Auth::Nobody, refused).await,
        BTreeSet::from([401])
    );
}

/// Checks that the answer's status is documented for the operation, that its body
/// validates against that response's schema, and that its documented headers are there.
fn conforms(doc: &Value, answer: &Answer, method: &str, template: &str) {
    let status = answer.status.as_u16().to_string();
    let name = format!("{method} {template} -> {status}");
    let response = &doc["paths"][template][method]["responses"][&status];
    assert!(
        response.is_object(),
        "{name} is not documented: {}",
        answer.body
    );
    assert_eq!(
        answer.header("content-type"),
        Some("application/json"),
        "{name}"
    );
    let schema = &response["content"]["application/json"]["schema"];
    if let Err(error) = validate(doc, schema, &answer.body, "$") {
        panic!("{name}: {error}\n{}", answer.body);
    }
    for (header, spec) in response["headers"].as_object().unwrap() {
        let value = answer.header(header);
        if spec["required"] == true {
            assert!(value.is_some(), "{name} lacks {header}");
        }
        if let (Some(value), "integer") = (value, spec["schema"]["type"].as_str().unwrap()) {
            assert!(value.parse::<u64>().is_ok(), "{name} {header}: {value}");
        }
    }
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("unexpected $ref {reference}"));
            let target = &doc["components"]["schemas"][name];
            assert!(target.is_object(), "{reference} does not resolve");
            resolve(doc, target)
        }
        None => schema,
    }
}

/// A small JSON Schema check: the keywords roster's response schemas use. Objects must
/// hold no key the schema does not name, as roster writes exactly its records' keys.
fn validate(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    let schema = resolve(doc, schema);
    if let Some(types) = schema.get("type") {
        let types: Vec<&str> = match types {
            Value::String(one) => vec![one.as_str()],
            Value::Array(many) => many.iter().map(|t| t.as_str().unwrap()).collect(),
            other => return Err(format!("{at}: bad type keyword {other}")),
        };
        if !types.iter().any(|t| has_type(value, t)) {
            return Err(format!("{at}: {value} is not {types:?}"));
        }
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        if !values.contains(value) {
            return Err(format!("{at}: {value} is not one of {values:?}"));
        }
    }
    if let (Some(pattern), Some(text)) = (schema["pattern"].as_str(), value.as_str()) {
        if !matches_pattern(pattern, text) {
            return Err(format!("{at}: {text:?} does not match {pattern}"));
        }
    }
    if let (Some(minimum), Some(number)) = (schema["minimum"].as_f64(), value.as_f64()) {
        if number < minimum {
            return Err(format!("{at}: {number} is below {minimum}"));
        }
    }
    if let (Some(maximum), Some(number)) = (schema["maximum"].as_f64(), value.as_f64()) {
        if number > maximum {
            return Err(format!("{at}: {number} is above {maximum}"));
        }
    }
    if let Some(one_of) = schema.get("oneOf").and_then(Value::as_array) {
        let passing = one_of
            .iter()
            .filter(|s| validate(doc, s, value, at).is_ok())
            .count();
        if passing != 1 {
            return Err(format!("{at}: {value} matches {passing} of oneOf"));
        }
    }
    if let Some(all_of) = schema.get("allOf").and_then(Value::as_array) {
        for part in all_of {
            validate(doc, part, value, at)?;
        }
    }
    if let Value::Object(object) = value {
        let properties = schema["properties"].as_object();
        for key in schema["required"].as_array().into_iter().flatten() {
            let key = key.as_str().unwrap();
            if !object.contains_key(key) {
                return Err(format!("{at}: required {key} missing"));
            }
        }
        if let Some(properties) = properties {
            for (key, item) in object {
                let Some(property) = properties.get(key) else {
                    return Err(format!("{at}: {key} is not in the schema"));
                };
                validate(doc, property, item, &format!("{at}.{key}"))?;
            }
        }
    }
    if let (Value::Array(items), Some(item_schema)) = (value, schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            validate(doc, item_schema, item, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

fn has_type(value: &Value, name: &str) -> bool {
    match name {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_u64() || value.is_i64(),
        "number" => value.is_number(),
        "string" => value.is_string(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        other => panic!("unknown type {other}"),
    }
}

/// The patterns roster's response schemas use; another one must be taught here first.
fn matches_pattern(pattern: &str, text: &str) -> bool {
    match pattern {
        "^[0-9a-f]{32}$" => {
            text.len() == 32 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        }
        other => panic!("the test does not know the pattern {other}"),
    }
}
