import EmovereTensor

/// mini-Xception (Arriaga, Valdenegro-Toro and Plöger, 2017): 58,423 parameters at any input size.
///
/// Stem: two 3x3 valid convolutions of 8 filters without bias, each followed by batch norm and ReLU.
/// Four residual modules of 16/32/64/128 filters: [separable 3x3 + BN + ReLU, separable 3x3 + BN,
/// 3x3 stride-2 same max pool] beside a 1x1 stride-2 convolution + BN shortcut, then added.
/// Head: 3x3 same convolution to the classes, global average pooling (softmax is in the loss).
/// Input `[N, S, S, 1]`, output logits `[N, classes]`.
public enum MiniXception {
    public static func network(classCount: Int = 7) -> Sequential {
        Sequential {
            for _ in 0..<2 {
                Conv2d(filters: 8, kernelSize: 3, usesBias: false)
                BatchNorm()
                ReLU()
            }
            for filters in [16, 32, 64, 128] {
                module(filters: filters)
            }
            Conv2d(filters: classCount, kernelSize: 3, padding: .same)
            GlobalAveragePool2d()
        }
    }

    /// One residual module, `[N, H, W, C] -> [N, ceil(H/2), ceil(W/2), filters]`: [separable 3x3 + BN + ReLU,
    /// separable 3x3 + BN, 3x3 stride-2 same max pool] beside a 1x1 stride-2 convolution + BN shortcut.
    public static func module(filters: Int) -> Residual {
        Residual {
            SeparableConv2d(filters: filters, kernelSize: 3, usesBias: false)
            BatchNorm()
            ReLU()
            SeparableConv2d(filters: filters, kernelSize: 3, usesBias: false)
            BatchNorm()
            Pool2d.max(poolSize: 3, stride: 2, padding: .same)
        } shortcut: {
            Conv2d(filters: filters, kernelSize: 1, stride: 2, padding: .same, usesBias: false)
            BatchNorm()
        }
    }
}

/// A very small CNN for tests and smoke runs: two conv-BN-ReLU-pool stages and a dense head.
/// Input `[N, S, S, 1]`, output logits `[N, classes]`.
public enum TinyCNN {
    public static func network(classCount: Int = 7) -> Sequential {
        Sequential {
            for filters in [8, 16] {
                Conv2d(filters: filters, kernelSize: 3, padding: .same, usesBias: false)
                BatchNorm()
                ReLU()
                Pool2d.max(poolSize: 2)
            }
            GlobalAveragePool2d()
            Dense(units: classCount)
        }
    }
}
