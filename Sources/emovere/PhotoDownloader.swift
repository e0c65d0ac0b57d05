import Dispatch
import EmovereCore
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Downloads photos named by `http` or `https` URLs into memory (nothing is saved), through one URLSession for the
/// whole run, from any thread.
final class PhotoDownloader: Sendable {
    /// The URL schemes a photo may be downloaded with.
    static let schemes = ["http", "https"]

    /// The most bytes one photo may have (a 100-megapixel photo, the default `--max-pixels`, in JPEG or a
    /// photographic PNG).
    static let maximumBytes = 256 << 20

    /// Why a photo could not be downloaded: its URL (password hidden) and the reason.
    struct Failure: Error, CustomStringConvertible {
        var url: String
        var reason: String
        var description: String { "cannot download \(url): \(reason)" }
    }

    /// Whether `input` is a URL a photo is downloaded from rather than a path.
    static func isURL(_ input: String) -> Bool { schemes.contains(RemoteAddress.scheme(of: input) ?? "") }

    /// A download fails when the server sends nothing for this long, or takes ten times as long in all.
    let timeoutSeconds: Double
    private let router = Router()
    /// Made by the first download: a run without URLs starts no session.
    private let session = Locked<URLSession?>(nil)

    init(timeoutSeconds: Double = 30) {
        self.timeoutSeconds = timeoutSeconds
    }

    deinit {
        session.withValue { $0?.finishTasksAndInvalidate() }
    }

    /// The bytes of the photo at `url`. A password in the URL is sent as HTTP basic authentication, and after a
    /// redirect only to the same scheme, host and port. Fails when the server answers with a status other than 2xx or
    /// with text (a web page: the photo's page rather than the photo), announces or sends more than `maximumBytes`,
    /// sends nothing for `timeoutSeconds`, or takes more than ten times that in all.
    func bytes(from url: String) throws(Failure) -> [UInt8] {
        let shown = RemoteAddress.hidingPassword(in: url)
        guard var components = URLComponents(string: url), let host = components.host, !host.isEmpty else {
            throw Failure(url: shown, reason: "expected a URL such as https://example.com/photo.jpg, with @ / ? # in a "
                                              + "user name or password percent-encoded (%40 %2F %3F %23)")
        }
        components.scheme = components.scheme?.lowercased()
        var authorization: String?
        if let user = components.user {
            authorization = "Basic " + Data("\(user):\(components.password ?? "")".utf8).base64EncodedString()
            components.user = nil
            components.password = nil
        }
        guard let address = components.url else {
            throw Failure(url: shown, reason: "expected a URL such as https://example.com/photo.jpg")
        }
        var request = URLRequest(url: address, timeoutInterval: timeoutSeconds)
        if let authorization { request.setValue(authorization, forHTTPHeaderField: "Authorization") }
        let receiver = Receiver(origin: Origin(address))
        let task = router.start(request, for: receiver, in: openSession())
        let limit = timeoutSeconds * 10
        // The overall limit: URLSession's resource timeout is not enforced everywhere (swift-corelibs-foundation).
        if receiver.finished.wait(timeout: .now() + limit) == .timedOut {
            receiver.fail(receiver.hasBytes ? "the download took more than \(Int(limit)) s (timed out)"
                                            : "no answer in \(Int(limit)) s (timed out)")
            task.cancel()
        }
        router.forget(task)
        switch receiver.outcome.withValue({ $0 }) {
        case .success(let bytes): return bytes
        case .failure(let reason): throw Failure(url: shown, reason: reason.text)
        }
    }

    private func openSession() -> URLSession {
        session.withValue { session in
            if let session { return session }
            let configuration = URLSessionConfiguration.ephemeral
            configuration.timeoutIntervalForRequest = timeoutSeconds
            configuration.timeoutIntervalForResource = timeoutSeconds * 10
            let opened = URLSession(configuration: configuration, delegate: router, delegateQueue: nil)
            session = opened
            return opened
        }
    }

    /// Where a request goes: the scheme, host and port its credentials are for.
    private struct Origin: Equatable {
        var scheme: String?, host: String?, port: Int?

        init(_ url: URL) {
            scheme = url.scheme?.lowercased()
            host = url.host?.lowercased()
            port = url.port ?? (scheme == "https" ? 443 : 80)
        }
    }

    /// The session's delegate: hands each task's events to its receiver.
    private final class Router: NSObject, URLSessionDataDelegate, Sendable {
        private let receivers = Locked<[Int: Receiver]>([:])

