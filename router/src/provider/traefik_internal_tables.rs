//! Traefik's test table for its internal provider, translated into cases here: a static
//! configuration -> the routers, middlewares and services `@internal` (names, rules, entry
//! points, priorities, middlewares as the API shows them), and, for the entry points' HTTP
//! defaults (Traefik's "models"), what the compiled table makes of a router on that entry
//! point.
//!
//! Source (Traefik's repository): `pkg/provider/traefik/internal_test.go`,
//! `Test_createConfiguration`, each row with its expected file in
//! `pkg/provider/traefik/fixtures/` (named in the case), and `internal.go` that writes them.
//! Traefik's rows build its static configuration as Go structs; here each is the same
//! configuration in `TRAEFIK_*` variables, read as the router reads them. Two consequences:
//! a row's entry point (`test`) must exist here, so the case defines it; and the rows'
//! redirections, built without Traefik's `SetDefaults`, have priority 0, so the cases say
//! `priority` 0 (its default, `MaxInt-1`, is a case of its own). The fixtures' priorities are
//! JSON floats (every one `9223372036854776000`): the cases use `internal.go`'s values.
//!
//! Where the router differs on purpose, the case states the router's result and names the
//! README passage that says so.

use std::collections::HashMap;

use super::internal::snapshot;
use crate::config::Config;
use crate::dynamic::Snapshot;

fn load(vars: &[(&str, &str)]) -> Result<Config, String> {
    let env: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Config::from_env(&env).map_err(|e| e.to_string())
}

/// A priority as `internal.go` writes it.
fn priority(p: i64) -> String {
    match i64::MAX - p {
        0 => "MaxInt".into(),
        n if n < 10 => format!("MaxInt-{n}"),
        _ => p.to_string(),
    }
}

/// One line per element: `router <name>: <rule> eps=<entry points> -> <service>
/// prio=<priority>[ mw=<middlewares>]`, `middleware <name>: <as the API shows it>`,
/// `service <name>`.
fn view(s: &Snapshot) -> Vec<String> {
    let http = &s.config.http;
    let mut out = Vec::new();
    for (n, r) in &http.routers {
        let mut l = format!(
            "router {n}: {} eps={} -> {} prio={}",
            r.rule,
            r.entry_points.join(","),
            r.service,
            priority(r.priority)
        );
        if !r.middlewares.is_empty() {
            l += &format!(" mw={}", r.middlewares.join(","));
        }
        out.push(l);
    }
    for (n, m) in &http.middlewares {
        out.push(format!(
            "middleware {n}: {}",
            serde_json::to_string(m).unwrap()
        ));
    }
    for n in http.services.keys() {
        out.push(format!("service {n}"));
    }
    out
}

/// One translated row.
struct Case {
    /// `<fixture>: <what the case holds>`.
    from: &'static str,
    vars: Vec<(&'static str, &'static str)>,
    /// The internal provider's snapshot, as [`view`] writes it; or the configuration error,
    /// which names the key.
    want: Result<Vec<&'static str>, &'static str>,
}

fn run(cases: Vec<Case>) {
    let mut failed = Vec::new();
    for case in &cases {
        let got = load(&case.vars).map(|c| view(&snapshot(&c)));
        let ok = match (&got, &case.want) {
            (Ok(g), Ok(w)) => g == w,
            (Err(g), Err(w)) => g.contains(w),
            _ => false,
        };
        if !ok {
            failed.push(format!(
                "{}\n  want {:#?}\n  got  {got:#?}",
                case.from, case.want
            ));
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} cases differ:\n{}",
        failed.len(),
        cases.len(),
        failed.join("\n")
    );
}

const API: &str = "router api: PathPrefix(`/api`) eps=traefik -> api@internal prio=MaxInt-1";
const DASHBOARD: &str = "router dashboard: PathPrefix(`/`) eps=traefik -> dashboard@internal prio=MaxInt-2 mw=dashboard_redirect@internal,dashboard_stripprefix@internal";
const DASHBOARD_REDIRECT: &str = r#"middleware dashboard_redirect: {"redirectRegex":{"regex":"^(http:\\/\\/(\\[[\\w:.]+\\]|[\\w\\._-]+)(:\\d+)?)\\/$","replacement":"${1}/dashboard/","permanent":true}}"#;
const DASHBOARD_STRIP: &str = r#"middleware dashboard_stripprefix: {"stripPrefix":{"prefixes":["/dashboard/","/dashboard"]}}"#;
const PING: &str = "router ping: PathPrefix(`/ping`) eps=test -> ping@internal prio=MaxInt";
const PROMETHEUS: &str =
    "router prometheus: PathPrefix(`/metrics`) eps=test -> prometheus@internal prio=MaxInt";
