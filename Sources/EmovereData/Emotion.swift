/// The seven FER2013 emotion classes, in the dataset's index order
/// (`0=angry 1=disgust 2=fear 3=happy 4=sad 5=surprise 6=neutral`).
///
/// This is the single source of truth for label names and order; model files store
/// `Emotion.allCases.map(\.name)` and are checked against it when loaded.
public enum Emotion: Int, CaseIterable, Sendable, Codable, CustomStringConvertible {
    case angry = 0, disgust, fear, happy, sad, surprise, neutral

    /// The lower-case English name, also the image-folder name of the class.
    public var name: String {
        switch self {
        case .angry: "angry"
        case .disgust: "disgust"
        case .fear: "fear"
        case .happy: "happy"
        case .sad: "sad"
        case .surprise: "surprise"
        case .neutral: "neutral"
        }
    }

    public var description: String { name }

    /// The class whose `name` is `name` (case-insensitive), or nil.
    public init?(name: String) {
        guard let match = Emotion.allCases.first(where: { $0.name == name.lowercased() }) else { return nil }
        self = match
    }

    /// The class an image folder named `folderName` holds (case-insensitive): its `name`, or the other spelling
    /// datasets use (FER+'s nouns and the adjectives: anger, disgusted, fearful, happiness, sadness, surprised);
    /// nil for another name.
    public init?(folderName: String) {
        guard let match = Emotion(name: folderName) ?? Self.otherFolderNames[folderName.lowercased()] else { return nil }
        self = match
    }

    /// The other spellings of class folders `init(folderName:)` reads, in lower case.
    public static let otherFolderNames: [String: Emotion] = [
        "anger": .angry, "disgusted": .disgust, "fearful": .fear, "happiness": .happy, "sadness": .sad, "surprised": .surprise,
    ]

    /// The emotion with the highest probability in `probabilities` (in `Emotion` order; the first on ties).
    public static func mostProbable(_ probabilities: [Float]) -> Emotion {
        Emotion(rawValue: probabilities.indices.max { probabilities[$0] < probabilities[$1] } ?? 0) ?? .neutral
    }

    /// `values` (one per class, in `Emotion` order) keyed by class name: the JSON form of probabilities
    /// shared by `analyze`, `video`, `live` and `serve`.
    public static func byName<Value>(_ values: [Value]) -> [String: Value] {
        Dictionary(zip(allCases.map(\.name), values), uniquingKeysWith: { first, _ in first })
    }

    /// The number of classes.
    public static let count = allCases.count
}
