//! The real daemon: its raw API over `/var/run/docker.sock` (to check effects behind the
//! guard's back), the docker CLI (through a guard or on the real socket), the shared test
//! image, and cleanup of every container a test creates.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use crate::http::{parse_responses, RawResponse};

/// The real daemon's socket.
pub const DOCKER_SOCK: &str = "/var/run/docker.sock";

/// The one image every test uses: busybox on scratch, built locally (no registry here).
pub const TEST_IMAGE: &str = "sg-test-busybox:2";

/// How long one docker CLI command may take before the test fails.
const CLI_BOUND: Duration = Duration::from_secs(60);

/// One request to the real daemon over its unix socket (blocking; the daemon answers fast).
/// Errors (no socket, no answer) are returned as text.
pub fn try_real_api(method: &str, path: &str, body: Option<&str>) -> Result<RawResponse, String> {
    let mut s = UnixStream::connect(DOCKER_SOCK).map_err(|e| format!("{DOCKER_SOCK}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .map_err(|e| e.to_string())?;
    let req = crate::http::request(method, path, body);
    s.write_all(&req).map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| e.to_string())?;
    let (mut responses, _) = parse_responses(&raw, true);
    if responses.is_empty() {
        return Err(format!("no response: {:?}", String::from_utf8_lossy(&raw)));
    }
    Ok(responses.remove(0))
}

/// [`try_real_api`], panicking on a transport error.
pub fn real_api(method: &str, path: &str, body: Option<&str>) -> RawResponse {
    try_real_api(method, path, body)
        .unwrap_or_else(|e| panic!("{method} {path} on the real socket: {e}"))
}

/// Panics unless the real daemon answers `GET /_ping`: these tests never skip silently.
pub fn require_docker() {
    match try_real_api("GET", "/_ping", None) {
        Ok(r) if r.status == 200 => {}
        other => panic!(
            "the end-to-end tests need a Docker daemon at {DOCKER_SOCK}, and GET /_ping did not \
             answer 200 ({other:?}). Start one with `sudo dockerd &` (or `systemctl start docker`)."
        ),
    }
}

/// The container's inspect JSON from the real daemon, `None` when it does not exist.
pub fn inspect_container(name: &str) -> Option<serde_json::Value> {
    let r = real_api("GET", &format!("/containers/{name}/json"), None);
    match r.status {
        200 => Some(serde_json::from_slice(&r.body).expect("inspect JSON")),
        404 => None,
        other => panic!("inspect {name}: unexpected {other}: {}", r.text()),
    }
}

/// Whether a container of that name exists on the real daemon.
pub fn container_exists(name: &str) -> bool {
    inspect_container(name).is_some()
}

/// The docker CLI on the REAL socket (DOCKER_HOST and DOCKER_CONTEXT removed).
pub fn real_docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .env_remove("DOCKER_HOST")
        .env_remove("DOCKER_CONTEXT")
        .env("DOCKER_CLI_HINTS", "false")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run the docker CLI: {e}"))
}

/// [`real_docker`], panicking unless it succeeds; returns trimmed stdout.
pub fn real_docker_ok(args: &[&str]) -> String {
    let out = real_docker(args);
    assert!(
        out.status.success(),
        "docker {args:?} failed: {}",
        text(&out.stderr)
    );
    text(&out.stdout).trim().to_owned()
}

/// The docker CLI with `DOCKER_HOST=host` (a guard's `tcp://...`), optionally fed `stdin`.
/// Async, because the guard it talks to runs on the test's runtime.
pub async fn docker_with_stdin(args: &[&str], host: &str, stdin: Option<&[u8]>) -> Output {
    let mut cmd = tokio::process::Command::new("docker");
    cmd.args(args)
        .env("DOCKER_HOST", host)
        .env_remove("DOCKER_CONTEXT")
        .env("DOCKER_CLI_HINTS", "false")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run the docker CLI: {e}"));
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input).await.expect("write the CLI's stdin");
        drop(pipe);
    }
    match tokio::time::timeout(CLI_BOUND, child.wait_with_output()).await {
        Ok(out) => out.expect("wait for the docker CLI"),
        Err(_) => {
            panic!("docker {args:?} (DOCKER_HOST={host}) did not finish within {CLI_BOUND:?}")
        }
    }
}

