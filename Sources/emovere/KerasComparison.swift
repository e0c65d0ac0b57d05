import Foundation

/// Times Keras `fit` (through python3 and the `tensorflow` package, when installed) on Arriaga's mini-Xception, the
/// network Emovere's `mini-xception` reproduces, in the same benchmark run: batch `batchSize`, Adam, cross-entropy,
/// random images and labels, no augmentation, as many threads as Emovere's workers.
struct KerasComparison {
    let inputSize: Int
    let batchSize: Int
    let seconds: Double
    let threads: Int

    /// Runs the comparison and prints its line; returns Keras's training images/s, or why there are none.
    func run() -> PythonComparison.Outcome {
        let script = """
            import os, sys, time
            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
            try:
                import numpy as np, tensorflow as tf
                from tensorflow import keras
                from keras import layers, regularizers
            except ImportError as e:
                print("Keras comparison skipped: python3 cannot import tensorflow/keras (%s)" % e); sys.exit(0)
            size, batch, seconds, threads = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(1)
            l2 = regularizers.l2(0.01)
            inputs = keras.Input((size, size, 1))
            x = inputs
            for _ in range(2):
                x = layers.Conv2D(8, 3, kernel_regularizer=l2, use_bias=False)(x)
                x = layers.Activation("relu")(layers.BatchNormalization()(x))
            for filters in (16, 32, 64, 128):
                residual = layers.BatchNormalization()(layers.Conv2D(filters, 1, strides=2, padding="same", use_bias=False)(x))
                x = layers.SeparableConv2D(filters, 3, padding="same", depthwise_regularizer=l2, pointwise_regularizer=l2, use_bias=False)(x)
                x = layers.Activation("relu")(layers.BatchNormalization()(x))
                x = layers.SeparableConv2D(filters, 3, padding="same", depthwise_regularizer=l2, pointwise_regularizer=l2, use_bias=False)(x)
                x = layers.MaxPooling2D(3, strides=2, padding="same")(layers.BatchNormalization()(x))
                x = layers.add([x, residual])
            x = layers.GlobalAveragePooling2D()(layers.Conv2D(7, 3, padding="same")(x))
            model = keras.Model(inputs, layers.Activation("softmax")(x))
            model.compile(optimizer="adam", loss="categorical_crossentropy")
            rng = np.random.default_rng(0)
            images = rng.uniform(-1, 1, (batch * 16, size, size, 1)).astype(np.float32)
            labels = np.eye(7, dtype=np.float32)[rng.integers(0, 7, batch * 16)]
            class Clock(keras.callbacks.Callback):
                def __init__(self):
                    super().__init__(); self.marks = []
                def on_train_batch_end(self, step, logs=None):
                    self.marks.append((time.perf_counter(), time.process_time()))
            model.fit(images[:batch * 2], labels[:batch * 2], batch_size=batch, epochs=1, verbose=0)  # compile and warm up
            t = time.perf_counter()
            model.fit(images, labels, batch_size=batch, epochs=1, verbose=0, shuffle=False)  # sizes the timed fit
            epochs = 1 + int(seconds / max(time.perf_counter() - t, 1e-9))
            # One fit call of several epochs, timed from its first batch's end to its last's (the switches between
            # epochs included): fit's own set-up (its data adapter and callbacks' start) is left out, as Emovere's
            # figure leaves out its trainer's.
            clock = Clock()
            model.fit(images, labels, batch_size=batch, epochs=max(2, epochs), verbose=0, shuffle=False, callbacks=[clock])
            (t0, c0), (t1, c1) = clock.marks[0], clock.marks[-1]
            n = (len(clock.marks) - 1) * batch; wall = t1 - t0; cpu = c1 - c0
            label = "keras %s (tensorflow %s) fit, batch %d, no augmentation" % (keras.__version__, tf.__version__, batch)
            print("%-40s %10.0f images/s  (%.0f per CPU-second)" % (label, n / wall, n / max(cpu, 1e-9)))
            """
        return PythonComparison.Outcome(lines: PythonComparison.run(
            script, arguments: [String(inputSize), String(batchSize), String(seconds), String(threads)],
            comparison: "Keras", timeLimit: 600 + 3 * seconds))
    }
}
