use super::*;

/// A tiny experiment: T = 5, 60 training and 40 validation sequences, 4 units, 2 epochs.
pub(crate) fn tiny() -> RememberingExperiment {
    RememberingExperiment::default()
        .with_task(RememberingTask::default().with_sizes(60, 40).with_seed(5))
        .with_steps(&[5])
        .with_units(4)
        .with_budget(2, 16, 0.01)
        .with_gradient_items(10)
}

#[test]
fn a_tiny_experiment_measures_every_cell() {
    let _rng = crate::torch_rng_lock();
    let result = tiny().run(Device::Cpu).unwrap();
    assert_eq!(result.rows.len(), 3);
    for row in &result.rows {
        assert_eq!(row.steps, 5);
        assert_eq!(row.history.len(), 2);
        assert!((0.0..=1.0).contains(&row.accuracy));
        assert!(row.reach.trained > 0.0 && row.reach.initial > 0.0);
        assert_eq!(row.reach.steps, 5);
    }
}

#[test]
fn a_bad_experiment_says_what_to_change_before_training() {
    let message =
        |experiment: RememberingExperiment| experiment.validate().unwrap_err().to_string();
    assert!(message(tiny().with_steps(&[])).contains("give at least one T"));
    assert!(message(tiny().with_cells(&[])).contains("give at least one cell"));
    assert!(message(tiny().with_steps(&[5, 5])).contains("each T and each cell once"));
    let twice = tiny().with_cells(&[CellKind::Gru, CellKind::Lstm, CellKind::Gru]);
    assert!(message(twice).contains("each T and each cell once"));
    assert!(message(tiny().with_steps(&[5, 0])).contains("steps"));
    let too_many_classes = tiny().with_task(RememberingTask::default().with_features(8));
    assert!(message(too_many_classes).contains("10 classes for 8 features"));
    assert!(message(tiny().with_budget(0, 16, 0.01)).contains("epochs"));
    assert!(message(tiny().with_budget(1, 0, 0.01)).contains("batch_size"));
    assert!(message(tiny().with_budget(1, 16, -1.0)).contains("learning_rate"));
    assert!(message(tiny().with_gradient_items(0)).contains("gradient_items"));
    assert!(message(tiny().with_units(0)).contains("units"));
    // `run` checks first: nothing trains.
    assert!(tiny().with_steps(&[]).run(Device::Cpu).is_err());
}

#[test]
fn the_key_changes_with_every_setting() {
    let key = |e: RememberingExperiment| e.key().unwrap();
    let base = key(tiny());
    assert_eq!(base.len(), 16);
    assert_eq!(key(tiny()), base);
    for other in [
        tiny().with_steps(&[6]),
        tiny().with_units(5),
        tiny().with_seed(1),
        tiny().with_budget(2, 16, 0.02),
        tiny().with_task(RememberingTask::default().with_sizes(60, 40).with_seed(6)),
        tiny().with_cells(&[CellKind::Lstm]),
    ] {
        assert_ne!(key(other), base);
    }
}

fn row(cell: CellKind, steps: usize, accuracy: f64, trained: f64) -> RememberingRow {
    RememberingRow {
        cell,
        steps,
        accuracy,
        reach: GradientReach {
            name: format!("{} 32", cell.keras_name()),
            trained,
            initial: trained / 10.0,
            steps,
        },
        history: History::default(),
        seconds: 1.0,
    }
}

/// A result as the full experiment might give it, at T = 10 and 300.
fn measured() -> RememberingResult {
    use CellKind::{Gru, Lstm, SimpleRnn};
    RememberingResult {
        experiment: RememberingExperiment::default().with_steps(&[10, 300]),
        validation_items: 1000,
        rows: vec![
            row(SimpleRnn, 10, 0.99, 1e-2),
            row(Gru, 10, 0.995, 0.5),
            row(Lstm, 10, 0.985, 0.3),
            row(SimpleRnn, 300, 0.112, 1e-30),
            row(Gru, 300, 0.95, 0.2),
            row(Lstm, 300, 0.07, 1e-9),
        ],
        seconds: 80.0,
    }
}