/// The docker CLI on the REAL socket, without blocking the runtime (so that in-process
/// servers keep serving while it runs); panics unless it succeeds; returns trimmed stdout.
pub async fn real_docker_async_ok(args: &[&str]) -> String {
    let run = tokio::process::Command::new("docker")
        .args(args)
        .env_remove("DOCKER_HOST")
        .env_remove("DOCKER_CONTEXT")
        .env("DOCKER_CLI_HINTS", "false")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = match tokio::time::timeout(CLI_BOUND, run).await {
        Ok(out) => out.unwrap_or_else(|e| panic!("cannot run the docker CLI: {e}")),
        Err(_) => panic!("docker {args:?} did not finish within {CLI_BOUND:?}"),
    };
    assert!(
        out.status.success(),
        "docker {args:?} failed: {}",
        text(&out.stderr)
    );
    text(&out.stdout).trim().to_owned()
}

/// Panics unless `image` exists on the real daemon: images such as `whoami:local` are built
/// by `make images`, never pulled (there is no registry).
pub fn require_image(image: &str) {
    require_docker();
    let r = real_api("GET", &format!("/images/{image}/json"), None);
    assert_eq!(
        r.status,
        200,
        "image {image} is missing: run `make images` first ({})",
        r.text().trim()
    );
}

/// [`docker_with_stdin`] without stdin.
pub async fn docker(args: &[&str], host: &str) -> Output {
    docker_with_stdin(args, host, None).await
}

/// Bytes as lossy text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The non-empty lines of a CLI stream.
pub fn lines(bytes: &[u8]) -> Vec<String> {
    text(bytes)
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

static IMAGE: OnceLock<()> = OnceLock::new();

/// Builds [`TEST_IMAGE`] unless it exists: busybox (Debian's `busybox-static`) on scratch with
/// its applets installed, via the legacy builder on the real socket. Once per process, and under
/// a file lock so that test binaries running at the same time do not race. Returns the name.
pub fn ensure_test_image() -> &'static str {
    IMAGE.get_or_init(|| {
        require_docker();
        let lock_path = std::env::temp_dir().join("sg-test-busybox.lock");
        let lock = std::fs::File::create(&lock_path).expect("create the image build lock");
        lock.lock().expect("lock the image build lock");
        if real_docker(&["image", "inspect", TEST_IMAGE]).status.success() {
            return;
        }
        let busybox = std::path::Path::new("/bin/busybox");
        assert!(
            busybox.exists(),
            "the test image needs a static /bin/busybox: `apt-get install busybox-static`"
        );
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::copy(busybox, dir.path().join("busybox")).expect("copy busybox");
        std::fs::write(
            dir.path().join("Dockerfile"),
            "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\nRUN [\"/bin/mkdir\", \"-m\", \"1777\", \"/tmp\"]\nCMD [\"sh\"]\n",
        )
        .expect("write the Dockerfile");
        let out = Command::new("docker")
            .args(["build", "-q", "-t", TEST_IMAGE])
            .arg(dir.path())
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_CONTEXT")
            .env("DOCKER_BUILDKIT", "0")
            .output()
            .expect("run docker build");
        assert!(out.status.success(), "building {TEST_IMAGE} failed: {}", text(&out.stderr));
    });
    TEST_IMAGE
}

