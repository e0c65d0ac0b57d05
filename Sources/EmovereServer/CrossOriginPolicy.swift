import Foundation

/// Which web pages may call the server from a browser. A request whose `Origin` header names a web page (a browser's
/// fetch, form post or WebSocket) is served when the origin is the server's own (its scheme-less `host:port` is the
/// request's `Host`), or is one of `allowedOrigins` (`*`: any). Any other is refused with 403, so a page on another
/// site cannot make the server analyse images or open streams for it; an allowed one gets the CORS headers that let
/// the browser read the answer. Requests without `Origin`, or with one that is no web page's (curl, scripts, WebSocket
/// libraries), are not pages' and are served.
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

    /// The problem with the first entry of `allowedOrigins` that is neither `*` nor an origin (`http` or `https`, a
    /// host, an optional port; no path, query or trailing slash), or nil when all are.
    public var invalidEntry: (entry: String, reason: String)? {
        for entry in allowedOrigins where entry != "*" {
            if let reason = Self.problem(withOrigin: entry) { return (entry, reason) }
        }
        return nil
    }

    private static func problem(withOrigin origin: String) -> String? {
        let lowered = origin.lowercased()
        guard let scheme = ["http://", "https://"].first(where: lowered.hasPrefix) else {
            return "it does not start with http:// or https://"
        }
        let authority = lowered.dropFirst(scheme.count)
        if authority.isEmpty { return "it names no host" }
        if let bad = authority.first(where: { "/?#@ \t".contains($0) }) {
            return bad == "/" ? "an origin has no path (not even a trailing slash)" : "it holds '\(bad)'"
        }
        return nil
    }

    /// What this policy decides for a request from `origin` (its `Origin` header) to a server it names `host`
    /// (its `Host` header).
    public func decision(origin: String?, host: String?) -> Decision {
        guard let origin, Self.isWebPage(origin) else { return .notCrossOrigin }
        if let host, Self.isSameOrigin(origin, host: host) { return .notCrossOrigin }
        if allowsAnyOrigin { return .allowed(allowOriginHeader: "*") }
        let lowered = origin.lowercased()
        if allowedOrigins.contains(where: { $0.lowercased() == lowered }) { return .allowed(allowOriginHeader: origin) }
        return .refused
    }

    /// Whether `origin` is a web page's, as browsers send it: `http` or `https`, or `null` (a local file, a sandboxed
    /// frame). Other schemes are not pages' (a WebSocket library may send `ws://host`; browser extensions have their
    /// own).
    static func isWebPage(_ origin: String) -> Bool {
        let lowered = origin.lowercased()
        return lowered == "null" || lowered.hasPrefix("http://") || lowered.hasPrefix("https://")
    }

    /// What the server does with a request.
    public enum Decision: Sendable, Equatable {
        /// No `Origin`, or the server's own: served as it is.
        case notCrossOrigin
        /// Another site's page that the policy allows: served with `Access-Control-Allow-Origin` set to the value.
        case allowed(allowOriginHeader: String)
        /// Another site's page that the policy does not allow: answered 403.
        case refused
    }

    /// Whether `origin` (`scheme://host[:port]`) names the server that `host` (a `Host` header, `host[:port]`) does;
    /// a port left out of either is the scheme's default (80 or 443).
    static func isSameOrigin(_ origin: String, host: String) -> Bool {
        let lowered = origin.lowercased()
        let defaultPort: String
        if lowered.hasPrefix("http://") {
            defaultPort = "80"
        } else if lowered.hasPrefix("https://") {
            defaultPort = "443"
        } else {
            return false  // "null" (a file or sandboxed page) or another scheme: never this server
        }
        func withPort(_ authority: Substring) -> String {
            // An IPv6 literal keeps its colons inside brackets: a port follows the closing one.
            let portStart = authority.lastIndex(of: "]").map { authority[$0...] } ?? authority[...]
            return portStart.contains(":") ? String(authority) : authority + ":" + defaultPort
        }
        let originAuthority = lowered.drop { $0 != "/" }.dropFirst(2)
        return withPort(originAuthority) == withPort(Substring(host.lowercased()))
    }
}
