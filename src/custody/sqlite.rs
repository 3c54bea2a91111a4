//! The embedded custody index: SQLite in WAL mode with `synchronous=FULL`, foreign keys on, and
//! triggers that refuse any UPDATE or DELETE of the event log.
//!
//! Every write is one transaction that takes the write lock when it begins (`BEGIN IMMEDIATE`),
//! so what it reads to decide stays true until it commits, and a concurrent writer waits rather
//! than failing with `SQLITE_BUSY_SNAPSHOT` halfway. The retention rules are also kept by the
//! database itself (migration 7): a flagged or held recording cannot be marked deleted, a deleted
//! one cannot be flagged or held, a mark cannot be placed twice, a closed SAR takes no new holds
//! or disclosures.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, Row, Transaction, TransactionBehavior, params};

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
use crate::error::{Error, Result, Stage};
use crate::merkle::Frontier;

/// Schema migrations, applied in order; `PRAGMA user_version` records how many have run.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE recordings (
    id                 TEXT PRIMARY KEY,
    master_sha256      TEXT NOT NULL UNIQUE,
    master_size        INTEGER NOT NULL,
    master_path        TEXT NOT NULL,
    source_name        TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('processing', 'ready', 'quarantined')),
    reason             TEXT,
    officer_id         TEXT,
    device_id          TEXT,
    recorded_at        TEXT NOT NULL,
    recorded_at_source TEXT NOT NULL,
    ingested_at        TEXT NOT NULL,
    extra              TEXT NOT NULL,
    media              TEXT
);
CREATE TABLE artefacts (
    recording_id  TEXT NOT NULL REFERENCES recordings(id),
    kind          TEXT NOT NULL,
    path          TEXT NOT NULL UNIQUE,
    sha256        TEXT NOT NULL,
    size          INTEGER NOT NULL,
    parent_sha256 TEXT NOT NULL,
    tool          TEXT NOT NULL,
    tool_version  TEXT NOT NULL,
    params        TEXT NOT NULL
);
CREATE INDEX artefacts_by_recording ON artefacts(recording_id);
CREATE TABLE events (
    seq          INTEGER PRIMARY KEY CHECK (seq >= 0),
    at           TEXT NOT NULL,
    kind         TEXT NOT NULL,
    recording_id TEXT,
    canonical    BLOB NOT NULL,
    leaf_hash    BLOB NOT NULL CHECK (length(leaf_hash) = 32)
);
CREATE INDEX events_by_recording ON events(recording_id);
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'the custody event log is append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'the custody event log is append-only'); END;
"#,
    r#"
CREATE TABLE log_head (
    id    INTEGER PRIMARY KEY CHECK (id = 0),
    size  INTEGER NOT NULL,
    peaks BLOB NOT NULL CHECK (length(peaks) % 32 = 0)
);
CREATE TABLE checkpoints (
    size      INTEGER PRIMARY KEY CHECK (size > 0),
    root      BLOB NOT NULL CHECK (length(root) = 32),
    note      TEXT NOT NULL,
    signed_at TEXT NOT NULL
);
CREATE TRIGGER checkpoints_no_update BEFORE UPDATE ON checkpoints
    BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints
    BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only'); END;
"#,
    r#"
ALTER TABLE recordings ADD COLUMN deletion TEXT;
CREATE TABLE marks (
    id             INTEGER PRIMARY KEY,
    recording_id   TEXT NOT NULL REFERENCES recordings(id),
    kind           TEXT NOT NULL CHECK (kind IN ('evidence', 'sar', 'complaint', 'misconduct', 'other')),
    reference      TEXT NOT NULL,
    reason         TEXT NOT NULL,
    placed_by      TEXT NOT NULL,
    placed_at      TEXT NOT NULL,
    released_at    TEXT,
    released_by    TEXT,
    release_reason TEXT
);
CREATE INDEX marks_by_recording ON marks(recording_id);
"#,
    r#"
CREATE TABLE sars (
    n             INTEGER PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
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
    id           INTEGER PRIMARY KEY,
    sar_id       TEXT NOT NULL REFERENCES sars(id),
    file_sha256  TEXT NOT NULL,
    file_size    INTEGER NOT NULL,
    file_name    TEXT NOT NULL,
    recipient    TEXT NOT NULL,
    disclosed_by TEXT NOT NULL,
    disclosed_at TEXT NOT NULL
);
"#,
    // 5: dock files that could not be read at all. Their paths (which may name people) live
    // here, beside the log; the `unreadable` event holds only the path's SHA-256.
    r#"
CREATE TABLE unreadable_sources (
    seq    INTEGER PRIMARY KEY REFERENCES events(seq),
    source TEXT NOT NULL
);
"#,
    // 6: why a file that is not a redacted copy of the request's footage was disclosed anyway
    // (the event holds the reason's SHA-256).
    r#"
ALTER TABLE disclosures ADD COLUMN unredacted_reason TEXT;
"#,
    // 7: the retention rules, enforced by the database whatever the caller checked before.
    r#"
CREATE UNIQUE INDEX marks_one_active ON marks(recording_id, kind, reference)
    WHERE released_at IS NULL;
CREATE TRIGGER marks_not_on_deleted BEFORE INSERT ON marks
    WHEN (SELECT deletion FROM recordings WHERE id = NEW.recording_id) IS NOT NULL
    BEGIN SELECT RAISE(ABORT, 'the recording was deleted: it cannot be flagged or held'); END;
CREATE TRIGGER marks_not_for_closed_sar BEFORE INSERT ON marks
    WHEN NEW.kind = 'sar' AND EXISTS
        (SELECT 1 FROM sars WHERE id = NEW.reference AND closed_at IS NOT NULL)
    BEGIN SELECT RAISE(ABORT, 'the SAR is closed: it holds no more footage'); END;
CREATE TRIGGER recordings_keep_marked BEFORE UPDATE OF deletion ON recordings
    WHEN NEW.deletion IS NOT NULL AND EXISTS
        (SELECT 1 FROM marks WHERE recording_id = NEW.id AND released_at IS NULL)
    BEGIN SELECT RAISE(ABORT, 'a flagged or held recording is never deleted'); END;
CREATE TRIGGER recordings_deletion_final BEFORE UPDATE OF deletion ON recordings
    WHEN OLD.deletion IS NOT NULL
    BEGIN SELECT RAISE(ABORT, 'a deletion is final'); END;
CREATE TRIGGER disclosures_under_open_sar BEFORE INSERT ON disclosures
    WHEN NOT EXISTS (SELECT 1 FROM sars WHERE id = NEW.sar_id AND closed_at IS NULL)
    BEGIN SELECT RAISE(ABORT, 'disclosures are recorded under an open SAR'); END;
