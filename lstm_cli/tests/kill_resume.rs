//! Crash safety of a whole run: the `lstm-mnist` process is killed with SIGKILL 20 times, at
//! the moments that matter: during start-up, inside an epoch, while a checkpoint is written
//! (half written, or written but not yet renamed) and while the record is written. The process
//! reaches those moments through the crate's pause points (`LSTM_SUPPORT_PAUSE_AT`; it says
//! `paused at ...` and waits to be killed), so the test waits on events, not on guessed
//! delays. After every kill the newest checkpoint must load; running the same command again
//! resumes from it, and the finished run must have the same history and test metrics as an
//! uninterrupted run with the same seed. No temporary files may remain. The test fails rather
//! than run past [`BOUND`].
//!
//! Needs the real MNIST files (`MNIST_DIR`, as `.ci/run` sets); skipped without them.
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use lstm_support::record::RunRecord;
use lstm_support::tch::Device;
use lstm_support::training::Trainer;

const KILLS: usize = 20;
/// The whole test's limit (about 30 s on a quiet 2-core machine).
const BOUND: Duration = Duration::from_secs(600);
/// 12 epochs of 1,600 training rows in batches of 64.
const BATCHES: u64 = 12 * 25;
const EPOCHS: u64 = 12;

fn mnist_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os("MNIST_DIR")?);
    dir.is_dir().then_some(dir)
}

