import EmovereCore

// Parameter update rules on flat buffers of `count` floats: value, gradient and optimizer state. Every element is
// updated alone, so large buffers are split over the workers without changing a bit.

/// Optimizer update kernels.
public enum OptimizerKernels {
    /// SGD with momentum (optionally Nesterov) and L2 weight decay added to the gradient:
    /// `g = grad + decay * w; v = momentum * v + g; w -= lr * (nesterov ? g + momentum * v : v)`.
    public static func sgd(
        value: UnsafeMutablePointer<Float>, gradient: UnsafePointer<Float>, velocity: UnsafeMutablePointer<Float>,
        count: Int, learningRate: Float, momentum: Float, nesterov: Bool, weightDecay: Float
    ) {
        let buffers = UnsafeSendable((value: value, gradient: gradient, velocity: velocity))
        Parallel.forEachChunk(count, minimumChunk: Parallel.elementwiseGrain) { _, range in
            let (value, gradient, velocity) = buffers.value
            for i in range {
                let g = gradient[i] + weightDecay * value[i]
                let v = momentum * velocity[i] + g
                velocity[i] = v
                value[i] -= learningRate * (nesterov ? g + momentum * v : v)
            }
        }
    }

    /// Adam (Kingma and Ba) with L2 weight decay added to the gradient (Keras `kernel_regularizer` style);
    /// `step` counts from 1.
    public static func adam(
        value: UnsafeMutablePointer<Float>, gradient: UnsafePointer<Float>,
        firstMoment: UnsafeMutablePointer<Float>, secondMoment: UnsafeMutablePointer<Float>,
        count: Int, learningRate: Float, beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float, step: Int
    ) {
        let correction1 = 1 - powf(beta1, Float(step))
        let correction2 = 1 - powf(beta2, Float(step))
        let stepSize = learningRate * correction2.squareRoot() / correction1
        let epsilonHat = epsilon * correction2.squareRoot()
        let buffers = UnsafeSendable((value: value, gradient: gradient, first: firstMoment, second: secondMoment))
        Parallel.forEachChunk(count, minimumChunk: Parallel.elementwiseGrain) { _, range in
            let (value, gradient, firstMoment, secondMoment) = buffers.value
            for i in range {
                let g = gradient[i] + weightDecay * value[i]
                let m = beta1 * firstMoment[i] + (1 - beta1) * g
                let v = beta2 * secondMoment[i] + (1 - beta2) * g * g
                firstMoment[i] = m
                secondMoment[i] = v
                value[i] -= stepSize * m / (v.squareRoot() + epsilonHat)
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin

#elseif canImport(Musl)

import Musl
#endif
