"""Prove plugins/dcgan/networks.py computes what the TF DCGAN tutorial's Keras models compute.

Builds the tutorial's models in Keras (Glorot kernels, random biases and BatchNorm statistics),
copies every weight into ganrun's ``Generator`` and ``Discriminator`` (dense weights unpermuted),
runs both in inference mode on the same inputs and prints, last, ``max_abs_diff=<value>``; exits 1
when it exceeds 1e-5. The same weights in ``tf_padding=False`` networks are shown for contrast.

TensorFlow is never a project dependency; run this in a throwaway venv (from the repo root):

    python3 -m venv /tmp/tfvenv
    /tmp/tfvenv/bin/pip install torch==2.13.0 tensorflow-cpu
    /tmp/tfvenv/bin/python bench/keras_equivalence.py
"""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf
import torch
from tensorflow.keras import layers

TARGET = 1e-5
SLOPE = 0.3
PLUGIN = Path(__file__).resolve().parents[1] / "plugins" / "dcgan"


def load_networks() -> ModuleType:
    """Import plugins/dcgan/networks.py (and its sibling modules) by path, without
    installing the project."""
    spec = importlib.util.spec_from_file_location(
        "dcgan_plugin", PLUGIN / "__init__.py", submodule_search_locations=[str(PLUGIN)])
    assert spec is not None and spec.loader is not None
    package = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = package
    spec.loader.exec_module(package)
    return importlib.import_module(f"{spec.name}.networks")


def leaky() -> layers.Layer:
    try:
        return layers.LeakyReLU(negative_slope=SLOPE)  # Keras 3
    except TypeError:
        return layers.LeakyReLU(alpha=SLOPE)  # tf.keras 2


def make_generator() -> tf.keras.Model:
    same = {"padding": "same", "use_bias": False}
    return tf.keras.Sequential([
        tf.keras.Input(shape=(100,)),
        layers.Dense(7 * 7 * 256, use_bias=False, name="fc"),
        layers.BatchNormalization(name="bn0"), leaky(),
        layers.Reshape((7, 7, 256)),
        layers.Conv2DTranspose(128, (5, 5), strides=(1, 1), name="up1", **same),
        layers.BatchNormalization(name="bn1"), leaky(),
        layers.Conv2DTranspose(64, (5, 5), strides=(2, 2), name="up2", **same),
        layers.BatchNormalization(name="bn2"), leaky(),
        layers.Conv2DTranspose(1, (5, 5), strides=(2, 2), activation="tanh", name="up3", **same),
    ])


def make_discriminator() -> tf.keras.Model:
    return tf.keras.Sequential([
        tf.keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(64, (5, 5), strides=(2, 2), padding="same", name="conv1"),
        leaky(), layers.Dropout(0.3),
        layers.Conv2D(128, (5, 5), strides=(2, 2), padding="same", name="conv2"),
        leaky(), layers.Dropout(0.3),
        layers.Flatten(), layers.Dense(1, name="fc"),
    ])


def randomise(model: tf.keras.Model, rng: np.random.Generator) -> None:
    """Keep Glorot kernels; make biases and every BatchNorm parameter and statistic non-trivial."""
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            n = layer.get_weights()[0].shape
            layer.set_weights([rng.uniform(0.5, 1.5, n), rng.normal(0, 0.2, n),  # gamma, beta
                               rng.normal(0, 0.2, n), rng.uniform(0.2, 2.0, n)])  # mean, variance
        elif getattr(layer, "use_bias", False):
            kernel, bias = layer.get_weights()
            layer.set_weights([kernel, rng.normal(0, 0.1, bias.shape)])


