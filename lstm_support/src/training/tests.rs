//! Trainer tests on a small synthetic task that an LSTM learns in a few epochs (see
//! `testutil::synthetic`).
use std::fs;

use tch::Device;

use super::*;
use crate::data::TestSet;
use crate::model::{Model, ModelConfig};
use crate::testutil::synthetic;

/// A trainer for a fresh model of `config`, its weights drawn from the options' seed.
fn new_trainer(config: &ModelConfig, options: TrainOptions) -> Result<Trainer> {
    let model = Model::new(config, options.seed, Device::Cpu)?;
    Trainer::new(model, options)
}

fn options(seed: u64) -> TrainOptions {
    TrainOptions {
        seed,
        progress: Progress::Silent,
        adam: AdamConfig {
            learning_rate: 0.01,
            ..Default::default()
        },
        ..Default::default()
    }
}

fn small_lstm() -> ModelConfig {
    ModelConfig::lstm(16, 0.15)
}

/// A small LSTM trained for one epoch on 64 synthetic images, and those images.
fn one_epoch_trainer(options: TrainOptions) -> (Dataset, Trainer) {
    let data = synthetic(64, 13, false);
    let mut trainer = new_trainer(&ModelConfig::lstm(8, 0.0), options).unwrap();
    trainer.fit(&data, &data, 1, 32).unwrap();
    (data, trainer)
}

#[test]
fn fit_learns_and_records_history() {
    let _rng = crate::torch_rng_lock();
    let (train, validation) = (synthetic(512, 1, false), synthetic(128, 2, false));
    let mut trainer = new_trainer(&small_lstm(), options(3)).unwrap();
    let history = trainer.fit(&train, &validation, 8, 32).unwrap();
    assert_eq!(history.len(), 8);
    assert_eq!(
        history.epochs.iter().map(|e| e.epoch).collect::<Vec<_>>(),
        (1..=8).collect::<Vec<_>>()
    );
    let (first, last) = (&history.epochs[0], &history.epochs[7]);
    assert!(last.train_loss < first.train_loss, "{history:?}");
    assert!(last.val_accuracy > 0.8, "{history:?}");
    assert!(history.epochs.iter().all(|e| e.seconds > 0.0));

    let test = TestSet::from_dataset(synthetic(100, 4, false));
    let evaluation = trainer.model().evaluate(&test).unwrap();
    assert_eq!(evaluation.predictions.len(), 100);
    assert_eq!(evaluation.probabilities.size(), [100, 10]);
    let correct = evaluation
        .predictions
        .iter()
        .zip(&evaluation.labels)
        .filter(|(p, l)| p == l)
        .count();
    assert!((evaluation.accuracy - correct as f64 / 100.0).abs() < 1e-12);
    assert!(evaluation
        .confidences
        .iter()
        .all(|&c| (0.1..=1.0).contains(&c)));
}

#[test]
fn resume_gives_the_same_history_as_an_uninterrupted_run() {
    resume_matches_uninterrupted(LrSchedule::Constant);
}

#[test]
fn resume_continues_the_learning_rate_schedule() {
    resume_matches_uninterrupted(LrSchedule::cosine_decay());
}

#[test]
fn resume_continues_clipped_sgd() {
    resume_matches(TrainOptions {
        sgd: Some(SgdConfig { learning_rate: 0.1 }),
        clipnorm: Some(0.5),
        ..options(7)
    });
}

fn resume_matches_uninterrupted(lr_schedule: LrSchedule) {
    resume_matches(TrainOptions {
        lr_schedule,
        ..options(7)
    });
}

