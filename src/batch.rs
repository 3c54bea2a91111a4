//! Runs a batch of items in parallel on a caller-supplied pool. Each item produces its own
//! report; one item's failure never stops the others.

use rayon::prelude::*;

/// Applies `f` to every item on `pool`, returning the results in item order.
pub fn run<T: Sync, R: Send>(
    pool: &rayon::ThreadPool,
    items: &[T],
    f: impl Fn(usize, &T) -> R + Sync + Send,
) -> Vec<R> {
    pool.install(|| items.par_iter().enumerate().map(|(i, t)| f(i, t)).collect())
}