"#,
    // 8: each checkpoint keeps the tree's frontier at its size, so signing the next one audits
    // only the events since.
    r#"
ALTER TABLE checkpoints ADD COLUMN peaks BLOB CHECK (peaks IS NULL OR length(peaks) % 32 = 0);
"#,
    // 9: roots of the log's perfect subtrees of 256 leaves and more, so proofs read O(log n)
    // hashes. Derived from the events (filled in at open for an older log) and never trusted
    // alone: every proof built from them is verified against its signed checkpoint.
    r#"
CREATE TABLE tree_nodes (
    level INTEGER NOT NULL,
    idx   INTEGER NOT NULL,
    hash  BLOB NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;
"#,
    // 10: redacted copies superseded by a later render (who, when, why; the event holds the
    // reason's hash).
    r#"
CREATE TABLE superseded (
    path         TEXT PRIMARY KEY REFERENCES artefacts(path),
    recording_id TEXT NOT NULL REFERENCES recordings(id),
    by           TEXT NOT NULL,
    at           TEXT NOT NULL,
    reason       TEXT NOT NULL
);
"#,
    // 11: the legal basis a disclosure was made under (the event holds its SHA-256).
    r#"
ALTER TABLE disclosures ADD COLUMN basis TEXT;
"#,
    // 12: the people the log names by the SHA-256 of their name, and why a dock file could not
    // be read (the log holds hashes of both).
    r#"
CREATE TABLE actors (
    logged TEXT PRIMARY KEY,
    name   TEXT NOT NULL
) WITHOUT ROWID;
ALTER TABLE unreadable_sources ADD COLUMN reason TEXT;
"#,
    // 13: the latest event of a kind (the retention policy is the latest `policy_changed`).
    r#"
CREATE INDEX events_by_kind ON events(kind, seq);
"#,
];

/// Why a write transaction did not commit: the database failed, or a rule checked inside the
/// transaction refused the change.
enum TxFail {
    Db(rusqlite::Error),
    Refused(Error),
}

impl From<rusqlite::Error> for TxFail {
    fn from(e: rusqlite::Error) -> Self {
        TxFail::Db(e)
    }
}

type TxResult<T> = std::result::Result<T, TxFail>;

/// SQLite-backed [`Store`]: one writer connection, behind a mutex (SQLite has one writer at a
/// time anyway), and a pool of read-only connections, which under WAL read while it writes.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    path: std::path::PathBuf,
    clock: Arc<dyn Clock>,
}

/// Read-only connections kept for reuse; more are opened while all are busy.
const IDLE_READERS: usize = 4;

/// A pooled read-only connection, returned to the pool when dropped.
struct Reader<'s> {
    conn: Option<Connection>,
    store: &'s SqliteStore,
}

impl std::ops::Deref for Reader<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn.as_ref().expect("held until dropped")
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            let mut idle = self.store.readers.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < IDLE_READERS {
                idle.push(conn);
            }
        }
    }
}

impl SqliteStore {
    /// Opens (creating and migrating if needed) the index at `path`.
    pub fn open(path: &Path, clock: Arc<dyn Clock>) -> Result<Self> {
        let ctx = || format!("open {}", path.display());
        // Switching a new database to WAL needs it to itself and fails at once, without waiting,
        // when another process does the same: processes starting together on a new store take
        // turns through this lock (held only while opening).
        let mut lock_path = path.as_os_str().to_owned();
        lock_path.push(".setup-lock");
        let lock_path = std::path::PathBuf::from(lock_path);
        let setup = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(Error::io(&lock_path, Stage::Index, "open"))?;
        setup
            .lock()
            .map_err(Error::io(&lock_path, Stage::Index, "lock"))?;
        let mut conn = Connection::open(path).map_err(Error::index(ctx()))?;
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(Error::index(ctx()))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(Error::index(ctx()))?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(Error::index(ctx()))?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(Error::index(ctx()))?;
        migrate(&mut conn).map_err(Error::index(format!("migrate {}", path.display())))?;
        init_head(&mut conn).map_err(Error::index(format!("log head {}", path.display())))?;
        fill_nodes(&mut conn).map_err(Error::index(format!("tree nodes {}", path.display())))?;
        Ok(Self {
            conn: Mutex::new(conn),
            readers: Mutex::new(Vec::new()),
            path: path.to_owned(),
            clock,
        })
    }

