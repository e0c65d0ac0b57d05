import Foundation

/// Which web pages may call the server from a browser. A request whose `Origin` header names a web page (a browser's
/// fetch, form post or WebSocket) is served when the page is the server's own, or its origin is one of
/// `allowedOrigins` (`*`: any). Any other is refused with 403, so a page on another site cannot make the server analyse
/// images or open streams for it; an allowed one gets the CORS headers that let the browser read the answer. Requests
/// without `Origin`, or with one that is no web page's (curl, scripts, WebSocket libraries), are not pages' and are
/// served.
///
/// The server's own page is one whose origin names the host and port of the request's `Host`, when that host is an
/// IP address or `localhost`: a domain name could be a DNS-rebinding attacker's (their page's name turned to point at
/// this machine, `Origin` and `Host` then agree), so a page reached by a domain name needs `--allow-origin`.
public struct CrossOriginPolicy: Sendable, Equatable {
    /// The origins allowed besides the server's own, each `scheme://host[:port]` as a browser sends it
    /// (`https://app.example.com`, `http://localhost:3000`), or `*` for any.
    public var allowedOrigins: [String]

    /// A policy allowing `allowedOrigins` besides the server's own.
    public init(allowedOrigins: [String] = []) {
        self.allowedOrigins = allowedOrigins
    }

    /// Whether any origin is allowed (`*` among `allowedOrigins`).
    public var allowsAnyOrigin: Bool { allowedOrigins.contains("*") }

    /// The headers beyond the CORS-safelisted ones that an allowed page may read (`Access-Control-Expose-Headers`):
    /// a 503's pause before a retry.
    static let exposedHeaders = "Retry-After"

    /// The first entry of `allowedOrigins` that is neither `*` nor an origin (`http` or `https`, a host, an optional
    /// numeric port; no path, query, user or trailing slash), with why; nil when all are.
    public var invalidEntry: (entry: String, reason: String)? {
        for entry in allowedOrigins where entry != "*" {
            if case let .failure(problem) = Self.normalized(entry) { return (entry, problem.reason) }
        }
        return nil
    }

    /// What this policy decides for a request from `origin` (its `Origin` header) to a server it names `host`
    /// (its `Host` header).
    public func decision(origin: String?, host: String?) -> Decision {
        guard let origin, Self.isWebPage(origin) else { return .notCrossOrigin }
        let page = try? Self.normalized(origin).get()
        if let page, let host, Self.cannotBeRebound(host), page == Self.origin(scheme: page, host: host) {
            return .notCrossOrigin
        }
        if allowsAnyOrigin { return .allowed(allowOriginHeader: "*") }
        if let page, allowedOrigins.contains(where: { (try? Self.normalized($0).get()) == page }) {
            return .allowed(allowOriginHeader: origin)
        }
        return .refused
    }

    /// What the server does with a request.
    public enum Decision: Sendable, Equatable {
        /// No `Origin`, no web page's, or the server's own: served as it is.
        case notCrossOrigin
        /// Another site's page that the policy allows: served with `Access-Control-Allow-Origin` set to the value.
        case allowed(allowOriginHeader: String)
        /// Another site's page that the policy does not allow: answered 403.
        case refused
    }

    /// Whether `origin` is a web page's, as browsers send it: `http` or `https`, or `null` (a local file, a sandboxed
    /// frame). Other schemes are not pages' (a WebSocket library may send `ws://host`; browser extensions have their
    /// own).
    static func isWebPage(_ origin: String) -> Bool {
        let lowered = origin.lowercased()
        return lowered == "null" || lowered.hasPrefix("http://") || lowered.hasPrefix("https://")
    }

    /// Why an origin is not one.
    struct Problem: Error { let reason: String }

    /// `origin` as `scheme://host:port`, in lower case with the scheme's default port written out, so two spellings
    /// of one origin compare equal.
    static func normalized(_ origin: String) -> Result<String, Problem> {
        let lowered = origin.lowercased()
        guard let scheme = ["http", "https"].first(where: { lowered.hasPrefix($0 + "://") }) else {
            return .failure(Problem(reason: "it does not start with http:// or https://"))
        }
        let authority = String(lowered.dropFirst(scheme.count + 3))
        if authority.contains("/") { return .failure(Problem(reason: "an origin has no path (not even a trailing slash)")) }
        if let bad = authority.first(where: { "?#@ \t".contains($0) }) {
            return .failure(Problem(reason: "it holds '\(bad)'"))
        }
        guard let (name, port) = hostAndPort(authority, scheme: scheme) else {
            return .failure(Problem(reason: "expected a host and an optional numeric port after \(scheme)://"))
        }
        return .success("\(scheme)://\(name):\(port)")
    }

    /// The origin a page of `page`'s scheme at `host` (a `Host` header) has, normalized; nil for a malformed host.
    private static func origin(scheme page: String, host: String) -> String? {
        let scheme = page.hasPrefix("https://") ? "https" : "http"
        guard let (name, port) = hostAndPort(host.lowercased(), scheme: scheme) else { return nil }
        return "\(scheme)://\(name):\(port)"
    }

    /// The host name and port of `authority` (`host[:port]`, an IPv6 address in brackets), the port the scheme's
    /// default when absent; nil without a host, with a colon in a host outside brackets, or with a port that is not
    /// ASCII digits making 1-65535.
    private static func hostAndPort(_ authority: String, scheme: String) -> (name: String, port: Int)? {
        let afterBracket = authority.lastIndex(of: "]").map { authority.index(after: $0) } ?? authority.startIndex
        let colon = authority[afterBracket...].firstIndex(of: ":")
        let name = String(authority[..<(colon ?? authority.endIndex)])
        let digits = colon.map { authority[authority.index(after: $0)...] }
        let port = if let digits {
            digits.allSatisfy { $0.isASCII && $0.isNumber } ? Int(digits) : nil
        } else {
            scheme == "https" ? 443 : 80
        }
        let bracketed = name.hasPrefix("[") && name.hasSuffix("]") && name.count > 2
        guard !name.isEmpty, bracketed || !name.contains(where: { "[]:".contains($0) }),
              let port, (1...65535).contains(port) else { return nil }
        return (name, port)
    }

    /// Whether the host of `host` (a `Host` header) is an IP address or `localhost`, names no DNS lookup can turn to
    /// another machine.
    static func cannotBeRebound(_ host: String) -> Bool {
        guard let (name, _) = hostAndPort(host.lowercased(), scheme: "http") else { return false }
        if name.hasPrefix("[") && name.hasSuffix("]") { return true }  // an IPv6 literal
        if name == "localhost" || name.hasSuffix(".localhost") { return true }  // loopback by RFC 6761
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isNumber } }
    }
}
