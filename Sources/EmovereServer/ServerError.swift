import EmovereVision
import Foundation
import HTTPTypes
import Hummingbird

/// Everything the server reports to a client or to the operator. Each case maps to one HTTP status and answers
/// as `{"error":{"message":...}}`; the message says what was expected and what was received.
public enum ServerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// 400: the request is not what the route expects (an empty body, a multipart form without a file, a bad
    /// query value).
    case malformedRequest(String)
    /// 405: the path is served, but not with this method; the answer lists `allowed` in its `Allow` header.
    case methodNotAllowed(method: String, path: String, allowed: [String])
    /// 413: the body is longer than the configured limit.
    case bodyTooLarge(received: Int?, limit: Int)
    /// 413: the image header announces more pixels than the configured limit.
    case imageTooLarge(width: Int, height: Int, limit: Int)
    /// 415: the body's media type is not one the route accepts.
    case unsupportedMediaType(received: String?, accepted: [String])
    /// 422: the body has a supported media type but does not decode as an image.
    case undecodableImage(String)
    /// 403: a page of another site (its `Origin`) called the server, and ``CrossOriginPolicy`` does not allow it.
    case originNotAllowed(origin: String)
    /// 426: a plain HTTP request reached the WebSocket route.
    case upgradeRequired(path: String)
    /// 501: the route needs a feature this build lacks.
    case notImplemented(String)
    /// 503: every recognizer is busy and the waiting list is full.
    case overloaded(running: Int, waiting: Int)
    /// 503: the request bodies being received and analysed, and the annotated pictures being sent, already fill the
    /// server's budget of `limit` bytes.
    case uploadsOverloaded(limit: Int)
    /// 413: the annotated PNG of an image is larger than all the bytes the server holds for uploads and answers.
    case annotationTooLarge(bytes: Int, limit: Int)
    /// 503: the server already holds its maximum number of open connections.
    case tooManyConnections(limit: Int)
    /// 499 (as nginx counts it): the client closed its connection while its request waited for a recognizer, so it
    /// was not analysed. Nobody receives the answer; metrics and logs see it.
    case clientClosedRequest
    /// 408: the request did not arrive whole (line, headers and body) within the request timeout.
    case requestTimeout(seconds: Int)
    /// 431: the request line or headers are longer than the HTTP decoder accepts.
    case headersTooLarge
    /// 500: a file the server ships with (web page, OpenAPI document) is missing from its resource bundle or
    /// cannot be read.
    case missingResource(name: String, reason: String)
    /// A server setting is out of range (reported at start-up, never to a client). `name` is the setting as
    /// `emovere serve` spells its option, without the dashes (`max-concurrent`).
    case invalidSetting(name: String, expected: String, received: String)
    /// The server cannot start with what it was given (reported at start-up, never to a client).
    case invalidConfiguration(String)

    /// The HTTP status this error answers with.
    public var status: HTTPResponse.Status {
        switch self {
        case .malformedRequest: .badRequest
        case .methodNotAllowed: .methodNotAllowed
        case .bodyTooLarge, .imageTooLarge, .annotationTooLarge: .contentTooLarge
        case .unsupportedMediaType: .unsupportedMediaType
        case .undecodableImage: .unprocessableContent
        case .upgradeRequired: .upgradeRequired
        case .originNotAllowed: .forbidden
        case .notImplemented: .notImplemented
        case .overloaded, .uploadsOverloaded, .tooManyConnections: .serviceUnavailable
        case .requestTimeout: .requestTimeout
        case .headersTooLarge: .requestHeaderFieldsTooLarge
        case .clientClosedRequest: .init(code: 499, reasonPhrase: "Client Closed Request")
        case .missingResource, .invalidSetting, .invalidConfiguration: .internalServerError
        }
    }

    public var description: String {
        switch self {
        case let .malformedRequest(message):
            return message
        case let .methodNotAllowed(method, path, allowed):
            return "method not allowed: \(path) answers \(allowed.joined(separator: ", ")), received \(method)"
        case let .bodyTooLarge(received, limit):
            let size = received.map { "\($0) bytes" } ?? "more than that"
            return "request body too large: the limit is \(limit) bytes, received \(size) (start the server with a larger --max-body-bytes)"
        case let .imageTooLarge(width, height, limit):
            return "image too large: \(width)x\(height) = \(width * height) pixels, the limit is \(limit) pixels (start the server with a larger --max-pixels)"
        case let .unsupportedMediaType(received, accepted):
            return "unsupported content type: expected \(accepted.joined(separator: ", ")), received \(received.map { "'\($0)'" } ?? "none")"
        case let .undecodableImage(reason):
            return "cannot decode the image: \(reason)"
        case let .originNotAllowed(origin) where origin.lowercased() == "null":
            return "origin null (a local file or sandboxed page) is not allowed: such pages may call this server from a browser only when it is started with --allow-origin '*' (any page)"
        case let .originNotAllowed(origin):
            return "origin \(origin) is not allowed: a page of another site, or one reached by a domain name, may call this server from a browser only when it is started with --allow-origin \(origin) (or --allow-origin '*' for any page)"
        case let .upgradeRequired(path):
            return "\(path) is a WebSocket endpoint: connect with a WebSocket client (Upgrade: websocket)"
        case let .notImplemented(message):
            return message
        case let .overloaded(running, waiting):
            return "server overloaded: \(running) analyses running and \(waiting) waiting; retry shortly"
        case let .uploadsOverloaded(limit):
            return "server overloaded: the uploads and annotated pictures it holds already fill its \(limit) bytes for them (a full body for each analysis that may run or wait); retry shortly"
        case let .annotationTooLarge(bytes, limit):
            return "annotated picture too large: its PNG is \(bytes) bytes, more than the \(limit) bytes the server holds for uploads and annotated pictures (--max-body-bytes for each analysis that may run or wait); send a smaller image, or leave out annotate"
        case let .tooManyConnections(limit):
            return "too many connections: the server holds at most \(limit) (--max-connections); retry shortly"
        case let .requestTimeout(seconds):
            return "request timeout: the request line, headers and body must arrive within \(seconds) s (--request-timeout)"
        case .headersTooLarge:
            return "request headers too large: the request line and headers must fit in 80 KiB"
        case .clientClosedRequest:
            return "the client closed its connection while the request waited for a recognizer: not analysed"
        case let .missingResource(name, reason):
            return "resource \(name) of the EmovereServer bundle (emovere_EmovereServer.resources beside the executable): \(reason)"
        case let .invalidSetting(name, expected, received):
            return "invalid server setting: \(name) must be \(expected), received \(received)"
        case let .invalidConfiguration(message):
            return "invalid server configuration: \(message)"
        }
    }

    /// The error a decoding failure of an uploaded image becomes.
    init(_ error: VisionError) {
        switch error {
        case let .tooLarge(_, width, height, limit):
            self = .imageTooLarge(width: width, height: height, limit: limit)
        case .empty:
            self = .malformedRequest("empty image: the body holds no bytes; send a JPEG or PNG image")
        case .unsupportedFormat, .corrupt, .unreadable, .encodingFailed:
            self = .undecodableImage(error.description)
        }
    }
}

extension ServerError: HTTPResponseError {
    /// The JSON error response, with `Retry-After: 1` for 503 and `Allow` for 405.
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        if status == .serviceUnavailable { headers[.retryAfter] = "1" }
        if case let .methodNotAllowed(_, _, allowed) = self { headers[.allow] = allowed.joined(separator: ", ") }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: jsonBody)))
    }

    /// The error as `{"error":{"message":...}}`, the body of every error response.
    var jsonBody: [UInt8] {
        var body = Array(#"{"error":{"message":""#.utf8)
        for scalar in description.unicodeScalars {
            switch scalar {
            case "\"": body += Array(#"\""#.utf8)
            case "\\": body += Array(#"\\"#.utf8)
            case _ where scalar.value < 0x20: body += Array(String(format: "\\u%04x", scalar.value).utf8)
            default: body += Array(String(scalar).utf8)
            }
        }
        return body + Array(#""}}"#.utf8)
    }
}