    /// A read-only connection from the pool (or a new one).
    fn read(&self) -> Result<Reader<'_>> {
        let idle = self.readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => {
                let ctx = || format!("open {} to read", self.path.display());
                let conn = Connection::open_with_flags(
                    &self.path,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                        | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX
                        | rusqlite::OpenFlags::SQLITE_OPEN_URI,
                )
                .map_err(Error::index(ctx()))?;
                conn.busy_timeout(std::time::Duration::from_secs(30))
                    .map_err(Error::index(ctx()))?;
                conn
            }
        };
        Ok(Reader {
            conn: Some(conn),
            store: self,
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a half-applied transaction (it rolls back on
        // drop), so a poisoned lock is still safe to use.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends an event in the caller's transaction (see [`super::append_in`]).
    fn append_in(&self, tx: &Transaction<'_>, draft: EventDraft) -> TxResult<Event> {
        super::append_in(&SqliteLog(tx), draft, clock::canonical(self.clock.now()))
            .map_err(TxFail::Refused)
    }

    /// Runs `f` in a write transaction that holds the write lock from its start, committing
    /// only if it succeeds (a refusal or failure rolls everything back).
    fn with_tx<T>(
        &self,
        context: &str,
        f: impl FnOnce(&Transaction<'_>) -> TxResult<T>,
    ) -> Result<T> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(Error::index(context))?;
        match f(&tx) {
            Ok(out) => {
                tx.commit().map_err(Error::index(context))?;
                Ok(out)
            }
            Err(TxFail::Db(e)) => Err(Error::index(context)(e)),
            Err(TxFail::Refused(e)) => Err(e),
        }
    }
}

/// Applies the migrations not yet run. Each runs in a write transaction that re-reads the
/// schema version once it holds the lock, so processes opening a new store at the same moment
/// apply each migration once between them.
fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let done: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if done >= MIGRATIONS.len() as i64 {
        return Ok(());
    }
    for (i, sql) in MIGRATIONS.iter().enumerate() {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let done: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if done > i as i64 {
            continue;
        }
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

/// Creates the tree head from the events when it is missing (a store made before it existed).
fn init_head(conn: &mut Connection) -> rusqlite::Result<()> {
    let has_head = |c: &Connection| -> rusqlite::Result<bool> {
        c.query_row("SELECT EXISTS (SELECT 1 FROM log_head)", [], |r| r.get(0))
    };
    // Every open checks; only a store without a head takes the write lock (and checks again).
    if has_head(conn)? {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if !has_head(&tx)? {
        let mut head = Frontier::new();
        {
            let mut stmt = tx.prepare("SELECT leaf_hash FROM events ORDER BY seq")?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                head.push_leaf_hash(blob_digest(row, 0)?);
            }
        }
        write_head(&tx, &head)?;
    }
    tx.commit()
}

fn read_head(conn: &Connection) -> rusqlite::Result<Frontier> {
    let (size, peaks): (i64, Vec<u8>) =
        conn.query_row("SELECT size, peaks FROM log_head WHERE id = 0", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let peaks = digests(&peaks);
    let size = u64::try_from(size).map_err(|_| conversion_error(0, "negative tree size"))?;
    Frontier::from_peaks(size, peaks)
        .ok_or_else(|| conversion_error(1, "tree head peaks do not fit its size"))
}

fn write_head(conn: &Connection, head: &Frontier) -> rusqlite::Result<()> {
    let peaks = packed(head.peaks());
    conn.execute(
        "INSERT INTO log_head (id, size, peaks) VALUES (0, ?1, ?2) \
         ON CONFLICT (id) DO UPDATE SET size = excluded.size, peaks = excluded.peaks",
        params![sql_int(head.size()), peaks],
    )?;
    Ok(())
}

/// Records one artefact. Files are content-named, so a path already recorded holds the same
/// bytes and is left as it is.
fn insert_artefact(tx: &Transaction<'_>, id: &str, a: &Artefact) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO artefacts (recording_id, kind, path, sha256, size, parent_sha256, tool, tool_version, params) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (path) DO NOTHING",
    )?
    .execute(params![
        id,
        a.kind.as_str(),
        a.path,
        a.sha256.to_hex(),
        sql_int(a.size),
        a.parent_sha256.to_hex(),
        a.tool,
        a.tool_version,
        a.params.to_string(),
    ])?;
    Ok(())
}

fn blob_digest(row: &Row<'_>, col: usize) -> rusqlite::Result<Digest> {
    let bytes: Vec<u8> = row.get(col)?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map(Digest)
        .map_err(|_| conversion_error(col, "hash is not 32 bytes"))
}

fn conversion_error(col: usize, what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        col,
        rusqlite::types::Type::Text,
        what.to_owned().into(),
    )
}

fn json_col<T: serde::de::DeserializeOwned>(row: &Row<'_>, col: usize) -> rusqlite::Result<T> {
    let text: String = row.get(col)?;
    serde_json::from_str(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(col, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// An event from its canonical bytes in column `col`.
fn event_col(row: &Row<'_>, col: usize) -> rusqlite::Result<Event> {
    let bytes: Vec<u8> = row.get(col)?;
    serde_json::from_slice(&bytes).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(col, rusqlite::types::Type::Blob, Box::new(e))
    })
}

fn digest_col(row: &Row<'_>, col: usize) -> rusqlite::Result<Digest> {
    let text: String = row.get(col)?;
    Digest::from_hex(&text).ok_or_else(|| conversion_error(col, "not a SHA-256 hex digest"))
}

fn recording_from_row(row: &Row<'_>) -> rusqlite::Result<Recording> {
    let status: String = row.get(5)?;
    let source: String = row.get(10)?;
    let media: Option<String> = row.get(13)?;
    let deletion: Option<String> = row.get(14)?;
    Ok(Recording {
        id: row.get(0)?,
        master_sha256: digest_col(row, 1)?,
        master_size: u64_col(row, 2)?,
        master_path: row.get(3)?,
        source_name: row.get(4)?,
        status: Status::parse(&status).ok_or_else(|| conversion_error(5, "unknown status"))?,
        reason: row.get(6)?,
        officer_id: row.get(7)?,
        device_id: row.get(8)?,
        recorded_at: row.get(9)?,
        recorded_at_source: time_source(&source)
            .ok_or_else(|| conversion_error(10, "unknown time source"))?,
        ingested_at: row.get(11)?,
        extra: json_col(row, 12)?,
        media: media
            .map(|m| serde_json::from_str(&m))
            .transpose()
            .map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(
                    13,
                    rusqlite::types::Type::Text,
                    Box::new(e),
                )
            })?,
        deletion: deletion
            .map(|d| serde_json::from_str(&d))
            .transpose()
            .map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(
                    14,
                    rusqlite::types::Type::Text,
                    Box::new(e),
                )
            })?,
    })
}

/// The marks selected by `filter` (an SQL `WHERE` clause) with its parameters, oldest first,
/// at most `limit` of them (an SQL expression, often a parameter) when given.
fn query_marks(
    conn: &Connection,
    filter: &str,
    limit: Option<&str>,
    params: &[&dyn rusqlite::ToSql],
) -> rusqlite::Result<Vec<Mark>> {
    let limit = limit.map(|n| format!(" LIMIT {n}")).unwrap_or_default();
    let mut stmt = conn.prepare(&format!(
        "SELECT {MARK_COLUMNS} FROM marks {filter} ORDER BY id{limit}"
    ))?;
    stmt.query_map(params, |row| {
        let kind: String = row.get(2)?;
        Ok(Mark {
            id: u64_col(row, 0)?,
            recording: row.get(1)?,
            kind: MarkKind::parse(&kind).ok_or_else(|| conversion_error(2, "unknown mark kind"))?,
            reference: row.get(3)?,
            reason: row.get(4)?,
            placed_by: row.get(5)?,
            placed_at: row.get(6)?,
            released_at: row.get(7)?,
            released_by: row.get(8)?,
            release_reason: row.get(9)?,
        })
    })?
    .collect()
}

/// A non-negative integer column (a negative one, which only an edited index holds, is an
/// error rather than a huge number).
fn u64_col(row: &Row<'_>, col: usize) -> rusqlite::Result<u64> {
    u64::try_from(row.get::<_, i64>(col)?)
        .map_err(|_| conversion_error(col, "a count or size is negative"))
}

fn sar_from_row(row: &Row<'_>) -> rusqlite::Result<Sar> {
    let date = |col: usize| -> rusqlite::Result<jiff::civil::Date> {
        let text: String = row.get(col)?;
        text.parse()
            .map_err(|_| conversion_error(col, "not a date"))
    };
    Ok(Sar {
        id: row.get(0)?,
        requester: row.get(1)?,
        received: date(2)?,
        deadline: date(3)?,
        incident_time: row.get(4)?,
        location: row.get(5)?,
        opened_by: row.get(6)?,
        opened_at: row.get(7)?,
        closed_at: row.get(8)?,
    })
}

