//! Every figure type rendered from small synthetic data: the PNG decodes, has the requested
//! size and is not blank; the SVG is an SVG; evcxr gets a base64 PNG.
use super::figure::{viridis, PALETTE};
use super::legend::{legend_rows, LegendEntry, LineStyle};
use super::{
    accuracy_by_rows, compare_records, compare_runs, confusion_errors_heatmap, confusion_heatmap,
    gallery, gate_traces, gradient_norms, history_curves, least_confident, prediction,
    reading_row_by_row, Figure, GalleryItem,
};
use plotters::style::RGBColor;

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
                gradients: None,
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

// The reviewer's defects, each as data where it can be.

#[test]
fn epoch_ticks_are_whole_distinct_and_few() {
    use super::line_chart::{whole_ticks, MAX_X_LABELS};
    assert_eq!(whole_ticks(1, 5, MAX_X_LABELS), vec![1, 2, 3, 4, 5]);
    assert_eq!(whole_ticks(1, 3, MAX_X_LABELS), vec![1, 2, 3]);
    assert_eq!(whole_ticks(1, 1, MAX_X_LABELS), vec![1]);
    assert_eq!(
        whole_ticks(1, 10, MAX_X_LABELS),
        (1..=10).collect::<Vec<_>>()
    );
    assert_eq!(
        whole_ticks(1, 20, MAX_X_LABELS),
        vec![2, 4, 6, 8, 10, 12, 14, 16, 18, 20]
    );
    assert_eq!(
        whole_ticks(1, 28, MAX_X_LABELS),
        vec![1, 5, 10, 15, 20, 25, 28]
    );
    assert_eq!(
        whole_ticks(1, 100, MAX_X_LABELS),
        (1..=10).map(|k| 10 * k).collect::<Vec<_>>()
    );
    assert_eq!(
        whole_ticks(1, 48, MAX_X_LABELS),
        vec![5, 10, 15, 20, 25, 30, 35, 40, 45, 48]
    );
    for n in 1..=300 {
        let ticks = whole_ticks(1, n, MAX_X_LABELS);
        assert!(
            ticks.len() <= MAX_X_LABELS && !ticks.is_empty(),
            "{n}: {ticks:?}"
        );
        assert!(ticks.windows(2).all(|w| w[0] < w[1]), "{n}: {ticks:?}");
        assert!(
            ticks.iter().all(|&t| (1..=n).contains(&t)),
            "{n}: {ticks:?}"
        );
        if n <= MAX_X_LABELS as i64 {
            assert_eq!(ticks, (1..=n).collect::<Vec<_>>());
        }
    }
}

#[test]
fn continuous_ticks_are_round_numbers_within_the_range() {
    use super::line_chart::continuous_ticks;
    assert_eq!(
        continuous_ticks(2.0, 20.0, 8),
        (vec![5.0, 10.0, 15.0, 20.0], 0)
    );
    let (ticks, decimals) = continuous_ticks(0.3, 1.9, 8);
    assert_eq!((ticks.len(), decimals), (8, 1), "{ticks:?}");
    assert!(ticks.iter().all(|t| (0.3..=1.9).contains(t)));
}

/// An entry in a palette colour, as a series of `nth` gets.
fn entry(label: &str, color: usize, line: LineStyle, marker: bool) -> LegendEntry {
    LegendEntry {
        label: label.to_owned(),
        color: PALETTE[color],
        line,
        marker,
    }
}

#[test]
fn the_history_legend_shows_each_curve_in_its_style() {
    assert_eq!(
        super::curves::history_legend(&history(5)),
        vec![
            entry("training (dashed)", 0, LineStyle::Dashed, true),
            entry("validation (solid)", 1, LineStyle::Solid, true),
        ]
    );
}

