import EmovereCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin

#elseif canImport(Musl)

import Musl
#endif

/// Random training-time distortions of a square gray image, applied as one affine warp with
/// bilinear sampling (horizontal flip, rotation, zoom, shift, pad-and-crop), then an optional camera
/// corruption (blur, low resolution, noise, JPEG, exposure, occlusion: `Corruption`), then random
/// erasing. Output stays in pixel units `[0, 255]`; model preprocessing happens elsewhere.
///
/// Every call draws the same number of values from the generator whatever the settings, so one
/// seed gives one sequence of distortions.
public struct Augmentation: Sendable, Codable, Equatable {
    /// What the warp samples outside the source image.
    public enum Border: Sendable, Codable, Equatable {
        /// The nearest edge pixel.
        case replicate
        /// A fixed value in pixel units.
        case constant(Float)
    }

    /// Probability of mirroring left-right.
    public var horizontalFlipProbability: Float
    /// Rotation drawn uniformly from `-maximumRotationDegrees...maximumRotationDegrees`.
    public var maximumRotationDegrees: Float
    /// Shift along each axis drawn from `-maximumShiftFraction...maximumShiftFraction` of the size.
    public var maximumShiftFraction: Float
    /// Zoom factor drawn uniformly from `minimumZoom...maximumZoom` (above 1 magnifies).
    public var minimumZoom: Float
    /// See `minimumZoom`.
    public var maximumZoom: Float
    /// Pad-and-crop: pad each side by this many pixels and crop a random `size` x `size` window,
    /// i.e. an integer shift in `-cropPadding...cropPadding` along each axis.
    public var cropPadding: Int
    /// Probability of erasing one random rectangle.
    public var erasingProbability: Float
    /// The erased rectangle's area as a fraction of the image, drawn from this range.
    public var minimumErasingArea: Float
    /// See `minimumErasingArea`.
    public var maximumErasingArea: Float
    /// The value written into the erased rectangle, in pixel units.
    public var erasingValue: Float
    /// Sampling outside the source.
    public var border: Border
    /// Camera corruptions mixed into training (nil: none).
    public var corruptions: Corruptions?

    /// Random corruptions for training: with `probability`, one entry of `kinds` (each entry equally likely, so a
    /// kind listed twice is drawn twice as often) at a severity drawn uniformly from `0...maximumSeverity` (the
    /// benchmark's scale, 1...5; fractions interpolate its strengths).
    public struct Corruptions: Sendable, Codable, Equatable {
        public var probability: Float
        public var kinds: [Corruption]
        public var maximumSeverity: Float

        public init(probability: Float, kinds: [Corruption], maximumSeverity: Float) {
            self.probability = probability
            self.kinds = kinds
            self.maximumSeverity = maximumSeverity
        }

        /// Every corruption that changes pixel values (not the geometric ones, which the warp already
        /// covers), at up to severity 4, on half the samples.
        public static let camera = Corruptions(
            probability: 0.5, kinds: Corruption.allCases.filter { !$0.isGeometric }, maximumSeverity: 4)

        /// `camera` on 60 % of the samples, up to severity 5, with blur, low resolution and a covered mouth (the
        /// default model's worst cases under `camera`) drawn twice as often as the others.
        public static let cameraHeavy = Corruptions(
            probability: 0.6,
            kinds: Corruption.allCases.filter { !$0.isGeometric }
                .flatMap { [.blur, .lowResolution, .mouthCovered].contains($0) ? [$0, $0] : [$0] },
            maximumSeverity: 5)
    }

    /// Creates an augmentation; every distortion is off by default.
    public init(horizontalFlipProbability: Float = 0, maximumRotationDegrees: Float = 0,
                maximumShiftFraction: Float = 0, minimumZoom: Float = 1, maximumZoom: Float = 1,
                cropPadding: Int = 0, erasingProbability: Float = 0, minimumErasingArea: Float = 0.02,
                maximumErasingArea: Float = 0.2, erasingValue: Float = 0, border: Border = .replicate,
                corruptions: Corruptions? = nil) {
        self.horizontalFlipProbability = horizontalFlipProbability
        self.maximumRotationDegrees = maximumRotationDegrees
        self.maximumShiftFraction = maximumShiftFraction
        self.minimumZoom = minimumZoom
        self.maximumZoom = maximumZoom
        self.cropPadding = cropPadding
        self.erasingProbability = erasingProbability
        self.minimumErasingArea = minimumErasingArea
        self.maximumErasingArea = maximumErasingArea
        self.erasingValue = erasingValue
        self.border = border
        self.corruptions = corruptions
    }

    /// No distortion: `apply` copies the pixels exactly.
    public static let none = Augmentation()

    /// The FER2013 training default: flip (p = 0.5), rotation ±10°, shift ±10 %, zoom 0.9-1.1,
    /// edge replication, random erasing (p = 0.25, 2-15 % of the area, filled with 0).
    public static let standard = Augmentation(
        horizontalFlipProbability: 0.5, maximumRotationDegrees: 10, maximumShiftFraction: 0.1,
        minimumZoom: 0.9, maximumZoom: 1.1, cropPadding: 0, erasingProbability: 0.25,
        minimumErasingArea: 0.02, maximumErasingArea: 0.15, erasingValue: 0, border: .replicate)

