#!/usr/bin/env bash
# The runs behind docs/results.md. Each is recorded under runs/ and reused when run again
# (add --retrain to train anew). Needs `make setup` and MNIST (MNIST_DIR or data/mnist/).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build --release --bin lstm-mnist
bin=target/release/lstm-mnist
# 1. The Keras reference: LSTM(32, recurrent_dropout=0.15), batch 128, 10 epochs, Keras' split,
#    eight seeds.
for seed in 42 1 2 3 4 5 6 7; do
    $bin train --units 32 --recurrent-dropout 0.15 --epochs 10 --batch-size 128 --keras-split --seed "$seed"
done
# 2. The notebooks' recommended settings: Adam at 0.002, decayed along a cosine to zero over the
#    run (RunSpec::cosine_decay(2e-3) in the notebooks).
cosine="--learning-rate 2e-3 --cosine-decay 0"
$bin train --units 32 --recurrent-dropout 0.15 --epochs 30 --batch-size 128 $cosine
$bin train --units 32 --layers 2 --recurrent-dropout 0.15 --epochs 30 --batch-size 128 $cosine
# Notebook 01's comparisons: the sweep's 12-epoch budget, seeds 42, 43 and 44 of LSTM(32),
# 2 x LSTM(32) and LSTM(48) (the sweep below trains seed 42 of the one-layer models).
for seed in 42 43 44; do
    $bin train --units 32 --layers 2 --recurrent-dropout 0.15 --epochs 12 --batch-size 128 $cosine --seed "$seed"
done
for seed in 43 44; do
    for units in 32 48; do
        $bin train --units "$units" --recurrent-dropout 0.15 --epochs 12 --batch-size 128 $cosine --seed "$seed"
    done
done
$bin sweep --units 32,48,96,256 --recurrent-dropout 0.15 --epochs 12 --batch-size 128 $cosine
$bin train --model cnn --epochs 5 --batch-size 128 --validation-fraction 0.1
$bin train --model cnn-deep --epochs 5 --batch-size 64 --validation-fraction 0.1 $cosine
# 3. The same models with a constant learning rate of 0.001 (Keras' default), for the
#    comparison in section 2.
$bin train --units 32 --recurrent-dropout 0.15 --epochs 30 --batch-size 128
$bin train --units 32 --layers 2 --recurrent-dropout 0.15 --epochs 30 --batch-size 128
for epochs in 15 20; do
    $bin train --units 256 --recurrent-dropout 0.15 --epochs "$epochs" --batch-size 128
done
$bin train --model cnn-deep --epochs 5 --batch-size 64 --validation-fraction 0.1
# The table in docs/results.md, section 3:
$bin report
