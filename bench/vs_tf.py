"""ganrun's DCGAN step against the TensorFlow DCGAN tutorial's own ``train_step``, same CPU.

The tutorial's code runs as written (its two Keras models, ``BinaryCrossentropy(from_logits
=True)``, two ``Adam(1e-4)``, the ``@tf.function`` two-tape ``train_step``) in a worker
process under a Python that has TensorFlow (a throwaway venv, as for keras_equivalence.py;
TensorFlow is never a project dependency). ganrun's step is the engine's: the dcgan trainer
built from ``recipes/dcgan_mnist.yaml`` (batch 256), each step under its precision's
autocast, then ``end_step`` and the losses read, as ``engine.train_epoch`` does. Both get the
same 256-digit batches of the embedded mnist5k. Rounds alternate: TF, ganrun fp32, ganrun
bf16 (where the CPU has native bf16), ``--steps`` steps each, so a noisy machine slows all
alike; each figure is the median step over all rounds.

    python3 -m venv /tmp/tfvenv
    /tmp/tfvenv/bin/pip install torch==2.13.0 tensorflow-cpu   # torch pinned: unpinned pulls CUDA
    .venv/bin/python bench/vs_tf.py [--tf-python /tmp/tfvenv/bin/python] [--rounds 25]

Last line: ``ratio_fp32=<ganrun fp32 ms / TF ms> ratio_bf16=<ganrun bf16 ms / TF ms>``
(``ratio_bf16=na`` where the CPU has no native bf16). Targets: <= 1.0 and <= 0.6.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BATCH = 256
NOISE_DIM = 100


# ----------------------------------------------------------------------------- TF worker
def tf_worker(data: str) -> None:
    """The tutorial's step; reads a step count per line on stdin, answers the ms of each."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np
    import tensorflow as tf
    from tensorflow.keras import layers

    def leaky():
        try:
            return layers.LeakyReLU(negative_slope=0.3)
        except TypeError:
            return layers.LeakyReLU(alpha=0.3)

    def make_generator_model():  # the tutorial's, layer for layer
        return tf.keras.Sequential([
            tf.keras.Input(shape=(NOISE_DIM,)),
            layers.Dense(7 * 7 * 256, use_bias=False), layers.BatchNormalization(), leaky(),
            layers.Reshape((7, 7, 256)),
            layers.Conv2DTranspose(128, (5, 5), strides=(1, 1), padding="same", use_bias=False),
            layers.BatchNormalization(), leaky(),
            layers.Conv2DTranspose(64, (5, 5), strides=(2, 2), padding="same", use_bias=False),
            layers.BatchNormalization(), leaky(),
            layers.Conv2DTranspose(1, (5, 5), strides=(2, 2), padding="same", use_bias=False,
                                   activation="tanh"),
        ])

    def make_discriminator_model():
        return tf.keras.Sequential([
            tf.keras.Input(shape=(28, 28, 1)),
            layers.Conv2D(64, (5, 5), strides=(2, 2), padding="same"), leaky(), layers.Dropout(0.3),
            layers.Conv2D(128, (5, 5), strides=(2, 2), padding="same"), leaky(), layers.Dropout(0.3),
            layers.Flatten(), layers.Dense(1),
        ])

    generator, discriminator = make_generator_model(), make_discriminator_model()
    cross_entropy = tf.keras.losses.BinaryCrossentropy(from_logits=True)
    generator_optimizer = tf.keras.optimizers.Adam(1e-4)
    discriminator_optimizer = tf.keras.optimizers.Adam(1e-4)

    @tf.function
    def train_step(images):
        noise = tf.random.normal([BATCH, NOISE_DIM])
        with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
            generated_images = generator(noise, training=True)
            real_output = discriminator(images, training=True)
            fake_output = discriminator(generated_images, training=True)
            gen_loss = cross_entropy(tf.ones_like(fake_output), fake_output)
            disc_loss = (cross_entropy(tf.ones_like(real_output), real_output)
                         + cross_entropy(tf.zeros_like(fake_output), fake_output))
        gradients_of_generator = gen_tape.gradient(gen_loss, generator.trainable_variables)
        gradients_of_discriminator = disc_tape.gradient(disc_loss, discriminator.trainable_variables)
        generator_optimizer.apply_gradients(zip(gradients_of_generator, generator.trainable_variables))
        discriminator_optimizer.apply_gradients(
            zip(gradients_of_discriminator, discriminator.trainable_variables))
        return gen_loss, disc_loss

    images = np.load(data)  # N x 28 x 28 x 1 in [-1, 1], NHWC as the tutorial feeds them
    batches = [tf.constant(images[i:i + BATCH]) for i in range(0, len(images) - BATCH + 1, BATCH)]
    k = 0
    for line in sys.stdin:
        times = []
        for _ in range(int(line)):
            t = time.perf_counter()
            g, d = train_step(batches[k % len(batches)])
            float(g), float(d)  # as ganrun reads its losses each step
            times.append(1000 * (time.perf_counter() - t))
            k += 1
        print(" ".join(f"{x:.2f}" for x in times), flush=True)


