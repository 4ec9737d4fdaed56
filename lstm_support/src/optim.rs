//! Adam with Keras' defaults and update rule, with its state exposed so that checkpoints can
//! save it and a resumed run continues exactly where it stopped.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tch::Tensor;

use crate::error::{Error, Result};

/// Keras' `Adam()` defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AdamConfig {
    pub learning_rate: f64,
    pub beta_1: f64,
    pub beta_2: f64,
    pub epsilon: f64,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig {
            learning_rate: 1e-3,
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-7,
        }
    }
}

impl AdamConfig {
    pub fn validate(&self) -> Result<()> {
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return Err(Error::invalid(
                "learning_rate",
                format!("{}; it must be a positive number", self.learning_rate),
            ));
        }
        for (name, b) in [("beta_1", self.beta_1), ("beta_2", self.beta_2)] {
            if !(0.0..1.0).contains(&b) {
                return Err(Error::invalid(name, format!("{b}; it must be in [0, 1)")));
            }
        }
        if self.epsilon.is_nan() || self.epsilon <= 0.0 {
            return Err(Error::invalid(
                "epsilon",
                format!("{}; it must be > 0", self.epsilon),
            ));
        }
        Ok(())
    }
}

/// How the learning rate changes during training. `Constant` keeps Adam's `learning_rate`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LrSchedule {
    #[default]
    Constant,
    /// Cosine decay from `learning_rate` to `alpha * learning_rate` over all the batches of
    /// the run (the `epochs` given to `fit`), updated every batch: Keras'
    /// `CosineDecay(learning_rate, decay_steps=epochs * steps_per_epoch, alpha)`, or PyTorch's
    /// `CosineAnnealingLR(T_max=decay_steps, eta_min=alpha * lr)` stepped per batch. The low
    /// rate of the last epochs averages out the batch noise that a constant rate leaves in the
    /// final weights. (Records written before the length was taken from the run also hold a
    /// `decay_epochs`, which always equalled the run's epochs; it is ignored when read.)
    CosineDecay { alpha: f64 },
}

impl LrSchedule {
    /// Cosine decay to zero over the run.
    pub fn cosine_decay() -> Self {
        LrSchedule::CosineDecay { alpha: 0.0 }
    }

    pub fn is_constant(&self) -> bool {
        *self == LrSchedule::Constant
    }

    pub fn validate(&self) -> Result<()> {
        match *self {
            LrSchedule::Constant => Ok(()),
            LrSchedule::CosineDecay { alpha } if (0.0..=1.0).contains(&alpha) => Ok(()),
            LrSchedule::CosineDecay { alpha } => Err(Error::invalid(
                "cosine decay alpha",
                format!("{alpha}; it is the final fraction of the learning rate, in [0, 1]"),
            )),
        }
    }

    /// e.g. `constant` or `cosine decay to 0 over the run`, for tables.
    pub fn describe(&self) -> String {
        match *self {
            LrSchedule::Constant => "constant".to_owned(),
            // "to 0" reads better than "to 0x" for the common case.
            LrSchedule::CosineDecay { alpha: 0.0 } => "cosine decay to 0 over the run".to_owned(),
            LrSchedule::CosineDecay { alpha } => format!("cosine decay to {alpha}x over the run"),
        }
    }

    /// The rate for update number `step` (0-based) of a run of `epochs` epochs of
    /// `steps_per_epoch` batches.
    pub fn learning_rate(
        &self,
        base: f64,
        step: usize,
        steps_per_epoch: usize,
        epochs: usize,
    ) -> f64 {
        match *self {
            LrSchedule::Constant => base,
            LrSchedule::CosineDecay { alpha } => {
                let decay_steps = (epochs * steps_per_epoch).max(1);
                let progress = step.min(decay_steps) as f64 / decay_steps as f64;
                let cosine = 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
                base * (alpha + (1.0 - alpha) * cosine)
            }
        }
    }
}

/// Keras' `clipnorm`: each parameter's gradient is clipped on its own to an L2 norm of at most
/// `max_norm`, `g * max_norm / max(|g|, max_norm)`, so its direction is kept. (Keras'
/// `global_clipnorm` and PyTorch's `clip_grad_norm_` scale all gradients by one factor from
/// their joint norm instead.) `f64::INFINITY` clips nothing and only measures. Returns the
/// largest norm before clipping; gradients with a non-finite norm are left alone for the
/// non-finite-loss check to report.
pub fn clip_gradient_norms<'a>(params: impl Iterator<Item = &'a mut Tensor>, max_norm: f64) -> f64 {
    let mut largest = 0.0f64;
    tch::no_grad(|| {
        for p in params {
            let mut g = p.grad();
            if !g.defined() {
                continue;
            }
            let norm = g.norm().double_value(&[]);
            largest = largest.max(norm);
            if norm.is_finite() && norm > max_norm {
                let _ = g.g_mul_scalar_(max_norm / norm);
            }
        }
    });
    largest
}

