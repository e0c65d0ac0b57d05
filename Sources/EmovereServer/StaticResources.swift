import EmovereCore
import Foundation

/// The files the server ships in its resource bundle (web page, script, style sheet, OpenAPI document), read once
/// at start-up and served from memory.
struct StaticResources: Sendable {
    /// One file: its bytes and media type.
    struct File: Sendable {
        var bytes: [UInt8]
        var contentType: String
    }

    /// Files by URL path (`/`, `/app.js`, ...).
    let files: [String: File]

    /// Resource file names and the URL paths they are served at.
    static let routes: [(path: String, resource: String, contentType: String)] = [
        ("/", "index.html", "text/html; charset=utf-8"),
        ("/app.js", "app.js", "text/javascript; charset=utf-8"),
        ("/style.css", "style.css", "text/css; charset=utf-8"),
        ("/v1/openapi.json", "openapi.json", "application/json"),
    ]

    /// Reads every file of ``routes`` from the module's bundle.
    /// - Throws: ``ServerError/missingResource(name:reason:)`` naming the first file not found or unreadable.
    static func load() throws(ServerError) -> StaticResources {
        var files: [String: File] = [:]
        for route in routes {
            let name = route.resource as NSString
            guard let url = Bundle.module.url(forResource: name.deletingPathExtension, withExtension: name.pathExtension,
                                              subdirectory: "Resources") else {
                throw .missingResource(name: route.resource, reason: "not in the bundle")
            }
            do {
                files[route.path] = File(bytes: try FileContents.bytes(atPath: url.path), contentType: route.contentType)
            } catch {
                throw .missingResource(name: route.resource, reason: "cannot read \(url.path): \(error)")
            }
        }
        return StaticResources(files: files)
    }
}
