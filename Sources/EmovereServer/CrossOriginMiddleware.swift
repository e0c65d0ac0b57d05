import Hummingbird

/// Applies the server's ``CrossOriginPolicy`` to every HTTP request: another site's page that the policy refuses gets
/// 403 (its preflight too); one it allows gets `Access-Control-Allow-Origin` on every answer, errors included, and
/// its preflight (`OPTIONS` with `Access-Control-Request-Method`) is answered 204 with the path's methods.
struct CrossOriginMiddleware<Context: RequestContext>: RouterMiddleware {
    let policy: CrossOriginPolicy
    /// The methods each served path answers.
    let allowed: [String: [HTTPRequest.Method]]

    /// How long a browser may keep a preflight's answer, in seconds.
    static var preflightLifetime: Int { 600 }

    func handle(_ request: Request, context: Context,
                next: (Request, Context) async throws -> Response) async throws -> Response {
        let origin = request.headers[.origin]
        let allowOrigin: String
        switch policy.decision(origin: origin, host: request.head.authority) {
        case .notCrossOrigin: return try await next(request, context)
        case .refused: throw ServerError.originNotAllowed(origin: origin ?? "")
        case let .allowed(value): allowOrigin = value
        }
        var headers: HTTPFields = [.accessControlAllowOrigin: allowOrigin, .accessControlExposeHeaders: CrossOriginPolicy.exposedHeaders]
        if allowOrigin != "*" { headers[.vary] = "Origin" }
        let path = request.uri.path
        if request.method == .options, request.headers[.accessControlRequestMethod] != nil,
           let methods = allowed[path] {
            headers[.accessControlAllowMethods] = methods.map(\.rawValue).joined(separator: ", ")
            // The API reads no header a browser sends on its own but the body's type.
            headers[.accessControlAllowHeaders] = "Content-Type"
            headers[.accessControlMaxAge] = String(Self.preflightLifetime)
            return Response(status: .noContent, headers: headers)
        }
        do {
            var response = try await next(request, context)
            response.headers.append(contentsOf: headers)
            return response
        } catch let error as any HTTPResponseError {
            var response = try error.response(from: request, context: context)
            response.headers.append(contentsOf: headers)
            return response
        }
    }
}
