/// How `POST /v1/analyze` reads its image: the body itself (`image/jpeg`, `image/png`) or the file part of a
/// `multipart/form-data` form.
enum ImageUpload: Equatable, Sendable {
    case image
    case multipart(boundary: String)

    /// The media types the analyze route accepts, as listed in 415 answers.
    static let acceptedTypes = ["image/jpeg", "image/png", "multipart/form-data"]
    /// Form fields taken as the file when no part carries a file name.
    static let fileFieldNames: Set<String> = ["file", "image", "photo"]

    /// The upload kind for a `Content-Type` header value, checked before the body is read.
    /// - Throws: ``ServerError/unsupportedMediaType(received:accepted:)`` for a missing or other media type,
    ///   ``ServerError/malformedRequest(_:)`` for a multipart type without a boundary.
    init(contentType: String?) throws(ServerError) {
        guard let contentType, let mediaType = MediaType(contentType) else {
            throw .unsupportedMediaType(received: contentType, accepted: Self.acceptedTypes)
        }
        if MediaType.imageEssences.contains(mediaType.essence) {
            self = .image
        } else if mediaType.essence == "multipart/form-data" {
            guard let boundary = mediaType.parameters["boundary"], !boundary.isEmpty else {
                throw .malformedRequest("multipart/form-data without a boundary parameter")
            }
            self = .multipart(boundary: boundary)
        } else {
            throw .unsupportedMediaType(received: contentType, accepted: Self.acceptedTypes)
        }
    }

    /// The image bytes of `body` and a name for them in messages: the body itself, or the form's file part cut out
    /// of it in place (no second buffer).
    /// - Throws: ``ServerError`` when the body is empty, the form has no file, or the file's type is not an image.
    func imageBytes(from body: consuming [UInt8]) throws(ServerError) -> (bytes: [UInt8], source: String) {
        switch self {
        case .image:
            guard !body.isEmpty else {
                throw .malformedRequest("empty body: send the JPEG or PNG image as the request body")
            }
            return (body, "request body")
        case let .multipart(boundary):
            let (file, source) = try Self.file(in: body, boundary: boundary)
            body.removeSubrange(file.upperBound...)
            body.removeSubrange(..<file.lowerBound)
            return (body, source)
        }
    }

    /// Where the file part of the multipart form `body` lies, and a name for it in messages.
    private static func file(in body: [UInt8], boundary: String) throws(ServerError) -> (range: Range<Int>, source: String) {
        let parts = try MultipartForm.parts(of: body, boundary: boundary)
        // A form's unused file input arrives as an empty part with `filename=""`: the first part holding bytes wins.
        let named = parts.filter { $0.fileName != nil || ($0.name.map(Self.fileFieldNames.contains) ?? false) }
        guard let file = named.first(where: { $0.fileName != nil && !$0.body.isEmpty })
            ?? named.first(where: { !$0.body.isEmpty }) ?? named.first else {
            let names = parts.compactMap(\.name).map { String($0.prefix(MultipartForm.quotedNameLength)) }
            throw .malformedRequest("multipart form has no file: expected a part with a filename or named "
                + "'file', received \(names.isEmpty ? "no named parts" : "parts " + names.joined(separator: ", "))")
        }
        if let type = file.contentType, let mediaType = MediaType(type),
           !MediaType.imageEssences.contains(mediaType.essence), mediaType.essence != "application/octet-stream" {
            throw .unsupportedMediaType(received: type, accepted: ["image/jpeg", "image/png"])
        }
        let quoted = { (name: String) in String(name.prefix(MultipartForm.quotedNameLength)) }
        let source = "form field '\(file.name.map(quoted) ?? "file")'" + (file.fileName.map { " (\(quoted($0)))" } ?? "")
        guard !file.body.isEmpty else { throw .malformedRequest("empty file in \(source)") }
        return (file.body.indices, source)
    }
}
