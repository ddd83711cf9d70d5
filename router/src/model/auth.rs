//! Password hashes for `basicauth.users`, in the htpasswd formats Traefik accepts:
//! bcrypt (`$2y$`, `$2b$`, `$2a$`, `$2x$`), Apache MD5 (`$apr1$`), MD5-crypt (`$1$`) and SHA-1
//! (`{SHA}`). Plain text is
//! refused at parse time: a label that looks like it protects a route must really do so.

use base64::Engine as _;
use md5::{Digest as _, Md5};
use sha1::Sha1;

/// Whether `hash` is in a format [`verify`] understands.
pub fn is_supported_hash(hash: &str) -> bool {
    ["$2y$", "$2b$", "$2a$", "$2x$"]
        .iter()
        .any(|p| hash.starts_with(p))
        && hash.len() == 60
        || hash.starts_with("$apr1$") && hash[6..].contains('$')
        || hash.starts_with("$1$") && hash[3..].contains('$')
        || hash.starts_with("{SHA}") && hash.len() == 33
}

/// Checks a password against an htpasswd hash.
pub fn verify(password: &str, hash: &str) -> bool {
    if let Some(rest) = hash.strip_prefix("$2x$") {
        // go-http-auth checks `$2x$` (crypt_blowfish's migration prefix) as `$2y$`.
        return bcrypt::verify(password, &format!("$2y${rest}")).unwrap_or(false);
    }
    if hash.starts_with("$2") {
        return bcrypt::verify(password, hash).unwrap_or(false);
    }
    for magic in ["$apr1$", "$1$"] {
        if let Some(rest) = hash.strip_prefix(magic) {
            let salt = rest.split('$').next().unwrap_or("");
            return constant_time_eq(
                md5_crypt(password.as_bytes(), salt.as_bytes(), magic.as_bytes()).as_bytes(),
                hash.as_bytes(),
            );
        }
    }
    if let Some(b64) = hash.strip_prefix("{SHA}") {
        let digest = Sha1::digest(password.as_bytes());
        let expected = base64::engine::general_purpose::STANDARD.encode(digest);
        return constant_time_eq(expected.as_bytes(), b64.as_bytes());
    }
    false
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A `basicAuth.users` line for `user` and `password`: bcrypt at cost 5, as `htpasswd -B`
/// writes it by default (every request verifies it: a higher cost is paid on each one).
pub fn users_line(user: &str, password: &str) -> Result<String, String> {
    if user.is_empty() || user.contains(':') || user.chars().any(char::is_whitespace) {
        return Err(format!(
            "user {user:?}: expected a name without `:` or spaces"
        ));
    }
    if password.is_empty() {
        return Err("the password (standard input) is empty".into());
    }
    bcrypt::hash(password, 5)
        .map(|h| format!("{user}:{h}"))
        .map_err(|e| format!("bcrypt: {e}"))
}

/// MD5-crypt (`$1$salt$hash`) and Apache's variant of it (`$apr1$salt$hash`), which differ
/// only by their `magic`.
fn md5_crypt(pw: &[u8], salt: &[u8], magic: &[u8]) -> String {
    let salt = &salt[..salt.len().min(8)];
    let mut ctx = Md5::new();
    ctx.update(pw);
    ctx.update(magic);
    ctx.update(salt);
    let mut alt = Md5::new();
    alt.update(pw);
    alt.update(salt);
    alt.update(pw);
    let alt = alt.finalize();
    let mut left = pw.len();
    while left > 0 {
        ctx.update(&alt[..left.min(16)]);
        left = left.saturating_sub(16);
    }
    let mut i = pw.len();
    while i > 0 {
        if i & 1 == 1 {
            ctx.update([0u8]);
        } else {
            ctx.update(&pw[..1]);
        }
        i >>= 1;
    }
    let mut fin = ctx.finalize();
    for round in 0..1000 {
        let mut c = Md5::new();
        if round & 1 == 1 {
            c.update(pw);
        } else {
            c.update(fin);
        }
        if round % 3 != 0 {
            c.update(salt);
        }
        if round % 7 != 0 {
            c.update(pw);
        }
        if round & 1 == 1 {
            c.update(fin);
        } else {
            c.update(pw);
        }
        fin = c.finalize();
    }
    const ITOA: &[u8] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut out = String::from_utf8_lossy(magic).into_owned();
    out.push_str(&String::from_utf8_lossy(salt));
    out.push('$');
    let mut push = |v: u32, n: usize| {
        let mut v = v;
        for _ in 0..n {
            out.push(ITOA[(v & 0x3f) as usize] as char);
            v >>= 6;
        }
    };
    let f = |i: usize| u32::from(fin[i]);
    for (a, b, c) in [(0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)] {
        push(f(a) << 16 | f(b) << 8 | f(c), 4);
    }
    push(f(11), 2);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_users_line_verifies_its_password_and_refuses_bad_input() {
        let line = users_line("admin", "s3cret pass").unwrap_or_default();
        let (user, hash) = line.split_once(':').unwrap_or_default();
        assert_eq!(user, "admin");
        assert!(hash.starts_with("$2") && verify("s3cret pass", hash));
        assert!(!verify("s3cret", hash));
        for (u, p) in [("", "x"), ("a:b", "x"), ("a b", "x"), ("a", "")] {
            assert!(users_line(u, p).is_err(), "{u:?} {p:?}");
        }
    }

    #[test]
    fn apr1_matches_openssl() {
        assert!(verify("password", "$apr1$saltsalt$yAAkm4libquA.ZWLHbSBq/"));
        assert!(verify("p@ss w0rd!", "$apr1$ab$YkGG8iVoFMZxOO6IaJxhr1"));
        assert!(!verify("Password", "$apr1$saltsalt$yAAkm4libquA.ZWLHbSBq/"));
    }

    #[test]
    fn sha_and_bcrypt() {
        assert!(verify("password", "{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g="));
        assert!(!verify("nope", "{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g="));
        let h = bcrypt::hash("secret", 4).unwrap();
        assert!(is_supported_hash(&h));
        assert!(verify("secret", &h));
        assert!(!verify("Secret", &h));
        assert!(!is_supported_hash("plaintext"));
    }
}
