//! Headless runs of the notebooks' experiments.
//!
//! ```sh
//! cargo run --release --bin lstm-mnist -- train --units 32 --recurrent-dropout 0.15 --epochs 10
//! cargo run --release --bin lstm-mnist -- sweep --units 32,48,96,256 --layers 1,2
//! cargo run --release --bin lstm-mnist -- evaluate --run runs/lstm-32-...
//! ```
//! Each run is recorded under `--runs-dir` (default `runs/`); a run with the same settings is
//! reused unless `--retrain` is given.
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use lstm_support::data::{Loader, ValidationSplit};
use lstm_support::device::{self, DeviceChoice};
use lstm_support::model::ModelConfig;
use lstm_support::nn::CellKind;
use lstm_support::optim::LrSchedule;
use lstm_support::record::{run_or_load, RunRecord, RunSpec};
use lstm_support::training::{EarlyStopping, TrainOptions, Trainer};
use lstm_support::{Error, Result};

#[derive(Parser)]
#[command(
    name = "lstm-mnist",
    about = "Train and evaluate recurrent networks on MNIST"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train one model (or reuse its finished run), evaluate it on the test set, record it.
    Train {
        #[command(flatten)]
        model: ModelArgs,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Train several models: every combination of --units and --layers.
    Sweep {
        #[arg(long, value_enum, default_value_t = Kind::Lstm)]
        model: Kind,
        #[arg(long, value_delimiter = ',', default_value = "32,48,96,256")]
        units: Vec<usize>,
        #[arg(long, value_delimiter = ',', default_value = "1")]
        layers: Vec<usize>,
        #[arg(long, default_value_t = 0.15)]
        recurrent_dropout: f64,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Print every full run recorded under --runs-dir as a Markdown table (docs/results.md).
    Report {
        #[arg(long, default_value = "runs")]
        runs_dir: PathBuf,
    },
    /// Evaluate a recorded run's weights on the test set again and print its record.
    Evaluate {
        /// The run's directory (holds record.json and weights.safetensors).
        #[arg(long)]
        run: PathBuf,
        #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
        device: DeviceChoice,
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    Lstm,
    Gru,
    Rnn,
    /// Conv2D(32) -> MaxPooling2D -> Flatten -> Dense, the seed notebook's CNN.
    Cnn,
    /// Two convolution + pooling blocks, a hidden Dense layer and dropout.
    CnnDeep,
}

#[derive(Args)]
struct ModelArgs {
    #[arg(long, value_enum, default_value_t = Kind::Lstm)]
    model: Kind,
    #[arg(long, default_value_t = 32)]
    units: usize,
    /// Stacked recurrent layers of --units each.
    #[arg(long, default_value_t = 1)]
    layers: usize,
    #[arg(long, default_value_t = 0.15)]
    recurrent_dropout: f64,
}

#[derive(Args)]
struct CommonArgs {
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    #[arg(long, default_value_t = 128)]
    batch_size: usize,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    #[arg(long, default_value_t = 1e-3)]
    learning_rate: f64,
    /// Decay the learning rate along a cosine over all --epochs, every batch, to this fraction
    /// of it (Keras' `CosineDecay` alpha; 0 ends at zero). Default: a constant rate.
    #[arg(long, value_name = "ALPHA")]
    cosine_decay: Option<f64>,
    /// Early stopping on val_loss with this patience (best weights restored).
    #[arg(long)]
    patience: Option<usize>,
    /// Validate on the last 20% of the training images, unshuffled, as Keras'
    /// `validation_split=0.2` does (default: a seeded shuffle first).
    #[arg(long)]
    keras_split: bool,
    /// Fraction of the training images kept for validation.
    #[arg(long, default_value_t = 0.2)]
    validation_fraction: f64,
    /// Use only the first N training images (a quick run).
    #[arg(long)]
    limit_train: Option<usize>,
    /// Evaluate on the first N test images only.
    #[arg(long)]
    limit_test: Option<usize>,
    #[arg(long, default_value = "runs")]
    runs_dir: PathBuf,
    /// Train again even when a finished run with these settings exists.
    #[arg(long)]
    retrain: bool,
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    device: DeviceChoice,
    /// Directory holding the MNIST files (default: $MNIST_DIR, else data/mnist/).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Train { model, common } => {
            let config = model_config(
                model.model,
                model.units,
                model.layers,
                model.recurrent_dropout,
            );
            let spec = spec(&common, config, model.units, model.layers)?;
            let record = train(&[spec], &common)?;
            print_summary(&record);
        }
        Command::Sweep {
            model,
            units,
            layers,
            recurrent_dropout,
            common,
        } => {
            let mut specs = Vec::new();
            for &n_layers in &layers {
                for &n_units in &units {
                    let config = model_config(model, n_units, n_layers, recurrent_dropout);
                    specs.push(spec(&common, config, n_units, n_layers)?);
                }
            }
            let records = train(&specs, &common)?;
            print_summary(&records);
        }
        Command::Report { runs_dir } => print!("{}", report(&runs_dir)?),
        Command::Evaluate {
            run,
            device: device_arg,
            data_dir,
        } => {
            let record = RunRecord::load(&run.join("record.json"))?;
            let mut trainer = Trainer::new(
                &record.spec.model,
                record.spec.options.clone(),
                device_arg.resolve()?,
            )?;
            trainer.load_weights(&run.join("weights.safetensors"))?;
            let mnist = load(data_dir)?;
            let test = record.spec.test_set(&mnist);
            let evaluation = trainer.evaluate(&test)?;
            println!(
                "{}: test accuracy {:.4}, loss {:.4} (recorded: {:.4}, {:.4})",
                record.spec.name,
                evaluation.accuracy,
                evaluation.loss,
                record.test.accuracy,
                record.test.loss
            );
            print_summary(&[record]);
        }
    }
    Ok(())
}

