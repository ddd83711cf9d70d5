//! TLS options across providers, as Traefik's TLS manager and aggregator settle them. Pure.
//!
//! - Options are named `name@provider`, except `default`, which any one provider may define
//!   (defined by two, both are refused and Traefik's defaults apply, with an error).
//! - A router's `tls.options` resolves like any reference (`""` and `default` are the default
//!   ones); options that do not exist or are broken disable the router.
//! - The options a TLS connection gets are chosen by its SNI before any request is read: for
//!   each entry point, every domain of a TLS router's `Host` matchers maps to that router's
//!   options. Routers that map one domain to different options, and routers with options but
//!   no domain (which SNI can never select), fall back to the default options, with a
//!   warning: Traefik's conflict rule.
//! - A request whose router's options differ from the options its connection was made with
//!   is answered 421 (see [`crate::proxy`]), so SNI cannot be used to dodge a stricter set.

use std::collections::{BTreeMap, BTreeSet};

use crate::dynamic::{self, Issue, Snapshot, TlsOptions};
use crate::model::table::Route;

/// The name of the default options.
pub const DEFAULT: &str = "default";

/// Every provider's options by resolved name (`default` always present), and the names of
/// broken ones with why.
#[derive(Debug, Clone, Default)]
pub struct OptionSets {
    /// Usable options.
    pub options: BTreeMap<String, TlsOptions>,
    /// Broken options: name -> error.
    pub broken: BTreeMap<String, String>,
}

/// The resolved name of options `name` defined in `provider`'s configuration.
pub fn defined_name(name: &str, provider: &str) -> String {
    if name == DEFAULT {
        DEFAULT.to_owned()
    } else {
        dynamic::qualify(name, provider)
    }
}

/// The resolved name of a router's `tls.options` reference written in `provider`. As
/// Traefik's GetQualifiedName: `default@file` is kept as written, and since the default
/// options are stored unqualified, no options have that name (the router is in error).
pub fn reference(name: &str, provider: &str) -> String {
    let name = name.trim();
    if name.is_empty() || name == DEFAULT {
        DEFAULT.to_owned()
    } else {
        dynamic::resolve(name, provider)
    }
}

/// Collects the providers' options (`snaps` in a fixed order).
pub fn collect(snaps: &[&Snapshot], issues: &mut Vec<Issue>) -> OptionSets {
    let mut sets = OptionSets::default();
    let mut defaults = Vec::new();
    for snap in snaps {
        for (name, o) in &snap.config.tls.options {
            let q = defined_name(name, &snap.provider);
            if q == DEFAULT {
                defaults.push((snap.provider.clone(), o.clone()));
            } else {
                sets.options.insert(q, o.clone());
            }
        }
        for b in snap.broken.iter().filter(|b| b.kind == "tlsOptions") {
            sets.broken
                .insert(defined_name(&b.name, &snap.provider), b.error.clone());
        }
    }
    let default = match defaults.as_slice() {
        [] => TlsOptions::default(),
        [(_, o)] => o.clone(),
        several => {
            let providers: Vec<&str> = several.iter().map(|(p, _)| p.as_str()).collect();
            issues.push(Issue {
                source: providers.join(", "),
                level: "error",
                key: Some("tls.options.default".into()),
                message: format!(
                    "the default TLS options are defined by several providers ({}): Traefik's defaults apply",
                    providers.join(", ")
                ),
            });
            TlsOptions::default()
        }
    };
    if !sets.broken.contains_key(DEFAULT) {
        sets.options.insert(DEFAULT.to_owned(), default);
    }
    sets
}

/// Whether `name` can be used; the error for a router otherwise.
pub fn check(sets: &OptionSets, name: &str) -> Result<(), String> {
    if sets.options.contains_key(name) {
        return Ok(());
    }
    Err(match sets.broken.get(name) {
        Some(e) => format!("uses TLS options {name:?}, which are broken ({e})"),
        None => format!("uses TLS options {name:?}, which do not exist"),
    })
}

/// The SNI domains of a TLS route: its `Host` names, lower case, without a trailing dot.
pub fn domains(r: &Route) -> BTreeSet<String> {
    r.rule
        .host_names()
        .into_iter()
        .map(|h| h.strip_suffix('.').map(str::to_owned).unwrap_or(h))
        .collect()
}

/// Per entry point, the options each SNI domain selects.
pub type SniMap = BTreeMap<String, BTreeMap<String, String>>;

