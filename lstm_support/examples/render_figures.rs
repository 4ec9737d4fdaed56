//! Renders every figure type from the runs recorded under `runs/` and real MNIST into
//! `target/figures/`, to look at them: `cargo run --release --example render_figures`.
use lstm_support::data::load_mnist;
use lstm_support::metrics::{ClassificationReport, ConfusionMatrix};
use lstm_support::plot;
use lstm_support::record::RunRecord;

fn main() -> lstm_support::Result<()> {
    let out = std::path::Path::new("target/figures");
    let mut records: Vec<RunRecord> = std::fs::read_dir("runs")
        .map_err(|e| lstm_support::Error::invalid("runs", e.to_string()))?
        .flatten()
        .filter_map(|e| RunRecord::load(&e.path().join("record.json")).ok())
        .collect();
    records.sort_by(|a, b| a.spec.name.cmp(&b.spec.name));
    let mnist = load_mnist()?;
    let best = records
        .iter()
        .filter(|r| r.spec.train_limit.is_none() && r.spec.test_limit.is_none())
        .max_by_key(|r| r.history.len())
        .expect("at least one full run under runs/");
    plot::history_curves(&best.history, &best.spec.model.describe())?
        .save_png(out.join("history.png"))?;
    let runs: Vec<(&str, &lstm_support::training::History)> = records
        .iter()
        .map(|r| (r.spec.name.as_str(), &r.history))
        .collect();
    plot::compare_runs(&runs, "All recorded runs")?.save_png(out.join("compare.png"))?;
    let matrix = ConfusionMatrix::new(&best.test.labels, &best.test.predictions, &mnist.classes)?;
    plot::confusion_heatmap(&matrix, "Test set confusion matrix")?
        .save_png(out.join("confusion.png"))?;
    println!("{}", ClassificationReport::new(&matrix).to_text());
    plot::digit_gallery(&mnist.train, 24, 8, "Training digits")?
        .save_png(out.join("gallery.png"))?;
    plot::misclassified_gallery(
        &mnist.test,
        &best.test.predictions,
        &best.test.confidences,
        24,
        8,
        "Misclassified test digits",
    )?
    .save_png(out.join("misclassified.png"))?;
    println!("figures in {}", out.display());
    Ok(())
}