/// Keras' `SGD(learning_rate)` without momentum: plain gradient descent.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SgdConfig {
    pub learning_rate: f64,
}

impl Default for SgdConfig {
    /// Keras' default rate, 0.01.
    fn default() -> Self {
        SgdConfig {
            learning_rate: 0.01,
        }
    }
}

impl SgdConfig {
    pub fn validate(&self) -> Result<()> {
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return Err(Error::invalid(
                "SGD learning_rate",
                format!("{}; it must be a positive number", self.learning_rate),
            ));
        }
        Ok(())
    }
}

/// The named parameters an optimizer updates (sorted by name, so that its state lines up
/// across runs) and the number of updates so far: what every optimizer here shares.
#[derive(Debug)]
pub struct Parameters {
    tensors: BTreeMap<String, Tensor>,
    steps: i64,
}

impl Parameters {
    pub fn new(params: impl IntoIterator<Item = (String, Tensor)>) -> Self {
        Parameters {
            tensors: params.into_iter().collect(),
            steps: 0,
        }
    }

    /// Updates done so far.
    pub fn step_count(&self) -> i64 {
        self.steps
    }

    /// Sets the count of updates done, as a checkpoint recorded it.
    pub fn restore_step_count(&mut self, steps: i64) {
        self.steps = steps;
    }

    pub fn zero_grad(&mut self) {
        for p in self.tensors.values_mut() {
            p.zero_grad();
        }
    }

    /// Keras' `clipnorm` on every parameter's gradient ([`clip_gradient_norms`]); the
    /// largest norm before clipping.
    pub fn clip_gradient_norms(&mut self, max_norm: f64) -> f64 {
        clip_gradient_norms(self.tensors.values_mut(), max_norm)
    }

    /// Counts one update and gives each parameter that has a gradient, with its name and its
    /// gradient, to `update`, without recording a graph.
    fn update(&mut self, mut update: impl FnMut(&str, &mut Tensor, &Tensor)) {
        self.steps += 1;
        tch::no_grad(|| {
            for (name, p) in self.tensors.iter_mut() {
                let g = p.grad();
                if g.defined() {
                    update(name, p, &g);
                }
            }
        });
    }
}

/// Plain gradient descent over named parameters, `p -= lr * g`: no state, so a step is
/// proportional to its gradient (what makes clipping matter most here).
#[derive(Debug)]
pub struct Sgd {
    params: Parameters,
}

impl Sgd {
    pub fn new(
        params: impl IntoIterator<Item = (String, Tensor)>,
        config: SgdConfig,
    ) -> Result<Self> {
        config.validate()?;
        Ok(Sgd {
            params: Parameters::new(params),
        })
    }

    pub fn parameters(&self) -> &Parameters {
        &self.params
    }

    pub fn parameters_mut(&mut self) -> &mut Parameters {
        &mut self.params
    }

    /// One update at `learning_rate`.
    pub fn step_with_learning_rate(&mut self, learning_rate: f64) {
        self.params.update(|_, p, g| {
            let _ = p.g_sub_(&(g * learning_rate));
        });
    }
}

/// Adam over named parameters (sorted by name, so the state lines up across runs).
#[derive(Debug)]
pub struct Adam {
    config: AdamConfig,
    params: Parameters,
    m: BTreeMap<String, Tensor>,
    v: BTreeMap<String, Tensor>,
}

impl Adam {
    pub fn new(
        params: impl IntoIterator<Item = (String, Tensor)>,
        config: AdamConfig,
    ) -> Result<Self> {
        config.validate()?;
        let params: BTreeMap<String, Tensor> = params.into_iter().collect();
        let zeros = |p: &Tensor| tch::no_grad(|| p.zeros_like());
        let m = params.iter().map(|(k, p)| (k.clone(), zeros(p))).collect();
        let v = params.iter().map(|(k, p)| (k.clone(), zeros(p))).collect();
        Ok(Adam {
            config,
            params: Parameters::new(params),
            m,
            v,
        })
    }

    pub fn config(&self) -> &AdamConfig {
        &self.config
    }

    pub fn parameters(&self) -> &Parameters {
        &self.params
    }

    pub fn parameters_mut(&mut self) -> &mut Parameters {
        &mut self.params
    }

