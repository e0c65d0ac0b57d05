import Hummingbird

/// Gives Hummingbird's own errors without a body (the router's 404) a message, so every error answers
/// `{"error":{"message":...}}`.
struct ErrorMessageMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context,
                next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let plain as HTTPError where plain.body == nil {
            let message = plain.status == .notFound
                ? "no route for \(request.method) \(request.uri.path); see /v1/openapi.json"
                : "\(plain.status.code) \(plain.status.reasonPhrase) for \(request.method) \(request.uri.path)"
            throw HTTPError(plain.status, headers: plain.headers, message: message)
        }
    }
}
