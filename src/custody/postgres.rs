//! The scale-out custody index: PostgreSQL, shared by bwv processes on many machines, with the
//! same guarantees as the embedded SQLite index.
//!
//! - **One writer at a time, decided in the transaction.** Every write transaction begins by
//!   locking the log's head row (`SELECT ... FOR UPDATE`), as SQLite's `BEGIN IMMEDIATE` takes its
//!   write lock: writers on any machine queue there, so sequence numbers stay contiguous, the tree
//!   head advances in the same transaction as its event (no gaps, no forks), and what a rule reads
//!   to decide (a mark, a deletion, a SAR's state) stays true until it commits. Statements run at
//!   READ COMMITTED, so after the lock each sees every earlier writer's commit.
//! - **The database enforces the rules itself**: triggers refuse any UPDATE, DELETE or TRUNCATE
//!   of the events and checkpoints, and the retention rules (no deletion of marked footage, no
//!   mark on deleted footage, one active mark per kind and reference, no hold or disclosure under
//!   a closed SAR, a deletion is final) whatever a client checked first.
//! - **Migrations** run in one transaction under an advisory lock, so processes starting together
//!   on a new database apply each once.
//! - **Reads** of the log for an audit run in one REPEATABLE READ, READ ONLY transaction: one
//!   snapshot, whatever is appended meanwhile.
//!
//! Text that is compared or ordered (ids, times) uses the "C" collation, so listings come in the
//! same order as from SQLite whatever the database's locale. Connections are made without TLS:
//! use a loopback or private network, or a local TLS-terminating proxy.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use postgres::types::ToSql;
use postgres::{Client, GenericClient, IsolationLevel, NoTls, Row, Transaction};

use super::backend::{
    MARK_COLUMNS, RECORDING_COLUMNS, SAR_COLUMNS, digests, int_cursor, packed, paged,
    recording_cursor, recording_cursor_of, refuse, resolved, sql_int, time_source,
    time_source_name,
};
use super::retention::{Deletion, Mark, MarkKind};
use super::sar::{Disclosure, Sar};
use super::{
    Artefact, ArtefactKind, Event, EventDraft, EventKind, LogRow, LogView, Outcome, Page,
    PageRequest, Recording, RecordingQuery, Status, Store, StoredCheckpoint, UnreadableSource,
};
use crate::clock::{self, Clock};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::merkle::Frontier;

/// Schema migrations, applied in order; `bwv_schema.version` records how many have run.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE FUNCTION bwv_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'integrity_constraint_violation';
END $$;

CREATE TABLE recordings (
    id                 TEXT COLLATE "C" PRIMARY KEY,
    master_sha256      TEXT NOT NULL UNIQUE,
    master_size        BIGINT NOT NULL,
    master_path        TEXT NOT NULL,
    source_name        TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('processing', 'ready', 'quarantined')),
    reason             TEXT,
    officer_id         TEXT,
    device_id          TEXT,
    recorded_at        TEXT COLLATE "C" NOT NULL,
    recorded_at_source TEXT NOT NULL,
    ingested_at        TEXT COLLATE "C" NOT NULL,
    extra              TEXT NOT NULL,
    media              TEXT,
    deletion           TEXT
);
CREATE INDEX recordings_by_ingest ON recordings (ingested_at, id);
CREATE INDEX recordings_by_officer ON recordings (officer_id);
CREATE INDEX recordings_by_device ON recordings (device_id);
CREATE INDEX recordings_by_time ON recordings (recorded_at);

CREATE TABLE artefacts (
    n             BIGSERIAL PRIMARY KEY,
    recording_id  TEXT COLLATE "C" NOT NULL REFERENCES recordings (id),
    kind          TEXT NOT NULL,
    path          TEXT COLLATE "C" NOT NULL UNIQUE,
    sha256        TEXT NOT NULL,
    size          BIGINT NOT NULL,
    parent_sha256 TEXT NOT NULL,
    tool          TEXT NOT NULL,
    tool_version  TEXT NOT NULL,
    params        TEXT NOT NULL
);
CREATE INDEX artefacts_by_recording ON artefacts (recording_id);

CREATE TABLE events (
    seq          BIGINT PRIMARY KEY CHECK (seq >= 0),
    at           TEXT NOT NULL,
    kind         TEXT NOT NULL,
    recording_id TEXT COLLATE "C",
    canonical    BYTEA NOT NULL,
    leaf_hash    BYTEA NOT NULL CHECK (length(leaf_hash) = 32)
);
CREATE INDEX events_by_recording ON events (recording_id, seq);
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION bwv_refuse('the custody event log is append-only');
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION bwv_refuse('the custody event log is append-only');

CREATE TABLE log_head (
    id    INTEGER PRIMARY KEY CHECK (id = 0),
    size  BIGINT NOT NULL CHECK (size >= 0),
    peaks BYTEA NOT NULL CHECK (length(peaks) % 32 = 0)
);
INSERT INTO log_head (id, size, peaks) VALUES (0, 0, '');

CREATE TABLE checkpoints (
    size      BIGINT PRIMARY KEY CHECK (size > 0),
    root      BYTEA NOT NULL CHECK (length(root) = 32),
    note      TEXT NOT NULL,
    signed_at TEXT NOT NULL,
    peaks     BYTEA CHECK (peaks IS NULL OR length(peaks) % 32 = 0)
);
CREATE TRIGGER checkpoints_append_only BEFORE UPDATE OR DELETE ON checkpoints
    FOR EACH ROW EXECUTE FUNCTION bwv_refuse('checkpoints are append-only');
CREATE TRIGGER checkpoints_no_truncate BEFORE TRUNCATE ON checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION bwv_refuse('checkpoints are append-only');

CREATE TABLE tree_nodes (
    level INTEGER NOT NULL,
    idx   BIGINT NOT NULL,
    hash  BYTEA NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (level, idx)
);

CREATE TABLE marks (
    id             BIGINT PRIMARY KEY,
    recording_id   TEXT COLLATE "C" NOT NULL REFERENCES recordings (id),
    kind           TEXT NOT NULL CHECK (kind IN ('evidence', 'sar', 'complaint', 'misconduct', 'other')),
    reference      TEXT COLLATE "C" NOT NULL,
    reason         TEXT NOT NULL,
    placed_by      TEXT NOT NULL,
    placed_at      TEXT NOT NULL,
    released_at    TEXT,
    released_by    TEXT,
    release_reason TEXT
);
CREATE INDEX marks_by_recording ON marks (recording_id);
CREATE UNIQUE INDEX marks_one_active ON marks (recording_id, kind, reference)
    WHERE released_at IS NULL;

CREATE TABLE sars (
    n             BIGINT PRIMARY KEY,
    id            TEXT COLLATE "C" NOT NULL UNIQUE,
    requester     TEXT NOT NULL,
    received      TEXT NOT NULL,
    deadline      TEXT NOT NULL,
    incident_time TEXT,
    location      TEXT,
    opened_by     TEXT NOT NULL,
    opened_at     TEXT NOT NULL,
    closed_at     TEXT,
    closed_by     TEXT
);

CREATE TABLE disclosures (
    id                BIGINT PRIMARY KEY,
    sar_id            TEXT COLLATE "C" NOT NULL REFERENCES sars (id),
    file_sha256       TEXT NOT NULL,
    file_size         BIGINT NOT NULL,
    file_name         TEXT NOT NULL,
    recipient         TEXT NOT NULL,
    disclosed_by      TEXT NOT NULL,
    disclosed_at      TEXT NOT NULL,
    unredacted_reason TEXT
);

CREATE TABLE unreadable_sources (
    seq    BIGINT PRIMARY KEY REFERENCES events (seq),
    source TEXT NOT NULL
);

CREATE TABLE superseded (
    path         TEXT COLLATE "C" PRIMARY KEY REFERENCES artefacts (path),
    recording_id TEXT COLLATE "C" NOT NULL REFERENCES recordings (id),
    by           TEXT NOT NULL,
    at           TEXT NOT NULL,
    reason       TEXT NOT NULL
);

