use super::*;
use crate::data::ValidationSplit;
use crate::record::{version1, MODEL_FILE, RECORD_FILE, RECORD_FORMAT};
use crate::training::{EarlyStopping, Progress};

fn tiny_spec() -> RunSpec {
    let mut spec = RunSpec::new("tiny", ModelConfig::lstm(8, 0.15))
        .cosine_decay(2e-3)
        .epochs(2)
        .batch_size(32);
    spec.options.progress = Progress::Silent;
    spec
}

fn session(runs: &Path) -> Session {
    Session::new(Device::Cpu, runs).with_data(crate::testutil::synthetic_mnist(200, 50))
}

#[test]
fn a_finished_run_is_reused_unless_retraining_is_asked_for() {
    let _rng = crate::torch_rng_lock();
    let runs = tempfile::tempdir().unwrap();
    let spec = tiny_spec();
    let first = session(runs.path()).run(&spec).unwrap();
    assert!(!first.reused);
    assert_eq!(first.record.history.len(), 2);
    assert_eq!(first.record.test.predictions.len(), 50);
    assert_eq!(first.record.parameters, 8 * 4 * (28 + 8 + 1) + 90);
    assert_eq!(first.record.key, spec.key());
    assert!(first.dir.join(MODEL_FILE).is_file());
    assert!(!first.dir.join("checkpoint").exists());
    let again = session(runs.path()).run(&spec).unwrap();
    assert!(again.reused);
    assert_eq!(again.record, first.record);
    // The reloaded model gives the recorded test accuracy.
    let mnist = crate::testutil::synthetic_mnist(200, 50);
    let evaluation = again.model.evaluate(&mnist.test).unwrap();
    assert!((evaluation.accuracy - first.record.test.accuracy).abs() < 1e-12);
    let retrained = session(runs.path()).retrain(true).run(&spec).unwrap();
    assert!(!retrained.reused);
    assert_eq!(
        retrained.record.test, first.record.test,
        "the same seeds give the same run"
    );
}

#[test]
fn quick_mode_runs_a_smaller_run_under_its_own_key() {
    let _rng = crate::torch_rng_lock();
    let runs = tempfile::tempdir().unwrap();
    let mut spec = tiny_spec();
    spec.epochs = 5;
    let quick = session(runs.path()).quick(true);
    assert_eq!(quick.spec(&spec).epochs, 2);
    assert_ne!(quick.spec(&spec).key(), spec.key());
    let run = quick.run(&spec).unwrap();
    assert_eq!(run.record.history.len(), 2);
    assert_eq!(run.record.spec.train_limit, Some(3000));
    assert_eq!(quick.test_set(&spec).unwrap().len(), 50);
}

/// Rewrites a finished run the way version 1 stored it: under its version-1 key, weights in
/// `weights.safetensors` under VarStore names, a format-1 record with the old layer form.
fn make_version_1(run: &Run, spec: &RunSpec, runs: &Path) -> PathBuf {
    // Under another name: the key finds it.
    let old_dir = runs.join(format!("old-name-{}", spec.legacy_key_v1()));
    fs::rename(&run.dir, &old_dir).unwrap();
    fs::remove_file(old_dir.join(MODEL_FILE)).unwrap();
    tch::Tensor::write_safetensors(
        &run.model.weights_copy(),
        old_dir.join(version1::WEIGHTS_FILE),
    )
    .unwrap();
    let json = fs::read_to_string(old_dir.join(RECORD_FILE)).unwrap();
    let old = json
        .replace("\"format_version\": 2", "\"format_version\": 1")
        .replace(
            "\"type\": \"recurrent\",\n          \"cell\": \"lstm\",",
            "\"type\": \"lstm\",",
        );
    assert!(old.contains("\"type\": \"lstm\""), "{old}");
    fs::write(old_dir.join(RECORD_FILE), old).unwrap();
    old_dir
}

