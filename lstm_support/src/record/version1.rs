//! Runs recorded by version 1 of lstm_support, before run keys had versions and before model
//! files: a run sat under the key version 1 gave its spec ([`RunSpec::legacy_key_v1`]), its
//! record had format 1 ([`RECORD_FORMAT`]) and its weights lay in [`WEIGHTS_FILE`] under
//! `VarStore` names. [`RunStore::find`](crate::record::RunStore::find) moves such a run to
//! today's directory, model file and record, so that it is reused, never retrained silently.
//!
//! When it can go: once no runs directory holds a version-1 run (no run directory with a
//! `weights.safetensors` and no `model.safetensors`). Then delete this module and its call
//! sites: [`RunStore::find`](crate::record::RunStore::find) (the migration),
//! [`Run::open`](crate::record::Run::open) (a version-1 run's weights) and
//! [`RunRecord::from_json`] (the format it also reads); the layers (`{"type": "lstm", ...}`)
//! and schedules (`decay_epochs`) of format-1 records are read by `model::config`'s
//! `LayerRepr` and by `LrSchedule`, which can then drop those forms.
use std::fs;
use std::path::Path;

use serde::Serialize;
use tch::Device;

use super::{RunRecord, RunSpec, MODEL_FILE, RECORD_FILE};
use crate::data::ValidationSplit;
use crate::error::Result;
use crate::fsutil::{display_path, io_error};
use crate::model::{InputLayout, Layer, Model};
use crate::nn::CellKind;
use crate::optim::{AdamConfig, LrSchedule};
use crate::training::EarlyStopping;

/// The format of version 1's records, which [`RunRecord::from_json`] still reads.
pub const RECORD_FORMAT: u32 = 1;
/// Where version 1 kept a run's weights, under `VarStore` names, without the config.
pub const WEIGHTS_FILE: &str = "weights.safetensors";

impl RunSpec {
    /// The key lstm_support gave this spec before key versions existed (version 1), so that
    /// runs recorded then are still found.
    pub fn legacy_key_v1(&self) -> String {
        let json = spec_json_v1(self);
        crate::data::source::sha256_hex(json.as_bytes())[..16].to_owned()
    }
}

/// The model of a version-1 run in `dir` (its weights file read into `spec`'s model), or
/// `None` when `dir` holds no such file.
pub(crate) fn load_model(dir: &Path, spec: &RunSpec, device: Device) -> Result<Option<Model>> {
    let weights = dir.join(WEIGHTS_FILE);
    if !weights.is_file() {
        return Ok(None);
    }
    let mut model = Model::new(&spec.model, spec.options.seed, device)?;
    model.load_weights(&weights)?;
    Ok(Some(model))
}

