//! Every figure type rendered from small synthetic data: the PNG decodes, has the requested
//! size and is not blank; the SVG is an SVG; evcxr gets a base64 PNG.
use super::{
    accuracy_by_rows, compare_records, compare_runs, confusion_heatmap, gallery, gate_traces,
    gradient_norms, history_curves, prediction, reading_row_by_row, Figure, GalleryItem,
};
use crate::metrics::ConfusionMatrix;
use crate::model::Model;
use crate::record::RunRecord;
use crate::testutil::{run_record, RunLike};
use crate::training::{EpochMetrics, History};

fn history(n: usize) -> History {
    History {
        epochs: (1..=n)
            .map(|e| EpochMetrics {
                epoch: e,
                train_loss: 1.0 / e as f64,
                train_accuracy: 1.0 - 0.5 / e as f64,
                val_loss: 1.2 / e as f64,
                val_accuracy: 1.0 - 0.6 / e as f64,
                seconds: 2.0,
            })
            .collect(),
    }
}

fn digit(seed: usize) -> Vec<f32> {
    (0..784)
        .map(|i| {
            if (i / 28 + seed).is_multiple_of(5) && i % 28 > 6 && i % 28 < 20 {
                1.0
            } else {
                0.0
            }
        })
        .collect()
}

/// Decodes the PNG and returns (width, height, share of non-white pixels).
fn inspect(figure: &Figure) -> (u32, u32, f64) {
    let png_bytes = figure.to_png().unwrap();
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let pixels = &buf[..info.buffer_size()];
    let inked = pixels
        .chunks(3)
        .filter(|p| p.iter().any(|&c| c < 250))
        .count();
    (
        info.width,
        info.height,
        inked as f64 / (info.width * info.height) as f64,
    )
}

fn check(figure: &Figure, min_ink: f64) {
    let (w, h, ink) = inspect(figure);
    assert_eq!((w, h), figure.size());
    assert!(ink > min_ink, "the figure is (nearly) blank: {ink}");
    let svg = figure.to_svg().unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("</svg>"));
}

fn names() -> Vec<String> {
    (0..10).map(|d| d.to_string()).collect()
}

#[test]
fn history_curves_render() {
    check(&history_curves(&history(10), "LSTM(32)").unwrap(), 0.02);
    assert!(history_curves(&History::default(), "empty").is_err());
}

#[test]
fn run_comparison_renders() {
    let (a, b) = (history(10), history(5));
    check(
        &compare_runs(&[("32 units", &a), ("256 units", &b)], "sweep").unwrap(),
        0.02,
    );
    assert!(compare_runs::<&str, &History>(&[], "none").is_err());
}

#[test]
fn records_and_runs_compare_as_their_histories() {
    let records = [
        run_record("LSTM 32", 8138, &[(0.9, 0.91), (0.95, 0.96)], 0.95, 20.0),
        run_record("GRU 32", 6282, &[(0.8, 0.85), (0.9, 0.93)], 0.92, 30.0),
    ];
    let pixels = |figure: Figure| figure.to_rgb().unwrap();
    let of_histories = pixels(
        compare_runs(
            &[
                ("LSTM 32", &records[0].history),
                ("GRU 32", &records[1].history),
            ],
            "family",
        )
        .unwrap(),
    );
    assert_eq!(
        pixels(compare_records(&records, "family").unwrap()),
        of_histories
    );
    let runs = records.clone().map(RunLike::from);
    assert_eq!(
        pixels(compare_records(&runs, "family").unwrap()),
        of_histories
    );
    assert_eq!(
        pixels(compare_records(&[&runs[0], &runs[1]], "family").unwrap()),
        of_histories
    );
    assert!(compare_records::<RunRecord>(&[], "none").is_err());
}

#[test]
fn confusion_heatmap_renders() {
    let labels: Vec<i64> = (0..200).map(|i| i % 10).collect();
    let predictions: Vec<i64> = labels.iter().map(|&l| if l == 3 { 5 } else { l }).collect();
    let matrix = ConfusionMatrix::new(&labels, &predictions, &names()).unwrap();
    check(&confusion_heatmap(&matrix, "test set").unwrap(), 0.1);
}

#[test]
fn galleries_render() {
    let items: Vec<GalleryItem> = (0..12)
        .map(|i| GalleryItem {
            pixels: digit(i),
            caption: format!("true {i} -> pred 1 (0.93)"),
            highlight: i % 2 == 0,
        })
        .collect();
    check(&gallery(items, 6, "misclassified").unwrap(), 0.05);
    let bad = GalleryItem {
        pixels: vec![0.0; 10],
        caption: String::new(),
        highlight: false,
    };
    assert!(gallery(vec![bad], 1, "bad")
        .unwrap_err()
        .to_string()
        .contains("784"));
}

