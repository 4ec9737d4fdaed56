//! Tables of runs: [`runs_table`], one row per run record, the same columns in every
//! rendering; [`predictions_table`] of a run's test predictions; [`gradient_sizes_table`] of
//! the gradients each epoch met; [`describe_split`].
use super::{RunRecord, RunSpec, TestMetrics};
use crate::table::{pct, thousands, Align, Table};

/// e.g. `shuffled 80/20` or `last 20% (Keras)`.
pub fn describe_split(spec: &RunSpec) -> String {
    let held_out = 100.0 * spec.split.validation_fraction;
    if spec.split.shuffle {
        format!("shuffled {:.0}/{held_out:.0}", 100.0 - held_out)
    } else {
        format!("last {held_out:.0}% (Keras)")
    }
}

/// The images a run trained on: its pool (60,000, or `train_limit`) less the validation ones.
fn train_images(r: &RunRecord) -> usize {
    let pool = r.spec.train_limit.map_or(60_000, |n| n.min(60_000));
    pool.saturating_sub(r.validation_images())
}

type Column = (&'static str, Align, fn(&RunRecord) -> String);

/// The columns of [`runs_table`], in order: one list, so that every rendering has the same
/// header and every row matches it.
const RUN_COLUMNS: [Column; 17] = [
    ("run", Align::Left, |r| r.spec.name.clone()),
    ("model", Align::Left, |r| r.spec.model.describe()),
    ("parameters", Align::Right, |r| thousands(r.parameters)),
    ("optimizer", Align::Left, |r| {
        r.spec.options.optimizer_description()
    }),
    ("epochs", Align::Right, |r| r.history.len().to_string()),
    ("batch", Align::Right, |r| r.spec.batch_size.to_string()),
    ("seed", Align::Right, |r| r.spec.options.seed.to_string()),
    ("split", Align::Left, |r| describe_split(&r.spec)),
    ("train images", Align::Right, |r| {
        thousands(train_images(r) as u64)
    }),
    // The kept weights' (last epoch, or the one early stopping restored): what runs are
    // compared by. The highest over epochs is biased upward, so it is not shown.
    ("val acc", Align::Right, |r| pct(r.kept_val_accuracy())),
    ("kept epoch", Align::Right, |r| r.kept_epoch().to_string()),
    ("test acc", Align::Right, |r| pct(r.test.accuracy)),
    ("test loss", Align::Right, |r| format!("{:.4}", r.test.loss)),
    ("s/epoch", Align::Right, |r| {
        format!("{:.1}", r.timings.seconds_per_epoch)
    }),
    ("train s", Align::Right, |r| {
        format!("{:.0}", r.timings.train_seconds)
    }),
    ("device", Align::Left, |r| r.device.clone()),
    ("key", Align::Left, |r| r.key.clone()),
];

/// One row per run, with the same columns in every rendering (notebook HTML, the CLI's text
/// summary, the Markdown report): run, model, parameters, optimizer, epochs (run, not planned),
/// batch, seed, split, train images (the pool less the validation images), best and final
/// validation accuracy, test accuracy and loss, seconds per epoch, training seconds, device
/// and the run's key.
pub fn runs_table<R: AsRef<RunRecord>>(records: &[R]) -> Table {
    let records: Vec<&RunRecord> = records.iter().map(|r| r.as_ref()).collect();
    Table {
        caption: "Runs".into(),
        header: RUN_COLUMNS.iter().map(|c| c.0.to_owned()).collect(),
        align: RUN_COLUMNS.iter().map(|c| c.1).collect(),
        rows: records
            .iter()
            .map(|r| RUN_COLUMNS.iter().map(|c| (c.2)(r)).collect())
            .collect(),
    }
}

/// One row per run and epoch: the optimizer, the median and the largest gradient norm over the
/// epoch's batches (each batch's largest parameter-gradient norm, before clipping), how many
/// batches `clipnorm` clipped, and the validation accuracy after the epoch. Epochs recorded
/// before gradients were measured show "-".
pub fn gradient_sizes_table<R: AsRef<RunRecord>>(records: &[R]) -> Table {
    let mut rows = Vec::new();
    for record in records.iter().map(|r| r.as_ref()) {
        for e in &record.history.epochs {
            let (median, largest, clipped) = match e.gradients {
                Some(g) => (
                    format!("{:.2}", g.median_norm),
                    format!("{:.1}", g.largest_norm),
                    format!("{} of {}", g.clipped_batches, g.batches),
                ),
                None => ("-".into(), "-".into(), "-".into()),
            };
            rows.push(vec![
                record.spec.name.clone(),
                record.spec.options.seed.to_string(),
                record.spec.options.optimizer_description(),
                e.epoch.to_string(),
                median,
                largest,
                clipped,
                pct(e.val_accuracy),
            ]);
        }
    }
    let header = [
        "run",
        "seed",
        "optimizer",
        "epoch",
        "median gradient norm",
        "largest gradient norm",
        "batches clipped",
        "val accuracy",
    ];
    let mut align = vec![Align::Right; header.len()];
    align[0] = Align::Left;
    align[2] = Align::Left;
    Table {
        caption:
            "Gradient sizes by epoch (each batch's largest parameter gradient, before clipping)"
                .into(),
        header: header.map(String::from).to_vec(),
        align,
        rows,
    }
}

/// The first `n` test images' true class, predicted class and the confidence of the
/// prediction, a row each; wrong predictions are marked.
pub fn predictions_table(test: &TestMetrics, n: usize) -> Table {
    let rows = test
        .labels
        .iter()
        .zip(&test.predictions)
        .zip(&test.confidences)
        .take(n)
        .enumerate()
        .map(|(i, ((label, predicted), confidence))| {
            vec![
                i.to_string(),
                label.to_string(),
                predicted.to_string(),
                format!("{confidence:.2}"),
                if label == predicted { "" } else { "wrong" }.to_owned(),
            ]
        })
        .collect();
    Table {
        caption: format!("The first {n} test images"),
        header: ["test image", "true", "predicted", "confidence", ""]
            .map(String::from)
            .to_vec(),
        align: vec![
            Align::Right,
            Align::Right,
            Align::Right,
            Align::Right,
            Align::Left,
        ],
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::escape;
    use crate::testutil::run_record;

    #[test]
    fn predictions_table_marks_the_wrong_ones() {
        let test = TestMetrics {
            loss: 0.1,
            accuracy: 0.5,
            predictions: vec![7, 3, 1],
            labels: vec![7, 2, 1],
            confidences: vec![0.99, 0.6, 0.8],
        };
        let table = predictions_table(&test, 2);
        assert_eq!(table.rows.len(), 2);
        assert_eq!(table.rows[1], ["1", "2", "3", "0.60", "wrong"]);
        assert_eq!(table.rows[0][4], "");
    }
    #[test]
    fn gradient_sizes_table_has_a_row_per_epoch() {
        use crate::training::GradientStats;
        let mut record = run_record("SimpleRNN 64", 4810, &[(0.5, 0.6), (0.7, 0.75)], 0.7, 6.0);
        record.spec = record.spec.clone().sgd(0.3).clipnorm(4.0);
        record.history.epochs[0].gradients = GradientStats::new(&[2.0, 3.0, 50.0], Some(4.0));
        let table = gradient_sizes_table(&[&record]);
        assert_eq!(table.rows.len(), 2);
        assert_eq!(
            table.rows[0].join(" / "),
            "SimpleRNN 64 / 42 / SGD 0.3, clipnorm 4 / 1 / 3.00 / 50.0 / 1 of 3 / 60.00%"
        );
        assert_eq!(table.rows[1][4..7], ["-", "-", "-"]);
    }

    #[test]
    fn runs_table_has_the_same_columns_in_every_rendering() {
        let a = run_record(
            "LSTM 32",
            8138,
            &[(0.95, 0.96), (0.98, 0.9839)],
            0.982,
            63.0,
        );
        let mut b = run_record("LSTM 256", 275_466, &[(0.99, 0.99)], 0.991, 300.0);
        b.spec = b.spec.cosine_decay(0.002);
        b.spec.split = crate::data::ValidationSplit::keras_tail(0.2);
        let table = runs_table(&[&a, &b]);
        assert_eq!(table.header.len(), 17);
        assert_eq!(table.align.len(), 17);
        assert!(table.rows.iter().all(|row| row.len() == 17));
        let header_line = format!("| {} |", table.header.join(" | "));
        assert!(table.to_markdown().contains(&header_line));
        let html = table.to_html();
        let text = table.to_text();
        for h in &table.header {
            assert!(html.contains(&format!(">{}</th>", escape(h))), "{h}");
            assert!(text.lines().nth(1).unwrap().contains(h.as_str()), "{h}");
        }
        let row = |i: usize| table.rows[i].join(" / ");
        // The kept epoch's validation accuracy and the epoch itself (the last of 2).
        assert!(
            row(0).contains(
                "8,138 / Adam 0.001 / 2 / 128 / 42 / shuffled 80/20 / 48,000 / 98.39% / 2 / 98.20%"
            ),
            "{}",
            row(0)
        );
        assert!(
            row(1).contains("Adam 0.002, cosine decay to 0 over the run"),
            "{}",
            row(1)
        );
        assert!(row(1).contains("last 20% (Keras)"), "{}", row(1));
    }
}
