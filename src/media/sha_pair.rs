//! SHA-256 of two messages at once, each given as a list of byte runs.
//!
//! One SHA-256 is a chain: every 64-byte block waits for the one before it, and with SHA-NI the
//! wait, not the work, sets the speed (1.8 GB/s a core here). Two independent messages fed a
//! block each in turn fill those waits: 2.3 GB/s on the same core (`benches/frame_hash.rs`).
//! The digests are those of plain SHA-256; only the order of the work changes. The blocks are
//! compressed by the `sha2` crate (`compress256`, which uses SHA-NI where the CPU has it); this
//! module only cuts the runs into blocks, alternates between the two messages and pads each at
//! its end (FIPS 180-4, 5.1.1).

use sha2::block_api::compress256;

use crate::digest::Digest;

/// SHA-256's initial hash value (FIPS 180-4, 5.3.3).
const IV: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// One message being hashed: its runs, cut into 64-byte blocks as they are asked for.
struct Message<'a, I> {
    runs: I,
    /// The rest of the current run.
    run: &'a [u8],
    /// A block being gathered across runs, and how much of it is filled.
    partial: [u8; 64],
    filled: usize,
    /// Bytes handed out as whole blocks so far.
    blocks_len: u64,
    state: [u32; 8],
}

impl<'a, I: Iterator<Item = &'a [u8]>> Message<'a, I> {
    fn new(runs: I) -> Self {
        Self {
            runs,
            run: &[],
            partial: [0; 64],
            filled: 0,
            blocks_len: 0,
            state: IV,
        }
    }

    /// Compresses up to `max` (at least one) further whole blocks; false when fewer than 64
    /// bytes are left (they wait in `partial` for the padding).
    fn step(&mut self, max: usize) -> bool {
        loop {
            if self.filled == 0 && self.run.len() >= 64 {
                let (blocks, _) = self.run.as_chunks::<64>();
                let blocks = &blocks[..blocks.len().min(max.max(1))];
                compress256(&mut self.state, blocks);
                self.run = &self.run[blocks.len() * 64..];
                self.blocks_len += blocks.len() as u64 * 64;
                return true;
            }
            if self.run.is_empty() {
                match self.runs.next() {
                    Some(run) => self.run = run,
                    None => return false,
                }
                continue;
            }
            let n = (64 - self.filled).min(self.run.len());
            self.partial[self.filled..self.filled + n].copy_from_slice(&self.run[..n]);
            self.run = &self.run[n..];
            self.filled += n;
            if self.filled == 64 {
                compress256(&mut self.state, &[self.partial]);
                self.filled = 0;
                self.blocks_len += 64;
                return true;
            }
        }
    }

    /// Pads the bytes left and returns the digest.
    fn finish(mut self) -> Digest {
        let bits = (self.blocks_len + self.filled as u64) * 8;
        let mut tail = [0u8; 128];
        tail[..self.filled].copy_from_slice(&self.partial[..self.filled]);
        tail[self.filled] = 0x80;
        let len = if self.filled < 56 { 64 } else { 128 };
        tail[len - 8..len].copy_from_slice(&bits.to_be_bytes());
        let (blocks, _) = tail[..len].as_chunks::<64>();
        compress256(&mut self.state, blocks);
        let mut out = [0u8; 32];
        for (o, w) in out.chunks_exact_mut(4).zip(self.state) {
            o.copy_from_slice(&w.to_be_bytes());
        }
        Digest(out)
    }
}

/// SHA-256 of the concatenation of `runs`.
pub fn one<'a>(runs: impl IntoIterator<Item = &'a [u8]>) -> Digest {
    let mut m = Message::new(runs.into_iter());
    while m.step(usize::MAX) {}
    m.finish()
}

/// SHA-256 of the concatenation of `a`'s runs and of `b`'s, a block of each in turn.
pub fn two<'a, 'b>(
    a: impl IntoIterator<Item = &'a [u8]>,
    b: impl IntoIterator<Item = &'b [u8]>,
) -> [Digest; 2] {
    let (mut a, mut b) = (Message::new(a.into_iter()), Message::new(b.into_iter()));
    let mut more = (true, true);
    while more == (true, true) {
        more = (a.step(1), b.step(1));
    }
    // The longer one alone.
    while more.0 && a.step(usize::MAX) {}
    while more.1 && b.step(usize::MAX) {}
    [a.finish(), b.finish()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::noise;

    /// `data` cut into runs of the given lengths, cycling (the last run takes what is left).
    fn cut<'a>(data: &'a [u8], lens: &[usize]) -> Vec<&'a [u8]> {
        let mut runs = Vec::new();
        let mut rest = data;
        for &l in lens.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (run, r) = rest.split_at(l.min(rest.len()));
            runs.push(run);
            rest = r;
        }
        runs
    }

    #[test]
    fn known_answers() {
        // FIPS 180-4 examples ("abc", and the 448-bit message that needs a second padding block).
        assert_eq!(
            one([&b"abc"[..]]).to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let long = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        assert_eq!(
            one(cut(long, &[5])).to_hex(),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
        assert_eq!(
            one(std::iter::empty()).to_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn every_length_and_cut_equals_sha256() {
        // Lengths around each padding boundary, and runs that split blocks anywhere.
        let data = noise(1000, 7);
        for len in (0..200).chain([447, 448, 511, 512, 513, 1000]) {
            let want = Digest::of(&data[..len]);
            for lens in [
                &[len.max(1)][..],
                &[1],
                &[63],
                &[64],
                &[65, 3],
                &[200, 1, 64],
            ] {
                assert_eq!(one(cut(&data[..len], lens)), want, "len {len} cut {lens:?}");
            }
        }
    }

    #[test]
    fn two_messages_equal_two_sha256s() {
        let (a, b) = (noise(5000, 3), noise(5000, 11));
        // Equal and unequal lengths, either one longer, empty ones, tight and cut.
        for (la, lb) in [
            (5000, 5000),
            (0, 0),
            (0, 130),
            (130, 0),
            (64, 65),
            (4999, 1),
            (55, 56),
            (1, 4999),
            (3210, 4321),
        ] {
            let want = [Digest::of(&a[..la]), Digest::of(&b[..lb])];
            assert_eq!(two([&a[..la]], [&b[..lb]]), want, "{la} {lb}");
            assert_eq!(
                two(cut(&a[..la], &[854]), cut(&b[..lb], &[427, 3])),
                want,
                "{la} {lb} cut"
            );
        }
    }
}
