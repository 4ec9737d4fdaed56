//! Training and evaluation speed of the recurrent layers with recurrent dropout (LSTM, GRU,
//! simple RNN; masks shared by the gates or one per gate), through the libtorch paths and the
//! native kernels (`nn/native/`), against the fused no-dropout kernel on the same weights and
//! data (the speed limit for this model), the straightforward autograd step loop, and PyTorch
//! (`bench/pytorch_lstm.py`, for the LSTM with a shared mask).
//!
//! ```sh
//! make bench    # or: cargo run --release --bin lstm-bench -- --python .venv/bin/python
//! ```
//! Each measurement runs in its own process, so its peak memory is its own; ours and
//! PyTorch's alternate config by config. Prints a Markdown table and writes JSON.
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use clap::{Parser, Subcommand, ValueEnum};
use lstm_support::device::DeviceChoice;
use lstm_support::model::Layer;
use lstm_support::model::{Model, ModelConfig};
use lstm_support::nn::{CellKind, RecurrentConfig, RecurrentMask};
use lstm_support::optim::{Adam, AdamConfig};
use lstm_support::{Error, Result};
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

/// Training rows in one epoch of the assignment (80% of 60,000).
const EPOCH_ROWS: usize = 48_000;

#[derive(Parser)]
#[command(
    name = "lstm-bench",
    about = "LSTM training speed with recurrent dropout"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Sub>,
    #[command(flatten)]
    options: Options,
}

#[derive(clap::Args, Clone, Serialize)]
struct Options {
    #[arg(long, value_delimiter = ',', default_value = "32,48,96,256")]
    units: Vec<usize>,
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    layers: Vec<usize>,
    /// Recurrent cells to measure.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "lstm")]
    cells: Vec<CellKind>,
    /// Recurrent dropout masks: shared by the gates, or one per gate.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "shared")]
    masks: Vec<RecurrentMask>,
    #[arg(long, default_value_t = 0.15)]
    recurrent_dropout: f64,
    #[arg(long, default_value_t = 128)]
    batch_size: usize,
    /// Timed training batches per measurement (seconds per epoch are extrapolated to 48,000
    /// rows), after --warmup untimed ones.
    #[arg(long, default_value_t = 60)]
    batches: usize,
    #[arg(long, default_value_t = 5)]
    warmup: usize,
    /// Rounds of every measurement; the table shows the median.
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// libtorch threads (default: every core, as training does).
    #[arg(long)]
    threads: Option<usize>,
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    device: DeviceChoice,
    /// Python with PyTorch for the peer measurements; leave out to skip them.
    #[arg(long)]
    python: Option<PathBuf>,
    #[arg(long, default_value = "bench/pytorch_lstm.py")]
    peer: PathBuf,
    /// Skip the straightforward autograd loop (the slowest column).
    #[arg(long)]
    no_autograd_loop: bool,
    #[arg(long, default_value = "target/bench/lstm-bench.json")]
    json: PathBuf,
}

#[derive(Subcommand)]
enum Sub {
    /// One measurement in this process (what the table's rows are made of).
    Measure {
        #[arg(long)]
        units: usize,
        #[arg(long)]
        layers: usize,
        #[arg(long, value_enum)]
        mode: Mode,
        #[arg(long, value_enum, default_value = "lstm")]
        cell: CellKind,
        #[arg(long, value_enum, default_value = "shared")]
        mask: RecurrentMask,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
enum Mode {
    /// Recurrent dropout through libtorch (`LSTM_SUPPORT_KERNELS=libtorch`): for the LSTM
    /// with a shared mask the taped forward and hand-written BPTT of `lstm_bptt.rs`, otherwise
    /// autograd of the step loop.
    Taped,
    /// Recurrent dropout through the native kernels (the default on the CPU).
    Native,
    /// Recurrent dropout through autograd of the step loop (`forward_t(xs, true)`).
    AutogradLoop,
    /// No recurrent dropout: libtorch's fused LSTM, forward and backward.
    Fused,
    /// Evaluation (no gradients, fused kernel) on batches of 1,000.
    Eval,
}

impl Mode {
    /// The `--mode` value, also the measurement's name in the JSON.
    fn name(self) -> &'static str {
        match self {
            Mode::Taped => "taped",
            Mode::Native => "native",
            Mode::AutogradLoop => "autograd-loop",
            Mode::Fused => "fused",
            Mode::Eval => "eval",
        }
    }
}

/// What one measurement reports (also the JSON the PyTorch peer prints).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Measurement {
    mode: String,
    /// Absent from the PyTorch peer's JSON, which measures the LSTM with a shared mask.
    #[serde(default = "lstm")]
    cell: CellKind,
    #[serde(default)]
    mask: RecurrentMask,
    units: usize,
    layers: usize,
    seconds_per_batch: f64,
    samples_per_second: f64,
    /// Training: extrapolated to 48,000 rows.
    seconds_per_epoch: Option<f64>,
    peak_rss_mb: f64,
}