/// Settles conflicts (routes fall back to `default`, with a warning each, by route index) and
/// returns, per entry point, the options each SNI domain selects.
pub fn settle(routes: &mut [Route]) -> (SniMap, Vec<(usize, String)>) {
    let mut warnings = Vec::new();
    // Each TLS route's domains, read once (a rule's host names are collected anew each time).
    let doms: Vec<BTreeSet<String>> = routes
        .iter()
        .map(|r| if r.tls { domains(r) } else { BTreeSet::new() })
        .collect();
    for (i, r) in routes.iter_mut().enumerate().filter(|(_, r)| r.tls) {
        if doms[i].is_empty() && r.tls_options != DEFAULT {
            warnings.push((i, format!(
                "router {:?}: no domain in its rule, so its TLS options {:?} cannot be chosen by SNI: the default options apply",
                r.name, r.tls_options
            )));
            r.tls_options = DEFAULT.to_owned();
        }
    }
    // Each (entry point, domain) with the options its first route wants, and whether another
    // route wants other options for it (names borrowed: one entry per TLS route's domain).
    let mut wanted: std::collections::HashMap<(&str, &str), (&str, bool)> =
        std::collections::HashMap::new();
    for (i, r) in routes.iter().enumerate().filter(|(_, r)| r.tls) {
        for ep in &r.entrypoints {
            for d in &doms[i] {
                let (first, differ) = wanted
                    .entry((ep.as_str(), d.as_str()))
                    .or_insert((r.tls_options.as_str(), false));
                *differ |= *first != r.tls_options;
            }
        }
    }
    let conflicting: BTreeSet<(String, String)> = wanted
        .into_iter()
        .filter(|(_, (_, differ))| *differ)
        .map(|((ep, d), _)| (ep.to_owned(), d.to_owned()))
        .collect();
    // Usually none conflict: then no route changes and no pair need be looked up.
    let conflicts = |ep: &String, d: &String| {
        !conflicting.is_empty() && conflicting.contains(&(ep.clone(), d.clone()))
    };
    if !conflicting.is_empty() {
        for (i, r) in routes.iter_mut().enumerate().filter(|(_, r)| r.tls) {
            let hit = r
                .entrypoints
                .iter()
                .flat_map(|ep| doms[i].iter().map(move |d| (ep, d)))
                .find(|(ep, d)| conflicts(ep, d));
            if let Some((ep, d)) = hit {
                if r.tls_options != DEFAULT {
                    warnings.push((i, format!(
                        "router {:?}: on entry point {ep:?}, host {d:?} is served by routers with different TLS options: the default options apply",
                        r.name
                    )));
                }
                r.tls_options = DEFAULT.to_owned();
            }
        }
    }
    let mut sni = SniMap::new();
    for (i, r) in routes.iter().enumerate().filter(|(_, r)| r.tls) {
        for ep in &r.entrypoints {
            if !sni.contains_key(ep) {
                sni.insert(ep.clone(), BTreeMap::new());
            }
            let Some(map) = sni.get_mut(ep) else { continue };
            for d in &doms[i] {
                let name = if conflicts(ep, d) {
                    DEFAULT
                } else {
                    r.tls_options.as_str()
                };
                map.insert(d.clone(), name.to_owned());
            }
        }
    }
    (sni, warnings)
}

/// The options a TLS connection to `entrypoint` with `sni` gets: an exact domain, then a
/// wildcard domain one label up, then `default`.
pub fn select<'a>(sni_map: &'a SniMap, entrypoint: &str, sni: Option<&str>) -> &'a str {
    let (Some(map), Some(sni)) = (sni_map.get(entrypoint), sni) else {
        return DEFAULT;
    };
    let sni = sni.strip_suffix('.').unwrap_or(sni);
    if let Some(o) = map.get(sni) {
        return o;
    }
    sni.split_once('.')
        .and_then(|(_, parent)| map.get(&format!("*.{parent}")))
        .map_or(DEFAULT, String::as_str)
}

