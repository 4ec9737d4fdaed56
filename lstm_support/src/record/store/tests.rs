use super::*;
use crate::model::ModelConfig;
use crate::testutil::run_record;

/// A record and a model of its spec. (Building a model seeds libtorch's global generator:
/// callers hold [`crate::torch_rng_lock`].)
fn recorded(parameters: i64) -> (RunRecord, Model) {
    let record = run_record("LSTM 32", parameters, &[(0.5, 0.4), (0.7, 0.6)], 0.6, 2.0);
    let model = Model::new(&record.spec.model, 42, Device::Cpu).unwrap();
    (record, model)
}

#[test]
fn a_saved_run_is_found_by_its_spec() {
    let _rng = crate::torch_rng_lock();
    let runs = tempfile::tempdir().unwrap();
    let store = RunStore::new(runs.path());
    let (record, model) = recorded(4_554);
    assert!(store.find(&record.spec, Device::Cpu).unwrap().is_none());
    let dir = store.save(&record, &model).unwrap();
    assert_eq!(dir, store.run_dir(&record.spec));
    assert!(dir.join(MODEL_FILE).is_file() && dir.join(RECORD_FILE).is_file());
    let found = store.find(&record.spec, Device::Cpu).unwrap().unwrap();
    assert!(found.reused);
    assert_eq!(found.dir, dir);
    assert_eq!(found.record, record);
    assert_eq!(found.model.config(), model.config());
    // Another seed is another run.
    let other = record.spec.clone().seed(7);
    assert!(store.find(&other, Device::Cpu).unwrap().is_none());
}

#[test]
fn a_run_whose_model_file_holds_another_model_is_refused() {
    let _rng = crate::torch_rng_lock();
    let runs = tempfile::tempdir().unwrap();
    let store = RunStore::new(runs.path());
    let (record, _) = recorded(4_554);
    let other = Model::new(&ModelConfig::lstm(8, 0.15), 42, Device::Cpu).unwrap();
    store.save(&record, &other).unwrap();
    let err = store
        .find(&record.spec, Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("another model") && err.contains("delete the directory"),
        "{err}"
    );
}

#[test]
fn a_checkpoint_alone_is_no_finished_run_and_can_be_discarded() {
    let _rng = crate::torch_rng_lock();
    let runs = tempfile::tempdir().unwrap();
    let store = RunStore::new(runs.path());
    let (record, _) = recorded(4_554);
    let checkpoint_dir = store.checkpoint_dir(&record.spec);
    assert!(checkpoint_dir.starts_with(store.run_dir(&record.spec)));
    fs::create_dir_all(&checkpoint_dir).unwrap();
    fs::write(checkpoint_dir.join("state.json"), "{}").unwrap();
    assert!(store.find(&record.spec, Device::Cpu).unwrap().is_none());
    store.discard_checkpoint(&record.spec).unwrap();
    assert!(!checkpoint_dir.exists());
    // Nothing to discard is no error.
    store.discard_checkpoint(&record.spec).unwrap();
}

#[test]
fn a_run_directory_opens_with_its_model_file_or_version_1_weights() {
    let _rng = crate::torch_rng_lock();
    let runs = tempfile::tempdir().unwrap();
    let store = RunStore::new(runs.path());
    let (record, model) = recorded(4_554);
    let dir = store.save(&record, &model).unwrap();
    let opened = Run::open(&dir, Device::Cpu).unwrap();
    assert_eq!(opened.record, record);
    assert_eq!(opened.name(), "LSTM 32");
    // A version-1 run: weights under VarStore names instead of the model file (of other
    // weights than the spec's seed draws, to see that they are read).
    fs::remove_file(dir.join(MODEL_FILE)).unwrap();
    let trained = Model::new(&record.spec.model, 5, Device::Cpu).unwrap();
    tch::Tensor::write_safetensors(&trained.weights_copy(), dir.join(version1::WEIGHTS_FILE))
        .unwrap();
    let opened = Run::open(&dir, Device::Cpu).unwrap();
    let pairs = opened
        .model
        .weights_copy()
        .into_iter()
        .zip(trained.weights_copy());
    for ((name, a), (_, b)) in pairs {
        assert!(a.equal(&b), "{name}");
    }
    // Neither: said so, with what to do.
    fs::remove_file(dir.join(version1::WEIGHTS_FILE)).unwrap();
    let err = Run::open(&dir, Device::Cpu).unwrap_err().to_string();
    assert!(
        err.contains(MODEL_FILE) && err.contains("delete the directory"),
        "{err}"
    );
}

#[test]
fn a_quick_look_is_kept_under_its_key() {
    let runs = tempfile::tempdir().unwrap();
    let store = RunStore::new(runs.path());
    assert!(store.kept_quick_look("0123").unwrap().is_none());
    let history = run_record("x", 1, &[(0.5, 0.4)], 0.4, 1.0).history;
    store.keep_quick_look("0123", &history).unwrap();
    assert!(runs.path().join("quick-looks/0123.json").is_file());
    assert_eq!(store.kept_quick_look("0123").unwrap(), Some(history));
}
