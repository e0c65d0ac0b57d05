// Naive reference twins of the optimised kernels (EmovereTensor), for tests.
//
// Every function here works on plain `[Float]` arrays, visits every index with nested loops,
// accumulates in Double and follows the textbook definition, so it can be checked by reading.
// None of it is fast, and none of it is used outside tests; when an optimised kernel and its
// twin disagree, the twin is presumed right.
//
// Layouts match the optimised kernels: images NHWC `[N, H, W, C]`, dense kernels HWIO
// `[KH, KW, C, F]`, depthwise kernels `[KH, KW, C]`, matrices row-major.

import EmovereTensor

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin

#elseif canImport(Musl)

import Musl
#endif

/// Plainly written reference implementations of every kernel family, for comparison in tests.
public enum Reference {
    // MARK: - Indexing helpers

    /// The flat index of `[n, y, x, c]` in an NHWC tensor of `height` x `width` x `channels`.
    @inline(__always)
    static func nhwc(_ n: Int, _ y: Int, _ x: Int, _ c: Int, height: Int, width: Int, channels: Int) -> Int {
        ((n * height + y) * width + x) * channels + c
    }

    /// The input position `(iy, ix)` that output `(oy, ox)` reads at tap `(ky, kx)`, or nil when it
    /// falls in the padding.
    @inline(__always)
    static func inputPosition(_ oy: Int, _ ox: Int, _ ky: Int, _ kx: Int, _ g: ConvolutionGeometry) -> (Int, Int)? {
        let iy = oy * g.stride + ky - g.padTop
        let ix = ox * g.stride + kx - g.padLeft
        guard iy >= 0, iy < g.inputHeight, ix >= 0, ix < g.inputWidth else { return nil }
        return (iy, ix)
    }

    // MARK: - Dense convolution

    /// `output[n, oy, ox, f] = bias[f] + Σ_{ky, kx, c} input[n, iy, ix, c] * kernel[ky, kx, c, f]`
    /// with `iy = oy * stride + ky - padTop`, `ix = ox * stride + kx - padLeft`; padded taps read zero.
    ///
    /// - Parameters: `input` `[batch, H, W, C]`, `kernel` `[KH, KW, C, filters]`, `bias` `[filters]` or nil.
    /// - Returns: `[batch, OH, OW, filters]`.
    public static func convolutionForward(
        input: [Float], kernel: [Float], bias: [Float]?, batch: Int, filters: Int, geometry g: ConvolutionGeometry
    ) -> [Float] {
        let c = g.channels
        var output = [Float](repeating: 0, count: batch * g.outputPixels * filters)
        for n in 0..<batch {
            for oy in 0..<g.outputHeight {
                for ox in 0..<g.outputWidth {
                    for f in 0..<filters {
                        var sum = Double(bias?[f] ?? 0)
                        for ky in 0..<g.kernelHeight {
                            for kx in 0..<g.kernelWidth {
                                guard let (iy, ix) = inputPosition(oy, ox, ky, kx, g) else { continue }
                                for channel in 0..<c {
                                    let x = input[nhwc(n, iy, ix, channel, height: g.inputHeight, width: g.inputWidth, channels: c)]
                                    let w = kernel[((ky * g.kernelWidth + kx) * c + channel) * filters + f]
                                    sum += Double(x) * Double(w)
                                }
                            }
                        }
                        output[nhwc(n, oy, ox, f, height: g.outputHeight, width: g.outputWidth, channels: filters)] = Float(sum)
                    }
                }
            }
        }
        return output
    }