/// The entry point the rows name.
const TEST_EP: (&str, &str) = ("TRAEFIK_ENTRYPOINTS_TEST_ADDRESS", ":8081");

#[test]
fn api_ping_rest_prometheus() {
    run(vec![
        Case {
            from: "full_configuration.json: api (insecure, dashboard), ping, prometheus on test",
            vars: vec![
                TEST_EP,
                ("TRAEFIK_API_INSECURE", "true"),
                ("TRAEFIK_API_DASHBOARD", "true"),
                ("TRAEFIK_PING_ENTRYPOINT", "test"),
                ("TRAEFIK_METRICS_PROMETHEUS_ENTRYPOINT", "test"),
            ],
            want: Ok(vec![
                API,
                DASHBOARD,
                PING,
                PROMETHEUS,
                DASHBOARD_REDIRECT,
                DASHBOARD_STRIP,
                "service api",
                "service dashboard",
                "service noop",
                "service ping",
                "service prometheus",
            ]),
        },
        // The router, as Traefik's; its paths (Go's expvar and pprof) are not served.
        Case {
            from: "full_configuration.json: api.debug (router debug@internal)",
            vars: vec![
                ("TRAEFIK_API_INSECURE", "true"),
                ("TRAEFIK_API_DEBUG", "true"),
            ],
            want: Ok(vec![
                API,
                DASHBOARD,
                "router debug: PathPrefix(`/debug`) eps=traefik -> api@internal prio=MaxInt-1",
                DASHBOARD_REDIRECT,
                DASHBOARD_STRIP,
                "service api",
                "service dashboard",
                "service noop",
            ]),
        },
        // README, static configuration: "Other providers (... `rest` ...) | Error".
        Case {
            from: "full_configuration.json, rest_insecure.json: providers.rest (router rest@internal) is an error here",
            vars: vec![
                ("TRAEFIK_API_INSECURE", "true"),
                ("TRAEFIK_PROVIDERS_REST_INSECURE", "true"),
            ],
            want: Err("TRAEFIK_PROVIDERS_REST_INSECURE=\"true\": unknown or not supported"),
        },
        Case {
            from: "full_configuration_secure.json, rest_secure.json: providers.rest is an error here, even secure",
            vars: vec![("TRAEFIK_PROVIDERS_REST_INSECURE", "false")],
            want: Err("TRAEFIK_PROVIDERS_REST_INSECURE=\"false\": unknown or not supported"),
        },
        Case {
            from: "full_configuration_secure.json: api secure with dashboard, ping and prometheus routed by hand",
            vars: vec![
                TEST_EP,
                ("TRAEFIK_API_INSECURE", "false"),
                ("TRAEFIK_API_DASHBOARD", "true"),
                ("TRAEFIK_PING_ENTRYPOINT", "test"),
                ("TRAEFIK_PING_MANUALROUTING", "true"),
                ("TRAEFIK_METRICS_PROMETHEUS_ENTRYPOINT", "test"),
                ("TRAEFIK_METRICS_PROMETHEUS_MANUALROUTING", "true"),
            ],
            want: Ok(vec![
                "service api",
                "service dashboard",
                "service noop",
                "service ping",
                "service prometheus",
            ]),
        },
        Case {
            from: "api_insecure_with_dashboard.json",
            vars: vec![
                ("TRAEFIK_API_INSECURE", "true"),
                ("TRAEFIK_API_DASHBOARD", "true"),
            ],
            want: Ok(vec![
                API,
                DASHBOARD,
                DASHBOARD_REDIRECT,
                DASHBOARD_STRIP,
                "service api",
                "service dashboard",
                "service noop",
            ]),
        },
        Case {
            from: "api_insecure_without_dashboard.json",
            vars: vec![
                ("TRAEFIK_API_INSECURE", "true"),
                ("TRAEFIK_API_DASHBOARD", "false"),
            ],
            want: Ok(vec![API, "service api", "service noop"]),
        },
        Case {
            from: "api_secure_with_dashboard.json",
            vars: vec![
                ("TRAEFIK_ENTRYPOINTS_WEB_ADDRESS", ":80"),
                ("TRAEFIK_API_INSECURE", "false"),
                ("TRAEFIK_API_DASHBOARD", "true"),
            ],
            want: Ok(vec!["service api", "service dashboard", "service noop"]),
        },
        Case {
            from: "api_secure_without_dashboard.json",
            vars: vec![
                ("TRAEFIK_ENTRYPOINTS_WEB_ADDRESS", ":80"),
                ("TRAEFIK_API_INSECURE", "false"),
                ("TRAEFIK_API_DASHBOARD", "false"),
            ],
            want: Ok(vec!["service api", "service noop"]),
        },
        Case {
            from: "ping_simple.json",
            vars: vec![TEST_EP, ("TRAEFIK_PING_ENTRYPOINT", "test")],
            want: Ok(vec![PING, "service noop", "service ping"]),
        },
        Case {
            from: "ping_custom.json",
            vars: vec![
                TEST_EP,
                ("TRAEFIK_PING_ENTRYPOINT", "test"),
                ("TRAEFIK_PING_MANUALROUTING", "true"),
            ],
            want: Ok(vec!["service noop", "service ping"]),
        },
        Case {
            from: "prometheus_simple.json",
            vars: vec![TEST_EP, ("TRAEFIK_METRICS_PROMETHEUS_ENTRYPOINT", "test")],
            want: Ok(vec![PROMETHEUS, "service noop", "service prometheus"]),
        },
        Case {
            from: "prometheus_custom.json",
            vars: vec![
                TEST_EP,
                ("TRAEFIK_METRICS_PROMETHEUS_ENTRYPOINT", "test"),
                ("TRAEFIK_METRICS_PROMETHEUS_MANUALROUTING", "true"),
            ],
            want: Ok(vec!["service noop", "service prometheus"]),
        },
    ]);
}