#[derive(Serialize)]
struct Report {
    machine: String,
    device: String,
    torch_version: String,
    options: Options,
    rows: Vec<Row>,
}

fn lstm() -> CellKind {
    CellKind::Lstm
}

#[derive(Serialize)]
struct Row {
    cell: CellKind,
    mask: RecurrentMask,
    units: usize,
    layers: usize,
    measurements: Vec<Measurement>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Sub::Measure {
            units,
            layers,
            mode,
            cell,
            mask,
        }) => measure(
            &cli.options,
            Config {
                cell,
                mask,
                units,
                layers,
            },
            mode,
        )
        .map(|m| {
            println!("{}", serde_json::to_string(&m).unwrap_or_default());
        }),
        None => run_all(&cli.options),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn synchronize(device: Device) {
    if let Device::Cuda(index) = device {
        tch::Cuda::synchronize(index as i64);
    }
}

fn peak_rss_mb() -> f64 {
    // SAFETY: getrusage only writes into the struct we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return f64::NAN;
    }
    usage.ru_maxrss as f64 / 1024.0
}

/// One timed measurement: builds the model from seed 0 (so every mode starts from the same
/// weights), runs `warmup + batches` steps on fixed random data and times the last `batches`.
/// What one row measures.
#[derive(Clone, Copy)]
struct Config {
    cell: CellKind,
    mask: RecurrentMask,
    units: usize,
    layers: usize,
}

fn measure(options: &Options, what: Config, mode: Mode) -> Result<Measurement> {
    let Config {
        cell,
        mask,
        units,
        layers,
    } = what;
    let device = options.device.resolve()?;
    if let Some(threads) = options.threads {
        tch::set_num_threads(threads as i32);
    }
    let dropout = match mode {
        Mode::Fused => 0.0,
        _ => options.recurrent_dropout,
    };
    let mut config = ModelConfig::stacked(cell, &vec![units; layers], dropout);
    for layer in &mut config.layers {
        if let Layer::Recurrent(RecurrentConfig { recurrent_mask, .. }) = layer {
            *recurrent_mask = mask;
        }
    }
    let model = Model::new(&config, 0, device)?;
    // As the trainer does while it trains: libtorch on one thread while the native kernels
    // use every core.
    let _threads = (mode != Mode::Eval).then(|| model.training_threads());
    let batch = match mode {
        Mode::Eval => 1000,
        _ => options.batch_size,
    } as i64;
    let total = options.warmup + options.batches;
    // A pool of distinct batches, each a contiguous slice, as the trainer's batches are.
    let pool = total.min(20) as i64;
    let images = Tensor::rand([pool * batch, 28, 28], (Kind::Float, device));
    let labels = Tensor::randint(10, [pool * batch], (Kind::Int64, device));
    let mut adam = Adam::new(model.variables(), AdamConfig::default())?;
    let mut started = Instant::now();
    for step in 0..total {
        if step == options.warmup {
            synchronize(device);
            started = Instant::now();
        }
        let offset = (step as i64 % pool) * batch;
        let xs = images.narrow(0, offset, batch);
        let ys = labels.narrow(0, offset, batch);
        if mode == Mode::Eval {
            let logits = tch::no_grad(|| model.forward_t(&xs, false))?;
            let _ = logits.argmax(-1, false);
            continue;
        }
        adam.parameters_mut().zero_grad();
        match mode {
            Mode::AutogradLoop => model.training_step_autograd(&xs, &ys)?,
            _ => model.training_step(&xs, &ys)?,
        };
        adam.step();
    }
    synchronize(device);
    let seconds_per_batch = started.elapsed().as_secs_f64() / options.batches as f64;
    let batches_per_epoch = EPOCH_ROWS.div_ceil(options.batch_size) as f64;
    Ok(Measurement {
        mode: mode.name().to_string(),
        cell,
        mask,
        units,
        layers,
        seconds_per_batch,
        samples_per_second: batch as f64 / seconds_per_batch,
        seconds_per_epoch: (mode != Mode::Eval).then_some(seconds_per_batch * batches_per_epoch),
        peak_rss_mb: peak_rss_mb(),
    })
}