    /// The gradients of `convolutionForward` for `outputGradient` `[batch, OH, OW, filters]`:
    /// `input` `[batch, H, W, C]`, `kernel` `[KH, KW, C, filters]` and `bias` `[filters]`.
    public static func convolutionBackward(
        outputGradient: [Float], input: [Float], kernel: [Float], batch: Int, filters: Int,
        geometry g: ConvolutionGeometry
    ) -> (input: [Float], kernel: [Float], bias: [Float]) {
        let c = g.channels
        var inputGradient = [Double](repeating: 0, count: input.count)
        var kernelGradient = [Double](repeating: 0, count: kernel.count)
        var biasGradient = [Double](repeating: 0, count: filters)
        for n in 0..<batch {
            for oy in 0..<g.outputHeight {
                for ox in 0..<g.outputWidth {
                    for f in 0..<filters {
                        let dy = Double(outputGradient[nhwc(n, oy, ox, f, height: g.outputHeight, width: g.outputWidth,
                                                            channels: filters)])
                        biasGradient[f] += dy
                        for ky in 0..<g.kernelHeight {
                            for kx in 0..<g.kernelWidth {
                                guard let (iy, ix) = inputPosition(oy, ox, ky, kx, g) else { continue }
                                for channel in 0..<c {
                                    let inputIndex = nhwc(n, iy, ix, channel, height: g.inputHeight, width: g.inputWidth,
                                                          channels: c)
                                    let kernelIndex = ((ky * g.kernelWidth + kx) * c + channel) * filters + f
                                    inputGradient[inputIndex] += Double(kernel[kernelIndex]) * dy
                                    kernelGradient[kernelIndex] += Double(input[inputIndex]) * dy
                                }
                            }
                        }
                    }
                }
            }
        }
        return (inputGradient.map { Float($0) }, kernelGradient.map { Float($0) }, biasGradient.map { Float($0) })
    }

    // MARK: - Depthwise convolution

    /// `output[n, oy, ox, c] = Σ_{ky, kx} input[n, iy, ix, c] * kernel[ky, kx, c]` (depth multiplier 1).
    ///
    /// - Parameters: `input` `[batch, H, W, C]`, `kernel` `[KH, KW, C]`.
    /// - Returns: `[batch, OH, OW, C]`.
    public static func depthwiseForward(
        input: [Float], kernel: [Float], batch: Int, geometry g: ConvolutionGeometry
    ) -> [Float] {
        let c = g.channels
        var output = [Float](repeating: 0, count: batch * g.outputPixels * c)
        for n in 0..<batch {
            for oy in 0..<g.outputHeight {
                for ox in 0..<g.outputWidth {
                    for channel in 0..<c {
                        var sum = 0.0
                        for ky in 0..<g.kernelHeight {
                            for kx in 0..<g.kernelWidth {
                                guard let (iy, ix) = inputPosition(oy, ox, ky, kx, g) else { continue }
                                let x = input[nhwc(n, iy, ix, channel, height: g.inputHeight, width: g.inputWidth, channels: c)]
                                sum += Double(x) * Double(kernel[(ky * g.kernelWidth + kx) * c + channel])
                            }
                        }
                        output[nhwc(n, oy, ox, channel, height: g.outputHeight, width: g.outputWidth, channels: c)] = Float(sum)
                    }
                }
            }
        }
        return output
    }

    /// The gradients of `depthwiseForward` for `outputGradient` `[batch, OH, OW, C]`:
    /// `input` `[batch, H, W, C]` and `kernel` `[KH, KW, C]`.
    public static func depthwiseBackward(
        outputGradient: [Float], input: [Float], kernel: [Float], batch: Int, geometry g: ConvolutionGeometry
    ) -> (input: [Float], kernel: [Float]) {
        let c = g.channels
        var inputGradient = [Double](repeating: 0, count: input.count)
        var kernelGradient = [Double](repeating: 0, count: kernel.count)
        for n in 0..<batch {
            for oy in 0..<g.outputHeight {
                for ox in 0..<g.outputWidth {
                    for channel in 0..<c {
                        let dy = Double(outputGradient[nhwc(n, oy, ox, channel, height: g.outputHeight,
                                                            width: g.outputWidth, channels: c)])
                        for ky in 0..<g.kernelHeight {
                            for kx in 0..<g.kernelWidth {
                                guard let (iy, ix) = inputPosition(oy, ox, ky, kx, g) else { continue }
                                let inputIndex = nhwc(n, iy, ix, channel, height: g.inputHeight, width: g.inputWidth,
                                                      channels: c)
                                let kernelIndex = (ky * g.kernelWidth + kx) * c + channel
                                inputGradient[inputIndex] += Double(kernel[kernelIndex]) * dy
                                kernelGradient[kernelIndex] += Double(input[inputIndex]) * dy
                            }
                        }
                    }
                }
            }
        }
        return (inputGradient.map { Float($0) }, kernelGradient.map { Float($0) })
    }

    // MARK: - Upsampling and sigmoid