#[test]
fn the_sentences_judge_every_difference_against_its_noise() {
    let result = measured();
    assert_eq!(result.chance(), 0.1);
    assert_eq!(result.accuracy(CellKind::Gru, 300), Some(0.95));
    assert_eq!(result.accuracy(CellKind::Gru, 30), None);
    // 11.2% on 1,000: SE 1.0 point, so 1.2 points above chance is within 2 SE.
    assert_eq!(result.against_chance(0.112), AgainstChance::AtChance);
    assert_eq!(result.against_chance(0.15), AgainstChance::Above);
    assert_eq!(result.against_chance(0.07), AgainstChance::Below);
    let text = result.to_string();
    assert!(
        text.contains("- Chance is 10.00% (10 balanced classes)"),
        "{text}"
    );
    assert!(text.contains("at most 1.00 points"), "{text}");
    assert!(
        text.contains("trained with one seed, so the spread between seeds is not measured"),
        "{text}"
    );
    assert!(
        text.contains("- SimpleRNN 32: 99.00% at T = 10, 11.20% at T = 300 (no measurable difference from chance)."),
        "{text}"
    );
    assert!(text.contains("7.00% at T = 300 (below chance)"), "{text}");
    // At T = 10 the cells agree within noise; at T = 300 they do not.
    assert!(
        text.contains("- At T = 10, against SimpleRNN 32: GRU 32 no measurable difference (±0.77-point noise), LSTM 32 no measurable difference"),
        "{text}"
    );
    assert!(
        text.contains("- At T = 300, against SimpleRNN 32: GRU 32 +83.80 points"),
        "{text}"
    );
    assert!(text.contains("LSTM 32 -4.20 points"), "{text}");
    assert!(
        text.contains(
            "SimpleRNN 32 1.0e-2 at T = 10 (1.0e-3 at initialisation), 1.0e-30 at T = 300"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "from one seed, trained on 2,000 sequences (steps of 16 numbers) for 10 epochs each \
             (80 s in all)"
        ),
        "{text}"
    );
}

#[test]
fn the_table_has_a_row_per_length_and_a_column_per_cell_and_measure() {
    let table = measured().table();
    assert_eq!(table.header.len(), 10);
    assert_eq!(table.header[1], "SimpleRNN 32 accuracy");
    assert_eq!(table.header[5], "GRU 32 reach, trained");
    assert_eq!(table.header[9], "LSTM 32 reach, initial");
    assert_eq!(table.rows.len(), 2);
    assert_eq!(
        table.rows[1],
        [
            "300", "11.20%", "95.00%", "7.00%", "1.0e-30", "2.0e-1", "1.0e-9", "1.0e-31", "2.0e-2",
            "1.0e-10"
        ]
    );
    assert!(table.caption.contains("1,000 sequences (chance 10.00%)"));
    // A result written as JSON reads back equal (what the session keeps).
    let json = serde_json::to_string(&measured()).unwrap();
    assert_eq!(
        serde_json::from_str::<RememberingResult>(&json).unwrap(),
        measured()
    );
}

#[test]
fn the_chrono_initialisation_sets_the_gates_that_keep_the_state() {
    let _rng = crate::torch_rng_lock();
    let experiment = tiny().with_steps(&[5, 40]);
    let units = experiment.units as i64;
    for cell in [CellKind::Lstm, CellKind::Gru, CellKind::SimpleRnn] {
        let model = Model::new(&experiment.model_config(cell, 40), 1, Device::Cpu).unwrap();
        let before = model.variables()["layer0.bias_ih"].copy();
        experiment.chrono(&model, cell).unwrap();
        let bias = model.variables()["layer0.bias_ih"].copy();
        let gate =
            |t: &tch::Tensor, k: i64| Vec::<f32>::try_from(t.narrow(0, k * units, units)).unwrap();
        if cell == CellKind::SimpleRnn {
            assert!(bias.equal(&before));
            continue;
        }
        // The gate that keeps the state (LSTM forget, GRU update): log(u), u in [1, 39].
        let keep = gate(&bias, 1);
        assert!(
            keep.iter().all(|&b| (0.0..=39f32.ln()).contains(&b)),
            "{keep:?}"
        );
        assert!(
            keep.iter().any(|&b| b != keep[0]),
            "drawn per unit: {keep:?}"
        );
        match cell {
            CellKind::Lstm => {
                let input: Vec<f32> = gate(&bias, 0);
                assert_eq!(input, keep.iter().map(|b| -b).collect::<Vec<_>>());
                assert_eq!(gate(&bias, 2), gate(&before, 2));
                assert_eq!(gate(&bias, 3), gate(&before, 3));
            }
            _ => {
                assert_eq!(gate(&bias, 0), gate(&before, 0));
                assert_eq!(gate(&bias, 2), gate(&before, 2));
            }
        }
    }
    // Left out of the key's JSON when off, so the setting changes the key.
    assert_ne!(
        tiny().key().unwrap(),
        tiny().with_chrono_init(false).key().unwrap()
    );
}