#[test]
fn compared_runs_show_training_dashed_beside_validation_solid() {
    let comparison = super::curves::RunComparison {
        title: "sweep".into(),
        runs: vec![("A".into(), history(4)), ("B".into(), history(6))],
    };
    for by_time in [false, true] {
        let series = comparison.series(by_time);
        let lines: Vec<(RGBColor, LineStyle, usize)> = series
            .iter()
            .map(|s| (s.color, s.line, s.points.len()))
            .collect();
        assert_eq!(
            lines,
            vec![
                (PALETTE[0], LineStyle::Dashed, 4),
                (PALETTE[0], LineStyle::Solid, 4),
                (PALETTE[1], LineStyle::Dashed, 6),
                (PALETTE[1], LineStyle::Solid, 6),
            ]
        );
        // Training accuracy (history: 1 - 0.5/e) is drawn, not validation twice.
        assert_eq!(series[0].points[0].1, 0.5);
        assert_eq!(series[1].points[0].1, 0.4);
    }
    let legend = comparison.legend();
    let described: Vec<(&str, LineStyle)> =
        legend.iter().map(|e| (e.label.as_str(), e.line)).collect();
    assert_eq!(
        described,
        vec![
            ("A", LineStyle::Solid),
            ("B", LineStyle::Solid),
            ("training accuracy (dashed)", LineStyle::Dashed),
            ("validation accuracy (solid)", LineStyle::Solid),
        ]
    );
}

#[test]
fn the_gradient_legend_explains_solid_and_dashed() {
    let norms = super::inside::GradientNorms {
        title: "gradients".into(),
        cells: vec![
            ("LSTM".into(), vec![1.0; 28], vec![0.5; 28]),
            ("GRU".into(), vec![1.0; 28], vec![0.5; 28]),
        ],
    };
    let described: Vec<(String, LineStyle)> = norms
        .legend()
        .into_iter()
        .map(|e| (e.label, e.line))
        .collect();
    assert_eq!(
        described,
        vec![
            ("LSTM".into(), LineStyle::Solid),
            ("GRU".into(), LineStyle::Solid),
            ("trained (solid)".into(), LineStyle::Solid),
            ("at initialisation (dashed)".into(), LineStyle::Dashed),
        ]
    );
}

#[test]
fn legend_rows_wrap_in_order_within_the_width() {
    assert_eq!(legend_rows(&[100, 100, 100], 400), vec![vec![0, 1, 2]]);
    assert_eq!(
        legend_rows(&[100, 100, 100], 250),
        vec![vec![0, 1], vec![2]]
    );
    assert_eq!(legend_rows(&[500, 50], 300), vec![vec![0], vec![1]]);
    assert!(legend_rows(&[], 300).is_empty());
}

/// The columns of a figure's pixels holding `color` exactly.
fn columns_with(figure: &Figure, color: RGBColor) -> Vec<bool> {
    let (w, _) = figure.size();
    let rgb = figure.to_rgb().unwrap();
    let mut columns = vec![false; w as usize];
    for (i, p) in rgb.chunks(3).enumerate() {
        if p == [color.0, color.1, color.2] {
            columns[i % w as usize] = true;
        }
    }
    columns
}

#[test]
fn accuracy_by_rows_has_a_chance_line_and_a_legend_off_the_curves() {
    let low: Vec<(usize, f64)> = (1..=28).map(|k| (k, 0.15)).collect();
    let high: Vec<(usize, f64)> = (1..=28).map(|k| (k, 0.9)).collect();
    let figure = accuracy_by_rows(&[("LSTM", &low), ("GRU", &high)], "flat").unwrap();
    // The first curve runs low across the chart, where a legend in its lower corner would
    // sit: every column between its ends shows it, so nothing covers it.
    let columns = columns_with(&figure, PALETTE[0]);
    let first = columns.iter().position(|&c| c).unwrap();
    let last = columns.iter().rposition(|&c| c).unwrap();
    assert!(last - first > 500, "{first}..{last}");
    assert!(
        columns[first..=last].iter().all(|&c| c),
        "a gap in the curve"
    );
    let chart = super::rows::AccuracyByRows {
        title: "t".into(),
        series: vec![super::line_chart::Series::nth(
            0,
            "LSTM",
            LineStyle::Solid,
            vec![(1.0, 0.5)],
        )],
    };
    assert_eq!(
        chart.legend().last().map(|e| (e.label.as_str(), e.line)),
        Some(("chance (10%)", LineStyle::Dashed))
    );
}