    /// One update from the gradients in the parameters at the configured learning rate.
    pub fn step(&mut self) {
        self.step_with_learning_rate(self.config.learning_rate);
    }

    /// One update at `learning_rate` (a schedule's value for this step), as Keras 3 does it:
    /// `alpha = lr * sqrt(1 - b2^t) / (1 - b1^t)`, `p -= alpha * m / (sqrt(v) + eps)`.
    pub fn step_with_learning_rate(&mut self, learning_rate: f64) {
        let c = self.config;
        // The number of the step about to be taken: `update` counts it.
        let t = (self.params.step_count() + 1) as i32;
        let alpha = learning_rate * (1.0 - c.beta_2.powi(t)).sqrt() / (1.0 - c.beta_1.powi(t));
        let (ms, vs) = (&mut self.m, &mut self.v);
        self.params.update(|name, p, g| {
            let (Some(m), Some(v)) = (ms.get_mut(name), vs.get_mut(name)) else {
                return;
            };
            let _ = m.g_mul_scalar_(c.beta_1).g_add_(&(g * (1.0 - c.beta_1)));
            let _ = v
                .g_mul_scalar_(c.beta_2)
                .g_add_(&(g * g * (1.0 - c.beta_2)));
            let update = &*m * alpha / (v.sqrt() + c.epsilon);
            let _ = p.g_sub_(&update);
        });
    }

    /// The moment estimates as named tensors (`adam.m.<param>`, `adam.v.<param>`), for
    /// checkpoints.
    pub fn state_tensors(&self) -> Vec<(String, Tensor)> {
        let m = self
            .m
            .iter()
            .map(|(k, t)| (format!("adam.m.{k}"), t.shallow_clone()));
        let v = self
            .v
            .iter()
            .map(|(k, t)| (format!("adam.v.{k}"), t.shallow_clone()));
        m.chain(v).collect()
    }

