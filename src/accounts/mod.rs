//! Accounts of the people who use the service, their roles, and how they prove who they are.
//!
//! Passwords are kept as Argon2id hashes (RFC 9106, the `argon2` crate's default cost: 19 MiB,
//! two passes). Sessions and API tokens are 256-bit random secrets shown once; only their SHA-256
//! is stored, so a copy of the database lets nobody in. Failed logins are counted per account:
//! after [`FREE_FAILURES`] in a row the account refuses every attempt for a while that doubles
//! with each further failure (up to [`MAX_LOCK`]), whatever the password.
//!
//! Accounts live beside the custody index: in a file `index.accounts.sqlite` next to an SQLite
//! index, or in the PostgreSQL index's database, so every service and machine sharing the index
//! shares its accounts and sessions. The rules are written once over a small SQL seam
//! ([`db::Db`]) that each backend implements.

mod db;
mod roles;

pub use roles::{Permission, Role};

use std::sync::Arc;
use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use serde::Serialize;

use crate::clock::{Clock, canonical};
use crate::custody::IndexLocation;
use crate::digest::Digest;
use crate::error::{Error, Result};
use db::{Db, Value};

/// Failed logins in a row an account allows before it locks.
pub const FREE_FAILURES: i64 = 5;
/// The first lock's length; each further failure doubles it.
pub const FIRST_LOCK: Duration = Duration::from_secs(30);
/// The longest lock.
pub const MAX_LOCK: Duration = Duration::from_secs(15 * 60);
/// How long a login session lasts.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(8 * 3600);
/// The shortest password accepted.
pub const MIN_PASSWORD: usize = 12;

/// A person's account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    /// The account's id (what events record as the actor).
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// The officer id on the recordings that are this officer's own (role officer).
    pub officer_id: Option<String>,
    /// When it was made (canonical UTC).
    pub created_at: String,
    /// A disabled account cannot log in or use its tokens.
    pub disabled: bool,
}

/// A login session: what the browser's cookie holds, and the token its forms must echo.
#[derive(Debug, Clone)]
pub struct Session {
    /// The cookie's secret (shown once, stored hashed).
    pub secret: String,
    /// The CSRF token that every changing request of this session must carry.
    pub csrf: String,
    /// When it ends (milliseconds since the Unix epoch).
    pub expires_ms: i64,
}

/// Who a session or token belongs to.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The account.
    pub account: Account,
    /// The session's CSRF token; `None` for an API token (sent explicitly, never by a browser
    /// on its own, so no CSRF check is needed).
    pub csrf: Option<String>,
}

/// How a login attempt ended.
#[derive(Debug, Clone)]
pub enum Login {
    /// The password was right: a new session.
    Ok(Account, Session),
    /// No such account, a wrong password, or a disabled account (told apart only in the log).
    Refused {
        /// The account, when the name is one.
        account: Option<Account>,
        /// Why, for the log: `unknown_account`, `wrong_password`, `disabled`.
        reason: &'static str,
    },
    /// Too many failures: refused without looking at the password until then.
    Locked {
        /// The account.
        account: Account,
        /// Until when (milliseconds since the Unix epoch).
        until_ms: i64,
    },
}

/// An API token as listed (never its secret).
#[derive(Debug, Clone, Serialize)]
pub struct TokenInfo {
    /// The first 12 hex digits of its SHA-256, to name it when revoking.
    pub id: String,
    /// The account it acts as.
    pub account: String,
    /// What it is for.
    pub label: String,
    /// When it was made.
    pub created_at: String,
    /// When it was revoked, if it was.
    pub revoked_at: Option<String>,
}

/// The accounts store.
#[derive(Debug, Clone)]
pub struct Accounts {
    db: Arc<dyn Db>,
    clock: Arc<dyn Clock>,
}

/// Opens (making if needed) the accounts beside the index at `location`.
pub fn open_accounts(location: &IndexLocation, clock: Arc<dyn Clock>) -> Result<Accounts> {
    let db: Arc<dyn Db> = match location {
        IndexLocation::Sqlite(path) => {
            Arc::new(db::Lite::open(&path.with_extension("accounts.sqlite"))?)
        }
        IndexLocation::Postgres(url) => Arc::new(db::Pg::open(url, &location.to_string())?),
    };
    Ok(Accounts { db, clock })
}