fn model_config(kind: Kind, units: usize, layers: usize, recurrent_dropout: f64) -> ModelConfig {
    let cell = match kind {
        Kind::Lstm => CellKind::Lstm,
        Kind::Gru => CellKind::Gru,
        Kind::Rnn => CellKind::SimpleRnn,
        Kind::Cnn => return ModelConfig::cnn(),
        Kind::CnnDeep => return ModelConfig::cnn_deep(),
    };
    ModelConfig::stacked(cell, &vec![units; layers], recurrent_dropout)
}

fn spec(common: &CommonArgs, model: ModelConfig, units: usize, layers: usize) -> Result<RunSpec> {
    if layers == 0 {
        return Err(Error::Invalid {
            what: "--layers".into(),
            reason: "0; use at least 1".into(),
        });
    }
    model.validate()?;
    let name = match model.layers.first() {
        Some(first) if model.input == lstm_support::model::InputLayout::mnist_sequence() => {
            let kind = first.describe();
            let kind = kind.split('(').next().unwrap_or("RNN");
            if layers > 1 {
                format!("{kind} {layers}x{units}")
            } else {
                format!("{kind} {units}")
            }
        }
        _ if model == ModelConfig::cnn() => "CNN".to_owned(),
        _ => "CNN deep".to_owned(),
    };
    let mut spec = RunSpec::new(name, model);
    spec.epochs = common.epochs;
    spec.batch_size = common.batch_size;
    spec.options.seed = common.seed;
    spec.options.adam.learning_rate = common.learning_rate;
    spec.options.early_stopping = common.patience.map(|patience| EarlyStopping {
        patience,
        ..Default::default()
    });
    spec.split.validation_fraction = common.validation_fraction;
    if common.keras_split {
        spec.split = ValidationSplit::keras_tail(common.validation_fraction);
    }
    spec.split.validate()?;
    spec.train_limit = common.limit_train;
    spec.test_limit = common.limit_test;
    if let Some(alpha) = common.cosine_decay {
        spec.options.lr_schedule = LrSchedule::CosineDecay {
            decay_epochs: common.epochs,
            alpha,
        };
    }
    spec.options.adam.validate()?;
    spec.options.lr_schedule.validate()?;
    Ok(spec)
}

