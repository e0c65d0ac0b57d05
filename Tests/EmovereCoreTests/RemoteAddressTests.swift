import EmovereCore
import Testing

/// URLs given as inputs: schemes, hidden passwords and the names they give outputs.
struct RemoteAddressTests {
    @Test func schemesAreFoundInURLsOnly() {
        #expect(RemoteAddress.scheme(of: "HTTPS://host/a.jpg") == "https")
        #expect(RemoteAddress.scheme(of: "rtsp+tcp://cam") == "rtsp+tcp")
        for path in ["photos/a.jpg", "clips/http://x", "://host", "/abs/path", "c:/a.jpg"] {
            #expect(RemoteAddress.scheme(of: path) == nil, "\(path)")
        }
    }

    @Test(arguments: [
        ("http://u:secret@h/a.jpg", "http://u:***@h/a.jpg"),
        ("rtsp://admin:p@ss@cam:554/s", "rtsp://admin:***@cam:554/s"),
        // Unencoded / ? # in a password end the URL's authority, but not the password's hiding.
        ("http://u:pa/ss@h/a.jpg", "http://u:***@h/a.jpg"),
        ("http://u:pa#ss@h/a.jpg", "http://u:***@h/a.jpg"),
        ("http://u:?x@h/a.jpg", "http://u:***@h/a.jpg"),
        // A user alone may be a token: hidden whole.
        ("https://ghp_token@h/a.jpg", "https://***@h/a.jpg"),
        // Only the user information is replaced, not the same text in the path; an empty one is no user.
        ("https://me@h/me@2x.jpg", "https://***@h/me@2x.jpg"),
        ("https://u:p@h/u@2x.jpg", "https://u:***@h/u@2x.jpg"),
        ("https://@h/a@b.jpg", "https://@h/a@b.jpg"),
        // No user information: as given (a port, an @ in the query).
        ("http://h:8080/find?mail=a@b.org", "http://h:8080/find?mail=a@b.org"),
        ("http://h/find?mail=a:b@c", "http://h/find?mail=a:b@c"),
        ("photos/u:secret@h.jpg", "photos/u:secret@h.jpg"),
    ])
    func passwordsAreHidden(url: String, shown: String) {
        #expect(RemoteAddress.hidingPassword(in: url) == shown)
        #expect(RemoteAddress.hidingPassword(of: url, in: "error opening \(url): 401") == "error opening \(shown): 401")
    }

    @Test func lastPartsNameFilesInsideTheirFolder() {
        func name(_ input: String) -> String { RemoteAddress.lastPart(of: input, fallback: "photo").name }
        #expect(name("photos/trip/a.jpg") == "a.jpg")
        #expect(name("https://u:p@h/photos/a.jpg?size=large#top") == "a.jpg")
        #expect(name("http://u:p@10.0.0.5:8080/?x") == "10.0.0.5" && RemoteAddress.lastPart(of: "http://h/", fallback: "photo").isHost)
        #expect(name("http://[::1]:8080") == "::1")
        #expect(name("http://u:p@") == "photo")
        // A URL's part never names a hidden file or a parent folder, and is cut when long.
        #expect(name("http://h/photos/..") == "photo" && name("http://h/.jpg") == "photo")
        #expect(name("http://h/" + String(repeating: "x", count: 300) + ".jpg").count == 100)
    }
}