fn resume_matches(opts: TrainOptions) {
    let _rng = crate::torch_rng_lock();
    let (train, validation) = (synthetic(256, 5, false), synthetic(64, 6, false));
    let dir = tempfile::tempdir().unwrap();
    let mut straight = new_trainer(&small_lstm(), opts.clone()).unwrap();
    let expected = straight.fit(&train, &validation, 3, 32).unwrap();

    let mut opts = opts;
    opts.checkpoint_dir = Some(dir.path().to_owned());
    let mut first = new_trainer(&small_lstm(), opts).unwrap();
    first.fit_until(&train, &validation, 3, 32, 2).unwrap();
    drop(first);
    let mut resumed = Trainer::resume(dir.path(), Device::Cpu).unwrap();
    assert_eq!(resumed.history().len(), 2);
    let history = resumed.fit(&train, &validation, 3, 32).unwrap();
    assert_eq!(history.len(), 3);
    for (a, b) in history.epochs.iter().zip(&expected.epochs) {
        assert_eq!(
            (a.train_loss, a.train_accuracy, a.val_loss, a.val_accuracy),
            (b.train_loss, b.train_accuracy, b.val_loss, b.val_accuracy),
            "epoch {}",
            a.epoch
        );
        assert_eq!(a.gradients, b.gradients, "epoch {}", a.epoch);
    }
    // Only the newest checkpoint's tensors remain, and no temporary files.
    let mut names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["checkpoint.json", "epoch-0003.safetensors"]);
}