        func start(_ request: URLRequest, for receiver: Receiver, in session: URLSession) -> URLSessionDataTask {
            let task = session.dataTask(with: request)
            receivers.withValue { $0[task.taskIdentifier] = receiver }
            task.resume()
            return task
        }

        func forget(_ task: URLSessionTask) {
            _ = receivers.withValue { $0.removeValue(forKey: task.taskIdentifier) }
        }

        private func receiver(of task: URLSessionTask) -> Receiver? {
            receivers.withValue { $0[task.taskIdentifier] }
        }

        func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                        completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
            guard let receiver = receiver(of: dataTask), let reason = receiver.problem(with: response) else {
                return completionHandler(.allow)
            }
            receiver.fail(reason)
            completionHandler(.cancel)
            dataTask.cancel()  // swift-corelibs-foundation ignores the disposition and goes on downloading
        }

        func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
            guard let receiver = receiver(of: dataTask), !receiver.append(data) else { return }
            receiver.fail("the server sent more than the \(PhotoDownloader.maximumBytes) bytes a photo may have")
            dataTask.cancel()
        }

        func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                        newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void) {
            var next = request
            // Credentials go only where they were given: not to another host or port, nor from https to http.
            if let receiver = receiver(of: task), request.url.map(Origin.init) != receiver.origin {
                next.setValue(nil, forHTTPHeaderField: "Authorization")
            }
            completionHandler(next)
        }

        func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
            guard let receiver = receiver(of: task) else { return }
            if let error { receiver.fail(Self.reason(for: error)) }
            receiver.finished.signal()
        }

        private static func reason(for error: Error) -> String {
            guard let error = error as? URLError else { return error.localizedDescription }
            return switch error.code {
            case .timedOut: "the server sent nothing for too long (timed out)"
            case .cannotFindHost, .dnsLookupFailed: "no such host"
            case .cannotConnectToHost: "the connection was refused"
            case .networkConnectionLost: "the connection was lost before the photo's end"
            case .notConnectedToInternet: "no network"
            case .httpTooManyRedirects: "too many redirects"
            case .secureConnectionFailed, .serverCertificateUntrusted, .serverCertificateHasBadDate,
                 .serverCertificateNotYetValid, .serverCertificateHasUnknownRoot:
                "the secure connection failed (URL error \(error.code.rawValue))"
            default: "URL error \(error.code.rawValue)"
            }
        }
    }

    /// One download's state: its bytes, or why it failed.
    private final class Receiver: Sendable {
        let origin: Origin
        let finished = DispatchSemaphore(value: 0)
        let outcome = Locked<Result<[UInt8], Reason>>(.success([]))

        /// A failure's text, as an `Error` for `Result`.
        struct Reason: Error { var text: String }

        init(origin: Origin) { self.origin = origin }

        /// Whether any byte of the photo arrived.
        var hasBytes: Bool {
            outcome.withValue { if case let .success(bytes) = $0 { !bytes.isEmpty } else { false } }
        }

        /// Why `response` is not a photo's (nil when it may be one); room is made for the length it announces.
        func problem(with response: URLResponse) -> String? {
            if let http = response as? HTTPURLResponse, !(200..<300).contains(http.statusCode) {
                return "the server answered HTTP \(http.statusCode) (\(HTTPURLResponse.localizedString(forStatusCode: http.statusCode)))"
            }
            if let type = response.mimeType?.lowercased(), type.hasPrefix("text/") {
                return "the server sent \(type) (a web page or a message), expected a JPEG or PNG photo"
            }
            let length = response.expectedContentLength
            if length > PhotoDownloader.maximumBytes {
                return "the server announces \(length) bytes, more than the \(PhotoDownloader.maximumBytes) a photo may have"
            }
            if length > 0 {
                outcome.withValue { outcome in
                    guard case var .success(bytes) = outcome else { return }
                    outcome = .success([])
                    bytes.reserveCapacity(Int(length))
                    outcome = .success(bytes)
                }
            }
            return nil
        }

        /// Adds `data` to the photo; false when that would pass `maximumBytes`.
        func append(_ data: Data) -> Bool {
            outcome.withValue { outcome -> Bool in
                guard case var .success(bytes) = outcome else { return true }  // failed already: dropped
                guard bytes.count + data.count <= PhotoDownloader.maximumBytes else { return false }
                outcome = .success([])  // the array is moved out and back, not copied
                bytes += data
                outcome = .success(bytes)
                return true
            }
        }

        /// Records the first failure (a cancelled task's own error comes after the reason it was cancelled for).
        func fail(_ reason: String) {
            outcome.withValue { outcome in
                if case .success = outcome { outcome = .failure(Reason(text: reason)) }
            }
        }
    }
}
