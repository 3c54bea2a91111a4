//! The library's error type. Every variant names the item (file or recording), the stage and
//! the reason, so one `Display` line is enough for an operator.

use std::io;
use std::path::PathBuf;

use serde::Serialize;

/// Where in the flow an error happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Listing dock folders.
    Scan,
    /// Copying, hashing and storing the native master.
    Master,
    /// Reading the dock sidecar metadata.
    Sidecar,
    /// Probing container and streams.
    Probe,
    /// Decoding (and the pipeline that fans frames out).
    Decode,
    /// Per-frame hashing.
    FrameHash,
    /// Thumbnails and contact sheet.
    Thumbnails,
    /// Proxy transcode.
    Transcode,
    /// Writing derived files.
    Output,
    /// Face detection and tracking.
    Detect,
    /// Masking and encoding a redacted copy.
    Redact,
    /// Reading or writing the custody index.
    Index,
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            Stage::Scan => "scan",
            Stage::Master => "master",
            Stage::Sidecar => "sidecar",
            Stage::Probe => "probe",
            Stage::Decode => "decode",
            Stage::FrameHash => "frame hash",
            Stage::Thumbnails => "thumbnails",
            Stage::Transcode => "transcode",
            Stage::Output => "output",
            Stage::Detect => "detect",
            Stage::Redact => "redact",
            Stage::Index => "index",
        };
        f.write_str(s)
    }
}

/// Errors from the bwv library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file-system operation on an item failed.
    #[error("{}: {stage}: {op}: {source}", path.display())]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The stage that touched it.
        stage: Stage,
        /// What was being done ("open", "fsync", ...).
        op: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A dock entry that is not ingested: a symbolic link (bwv ingests the dock's own files,
    /// never what a link points at, which may lie outside the dock or loop back into it).
    #[error("{}: scan: {reason}", path.display())]
    NotFollowed {
        /// The entry.
        path: PathBuf,
        /// Why it is passed over.
        reason: String,
    },
    /// A dock file whose bytes are those of a recording deleted under the retention policy:
    /// not stored again.
    #[error("{}: master: {reason}", path.display())]
    OfDeleted {
        /// The dock file.
        path: PathBuf,
        /// Which recording, deleted when and why.
        reason: String,
    },
    /// With `--delete-source`, a dock copy that is kept although its item was ingested: it
    /// changed while it was read, or may still be being written.
    #[error("{}: master: dock copy kept: {reason}", path.display())]
    SourceKept {
        /// The dock file.
        path: PathBuf,
        /// Why it is kept.
        reason: String,
    },
    /// The item's content could not be processed (not media, no video, truncated, unsupported...).
    #[error("{}: {stage}: {reason}", path.display())]
    Media {
        /// The file concerned.
        path: PathBuf,
        /// The stage that failed.
        stage: Stage,
        /// One line saying why.
        reason: String,
    },
    /// The dock sidecar is present but unusable.
    #[error("{}: sidecar: {reason}", path.display())]
    Sidecar {
        /// The sidecar file.
        path: PathBuf,
        /// Why it was rejected.
        reason: String,
    },
    /// The custody index failed.
    #[error("custody index: {context}: {source}")]
    Index {
        /// What the index was asked to do.
        context: String,
        /// The backend's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The object store (an S3-compatible bucket) failed.
    #[error("object store {location}: {op} {key}: {source}")]
    Objects {
        /// The store (`s3://bucket/prefix`).
        location: String,
        /// The object's key.
        key: String,
        /// What was being done ("upload", "read", ...).
        op: &'static str,
        /// The client's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
        /// What kind of failure it is (unreachable or throttled: busy; missing: not found).
        kind: ErrorKind,
    },
    /// A recording reference matched nothing.
    #[error("no recording matches {0:?}")]
    UnknownRecording(String),
    /// A recording reference matched several recordings.
    #[error("{0:?} matches more than one recording; give more of its id")]
    AmbiguousRecording(String),
    /// Another bwv process holds the store's lock.
    #[error("{}: the store is in use by another bwv process", .0.display())]
    Locked(PathBuf),
    /// The log's signing or verifier key is missing or unusable.
    #[error("{}: log key: {reason}", path.display())]
    Key {
        /// The key file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The request names something the store does not hold (a SAR, an event, a checkpoint).
    #[error("{0}")]
    NotFound(String),
    /// The store's state refuses the request: the recording was deleted, the SAR is closed, the
    /// mark is already placed or no longer active. Nothing was changed.
    #[error("{0}")]
    Conflict(String),
    /// The request itself is unusable (a policy out of range, a date past the calendar, an
    /// output folder in use, a checkpoint from elsewhere). Nothing was changed.
    #[error("{0}")]
    Invalid(String),
    /// The custody record fails a check: a rewritten or missing event, a fork, a file that no
    /// longer has its recorded hash. Run `bwv verify`.
    #[error("custody log: {0}")]
    Integrity(String),
    /// The face model or its engine failed.
    #[error("{source}")]
    Model {
        /// What kind of failure (a model not found is the setup's, a run that fails the
        /// engine's).
        kind: ErrorKind,
        /// The model's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A redaction request is not valid (wrong plan, unknown track, unusable recording).
    #[error("redact: {0}")]
    Redact(String),
    /// GStreamer could not be initialised or lacks a required element.
    #[error("GStreamer: {0}")]
    Gstreamer(String),
}

/// What kind of failure an error is, for callers that answer with a code rather than a
/// sentence: the CLI's exit status, the service's HTTP status, a worker's retry decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The request is unusable as given; asking again unchanged fails again.
    Invalid,
    /// It names something that does not exist.
    NotFound,
    /// The store's current state refuses it (deleted, closed, already done).
    Conflict,
    /// The custody record fails a check: evidence of tampering or damage.
    Integrity,
    /// A resource is in use or short (the store's lock, the database, disk space): try again
    /// later.
    Busy,
    /// The machine or a component failed (I/O, the database, GStreamer, the model).
    Internal,
}

impl ErrorKind {
    /// The stable name used in JSON errors.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Invalid => "invalid",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Integrity => "integrity",
            ErrorKind::Busy => "busy",
            ErrorKind::Internal => "internal",
        }
    }

    /// The `bwv` command's exit status for a fatal error of this kind (2 is kept for "some
    /// items of a batch failed").
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::Invalid => 1,
            ErrorKind::NotFound => 3,
            ErrorKind::Conflict => 4,
            ErrorKind::Integrity => 5,
            ErrorKind::Busy => 6,
            ErrorKind::Internal => 7,
        }
    }

    /// The HTTP status a service answers with.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorKind::Invalid => 422,
            ErrorKind::NotFound => 404,
            ErrorKind::Conflict => 409,
            ErrorKind::Integrity | ErrorKind::Internal => 500,
            ErrorKind::Busy => 503,
        }
    }
}