#[test]
fn a_run_recorded_by_version_1_is_moved_and_reused_not_retrained() {
    let _rng = crate::torch_rng_lock();
    let runs = tempfile::tempdir().unwrap();
    let spec = tiny_spec();
    let first = session(runs.path()).run(&spec).unwrap();
    let old_dir = make_version_1(&first, &spec, runs.path());
    assert!(!first.dir.exists());
    let migrated = session(runs.path()).run(&spec).unwrap();
    assert!(migrated.reused);
    assert_eq!(migrated.dir, first.dir);
    assert!(!old_dir.exists());
    assert!(migrated.dir.join(MODEL_FILE).is_file());
    assert!(!migrated.dir.join(version1::WEIGHTS_FILE).exists());
    assert_eq!(migrated.record.key, spec.key());
    assert_eq!(migrated.record.format_version, RECORD_FORMAT);
    assert_eq!(migrated.record.history, first.record.history);
    assert_eq!(migrated.record.test, first.record.test);
    let mnist = crate::testutil::synthetic_mnist(200, 50);
    let evaluation = migrated.model.evaluate(&mnist.test).unwrap();
    assert!((evaluation.accuracy - first.record.test.accuracy).abs() < 1e-12);
    // From now on it is found under its own key.
    assert!(session(runs.path()).run(&spec).unwrap().reused);
}

#[test]
fn the_session_line_shows_no_absolute_path() {
    let line = Session::new(Device::Cpu, default_runs_dir()).describe();
    assert!(line.contains("runs in runs/"), "{line}");
    assert!(
        !line.contains(&crate::fsutil::project_root().display().to_string()),
        "{line}"
    );
}

#[test]
fn bad_specs_fail_before_training() {
    // The synthetic data seeds libtorch's generator.
    let _rng = crate::torch_rng_lock();
    let runs = tempfile::tempdir().unwrap();
    let mut spec = tiny_spec();
    spec.epochs = 0;
    let err = session(runs.path()).run(&spec).unwrap_err().to_string();
    assert!(err.contains("epochs"), "{err}");
    assert!(
        fs::read_dir(runs.path()).unwrap().next().is_none(),
        "nothing written"
    );
}

/// The builders set any value; the ones a run cannot use fail in `run`, before anything trains
/// or is written.
#[test]
fn out_of_range_builder_values_fail_before_training() {
    // The synthetic data seeds libtorch's generator.
    let _rng = crate::torch_rng_lock();
    let runs = tempfile::tempdir().unwrap();
    let bad_split = ValidationSplit {
        validation_fraction: 1.5,
        ..Default::default()
    };
    let cases = [
        (tiny_spec().epochs(0), "epochs"),
        (tiny_spec().batch_size(0), "batch_size"),
        (tiny_spec().learning_rate(-1.0), "learning_rate"),
        (tiny_spec().cosine_decay(0.0), "learning_rate"),
        (tiny_spec().split(bad_split), "validation_fraction"),
    ];
    for (spec, named) in cases {
        let err = session(runs.path()).run(&spec).unwrap_err().to_string();
        assert!(err.contains(named), "{named}: {err}");
    }
    // The other builders set what they name.
    let spec = tiny_spec()
        .seed(7)
        .early_stopping(EarlyStopping::default())
        .train_limit(100)
        .test_limit(20);
    assert_eq!(spec.options.seed, 7);
    assert_eq!(spec.options.early_stopping, Some(EarlyStopping::default()));
    assert_eq!((spec.train_limit, spec.test_limit), (Some(100), Some(20)));
    assert!(
        fs::read_dir(runs.path()).unwrap().next().is_none(),
        "nothing written"
    );
}

#[test]
fn run_seeds_trains_one_run_per_seed_and_reuses_them() {
    let _rng = crate::torch_rng_lock();
    let runs = tempfile::tempdir().unwrap();
    let spec = tiny_spec();
    let records = session(runs.path()).run_seeds(&spec, &[1, 2]).unwrap();
    let seeds: Vec<u64> = records.iter().map(|r| r.spec.options.seed).collect();
    assert_eq!(seeds, [1, 2]);
    assert_ne!(records[0].key, records[1].key);
    assert!(records.iter().all(|r| r.spec.name == spec.name));
    let again = session(runs.path()).run_seeds(&spec, &[2]).unwrap();
    assert_eq!(again[0].finished_at, records[1].finished_at);
}