-- The retention rules, enforced by the database whatever the caller checked before.
CREATE FUNCTION bwv_marks_rules() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT deletion FROM recordings WHERE id = NEW.recording_id) IS NOT NULL THEN
        RAISE EXCEPTION 'the recording was deleted: it cannot be flagged or held'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW.kind = 'sar' AND EXISTS
        (SELECT 1 FROM sars WHERE id = NEW.reference AND closed_at IS NOT NULL) THEN
        RAISE EXCEPTION 'the SAR is closed: it holds no more footage'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER marks_rules BEFORE INSERT ON marks
    FOR EACH ROW EXECUTE FUNCTION bwv_marks_rules();

CREATE FUNCTION bwv_deletion_rules() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.deletion IS NOT NULL AND NEW.deletion IS DISTINCT FROM OLD.deletion THEN
        RAISE EXCEPTION 'a deletion is final' USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW.deletion IS NOT NULL AND OLD.deletion IS NULL AND EXISTS
        (SELECT 1 FROM marks WHERE recording_id = NEW.id AND released_at IS NULL) THEN
        RAISE EXCEPTION 'a flagged or held recording is never deleted'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER recordings_deletion_rules BEFORE UPDATE OF deletion ON recordings
    FOR EACH ROW EXECUTE FUNCTION bwv_deletion_rules();

CREATE FUNCTION bwv_disclosure_rules() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM sars WHERE id = NEW.sar_id AND closed_at IS NULL) THEN
        RAISE EXCEPTION 'disclosures are recorded under an open SAR'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER disclosures_under_open_sar BEFORE INSERT ON disclosures
    FOR EACH ROW EXECUTE FUNCTION bwv_disclosure_rules();
"#,
    // 2: the legal basis a disclosure was made under (the event holds its SHA-256).
    r#"
ALTER TABLE disclosures ADD COLUMN basis TEXT;
"#,
    // 3: the people the log names by the SHA-256 of their name, and why a dock file could not
    // be read (the log holds hashes of both).
    r#"
CREATE TABLE actors (
    logged TEXT COLLATE "C" PRIMARY KEY,
    name   TEXT NOT NULL
);
ALTER TABLE unreadable_sources ADD COLUMN reason TEXT;
"#,
    // 4: the latest event of a kind (the retention policy is the latest `policy_changed`).
    r#"
CREATE INDEX events_by_kind ON events(kind, seq);
"#,
];

/// The advisory lock key under which migrations run ("bwv" and a version of the scheme).
const MIGRATION_LOCK: i64 = 0x0062_7776_0001;

/// A PostgreSQL error shown with the server's message (the driver's own text is only "db
/// error"), kept as the source of [`Error::Index`] so its kind can be told.
#[derive(Debug)]
pub struct PgError(pub postgres::Error);

impl std::fmt::Display for PgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.as_db_error() {
            Some(db) => {
                write!(f, "{} ({})", db.message(), db.code().code())?;
                if let Some(detail) = db.detail() {
                    write!(f, ": {detail}")?;
                }
                Ok(())
            }
            None => match std::error::Error::source(&self.0) {
                Some(cause) => write!(f, "{}: {cause}", self.0),
                None => write!(f, "{}", self.0),
            },
        }
    }
}

impl std::error::Error for PgError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl PgError {
    /// What kind of failure this is: a rule the database enforces refused the change
    /// (conflict), the server is unreachable, restarting or the transaction lost a race (busy:
    /// try again), the server is out of space (busy), or something else (internal).
    pub fn kind(&self) -> crate::ErrorKind {
        use crate::ErrorKind;
        use postgres::error::SqlState;
        let Some(code) = self.0.code() else {
            return if self.0.is_closed() || std::error::Error::source(&self.0).is_some() {
                ErrorKind::Busy
            } else {
                ErrorKind::Internal
            };
        };
        match code.code().get(..2) {
            Some("23") => ErrorKind::Conflict,
            // Serialization failure and deadlock, insufficient resources, operator
            // intervention (a restart), connection failures.
            Some("40" | "53" | "57" | "08") => ErrorKind::Busy,
            _ if *code == SqlState::DATA_CORRUPTED || *code == SqlState::INDEX_CORRUPTED => {
                ErrorKind::Integrity
            }
            _ => ErrorKind::Internal,
        }
    }
}

pub(crate) fn pg(context: impl Into<String>) -> impl FnOnce(postgres::Error) -> Error {
    let index = Error::index(context);
    move |e| index(PgError(e))
}

/// Why a write transaction did not commit: the database failed, or a rule checked inside the
/// transaction refused the change.
enum TxFail {
    Db(postgres::Error),
    Refused(Error),
}

impl From<postgres::Error> for TxFail {
    fn from(e: postgres::Error) -> Self {
        TxFail::Db(e)
    }
}

impl From<Error> for TxFail {
    fn from(e: Error) -> Self {
        TxFail::Refused(e)
    }
}

type TxResult<T> = std::result::Result<T, TxFail>;

/// A small pool of connections to one database, each used by one call at a time (shared by the
/// store and the job queue).
pub(crate) struct Pool {
    config: postgres::Config,
    /// TLS, when the URL asks for it (`sslmode=require`).
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
    /// Where it is, for messages (never the password).
    name: String,
    idle: Mutex<Vec<Client>>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Connections kept for reuse; more are made while all are busy.
const IDLE_CONNECTIONS: usize = 4;
/// How long checking a pooled connection may take before it is given up for a new one.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// A pooled connection, returned to the pool when dropped unless it broke.
pub(crate) struct Conn<'p> {
    client: Option<Client>,
    pool: &'p Pool,
}

impl std::ops::Deref for Conn<'_> {
    type Target = Client;
    fn deref(&self) -> &Client {
        self.client.as_ref().expect("held until dropped")
    }
}

impl std::ops::DerefMut for Conn<'_> {
    fn deref_mut(&mut self) -> &mut Client {
        self.client.as_mut().expect("held until dropped")
    }
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        if let Some(client) = self.client.take().filter(|c| !c.is_closed()) {
            let mut idle = self.pool.idle.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < IDLE_CONNECTIONS {
                idle.push(client);
            }
        }
    }
}

impl Pool {
    /// A pool for the database at `url` (`postgres://user:password@host:port/db`); `name` is
    /// how messages name it. Connects only when a connection is asked for. With
    /// `?sslmode=require` every connection is TLS, the server's certificate checked against
    /// the CA in `sslrootcert=FILE` (PEM) or, without it, the system's roots, and its name
    /// against the host's.
    pub(crate) fn new(url: &str, name: &str) -> Result<Self> {
        let (url, root) = take_param(url, "sslrootcert");
        let mut config: postgres::Config = url.parse().map_err(pg(format!("parse {name}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        config.application_name("bwv");
        let tls = match config.get_ssl_mode() {
            postgres::config::SslMode::Require => Some(tls_connector(root.as_deref(), name)?),
            _ => None,
        };
        Ok(Self {
            config,
            tls,
            name: name.to_owned(),
            idle: Mutex::new(Vec::new()),
        })
    }

    /// Where it is, for messages.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// A pooled connection that still answers (one round trip; a server restarted or a
    /// connection dropped since it was last used is found here, not by the caller's
    /// statement), or a new one.
    pub(crate) fn get(&self) -> Result<Conn<'_>> {
        loop {
            let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
            let Some(mut client) = idle else {
                break;
            };
            if !client.is_closed() && client.is_valid(CHECK_TIMEOUT).is_ok() {
                return Ok(Conn {
                    client: Some(client),
                    pool: self,
                });
            }
        }
        let client = match &self.tls {
            Some(tls) => self.config.connect(tls.clone()),
            None => self.config.connect(NoTls),
        }
        .map_err(pg(format!("connect to {}", self.name)))?;
        Ok(Conn {
            client: Some(client),
            pool: self,
        })
    }
}

/// `url` without its query parameter `key`, and that parameter's value (libpq's `sslrootcert`,
/// which the driver does not take).
fn take_param(url: &str, key: &str) -> (String, Option<String>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_owned(), None);
    };
    let mut value = None;
    let kept: Vec<&str> = query
        .split('&')
        .filter(|kv| match kv.split_once('=') {
            Some((k, v)) if k == key => {
                value = Some(v.to_owned());
                false
            }
            _ => true,
        })
        .collect();
    let url = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    (url, value)
}

