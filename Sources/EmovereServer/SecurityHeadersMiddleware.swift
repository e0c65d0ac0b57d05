import HTTPTypes
import Hummingbird

/// Adds to every answer, errors included, the headers that keep a browser from misreading or misusing it: no
/// sniffing of another content type (an error's JSON repeats the request's path), no framing by another site's page
/// (the web page can start the camera), no referrer sent on, and for the web page a policy allowing only its own
/// scripts and styles (its connections may go to another server of the API, which that server's own cross-origin
/// policy allows or refuses).
struct SecurityHeadersMiddleware<Context: RequestContext>: RouterMiddleware {
    /// The headers every answer gets.
    static var headers: HTTPFields {
        [.xContentTypeOptions: "nosniff", .referrerPolicy: "no-referrer", .xFrameOptions: "DENY",
         .contentSecurityPolicy: "default-src 'self'; connect-src 'self' http: https: ws: wss:; "
            + "img-src 'self' data: blob:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"]
    }

    func handle(_ request: Request, context: Context,
                next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as any HTTPResponseError {
            response = try error.response(from: request, context: context)
        }
        for field in Self.headers where response.headers[field.name] == nil {
            response.headers.append(field)
        }
        return response
    }
}

extension HTTPField.Name {
    static var referrerPolicy: Self { Self("Referrer-Policy")! }
    static var xFrameOptions: Self { Self("X-Frame-Options")! }
}
