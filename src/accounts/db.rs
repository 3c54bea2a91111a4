//! The accounts' SQL seam: statements written once (`$n` parameters, SQL both databases read)
//! and two small executors, SQLite and PostgreSQL.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::Connection;
use rusqlite::types::ValueRef;

use crate::custody::postgres::{Pool, pg};
use crate::error::{Error, Result};

/// A parameter or a column: text (maybe NULL) or a 64-bit integer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// TEXT, or NULL.
    Text(Option<String>),
    /// BIGINT.
    Int(i64),
}

/// Runs the accounts' statements.
pub trait Db: Send + Sync + std::fmt::Debug {
    /// Runs a statement; the number of rows it changed.
    fn exec(&self, sql: &str, params: &[Value]) -> Result<u64>;
    /// Runs a query; its rows.
    fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Vec<Value>>>;
}

/// The tables, each statement safe to run again.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS accounts (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    officer_id TEXT,
    password TEXT NOT NULL,
    created_at TEXT NOT NULL,
    disabled BIGINT NOT NULL DEFAULT 0,
    failures BIGINT NOT NULL DEFAULT 0,
    locked_until BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS sessions (
    id_sha256 TEXT PRIMARY KEY,
    account TEXT NOT NULL REFERENCES accounts (name),
    csrf TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    id_sha256 TEXT PRIMARY KEY,
    account TEXT NOT NULL REFERENCES accounts (name),
    label TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
";

/// Accounts in an SQLite file of their own.
#[derive(Debug)]
pub struct Lite {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl Lite {
    /// Opens (making if needed) the file at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let ctx = || format!("open the accounts {}", path.display());
        let conn = Connection::open(path).map_err(Error::index(ctx()))?;
        conn.busy_timeout(Duration::from_secs(30))
            .map_err(Error::index(ctx()))?;
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
             {SCHEMA}"
        ))
        .map_err(Error::index(ctx()))?;
        Ok(Self {
            conn: Mutex::new(conn),
            path: path.to_owned(),
        })
    }

    fn run<T>(
        &self,
        sql: &str,
        f: impl FnOnce(&mut rusqlite::Statement<'_>) -> rusqlite::Result<T>,
    ) -> Result<T> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        conn.prepare(&sql.replace('$', "?"))
            .and_then(|mut stmt| f(&mut stmt))
            .map_err(Error::index(format!("accounts ({})", self.path.display())))
    }
}

fn lite_params(params: &[Value]) -> Vec<rusqlite::types::Value> {
    params
        .iter()
        .map(|p| match p {
            Value::Text(Some(t)) => rusqlite::types::Value::Text(t.clone()),
            Value::Text(None) => rusqlite::types::Value::Null,
            Value::Int(i) => rusqlite::types::Value::Integer(*i),
        })
        .collect()
}

impl Db for Lite {
    fn exec(&self, sql: &str, params: &[Value]) -> Result<u64> {
        self.run(sql, |stmt| {
            stmt.execute(rusqlite::params_from_iter(lite_params(params)))
                .map(|n| n as u64)
        })
    }

    fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Vec<Value>>> {
        self.run(sql, |stmt| {
            let width = stmt.column_count();
            stmt.query_map(rusqlite::params_from_iter(lite_params(params)), |row| {
                (0..width)
                    .map(|i| {
                        Ok(match row.get_ref(i)? {
                            ValueRef::Integer(n) => Value::Int(n),
                            ValueRef::Text(t) => {
                                Value::Text(Some(String::from_utf8_lossy(t).into_owned()))
                            }
                            _ => Value::Text(None),
                        })
                    })
                    .collect()
            })?
            .collect()
        })
    }
}

/// Accounts in the PostgreSQL index's database.
#[derive(Debug)]
pub struct Pg {
    pool: Pool,
}

/// The advisory lock key under which the accounts' tables are made.
const SCHEMA_LOCK: i64 = 0x0062_7776_0003;

impl Pg {
    /// Connects to `url`, making the tables if needed.
    pub fn open(url: &str, name: &str) -> Result<Self> {
        let pool = Pool::new(url, name)?;
        let mut conn = pool.get()?;
        let mut tx = conn.transaction().map_err(pg("make the accounts"))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
            .and_then(|_| tx.batch_execute(SCHEMA))
            .and_then(|()| tx.commit())
            .map_err(pg(format!("make the accounts in {name}")))?;
        drop(conn);
        Ok(Self { pool })
    }
}

fn pg_params(params: &[Value]) -> Vec<Box<dyn postgres::types::ToSql + Sync>> {
    params
        .iter()
        .map(|p| -> Box<dyn postgres::types::ToSql + Sync> {
            match p {
                Value::Text(t) => Box::new(t.clone()),
                Value::Int(i) => Box::new(*i),
            }
        })
        .collect()
}

impl Db for Pg {
    fn exec(&self, sql: &str, params: &[Value]) -> Result<u64> {
        let boxed = pg_params(params);
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
            boxed.iter().map(|b| b.as_ref()).collect();
        self.pool
            .get()?
            .execute(sql, &refs)
            .map_err(pg(format!("accounts ({})", self.pool.name())))
    }

    fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Vec<Value>>> {
        let boxed = pg_params(params);
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
            boxed.iter().map(|b| b.as_ref()).collect();
        let context = || format!("accounts ({})", self.pool.name());
        let rows = self.pool.get()?.query(sql, &refs).map_err(pg(context()))?;
        rows.iter()
            .map(|row| {
                (0..row.len())
                    .map(|i| {
                        if *row.columns()[i].type_() == postgres::types::Type::INT8 {
                            row.try_get(i).map(Value::Int)
                        } else {
                            row.try_get(i).map(Value::Text)
                        }
                        .map_err(pg(context()))
                    })
                    .collect()
            })
            .collect()
    }
}
