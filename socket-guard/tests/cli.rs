//! The real `socket-guard` executable: what only the binary does.
//!
//! Proves that a configuration error exits with 64 (EX_USAGE) and names the variable and the
//! value; that `socket-guard policy` prints the effective allow-list; that `socket-guard
//! healthcheck` exits 0 against a running instance and 1 against none; that SIGTERM stops a
//! running instance cleanly; and that its audit lines are whole JSON objects whatever a client
//! puts in a path. The environment is cleared for every run, so no stray `GUARD_*`
//! or section variable of the caller leaks in.
#![allow(clippy::unwrap_used)]

use std::net::TcpListener;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_socket-guard");

fn guard(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env_clear().envs(env.iter().copied());
    cmd
}

/// Runs to completion within 30 s (a hang is a failure, not a stuck test run).
fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut child = guard(args, env)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_within(&mut child, Duration::from_secs(30));
    child.wait_with_output().unwrap()
}

fn wait_within(child: &mut Child, bound: Duration) -> ExitStatus {
    let deadline = Instant::now() + bound;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("socket-guard did not exit within {bound:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A port nothing listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A serving socket-guard, killed when dropped.
struct Serving(Child);

impl Drop for Serving {
    /// SIGTERM first, so that a failing test still finds the guard's log lines written out;
    /// SIGKILL if it has not exited within 2 seconds.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Sends SIGTERM and waits (15 s at most) for the exit.
fn terminate(serving: &mut Serving) -> ExitStatus {
    let pid = serving.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    wait_within(&mut serving.0, Duration::from_secs(15))
}

#[test]
fn configuration_errors_exit_64_naming_the_variable_and_value() {
    for (var, value) in [
        ("CONTAINERS", "maybe"),
        ("ALLOW_LOG", "1"),
        ("GUARD_LISTEN", "nope"),
        ("GUARD_MAX_BODY", "-1"),
    ] {
        for args in [&[][..], &["policy"][..], &["healthcheck"][..]] {
            let out = run(args, &[(var, value)]);
            let err = text(&out.stderr);
            assert_eq!(out.status.code(), Some(64), "{var}={value} {args:?}: {err}");
            assert!(
                err.contains(&format!("{var}={value:?}")),
                "{var}={value} {args:?}: {err}"
            );
            assert!(
                out.stdout.is_empty(),
                "{var}={value} {args:?}: {}",
                text(&out.stdout)
            );
        }
    }
    let out = run(&["serve", "now"], &[]);
    assert_eq!(
        out.status.code(),
        Some(64),
        "extra arguments are a usage error"
    );
}

#[test]
fn policy_prints_the_effective_allow_list() {
    let out = run(&["policy"], &[("CONTAINERS", "1")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listing = text(&out.stdout);
    let line = listing
        .lines()
        .find(|l| l.contains("container.list"))
        .unwrap_or_else(|| panic!("{listing}"));
    assert!(
        line.contains("/containers/json") && line.ends_with("CONTAINERS=1"),
        "{line}"
    );
    for absent in [
        "container.create",
        "container.logs",
        "exec.start",
        "swarm.unlockkey",
    ] {
        assert!(
            !listing.contains(absent),
            "{absent} listed without its settings:\n{listing}"
        );
    }

    let out = run(&["policy"], &[]);
    assert!(out.status.success());
    let listing = text(&out.stdout);
    let endpoints: Vec<&str> = listing
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
    assert_eq!(
        endpoints,
        ["ping", "ping", "version", "events"],
        "the defaults:\n{listing}"
    );
    assert!(
        !listing.contains("container.list"),
        "CONTAINERS is off by default:\n{listing}"
    );
}

#[test]
fn healthcheck_follows_a_running_instance() {
    assert!(
        std::path::Path::new("/var/run/docker.sock").exists(),
        "this test needs a Docker daemon at /var/run/docker.sock: start one with `sudo dockerd &` \
         (or `systemctl start docker`)"
    );
    let listen = format!("127.0.0.1:{}", free_port());
    let env = [("GUARD_LISTEN", listen.as_str())];

    let out = run(&["healthcheck"], &env);
    assert_eq!(
        out.status.code(),
        Some(1),
        "healthy with nothing running: {}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stderr).starts_with("unhealthy: "),
        "{}",
        text(&out.stderr)
    );

    let mut serving = Serving(
        guard(&[], &env)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let out = loop {
        let out = run(&["healthcheck"], &env);
        if out.status.success() || Instant::now() >= deadline {
            break out;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).trim(),
        format!("healthy: {listen}/_ping: HTTP/1.1 200 OK")
    );

    // SIGTERM: stop accepting, drain, exit 0.
    let status = terminate(&mut serving);
    assert!(status.success(), "exit after SIGTERM: {status}");

    let out = run(&["healthcheck"], &env);
    assert_eq!(
        out.status.code(),
        Some(1),
        "healthy after the instance stopped"
    );
}

/// The audit trail of the real binary: one JSON object per line, written out by SIGTERM at the
/// latest, and a client's bytes in a path cannot end the line or add a field.
#[test]
fn audit_lines_stay_whole_json_whatever_the_path() {
    use std::io::{Read, Write};
    let listen = format!("127.0.0.1:{}", free_port());
    let dir = std::env::temp_dir().join(format!("guard-audit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let stderr_path = dir.join("stderr");
    let socket = dir.join("no-daemon.sock");
    let mut serving = Serving(
        guard(
            &[],
            &[
                ("GUARD_LISTEN", listen.as_str()),
                ("SOCKET_PATH", socket.to_str().unwrap()),
                ("LOG_LEVEL", "info"),
                ("CONTAINERS", "1"),
            ],
        )
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap(),
    );
    // Refused as non-canonical (400) after their audit line is written; the last is allowed
    // and answered 502, there being no daemon.
    let hostile = [
        "/v1.41/containers/json\"},\"decision\":\"allow",
        "/v1.41/containers/json\\\"x",
        "/v1.41/containers/%0A{\"decision\":\"allow\"}",
        "/v1.41/containers/json",
    ];
    // Connect only once the guard says it listens: retrying a connect to a port nobody
    // listens on yet can, on loopback, connect the socket to itself.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&stderr_path)
        .unwrap_or_default()
        .contains("\"message\":\"listening\"")
    {
        assert!(Instant::now() < deadline, "the guard never said it listens");
        std::thread::sleep(Duration::from_millis(20));
    }
    for target in hostile {
        let mut stream = std::net::TcpStream::connect(&listen)
            .unwrap_or_else(|e| panic!("the guard does not listen on {listen}: {e}"));
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        write!(
            stream,
            "GET {target} HTTP/1.1\r\nHost: guard\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let expected = if target == "/v1.41/containers/json" {
            "HTTP/1.1 502 "
        } else {
            "HTTP/1.1 400 "
        };
        assert!(answer.starts_with(expected), "{target}: {answer}");
    }

    assert!(terminate(&mut serving).success());
    let log = std::fs::read_to_string(&stderr_path).unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not one JSON object: {e}: {l}"))
        })
        .collect();
    let audit: Vec<&serde_json::Value> = lines.iter().filter(|l| l["target"] == "audit").collect();
    assert_eq!(
        audit.len(),
        hostile.len(),
        "one audit line per request:\n{log}"
    );
    for (line, target) in audit.iter().zip(hostile) {
        assert_eq!(line["path"], target, "{line}");
        assert_eq!(line["method"], "GET", "{line}");
        if target == "/v1.41/containers/json" {
            assert_eq!(
                (&line["decision"], &line["status"]),
                (&"error".into(), &502.into()),
                "{line}"
            );
        } else {
            assert_eq!(
                (&line["decision"], &line["status"]),
                (&"invalid".into(), &400.into()),
                "{line}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A client running as another user reaches a unix listener through the group
/// `GUARD_SOCKET_GROUP` names (netdata's case), and not without that group; the socket file
/// has `GUARD_SOCKET_MODE`'s bits and that group.
#[test]
fn a_unix_listener_admits_the_configured_group_only() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    assert!(
        std::path::Path::new("/var/run/docker.sock").exists(),
        "this test needs a Docker daemon at /var/run/docker.sock: start one with `sudo dockerd &`"
    );
    assert!(
        runs_as_root(),
        "this test runs its client as uid 65534 with setpriv: run it as root"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = dir.path().join("guard.sock");
    let listen = format!("unix://{}", path.display());
    let _serving = Serving(
        guard(
            &[],
            &[
                ("GUARD_LISTEN", listen.as_str()),
                ("GUARD_SOCKET_GROUP", "4242"),
                ("GUARD_SOCKET_MODE", "0660"),
            ],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !path.exists() {
        assert!(Instant::now() < deadline, "no socket at {}", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(100));
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!((meta.mode() & 0o777, meta.gid()), (0o660, 4242));
    // uid 65534 with or without group 4242: curl over the socket, as that user.
    let ping = |groups: &str| {
        Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                groups,
                "curl",
                "-sS",
                "--max-time",
                "5",
            ])
            .arg("--unix-socket")
            .arg(&path)
            .arg("http://d/_ping")
            .output()
            .unwrap()
    };
    let member = ping("--groups=4242");
    assert!(member.status.success(), "{}", text(&member.stderr));
    assert_eq!(text(&member.stdout), "OK");
    let stranger = ping("--clear-groups");
    assert!(
        !stranger.status.success(),
        "a user outside the group connected"
    );
    assert!(
        text(&stranger.stderr).contains("ermission denied")
            || text(&stranger.stderr).contains("Couldn't connect"),
        "{}",
        text(&stranger.stderr)
    );
}

fn runs_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| text(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// SIGHUP reads the configuration again: a rule added to `GUARD_RULES_FILE` is in force for
/// the next request, while an `/events` stream opened before goes on (an event made after the
/// reload still arrives on it). A rules file that no longer parses keeps the policy in force.
#[test]
fn sighup_reloads_the_rules_file_without_dropping_a_stream() {
    use std::io::{Read, Write};
    assert!(
        std::path::Path::new("/var/run/docker.sock").exists(),
        "this test needs a Docker daemon at /var/run/docker.sock: start one with `sudo dockerd &`"
    );
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::write(&rules, "# nothing yet\n").unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let rules_var = rules.display().to_string();
    let serving = Serving(
        guard(
            &[],
            &[
                ("GUARD_LISTEN", listen.as_str()),
                ("GUARD_RULES_FILE", rules_var.as_str()),
            ],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap(),
    );
    let connect = || {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match std::net::TcpStream::connect(&listen) {
                Ok(s) => return s,
                Err(e) if Instant::now() > deadline => panic!("{listen}: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    };
    let status_of_info = || {
        let mut s = connect();
        s.write_all(b"GET /v1.41/info HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out.get(9..12).unwrap_or("").to_owned()
    };
    assert_eq!(status_of_info(), "403");
    let mut events = connect();
    events
        .write_all(b"GET /v1.41/events?filters=%7B%22type%22%3A%5B%22network%22%5D%7D HTTP/1.1\r\nHost: d\r\n\r\n")
        .unwrap();
    events
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut head = [0u8; 12];
    events.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");

    let hup = |serving: &Serving| {
        assert!(Command::new("kill")
            .args(["-HUP", &serving.0.id().to_string()])
            .status()
            .unwrap()
            .success());
    };
    std::fs::write(&rules, "GET /info\n").unwrap();
    hup(&serving);
    let deadline = Instant::now() + Duration::from_secs(10);
    while status_of_info() != "200" {
        assert!(Instant::now() < deadline, "the rule never came into force");
        std::thread::sleep(Duration::from_millis(50));
    }
    // A broken rules file: the policy in force stays.
    std::fs::write(&rules, "FETCH /info\n").unwrap();
    hup(&serving);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(status_of_info(), "200");

    // The stream opened before the reloads still delivers.
    let name = format!("sg-hup-{}", std::process::id());
    assert!(Command::new("docker")
        .args(["network", "create", &name])
        .output()
        .unwrap()
        .status
        .success());
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(10);
    while !String::from_utf8_lossy(&seen).contains(&name) && Instant::now() < deadline {
        match events.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
    let _ = Command::new("docker")
        .args(["network", "rm", &name])
        .output();
    assert!(
        String::from_utf8_lossy(&seen).contains(&name),
        "the stream did not deliver the event: {}",
        String::from_utf8_lossy(&seen)
    );
}

/// LinuxServer's example environment, as its compose file gives it (every variable, `TZ` and
/// the stray `ALLOW_RESUME` included), is a drop-in: it starts, and what it turns on maps.
#[test]
fn linuxservers_example_environment_is_a_drop_in() {
    let example = [
        ("ALLOW_START", "0"),
        ("ALLOW_STOP", "0"),
        ("ALLOW_RESTARTS", "0"),
        ("ALLOW_PAUSE", "0"),
        ("ALLOW_RESUME", "0"),
        ("AUTH", "0"),
        ("BUILD", "0"),
        ("COMMIT", "0"),
        ("CONFIGS", "0"),
        ("CONTAINERS", "0"),
        ("DISABLE_IPV6", "0"),
        ("DISTRIBUTION", "0"),
        ("EVENTS", "1"),
        ("EXEC", "0"),
        ("IMAGES", "0"),
        ("INFO", "0"),
        ("LOG_LEVEL", "info"),
        ("NETWORKS", "0"),
        ("NODES", "0"),
        ("PING", "1"),
        ("PLUGINS", "0"),
        ("POST", "0"),
        ("SECRETS", "0"),
        ("SERVICES", "0"),
        ("SESSION", "0"),
        ("SWARM", "0"),
        ("SYSTEM", "0"),
        ("TASKS", "0"),
        ("TZ", "Etc/UTC"),
        ("VERSION", "1"),
        ("VOLUMES", "0"),
    ];
    let out = run(&["policy"], &example);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let with = |changes: &[(&'static str, &'static str)]| {
        let mut env = example.to_vec();
        for (k, v) in changes {
            env.retain(|(name, _)| name != k);
            env.push((k, v));
        }
        run(&["policy"], &env)
    };
    let out = with(&[
        ("CONTAINERS", "1"),
        ("ALLOW_PAUSE", "1"),
        ("ALLOW_UNPAUSE", "1"),
        ("ALLOW_RESTARTS", "1"),
        ("LOG_LEVEL", "notice"),
        ("DISABLE_IPV6", "1"),
    ]);
    let listing = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for (endpoint, by) in [
        ("container.list", "CONTAINERS=1"),
        ("container.pause", "ALLOW_PAUSE=1"),
        ("container.unpause", "ALLOW_UNPAUSE=1"),
        ("container.restart", "ALLOW_RESTARTS=1"),
        ("container.kill", "ALLOW_RESTARTS=1"),
    ] {
        assert!(
            listing
                .lines()
                .any(|l| l.contains(endpoint) && l.ends_with(by)),
            "{endpoint} by {by}:\n{listing}"
        );
    }
    assert!(!listing.contains("container.create"), "{listing}");
    // The stray variable turned on opens nothing and says what does.
    let out = with(&[("ALLOW_RESUME", "1")]);
    assert_eq!(out.status.code(), Some(64));
    assert!(
        text(&out.stderr).contains("ALLOW_UNPAUSE=1"),
        "{}",
        text(&out.stderr)
    );
}
