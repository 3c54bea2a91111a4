//! Who is calling: session cookies (with a CSRF token on every changing request) and API
//! tokens; logins, their refusals and their rate limits; account management for admins.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{ApiError, Service, blocking};
use crate::accounts::{Account, Caller, Login, Permission, Role};
use crate::custody::{EventDraft, EventKind, Recording};
use crate::digest::Digest;

/// The session cookie's name.
pub const COOKIE: &str = "bwv_session";
/// The header a session's changing requests carry their CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Failed logins one address may make in [`WINDOW`] before it must wait.
const FAILURES_PER_ADDRESS: u32 = 20;
const WINDOW: Duration = Duration::from_secs(600);

/// Failed logins per client address, so names cannot be tried without end (the accounts count
/// failures per account as well).
#[derive(Debug, Default)]
pub struct Limiter {
    failures: HashMap<IpAddr, (Instant, u32)>,
}

impl Limiter {
    /// Seconds the address must wait, if it is over its limit.
    fn wait(&mut self, ip: IpAddr, now: Instant) -> Option<u64> {
        self.failures
            .retain(|_, (since, _)| now.duration_since(*since) < WINDOW);
        let (since, n) = self.failures.get(&ip)?;
        (*n >= FAILURES_PER_ADDRESS).then(|| (WINDOW - now.duration_since(*since)).as_secs())
    }

    fn failed(&mut self, ip: IpAddr, now: Instant) {
        self.failures.entry(ip).or_insert((now, 0)).1 += 1;
    }
}

/// Compares secrets in time independent of where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| kv.trim().strip_prefix(COOKIE)?.strip_prefix('='))
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Who(pub Caller);

impl Who {
    /// The account.
    pub fn account(&self) -> &Account {
        &self.0.account
    }

    /// The actor name events record.
    pub fn name(&self) -> &str {
        &self.0.account.name
    }

    /// Refuses unless the role allows `p`.
    pub fn must(&self, p: Permission, what: &str) -> Result<(), ApiError> {
        if self.0.account.role.allows(p) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "the {} role may not {what}",
                self.0.account.role.as_str()
            )))
        }
    }

    /// Refuses a recording an officer may not see (not their own).
    pub fn may_see(&self, rec: &Recording) -> Result<(), ApiError> {
        let a = &self.0.account;
        if a.role.sees_only_own() && (a.officer_id.is_none() || rec.officer_id != a.officer_id) {
            return Err(ApiError::forbidden(format!(
                "recording {} is not one of officer {}'s own",
                rec.id, a.name
            )));
        }
        Ok(())
    }
}

impl FromRequestParts<Arc<Service>> for Who {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        service: &Arc<Service>,
    ) -> Result<Self, ApiError> {
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| t.trim().to_owned());
        let session = cookie(&parts.headers).map(str::to_owned);
        let changing = !matches!(parts.method, Method::GET | Method::HEAD);
        let sent_csrf = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let caller = blocking(service, move |s| {
            Ok(match (bearer, session) {
                (Some(token), _) => s.accounts.token(&token)?,
                (None, Some(secret)) => s.accounts.session(&secret)?,
                (None, None) => None,
            })
        })
        .await?
        .ok_or_else(ApiError::unauthenticated)?;
        if let Some(csrf) = &caller.csrf
            && changing
            && !sent_csrf.is_some_and(|sent| same(&sent, csrf))
        {
            return Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "csrf",
                format!("a changing request of a session must carry its {CSRF_HEADER} header"),
            ));
        }
        Ok(Who(caller))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    name: String,
    password: String,
}

