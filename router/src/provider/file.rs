//! The file provider (`providers.file`): Traefik dynamic configuration files, YAML or TOML,
//! one file (`filename`) or every `.yaml`, `.yml` and `.toml` file of a directory and its
//! subdirectories (`directory`), each rendered as a Go template first ([`super::template`]).
//!
//! In a directory, a name defined in two files keeps the first file's definition (in path
//! order), as Traefik does, with a warning. A file that cannot be read or parsed keeps the
//! whole provider at its last good configuration, and says so: the change is not applied
//! half. With `watch` (the default), the files are checked every [`POLL`] and a change is
//! published within a second. Certificates (`tls.certificates`) are loaded from their files or
//! inline PEM and served beside those of `ROUTER_CERTS_DIR` and ACME.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::config::FileProvider;
use crate::dynamic::decode::{self, Source};
use crate::dynamic::{Issue, Snapshot};
use crate::server::Shared;
use crate::tree::Node;

/// How often watched files are checked for changes.
pub const POLL: Duration = Duration::from_millis(250);

/// The files to read, in path order, and the fingerprint that tells when they change.
type Fingerprint = Vec<(PathBuf, u64, Option<SystemTime>)>;

/// One file's content, parsed.
#[derive(Debug)]
pub struct Parsed {
    /// Its path.
    pub path: PathBuf,
    /// Its tree.
    pub root: Node,
}

/// The files the provider reads (a file, or a directory's supported files, recursively, in
/// path order), with what was skipped.
pub fn files(p: &FileProvider) -> Result<(Vec<PathBuf>, Vec<PathBuf>), String> {
    if let Some(f) = &p.filename {
        return Ok((vec![f.clone()], Vec::new()));
    }
    let Some(dir) = &p.directory else {
        return Ok((Vec::new(), Vec::new()));
    };
    let mut found = Vec::new();
    let mut skipped = Vec::new();
    walk(dir, &mut found, &mut skipped)?;
    found.sort();
    skipped.sort();
    Ok((found, skipped))
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>, skipped: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, found, skipped)?;
            continue;
        }
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        if ["yaml", "yml", "toml"].contains(&ext.as_str()) {
            found.push(path);
        } else {
            skipped.push(path);
        }
    }
    Ok(())
}

/// A cheap fingerprint of the files (path, size, modification time) to notice changes.
pub fn fingerprint(paths: &[PathBuf]) -> Fingerprint {
    paths
        .iter()
        .map(|p| {
            let m = std::fs::metadata(p).ok();
            (
                p.clone(),
                m.as_ref().map_or(0, |m| m.len()),
                m.and_then(|m| m.modified().ok()),
            )
        })
        .collect()
}

/// Reads, renders and parses one file.
pub fn read(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Parsed, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let rendered =
        super::template::render(&text, env).map_err(|e| format!("{}: {e}", path.display()))?;
    tracing::debug!(file = %path.display(), "rendered dynamic configuration file:\n{rendered}");
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let root = match ext.as_str() {
        "toml" => Node::from_toml(&rendered, ""),
        "yaml" | "yml" => Node::from_yaml(&rendered, ""),
        _ => Err("expected a .yaml, .yml or .toml file".into()),
    }
    .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Parsed {
        path: path.to_owned(),
        root,
    })
}