/// A run recorded by version 1 for `spec`, found under `runs_dir` by its version-1 key
/// whatever name it was recorded under, moved to `dir` (today's directory of `spec`) with a
/// model file and a current record, saying so. `None` when there is none, or when `dir`
/// already exists (a run of today's form, finished or in progress, is not overwritten).
pub(crate) fn migrate(
    runs_dir: &Path,
    spec: &RunSpec,
    dir: &Path,
    device: Device,
) -> Result<Option<(RunRecord, Model)>> {
    let suffix = format!("-{}", spec.legacy_key_v1());
    let Some(old_dir) = fs::read_dir(runs_dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .find(|path| {
            path.file_name()
                .is_some_and(|name| name.to_string_lossy().ends_with(&suffix))
                && path.join(RECORD_FILE).is_file()
                && path.join(WEIGHTS_FILE).is_file()
        })
    else {
        return Ok(None);
    };
    if dir.exists() {
        return Ok(None);
    }
    let mut record = RunRecord::load(&old_dir.join(RECORD_FILE))?;
    let Some(model) = load_model(&old_dir, spec, device)? else {
        return Ok(None);
    };
    fs::rename(&old_dir, dir).map_err(|e| io_error("rename", &old_dir, e))?;
    model.save(dir.join(MODEL_FILE))?;
    record.format_version = super::RECORD_FORMAT;
    record.key = spec.key();
    record.spec.name = spec.name.clone();
    record.save(&dir.join(RECORD_FILE))?;
    let _ = fs::remove_file(dir.join(WEIGHTS_FILE));
    println!(
        "{}: moved the run an earlier lstm_support recorded in {} to {} (same settings, \
         versioned key); reusing it (val_accuracy {:.4}); RETRAIN=1 retrains",
        spec.name,
        display_path(&old_dir),
        display_path(dir),
        record.kept_val_accuracy()
    );
    Ok(Some((record, model)))
}

/// The JSON that version 1 hashed into a run key, rebuilt from today's spec: the same fields
/// in the same order, the recurrent layers tagged by cell (`{"type":"lstm",...}`), the schedule
/// with its length (always the run's epochs), progress "silent" and no checkpoint directory.
fn spec_json_v1(spec: &RunSpec) -> String {
    let layers = spec
        .model
        .layers
        .iter()
        .map(|layer| match layer {
            Layer::Recurrent(c) => {
                let config = RecurrentConfigV1 {
                    units: c.units,
                    dropout: c.dropout,
                    recurrent_dropout: c.recurrent_dropout,
                    return_sequences: c.return_sequences,
                };
                LayerV1::Recurrent(match c.cell {
                    CellKind::Lstm => RecurrentV1::Lstm(config),
                    CellKind::Gru => RecurrentV1::Gru(config),
                    CellKind::SimpleRnn => RecurrentV1::SimpleRnn(config),
                })
            }
            other => LayerV1::Other(other),
        })
        .collect();
    let lr_schedule = match spec.options.lr_schedule {
        LrSchedule::Constant => None,
        LrSchedule::CosineDecay { alpha } => Some(ScheduleV1::CosineDecay {
            decay_epochs: spec.epochs,
            alpha,
        }),
    };
    let v1 = SpecV1 {
        name: "",
        model: ModelV1 {
            input: &spec.model.input,
            layers,
            num_classes: spec.model.num_classes,
        },
        options: OptionsV1 {
            seed: spec.options.seed,
            adam: &spec.options.adam,
            early_stopping: &spec.options.early_stopping,
            checkpoint_dir: None,
            progress: "silent",
            lr_schedule,
        },
        epochs: spec.epochs,
        batch_size: spec.batch_size,
        split: &spec.split,
        train_limit: spec.train_limit,
        test_limit: spec.test_limit,
    };
    serde_json::to_string(&v1).unwrap_or_default()
}

#[derive(Serialize)]
struct SpecV1<'a> {
    name: &'a str,
    model: ModelV1<'a>,
    options: OptionsV1<'a>,
    epochs: usize,
    batch_size: usize,
    split: &'a ValidationSplit,
    train_limit: Option<usize>,
    test_limit: Option<usize>,
}

#[derive(Serialize)]
struct ModelV1<'a> {
    input: &'a InputLayout,
    layers: Vec<LayerV1<'a>>,
    num_classes: usize,
}

#[derive(Serialize)]
#[serde(untagged)]
enum LayerV1<'a> {
    Recurrent(RecurrentV1),
    Other(&'a Layer),
}

#[derive(Serialize)]
#[serde(rename_all = "snake_case", tag = "type")]
enum RecurrentV1 {
    Lstm(RecurrentConfigV1),
    Gru(RecurrentConfigV1),
    SimpleRnn(RecurrentConfigV1),
}

#[derive(Serialize)]
struct RecurrentConfigV1 {
    units: usize,
    dropout: f64,
    recurrent_dropout: f64,
    return_sequences: bool,
}