/// A TLS connector trusting the certificates in the PEM file `root`, or the system's roots.
fn tls_connector(
    root: Option<&str>,
    name: &str,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect> {
    let bad = |why: String| Error::Invalid(format!("{name}: TLS: {why}"));
    let mut roots = rustls::RootCertStore::empty();
    match root {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| bad(format!("read sslrootcert {path}: {e}")))?;
            let ders = pem_certificates(&text);
            if ders.is_empty() {
                return Err(bad(format!("sslrootcert {path} holds no PEM certificate")));
            }
            for der in ders {
                roots
                    .add(der.into())
                    .map_err(|e| bad(format!("sslrootcert {path}: {e}")))?;
            }
        }
        None => {
            for cert in rustls_native_certs::load_native_certs().certs {
                // A system root rustls cannot use is left out, as libpq would.
                let _ = roots.add(cert);
            }
        }
    }
    #[expect(
        deprecated,
        reason = "ring, the provider the S3 client already uses; aws-lc-rs would add a C build"
    )]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// The DER bytes of every `CERTIFICATE` block in PEM `text`.
fn pem_certificates(text: &str) -> Vec<Vec<u8>> {
    use base64::Engine as _;
    let mut found = Vec::new();
    let mut block: Option<String> = None;
    for line in text.lines().map(str::trim) {
        match (&mut block, line) {
            (None, "-----BEGIN CERTIFICATE-----") => block = Some(String::new()),
            (Some(b64), "-----END CERTIFICATE-----") => {
                if let Ok(der) = base64::engine::general_purpose::STANDARD.decode(b64.as_bytes()) {
                    found.push(der);
                }
                block = None;
            }
            (Some(b64), l) => b64.push_str(l),
            (None, _) => {}
        }
    }
    found
}

