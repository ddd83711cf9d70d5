//! Traefik's API tables (pkg/api/handler_*_test.go with their testdata fixtures), as data:
//! each Go test's runtime configuration written again as a dynamic file, and the fields and
//! values its JSON fixture holds, checked on what our pure builders answer. The provider is
//! `file` here (Traefik's tests use `myprovider`), the entry point `https`.

use super::*;

/// The routers, services and middlewares of handler_http_test.go's tables: `test` (fii),
/// `bar` (foo, with `auth` first), `baz` (TLS without options), `tlsfoo` (TLS options `foo`),
/// `foo / bar` (a name with a slash), `broken` (disabled: its service does not exist).
const HTTP: &str = "http:
  routers:
    test:
      rule: Host(`fii.bar.other`)
      service: fii-service
      middlewares: [addPrefixTest, auth]
    bar:
      rule: Host(`foo.bar`)
      service: foo-service
      middlewares: [auth, addPrefixTest]
    baz:
      rule: Host(`foo.baz`)
      service: foo-service
      tls: {}
    tlsfoo:
      rule: Host(`foo.tls`)
      service: foo-service
      priority: 12
      tls:
        options: foo
    'foo / bar':
      rule: Host(`foo.slash`)
      service: fii-service@file
    broken:
      rule: Host(`foo.broken`)
      service: missing
  services:
    foo-service:
      loadBalancer:
        servers: [{url: 'http://127.0.0.1:80'}]
    fii-service:
      loadBalancer:
        servers: [{url: 'http://127.0.0.2:80'}]
  middlewares:
    auth:
      basicAuth:
        users: ['admin:{SHA}0DPiKuNIrrVmD8IUCuw1hQxNqZc=']
    addPrefixTest:
      addPrefix:
        prefix: /titi
tls:
  options:
    foo:
      minVersion: VersionTLS12
";

fn config() -> Config {
    Config::from_env(&std::collections::HashMap::new()).unwrap_or_else(|e| panic!("{e}"))
}

/// `GET path?query` on the table `yaml` compiles to.
fn get(yaml: &str, path: &str, query: Option<&str>) -> ApiAnswer {
    let table = crate::provider::file::compile_yaml(yaml, &[]);
    answer(path, query, &table, &config())
}

