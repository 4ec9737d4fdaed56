//! Training an LSTM with recurrent dropout near fused-kernel speed (docs/benchmarks.md).
//!
//! With a recurrent dropout mask the fused kernels (`Tensor::lstm`, cuDNN) cannot run: the
//! mask multiplies h(t-1) row by row before the recurrent matmul. Autograd through a step loop
//! works but records some fifteen small nodes per time step and replays them one by one, which
//! costs 3-4x the fused kernel on a CPU. Here the forward pass runs without a graph into
//! preallocated time-major buffers and keeps the gate activations; the backward pass through
//! time is written out: per step one `[B, 4H] x [4H, H]` matmul and a handful of element-wise
//! products, and the weight gradients in three large matmuls over all steps at the end.
//!
//! The layer's output enters autograd as a leaf; [`LstmTape::backward`] hands the gradients
//! back (see [`tape`](super::tape) for the scheme, which the native kernels share).
use tch::{Kind, Tensor};

use crate::error::{Error, Result};

/// What one LSTM layer's forward pass keeps for its backward pass. Buffers are time-major.
#[derive(Debug)]
pub(crate) struct LstmTape {
    /// The layer input as autograd knows it, `[B, T, I]`: receives the input gradient when it
    /// requires one.
    input: Tensor,
    /// The input after its dropout mask, time-major `[T, B, I]`.
    x: Tensor,
    input_mask: Option<Tensor>,
    recurrent_mask: Option<Tensor>,
    /// Gate activations i, f, g, o per step: `[T, B, 4H]` (only f is read back).
    gates: Tensor,
    /// Per step, what multiplies [dc, dc, dc, dh] to give the gate pre-activation gradients:
    /// [g i(1-i), c(t-1) f(1-f), i (1-g^2), tanh(c) o(1-o)]: `[T, B, 4H]`.
    gate_factors: Tensor,
    /// Per step, dc(t) / dh(t) = o (1 - tanh(c)^2): `[T, B, H]`.
    cell_factor: Tensor,
    /// What entered each recurrent matmul, h(t-1) times the mask: `[T, B, H]`.
    h_dropped: Tensor,
    /// The leaf handed to the rest of the model: `[B, T, H]` or `[B, H]`.
    output: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    bias: Tensor,
}

/// The weights of one LSTM layer in libtorch's layout (gate order i, f, g, o).
pub(crate) struct LstmWeights<'a> {
    /// `[4H, I]`
    pub w_ih: &'a Tensor,
    /// `[4H, H]`
    pub w_hh: &'a Tensor,
    /// `[4H]`
    pub bias: &'a Tensor,
}