/// A new random secret: 32 bytes, URL-safe base64 after `prefix`.
fn secret(prefix: &str) -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| Error::Integrity(format!("no randomness: {e}")))?;
    Ok(format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default())
}

/// The Argon2id hash (PHC string) of a password.
pub fn hash_password(password: &str) -> Result<String> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(Error::Invalid(format!(
            "a password needs at least {MIN_PASSWORD} characters"
        )));
    }
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| Error::Integrity(format!("no randomness: {e}")))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| Error::Invalid(format!("salt: {e}")))?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Invalid(format!("hash a password: {e}")))
}

fn password_matches(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| argon2().verify_password(password.as_bytes(), &h).is_ok())
        .unwrap_or(false)
}

/// A valid account name: 1–64 of `a-z 0-9 . _ -`, starting with a letter or digit (it is
/// recorded as the actor of events, and appears in URLs).
pub fn check_name(name: &str) -> Result<()> {
    let ok = (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
        && !crate::custody::is_own_actor(name);
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "account name {name:?}: use 1 to 64 of a-z, 0-9, '.', '_', '-', starting with a letter \
             or digit, and not \"bwv-\" (bwv's own names)"
        )))
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::Text(t) => t.clone(),
        Value::Int(i) => Some(i.to_string()),
    }
}

fn int(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        Value::Text(_) => 0,
    }
}

const ACCOUNT_COLUMNS: &str = "name, role, officer_id, created_at, disabled";

fn account_of(row: &[Value]) -> Result<Account> {
    let role = text(&row[1]).unwrap_or_default();
    Ok(Account {
        name: text(&row[0]).unwrap_or_default(),
        role: Role::parse(&role)
            .ok_or_else(|| Error::Integrity(format!("account with an unknown role {role:?}")))?,
        officer_id: text(&row[2]),
        created_at: text(&row[3]).unwrap_or_default(),
        disabled: int(&row[4]) != 0,
    })
}

fn t(s: &str) -> Value {
    Value::Text(Some(s.to_owned()))
}

impl Accounts {
    fn now_ms(&self) -> i64 {
        self.clock.now().as_millisecond()
    }

    /// Makes an account. An existing name is a conflict.
    pub fn add(
        &self,
        name: &str,
        role: Role,
        officer_id: Option<&str>,
        password: &str,
    ) -> Result<Account> {
        check_name(name)?;
        if role == Role::Officer && officer_id.is_none() {
            return Err(Error::Invalid(format!(
                "account {name}: an officer account needs the officer id its recordings carry \
                 (--officer)"
            )));
        }
        let hash = hash_password(password)?;
        let created = canonical(self.clock.now());
        let n = self.db.exec(
            "INSERT INTO accounts (name, role, officer_id, password, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING",
            &[
                t(name),
                t(role.as_str()),
                Value::Text(officer_id.map(str::to_owned)),
                t(&hash),
                t(&created),
            ],
        )?;
        if n == 0 {
            return Err(Error::Conflict(format!("account {name} exists already")));
        }
        self.account(name)
    }

    /// The account called `name`.
    pub fn account(&self, name: &str) -> Result<Account> {
        let rows = self.db.query(
            &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE name = $1"),
            &[t(name)],
        )?;
        rows.first()
            .map(|r| account_of(r))
            .transpose()?
            .ok_or_else(|| Error::NotFound(format!("no account {name}")))
    }

    /// Every account, by name.
    pub fn list(&self) -> Result<Vec<Account>> {
        self.db
            .query(
                &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY name"),
                &[],
            )?
            .iter()
            .map(|r| account_of(r))
            .collect()
    }

    /// Sets a new password (and clears the failure count).
    pub fn set_password(&self, name: &str, password: &str) -> Result<()> {
        let hash = hash_password(password)?;
        self.changed(
            name,
            "UPDATE accounts SET password = $2, failures = 0, locked_until = 0 WHERE name = $1",
            &[t(name), t(&hash)],
        )
    }

