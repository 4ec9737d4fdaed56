//! Runs the remembering experiment in full and draws its figure, timing it:
//! `cargo run --release --example remembering [figure.png]` (default `target/figures/remembering.png`).
use std::time::Instant;

use lstm_support::analysis::RememberingExperiment;
use lstm_support::plot;

fn main() -> lstm_support::Result<()> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/figures/remembering.png".to_owned());
    let mut experiment = RememberingExperiment::default();
    // Overrides for tuning: REMEMBER_EPOCHS, REMEMBER_LR, REMEMBER_TRAIN, REMEMBER_NOISE,
    // REMEMBER_STEPS (e.g. 10,30), REMEMBER_THREADS (libtorch's).
    let var = |name: &str| std::env::var(name).ok();
    if let Some(epochs) = var("REMEMBER_EPOCHS").and_then(|v| v.parse().ok()) {
        experiment.epochs = epochs;
    }
    if let Some(lr) = var("REMEMBER_LR").and_then(|v| v.parse().ok()) {
        experiment.learning_rate = lr;
    }
    if let Some(train) = var("REMEMBER_TRAIN").and_then(|v| v.parse().ok()) {
        experiment.task.train = train;
    }
    if let Some(threads) = var("REMEMBER_THREADS").and_then(|v| v.parse().ok()) {
        tch::set_num_threads(threads);
    }
    if let Some(noise) = var("REMEMBER_NOISE").and_then(|v| v.parse().ok()) {
        experiment.task.noise = noise;
    }
    if let Some(steps) = var("REMEMBER_STEPS") {
        experiment.steps = steps.split(',').filter_map(|s| s.parse().ok()).collect();
    }
    if var("REMEMBER_CHRONO").is_some() {
        experiment.chrono_init = true;
    }
    let started = Instant::now();
    let result = experiment.run(tch::Device::Cpu)?;
    println!("{}", result.table());
    println!("{result}");
    for row in &result.rows {
        let accuracies: Vec<String> = row
            .history
            .epochs
            .iter()
            .map(|e| format!("{:.3}", e.val_accuracy))
            .collect();
        println!(
            "{:?} T={}: {:.1} s, val accuracy by epoch {}",
            row.cell,
            row.steps,
            row.seconds,
            accuracies.join(" ")
        );
    }
    println!("wall time {:.1} s", started.elapsed().as_secs_f64());
    plot::remembering(&result, "Remembering the first step")?.save_png(&out)?;
    println!("figure in {out}");
    Ok(())
}
