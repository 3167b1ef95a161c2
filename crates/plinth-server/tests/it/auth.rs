//! Authentication: login without user enumeration, refresh rotation with reuse detection,
//! logout, `me`, and every kind of bad access token (missing, garbage, forged, tampered,
//! `alg: none`, expired, for a user that is gone) answered 401 with a problem body.

use crate::harness::{
    jwt_claims, now_seconds, sign_jwt, ReplyExt, TestServer, JWT_SECRET, PASSWORD,
};
use base64::Engine;
use reqwest::Method;
use serde_json::{json, Value};

crate::scenarios!("todo" =>
    login_failures_do_not_tell_which_part_was_wrong,
    refresh_rotates_and_reuse_revokes_the_family,
    logout_revokes_the_refresh_token,
    changing_the_password_revokes_refresh_tokens,
    me_answers_the_callers_own_row,
    missing_token_is_401,
    bad_tokens_are_401,
    register_rejects_privileged_fields_and_duplicates,
    role_cannot_be_raised_by_the_user_themselves,
    an_admin_appointed_in_the_database_takes_effect_at_once,
);

async fn login(server: &TestServer, email: &str, password: &str) -> crate::harness::Reply {
    server
        .post(
            "/api/v1/auth/login",
            None,
            &json!({ "email": email, "password": password }),
        )
        .await
}

async fn login_failures_do_not_tell_which_part_was_wrong(server: &TestServer) {
    let ada = server.register_named("ada@example.com", "Ada").await;

    let good = login(server, "ada@example.com", PASSWORD).await;
    assert_eq!(good.status, 200, "{}", good.text);
    let body = good.json();
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["access_token"].is_string() && body["refresh_token"].is_string());
    assert!(body["expires_in"]
        .as_i64()
        .is_some_and(|seconds| seconds > 0));
    assert_eq!(body["user"]["id"], ada.id_value);
    assert!(body["user"].get("password").is_none(), "{}", good.text);

    let wrong_password = login(server, "ada@example.com", "not the password").await;
    let unknown_user = login(server, "nobody@example.com", PASSWORD).await;
    let wrong = wrong_password.problem(401);
    let unknown = unknown_user.problem(401);
    assert_eq!(wrong["code"], unknown["code"], "same code for both");
    assert_eq!(wrong["title"], unknown["title"], "same title for both");
    assert_eq!(wrong["detail"], unknown["detail"], "same detail for both");
    assert_eq!(wrong["type"], unknown["type"], "same type for both");
    let keys = |value: &Value| {
        let mut keys: Vec<String> = value
            .as_object()
            .map(|object| object.keys().cloned().collect())
            .unwrap_or_default();
        keys.sort();
        keys
    };
    assert_eq!(keys(wrong), keys(unknown), "same body shape");

    // An empty password or a missing field is a client error, never a 5xx, and never a login.
    let empty = login(server, "ada@example.com", "").await;
    assert!(matches!(empty.status, 400 | 401 | 422), "{}", empty.text);
    empty.problem_any();
    let missing = server
        .post(
            "/api/v1/auth/login",
            None,
            &json!({ "email": "ada@example.com" }),
        )
        .await;
    assert!(
        matches!(missing.status, 400 | 401 | 422),
        "{}",
        missing.text
    );
    missing.problem_any();
}

async fn refresh(server: &TestServer, token: &str) -> crate::harness::Reply {
    server
        .post(
            "/api/v1/auth/refresh",
            None,
            &json!({ "refresh_token": token }),
        )
        .await
}

