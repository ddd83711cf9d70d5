//! Traefik's static configuration tables (pkg/config/static), translated as data: what the
//! router makes of the same settings, given as flags. `static_config_test.go`
//! (`TestHasEntrypoint`, `TestConfiguration_SetEffectiveConfiguration`,
//! `TestValidateConfiguration_BasePath`, `TestProvidersPrecedence`) and `entrypoints_test.go`
//! (`TestEntryPointProtocol`), with rows for the parts of `SetEffectiveConfiguration` and
//! `ValidateConfiguration` those tables leave out (the `traefik` entry point, `caServer`,
//! `storage`). Where the router differs on purpose, the row says so and names the README line.

// The tables are tuples of plain data.
#![allow(clippy::type_complexity)]

use std::collections::HashMap;
use std::time::Duration;

use super::sources::parse_args;
use super::*;
use crate::entry_http::Underscores;

fn load(env: &[(&str, &str)], flags: &[&str]) -> Result<Config, ConfigError> {
    let args = parse_args(&flags.iter().map(|s| s.to_string()).collect::<Vec<_>>())?;
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::load(&env, &args, false)
}

/// The key an error names, as written (flags: without `--`, in any case).
fn key(e: &ConfigError) -> String {
    e.var.trim_start_matches('-').to_ascii_lowercase()
}

fn names(c: &Config) -> Vec<&str> {
    c.entry_points.iter().map(|e| e.name.as_str()).collect()
}

/// A Traefik static configuration that sets nothing that matters (Traefik's tables start
/// from a `Configuration` with only `Providers.Precedence`).
const NOTHING: &str = "--global.checknewversion=false";

/// `TestHasEntrypoint`, seen through what it decides: without any entry point, Traefik's
/// `http` one on `:80` is made; with one, only the user's exist.
#[test]
fn has_entrypoint() {
    let rows: &[(&str, &[&str], &[&str])] = &[
        ("no user defined entryPoints", &[NOTHING], &["http"]),
        (
            "user defined entryPoints",
            &["--entrypoints.foo.address=:81"],
            &["foo"],
        ),
    ];
    for (desc, flags, want) in rows {
        let c = load(&[], flags).unwrap_or_else(|e| panic!("{desc}: {e}"));
        assert_eq!(names(&c), *want, "{desc}");
    }
}

/// `TestConfiguration_SetEffectiveConfiguration` "empty": the default entry point and the
/// defaults every entry point gets (`EntryPoint.SetDefaults`). One difference, documented
/// (README, static configuration table, `http.maxHeaderBytes`: "default 65536, smaller than
/// Traefik's 1 MiB"): `maxHeaderBytes` is 65536 here where Traefik's is Go's 1048576.
#[test]
fn effective_configuration_defaults() {
    let c = load(&[], &[NOTHING]).unwrap();
    let http = c.entry_point("http").unwrap();
    assert_eq!(http.address, Address::AnyHost(80));
    assert_eq!(http.grace_timeout, Duration::from_secs(10), "graceTimeOut");
    assert_eq!(http.header_timeout, Duration::from_secs(60), "readTimeout");
    assert_eq!(http.idle_timeout, Duration::from_secs(180), "idleTimeout");
    assert_eq!(http.forwarded, Trust::default(), "forwardedHeaders");
    assert_eq!(http.proxy_protocol, None, "proxyProtocol");
    assert!(http.http.sanitize_path, "sanitizePath");
    assert_eq!(http.http.underscores, Underscores::Keep);
    assert!(!http.http.encode_query_semicolons);
    assert_eq!(http.http.encoded_characters, None);
    assert_eq!(http.max_concurrent_streams, 250, "maxConcurrentStreams");
    assert_eq!(http.max_header_bytes, 65536, "maxHeaderBytes (README)");
    assert!(http.redirect.is_none() && http.tls.is_none() && http.middlewares.is_empty());
    // A TCP entry point; Traefik's `udp.timeout` default (3 s) is what a UDP one gets.
    assert_eq!(http.udp, None);
    let c = load(&[], &["--entrypoints.dns.address=:53/udp"]).unwrap();
    assert_eq!(
        c.entry_point("dns").unwrap().udp,
        Some(Duration::from_secs(3))
    );
}

