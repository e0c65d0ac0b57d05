import Hummingbird

/// Answers a request for a served path with a method it is not served with 405 and the path's methods (the router
/// alone answers 404).
struct AllowedMethodsMiddleware<Context: RequestContext>: RouterMiddleware {
    /// The methods each served path answers.
    let allowed: [String: [HTTPRequest.Method]]

    func handle(_ request: Request, context: Context,
                next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        if let methods = allowed[path], !methods.contains(request.method) {
            throw ServerError.methodNotAllowed(method: request.method.rawValue, path: path,
                                               allowed: methods.map(\.rawValue))
        }
        return try await next(request, context)
    }
}