/// The append steps on an SQLite write transaction.
struct SqliteLog<'t>(&'t Transaction<'t>);

impl super::LogTx for SqliteLog<'_> {
    fn head(&self) -> Result<Frontier> {
        read_head(self.0).map_err(Error::index("read the log's tree head"))
    }

    fn name_actor(&self, logged: &str, name: &str) -> Result<()> {
        self.0
            .prepare_cached(
                "INSERT INTO actors (logged, name) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            )
            .and_then(|mut insert| insert.execute(params![logged, name]))
            .map(|_| ())
            .map_err(Error::index("keep an actor's name"))
    }

    fn insert_event(&self, event: &Event, leaf: &Digest) -> Result<()> {
        self.0
            .prepare_cached(
                "INSERT INTO events (seq, at, kind, recording_id, canonical, leaf_hash) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut insert| {
                insert.execute(params![
                    sql_int(event.seq),
                    event.at,
                    event.kind.as_str(),
                    event.recording,
                    event.canonical_bytes(),
                    &leaf.0[..]
                ])
            })
            .map(|_| ())
            .map_err(Error::index(format!("append event {}", event.seq)))
    }

    fn set_head(&self, head: &Frontier) -> Result<()> {
        write_head(self.0, head).map_err(Error::index("write the log's tree head"))
    }

    fn insert_node(&self, level: u32, index: u64, root: &Digest) -> Result<()> {
        insert_node(self.0, level, index, root)
            .map_err(Error::index(format!("store tree node {level}/{index}")))
    }
}

fn insert_node(conn: &Connection, level: u32, index: u64, root: &Digest) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO tree_nodes (level, idx, hash) VALUES (?1, ?2, ?3) \
         ON CONFLICT (level, idx) DO UPDATE SET hash = excluded.hash",
    )?
    .execute(params![level, sql_int(index), &root.0[..]])?;
    Ok(())
}

/// How many perfect-subtree roots a log of `size` leaves keeps.
fn nodes_kept(size: u64) -> u64 {
    (super::STORED_NODE_LEVEL..64)
        .map(|level| size >> level)
        .sum()
}

/// Stores the perfect-subtree roots of a log that has fewer than it should (one made before
/// they were kept, or loaded in bulk), from its leaf hashes.
fn fill_nodes(conn: &mut Connection) -> rusqlite::Result<()> {
    let complete = |c: &Connection| -> rusqlite::Result<bool> {
        let size = read_head(c)?.size();
        let kept: i64 = c.query_row("SELECT COUNT(*) FROM tree_nodes", [], |r| r.get(0))?;
        Ok(u64::try_from(kept).ok() == Some(nodes_kept(size)))
    };
    // Every open checks; only a log missing roots takes the write lock (and checks again).
    if complete(conn)? {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if complete(&tx)? {
        return Ok(());
    }
    let size = read_head(&tx)?.size();
    let mut tree = Frontier::new();
    let mut completed = Vec::new();
    {
        let mut stmt = tx.prepare("SELECT leaf_hash FROM events WHERE seq < ?1 ORDER BY seq")?;
        let mut rows = stmt.query([sql_int(size)])?;
        while let Some(row) = rows.next()? {
            tree.push_leaf_hash_with(blob_digest(row, 0)?, &mut |level, index, root| {
                if level >= super::STORED_NODE_LEVEL {
                    completed.push((level, index, root));
                }
            });
            for (level, index, root) in completed.drain(..) {
                insert_node(&tx, level, index, &root)?;
            }
        }
    }
    tx.commit()
}

/// The log read through one connection (or one transaction of it).
struct View<'c>(&'c Connection);

impl View<'_> {
    fn query_checkpoints(&self, order_limit: &str) -> Result<Vec<StoredCheckpoint>> {
        let run = || -> rusqlite::Result<Vec<StoredCheckpoint>> {
            let mut stmt = self.0.prepare(&format!(
                "SELECT size, root, note, signed_at, peaks FROM checkpoints {order_limit}"
            ))?;
            stmt.query_map([], |row| {
                let peaks: Option<Vec<u8>> = row.get(4)?;
                Ok(StoredCheckpoint {
                    size: u64_col(row, 0)?,
                    root: blob_digest(row, 1)?,
                    note: row.get(2)?,
                    signed_at: row.get(3)?,
                    peaks: peaks.map(|p| digests(&p)),
                })
            })?
            .collect()
        };
        run().map_err(Error::index("read checkpoints"))
    }
}

impl LogView for View<'_> {
    fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>> {
        self.query_checkpoints("ORDER BY size")
    }

    fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>> {
        Ok(self.query_checkpoints("ORDER BY size DESC LIMIT 1")?.pop())
    }

    fn head(&self) -> Result<Frontier> {
        read_head(self.0).map_err(Error::index("read the log's tree head"))
    }

    fn leaves(&self, range: Range<u64>) -> Result<Vec<Digest>> {
        let run = || -> rusqlite::Result<Vec<Digest>> {
            let mut stmt = self.0.prepare_cached(
                "SELECT leaf_hash FROM events WHERE seq >= ?1 AND seq < ?2 ORDER BY seq",
            )?;
            stmt.query_map([sql_int(range.start), sql_int(range.end)], |row| {
                blob_digest(row, 0)
            })?
            .collect()
        };
        run().map_err(Error::index("read leaf hashes"))
    }

    fn node(&self, level: u32, index: u64) -> Result<Option<Digest>> {
        self.0
            .prepare_cached("SELECT hash FROM tree_nodes WHERE level = ?1 AND idx = ?2")
            .and_then(|mut stmt| {
                stmt.query_row(params![level, sql_int(index)], |row| blob_digest(row, 0))
                    .optional()
            })
            .map_err(Error::index(format!("read tree node {level}/{index}")))
    }

    fn rows(&self, range: Range<u64>, visit: &mut dyn FnMut(LogRow) -> Result<()>) -> Result<()> {
        let mut stmt = self
            .0
            .prepare(
                "SELECT seq, at, kind, recording_id, canonical, leaf_hash FROM events \
                 WHERE seq >= ?1 AND seq < ?2 ORDER BY seq",
            )
            .map_err(Error::index("read the log"))?;
        let mut rows = stmt
            .query([sql_int(range.start), sql_int(range.end)])
            .map_err(Error::index("read the log"))?;
        while let Some(row) = rows.next().map_err(Error::index("read the log"))? {
            let read = || -> rusqlite::Result<LogRow> {
                Ok(LogRow {
                    seq: u64_col(row, 0)?,
                    at: row.get(1)?,
                    kind: row.get(2)?,
                    recording: row.get(3)?,
                    canonical: row.get(4)?,
                    leaf_hash: row.get(5)?,
                })
            };
            visit(read().map_err(Error::index("read the log"))?)?;
        }
        Ok(())
    }
}