/// `xs: [B, T, I]` -> the output leaf (`[B, T, H]` with `return_sequences`, else `[B, H]`) and
/// the tape for [`LstmTape::backward`]. Masks: `[B, I]` on x(t), `[B, H]` on h(t-1), the same
/// at every step.
pub(crate) fn lstm_forward_tape(
    weights: LstmWeights<'_>,
    xs: &Tensor,
    input_mask: Option<&Tensor>,
    recurrent_mask: Option<&Tensor>,
    return_sequences: bool,
) -> (Tensor, LstmTape) {
    tch::no_grad(|| {
        let size = xs.size();
        let (batch, steps, inputs) = (size[0], size[1], size[2]);
        let units = weights.w_hh.size()[1];
        let options = (xs.kind(), xs.device());
        let mut x = xs.detach().transpose(0, 1).contiguous();
        if let Some(mask) = input_mask {
            x *= mask;
        }
        // tanh(a) = 2 sigmoid(2a) - 1, and libtorch's CPU sigmoid is several times faster than
        // its tanh: with the g rows of the weights doubled, one sigmoid over all four gates
        // serves, and g is fixed up with a multiply-add.
        let g_rows = |w: &Tensor| {
            let doubled = w.copy();
            let _ = doubled.narrow(0, 2 * units, units).g_mul_scalar_(2.0);
            doubled
        };
        let (w_ih, w_hh, bias) = (
            g_rows(weights.w_ih),
            g_rows(weights.w_hh),
            g_rows(weights.bias),
        );
        // One matmul projects the inputs of all steps; the step loop adds the recurrent part
        // and applies the activations in place.
        let gates = bias
            .addmm(&x.view([steps * batch, inputs]), &w_ih.tr())
            .view([steps, batch, 4 * units]);
        let gate_factors = Tensor::empty([steps, batch, 4 * units], options);
        let cell_factor = Tensor::empty([steps, batch, units], options);
        let h_dropped = Tensor::empty([steps, batch, units], options);
        let hs = Tensor::empty([steps, batch, units], options);
        let w_hh_t = w_hh.tr();
        let mut c_prev = Tensor::zeros([batch, units], options);
        for t in 0..steps {
            let mut hd = h_dropped.get(t);
            if t == 0 {
                let _ = hd.zero_();
            } else {
                match recurrent_mask {
                    Some(mask) => {
                        let _ = hs.get(t - 1).mul_out(&hd, mask);
                    }
                    None => {
                        hd.copy_(&hs.get(t - 1));
                    }
                }
            }
            let mut z = gates.get(t);
            let _ = z.addmm_(&hd, &w_hh_t);
            let _ = z.sigmoid_();
            // s (1 - s) for every gate while z holds the four sigmoids; for g, whose sigmoid
            // ran on 2a, 1 - tanh(a)^2 = 4 s (1 - s).
            let factors = gate_factors.get(t);
            let _ = z.mul_out(&factors, &(1.0 - &z));
            let gate = |k: i64| z.narrow(1, k * units, units);
            let factor = |k: i64| factors.narrow(1, k * units, units);
            let (i, f, mut g, o) = (gate(0), gate(1), gate(2), gate(3));
            let _ = g.g_mul_scalar_(2.0).g_add_scalar_(-1.0);
            let mut c = f * &c_prev;
            let _ = c.addcmul_(&i, &g);
            let tc = c.tanh();
            let h = hs.get(t);
            let _ = o.mul_out(&h, &tc);
            let _ = factor(0).g_mul_(&g);
            let _ = factor(1).g_mul_(&c_prev);
            let _ = factor(2).g_mul_(&(i * 4.0));
            let _ = factor(3).g_mul_(&tc);
            // o (1 - tanh(c)^2) = o - h tanh(c)
            let _ = o.addcmul_out(&cell_factor.get(t), &h, &tc.neg());
            c_prev = c;
        }
        let output = if return_sequences {
            hs.transpose(0, 1)
        } else {
            hs.get(steps - 1)
        }
        .detach()
        .set_requires_grad(true);
        let tape = LstmTape {
            input: xs.shallow_clone(),
            x,
            input_mask: input_mask.map(Tensor::shallow_clone),
            recurrent_mask: recurrent_mask.map(Tensor::shallow_clone),
            gates,
            gate_factors,
            cell_factor,
            h_dropped,
            output: output.shallow_clone(),
            w_ih: weights.w_ih.shallow_clone(),
            w_hh: weights.w_hh.shallow_clone(),
            bias: weights.bias.shallow_clone(),
        };
        (output, tape)
    })
}

impl LstmTape {
    /// Backpropagation through time from the gradient autograd left in the output leaf;
    /// hands the parameter (and input) gradients to autograd. Does nothing when the output
    /// received no gradient.
    pub(crate) fn backward(self) -> Result<()> {
        let d_output = self.output.grad();
        if !d_output.defined() {
            return Ok(());
        }
        let (d_w_ih, d_w_hh, d_bias, d_input) = tch::no_grad(|| self.gradients(&d_output));
        // Autograd accumulates `d_p` into each parameter's `.grad()` from this surrogate,
        // and pushes `d_input` on into whatever produced the input.
        let mut surrogate = (&self.w_ih * &d_w_ih).sum(Kind::Float)
            + (&self.w_hh * &d_w_hh).sum(Kind::Float)
            + (&self.bias * &d_bias).sum(Kind::Float);
        if let Some(d_input) = d_input {
            surrogate += (&self.input * &d_input).sum(Kind::Float);
        }
        if !surrogate.requires_grad() {
            return Err(Error::invalid(
                "LSTM weights",
                "they do not require gradients, so the layer cannot be trained",
            ));
        }
        surrogate.backward();
        Ok(())
    }

    /// `(dW_ih, dW_hh, d_bias, d_input)`, the last only when the input requires a gradient.
    fn gradients(&self, d_output: &Tensor) -> (Tensor, Tensor, Tensor, Option<Tensor>) {
        let size = self.gates.size();
        let (steps, batch, units) = (size[0], size[1], size[2] / 4);
        let forget = self.gates.narrow(2, units, units);
        let d_seq = (d_output.dim() == 3).then(|| d_output.transpose(0, 1).contiguous());
        let d_gates = Tensor::empty_like(&self.gates);
        let mut dh_next: Option<Tensor> = None;
        let mut dc_next: Option<Tensor> = None;
        for t in (0..steps).rev() {
            let dh = match (&d_seq, dh_next.take()) {
                (Some(d_seq), Some(next)) => d_seq.get(t) + next,
                (Some(d_seq), None) => d_seq.get(t),
                (None, Some(next)) => next,
                (None, None) => d_output.shallow_clone(),
            };
            let dc = match dc_next.take() {
                Some(next) => next.addcmul(&dh, &self.cell_factor.get(t)),
                None => &dh * self.cell_factor.get(t),
            };
            let dz = d_gates.get(t);
            let _ = Tensor::cat(&[&dc, &dc, &dc, &dh], 1).mul_out(&dz, &self.gate_factors.get(t));
            if t > 0 {
                let dh_dropped = dz.mm(&self.w_hh);
                dh_next = Some(match &self.recurrent_mask {
                    Some(mask) => dh_dropped * mask,
                    None => dh_dropped,
                });
                dc_next = Some(dc * forget.get(t));
            }
        }
        // The weight gradients: one matmul each over all steps and rows.
        let flat = d_gates.view([steps * batch, 4 * units]);
        let d_w_hh = flat.tr().mm(&self.h_dropped.view([steps * batch, units]));
        let inputs = self.x.size()[2];
        let d_w_ih = flat.tr().mm(&self.x.view([steps * batch, inputs]));
        let d_bias = flat.sum_dim_intlist(0, false, Kind::Float);
        let d_input = self.input.requires_grad().then(|| {
            let d_x = flat.mm(&self.w_ih).view([steps, batch, inputs]);
            let d_x = match &self.input_mask {
                Some(mask) => d_x * mask,
                None => d_x,
            };
            d_x.transpose(0, 1)
        });
        (d_w_ih, d_w_hh, d_bias, d_input)
    }
}