/// The provider's snapshot from parsed files. Pure.
pub fn snapshot(files: &[Parsed]) -> Snapshot {
    let mut snap = Snapshot {
        provider: "file".into(),
        ..Default::default()
    };
    for f in files {
        let source = f.path.display().to_string();
        let d = decode::decode(&f.root, Source::File);
        snap.broken.extend(decode::broken(&d));
        for e in &d.errors {
            let (level, what) = e.owner.consequence();
            snap.issues.push(Issue {
                source: source.clone(),
                level,
                key: Some(e.error.key.clone()),
                message: format!("{}; {what}", e.error.message),
            });
        }
        let mut duplicate = |kind: &str, name: &str| {
            snap.issues.push(Issue {
                source: source.clone(),
                level: "warning",
                key: None,
                message: format!("{kind} {name:?} is already defined by an earlier file; this definition is skipped"),
            });
        };
        let mut http = d.config.http;
        for r in http.routers.values_mut() {
            r.sources = vec![source.clone()];
        }
        let h = &mut snap.config.http;
        merge("router", &mut h.routers, http.routers, &mut duplicate);
        merge("service", &mut h.services, http.services, &mut duplicate);
        merge(
            "middleware",
            &mut h.middlewares,
            http.middlewares,
            &mut duplicate,
        );
        merge(
            "serversTransport",
            &mut h.servers_transports,
            http.servers_transports,
            &mut duplicate,
        );
        let mut tcp = d.config.tcp;
        for r in tcp.routers.values_mut() {
            r.sources = vec![source.clone()];
        }
        let t = &mut snap.config.tcp;
        merge("TCP router", &mut t.routers, tcp.routers, &mut duplicate);
        merge("TCP service", &mut t.services, tcp.services, &mut duplicate);
        merge(
            "TCP middleware",
            &mut t.middlewares,
            tcp.middlewares,
            &mut duplicate,
        );
        merge(
            "TCP serversTransport",
            &mut t.servers_transports,
            tcp.servers_transports,
            &mut duplicate,
        );
        let mut udp = d.config.udp;
        for r in udp.routers.values_mut() {
            r.sources = vec![source.clone()];
        }
        let u = &mut snap.config.udp;
        merge("UDP router", &mut u.routers, udp.routers, &mut duplicate);
        merge("UDP service", &mut u.services, udp.services, &mut duplicate);
        // A certificate given again (the same certFile and keyFile) is kept once, as
        // Traefik's merge of a directory's files keeps it ("already configured, skipping").
        for c in d.config.tls.certificates {
            if snap.config.tls.certificates.contains(&c) {
                duplicate("TLS certificate", &c.cert_file);
            } else {
                snap.config.tls.certificates.push(c);
            }
        }
        merge(
            "TLS options",
            &mut snap.config.tls.options,
            d.config.tls.options,
            &mut duplicate,
        );
        if let Some(store) = d.config.tls.store {
            if snap.config.tls.store.is_some() {
                duplicate("TLS store", "default");
            } else {
                snap.config.tls.store = Some(store);
            }
        }
    }
    snap.issues.sort();
    snap.broken.sort();
    snap
}

/// A certificate given as a file path or inline PEM (Traefik's `FileOrContent`).
fn file_or_content(v: &str) -> Result<Vec<u8>, String> {
    if v.contains("-----BEGIN") {
        return Ok(v.as_bytes().to_vec());
    }
    std::fs::read(v).map_err(|e| format!("{v}: {e}"))
}

/// A certificate and its key, each a path or PEM.
fn load_pair(
    c: &crate::dynamic::Certificate,
    resolver: &crate::tls::CertResolver,
) -> Result<crate::tls::LoadedCert, String> {
    let cert = file_or_content(&c.cert_file)?;
    let key = file_or_content(&c.key_file)?;
    crate::tls::load_pem(&cert, &key, resolver.provider())
}

/// Options whose `clientAuth.caFiles` cannot be read are broken: left out, so that the
/// routers using them are disabled rather than served without client certificates.
pub(crate) fn check_client_cas(snap: &mut Snapshot) {
    let unreadable: Vec<(String, String)> = snap
        .config
        .tls
        .options
        .iter()
        .filter(|(_, o)| !o.ca_files.is_empty())
        .filter_map(|(n, o)| {
            crate::tls_config::load_cas(&o.ca_files)
                .err()
                .map(|e| (n.clone(), e))
        })
        .collect();
    for (name, e) in unreadable {
        snap.config.tls.options.remove(&name);
        let error = format!("tls.options.{name}.clientAuth.caFiles: {e}");
        snap.issues.push(Issue {
            source: "file provider".into(),
            level: "error",
            key: Some(format!("tls.options.{name}.clientAuth.caFiles")),
            message: format!("{e}; TLS options {name:?} disabled (and the routers that use them)"),
        });
        snap.broken.push(crate::dynamic::Broken {
            kind: "tlsOptions",
            name,
            error,
        });
    }
}

