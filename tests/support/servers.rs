//! Throwaway servers for tests, started on first use in each test process and stopped when it
//! exits: PostgreSQL (`scripts/pg-throwaway.sh`) and an S3-compatible store, SeaweedFS
//! (`scripts/s3-throwaway.sh`). The unit tests (src/testutil.rs) and the integration tests
//! (tests/it) both include this file.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// What a started server's script goes on printing.
type Lines = std::io::BufReader<std::process::ChildStdout>;

/// Starts `scripts/NAME` with its standard input a pipe this process holds until it exits (the
/// script stops its server and removes its folder when the pipe closes), and returns the one
/// line it prints once the server is ready, and the rest of what it prints.
fn launch(name: &str) -> (std::process::Child, Lines, String) {
    launch_with(name, &[])
}

/// [`launch`] with these environment variables set for the script.
fn launch_with(name: &str, env: &[(&str, &str)]) -> (std::process::Child, Lines, String) {
    use std::io::BufRead as _;
    use std::process::{Command, Stdio};
    let script = format!("{}/scripts/{name}", env!("CARGO_MANIFEST_DIR"));
    let mut child = Command::new(&script)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("{script} starts (scripts/setup.sh installs what it needs): {e}")
        });
    let mut lines = std::io::BufReader::new(child.stdout.take().expect("piped"));
    let mut line = String::new();
    lines
        .read_line(&mut line)
        .expect("read what the server printed");
    assert!(!line.trim().is_empty(), "{script} did not start a server");
    (child, lines, line.trim().to_owned())
}

/// A number unique in this process, for names of databases and prefixes.
fn unique(label: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{label}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The URL of the throwaway PostgreSQL server, or the server named by `BWV_TEST_POSTGRES`.
pub fn postgres() -> &'static str {
    static SERVER: OnceLock<(Option<std::process::Child>, String)> = OnceLock::new();
    &SERVER
        .get_or_init(|| match std::env::var("BWV_TEST_POSTGRES") {
            Ok(url) => (None, url),
            Err(_) => {
                let (child, _, url) = launch("pg-throwaway.sh");
                assert!(url.starts_with("postgres://"), "not a server URL: {url}");
                (Some(child), url)
            }
        })
        .1
}

/// The URL of the database `name` on the test server, made (empty) if it is not there.
pub fn postgres_database(name: &str) -> String {
    let admin = postgres();
    let mut client = postgres::Client::connect(admin, postgres::NoTls).expect("connect");
    let there = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .expect("look up database");
    if there.is_none() {
        client
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .expect("create database");
    }
    let (server, _) = admin.rsplit_once('/').expect("a URL with a database");
    format!("{server}/{name}")
}

/// A fresh database on the test server, named for `label` and made unique.
pub fn postgres_fresh(label: &str) -> String {
    postgres_database(&unique(label))
}

/// The settings (`AWS_ENDPOINT_URL`, keys, region, `AWS_ALLOW_HTTP`) of the throwaway S3 server.
pub fn s3() -> &'static [(String, String)] {
    static SERVER: OnceLock<(std::process::Child, Vec<(String, String)>)> = OnceLock::new();
    &SERVER
        .get_or_init(|| {
            let (child, _, line) = launch("s3-throwaway.sh");
            (child, s3_settings(&line))
        })
        .1
}

/// The settings in the line `scripts/s3-throwaway.sh` prints once its server answers.
fn s3_settings(line: &str) -> Vec<(String, String)> {
    let settings: Vec<(String, String)> = line
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    assert!(
        settings.iter().any(|(k, _)| k == "AWS_ENDPOINT_URL"),
        "not S3 settings: {line}"
    );
    settings
}

/// A fresh location on the test S3 server: one bucket, a prefix of its own per call.
pub fn s3_location(label: &str) -> String {
    format!("s3://bwv-test/{}", unique(label).replace('_', "-"))
}

/// A throwaway server a test started for itself (which it may restart without disturbing the
/// others): its script, stopped when this is dropped.
struct Own {
    child: std::process::Child,
    lines: Lines,
}

impl Own {
    /// Sends the script SIGUSR1 and waits for its "restarted".
    fn restart(&mut self) {
        use std::io::BufRead as _;
        let sent = std::process::Command::new("kill")
            .args(["-USR1", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success());
        let mut line = String::new();
        self.lines.read_line(&mut line).expect("read");
        assert_eq!(line.trim(), "restarted");
    }
}

impl Drop for Own {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// An S3 server of one test's own, stopped when dropped.
pub struct OwnS3 {
    server: Own,
    /// Its settings, as [`s3`] gives them.
    pub settings: Vec<(String, String)>,
}

impl OwnS3 {
    /// Starts one.
    pub fn start() -> Self {
        let (child, lines, line) = launch("s3-throwaway.sh");
        Self {
            server: Own { child, lines },
            settings: s3_settings(&line),
        }
    }

    /// Kills it outright (writes in flight lost) and starts it again over the same data,
    /// returning once it answers.
    pub fn restart(&mut self) {
        self.server.restart();
    }
}

/// A PostgreSQL server of one test's own, stopped when dropped.
pub struct OwnPostgres {
    server: Own,
    /// Its URL.
    pub url: String,
}

impl OwnPostgres {
    /// Starts one.
    pub fn start() -> Self {
        Self::started(launch("pg-throwaway.sh"))
    }

    /// Starts one that takes TLS connections only; its URL asks for TLS and names its CA.
    pub fn start_tls() -> Self {
        Self::started(launch_with("pg-throwaway.sh", &[("PG_TLS", "1")]))
    }

    fn started((child, lines, url): (std::process::Child, Lines, String)) -> Self {
        assert!(url.starts_with("postgres://"), "not a server URL: {url}");
        Self {
            server: Own { child, lines },
            url,
        }
    }

    /// Restarts it (every connection dropped) and returns once it accepts connections again.
    pub fn restart(&mut self) {
        self.server.restart();
    }
}
