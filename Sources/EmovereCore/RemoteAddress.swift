/// Inputs given as URLs (`https://host/photo.jpg`, `rtsp://user:password@camera/stream`) rather than paths: their
/// scheme, their name for output files, and their spelling for messages with the password hidden.
public enum RemoteAddress {
    /// The scheme of `input` in lower case when it has the form `scheme://...`, else nil (a path).
    public static func scheme(of input: String) -> String? {
        guard let range = input.range(of: "://"), !input[..<range.lowerBound].isEmpty,
              input[..<range.lowerBound].allSatisfy({ $0.isLetter || $0.isNumber || "+-.".contains($0) })
        else { return nil }
        return input[..<range.lowerBound].lowercased()
    }

    /// `url` with the password of its user information replaced by `***` (messages and logs must not show it), or a
    /// user alone (often a token: `https://TOKEN@host/`); a path, or a URL without user information, as it is.
    public static func hidingPassword(in url: String) -> String {
        guard let userInformation = userInformation(of: url) else { return url }
        return url.replacingCharacters(in: userInformation.range, with: userInformation.hidden)
    }

    /// `text` (a tool's messages) with the password of `url` hidden wherever its user information appears (a user
    /// alone only after `://`: a short name could be part of a path).
    public static func hidingPassword(of url: String, in text: String) -> String {
        guard let userInformation = userInformation(of: url) else { return text }
        let whole = String(url[userInformation.range])
        return whole.contains(":") ? text.replacing(whole, with: userInformation.hidden)
            : text.replacing("://" + whole, with: "://" + userInformation.hidden)
    }

    /// Where `url`'s `user:password@` is, and it with the password as `***` (a user alone, `user@`, all `***@`);
    /// nil without user information (or an empty one, `@`). A password
    /// holding an unencoded `/`, `?` or `#` (which ends a URL's authority) is found too: an `@` after them ends the
    /// user information unless a port (digits) follows the first colon.
    private static func userInformation(of url: String) -> (range: Range<String.Index>, hidden: String)? {
        guard scheme(of: url) != nil, let schemeEnd = url.range(of: "://") else { return nil }
        let rest = url[schemeEnd.upperBound...]
        let ends: (Character) -> Bool = { "/?#".contains($0) }
        let authority = rest.prefix { !ends($0) }
        var at = authority.lastIndex(of: "@")
        if at == nil, let later = rest.lastIndex(of: "@"), let colon = rest[..<later].firstIndex(of: ":"),
           !rest[..<colon].contains(where: ends) {
            let port = rest[rest.index(after: colon)...].prefix { !ends($0) }
            if port.isEmpty || !port.allSatisfy(\.isNumber) { at = later }
        }
        guard let at, at > rest.startIndex else { return nil }
        let range = rest.startIndex..<rest.index(after: at)
        guard let colon = rest[..<at].firstIndex(of: ":") else { return (range, "***@") }
        return (range, String(rest[...colon]) + "***@")
    }

    /// The last part of `input`'s path: a file's name, a URL's (without its query), or a URL's host (without user
    /// information and port) when its path is empty; `fallback` for a URL without either. A URL's part names output
    /// files: one that starts with a dot (`..`, `.jpg`) gives `fallback`, and a long one is cut to 100 characters.
    public static func lastPart(of input: String, fallback: String) -> (name: String, isHost: Bool) {
        guard scheme(of: input) != nil, let schemeEnd = input.range(of: "://") else {
            return (String(input.split(separator: "/").last ?? Substring(input)), false)
        }
        let address = input[schemeEnd.upperBound...].prefix { !"?#".contains($0) }
        let authority = address.prefix { $0 != "/" }
        if let resource = address.dropFirst(authority.count).split(separator: "/").last {
            return (resource.hasPrefix(".") ? fallback : String(resource.prefix(100)), false)
        }
        let host = authority.split(separator: "@", omittingEmptySubsequences: false).last ?? ""
        let name = host.hasPrefix("[") ? host.dropFirst().prefix { $0 != "]" } : host.prefix { $0 != ":" }
        return (name.isEmpty ? fallback : String(name), true)
    }
}