/// Loads the snapshot's certificates into the resolver's slot for this provider, and the
/// default store's certificate.
pub(crate) fn load_certificates(shared: &Shared, snap: &mut Snapshot) {
    let Some(resolver) = shared.resolver() else {
        return;
    };
    let mut loaded = Vec::new();
    for c in &snap.config.tls.certificates {
        match load_pair(c, &resolver) {
            Ok(l) => loaded.push(l),
            Err(e) => snap.issues.push(Issue {
                source: "file provider".into(),
                level: "error",
                key: Some("tls.certificates".into()),
                message: format!("certificate {:?} not loaded: {e}", c.cert_file),
            }),
        }
    }
    resolver.set_dynamic(crate::tls::CertMap::from_certs(loaded.iter()));
    let store = snap.config.tls.store.clone().unwrap_or_default();
    let default = store
        .default_certificate
        .and_then(|c| match load_pair(&c, &resolver) {
            Ok(l) => Some(l.key),
            Err(e) => {
                snap.issues.push(Issue {
                    source: "file provider".into(),
                    level: "error",
                    key: Some("tls.stores.default.defaultCertificate".into()),
                    message: format!("the default certificate is not loaded: {e}"),
                });
                None
            }
        });
    let generated = store
        .default_generated_cert
        .and_then(|g| g.domain.names().next());
    resolver.set_default(default, generated);
}