/// The measurement with the median time (the highest peak memory of all rounds).
fn median(mut rounds: Vec<Measurement>) -> Measurement {
    rounds.sort_by(|a, b| a.seconds_per_batch.total_cmp(&b.seconds_per_batch));
    let peak = rounds.iter().map(|m| m.peak_rss_mb).fold(0.0, f64::max);
    let mut middle = rounds.swap_remove(rounds.len() / 2);
    middle.peak_rss_mb = peak;
    middle
}

/// Runs `command`, which prints one JSON measurement on its last stdout line.
fn run_child(mut command: Command, what: &str) -> Result<Measurement> {
    let output = command
        .output()
        .map_err(|e| Error::invalid(what, format!("could not start: {e}")))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(Error::invalid(
            what,
            format!(
                "failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        ));
    }
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line)
        .map_err(|e| Error::invalid(what, format!("printed {line:?}, not a measurement: {e}")))
}

fn ours(options: &Options, what: Config, mode: Mode) -> Result<Measurement> {
    let Config {
        cell,
        mask,
        units,
        layers,
    } = what;
    let exe =
        std::env::current_exe().map_err(|e| io_error("find this program at", Path::new("."), e))?;
    let mut command = Command::new(exe);
    let name = |value: Option<clap::builder::PossibleValue>| {
        value.map_or_else(String::new, |v| v.get_name().to_owned())
    };
    command.args(forwarded_args(options)).args([
        "measure".to_owned(),
        "--units".to_owned(),
        units.to_string(),
        "--layers".to_owned(),
        layers.to_string(),
        "--mode".to_owned(),
        mode.name().to_owned(),
        "--cell".to_owned(),
        name(cell.to_possible_value()),
        "--mask".to_owned(),
        name(mask.to_possible_value()),
    ]);
    // The kernels are chosen once per process, from the environment.
    let kernels = if mode == Mode::Native {
        "native"
    } else {
        "libtorch"
    };
    command.env("LSTM_SUPPORT_KERNELS", kernels);
    run_child(
        command,
        &format!("measure {units}x{layers} {}", mode.name()),
    )
}

fn forwarded_args(options: &Options) -> Vec<String> {
    let mut args = vec![
        format!("--recurrent-dropout={}", options.recurrent_dropout),
        format!("--batch-size={}", options.batch_size),
        format!("--batches={}", options.batches),
        format!("--warmup={}", options.warmup),
    ];
    if let Some(threads) = options.threads {
        args.push(format!("--threads={threads}"));
    }
    args.push(format!("--device={}", options.device.name()));
    args
}

fn peer(
    options: &Options,
    python: &Path,
    device: Device,
    units: usize,
    layers: usize,
    mode: &str,
) -> Result<Measurement> {
    let mut command = Command::new(python);
    command.arg(&options.peer).args([
        format!("--mode={mode}"),
        format!("--units={units}"),
        format!("--layers={layers}"),
        format!("--recurrent-dropout={}", options.recurrent_dropout),
        format!("--batch-size={}", options.batch_size),
        format!("--batches={}", options.batches),
        format!("--warmup={}", options.warmup),
        format!(
            "--threads={}",
            options
                .threads
                .unwrap_or_else(|| tch::get_num_threads() as usize)
        ),
    ]);
    if matches!(device, Device::Cuda(_)) {
        command.arg("--device=cuda");
    }
    run_child(command, &format!("PyTorch {mode} {units}x{layers}"))
}

fn run_all(options: &Options) -> Result<()> {
    for &u in &options.units {
        if u == 0 {
            return Err(Error::invalid(
                "--units",
                "0; every size needs at least 1 unit",
            ));
        }
    }
    if options.layers.contains(&0)
        || options.batches == 0
        || options.batch_size == 0
        || options.repeats == 0
    {
        return Err(Error::invalid(
            "--layers/--batches/--batch-size/--repeats",
            "0; each must be at least 1",
        ));
    }
    if let Some(python) = &options.python {
        if !options.peer.is_file() {
            return Err(Error::invalid(
                "--peer",
                format!(
                    "{} is not a file (run from the project root)",
                    options.peer.display()
                ),
            ));
        }
        eprintln!(
            "PyTorch peer: {} {}",
            python.display(),
            options.peer.display()
        );
    }
    let device = options.device.resolve()?;
    let mut rows = Vec::new();
    let mut configs = Vec::new();
    for &cell in &options.cells {
        for &mask in &options.masks {
            for &layers in &options.layers {
                for &units in &options.units {
                    configs.push(Config {
                        cell,
                        mask,
                        units,
                        layers,
                    });
                }
            }
        }
    }
    for config in configs {
        let Config {
            cell,
            mask,
            units,
            layers,
        } = config;
        eprintln!("measuring {cell:?} ({mask:?} masks), {units} units x {layers} layer(s)...");
        // The machine is shared and noisy: every measurement is repeated, rounds
        // alternating between implementations, and the median kept.
        let mut rounds: Vec<Vec<Measurement>> = Vec::new();
        for _ in 0..options.repeats {
            let mut round = vec![
                ours(options, config, Mode::Taped)?,
                ours(options, config, Mode::Native)?,
                ours(options, config, Mode::Fused)?,
            ];
            let peer_measures_this = cell == CellKind::Lstm && mask == RecurrentMask::Shared;
            if let Some(python) = options.python.as_ref().filter(|_| peer_measures_this) {
                round.push(peer(options, python, device, units, layers, "cell")?);
                round.push(peer(options, python, device, units, layers, "fused")?);
            }
            if !options.no_autograd_loop {
                round.push(ours(options, config, Mode::AutogradLoop)?);
            }
            round.push(ours(options, config, Mode::Eval)?);
            rounds.push(round);
        }
        let measurements = (0..rounds[0].len())
            .map(|k| median(rounds.iter().map(|round| round[k].clone()).collect()))
            .collect();
        rows.push(Row {
            cell,
            mask,
            units,
            layers,
            measurements,
        });
    }
    let report = Report {
        machine: machine_description(),
        device: lstm_support::record::describe_device(device),
        torch_version: tch_version(),
        options: options.clone(),
        rows,
    };
    print_table(&report);
    if let Some(dir) = options.json.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io_error("create", dir, e))?;
    }
    let json = serde_json::to_string_pretty(&report)
        .map_err(|e| Error::invalid("report", e.to_string()))?;
    std::fs::write(&options.json, json).map_err(|e| io_error("write", &options.json, e))?;
    eprintln!("wrote {}", options.json.display());
    Ok(())
}