    /// Disables or enables an account; disabling ends its sessions and stops its tokens.
    pub fn set_disabled(&self, name: &str, disabled: bool) -> Result<()> {
        self.changed(
            name,
            "UPDATE accounts SET disabled = $2 WHERE name = $1",
            &[t(name), Value::Int(i64::from(disabled))],
        )?;
        if disabled {
            self.db
                .exec("DELETE FROM sessions WHERE account = $1", &[t(name)])?;
        }
        Ok(())
    }

    fn changed(&self, name: &str, sql: &str, params: &[Value]) -> Result<()> {
        match self.db.exec(sql, params)? {
            0 => Err(Error::NotFound(format!("no account {name}"))),
            _ => Ok(()),
        }
    }

    /// Checks a password, counting failures and locking the account after too many.
    pub fn login(&self, name: &str, password: &str) -> Result<Login> {
        let now = self.now_ms();
        let rows = self.db.query(
            &format!(
                "SELECT {ACCOUNT_COLUMNS}, password, failures, locked_until FROM accounts \
                 WHERE name = $1"
            ),
            &[t(name)],
        )?;
        let Some(row) = rows.first() else {
            // The same work as for a real account, so the time taken does not tell names apart.
            password_matches(password, DUMMY_HASH);
            return Ok(Login::Refused {
                account: None,
                reason: "unknown_account",
            });
        };
        let account = account_of(row)?;
        let until_ms = int(&row[7]);
        if until_ms > now {
            return Ok(Login::Locked { account, until_ms });
        }
        if !password_matches(password, &text(&row[5]).unwrap_or_default()) {
            let failures = int(&row[6]) + 1;
            let lock_ms = if failures >= FREE_FAILURES {
                let doubled = FIRST_LOCK.as_millis() << (failures - FREE_FAILURES).min(16);
                now + doubled.min(MAX_LOCK.as_millis()) as i64
            } else {
                0
            };
            self.db.exec(
                "UPDATE accounts SET failures = failures + 1, locked_until = $2 WHERE name = $1",
                &[t(name), Value::Int(lock_ms)],
            )?;
            return Ok(Login::Refused {
                account: Some(account),
                reason: "wrong_password",
            });
        }
        if account.disabled {
            return Ok(Login::Refused {
                account: Some(account),
                reason: "disabled",
            });
        }
        self.db.exec(
            "UPDATE accounts SET failures = 0, locked_until = 0 WHERE name = $1",
            &[t(name)],
        )?;
        let session = Session {
            secret: secret("")?,
            csrf: secret("")?,
            expires_ms: now + SESSION_LIFETIME.as_millis() as i64,
        };
        self.db.exec(
            "DELETE FROM sessions WHERE expires_ms <= $1",
            &[Value::Int(now)],
        )?;
        self.db.exec(
            "INSERT INTO sessions (id_sha256, account, csrf, created_ms, expires_ms) \
             VALUES ($1, $2, $3, $4, $5)",
            &[
                t(&Digest::of(session.secret.as_bytes()).to_hex()),
                t(name),
                t(&session.csrf),
                Value::Int(now),
                Value::Int(session.expires_ms),
            ],
        )?;
        Ok(Login::Ok(account, session))
    }

    /// The caller a session cookie's secret belongs to, if it is live and its account enabled.
    pub fn session(&self, secret: &str) -> Result<Option<Caller>> {
        let rows = self.db.query(
            &format!(
                "SELECT {}, s.csrf FROM sessions s JOIN accounts a ON a.name = s.account \
                 WHERE s.id_sha256 = $1 AND s.expires_ms > $2 AND a.disabled = 0",
                prefixed("a.")
            ),
            &[
                t(&Digest::of(secret.as_bytes()).to_hex()),
                Value::Int(self.now_ms()),
            ],
        )?;
        rows.first()
            .map(|r| {
                Ok(Caller {
                    account: account_of(r)?,
                    csrf: text(&r[5]),
                })
            })
            .transpose()
    }

