"""Loads a model file written by lstm_support's `Model::save` into plain PyTorch modules
(`nn.LSTM` / `nn.GRU` / `nn.RNN` with `batch_first=True`, then `nn.Linear`) by name, and checks
that they give the probabilities lstm_support gave.

    python tools/load_in_pytorch.py MODEL.safetensors CHECK.safetensors

CHECK holds `images` [N, 28, 28] and `expected` [N, classes]. Exits 1 when they differ.
"""
import json
import sys

import torch
from safetensors import safe_open
from safetensors.torch import load_file

CELLS = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "simple_rnn": torch.nn.RNN}


class RecurrentClassifier(torch.nn.Module):
    """A stack of recurrent layers of one cell and width, then a Dense head on the last step."""

    def __init__(self, cell, input_size, units, layers, classes):
        super().__init__()
        self.rnn = CELLS[cell](input_size, units, num_layers=layers, batch_first=True)
        self.head = torch.nn.Linear(units, classes)

    def forward(self, images):
        steps, _ = self.rnn(images)
        return self.head(steps[:, -1])


def from_config(config):
    layers = config["layers"]
    cells = {layer["cell"] for layer in layers}
    widths = {layer["units"] for layer in layers}
    if any(layer["type"] != "recurrent" for layer in layers) or len(cells) != 1 or len(widths) != 1:
        raise SystemExit("only stacks of one recurrent cell and width map onto one PyTorch module")
    features = config["input"]["features"]
    return RecurrentClassifier(cells.pop(), features, widths.pop(), len(layers), config["num_classes"])


def main(model_path, check_path):
    with safe_open(model_path, framework="pt") as f:
        config = json.loads(f.metadata()["config"])
    model = from_config(config)
    model.load_state_dict(load_file(model_path))  # strict: every name must match
    model.eval()
    check = load_file(check_path)
    with torch.no_grad():
        probabilities = model(check["images"]).softmax(-1)
    difference = (probabilities - check["expected"]).abs().max().item()
    print(f"{model_path}: {type(model.rnn).__name__}, max |difference| {difference:.2e}")
    return 0 if difference < 1e-5 else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
