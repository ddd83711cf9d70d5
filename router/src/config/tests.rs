//! The configuration: `ROUTER_*` alone, each of Traefik's three sources, and their merge.

use std::collections::HashMap;
use std::time::Duration;

use super::sources::parse_args;
use super::*;

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn with_flags(pairs: &[(&str, &str)], flags: &[&str]) -> Result<Config, ConfigError> {
    let args = parse_args(&flags.iter().map(|s| s.to_string()).collect::<Vec<_>>())?;
    Config::load(&env(pairs), &args, false)
}

fn ep<'a>(c: &'a Config, name: &str) -> &'a EntryPoint {
    c.entry_point(name)
        .unwrap_or_else(|| panic!("no entry point {name}: {:?}", c.entry_points))
}

#[test]
fn router_variables_alone_keep_their_defaults() {
    let c = Config::from_env(&env(&[])).unwrap();
    assert_eq!(c.source, "ROUTER_* variables");
    assert_eq!(
        ep(&c, "web").address,
        Address::Socket("0.0.0.0:8080".parse().unwrap())
    );
    assert_eq!(ep(&c, "websecure").address.port(), 8443);
    assert!(ep(&c, "websecure").tls.is_some());
    let r = ep(&c, "web").redirect.as_ref().unwrap();
    assert_eq!(
        (r.port, r.permanent, r.scheme.as_str()),
        (443, true, "https")
    );
    let d = c.docker.as_ref().unwrap();
    assert_eq!(d.endpoint.as_deref(), Some("socket-guard:2375"));
    assert!(!d.exposed_by_default);
    assert_eq!(d.default_rule, DEFAULT_RULE);
    assert_eq!(c.log_level, "info");
    assert!(c.access_log);
    let c = Config::from_env(&env(&[("ROUTER_WEBSECURE_LISTEN", "off")])).unwrap();
    assert!(ep(&c, "web").redirect.is_none());
    let c = Config::from_env(&env(&[("ROUTER_SWARM_MODE", "true")])).unwrap();
    assert!(c.docker.is_none() && c.swarm.is_some());
    assert_eq!((c.max_connections, c.max_connections_per_ip), (None, None));
    let c = Config::from_env(&env(&[
        ("ROUTER_MAX_CONNECTIONS", "5000"),
        ("ROUTER_MAX_CONNECTIONS_PER_IP", "100"),
    ]))
    .unwrap();
    assert_eq!(
        (c.max_connections, c.max_connections_per_ip),
        (Some(5000), Some(100))
    );
}

#[test]
fn errors_name_the_variable() {
    for (k, v) in [
        ("DOCKER_HOST", "unix:///var/run/docker.sock"),
        ("DOCKER_HOST", "tcp://nohost"),
        ("ROUTER_WEB_LISTEN", "localhost:80"),
        ("ROUTER_EXPOSED_BY_DEFAULT", "maybe"),
        ("ROUTER_DEFAULT_RULE", "Host(`{{ nope .Labels }}`)"),
        ("ROUTER_HOST_IP", "host"),
        ("ROUTER_CONNECT_TIMEOUT", "0s"),
        ("ROUTER_BALANCER", "random"),
        ("ROUTER_MAX_CONNECTIONS", "0"),
        ("ROUTER_MAX_CONNECTIONS", "lots"),
        ("ROUTER_MAX_CONNECTIONS_PER_IP", "-1"),
        ("ROUTER_MAX_CONNECTIONS_PER_IP", "0"),
        ("ROUTER_NETWRK", "x"),
        ("ROUTER_TLS_CIPHERS", "TLS_RSA_WITH_RC4_128_SHA"),
        ("ROUTER_REDIRECT_PORT", "0"),
        ("ROUTER_ACME_EMAIL", "nobody"),
        ("ROUTER_ACME_DIRECTORY", "https://x"),
    ] {
        let e = Config::from_env(&env(&[(k, v)])).unwrap_err();
        assert_eq!((e.var.as_str(), e.value.as_str()), (k, v));
    }
}

/// A typical compose `command:` for Traefik, unchanged.
const COMPOSE_FLAGS: &[&str] = &[
    "--api.insecure=true",
    "--providers.docker=true",
    "--providers.docker.exposedbydefault=false",
    "--entrypoints.web.address=:80",
    "--entrypoints.websecure.address=:443",
    "--entrypoints.web.http.redirections.entrypoint.to=websecure",
    "--entrypoints.web.http.redirections.entrypoint.scheme=https",
    "--certificatesresolvers.myresolver.acme.tlschallenge=true",
    "--certificatesresolvers.myresolver.acme.email=admin@example.com",
    "--certificatesresolvers.myresolver.acme.storage=/letsencrypt/acme.json",
    "--log.level=DEBUG",
    "--accesslog=true",
];