/// The `name` of each element of a list answer.
fn names(a: &ApiAnswer) -> Vec<String> {
    a.body
        .as_array()
        .map(|l| {
            l.iter()
                .map(|v| v["name"].as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// `n` routers named `r00`.., each to `s`.
fn many_routers(n: usize) -> String {
    let mut y = String::from("http:\n  routers:\n");
    for i in 0..n {
        y += &format!("    r{i:02}:\n      rule: Host(`r{i}.test`)\n      service: s\n");
    }
    y + "  services:\n    s:\n      loadBalancer:\n        servers: [{url: 'http://10.0.0.1:80'}]\n"
}

// handler_http_test.go TestHandler_HTTP: "all routers" (routers.json), "one router by id"
// (router-bar.json): each router has its definition's fields, `name`, `provider`,
// `priorityStr`, `status` and `using`. The fixtures are runtime configurations handed to the
// handler as they are; a running Traefik's router manager has changed them first
// (pkg/server/router/router.go): an unset priority becomes the rule's length, and
// `middlewares` are qualified with the router's provider. That is what is checked here.
#[test]
fn http_router_fields() {
    let a = get(HTTP, "/api/http/routers/bar@file", None);
    assert_eq!(a.status, StatusCode::OK);
    let r = &a.body;
    for (field, want) in [
        ("name", json!("bar@file")),
        ("provider", json!("file")),
        ("rule", json!("Host(`foo.bar`)")),
        ("service", json!("foo-service")),
        ("middlewares", json!(["auth@file", "addPrefixTest@file"])),
        ("entryPoints", json!(["https"])),
        ("status", json!("enabled")),
        ("using", json!(["https"])),
        ("priority", json!(15)),
        ("priorityStr", json!("15")),
    ] {
        assert_eq!(r[field], want, "{field}: {r}");
    }
    assert!(r.get("tls").is_none(), "{r}");
    assert!(r.get("error").is_none(), "{r}");
    let t = get(HTTP, "/api/http/routers/tlsfoo@file", None).body;
    assert_eq!(
        (&t["priority"], &t["priorityStr"]),
        (&json!(12), &json!("12"))
    );
    // runtime_http.go: a router's entry points are noted before it is built, so a disabled
    // one (its service is missing) keeps its `using`.
    let b = get(HTTP, "/api/http/routers/broken@file", None).body;
    assert_eq!(b["status"], json!("disabled"), "{b}");
    assert!(b["using"].as_array().is_some_and(|u| !u.is_empty()), "{b}");
    let all = get(HTTP, "/api/http/routers", None);
    assert_eq!(all.next_page, Some(1));
    assert_eq!(
        names(&all),
        [
            "bar@file",
            "baz@file",
            "broken@file",
            "foo / bar@file",
            "test@file",
            "tlsfoo@file"
        ]
    );
}

// TestHandler_HTTP: "one router by id, implicitly using default TLS options"
// (router-baz-default-tls-options.json) and "using specific TLS options"
// (router-baz-custom-tls-options.json).
#[test]
fn http_router_tls_options() {
    for (name, want) in [("baz@file", "default"), ("tlsfoo@file", "foo")] {
        let r = get(HTTP, &format!("/api/http/routers/{name}"), None).body;
        assert_eq!(r["tls"]["options"], want, "{name}: {r}");
    }
}

// TestHandler_HTTP: "one router by id containing slash" (router-foo-slash-bar.json: the
// name path-escaped, `@` too), and "one router by id, that does not exist" (404).
#[test]
fn http_element_by_escaped_name_and_404() {
    for path in [
        "/api/http/routers/foo%20%2F%20bar%40file",
        "/api/http/routers/foo%20%2F%20bar@file",
    ] {
        let a = get(HTTP, path, None);
        assert_eq!(a.status, StatusCode::OK, "{path}");
        assert_eq!(a.body["name"], "foo / bar@file");
    }
    for (path, message) in [
        ("/api/http/routers/nope@file", "router not found: nope@file"),
        (
            "/api/http/services/nope@file",
            "service not found: nope@file",
        ),
        (
            "/api/http/middlewares/nope@file",
            "middleware not found: nope@file",
        ),
        ("/api/entrypoints/nope", "entry point not found: nope"),
        ("/api/tcp/routers/nope@file", "router not found: nope@file"),
        (
            "/api/tcp/services/nope@file",
            "service not found: nope@file",
        ),
        (
            "/api/tcp/middlewares/nope@file",
            "middleware not found: nope@file",
        ),
        ("/api/udp/routers/nope@file", "router not found: nope@file"),
        (
            "/api/udp/services/nope@file",
            "service not found: nope@file",
        ),
    ] {
        let a = get(HTTP, path, None);
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(a.body, json!({ "message": message }), "{path}");
    }
}

// TestHandler_HTTP: "routers filtered by status" (status=enabled), "by search" (search=fii:
// in the rule or the name), "by service" (serviceName=fii-service@myprovider: a router's
// unqualified `fii-service` and its qualified one), "by middleware" (middlewareName=auth).
#[test]
fn http_router_filters() {
    for (query, want) in [
        (
            "status=enabled",
            &[
                "bar@file",
                "baz@file",
                "foo / bar@file",
                "test@file",
                "tlsfoo@file",
            ][..],
        ),
        ("status=disabled", &["broken@file"][..]),
        ("status=DISABLED", &["broken@file"][..]),
        ("search=fii", &["test@file"][..]),
        ("search=FOO.B", &["bar@file", "baz@file", "broken@file"][..]),
        ("search=slash", &["foo / bar@file"][..]),
        (
            "serviceName=fii-service@file",
            &["foo / bar@file", "test@file"][..],
        ),
        ("serviceName=fii-service@other", &["test@file"][..]),
        // By the qualified names a running Traefik lists (the fixture's are unqualified).
        ("middlewareName=auth@file", &["bar@file", "test@file"][..]),
        ("middlewareName=auth", &[][..]),
        (
            "middlewareName=addPrefixTest@file",
            &["bar@file", "test@file"][..],
        ),
        ("middlewareName=nope", &[][..]),
        ("search=fii&status=disabled", &[][..]),
        (
            "search=&status=",
            &[
                "bar@file",
                "baz@file",
                "broken@file",
                "foo / bar@file",
                "test@file",
                "tlsfoo@file",
            ][..],
        ),
    ] {
        let a = get(HTTP, "/api/http/routers", Some(query));
        assert_eq!(a.status, StatusCode::OK, "{query}");
        assert_eq!(names(&a), want, "{query}");
    }
}

// TestHandler_HTTP pagination: "1 res per page, want page 2" (X-Next-Page 3), "19 results
// overall, 7 res per page, want page 3" (the last page: 5, X-Next-Page 1), "5 results
// overall, 10 res per page, want page 2" and "10 results, 10 per page, page 2" (400), and
// "all routers, but no config" (an empty list, X-Next-Page 1).
#[test]
fn pagination() {
    let three = many_routers(3);
    let a = get(&three, "/api/http/routers", Some("page=2&per_page=1"));
    assert_eq!((names(&a), a.next_page), (vec!["r01@file".into()], Some(3)));
    let nineteen = many_routers(19);
    let a = get(&nineteen, "/api/http/routers", Some("page=3&per_page=7"));
    assert_eq!(
        (names(&a), a.next_page),
        (
            ["r14", "r15", "r16", "r17", "r18"]
                .map(|n| format!("{n}@file"))
                .to_vec(),
            Some(1)
        )
    );
    for n in [5, 10] {
        let a = get(
            &many_routers(n),
            "/api/http/routers",
            Some("page=2&per_page=10"),
        );
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{n}");
        assert_eq!(
            a.body["message"], "invalid request: page: 2, per_page: 10",
            "{n}"
        );
    }
    for path in [
        "/api/http/routers",
        "/api/http/services",
        "/api/http/middlewares",
        "/api/tcp/routers",
        "/api/tcp/services",
        "/api/tcp/middlewares",
        "/api/udp/routers",
        "/api/udp/services",
    ] {
        let a = get("{}", path, None);
        assert_eq!((&a.body, a.next_page), (&json!([]), Some(1)), "{path}");
    }
}

// TestHandler_HTTP: "all services" (services.json), "one service by id" (service-bar.json):
// `loadBalancer` as defined (`passHostHeader` true by default), `name`, `provider`,
// `status`, `type` `loadbalancer`, `serverStatus` (server to `UP`), `usedBy` (routers, by
// name); "services filtered by status" and "by search" (in the name alone).
#[test]
fn http_services() {
    let s = get(HTTP, "/api/http/services/foo-service@file", None).body;
    for (field, want) in [
        ("name", json!("foo-service@file")),
        ("provider", json!("file")),
        ("status", json!("enabled")),
        ("type", json!("loadbalancer")),
        ("serverStatus", json!({ "http://127.0.0.1:80": "UP" })),
    ] {
        assert_eq!(s[field], want, "{field}: {s}");
    }
    assert_eq!(s["loadBalancer"]["passHostHeader"], true, "{s}");
    assert_eq!(
        s["loadBalancer"]["servers"],
        json!([{ "url": "http://127.0.0.1:80" }]),
        "{s}"
    );
    assert_eq!(
        s["usedBy"],
        json!(["bar@file", "baz@file", "tlsfoo@file"]),
        "{s}"
    );
    for (query, want) in [
        ("search=fii", &["fii-service@file"][..]),
        (
            "status=enabled",
            &["fii-service@file", "foo-service@file"][..],
        ),
        ("status=disabled", &[][..]),
    ] {
        let a = get(HTTP, "/api/http/services", Some(query));
        assert_eq!(names(&a), want, "{query}");
    }
}

// TestHandler_HTTP: "all middlewares" (middlewares.json), "one middleware by id"
// (middleware-auth.json): the definition under its key, `type` that key in lower case,
// `usedBy`; "middlewares filtered by status" and "by search".
#[test]
fn http_middlewares() {
    let m = get(HTTP, "/api/http/middlewares/auth@file", None).body;
    assert_eq!(m["type"], "basicauth", "{m}");
    assert!(m["basicAuth"]["users"].is_array(), "{m}");
    assert_eq!(m["usedBy"], json!(["bar@file", "test@file"]), "{m}");
    assert_eq!(
        (&m["provider"], &m["status"]),
        (&json!("file"), &json!("enabled"))
    );
    let p = get(HTTP, "/api/http/middlewares/addPrefixTest@file", None).body;
    assert_eq!(p["type"], "addprefix");
    assert_eq!(p["addPrefix"], json!({ "prefix": "/titi" }));
    for (query, want) in [
        ("search=add", &["addPrefixTest@file"][..]),
        ("status=enabled", &["addPrefixTest@file", "auth@file"][..]),
    ] {
        let a = get(HTTP, "/api/http/middlewares", Some(query));
        assert_eq!(names(&a), want, "{query}");
    }
}

/// handler_tcp_test.go's and handler_udp_test.go's configuration, shortened: TCP routers
/// `bar` (with the middleware `ipallowlist`) and `test`, a disabled one, UDP `bar`.
const STREAM: &str = "tcp:
  routers:
    bar:
      rule: HostSNI(`*`)
      service: foo-service
      middlewares: [ipallowlist]
    test:
      rule: HostSNI(`*`)
      service: foo-service@file
      priority: 5
    broken:
      rule: HostSNI(`*`)
      service: missing
  services:
    foo-service:
      loadBalancer:
        servers: [{address: '127.0.0.1:2345'}]
  middlewares:
    ipallowlist:
      ipAllowList:
        sourceRange: [127.0.0.1/32]
udp:
  routers:
    bar:
      service: foo-service
  services:
    foo-service:
      loadBalancer:
        servers: [{address: '127.0.0.1:2345'}]
";

// handler_tcp_test.go TestHandler_TCP: "one TCP router by id" (tcprouter-bar.json),
// "TCP routers filtered by status", "by search", "by service"; "one TCP service by id"
// (tcpservice-bar.json: `type`, `usedBy`); "one TCP middleware by id"
// (tcpmiddleware-ipallowlist.json).
#[test]
fn tcp_elements() {
    let r = get(STREAM, "/api/tcp/routers/bar@file", None).body;
    for (field, want) in [
        ("name", json!("bar@file")),
        ("provider", json!("file")),
        ("rule", json!("HostSNI(`*`)")),
        ("service", json!("foo-service")),
        ("status", json!("enabled")),
        ("middlewares", json!(["ipallowlist@file"])),
        // The catch-all's default priority, as Traefik's TCP router manager sets it.
        ("priority", json!(-1)),
        ("priorityStr", json!("-1")),
    ] {
        assert_eq!(r[field], want, "{field}: {r}");
    }
    for (query, want) in [
        ("status=enabled", &["bar@file", "test@file"][..]),
        ("status=disabled", &["broken@file"][..]),
        ("search=tes", &["test@file"][..]),
        (
            "serviceName=foo-service@file",
            &["bar@file", "test@file"][..],
        ),
        // "TCP routers filtered by middleware" (tcprouters-filtered-middlewareName.json).
        ("middlewareName=ipallowlist@file", &["bar@file"][..]),
        ("middlewareName=ipallowlist", &[][..]),
        ("middlewareName=nope", &[][..]),
    ] {
        let a = get(STREAM, "/api/tcp/routers", Some(query));
        assert_eq!(names(&a), want, "{query}");
    }
    let t = get(STREAM, "/api/tcp/routers/test@file", None).body;
    assert_eq!(
        (&t["priority"], &t["priorityStr"]),
        (&json!(5), &json!("5"))
    );
    let s = get(STREAM, "/api/tcp/services/foo-service@file", None).body;
    assert_eq!(s["type"], "loadbalancer", "{s}");
    assert_eq!(s["usedBy"], json!(["bar@file", "test@file"]), "{s}");
    assert_eq!(
        s["loadBalancer"]["servers"],
        json!([{ "address": "127.0.0.1:2345" }])
    );
    let m = get(STREAM, "/api/tcp/middlewares/ipallowlist@file", None).body;
    assert_eq!(m["type"], "ipallowlist", "{m}");
    assert_eq!(m["usedBy"], json!(["bar@file"]), "{m}");
}

// handler_udp_test.go TestHandler_UDP: "one UDP router by id" (udprouter-bar.json: no
// `rule`, no `priorityStr`), "one UDP service by id" (udpservice-bar.json).
#[test]
fn udp_elements() {
    let r = get(STREAM, "/api/udp/routers/bar@file", None).body;
    assert_eq!(
        (&r["name"], &r["service"]),
        (&json!("bar@file"), &json!("foo-service"))
    );
    assert!(
        r.get("priorityStr").is_none() && r.get("rule").is_none(),
        "{r}"
    );
    // keepUDPRouter reads no `middlewareName`.
    let a = get(STREAM, "/api/udp/routers", Some("middlewareName=nope"));
    assert_eq!(names(&a), ["bar@file"]);
    let s = get(STREAM, "/api/udp/services/foo-service@file", None).body;
    assert_eq!(s["type"], "loadbalancer", "{s}");
    assert_eq!(s["usedBy"], json!(["bar@file"]), "{s}");
}

// handler_overview_test.go TestHandler_Overview: "without data in the dynamic
// configuration" (overview-empty.json: every section's `total`, `warnings`, `errors` at 0,
// `features` with `tracing`, `metrics`, `accessLog`), "with data" (overview-dynamic.json:
// `errors` counts the disabled ones), "with providers" (overview-providers.json: by name).
#[test]
fn overview_sections() {
    let zero = json!({ "total": 0, "warnings": 0, "errors": 0 });
    let o = get("{}", "/api/overview", None).body;
    for (scheme, kinds) in [
        ("http", &["routers", "services", "middlewares"][..]),
        ("tcp", &["routers", "services", "middlewares"][..]),
        ("udp", &["routers", "services"][..]),
    ] {
        for k in kinds {
            assert_eq!(o[scheme][k], zero, "{scheme}.{k}");
        }
    }
    assert_eq!(o["features"]["tracing"], "");
    assert!(o["features"]["metrics"].is_string() && o["features"]["accessLog"].is_boolean());
    assert_eq!(o["providers"], json!(["Docker"]));
    let o = get(HTTP, "/api/overview", None).body;
    assert_eq!(
        o["http"]["routers"],
        json!({ "total": 6, "warnings": 0, "errors": 1 })
    );
    assert_eq!(o["http"]["services"]["total"], 2);
}

// handler_entrypoint_test.go TestHandler_EntryPoints: "all entry points" (entrypoints.json:
// each with `name` and `address`), "one entry point by id" (entrypoint-bar.json), "one entry
// point by id, that does not exist" (404).
#[test]
fn entry_points() {
    let a = get("{}", "/api/entrypoints", None);
    assert_eq!(a.next_page, Some(1));
    assert_eq!(names(&a), ["web", "websecure"]);
    let w = get("{}", "/api/entrypoints/web", None).body;
    assert_eq!(
        (&w["name"], &w["address"]),
        (&json!("web"), &json!("0.0.0.0:8080"))
    );
    assert!(w["http"].is_object());
    let a = get("{}", "/api/entrypoints", Some("page=2&per_page=1"));
    assert_eq!(
        (names(&a), a.next_page),
        (vec!["websecure".into()], Some(1))
    );
}

/// Routers for sort_test.go's orders: `a` and `b` at priority 2, `c` and `d` at 1 (`d`
/// disabled: no such service), rules and services out of name order, `b` on two entry
/// points; services `lb1` (two servers), `lb2` (one), `w` (weighted); middlewares of two
/// types.
const SORTS: &str = "http:
  routers:
    a:
      rule: Host(`z.test`)
      service: s2
      priority: 2
    b:
      rule: Host(`y.test`)
      service: s1
      priority: 2
      entryPoints: [https, web]
    c:
      rule: Host(`y.test`)
      service: s1
      priority: 1
    d:
      rule: Host(`x.test`)
      service: missing
      priority: 1
  services:
    s1:
      loadBalancer:
        servers: [{url: 'http://10.0.0.1:80'}, {url: 'http://10.0.0.2:80'}]
    s2:
      loadBalancer:
        servers: [{url: 'http://10.0.0.3:80'}]
    w:
      weighted:
        services: [{name: s1, weight: 1}]
  middlewares:
    m1:
      stripPrefix:
        prefixes: [/a]
    m2:
      addPrefix:
        prefix: /b
    m3:
      addPrefix:
        prefix: /c
";

// sort_test.go TestSortRouters (by name, provider, priority, status, rule, service,
// entryPoints; asc and desc, equal values by name in the same direction), TestSortServices
// (name, type, servers, provider, status), TestSortMiddlewares (name, type, provider,
// status); an unknown or absent sortBy is by name.
#[test]
fn sorting() {
    let yaml = SORTS.replace("entryPoints: [https, web]", "entryPoints: [https, https]");
    for (path, query, want) in [
        ("/api/http/routers", "", "a b c d"),
        ("/api/http/routers", "sortBy=name&direction=desc", "d c b a"),
        ("/api/http/routers", "direction=desc", "d c b a"),
        ("/api/http/routers", "sortBy=nope", "a b c d"),
        ("/api/http/routers", "sortBy=provider", "a b c d"),
        ("/api/http/routers", "sortBy=priority", "c d a b"),
        (
            "/api/http/routers",
            "sortBy=priority&direction=desc",
            "b a d c",
        ),
        ("/api/http/routers", "sortBy=status", "d a b c"),
        (
            "/api/http/routers",
            "sortBy=status&direction=desc",
            "c b a d",
        ),
        ("/api/http/routers", "sortBy=rule", "d b c a"),
        ("/api/http/routers", "sortBy=rule&direction=desc", "a c b d"),
        ("/api/http/routers", "sortBy=service", "d b c a"),
        (
            "/api/http/routers",
            "sortBy=entryPoints&direction=desc",
            "b d c a",
        ),
        ("/api/http/services", "sortBy=servers", "w s2 s1"),
        (
            "/api/http/services",
            "sortBy=servers&direction=desc",
            "s1 s2 w",
        ),
        ("/api/http/services", "sortBy=type", "s1 s2 w"),
        (
            "/api/http/services",
            "sortBy=type&direction=desc",
            "w s2 s1",
        ),
        (
            "/api/http/services",
            "sortBy=status&direction=desc",
            "w s2 s1",
        ),
        ("/api/http/middlewares", "sortBy=type", "m2 m3 m1"),
        (
            "/api/http/middlewares",
            "sortBy=type&direction=desc",
            "m1 m3 m2",
        ),
        (
            "/api/http/middlewares",
            "sortBy=rule&direction=desc",
            "m3 m2 m1",
        ),
    ] {
        let a = get(&yaml, path, Some(query));
        let want: Vec<String> = want.split(' ').map(|n| format!("{n}@file")).collect();
        assert_eq!(names(&a), want, "{path}?{query}");
    }
    // Sorted before the page is taken.
    let a = get(
        &yaml,
        "/api/http/routers",
        Some("sortBy=priority&page=2&per_page=3"),
    );
    assert_eq!(names(&a), ["b@file"]);
}

// criterion.go getIntParam, as TestHandler_HTTP's pagination meets it: a `page` or
// `per_page` that is not a number above 0 is a 400 naming the parameter and the number
// read (0 for text), `per_page` first.
#[test]
fn pagination_parameters() {
    for (query, message) in [
        ("per_page=0", "invalid request: per_page: 0"),
        ("page=-2", "invalid request: page: -2"),
        ("page=x", "invalid request: page: 0"),
        ("page=x&per_page=-1", "invalid request: per_page: -1"),
    ] {
        let a = get(HTTP, "/api/http/routers", Some(query));
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(a.body["message"], message, "{query}");
    }
    let a = get(HTTP, "/api/http/routers", Some("page=&per_page=%2B2"));
    assert_eq!((names(&a).len(), a.next_page), (2, Some(2)));
}

// handler_http.go: a service's `type` is its kind, lower case (`extractType`): weighted,
// failover and mirroring services are not load balancers.
#[test]
fn service_types() {
    let yaml = "http:\n  services:\n    lb:\n      loadBalancer:\n        servers: [{url: 'http://10.0.0.1:80'}]\n    w:\n      weighted:\n        services: [{name: lb, weight: 1}]\n    f:\n      failover:\n        service: lb\n        fallback: lb\n    m:\n      mirroring:\n        service: lb\n";
    for (name, kind) in [
        ("lb@file", "loadbalancer"),
        ("w@file", "weighted"),
        ("f@file", "failover"),
        ("m@file", "mirroring"),
    ] {
        let a = get(yaml, &format!("/api/http/services/{name}"), None);
        assert_eq!(a.body["type"], json!(kind), "{name}: {}", a.body);
    }
}

// Durations in the API are Go's `time.Duration` strings (paerser's `Duration` marshals so):
// `100ms`, `10s`, `1m0s`.
#[test]
fn durations_are_go_strings() {
    let yaml = "http:\n  middlewares:\n    cb:\n      circuitBreaker:\n        expression: NetworkErrorRatio() > 0.5\n        fallbackDuration: 1m\n    again:\n      retry:\n        attempts: 2\n        initialInterval: 100ms\n    limit:\n      rateLimit:\n        average: 1\n        period: 2m\n";
    let cb = get(yaml, "/api/http/middlewares/cb@file", None).body;
    assert_eq!(cb["circuitBreaker"]["checkPeriod"], json!("100ms"), "{cb}");
    assert_eq!(
        cb["circuitBreaker"]["fallbackDuration"],
        json!("1m0s"),
        "{cb}"
    );
    let r = get(yaml, "/api/http/middlewares/again@file", None).body;
    assert_eq!(r["retry"]["initialInterval"], json!("100ms"), "{r}");
    let l = get(yaml, "/api/http/middlewares/limit@file", None).body;
    assert_eq!(l["rateLimit"]["period"], json!("2m0s"), "{l}");
}

// static/entrypoints.go as Traefik's API writes an entry point: `asDefault` only when set,
// empty `forwardedHeaders` fields left out, Go durations, a UDP one's `/udp` address and its
// `udp.timeout`, HTTP/2's table sizes.
#[test]
fn entry_point_fields() {
    let env: std::collections::HashMap<String, String> = [
        ("TRAEFIK_ENTRYPOINTS_WEB_ADDRESS", ":80"),
        ("TRAEFIK_ENTRYPOINTS_WEB_ASDEFAULT", "true"),
        ("TRAEFIK_ENTRYPOINTS_OTHER_ADDRESS", ":81"),
        (
            "TRAEFIK_ENTRYPOINTS_OTHER_FORWARDEDHEADERS_INSECURE",
            "true",
        ),
        ("TRAEFIK_ENTRYPOINTS_DNS_ADDRESS", ":53/udp"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let config = Config::from_env(&env).unwrap_or_else(|e| panic!("{e}"));
    let table = crate::provider::file::compile_yaml("http: {}\n", &[]);
    let ep = |n: &str| answer(&format!("/api/entrypoints/{n}"), None, &table, &config).body;
    let web = ep("web");
    assert_eq!(web["asDefault"], json!(true), "{web}");
    assert_eq!(web["forwardedHeaders"], json!({}), "{web}");
    assert_eq!(
        web["transport"]["respondingTimeouts"]["idleTimeout"],
        json!("3m0s"),
        "{web}"
    );
    assert_eq!(
        web["transport"]["respondingTimeouts"]["readTimeout"],
        json!("1m0s"),
        "{web}"
    );
    assert_eq!(
        web["http2"]["maxDecoderHeaderTableSize"],
        json!(4096),
        "{web}"
    );
    let other = ep("other");
    assert!(other.get("asDefault").is_none(), "{other}");
    assert_eq!(
        other["forwardedHeaders"],
        json!({"insecure": true}),
        "{other}"
    );
    let dns = ep("dns");
    assert_eq!(dns["address"], json!(":53/udp"), "{dns}");
    assert_eq!(dns["udp"]["timeout"], json!("3s"), "{dns}");
}
