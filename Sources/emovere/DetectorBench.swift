import Emovere
import EmovereCore
import EmovereTensor
import EmovereVision
import Foundation

/// `bench --detector`: milliseconds per image of Emovere's YuNet and Haar detectors at 640x480 and 1280x720, and of
/// OpenCV's `FaceDetectorYN` and Haar `detectMultiScale` on the same pixels in the same run (python3 with
/// opencv-python-headless, as many threads as Emovere's workers), then the ratios of each pair's rates.
struct DetectorBench {
    let sample: RGBImage
    let yunetPath: String
    let cascadePath: String?
    let seconds: Double
    /// Also print the time of each YuNet layer at 640x480.
    let layers: Bool

    /// The sizes measured.
    static let sizes = [(640, 480), (1280, 720)]

    /// The sample photo scaled to cover `width x height` and centred (one large face).
    static func scene(_ sample: RGBImage, width: Int, height: Int) -> RGBImage {
        let scale = max(Double(width) / Double(sample.width), Double(height) / Double(sample.height))
        let scaled = sample.resized(width: Int((Double(sample.width) * scale).rounded()),
                                    height: Int((Double(sample.height) * scale).rounded()))
        return scaled.cropped(to: Rect(x: (scaled.width - width) / 2, y: (scaled.height - height) / 2, width: width,
                                       height: height))
    }

    /// Mean milliseconds per call of `body`, after one warm-up call, over at least `seconds`.
    func milliseconds(_ body: () -> Int) -> (milliseconds: Double, faces: Int) {
        let faces = body()
        var calls = 0
        let stopwatch = Stopwatch()
        repeat {
            _ = body()
            calls += 1
        } while stopwatch.elapsedSeconds < seconds
        return (stopwatch.elapsedSeconds * 1000 / Double(calls), faces)
    }

    func run() throws {
        let yunet = try YuNetDetector(contentsOf: yunetPath)
        let haar = try cascadePath.map { HaarDetector(detector: try FaceDetector(cascadePath: $0)) }
        if haar == nil {
            print("haar skipped (Emovere and OpenCV): no haarcascade_frontalface_default.xml in \(HaarCascade.standardSearchPaths.joined(separator: ", ")) (apt-get install opencv-data)")
        }
        var scenes: [String: Data] = [:]
        // Emovere's milliseconds per image by the OpenCV figure they pair with ("yunet 640x480": the network at
        // full size, as FaceDetectorYN runs it).
        var emovere: [String: Double] = [:]
        for (width, height) in Self.sizes {
            let image = Self.scene(sample, width: width, height: height)
            scenes["\(width)x\(height).rgb"] = Data(image.pixels)
            let network = milliseconds { yunet.candidates(in: image).count }
            print(String(format: "emovere yunet %dx%d (network at full size)      %8.2f ms/image  (%@)",
                         width, height, network.milliseconds, network.faces.counting("face") as NSString))
            emovere["yunet \(width)x\(height)"] = network.milliseconds
            let scaled = milliseconds { yunet.detect(in: image).count }
            print(String(format: "emovere yunet %dx%d (detect: scaled to <= %d)   %8.2f ms/image  (%@)",
                         width, height, yunet.settings.workingSize, scaled.milliseconds, scaled.faces.counting("face") as NSString))
            if let haar {
                let found = milliseconds { haar.detect(in: image).count }
                print(String(format: "emovere haar %dx%d (scale 1.3, 5 neighbours)   %8.2f ms/image  (%@)",
                             width, height, found.milliseconds, found.faces.counting("face") as NSString))
                emovere["haar \(width)x\(height)"] = found.milliseconds
            }
        }
        if layers {
            let graph = try yunet.network.instantiate(height: 480, width: 640)
            let input = Tensor(shape: [1, 480, 640, 3], values: Self.scene(sample, width: 640, height: 480).pixels.map(Float.init))
            let timings = LayerTimer.timings(of: graph, input: input, seconds: seconds)
            let total = timings.reduce(0) { $0 + $1.microseconds }
            print("yunet layers, 640x480: \(String(format: "%.1f", total / 1000)) ms per pass")
            for timing in timings.sorted(by: { $0.microseconds > $1.microseconds }).prefix(25) {
                print(String(format: "  %8.2f ms  %5.1f %%  %@", timing.microseconds / 1000, 100 * timing.microseconds / total,
                             timing.name as NSString))
            }
        }
        let lines = OpenCVComparison(yunetPath: yunetPath, cascadePath: cascadePath, scenes: scenes, seconds: seconds,
                                     threads: Parallel.workerCount).run()
        for (pair, openCV) in OpenCVComparison.milliseconds(in: lines) {
            guard let ours = emovere[pair] else { continue }
            print(String(format: "ratio emovere / opencv %@ (images/s, above 1 is faster): %.2f", pair as NSString, openCV / ours))
        }
    }
}