/// Whether an HTTPS router on `entrypoint` names a domain `sni` falls under (exactly, or by
/// a one-label wildcard): such a connection is HTTPS's before any TCP router's.
pub fn has_domain(sni_map: &SniMap, entrypoint: &str, sni: &str) -> bool {
    let Some(map) = sni_map.get(entrypoint) else {
        return false;
    };
    let sni = sni.strip_suffix('.').unwrap_or(sni);
    !sni.is_empty()
        && (map.contains_key(sni)
            || sni
                .split_once('.')
                .is_some_and(|(_, parent)| map.contains_key(&format!("*.{parent}"))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::rule::Rule;

    fn route(name: &str, rule: &str, eps: &[&str], options: &str) -> Route {
        Route {
            name: name.into(),
            provider: "file".into(),
            rule: std::sync::Arc::new(Rule::parse(rule).unwrap()),
            priority: 1,
            entrypoints: eps.iter().map(|e| e.to_string()).collect(),
            middlewares: Vec::new(),
            service: "s@file".into(),
            tls: true,
            certresolver: None,
            domains: Vec::new(),
            tls_options: options.into(),
            access_logs: None,
            sources: Vec::new(),
            encoded_characters: None,
            recursion_mark: None,
        }
    }

    #[test]
    fn domains_select_their_routers_options() {
        let mut routes = vec![
            route(
                "a@file",
                "Host(`a.test`) || Host(`A2.test.`)",
                &["https"],
                "strict@file",
            ),
            route("b@file", "Host(`b.test`)", &["https"], DEFAULT),
            route("w@file", "Host(`*.w.test`)", &["https"], "strict@file"),
        ];
        let (sni, warnings) = settle(&mut routes);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(select(&sni, "https", Some("a.test")), "strict@file");
        assert_eq!(select(&sni, "https", Some("a2.test.")), "strict@file");
        assert_eq!(select(&sni, "https", Some("x.w.test")), "strict@file");
        assert_eq!(select(&sni, "https", Some("b.test")), DEFAULT);
        assert_eq!(select(&sni, "https", Some("c.test")), DEFAULT);
        assert_eq!(select(&sni, "https", None), DEFAULT);
        assert_eq!(select(&sni, "other", Some("a.test")), DEFAULT);
    }

    #[test]
    fn conflicts_and_domainless_routers_fall_back_to_the_default() {
        let mut routes = vec![
            route("a@file", "Host(`a.test`)", &["https"], "strict@file"),
            route(
                "a2@file",
                "Host(`a.test`) && Path(`/x`)",
                &["https"],
                "other@file",
            ),
            route("p@file", "PathPrefix(`/api`)", &["https"], "strict@file"),
            route("q@file", "Host(`q.test`)", &["https"], "strict@file"),
        ];
        let (sni, warnings) = settle(&mut routes);
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        let by_name: BTreeMap<&str, &str> = routes
            .iter()
            .map(|r| (r.name.as_str(), r.tls_options.as_str()))
            .collect();
        assert_eq!(by_name["a@file"], DEFAULT);
        assert_eq!(by_name["a2@file"], DEFAULT);
        assert_eq!(by_name["p@file"], DEFAULT);
        assert_eq!(by_name["q@file"], "strict@file");
        assert_eq!(select(&sni, "https", Some("a.test")), DEFAULT);
        assert_eq!(select(&sni, "https", Some("q.test")), "strict@file");
    }

    #[test]
    fn routers_with_missing_or_broken_options_are_disabled() {
        let yaml = "http:\n  routers:\n    ok:\n      rule: Host(`ok.test`)\n      service: s\n      tls:\n        options: modern\n    missing:\n      rule: Host(`m.test`)\n      service: s\n      tls:\n        options: nope\n    broken:\n      rule: Host(`b.test`)\n      service: s\n      tls:\n        options: bad\n  services:\n    s:\n      loadBalancer:\n        servers:\n          - url: http://127.0.0.1:1\ntls:\n  options:\n    modern:\n      minVersion: VersionTLS13\n    bad:\n      cipherSuites: [TLS_NOPE]\n    default:\n      sniStrict: true\n";
        let table = crate::provider::file::compile_yaml(yaml, &[]);
        let names: Vec<&str> = table.routes.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["ok@file"]);
        assert_eq!(table.routes[0].tls_options, "modern@file");
        assert!(table.tls_options["modern@file"].min_tls13);
        assert!(
            table.tls_options[DEFAULT].sni_strict,
            "the file's default options apply"
        );
        assert_eq!(select(&table.sni, "https", Some("ok.test")), "modern@file");
        let status = |n: &str| table.api().routers[n].status;
        assert_eq!(status("missing@file"), "disabled");
        assert_eq!(status("broken@file"), "disabled");
        let errors = &table.api().routers["broken@file"].errors;
        assert!(
            errors
                .iter()
                .any(|e| e.contains("broken") && e.contains("TLS_NOPE")),
            "{errors:?}"
        );
    }

    #[test]
    fn references_resolve_like_traefiks() {
        assert_eq!(reference("", "docker"), DEFAULT);
        assert_eq!(reference("default", "docker"), DEFAULT);
        assert_eq!(reference("default@file", "docker"), "default@file");
        assert_eq!(reference("modern", "docker"), "modern@docker");
        assert_eq!(reference("modern@file", "docker"), "modern@file");
        assert_eq!(defined_name("default", "file"), DEFAULT);
        assert_eq!(defined_name("modern", "file"), "modern@file");
    }
}
