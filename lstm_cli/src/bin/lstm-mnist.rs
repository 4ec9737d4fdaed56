//! Headless runs of the notebooks' experiments.
//!
//! ```sh
//! cargo run --release --bin lstm-mnist -- train --units 32 --recurrent-dropout 0.15 --epochs 10
//! cargo run --release --bin lstm-mnist -- sweep --units 32,48,96,256 --layers 1,2
//! cargo run --release --bin lstm-mnist -- train --units 32 --recurrent-mask per-gate
//! cargo run --release --bin lstm-mnist -- evaluate --run runs/lstm-32-...
//! ```
//! Each run is recorded under `--runs-dir` (default `runs/`); a run with the same settings is
//! reused unless `--retrain` is given.
use std::path::PathBuf;
use std::process::ExitCode;

use clap::builder::PossibleValue;
use clap::{Args, Parser, Subcommand, ValueEnum};
use lstm_support::data::{Loader, ValidationSplit};
use lstm_support::device::{self, DeviceChoice};
use lstm_support::model::{Layer, ModelConfig};
use lstm_support::nn::CellKind;
use lstm_support::nn::{RecurrentConfig, RecurrentMask};
use lstm_support::optim::LrSchedule;
use lstm_support::record::{runs_table, Run, RunRecord, RunSpec};
use lstm_support::session::Session;
use lstm_support::training::EarlyStopping;
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
        #[arg(long, value_enum, default_value_t = ModelChoice::Recurrent(CellKind::Lstm))]
        model: ModelChoice,
        #[arg(long, value_delimiter = ',', default_value = "32,48,96,256")]
        units: Vec<usize>,
        #[arg(long, value_delimiter = ',', default_value = "1")]
        layers: Vec<usize>,
        #[arg(long, default_value_t = 0.15)]
        recurrent_dropout: f64,
        /// Recurrent dropout masks: shared by the gates, or one per gate.
        #[arg(long, value_enum, default_value_t = RecurrentMask::Shared)]
        recurrent_mask: RecurrentMask,
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
        /// The run's directory (holds record.json and model.safetensors, or the
        /// weights.safetensors of a run recorded by version 1).
        #[arg(long)]
        run: PathBuf,
        #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
        device: DeviceChoice,
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

/// `--model`: a recurrent cell (the values are [`CellKind`]'s own) or one of the CNNs.
#[derive(Clone, Copy, Debug, PartialEq)]
enum ModelChoice {
    Recurrent(CellKind),
    /// Conv2D(32) -> MaxPooling2D -> Flatten -> Dense, the seed notebook's CNN.
    Cnn,
    /// Two convolution + pooling blocks, a hidden Dense layer and dropout.
    CnnDeep,
}

static MODEL_CHOICES: once_cell::sync::Lazy<Vec<ModelChoice>> = once_cell::sync::Lazy::new(|| {
    CellKind::ALL
        .into_iter()
        .map(ModelChoice::Recurrent)
        .chain([ModelChoice::Cnn, ModelChoice::CnnDeep])
        .collect()
});

impl ValueEnum for ModelChoice {
    fn value_variants<'a>() -> &'a [Self] {
        &MODEL_CHOICES
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        match self {
            ModelChoice::Recurrent(cell) => cell.to_possible_value(),
            ModelChoice::Cnn => Some(
                PossibleValue::new("cnn").help("Conv2D(32) -> MaxPooling2D -> Flatten -> Dense"),
            ),
            ModelChoice::CnnDeep => Some(
                PossibleValue::new("cnn-deep")
                    .help("two convolution + pooling blocks, Dense(128), dropout"),
            ),
        }
    }
}

#[derive(Args)]
struct ModelArgs {
    #[arg(long, value_enum, default_value_t = ModelChoice::Recurrent(CellKind::Lstm))]
    model: ModelChoice,
    #[arg(long, default_value_t = 32)]
    units: usize,
    /// Stacked recurrent layers of --units each.
    #[arg(long, default_value_t = 1)]
    layers: usize,
    #[arg(long, default_value_t = 0.15)]
    recurrent_dropout: f64,
    /// Recurrent dropout masks: shared by the gates, or one per gate.
    #[arg(long, value_enum, default_value_t = RecurrentMask::Shared)]
    recurrent_mask: RecurrentMask,
}

