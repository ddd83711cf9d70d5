//! Content sniffing as Go's `http.DetectContentType` does it (the WHATWG MIME sniffing
//! algorithm's table, in Go's order): what Traefik's `contentType` middleware turns on for
//! answers that come without a `Content-Type`. At most the first 512 bytes count.

/// At most this many bytes are looked at.
pub const SNIFF_LEN: usize = 512;

/// The media type of `data`, `application/octet-stream` when nothing more specific fits.
pub fn detect(data: &[u8]) -> &'static str {
    let data = &data[..data.len().min(SNIFF_LEN)];
    let first = data.iter().position(|b| !is_ws(*b)).unwrap_or(data.len());
    if let Some(ct) = html(&data[first..]) {
        return ct;
    }
    if starts_ci(&data[first..], b"<?xml") {
        return "text/xml; charset=utf-8";
    }
    for (prefix, ct) in EXACT {
        if data.starts_with(prefix) {
            return ct;
        }
    }
    for (mask, pat, ct) in MASKED {
        if masked(data, mask, pat) {
            return ct;
        }
    }
    if mp4(data) {
        return "video/mp4";
    }
    if eot(data) {
        return "application/vnd.ms-fontobject";
    }
    for (prefix, ct) in FONTS_AND_ARCHIVES {
        if data.starts_with(prefix) {
            return ct;
        }
    }
    if !data[first..].iter().any(|b| is_binary(*b)) {
        return "text/plain; charset=utf-8";
    }
    "application/octet-stream"
}

fn is_ws(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0c | b'\r' | b' ')
}

/// Bytes that do not occur in text (WHATWG's "binary data bytes").
fn is_binary(b: u8) -> bool {
    matches!(b, 0x00..=0x08 | 0x0b | 0x0e..=0x1a | 0x1c..=0x1f)
}

fn starts_ci(data: &[u8], pat: &[u8]) -> bool {
    data.len() >= pat.len() && data[..pat.len()].eq_ignore_ascii_case(pat)
}

/// An HTML tag the spec lists, in any case, followed by a space or `>`.
fn html(data: &[u8]) -> Option<&'static str> {
    const TAGS: [&[u8]; 17] = [
        b"<!DOCTYPE HTML",
        b"<HTML",
        b"<HEAD",
        b"<SCRIPT",
        b"<IFRAME",
        b"<H1",
        b"<DIV",
        b"<FONT",
        b"<TABLE",
        b"<A",
        b"<STYLE",
        b"<TITLE",
        b"<B",
        b"<BODY",
        b"<BR",
        b"<P",
        b"<!--",
    ];
    TAGS.iter()
        .any(|t| starts_ci(data, t) && matches!(data.get(t.len()), Some(b' ' | b'>')))
        .then_some("text/html; charset=utf-8")
}

const EXACT: [(&[u8], &str); 15] = [
    (b"%PDF-", "application/pdf"),
    (b"%!PS-Adobe-", "application/postscript"),
    (b"\xFE\xFF", "text/plain; charset=utf-16be"),
    (b"\xFF\xFE", "text/plain; charset=utf-16le"),
    (b"\xEF\xBB\xBF", "text/plain; charset=utf-8"),
    (b"\x00\x00\x01\x00", "image/x-icon"),
    (b"\x00\x00\x02\x00", "image/x-icon"),
    (b"BM", "image/bmp"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"\x89PNG\x0D\x0A\x1A\x0A", "image/png"),
    (b"\xFF\xD8\xFF", "image/jpeg"),
    (b"ID3", "audio/mpeg"),
    (b"OggS\x00", "application/ogg"),
    (b"MThd\x00\x00\x00\x06", "audio/midi"),
];

/// Patterns with "any byte" positions (mask 0). Go checks some of them between the exact
/// ones above; no input matches both kinds, so the order gives the same answers.
const MASKED: [(&[u8], &[u8], &str); 5] = [
    (
        b"\xFF\xFF\xFF\xFF\x00\x00\x00\x00\xFF\xFF\xFF\xFF\xFF\xFF",
        b"RIFF\x00\x00\x00\x00WEBPVP",
        "image/webp",
    ),
    (
        b"\xFF\xFF\xFF\xFF\x00\x00\x00\x00\xFF\xFF\xFF\xFF",
        b"FORM\x00\x00\x00\x00AIFF",
        "audio/aiff",
    ),
    (
        b"\xFF\xFF\xFF\xFF\x00\x00\x00\x00\xFF\xFF\xFF\xFF",
        b"RIFF\x00\x00\x00\x00AVI ",
        "video/avi",
    ),
    (
        b"\xFF\xFF\xFF\xFF\x00\x00\x00\x00\xFF\xFF\xFF\xFF",
        b"RIFF\x00\x00\x00\x00WAVE",
        "audio/wave",
    ),
    (b"\xFF\xFF\xFF\xFF", b"\x1A\x45\xDF\xA3", "video/webm"),
];