async fn refresh_rotates_and_reuse_revokes_the_family(server: &TestServer) {
    let ada = server.register_named("ada@example.com", "Ada").await;
    let first = login(server, "ada@example.com", PASSWORD).await;
    let original = first.json()["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    let rotated = refresh(server, &original).await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    let body = rotated.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["user"]["id"], ada.id_value);
    let next = body["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(!next.is_empty());
    assert_ne!(next, original, "refresh rotates the refresh token");
    let access = body["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let me = server.get("/api/v1/auth/me", Some(&access)).await;
    assert_eq!(me.status, 200, "the new access token works: {}", me.text);

    let reused = refresh(server, &original).await;
    reused.problem(401);
    // Reuse of a rotated token revokes the whole family: the newest token dies too.
    let after_reuse = refresh(server, &next).await;
    after_reuse.problem(401);

    // The register session is a family of its own: untouched by the revocation.
    let other_family = refresh(server, &ada.refresh_token).await;
    assert_eq!(
        other_family.status, 200,
        "another session's family stays valid: {}",
        other_family.text
    );

    // Garbage is a 401 (or a 400/422 for a malformed body), never a 5xx.
    refresh(server, "not-a-token").await.problem(401);
    let no_body = server.post("/api/v1/auth/refresh", None, &json!({})).await;
    assert!(
        matches!(no_body.status, 400 | 401 | 422),
        "{}",
        no_body.text
    );
    no_body.problem_any();
}

async fn logout_revokes_the_refresh_token(server: &TestServer) {
    let ada = server.register_named("ada@example.com", "Ada").await;
    let logout = server
        .post(
            "/api/v1/auth/logout",
            ada.token(),
            &json!({ "refresh_token": ada.refresh_token }),
        )
        .await;
    assert_eq!(logout.status, 204, "{}", logout.text);
    assert!(logout.bytes.is_empty(), "{}", logout.text);
    refresh(server, &ada.refresh_token).await.problem(401);

    // Logging in again gives a working session.
    let again = login(server, "ada@example.com", PASSWORD).await;
    assert_eq!(again.status, 200, "{}", again.text);
    let token = again.json()["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(refresh(server, &token).await.status, 200);
}

async fn me_answers_the_callers_own_row(server: &TestServer) {
    let ada = server.register_named("ada@example.com", "Ada").await;
    let bob = server.register_named("bob@example.com", "Bob").await;
    for session in [&ada, &bob] {
        let me = server.get("/api/v1/auth/me", session.token()).await;
        assert_eq!(me.status, 200, "{}", me.text);
        let body = me.json();
        assert_eq!(body["id"], session.id_value);
        assert_eq!(body["email"], session.user["email"]);
        assert_eq!(body["name"], session.user["name"]);
        assert_eq!(body["role"], "USER");
        assert!(
            body.get("password").is_none(),
            "no @password field: {}",
            me.text
        );
        assert!(!me.text.contains("$argon2"), "{}", me.text);
        assert_eq!(
            body, &session.user,
            "me answers the user of the token response"
        );
    }
}

async fn missing_token_is_401(server: &TestServer) {
    let ada = server.register_named("ada@example.com", "Ada").await;
    let task = server
        .create("/api/v1/tasks", ada.token(), &json!({ "title": "Private" }))
        .await;
    let id = crate::harness::id_of(&task);

    server.get("/api/v1/auth/me", None).await.problem(401);
    server.get("/api/v1/tasks", None).await.problem(401);
    server
        .get(&format!("/api/v1/tasks/{id}"), None)
        .await
        .problem(401);
    server
        .post("/api/v1/tasks", None, &json!({ "title": "Anonymous" }))
        .await
        .problem(401);
    server
        .patch(
            &format!("/api/v1/tasks/{id}"),
            None,
            &json!({ "done": true }),
        )
        .await
        .problem(401);
    server
        .delete(&format!("/api/v1/tasks/{id}"), None)
        .await
        .problem(401);
    let challenge = server.get("/api/v1/auth/me", None).await;
    assert!(
        challenge
            .header("www-authenticate")
            .is_some_and(|value| value.to_ascii_lowercase().starts_with("bearer")),
        "401 carries a Bearer challenge: {:?}",
        challenge.headers
    );
    // Nothing changed behind the 401s.
    let still = server
        .get(&format!("/api/v1/tasks/{id}"), ada.token())
        .await;
    assert_eq!(still.json()["done"], false);
    assert_eq!(
        server.get("/api/v1/tasks", ada.token()).await.ids(),
        vec![id]
    );
}

fn base64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

async fn me_with(server: &TestServer, authorization: &str) -> crate::harness::Reply {
    server
        .request(Method::GET, "/api/v1/auth/me")
        .header("authorization", authorization)
        .reply()
        .await
}

async fn bad_tokens_are_401(server: &TestServer) {
    let ada = server.register_named("ada@example.com", "Ada").await;
    let bob = server.register_named("bob@example.com", "Bob").await;
    let claims = jwt_claims(&ada.access_token);
    assert_eq!(
        claims["sub"].as_str(),
        Some(ada.id.as_str()),
        "the access token's subject is the user id: {claims}"
    );
    assert!(
        claims["exp"].as_i64().is_some(),
        "access tokens expire: {claims}"
    );

    // Control: a token minted with the server's secret and fresh claims is accepted, so the
    // rejections below are about what was changed, not about the harness.
    let mut fresh = claims.clone();
    fresh["iat"] = json!(now_seconds());
    fresh["exp"] = json!(now_seconds() + 600);
    let minted = sign_jwt(&fresh, JWT_SECRET);
    let control = me_with(server, &format!("Bearer {minted}")).await;
    assert_eq!(
        control.status, 200,
        "a well-signed token works: {}",
        control.text
    );
    assert_eq!(control.json()["id"], ada.id_value);

    let mut expired = claims.clone();
    expired["iat"] = json!(now_seconds() - 7200);
    expired["exp"] = json!(now_seconds() - 3600);
    let expired_token = sign_jwt(&expired, JWT_SECRET);

    let forged = sign_jwt(&fresh, "some-other-secret-that-is-long-enough");

    // Tampered: Bob's id in Ada's signed token.
    let parts: Vec<&str> = ada.access_token.split('.').collect();
    let mut tampered_claims = claims.clone();
    tampered_claims["sub"] = json!(bob.id);
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        base64url(tampered_claims.to_string().as_bytes()),
        parts[2]
    );

    // `alg: none`, unsigned, with valid claims.
    let header_none = base64url(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = base64url(fresh.to_string().as_bytes());
    let alg_none = format!("{header_none}.{payload}.");
    let alg_none_no_dot = format!("{header_none}.{payload}");

    // HS512 with the right secret: only HS256 is accepted.
    let hs512 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512),
        &fresh,
        &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .expect("signed");

    // A valid signature for a user that does not exist.
    let mut ghost = fresh.clone();
    ghost["sub"] = json!("c0000000000000000000ghost");
    let ghost_token = sign_jwt(&ghost, JWT_SECRET);

    let cases = [
        ("garbage", "Bearer not.a.token".to_string()),
        ("empty bearer", "Bearer ".to_string()),
        (
            "wrong scheme",
            format!("Basic {}", base64url(b"ada@example.com:pw")),
        ),
        ("token without scheme", ada.access_token.clone()),
        ("expired", format!("Bearer {expired_token}")),
        ("forged with another key", format!("Bearer {forged}")),
        ("tampered payload", format!("Bearer {tampered}")),
        ("alg none", format!("Bearer {alg_none}")),
        (
            "alg none without signature part",
            format!("Bearer {alg_none_no_dot}"),
        ),
        ("HS512", format!("Bearer {hs512}")),
        (
            "refresh token as access token",
            format!("Bearer {}", ada.refresh_token),
        ),
        // Last: a validly signed token for a user that does not exist (deleted, or never was).
        ("unknown subject", format!("Bearer {ghost_token}")),
    ];
    for (name, authorization) in cases {
        let reply = me_with(server, &authorization).await;
        assert_eq!(
            reply.status, 401,
            "{name}: expected 401, got {}: {}",
            reply.status, reply.text
        );
        reply.problem(401);
        // Also on a resource route.
        let list = server
            .request(Method::GET, "/api/v1/tasks")
            .header("authorization", &authorization)
            .reply()
            .await;
        assert_eq!(list.status, 401, "{name} on /api/v1/tasks: {}", list.text);
    }

    // After all that, Ada's own token still works and names Ada.
    let me = server.get("/api/v1/auth/me", ada.token()).await;
    assert_eq!(me.json()["id"], ada.id_value);
}

async fn register_rejects_privileged_fields_and_duplicates(server: &TestServer) {
    // Sending `role` at registration is refused outright, not ignored.
    let with_role = server
        .post(
            "/api/v1/auth/register",
            None,
            &json!({ "email": "mallory@example.com", "password": PASSWORD, "name": "M", "role": "ADMIN" }),
        )
        .await;
    with_role.validation_error_on("role");
    // Server-filled fields are not accepted either.
    let with_id = server
        .post(
            "/api/v1/auth/register",
            None,
            &json!({ "email": "mallory@example.com", "password": PASSWORD, "name": "M", "id": "chosen-id" }),
        )
        .await;
    with_id.validation_error_on("id");
    // Neither attempt created the account: a clean registration with that email still works.
    let mallory = server.register_named("mallory@example.com", "M").await;
    assert_eq!(mallory.user["role"], "USER");
    assert_ne!(mallory.id, "chosen-id");

    let duplicate = server
        .post(
            "/api/v1/auth/register",
            None,
            &json!({ "email": "mallory@example.com", "password": "another password", "name": "M2" }),
        )
        .await;
    duplicate.problem(409);
    // The first account's password still works; the duplicate's does not.
    assert_eq!(
        login(server, "mallory@example.com", PASSWORD).await.status,
        200
    );
    login(server, "mallory@example.com", "another password")
        .await
        .problem(401);

    let missing_password = server
        .post(
            "/api/v1/auth/register",
            None,
            &json!({ "email": "x@example.com", "name": "X" }),
        )
        .await;
    missing_password.validation_error_on("password");
    let bad_email = server
        .post(
            "/api/v1/auth/register",
            None,
            &json!({ "email": "not-an-email", "password": PASSWORD, "name": "X" }),
        )
        .await;
    bad_email.validation_error_on("email");
    let long_name = server
        .post(
            "/api/v1/auth/register",
            None,
            &json!({ "email": "y@example.com", "password": PASSWORD, "name": "n".repeat(101) }),
        )
        .await;
    long_name.validation_error_on("name");
    // None of the refused registrations exists.
    login(server, "x@example.com", PASSWORD).await.problem(401);
    login(server, "y@example.com", PASSWORD).await.problem(401);
}

async fn role_cannot_be_raised_by_the_user_themselves(server: &TestServer) {
    let mallory = server
        .register_named("mallory@example.com", "Mallory")
        .await;
    let attempt = server
        .patch(
            &format!("/api/v1/users/{}", mallory.id),
            mallory.token(),
            &json!({ "role": "ADMIN" }),
        )
        .await;
    assert!(
        matches!(attempt.status, 403 | 404 | 422),
        "promoting oneself must fail, got {}: {}",
        attempt.status,
        attempt.text
    );
    attempt.problem_any();
    // Mixed with an allowed change, the whole PATCH fails.
    let mixed = server
        .patch(
            &format!("/api/v1/users/{}", mallory.id),
            mallory.token(),
            &json!({ "name": "Still Mallory", "role": "ADMIN" }),
        )
        .await;
    assert!(matches!(mixed.status, 403 | 404 | 422), "{}", mixed.text);
    let me = server.get("/api/v1/auth/me", mallory.token()).await;
    assert_eq!(me.json()["role"], "USER", "role unchanged: {}", me.text);
    assert_eq!(
        me.json()["name"],
        "Mallory",
        "a failed PATCH changes nothing: {}",
        me.text
    );
    // And no admin powers: another user's row stays hidden.
    let other = server.register_named("other@example.com", "Other").await;
    server
        .get(&format!("/api/v1/users/{}", other.id), mallory.token())
        .await
        .problem(404);
}

async fn an_admin_appointed_in_the_database_takes_effect_at_once(server: &TestServer) {
    let ada = server.register_named("ada@example.com", "Ada").await;
    let bob = server.register_named("bob@example.com", "Bob").await;
    let task = server
        .create("/api/v1/tasks", bob.token(), &json!({ "title": "Bob's" }))
        .await;
    server
        .get(
            &format!("/api/v1/tasks/{}", crate::harness::id_of(&task)),
            ada.token(),
        )
        .await
        .problem(404);

    // Roles are read fresh on every request, not frozen into the token.
    server.set_role(&ada.id, "ADMIN").await;
    let seen = server
        .get(
            &format!("/api/v1/tasks/{}", crate::harness::id_of(&task)),
            ada.token(),
        )
        .await;
    assert_eq!(seen.status, 200, "an admin sees every task: {}", seen.text);
    let listed = server.get("/api/v1/tasks", ada.token()).await;
    assert_eq!(listed.ids(), vec![crate::harness::id_of(&task)]);

    // An admin may promote someone; then Bob is an admin too.
    let promoted = server
        .patch(
            &format!("/api/v1/users/{}", bob.id),
            ada.token(),
            &json!({ "role": "ADMIN" }),
        )
        .await;
    assert_eq!(promoted.status, 200, "{}", promoted.text);
    assert_eq!(promoted.json()["role"], "ADMIN");
    let bob_me = server.get("/api/v1/auth/me", bob.token()).await;
    assert_eq!(bob_me.json()["role"], "ADMIN");

    // And demotion takes effect at once as well.
    server.set_role(&ada.id, "USER").await;
    server
        .get(&format!("/api/v1/users/{}", bob.id), ada.token())
        .await
        .problem(404);
}

/// A new password through `PATCH` on the auth model ends every session of that user: refresh
/// tokens from before the change (every family) are refused, other users' are not.
async fn changing_the_password_revokes_refresh_tokens(server: &TestServer) {
    let ada = server.register_named("ada@example.com", "Ada").await;
    let bob = server.register_named("bob@example.com", "Bob").await;
    let second_session = login(server, "ada@example.com", PASSWORD).await;
    let second_refresh = second_session.json()["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    // A change that leaves the password alone keeps the sessions.
    let renamed = server
        .patch(
            &format!("/api/v1/users/{}", ada.id),
            ada.token(),
            &json!({ "name": "Ada L." }),
        )
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.text);
    let still_valid = refresh(server, &second_refresh).await;
    assert_eq!(still_valid.status, 200, "{}", still_valid.text);
    let second_refresh = still_valid.json()["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    let changed = server
        .patch(
            &format!("/api/v1/users/{}", ada.id),
            ada.token(),
            &json!({ "password": "a brand new passphrase 42" }),
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    refresh(server, &ada.refresh_token).await.problem(401);
    refresh(server, &second_refresh).await.problem(401);

    // Bob's session is untouched; Ada signs in with the new password only.
    let bob_refresh = refresh(server, &bob.refresh_token).await;
    assert_eq!(bob_refresh.status, 200, "{}", bob_refresh.text);
    login(server, "ada@example.com", PASSWORD)
        .await
        .problem(401);
    let fresh = login(server, "ada@example.com", "a brand new passphrase 42").await;
    assert_eq!(fresh.status, 200, "{}", fresh.text);
    let fresh_refresh = fresh.json()["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let works = refresh(server, &fresh_refresh).await;
    assert_eq!(works.status, 200, "{}", works.text);
}
