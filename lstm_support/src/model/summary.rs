//! Keras' `model.summary()`: one row per layer with its output shape and parameter count.
use std::fmt;

use super::network::{layer_path, HEAD_PATH};
use super::Model;
use crate::table::{thousands, Align, Table};

/// A model's layers, output shapes and parameters, and the total. `Display` writes it as
/// text; in a notebook it shows as an HTML table.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// (layer, output shape, parameters), the head last.
    pub layers: Vec<(String, String, usize)>,
    pub total_parameters: usize,
}

/// `(None, 28, 32)`: Keras writes the batch dimension as `None`.
fn keras_shape(shape: &[usize]) -> String {
    let dims: Vec<String> = std::iter::once("None".to_owned())
        .chain(shape.iter().map(|d| d.to_string()))
        .collect();
    format!("({})", dims.join(", "))
}

impl Summary {
    pub(super) fn new(model: &Model) -> Summary {
        let vars = model.variables();
        let count = |prefix: &str| -> usize {
            vars.iter()
                .filter(|(name, _)| name.starts_with(&format!("{prefix}.")))
                .map(|(_, t)| t.numel())
                .sum()
        };
        let config = model.config();
        let mut shape = config.input.shape();
        let mut layers = Vec::new();
        for (index, layer) in config.layers.iter().enumerate() {
            // validate() ran when the model was built, so every shape is known.
            shape = layer.output_shape(index, &shape).unwrap_or_default();
            layers.push((
                layer.describe(),
                keras_shape(&shape),
                count(&layer_path(index)),
            ));
        }
        layers.push((
            format!("Dense({}, softmax)", config.num_classes),
            keras_shape(&[config.num_classes]),
            count(HEAD_PATH),
        ));
        Summary {
            layers,
            total_parameters: model.parameter_count(),
        }
    }

    /// The summary as a table, the total in the last row.
    pub fn table(&self) -> Table {
        let mut rows: Vec<Vec<String>> = self
            .layers
            .iter()
            .map(|(layer, shape, params)| {
                vec![layer.clone(), shape.clone(), thousands(*params as u64)]
            })
            .collect();
        rows.push(vec![
            "Total".into(),
            String::new(),
            thousands(self.total_parameters as u64),
        ]);
        Table {
            caption: "Model summary".into(),
            header: ["layer", "output shape", "parameters"]
                .map(String::from)
                .to_vec(),
            align: vec![Align::Left, Align::Left, Align::Right],
            rows,
        }
    }

    pub fn evcxr_display(&self) {
        self.table().evcxr_display();
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.table().to_text())
    }
}