/// `SetEffectiveConfiguration`'s internal entry point: `traefik` on `:8080` when the API is
/// insecure, or ping or Prometheus are served there without manual routing, unless the user
/// defined one of that name.
#[test]
fn effective_configuration_internal_entry_point() {
    let rows: &[(&str, &[&str], &[&str])] = &[
        (
            "api insecure",
            &["--api.insecure=true"],
            &["http", "traefik"],
        ),
        ("api secure", &["--api=true"], &["http"]),
        ("ping on traefik", &["--ping=true"], &["http", "traefik"]),
        (
            "ping manual routing",
            &["--ping.manualrouting=true"],
            &["http"],
        ),
        (
            "ping on another entry point",
            &["--entrypoints.web.address=:80", "--ping.entrypoint=web"],
            &["web"],
        ),
        (
            "prometheus on traefik",
            &["--metrics.prometheus=true"],
            &["http", "traefik"],
        ),
        (
            "prometheus manual routing",
            &["--metrics.prometheus.manualrouting=true"],
            &["http"],
        ),
    ];
    for (desc, flags, want) in rows {
        let c = load(&[], flags).unwrap_or_else(|e| panic!("{desc}: {e}"));
        let mut got = names(&c);
        got.sort_unstable();
        assert_eq!(got, *want, "{desc}");
        if let Some(t) = c.entry_point("traefik") {
            assert_eq!(t.address, Address::AnyHost(8080), "{desc}");
        }
    }
    let c = load(
        &[],
        &["--entrypoints.traefik.address=:9000", "--api.insecure=true"],
    )
    .unwrap();
    assert_eq!(names(&c), ["traefik"]);
    assert_eq!(
        c.entry_point("traefik").unwrap().address,
        Address::AnyHost(9000)
    );
}

/// `SetEffectiveConfiguration`'s provider settings: a Swarm `refreshSeconds` of 0 or less is
/// the default 15 s (said at start), a negative `httpClientTimeout` is accepted (Traefik: 0).
#[test]
fn effective_configuration_providers() {
    let rows: &[(&str, &[&str], Option<Duration>)] = &[
        (
            "swarm default",
            &["--providers.swarm=true"],
            Some(Duration::from_secs(15)),
        ),
        (
            "swarm refreshSeconds",
            &["--providers.swarm.refreshseconds=30s"],
            Some(Duration::from_secs(30)),
        ),
        (
            "swarm refreshSeconds 0",
            &["--providers.swarm.refreshseconds=0"],
            Some(Duration::from_secs(15)),
        ),
        (
            "swarm refreshSeconds negative",
            &["--providers.swarm.refreshseconds=-1"],
            Some(Duration::from_secs(15)),
        ),
        (
            "swarm refreshSeconds negative duration",
            &["--providers.swarm.refreshseconds=-1m"],
            Some(Duration::from_secs(15)),
        ),
        (
            "docker httpClientTimeout negative",
            &["--providers.docker.httpclienttimeout=-5s"],
            None,
        ),
        (
            "swarm httpClientTimeout negative",
            &["--providers.swarm.httpclienttimeout=-5s"],
            Some(Duration::from_secs(15)),
        ),
    ];
    for (desc, flags, refresh) in rows {
        let c = load(&[], flags).unwrap_or_else(|e| panic!("{desc}: {e}"));
        assert_eq!(c.swarm.as_ref().map(|s| s.refresh), *refresh, "{desc}");
    }
    for bad in [
        "--providers.swarm.refreshseconds=-",
        "--providers.swarm.refreshseconds=-soon",
        "--providers.docker.httpclienttimeout=-x",
    ] {
        let e = load(&[], &[bad]).unwrap_err();
        assert!(bad.contains(&key(&e)), "{bad}: {e}");
    }
}

/// What an ACME row expects of the resolver.
type AcmeCheck = fn(&AcmeConfig) -> bool;