const WEB: (&str, &str) = ("TRAEFIK_ENTRYPOINTS_WEB_ADDRESS", ":80");
const WEBSECURE: (&str, &str) = ("TRAEFIK_ENTRYPOINTS_WEBSECURE_ADDRESS", ":443");
const TO: &str = "TRAEFIK_ENTRYPOINTS_WEB_HTTP_REDIRECTIONS_ENTRYPOINT_TO";
const SCHEME: (&str, &str) = (
    "TRAEFIK_ENTRYPOINTS_WEB_HTTP_REDIRECTIONS_ENTRYPOINT_SCHEME",
    "https",
);
const PERMANENT: (&str, &str) = (
    "TRAEFIK_ENTRYPOINTS_WEB_HTTP_REDIRECTIONS_ENTRYPOINT_PERMANENT",
    "true",
);
/// The rows' redirections are built without `SetDefaults`: priority 0.
const PRIORITY_0: (&str, &str) = (
    "TRAEFIK_ENTRYPOINTS_WEB_HTTP_REDIRECTIONS_ENTRYPOINT_PRIORITY",
    "0",
);
const TO_WEBSECURE: &str = "router web-to-websecure: HostRegexp(`^.+$`) eps=web -> noop@internal prio=0 mw=redirect-web-to-websecure";
const REDIRECT_443: &str = r#"middleware redirect-web-to-websecure: {"redirectScheme":{"scheme":"https","port":"443","permanent":true}}"#;