def copy_weights(keras_model: tf.keras.Model, torch_model: torch.nn.Module) -> None:
    """Copy each named Keras layer into the torch submodule of the same name."""
    for layer in keras_model.layers:
        w = layer.get_weights()
        if not w or layer.name not in torch_model._modules:
            continue
        mod = getattr(torch_model, layer.name)
        mod = getattr(mod, "conv", None) or getattr(mod, "deconv", None) or mod  # unwrap SamePad*
        if isinstance(layer, layers.BatchNormalization):
            params = {"weight": w[0], "bias": w[1], "running_mean": w[2], "running_var": w[3]}
        elif isinstance(layer, layers.Dense):  # (in, out) -> (out, in)
            params = {"weight": w[0].T}
        elif isinstance(layer, (layers.Conv2D, layers.Conv2DTranspose)):
            # Conv2D (kh, kw, in, out) -> (out, in, kh, kw);
            # Conv2DTranspose (kh, kw, out, in) -> (in, out, kh, kw)
            params = {"weight": w[0].transpose(3, 2, 0, 1)}
        else:
            raise TypeError(f"unexpected layer {layer.name}")
        if len(w) == 2 and "bias" not in params:
            params["bias"] = w[1]
        state = mod.state_dict()
        for key, value in params.items():
            assert state[key].shape == value.shape, (layer.name, key, state[key].shape, value.shape)
        mod.load_state_dict({**state, **{k: torch.from_numpy(np.ascontiguousarray(v, np.float32))
                                         for k, v in params.items()}})
    total = sum(np.asarray(w).size for w in keras_model.get_weights())
    copied = sum(t.numel() for t in torch_model.state_dict().values() if t.is_floating_point())
    assert total == copied, f"{total} Keras values vs {copied} torch values"


def nchw(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


def compare(nets: ModuleType, keras_g: tf.keras.Model, keras_d: tf.keras.Model,
            z: np.ndarray, images: np.ndarray, tf_padding: bool) -> float:
    """Largest |Keras - torch| over generator images and discriminator logits."""
    g, d = nets.Generator(tf_padding=tf_padding), nets.Discriminator(tf_padding=tf_padding)
    copy_weights(keras_g, g)
    copy_weights(keras_d, d)
    g.eval()  # BatchNorm uses its running statistics, Dropout is off
    d.eval()
    keras_img = keras_g(z, training=False).numpy()
    with torch.no_grad():
        torch_img = g(torch.from_numpy(z))
        g_diff = (torch_img - nchw(keras_img)).abs().max().item()
        d_in = np.concatenate([keras_img, images])  # the generator's own images, then random ones
        keras_logits = torch.from_numpy(keras_d(d_in, training=False).numpy())
        d_diff = (d(nchw(d_in)) - keras_logits).abs().max().item()
    print(f"tf_padding={tf_padding}: generator {g_diff:.3g}, discriminator {d_diff:.3g}")
    return max(g_diff, d_diff)


def main() -> int:
    rng = np.random.default_rng(0)
    tf.keras.utils.set_random_seed(0)
    torch.manual_seed(0)
    print(f"tensorflow {tf.__version__}, keras {tf.keras.__version__}, torch {torch.__version__}")
    nets = load_networks()
    keras_g, keras_d = make_generator(), make_discriminator()
    for model in (keras_g, keras_d):
        randomise(model, rng)
    z = rng.standard_normal((64, 100)).astype(np.float32)
    images = rng.uniform(-1, 1, (64, 28, 28, 1)).astype(np.float32)
    sample = keras_g(z, training=False).numpy()
    print(f"generator images: mean {sample.mean():.3f}, std {sample.std():.3f}, "
          f"discriminator logits std {keras_d(images, training=False).numpy().std():.3f}")
    loose = compare(nets, keras_g, keras_d, z, images, tf_padding=False)
    print(f"tf_padding=False max_abs_diff={loose:.3g} (informative: symmetric padding differs)")
    diff = compare(nets, keras_g, keras_d, z, images, tf_padding=True)
    print(f"target <= {TARGET:g}: {'met' if diff <= TARGET else 'MISSED'}")
    print(f"max_abs_diff={diff:.3g}")
    return 0 if diff <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