fn load(data_dir: Option<PathBuf>) -> Result<lstm_support::data::Mnist> {
    match data_dir {
        Some(dir) => Loader::mnist().dir(dir).load(),
        None => Loader::mnist().load(),
    }
}

fn train(specs: &[RunSpec], common: &CommonArgs) -> Result<Vec<RunRecord>> {
    let device = common.device.resolve()?;
    println!("{}", device::describe());
    let mnist = load(common.data_dir.clone())?;
    specs
        .iter()
        .map(|spec| {
            run_or_load(spec, &mnist, &common.runs_dir, device, common.retrain)
                .map(|run| run.record)
        })
        .collect()
}

fn print_summary(records: &[RunRecord]) {
    println!(
        "\n{:<16} {:>10} {:>9} {:>9} {:>9} {:>8}  directory key",
        "run", "parameters", "best val", "test acc", "test loss", "s/epoch"
    );
    for r in records {
        println!(
            "{:<16} {:>10} {:>9.4} {:>9.4} {:>9.4} {:>8.1}  {}",
            r.spec.name,
            r.parameters,
            r.best_val_accuracy(),
            r.test.accuracy,
            r.test.loss,
            r.timings.seconds_per_epoch,
            r.key
        );
    }
}

/// e.g. `Adam 0.001` or `Adam 0.002, cosine decay to 0 over 12 epochs`.
fn optimizer(options: &TrainOptions) -> String {
    match options.lr_schedule {
        LrSchedule::Constant => format!("Adam {}", options.adam.learning_rate),
        schedule => format!(
            "Adam {}, {}",
            options.adam.learning_rate,
            schedule.describe()
        ),
    }
}

/// A Markdown table of every full run recorded under `runs_dir` (quick runs on a subset of
/// the images are left out), sorted by name.
fn report(runs_dir: &std::path::Path) -> Result<String> {
    let entries = std::fs::read_dir(runs_dir).map_err(|e| Error::Invalid {
        what: "--runs-dir".into(),
        reason: format!("cannot read {}: {e}", runs_dir.display()),
    })?;
    let mut records: Vec<RunRecord> = entries
        .flatten()
        .map(|entry| entry.path().join("record.json"))
        .filter(|path| path.is_file())
        .map(|path| RunRecord::load(&path))
        .filter(|record| !record.as_ref().is_ok_and(|r| r.spec.train_limit.is_some()))
        .collect::<Result<_>>()?;
    records.sort_by(|a, b| (&a.spec.name, a.spec.epochs).cmp(&(&b.spec.name, b.spec.epochs)));
    let mut out = String::from(
        "| run | model | parameters | optimizer | epochs | batch | seed | split | train images | best val acc | final val acc | test acc | test loss | s/epoch | device | key |\n\
         | --- | --- | ---: | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |\n",
    );
    for r in &records {
        let last = r.history.last().map_or(0.0, |e| e.val_accuracy);
        let held_out = 100.0 * r.spec.split.validation_fraction;
        let split = if r.spec.split.shuffle {
            format!("shuffled {:.0}/{held_out:.0}", 100.0 - held_out)
        } else {
            format!("last {held_out:.0}% (Keras)")
        };
        let train_images = r.spec.train_limit.map_or(60_000, |n| n.min(60_000));
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.2}% | {:.2}% | {:.2}% | {:.4} | {:.1} | {} | `{}` |\n",
            r.spec.name,
            r.spec.model.describe(),
            r.parameters,
            optimizer(&r.spec.options),
            r.history.len(),
            r.spec.batch_size,
            r.spec.options.seed,
            split,
            train_images,
            100.0 * r.best_val_accuracy(),
            100.0 * last,
            100.0 * r.test.accuracy,
            r.test.loss,
            r.timings.seconds_per_epoch,
            r.device,
            r.key
        ));
    }
    Ok(out)
}