const FONTS_AND_ARCHIVES: [(&[u8], &str); 10] = [
    (b"\x00\x01\x00\x00", "font/ttf"),
    (b"OTTO", "font/otf"),
    (b"ttcf", "font/collection"),
    (b"wOFF", "font/woff"),
    (b"wOF2", "font/woff2"),
    (b"\x1F\x8B\x08", "application/x-gzip"),
    (b"PK\x03\x04", "application/zip"),
    (b"Rar!\x1A\x07\x00", "application/x-rar-compressed"),
    (b"Rar!\x1A\x07\x01\x00", "application/x-rar-compressed"),
    (b"\x00\x61\x73\x6D", "application/wasm"),
];

fn masked(data: &[u8], mask: &[u8], pat: &[u8]) -> bool {
    data.len() >= pat.len()
        && data
            .iter()
            .zip(mask)
            .zip(pat)
            .all(|((d, m), p)| d & m == *p)
}

/// An ISO base media file whose `ftyp` box names an `mp4` brand.
fn mp4(data: &[u8]) -> bool {
    if data.len() < 12 {
        return false;
    }
    let size = u32::from_be_bytes([data[0], data[1], data[2], data[3]]) as usize;
    if data.len() < size || size % 4 != 0 || &data[4..8] != b"ftyp" {
        return false;
    }
    (8..size)
        .step_by(4)
        .filter(|st| *st != 12) // the minor version
        .any(|st| data.get(st..st + 3) == Some(b"mp4"))
}

/// Embedded OpenType: `LP` at offset 34.
fn eot(data: &[u8]) -> bool {
    data.len() >= 36 && &data[34..36] == b"LP"
}

#[cfg(test)]
mod tests {
    use super::detect;

    #[test]
    fn go_sniff_table() {
        for (data, want) in [
            (&b""[..], "text/plain; charset=utf-8"),
            (
                b"\n\t <!DOCTYPE html>\n<title>x",
                "text/html; charset=utf-8",
            ),
            (b"<HtMl><b>", "text/html; charset=utf-8"),
            (b"<a href=x>", "text/html; charset=utf-8"),
            (b"<abbr>", "text/plain; charset=utf-8"),
            (b"<!-- c -->", "text/html; charset=utf-8"),
            (b" <?xml version", "text/xml; charset=utf-8"),
            (b"%PDF-1.7", "application/pdf"),
            (b"\xEF\xBB\xBFhi", "text/plain; charset=utf-8"),
            (b"\xFE\xFF\x00h", "text/plain; charset=utf-16be"),
            (b"GIF89a....", "image/gif"),
            (b"\x89PNG\x0D\x0A\x1A\x0A\x00", "image/png"),
            (b"\xFF\xD8\xFF\xE0", "image/jpeg"),
            (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "image/webp"),
            (b"RIFF\x10\x00\x00\x00WAVEfmt ", "audio/wave"),
            (b"\x1A\x45\xDF\xA3\x01", "video/webm"),
            (
                b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom",
                "video/mp4",
            ),
            (b"wOF2\x00\x01", "font/woff2"),
            (b"\x1F\x8B\x08\x00", "application/x-gzip"),
            (b"PK\x03\x04\x14", "application/zip"),
            (b"\x00asm\x01\x00\x00\x00", "application/wasm"),
            (b"{\"json\": true}", "text/plain; charset=utf-8"),
            (b"\x00\x01\x02binary", "application/octet-stream"),
        ] {
            assert_eq!(detect(data), want, "{data:?}");
        }
        let mut eot = vec![0u8; 34];
        eot.extend_from_slice(b"LP");
        assert_eq!(detect(&eot), "application/vnd.ms-fontobject");
        // Only the first 512 bytes count.
        let mut late = vec![b'a'; 600];
        late[550] = 0;
        assert_eq!(detect(&late), "text/plain; charset=utf-8");
    }
}
