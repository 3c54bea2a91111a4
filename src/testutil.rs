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

/// A throwaway PostgreSQL server (shared with the integration tests).
#[path = "../tests/support/postgres.rs"]
pub mod postgres;

/// A throwaway S3-compatible server (shared with the integration tests).
#[path = "../tests/support/s3.rs"]
mod s3_server;

pub mod s3 {
    pub use super::s3_server::{location, server};

    /// Objects at a fresh location on the test server.
    pub fn blobs(label: &str) -> crate::blobs::s3::S3Blobs {
        crate::blobs::s3::S3Blobs::open_with(&location(label), server()).expect("opens")
    }
}
