//! Go programs the tests run (`tests/go/<name>/main.go`, our own code), built with Debian's
//! Go toolchain (`golang-go`) in GOPATH mode against Debian's Go packages under
//! `/usr/share/gocode` (the Docker SDK: `golang-github-docker-docker-dev`), so no module proxy
//! is needed. `scripts/prereqs.sh test` installs both.
//!
//! A program is built once and cached under `target/go/`, named by a hash of its source and of
//! `go version`: a changed source is rebuilt, an unchanged one is not (a build takes seconds).
//! A file lock keeps test binaries running at the same time from building it twice.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use crate::docker::text;

/// Where Debian's Go packages are.
pub const GOCODE: &str = "/usr/share/gocode";

/// How to get what a Go build needs, for the panics.
const INSTALL: &str = "run `scripts/prereqs.sh test` (as root on Debian it installs them) or \
    `apt-get install -y golang-go golang-github-docker-docker-dev`";

static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();

/// The workspace's target directory (`CARGO_TARGET_DIR` when set).
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    )
}

/// The `go` command with GOPATH mode's environment: Debian's packages first, then a GOPATH
/// of our own (nothing is fetched), a build cache under `target/go`, no cgo (no C compiler
/// is needed).
fn go(cache: &std::path::Path) -> Command {
    let mut cmd = Command::new("go");
    cmd.env("GO111MODULE", "off")
        .env(
            "GOPATH",
            format!("{GOCODE}:{}", cache.join("gopath").display()),
        )
        .env("GOFLAGS", "")
        .env("GOCACHE", cache.join("cache"))
        .env("GOPROXY", "off")
        .env("CGO_ENABLED", "0");
    cmd
}

/// The executable of `tests/go/<name>/main.go`, built unless a build of the same source is
/// cached. Panics with what to install when Go or a package is missing: never skips.
pub fn program(name: &str) -> PathBuf {
    let built = BUILT.get_or_init(|| Mutex::new(HashMap::new()));
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(path) = built.get(name) {
        return path.clone();
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("go")
        .join(name);
    let source = std::fs::read(dir.join("main.go"))
        .unwrap_or_else(|e| panic!("{}/main.go: {e}", dir.display()));
    let cache = target_dir().join("go");
    std::fs::create_dir_all(&cache).unwrap_or_else(|e| panic!("{}: {e}", cache.display()));

    let version = match go(&cache).arg("version").output() {
        Ok(out) if out.status.success() => text(&out.stdout),
        Ok(out) => panic!("`go version` failed: {}", text(&out.stderr)),
        Err(e) => panic!("Go is needed to build tests/go/{name} ({e}): {INSTALL}"),
    };
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (&source, &version).hash(&mut hasher);
    let exe = cache.join(format!("{name}-{:016x}", hasher.finish()));

    let lock = std::fs::File::create(cache.join(format!("{name}.lock")))
        .expect("create the Go build lock");
    lock.lock().expect("take the Go build lock");
    if !exe.exists() {
        let partial = exe.with_extension(format!("partial-{}", std::process::id()));
        let started = Instant::now();
        let out = go(&cache)
            .args(["build", "-o"])
            .arg(&partial)
            .arg("main.go")
            .current_dir(&dir)
            .output()
            .unwrap_or_else(|e| panic!("cannot run go build: {e}"));
        assert!(
            out.status.success(),
            "building tests/go/{name} failed (GOPATH mode against {GOCODE}; if a package is \
             missing, {INSTALL}):\n{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        std::fs::rename(&partial, &exe).expect("move the Go build into place");
        eprintln!(
            "built tests/go/{name} in {:.1} s ({})",
            started.elapsed().as_secs_f64(),
            version.trim()
        );
    }
    built.insert(name.to_owned(), exe.clone());
    exe
}
