//! A throwaway PostgreSQL server for tests: the unit tests (src/testutil.rs) and the integration
//! tests (tests/it) both include this file.

/// The URL of a throwaway PostgreSQL server for this test process, started on first use by
/// `scripts/pg-throwaway.sh` (a temp cluster on a free loopback port, which stops and removes
/// itself when this process exits and its standard input closes), or the server named by
/// `BWV_TEST_POSTGRES`.
pub fn server() -> &'static str {
    static SERVER: std::sync::OnceLock<(Option<std::process::Child>, String)> =
        std::sync::OnceLock::new();
    &SERVER
        .get_or_init(|| {
            if let Ok(url) = std::env::var("BWV_TEST_POSTGRES") {
                return (None, url);
            }
            use std::io::BufRead as _;
            use std::process::{Command, Stdio};
            let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/pg-throwaway.sh");
            let mut child = Command::new(script)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("scripts/pg-throwaway.sh starts (scripts/setup.sh installs PostgreSQL)");
            let mut line = String::new();
            std::io::BufReader::new(child.stdout.take().expect("piped"))
                .read_line(&mut line)
                .expect("read the server's URL");
            assert!(
                line.starts_with("postgres://"),
                "scripts/pg-throwaway.sh did not start a server"
            );
            (Some(child), line.trim().to_owned())
        })
        .1
}

/// The URL of the database `name` on the test server, made (empty) if it is not there.
pub fn database(name: &str) -> String {
    let admin = server();
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
pub fn fresh(label: &str) -> String {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    database(&format!("{label}_{}_{n}", std::process::id()))
}