#[test]
fn redirections() {
    run(vec![
        Case {
            from: "redirection.json",
            vars: vec![WEB, WEBSECURE, (TO, "websecure"), SCHEME, PERMANENT, PRIORITY_0],
            want: Ok(vec![TO_WEBSECURE, REDIRECT_443, "service noop"]),
        },
        Case {
            from: "redirection.json, with Traefik's defaults (scheme https, permanent, priority MaxInt-1)",
            vars: vec![WEB, WEBSECURE, (TO, "websecure")],
            want: Ok(vec![
                "router web-to-websecure: HostRegexp(`^.+$`) eps=web -> noop@internal prio=MaxInt-1 mw=redirect-web-to-websecure",
                REDIRECT_443,
                "service noop",
            ]),
        },
        // `internal.go` hands the scheme to the redirectScheme middleware as it is: any URL
        // scheme, as that middleware takes.
        Case {
            from: "redirection.json, scheme wss",
            vars: vec![
                WEB,
                WEBSECURE,
                (TO, "websecure"),
                (
                    "TRAEFIK_ENTRYPOINTS_WEB_HTTP_REDIRECTIONS_ENTRYPOINT_SCHEME",
                    "wss",
                ),
            ],
            want: Ok(vec![
                "router web-to-websecure: HostRegexp(`^.+$`) eps=web -> noop@internal prio=MaxInt-1 mw=redirect-web-to-websecure",
                r#"middleware redirect-web-to-websecure: {"redirectScheme":{"scheme":"wss","port":"443","permanent":true}}"#,
                "service noop",
            ]),
        },
        Case {
            from: "a redirection's scheme that is not a URL scheme is an error naming it",
            vars: vec![
                WEB,
                WEBSECURE,
                (TO, "websecure"),
                (
                    "TRAEFIK_ENTRYPOINTS_WEB_HTTP_REDIRECTIONS_ENTRYPOINT_SCHEME",
                    "ht tp",
                ),
            ],
            want: Err("TRAEFIK_ENTRYPOINTS_WEB_HTTP_REDIRECTIONS_ENTRYPOINT_SCHEME=\"ht tp\""),
        },
        Case {
            from: "redirection_port.json",
            vars: vec![WEB, WEBSECURE, (TO, ":443"), SCHEME, PERMANENT, PRIORITY_0],
            want: Ok(vec![
                "router web-to-443: HostRegexp(`^.+$`) eps=web -> noop@internal prio=0 mw=redirect-web-to-443",
                r#"middleware redirect-web-to-443: {"redirectScheme":{"scheme":"https","port":"443","permanent":true}}"#,
                "service noop",
            ]),
        },
        Case {
            from: "redirection_with_protocol.json",
            vars: vec![
                WEB,
                ("TRAEFIK_ENTRYPOINTS_WEBSECURE_ADDRESS", ":443/tcp"),
                (TO, "websecure"),
                SCHEME,
                PERMANENT,
                PRIORITY_0,
            ],
            want: Ok(vec![TO_WEBSECURE, REDIRECT_443, "service noop"]),
        },
        Case {
            from: "redirection_with_acme_bypass.json",
            vars: vec![
                WEB,
                WEBSECURE,
                ("TRAEFIK_ENTRYPOINTS_WEB_ALLOWACMEBYPASS", "true"),
                (TO, "websecure"),
                SCHEME,
                PERMANENT,
                PRIORITY_0,
            ],
            want: Ok(vec![
                "router web-to-websecure: HostRegexp(`^.+$`) && !PathPrefix(`/.well-known/acme-challenge/`) eps=web -> noop@internal prio=0 mw=redirect-web-to-websecure",
                REDIRECT_443,
                "service noop",
            ]),
        },
        // `internal.go`'s `acme`: the challenge router of an entry point with allowACMEByPass
        // is `acme-http-bypass`, at its rule's own priority.
        Case {
            from: "internal.go: an HTTP-01 entry point with allowACMEByPass",
            vars: vec![
                WEB,
                WEBSECURE,
                ("TRAEFIK_ENTRYPOINTS_WEB_ALLOWACMEBYPASS", "true"),
                (
                    "TRAEFIK_CERTIFICATESRESOLVERS_DEFAULT_ACME_HTTPCHALLENGE_ENTRYPOINT",
                    "web",
                ),
            ],
            want: Ok(vec![
                "router acme-http-bypass: PathPrefix(`/.well-known/acme-challenge/`) eps=web -> acme-http@internal prio=0",
                "service acme-http",
                "service noop",
            ]),
        },
        Case {
            from: "redirection_without_acme_bypass.json",
            vars: vec![
                WEB,
                WEBSECURE,
                (TO, "websecure"),
                SCHEME,
                PERMANENT,
                PRIORITY_0,
                (
                    "TRAEFIK_CERTIFICATESRESOLVERS_DEFAULT_ACME_HTTPCHALLENGE_ENTRYPOINT",
                    "web",
                ),
            ],
            want: Ok(vec![
                "router acme-http: PathPrefix(`/.well-known/acme-challenge/`) eps=web -> acme-http@internal prio=MaxInt",
                TO_WEBSECURE,
                REDIRECT_443,
                "service acme-http",
                "service noop",
            ]),
        },
    ]);
}

