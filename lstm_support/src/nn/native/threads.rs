//! A batch across the cores: its sequences are independent, so the kernels run on ranges of
//! rows, one thread each. Here are the ranges, the copies of one range between the tensors'
//! batch-major layout and the kernels' time-major one, the threads, and libtorch's own threads
//! while the kernels train ([`TrainingThreads`]).
use std::ops::Range;

use super::pool::buffer_to_overwrite;
use crate::error::{Error, Result};
use crate::nn::TrainingPath;

/// Rows `rows` of a batch-major `[B, T, W]` buffer (a tensor's layout), time-major as
/// `[T, rows, W]` (the kernels' layout).
pub(super) fn time_major_rows(
    full: &[f32],
    (steps, width): (usize, usize),
    rows: &Range<usize>,
) -> Vec<f32> {
    let mut out = buffer_to_overwrite(steps * rows.len() * width);
    for (r, row) in rows.clone().enumerate() {
        let sequence = &full[row * steps * width..(row + 1) * steps * width];
        for (t, values) in sequence.chunks_exact(width).enumerate() {
            let to = (t * rows.len() + r) * width;
            out[to..to + width].copy_from_slice(values);
        }
    }
    out
}

/// Writes a time-major `[T, rows, W]` part into rows `rows` of a batch-major `[B, T, W]`
/// buffer.
pub(super) fn write_batch_major_rows(
    part: &[f32],
    full: &mut [f32],
    (steps, width): (usize, usize),
    rows: &Range<usize>,
) {
    for (r, row) in rows.clone().enumerate() {
        let sequence = &mut full[row * steps * width..(row + 1) * steps * width];
        for (t, values) in sequence.chunks_exact_mut(width).enumerate() {
            let from = (t * rows.len() + r) * width;
            values.copy_from_slice(&part[from..from + width]);
        }
    }
}

/// The batch in as many row ranges as the machine has cores, each of at least 32 rows: the
/// sequences of a batch are independent, so each range runs on a core of its own.
pub(super) fn row_ranges(batch: usize) -> Vec<Range<usize>> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let parts = cores.min(batch / 32).max(1);
    (0..parts)
        .map(|p| p * batch / parts..(p + 1) * batch / parts)
        .collect()
}

/// libtorch's threads while a model trains (what `Model::training_threads` returns; the
/// trainer holds it for an epoch). While native training runs, libtorch works on one thread:
/// its OpenMP workers would otherwise spin after each of its operations (the head, the loss,
/// Adam) on the cores the kernels' threads need; a profile had 39% of the samples in that spin.
/// Restores libtorch's thread count when dropped (validation and evaluation want all of them).
#[derive(Debug)]
#[must_use = "libtorch's thread count is restored when this is dropped"]
pub struct TrainingThreads(Option<i32>);

impl TrainingThreads {
    /// For a model whose recurrent layers train along `paths`: libtorch on one thread when one
    /// of them is [`TrainingPath::Native`], else left as it is.
    pub(crate) fn for_paths(paths: impl IntoIterator<Item = TrainingPath>) -> Self {
        let native = paths.into_iter().any(|path| path == TrainingPath::Native);
        let previous = tch::get_num_threads();
        if native && previous > 1 {
            tch::set_num_threads(1);
            TrainingThreads(Some(previous))
        } else {
            TrainingThreads(None)
        }
    }
}

impl Drop for TrainingThreads {
    fn drop(&mut self) {
        if let Some(threads) = self.0 {
            tch::set_num_threads(threads);
        }
    }
}

/// Runs the jobs, the first on this thread and each other one on a thread of its own (rayon's
/// persistent pool measured slower on 2 cores: its workers compete with the calling thread).
pub(super) fn in_parallel<T: Send>(jobs: Vec<impl FnOnce() -> T + Send>) -> Result<Vec<T>> {
    let mut jobs = jobs.into_iter();
    let Some(first) = jobs.next() else {
        return Ok(Vec::new());
    };
    std::thread::scope(|scope| {
        let handles: Vec<_> = jobs.map(|job| scope.spawn(job)).collect();
        let mut results = vec![first()];
        for handle in handles {
            results.push(handle.join().map_err(|_| {
                Error::internal(
                    "running the native recurrent kernel",
                    "a worker thread panicked",
                )
            })?);
        }
        Ok(results)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_thread_that_panics_is_an_internal_error() {
        let jobs: Vec<Box<dyn FnOnce() -> usize + Send>> = vec![
            Box::new(|| 1),
            Box::new(|| panic!("a test's worker panics on purpose")),
        ];
        let err = in_parallel(jobs).unwrap_err();
        assert!(matches!(err, Error::Internal { .. }), "{err}");
        assert!(
            err.to_string().contains("a worker thread panicked"),
            "{err}"
        );
    }

    #[test]
    fn rows_go_time_major_and_back() {
        // [B = 3, T = 2, W = 2], values naming their place: 100 b + 10 t + w.
        let full: Vec<f32> = (0..3)
            .flat_map(|b| {
                (0..2).flat_map(move |t| (0..2).map(move |w| (100 * b + 10 * t + w) as f32))
            })
            .collect();
        let rows = 1..3;
        let part = time_major_rows(&full, (2, 2), &rows);
        assert_eq!(part, [100., 101., 200., 201., 110., 111., 210., 211.]);
        let mut back = vec![0.0; full.len()];
        write_batch_major_rows(&part, &mut back, (2, 2), &rows);
        assert_eq!(back[4..], full[4..]);
        assert!(back[..4].iter().all(|&v| v == 0.0));
    }
}
