//! A Traefik stack moved over by changing its image: a compose project whose `traefik`
//! service keeps Traefik's own command-line flags (entry points named `http` and `https`, a
//! redirection between them, `exposedbydefault=false`, a file provider directory, the API and
//! ping) and runs `router:local` beside socket-guard, with labelled containers: a middleware
//! from the file provider (`secure-headers@file`, written as a Go template), `api@internal`
//! behind `basicauth`, a container exposing several ports without a port label, a rule in the
//! v2 syntax, and a container in another's network namespace (`network_mode: service:`, whose
//! target gets a `traefik.enable=false` label so the preset's scope shows it). Then
//! the dynamic file is edited under the running router (applied), and broken (the last good
//! configuration stays, and the problem is reported).
//!
//! Everything is real: docker-compose, the images `make images` builds, curl from the host.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use e2e::docker::{real_docker, require_docker, require_image};
use e2e::make::{free_port, repo};

const BOUND: Duration = Duration::from_secs(60);

struct Project {
    name: String,
    file: std::path::PathBuf,
}

impl Project {
    fn compose(&self, args: &[&str]) -> Output {
        let program = if Command::new("docker-compose")
            .arg("version")
            .output()
            .is_ok()
        {
            "docker-compose"
        } else {
            "docker"
        };
        let mut c = Command::new(program);
        if program == "docker" {
            c.arg("compose");
        }
        c.args(["-p", &self.name, "-f"])
            .arg(&self.file)
            .args(args)
            .env_remove("DOCKER_HOST")
            .output()
            .expect("compose runs")
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = self.compose(&["down", "--volumes", "--remove-orphans"]);
    }
}

