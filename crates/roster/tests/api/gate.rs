//! The order of checks every Users API request passes: credentials, account, region, rate
//! limit, KYC, trial.

use roster_domain::{AccountSettings, RateLimit, RegionName};

use crate::helpers::{Credentials, TestApp};

fn user_path(who: &Credentials) -> String {
    format!(
        "/v2/accounts/{}/users/9f7100ea9a484b75aadefa94303f62eb",
        who.sid
    )
}

#[tokio::test]
async fn missing_malformed_unknown_and_wrong_credentials_are_authentication_failures() {
    let app = TestApp::spawn().await;
    let url = app.url(&user_path(&app.acme));
    let unknown_key = Credentials {
        key: "0".repeat(40),
        ..app.acme.clone()
    };
    let wrong_token = Credentials {
        token: "0".repeat(64),
        ..app.acme.clone()
    };
    let requests = [
        app.client().get(&url),
        app.client().get(&url).header("authorization", "Bearer abc"),
        app.client().get(&url).header("authorization", "Basic ***"),
        app.client()
            .get(&url)
            .basic_auth(&unknown_key.key, Some(&unknown_key.token)),
        app.client()
            .get(&url)
            .basic_auth(&wrong_token.key, Some(&wrong_token.token)),
        app.client()
            .get(&url)
            .basic_auth(&app.acme.key, None::<&str>),
    ];

    for request in requests {
        let answer = app.send(request).await;
        answer.assert_error(401, Some(1010));
        assert_eq!(
            answer.header("www-authenticate"),
            Some("Basic realm=\"roster\"")
        );
        assert_eq!(answer.header("x-ratelimit-limit"), None);
    }
}

#[tokio::test]
async fn unknown_key_and_wrong_token_get_the_same_answer() {
    let app = TestApp::spawn().await;
    let unknown_key = Credentials {
        key: "0".repeat(40),
        ..app.acme.clone()
    };
    let wrong_token = Credentials {
        token: "0".repeat(64),
        ..app.acme.clone()
    };

    let unknown = app.get(&unknown_key, &user_path(&app.acme)).await;
    let wrong = app.get(&wrong_token, &user_path(&app.acme)).await;

    assert_eq!(unknown.body["response"], wrong.body["response"]);
}

#[tokio::test]
async fn a_revoked_key_is_refused() {
    let app = TestApp::spawn().await;
    app.get(&app.acme, &user_path(&app.acme))
        .await
        .assert_error(404, Some(10801));

    app.directory.revoke_key(&app.acme.key).await.unwrap();
    let answer = app.get(&app.acme, &user_path(&app.acme)).await;

    answer.assert_error(401, Some(1010));
}

#[tokio::test]
async fn credentials_of_another_account_or_an_unknown_sid_are_unauthorized() {
    let app = TestApp::spawn().await;
    let into_globex = Credentials {
        sid: "globex".to_owned(),
        ..app.acme.clone()
    };
    let into_nobody = Credentials {
        sid: "nobody".to_owned(),
        ..app.acme.clone()
    };

    app.get(&app.acme, &user_path(&into_globex))
        .await
        .assert_error(403, Some(1003));
    app.get(&app.acme, &user_path(&into_nobody))
        .await
        .assert_error(403, Some(1003));
}

#[tokio::test]
async fn an_account_homed_in_another_region_is_sent_to_that_region() {
    let app = TestApp::spawn().await;
    let settings = AccountSettings {
        region: Some(RegionName::parse("mumbai").unwrap()),
        ..Default::default()
    };
    let mumbai = app.account("mumbaico", settings).await;

    let answer = app.get(&mumbai, &user_path(&mumbai)).await;

    answer.assert_error(401, Some(1010));
    assert!(
        answer.description().contains("mumbai"),
        "{}",
        answer.description()
    );
}

#[tokio::test]
async fn every_admitted_request_reports_the_accounts_budget() {
    let app = TestApp::spawn().await;

    let first = app.get(&app.acme, &user_path(&app.acme)).await;
    let second = app.get(&app.acme, &user_path(&app.acme)).await;

    let reset = (app.now().as_second() / 60 + 1) * 60;
    assert_eq!(first.header("x-ratelimit-limit"), Some("200"));
    assert_eq!(first.header("x-ratelimit-remaining"), Some("199"));
    assert_eq!(second.header("x-ratelimit-remaining"), Some("198"));
    assert_eq!(
        second.header("x-ratelimit-reset"),
        Some(reset.to_string().as_str())
    );
}

