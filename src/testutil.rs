//! Helpers shared by the unit tests.

/// `n` deterministic, noise-like bytes from `seed` (a linear congruential generator's top bits).
pub fn noise(n: usize, seed: u32) -> Vec<u8> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (s >> 24) as u8
        })
        .collect()
}

/// Throwaway PostgreSQL and S3 servers (shared with the integration tests).
#[path = "../tests/support/servers.rs"]
#[allow(
    dead_code,
    reason = "a server of one test's own is for the integration tests"
)]
pub mod servers;

/// Objects at a fresh location on the test S3 server.
pub fn s3_blobs(label: &str) -> crate::blobs::s3::S3Blobs {
    crate::blobs::s3::S3Blobs::open_with(&servers::s3_location(label), servers::s3())
        .expect("opens")
}
