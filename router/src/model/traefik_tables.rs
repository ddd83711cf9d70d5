//! Traefik's own test tables for the compile step, as data in our form: each group names the
//! Go test it comes from (Traefik v3, `pkg/server`, `pkg/config/runtime`). Deliberate
//! differences (README) are said where a case is left out or read differently.

use crate::dynamic::Snapshot;
use crate::model::compile::{compile, CompileSettings, EntryPointModel};
use crate::model::table::RouteTable;

/// A file provider's snapshot of `yaml`, under the name `provider`.
fn snap(provider: &str, yaml: &str) -> Snapshot {
    let mut s = crate::provider::file::snapshot(&[crate::provider::file::Parsed {
        path: format!("/{provider}.yml").into(),
        root: crate::tree::Node::from_yaml(yaml, "").unwrap_or_else(|e| panic!("{e}")),
    }]);
    s.provider = provider.into();
    s
}

/// Entry points by name; `*` marks a default one (`asDefault`).
fn eps(names: &[&str]) -> CompileSettings {
    CompileSettings {
        entry_points: names
            .iter()
            .map(|n| EntryPointModel {
                name: n.trim_end_matches('*').into(),
                default: n.ends_with('*'),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn table(yamls: &[(&str, &str)], s: &CompileSettings) -> RouteTable {
    let snaps: Vec<Snapshot> = yamls.iter().map(|(p, y)| snap(p, y)).collect();
    compile(&snaps, s)
}

fn route_names(t: &RouteTable) -> Vec<&str> {
    let mut n: Vec<&str> = t.routes.iter().map(|r| r.name.as_str()).collect();
    n.sort_unstable();
    n
}

fn route<'a>(t: &'a RouteTable, name: &str) -> &'a crate::model::table::Route {
    t.routes
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no route {name}: {:?}", t.issues))
}

const SVC: &str = "  services:\n    svc:\n      loadBalancer:\n        servers:\n          - url: http://127.0.0.1:8085\n";

/// aggregator_test.go `Test_mergeConfiguration` ("Returns fully qualified elements from a
/// multi-provider configuration map"): the same names in two providers are two elements,
/// and an unqualified reference is to the router's own provider.
#[test]
fn merge_qualifies_every_element_by_its_provider() {
    let y = format!(
        "http:\n  routers:\n    router-1:\n      rule: Host(`a`)\n      service: svc\n  middlewares:\n    middleware-1:\n      addPrefix:\n        prefix: /p\n{SVC}"
    );
    let t = table(&[("provider-1", &y), ("provider-2", &y)], &eps(&["web*"]));
    let keys = |m: Vec<&String>| m.into_iter().cloned().collect::<Vec<_>>();
    assert_eq!(
        keys(t.api().routers.keys().collect()),
        ["router-1@provider-1", "router-1@provider-2"]
    );
    assert_eq!(
        keys(t.api().services.keys().collect()),
        ["svc@provider-1", "svc@provider-2"]
    );
    assert_eq!(
        keys(t.api().middlewares.keys().collect()),
        ["middleware-1@provider-1", "middleware-1@provider-2"]
    );
    assert_eq!(route(&t, "router-1@provider-2").service, "svc@provider-2");
}

/// aggregator.go `mergeConfiguration`: a router without entry points takes the default ones
/// (`Test_mergeConfiguration_defaultTCPEntryPoint` for TCP; the same code path for HTTP).
#[test]
fn a_router_without_entry_points_takes_the_default_ones() {
    let y = format!("http:\n  routers:\n    r:\n      rule: Host(`a`)\n      service: svc\n{SVC}");
    let t = table(&[("file", &y)], &eps(&["defaultEP*", "other"]));
    assert_eq!(route(&t, "r@file").entrypoints, ["defaultEP"]);
    assert_eq!(t.api().routers["r@file"].using, ["defaultEP"]);
}

/// aggregator_test.go `Test_applyModel`: an entry point's `http.middlewares` and `http.tls`.
#[test]
fn entry_point_models_as_apply_model() {
    let mut s = eps(&["web*", "websecure"]);
    s.entry_points[1].middlewares = vec!["test".into()];
    s.entry_points[1].tls = Some(crate::dynamic::RouterTls {
        cert_resolver: "ep".into(),
        ..Default::default()
    });
    let y = |eps: &str, tls: &str| {
        format!("http:\n  routers:\n    test:\n      rule: Host(`a`)\n      service: svc\n      middlewares: [own]\n      entryPoints: {eps}\n{tls}  middlewares:\n    test:\n      addPrefix:\n        prefix: /m\n    own:\n      addPrefix:\n        prefix: /o\n{SVC}")
    };
    let mws = |r: &crate::model::table::Route| -> Vec<String> {
        r.middlewares.iter().map(|(n, _)| n.clone()).collect()
    };
    // "with model, one entry point": the name is kept, the model's middlewares go first and
    // its TLS is the router's.
    let t = table(&[("file", &y("[websecure]", ""))], &s);
    assert_eq!(route_names(&t), ["test@file"]);
    let r = route(&t, "test@file");
    assert_eq!(mws(r), ["test@file", "own@file"]);
    assert!(r.tls);
    assert_eq!(r.certresolver.as_deref(), Some("ep"));
    // "with model, one entry point, and router with tls": the router's own TLS stays.
    let own = "      tls:\n        certResolver: router\n";
    let t = table(&[("file", &y("[websecure]", own))], &s);
    assert_eq!(
        route(&t, "test@file").certresolver.as_deref(),
        Some("router")
    );
    // "with model, two entry points": `test` on web as it is, `websecure-test` with the model.
    let t = table(&[("file", &y("[websecure, web]", ""))], &s);
    assert_eq!(route_names(&t), ["test@file", "websecure-test@file"]);
    let plain = route(&t, "test@file");
    assert_eq!(plain.entrypoints, ["web"]);
    assert!(!plain.tls);
    assert_eq!(mws(plain), ["own@file"]);
    let copy = route(&t, "websecure-test@file");
    assert_eq!(copy.entrypoints, ["websecure"]);
    assert!(copy.tls);
    assert_eq!(mws(copy), ["test@file", "own@file"]);
    // "with model, not used": a router on an entry point without a model is unchanged.
    let t = table(&[("file", &y("[web]", ""))], &s);
    assert_eq!(route_names(&t), ["test@file"]);
    assert_eq!(mws(route(&t, "test@file")), ["own@file"]);
}

/// aggregator_test.go `Test_resolveHTTPTLSOptions`: which TLS options a router ends with.
/// Traefik serves a router's conflicting entry points by an `<ep>-conflicted-<router>` copy;
/// here the router itself falls back to `default` (README, "Which set a connection gets"),
/// so only the options are compared.
#[test]
fn tls_options_resolved_as_traefik() {
    let opts = "tls:\n  options:\n    optsA:\n      minVersion: VersionTLS12\n    optsB:\n      minVersion: VersionTLS13\n    optsX:\n      minVersion: VersionTLS12\n    optsY:\n      minVersion: VersionTLS13\n";
    let s = eps(&["ep-a*", "ep-b"]);
    let case = |routers: &[(&str, &str, &str, &str)], want: &[(&str, &str)]| {
        let mut y = String::from("http:\n  routers:\n");
        for (name, ep, rule, o) in routers {
            y.push_str(&format!(
                "    {name}:\n      rule: \"{rule}\"\n      service: svc\n      entryPoints: [{ep}]\n      tls: {{{o}}}\n"
            ));
        }
        y.push_str(SVC);
        y.push_str(opts);
        let t = table(&[("file", &y)], &s);
        for (name, o) in want {
            assert_eq!(route(&t, name).tls_options, *o, "{name}: {:?}", t.issues);
        }
    };
    let host = "Host(`example.com`)";
    // "same host, different options, different entryPoints: no conflict"
    case(
        &[
            ("router-a", "ep-a", host, "options: optsA"),
            ("router-b", "ep-b", host, "options: optsB"),
        ],
        &[
            ("router-a@file", "optsA@file"),
            ("router-b@file", "optsB@file"),
        ],
    );
    // "same host, different options, same entryPoint: conflict falls back to default"
    case(
        &[
            ("router-a", "ep-a", host, "options: optsA"),
            ("router-b", "ep-a", host, "options: optsB"),
        ],
        &[("router-a@file", "default"), ("router-b@file", "default")],
    );
    // "same host, same options, same entryPoint: keeps the configured options"
    case(
        &[
            ("router-a", "ep-a", host, "options: optsA"),
            (
                "router-b",
                "ep-a",
                "Host(`example.com`) && PathPrefix(`/foo`)",
                "options: optsA",
            ),
        ],
        &[
            ("router-a@file", "optsA@file"),
            ("router-b@file", "optsA@file"),
        ],
    );
    // "no domain in rule, non-default options: forced to default"
    case(
        &[("router-a", "ep-a", "PathPrefix(`/foo`)", "options: optsA")],
        &[("router-a@file", "default")],
    );
    // "no domain in rule, implicit default options" and "explicit default options"
    case(
        &[
            ("router-a", "ep-a", "PathPrefix(`/foo`)", ""),
            ("router-b", "ep-a", "PathPrefix(`/bar`)", "options: default"),
        ],
        &[("router-a@file", "default"), ("router-b@file", "default")],
    );
}

/// router_test.go `TestRuntimeConfiguration`: how many routers, services and middlewares
/// end with an error recorded.
#[test]
fn runtime_configuration_error_counts() {
    let svc = "  services:\n    foo-service:\n      loadBalancer:\n        servers:\n          - url: http://127.0.0.1\n";
    let r = |name: &str, rule: &str, extra: &str| {
        format!("    {name}:\n      entryPoints: [web]\n      service: foo-service\n      rule: \"{rule}\"\n{extra}")
    };
    let cases: Vec<(&str, String, usize)> = vec![
        (
            "No error",
            format!(
                "http:\n  routers:\n{}{}{svc}",
                r("foo", "Host(`bar.foo`)", ""),
                r("bar", "Host(`foo.bar`)", "")
            ),
            0,
        ),
        (
            "One router with wrong rule",
            format!(
                "http:\n  routers:\n{}{}{svc}",
                r("foo", "WrongRule(`bar.foo`)", ""),
                r("bar", "Host(`foo.bar`)", "")
            ),
            1,
        ),
        (
            "All router with wrong rule",
            format!(
                "http:\n  routers:\n{}{}{svc}",
                r("foo", "WrongRule(`bar.foo`)", ""),
                r("bar", "WrongRule(`foo.bar`)", "")
            ),
            2,
        ),
        (
            "Router with unknown service",
            format!(
                "http:\n  routers:\n{}{}{svc}",
                r("foo", "Host(`bar.foo`)", "").replace("foo-service", "wrong-service"),
                r("bar", "Host(`foo.bar`)", "")
            ),
            1,
        ),
        (
            "Router with broken service",
            format!(
                "http:\n  routers:\n{}  services:\n    foo-service: {{}}\n",
                r("bar", "Host(`foo.bar`)", "")
            ),
            2,
        ),
        (
            "Router with middleware",
            format!(
                "http:\n  routers:\n{}{}  middlewares:\n    auth:\n      basicAuth:\n        users: ['admin:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/']\n    addPrefixTest:\n      addPrefix:\n        prefix: /toto\n{svc}",
                r("bar", "Host(`foo.bar`)", "      middlewares: [auth, addPrefixTest]\n"),
                r("test", "Host(`foo.bar.other`)", "      middlewares: [addPrefixTest, auth]\n")
            ),
            0,
        ),
        (
            "Router with unknown middleware",
            format!(
                "http:\n  routers:\n{}  middlewares:\n    auth:\n      basicAuth:\n        users: ['admin:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/']\n{svc}",
                r("bar", "Host(`foo.bar`)", "      middlewares: [unknown]\n")
            ),
            1,
        ),
        (
            "Router with broken middleware",
            format!(
                "http:\n  routers:\n{}  middlewares:\n    auth:\n      basicAuth:\n        users: [foo]\n{svc}",
                r("bar", "Host(`foo.bar`)", "      middlewares: [auth]\n")
            ),
            2,
        ),
        (
            "Router priority exceeding max user-defined priority",
            format!(
                "http:\n  routers:\n{}{svc}",
                r(
                    "bar",
                    "Host(`foo.bar`)",
                    "      priority: 9223372036854775807\n      tls: {}\n"
                )
            ),
            1,
        ),
        (
            "Router with broken tlsOption",
            format!(
                "http:\n  routers:\n{}{svc}tls:\n  options:\n    broken-tlsOption:\n      clientAuth:\n        clientAuthType: foobar\n",
                r("bar", "Host(`foo.bar`)", "      tls:\n        options: broken-tlsOption\n")
            ),
            1,
        ),
        (
            "Router with broken default tlsOption",
            format!(
                "http:\n  routers:\n{}{svc}tls:\n  options:\n    default:\n      clientAuth:\n        clientAuthType: foobar\n",
                r("bar", "Host(`foo.bar`)", "      tls: {}\n")
            ),
            1,
        ),
    ];
    for (desc, yaml, want) in cases {
        let t = table(&[("file", &yaml)], &eps(&["web*"]));
        let a = &t.api();
        let errors = a.routers.values().filter(|i| !i.errors.is_empty()).count()
            + a.services.values().filter(|i| !i.errors.is_empty()).count()
            + a.middlewares
                .values()
                .filter(|i| !i.errors.is_empty())
                .count();
        assert_eq!(errors, want, "{desc}: {:#?}", t.issues);
        let disabled = a
            .routers
            .values()
            .filter(|i| i.status == "disabled")
            .count();
        assert_eq!(t.routes.len(), a.routers.len() - disabled, "{desc}");
    }
}

/// router_test.go `TestProviderOnMiddlewares`: a chain's unqualified members are in the
/// chain's provider, the router's in the router's.
#[test]
fn chain_members_resolve_in_the_chain_provider() {
    let mws = "  middlewares:\n    chain:\n      chain:\n        middlewares: [m1, m2, m1@file]\n    m1:\n      addPrefix:\n        prefix: /m1\n    m2:\n      addPrefix:\n        prefix: /m2\n";
    let file = format!("http:\n  routers:\n    router:\n      entryPoints: [web]\n      rule: Host(`test`)\n      service: test@file\n      middlewares: [chain@file, m1]\n{mws}  services:\n    test:\n      loadBalancer:\n        servers: []\n");
    let docker = format!("http:\n  routers:\n    router:\n      entryPoints: [web]\n      rule: Host(`test`)\n      service: test@file\n      middlewares: [chain, m1@file]\n{mws}");
    let t = table(&[("file", &file), ("docker", &docker)], &eps(&["web*"]));
    let order = |n: &str| -> Vec<String> {
        route(&t, n)
            .middlewares
            .iter()
            .map(|(m, _)| m.clone())
            .collect()
    };
    assert_eq!(
        order("router@file"),
        ["m1@file", "m2@file", "m1@file", "m1@file"]
    );
    assert_eq!(
        order("router@docker"),
        ["m1@docker", "m2@docker", "m1@file", "m1@file"]
    );
}

/// router_test.go `TestProvidersPrecedence` (with Traefik's default `providers.precedence`,
/// which lists docker before file): on equal priority the earlier provider's router wins;
/// a higher priority wins whatever the provider.
#[test]
fn providers_precedence_on_equal_priority() {
    let y = |prio: i64| {
        format!("http:\n  routers:\n    router:\n      entryPoints: [web]\n      rule: Host(`foo.bar`)\n      priority: {prio}\n      service: svc\n{SVC}")
    };
    let t = table(&[("file", &y(0)), ("docker", &y(0))], &eps(&["web*"]));
    assert_eq!(t.routes[0].name, "router@docker");
    let t = table(&[("file", &y(100)), ("docker", &y(10))], &eps(&["web*"]));
    assert_eq!(t.routes[0].name, "router@file");
}

/// runtime_http_test.go `TestGetRoutersByEntryPoints`: a router on an entry point that does
/// not exist keeps the others, with a warning; `using` lists the entry points it is on.
#[test]
fn routers_by_entry_points() {
    let y = format!(
        "http:\n  routers:\n    foo:\n      entryPoints: [web]\n      service: svc\n      rule: Host(`bar.foo`)\n    bar:\n      entryPoints: [webs]\n      service: svc\n      rule: Host(`foo.bar`)\n    foobar:\n      entryPoints: [web, webs]\n      service: svc\n      rule: Host(`bar.foobar`)\n{SVC}"
    );
    // "Valid configuration with a known entrypoint" (web only).
    let t = table(&[("file", &y)], &eps(&["web*"]));
    let a = &t.api().routers;
    assert_eq!(
        (a["foo@file"].status, &a["foo@file"].using[..]),
        ("enabled", &["web".to_owned()][..])
    );
    assert_eq!(a["foobar@file"].status, "warning");
    assert_eq!(a["foobar@file"].using, ["web"]);
    assert_eq!(a["foobar@file"].errors.len(), 1);
    assert!(a["foobar@file"].errors[0].contains("\"webs\""));
    // Not in Traefik's table but its code: no valid entry point disables the router.
    assert_eq!(a["bar@file"].status, "disabled");
    assert_eq!(route_names(&t), ["foo@file", "foobar@file"]);
    // "Valid configuration with multiple known entrypoints".
    let t = table(&[("file", &y)], &eps(&["web*", "webs"]));
    let a = &t.api().routers;
    assert!(a.values().all(|i| i.status == "enabled"));
    assert_eq!(a["foobar@file"].using, ["web", "webs"]);
    assert_eq!(a["bar@file"].using, ["webs"]);
}

/// runtime_test.go `TestPopulateUsedBy`: `usedBy` is every router naming the element (one
/// that is disabled too), sorted; an unknown middleware is in no list.
#[test]
fn populate_used_by() {
    let svc = "  services:\n    foo-service:\n      loadBalancer:\n        servers:\n          - url: http://127.0.0.1\n";
    let r = |name: &str, rule: &str, extra: &str| {
        format!("    {name}:\n      entryPoints: [web]\n      service: foo-service\n      rule: \"{rule}\"\n{extra}")
    };
    let s = eps(&["web*"]);
    // "One service used by two routers, but one router with wrong rule"
    let y = format!(
        "http:\n  routers:\n{}{}{svc}",
        r("foo", "WrongRule(`bar.foo`)", ""),
        r("bar", "Host(`foo.bar`)", "")
    );
    let t = table(&[("myprovider", &y)], &s);
    assert_eq!(
        t.api().services["foo-service@myprovider"].using,
        ["bar@myprovider", "foo@myprovider"]
    );
    // "Broken Service used by one Router"
    let y = format!(
        "http:\n  routers:\n{}  services:\n    foo-service: {{}}\n",
        r("bar", "Host(`foo.bar`)", "")
    );
    let t = table(&[("myprovider", &y)], &s);
    assert_eq!(
        t.api().services["foo-service@myprovider"].using,
        ["bar@myprovider"]
    );
    // "Unknown middleware is not used by the Router" (the service is)
    let y = format!(
        "http:\n  routers:\n{}  middlewares:\n    auth:\n      basicAuth:\n        users: ['admin:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/']\n{svc}",
        r("bar", "Host(`foo.bar`)", "      middlewares: [unknown]\n")
    );
    let t = table(&[("myprovider", &y)], &s);
    assert!(t.api().middlewares["auth@myprovider"].using.is_empty());
    assert_eq!(
        t.api().services["foo-service@myprovider"].using,
        ["bar@myprovider"]
    );
    // "Broken middleware is used by Router"
    let y = format!(
        "http:\n  routers:\n{}  middlewares:\n    auth:\n      basicAuth:\n        users: [badConf]\n{svc}",
        r("bar", "Host(`foo.bar`)", "      middlewares: [auth@myprovider]\n")
    );
    let t = table(&[("myprovider", &y)], &s);
    assert_eq!(
        t.api().middlewares["auth@myprovider"].using,
        ["bar@myprovider"]
    );
    assert_eq!(
        t.api().services["foo-service@myprovider"].using,
        ["bar@myprovider"]
    );
    // "2 middlewares from 2 distinct providers both used by 2 Routers"
    let y = format!(
        "http:\n  routers:\n{}{}  middlewares:\n    auth:\n      basicAuth:\n        users: ['admin:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/']\n    addPrefixTest:\n      addPrefix:\n        prefix: /titi\n{svc}",
        r("test", "Host(`foo.bar.other`)", "      middlewares: [addPrefixTest, auth]\n"),
        r("bar", "Host(`foo.bar`)", "      middlewares: [auth, addPrefixTest@anotherprovider]\n")
    );
    let other =
        "http:\n  middlewares:\n    addPrefixTest:\n      addPrefix:\n        prefix: /toto\n";
    let t = table(&[("myprovider", &y), ("anotherprovider", other)], &s);
    let m = &t.api().middlewares;
    assert_eq!(
        m["auth@myprovider"].using,
        ["bar@myprovider", "test@myprovider"]
    );
    assert_eq!(m["addPrefixTest@myprovider"].using, ["test@myprovider"]);
    assert_eq!(m["addPrefixTest@anotherprovider"].using, ["bar@myprovider"]);
    assert_eq!(
        t.api().services["foo-service@myprovider"].using,
        ["bar@myprovider", "test@myprovider"]
    );
    // Across providers, the list is sorted by name (Traefik's `sort.Strings`).
    let user = |n: &str| {
        format!("http:\n  routers:\n    {n}:\n      entryPoints: [web]\n      service: foo-service@aaa\n      rule: Host(`{n}`)\n")
    };
    let t = table(
        &[
            ("aaa", &format!("http:\n{svc}")),
            ("zzz", &user("a")),
            ("bbb", &user("b")),
        ],
        &s,
    );
    assert_eq!(
        t.api().services["foo-service@aaa"].using,
        ["a@zzz", "b@bbb"]
    );
}

/// service_test.go `TestGetLoadBalancer`, `TestMultipleTypeOnBuildHTTP`: which services fail.
#[test]
fn load_balancers_that_fail() {
    let cases = [
        (
            "Fails when provided an invalid URL",
            "loadBalancer:\n        servers:\n          - url: \":\"\n",
            false,
        ),
        (
            "Succeeds when there are no servers",
            "loadBalancer:\n        strategy: wrr\n",
            true,
        ),
        (
            "Succeeds when p2c strategy is set",
            "loadBalancer:\n        strategy: p2c\n        servers:\n          - url: http://localhost:8080\n",
            true,
        ),
        (
            "Succeeds when hrw strategy is set",
            "loadBalancer:\n        strategy: hrw\n        servers:\n          - url: http://localhost:8080\n",
            true,
        ),
        (
            "Succeeds when leasttime strategy is set",
            "loadBalancer:\n        strategy: leasttime\n        servers:\n          - url: http://localhost:8080\n",
            true,
        ),
        (
            "Succeeds when sticky.cookie is set",
            "loadBalancer:\n        sticky:\n          cookie: {}\n",
            true,
        ),
        (
            "Fails when unsupported strategy is set",
            "loadBalancer:\n        strategy: invalid\n        servers:\n          - url: http://localhost:8080\n",
            false,
        ),
        (
            "multi-types service not supported",
            "loadBalancer: {}\n      weighted:\n        services: []\n",
            false,
        ),
    ];
    for (desc, svc, ok) in cases {
        let y = format!("http:\n  routers:\n    r:\n      rule: Host(`a`)\n      service: test\n  services:\n    test:\n      {svc}");
        let t = table(&[("file", &y)], &eps(&["web*"]));
        let info = &t.api().services["test@file"];
        assert_eq!(
            info.status == "enabled",
            ok,
            "{desc}: {info:?} {:?}",
            t.issues
        );
        assert_eq!(t.routes.len() == 1, ok, "{desc}");
    }
}

/// A provider's `http.middlewares` from `(name, definition)`: `h` is a `headers` middleware
/// setting a request header of its name (Traefik's tests' `customRequestHeaders`),
/// `chain:a,b` a chain, `ok` any other valid middleware, `empty` one without a type, any
/// other text the YAML of its body.
fn middlewares_yaml(defs: &[(&str, &str)]) -> String {
    let mut y = String::from("  middlewares:\n");
    for (name, def) in defs {
        let body = match *def {
            "h" => {
                format!("headers:\n        customRequestHeaders:\n          {name}: value-{name}\n")
            }
            "ok" => "addPrefix:\n        prefix: /ok\n".to_owned(),
            "empty" => "{}\n".to_owned(),
            d => match d.strip_prefix("chain:") {
                Some(list) => format!("chain:\n        middlewares: [{list}]\n"),
                None => d.to_owned(),
            },
        };
        let sep = if body.starts_with('{') {
            " "
        } else {
            "\n      "
        };
        y.push_str(&format!("    {name}:{sep}{body}"));
    }
    y
}

/// pkg/server/middleware/middlewares_test.go: the middlewares a router ends with when its
/// list names chains, in its provider or others (`TestBuilder_BuildChainWithContext`,
/// Traefik's `contextProvider` the router's provider), the recursion it refuses, and
/// missing or typeless middlewares (`TestBuilder_BuildChainNilConfig`,
/// `TestBuilder_BuildChainNonExistentChain`). Traefik's `ok` is a `retry` with no
/// attempts, which neither builds (it comes after the recursion in the chain); any valid
/// middleware here.
#[test]
fn build_chain_with_context() {
    // (case, the router's provider and middlewares, middlewares by provider, the router's
    // middlewares in order, or words of its error).
    type Row<'a> = (
        &'a str,
        (&'a str, &'a str),
        &'a [(&'a str, &'a [(&'a str, &'a str)])],
        Result<&'a [&'a str], &'a [&'a str]>,
    );
    let rows: &[Row<'_>] = &[
        (
            "Simple middleware",
            ("file", "[middleware-1]"),
            &[("file", &[("middleware-1", "h")])],
            Ok(&["middleware-1@file"]),
        ),
        (
            "Middleware that references a chain",
            ("file", "[middleware-chain-1]"),
            &[(
                "file",
                &[("middleware-1", "h"), ("middleware-chain-1", "chain:middleware-1")],
            )],
            Ok(&["middleware-1@file"]),
        ),
        (
            "Should suffix the middlewareName with the provider in the context",
            ("provider-1", "[middleware-1]"),
            &[("provider-1", &[("middleware-1", "h")])],
            Ok(&["middleware-1@provider-1"]),
        ),
        (
            "Should not suffix a qualified middlewareName with the provider in the context",
            ("provider-1", "[middleware-1@provider-1]"),
            &[("provider-1", &[("middleware-1", "h")])],
            Ok(&["middleware-1@provider-1"]),
        ),
        (
            "Should be context aware if a chain references another middleware",
            ("provider-2", "[middleware-chain-1@provider-1]"),
            &[(
                "provider-1",
                &[("middleware-1", "h"), ("middleware-chain-1", "chain:middleware-1")],
            )],
            Ok(&["middleware-1@provider-1"]),
        ),
        (
            "Should handle nested chains with different context",
            ("provider-2", "[middleware-chain-1@provider-1, middleware-chain-1]"),
            &[
                (
                    "provider-1",
                    &[
                        ("middleware-1", "h"),
                        ("middleware-2", "h"),
                        ("middleware-chain-1", "chain:middleware-1"),
                        ("middleware-chain-2", "chain:middleware-2"),
                    ],
                ),
                (
                    "provider-2",
                    &[(
                        "middleware-chain-1",
                        "chain:middleware-2@provider-1, middleware-chain-2@provider-1",
                    )],
                ),
            ],
            Ok(&[
                "middleware-1@provider-1",
                "middleware-2@provider-1",
                "middleware-2@provider-1",
            ]),
        ),
        (
            "Detects recursion in Middleware chain",
            ("file", "[m1]"),
            &[(
                "file",
                &[("ok", "ok"), ("m1", "chain:m2"), ("m2", "chain:ok, m3"), ("m3", "chain:m1")],
            )],
            Err(&["m1@file -> m2@file -> m3@file -> m1@file"]),
        ),
        (
            "Detects recursion in Middleware chain (across providers)",
            ("provider", "[m1@provider]"),
            &[
                ("provider", &[("m1", "chain:m2@provider2"), ("m3", "chain:m1")]),
                ("provider2", &[("ok", "ok"), ("m2", "chain:ok, m3@provider")]),
            ],
            Err(&["m1@provider -> m2@provider2 -> m3@provider -> m1@provider"]),
        ),
        (
            "Detects recursion in Middleware chain (after a valid one)",
            ("file", "[ok, m0]"),
            &[("file", &[("ok", "ok"), ("m0", "chain:m0")])],
            Err(&["m0@file -> m0@file"]),
        ),
        (
            "Detects MiddlewareChain that references a Chain that references a Chain with a missing middleware",
            ("file", "[m0]"),
            &[(
                "file",
                &[("m0", "chain:m1"), ("m1", "chain:m2"), ("m2", "chain:m3"), ("m3", "chain:m2")],
            )],
            Err(&["m0@file -> m1@file -> m2@file -> m3@file -> m2@file"]),
        ),
        (
            "--",
            ("file", "[m0]"),
            &[("file", &[("m0", "chain:m0")])],
            Err(&["m0@file -> m0@file"]),
        ),
        (
            "TestBuilder_BuildChainNilConfig",
            ("file", "[empty]"),
            &[("file", &[("empty", "empty")])],
            Err(&["\"empty@file\"", "does not exist or is broken"]),
        ),
        (
            "TestBuilder_BuildChainNonExistentChain",
            ("file", "[empty]"),
            &[("file", &[("foobar", "ok")])],
            Err(&["\"empty@file\"", "does not exist"]),
        ),
    ];
    for (case, (provider, list), providers, want) in rows {
        let mut yamls: Vec<(String, String)> = providers
            .iter()
            .map(|(p, defs)| {
                (
                    (*p).to_owned(),
                    format!("http:\n{}", middlewares_yaml(defs)),
                )
            })
            .collect();
        let router = format!(
            "  routers:\n    r:\n      rule: Host(`a`)\n      service: svc\n      middlewares: {list}\n{SVC}"
        );
        match yamls.iter_mut().find(|(p, _)| p == provider) {
            Some((_, y)) => y.push_str(&router),
            None => yamls.push(((*provider).to_owned(), format!("http:\n{router}"))),
        }
        let refs: Vec<(&str, &str)> = yamls
            .iter()
            .map(|(p, y)| (p.as_str(), y.as_str()))
            .collect();
        let t = table(&refs, &eps(&["web*"]));
        let name = format!("r@{provider}");
        match want {
            Ok(order) => {
                let got: Vec<&str> = route(&t, &name)
                    .middlewares
                    .iter()
                    .map(|(m, _)| m.as_str())
                    .collect();
                assert_eq!(got, *order, "{case}");
            }
            Err(words) => {
                assert!(!route_names(&t).contains(&name.as_str()), "{case}");
                let e = &t.api().routers[&name].errors;
                assert!(
                    words.iter().all(|w| e.iter().any(|m| m.contains(w))),
                    "{case}: {e:?}"
                );
            }
        }
    }
}