#[test]
fn gate_heat_maps_line_up_with_the_digit_row_by_row() {
    use super::inside::GateLayout;
    let layout = GateLayout { panels: 4 };
    for d in 0..3 {
        let digit = layout.digit(d);
        for p in 0..4 {
            let map = layout.heat_map(d, p);
            assert_eq!((map.1, map.3), (digit.1, digit.3), "digit {d}, panel {p}");
            assert!(
                map.0 >= digit.0 + digit.2,
                "the heat map is right of the digit"
            );
            assert!(map.2 >= 150 && map.3 >= 200, "panels are large: {map:?}");
        }
        let row_height = digit.3 / 28;
        assert_eq!(layout.row_middle(d, 1), digit.1 + row_height / 2);
        assert_eq!(layout.row_middle(d, 28), digit.1 + digit.3 - row_height / 2);
    }
    let ticks = GateLayout::row_ticks();
    assert_eq!((ticks[0], *ticks.last().unwrap()), (1, 28), "{ticks:?}");
}

#[test]
fn gate_colours_span_each_panels_own_range() {
    use super::inside::{scale_label, Scale};
    // A gate that only moves between 0.48 and 0.53 uses the whole colour map.
    let values = vec![vec![vec![0.48f32, 0.5], vec![0.53, 0.49]]];
    let scale = Scale::spanning(&values);
    let (lo, hi) = scale.range();
    assert!((lo - 0.48).abs() < 1e-6 && (hi - 0.53).abs() < 1e-6);
    assert_eq!(scale.color(lo), viridis(0.0));
    assert_eq!(scale.color(hi), viridis(1.0));
    assert_eq!(viridis(0.0), RGBColor(68, 1, 84));
    assert_eq!(viridis(1.0), RGBColor(253, 231, 37));
    let labels: Vec<String> = [lo, (lo + hi) / 2.0, hi]
        .iter()
        .map(|&v| scale_label(v, hi - lo))
        .collect();
    assert_eq!(labels, ["0.480", "0.505", "0.530"]);
    let diverging = Scale::Diverging { limit: 2.0 };
    assert_eq!(diverging.range(), (-2.0, 2.0));
    assert_eq!(diverging.color(0.0), RGBColor(255, 255, 255));
}

fn three_confused_with_five() -> ConfusionMatrix {
    let labels: Vec<i64> = (0..200).map(|i| i % 10).collect();
    let predictions: Vec<i64> = labels
        .iter()
        .enumerate()
        .map(|(i, &l)| if l == 3 && i < 50 { 5 } else { l })
        .collect();
    ConfusionMatrix::new(&labels, &predictions, &names()).unwrap()
}

#[test]
fn the_error_view_masks_the_diagonal_and_scales_to_the_errors() {
    use super::confusion::{counts_view, errors_view, row_percentages};
    let matrix = three_confused_with_five();
    for row in row_percentages(&matrix) {
        assert!((row.iter().sum::<f64>() - 100.0).abs() < 1e-9);
    }
    let view = errors_view(&matrix, "errors");
    // 5 of the 20 threes were read as 5s: 25%, the largest (and only) error.
    assert_eq!(view.cells[3][5].value, Some(25.0));
    assert_eq!(view.cells[3][5].text, "25.0");
    assert_eq!(view.scale_max, 25.0);
    for (t, row) in view.cells.iter().enumerate() {
        assert_eq!(row[t].value, None, "the diagonal is masked");
    }
    assert_eq!(view.cells[3][3].text, "75.0");
    assert_eq!(view.cells[0][1].value, Some(0.0));
    let counts = counts_view(&matrix, "counts");
    assert_eq!(counts.cells[3][3].value, Some(15.0));
    assert_eq!(counts.scale_max, 20.0);
    check(&confusion_errors_heatmap(&matrix, "errors").unwrap(), 0.1);
    let ragged = ConfusionMatrix {
        classes: names(),
        counts: vec![vec![1; 10]; 9],
    };
    assert!(confusion_errors_heatmap(&ragged, "ragged").is_err());
    assert!(confusion_heatmap(&ragged, "ragged").is_err());
}