/// `models.json`: Traefik's internal provider gives the entry point's HTTP defaults as a
/// model that the router manager applies to each router on it; here they are applied when
/// the table is compiled. So the case compiles a router of a file on `websecure` with the
/// internal provider's snapshot and checks what the model gives it: the middleware `test`
/// first (in the router's provider), TLS with options `opt`, resolver `le` and the domains,
/// and `observability.accessLogs=false`. `observability.tracing` and `.metrics` are accepted
/// without effect here (README, static configuration: "`.metrics`, `.tracing` accepted").
#[test]
fn models() {
    let c = load(&[
        WEBSECURE,
        ("TRAEFIK_ENTRYPOINTS_WEBSECURE_HTTP_MIDDLEWARES", "test"),
        ("TRAEFIK_ENTRYPOINTS_WEBSECURE_HTTP_TLS_OPTIONS", "opt"),
        ("TRAEFIK_ENTRYPOINTS_WEBSECURE_HTTP_TLS_CERTRESOLVER", "le"),
        (
            "TRAEFIK_ENTRYPOINTS_WEBSECURE_HTTP_TLS_DOMAINS_0_MAIN",
            "mainA",
        ),
        (
            "TRAEFIK_ENTRYPOINTS_WEBSECURE_HTTP_TLS_DOMAINS_0_SANS",
            "sanA1,sanA2",
        ),
        (
            "TRAEFIK_ENTRYPOINTS_WEBSECURE_HTTP_TLS_DOMAINS_1_MAIN",
            "mainB",
        ),
        (
            "TRAEFIK_ENTRYPOINTS_WEBSECURE_HTTP_TLS_DOMAINS_1_SANS",
            "sanB1,sanB2",
        ),
        (
            "TRAEFIK_ENTRYPOINTS_WEBSECURE_OBSERVABILITY_ACCESSLOGS",
            "false",
        ),
        (
            "TRAEFIK_ENTRYPOINTS_WEBSECURE_OBSERVABILITY_TRACING",
            "false",
        ),
        (
            "TRAEFIK_ENTRYPOINTS_WEBSECURE_OBSERVABILITY_METRICS",
            "false",
        ),
        ("TRAEFIK_CERTIFICATESRESOLVERS_LE_ACME_TLSCHALLENGE", "true"),
    ])
    .unwrap();
    // The internal provider itself defines nothing for it (the model is not a router).
    assert_eq!(view(&snapshot(&c)), ["service noop"]);
    let file = crate::provider::file::snapshot_of_yaml("http:\n  routers:\n    app:\n      rule: Host(`a.example`)\n      service: noop@internal\n  middlewares:\n    test:\n      stripPrefix:\n        prefixes: [/x]\ntls:\n  options:\n    opt:\n      minVersion: VersionTLS12\n");
    let internal = snapshot(&c);
    let table =
        crate::model::compile::compile([&internal, &file], &crate::state::compile_settings(&c));
    let app = table
        .routes
        .iter()
        .find(|r| r.name == "app@file")
        .unwrap_or_else(|| panic!("no app@file: {:?}", table.issues));
    let got = (
        app.entrypoints.clone(),
        app.middlewares
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>(),
        app.tls,
        app.tls_options.as_str(),
        app.certresolver.as_deref(),
        app.domains.clone(),
    );
    assert_eq!(
        got,
        (
            vec!["websecure".to_owned()],
            vec!["test@file"],
            true,
            "opt@file",
            Some("le"),
            vec![
                vec!["maina".to_owned(), "sana1".into(), "sana2".into()],
                vec!["mainb".to_owned(), "sanb1".into(), "sanb2".into()],
            ],
        ),
        "{:?}",
        table.issues
    );
    // `observability.accessLogs=false`: the router sets none of its own, so the entry
    // point's decides: no access line.
    let websecure = c.entry_point("websecure").unwrap();
    assert_eq!(app.access_logs, None);
    assert!(!crate::proxy::logs_access(
        true,
        websecure.access_logs,
        app.access_logs
    ));
}