fn curl(args: &[&str]) -> Output {
    Command::new("curl")
        .args(["-sS", "--max-time", "5"])
        .args(args)
        .output()
        .expect("curl is installed")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `curl -k` on the published HTTPS port for `host` (SNI and Host), headers and body.
fn https(port: u16, host: &str, path: &str, extra: &[&str]) -> String {
    let resolve = format!("{host}:{port}:127.0.0.1");
    let url = format!("https://{host}:{port}{path}");
    let mut args = vec!["-k", "-i", "--resolve", &resolve];
    args.extend_from_slice(extra);
    args.push(&url);
    text(&curl(&args))
}

fn status(response: &str) -> u16 {
    response
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Polls until `check` holds on the answer, or panics with the last one after [`BOUND`].
fn wait_for(what: &str, get: impl FnMut() -> String, check: impl Fn(&str) -> bool) -> String {
    wait_or_dump(what, get, check, String::new)
}

/// [`wait_for`], with `dump()` (the router's log) in the panic message.
fn wait_or_dump(
    what: &str,
    mut get: impl FnMut() -> String,
    check: impl Fn(&str) -> bool,
    dump: impl Fn() -> String,
) -> String {
    let deadline = Instant::now() + BOUND;
    loop {
        let r = get();
        if check(&r) {
            return r;
        }
        if Instant::now() >= deadline {
            panic!(
                "{what}: not seen within {BOUND:?}; last answer:\n{r}\n{}",
                dump()
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn header<'a>(response: &'a str, name: &str) -> Option<&'a str> {
    response.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn htpasswd_apr1(password: &str) -> String {
    let o = Command::new("openssl")
        .args(["passwd", "-apr1", "-salt", "routerts", password])
        .output()
        .expect("openssl is installed");
    assert!(o.status.success(), "{}", text(&o));
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

fn middlewares_file(dir: &Path, content: &str) {
    // Written aside and renamed in, as an editor saves.
    let tmp = dir.join(".middlewares.yml.tmp");
    std::fs::write(&tmp, content).unwrap();
    std::fs::rename(&tmp, dir.join("middlewares.yml")).unwrap();
}

const MIDDLEWARES: &str = r#"http:
  middlewares:
    secure-headers:
      headers:
        frameDeny: true
        stsSeconds: 31536000
        customResponseHeaders:
          X-From-File: "{{ env "NOT_SET_ANYWHERE" | default "one" }}"
"#;

#[test]
fn a_traefik_compose_stack_runs_with_only_its_image_changed() {
    require_docker();
    for image in ["router:local", "socket-guard:local", "whoami:local"] {
        require_image(image);
    }
    let dir = tempfile::tempdir().unwrap();
    let dynamic = dir.path().join("dynamic");
    std::fs::create_dir(&dynamic).unwrap();
    middlewares_file(&dynamic, MIDDLEWARES);
    let (http, https_port) = (free_port(), free_port());
    let name = format!("sgtrf{}", std::process::id());
    let gid = std::fs::metadata("/var/run/docker.sock")
        .map(|m| std::os::unix::fs::MetadataExt::gid(&m))
        .unwrap_or(0);
    let hash = htpasswd_apr1("secret").replace('$', "$$");
    let compose = format!(
        r#"services:
  socket-guard:
    image: socket-guard:local
    env_file: {preset}
    environment:
      GUARD_LISTEN: "0.0.0.0:2375"
    volumes:
      - /var/run/docker.sock:/var/run/docker.sock:ro
    user: "65534:65534"
    group_add: ["{gid}"]
    networks: [guard]

  traefik:
    image: router:local
    command:
      - --api.dashboard=true
      - --ping=true
      - --providers.docker=true
      - --providers.docker.exposedbydefault=false
      - --providers.docker.network={name}_web
      - --providers.file.directory=/etc/traefik/dynamic
      - --providers.file.watch=true
      - --entrypoints.http.address=:80
      - --entrypoints.https.address=:443
      - --entrypoints.http.http.redirections.entrypoint.to=https
      - --entrypoints.http.http.redirections.entrypoint.scheme=https
      - --log.level=INFO
      - --accesslog=true
    ports:
      - "127.0.0.1:{http}:80"
      - "127.0.0.1:{https_port}:443"
    volumes:
      - {dynamic}:/etc/traefik/dynamic:ro
    networks: [guard, web]
    labels:
      traefik.enable: "true"
      traefik.http.routers.dashboard.rule: Host(`traefik.test`)
      traefik.http.routers.dashboard.entrypoints: https
      traefik.http.routers.dashboard.tls: "true"
      traefik.http.routers.dashboard.service: api@internal
      traefik.http.routers.dashboard.middlewares: auth
      traefik.http.middlewares.auth.basicauth.users: "admin:{hash}"

  app:
    image: whoami:local
    networks: [web]
    labels:
      traefik.enable: "true"
      traefik.http.routers.app.rule: Host(`app.test`)
      traefik.http.routers.app.entrypoints: https
      traefik.http.routers.app.tls: "true"
      traefik.http.routers.app.middlewares: secure-headers@file

  twoports:
    image: whoami:local
    environment:
      WHOAMI_LISTEN: "0.0.0.0:7000"
    expose: ["7000", "9000"]
    networks: [web]
    labels:
      traefik.enable: "true"
      traefik.http.routers.two.rule: Host(`two.test`)
      traefik.http.routers.two.entrypoints: https
      traefik.http.routers.two.tls: "true"

  legacy:
    image: whoami:local
    networks: [web]
    labels:
      traefik.enable: "true"
      traefik.http.routers.legacy.rule: HostRegexp(`{{sub:[a-z]+}}.v2.test`)
      traefik.http.routers.legacy.ruleSyntax: v2
      traefik.http.routers.legacy.entrypoints: https
      traefik.http.routers.legacy.tls: "true"
      traefik.http.routers.legacy.observability.accessLogs: "false"

  main:
    image: whoami:local
    environment:
      WHOAMI_LISTEN: "0.0.0.0:7001"
    networks: [web]
    # The one change beside the image: socket-guard's router preset shows the router only
    # containers with a traefik.* label, and `side` borrows this one's network.
    labels:
      traefik.enable: "false"

  side:
    image: whoami:local
    network_mode: "service:main"
    labels:
      traefik.enable: "true"
      traefik.http.routers.side.rule: Host(`side.test`)
      traefik.http.routers.side.entrypoints: https
      traefik.http.routers.side.tls: "true"
      traefik.http.services.side.loadbalancer.server.port: "8080"

networks:
  guard:
    internal: true
  web: {{}}
"#,
        preset = repo().join("policies/presets/router.env").display(),
        dynamic = dynamic.display(),
    );
    let file = dir.path().join("compose.yaml");
    std::fs::write(&file, compose).unwrap();
    let project = Project { name, file };
    let _ = project.compose(&["down", "--volumes", "--remove-orphans"]);
    let up = project.compose(&["up", "-d"]);
    assert!(up.status.success(), "compose up failed:\n{}", text(&up));

    // A middleware from the file provider, rendered as a template, on a labelled router.
    let r = wait_for(
        "app.test through secure-headers@file",
        || https(https_port, "app.test", "/", &[]),
        |r| status(r) == 200,
    );
    assert_eq!(header(&r, "x-from-file"), Some("one"), "{r}");
    assert_eq!(header(&r, "x-frame-options"), Some("DENY"), "{r}");
    assert!(r.contains("Hostname: "), "{r}");

    // The entry point redirection: plain HTTP on `http` goes to HTTPS.
    let plain = text(&curl(&[
        "-i",
        "--resolve",
        &format!("app.test:{http}:127.0.0.1"),
        &format!("http://app.test:{http}/a?b=1"),
    ]));
    assert_eq!(status(&plain), 301, "{plain}");
    assert_eq!(
        header(&plain, "location"),
        Some("https://app.test/a?b=1"),
        "{plain}"
    );

    // The lowest exposed port (7000 of 7000, 8080 and 9000), the v2 syntax, service:main.
    wait_for(
        "the lowest exposed port",
        || https(https_port, "two.test", "/", &[]),
        |r| status(r) == 200,
    );
    let v2 = wait_for(
        "the v2 rule",
        || https(https_port, "abc.v2.test", "/", &[]),
        |r| status(r) == 200,
    );
    assert!(v2.contains("Hostname: "), "{v2}");
    assert_eq!(status(&https(https_port, "ab1.v2.test", "/", &[])), 404);
    wait_for(
        "network_mode service:main",
        || https(https_port, "side.test", "/", &[]),
        |r| status(r) == 200,
    );

    // api@internal behind basicauth: refused without credentials, Traefik's shapes with.
    assert_eq!(
        status(&https(https_port, "traefik.test", "/api/http/routers", &[])),
        401
    );
    let api = https(
        https_port,
        "traefik.test",
        "/api/http/routers",
        &["-u", "admin:secret"],
    );
    assert_eq!(status(&api), 200, "{api}");
    let body = &api[api.find("\r\n\r\n").map_or(0, |i| i + 4)..];
    let routers: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {api}"));
    let app = routers
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "app@docker")
        .unwrap_or_else(|| panic!("no app@docker in {routers:#}"));
    assert_eq!(app["status"], "enabled");
    assert_eq!(
        app["middlewares"],
        serde_json::json!(["secure-headers@file"])
    );
    assert_eq!(app["using"], serde_json::json!(["https"]));
    let dash = https(
        https_port,
        "traefik.test",
        "/dashboard/",
        &["-u", "admin:secret"],
    );
    assert_eq!(status(&dash), 200);
    // The dashboard's page; what it shows it reads from the API checked above.
    assert!(dash.contains("<title>router dashboard</title>"), "{dash}");

    // The file changed under the running router: applied.
    middlewares_file(
        &dynamic,
        &MIDDLEWARES.replace("default \"one\"", "default \"two\""),
    );
    let container = format!("{}_traefik_1", project.name);
    wait_or_dump(
        "the edited file",
        || https(https_port, "app.test", "/", &[]),
        |r| header(r, "x-from-file") == Some("two"),
        || {
            let listing = std::fs::read_dir(&dynamic)
                .map(|d| {
                    d.flatten()
                        .map(|e| format!("{:?} {:?}", e.path(), e.metadata().ok()))
                        .collect::<Vec<_>>()
                        .join("\n")
                })
                .unwrap_or_default();
            format!(
                "files:\n{listing}\nrouter log:\n{}",
                text(&real_docker(&["logs", &container]))
            )
        },
    );
    // A broken edit: the last good configuration stays, and the problem is reported.
    middlewares_file(&dynamic, "http:\n  middlewares: [this is: not valid\n");
    wait_for(
        "the broken file reported",
        || text(&real_docker(&["logs", &container])),
        |logs| logs.contains("keeping the last good configuration"),
    );
    let still = https(https_port, "app.test", "/", &[]);
    assert_eq!(status(&still), 200, "{still}");
    assert_eq!(header(&still, "x-from-file"), Some("two"), "{still}");

    // Access lines (--accesslog): Traefik's common format on stdout, app.test's requests
    // logged with their router and server; the router with observability.accessLogs=false
    // writes none for its own (abc.v2.test, answered 200 above).
    let access = |l: &str| l.contains("] \"GET / HTTP/") && l.ends_with("ms");
    let logs = wait_for(
        "app.test's access lines",
        || text(&real_docker(&["logs", &container])),
        |logs| {
            logs.lines()
                .any(|l| access(l) && l.contains(r#""app@docker" "http://"#))
        },
    );
    let line = logs
        .lines()
        .find(|l| access(l) && l.contains(r#""app@docker""#))
        .unwrap_or_default();
    // `<client> - - [10/Oct/2023:13:55:36 +0000] "GET / HTTP/2.0" 200 <size> "-" "-" <count>
    // "app@docker" "http://<ip>:80" <n>ms`
    let fields: Vec<&str> = line.split(' ').collect();
    assert_eq!(fields.get(1..3), Some(&["-", "-"][..]), "{line}");
    assert!(
        fields[3].starts_with('[') && fields[4].ends_with(']'),
        "{line}"
    );
    assert!(
        line.contains(r#"" 200 "#) && line.contains(r#" "-" "-" "#),
        "{line}"
    );
    assert!(!logs.contains(r#""legacy@docker""#), "{logs}");
    assert!(!logs.contains(r#""target":"access""#), "{logs}");
}
