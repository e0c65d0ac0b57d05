/// One line of the training log.
public struct EpochRecord: Sendable, Codable, Equatable {
    public var epoch: Int
    public var learningRate: Float
    public var trainingLoss: Double
    public var trainingAccuracy: Double
    public var validationLoss: Double
    public var validationAccuracy: Double
    public var seconds: Double
    public var imagesPerSecond: Double

    /// The CSV header matching `csvLine`.
    public static let csvHeader =
        "epoch,learning_rate,train_loss,train_accuracy,val_loss,val_accuracy,seconds,images_per_second"

    public var csvLine: String {
        [String(epoch), "\(learningRate)", format(trainingLoss), format(trainingAccuracy), format(validationLoss),
         format(validationAccuracy), format(seconds, digits: 1), format(imagesPerSecond, digits: 0)]
            .joined(separator: ",")
    }

    private func format(_ value: Double, digits: Int = 5) -> String {
        String(format: "%.\(digits)f", value)
    }
}

/// Where a training run stands after its last completed epoch; saved in every checkpoint.
public struct TrainingState: Sendable, Codable, Equatable {
    public var completedEpochs = 0
    public var learningRate: Float
    public var bestValidationAccuracy = -1.0
    public var bestEpoch = 0
    public var epochsSinceImprovement = 0
    public var optimizerStep = 0
    public var elapsedSeconds = 0.0
    public var history: [EpochRecord] = []
    public var stoppedEarly = false

    public init(learningRate: Float) {
        self.learningRate = learningRate
    }
}

import Foundation