/// PostgreSQL-backed [`Store`].
#[derive(Debug)]
pub struct PostgresStore {
    pool: Pool,
    clock: Arc<dyn Clock>,
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/db`), creating and
    /// migrating the schema if needed. `name` is how messages name it.
    pub fn open(url: &str, name: &str, clock: Arc<dyn Clock>) -> Result<Self> {
        let store = Self {
            pool: Pool::new(url, name)?,
            clock,
        };
        migrate(&mut *store.conn()?).map_err(pg(format!("migrate {name}")))?;
        Ok(store)
    }

    fn conn(&self) -> Result<Conn<'_>> {
        self.pool.get()
    }

    fn now(&self) -> String {
        clock::canonical(self.clock.now())
    }

    /// Appends an event in the caller's transaction (see [`super::append_in`]).
    fn append_in(&self, tx: &mut Transaction<'_>, draft: EventDraft) -> TxResult<Event> {
        let log = PgLog(RefCell::new(tx));
        Ok(super::append_in(&log, draft, self.now())?)
    }

    /// Runs `f` in a write transaction that first takes the log's write lock (the head row),
    /// committing only if it succeeds (a refusal or failure rolls everything back).
    fn with_tx<T>(
        &self,
        context: &str,
        f: impl FnOnce(&mut Transaction<'_>) -> TxResult<T>,
    ) -> Result<T> {
        let mut conn = self.conn()?;
        let run = |conn: &mut Client| -> TxResult<T> {
            let mut tx = conn.transaction()?;
            tx.execute("SELECT 1 FROM log_head WHERE id = 0 FOR UPDATE", &[])?;
            let out = f(&mut tx)?;
            tx.commit()?;
            Ok(out)
        };
        match run(&mut conn) {
            Ok(out) => Ok(out),
            Err(TxFail::Db(e)) => Err(pg(context)(e)),
            Err(TxFail::Refused(e)) => Err(e),
        }
    }
}

/// Applies the migrations not yet run, in one transaction under an advisory lock: processes
/// opening a new database at the same moment apply each once between them.
fn migrate(client: &mut Client) -> std::result::Result<(), postgres::Error> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS bwv_schema (version INTEGER NOT NULL)")?;
    let done: i64 = tx
        .query_opt("SELECT version::BIGINT FROM bwv_schema", &[])?
        .map(|r| r.try_get(0))
        .transpose()?
        .unwrap_or(0);
    let done = usize::try_from(done).unwrap_or(0);
    if done >= MIGRATIONS.len() {
        return tx.commit();
    }
    for sql in &MIGRATIONS[done..] {
        tx.batch_execute(sql)?;
    }
    let version = i32::try_from(MIGRATIONS.len()).unwrap_or(i32::MAX);
    tx.execute("DELETE FROM bwv_schema", &[])?;
    tx.execute("INSERT INTO bwv_schema (version) VALUES ($1)", &[&version])?;
    tx.commit()
}

fn read_head(c: &mut impl GenericClient) -> Result<Frontier> {
    let row = c
        .query_one("SELECT size, peaks FROM log_head WHERE id = 0", &[])
        .map_err(pg("read the log's tree head"))?;
    let peaks: Vec<u8> = get(&row, 1)?;
    Frontier::from_peaks(u64_col(&row, 0)?, digests(&peaks))
        .ok_or_else(|| bad_row(1, "tree head peaks do not fit its size"))
}

fn insert_node(
    c: &mut impl GenericClient,
    level: u32,
    index: u64,
    root: &Digest,
) -> std::result::Result<(), postgres::Error> {
    c.execute(
        "INSERT INTO tree_nodes (level, idx, hash) VALUES ($1, $2, $3) \
         ON CONFLICT (level, idx) DO UPDATE SET hash = excluded.hash",
        &[&(level as i32), &sql_int(index), &&root.0[..]],
    )?;
    Ok(())
}

/// A column that must hold a SHA-256 as 32 bytes.
fn blob_digest(row: &Row, col: usize) -> Result<Digest> {
    let bytes: Vec<u8> = row.try_get(col).map_err(pg("read a hash"))?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map(Digest)
        .map_err(|_| bad_row(col, "hash is not 32 bytes"))
}

fn hex_digest(row: &Row, col: usize) -> Result<Digest> {
    let text: String = row.try_get(col).map_err(pg("read a hash"))?;
    Digest::from_hex(&text).ok_or_else(|| bad_row(col, "not a SHA-256 hex digest"))
}

fn bad_row(col: usize, what: &str) -> Error {
    Error::Integrity(format!("custody index: column {col}: {what}"))
}

fn get<'a, T: postgres::types::FromSql<'a>>(row: &'a Row, col: usize) -> Result<T> {
    row.try_get(col).map_err(pg(format!("read column {col}")))
}

/// A non-negative integer column (a negative one, which only an edited index holds, is an error
/// rather than a huge number).
fn u64_col(row: &Row, col: usize) -> Result<u64> {
    u64::try_from(get::<i64>(row, col)?).map_err(|_| bad_row(col, "a count or size is negative"))
}

fn json_col<T: serde::de::DeserializeOwned>(row: &Row, col: usize) -> Result<T> {
    let text: String = get(row, col)?;
    serde_json::from_str(&text).map_err(|e| bad_row(col, &e.to_string()))
}

fn json_opt<T: serde::de::DeserializeOwned>(text: Option<String>, col: usize) -> Result<Option<T>> {
    text.map(|t| serde_json::from_str(&t))
        .transpose()
        .map_err(|e| bad_row(col, &e.to_string()))
}

fn event_col(row: &Row, col: usize) -> Result<Event> {
    let bytes: Vec<u8> = get(row, col)?;
    serde_json::from_slice(&bytes).map_err(|e| bad_row(col, &e.to_string()))
}

fn recording_from_row(row: &Row) -> Result<Recording> {
    let status: String = get(row, 5)?;
    let source: String = get(row, 10)?;
    let media: Option<String> = get(row, 13)?;
    let deletion: Option<String> = get(row, 14)?;
    Ok(Recording {
        id: get(row, 0)?,
        master_sha256: hex_digest(row, 1)?,
        master_size: u64_col(row, 2)?,
        master_path: get(row, 3)?,
        source_name: get(row, 4)?,
        status: Status::parse(&status).ok_or_else(|| bad_row(5, "unknown status"))?,
        reason: get(row, 6)?,
        officer_id: get(row, 7)?,
        device_id: get(row, 8)?,
        recorded_at: get(row, 9)?,
        recorded_at_source: time_source(&source)
            .ok_or_else(|| bad_row(10, "unknown time source"))?,
        ingested_at: get(row, 11)?,
        extra: json_col(row, 12)?,
        media: json_opt(media, 13)?,
        deletion: json_opt(deletion, 14)?,
    })
}

fn mark_from_row(row: &Row) -> Result<Mark> {
    let kind: String = get(row, 2)?;
    Ok(Mark {
        id: u64_col(row, 0)?,
        recording: get(row, 1)?,
        kind: MarkKind::parse(&kind).ok_or_else(|| bad_row(2, "unknown mark kind"))?,
        reference: get(row, 3)?,
        reason: get(row, 4)?,
        placed_by: get(row, 5)?,
        placed_at: get(row, 6)?,
        released_at: get(row, 7)?,
        released_by: get(row, 8)?,
        release_reason: get(row, 9)?,
    })
}

fn sar_from_row(row: &Row) -> Result<Sar> {
    let date = |col: usize| -> Result<jiff::civil::Date> {
        let text: String = get(row, col)?;
        text.parse().map_err(|_| bad_row(col, "not a date"))
    };
    Ok(Sar {
        id: get(row, 0)?,
        requester: get(row, 1)?,
        received: date(2)?,
        deadline: date(3)?,
        incident_time: get(row, 4)?,
        location: get(row, 5)?,
        opened_by: get(row, 6)?,
        opened_at: get(row, 7)?,
        closed_at: get(row, 8)?,
    })
}

fn artefact_from_row(row: &Row) -> Result<Artefact> {
    let kind: String = get(row, 0)?;
    Ok(Artefact {
        kind: ArtefactKind::parse(&kind).ok_or_else(|| bad_row(0, "unknown artefact kind"))?,
        path: get(row, 1)?,
        sha256: hex_digest(row, 2)?,
        size: u64_col(row, 3)?,
        parent_sha256: hex_digest(row, 4)?,
        tool: get(row, 5)?,
        tool_version: get(row, 6)?,
        params: json_col(row, 7)?,
    })
}

fn disclosure_from_row(row: &Row) -> Result<Disclosure> {
    Ok(Disclosure {
        sar: get(row, 0)?,
        file_sha256: hex_digest(row, 1)?,
        file_size: u64_col(row, 2)?,
        file_name: get(row, 3)?,
        recipient: get(row, 4)?,
        disclosed_by: get(row, 5)?,
        disclosed_at: get(row, 6)?,
        unredacted_reason: get(row, 7)?,
        basis: get(row, 8)?,
    })
}

/// Rows read by `sql`, each turned into a `T`.
fn rows<T>(
    c: &mut impl GenericClient,
    context: &str,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    each: impl Fn(&Row) -> Result<T>,
) -> Result<Vec<T>> {
    c.query(sql, params)
        .map_err(pg(context))?
        .iter()
        .map(each)
        .collect()
}

/// Records one artefact. Files are content-named, so a path already recorded holds the same
/// bytes and is left as it is.
fn insert_artefact(tx: &mut Transaction<'_>, id: &str, a: &Artefact) -> TxResult<()> {
    tx.execute(
        "INSERT INTO artefacts (recording_id, kind, path, sha256, size, parent_sha256, tool, tool_version, params) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (path) DO NOTHING",
        &[
            &id,
            &a.kind.as_str(),
            &a.path,
            &a.sha256.to_hex(),
            &sql_int(a.size),
            &a.parent_sha256.to_hex(),
            &a.tool,
            &a.tool_version,
            &a.params.to_string(),
        ],
    )?;
    Ok(())
}

/// Whether `sql` (a `SELECT EXISTS (...)`) holds.
fn exists(tx: &mut Transaction<'_>, sql: &str, params: &[&(dyn ToSql + Sync)]) -> TxResult<bool> {
    Ok(tx.query_one(sql, params)?.try_get(0)?)
}

/// The next row number of a table whose rows are numbered 1, 2, ... (under the write lock, so
/// numbers are never skipped or repeated).
fn next_number(tx: &mut Transaction<'_>, table_and_column: (&str, &str)) -> TxResult<i64> {
    let (table, column) = table_and_column;
    Ok(tx
        .query_one(
            &format!("SELECT COALESCE(MAX({column}), 0) + 1 FROM {table}"),
            &[],
        )?
        .try_get(0)?)
}

/// The append steps on a PostgreSQL write transaction.
struct PgLog<'a, 't>(RefCell<&'a mut Transaction<'t>>);

impl super::LogTx for PgLog<'_, '_> {
    fn head(&self) -> Result<Frontier> {
        read_head(&mut **self.0.borrow_mut())
    }

    fn name_actor(&self, logged: &str, name: &str) -> Result<()> {
        self.0
            .borrow_mut()
            .execute(
                "INSERT INTO actors (logged, name) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&logged, &name],
            )
            .map(|_| ())
            .map_err(pg("keep an actor's name"))
    }

    fn insert_event(&self, event: &Event, leaf: &Digest) -> Result<()> {
        self.0
            .borrow_mut()
            .execute(
                "INSERT INTO events (seq, at, kind, recording_id, canonical, leaf_hash) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &sql_int(event.seq),
                    &event.at,
                    &event.kind.as_str(),
                    &event.recording,
                    &event.canonical_bytes(),
                    &&leaf.0[..],
                ],
            )
            .map(|_| ())
            .map_err(pg(format!("append event {}", event.seq)))
    }

    fn set_head(&self, head: &Frontier) -> Result<()> {
        self.0
            .borrow_mut()
            .execute(
                "UPDATE log_head SET size = $1, peaks = $2 WHERE id = 0",
                &[&sql_int(head.size()), &packed(head.peaks())],
            )
            .map(|_| ())
            .map_err(pg("write the log's tree head"))
    }

    fn insert_node(&self, level: u32, index: u64, root: &Digest) -> Result<()> {
        insert_node(&mut **self.0.borrow_mut(), level, index, root)
            .map_err(pg(format!("store tree node {level}/{index}")))
    }
}

/// The log read through one snapshot.
struct View<'a, 't>(RefCell<&'a mut Transaction<'t>>);

impl View<'_, '_> {
    fn query_checkpoints(
        &self,
        rest: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<StoredCheckpoint>> {
        rows(
            &mut **self.0.borrow_mut(),
            "read checkpoints",
            &format!("SELECT size, root, note, signed_at, peaks FROM checkpoints {rest}"),
            params,
            |row| {
                let peaks: Option<Vec<u8>> = get(row, 4)?;
                Ok(StoredCheckpoint {
                    size: u64_col(row, 0)?,
                    root: blob_digest(row, 1)?,
                    note: get(row, 2)?,
                    signed_at: get(row, 3)?,
                    peaks: peaks.map(|p| digests(&p)),
                })
            },
        )
    }
}

impl LogView for View<'_, '_> {
    fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>> {
        self.query_checkpoints("ORDER BY size", &[])
    }

    fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>> {
        Ok(self
            .query_checkpoints("ORDER BY size DESC LIMIT 1", &[])?
            .pop())
    }

    fn head(&self) -> Result<Frontier> {
        read_head(&mut **self.0.borrow_mut())
    }

    fn rows(&self, range: Range<u64>, visit: &mut dyn FnMut(LogRow) -> Result<()>) -> Result<()> {
        // Read in slices, so a log of millions of events never sits in memory at once.
        const SLICE: i64 = 10_000;
        let (mut from, end) = (sql_int(range.start), sql_int(range.end));
        loop {
            let slice = rows(
                &mut **self.0.borrow_mut(),
                "read the log",
                "SELECT seq, at, kind, recording_id, canonical, leaf_hash FROM events \
                 WHERE seq >= $1 AND seq < $2 ORDER BY seq LIMIT $3",
                &[&from, &end, &SLICE],
                |row| {
                    Ok(LogRow {
                        seq: u64_col(row, 0)?,
                        at: get(row, 1)?,
                        kind: get(row, 2)?,
                        recording: get(row, 3)?,
                        canonical: get(row, 4)?,
                        leaf_hash: get(row, 5)?,
                    })
                },
            )?;
            let last = slice.last().map(|r| sql_int(r.seq));
            let full = slice.len() as i64 == SLICE;
            for row in slice {
                visit(row)?;
            }
            match last {
                Some(seq) if full => from = seq + 1,
                _ => return Ok(()),
            }
        }
    }

    fn leaves(&self, range: Range<u64>) -> Result<Vec<Digest>> {
        rows(
            &mut **self.0.borrow_mut(),
            "read leaf hashes",
            "SELECT leaf_hash FROM events WHERE seq >= $1 AND seq < $2 ORDER BY seq",
            &[&sql_int(range.start), &sql_int(range.end)],
            |row| blob_digest(row, 0),
        )
    }

    fn node(&self, level: u32, index: u64) -> Result<Option<Digest>> {
        Ok(rows(
            &mut **self.0.borrow_mut(),
            &format!("read tree node {level}/{index}"),
            "SELECT hash FROM tree_nodes WHERE level = $1 AND idx = $2",
            &[&(level as i32), &sql_int(index)],
            |row| blob_digest(row, 0),
        )?
        .pop())
    }
}

impl PostgresStore {
    /// Runs `read` on one REPEATABLE READ, READ ONLY snapshot.
    fn snapshot<T>(&self, read: impl FnOnce(&View<'_, '_>) -> Result<T>) -> Result<T> {
        let mut conn = self.conn()?;
        let mut tx = conn
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(pg("read the log"))?;
        let out = read(&View(RefCell::new(&mut tx)))?;
        tx.commit().map_err(pg("read the log"))?;
        Ok(out)
    }

    fn query_marks(
        &self,
        filter: &str,
        limit: Option<&str>,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Mark>> {
        let limit = limit.map(|n| format!(" LIMIT {n}")).unwrap_or_default();
        let sql = format!("SELECT {MARK_COLUMNS} FROM marks {filter} ORDER BY id{limit}");
        rows(
            &mut *self.conn()?,
            "read marks",
            &sql,
            params,
            mark_from_row,
        )
    }
}

impl Store for PostgresStore {
    fn recording_by_master(&self, sha: &Digest) -> Result<Option<Recording>> {
        let sql = format!("SELECT {RECORDING_COLUMNS} FROM recordings WHERE master_sha256 = $1");
        Ok(rows(
            &mut *self.conn()?,
            &format!("look up master {sha}"),
            &sql,
            &[&sha.to_hex()],
            recording_from_row,
        )?
        .pop())
    }

    fn create_recording(&self, rec: &Recording, event: EventDraft) -> Result<Event> {
        self.with_tx(&format!("create recording {}", rec.id), |tx| {
            tx.execute(
                &format!(
                    "INSERT INTO recordings ({RECORDING_COLUMNS}) VALUES \
                     ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, NULL, NULL)"
                ),
                &[
                    &rec.id,
                    &rec.master_sha256.to_hex(),
                    &sql_int(rec.master_size),
                    &rec.master_path,
                    &rec.source_name,
                    &rec.status.as_str(),
                    &rec.reason,
                    &rec.officer_id,
                    &rec.device_id,
                    &rec.recorded_at,
                    &time_source_name(rec.recorded_at_source),
                    &rec.ingested_at,
                    &rec.extra.to_string(),
                ],
            )?;
            self.append_in(tx, event)
        })
    }

    fn finish_recording(&self, id: &str, outcome: &Outcome, event: EventDraft) -> Result<Event> {
        self.with_tx(&format!("finish recording {id}"), |tx| {
            // A resumed ingest replaces what an interrupted one may have recorded.
            tx.execute("DELETE FROM artefacts WHERE recording_id = $1", &[&id])?;
            match outcome {
                Outcome::Ready { media, artefacts } => {
                    let media = serde_json::to_string(media).expect("media info serialises");
                    tx.execute(
                        "UPDATE recordings SET status = 'ready', reason = NULL, media = $2 WHERE id = $1",
                        &[&id, &media],
                    )?;
                    for a in artefacts {
                        insert_artefact(tx, id, a)?;
                    }
                }
                Outcome::Quarantined { reason } => {
                    tx.execute(
                        "UPDATE recordings SET status = 'quarantined', reason = $2, media = NULL WHERE id = $1",
                        &[&id, reason],
                    )?;
                }
            }
            self.append_in(tx, event)
        })
    }

    fn append(&self, event: EventDraft) -> Result<Event> {
        self.with_tx("append event", |tx| self.append_in(tx, event))
    }

    fn recordings(&self) -> Result<Vec<Recording>> {
        let sql = format!("SELECT {RECORDING_COLUMNS} FROM recordings ORDER BY ingested_at, id");
        rows(
            &mut *self.conn()?,
            "list recordings",
            &sql,
            &[],
            recording_from_row,
        )
    }

    fn search_recordings(
        &self,
        query: &RecordingQuery,
        page: &PageRequest,
    ) -> Result<Page<Recording>> {
        let limit = page.effective_limit();
        let (after_at, after_id) = recording_cursor(page)?.unzip();
        let from = query.recorded_from.map(clock::canonical);
        let to = query.recorded_to.map(clock::canonical);
        let active_flag = "SELECT 1 FROM marks m WHERE m.recording_id = r.id \
                           AND m.kind = 'evidence' AND m.released_at IS NULL";
        let sql = format!(
            "SELECT {RECORDING_COLUMNS} FROM recordings r WHERE \
             ($1::TEXT IS NULL OR officer_id = $1) AND ($2::TEXT IS NULL OR device_id = $2) \
             AND ($3::TEXT IS NULL OR recorded_at >= $3) AND ($4::TEXT IS NULL OR recorded_at < $4) \
             AND ($5::TEXT IS NULL OR EXISTS ({active_flag} AND m.reference = $5)) \
             AND ($6::BOOLEAN IS NULL OR $6 = EXISTS ({active_flag})) \
             AND ($7::BOOLEAN IS NULL OR $7 = (deletion IS NOT NULL)) \
             AND ($8::TEXT IS NULL OR (ingested_at, id) > ($8, $9::TEXT)) \
             ORDER BY ingested_at, id LIMIT $10"
        );
        let found = rows(
            &mut *self.conn()?,
            "search recordings",
            &sql,
            &[
                &query.officer,
                &query.device,
                &from,
                &to,
                &query.case,
                &query.flagged,
                &query.deleted,
                &after_at,
                &after_id,
                &(i64::from(limit) + 1),
            ],
            recording_from_row,
        )?;
        Ok(paged(found, limit, recording_cursor_of))
    }

    fn events_page(&self, recording: Option<&str>, page: &PageRequest) -> Result<Page<Event>> {
        let (after, limit) = (int_cursor(page)?, page.effective_limit());
        let found = rows(
            &mut *self.conn()?,
            "read events",
            "SELECT canonical FROM events WHERE ($1::TEXT IS NULL OR recording_id = $1) \
             AND seq > $2 ORDER BY seq LIMIT $3",
            &[&recording, &after, &(i64::from(limit) + 1)],
            |row| event_col(row, 0),
        )?;
        Ok(paged(found, limit, |e| e.seq.to_string()))
    }

    fn marks_page(&self, recording: Option<&str>, page: &PageRequest) -> Result<Page<Mark>> {
        let (after, limit) = (int_cursor(page)?, page.effective_limit());
        let found = self.query_marks(
            "WHERE ($1::TEXT IS NULL OR recording_id = $1) AND id > $2",
            Some("$3"),
            &[&recording, &after, &(i64::from(limit) + 1)],
        )?;
        Ok(paged(found, limit, |m| m.id.to_string()))
    }

    fn sars_page(&self, page: &PageRequest) -> Result<Page<Sar>> {
        let (after, limit) = (int_cursor(page)?, page.effective_limit());
        let found = rows(
            &mut *self.conn()?,
            "read SARs",
            &format!("SELECT {SAR_COLUMNS} FROM sars WHERE n > $1 ORDER BY n LIMIT $2"),
            &[&after, &(i64::from(limit) + 1)],
            |row| Ok((get::<i64>(row, 9)?, sar_from_row(row)?)),
        )?;
        let page = paged(found, limit, |(n, _)| n.to_string());
        Ok(Page {
            items: page.items.into_iter().map(|(_, s)| s).collect(),
            next: page.next,
        })
    }

    fn resolve(&self, reference: &str) -> Result<Recording> {
        if !super::backend::is_recording_reference(reference) {
            return Err(Error::UnknownRecording(reference.to_owned()));
        }
        let reference_lc = reference.to_ascii_lowercase();
        let found = rows(
            &mut *self.conn()?,
            &format!("resolve {reference}"),
            &format!(
                "SELECT {RECORDING_COLUMNS} FROM recordings \
                 WHERE starts_with(id, $1) OR master_sha256 = $1 LIMIT 2"
            ),
            &[&reference_lc],
            recording_from_row,
        )?;
        resolved(reference, found)
    }

    fn artefacts(&self, id: &str) -> Result<Vec<Artefact>> {
        rows(
            &mut *self.conn()?,
            &format!("artefacts of {id}"),
            "SELECT kind, path, sha256, size, parent_sha256, tool, tool_version, params \
             FROM artefacts WHERE recording_id = $1 ORDER BY n",
            &[&id],
            artefact_from_row,
        )
    }

    fn events(&self, recording: Option<&str>) -> Result<Vec<Event>> {
        rows(
            &mut *self.conn()?,
            "read events",
            "SELECT canonical FROM events WHERE $1::TEXT IS NULL OR recording_id = $1 ORDER BY seq",
            &[&recording],
            |row| event_col(row, 0),
        )
    }

    fn log_head(&self) -> Result<Frontier> {
        read_head(&mut *self.conn()?)
    }

    fn log_rows(
        &self,
        range: Range<u64>,
        visit: &mut dyn FnMut(LogRow) -> Result<()>,
    ) -> Result<()> {
        self.snapshot(|view| view.rows(range, visit))
    }

    fn read_log(&self, read: &mut dyn FnMut(&dyn LogView) -> Result<()>) -> Result<()> {
        self.snapshot(|view| read(view))
    }

    fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>> {
        self.snapshot(|view| view.checkpoints())
    }

    fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>> {
        self.snapshot(|view| view.latest_checkpoint())
    }

    fn add_checkpoint(&self, tree: &Frontier, note: &str) -> Result<StoredCheckpoint> {
        let (size, root) = (tree.size(), tree.root());
        let signed_at = self.now();
        self.with_tx(&format!("store checkpoint {size}"), |tx| {
            // Two processes may sign the same tree at once: the first stored stays, and the
            // second must agree with its root.
            let stored = View(RefCell::new(tx))
                .query_checkpoints("WHERE size = $1", &[&sql_int(size)])?
                .pop();
            if let Some(stored) = stored {
                return if stored.root == root {
                    Ok(stored)
                } else {
                    Err(refuse::forked(size).into())
                };
            }
            tx.execute(
                "INSERT INTO checkpoints (size, root, note, signed_at, peaks) VALUES ($1, $2, $3, $4, $5)",
                &[&sql_int(size), &&root.0[..], &note, &signed_at, &packed(tree.peaks())],
            )?;
            Ok(StoredCheckpoint {
                size,
                root,
                note: note.to_owned(),
                signed_at: signed_at.clone(),
                peaks: Some(tree.peaks().to_vec()),
            })
        })
    }

    fn add_mark(&self, mark: &Mark, event: EventDraft) -> Result<(Mark, Event)> {
        let placed_at = self.now();
        self.with_tx(&format!("mark {}", mark.recording), |tx| {
            let deletion = tx.query_opt(
                "SELECT deletion FROM recordings WHERE id = $1",
                &[&mark.recording],
            )?;
            let Some(deletion) = deletion else {
                return Err(Error::UnknownRecording(mark.recording.clone()).into());
            };
            if let Some(d) = deletion.try_get::<_, Option<String>>(0)? {
                let d: Deletion =
                    serde_json::from_str(&d).map_err(|e| bad_row(0, &e.to_string()))?;
                return Err(refuse::deleted(&mark.recording, &d).into());
            }
            if exists(
                tx,
                "SELECT EXISTS (SELECT 1 FROM marks WHERE recording_id = $1 AND kind = $2 \
                 AND reference = $3 AND released_at IS NULL)",
                &[&mark.recording, &mark.kind.as_str(), &mark.reference],
            )? {
                return Err(refuse::already_marked(mark).into());
            }
            if mark.kind == MarkKind::Sar
                && exists(
                    tx,
                    "SELECT EXISTS (SELECT 1 FROM sars WHERE id = $1 AND closed_at IS NOT NULL)",
                    &[&mark.reference],
                )?
            {
                return Err(refuse::sar_closed(&mark.reference).into());
            }
            let id = next_number(tx, ("marks", "id"))?;
            tx.execute(
                "INSERT INTO marks (id, recording_id, kind, reference, reason, placed_by, placed_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    &id,
                    &mark.recording,
                    &mark.kind.as_str(),
                    &mark.reference,
                    &mark.reason,
                    &mark.placed_by,
                    &placed_at,
                ],
            )?;
            let id = u64::try_from(id).map_err(|_| bad_row(0, "negative mark id"))?;
            let event = self.append_in(tx, event.with("mark_id", id))?;
            Ok((mark.placed(id, &placed_at), event))
        })
    }

    fn release_marks(
        &self,
        ids: &[u64],
        by: &str,
        reason: &str,
        event: EventDraft,
    ) -> Result<Event> {
        let at = self.now();
        self.with_tx("release marks", |tx| {
            for id in ids {
                // A mark already released (or never placed) refuses the whole release.
                let n = tx.execute(
                    "UPDATE marks SET released_at = $2, released_by = $3, release_reason = $4 \
                     WHERE id = $1 AND released_at IS NULL",
                    &[&sql_int(*id), &at, &by, &reason],
                )?;
                if n != 1 {
                    return Err(refuse::mark_not_active(*id).into());
                }
            }
            self.append_in(tx, event)
        })
    }

    fn marks(&self, recording: Option<&str>) -> Result<Vec<Mark>> {
        self.query_marks(
            "WHERE $1::TEXT IS NULL OR recording_id = $1",
            None,
            &[&recording],
        )
    }

    fn add_artefact(&self, id: &str, a: &Artefact, event: EventDraft) -> Result<Event> {
        self.with_tx(&format!("record {} of {id}", a.kind.as_str()), |tx| {
            insert_artefact(tx, id, a)?;
            self.append_in(tx, event)
        })
    }

    fn supersede(
        &self,
        id: &str,
        path: &str,
        by: &str,
        reason: &str,
        event: EventDraft,
    ) -> Result<Event> {
        let at = self.now();
        self.with_tx(&format!("supersede {path}"), |tx| {
            if !exists(
                tx,
                "SELECT EXISTS (SELECT 1 FROM artefacts WHERE recording_id = $1 AND path = $2 \
                 AND kind = 'redacted')",
                &[&id, &path],
            )? {
                return Err(refuse::no_redacted_copy(id, path).into());
            }
            let n = tx.execute(
                "INSERT INTO superseded (path, recording_id, by, at, reason) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (path) DO NOTHING",
                &[&path, &id, &by, &at, &reason],
            )?;
            if n != 1 {
                return Err(refuse::superseded_already(path).into());
            }
            self.append_in(tx, event)
        })
    }

    fn superseded(&self, id: &str) -> Result<Vec<String>> {
        rows(
            &mut *self.conn()?,
            &format!("superseded copies of {id}"),
            "SELECT path FROM superseded WHERE recording_id = $1 ORDER BY path",
            &[&id],
            |row| get(row, 0),
        )
    }

    fn open_sar(&self, sar: &Sar, event: EventDraft) -> Result<(Sar, Event)> {
        let opened_at = self.now();
        self.with_tx("open SAR", |tx| {
            let n = next_number(tx, ("sars", "n"))?;
            let id = format!("SAR-{n}");
            tx.execute(
                "INSERT INTO sars (n, id, requester, received, deadline, incident_time, location, opened_by, opened_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                &[
                    &n,
                    &id,
                    &sar.requester,
                    &sar.received.to_string(),
                    &sar.deadline.to_string(),
                    &sar.incident_time,
                    &sar.location,
                    &sar.opened_by,
                    &opened_at,
                ],
            )?;
            let event = self.append_in(tx, event.with("sar", id.as_str()))?;
            let stored = Sar {
                id,
                opened_at: opened_at.clone(),
                closed_at: None,
                ..sar.clone()
            };
            Ok((stored, event))
        })
    }

    fn sars(&self) -> Result<Vec<Sar>> {
        rows(
            &mut *self.conn()?,
            "read SARs",
            &format!("SELECT {SAR_COLUMNS} FROM sars ORDER BY n"),
            &[],
            sar_from_row,
        )
    }

    fn close_sar(
        &self,
        id: &str,
        by: &str,
        events: &dyn Fn(&[Mark]) -> Vec<EventDraft>,
    ) -> Result<(Vec<Mark>, Vec<Event>)> {
        let at = self.now();
        self.with_tx(&format!("close {id}"), |tx| {
            let n = tx.execute(
                "UPDATE sars SET closed_at = $2, closed_by = $3 WHERE id = $1 AND closed_at IS NULL",
                &[&id, &at, &by],
            )?;
            if n != 1 {
                return Err(refuse::not_open_sar(id).into());
            }
            // The holds are read under the write lock: one linked a moment ago is released too.
            let holds = rows(
                &mut *tx,
                "read holds",
                &format!(
                    "SELECT {MARK_COLUMNS} FROM marks WHERE kind = 'sar' AND reference = $1 \
                     AND released_at IS NULL ORDER BY id"
                ),
                &[&id],
                mark_from_row,
            )?;
            tx.execute(
                "UPDATE marks SET released_at = $2, released_by = $3, release_reason = $4 \
                 WHERE kind = 'sar' AND reference = $1 AND released_at IS NULL",
                &[&id, &at, &by, &format!("{id} closed")],
            )?;
            let appended = events(&holds)
                .into_iter()
                .map(|e| self.append_in(tx, e))
                .collect::<TxResult<Vec<_>>>()?;
            Ok((holds, appended))
        })
    }

    fn add_disclosure(&self, d: &Disclosure, event: EventDraft) -> Result<Event> {
        let at = self.now();
        self.with_tx(&format!("disclose under {}", d.sar), |tx| {
            if !exists(
                tx,
                "SELECT EXISTS (SELECT 1 FROM sars WHERE id = $1 AND closed_at IS NULL)",
                &[&d.sar],
            )? {
                return Err(refuse::not_open_sar(&d.sar).into());
            }
            let id = next_number(tx, ("disclosures", "id"))?;
            tx.execute(
                "INSERT INTO disclosures (id, sar_id, file_sha256, file_size, file_name, recipient, disclosed_by, disclosed_at, unredacted_reason, basis) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                &[
                    &id,
                    &d.sar,
                    &d.file_sha256.to_hex(),
                    &sql_int(d.file_size),
                    &d.file_name,
                    &d.recipient,
                    &d.disclosed_by,
                    &at,
                    &d.unredacted_reason,
                    &d.basis,
                ],
            )?;
            self.append_in(tx, event)
        })
    }

    fn disclosures(&self, sar: Option<&str>) -> Result<Vec<Disclosure>> {
        rows(
            &mut *self.conn()?,
            "read disclosures",
            "SELECT sar_id, file_sha256, file_size, file_name, recipient, disclosed_by, disclosed_at, unredacted_reason, basis \
             FROM disclosures WHERE $1::TEXT IS NULL OR sar_id = $1 ORDER BY id",
            &[&sar],
            disclosure_from_row,
        )
    }

    fn add_unreadable(&self, source: &str, reason: &str, event: EventDraft) -> Result<Event> {
        self.with_tx(&format!("record unreadable {source}"), |tx| {
            let e = self.append_in(tx, event)?;
            tx.execute(
                "INSERT INTO unreadable_sources (seq, source, reason) VALUES ($1, $2, $3)",
                &[&sql_int(e.seq), &source, &reason],
            )?;
            Ok(e)
        })
    }

    fn unreadable_sources(&self) -> Result<Vec<UnreadableSource>> {
        rows(
            &mut *self.conn()?,
            "read unreadable sources",
            "SELECT e.canonical, u.source, u.reason FROM unreadable_sources u \
             JOIN events e ON e.seq = u.seq ORDER BY u.seq",
            &[],
            |row| {
                Ok(UnreadableSource::new(
                    event_col(row, 0)?,
                    get(row, 1)?,
                    get(row, 2)?,
                ))
            },
        )
    }

    fn latest_event(&self, kind: EventKind) -> Result<Option<Event>> {
        Ok(rows(
            &mut *self.conn()?,
            "read the latest event of a kind",
            "SELECT canonical FROM events WHERE kind = $1 ORDER BY seq DESC LIMIT 1",
            &[&kind.as_str()],
            |row| event_col(row, 0),
        )?
        .pop())
    }

    fn integrity_problems(&self) -> Result<Vec<String>> {
        // PostgreSQL checks its pages as it reads them (and with data checksums, when the
        // cluster has them); there is no cheap whole-database check to run here.
        Ok(Vec::new())
    }

    fn actor_names(&self) -> Result<BTreeMap<String, String>> {
        Ok(rows(
            &mut *self.conn()?,
            "read actors' names",
            "SELECT logged, name FROM actors",
            &[],
            |row| Ok((get(row, 0)?, get(row, 1)?)),
        )?
        .into_iter()
        .collect())
    }

    fn mark_deleted(
        &self,
        id: &str,
        deletion: &Deletion,
        event: EventDraft,
    ) -> Result<Option<Event>> {
        let text = serde_json::to_string(deletion).expect("deletion serialises");
        self.with_tx(&format!("delete {id}"), |tx| {
            // Decided under the write lock: a flag or hold placed since the caller looked keeps
            // the recording.
            if exists(
                tx,
                "SELECT EXISTS (SELECT 1 FROM marks WHERE recording_id = $1 AND released_at IS NULL)",
                &[&id],
            )? {
                return Ok(None);
            }
            let n = tx.execute(
                "UPDATE recordings SET deletion = $2 WHERE id = $1 AND deletion IS NULL",
                &[&id, &text],
            )?;
            if n != 1 {
                return Err(refuse::deleted_or_unknown(id).into());
            }
            self.append_in(tx, event).map(Some)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FixedClock;
    use crate::custody::EventKind;
    use crate::custody::conformance::recording;
    use crate::custody::log::{self, AuditScope};
    use crate::testutil::servers::{postgres_database, postgres_fresh};

    fn clock() -> Arc<dyn Clock> {
        Arc::new(FixedClock(
            "2026-11-21T10:00:00Z".parse().expect("valid time"),
        ))
    }

    fn open(url: &str) -> PostgresStore {
        PostgresStore::open(url, "test", clock()).expect("opens")
    }

    #[test]
    fn libpq_s_sslrootcert_is_taken_out_of_the_url_and_pem_is_read() {
        let url = "postgres://u@h:5/db?sslmode=require&sslrootcert=/etc/ca.pem&connect_timeout=3";
        assert_eq!(
            take_param(url, "sslrootcert"),
            (
                "postgres://u@h:5/db?sslmode=require&connect_timeout=3".to_owned(),
                Some("/etc/ca.pem".to_owned())
            )
        );
        assert_eq!(
            take_param("postgres://u@h/db?sslrootcert=x", "sslrootcert"),
            ("postgres://u@h/db".to_owned(), Some("x".to_owned()))
        );
        assert_eq!(take_param("postgres://u@h/db", "sslrootcert").1, None);
        let pem = "junk\n-----BEGIN CERTIFICATE-----\nAAEC\nAw==\n-----END CERTIFICATE-----\n\
                   -----BEGIN CERTIFICATE-----\nBA==\n-----END CERTIFICATE-----\n";
        assert_eq!(pem_certificates(pem), [vec![0, 1, 2, 3], vec![4]]);
        assert!(tls_connector(Some("/nonexistent/ca.pem"), "db").is_err());
    }

    #[test]
    fn the_postgres_store_keeps_the_store_contract() {
        // One database per folder the suite names, so reopening a folder reopens its store.
        crate::custody::conformance::suite(&|dir| {
            let name = format!(
                "suite_{}",
                &Digest::of(dir.as_os_str().as_encoded_bytes()).to_hex()[..16]
            );
            Box::new(open(&postgres_database(&name)))
        });
    }

    #[test]
    fn the_database_refuses_changes_to_the_log_and_breaches_of_the_retention_rules() {
        let url = postgres_fresh("rules");
        let s = open(&url);
        for (id, b) in [("aaaa0001", b"a"), ("bbbb0002", b"b")] {
            s.create_recording(
                &recording(id, Digest::of(b)),
                EventDraft::new(EventKind::Ingested, Some(id), "t"),
            )
            .expect("create");
        }
        let mut tree = Frontier::new();
        tree.push(b"x");
        s.add_checkpoint(&tree, "note").expect("checkpoint");
        let mut raw = Client::connect(&url, NoTls).expect("raw connection");
        let mut refused = |sql: &str, why: &str| {
            let err = raw.batch_execute(sql).expect_err(sql);
            let shown = PgError(err).to_string();
            assert!(shown.contains(why), "{sql}: {shown}");
        };
        for sql in [
            "UPDATE events SET kind = 'x' WHERE seq = 0",
            "DELETE FROM events",
            "TRUNCATE events CASCADE",
        ] {
            refused(sql, "append-only");
        }
        refused("DELETE FROM checkpoints", "append-only");
        refused("TRUNCATE checkpoints", "append-only");
        let mark = |rec: &str, reference: &str| {
            format!(
                "INSERT INTO marks (id, recording_id, kind, reference, reason, placed_by, placed_at) \
                 VALUES ((SELECT COALESCE(MAX(id), 0) + 1 FROM marks), '{rec}', 'complaint', '{reference}', 'r', 'p', 't')"
            )
        };
        let mut raw = Client::connect(&url, NoTls).expect("raw connection");
        raw.batch_execute(&mark("aaaa0001", "C-1"))
            .expect("first mark");
        let mut refused = |sql: &str, why: &str| {
            let shown = PgError(raw.batch_execute(sql).expect_err(sql)).to_string();
            assert!(shown.contains(why), "{sql}: {shown}");
        };
        refused(&mark("aaaa0001", "C-1"), "marks_one_active");
        refused(
            "UPDATE recordings SET deletion = '{}' WHERE id = 'aaaa0001'",
            "never deleted",
        );
        let mut raw = Client::connect(&url, NoTls).expect("raw connection");
        raw.batch_execute("UPDATE recordings SET deletion = '{}' WHERE id = 'bbbb0002'")
            .expect("unmarked footage may be deleted");
        raw.batch_execute(
            "INSERT INTO sars (n, id, requester, received, deadline, opened_by, opened_at, closed_at) \
             VALUES (1, 'SAR-1', 'J', '2026-11-01', '2026-12-01', 'p', 't', 't')",
        )
        .expect("a closed SAR");
        let mut refused = |sql: &str, why: &str| {
            let err = raw.batch_execute(sql).expect_err(sql);
            assert_eq!(PgError(err).kind(), crate::ErrorKind::Conflict, "{sql}");
            let shown = PgError(raw.batch_execute(sql).expect_err(sql)).to_string();
            assert!(shown.contains(why), "{sql}: {shown}");
        };
        refused(&mark("bbbb0002", "C-1"), "was deleted");
        refused(
            "UPDATE recordings SET deletion = NULL WHERE id = 'bbbb0002'",
            "final",
        );
        refused(
            "INSERT INTO marks (id, recording_id, kind, reference, reason, placed_by, placed_at) \
             VALUES (99, 'aaaa0001', 'sar', 'SAR-1', 'r', 'p', 't')",
            "closed",
        );
        refused(
            "INSERT INTO disclosures (id, sar_id, file_sha256, file_size, file_name, recipient, disclosed_by, disclosed_at) \
             VALUES (1, 'SAR-1', 'x', 1, 'f', 'r', 'p', 't')",
            "open SAR",
        );
    }

    /// Writers on several machines: each thread has its own store (its own connections), as a
    /// process elsewhere would, and they append at once. The log stays one: contiguous sequence
    /// numbers, the head equal to the tree of the stored events, every event once.
    #[test]
    fn concurrent_writers_keep_one_contiguous_log() {
        let url = postgres_fresh("writers");
        const WRITERS: u64 = 4;
        const EACH: u64 = 40;
        // Processes opening a new database at once migrate it once.
        let start = std::sync::Barrier::new(WRITERS as usize);
        std::thread::scope(|scope| {
            for w in 0..WRITERS {
                let (url, start) = (&url, &start);
                scope.spawn(move || {
                    start.wait();
                    let s = open(url);
                    for i in 0..EACH {
                        let draft = EventDraft::new(EventKind::Duplicate, None, "t")
                            .with("writer", w)
                            .with("i", i);
                        if i % 10 == 0 {
                            let id = format!("{w:04x}{i:04x}");
                            let rec = recording(&id, Digest::of(id.as_bytes()));
                            s.create_recording(&rec, draft).expect("create");
                        } else {
                            s.append(draft).expect("append");
                        }
                    }
                });
            }
        });
        let s = open(&url);
        let events = s.events(None).expect("events");
        assert_eq!(events.len() as u64, WRITERS * EACH);
        for (n, e) in events.iter().enumerate() {
            assert_eq!(e.seq, n as u64, "contiguous");
        }
        let mut seen: Vec<(String, String)> = events
            .iter()
            .map(|e| {
                (
                    format!("{:?}", e.fields.get("writer")),
                    format!("{:?}", e.fields.get("i")),
                )
            })
            .collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len() as u64, WRITERS * EACH, "every event once");
        assert_eq!(
            s.recordings().expect("list").len() as u64,
            WRITERS * EACH / 10
        );
        let signer = crate::custody::checkpoint::NoteSigner::from_seed("test.example/bwv", [3; 32])
            .expect("key");
        let (checkpoint, _) =
            log::sign_checkpoint(&s, &signer, AuditScope::Full).expect("the log audits clean");
        assert_eq!(checkpoint.size, WRITERS * EACH);
        let proof = log::prove(&s, &signer.verifier(), 77, None).expect("proof");
        assert_eq!(proof.leaf_index, 77);
    }

    /// A server restart (here: every connection to the database ended by the server) costs
    /// no call: pooled connections are checked before use and replaced.
    #[test]
    fn connections_the_server_dropped_are_replaced_before_use() {
        let url = postgres_fresh("reconnect");
        let s = open(&url);
        let draft = || EventDraft::new(EventKind::Duplicate, None, "t");
        s.append(draft()).expect("append");
        let mut admin = Client::connect(&url, NoTls).expect("admin connection");
        let ended = admin
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
                &[],
            )
            .expect("end the store's connections");
        assert!(!ended.is_empty(), "the store had a pooled connection");
        s.append(draft()).expect("a new connection");
        assert_eq!(s.events(None).expect("events").len(), 2);
    }

    #[test]
    fn an_unreachable_server_is_a_clear_busy_error_without_the_password() {
        let e = PostgresStore::open(
            "postgres://bwv:s3cret@127.0.0.1:1/bwv?connect_timeout=2",
            "postgres://127.0.0.1:1/bwv",
            clock(),
        )
        .expect_err("nothing listens on port 1");
        let shown = e.to_string();
        assert_eq!(e.kind(), crate::ErrorKind::Busy, "{shown}");
        assert!(
            shown.contains("connect to postgres://127.0.0.1:1/bwv"),
            "{shown}"
        );
        assert!(!shown.contains("s3cret"), "{shown}");
    }
}