/// `TestConfiguration_SetEffectiveConfiguration`'s ACME rows (Traefik's DNS provider `bar`
/// is `exec` here: any other provider is an error, README `certificatesResolvers.<name>.acme`
/// "Any other DNS provider ... are errors"), with `getSafeACMECAServer` and the deprecated
/// options given beside their new spelling.
#[test]
fn effective_configuration_acme() {
    let exec = "--certificatesresolvers.foo.acme.dnschallenge.provider=exec";
    let rows: &[(&str, &[&str], AcmeCheck)] = &[
        ("ACME simple: caServer is Let's Encrypt's", &[exec], |a| {
            a.directory == LETS_ENCRYPT && a.dns.as_ref().is_some_and(|d| d.check)
        }),
        (
            "ACME deprecation DelayBeforeCheck",
            &[
                exec,
                "--certificatesresolvers.foo.acme.dnschallenge.delaybeforecheck=123",
            ],
            |a| a.dns.as_ref().unwrap().delay == Duration::from_secs(123),
        ),
        (
            "ACME deprecation DisablePropagationCheck",
            &[
                exec,
                "--certificatesresolvers.foo.acme.dnschallenge.disablepropagationcheck=true",
            ],
            |a| !a.dns.as_ref().unwrap().check,
        ),
        (
            "delayBeforeCheck above 0 replaces propagation.delayBeforeChecks",
            &[
                exec,
                "--certificatesresolvers.foo.acme.dnschallenge.delaybeforecheck=5s",
                "--certificatesresolvers.foo.acme.dnschallenge.propagation.delaybeforechecks=10s",
            ],
            |a| a.dns.as_ref().unwrap().delay == Duration::from_secs(5),
        ),
        (
            "delayBeforeCheck 0 leaves propagation.delayBeforeChecks",
            &[
                exec,
                "--certificatesresolvers.foo.acme.dnschallenge.delaybeforecheck=0s",
                "--certificatesresolvers.foo.acme.dnschallenge.propagation.delaybeforechecks=10s",
            ],
            |a| a.dns.as_ref().unwrap().delay == Duration::from_secs(10),
        ),
        (
            "disablePropagationCheck wins over propagation.disableChecks=false",
            &[
                exec,
                "--certificatesresolvers.foo.acme.dnschallenge.disablepropagationcheck=true",
                "--certificatesresolvers.foo.acme.dnschallenge.propagation.disablechecks=false",
            ],
            |a| !a.dns.as_ref().unwrap().check,
        ),
        (
            "disablePropagationCheck=false leaves propagation.disableChecks",
            &[
                exec,
                "--certificatesresolvers.foo.acme.dnschallenge.disablepropagationcheck=false",
                "--certificatesresolvers.foo.acme.dnschallenge.propagation.disablechecks=true",
            ],
            |a| !a.dns.as_ref().unwrap().check,
        ),
        (
            "empty caServer is Let's Encrypt's",
            &["--certificatesresolvers.foo.acme.caserver="],
            |a| a.directory == LETS_ENCRYPT,
        ),
        (
            "ACME v1 caServer is the v2 one",
            &["--certificatesresolvers.foo.acme.caserver=https://acme-v01.api.letsencrypt.org/directory"],
            |a| a.directory == LETS_ENCRYPT,
        ),
        (
            "ACME v1 staging caServer is the v2 one",
            &["--certificatesresolvers.foo.acme.caserver=https://acme-staging.api.letsencrypt.org/directory"],
            |a| a.directory == "https://acme-staging-v02.api.letsencrypt.org/directory",
        ),
        (
            "another caServer is kept",
            &["--certificatesresolvers.foo.acme.caserver=https://ca.test/dir"],
            |a| a.directory == "https://ca.test/dir",
        ),
        ("storage defaults to acme.json", &[NOTHING], |a| {
            a.storage == std::path::Path::new("acme.json")
        }),
    ];
    for (desc, flags, check) in rows {
        let mut all = vec!["--certificatesresolvers.foo.acme.email=a@b.test"];
        all.extend_from_slice(flags);
        let c = load(&[("EXEC_PATH", "/bin/true")], &all).unwrap_or_else(|e| panic!("{desc}: {e}"));
        let a = c
            .acme
            .as_ref()
            .unwrap_or_else(|| panic!("{desc}: no resolver"));
        assert!(check(a), "{desc}: {a:?}");
    }
    // ValidateConfiguration: a resolver without a storage location is an error.
    let e = load(
        &[],
        &[
            "--certificatesresolvers.foo.acme.email=a@b.test",
            "--certificatesresolvers.foo.acme.storage=",
        ],
    )
    .unwrap_err();
    assert_eq!(key(&e), "certificatesresolvers.foo.acme.storage", "{e}");
    // Traefik's `bar` DNS provider: an error here, naming the key (README).
    let e = load(
        &[],
        &["--certificatesresolvers.foo.acme.dnschallenge.provider=bar"],
    )
    .unwrap_err();
    assert_eq!(
        key(&e),
        "certificatesresolvers.foo.acme.dnschallenge.provider"
    );
}

/// What the router makes of an `api.basePath`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BasePath {
    /// Accepted, as by Traefik.
    Accepted,
    /// Valid for Traefik, refused here: only `/` is served (README, `api.{dashboard,insecure}`:
    /// "`basePath` only `/`").
    OnlyRoot,
    /// Refused, as by Traefik (`API basePath must be a valid absolute URL path`).
    Invalid,
}

