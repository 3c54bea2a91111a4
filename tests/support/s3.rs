//! A throwaway S3-compatible server (SeaweedFS) for tests: the unit tests (src/testutil.rs) and
//! the integration tests (tests/it) both include this file.

/// The settings (`AWS_ENDPOINT_URL`, keys, ...) of a throwaway SeaweedFS server for this test
/// process, started on first use by `scripts/s3-throwaway.sh` (a temp folder, free loopback
/// ports; it stops and removes itself when this process exits and its standard input closes).
pub fn server() -> &'static [(String, String)] {
    static SERVER: std::sync::OnceLock<(std::process::Child, Vec<(String, String)>)> =
        std::sync::OnceLock::new();
    &SERVER
        .get_or_init(|| {
            use std::io::BufRead as _;
            use std::process::{Command, Stdio};
            let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/s3-throwaway.sh");
            let mut child = Command::new(script)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("scripts/s3-throwaway.sh starts (scripts/setup.sh fetches SeaweedFS)");
            let mut line = String::new();
            std::io::BufReader::new(child.stdout.take().expect("piped"))
                .read_line(&mut line)
                .expect("read the server's settings");
            let settings: Vec<(String, String)> = line
                .split_whitespace()
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            assert!(
                settings.iter().any(|(k, _)| k == "AWS_ENDPOINT_URL"),
                "scripts/s3-throwaway.sh did not start a server"
            );
            (child, settings)
        })
        .1
}

/// A fresh location on the test server: one bucket, a prefix of its own per call.
pub fn location(label: &str) -> String {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("s3://bwv-test/{label}-{}-{n}", std::process::id())
}