/// Names the containers, volumes and networks of one test (`sgtest-<test>-<pid>-<suffix>`)
/// and removes them all through the real socket when dropped, whether the test passed or not
/// (containers first, so that their networks are free to go).
#[derive(Debug)]
pub struct Cleanup {
    test: String,
    names: Mutex<Vec<String>>,
    volumes: Mutex<Vec<String>>,
    networks: Mutex<Vec<String>>,
}

impl Cleanup {
    /// A cleanup scope for one test.
    pub fn new(test: &str) -> Cleanup {
        Cleanup {
            test: test.to_owned(),
            names: Mutex::new(Vec::new()),
            volumes: Mutex::new(Vec::new()),
            networks: Mutex::new(Vec::new()),
        }
    }

    /// A unique container name, registered for removal.
    pub fn name(&self, suffix: &str) -> String {
        let name = format!("sgtest-{}-{}-{suffix}", self.test, std::process::id());
        self.track(&name);
        name
    }

    /// A unique volume name, registered for removal.
    pub fn volume(&self, suffix: &str) -> String {
        let name = format!("sgtest-{}-{}-{suffix}", self.test, std::process::id());
        self.volumes.lock().unwrap().push(name.clone());
        name
    }

    /// Creates a bridge network (on the real socket), registered for removal; returns its name.
    pub fn network(&self, suffix: &str) -> String {
        let name = format!("sgtest-{}-{}-{suffix}", self.test, std::process::id());
        self.networks.lock().unwrap().push(name.clone());
        real_docker_ok(&["network", "create", &name]);
        name
    }

    /// A unique network name, registered for removal but not created (a client creates it).
    pub fn network_name(&self, suffix: &str) -> String {
        let name = format!("sgtest-{}-{}-{suffix}", self.test, std::process::id());
        self.networks.lock().unwrap().push(name.clone());
        name
    }

    /// Registers a container (name or id) for removal.
    pub fn track(&self, name: &str) {
        self.names.lock().unwrap().push(name.to_owned());
    }

    /// Starts a container that sleeps (on the real socket) and returns its id.
    pub fn sleeper(&self, suffix: &str) -> (String, String) {
        let name = self.name(suffix);
        let id = real_docker_ok(&[
            "run",
            "-d",
            "--name",
            &name,
            ensure_test_image(),
            "sleep",
            "600",
        ]);
        (name, id)
    }

    /// Creates a container that is not started (on the real socket) and returns its id.
    pub fn created(&self, suffix: &str) -> (String, String) {
        let name = self.name(suffix);
        let id = real_docker_ok(&[
            "create",
            "--name",
            &name,
            ensure_test_image(),
            "sleep",
            "600",
        ]);
        (name, id)
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let names = std::mem::take(&mut *self.names.lock().unwrap_or_else(|e| e.into_inner()));
        let volumes = std::mem::take(&mut *self.volumes.lock().unwrap_or_else(|e| e.into_inner()));
        let networks =
            std::mem::take(&mut *self.networks.lock().unwrap_or_else(|e| e.into_inner()));
        // Names that were never created make `rm` exit 1; that is expected. A few at a time:
        // the CLI removes the names of one `rm` concurrently, and hundreds of concurrent
        // removals deadlocked this machine's dockerd (20.10) in libnetwork. Each command is
        // bounded, so that a hung daemon fails the tests instead of stopping them.
        for (cmd, list) in [
            (&["rm", "-f", "-v"][..], names),
            (&["volume", "rm", "-f"][..], volumes),
            (&["network", "rm"][..], networks),
        ] {
            for chunk in list.chunks(REMOVE_AT_ONCE) {
                let _ = Command::new("timeout")
                    .arg(REMOVE_WITHIN)
                    .arg("docker")
                    .args(cmd)
                    .args(chunk)
                    .env_remove("DOCKER_HOST")
                    .env_remove("DOCKER_CONTEXT")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }
}

/// How many objects one removal command names.
const REMOVE_AT_ONCE: usize = 16;
/// How long one removal command may take (`timeout`'s syntax).
const REMOVE_WITHIN: &str = "120";
