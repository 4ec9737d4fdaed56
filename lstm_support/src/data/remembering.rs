//! The remembering task, a synthetic control for the MNIST notebooks: the class of a sequence
//! is given by its first step only, and the T-1 steps after it are pure noise. A model answers
//! after the last step, so it must carry the first step through all the others: the test of
//! memory that MNIST's 28 rows, each holding part of the digit, cannot be.
//!
//! ```no_run
//! use lstm_support::data::RememberingTask;
//! let task = RememberingTask::default().with_steps(300);
//! let (train, validation) = task.generate()?; // [2000, 300, 16] and [1000, 300, 16]
//! # Ok::<(), lstm_support::Error>(())
//! ```
use serde::{Deserialize, Serialize};
use tch::Tensor;

use super::Dataset;
use crate::error::{Error, Result};
use crate::rng::SplitMix64;

/// How a remembering task's sequences are drawn, all from `seed`:
///
/// - each class has a pattern, `features` values drawn once from the standard normal
///   distribution;
/// - step 1 of a sequence of class c is class c's pattern;
/// - steps 2 to `steps` are fresh normal values of standard deviation `noise`; at the default
///   1, as large as the patterns, so that nothing but its place in the sequence tells the
///   first step from the noise;
/// - the classes are balanced (chance is `1 / classes`) and shuffled.
///
/// The validation sequences share the patterns, but their labels and noise are drawn apart
/// from the training sequences'.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RememberingTask {
    /// T: time steps per sequence, the first carrying the class.
    pub steps: usize,
    /// F: values per step.
    pub features: usize,
    pub classes: usize,
    /// Training sequences.
    pub train: usize,
    /// Validation sequences.
    pub validation: usize,
    /// The standard deviation of the noise steps, the patterns' being 1.
    pub noise: f64,
    pub seed: u64,
}

impl Default for RememberingTask {
    /// 100 steps of 16 features, 10 classes, 2,000 training and 1,000 validation sequences,
    /// noise as large as the patterns, seed 42.
    fn default() -> Self {
        RememberingTask {
            steps: 100,
            features: 16,
            classes: 10,
            train: 2000,
            validation: 1000,
            noise: 1.0,
            seed: 42,
        }
    }
}

impl RememberingTask {
    pub fn with_steps(mut self, steps: usize) -> Self {
        self.steps = steps;
        self
    }

    pub fn with_features(mut self, features: usize) -> Self {
        self.features = features;
        self
    }

    pub fn with_classes(mut self, classes: usize) -> Self {
        self.classes = classes;
        self
    }

    /// `train` training and `validation` validation sequences.
    pub fn with_sizes(mut self, train: usize, validation: usize) -> Self {
        self.train = train;
        self.validation = validation;
        self
    }

    /// Noise steps of standard deviation `noise` (the patterns' is 1).
    pub fn with_noise(mut self, noise: f64) -> Self {
        self.noise = noise;
        self
    }

    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Checks every value: at least one step, feature and sequence of each split, at least 2
    /// classes and no more classes than features.
    pub fn validate(&self) -> Result<()> {
        let positive = [
            ("steps", self.steps, "a sequence needs at least 1 step"),
            ("features", self.features, "a step needs at least 1 value"),
            ("train", self.train, "give at least 1 training sequence"),
            (
                "validation",
                self.validation,
                "give at least 1 validation sequence",
            ),
        ];
        for (what, value, reason) in positive {
            if value == 0 {
                return Err(Error::invalid(
                    format!("remembering task: {what}"),
                    format!("0; {reason}"),
                ));
            }
        }
        if !(self.noise >= 0.0 && self.noise.is_finite()) {
            return Err(Error::invalid(
                "remembering task: noise",
                format!("{}; give a standard deviation of 0 or more", self.noise),
            ));
        }
        if self.classes < 2 {
            return Err(Error::invalid(
                "remembering task: classes",
                format!("{}; a classifier needs at least 2", self.classes),
            ));
        }
        if self.classes > self.features {
            return Err(Error::invalid(
                "remembering task: classes",
                format!(
                    "{} classes for {} features: give at most as many classes as features (or \
                     more features), so that the class patterns are linearly independent and a \
                     linear read-out can tell every class apart",
                    self.classes, self.features
                ),
            ));
        }
        Ok(())
    }

    /// The class patterns, `[classes, features]`: what step 1 of a sequence of each class holds.
    pub fn patterns(&self) -> Result<Tensor> {
        self.validate()?;
        let values = normal_values(&mut self.stream(0), self.classes * self.features);
        Ok(Tensor::from_slice(&values).view([self.classes as i64, self.features as i64]))
    }

    /// The training and validation sequences, `[N, steps, features]` f32 with int64 labels.
    pub fn generate(&self) -> Result<(Dataset, Dataset)> {
        self.validate()?;
        let patterns = normal_values(&mut self.stream(0), self.classes * self.features);
        let train = self.sequences(&patterns, self.train, &mut self.stream(1))?;
        let validation = self.sequences(&patterns, self.validation, &mut self.stream(2))?;
        Ok((train, validation))
    }

    /// Independent streams of one seed: 0 the patterns, 1 the training set, 2 the validation
    /// set.
    fn stream(&self, index: u64) -> SplitMix64 {
        let mut mixer = SplitMix64::new(self.seed ^ index.wrapping_mul(0xd1b5_4a32_d192_ed03));
        SplitMix64::new(mixer.next_u64())
    }

