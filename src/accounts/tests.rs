//! The accounts' contract, run on SQLite and on a real PostgreSQL.

use std::sync::{Arc, Mutex};

use super::*;
use crate::clock::Clock;

/// A clock the test moves.
#[derive(Debug)]
struct Hands(Mutex<jiff::Timestamp>);

impl Clock for Hands {
    fn now(&self) -> jiff::Timestamp {
        *self.0.lock().expect("clock")
    }
}

impl Hands {
    fn advance(&self, d: Duration) {
        let mut t = self.0.lock().expect("clock");
        *t += jiff::SignedDuration::try_from(d).expect("short");
    }
}

const PASSWORD: &str = "correct horse battery";

fn suite(location: IndexLocation) {
    let hands = Arc::new(Hands(Mutex::new(
        "2026-12-07T09:00:00Z".parse().expect("instant"),
    )));
    let accounts = open_accounts(&location, hands.clone()).expect("opens");
    // Made twice (a second service starting) is harmless.
    open_accounts(&location, hands.clone()).expect("opens again");

    // Names, passwords and officer ids are checked.
    assert!(matches!(
        accounts.add("Bad Name", Role::Auditor, None, PASSWORD),
        Err(Error::Invalid(_))
    ));
    assert!(matches!(
        accounts.add("ann", Role::Auditor, None, "short"),
        Err(Error::Invalid(_))
    ));
    assert!(matches!(
        accounts.add("pc1", Role::Officer, None, PASSWORD),
        Err(Error::Invalid(_))
    ));
    let pc = accounts
        .add("pc1", Role::Officer, Some("OFF-1"), PASSWORD)
        .expect("adds");
    assert_eq!(pc.officer_id.as_deref(), Some("OFF-1"));
    assert!(matches!(
        accounts.add("pc1", Role::Admin, None, PASSWORD),
        Err(Error::Conflict(_))
    ));
    accounts
        .add("ann", Role::Auditor, None, PASSWORD)
        .expect("adds");
    let names: Vec<_> = accounts
        .list()
        .expect("lists")
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(names, ["ann", "pc1"]);

    // A login gives a session that names its account; a wrong password or name does not.
    let Login::Ok(account, session) = accounts.login("pc1", PASSWORD).expect("logs in") else {
        panic!("refused a right password");
    };
    assert_eq!(account.role, Role::Officer);
    let caller = accounts
        .session(&session.secret)
        .expect("reads")
        .expect("live");
    assert_eq!(caller.account.name, "pc1");
    assert_eq!(caller.csrf.as_deref(), Some(session.csrf.as_str()));
    assert!(accounts.session("forged").expect("reads").is_none());
    assert!(matches!(
        accounts.login("nobody", PASSWORD).expect("answers"),
        Login::Refused {
            account: None,
            reason: "unknown_account"
        }
    ));

    // Failures lock the account, even against the right password, until the lock ends.
    for _ in 0..FREE_FAILURES {
        assert!(matches!(
            accounts.login("ann", "wrong password!!").expect("answers"),
            Login::Refused {
                reason: "wrong_password",
                ..
            }
        ));
    }
    assert!(matches!(
        accounts.login("ann", PASSWORD).expect("answers"),
        Login::Locked { .. }
    ));
    hands.advance(FIRST_LOCK + Duration::from_secs(1));
    assert!(matches!(
        accounts.login("ann", PASSWORD).expect("answers"),
        Login::Ok(..)
    ));

    // Sessions end: by logout, by time, by disabling the account.
    accounts.logout(&session.secret).expect("logs out");
    assert!(accounts.session(&session.secret).expect("reads").is_none());
    let Login::Ok(_, session) = accounts.login("pc1", PASSWORD).expect("logs in") else {
        panic!("refused");
    };
    hands.advance(SESSION_LIFETIME);
    assert!(accounts.session(&session.secret).expect("reads").is_none());

    // Tokens act as their account until revoked; only their hash is kept.
    let (token, info) = accounts.add_token("ann", "nightly audit").expect("token");
    assert!(token.starts_with("bwv_") && token.len() > 40);
    assert_eq!(
        accounts
            .token(&token)
            .expect("reads")
            .map(|c| c.account.name),
        Some("ann".to_owned())
    );
    assert!(accounts.token("bwv_forged").expect("reads").is_none());
    accounts.revoke_token(&info.id).expect("revokes");
    assert!(accounts.token(&token).expect("reads").is_none());
    assert!(
        accounts.tokens(Some("ann")).expect("lists")[0]
            .revoked_at
            .is_some()
    );

    // A disabled account can neither log in nor use a token.
    let (token, _) = accounts.add_token("pc1", "script").expect("token");
    accounts.set_disabled("pc1", true).expect("disables");
    assert!(accounts.token(&token).expect("reads").is_none());
    assert!(matches!(
        accounts.login("pc1", PASSWORD).expect("answers"),
        Login::Refused {
            reason: "disabled",
            ..
        }
    ));
    accounts.set_disabled("pc1", false).expect("enables");
    accounts
        .set_password("pc1", "another long secret")
        .expect("sets");
    assert!(matches!(
        accounts
            .login("pc1", "another long secret")
            .expect("answers"),
        Login::Ok(..)
    ));
    assert!(matches!(
        accounts.set_password("nobody", "another long secret"),
        Err(Error::NotFound(_))
    ));
}

#[test]
fn sqlite_accounts_keep_the_contract() {
    let dir = tempfile::tempdir().expect("tempdir");
    suite(IndexLocation::Sqlite(dir.path().join("index.sqlite")));
}

#[test]
fn postgres_accounts_keep_the_contract() {
    let url = crate::testutil::servers::postgres_fresh("accounts");
    suite(IndexLocation::Postgres(url));
}

#[test]
fn the_unknown_account_check_costs_a_real_argon2id_verification() {
    // The dummy hash parses, so a login to an unknown name does the same work as a real one.
    let parsed = PasswordHash::new(DUMMY_HASH).expect("a PHC string");
    assert_eq!(parsed.algorithm.as_str(), "argon2id");
    assert!(!password_matches(PASSWORD, DUMMY_HASH));
}
