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
        http.routers = http
            .routers
            .into_iter()
            .map(|(name, mut r)| {
                Arc::make_mut(&mut r).sources = vec![source.clone()];
                (name, r)
            })
            .collect();
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
    // A provider that defines no default store leaves another's in place.
    let store = snap.config.tls.store.clone().map(|store| {
        let certificate = store
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
        crate::tls::DefaultStore {
            certificate,
            generated,
        }
    });
    resolver.publish(&snap.provider, loaded, store);
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

/// A map of definitions by name that a file's definitions are added to (the shared maps of
/// HTTP definitions, and plain `BTreeMap`s).
trait Named {
    fn has(&self, name: &str) -> bool;
}

impl<T> Named for std::collections::BTreeMap<String, T> {
    fn has(&self, name: &str) -> bool {
        self.contains_key(name)
    }
}

impl<T: Clone> Named for imbl::OrdMap<String, T> {
    fn has(&self, name: &str) -> bool {
        self.contains_key(name)
    }
}

/// Adds a file's definitions of one kind; a name an earlier file defined keeps that
/// definition (reported through `duplicate`).
fn merge<T, M: Named + Extend<(String, T)>>(
    kind: &str,
    into: &mut M,
    from: impl IntoIterator<Item = (String, T)>,
    duplicate: &mut impl FnMut(&str, &str),
) {
    for (n, v) in from {
        if into.has(&n) {
            duplicate(kind, &n);
        } else {
            into.extend([(n, v)]);
        }
    }
}

/// The provider's snapshot of one file `/dynamic.yml` holding `yaml` (for tests).
#[cfg(test)]
pub(crate) fn snapshot_of_yaml(yaml: &str) -> Snapshot {
    snapshot(&[Parsed {
        path: "/dynamic.yml".into(),
        root: Node::from_yaml(yaml, "").unwrap_or_else(|e| panic!("{e}")),
    }])
}