#[test]
fn traefik_flags_as_a_compose_file_gives_them() {
    let c = with_flags(&[("DOCKER_HOST", "tcp://guard:2375")], COMPOSE_FLAGS).unwrap();
    assert_eq!(c.source, "command-line flags");
    let names: Vec<&str> = c.entry_points.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["traefik", "web", "websecure"]);
    assert_eq!(ep(&c, "web").address, Address::AnyHost(80));
    assert_eq!(ep(&c, "traefik").address, Address::AnyHost(8080));
    assert!(!ep(&c, "traefik").default && ep(&c, "web").default && ep(&c, "websecure").default);
    let r = ep(&c, "web").redirect.as_ref().unwrap();
    assert_eq!(
        (r.to.as_str(), r.port, r.permanent, r.priority),
        ("websecure", 443, true, i64::MAX - 1)
    );
    let d = c.docker.as_ref().unwrap();
    assert!(!d.exposed_by_default);
    assert_eq!(d.endpoint.as_deref(), Some("guard:2375"));
    let acme = c.acme.as_ref().unwrap();
    assert_eq!(acme.names, ["myresolver"]);
    assert_eq!(
        acme.storage,
        std::path::PathBuf::from("/letsencrypt/acme.json")
    );
    assert_eq!(acme.renew_before, Duration::from_secs(30 * 24 * 3600));
    assert_eq!(
        c.api,
        Some(Api {
            dashboard: true,
            insecure: true,
            debug: false,
            disable_dashboard_ad: false,
            dashboard_name: String::new(),
        })
    );
    assert_eq!(c.log_level, "debug");
    assert!(c.access_log);
    assert_eq!(ep(&c, "web").header_timeout, Duration::from_secs(60));
    assert_eq!(ep(&c, "web").idle_timeout, Duration::from_secs(180));
}