/// Runs the provider: reads the files, publishes, and (with `watch`) publishes again on every
/// change; a file that cannot be read or parsed keeps the last good configuration.
pub async fn run(shared: Arc<Shared>, p: FileProvider) {
    let env = |k: &str| std::env::var(k).ok();
    let mut last_good: Option<Snapshot> = None;
    let mut seen: Option<Fingerprint> = None;
    // The last failure to list the files (a directory that does not exist): said and
    // published once, not at every poll.
    let mut failed: Option<String> = None;
    loop {
        let listed = files(&p);
        let fp = listed.as_ref().map(|(f, _)| fingerprint(f)).ok();
        let failure = listed.as_ref().err().map(ToString::to_string);
        let same_failure = failure.is_some() && failure == failed;
        failed = failure;
        if !same_failure && (fp.is_none() || fp != seen) {
            let result = listed.and_then(|(paths, skipped)| {
                for s in &skipped {
                    tracing::info!(file = %s.display(), "not a .yaml, .yml or .toml file: skipped");
                }
                paths
                    .iter()
                    .map(|f| read(f, &env))
                    .collect::<Result<Vec<_>, _>>()
            });
            let snap = match result {
                Ok(parsed) => {
                    if let Some(hub) = &shared.hub {
                        let files = parsed
                            .iter()
                            .map(|p| crate::cluster::wire::File {
                                path: p.path.display().to_string(),
                                root: crate::cluster::hub::inline_files(p.root.clone()),
                            })
                            .collect();
                        hub.set("file", crate::cluster::wire::Input::Files { files });
                    }
                    let mut snap = snapshot(&parsed);
                    check_client_cas(&mut snap);
                    load_certificates(&shared, &mut snap);
                    tracing::info!(
                        files = parsed.len(),
                        routers = snap.config.http.routers.len(),
                        tcp_routers = snap.config.tcp.routers.len(),
                        "dynamic configuration files read"
                    );
                    last_good = Some(snap.clone());
                    snap
                }
                Err(e) => {
                    tracing::error!(error = %e, "dynamic configuration file not applied: keeping the last good configuration");
                    let mut snap = last_good.clone().unwrap_or_else(|| Snapshot {
                        provider: "file".into(),
                        ..Default::default()
                    });
                    snap.issues.push(Issue {
                        source: "file provider".into(),
                        level: "error",
                        key: None,
                        message: format!("{e}; the last good configuration is kept"),
                    });
                    snap
                }
            };
            crate::state::off_workers(&shared, move |shared| crate::state::publish(shared, snap))
                .await;
            seen = fp;
        }
        if !p.watch {
            return;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// For tests elsewhere: the table a dynamic file (YAML) and other snapshots compile to, with
/// one default entry point `https`.
/// Adds a file's definitions of one kind; a name an earlier file defined keeps that
/// definition (reported through `duplicate`).
fn merge<T>(
    kind: &str,
    into: &mut std::collections::BTreeMap<String, T>,
    from: std::collections::BTreeMap<String, T>,
    duplicate: &mut impl FnMut(&str, &str),
) {
    for (n, v) in from {
        match into.entry(n) {
            std::collections::btree_map::Entry::Occupied(e) => duplicate(kind, e.key()),
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert(v);
            }
        }
    }
}

#[cfg(test)]
pub(crate) fn compile_yaml(yaml: &str, others: &[&Snapshot]) -> crate::model::table::RouteTable {
    let file = snapshot(&[Parsed {
        path: "/d.yml".into(),
        root: Node::from_yaml(yaml, "").unwrap_or_else(|e| panic!("{e}")),
    }]);
    let settings = crate::model::compile::CompileSettings {
        entry_points: vec![crate::model::compile::EntryPointModel {
            name: "https".into(),
            default: true,
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut all = vec![&file];
    all.extend_from_slice(others);
    crate::model::compile::compile(all, &settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table is swapped in only when its description changes: an edited middleware setting
    /// must change it, or the edit would never be served.
    #[test]
    fn a_middleware_setting_edited_changes_the_table() {
        let yaml = |v: &str| {
            format!(
                "http:\n  routers:\n    r:\n      rule: Host(`a.test`)\n      service: s\n      middlewares: [h]\n  middlewares:\n    h:\n      headers:\n        customResponseHeaders:\n          X-From-File: {v}\n  services:\n    s:\n      loadBalancer:\n        servers:\n          - url: http://127.0.0.1:1\n"
            )
        };
        let (added, removed) = crate::model::table::diff(
            &compile_yaml(&yaml("one"), &[]),
            &compile_yaml(&yaml("two"), &[]),
        );
        assert!(
            !added.is_empty() && !removed.is_empty(),
            "{added:?} {removed:?}"
        );
        let (added, removed) = crate::model::table::diff(
            &compile_yaml(&yaml("one"), &[]),
            &compile_yaml(&yaml("one"), &[]),
        );
        assert!(added.is_empty() && removed.is_empty());
    }

    fn parsed(path: &str, yaml: &str) -> Parsed {
        Parsed {
            path: path.into(),
            root: Node::from_yaml(yaml, "").unwrap(),
        }
    }

    #[test]
    fn a_directory_keeps_the_first_definition_of_a_name() {
        let a = parsed(
            "/d/a.yml",
            "http:\n  middlewares:\n    sec:\n      headers:\n        frameDeny: true\n",
        );
        let b = parsed(
            "/d/b.yml",
            "http:\n  middlewares:\n    sec:\n      compress: {}\n    other:\n      compress: {}\n",
        );
        let s = snapshot(&[a, b]);
        assert!(matches!(
            s.config.http.middlewares["sec"],
            crate::dynamic::Middleware::Headers(_)
        ));
        assert!(s.config.http.middlewares.contains_key("other"));
        assert!(s
            .issues
            .iter()
            .any(|i| i.source == "/d/b.yml" && i.level == "warning"));
    }

    #[test]
    fn errors_are_tied_to_their_file_and_key() {
        let a = parsed("/d/a.yml", "http:\n  routers:\n    r:\n      rule: Host(`a`)\n      service: s\n      priority: x\n");
        let s = snapshot(&[a]);
        assert!(s.config.http.routers.is_empty());
        let i = &s.issues[0];
        assert_eq!(
            (i.source.as_str(), i.key.as_deref()),
            ("/d/a.yml", Some("http.routers.r.priority"))
        );
        assert_eq!(s.broken[0].name, "r");
    }
}
