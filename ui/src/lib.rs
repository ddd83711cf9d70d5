//! What the router's dashboard and socket-guard's decisions page share: the style sheet
//! (light and dark, readable on a phone) and how a page's files are answered. Both pages are
//! plain HTML, one script and this sheet, compiled into the binaries: no build step, no CDN,
//! no external font, nothing fetched from anywhere but the page's own origin.

/// The shared style sheet.
pub const STYLE: &str = include_str!("dashboard.css");

/// The shared script, loaded before each page's own (`common.js`).
pub const SCRIPT: &str = include_str!("common.js");

/// The page may load only its own files and talk only to its own origin: a label's or a
/// path's text that slipped into the page as markup could neither run nor send anything
/// anywhere.
pub const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// One of a page's files: its body and content type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asset {
    /// The file's text.
    pub body: &'static str,
    /// Its content type.
    pub content_type: &'static str,
}

/// A page: its HTML and script (the sheet is [`STYLE`], the shared script [`SCRIPT`]).
#[derive(Debug, Clone, Copy)]
pub struct Page {
    /// `index.html`.
    pub html: &'static str,
    /// `app.js`.
    pub script: &'static str,
}

/// What a request for the page's directory gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// A file.
    File(Asset),
    /// The directory without its slash: a redirect to this (relative to the page's own
    /// prefix, so that the page works behind a path prefix).
    Redirect(&'static str),
}

impl Page {
    /// The answer for `rest`, the path after the page's directory (`/dashboard`): `""` is
    /// redirected to `/`, `/`, `/index.html`, `/common.js`, `/app.js` and `/app.css` are
    /// files; anything else is not the page's (`None`).
    pub fn answer(&self, rest: &str) -> Option<Answer> {
        let (body, content_type) = match rest {
            "" => return Some(Answer::Redirect("/")),
            "/" | "/index.html" => (self.html, "text/html; charset=utf-8"),
            "/app.js" => (self.script, "text/javascript; charset=utf-8"),
            "/common.js" => (SCRIPT, "text/javascript; charset=utf-8"),
            "/app.css" => (STYLE, "text/css; charset=utf-8"),
            _ => return None,
        };
        Some(Answer::File(Asset { body, content_type }))
    }
}

/// The headers every file of a page is answered with, beside its content type.
pub const HEADERS: [(&str, &str); 4] = [
    ("content-security-policy", POLICY),
    ("cache-control", "no-cache"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
];

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: Page = Page {
        html: "<!doctype html>",
        script: "\"use strict\";",
    };

    #[test]
    fn the_files_and_only_they_are_the_pages() {
        for (rest, kind) in [
            ("/", "text/html"),
            ("/index.html", "text/html"),
            ("/app.js", "text/javascript"),
            ("/common.js", "text/javascript"),
            ("/app.css", "text/css"),
        ] {
            match PAGE.answer(rest) {
                Some(Answer::File(a)) => assert!(a.content_type.starts_with(kind), "{rest}"),
                other => panic!("{rest}: {other:?}"),
            }
        }
        assert_eq!(PAGE.answer(""), Some(Answer::Redirect("/")));
        for other in ["/../etc/passwd", "/app.js/", "/APP.JS", "x"] {
            assert_eq!(PAGE.answer(other), None, "{other}");
        }
    }

    #[test]
    fn the_shared_files_load_nothing_from_elsewhere() {
        assert!(!STYLE.contains("url(") && !STYLE.contains("@import"));
        assert!(!SCRIPT.contains("innerHTML") && !SCRIPT.contains("http"));
        assert!(POLICY.contains("connect-src 'self'") && POLICY.contains("default-src 'none'"));
    }
}