#[test]
fn least_confident_finds_the_lowest_top_probability() {
    let _rng = crate::torch_rng_lock();
    let data = crate::testutil::synthetic(12, 5, false);
    let model = Model::new(
        &crate::model::ModelConfig::lstm(8, 0.0),
        3,
        tch::Device::Cpu,
    )
    .unwrap();
    let confidences = model.predict(&data.take(8)).unwrap().confidences;
    let lowest = (0..8)
        .min_by(|&a, &b| confidences[a].total_cmp(&confidences[b]))
        .unwrap();
    assert_eq!(least_confident(&model, &data, 8).unwrap(), lowest);
    assert!(least_confident(&model, &data, 1000).unwrap() < data.len());
    assert_eq!(least_confident(&model, &data, 1).unwrap(), 0);
    assert!(least_confident(&model, &data, 0).is_err());
    let index = least_confident(&model, &data, 12).unwrap();
    check(&prediction(&model, &data, index, "unsure").unwrap(), 0.05);
}

/// Every figure the reviewer looked at, written as PNGs to `$PLOT_REVIEW_DIR` (default
/// /tmp/figs) to be looked at: `cargo test -p lstm_support plot -- --ignored`.
#[test]
#[ignore = "writes PNG files for a person to look at"]
fn renders_the_reviewed_figures_to_files() {
    let dir = std::env::var("PLOT_REVIEW_DIR").unwrap_or_else(|_| "/tmp/figs".into());
    std::fs::create_dir_all(&dir).unwrap();
    let save = |name: &str, figure: Figure| {
        let path = std::path::Path::new(&dir).join(format!("{name}.png"));
        figure.save_png(&path).unwrap();
        assert!(std::fs::metadata(&path).unwrap().len() > 1000);
    };
    for n in [1, 3, 5, 12, 28] {
        save(
            &format!("history_{n}"),
            history_curves(&history(n), &format!("LSTM(32), {n} epochs")).unwrap(),
        );
    }
    let (a, b) = (history(5), history(3));
    save(
        "compare_runs",
        compare_runs(&[("32 units", &a), ("256 units", &b)], "sweep").unwrap(),
    );
    let rising: Vec<(usize, f64)> = (1..=28)
        .map(|k| (k, 0.1 + 0.88 / (1.0 + (-(k as f64 - 18.0) / 2.0).exp())))
        .collect();
    let early: Vec<(usize, f64)> = (1..=28)
        .map(|k| (k, 0.1 + 0.85 / (1.0 + (-(k as f64 - 12.0) / 2.0).exp())))
        .collect();
    save(
        "accuracy_by_rows",
        accuracy_by_rows(&[("LSTM", &rising), ("GRU", &early)], "reading by rows").unwrap(),
    );
    let trained: Vec<f64> = (0..28).map(|t| 10f64.powf(t as f64 / 4.0 - 7.0)).collect();
    let initial: Vec<f64> = (0..28).map(|t| 10f64.powf(t as f64 / 8.0 - 5.0)).collect();
    let vanishing: Vec<f64> = (0..28).map(|t| 10f64.powf(t as f64 / 2.0 - 14.0)).collect();
    let flat = vec![1e-3; 28];
    save(
        "gradient_norms",
        gradient_norms(
            &[
                ("LSTM", &trained, &initial),
                ("SimpleRNN", &vanishing, &flat),
            ],
            "gradients",
        )
        .unwrap(),
    );
    let matrix = three_confused_with_five();
    save(
        "confusion_counts",
        confusion_heatmap(&matrix, "counts").unwrap(),
    );
    save(
        "confusion_errors",
        confusion_errors_heatmap(&matrix, "errors").unwrap(),
    );
    let _rng = crate::torch_rng_lock();
    let data = crate::testutil::synthetic(40, 2, false);
    for cell in crate::nn::CellKind::ALL {
        let model = Model::new(
            &crate::model::ModelConfig::recurrent(cell, 32, 0.0),
            0,
            tch::Device::Cpu,
        )
        .unwrap();
        if cell == crate::nn::CellKind::Lstm {
            let index = least_confident(&model, &data, 40).unwrap();
            save(
                "prediction",
                prediction(&model, &data, index, "unsure").unwrap(),
            );
        }
        save(
            &format!("gates_{cell:?}"),
            gate_traces(&model, &data, &[0, 3], "gates").unwrap(),
        );
    }
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