/// Compile settings with one entry point, `name`, the default one (for tests).
#[cfg(test)]
pub(crate) fn one_entry_point(name: &str) -> crate::model::compile::CompileSettings {
    crate::model::compile::CompileSettings {
        entry_points: vec![crate::model::compile::EntryPointModel {
            name: name.into(),
            default: true,
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[cfg(test)]
pub(crate) fn compile_yaml(yaml: &str, others: &[&Snapshot]) -> crate::model::table::RouteTable {
    let file = snapshot_of_yaml(yaml);
    let mut all = vec![&file];
    all.extend_from_slice(others);
    crate::model::compile::compile(all, &one_entry_point("https"))
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
            *s.config.http.middlewares["sec"],
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

/// Traefik's file provider tables (pkg/provider/file/file_test.go and its fixtures), as data:
/// each fixture rewritten inline, the files read as the provider reads them (listed, rendered
/// as Go templates, parsed, merged), and the counts Traefik's tests expect.
#[cfg(test)]
mod traefik_tables {
    use super::*;

    /// A fresh directory holding `files` (name, content).
    fn dir(tag: &str, files: &[(&str, String)]) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("router-file-tables-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        for (name, content) in files {
            let p = d.join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, content).unwrap();
        }
        d
    }

    /// (routers, services, certificates, TLS options) of what the provider reads, counted
    /// as file_test.go counts them (HTTP, TCP and UDP together).
    /// (routers, services, certificates, TLS options).
    type Counts = (usize, usize, usize, usize);

    fn counts(p: &FileProvider) -> Result<Counts, String> {
        let (paths, _) = files(p)?;
        let parsed = paths
            .iter()
            .map(|f| read(f, &|_| None))
            .collect::<Result<Vec<_>, _>>()?;
        let s = snapshot(&parsed);
        let c = &s.config;
        Ok((
            c.http.routers.len() + c.tcp.routers.len() + c.udp.routers.len(),
            c.http.services.len() + c.tcp.services.len() + c.udp.services.len(),
            c.tls.certificates.len(),
            c.tls.options.len(),
        ))
    }

    fn provider(filename: Option<PathBuf>, directory: Option<PathBuf>) -> FileProvider {
        FileProvider {
            filename,
            directory,
            watch: false,
        }
    }

    /// `n` HTTP routers named router1.. with service application-1.., in TOML or YAML.
    fn routers(n: usize, toml: bool) -> String {
        (1..=n)
            .map(|i| {
                if toml {
                    format!("[http.routers.router{i}]\nservice = \"application-{i}\"\n")
                } else {
                    format!("    router{i}:\n      service: application-{i}\n")
                }
            })
            .collect()
    }

    /// `n` HTTP services application-1.. with one server each.
    fn services(n: usize, toml: bool) -> String {
        (1..=n)
            .map(|i| {
                if toml {
                    format!("[[http.services.application-{i}.loadBalancer.servers]]\nurl = \"http://172.17.0.{i}:80\"\n")
                } else {
                    format!("    application-{i}:\n      loadBalancer:\n        servers:\n          - url: http://172.17.0.{i}:80\n")
                }
            })
            .collect()
    }

    /// `n` certificates (paths that need not exist: they are loaded later).
    fn certificates(n: usize, toml: bool) -> String {
        (1..=n)
            .map(|i| {
                if toml {
                    format!("[[tls.certificates]]\ncertFile = \"/certs/sni{i}.cert\"\nkeyFile = \"/certs/sni{i}.key\"\n")
                } else {
                    format!("    - certFile: /certs/sni{i}.cert\n      keyFile: /certs/sni{i}.key\n")
                }
            })
            .collect()
    }

    fn yaml_simple(r: usize, s: usize, c: usize) -> String {
        let mut y = String::new();
        if r + s > 0 {
            y.push_str("http:\n");
        }
        if r > 0 {
            y.push_str(&format!("  routers:\n{}", routers(r, false)));
        }
        if s > 0 {
            y.push_str(&format!("  services:\n{}", services(s, false)));
        }
        if c > 0 {
            y.push_str(&format!(
                "tls:\n  certificates:\n{}",
                certificates(c, false)
            ));
        }
        y
    }

    // TestProvideWithoutWatch / getTestCases: one file (simple_file_01.toml,
    // simple_file_02.toml, simple_file_01.yml, template_file.toml, template_file.yml,
    // simple_empty_store.yml).
    #[test]
    fn single_files() {
        let tcp_udp = "[tcp.routers.routertcp1]\nservice = \"applicationtcp-1\"\n\
            [[tcp.services.applicationtcp-1.loadBalancer.servers]]\naddress = \"172.17.0.9:80\"\n\
            [udp.routers.routerudp1]\nservice = \"applicationudp-1\"\n\
            [[udp.services.applicationudp-1.loadBalancer.servers]]\naddress = \"172.17.0.10:80\"\n";
        let toml1 = format!(
            "{}{}{}",
            routers(3, true),
            services(6, true),
            certificates(5, true)
        );
        let template_toml = "[http.routers]\n{{ range $i, $e := until 20 }}\n  [http.routers.router{{ $e }}]\n  service = \"application\"\n{{ end }}\n";
        let template_yaml = "http:\n  routers:\n  {{ range $i, $e := until 20 }}\n    router{{ $e }}:\n      service: application-1\n  {{ end }}";
        let cases: Vec<(&str, &str, String, Counts)> = vec![
            ("simple file", "f.toml", toml1.clone(), (3, 6, 5, 0)),
            // simple_file_02.toml's TCP and UDP servers are written `http://172.17.0.9:80`;
            // Traefik keeps that address and fails at dial time, the router refuses it when
            // reading (an address is host:port), so the table writes it as one.
            (
                "simple file with tcp and udp",
                "f.toml",
                format!("{toml1}{tcp_udp}"),
                (5, 8, 5, 0),
            ),
            (
                "simple file yaml",
                "f.yml",
                yaml_simple(3, 6, 5),
                (3, 6, 5, 0),
            ),
            (
                "template file",
                "f.toml",
                template_toml.into(),
                (20, 0, 0, 0),
            ),
            (
                "template file yaml",
                "f.yml",
                template_yaml.into(),
                (20, 0, 0, 0),
            ),
            (
                "simple file with empty store yaml",
                "f.yml",
                "tls:\n  stores:\n    default: {}\n".into(),
                (0, 0, 0, 0),
            ),
        ];
        for (i, (desc, name, content, want)) in cases.into_iter().enumerate() {
            let d = dir(&format!("single{i}"), &[(name, content)]);
            let got = counts(&provider(Some(d.join(name)), None));
            assert_eq!(got, Ok(want), "{desc}");
            let _ = std::fs::remove_dir_all(d);
        }
    }

    // TestProvideWithoutWatch / getTestCases: directories (dir01_file0{1,2,3}.{toml,yml},
    // template_in_directory_file0{1,2}.{toml,yml}).
    #[test]
    fn directories() {
        let tls_toml = format!(
            "{}[tls.options.mintls13]\nminVersion = \"VersionTLS13\"\n",
            certificates(4, true)
        );
        let tls_yaml = format!(
            "tls:\n  certificates:\n{}  options:\n    mintls13:\n      minVersion: VersionTLS13\n",
            certificates(4, false)
        );
        let t_routers_toml = "[http.routers]\n{{ range $i, $e := until 20 }}\n  [http.routers.router{{ $e }}]\n  service = \"application\"\n{{ end }}";
        let t_services_toml = "[http.services]\n{{ range $i, $e := until 20 }}\n  [http.services.application-{{ $e }}.loadBalancer]\n    [[http.services.application-{{ $e }}.loadBalancer.servers]]\n    url = \"http://127.0.0.1\"\n{{ end }}";
        let t_routers_yaml = "http:\n  routers:\n{{ range $i, $e := until 20 }}\n    router{{ $e }}:\n      service: application-1\n{{ end }}\n";
        let t_services_yaml = "http:\n  services:\n{{ range $i, $e := until 20 }}\n    application-{{ $e }}:\n      loadBalancer:\n        servers:\n          - url: 'http://127.0.0.1'\n{{ end }}";
        type Files<'a> = Vec<(&'a str, String)>;
        let cases: Vec<(&str, Files, Counts)> = vec![
            (
                "simple directory",
                vec![
                    ("0.toml", routers(2, true)),
                    ("1.toml", services(3, true)),
                    ("2.toml", tls_toml),
                ],
                (2, 3, 4, 1),
            ),
            (
                "simple directory yaml",
                vec![
                    ("0.yml", yaml_simple(2, 0, 0)),
                    ("1.yml", yaml_simple(0, 3, 0)),
                    ("2.yml", tls_yaml),
                ],
                (2, 3, 4, 1),
            ),
            (
                "template in directory",
                vec![
                    ("0.toml", t_routers_toml.into()),
                    ("1.toml", t_services_toml.into()),
                ],
                (20, 20, 0, 0),
            ),
            (
                "template in directory yaml",
                vec![
                    ("0.yml", t_routers_yaml.into()),
                    ("1.yml", t_services_yaml.into()),
                ],
                (20, 20, 0, 0),
            ),
        ];
        for (i, (desc, files, want)) in cases.into_iter().enumerate() {
            let d = dir(&format!("dir{i}"), &files);
            assert_eq!(counts(&provider(None, Some(d.clone()))), Ok(want), "{desc}");
            let _ = std::fs::remove_dir_all(d);
        }
    }

    // TestProvideWatchWithNonConfigDanglingSymlink: a directory with simple_file_01.yml and a
    // dangling symbolic link named .txt: the link is skipped, the file read.
    #[test]
    fn a_dangling_link_that_is_not_configuration_is_skipped() {
        let d = dir("symlink", &[("simple_file_01.yml", yaml_simple(3, 6, 5))]);
        std::os::unix::fs::symlink(d.join("missing.txt"), d.join("dangling.txt")).unwrap();
        assert_eq!(counts(&provider(None, Some(d.clone()))), Ok((3, 6, 5, 0)));
        let _ = std::fs::remove_dir_all(d);
    }

    // collectFileConfigs and provider.Merge(ResourceStrategySkipDuplicates) (file.go,
    // merge.go): subdirectories are read, in name order; a name two files define keeps the
    // first file's definition; a certificate two files give is kept once; TLS options too.
    #[test]
    fn several_files_keep_the_first_definition() {
        let a = "http:\n  routers:\n    r:\n      rule: Host(`a.test`)\n      service: s\n  services:\n    s:\n      loadBalancer:\n        servers:\n          - url: http://10.0.0.1:80\ntls:\n  certificates:\n    - certFile: /c/a.cert\n      keyFile: /c/a.key\n  options:\n    o:\n      minVersion: VersionTLS12\n";
        let b = "http:\n  routers:\n    r:\n      rule: Host(`b.test`)\n      service: s\ntls:\n  certificates:\n    - certFile: /c/a.cert\n      keyFile: /c/a.key\n    - certFile: /c/b.cert\n      keyFile: /c/b.key\n  options:\n    o:\n      minVersion: VersionTLS13\n";
        let d = dir(
            "dup",
            &[
                ("a.yml", a.into()),
                ("sub/b.yml", b.into()),
                ("z.txt", "not read".into()),
            ],
        );
        let (paths, skipped) = files(&provider(None, Some(d.clone()))).unwrap();
        assert_eq!(paths, [d.join("a.yml"), d.join("sub/b.yml")]);
        assert_eq!(skipped, [d.join("z.txt")]);
        let parsed: Vec<Parsed> = paths.iter().map(|p| read(p, &|_| None).unwrap()).collect();
        let s = snapshot(&parsed);
        assert_eq!(s.config.http.routers["r"].rule, "Host(`a.test`)");
        assert!(
            !s.config.tls.options["o"].min_tls13,
            "the first file's minVersion"
        );
        let certs: Vec<&str> = s
            .config
            .tls
            .certificates
            .iter()
            .map(|c| c.cert_file.as_str())
            .collect();
        assert_eq!(certs, ["/c/a.cert", "/c/b.cert"]);
        let _ = std::fs::remove_dir_all(d);
    }

    // CreateConfiguration: every file is a template (one without actions is read as
    // written); a template that does not parse or run is an error of the file, and in a
    // directory of the whole provider (collectFileConfigs returns it: nothing is applied).
    #[test]
    fn template_errors_fail_the_file() {
        let d = dir(
            "tplerr",
            &[
                ("a.yml", yaml_simple(1, 1, 0)),
                ("b.yml", "http:\n  routers: {{ nope }}\n".into()),
            ],
        );
        let e = counts(&provider(None, Some(d.clone()))).unwrap_err();
        assert!(e.contains("b.yml") && e.contains("nope"), "{e}");
        let _ = std::fs::remove_dir_all(d);
    }
}