/// Times OpenCV's detectors through python3 (package `opencv-python-headless`) on the scenes of `DetectorBench`.
struct OpenCVComparison {
    let yunetPath: String
    let cascadePath: String?
    let scenes: [String: Data]
    let seconds: Double
    let threads: Int

    /// Runs the script and returns the lines it printed.
    func run() -> [String] {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("emovere-bench-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }  // cleanup only
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for (name, data) in scenes { try data.write(to: folder.appendingPathComponent(name)) }
        } catch {
            print("OpenCV comparison skipped: cannot write the scenes (\(error))")
            return []
        }
        let script = """
            import sys, time, glob, os
            try:
                import numpy as np, cv2
            except ImportError as e:
                print("OpenCV comparison skipped: python3 cannot import cv2/numpy (%s)" % e); sys.exit(0)
            folder, yunet, cascade, seconds, threads = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5])
            cv2.setNumThreads(threads)
            def counted(faces):
                return "%d face%s" % (faces, "" if faces == 1 else "s")
            def timed(body):
                faces = body(); n = 0; t = time.perf_counter()
                while n == 0 or time.perf_counter() - t < seconds:
                    body(); n += 1
                return (time.perf_counter() - t) * 1000 / n, faces
            classifier = cv2.CascadeClassifier(cascade) if cascade and hasattr(cv2, "CascadeClassifier") else None
            for path in sorted(glob.glob(folder + "/*.rgb"), key=lambda p: int(os.path.basename(p).split("x")[0])):
                width, height = map(int, os.path.basename(path)[:-4].split("x"))
                bgr = np.ascontiguousarray(np.fromfile(path, dtype=np.uint8).reshape(height, width, 3)[:, :, ::-1])
                detector = cv2.FaceDetectorYN.create(yunet, "", (width, height), 0.6, 0.3, 5000)
                def detect():
                    found = detector.detect(bgr)[1]
                    return 0 if found is None else len(found)
                ms, faces = timed(detect)
                print("opencv %s yunet %dx%d (FaceDetectorYN)             %8.3f ms/image  (%s)" % (cv2.__version__, width, height, ms, counted(faces)))
                if classifier is not None:
                    # From the colour image, as Emovere's Haar detector is timed: the gray conversion counts on both sides.
                    ms, faces = timed(lambda: len(classifier.detectMultiScale(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), 1.3, 5)))
                    print("opencv %s haar %dx%d (cvtColor, detectMultiScale 1.3, 5) %8.3f ms/image  (%s)" % (cv2.__version__, width, height, ms, counted(faces)))
            """
        return PythonComparison.run(script, arguments: [folder.path, yunetPath, cascadePath ?? "", String(seconds), String(threads)],
                                    comparison: "OpenCV", timeLimit: 300 + 3 * seconds * Double(4 * scenes.count))
    }

    /// The milliseconds per image of each result line (`opencv 4.10.0 yunet 640x480 (...) 12.34 ms/image ...`),
    /// keyed by detector and size ("yunet 640x480"), in the order printed.
    static func milliseconds(in lines: [String]) -> [(pair: String, milliseconds: Double)] {
        lines.compactMap { line in
            let words = line.split(separator: " ")
            guard words.count > 4, words[0] == "opencv", let unit = words.firstIndex(of: "ms/image"), unit > 4,
                  let milliseconds = Double(words[unit - 1]) else { return nil }
            return ("\(words[2]) \(words[3])", milliseconds)
        }
    }
}