/// middlewares_test.go `TestBuilder_buildConstructor`: which definitions build. (case,
/// middleware, builds.) Traefik's `ap-foo` (prefix `foo/`) is refused here: a prefix must
/// start with `/` (README, `addprefix.prefix`).
#[test]
fn build_constructor() {
    let rows: &[(&str, &str, bool)] = &[
        (
            "Should fail at creating a circuit breaker with an empty expression",
            "circuitBreaker:\n        expression: ''\n",
            false,
        ),
        (
            "Should create a circuit breaker with a valid expression",
            "circuitBreaker:\n        expression: NetworkErrorRatio() > 0.5\n",
            true,
        ),
        (
            "Should create a buffering middleware",
            "buffering:\n        maxRequestBodyBytes: 1\n        memRequestBodyBytes: 2\n        maxResponseBodyBytes: 3\n        memResponseBodyBytes: 5\n",
            true,
        ),
        (
            "Should not create an empty AddPrefix middleware when given an empty prefix",
            "addPrefix:\n        prefix: ''\n",
            false,
        ),
        ("AddPrefix foo/ (refused here, README)", "addPrefix:\n        prefix: foo/\n", false),
        ("AddPrefix /foo/", "addPrefix:\n        prefix: /foo/\n", true),
    ];
    for (case, def, builds) in rows {
        let y = format!(
            "http:\n{}  routers:\n    r:\n      rule: Host(`a`)\n      service: svc\n      middlewares: [m]\n{SVC}",
            middlewares_yaml(&[("m", def)])
        );
        let t = table(&[("file", &y)], &eps(&["web*"]));
        assert_eq!(
            route_names(&t).contains(&"r@file"),
            *builds,
            "{case}: {:?}",
            t.issues
        );
    }
}