fn io_error(action: &str, path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        action: action.to_string(),
        path: path.to_path_buf(),
        source,
    }
}

fn tch_version() -> String {
    option_env!("LSTM_SUPPORT_TORCH_VERSION")
        .unwrap_or("unknown")
        .to_string()
}

fn machine_description() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string());
    format!(
        "{cpu}, {} cores, libtorch threads {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        tch::get_num_threads()
    )
}

fn print_table(report: &Report) {
    fn find<'a>(row: &'a Row, mode: &str) -> Option<(f64, &'a Measurement)> {
        row.measurements
            .iter()
            .find(|m| m.mode == mode)
            .map(|m| (m.seconds_per_epoch.unwrap_or(f64::NAN), m))
    }
    println!("{} | {}", report.machine, report.device);
    println!(
        "batch {}, recurrent dropout {}, s/epoch = 48,000 rows (from {} timed batches, median of {} rounds)\n",
        report.options.batch_size, report.options.recurrent_dropout, report.options.batches, report.options.repeats
    );
    println!("| cell | masks | units | layers | rd: libtorch path s/epoch | rd: native s/epoch | no rd: fused s/epoch | libtorch / fused | native / fused | rd: PyTorch LSTMCell loop | PyTorch / best of ours | no rd: PyTorch nn.LSTM | rd: autograd loop | eval samples/s | peak MB (libtorch, native) |");
    println!("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
    let cell = |v: Option<f64>, digits: usize| match v {
        Some(v) if v.is_finite() => format!("{v:.digits$}"),
        _ => "-".to_string(),
    };
    for row in &report.rows {
        let taped = find(row, "taped");
        let native = find(row, "native");
        let fused = find(row, "fused");
        let cell_loop = find(row, "pytorch-cell");
        let torch_fused = find(row, "pytorch-fused");
        let autograd = find(row, "autograd-loop");
        let eval = find(row, "eval");
        let t = taped.map(|t| t.0);
        let n = native.map(|n| n.0);
        let best = match (t, n) {
            (Some(t), Some(n)) => Some(t.min(n)),
            (t, n) => t.or(n),
        };
        println!(
            "| {:?} | {:?} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} / {} |",
            row.cell,
            row.mask,
            row.units,
            row.layers,
            cell(t, 2),
            cell(n, 2),
            cell(fused.map(|f| f.0), 2),
            cell(t.zip(fused).map(|(t, f)| t / f.0), 2),
            cell(n.zip(fused).map(|(n, f)| n / f.0), 2),
            cell(cell_loop.map(|c| c.0), 2),
            cell(best.zip(cell_loop).map(|(b, c)| c.0 / b), 2),
            cell(torch_fused.map(|f| f.0), 2),
            cell(autograd.map(|a| a.0), 2),
            cell(eval.map(|e| e.1.samples_per_second), 0),
            cell(taped.map(|t| t.1.peak_rss_mb), 0),
            cell(native.map(|n| n.1.peak_rss_mb), 0),
        );
    }
}