#[test]
fn the_same_as_traefik_variables_and_as_files() {
    let vars = env(&[
        ("TRAEFIK_PROVIDERS_DOCKER", "true"),
        ("TRAEFIK_PROVIDERS_DOCKER_EXPOSEDBYDEFAULT", "false"),
        ("TRAEFIK_ENTRYPOINTS_WEB_ADDRESS", ":80"),
        ("TRAEFIK_ENTRYPOINTS_WEBSECURE_ADDRESS", ":443"),
        (
            "TRAEFIK_ENTRYPOINTS_WEB_HTTP_REDIRECTIONS_ENTRYPOINT_TO",
            "websecure",
        ),
        ("TRAEFIK_PING", "true"),
    ]);
    let c = Config::from_env(&vars).unwrap();
    assert_eq!(c.source, "TRAEFIK_* variables");
    assert_eq!(ep(&c, "web").redirect.as_ref().unwrap().port, 443);
    assert!(!c.docker.as_ref().unwrap().exposed_by_default);
    assert_eq!(c.ping.as_ref().unwrap().entry_point, "traefik");
    assert!(
        c.entry_point("traefik").is_some(),
        "ping makes the traefik entry point"
    );

    let dir = std::env::temp_dir().join(format!("router-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let yaml = dir.join("traefik.yml");
    std::fs::write(
        &yaml,
        "entryPoints:\n  web:\n    address: ':80'\n    http:\n      redirections:\n        entryPoint:\n          to: websecure\n  websecure:\n    address: ':443'\n    http:\n      tls:\n        certResolver: le\n      middlewares: [sec@file]\nproviders:\n  docker:\n    exposedByDefault: false\n    network: proxy\n  file:\n    directory: /etc/traefik/dynamic\ncertificatesResolvers:\n  le:\n    acme:\n      email: a@b.c\n      httpChallenge:\n        entryPoint: web\ncore:\n  defaultRuleSyntax: v2\n",
    )
    .unwrap();
    let c = Config::from_env(&env(&[("ROUTER_CONFIG_FILE", yaml.to_str().unwrap())])).unwrap();
    assert!(c.source.starts_with("file "), "{}", c.source);
    assert_eq!(
        ep(&c, "websecure").tls.as_ref().unwrap().cert_resolver,
        "le"
    );
    assert_eq!(ep(&c, "websecure").middlewares, ["sec@file"]);
    assert_eq!(c.docker.as_ref().unwrap().network.as_deref(), Some("proxy"));
    assert!(c.file.as_ref().unwrap().directory.is_some());
    assert_eq!(c.default_rule_syntax, crate::model::rule::Syntax::V2);
    assert_eq!(
        c.acme.as_ref().unwrap().storage,
        std::path::PathBuf::from("acme.json")
    );

    let toml = dir.join("traefik.toml");
    std::fs::write(
        &toml,
        "[entryPoints.web]\naddress = \":8000\"\n[providers.docker]\n",
    )
    .unwrap();
    let c = Config::from_env(&env(&[("ROUTER_CONFIG_FILE", toml.to_str().unwrap())])).unwrap();
    assert_eq!(ep(&c, "web").address, Address::AnyHost(8000));
    assert!(
        c.docker.as_ref().unwrap().exposed_by_default,
        "Traefik's default"
    );
    assert!(c.notes.iter().any(|n| n.contains("exposedByDefault")));
    // Flags next to a file are ignored, and said to be.
    let args = parse_args(&["--entrypoints.other.address=:1".to_owned()]).unwrap();
    let c = Config::load(
        &env(&[("ROUTER_CONFIG_FILE", toml.to_str().unwrap())]),
        &args,
        false,
    )
    .unwrap();
    assert!(c.entry_point("other").is_none());
    assert!(c
        .notes
        .iter()
        .any(|n| n.contains("--entrypoints.other.address is ignored")));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn what_is_not_implemented_or_set_twice_is_an_error_naming_the_key() {
    for (flags, key) in [
        (
            &["--entrypoints.web.address=:80", "--entrypoints.web.foo=1"][..],
            "--entrypoints.web.foo",
        ),
        (
            &["--providers.kubernetescrd=true"][..],
            "--providers.kubernetescrd",
        ),
        (
            &["--providers.docker.endpoint=unix:///var/run/docker.sock"][..],
            "--providers.docker.endpoint",
        ),
        (
            &[
                "--entrypoints.web.address=:80",
                "--entrypoints.web.http.redirections.entrypoint.to=nope",
            ][..],
            "entryPoints.web.http.redirections.entryPoint.to",
        ),
        (
            &["--entrypoints.dns.address=:53/quic"][..],
            "entryPoints.dns.address",
        ),
        (
            &["--accesslog.fields.defaultmode=redact"][..],
            "--accesslog.fields.defaultmode",
        ),
        (
            &["--accesslog.filters.statuscodes=200,4xx"][..],
            "--accesslog.filters.statuscodes",
        ),
        (&["--accesslog.format=clf"][..], "--accesslog.format"),
        (
            &["--accesslog.fields.headers.names.Authorization=hide"][..],
            "--accesslog.fields.headers.names.Authorization",
        ),
        (
            &["--certificatesresolvers.le.acme.dnschallenge.provider=cloudflare"][..],
            "--certificatesresolvers.le.acme.dnschallenge.provider",
        ),
        (&["--ping.entrypoint=nope"][..], "ping.entryPoint"),
        (
            &["--providers.docker.constraints=Label(`a`)"][..],
            "--providers.docker.constraints",
        ),
    ] {
        let e = with_flags(&[], flags).unwrap_err();
        assert!(e.var.eq_ignore_ascii_case(key), "{flags:?}: {e}");
    }
    for (var, flag) in [
        ("ROUTER_WEB_LISTEN", "--entrypoints.web.address=:80"),
        ("LOG_LEVEL", "--log.level=INFO"),
        (
            "ROUTER_EXPOSED_BY_DEFAULT",
            "--providers.docker.exposedbydefault=false",
        ),
    ] {
        let value = match var {
            "ROUTER_WEB_LISTEN" => "127.0.0.1:8081",
            "LOG_LEVEL" => "debug",
            _ => "true",
        };
        let e = with_flags(&[(var, value)], &[flag, "--providers.docker"]).unwrap_err();
        assert_eq!(e.var, var, "{e}");
    }
}

#[test]
fn entry_points_by_default_and_as_default() {
    let c = with_flags(&[], &["--providers.docker"]).unwrap();
    assert_eq!(c.entry_points.len(), 1);
    assert_eq!(ep(&c, "http").address, Address::AnyHost(80));
    let c = with_flags(
        &[],
        &[
            "--entrypoints.a.address=:81",
            "--entrypoints.b.address=:82",
            "--entrypoints.b.asdefault=true",
        ],
    )
    .unwrap();
    assert!(!ep(&c, "a").default && ep(&c, "b").default);
    let c = with_flags(
        &[("ROUTER_WEB_LISTEN", "127.0.0.1:8081")],
        &["--entrypoints.http.address=:80"],
    )
    .unwrap();
    let names: Vec<&str> = c.entry_points.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        ["http", "web"],
        "a ROUTER_* entry point next to Traefik's"
    );
}

#[test]
fn dns_challenge_with_lego_exec_provider() {
    let flags = [
        "--entrypoints.web.address=:80",
        "--certificatesresolvers.le.acme.email=a@example.com",
        "--certificatesresolvers.le.acme.dnschallenge.provider=exec",
        "--certificatesresolvers.le.acme.dnschallenge.resolvers=127.0.0.1:8053,9.9.9.9",
        "--certificatesresolvers.le.acme.dnschallenge.propagation.delaybeforechecks=2s",
        "--certificatesresolvers.le.acme.dnschallenge.propagation.requireallrns=true",
    ];
    let exec = [
        ("EXEC_PATH", "/usr/local/bin/dns-update"),
        ("EXEC_MODE", "RAW"),
        ("EXEC_PROPAGATION_TIMEOUT", "30"),
        ("EXEC_POLLING_INTERVAL", "1"),
        ("EXEC_SEQUENCE_INTERVAL", "5"),
    ];
    let c = with_flags(&exec, &flags).unwrap();
    let d = c.acme.unwrap().dns.unwrap();
    assert_eq!(
        d.program,
        std::path::PathBuf::from("/usr/local/bin/dns-update")
    );
    assert!(d.raw && d.check && d.all_resolvers);
    assert_eq!(
        d.resolvers,
        [
            "127.0.0.1:8053".parse().unwrap(),
            "9.9.9.9:53".parse().unwrap()
        ]
    );
    assert_eq!(
        (d.delay, d.timeout, d.interval, d.sequence),
        (
            Duration::from_secs(2),
            Duration::from_secs(30),
            Duration::from_secs(1),
            Duration::from_secs(5)
        )
    );
    // lego's defaults; the deprecated spellings.
    let c = with_flags(
        &exec[..1],
        &[
            flags[0],
            flags[1],
            flags[2],
            "--certificatesresolvers.le.acme.dnschallenge.disablepropagationcheck=true",
            "--certificatesresolvers.le.acme.dnschallenge.delaybeforecheck=3",
        ],
    )
    .unwrap();
    let d = c.acme.unwrap().dns.unwrap();
    assert!(!d.raw && !d.check && d.resolvers.is_empty());
    assert_eq!(
        (d.delay, d.timeout, d.interval, d.sequence),
        (
            Duration::from_secs(3),
            Duration::from_secs(60),
            Duration::from_secs(2),
            Duration::from_secs(60)
        )
    );
    // What cannot work names the variable or key.
    for (vars, extra, key) in [
        (&[][..], None, "EXEC_PATH"),
        (
            &[("EXEC_PATH", "/x"), ("EXEC_MODE", "raw")][..],
            None,
            "EXEC_MODE",
        ),
        (
            &[("EXEC_PATH", "/x"), ("EXEC_POLLING_INTERVAL", "2s")][..],
            None,
            "EXEC_POLLING_INTERVAL",
        ),
        (
            &[("EXEC_PATH", "/x")][..],
            Some("--certificatesresolvers.le.acme.dnschallenge.resolvers=dns.example"),
            "--certificatesresolvers.le.acme.dnschallenge.resolvers",
        ),
        (
            &[("EXEC_PATH", "/x")][..],
            Some("--certificatesresolvers.le.acme.dnschallenge.propagation.nope=1"),
            "--certificatesresolvers.le.acme.dnschallenge.propagation.nope",
        ),
    ] {
        let mut f = flags[..3].to_vec();
        f.extend(extra);
        let e = with_flags(vars, &f).unwrap_err();
        assert!(e.var.eq_ignore_ascii_case(key), "{vars:?} {extra:?}: {e}");
    }
}

#[test]
fn cluster_mode_roles_and_their_errors() {
    let tls = [
        ("ROUTER_CONTROLLER_TLS_CA", "/ca.pem"),
        ("ROUTER_CONTROLLER_TLS_CERT", "/me.pem"),
        ("ROUTER_CONTROLLER_TLS_KEY", "/me-key.pem"),
    ];
    let with = |extra: &[(&str, &str)]| {
        let mut all = tls.to_vec();
        all.extend_from_slice(extra);
        Config::from_env(&env(&all))
    };
    // A controller keeps its Docker provider; a data plane has none.
    let c = with(&[("ROUTER_CONTROLLER_LISTEN", "0.0.0.0:7443")]).unwrap();
    assert!(matches!(c.controller, Some(ControllerRole::Serve { .. })));
    assert!(c.docker.is_some());
    let c = with(&[("ROUTER_CONTROLLER", "controller:7443")]).unwrap();
    assert_eq!(c.follows().map(|(a, _)| a), Some("controller:7443"));
    assert!(c.docker.is_none() && c.swarm.is_none() && c.file.is_none());
    assert_eq!(crate::state::expected_providers(&c), vec!["controller"]);
    // Errors name the variable (or key) and the value.
    for (extra, var, value) in [
        (
            vec![
                ("ROUTER_CONTROLLER", "controller:7443"),
                ("DOCKER_HOST", "tcp://g:2375"),
            ],
            "DOCKER_HOST",
            "g:2375",
        ),
        (
            vec![
                ("ROUTER_CONTROLLER", "controller:7443"),
                ("ROUTER_SWARM_MODE", "true"),
            ],
            "ROUTER_SWARM_MODE",
            "true",
        ),
        (
            vec![
                ("ROUTER_CONTROLLER", "c:1"),
                ("ROUTER_CONTROLLER_LISTEN", "0.0.0.0:1"),
            ],
            "ROUTER_CONTROLLER",
            "c:1",
        ),
        (
            vec![("ROUTER_CONTROLLER", "tcp://c:1")],
            "ROUTER_CONTROLLER",
            "tcp://c:1",
        ),
        (vec![("ROUTER_CONTROLLER", "c")], "ROUTER_CONTROLLER", "c"),
        (
            vec![
                ("ROUTER_CONTROLLER", "c:1"),
                ("ROUTER_LABEL_PREFIX", "edge"),
            ],
            "ROUTER_LABEL_PREFIX",
            "edge",
        ),
        (
            vec![
                ("ROUTER_CONTROLLER", "c:1"),
                ("ROUTER_ACME_EMAIL", "a@b.test"),
            ],
            "ROUTER_ACME_EMAIL",
            "a@b.test",
        ),
        (
            vec![("ROUTER_CONTROLLER_LISTEN", ":7443")],
            "ROUTER_CONTROLLER_LISTEN",
            ":7443",
        ),
    ] {
        let e = with(&extra).unwrap_err();
        assert_eq!((e.var.as_str(), e.value.as_str()), (var, value), "{e}");
    }
    // The TLS files are needed with a role, and mean nothing without one.
    let e = Config::from_env(&env(&[("ROUTER_CONTROLLER", "c:1")])).unwrap_err();
    assert_eq!(e.var, "ROUTER_CONTROLLER_TLS_CA");
    let e = Config::from_env(&env(&tls)).unwrap_err();
    assert_eq!(e.var, "ROUTER_CONTROLLER_TLS_CA");
    // A data plane from a Traefik static configuration: no provider of its own.
    let mut pairs = tls.to_vec();
    pairs.push(("ROUTER_CONTROLLER", "c:1"));
    let e = with_flags(&pairs, &["--providers.docker=true"]).unwrap_err();
    assert_eq!(e.var, "providers.docker");
    assert!(with_flags(&pairs, &["--entrypoints.web.address=:80"]).is_ok());
}

#[test]
fn underscore_headers_strategy_as_traefik() {
    // Traefik v3.6.20+ reads `entryPoints.<name>.http.underscoreHeadersStrategy`: `keep` (its
    // default), `delete`, `reject`; anything else stops it (its switch is exact: `Keep` too).
    use crate::entry_http::Underscores;
    for (v, want) in [
        ("keep", Underscores::Keep),
        ("", Underscores::Keep),
        ("delete", Underscores::Delete),
        ("reject", Underscores::Reject),
    ] {
        let flag = format!("--entrypoints.web.http.underscoreheadersstrategy={v}");
        let c = with_flags(&[], &["--entrypoints.web.address=:80", &flag])
            .unwrap_or_else(|e| panic!("{v:?} refused: {e}"));
        assert_eq!(ep(&c, "web").http.underscores, want, "{v:?}");
    }
    let dir = std::env::temp_dir().join(format!("router-underscore-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("traefik.yml");
    std::fs::write(
        &file,
        "entryPoints:\n  web:\n    address: \":80\"\n    http:\n      underscoreHeadersStrategy: delete\n      sanitizePath: false\n      encodeQuerySemicolons: true\n      encodedCharacters:\n        allowEncodedSlash: false\n        allowEncodedHash: false\n",
    )
    .unwrap();
    let flag = format!("--configFile={}", file.display());
    let c = with_flags(&[], &[&flag]).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let http = &ep(&c, "web").http;
    assert_eq!(http.underscores, Underscores::Delete);
    assert!(!http.sanitize_path && http.encode_query_semicolons);
    assert_eq!(
        http.encoded_characters,
        Some(crate::entry_http::EncodedCharacters {
            slash: false,
            hash: false,
            ..Default::default()
        })
    );
    for v in ["Keep", "drop"] {
        let flag = format!("--entrypoints.web.http.underscoreheadersstrategy={v}");
        let e = with_flags(&[], &["--entrypoints.web.address=:80", &flag]).expect_err(v);
        assert!(
            e.var
                .to_ascii_lowercase()
                .contains("underscoreheadersstrategy"),
            "{v}: {e}"
        );
    }
}

/// A variable set beside the Traefik key for the same thing stops the router naming the
/// variable and its value as written (the value was left empty in the message).
#[test]
fn a_setting_made_both_ways_names_the_variable_and_its_value() {
    for (var, value, key) in [
        ("ROUTER_ACCESS_LOG", "true", "accessLog"),
        ("LOG_LEVEL", "debug", "log.level"),
        (
            "ROUTER_EXPOSED_BY_DEFAULT",
            " false ",
            "providers.docker.exposedByDefault",
        ),
    ] {
        let e = Config::from_env(&env(&[
            (var, value),
            ("TRAEFIK_ACCESSLOG", "true"),
            ("TRAEFIK_LOG_LEVEL", "INFO"),
            ("TRAEFIK_PROVIDERS_DOCKER_EXPOSEDBYDEFAULT", "true"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains(&format!("{var}={:?}", value.trim())) && e.contains(key),
            "{e}"
        );
    }
}

/// Traefik's `accessLog` and `log.filePath`, from a file as real stacks write them, and from
/// flags and variables (field and header names in any case).
#[test]
fn access_log_and_log_file_as_traefik_reads_them() {
    use crate::access_log::{Format, HeaderMode};
    let dir = std::env::temp_dir().join(format!("router-accesslog-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let yaml = dir.join("traefik.yml");
    std::fs::write(
        &yaml,
        "log:\n  level: INFO\n  filePath: /var/log/traefik/traefik.log\n  maxSize: 10\naccessLog:\n  filePath: /var/log/traefik/access.log\n  format: json\n  bufferingSize: 100\n  filters:\n    statusCodes: [\"200\", \"300-302\"]\n    retryAttempts: true\n    minDuration: 10ms\n  fields:\n    defaultMode: keep\n    names:\n      ClientUsername: drop\n    headers:\n      defaultMode: keep\n      names:\n        user-agent: redact\n        Authorization: drop\n        Content-Type: keep\n    queryParameters:\n      defaultMode: drop\n",
    )
    .unwrap();
    let c = Config::from_env(&env(&[("ROUTER_CONFIG_FILE", yaml.to_str().unwrap())])).unwrap();
    assert!(c.access_log);
    assert_eq!(
        c.log_file.as_deref(),
        Some(std::path::Path::new("/var/log/traefik/traefik.log"))
    );
    assert!(
        c.notes.iter().any(|n| n.contains("maxSize")),
        "{:?}",
        c.notes
    );
    // Traefik's lines replace the router's own: no `access` target in the log filter.
    assert_eq!(c.log_level, "info");
    let a = c.traefik_access_log.as_ref().unwrap();
    assert_eq!(a.format, Format::Json);
    assert_eq!(
        a.file_path.as_deref(),
        Some(std::path::Path::new("/var/log/traefik/access.log"))
    );
    let f = a.filters.as_ref().unwrap();
    assert_eq!(f.status_codes, [(200, 200), (300, 302)]);
    assert!(f.retry_attempts);
    assert_eq!(f.min_duration, Duration::from_millis(10));
    assert!(!a.fields.keep("ClientUsername") && a.fields.keep("RouterName"));
    assert_eq!(a.fields.header("User-Agent"), HeaderMode::Redact);
    assert_eq!(a.fields.header("Authorization"), HeaderMode::Drop);
    assert_eq!(a.fields.header("X-Other"), HeaderMode::Keep);
    assert!(!a.fields.keep_query);

    // `--accesslog=true` alone: Traefik's defaults (common, stdout, headers dropped).
    let c = with_flags(&[], &["--accesslog=true", "--providers.docker"]).unwrap();
    let a = c.traefik_access_log.as_ref().unwrap();
    assert_eq!(*a, crate::access_log::Settings::default());
    assert_eq!(a.fields.header("User-Agent"), HeaderMode::Drop);
    let c = Config::from_env(&env(&[
        ("TRAEFIK_ACCESSLOG", "true"),
        ("TRAEFIK_ACCESSLOG_FORMAT", "genericCLF"),
        ("TRAEFIK_ACCESSLOG_FIELDS_NAMES_STARTUTC", "drop"),
        ("TRAEFIK_PROVIDERS_DOCKER", "true"),
    ]))
    .unwrap();
    let a = c.traefik_access_log.as_ref().unwrap();
    assert_eq!(a.format, Format::GenericClf);
    assert!(!a.fields.keep("StartUTC"));
    // Off: no settings, no lines.
    let c = with_flags(&[], &["--accesslog=false", "--providers.docker"]).unwrap();
    assert!(c.traefik_access_log.is_none() && !c.access_log);
}

/// A Traefik configuration that names the Docker socket itself (as most do) keeps it as it
/// is when `DOCKER_HOST` names socket-guard: the router uses socket-guard and says so; the
/// socket alone is still an error naming the key. `api.debug` is accepted and said.
#[test]
fn the_docker_socket_named_gives_way_to_socket_guard() {
    let flags = [
        "--providers.docker.endpoint=unix:///var/run/docker.sock",
        "--providers.swarm.endpoint=ssh://docker-vm",
        "--api.debug=true",
    ];
    let c = with_flags(&[("DOCKER_HOST", "tcp://guard.internal:2375")], &flags).unwrap();
    for p in [&c.docker, &c.swarm] {
        assert_eq!(
            p.as_ref().unwrap().endpoint.as_deref(),
            Some("guard.internal:2375")
        );
    }
    assert!(
        c.notes
            .iter()
            .any(|n| n.contains("never talks to the Docker daemon itself")),
        "{:?}",
        c.notes
    );
    assert!(
        c.notes.iter().any(|n| n.contains("/debug/")),
        "{:?}",
        c.notes
    );
    let e = with_flags(&[], &flags[..1]).unwrap_err();
    assert!(
        e.var.eq_ignore_ascii_case("--providers.docker.endpoint")
            && e.to_string().contains("DOCKER_HOST"),
        "{e}"
    );
}

/// Resolvers that share email, CA, storage and `dnsChallenge` are one ACME account; others
/// are accounts of their own (a production and a staging resolver, an HTTP-01 and a DNS-01
/// one sharing a storage file), their HTTP-01 entry points all answered. A cluster's
/// controller keeps to one account.
#[test]
fn resolvers_of_other_accounts_each_order_for_their_routers() {
    let flags = [
        "--entrypoints.web.address=:80",
        "--entrypoints.websecure.address=:443",
        "--certificatesresolvers.le.acme.email=a@example.com",
        "--certificatesresolvers.le.acme.httpchallenge.entrypoint=web",
        "--certificatesresolvers.alias.acme.email=a@example.com",
        "--certificatesresolvers.alias.acme.tlschallenge=true",
        "--certificatesresolvers.staging.acme.email=a@example.com",
        "--certificatesresolvers.staging.acme.caserver=https://acme-staging-v02.api.letsencrypt.org/directory",
        "--certificatesresolvers.staging.acme.httpchallenge.entrypoint=websecure",
    ];
    let c = with_flags(&[], &flags).unwrap();
    let accounts: Vec<(Vec<String>, String, Vec<String>)> = c
        .acme_accounts()
        .map(|a| {
            (
                a.names.clone(),
                a.directory.clone(),
                a.http_challenge.clone(),
            )
        })
        .collect();
    assert_eq!(accounts.len(), 2, "{accounts:?}");
    assert_eq!(accounts[0].0, ["alias", "le"]);
    assert_eq!(accounts[0].2, ["web"]);
    assert_eq!(accounts[1].0, ["staging"]);
    assert!(accounts[1].1.contains("staging"), "{accounts:?}");
    assert_eq!(accounts[1].2, ["websecure"]);
    let controller = [
        ("ROUTER_CONTROLLER_TLS_CA", "/ca.pem"),
        ("ROUTER_CONTROLLER_TLS_CERT", "/me.pem"),
        ("ROUTER_CONTROLLER_TLS_KEY", "/me-key.pem"),
        ("ROUTER_CONTROLLER_LISTEN", "0.0.0.0:7443"),
    ];
    let e = with_flags(&controller, &flags).unwrap_err();
    assert_eq!(e.var, "certificatesResolvers.staging", "{e}");
    assert!(with_flags(&controller, &flags[..6]).is_ok());
}

/// As Traefik reads a file: a section at its top that the static configuration does not
/// have (dynamic `tls` options, a misspelt `serverTransport`) is left out and said; the same
/// key as a flag is an error, and an unknown key inside a known section too.
#[test]
fn a_file_leaves_out_sections_traefik_leaves_out() {
    let dir = std::env::temp_dir().join(format!("router-roots-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let yaml = dir.join("traefik.yml");
    std::fs::write(
        &yaml,
        "entryPoints:\n  web:\n    address: ':80'\nproviders:\n  docker: {}\ntls:\n  options:\n    default:\n      minVersion: VersionTLS12\nserverTransport:\n  insecureSkipVerify: true\n",
    )
    .unwrap();
    let c = Config::from_env(&env(&[("ROUTER_CONFIG_FILE", yaml.to_str().unwrap())])).unwrap();
    for key in ["tls", "serverTransport"] {
        assert!(
            c.notes
                .iter()
                .any(|n| n.starts_with(&format!("{key}: not a section"))),
            "{key}: {:?}",
            c.notes
        );
    }
    let e = with_flags(&[], &["--tls.options.default.minversion=VersionTLS12"]).unwrap_err();
    assert!(e.var.starts_with("--tls"), "{e}");
    std::fs::write(
        &yaml,
        "entryPoints:\n  web:\n    address: ':80'\nproviders:\n  docker:\n    swarmMode: true\n",
    )
    .unwrap();
    let e = Config::from_env(&env(&[("ROUTER_CONFIG_FILE", yaml.to_str().unwrap())])).unwrap_err();
    assert!(e.var.contains("swarmMode"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `[entryPoints.websecure.http.tls.domains]` written as one TOML table (a public
/// configuration does) where Traefik wants a list: left out and said, as Traefik's reader
/// makes empty domains of it; the list form is read.
#[test]
fn an_entry_points_domains_as_one_table_are_left_out() {
    let dir = std::env::temp_dir().join(format!("router-domains-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let toml = dir.join("traefik.toml");
    std::fs::write(
        &toml,
        "[entryPoints.websecure]\naddress = \":443\"\n[entryPoints.websecure.http.tls]\ncertResolver = \"le\"\n[entryPoints.websecure.http.tls.domains]\nmain = \"example.com\"\nsans = [\"*.example.com\"]\n[providers.docker]\n",
    )
    .unwrap();
    let c = Config::from_env(&env(&[("ROUTER_CONFIG_FILE", toml.to_str().unwrap())])).unwrap();
    let tls = ep(&c, "websecure").tls.as_ref().unwrap();
    assert!(tls.domains.is_empty(), "{tls:?}");
    assert!(
        c.notes
            .iter()
            .any(|n| n.contains("one table where Traefik wants a list")),
        "{:?}",
        c.notes
    );
    std::fs::write(
        &toml,
        "[entryPoints.websecure]\naddress = \":443\"\n[entryPoints.websecure.http.tls]\ncertResolver = \"le\"\n[[entryPoints.websecure.http.tls.domains]]\nmain = \"example.com\"\nsans = [\"*.example.com\"]\n[providers.docker]\n",
    )
    .unwrap();
    let c = Config::from_env(&env(&[("ROUTER_CONFIG_FILE", toml.to_str().unwrap())])).unwrap();
    assert_eq!(ep(&c, "websecure").tls.as_ref().unwrap().domains.len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}