/// What the redirections give once compiled: the router on the entry point, at the row's
/// priority (0: the rule's length, as any router's; unset: `MaxInt-1`), with its redirect.
#[test]
fn redirections_compiled() {
    for (vars, want_priority) in [
        (vec![PRIORITY_0], "HostRegexp(`^.+$`)".len() as i64),
        (vec![], i64::MAX - 1),
        (
            vec![(
                "TRAEFIK_ENTRYPOINTS_WEB_HTTP_REDIRECTIONS_ENTRYPOINT_PRIORITY",
                "7",
            )],
            7,
        ),
    ] {
        let mut all = vec![WEB, WEBSECURE, (TO, "websecure")];
        all.extend(vars);
        let c = load(&all).unwrap();
        let s = snapshot(&c);
        let table = crate::model::compile::compile([&s], &crate::state::compile_settings(&c));
        assert!(table.issues.is_empty(), "{:?}", table.issues);
        let r = table
            .routes
            .iter()
            .find(|r| r.name == "web-to-websecure@internal")
            .unwrap();
        assert_eq!(r.priority, want_priority);
        assert_eq!(r.entrypoints, ["web"]);
        assert_eq!(r.service, "noop@internal");
        let names: Vec<&str> = r.middlewares.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["redirect-web-to-websecure@internal"]);
    }
}

/// `redirection_without_acme_bypass.json` compiled: on `web`, Traefik's `acme-http` router
/// (priority `MaxInt`) comes before the redirection's (`MaxInt-1`).
#[test]
fn the_acme_router_comes_before_the_redirection() {
    let c = load(&[
        WEB,
        WEBSECURE,
        (TO, "websecure"),
        (
            "TRAEFIK_CERTIFICATESRESOLVERS_DEFAULT_ACME_HTTPCHALLENGE_ENTRYPOINT",
            "web",
        ),
    ])
    .unwrap();
    let s = snapshot(&c);
    let table = crate::model::compile::compile([&s], &crate::state::compile_settings(&c));
    assert!(table.issues.is_empty(), "{:?}", table.issues);
    let on_web: Vec<&str> = table
        .routes
        .iter()
        .filter(|r| r.entrypoints.iter().any(|e| e == "web"))
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(on_web, ["acme-http@internal", "web-to-websecure@internal"]);
}