/// `POST /api/login {"name", "password"}`: a session cookie and its CSRF token.
pub async fn login(
    State(service): State<Arc<Service>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Result<Json<LoginRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(req) = body?;
    let now = Instant::now();
    let wait = service
        .limiter
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .wait(peer.ip(), now);
    if let Some(seconds) = wait {
        return Err(ApiError::too_many(
            "too many failed logins from this address: wait, then try again",
            seconds,
        ));
    }
    let outcome = blocking(&service, move |s| {
        let outcome = s.accounts.login(&req.name, &req.password)?;
        let draft = match &outcome {
            Login::Ok(account, _) => {
                EventDraft::new(EventKind::LoggedIn, None, &account.name).with("method", "password")
            }
            Login::Refused { account, reason } => refused(account.as_ref(), &req.name, reason),
            Login::Locked { account, .. } => refused(Some(account), &req.name, "locked"),
        };
        s.store.append(draft)?;
        Ok(outcome)
    })
    .await?;
    match outcome {
        Login::Ok(account, session) => {
            let max_age = (session.expires_ms - service.clock.now().as_millisecond()) / 1000;
            let cookie = format!(
                "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
                session.secret,
                if service.settings.secure_cookies {
                    "; Secure"
                } else {
                    ""
                }
            );
            let mut response =
                Json(serde_json::json!({"account": account, "csrf": session.csrf})).into_response();
            response.headers_mut().insert(
                header::SET_COOKIE,
                HeaderValue::from_str(&cookie).map_err(|e| {
                    ApiError::new(
                        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                        "internal",
                        e.to_string(),
                    )
                })?,
            );
            Ok(response)
        }
        Login::Refused { .. } => {
            service
                .limiter
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .failed(peer.ip(), now);
            Err(ApiError::new(
                axum::http::StatusCode::UNAUTHORIZED,
                "login_refused",
                "wrong name or password",
            ))
        }
        Login::Locked { until_ms, .. } => Err(ApiError::too_many(
            "too many failed logins for this account: wait, then try again",
            u64::try_from((until_ms - service.clock.now().as_millisecond()) / 1000).unwrap_or(1),
        )),
    }
}

/// The event of a refused login. The actor is the account when the name is one; otherwise
/// only the typed name's hash is kept (it may be a password typed in the wrong box).
fn refused(account: Option<&Account>, typed: &str, reason: &str) -> EventDraft {
    let actor = account.map_or("(unknown account)", |a| a.name.as_str());
    let draft = EventDraft::new(EventKind::LoginRefused, None, actor).with("reason", reason);
    match account {
        Some(_) => draft,
        None => draft.with("name_sha256", Digest::of(typed.as_bytes())),
    }
}