    /// Ends a session.
    pub fn logout(&self, secret: &str) -> Result<()> {
        self.db.exec(
            "DELETE FROM sessions WHERE id_sha256 = $1",
            &[t(&Digest::of(secret.as_bytes()).to_hex())],
        )?;
        Ok(())
    }

    /// Makes an API token for `name`; the secret is returned once and never kept.
    pub fn add_token(&self, name: &str, label: &str) -> Result<(String, TokenInfo)> {
        let account = self.account(name)?;
        let token = secret("bwv_")?;
        let sha = Digest::of(token.as_bytes()).to_hex();
        self.db.exec(
            "INSERT INTO tokens (id_sha256, account, label, created_at) VALUES ($1, $2, $3, $4)",
            &[
                t(&sha),
                t(&account.name),
                t(label),
                t(&canonical(self.clock.now())),
            ],
        )?;
        let info = self
            .tokens(Some(name))?
            .into_iter()
            .find(|i| sha.starts_with(&i.id))
            .ok_or_else(|| Error::Integrity(format!("token of {name} not kept")))?;
        Ok((token, info))
    }

    /// The tokens (of one account, or all), newest last.
    pub fn tokens(&self, name: Option<&str>) -> Result<Vec<TokenInfo>> {
        let rows = self.db.query(
            "SELECT id_sha256, account, label, created_at, revoked_at FROM tokens \
             WHERE CAST($1 AS TEXT) IS NULL OR account = $1 ORDER BY created_at, id_sha256",
            &[Value::Text(name.map(str::to_owned))],
        )?;
        Ok(rows
            .iter()
            .map(|r| TokenInfo {
                id: text(&r[0]).unwrap_or_default().chars().take(12).collect(),
                account: text(&r[1]).unwrap_or_default(),
                label: text(&r[2]).unwrap_or_default(),
                created_at: text(&r[3]).unwrap_or_default(),
                revoked_at: text(&r[4]),
            })
            .collect())
    }

    /// Revokes the token whose id (a prefix of its SHA-256, from [`Accounts::tokens`]) is `id`.
    pub fn revoke_token(&self, id: &str) -> Result<TokenInfo> {
        if id.len() < 12 || !id.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(Error::Invalid(format!(
                "token id {id:?}: give the 12 hex digits listed"
            )));
        }
        let found: Vec<TokenInfo> = self
            .tokens(None)?
            .into_iter()
            .filter(|i| i.id.starts_with(&id[..12]) && i.revoked_at.is_none())
            .collect();
        let [info] = found.as_slice() else {
            return Err(Error::NotFound(format!("no live token {id}")));
        };
        self.db.exec(
            "UPDATE tokens SET revoked_at = $2 WHERE substr(id_sha256, 1, 12) = $1 \
             AND revoked_at IS NULL",
            &[t(&info.id), t(&canonical(self.clock.now()))],
        )?;
        Ok(info.clone())
    }

    /// The caller an API token belongs to, if it is live and its account enabled.
    pub fn token(&self, token: &str) -> Result<Option<Caller>> {
        let rows = self.db.query(
            &format!(
                "SELECT {} FROM tokens k JOIN accounts a ON a.name = k.account \
                 WHERE k.id_sha256 = $1 AND k.revoked_at IS NULL AND a.disabled = 0",
                prefixed("a.")
            ),
            &[t(&Digest::of(token.as_bytes()).to_hex())],
        )?;
        rows.first()
            .map(|r| {
                Ok(Caller {
                    account: account_of(r)?,
                    csrf: None,
                })
            })
            .transpose()
    }
}

fn prefixed(p: &str) -> String {
    ACCOUNT_COLUMNS
        .split(", ")
        .map(|c| format!("{p}{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// An Argon2id hash of no one's password, checked when the account does not exist.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$d78f9J3d8u+qvvPWDdOfAA$QCZ6mNVv4IIyTw7MIx6m//jSTLMoFdEp8c2XYa8I0dY";

#[cfg(test)]
mod tests;