#[tokio::test]
async fn an_exhausted_budget_is_refused_with_429_and_retry_after_until_the_minute_ends() {
    let app = TestApp::spawn().await;
    let settings = AccountSettings {
        rate_limit: Some(RateLimit::new(3).unwrap()),
        ..Default::default()
    };
    let small = app.account("small", settings).await;
    for _ in 0..3 {
        assert_eq!(app.get(&small, &user_path(&small)).await.status, 404);
    }

    let refused = app.get(&small, &user_path(&small)).await;
    app.clock.advance(60);
    let refilled = app.get(&small, &user_path(&small)).await;

    refused.assert_error(429, None);
    assert_eq!(
        refused.body["response"]["error_data"]["code"],
        serde_json::Value::Null
    );
    assert_eq!(refused.header("x-ratelimit-limit"), Some("3"));
    assert_eq!(refused.header("x-ratelimit-remaining"), Some("0"));
    let retry_after: i64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    refilled.assert_error(404, Some(10801));
    assert_eq!(refilled.header("x-ratelimit-remaining"), Some("2"));
}

#[tokio::test]
async fn an_account_without_kyc_is_refused_even_for_reads() {
    let app = TestApp::spawn().await;
    let settings = AccountSettings {
        kyc_complete: Some(false),
        ..Default::default()
    };
    let pending = app.account("pending", settings).await;

    let answer = app.get(&pending, &user_path(&pending)).await;

    answer.assert_error(403, Some(10814));
    assert_eq!(answer.header("x-ratelimit-remaining"), Some("199"));
}

#[tokio::test]
async fn a_trial_account_is_refused_and_kyc_is_checked_first() {
    let app = TestApp::spawn().await;
    let trial = app
        .account(
            "trial",
            AccountSettings {
                trial: Some(true),
                ..Default::default()
            },
        )
        .await;
    let both = AccountSettings {
        trial: Some(true),
        kyc_complete: Some(false),
        ..Default::default()
    };
    let both = app.account("both", both).await;

    app.get(&trial, &user_path(&trial))
        .await
        .assert_error(403, Some(10815));
    app.get(&both, &user_path(&both))
        .await
        .assert_error(403, Some(10814));
}

#[tokio::test]
async fn failed_credentials_are_limited_per_address_without_touching_valid_ones() {
    let app = TestApp::spawn().await;
    let wrong = Credentials {
        token: "0".repeat(64),
        ..app.acme.clone()
    };
    for _ in 0..30 {
        app.get(&wrong, &user_path(&app.acme))
            .await
            .assert_error(401, Some(1010));
    }

    let limited = app.get(&wrong, &user_path(&app.acme)).await;
    let valid = app.get(&app.acme, &user_path(&app.acme)).await;

    limited.assert_error(429, None);
    assert!(limited.header("retry-after").is_some());
    valid.assert_error(404, Some(10801));
    assert_eq!(valid.header("x-ratelimit-remaining"), Some("199"));
}

#[tokio::test]
async fn settings_changed_elsewhere_take_effect_within_a_second() {
    let app = TestApp::spawn().await;
    app.get(&app.acme, &user_path(&app.acme))
        .await
        .assert_error(404, Some(10801));
    let settings = AccountSettings {
        trial: Some(true),
        ..Default::default()
    };

    // Written straight to the database, as `roster accounts update` in another process does.
    let store = roster::startup::open_store(&app.database).await.unwrap();
    let mut account = store
        .account(&roster_domain::AccountSid::parse("acme").unwrap())
        .await
        .unwrap()
        .unwrap();
    account.apply(settings, app.now());
    assert!(store.update_account(&account).await.unwrap());
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;

    app.get(&app.acme, &user_path(&app.acme))
        .await
        .assert_error(403, Some(10815));
}

#[tokio::test]
async fn the_account_in_the_path_is_read_percent_decoded() {
    let app = TestApp::spawn().await;
    // `ac%6De` is `acme`, as every other path segment is decoded.
    let answer = app
        .get(
            &app.acme,
            "/v2/accounts/ac%6De/users/9f7100ea9a484b75aadefa94303f62eb",
        )
        .await;
    answer.assert_error(404, Some(10801));
    let answer = app
        .get(
            &app.acme,
            "/v2/accounts/ac%6De%20/users/9f7100ea9a484b75aadefa94303f62eb",
        )
        .await;
    answer.assert_error(403, Some(1003));
}