    /// `output[n, y, x, c] = input[n, y / factor, x / factor, c]` for `input` `[batch, H, W, C]`;
    /// returns `[batch, H * factor, W * factor, C]`.
    public static func nearestUpsampleForward(
        input: [Float], batch: Int, height: Int, width: Int, channels: Int, factor: Int
    ) -> [Float] {
        let (outputHeight, outputWidth) = (height * factor, width * factor)
        var output = [Float](repeating: 0, count: batch * outputHeight * outputWidth * channels)
        for n in 0..<batch {
            for y in 0..<outputHeight {
                for x in 0..<outputWidth {
                    for c in 0..<channels {
                        output[nhwc(n, y, x, c, height: outputHeight, width: outputWidth, channels: channels)] =
                            input[nhwc(n, y / factor, x / factor, c, height: height, width: width, channels: channels)]
                    }
                }
            }
        }
        return output
    }

    /// The gradient of `nearestUpsampleForward`: `[batch, H, W, C]` sums over each `factor x factor` block.
    public static func nearestUpsampleBackward(
        outputGradient: [Float], batch: Int, height: Int, width: Int, channels: Int, factor: Int
    ) -> [Float] {
        let (outputHeight, outputWidth) = (height * factor, width * factor)
        var gradient = [Double](repeating: 0, count: batch * height * width * channels)
        for n in 0..<batch {
            for y in 0..<outputHeight {
                for x in 0..<outputWidth {
                    for c in 0..<channels {
                        gradient[nhwc(n, y / factor, x / factor, c, height: height, width: width, channels: channels)] +=
                            Double(outputGradient[nhwc(n, y, x, c, height: outputHeight, width: outputWidth,
                                                       channels: channels)])
                    }
                }
            }
        }
        return gradient.map { Float($0) }
    }

    /// `1 / (1 + e^-x)` of every element, computed in Double.
    public static func sigmoid(_ input: [Float]) -> [Float] {
        input.map { Float(1 / (1 + exp(-Double($0)))) }
    }

    // MARK: - Pooling

    /// The flat input index of the maximum of each window (first maximum in row-major tap order
    /// on ties), `[batch, OH, OW, C]`. Padded positions never count.
    public static func maxPoolArgmax(input: [Float], batch: Int, geometry g: ConvolutionGeometry) -> [Int] {
        let c = g.channels
        var result = [Int](repeating: -1, count: batch * g.outputPixels * c)
        for n in 0..<batch {
            for oy in 0..<g.outputHeight {
                for ox in 0..<g.outputWidth {
                    for channel in 0..<c {
                        var best = -1
                        for ky in 0..<g.kernelHeight {
                            for kx in 0..<g.kernelWidth {
                                guard let (iy, ix) = inputPosition(oy, ox, ky, kx, g) else { continue }
                                let index = nhwc(n, iy, ix, channel, height: g.inputHeight, width: g.inputWidth, channels: c)
                                if best < 0 || input[index] > input[best] { best = index }
                            }
                        }
                        result[nhwc(n, oy, ox, channel, height: g.outputHeight, width: g.outputWidth, channels: c)] = best
                    }
                }
            }
        }
        return result
    }

    /// Max pooling: `output[n, oy, ox, c]` is the largest in-frame input of its window. Returns `[batch, OH, OW, C]`.
    public static func maxPoolForward(input: [Float], batch: Int, geometry g: ConvolutionGeometry) -> [Float] {
        maxPoolArgmax(input: input, batch: batch, geometry: g).map { input[$0] }
    }

    /// The input gradient of max pooling: each output gradient goes to the input element that was its
    /// window's maximum (summed where windows overlap). Returns `[batch, H, W, C]`.
    public static func maxPoolBackward(
        outputGradient: [Float], input: [Float], batch: Int, geometry g: ConvolutionGeometry
    ) -> [Float] {
        var inputGradient = [Double](repeating: 0, count: input.count)
        for (outputIndex, inputIndex) in maxPoolArgmax(input: input, batch: batch, geometry: g).enumerated() {
            inputGradient[inputIndex] += Double(outputGradient[outputIndex])
        }
        return inputGradient.map { Float($0) }
    }