#[test]
fn reading_row_by_row_renders() {
    let _rng = crate::torch_rng_lock();
    let data = crate::testutil::synthetic(4, 3, false);
    let model = Model::new(
        &crate::model::ModelConfig::lstm(8, 0.0),
        1,
        tch::Device::Cpu,
    )
    .unwrap();
    let figure = reading_row_by_row(&model, &data, &[0, 2], "reading").unwrap();
    assert!(reading_row_by_row(&model, &data, &[], "none").is_err());
    assert!(reading_row_by_row(&model, &data, &[9], "out of range").is_err());
    check(&figure, 0.05);
    let points: Vec<(usize, f64)> = (1..=28).map(|k| (k, k as f64 / 28.0)).collect();
    check(
        &accuracy_by_rows(&[("LSTM", &points)], "accuracy by rows").unwrap(),
        0.02,
    );
}

#[test]
fn evcxr_gets_a_base64_png() {
    use base64::Engine;
    let text = history_curves(&history(3), "t")
        .unwrap()
        .evcxr_display_text()
        .unwrap();
    let body = text
        .strip_prefix("EVCXR_BEGIN_CONTENT image/png\n")
        .and_then(|t| t.strip_suffix("\nEVCXR_END_CONTENT\n"))
        .expect("evcxr content markers");
    let png_bytes = base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap();
    assert_eq!(&png_bytes[..8], b"\x89PNG\r\n\x1a\n");
}

#[test]
fn saves_png_and_svg_files() {
    let dir = tempfile::tempdir().unwrap();
    let figure = history_curves(&history(3), "t").unwrap();
    figure.save_png(dir.path().join("a.png")).unwrap();
    figure.save_svg(dir.path().join("a.svg")).unwrap();
    assert!(std::fs::metadata(dir.path().join("a.png")).unwrap().len() > 1000);
    assert!(std::fs::read_to_string(dir.path().join("a.svg"))
        .unwrap()
        .contains("<svg"));
}

#[test]
fn gate_traces_draw_every_cell_and_refuse_a_cnn() {
    let _rng = crate::torch_rng_lock();
    let data = crate::testutil::synthetic(4, 2, false);
    for cell in crate::nn::CellKind::ALL {
        let model = Model::new(
            &crate::model::ModelConfig::recurrent(cell, 12, 0.15),
            0,
            tch::Device::Cpu,
        )
        .unwrap();
        let figure = gate_traces(&model, &data, &[0, 3], "gates").unwrap();
        let (w, h) = figure.size();
        assert!(w > 400 && h > 250, "{cell:?}: {w}x{h}");
        assert!(!figure.to_png().unwrap().is_empty());
        assert!(gate_traces(&model, &data, &[], "none").is_err());
    }
    let cnn = Model::new(&crate::model::ModelConfig::cnn(), 0, tch::Device::Cpu).unwrap();
    assert!(gate_traces(&cnn, &data, &[0], "cnn").is_err());
}

#[test]
fn gradient_norms_draw_on_a_log_axis() {
    let trained: Vec<f64> = (0..28).map(|t| 10f64.powi(t / 4 - 7)).collect();
    let initial = vec![1e-3; 28];
    let figure = gradient_norms(&[("LSTM", &trained, &initial)], "gradients").unwrap();
    assert!(!figure.to_png().unwrap().is_empty());
    assert!(gradient_norms::<&str, &[f64]>(&[], "none").is_err());
    assert!(gradient_norms(&[("LSTM", &[][..], &initial[..])], "empty").is_err());
}

#[test]
fn a_prediction_shows_the_digit_and_its_probabilities() {
    let _rng = crate::torch_rng_lock();
    let data = crate::testutil::synthetic(3, 4, false);
    let model = Model::new(
        &crate::model::ModelConfig::lstm(8, 0.15),
        0,
        tch::Device::Cpu,
    )
    .unwrap();
    let figure = prediction(&model, &data, 2, "one digit").unwrap();
    assert_eq!(figure.size(), (760, 300));
    assert!(!figure.to_png().unwrap().is_empty());
    assert!(prediction(&model, &data, 3, "out of range").is_err());
}

#[test]
fn the_remembering_figure_draws_accuracy_against_length() {
    use crate::analysis::RememberingExperiment;
    use crate::data::RememberingTask;
    let _rng = crate::torch_rng_lock();
    let experiment = RememberingExperiment::default()
        .with_task(RememberingTask::default().with_sizes(40, 20))
        .with_steps(&[3, 6])
        .with_units(4)
        .with_budget(1, 20, 0.01)
        .with_gradient_items(5);
    let result = experiment.run(tch::Device::Cpu).unwrap();
    let figure = super::remembering(&result, "Remembering the first step").unwrap();
    check(&figure, 0.02);
    let mut empty = result.clone();
    empty.rows.clear();
    assert!(super::remembering(&empty, "nothing").is_err());
}