    /// face_classification's geometric set without erasing: flip (p = 0.5), rotation ±10°,
    /// shift ±10 %, zoom 0.9-1.1, edge replication.
    public static let classic = Augmentation(
        horizontalFlipProbability: 0.5, maximumRotationDegrees: 10, maximumShiftFraction: 0.1,
        minimumZoom: 0.9, maximumZoom: 1.1, cropPadding: 0, erasingProbability: 0, border: .replicate)

    /// For faces from real cameras and detectors: flip (p = 0.5), rotation ±15°, shift ±12 %, zoom
    /// 0.8-1.25 (the framing of detector boxes varies more than FER2013's), camera corruptions on half
    /// the samples (`Corruptions.camera`), random erasing (p = 0.25, 2-20 % of the area, filled with 0).
    public static let robust = Augmentation(
        horizontalFlipProbability: 0.5, maximumRotationDegrees: 15, maximumShiftFraction: 0.12,
        minimumZoom: 0.8, maximumZoom: 1.25, cropPadding: 0, erasingProbability: 0.25,
        minimumErasingArea: 0.02, maximumErasingArea: 0.2, erasingValue: 0, border: .replicate,
        corruptions: .camera)

    /// `robust` with the heavier corruption mix `Corruptions.cameraHeavy`.
    public static let robustHeavy: Augmentation = {
        var augmentation = Augmentation.robust
        augmentation.corruptions = .cameraHeavy
        return augmentation
    }()

    /// The named augmentations, by the names `emovere train --augmentation` takes.
    public enum Preset: String, Sendable, CaseIterable {
        case standard, classic, robust, robustHeavy = "robust-heavy", none

        public var augmentation: Augmentation {
            switch self {
            case .standard: .standard
            case .classic: .classic
            case .robust: .robust
            case .robustHeavy: .robustHeavy
            case .none: .none
            }
        }
    }

    /// Writes a randomly distorted copy of the `size` x `size` image at `source` to the
    /// `size * size` floats at `destination` (pixel units, `[0, 255]`).
    public func apply(source: UnsafePointer<UInt8>, size: Int, destination: UnsafeMutablePointer<Float>,
                      random: inout SplitMix64) {
        // Draw every value up front, always the same number, so sequences do not depend on settings.
        let flipDraw = random.nextUnit()
        let angleDraw = random.nextUnit(), zoomDraw = random.nextUnit()
        let shiftXDraw = random.nextUnit(), shiftYDraw = random.nextUnit()
        let cropX = random.next(), cropY = random.next()
        let eraseDraw = random.nextUnit(), areaDraw = random.nextUnit(), aspectDraw = random.nextUnit()
        let eraseX = random.next(), eraseY = random.next()
        let corruptDraw = random.nextUnit(), kindDraw = random.next(), severityDraw = random.nextUnit()
        var corruptionRandom = random.derived(stream: 0xC0)
        guard size > 0 else { return }

        let flip = flipDraw < horizontalFlipProbability
        let angle = (angleDraw * 2 - 1) * maximumRotationDegrees * Float.pi / 180
        let zoom = max(minimumZoom + (maximumZoom - minimumZoom) * zoomDraw, 1e-3)
        let padding = max(cropPadding, 0)
        let cropShiftX = padding > 0 ? Float(Int(cropX % UInt64(2 * padding + 1)) - padding) : 0
        let cropShiftY = padding > 0 ? Float(Int(cropY % UInt64(2 * padding + 1)) - padding) : 0
        let shiftX = (shiftXDraw * 2 - 1) * maximumShiftFraction * Float(size) + cropShiftX
        let shiftY = (shiftYDraw * 2 - 1) * maximumShiftFraction * Float(size) + cropShiftY

        let warp = AffineWarp(mirrored: flip, angle: angle, zoom: zoom, shiftX: shiftX, shiftY: shiftY, border: border)
        let count = size &* size
        if warp.isIdentity {
            for index in 0..<count { destination[index] = Float(source[index]) }
        } else {
            withUnsafeTemporaryAllocation(of: Float.self, capacity: count) { values in
                let values = values.baseAddress!  // count > 0
                for index in 0..<count { values[index] = Float(source[index]) }
                warp.apply(source: values, size: size, destination: destination)
            }
        }

        if let corruptions, !corruptions.kinds.isEmpty, corruptDraw < corruptions.probability {
            let kind = corruptions.kinds[Int(kindDraw % UInt64(corruptions.kinds.count))]
            kind.apply(to: destination, size: size, severity: severityDraw * corruptions.maximumSeverity,
                       random: &corruptionRandom)
        }

        if eraseDraw < erasingProbability {
            let low = max(min(minimumErasingArea, maximumErasingArea), 0)
            let high = min(max(minimumErasingArea, maximumErasingArea), 1)
            let area = Float(size * size) * (low + (high - low) * areaDraw)
            let aspect = expf(logf(0.3) + (logf(1 / 0.3) - logf(0.3)) * aspectDraw)
            let height = min(max(Int((area * aspect).squareRoot().rounded()), 1), size)
            let width = min(max(Int((area / aspect).squareRoot().rounded()), 1), size)
            let top = Int(eraseY % UInt64(size - height + 1)), left = Int(eraseX % UInt64(size - width + 1))
            for row in top..<top + height {
                (destination + row * size + left).update(repeating: erasingValue, count: width)
            }
        }
    }
}