# ----------------------------------------------------------------------------- ganrun side
def ganrun_step(precision: str, work: Path):
    """A closure running one ganrun dcgan step (the engine's per-step code) per call."""
    from ganrun import engine
    from ganrun.device import move_batch
    from ganrun.plugins import get_plugin_manager
    from ganrun.recipe import load_recipe
    from ganrun.registry import Registry

    pm = get_plugin_manager()
    registry = Registry.from_hooks(pm.hook)
    recipe = load_recipe(REPO / "recipes" / "dcgan_mnist.yaml",
                         [f"train.precision={precision}", "track.enabled=false",
                          f"output.dir={work / precision}"], registry=registry)
    run = engine.prepare(recipe, pm, registry)
    trainer = run.trainer
    trainer.train(True)
    batches = [move_batch(b, trainer.device) for b in run.loader]
    batches = [b for b in batches if len(b["image"]) == BATCH]
    k = [0]

    def step() -> float:
        t = time.perf_counter()
        with trainer.precision.autocast():
            out = trainer.train_step(batches[k[0] % len(batches)])
        trainer.end_step()
        {n: float(v) for n, v in out.items()}
        k[0] += 1
        return 1000 * (time.perf_counter() - t)

    return step, run.loader.dataset.images[:len(batches) * BATCH]


def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tf-python", default=os.environ.get("TF_PYTHON", "/tmp/tfvenv/bin/python"))
    ap.add_argument("--rounds", type=int, default=25)
    ap.add_argument("--steps", type=int, default=1, help="steps per round and side")
    ap.add_argument("--worker", choices=["tf"], help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker == "tf":
        tf_worker(args.data)
        return

    import numpy as np

    from ganrun.precision import cpu_bf16_kind, native_bf16

    work = Path(tempfile.mkdtemp(prefix="ganrun-vs-tf-"))
    os.chdir(work)
    import torch
    fp32_step, images = ganrun_step("fp32", work)
    sides = {"fp32": fp32_step}
    if native_bf16(torch.device("cpu")):
        sides["bf16"] = ganrun_step("bf16", work)[0]
    data = work / "digits.npy"
    np.save(data, images.permute(0, 2, 3, 1).numpy())  # NCHW -> the tutorial's NHWC
    tf = subprocess.Popen([args.tf_python, __file__, "--worker", "tf", "--data", str(data)],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def tf_steps(n: int) -> list[float]:
        tf.stdin.write(f"{n}\n")
        tf.stdin.flush()
        line = tf.stdout.readline()
        if not line:
            sys.exit(f"vs_tf: the TensorFlow worker ({args.tf_python}) died; see its error above")
        return [float(x) for x in line.split()]

    tf_steps(3)  # tracing the tf.function and warming both up
    for step in sides.values():
        for _ in range(3):
            step()
    times: dict[str, list[float]] = {"tf": [], **{k: [] for k in sides}}
    for r in range(args.rounds):
        times["tf"] += tf_steps(args.steps)
        for name, step in sides.items():
            times[name] += [step() for _ in range(args.steps)]
        print(f"round {r + 1}: " + ", ".join(f"{k} {statistics.median(v[-args.steps:]):.0f} ms"
                                            for k, v in times.items()), file=sys.stderr)
    tf.stdin.close()
    tf.wait()
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores, native bf16: {cpu_bf16_kind()}; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads; batch {BATCH}; "
          f"{args.rounds} rounds of {args.steps} steps")
    for k, v in med.items():
        print(f"{k:>5}: {v:.0f} ms/step (median of {len(times[k])})")
    r16 = f"{med['bf16'] / med['tf']:.3f}" if "bf16" in med else "na"
    print(f"ratio_fp32={med['fp32'] / med['tf']:.3f} ratio_bf16={r16}")


if __name__ == "__main__":
    main()