/// Traefik's observability manager (`pkg/server/middleware/observability.go`,
/// `shouldAccessLog` and `shouldMeter`, given `internal` by `router.go` for a router whose
/// service ends in `@internal`): a request an internal router answers (`ping@internal`, the
/// entry point redirection's `web-to-websecure@internal` to `noop@internal`) gets no access
/// line and is not counted unless `accessLog.addInternals` (`metrics.addInternals`) is
/// `true`; a request to a router of the user's is logged and counted.
#[test]
fn internal_routers_are_observed_only_with_add_internals() {
    use futures_util::FutureExt as _;
    struct NoBody;
    impl crate::middleware::Body for NoBody {
        fn read_all(&mut self, _limit: u64) -> crate::middleware::BodyFuture<'_> {
            Box::pin(async { Ok(bytes::Bytes::new()) })
        }
        fn declared(&self) -> Option<u64> {
            Some(0)
        }
        fn read_within(&mut self, _limit: u64) -> crate::middleware::BodyWithinFuture<'_> {
            Box::pin(async { Ok(Some(bytes::Bytes::new())) })
        }
    }
    type Vars<'a> = &'a [(&'a str, &'a str)];
    // (addInternals variables, whether internal routers are logged, and counted).
    let rows: &[(Vars, bool, bool)] = &[
        (&[], false, false),
        (&[("TRAEFIK_ACCESSLOG_ADDINTERNALS", "true")], true, false),
        (&[("TRAEFIK_METRICS_ADDINTERNALS", "true")], false, true),
        (
            &[
                ("TRAEFIK_ACCESSLOG_ADDINTERNALS", "false"),
                ("TRAEFIK_METRICS_ADDINTERNALS", "false"),
            ],
            false,
            false,
        ),
    ];
    for (extra, logged, counted) in rows {
        let mut vars = vec![
            WEB,
            WEBSECURE,
            (TO, "websecure"),
            TEST_EP,
            ("TRAEFIK_PING_ENTRYPOINT", "test"),
            ("TRAEFIK_ACCESSLOG", "true"),
        ];
        vars.extend_from_slice(extra);
        let c = load(&vars).unwrap();
        let file = crate::provider::file::snapshot_of_yaml("http:\n  routers:\n    app:\n      rule: Host(`a`)\n      entryPoints: [test]\n      service: s\n  services:\n    s:\n      loadBalancer:\n        servers:\n          - url: http://10.0.0.1:80\n");
        let table = crate::model::compile::compile(
            [&snapshot(&c), &file],
            &crate::state::compile_settings(&c),
        );
        let shared = crate::server::Shared::new(c);
        shared
            .live
            .store(std::sync::Arc::new(shared.registry.attach(table)));
        // (entry point, path, the router that answers, whether it is internal).
        for (ep, path, router, internal) in [
            ("test", "/ping", "ping@internal", true),
            ("web", "/", "web-to-websecure@internal", true),
            ("test", "/", "app@file", false),
        ] {
            let settings = shared.config.entry_point(ep).unwrap().clone();
            let mut headers = hyper::HeaderMap::new();
            headers.insert(hyper::header::HOST, "a".parse().unwrap());
            let inbound = crate::proxy::Inbound {
                entrypoint: ep,
                scheme: "http",
                peer: "192.0.2.1:1234".parse().unwrap(),
                trusted: false,
                ep: &settings,
                tls_options: "",
                client_certs: None,
                client: "192.0.2.1",
                host: "a",
                method: &hyper::Method::GET,
                path,
                query: None,
                has_body: false,
            };
            let mut log = crate::proxy::Log::default();
            let planned =
                crate::proxy::plan(&shared, &inbound, &mut headers, &mut log, &mut NoBody)
                    .now_or_never()
                    .expect("nothing waits");
            let status = match planned {
                Ok(crate::proxy::Planned::Answer(a)) => a.status.as_u16(),
                Ok(crate::proxy::Planned::Forward(_)) => 200,
                Err(e) => panic!("{router}: {e}"),
            };
            assert_eq!(log.router, router);
            crate::proxy::record(&shared, &inbound, &log, status, std::time::Instant::now());
            let case = format!("{extra:?} {router}");
            let config = &shared.config;
            let logs = crate::proxy::observes(log.internal, config.access_log_internals)
                && crate::proxy::logs_access(config.access_log, settings.access_logs, log.access);
            assert_eq!(logs, !internal || *logged, "logged: {case}");
            let metrics = shared.metrics.render();
            let seen = metrics.contains(&format!("router=\"{router}\""));
            assert_eq!(seen, !internal || *counted, "counted: {case}");
        }
    }
}

/// `internal.go` `entryPointModels` makes a model of an entry point with an `observability`
/// section, and of every entry point when `core.defaultRuleSyntax` is set, whatever its
/// `http` settings; `aggregator.go` `applyModel` then splits a router on several entry points
/// into `<entrypoint>-<name>` copies for those with a model (each its own router: its own
/// middleware instances, its own name in the API, the access log and the metrics).
#[test]
fn observability_and_the_default_rule_syntax_make_models() {
    type Vars<'a> = &'a [(&'a str, &'a str)];
    let rows: &[(Vars, &[&str])] = &[
        (&[], &["app@file"]),
        (
            &[("TRAEFIK_ENTRYPOINTS_WEB_OBSERVABILITY_ACCESSLOGS", "false")],
            &["app@file", "web-app@file"],
        ),
        (
            &[("TRAEFIK_CORE_DEFAULTRULESYNTAX", "v3")],
            &["web-app@file", "websecure-app@file"],
        ),
    ];
    for (extra, want) in rows {
        let mut vars = vec![WEB, WEBSECURE];
        vars.extend_from_slice(extra);
        let c = load(&vars).unwrap();
        let file = crate::provider::file::snapshot_of_yaml("http:\n  routers:\n    app:\n      rule: Host(`a.example`)\n      entryPoints: [web, websecure]\n      service: noop@internal\n");
        let table = crate::model::compile::compile(
            [&snapshot(&c), &file],
            &crate::state::compile_settings(&c),
        );
        let mut names: Vec<&str> = table
            .routes
            .iter()
            .map(|r| r.name.as_str())
            .filter(|n| n.ends_with("@file"))
            .collect();
        names.sort();
        assert_eq!(&names, want, "{extra:?}");
    }
}