    /// Average pooling: the mean of each window's in-frame inputs (padding is not counted).
    /// Returns `[batch, OH, OW, C]`.
    public static func averagePoolForward(input: [Float], batch: Int, geometry g: ConvolutionGeometry) -> [Float] {
        let c = g.channels
        var output = [Float](repeating: 0, count: batch * g.outputPixels * c)
        for n in 0..<batch {
            for oy in 0..<g.outputHeight {
                for ox in 0..<g.outputWidth {
                    for channel in 0..<c {
                        var sum = 0.0
                        var count = 0
                        for ky in 0..<g.kernelHeight {
                            for kx in 0..<g.kernelWidth {
                                guard let (iy, ix) = inputPosition(oy, ox, ky, kx, g) else { continue }
                                sum += Double(input[nhwc(n, iy, ix, channel, height: g.inputHeight, width: g.inputWidth,
                                                         channels: c)])
                                count += 1
                            }
                        }
                        output[nhwc(n, oy, ox, channel, height: g.outputHeight, width: g.outputWidth, channels: c)] =
                            Float(sum / Double(max(count, 1)))
                    }
                }
            }
        }
        return output
    }

    /// The input gradient of average pooling: each output gradient is shared equally by its window's
    /// in-frame inputs. Returns `[batch, H, W, C]`.
    public static func averagePoolBackward(
        outputGradient: [Float], batch: Int, geometry g: ConvolutionGeometry
    ) -> [Float] {
        let c = g.channels
        var inputGradient = [Double](repeating: 0, count: batch * g.inputSize)
        for n in 0..<batch {
            for oy in 0..<g.outputHeight {
                for ox in 0..<g.outputWidth {
                    var count = 0
                    for ky in 0..<g.kernelHeight {
                        for kx in 0..<g.kernelWidth where inputPosition(oy, ox, ky, kx, g) != nil { count += 1 }
                    }
                    for channel in 0..<c {
                        let dy = Double(outputGradient[nhwc(n, oy, ox, channel, height: g.outputHeight,
                                                            width: g.outputWidth, channels: c)])
                        for ky in 0..<g.kernelHeight {
                            for kx in 0..<g.kernelWidth {
                                guard let (iy, ix) = inputPosition(oy, ox, ky, kx, g) else { continue }
                                inputGradient[nhwc(n, iy, ix, channel, height: g.inputHeight, width: g.inputWidth,
                                                   channels: c)] += dy / Double(count)
                            }
                        }
                    }
                }
            }
        }
        return inputGradient.map { Float($0) }
    }

    /// Global average pooling: `output[n, c]` is the mean of `input[n, :, :, c]` over `pixels = H * W`.
    /// Returns `[batch, channels]`.
    public static func globalAveragePoolForward(input: [Float], batch: Int, pixels: Int, channels: Int) -> [Float] {
        var output = [Float](repeating: 0, count: batch * channels)
        for n in 0..<batch {
            for channel in 0..<channels {
                var sum = 0.0
                for pixel in 0..<pixels { sum += Double(input[(n * pixels + pixel) * channels + channel]) }
                output[n * channels + channel] = Float(sum / Double(pixels))
            }
        }
        return output
    }

    /// The input gradient of global average pooling: `outputGradient[n, c] / pixels` at every pixel.
    /// Returns `[batch, pixels, channels]` flattened.
    public static func globalAveragePoolBackward(outputGradient: [Float], batch: Int, pixels: Int, channels: Int) -> [Float] {
        var inputGradient = [Float](repeating: 0, count: batch * pixels * channels)
        for n in 0..<batch {
            for pixel in 0..<pixels {
                for channel in 0..<channels {
                    inputGradient[(n * pixels + pixel) * channels + channel] =
                        Float(Double(outputGradient[n * channels + channel]) / Double(pixels))
                }
            }
        }
        return inputGradient
    }

    // MARK: - Batch normalisation

    /// Training-mode batch norm over `input` `[rows, channels]`: per-channel batch mean and biased
    /// variance, then `output = (x - mean) / sqrt(variance + epsilon) * gamma + beta`.
    public static func batchNormForward(
        input: [Float], rows: Int, channels: Int, gamma: [Float], beta: [Float], epsilon: Float
    ) -> (output: [Float], mean: [Float], variance: [Float]) {
        var mean = [Double](repeating: 0, count: channels)
        var variance = [Double](repeating: 0, count: channels)
        for channel in 0..<channels {
            for row in 0..<rows { mean[channel] += Double(input[row * channels + channel]) }
            mean[channel] /= Double(rows)
            for row in 0..<rows {
                let deviation = Double(input[row * channels + channel]) - mean[channel]
                variance[channel] += deviation * deviation
            }
            variance[channel] /= Double(rows)
        }
        var output = [Float](repeating: 0, count: rows * channels)
        for row in 0..<rows {
            for channel in 0..<channels {
                let normalized = (Double(input[row * channels + channel]) - mean[channel])
                    / (variance[channel] + Double(epsilon)).squareRoot()
                output[row * channels + channel] = Float(normalized * Double(gamma[channel]) + Double(beta[channel]))
            }
        }
        return (output, mean.map { Float($0) }, variance.map { Float($0) })
    }