/// `POST /api/logout`: ends the session.
pub async fn logout(
    State(service): State<Arc<Service>>,
    who: Who,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let secret = cookie(&headers).map(str::to_owned);
    if let Some(secret) = secret {
        blocking(&service, move |s| Ok(s.accounts.logout(&secret)?)).await?;
    }
    let mut response = Json(serde_json::json!({"logged_out": who.name()})).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("bwv_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    Ok(response)
}

/// `GET /api/me`: the caller's account (and a session's CSRF token).
pub async fn me(who: Who) -> Json<serde_json::Value> {
    Json(serde_json::json!({"account": who.0.account, "csrf": who.0.csrf}))
}

/// `GET /api/accounts` (admin).
pub async fn accounts(
    State(service): State<Arc<Service>>,
    who: Who,
) -> Result<Json<Vec<Account>>, ApiError> {
    who.must(Permission::ManageAccounts, "manage accounts")?;
    Ok(Json(blocking(&service, |s| Ok(s.accounts.list()?)).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    name: String,
    role: String,
    officer_id: Option<String>,
    password: String,
}

/// `POST /api/accounts {"name", "role", "officer_id", "password"}` (admin).
pub async fn add_account(
    State(service): State<Arc<Service>>,
    who: Who,
    body: Result<Json<NewAccount>, JsonRejection>,
) -> Result<Json<Account>, ApiError> {
    who.must(Permission::ManageAccounts, "manage accounts")?;
    let Json(req) = body?;
    let role = Role::parse(&req.role).ok_or_else(|| {
        ApiError::from(crate::Error::Invalid(format!(
            "role {:?}: one of officer, reviewer, disclosure, auditor, admin",
            req.role
        )))
    })?;
    let actor = who.name().to_owned();
    Ok(Json(
        blocking(&service, move |s| {
            let account =
                s.accounts
                    .add(&req.name, role, req.officer_id.as_deref(), &req.password)?;
            s.ops(&actor).account_changed(&account, "added")?;
            Ok(account)
        })
        .await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_waits_after_its_failures_and_not_before() {
        let mut l = Limiter::default();
        let ip: IpAddr = [127, 0, 0, 1].into();
        let t0 = Instant::now();
        for _ in 0..FAILURES_PER_ADDRESS {
            assert_eq!(l.wait(ip, t0), None);
            l.failed(ip, t0);
        }
        assert!(l.wait(ip, t0).is_some_and(|s| s > 0));
        assert_eq!(l.wait([127, 0, 0, 2].into(), t0), None);
        assert_eq!(l.wait(ip, t0 + WINDOW), None);
    }

    #[test]
    fn cookies_and_secrets_are_read_exactly() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; bwv_session=abc; bwv_session_x=no"),
        );
        assert_eq!(cookie(&h), Some("abc"));
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }
}

/// An account named in a path, for an admin.
async fn change_account(
    service: &Arc<Service>,
    who: &Who,
    name: String,
    change: &'static str,
    apply: impl FnOnce(&crate::accounts::Accounts, &str) -> crate::Result<()> + Send + 'static,
) -> Result<Json<Account>, ApiError> {
    who.must(Permission::ManageAccounts, "manage accounts")?;
    let actor = who.name().to_owned();
    Ok(Json(
        blocking(service, move |s| {
            apply(&s.accounts, &name)?;
            let account = s.accounts.account(&name)?;
            s.ops(&actor).account_changed(&account, change)?;
            Ok(account)
        })
        .await?,
    ))
}

/// `POST /api/accounts/{name}/disable` (admin): ends its sessions, stops its tokens.
pub async fn disable(
    State(service): State<Arc<Service>>,
    who: Who,
    Path(name): Path<String>,
) -> Result<Json<Account>, ApiError> {
    change_account(&service, &who, name, "disabled", |a, n| {
        a.set_disabled(n, true)
    })
    .await
}

/// `POST /api/accounts/{name}/enable` (admin).
pub async fn enable(
    State(service): State<Arc<Service>>,
    who: Who,
    Path(name): Path<String>,
) -> Result<Json<Account>, ApiError> {
    change_account(&service, &who, name, "enabled", |a, n| {
        a.set_disabled(n, false)
    })
    .await
}

/// The body of `POST /api/accounts/{name}/password`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPassword {
    password: String,
}

/// `POST /api/accounts/{name}/password {"password"}` (admin).
pub async fn password(
    State(service): State<Arc<Service>>,
    who: Who,
    Path(name): Path<String>,
    body: Result<Json<NewPassword>, JsonRejection>,
) -> Result<Json<Account>, ApiError> {
    let Json(req) = body?;
    change_account(&service, &who, name, "password", move |a, n| {
        a.set_password(n, &req.password)
    })
    .await
}

/// The body of `POST /api/accounts/{name}/tokens`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    label: String,
}

/// `POST /api/accounts/{name}/tokens {"label"}` (admin): the token, shown this once.
pub async fn add_token(
    State(service): State<Arc<Service>>,
    who: Who,
    Path(name): Path<String>,
    body: Result<Json<NewToken>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    who.must(Permission::ManageAccounts, "manage accounts")?;
    let Json(req) = body?;
    let actor = who.name().to_owned();
    Ok(Json(
        blocking(&service, move |s| {
            let (token, info) = s.accounts.add_token(&name, &req.label)?;
            s.ops(&actor)
                .account_changed(&s.accounts.account(&name)?, "token_added")?;
            Ok(serde_json::json!({"token": token, "info": info}))
        })
        .await?,
    ))
}

/// `GET /api/tokens` (admin): every token, never its secret.
pub async fn tokens(
    State(service): State<Arc<Service>>,
    who: Who,
) -> Result<Json<Vec<crate::accounts::TokenInfo>>, ApiError> {
    who.must(Permission::ManageAccounts, "manage accounts")?;
    Ok(Json(
        blocking(&service, |s| Ok(s.accounts.tokens(None)?)).await?,
    ))
}

/// `POST /api/tokens/{id}/revoke` (admin).
pub async fn revoke(
    State(service): State<Arc<Service>>,
    who: Who,
    Path(id): Path<String>,
) -> Result<Json<crate::accounts::TokenInfo>, ApiError> {
    who.must(Permission::ManageAccounts, "manage accounts")?;
    let actor = who.name().to_owned();
    Ok(Json(
        blocking(&service, move |s| {
            let info = s.accounts.revoke_token(&id)?;
            s.ops(&actor)
                .account_changed(&s.accounts.account(&info.account)?, "token_revoked")?;
            Ok(info)
        })
        .await?,
    ))
}
