//! A hook for crash tests. With `LSTM_SUPPORT_PAUSE_AT=<prefix>#<n>` in the environment, the
//! n-th time the process reaches a point whose name starts with `<prefix>`, it writes
//! `paused at <name>` on stderr and waits, so that a test can kill it at exactly that moment
//! (`lstm_cli/tests/kill_resume.rs`). Without the variable a point costs one check of a
//! static.
//!
//! The points: `batch` (before each training batch), `writing:<file>` (half of a file's bytes
//! written to its temporary name), `write:<file>` (the temporary file complete and flushed,
//! not yet renamed into place).
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use once_cell::sync::Lazy;

/// How long a paused process waits before going on (a test kills it long before).
const PAUSE: Duration = Duration::from_secs(300);

static TARGET: Lazy<Option<(String, usize)>> = Lazy::new(|| {
    let value = std::env::var("LSTM_SUPPORT_PAUSE_AT").ok()?;
    let (prefix, n) = value.rsplit_once('#')?;
    Some((prefix.to_owned(), n.parse().ok()?))
});

static HITS: AtomicUsize = AtomicUsize::new(0);

/// Marks the point `name` (see the module's text).
pub(crate) fn point(name: &str) {
    let Some((prefix, n)) = TARGET.as_ref() else {
        return;
    };
    if name.starts_with(prefix.as_str()) && HITS.fetch_add(1, Ordering::SeqCst) + 1 == *n {
        eprintln!("paused at {name}");
        std::thread::sleep(PAUSE);
    }
}
