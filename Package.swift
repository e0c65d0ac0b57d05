// swift-tools-version:6.0
import PackageDescription

/// The platforms without Accelerate, where OpenBLAS does the matrix products.
let nonApple: [Platform] = [.linux, .android, .windows, .openbsd, .wasi]

let package = Package(
    name: "emovere",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "emovere", targets: ["emovere"]),
        .library(name: "Emovere", targets: ["Emovere"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // MARK: - System libraries
        // OpenBLAS off Apple platforms; there `Gemm` uses Accelerate.
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev", "pkg-config"])]),
        .systemLibrary(
            name: "CTurboJPEG", pkgConfig: "libturbojpeg",
            providers: [.apt(["libturbojpeg0-dev", "pkg-config"]), .brew(["jpeg-turbo", "pkg-config"])]),
        .systemLibrary(
            name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev", "pkg-config"]), .brew(["libpng", "pkg-config"])]),
        .systemLibrary(
            name: "CHDF5", pkgConfig: "hdf5", providers: [.apt(["libhdf5-dev", "pkg-config"]), .brew(["hdf5", "pkg-config"])]),

        // MARK: - Public API
        // What Swift cannot express per CPU: the hot kernels compiled once per instruction set (portable, AVX2,
        // AVX-512) and chosen at run time, CPU feature detection, denormal flushing. No target needs a CPU flag.
        .target(name: "CEmovereCPU"),
        // Small utilities every module shares, with no BLAS: seeded random numbers, the worker pool, the one file
        // reader and the one atomic writer.
        .target(name: "EmovereCore", dependencies: ["CEmovereCPU"]),
        .target(
            name: "EmovereTensor",
            dependencies: [.target(name: "CBLAS", condition: .when(platforms: nonApple)), "CEmovereCPU", "EmovereCore"],
            linkerSettings: [.linkedFramework("Accelerate", .when(platforms: [.macOS]))]),
        .target(name: "EmovereNN", dependencies: ["EmovereCore", "EmovereTensor"]),
        // File formats apart from layers: safetensors, SHA-256 checksums, generic JSON (model cards, Keras configs).
        .target(name: "EmovereFiles", dependencies: ["EmovereCore"]),
        .target(name: "EmovereVision", dependencies: ["EmovereCore", "CTurboJPEG", "CPNG"]),
        .target(name: "EmovereData", dependencies: ["EmovereCore", "EmovereVision"]),
        .target(
            name: "Emovere",
            dependencies: ["EmovereCore", "EmovereFiles", "EmovereTensor", "EmovereNN", "EmovereONNX", "EmovereData", "EmovereVision"]),
        // Presentation for the command-line tool: the progress bar, SVG plots (training curves, reliability diagram,
        // video timeline).
        .target(name: "EmovereReport", dependencies: ["Emovere", "EmovereCore", "EmovereData", "EmovereNN", "EmovereTensor"]),
        .target(name: "EmovereKeras", dependencies: ["CHDF5", "EmovereCore", "EmovereFiles", "EmovereTensor", "EmovereNN", "EmovereData", "Emovere"]),
        // ONNX files: export and import of layer graphs. Generated/onnx.pb.swift is committed;
        // scripts/generate-onnx-proto.sh regenerates it.
        .target(
            name: "EmovereONNX",
            dependencies: ["EmovereCore", "EmovereNN", "EmovereTensor", .product(name: "SwiftProtobuf", package: "swift-protobuf")]),
        .target(name: "EmovereVideo", dependencies: ["EmovereCore", "EmovereVision"]),
        .target(
            name: "EmovereServer",
            dependencies: [
                "CEmovereCPU", "Emovere", "EmovereCore", "EmovereData", "EmovereFiles", "EmovereNN", "EmovereTensor",
                "EmovereVision",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("Resources")]),
        .executableTarget(
            name: "emovere",
            dependencies: [
                "Emovere", "EmovereCore", "EmovereData", "EmovereFiles", "EmovereKeras", "EmovereNN", "EmovereONNX", "EmovereReport",
                "EmovereTensor", "EmovereVideo",
                "EmovereVision", "EmovereServer", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        // MARK: - Test support and unit tests
        .target(name: "EmovereTestSupport", dependencies: ["EmovereCore", "EmovereTensor", "EmovereNN"], path: "Sources/EmovereTestSupport"),
        .testTarget(name: "EmovereCoreTests", dependencies: ["EmovereCore"]),
        .testTarget(name: "EmovereFilesTests", dependencies: ["EmovereCore", "EmovereFiles"]),
        .testTarget(name: "EmovereTensorTests", dependencies: ["EmovereCore", "EmovereTensor", "EmovereTestSupport"]),
        .testTarget(name: "EmovereNNTests", dependencies: ["EmovereCore", "EmovereNN", "EmovereTensor", "EmovereTestSupport"]),
        .testTarget(name: "EmovereVisionTests", dependencies: ["EmovereCore", "EmovereVision", "EmovereTestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(
            name: "EmovereDataTests", dependencies: ["EmovereCore", "EmovereData", "EmovereTensor", "EmovereTestSupport", "EmovereVision"]),
        .testTarget(
            name: "EmovereTests",
            dependencies: ["Emovere", "EmovereCore", "EmovereData", "EmovereFiles", "EmovereNN", "EmovereReport", "EmovereTensor",
                           "EmovereTestSupport", "EmovereVision"]),
        .testTarget(
            name: "EmovereCLITests",
            dependencies: [
                "Emovere", "EmovereData", "EmovereFiles", "EmovereNN", "EmovereONNX", "EmovereTensor", "EmovereTestSupport", "EmovereVideo",
                "EmovereVision",
            ]),
        .testTarget(
            name: "EmovereONNXTests",
            dependencies: [
                "EmovereONNX", "Emovere", "EmovereCore", "EmovereNN", "EmovereTensor", "EmovereVision", "EmovereData", "EmovereTestSupport",
                .product(name: "SwiftProtobuf", package: "swift-protobuf")]),
        .testTarget(
            name: "EmovereKerasTests", dependencies: ["EmovereKeras", "Emovere", "EmovereNN", "EmovereTensor"],
            exclude: ["make_keras_fixture.py"]),
        .testTarget(
            name: "EmovereVideoTests",
            dependencies: ["EmovereVideo", "Emovere", "EmovereData", "EmovereReport", "EmovereTestSupport", "EmovereVision"]),
        .testTarget(
            name: "EmovereServerTests",
            dependencies: [
                "EmovereServer", "Emovere", "EmovereNN", "EmovereTensor", "EmovereVision", "EmovereTestSupport",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            exclude: ["browser_check.py"]),
    ]
)
