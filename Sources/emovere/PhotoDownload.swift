import Dispatch
import EmovereCore
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Photos named by `http` or `https` URLs, downloaded whole into memory (nothing is saved) before they are decoded.
enum PhotoDownload {
    /// The URL schemes a photo may be downloaded with.
    static let schemes = ["http", "https"]

    /// The most bytes one photo may have: a 100-megapixel PNG compresses to less.
    static let maximumBytes = 256 << 20

    /// Why a photo could not be downloaded: its URL (password hidden) and the reason.
    struct Failure: Error, CustomStringConvertible {
        var url: String
        var reason: String
        var description: String { "cannot download \(url): \(reason)" }
    }

    /// Whether `input` is a URL a photo is downloaded from rather than a path.
    static func isURL(_ input: String) -> Bool { schemes.contains(RemoteAddress.scheme(of: input) ?? "") }

    /// The bytes of the photo at `url`. A password in the URL is sent as HTTP basic authentication (to the URL's own
    /// host only, not after a redirect to another). Fails when the server answers with a status other than 2xx or
    /// with text (a web page: the photo's page rather than the photo), sends more than `maximumBytes`, sends nothing for `timeoutSeconds`, or takes more than ten times that in all.
    static func bytes(from url: String, timeoutSeconds: Double = 30) throws(Failure) -> [UInt8] {
        let shown = RemoteAddress.hidingPassword(in: url)
        guard var components = URLComponents(string: url), let host = components.host, !host.isEmpty else {
            throw Failure(url: shown, reason: "expected a URL such as https://example.com/photo.jpg")
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
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeoutSeconds
        configuration.timeoutIntervalForResource = timeoutSeconds * 10
        let receiver = Receiver(host: host)
        let session = URLSession(configuration: configuration, delegate: receiver, delegateQueue: nil)
        defer { session.invalidateAndCancel() }
        let task = session.dataTask(with: request)
        task.resume()
        // URLSession ends every task by its resource timeout; the wait's own limit guards against one that does not.
        if receiver.finished.wait(timeout: .now() + timeoutSeconds * 10 + 5) == .timedOut {
            task.cancel()
            throw Failure(url: shown, reason: "no answer in \(Int(timeoutSeconds * 10)) s (timed out)")
        }
        switch receiver.outcome.withValue({ $0 }) {
        case .success(let bytes): return bytes
        case .failure(let reason): throw Failure(url: shown, reason: reason.text)
        }
    }

    /// Collects one task's answer: its bytes, or why it failed.
    private final class Receiver: NSObject, URLSessionDataDelegate, @unchecked Sendable {
        let host: String
        let finished = DispatchSemaphore(value: 0)
        let outcome = Locked<Result<[UInt8], Reason>>(.success([]))

        /// A failure's text, as an `Error` for `Result`.
        struct Reason: Error { var text: String }

        init(host: String) { self.host = host }

        func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                        completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
            if let http = response as? HTTPURLResponse, !(200..<300).contains(http.statusCode) {
                let phrase = HTTPURLResponse.localizedString(forStatusCode: http.statusCode)
                fail("the server answered HTTP \(http.statusCode) (\(phrase))")
                return completionHandler(.cancel)
            }
            if let type = response.mimeType?.lowercased(), type.hasPrefix("text/") {
                fail("the server sent \(type) (a web page or a message), expected a JPEG or PNG photo")
                return completionHandler(.cancel)
            }
            if response.expectedContentLength > PhotoDownload.maximumBytes {
                fail("the server announces \(response.expectedContentLength) bytes, more than the \(PhotoDownload.maximumBytes) a photo may have")
                return completionHandler(.cancel)
            }
            completionHandler(.allow)
        }

        func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
            let tooLarge = outcome.withValue { outcome -> Bool in
                guard case var .success(bytes) = outcome else { return false }
                guard bytes.count + data.count <= PhotoDownload.maximumBytes else { return true }
                outcome = .success([])  // the array is moved out and back, not copied
                bytes += data
                outcome = .success(bytes)
                return false
            }
            if tooLarge {
                fail("the server sent more than the \(PhotoDownload.maximumBytes) bytes a photo may have")
                dataTask.cancel()
            }
        }

        func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                        newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void) {
            var next = request
            if request.url?.host != host { next.setValue(nil, forHTTPHeaderField: "Authorization") }
            completionHandler(next)
        }

        func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
            if let error { fail(Self.reason(for: error)) }
            finished.signal()
        }

        /// Records the first failure (a cancelled task's own error comes after the reason it was cancelled for).
        private func fail(_ reason: String) {
            outcome.withValue { outcome in
                if case .success = outcome { outcome = .failure(Reason(text: reason)) }
            }
        }

        private static func reason(for error: Error) -> String {
            guard let error = error as? URLError else { return "\(error.localizedDescription)" }
            return switch error.code {
            case .timedOut: "the server sent nothing for too long (timed out)"
            case .cannotFindHost, .dnsLookupFailed: "no such host"
            case .cannotConnectToHost: "the connection was refused"
            case .networkConnectionLost: "the connection was lost before the photo's end"
            case .notConnectedToInternet: "no network"
            case .secureConnectionFailed, .serverCertificateUntrusted, .serverCertificateHasBadDate,
                 .serverCertificateNotYetValid, .serverCertificateHasUnknownRoot:
                "the secure connection failed (\(error.localizedDescription))"
            default: "\(error.localizedDescription) (URL error \(error.code.rawValue))"
            }
        }
    }
}