    /// `n` sequences: balanced shuffled labels, the label's pattern at step 1, noise after.
    fn sequences(&self, patterns: &[f32], n: usize, rng: &mut SplitMix64) -> Result<Dataset> {
        let mut labels: Vec<i64> = (0..n).map(|i| (i % self.classes) as i64).collect();
        rng.shuffle(&mut labels);
        let (steps, features) = (self.steps, self.features);
        let mut values = normal_values(rng, n * steps * features);
        let noise = self.noise as f32;
        if noise != 1.0 {
            values.iter_mut().for_each(|v| *v *= noise);
        }
        for (sequence, &label) in values.chunks_mut(steps * features).zip(&labels) {
            let pattern = &patterns[label as usize * features..][..features];
            sequence[..features].copy_from_slice(pattern);
        }
        let images = Tensor::from_slice(&values).view([n as i64, steps as i64, features as i64]);
        Dataset::new(images, Tensor::from_slice(&labels), self.classes)
    }
}

/// `n` standard-normal values (Box-Muller on the generator's uniform draws).
fn normal_values(rng: &mut SplitMix64, n: usize) -> Vec<f32> {
    let uniform = |rng: &mut SplitMix64| {
        // In (0, 1]: the logarithm below must not see 0.
        ((rng.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    };
    let mut values = Vec::with_capacity(n + 1);
    while values.len() < n {
        let radius = (-2.0 * uniform(rng).ln()).sqrt();
        let angle = std::f64::consts::TAU * uniform(rng);
        values.push((radius * angle.cos()) as f32);
        values.push((radius * angle.sin()) as f32);
    }
    values.truncate(n);
    values
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Kind;

    fn small() -> RememberingTask {
        RememberingTask::default()
            .with_steps(7)
            .with_features(12)
            .with_sizes(50, 30)
            .with_seed(3)
    }

    #[test]
    fn shapes_kinds_and_balanced_labels() {
        let (train, validation) = small().generate().unwrap();
        assert_eq!(train.images().size(), [50, 7, 12]);
        assert_eq!(validation.images().size(), [30, 7, 12]);
        assert_eq!(train.images().kind(), Kind::Float);
        assert_eq!(train.labels().kind(), Kind::Int64);
        assert_eq!(train.num_classes(), 10);
        assert_eq!(train.class_counts(), vec![5; 10]);
        // One step, one sequence and as many classes as features are all fine.
        let edge = small().with_steps(1).with_sizes(1, 1).with_classes(12);
        let (one, _) = edge.generate().unwrap();
        assert_eq!(one.images().size(), [1, 1, 12]);
    }

    #[test]
    fn the_same_seed_gives_the_same_sequences_another_seed_others() {
        let (a, a_validation) = small().generate().unwrap();
        let (b, _) = small().generate().unwrap();
        let (c, _) = small().with_seed(4).generate().unwrap();
        assert!(a.images().equal(b.images()) && a.labels().equal(b.labels()));
        assert!(!a.images().equal(c.images()));
        // Validation sequences are fresh: other noise, not a slice of the training set.
        let first_noise = |d: &Dataset| d.images().get(0).get(1).shallow_clone();
        assert!(!first_noise(&a).equal(&first_noise(&a_validation)));
    }

    #[test]
    fn the_class_is_in_the_first_step_only() {
        let task = small();
        let (train, validation) = task.generate().unwrap();
        let patterns = task.patterns().unwrap();
        for data in [&train, &validation] {
            let labels = data.labels();
            // Step 1 is exactly the label's pattern.
            let first = data.images().select(1, 0);
            assert!(first.equal(&patterns.index_select(0, labels)));
            // The other steps do not depend on the label: two sequences of the same class
            // differ there, and their values have the patterns' scale (standard normal).
            let rest = data.images().narrow(1, 1, task.steps as i64 - 1);
            let mean = rest.mean(Kind::Float).double_value(&[]);
            let std = rest.std(true).double_value(&[]);
            assert!(mean.abs() < 0.1 && (std - 1.0).abs() < 0.1, "{mean} {std}");
        }
        let labels = Vec::<i64>::try_from(train.labels()).unwrap();
        let same: Vec<i64> = (0..labels.len())
            .filter(|&i| labels[i] == labels[0])
            .map(|i| i as i64)
            .collect();
        let (i, j) = (same[0], same[1]);
        let step = |i: i64, t: i64| train.images().get(i).get(t);
        assert!(step(i, 0).equal(&step(j, 0)));
        assert!(!step(i, 1).equal(&step(j, 1)));
        // The noise scales with `noise`; the patterns do not.
        let (quiet, _) = task.clone().with_noise(0.5).generate().unwrap();
        assert!(quiet
            .images()
            .select(1, 0)
            .equal(&train.images().select(1, 0)));
        let halved = train.images().narrow(1, 1, 6) * 0.5;
        assert!(quiet
            .images()
            .narrow(1, 1, 6)
            .allclose(&halved, 1e-6, 1e-6, false));
    }

    #[test]
    fn a_bad_config_says_what_to_change() {
        let message = |task: RememberingTask| task.generate().unwrap_err().to_string();
        assert!(message(small().with_steps(0)).contains("steps"));
        assert!(message(small().with_features(0)).contains("features"));
        assert!(message(small().with_sizes(0, 5)).contains("training sequence"));
        assert!(message(small().with_sizes(5, 0)).contains("validation sequence"));
        assert!(message(small().with_classes(1)).contains("at least 2"));
        let too_many = message(small().with_classes(13));
        assert!(
            too_many.contains("13 classes for 12 features") && too_many.contains("at most"),
            "{too_many}"
        );
        assert!(small().with_classes(13).patterns().is_err());
        assert!(message(small().with_noise(-1.0)).contains("noise"));
        assert!(message(small().with_noise(f64::NAN)).contains("noise"));
    }
}