/// pkg/server/router/tcp/manager_test.go `TestRuntimeConfiguration`: how many TCP (and
/// HTTP) routers and services end with an error recorded, with the TLS options `foo`
/// (TLS 1.2 and up) and `bar` (TLS 1.1 and up: the router offers 1.2 and up, with a
/// warning, README) defined.
#[test]
fn tcp_runtime_configuration_error_counts() {
    let svc = "  services:\n    foo-service:\n      loadBalancer:\n        servers:\n          - address: 127.0.0.1:8085\n          - address: 127.0.0.1:8086\n";
    let r = |name: &str, rule: &str, extra: &str| {
        format!("    {name}:\n      entryPoints: [web]\n      service: foo-service\n      rule: \"{rule}\"\n{extra}")
    };
    let opts = "tls:\n  options:\n    default:\n      minVersion: VersionTLS10\n    foo:\n      minVersion: VersionTLS12\n    bar:\n      minVersion: VersionTLS11\n";
    let tls = |o: &str| format!("      tls:\n        options: {o}\n");
    let plain_tls = "      tls: {}\n";
    let cases: Vec<(&str, String, usize)> = vec![
        (
            "No error",
            format!(
                "tcp:\n  routers:\n{}{}{svc}",
                r("foo", "HostSNI(`bar.foo`)", &tls("foo")),
                r("bar", "HostSNI(`foo.bar`)", &tls("bar"))
            ),
            0,
        ),
        (
            "Non-ASCII domain error",
            format!(
                "tcp:\n  routers:\n{}{svc}",
                r("foo", "HostSNI(`bàr.foo`)", &tls("foo"))
            ),
            1,
        ),
        (
            "HTTP routers with same domain but different TLS options",
            format!(
                "http:\n  routers:\n    foo:\n      entryPoints: [web]\n      service: foo-service\n      rule: Host(`bar.foo`)\n{}    bar:\n      entryPoints: [web]\n      service: foo-service\n      rule: Host(`bar.foo`) && PathPrefix(`/path`)\n{}  services:\n    foo-service:\n      loadBalancer:\n        servers:\n          - url: http://127.0.0.1:8085\n",
                tls("foo"),
                tls("bar")
            ),
            2,
        ),
        (
            "One router with wrong rule",
            format!(
                "tcp:\n  routers:\n{}{}{svc}",
                r("foo", "WrongRule(`bar.foo`)", ""),
                r("bar", "HostSNI(`foo.bar`)", plain_tls)
            ),
            1,
        ),
        (
            "All router with wrong rule",
            format!(
                "tcp:\n  routers:\n{}{}{svc}",
                r("foo", "WrongRule(`bar.foo`)", ""),
                r("bar", "WrongRule(`foo.bar`)", "")
            ),
            2,
        ),
        (
            "Router with unknown service",
            format!(
                "tcp:\n  routers:\n{}{}{svc}",
                r("foo", "HostSNI(`bar.foo`)", plain_tls).replace("foo-service", "wrong-service"),
                r("bar", "HostSNI(`foo.bar`)", plain_tls)
            ),
            1,
        ),
        (
            "Router with broken service",
            format!(
                "tcp:\n  routers:\n{}  services:\n    foo-service: {{}}\n",
                r("bar", "HostSNI(`foo.bar`)", plain_tls)
            ),
            2,
        ),
        (
            "Router with priority exceeding the max user-defined priority",
            format!(
                "tcp:\n  routers:\n{}{svc}",
                r(
                    "bar",
                    "HostSNI(`foo.bar`)",
                    "      tls: {}\n      priority: 9223372036854775807\n"
                )
            ),
            1,
        ),
        (
            "Router with HostSNI but no TLS",
            format!(
                "tcp:\n  routers:\n{}{svc}",
                r("foo", "HostSNI(`bar.foo`)", "")
            ),
            1,
        ),
    ];
    for (desc, yaml, want) in cases {
        let t = table(&[("file", &format!("{yaml}{opts}"))], &eps(&["web*"]));
        let a = &t.api();
        let errors = a.routers.values().filter(|i| !i.errors.is_empty()).count()
            + a.services.values().filter(|i| !i.errors.is_empty()).count()
            + a.tcp_routers
                .values()
                .filter(|i| !i.errors.is_empty())
                .count()
            + a.tcp_services
                .values()
                .filter(|i| !i.errors.is_empty())
                .count();
        assert_eq!(errors, want, "{desc}: {:#?}", t.issues);
    }
}