impl Store for SqliteStore {
    fn recording_by_master(&self, sha: &Digest) -> Result<Option<Recording>> {
        let conn = self.read()?;
        conn.query_row(
            &format!("SELECT {RECORDING_COLUMNS} FROM recordings WHERE master_sha256 = ?1"),
            [sha.to_hex()],
            recording_from_row,
        )
        .optional()
        .map_err(Error::index(format!("look up master {sha}")))
    }

    fn create_recording(&self, rec: &Recording, event: EventDraft) -> Result<Event> {
        self.with_tx(&format!("create recording {}", rec.id), |tx| {
            tx.execute(
                &format!("INSERT INTO recordings ({RECORDING_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, NULL, NULL)"),
                params![
                    rec.id,
                    rec.master_sha256.to_hex(),
                    sql_int(rec.master_size),
                    rec.master_path,
                    rec.source_name,
                    rec.status.as_str(),
                    rec.reason,
                    rec.officer_id,
                    rec.device_id,
                    rec.recorded_at,
                    time_source_name(rec.recorded_at_source),
                    rec.ingested_at,
                    rec.extra.to_string(),
                ],
            )?;
            self.append_in(tx, event)
        })
    }

    fn finish_recording(&self, id: &str, outcome: &Outcome, event: EventDraft) -> Result<Event> {
        self.with_tx(&format!("finish recording {id}"), |tx| {
            // A resumed ingest replaces what an interrupted one may have recorded.
            tx.execute("DELETE FROM artefacts WHERE recording_id = ?1", [id])?;
            match outcome {
                Outcome::Ready { media, artefacts } => {
                    let media = serde_json::to_string(media).expect("media info serialises");
                    tx.execute(
                        "UPDATE recordings SET status = 'ready', reason = NULL, media = ?2 WHERE id = ?1",
                        params![id, media],
                    )?;
                    for a in artefacts {
                        insert_artefact(tx, id, a)?;
                    }
                }
                Outcome::Quarantined { reason } => {
                    tx.execute(
                        "UPDATE recordings SET status = 'quarantined', reason = ?2, media = NULL WHERE id = ?1",
                        params![id, reason],
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
        let conn = self.read()?;
        let run = || -> rusqlite::Result<Vec<Recording>> {
            let mut stmt = conn.prepare(&format!(
                "SELECT {RECORDING_COLUMNS} FROM recordings ORDER BY ingested_at, id"
            ))?;
            stmt.query_map([], recording_from_row)?.collect()
        };
        run().map_err(Error::index("list recordings"))
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
             (?1 IS NULL OR officer_id = ?1) AND (?2 IS NULL OR device_id = ?2) \
             AND (?3 IS NULL OR recorded_at >= ?3) AND (?4 IS NULL OR recorded_at < ?4) \
             AND (?5 IS NULL OR EXISTS ({active_flag} AND m.reference = ?5)) \
             AND (?6 IS NULL OR ?6 = EXISTS ({active_flag})) \
             AND (?7 IS NULL OR ?7 = (deletion IS NOT NULL)) \
             AND (?8 IS NULL OR (ingested_at, id) > (?8, ?9)) \
             ORDER BY ingested_at, id LIMIT ?10"
        );
        let conn = self.read()?;
        let run = || -> rusqlite::Result<Vec<Recording>> {
            let mut stmt = conn.prepare(&sql)?;
            stmt.query_map(
                params![
                    query.officer,
                    query.device,
                    from,
                    to,
                    query.case,
                    query.flagged,
                    query.deleted,
                    after_at,
                    after_id,
                    i64::from(limit) + 1
                ],
                recording_from_row,
            )?
            .collect()
        };
        let found = run().map_err(Error::index("search recordings"))?;
        Ok(paged(found, limit, recording_cursor_of))
    }

    fn events_page(&self, recording: Option<&str>, page: &PageRequest) -> Result<Page<Event>> {
        let (after, limit) = (int_cursor(page)?, page.effective_limit());
        let conn = self.read()?;
        let run = || -> rusqlite::Result<Vec<Event>> {
            let mut stmt = conn.prepare(
                "SELECT canonical FROM events WHERE (?1 IS NULL OR recording_id = ?1) \
                 AND seq > ?2 ORDER BY seq LIMIT ?3",
            )?;
            stmt.query_map(params![recording, after, i64::from(limit) + 1], |row| {
                event_col(row, 0)
            })?
            .collect()
        };
        let found = run().map_err(Error::index("read events"))?;
        Ok(paged(found, limit, |e| e.seq.to_string()))
    }

    fn marks_page(&self, recording: Option<&str>, page: &PageRequest) -> Result<Page<Mark>> {
        let (after, limit) = (int_cursor(page)?, page.effective_limit());
        let found = query_marks(
            &*self.read()?,
            "WHERE (?1 IS NULL OR recording_id = ?1) AND id > ?2",
            Some("?3"),
            &[&recording, &after, &(i64::from(limit) + 1)],
        )
        .map_err(Error::index("read marks"))?;
        Ok(paged(found, limit, |m| m.id.to_string()))
    }

    fn sars_page(&self, page: &PageRequest) -> Result<Page<Sar>> {
        let (after, limit) = (int_cursor(page)?, page.effective_limit());
        let conn = self.read()?;
        let run = || -> rusqlite::Result<Vec<(i64, Sar)>> {
            let mut stmt = conn.prepare(&format!(
                "SELECT {SAR_COLUMNS} FROM sars WHERE n > ?1 ORDER BY n LIMIT ?2"
            ))?;
            stmt.query_map(params![after, i64::from(limit) + 1], |row| {
                Ok((row.get(9)?, sar_from_row(row)?))
            })?
            .collect()
        };
        let found = run().map_err(Error::index("read SARs"))?;
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
        let conn = self.read()?;
        let run = || -> rusqlite::Result<Vec<Recording>> {
            let mut stmt = conn.prepare(&format!(
                "SELECT {RECORDING_COLUMNS} FROM recordings WHERE id LIKE ?1 || '%' OR master_sha256 = ?2 LIMIT 2"
            ))?;
            stmt.query_map(
                params![
                    reference.to_ascii_lowercase(),
                    reference.to_ascii_lowercase()
                ],
                recording_from_row,
            )?
            .collect()
        };
        let found = run().map_err(Error::index(format!("resolve {reference}")))?;
        resolved(reference, found)
    }

    fn artefacts(&self, id: &str) -> Result<Vec<Artefact>> {
        let conn = self.read()?;
        let run = || -> rusqlite::Result<Vec<Artefact>> {
            let mut stmt = conn.prepare(
                "SELECT kind, path, sha256, size, parent_sha256, tool, tool_version, params FROM artefacts \
                 WHERE recording_id = ?1 ORDER BY rowid",
            )?;
            stmt.query_map([id], |row| {
                let kind: String = row.get(0)?;
                Ok(Artefact {
                    kind: ArtefactKind::parse(&kind)
                        .ok_or_else(|| conversion_error(0, "unknown artefact kind"))?,
                    path: row.get(1)?,
                    sha256: digest_col(row, 2)?,
                    size: u64_col(row, 3)?,
                    parent_sha256: digest_col(row, 4)?,
                    tool: row.get(5)?,
                    tool_version: row.get(6)?,
                    params: json_col(row, 7)?,
                })
            })?
            .collect()
        };
        run().map_err(Error::index(format!("artefacts of {id}")))
    }

    fn events(&self, recording: Option<&str>) -> Result<Vec<Event>> {
        let conn = self.read()?;
        let run = || -> rusqlite::Result<Vec<Event>> {
            let mut stmt = conn.prepare(
                "SELECT canonical FROM events WHERE ?1 IS NULL OR recording_id = ?1 ORDER BY seq",
            )?;
            stmt.query_map([recording], |row| event_col(row, 0))?
                .collect()
        };
        run().map_err(Error::index("read events"))
    }

    fn log_head(&self) -> Result<Frontier> {
        View(&*self.read()?).head()
    }

    fn log_rows(
        &self,
        range: Range<u64>,
        visit: &mut dyn FnMut(LogRow) -> Result<()>,
    ) -> Result<()> {
        View(&*self.read()?).rows(range, visit)
    }

    fn read_log(&self, read: &mut dyn FnMut(&dyn LogView) -> Result<()>) -> Result<()> {
        let conn = self.read()?;
        // A deferred transaction that only reads: under WAL its snapshot stays fixed from its
        // first read to its end, whatever other connections commit.
        let tx = conn
            .unchecked_transaction()
            .map_err(Error::index("read the log"))?;
        read(&View(&tx))
    }

    fn add_mark(&self, mark: &Mark, event: EventDraft) -> Result<(Mark, Event)> {
        let placed_at = clock::canonical(self.clock.now());
        self.with_tx(&format!("mark {}", mark.recording), |tx| {
            let deletion: Option<Option<String>> = tx
                .query_row(
                    "SELECT deletion FROM recordings WHERE id = ?1",
                    [&mark.recording],
                    |r| r.get(0),
                )
                .optional()?;
            match deletion {
                None => {
                    return Err(TxFail::Refused(Error::UnknownRecording(
                        mark.recording.clone(),
                    )));
                }
                Some(Some(d)) => {
                    let d: Deletion = serde_json::from_str(&d).map_err(|e| {
                        TxFail::Db(rusqlite::Error::FromSqlConversionFailure(
                            0,
                            rusqlite::types::Type::Text,
                            Box::new(e),
                        ))
                    })?;
                    return Err(TxFail::Refused(refuse::deleted(&mark.recording, &d)));
                }
                Some(None) => {}
            }
            let placed: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM marks WHERE recording_id = ?1 AND kind = ?2 \
                 AND reference = ?3 AND released_at IS NULL)",
                params![mark.recording, mark.kind.as_str(), mark.reference],
                |r| r.get(0),
            )?;
            if placed {
                return Err(TxFail::Refused(refuse::already_marked(mark)));
            }
            if mark.kind == MarkKind::Sar {
                let closed: bool = tx.query_row(
                    "SELECT EXISTS (SELECT 1 FROM sars WHERE id = ?1 AND closed_at IS NOT NULL)",
                    [&mark.reference],
                    |r| r.get(0),
                )?;
                if closed {
                    return Err(TxFail::Refused(refuse::sar_closed(&mark.reference)));
                }
            }
            tx.execute(
                "INSERT INTO marks (recording_id, kind, reference, reason, placed_by, placed_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    mark.recording,
                    mark.kind.as_str(),
                    mark.reference,
                    mark.reason,
                    mark.placed_by,
                    placed_at
                ],
            )?;
            let id = u64::try_from(tx.last_insert_rowid())
                .map_err(|_| conversion_error(0, "negative mark id"))?;
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
        let at = clock::canonical(self.clock.now());
        self.with_tx("release marks", |tx| {
            for id in ids {
                // A mark already released (or never placed) refuses the whole release.
                let n = tx.execute(
                    "UPDATE marks SET released_at = ?2, released_by = ?3, release_reason = ?4 \
                     WHERE id = ?1 AND released_at IS NULL",
                    params![sql_int(*id), at, by, reason],
                )?;
                if n != 1 {
                    return Err(TxFail::Refused(refuse::mark_not_active(*id)));
                }
            }
            self.append_in(tx, event)
        })
    }

    fn marks(&self, recording: Option<&str>) -> Result<Vec<Mark>> {
        query_marks(
            &*self.read()?,
            "WHERE ?1 IS NULL OR recording_id = ?1",
            None,
            &[&recording],
        )
        .map_err(Error::index("read marks"))
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
        let at = clock::canonical(self.clock.now());
        self.with_tx(&format!("supersede {path}"), |tx| {
            let redacted: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM artefacts WHERE recording_id = ?1 AND path = ?2 \
                 AND kind = 'redacted')",
                params![id, path],
                |r| r.get(0),
            )?;
            if !redacted {
                return Err(TxFail::Refused(refuse::no_redacted_copy(id, path)));
            }
            let n = tx.execute(
                "INSERT INTO superseded (path, recording_id, by, at, reason) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (path) DO NOTHING",
                params![path, id, by, at, reason],
            )?;
            if n != 1 {
                return Err(TxFail::Refused(refuse::superseded_already(path)));
            }
            self.append_in(tx, event)
        })
    }

    fn superseded(&self, id: &str) -> Result<Vec<String>> {
        let conn = self.read()?;
        let run = || -> rusqlite::Result<Vec<String>> {
            let mut stmt =
                conn.prepare("SELECT path FROM superseded WHERE recording_id = ?1 ORDER BY path")?;
            stmt.query_map([id], |row| row.get(0))?.collect()
        };
        run().map_err(Error::index(format!("superseded copies of {id}")))
    }

    fn open_sar(&self, sar: &Sar, event: EventDraft) -> Result<(Sar, Event)> {
        let opened_at = clock::canonical(self.clock.now());
        self.with_tx("open SAR", |tx| {
            let n: i64 = tx.query_row("SELECT COALESCE(MAX(n), 0) + 1 FROM sars", [], |r| r.get(0))?;
            let id = format!("SAR-{n}");
            tx.execute(
                "INSERT INTO sars (n, id, requester, received, deadline, incident_time, location, opened_by, opened_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    n,
                    id,
                    sar.requester,
                    sar.received.to_string(),
                    sar.deadline.to_string(),
                    sar.incident_time,
                    sar.location,
                    sar.opened_by,
                    opened_at
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
        let conn = self.read()?;
        let run = || -> rusqlite::Result<Vec<Sar>> {
            let mut stmt = conn.prepare(&format!("SELECT {SAR_COLUMNS} FROM sars ORDER BY n"))?;
            stmt.query_map([], sar_from_row)?.collect()
        };
        run().map_err(Error::index("read SARs"))
    }

    fn close_sar(
        &self,
        id: &str,
        by: &str,
        events: &dyn Fn(&[Mark]) -> Vec<EventDraft>,
    ) -> Result<(Vec<Mark>, Vec<Event>)> {
        let at = clock::canonical(self.clock.now());
        self.with_tx(&format!("close {id}"), |tx| {
            let n = tx.execute(
                "UPDATE sars SET closed_at = ?2, closed_by = ?3 WHERE id = ?1 AND closed_at IS NULL",
                params![id, at, by],
            )?;
            if n != 1 {
                return Err(TxFail::Refused(refuse::not_open_sar(id)));
            }
            // The holds are read under the write lock: one linked a moment ago is released too.
            let holds = query_marks(
                tx,
                "WHERE kind = 'sar' AND reference = ?1 AND released_at IS NULL",
                None,
                &[&id],
            )?;
            tx.execute(
                "UPDATE marks SET released_at = ?2, released_by = ?3, release_reason = ?4 \
                 WHERE kind = 'sar' AND reference = ?1 AND released_at IS NULL",
                params![id, at, by, format!("{id} closed")],
            )?;
            let appended = events(&holds)
                .into_iter()
                .map(|e| self.append_in(tx, e))
                .collect::<TxResult<Vec<_>>>()?;
            Ok((holds, appended))
        })
    }

    fn add_disclosure(&self, d: &Disclosure, event: EventDraft) -> Result<Event> {
        let at = clock::canonical(self.clock.now());
        self.with_tx(&format!("disclose under {}", d.sar), |tx| {
            let open: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM sars WHERE id = ?1 AND closed_at IS NULL)",
                [&d.sar],
                |r| r.get(0),
            )?;
            if !open {
                return Err(TxFail::Refused(refuse::not_open_sar(&d.sar)));
            }
            tx.execute(
                "INSERT INTO disclosures (sar_id, file_sha256, file_size, file_name, recipient, disclosed_by, disclosed_at, unredacted_reason, basis) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![d.sar, d.file_sha256.to_hex(), sql_int(d.file_size), d.file_name, d.recipient, d.disclosed_by, at, d.unredacted_reason, d.basis],
            )?;
            self.append_in(tx, event)
        })
    }

    fn disclosures(&self, sar: Option<&str>) -> Result<Vec<Disclosure>> {
        let conn = self.read()?;
        let run = || -> rusqlite::Result<Vec<Disclosure>> {
            let mut stmt = conn.prepare(
                "SELECT sar_id, file_sha256, file_size, file_name, recipient, disclosed_by, disclosed_at, unredacted_reason, basis \
                 FROM disclosures WHERE ?1 IS NULL OR sar_id = ?1 ORDER BY id",
            )?;
            stmt.query_map([sar], |row| {
                Ok(Disclosure {
                    sar: row.get(0)?,
                    file_sha256: digest_col(row, 1)?,
                    file_size: u64_col(row, 2)?,
                    file_name: row.get(3)?,
                    recipient: row.get(4)?,
                    disclosed_by: row.get(5)?,
                    disclosed_at: row.get(6)?,
                    unredacted_reason: row.get(7)?,
                    basis: row.get(8)?,
                })
            })?
            .collect()
        };
        run().map_err(Error::index("read disclosures"))
    }

    fn add_unreadable(&self, source: &str, reason: &str, event: EventDraft) -> Result<Event> {
        self.with_tx(&format!("record unreadable {source}"), |tx| {
            let e = self.append_in(tx, event)?;
            tx.execute(
                "INSERT INTO unreadable_sources (seq, source, reason) VALUES (?1, ?2, ?3)",
                params![sql_int(e.seq), source, reason],
            )?;
            Ok(e)
        })
    }

    fn unreadable_sources(&self) -> Result<Vec<UnreadableSource>> {
        let conn = self.read()?;
        let run = || -> rusqlite::Result<Vec<UnreadableSource>> {
            let mut stmt = conn.prepare(
                "SELECT e.canonical, u.source, u.reason FROM unreadable_sources u \
                 JOIN events e ON e.seq = u.seq ORDER BY u.seq",
            )?;
            stmt.query_map([], |row| {
                Ok(UnreadableSource::new(
                    event_col(row, 0)?,
                    row.get(1)?,
                    row.get(2)?,
                ))
            })?
            .collect()
        };
        run().map_err(Error::index("read unreadable sources"))
    }

    fn latest_event(&self, kind: EventKind) -> Result<Option<Event>> {
        let conn = self.read()?;
        conn.query_row(
            "SELECT canonical FROM events WHERE kind = ?1 ORDER BY seq DESC LIMIT 1",
            [kind.as_str()],
            |row| event_col(row, 0),
        )
        .optional()
        .map_err(Error::index(format!(
            "read the latest {} event",
            kind.as_str()
        )))
    }

    fn integrity_problems(&self) -> Result<Vec<String>> {
        let conn = self.read()?;
        let run = || -> rusqlite::Result<Vec<String>> {
            let mut stmt = conn.prepare("PRAGMA integrity_check")?;
            stmt.query_map([], |row| row.get::<_, String>(0))?
                .filter(|r| !matches!(r.as_deref(), Ok("ok")))
                .collect()
        };
        run().map_err(Error::index("check the index's integrity"))
    }

    fn actor_names(&self) -> Result<BTreeMap<String, String>> {
        let conn = self.read()?;
        let run = || -> rusqlite::Result<BTreeMap<String, String>> {
            let mut stmt = conn.prepare("SELECT logged, name FROM actors")?;
            stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect()
        };
        run().map_err(Error::index("read actors' names"))
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
            let marked: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM marks WHERE recording_id = ?1 AND released_at IS NULL)",
                [id],
                |r| r.get(0),
            )?;
            if marked {
                return Ok(None);
            }
            let n = tx.execute(
                "UPDATE recordings SET deletion = ?2 WHERE id = ?1 AND deletion IS NULL",
                params![id, text],
            )?;
            if n != 1 {
                return Err(TxFail::Refused(refuse::deleted_or_unknown(id)));
            }
            self.append_in(tx, event).map(Some)
        })
    }

    fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>> {
        View(&*self.read()?).checkpoints()
    }

    fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>> {
        View(&*self.read()?).latest_checkpoint()
    }

    fn add_checkpoint(&self, tree: &Frontier, note: &str) -> Result<StoredCheckpoint> {
        let (size, root) = (tree.size(), tree.root());
        let peaks = packed(tree.peaks());
        let signed_at = clock::canonical(self.clock.now());
        self.with_tx(&format!("store checkpoint {size}"), |tx| {
            // Two processes may sign the same tree at once: the first stored stays, and the
            // second must agree with its root.
            if let Some(stored) = View(tx)
                .query_checkpoints(&format!("WHERE size = {} LIMIT 1", sql_int(size)))
                .map_err(TxFail::Refused)?
                .pop()
            {
                return if stored.root == root {
                    Ok(stored)
                } else {
                    Err(TxFail::Refused(refuse::forked(size)))
                };
            }
            tx.execute(
                "INSERT INTO checkpoints (size, root, note, signed_at, peaks) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![sql_int(size), &root.0[..], note, signed_at, peaks],
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FixedClock;
    use crate::custody::EventKind;
    use crate::custody::conformance::recording;

    fn store(dir: &Path) -> SqliteStore {
        let t = "2026-11-21T10:00:00Z".parse().expect("valid time");
        SqliteStore::open(&dir.join("index.sqlite"), Arc::new(FixedClock(t))).expect("opens")
    }

    #[test]
    fn the_sqlite_store_keeps_the_store_contract() {
        crate::custody::conformance::suite(&|dir| Box::new(store(dir)));
    }

    #[test]
    fn the_event_log_is_append_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = store(dir.path());
        s.create_recording(
            &recording("abcd1234", Digest::of(b"abc")),
            EventDraft::new(EventKind::Ingested, Some("abcd1234"), "t"),
        )
        .expect("create");
        let conn = s.conn();
        let upd = conn.execute("UPDATE events SET kind = 'x' WHERE seq = 0", []);
        assert!(
            upd.expect_err("update refused")
                .to_string()
                .contains("append-only")
        );
        let del = conn.execute("DELETE FROM events", []);
        assert!(
            del.expect_err("delete refused")
                .to_string()
                .contains("append-only")
        );
    }

    #[test]
    fn the_database_itself_keeps_the_retention_rules() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = store(dir.path());
        for (id, b) in [("aaaa0001", b"a"), ("bbbb0002", b"b")] {
            s.create_recording(
                &recording(id, Digest::of(b)),
                EventDraft::new(EventKind::Ingested, Some(id), "t"),
            )
            .expect("create");
        }
        let conn = s.conn();
        let refused = |sql: &str, why: &str| {
            let err = conn.execute_batch(sql).expect_err(sql).to_string();
            assert!(err.contains(why), "{sql}: {err}");
        };
        let mark = |rec: &str, reference: &str| {
            format!(
                "INSERT INTO marks (recording_id, kind, reference, reason, placed_by, placed_at) \
                 VALUES ('{rec}', 'complaint', '{reference}', 'r', 'p', 't')"
            )
        };
        conn.execute_batch(&mark("aaaa0001", "C-1"))
            .expect("first mark");
        refused(&mark("aaaa0001", "C-1"), "UNIQUE");
        conn.execute_batch(&mark("aaaa0001", "C-2"))
            .expect("another reference");
        refused(
            "UPDATE recordings SET deletion = '{}' WHERE id = 'aaaa0001'",
            "never deleted",
        );
        conn.execute_batch("UPDATE recordings SET deletion = '{}' WHERE id = 'bbbb0002'")
            .expect("unmarked footage may be deleted");
        refused(&mark("bbbb0002", "C-1"), "was deleted");
        refused(
            "UPDATE recordings SET deletion = NULL WHERE id = 'bbbb0002'",
            "final",
        );
        conn.execute_batch(
            "INSERT INTO sars (n, id, requester, received, deadline, opened_by, opened_at, closed_at) \
             VALUES (1, 'SAR-1', 'J', '2026-11-01', '2026-12-01', 'p', 't', 't')",
        )
        .expect("a closed SAR");
        refused(
            "INSERT INTO marks (recording_id, kind, reference, reason, placed_by, placed_at) \
             VALUES ('aaaa0001', 'sar', 'SAR-1', 'r', 'p', 't')",
            "closed",
        );
        refused(
            "INSERT INTO disclosures (sar_id, file_sha256, file_size, file_name, recipient, disclosed_by, disclosed_at) \
             VALUES ('SAR-1', 'x', 1, 'f', 'r', 'p', 't')",
            "open SAR",
        );
    }

    #[test]
    fn processes_opening_a_new_store_at_once_migrate_it_once() {
        for _ in 0..10 {
            let dir = tempfile::tempdir().expect("tempdir");
            let start = std::sync::Barrier::new(4);
            std::thread::scope(|scope| {
                for _ in 0..4 {
                    scope.spawn(|| {
                        start.wait();
                        store(dir.path());
                    });
                }
            });
            let s = store(dir.path());
            let version: i64 = s
                .conn()
                .pragma_query_value(None, "user_version", |r| r.get(0))
                .expect("version");
            assert_eq!(version, MIGRATIONS.len() as i64);
            assert_eq!(s.log_head().expect("head").size(), 0);
        }
    }

    #[test]
    fn a_negative_size_in_an_edited_index_is_an_error_not_a_huge_number() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = store(dir.path());
        s.create_recording(
            &recording("abcd1234", Digest::of(b"a")),
            EventDraft::new(EventKind::Ingested, Some("abcd1234"), "t"),
        )
        .expect("create");
        s.conn()
            .execute_batch("UPDATE recordings SET master_size = -1")
            .expect("edit");
        let err = s.resolve("abcd1234").expect_err("refused").to_string();
        assert!(err.contains("negative"), "{err}");
    }
}