    /// The gradients of training-mode batch norm (statistics depend on the input) for `outputGradient`
    /// `[rows, channels]`: with `xhat = (x - mean) / sqrt(variance + epsilon)`,
    /// `dBeta = Σ dy`, `dGamma = Σ dy * xhat` and
    /// `dx = gamma / sqrt(variance + epsilon) * (dy - mean(dy) - xhat * mean(dy * xhat))`.
    public static func batchNormBackward(
        outputGradient: [Float], input: [Float], rows: Int, channels: Int, gamma: [Float], epsilon: Float
    ) -> (input: [Float], gamma: [Float], beta: [Float]) {
        var inputGradient = [Float](repeating: 0, count: rows * channels)
        var gammaGradient = [Float](repeating: 0, count: channels)
        var betaGradient = [Float](repeating: 0, count: channels)
        for channel in 0..<channels {
            var mean = 0.0
            for row in 0..<rows { mean += Double(input[row * channels + channel]) }
            mean /= Double(rows)
            var variance = 0.0
            for row in 0..<rows {
                let deviation = Double(input[row * channels + channel]) - mean
                variance += deviation * deviation
            }
            variance /= Double(rows)
            let inverseStandardDeviation = 1 / (variance + Double(epsilon)).squareRoot()
            var sumDy = 0.0
            var sumDyXhat = 0.0
            for row in 0..<rows {
                let dy = Double(outputGradient[row * channels + channel])
                let xhat = (Double(input[row * channels + channel]) - mean) * inverseStandardDeviation
                sumDy += dy
                sumDyXhat += dy * xhat
            }
            betaGradient[channel] = Float(sumDy)
            gammaGradient[channel] = Float(sumDyXhat)
            for row in 0..<rows {
                let dy = Double(outputGradient[row * channels + channel])
                let xhat = (Double(input[row * channels + channel]) - mean) * inverseStandardDeviation
                let dx = Double(gamma[channel]) * inverseStandardDeviation
                    * (dy - sumDy / Double(rows) - xhat * sumDyXhat / Double(rows))
                inputGradient[row * channels + channel] = Float(dx)
            }
        }
        return (inputGradient, gammaGradient, betaGradient)
    }

    // MARK: - Loss

    /// Softmax cross-entropy over `logits` `[rows, classes]` with soft `targets` `[rows, classes]` and
    /// optional per-row `sampleWeights`: `loss = -(1/rows) Σ_n w_n Σ_k t[n,k] log softmax(z)[n,k]`,
    /// `gradient = w_n (softmax(z) - t) / rows`.
    public static func softmaxCrossEntropy(
        logits: [Float], targets: [Float], sampleWeights: [Float]?, rows: Int, classes: Int
    ) -> (loss: Float, probabilities: [Float], gradient: [Float]) {
        var probabilities = [Float](repeating: 0, count: rows * classes)
        var gradient = [Float](repeating: 0, count: rows * classes)
        var total = 0.0
        for row in 0..<rows {
            var maximum = -Double.infinity
            for k in 0..<classes { maximum = max(maximum, Double(logits[row * classes + k])) }
            var sum = 0.0
            for k in 0..<classes { sum += exp(Double(logits[row * classes + k]) - maximum) }
            let weight = Double(sampleWeights?[row] ?? 1)
            for k in 0..<classes {
                let logProbability = Double(logits[row * classes + k]) - maximum - log(sum)
                let probability = exp(logProbability)
                let target = Double(targets[row * classes + k])
                probabilities[row * classes + k] = Float(probability)
                gradient[row * classes + k] = Float(weight * (probability - target) / Double(rows))
                total -= weight * target * logProbability
            }
        }
        return (Float(total / Double(rows)), probabilities, gradient)
    }

