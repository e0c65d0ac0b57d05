import EmovereTensor

/// The `standard` network: mini-Xception four times wider with a strided stem and a dense head;
/// 733,671 parameters (728,103 trainable) and 59.0 M multiply-adds per face at 48x48.
///
/// Stem: 3x3 same convolution of 32 filters, then 3x3 stride-2 same convolution of 64 filters, each
/// without bias and followed by batch norm and ReLU (`[N, S, S, 1]` to `[N, S/2, S/2, 64]`).
/// Three mini-Xception residual modules (`MiniXception.module`) of 128/256/512 filters, each halving
/// the size and followed by ReLU. Head: global average pooling, dropout, dense to the classes
/// (softmax is in the loss). Input `[N, S, S, 1]`, output logits `[N, classes]`.
public enum WideXception {
    /// The layers (unbuilt); `moduleFilters` and `dropout` narrow or vary the network for tests.
    public static func network(classCount: Int = 7, moduleFilters: [Int] = [128, 256, 512],
                               dropout: Float = 0.3) -> Sequential {
        Sequential {
            Conv2d(filters: 32, kernelSize: 3, padding: .same, usesBias: false)
            BatchNorm()
            ReLU()
            Conv2d(filters: 64, kernelSize: 3, stride: 2, padding: .same, usesBias: false)
            BatchNorm()
            ReLU()
            for filters in moduleFilters {
                MiniXception.module(filters: filters)
                ReLU()
            }
            GlobalAveragePool2d()
            Dropout(rate: dropout)
            Dense(units: classCount)
        }
    }
}