#[derive(Serialize)]
struct OptionsV1<'a> {
    seed: u64,
    adam: &'a AdamConfig,
    early_stopping: &'a Option<EarlyStopping>,
    checkpoint_dir: Option<()>,
    progress: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    lr_schedule: Option<ScheduleV1>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ScheduleV1 {
    CosineDecay { decay_epochs: usize, alpha: f64 },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ModelConfig;
    use crate::record::{TestMetrics, Timings};
    use crate::training::History;

    /// The notebooks' runs and the keys version 1 gave them (the directory names in the
    /// notebooks' outputs before key versions existed).
    #[test]
    fn legacy_keys_are_those_version_1_wrote() {
        let cosine = |name: &str, model: ModelConfig, epochs: usize| {
            RunSpec::new(name, model).epochs(epochs).cosine_decay(2e-3)
        };
        let cnn_split = ValidationSplit {
            validation_fraction: 0.1,
            ..Default::default()
        };
        let cases = [
            (
                cosine("", ModelConfig::lstm(32, 0.15), 30),
                "4a3f8a157a40db4b",
            ),
            (
                cosine("", ModelConfig::lstm(32, 0.15), 12),
                "9cb8b38c74079fa4",
            ),
            (
                RunSpec::new("", ModelConfig::lstm(32, 0.15)).epochs(10),
                "243af0c4aa32aa01",
            ),
            (
                cosine("", ModelConfig::lstm(48, 0.15), 12),
                "46a97b2d0ab2b092",
            ),
            (
                cosine("", ModelConfig::lstm(96, 0.15), 12),
                "8a71c26aab6de8f3",
            ),
            (
                cosine("", ModelConfig::lstm(256, 0.15), 12),
                "83b31f3fad2434c3",
            ),
            (
                cosine(
                    "",
                    ModelConfig::stacked(CellKind::Lstm, &[32, 32], 0.15),
                    30,
                ),
                "0f68f776594b45cb",
            ),
            (
                RunSpec::new("", ModelConfig::recurrent(CellKind::Gru, 32, 0.15)).epochs(10),
                "ca3769055b6a3419",
            ),
            (
                RunSpec::new("", ModelConfig::recurrent(CellKind::SimpleRnn, 32, 0.15)).epochs(10),
                "f23af4c6fe1aee45",
            ),
            (
                RunSpec::new("", ModelConfig::cnn())
                    .epochs(5)
                    .split(cnn_split.clone()),
                "33faeabb342749a7",
            ),
            (
                RunSpec::new("", ModelConfig::cnn_deep())
                    .epochs(5)
                    .batch_size(64)
                    .split(cnn_split)
                    .cosine_decay(2e-3),
                "3d42f38857a143f0",
            ),
        ];
        for (spec, key) in cases {
            assert_eq!(spec.legacy_key_v1(), key, "{}", spec.model.describe());
            assert_ne!(spec.key(), key);
        }
    }

    #[test]
    fn records_of_version_1_still_read() {
        let spec = RunSpec::new("GRU 32", ModelConfig::recurrent(CellKind::Gru, 32, 0.15))
            .cosine_decay(2e-3);
        let test = TestMetrics {
            loss: 0.1,
            accuracy: 0.9,
            predictions: vec![1],
            labels: vec![1],
            confidences: vec![0.5],
        };
        let timings = Timings {
            train_seconds: 1.0,
            seconds_per_epoch: 1.0,
            evaluate_seconds: 0.1,
        };
        let record = RunRecord::new(&spec, 6282, History::default(), false, test, timings, "cpu");
        let json = serde_json::to_string(&record).unwrap();
        // Version 1 tagged the layer by its cell and gave the schedule a length.
        let old = json
            .replace(r#"{"type":"recurrent","cell":"gru","#, r#"{"type":"gru","#)
            .replace(
                r#"{"type":"cosine_decay","alpha""#,
                r#"{"type":"cosine_decay","decay_epochs":10,"alpha""#,
            )
            .replace(r#""format_version":2"#, r#""format_version":1"#);
        assert_ne!(old, json);
        let back = RunRecord::from_json(&old, "old").unwrap();
        assert_eq!(back.spec, record.spec);
        assert_eq!(back.format_version, RECORD_FORMAT);
    }
}