#[test]
fn a_quick_look_is_kept_and_shown_again_until_its_config_or_data_changes() {
    let _rng = crate::torch_rng_lock();
    let runs = tempfile::tempdir().unwrap();
    let session = session(runs.path());
    let (train, validation) = session.split(&tiny_spec()).unwrap();
    let config = ModelConfig::lstm(4, 0.15);
    let first = session.quick_look(&config, &train, &validation).unwrap();
    let kept: Vec<_> = fs::read_dir(runs.path().join("quick-looks"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    // The kept history is returned as it was: replace it to see that nothing retrains.
    let mut altered = first.clone();
    altered.epochs[0].val_loss = 123.0;
    fs::write(&kept[0], serde_json::to_string(&altered).unwrap()).unwrap();
    assert_eq!(
        session.quick_look(&config, &train, &validation).unwrap(),
        altered
    );
    // Another view of the data, another config, or RETRAIN=1: trained anew.
    let columns = session
        .quick_look(
            &config,
            &train.columns_as_steps(),
            &validation.columns_as_steps(),
        )
        .unwrap();
    assert_ne!(columns, first);
    let other = session
        .quick_look(&ModelConfig::lstm(4, 0.0), &train, &validation)
        .unwrap();
    assert_ne!(other, first);
    let again = Session::new(Device::Cpu, runs.path())
        .with_data(crate::testutil::synthetic_mnist(200, 50))
        .retrain(true)
        .quick_look(&config, &train, &validation)
        .unwrap();
    let losses = |h: &History| h.epochs.iter().map(|e| e.val_loss).collect::<Vec<_>>();
    assert_eq!(
        losses(&again),
        losses(&first),
        "the same seed gives the same look"
    );
    // A damaged file is named, with what to do.
    fs::write(&kept[0], "{").unwrap();
    let message = session
        .quick_look(&config, &train, &validation)
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("quick-looks") && message.contains("delete the file"),
        "{message}"
    );
}

#[test]
fn a_remembering_result_is_kept_and_shown_again_until_its_config_changes() {
    let _rng = crate::torch_rng_lock();
    let runs = tempfile::tempdir().unwrap();
    let session = session(runs.path());
    let experiment = RememberingExperiment::default()
        .with_task(
            crate::data::RememberingTask::default()
                .with_sizes(40, 20)
                .with_seed(9),
        )
        .with_steps(&[4])
        .with_cells(&[crate::nn::CellKind::Gru])
        .with_units(4)
        .with_budget(1, 16, 0.01)
        .with_gradient_items(8);
    let first = session.remembering(&experiment).unwrap();
    let folder = runs.path().join("remembering");
    let kept: Vec<_> = fs::read_dir(&folder)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(kept[0].ends_with(format!("{}.json", experiment.key().unwrap())));
    // The kept result is returned as it was: alter it to see that nothing trains again.
    let mut altered = first.clone();
    altered.rows[0].accuracy = 0.123;
    fs::write(&kept[0], serde_json::to_string(&altered).unwrap()).unwrap();
    assert_eq!(session.remembering(&experiment).unwrap(), altered);
    // Another setting, or RETRAIN=1: run anew (and the same seed gives the same numbers).
    let other = experiment.clone().with_units(5);
    assert_ne!(other.key().unwrap(), experiment.key().unwrap());
    let retrained_other = session.remembering(&other).unwrap();
    assert_eq!(retrained_other.experiment.units, 5);
    assert_eq!(fs::read_dir(&folder).unwrap().count(), 2);
    let again = Session::new(Device::Cpu, runs.path())
        .retrain(true)
        .remembering(&experiment)
        .unwrap();
    assert_eq!(again.rows[0].accuracy, first.rows[0].accuracy);
    assert_eq!(again.rows[0].reach, first.rows[0].reach);
    // A damaged file is named, with what to do.
    fs::write(&kept[0], "{").unwrap();
    let message = session.remembering(&experiment).unwrap_err().to_string();
    assert!(
        message.contains("remembering") && message.contains("delete the file"),
        "{message}"
    );
}