    // MARK: - Matrix multiply

    /// `C = alpha * op(A) * op(B) + beta * C` with row-major `a` (`[m, k]`, or `[k, m]` when
    /// `transposeA`), `b` (`[k, n]`, or `[n, k]` when `transposeB`) and `c` `[m, n]`. Returns the new `C`.
    public static func matrixMultiply(
        _ a: [Float], _ b: [Float], c: [Float], m: Int, n: Int, k: Int,
        transposeA: Bool, transposeB: Bool, alpha: Float = 1, beta: Float = 0
    ) -> [Float] {
        var result = [Float](repeating: 0, count: m * n)
        for row in 0..<m {
            for column in 0..<n {
                var sum = 0.0
                for inner in 0..<k {
                    let left = transposeA ? a[inner * m + row] : a[row * k + inner]
                    let right = transposeB ? b[column * k + inner] : b[inner * n + column]
                    sum += Double(left) * Double(right)
                }
                let previous = beta == 0 ? 0 : Double(beta) * Double(c[row * n + column])
                result[row * n + column] = Float(Double(alpha) * sum + previous)
            }
        }
        return result
    }

    // MARK: - Optimizers

    /// One Adam step (Kingma and Ba, Algorithm 1) with L2 decay added to the gradient, `step` counting from 1:
    /// `g = gradient + decay * w`, `m = b1 m + (1 - b1) g`, `v = b2 v + (1 - b2) g²`,
    /// `w -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + epsilon)`.
    public static func adam(
        value: inout [Float], gradient: [Float], firstMoment: inout [Float], secondMoment: inout [Float],
        learningRate: Float, beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float, step: Int
    ) {
        let correction1 = 1 - pow(Double(beta1), Double(step))
        let correction2 = 1 - pow(Double(beta2), Double(step))
        for index in value.indices {
            let g = Double(gradient[index]) + Double(weightDecay) * Double(value[index])
            let m = Double(beta1) * Double(firstMoment[index]) + (1 - Double(beta1)) * g
            let v = Double(beta2) * Double(secondMoment[index]) + (1 - Double(beta2)) * g * g
            firstMoment[index] = Float(m)
            secondMoment[index] = Float(v)
            let update = (m / correction1) / ((v / correction2).squareRoot() + Double(epsilon))
            value[index] = Float(Double(value[index]) - Double(learningRate) * update)
        }
    }

    /// One SGD step with momentum, optionally Nesterov, and L2 decay added to the gradient:
    /// `g = gradient + decay * w`, `v = momentum * v + g`, `w -= lr * (nesterov ? g + momentum * v : v)`.
    public static func sgd(
        value: inout [Float], gradient: [Float], velocity: inout [Float],
        learningRate: Float, momentum: Float, nesterov: Bool, weightDecay: Float
    ) {
        for index in value.indices {
            let g = Double(gradient[index]) + Double(weightDecay) * Double(value[index])
            let v = Double(momentum) * Double(velocity[index]) + g
            velocity[index] = Float(v)
            let direction = nesterov ? g + Double(momentum) * v : v
            value[index] = Float(Double(value[index]) - Double(learningRate) * direction)
        }
    }

    // MARK: - Arithmetic peak probe

    /// `ArithmeticPeak.probe`'s value: twelve chains starting at 0 ... 11, each updated `iterations` times as
    /// `a = a * 0.999 + 0.001` (in Double), summed and counted `lanes` times.
    public static func multiplyAddChains(iterations: Int, lanes: Int) -> Double {
        var total = 0.0
        for start in 0..<12 {
            var value = Double(start)
            for _ in 0..<iterations { value = value * Double(Float(0.999)) + Double(Float(0.001)) }
            total += value
        }
        return total * Double(lanes)
    }

    // MARK: - bfloat16

    /// `value` rounded to bfloat16 (to nearest, ties to even), as the upper 16 bits of a float: the twin of
    /// `emovere_to_bfloat16` (finite, normal values).
    public static func bfloat16Bits(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        return UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
    }

    /// `values` rounded to bfloat16 and back to floats.
    public static func roundedToBFloat16(_ values: [Float]) -> [Float] {
        values.map { Float(bitPattern: UInt32(bfloat16Bits($0)) << 16) }
    }
}