impl ModelArgs {
    fn config(&self) -> ModelConfig {
        model_config(
            self.model,
            self.units,
            self.layers,
            self.recurrent_dropout,
            self.recurrent_mask,
        )
    }
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
    /// Plain gradient descent (Keras' `SGD`, no momentum) at --learning-rate instead of Adam.
    #[arg(long)]
    sgd: bool,
    /// Clip each parameter's gradient to this L2 norm before every update (Keras' `clipnorm`).
    #[arg(long, value_name = "MAX_NORM")]
    clipnorm: Option<f64>,
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
            let spec = spec(&common, model.config(), model.layers)?;
            let record = train(&[spec], &common)?;
            print_summary(&record);
        }
        Command::Sweep {
            model,
            units,
            layers,
            recurrent_dropout,
            recurrent_mask,
            common,
        } => {
            let mut specs = Vec::new();
            for &n_layers in &layers {
                for &n_units in &units {
                    let config =
                        model_config(model, n_units, n_layers, recurrent_dropout, recurrent_mask);
                    specs.push(spec(&common, config, n_layers)?);
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
            // The model file, or the weights of a run recorded before model files existed.
            let Run { record, model, .. } = Run::open(&run, device_arg.resolve()?)?;
            let mnist = load(data_dir)?;
            let test = record.spec.test_set(&mnist);
            let evaluation = model.evaluate(&test)?;
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

fn model_config(
    choice: ModelChoice,
    units: usize,
    layers: usize,
    recurrent_dropout: f64,
    mask: RecurrentMask,
) -> ModelConfig {
    match choice {
        ModelChoice::Recurrent(cell) => {
            let mut config = ModelConfig::stacked(cell, &vec![units; layers], recurrent_dropout);
            for layer in &mut config.layers {
                if let Layer::Recurrent(RecurrentConfig { recurrent_mask, .. }) = layer {
                    *recurrent_mask = mask;
                }
            }
            config
        }
        ModelChoice::Cnn => ModelConfig::cnn(),
        ModelChoice::CnnDeep => ModelConfig::cnn_deep(),
    }
}

fn spec(common: &CommonArgs, model: ModelConfig, layers: usize) -> Result<RunSpec> {
    if layers == 0 {
        return Err(Error::invalid("--layers", "0; use at least 1"));
    }
    model.validate()?;
    let name = if model == ModelConfig::cnn_deep() {
        "CNN deep".to_owned()
    } else {
        model.short_name()
    };
    let split = if common.keras_split {
        ValidationSplit::keras_tail(common.validation_fraction)
    } else {
        ValidationSplit {
            validation_fraction: common.validation_fraction,
            ..Default::default()
        }
    };
    split.validate()?;
    let mut spec = RunSpec::new(name, model)
        .epochs(common.epochs)
        .batch_size(common.batch_size)
        .seed(common.seed)
        .learning_rate(common.learning_rate)
        .split(split);
    if let Some(patience) = common.patience {
        spec = spec.early_stopping(EarlyStopping {
            patience,
            ..Default::default()
        });
    }
    spec.train_limit = common.limit_train;
    spec.test_limit = common.limit_test;
    if let Some(alpha) = common.cosine_decay {
        spec.options.lr_schedule = LrSchedule::CosineDecay { alpha };
    }
    if common.sgd {
        spec = spec.sgd(common.learning_rate);
    }
    if let Some(max_norm) = common.clipnorm {
        spec = spec.clipnorm(max_norm);
    }
    spec.validate()?;
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
    let mut session = Session::new(device, &common.runs_dir).retrain(common.retrain);
    if let Some(dir) = &common.data_dir {
        session = session.data_dir(dir);
    }
    specs
        .iter()
        .map(|spec| session.run(spec).map(|run| run.record))
        .collect()
}

fn print_summary(records: &[RunRecord]) {
    print!("\n{}", runs_table(records));
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
    let mut table = runs_table(&records);
    // The report is pasted into docs/results.md under its own heading.
    table.caption.clear();
    Ok(table.to_markdown())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn masks(config: &ModelConfig) -> Vec<RecurrentMask> {
        config
            .layers
            .iter()
            .filter_map(|layer| match layer {
                Layer::Recurrent(recurrent) => Some(recurrent.recurrent_mask),
                _ => None,
            })
            .collect()
    }

    /// `--recurrent-mask` reaches every recurrent layer, and the run's key; shared by default.
    #[test]
    fn the_recurrent_mask_is_chosen_on_the_command_line() {
        let parse = |extra: &[&str]| {
            let args = ["lstm-mnist", "train", "--layers", "2"].iter().chain(extra);
            let Command::Train { model, common } = Cli::try_parse_from(args).unwrap().command
            else {
                panic!("not the train command");
            };
            spec(&common, model.config(), model.layers).unwrap()
        };
        let shared = parse(&[]);
        assert_eq!(masks(&shared.model), [RecurrentMask::Shared; 2]);
        let per_gate = parse(&["--recurrent-mask", "per-gate"]);
        assert_eq!(masks(&per_gate.model), [RecurrentMask::PerGate; 2]);
        assert_ne!(shared.key(), per_gate.key());
        assert!(Cli::try_parse_from(["lstm-mnist", "train", "--recurrent-mask", "some"]).is_err());
    }

    /// `--sgd` and `--clipnorm` reach the run's options; a bad limit is refused before training.
    #[test]
    fn sgd_and_clipnorm_are_chosen_on_the_command_line() {
        let parse = |extra: &[&str]| {
            let args = ["lstm-mnist", "train"].iter().chain(extra);
            let Command::Train { model, common } = Cli::try_parse_from(args).unwrap().command
            else {
                panic!("not the train command");
            };
            spec(&common, model.config(), model.layers)
        };
        let plain = parse(&[]).unwrap();
        assert_eq!(plain.options.optimizer_description(), "Adam 0.001");
        let clipped = parse(&["--sgd", "--learning-rate", "0.5", "--clipnorm", "1"]).unwrap();
        assert_eq!(
            clipped.options.optimizer_description(),
            "SGD 0.5, clipnorm 1"
        );
        let error = parse(&["--clipnorm", "0"]).unwrap_err().to_string();
        assert!(error.contains("clipnorm"), "{error}");
    }
}