    /// Restores the state written by [`Adam::state_tensors`] and the step count.
    pub fn load_state(&mut self, tensors: &BTreeMap<String, Tensor>, step: i64) -> Result<()> {
        for (prefix, moments) in [("adam.m.", &mut self.m), ("adam.v.", &mut self.v)] {
            for (name, moment) in moments.iter_mut() {
                let key = format!("{prefix}{name}");
                let saved = tensors.get(&key).ok_or_else(|| {
                    Error::invalid("checkpoint", format!("it has no optimizer state {key}"))
                })?;
                if saved.size() != moment.size() {
                    return Err(Error::invalid(
                        "checkpoint",
                        format!(
                            "optimizer state {key} has shape {:?}, the model needs {:?}",
                            saved.size(),
                            moment.size()
                        ),
                    ));
                }
                tch::no_grad(|| moment.f_copy_(saved))?;
            }
        }
        self.params.restore_step_count(step);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    #[test]
    fn first_step_moves_each_weight_by_about_the_learning_rate() {
        // With m = (1-b1) g and v = (1-b2) g^2, the first Keras step is lr * g / (|g| + eps').
        let p = Tensor::from_slice(&[1.0f32, -2.0]).set_requires_grad(true);
        let mut adam =
            Adam::new([("p".to_owned(), p.shallow_clone())], AdamConfig::default()).unwrap();
        let loss = (&p * Tensor::from_slice(&[3.0f32, -0.5])).sum(Kind::Float);
        loss.backward();
        adam.step();
        let after = Vec::<f32>::try_from(p.detach()).unwrap();
        assert!((after[0] - (1.0 - 1e-3)).abs() < 1e-6, "{after:?}");
        assert!((after[1] - (-2.0 + 1e-3)).abs() < 1e-6, "{after:?}");
        assert_eq!(adam.parameters().step_count(), 1);
    }

    #[test]
    fn clipnorm_clips_each_gradient_on_its_own_as_keras_does() {
        // Gradients (3, 4) (norm 5) and (0.3, 0.4) (norm 0.5), clipnorm 1: the first becomes
        // (0.6, 0.8), the second is left as it is; the largest norm before clipping is 5.
        let a = Tensor::from_slice(&[1.0f32, 1.0]).set_requires_grad(true);
        let b = Tensor::from_slice(&[1.0f32, 1.0]).set_requires_grad(true);
        let params = [
            ("a".to_owned(), a.shallow_clone()),
            ("b".to_owned(), b.shallow_clone()),
        ];
        let mut adam = Adam::new(params, AdamConfig::default()).unwrap();
        let loss = (&a * Tensor::from_slice(&[3.0f32, 4.0])).sum(Kind::Float)
            + (&b * Tensor::from_slice(&[0.3f32, 0.4])).sum(Kind::Float);
        loss.backward();
        let largest = adam.parameters_mut().clip_gradient_norms(1.0);
        assert!((largest - 5.0).abs() < 1e-5, "{largest}");
        let ga = Vec::<f32>::try_from(a.grad()).unwrap();
        let gb = Vec::<f32>::try_from(b.grad()).unwrap();
        assert!(
            (ga[0] - 0.6).abs() < 1e-6 && (ga[1] - 0.8).abs() < 1e-6,
            "{ga:?}"
        );
        assert!(
            (gb[0] - 0.3).abs() < 1e-6 && (gb[1] - 0.4).abs() < 1e-6,
            "{gb:?}"
        );
    }

    #[test]
    fn sgd_steps_by_the_learning_rate_times_the_gradient() {
        let p = Tensor::from_slice(&[1.0f32, -2.0]).set_requires_grad(true);
        let config = SgdConfig { learning_rate: 0.5 };
        let mut sgd = Sgd::new([("p".to_owned(), p.shallow_clone())], config).unwrap();
        let loss = (&p * Tensor::from_slice(&[3.0f32, -0.5])).sum(Kind::Float);
        loss.backward();
        sgd.step_with_learning_rate(config.learning_rate);
        let after = Vec::<f32>::try_from(p.detach()).unwrap();
        assert_eq!(after, vec![1.0 - 1.5, -2.0 + 0.25]);
        assert_eq!(sgd.parameters().step_count(), 1);
        for lr in [0.0, -0.1, f64::NAN] {
            let error = SgdConfig { learning_rate: lr }.validate().unwrap_err();
            assert!(error.to_string().contains("SGD learning_rate"), "{error}");
        }
    }

    #[test]
    fn minimises_a_quadratic() {
        let p = Tensor::from_slice(&[5.0f32]).set_requires_grad(true);
        let config = AdamConfig {
            learning_rate: 0.1,
            ..Default::default()
        };
        let mut adam = Adam::new([("p".to_owned(), p.shallow_clone())], config).unwrap();
        for _ in 0..300 {
            adam.parameters_mut().zero_grad();
            let loss = (&p * &p).sum(Kind::Float);
            loss.backward();
            adam.step();
        }
        assert!(p.abs().double_value(&[0]) < 0.05);
        let _ = Device::Cpu;
    }

    #[test]
    fn cosine_decay_matches_keras_formula() {
        // 10 epochs of 10 batches: decay_steps = 100.
        let schedule = LrSchedule::CosineDecay { alpha: 0.1 };
        assert_eq!(schedule.learning_rate(2e-3, 0, 10, 10), 2e-3);
        // Halfway the cosine term is 0.5: lr * (alpha + (1 - alpha) / 2).
        assert!((schedule.learning_rate(2e-3, 50, 10, 10) - 2e-3 * 0.55).abs() < 1e-12);
        assert!((schedule.learning_rate(2e-3, 100, 10, 10) - 2e-4).abs() < 1e-12);
        // Past the end it stays at the floor, as Keras' does.
        assert!((schedule.learning_rate(2e-3, 150, 10, 10) - 2e-4).abs() < 1e-12);
        // The length is the run's: over 20 epochs, step 100 is halfway.
        assert!((schedule.learning_rate(2e-3, 100, 10, 20) - 2e-3 * 0.55).abs() < 1e-12);
        assert_eq!(LrSchedule::Constant.learning_rate(2e-3, 50, 10, 10), 2e-3);
        assert_eq!(schedule.describe(), "cosine decay to 0.1x over the run");
        assert_eq!(
            LrSchedule::cosine_decay().describe(),
            "cosine decay to 0 over the run"
        );
    }

    #[test]
    fn bad_cosine_decay_is_rejected() {
        for alpha in [-0.1, 1.5, f64::NAN] {
            let error = LrSchedule::CosineDecay { alpha }
                .validate()
                .unwrap_err()
                .to_string();
            assert!(error.contains("alpha"), "{error}");
        }
    }

    #[test]
    fn schedules_recorded_with_a_decay_length_still_read() {
        let old = r#"{"type":"cosine_decay","decay_epochs":30,"alpha":0.0}"#;
        let schedule: LrSchedule = serde_json::from_str(old).unwrap();
        assert_eq!(schedule, LrSchedule::cosine_decay());
    }

    #[test]
    fn bad_learning_rate_is_rejected() {
        for lr in [0.0, -1.0, f64::NAN] {
            let config = AdamConfig {
                learning_rate: lr,
                ..Default::default()
            };
            assert!(config
                .validate()
                .unwrap_err()
                .to_string()
                .contains("learning_rate"));
        }
    }
}