#[test]
fn nan_loss_stops_with_a_clear_error() {
    let _rng = crate::torch_rng_lock();
    let train = synthetic(64, 8, false);
    let images = train.images().copy();
    let _ = images.get(3).get(5).fill_(f64::NAN);
    let poisoned = Dataset::new(images, train.labels().shallow_clone(), 10).unwrap();
    let mut trainer = new_trainer(&small_lstm(), options(1)).unwrap();
    let err = trainer.fit(&poisoned, &train, 2, 16).unwrap_err();
    assert!(
        matches!(err, Error::NonFiniteLoss { epoch: 1, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("NaN"), "{err}");
}

#[test]
fn invalid_arguments_fail_before_training() {
    let _rng = crate::torch_rng_lock();
    let data = synthetic(32, 9, false);
    let empty = data.take(0);
    let mut trainer = new_trainer(&small_lstm(), options(1)).unwrap();
    let message = |r: Result<History>| r.unwrap_err().to_string();
    assert!(message(trainer.fit(&data, &data, 1, 0)).contains("batch_size"));
    assert!(message(trainer.fit(&data, &data, 0, 8)).contains("epochs"));
    assert!(message(trainer.fit(&empty, &data, 1, 8)).contains("training set"));
    assert!(message(trainer.fit(&data, &empty, 1, 8)).contains("validation set"));
    assert!(trainer.history().is_empty());
    let bad = TrainOptions {
        adam: AdamConfig {
            learning_rate: -1.0,
            ..Default::default()
        },
        ..options(1)
    };
    let err = new_trainer(&small_lstm(), bad).unwrap_err();
    assert!(err.to_string().contains("learning_rate"), "{err}");
    for clipnorm in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let bad = TrainOptions {
            clipnorm: Some(clipnorm),
            ..options(1)
        };
        let err = new_trainer(&small_lstm(), bad).unwrap_err();
        assert!(err.to_string().contains("clipnorm"), "{err}");
    }
}

#[test]
fn early_stopping_restores_the_best_weights() {
    let _rng = crate::torch_rng_lock();
    // Validation labels are the opposite of the training rule: the better the model learns
    // the training set, the worse its validation loss, so the best epoch is the first.
    let (train, validation) = (synthetic(512, 10, false), synthetic(128, 11, true));
    let opts = TrainOptions {
        early_stopping: Some(EarlyStopping {
            patience: 2,
            ..Default::default()
        }),
        ..options(12)
    };
    let mut trainer = new_trainer(&small_lstm(), opts).unwrap();
    let history = trainer.fit(&train, &validation, 20, 32).unwrap();
    assert!(trainer.stopped_early());
    let best = history
        .epochs
        .iter()
        .min_by(|a, b| a.val_loss.total_cmp(&b.val_loss))
        .unwrap();
    assert_eq!(history.len(), best.epoch + 2, "{history:?}");
    let (val_loss, _) = trainer.model().loss_and_accuracy(&validation).unwrap();
    assert!(
        (val_loss - best.val_loss).abs() < 1e-5,
        "{val_loss} vs {best:?}"
    );
}

#[test]
fn checkpoint_from_another_config_is_rejected() {
    let _rng = crate::torch_rng_lock();
    let dir = tempfile::tempdir().unwrap();
    let (_, trainer) = one_epoch_trainer(options(1));
    let weights = dir.path().join("weights.safetensors");
    trainer.model().save(&weights).unwrap();
    let mut other = Model::new(&ModelConfig::lstm(16, 0.0), 1, Device::Cpu).unwrap();
    let err = other.load_weights(&weights).unwrap_err().to_string();
    assert!(
        err.contains("shape") && err.contains("another model configuration"),
        "{err}"
    );

    fs::write(&weights, b"not a safetensors file").unwrap();
    let err = other.load_weights(&weights).unwrap_err().to_string();
    assert!(
        err.contains("truncated") || err.contains("safetensors"),
        "{err}"
    );
}

#[test]
fn accuracy_by_rows_grows_as_the_model_reads_more_rows() {
    let _rng = crate::torch_rng_lock();
    let (train, validation) = (synthetic(512, 20, false), synthetic(128, 21, false));
    let mut trainer = new_trainer(&small_lstm(), options(3)).unwrap();
    trainer.fit(&train, &validation, 6, 32).unwrap();
    let by_rows = trainer.model().accuracy_by_rows(&validation).unwrap();
    assert_eq!(by_rows.len(), 28);
    assert_eq!(by_rows[0].0, 1);
    // The class is written on rows 3 to 21: after 2 rows the model can only guess.
    let (early, full) = (by_rows[1].1, by_rows[27].1);
    assert!(early < 0.3 && full > 0.6, "{by_rows:?}");
    let (_, full_accuracy) = trainer.model().loss_and_accuracy(&validation).unwrap();
    assert!((full - full_accuracy).abs() < 1e-9);
    let probs = trainer
        .model()
        .probabilities_by_rows(&validation, &[0, 5])
        .unwrap();
    assert_eq!(
        (probs.len(), probs[0].len(), probs[0][0].len()),
        (2, 28, 10)
    );
}

#[test]
fn truncated_checkpoint_is_reported_on_resume() {
    let _rng = crate::torch_rng_lock();
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(1);
    opts.checkpoint_dir = Some(dir.path().to_owned());
    one_epoch_trainer(opts);
    let tensors = dir.path().join("epoch-0001.safetensors");
    let bytes = fs::read(&tensors).unwrap();
    fs::write(&tensors, &bytes[..bytes.len() / 2]).unwrap();
    let err = Trainer::resume(dir.path(), Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(err.contains("epoch-0001.safetensors"), "{err}");
}

#[test]
fn full_disk_while_saving_keeps_the_old_file_and_leaves_no_temp() {
    let _rng = crate::torch_rng_lock();
    let dir = tempfile::tempdir().unwrap();
    let (data, mut trainer) = one_epoch_trainer(options(1));
    let weights = dir.path().join("weights.safetensors");
    trainer.model().save(&weights).unwrap();
    let good = fs::read(&weights).unwrap();
    // The write goes to the temporary name first; making that a link to /dev/full makes
    // every write fail with ENOSPC, as on a full disk.
    let temp = crate::fsutil::temp_path(&weights);
    std::os::unix::fs::symlink("/dev/full", &temp).unwrap();
    trainer.fit(&data, &data, 2, 32).unwrap();
    let err = trainer.model().save(&weights).unwrap_err().to_string();
    assert!(err.contains("space") || err.contains("No space"), "{err}");
    assert_eq!(fs::read(&weights).unwrap(), good, "the old file is intact");
    assert!(!temp.exists() && fs::symlink_metadata(&temp).is_err());
}

#[test]
fn the_learning_rate_schedule_drives_the_updates() {
    let _rng = crate::torch_rng_lock();
    let outputs = |lr_schedule: LrSchedule| {
        let (data, trainer) = one_epoch_trainer(TrainOptions {
            lr_schedule,
            ..options(11)
        });
        trainer.model().forward_t(data.images(), false).unwrap()
    };
    let constant = outputs(LrSchedule::Constant);
    // alpha = 1 keeps the rate at its start: the same updates as a constant rate.
    let flat_cosine = outputs(LrSchedule::CosineDecay { alpha: 1.0 });
    // Over one epoch of two batches the second update runs at half the rate.
    let cosine = outputs(LrSchedule::cosine_decay());
    assert!(constant.allclose(&flat_cosine, 0.0, 0.0, false));
    assert!((&constant - &cosine).abs().max().double_value(&[]) > 1e-6);
}

#[test]
fn clipnorm_clips_the_gradients_the_updates_use() {
    let _rng = crate::torch_rng_lock();
    let outputs = |clipnorm: Option<f64>| {
        let (data, trainer) = one_epoch_trainer(TrainOptions {
            clipnorm,
            ..options(11)
        });
        trainer.model().forward_t(data.images(), false).unwrap()
    };
    let unclipped = outputs(None);
    // A limit no gradient reaches changes nothing; one every gradient exceeds changes the
    // updates (each batch's gradients rescaled by its own factor).
    let loose = outputs(Some(1e9));
    let tight = outputs(Some(1e-4));
    assert!(unclipped.allclose(&loose, 0.0, 0.0, false));
    assert!((&unclipped - &tight).abs().max().double_value(&[]) > 1e-6);
}

#[test]
fn each_epoch_records_its_gradient_sizes_and_the_clipped_batches() {
    let _rng = crate::torch_rng_lock();
    let (train, validation) = (synthetic(128, 5, false), synthetic(32, 6, false));
    let stats = |clipnorm: Option<f64>| {
        let mut trainer = new_trainer(
            &small_lstm(),
            TrainOptions {
                clipnorm,
                ..options(3)
            },
        )
        .unwrap();
        let history = trainer.fit(&train, &validation, 1, 32).unwrap();
        history.epochs[0].gradients.unwrap()
    };
    let free = stats(None);
    assert_eq!((free.batches, free.clipped_batches), (4, 0));
    assert!(
        free.largest_norm >= free.median_norm && free.median_norm > 0.0,
        "{free:?}"
    );
    // A limit below every batch's largest norm clips every batch; norms are measured before it.
    let clipped = stats(Some(free.largest_norm * 1e-3));
    assert_eq!(clipped.clipped_batches, 4);
    assert!(
        clipped.largest_norm > free.largest_norm * 1e-3,
        "{clipped:?}"
    );
}

#[test]
fn sgd_replaces_adam_and_says_so() {
    let _rng = crate::torch_rng_lock();
    let opts = TrainOptions {
        sgd: Some(SgdConfig { learning_rate: 0.3 }),
        clipnorm: Some(4.0),
        ..options(1)
    };
    assert_eq!(opts.optimizer_description(), "SGD 0.3, clipnorm 4");
    assert_eq!(options(1).optimizer_description(), "Adam 0.01");
    let bad = TrainOptions {
        sgd: Some(SgdConfig {
            learning_rate: -1.0,
        }),
        ..options(1)
    };
    let err = new_trainer(&small_lstm(), bad).unwrap_err();
    assert!(err.to_string().contains("SGD learning_rate"), "{err}");
}

#[test]
fn quick_look_trains_three_silent_epochs_on_at_most_12000_items() {
    let _rng = crate::torch_rng_lock();
    let data = crate::testutil::synthetic(40, 3, false);
    let (train, validation) = (
        data.take(30),
        data.select(&(30..40).collect::<Vec<_>>()).unwrap(),
    );
    let history = quick_look(
        &crate::model::ModelConfig::lstm(4, 0.15),
        &train.columns_as_steps(),
        &validation.columns_as_steps(),
        tch::Device::Cpu,
    )
    .unwrap();
    assert_eq!(history.len(), QUICK_LOOK_EPOCHS);
    assert!(history.epochs.iter().all(|e| e.val_loss.is_finite()));
}