/// Result with the library's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Builds an [`Error::Io`] (handy inside `map_err`).
    pub fn io(
        path: impl Into<PathBuf>,
        stage: Stage,
        op: &'static str,
    ) -> impl FnOnce(io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io {
            path,
            stage,
            op,
            source,
        }
    }

    /// Builds an [`Error::Index`] from a backend error.
    pub fn index<E: std::error::Error + Send + Sync + 'static>(
        context: impl Into<String>,
    ) -> impl FnOnce(E) -> Error {
        let context = context.into();
        move |source| Error::Index {
            context,
            source: Box::new(source),
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Io { source, .. } => io_kind(source),
            Error::Index { source, .. } => match source.downcast_ref::<rusqlite::Error>() {
                Some(e) => match e.sqlite_error_code() {
                    Some(
                        rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked,
                    ) => ErrorKind::Busy,
                    Some(rusqlite::ErrorCode::DiskFull) => ErrorKind::Busy,
                    // A rule the database enforces itself (a trigger, a unique index) refused
                    // the change.
                    Some(rusqlite::ErrorCode::ConstraintViolation) => ErrorKind::Conflict,
                    Some(
                        rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase,
                    ) => ErrorKind::Integrity,
                    _ => ErrorKind::Internal,
                },
                None => match source.downcast_ref::<crate::custody::postgres::PgError>() {
                    Some(e) => e.kind(),
                    None => ErrorKind::Internal,
                },
            },
            Error::NotFollowed { .. }
            | Error::Media { .. }
            | Error::Sidecar { .. }
            | Error::AmbiguousRecording(_)
            | Error::Invalid(_)
            | Error::Redact(_) => ErrorKind::Invalid,
            Error::UnknownRecording(_) | Error::NotFound(_) => ErrorKind::NotFound,
            Error::OfDeleted { .. } | Error::Conflict(_) => ErrorKind::Conflict,
            Error::SourceKept { .. } | Error::Locked(_) => ErrorKind::Busy,
            Error::Integrity(_) => ErrorKind::Integrity,
            Error::Model { kind, .. } | Error::Objects { kind, .. } => *kind,
            Error::Key { .. } | Error::Gstreamer(_) => ErrorKind::Internal,
        }
    }

    /// The error's message without the item prefix (for events and JSON reports).
    pub fn reason(&self) -> String {
        match self {
            Error::Io {
                stage, op, source, ..
            } => format!("{stage}: {op}: {source}"),
            Error::Media { stage, reason, .. } => format!("{stage}: {reason}"),
            Error::Sidecar { reason, .. } => format!("sidecar: {reason}"),
            Error::NotFollowed { reason, .. } => format!("scan: {reason}"),
            Error::OfDeleted { reason, .. } => format!("master: {reason}"),
            Error::SourceKept { reason, .. } => format!("master: dock copy kept: {reason}"),
            other => other.to_string(),
        }
    }
}

/// Out of space or quota is worth retrying once space is freed; other I/O failures are not.
fn io_kind(e: &io::Error) -> ErrorKind {
    match e.kind() {
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded | io::ErrorKind::WouldBlock => {
            ErrorKind::Busy
        }
        io::ErrorKind::NotFound => ErrorKind::NotFound,
        io::ErrorKind::AlreadyExists => ErrorKind::Conflict,
        _ => ErrorKind::Internal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_map_to_distinct_exit_codes_and_resource_errors_are_busy() {
        let all = [
            ErrorKind::Invalid,
            ErrorKind::NotFound,
            ErrorKind::Conflict,
            ErrorKind::Integrity,
            ErrorKind::Busy,
            ErrorKind::Internal,
        ];
        let codes: std::collections::HashSet<u8> = all.iter().map(|k| k.exit_code()).collect();
        assert_eq!(codes.len(), all.len());
        assert!(
            !codes.contains(&0) && !codes.contains(&2),
            "0 is success, 2 failed items"
        );
        let io = |kind: io::ErrorKind| Error::io("/x", Stage::Master, "write")(kind.into()).kind();
        assert_eq!(io(io::ErrorKind::StorageFull), ErrorKind::Busy);
        assert_eq!(io(io::ErrorKind::NotFound), ErrorKind::NotFound);
        assert_eq!(io(io::ErrorKind::PermissionDenied), ErrorKind::Internal);
        let busy = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            None,
        );
        assert_eq!(Error::index("x")(busy).kind(), ErrorKind::Busy);
        let refused = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT_TRIGGER),
            Some("a flagged or held recording is never deleted".into()),
        );
        assert_eq!(Error::index("x")(refused).kind(), ErrorKind::Conflict);
    }
}