fn train(runs_dir: &Path, data_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lstm-mnist"));
    command
        .args(["train", "--units", "8", "--recurrent-dropout", "0.15"])
        .args(["--epochs", "12", "--batch-size", "64", "--seed", "7"])
        .args([
            "--limit-train",
            "2000",
            "--limit-test",
            "500",
            "--device",
            "cpu",
        ])
        .arg("--runs-dir")
        .arg(runs_dir)
        .arg("--data-dir")
        .arg(data_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command.env_remove("LSTM_SUPPORT_PAUSE_AT");
    command
}

/// The one run directory under `runs_dir`.
fn run_dir(runs_dir: &Path) -> Option<PathBuf> {
    fs::read_dir(runs_dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.is_dir())
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(files_under(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}

fn assert_same_results(got: &RunRecord, want: &RunRecord) {
    assert_eq!(got.history.len(), want.history.len());
    for (a, b) in got.history.epochs.iter().zip(&want.history.epochs) {
        for (x, y, what) in [
            (a.train_loss, b.train_loss, "train loss"),
            (a.train_accuracy, b.train_accuracy, "train accuracy"),
            (a.val_loss, b.val_loss, "val loss"),
            (a.val_accuracy, b.val_accuracy, "val accuracy"),
        ] {
            assert!(
                (x - y).abs() < 1e-9,
                "epoch {}: {what} {x} vs {y} uninterrupted",
                a.epoch
            );
        }
    }
    assert!((got.test.accuracy - want.test.accuracy).abs() < 1e-12);
    assert!((got.test.loss - want.test.loss).abs() < 1e-9);
    assert_eq!(got.test.predictions, want.test.predictions);
}

/// Where a kill lands.
#[derive(Debug, Clone)]
enum Moment {
    /// This long after the process started (loading libtorch and the data).
    StartUp(Duration),
    /// At a pause point: `batch#n`, `writing:checkpoint.json#n`, `write:record.json#1`, ...
    Pause(String),
}

/// xorshift64: the test's moments are the same on every run.
struct Draw(u64);

impl Draw {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }

    fn moment(&mut self) -> Moment {
        let epoch = 1 + self.below(EPOCHS);
        match self.below(6) {
            0 => Moment::StartUp(Duration::from_millis(50 + self.below(1500))),
            1 => Moment::Pause(format!("batch#{}", 1 + self.below(BATCHES))),
            2 => Moment::Pause(format!("write:epoch-#{epoch}")),
            3 => Moment::Pause(format!("writing:checkpoint.json#{epoch}")),
            4 => Moment::Pause(format!("write:checkpoint.json#{epoch}")),
            _ => Moment::Pause(
                ["writing:record.json#1", "write:record.json#1"][self.below(2) as usize].to_owned(),
            ),
        }
    }
}

/// Starts the run and kills it at `moment`; false if it finished first.
fn run_until(mut command: Command, moment: &Moment, deadline: Instant) -> bool {
    if let Moment::Pause(point) = moment {
        command
            .env("LSTM_SUPPORT_PAUSE_AT", point)
            .stderr(Stdio::piped());
    }
    let mut child = command.spawn().unwrap();
    // The pause point's line, read off stderr by a thread of its own.
    let (paused_tx, paused) = mpsc::channel();
    if let Some(stderr) = child.stderr.take() {
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.starts_with("paused at ") {
                    let _ = paused_tx.send(());
                }
            }
        });
    }
    let started = Instant::now();
    loop {
        let due = match moment {
            Moment::StartUp(delay) => started.elapsed() >= *delay,
            Moment::Pause(_) => paused.try_recv().is_ok(),
        };
        if due {
            kill(&mut child);
            return true;
        }
        if let Some(status) = child.try_wait().unwrap() {
            assert!(
                status.success(),
                "the run failed ({status}) before {moment:?}"
            );
            return false;
        }
        if Instant::now() > deadline {
            kill(&mut child);
            panic!("the kill test ran past its bound of {BOUND:?} (waiting for {moment:?})");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn kill(child: &mut Child) {
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
}

#[test]
fn sigkill_at_the_moments_that_matter_then_resume_matches_an_uninterrupted_run() {
    let Some(data_dir) = mnist_dir() else {
        eprintln!("skipped: set MNIST_DIR to the MNIST files to run the kill test");
        return;
    };
    let deadline = Instant::now() + BOUND;
    let scratch = tempfile::tempdir().unwrap();
    let reference_runs = scratch.path().join("reference");
    assert!(train(&reference_runs, &data_dir)
        .status()
        .unwrap()
        .success());
    let reference =
        RunRecord::load(&run_dir(&reference_runs).unwrap().join("record.json")).unwrap();

    // A series of runs in one runs directory is killed and resumed until it finishes, then
    // checked; a new series starts until there have been KILLS kills.
    let mut draw = Draw(0x2545_f491_4f6c_dd1d);
    let (mut kills, mut series, mut checkpoints_loaded) = (0, 0, 0);
    let mut moments_hit = std::collections::BTreeSet::new();
    while kills < KILLS {
        series += 1;
        let runs = scratch.path().join(format!("series-{series}"));
        loop {
            let moment = if kills < KILLS {
                Some(draw.moment())
            } else {
                None
            };
            let killed = match &moment {
                Some(moment) => run_until(train(&runs, &data_dir), moment, deadline),
                None => {
                    // Enough kills: finish the series by resuming.
                    assert!(train(&runs, &data_dir).status().unwrap().success());
                    false
                }
            };
            if !killed {
                break;
            }
            kills += 1;
            moments_hit.insert(match &moment {
                Some(Moment::Pause(point)) => {
                    point.split(['#', '-', '.']).next().unwrap().to_owned()
                }
                _ => "start-up".to_owned(),
            });
            if let Some(dir) = run_dir(&runs) {
                let checkpoint = dir.join("checkpoint");
                if checkpoint.join("checkpoint.json").is_file() {
                    Trainer::resume(&checkpoint, Device::Cpu).unwrap_or_else(|e| {
                        panic!(
                            "kill {kills} ({moment:?}): the newest checkpoint does not load: {e}"
                        )
                    });
                    checkpoints_loaded += 1;
                }
            }
        }
        let dir = run_dir(&runs).unwrap();
        let record = RunRecord::load(&dir.join("record.json")).unwrap();
        assert_same_results(&record, &reference);
        let leftovers: Vec<PathBuf> = files_under(&dir)
            .into_iter()
            .filter(|p| p.to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    }
    assert!(checkpoints_loaded > 0, "no kill landed after a checkpoint");
    assert!(
        moments_hit.len() >= 4,
        "the kills landed at too few kinds of moment: {moments_hit:?}"
    );
    eprintln!(
        "{kills} kills in {series} series, {checkpoints_loaded} checkpoints loaded, \
         pause points hit: {moments_hit:?}"
    );
}
