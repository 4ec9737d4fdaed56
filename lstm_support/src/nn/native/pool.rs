//! Buffers of finished batches, reused by the next: fresh multi-megabyte allocations every
//! batch cost page faults worth a tenth of the training time. Shared by the worker threads.

/// The buffers given back, a few dozen at most.
static POOL: std::sync::Mutex<Vec<Vec<f32>>> = std::sync::Mutex::new(Vec::new());

fn pool() -> std::sync::MutexGuard<'static, Vec<Vec<f32>>> {
    POOL.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A zeroed buffer of `len` values, from the pool when one is large enough.
pub(super) fn buffer(len: usize) -> Vec<f32> {
    let mut v = buffer_to_overwrite(len);
    v.fill(0.0);
    v
}

/// A buffer of `len` values that the caller writes in full before reading, so that a reused
/// one is not zeroed first (the memset was 4% of a profile). Its values are stale ones.
pub(super) fn buffer_to_overwrite(len: usize) -> Vec<f32> {
    let reused = {
        let mut pool = pool();
        // The smallest that fits, so that small requests do not take the large buffers that
        // the next large request would then have to allocate afresh.
        let found = pool
            .iter()
            .enumerate()
            .filter(|(_, b)| b.capacity() >= len)
            .min_by_key(|(_, b)| b.capacity())
            .map(|(i, _)| i);
        found.map(|i| pool.swap_remove(i))
    };
    let mut v = reused.unwrap_or_default();
    v.truncate(len);
    v.resize(len, 0.0);
    v
}

/// Gives buffers back to the pool (a few dozen at most).
pub(super) fn recycle(buffers: impl IntoIterator<Item = Vec<f32>>) {
    let mut pool = pool();
    for b in buffers {
        if pool.len() < 64 && b.capacity() > 0 {
            pool.push(b);
        }
    }
}