#[cfg(test)]
mod tests {
    use tch::{nn, Device};

    use super::*;
    use crate::nn::{dropout_mask, lstm, CellKind, RecurrentConfig};

    fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
        (a - b).abs().max().double_value(&[])
    }

    /// The layer's parameter gradients and the input's, taken out and zeroed.
    fn take_grads(vs: &nn::VarStore, xs: &Tensor) -> Vec<(String, Tensor)> {
        let mut grads = crate::testutil::take_grads(vs);
        let mut xs = xs.shallow_clone();
        grads.push(("input".to_string(), xs.grad().copy()));
        xs.zero_grad();
        grads
    }

    #[test]
    fn taped_gradients_match_autograd_of_the_step_loop() {
        let _rng = crate::torch_rng_lock();
        let cpu = (Kind::Float, Device::Cpu);
        for return_sequences in [false, true] {
            for input_dropout in [0.0, 0.3] {
                tch::manual_seed(3);
                let vs = nn::VarStore::new(Device::Cpu);
                let config = RecurrentConfig {
                    cell: CellKind::Lstm,
                    units: 6,
                    dropout: input_dropout,
                    recurrent_dropout: 0.4,
                    return_sequences,
                    recurrent_mask: Default::default(),
                };
                let layer = lstm(vs.root(), 5, config).unwrap();
                let xs = Tensor::randn([4, 7, 5], cpu).set_requires_grad(true);
                let input_mask = dropout_mask(4, 5, input_dropout, Device::Cpu);
                let recurrent_mask = dropout_mask(4, 6, 0.4, Device::Cpu).unwrap();
                // A random linear read-out makes every output element matter to the loss.
                let out_shape: &[i64] = if return_sequences {
                    &[4, 7, 6]
                } else {
                    &[4, 6]
                };
                let read_out = Tensor::randn(out_shape, cpu);

                let reference =
                    layer.forward_steps(&xs, input_mask.as_ref(), Some(&recurrent_mask));
                (&reference * &read_out).sum(Kind::Float).backward();
                let expected = take_grads(&vs, &xs);

                let (taped, tape) = layer
                    .forward_tape(&xs, input_mask.as_ref(), Some(&recurrent_mask))
                    .unwrap();
                let case = format!("return_sequences={return_sequences} dropout={input_dropout}");
                assert!(max_abs_diff(&taped, &reference) < 1e-5, "{case}: outputs");
                (&taped * &read_out).sum(Kind::Float).backward();
                tape.backward().unwrap();
                let actual = take_grads(&vs, &xs);

                for ((name, want), (_, got)) in expected.iter().zip(&actual) {
                    assert!(
                        want.abs().max().double_value(&[]) > 0.0,
                        "{case}: {name} is zero"
                    );
                    let diff = max_abs_diff(want, got);
                    assert!(diff < 1e-4, "{case}: gradient of {name} differs by {diff}");
                }
            }
        }
    }

    #[test]
    fn output_without_gradient_is_a_no_op() {
        let _rng = crate::torch_rng_lock();
        tch::manual_seed(0);
        let vs = nn::VarStore::new(Device::Cpu);
        let config = RecurrentConfig {
            units: 3,
            recurrent_dropout: 0.2,
            ..Default::default()
        };
        let layer = lstm(vs.root(), 2, config).unwrap();
        let xs = Tensor::randn([2, 4, 2], (Kind::Float, Device::Cpu));
        let (_, tape) = layer.forward_tape(&xs, None, None).unwrap();
        tape.backward().unwrap();
        assert!(vs.variables().values().all(|v| !v.grad().defined()));
    }
}