/// `TestValidateConfiguration_BasePath`.
#[test]
fn validate_base_path() {
    use BasePath::*;
    let rows: &[(&str, &str, BasePath)] = &[
        ("valid simple path", "/api", OnlyRoot),
        ("valid path with segments", "/my/base/path", OnlyRoot),
        (
            "valid path with allowed special chars",
            "/valid/path-123",
            OnlyRoot,
        ),
        ("relative path", "api/path", Invalid),
        (
            "XSS payload",
            r#"/api/"></script><script>alert("XSS")</script>"#,
            Invalid,
        ),
        ("path with spaces", "/path with spaces", Invalid),
        ("path with angle brackets", "/path/<evil>", Invalid),
        ("path with query string", "/api?foo=bar", Invalid),
        ("path with fragment", "/api#section", Invalid),
        ("valid root path", "/", Accepted),
        ("path with quote", "/api/'onclick=alert(1)", Invalid),
        ("path with encoded character", "/api%2Ftoto", Invalid),
        (
            "valid path with colons",
            "/k8s/clusters/c-abcd0/api/v1/namespaces/my-ns/services/http:traefik:8080/proxy",
            OnlyRoot,
        ),
        ("valid path with tilde", "/~user/dashboard", OnlyRoot),
        // Not in Traefik's table: an empty basePath fails its pattern too.
        ("empty path", "", Invalid),
        ("root path with a space", " /", Invalid),
    ];
    for (desc, base, want) in rows {
        let flag = format!("--api.basepath={base}");
        let got = match load(&[], &["--api=true", &flag]) {
            Ok(_) => Accepted,
            Err(e) if e.reason.contains("only the base path / is supported") => OnlyRoot,
            Err(e) => {
                assert_eq!(key(&e), "api.basepath", "{desc}: {e}");
                assert!(e.reason.contains("absolute URL path"), "{desc}: {e}");
                Invalid
            }
        };
        assert_eq!(got, *want, "{desc}: {base:?}");
    }
}

/// `TestProvidersPrecedence`. The router orders equal-priority routers by Traefik's default
/// precedence and does not read `providers.precedence` (README, `providers.precedence`): a
/// setting of it, valid or not, is an error naming the key.
#[test]
fn providers_precedence() {
    let rows: &[(&str, Option<&str>, bool)] = &[
        ("No precedence", None, true),
        (
            "Precedence with non existing provider",
            Some("unknown"),
            false,
        ),
        // Traefik: accepted, as `docker`. Here: the key is refused.
        ("Precedence with upper case provider", Some("DOCKER"), false),
    ];
    for (desc, precedence, ok) in rows {
        let flag = precedence.map(|p| format!("--providers.precedence={p}"));
        let mut flags = vec![NOTHING];
        flags.extend(flag.as_deref());
        match load(&[], &flags) {
            Ok(_) => assert!(ok, "{desc}: accepted"),
            Err(e) => {
                assert!(!ok, "{desc}: {e}");
                assert_eq!(key(&e), "providers.precedence", "{desc}");
            }
        }
    }
}

/// `TestEntryPointProtocol`: the address and protocol of an entry point address.
#[test]
fn entry_point_protocol() {
    let rows: &[(&str, &str, Option<(&str, bool)>)] = &[
        (
            "Without protocol",
            "127.0.0.1:8080",
            Some(("127.0.0.1:8080", false)),
        ),
        (
            "With TCP protocol in upper case",
            "127.0.0.1:8080/TCP",
            Some(("127.0.0.1:8080", false)),
        ),
        (
            "With UDP protocol in upper case",
            "127.0.0.1:8080/UDP",
            Some(("127.0.0.1:8080", true)),
        ),
        (
            "With UDP protocol in weird case",
            "127.0.0.1:8080/uDp",
            Some(("127.0.0.1:8080", true)),
        ),
        ("With invalid protocol", "127.0.0.1:8080/toto/tata", None),
    ];
    for (desc, address, want) in rows {
        let got = Address::parse_entry(address).ok();
        let got = got.as_ref().map(|(a, udp)| (a.to_string(), *udp));
        assert_eq!(
            got.as_ref().map(|(a, udp)| (a.as_str(), *udp)),
            *want,
            "{desc}"
        );
        // The same through the configuration: an invalid one names the key.
        let flag = format!("--entrypoints.x.address={address}");
        match load(&[], &[&flag]) {
            Ok(c) => assert_eq!(
                c.entry_point("x").unwrap().udp.is_some(),
                want.unwrap().1,
                "{desc}"
            ),
            Err(e) => {
                assert!(want.is_none(), "{desc}: {e}");
                assert_eq!(key(&e), "entrypoints.x.address", "{desc}");
            }
        }
    }
}
