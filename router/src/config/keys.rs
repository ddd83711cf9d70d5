//! Every static key the router reads, one row each: a value Traefik accepts gives the setting
//! it stands for, and a value it refuses (or the router cannot honour) stops the router with
//! an error naming the key. The README's static configuration table is this table in prose.

use std::collections::HashMap;
use std::time::Duration;

use super::sources::parse_args;
use super::*;
use crate::entry_http::{EncodedCharacters, Underscores};

fn load(flags: &[&str]) -> Result<Config, ConfigError> {
    let args = parse_args(&flags.iter().map(|s| s.to_string()).collect::<Vec<_>>())?;
    Config::load(&HashMap::<String, String>::new(), &args, false)
}

/// `flags` with an `https` entry point on `:443` and a `web` one on `:80`, so the row's own
/// flag can refer to them.
fn with_eps(flags: &[&str]) -> Vec<String> {
    let mut v = vec![
        "--entrypoints.web.address=:80".to_string(),
        "--entrypoints.https.address=:443".to_string(),
    ];
    v.extend(flags.iter().map(|s| s.to_string()));
    v
}

fn ok(flags: &[&str]) -> Config {
    let all = with_eps(flags);
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    load(&refs).unwrap_or_else(|e| panic!("{flags:?} refused: {e}"))
}

fn ep<'a>(c: &'a Config, name: &str) -> &'a EntryPoint {
    c.entry_point(name).unwrap()
}

type Check = fn(&Config) -> bool;

#[test]
fn every_supported_key_gives_its_setting() {
    let rows: &[(&[&str], Check)] = &[
        (&["--entrypoints.x.address=127.0.0.1:81"], |c| {
            ep(c, "x").address.port() == 81
        }),
        (&["--entrypoints.x.address=:81/tcp"], |c| {
            ep(c, "x").address.port() == 81
        }),
        (&["--entrypoints.web.asdefault=true"], |c| {
            ep(c, "web").default && !ep(c, "https").default
        }),
        (
            &["--entrypoints.web.http.redirections.entrypoint.to=https"],
            |c| {
                let r = ep(c, "web").redirect.as_ref().unwrap();
                (r.port, r.scheme.as_str(), r.permanent) == (443, "https", true)
            },
        ),
        (
            &[
                "--entrypoints.web.http.redirections.entrypoint.to=:8443",
                "--entrypoints.web.http.redirections.entrypoint.permanent=false",
            ],
            |c| {
                let r = ep(c, "web").redirect.as_ref().unwrap();
                (r.port, r.permanent) == (8443, false)
            },
        ),
        (
            &[
                "--entrypoints.web.http.redirections.entrypoint.to=https",
                "--entrypoints.web.http.redirections.entrypoint.priority=10",
            ],
            |c| ep(c, "web").redirect.as_ref().unwrap().priority == 10,
        ),
        (
            &["--entrypoints.https.http.middlewares=a@file,b@file"],
            |c| ep(c, "https").middlewares == ["a@file", "b@file"],
        ),
        (&["--entrypoints.https.http.tls=true"], |c| {
            ep(c, "https").tls.is_some()
        }),
        (
            &[
                "--entrypoints.https.http.tls.certresolver=le",
                "--certificatesresolvers.le.acme.storage=/tmp/a.json",
            ],
            |c| ep(c, "https").tls.as_ref().unwrap().cert_resolver == "le",
        ),
        (&["--entrypoints.https.http.tls.options=modern@file"], |c| {
            ep(c, "https").tls.as_ref().unwrap().options == "modern@file"
        }),
        (
            &[
                "--entrypoints.https.http.tls.domains[0].main=example.com",
                "--entrypoints.https.http.tls.domains[0].sans=a.example.com,b.example.com",
            ],
            |c| {
                let d = &ep(c, "https").tls.as_ref().unwrap().domains[0];
                d.main == "example.com" && d.sans.len() == 2
            },
        ),
        (&["--entrypoints.web.http.maxheaderbytes=16384"], |c| {
            ep(c, "web").max_header_bytes == 16384
        }),
        (
            &["--entrypoints.web.forwardedheaders.trustedips=10.0.0.0/8,192.168.1.1"],
            |c| ep(c, "web").forwarded.trusted_ips.len() == 2,
        ),
        (&["--entrypoints.web.forwardedheaders.insecure=true"], |c| {
            ep(c, "web").forwarded.insecure
        }),
        (
            &["--entrypoints.web.proxyprotocol.trustedips=10.0.0.1"],
            |c| ep(c, "web").proxy_protocol.is_some(),
        ),
        (&["--entrypoints.web.proxyprotocol.insecure=true"], |c| {
            ep(c, "web").proxy_protocol.as_ref().unwrap().insecure
        }),
        (&["--entrypoints.dns.address=:53/udp"], |c| {
            ep(c, "dns").udp == Some(Duration::from_secs(3)) && !ep(c, "dns").default
        }),
        (
            &[
                "--entrypoints.dns.address=:53/UDP",
                "--entrypoints.dns.udp.timeout=10s",
            ],
            |c| ep(c, "dns").udp == Some(Duration::from_secs(10)),
        ),
        (
            &["--entrypoints.web.transport.respondingtimeouts.readtimeout=5s"],
            |c| ep(c, "web").header_timeout == Duration::from_secs(5),
        ),
        (
            &["--entrypoints.web.transport.respondingtimeouts.idletimeout=90"],
            |c| ep(c, "web").idle_timeout == Duration::from_secs(90),
        ),
        (
            &["--entrypoints.web.transport.respondingtimeouts.writetimeout=0"],
            |c| ep(c, "web").idle_timeout == Duration::from_secs(180),
        ),
        (
            &["--entrypoints.web.transport.lifecycle.gracetimeout=3s"],
            |c| ep(c, "web").grace_timeout == Duration::from_secs(3),
        ),
        (
            &["--entrypoints.web.transport.respondingtimeouts.writetimeout=5s"],
            |c| ep(c, "web").write_timeout == Duration::from_secs(5),
        ),
        (
            &[
                "--entrypoints.web.transport.keepalivemaxrequests=10",
                "--entrypoints.web.transport.keepalivemaxtime=1m",
            ],
            |c| {
                ep(c, "web").keep_alive_max_requests == 10
                    && ep(c, "web").keep_alive_max_time == Duration::from_secs(60)
            },
        ),
        (
            &[
                "--providers.docker=true",
                "--providers.docker.usebindportip=true",
            ],
            |c| c.docker.as_ref().unwrap().use_bind_port_ip,
        ),
        (&["--entrypoints.web.reuseport=true"], |c| {
            ep(c, "web").reuse_port
        }),
        (
            &[
                "--entrypoints.web.http2.maxdecoderheadertablesize=8192",
                "--entrypoints.web.http2.maxencoderheadertablesize=1024",
            ],
            |c| {
                ep(c, "web").h2_decoder_table == 8192
                    && ep(c, "web").h2_encoder_table == 1024
                    && c.notes
                        .iter()
                        .any(|n| n.contains("maxEncoderHeaderTableSize"))
            },
        ),
        (
            &[
                "--entrypoints.web.http3=true",
                "--entrypoints.web.http3.advertisedport=443",
            ],
            |c| c.notes.iter().any(|n| n.contains("HTTP/3 is not served")),
        ),
        (
            &["--entrypoints.web.http.underscoreheadersstrategy=keep"],
            |c| ep(c, "web").http.underscores == Underscores::Keep,
        ),
        (
            &["--entrypoints.web.http.underscoreheadersstrategy=reject"],
            |c| ep(c, "web").http.underscores == Underscores::Reject,
        ),
        (&["--entrypoints.web.asdefault=true"], |c| {
            ep(c, "web").http == crate::entry_http::Settings::default()
                && ep(c, "web").http.sanitize_path
        }),
        (&["--entrypoints.web.http.sanitizepath=false"], |c| {
            !ep(c, "web").http.sanitize_path
        }),
        (
            &["--entrypoints.web.http.encodequerysemicolons=true"],
            |c| ep(c, "web").http.encode_query_semicolons,
        ),
        (
            &["--entrypoints.web.http.encodedcharacters.allowencodedslash=false"],
            |c| {
                ep(c, "web").http.encoded_characters
                    == Some(EncodedCharacters {
                        slash: false,
                        ..Default::default()
                    })
            },
        ),
        (&["--entrypoints.web.http.encodedcharacters"], |c| {
            ep(c, "web").http.encoded_characters == Some(EncodedCharacters::default())
        }),
        (&["--entrypoints.web.http.encodedcharacters=false"], |c| {
            ep(c, "web").http.encoded_characters.is_none()
        }),
        (&["--entrypoints.web.http2.maxconcurrentstreams=50"], |c| {
            ep(c, "web").max_concurrent_streams == 50
        }),
        (&["--entrypoints.web.observability.accesslogs=false"], |c| {
            !ep(c, "web").access_logs
        }),
        (&["--providers.docker=true"], |c| {
            c.docker.as_ref().is_some_and(|d| d.exposed_by_default)
        }),
        (&["--providers.docker.exposedbydefault=false"], |c| {
            !c.docker.as_ref().unwrap().exposed_by_default
        }),
        (&["--providers.docker.endpoint=tcp://guard:2375"], |c| {
            c.docker.as_ref().unwrap().endpoint.as_deref() == Some("guard:2375")
        }),
        (&["--providers.docker.network=edge_web"], |c| {
            c.docker.as_ref().unwrap().network.as_deref() == Some("edge_web")
        }),
        (
            &["--providers.docker.defaultrule=Host(`{{ .Name }}.example.com`)"],
            |c| {
                c.docker
                    .as_ref()
                    .unwrap()
                    .default_rule
                    .contains("example.com")
            },
        ),
        (&["--providers.docker.constraints=Label(`a`,`b`)"], |c| {
            c.docker.as_ref().unwrap().constraints.is_some()
        }),
        (&["--providers.docker.watch=false"], |c| {
            !c.docker.as_ref().unwrap().watch
        }),
        (&["--providers.docker.allowemptyservices=true"], |c| {
            c.docker.as_ref().unwrap().allow_empty_services
        }),
        (&["--providers.docker.httpclienttimeout=30"], |c| {
            c.docker.is_some()
        }),
        (&["--providers.swarm=true"], |c| {
            c.swarm
                .as_ref()
                .is_some_and(|s| s.refresh == Duration::from_secs(15))
        }),
        (&["--providers.swarm.refreshseconds=30s"], |c| {
            c.swarm.as_ref().unwrap().refresh == Duration::from_secs(30)
        }),
        (
            &["--providers.file.filename=/etc/traefik/dynamic.yml"],
            |c| {
                c.file
                    .as_ref()
                    .is_some_and(|f| f.filename.is_some() && f.watch)
            },
        ),
        (
            &[
                "--providers.file.directory=/etc/traefik/dynamic",
                "--providers.file.watch=false",
            ],
            |c| {
                c.file
                    .as_ref()
                    .is_some_and(|f| f.directory.is_some() && !f.watch)
            },
        ),
        (&["--providers.providersthrottleduration=2s"], |_| true),
        (&["--providers.etcd=true"], |c| {
            c.etcd.as_ref().is_some_and(|e| {
                e.endpoints == ["127.0.0.1:2379"] && e.root() == "traefik" && e.tls.is_none()
            })
        }),
        (
            &[
                "--providers.etcd.endpoints=10.0.0.1:2379,etcd.internal:2379",
                "--providers.etcd.rootkey=/edge/",
                "--providers.etcd.username=u",
                "--providers.etcd.password=p w",
            ],
            |c| {
                c.etcd.as_ref().is_some_and(|e| {
                    e.endpoints.len() == 2
                        && e.root() == "edge"
                        && e.username == "u"
                        && e.password == "p w"
                })
            },
        ),
        (
            &[
                "--providers.redis.endpoints=redis:6379",
                "--providers.redis.db=2",
                "--providers.redis.password=secret",
            ],
            |c| {
                c.redis.as_ref().is_some_and(|r| {
                    r.endpoints == ["redis:6379"] && r.db == 2 && r.username.is_empty()
                })
            },
        ),
        (&["--providers.ecs=true"], |c| {
            c.ecs.as_ref().is_some_and(|e| {
                e.clusters == ["default"]
                    && !e.auto_discover_clusters
                    && e.exposed_by_default
                    && e.refresh == Duration::from_secs(15)
                    && e.default_rule == "Host(`{{ normalize .Name }}`)"
                    && e.region.is_empty()
            })
        }),
        (
            &[
                "--providers.ecs.clusters=web,arn:aws:ecs:us-east-1:123456789012:cluster/api",
                "--providers.ecs.autodiscoverclusters=true",
                "--providers.ecs.exposedbydefault=false",
                "--providers.ecs.healthytasksonly=true",
                "--providers.ecs.refreshseconds=5",
                "--providers.ecs.region=eu-west-1",
                "--providers.ecs.accesskeyid=AKID",
                "--providers.ecs.secretaccesskey=s3cr3t",
                "--providers.ecs.constraints=Label(`team`, `edge`)",
                "--providers.ecs.ecsanywhere=false",
                "--providers.ecs.endpoint=http://127.0.0.1:4566",
            ],
            |c| {
                c.ecs.as_ref().is_some_and(|e| {
                    e.clusters.len() == 2
                        && e.auto_discover_clusters
                        && !e.exposed_by_default
                        && e.healthy_tasks_only
                        && e.refresh == Duration::from_secs(5)
                        && e.region == "eu-west-1"
                        && e.access_key_id == "AKID"
                        && e.secret_access_key == "s3cr3t"
                        && e.constraints.is_some()
                        && e.endpoint == "http://127.0.0.1:4566"
                })
            },
        ),
        (&["--providers.redis=true"], |c| {
            c.redis
                .as_ref()
                .is_some_and(|r| r.endpoints == ["127.0.0.1:6379"] && r.db == 0)
        }),
        (
            &["--certificatesresolvers.le.acme.email=a@example.com"],
            |c| {
                c.acme
                    .as_ref()
                    .is_some_and(|a| a.email == "a@example.com" && a.directory == LETS_ENCRYPT)
            },
        ),
        (
            &["--certificatesresolvers.le.acme.caserver=https://ca.test/dir"],
            |c| c.acme.as_ref().unwrap().directory == "https://ca.test/dir",
        ),
        (
            &["--certificatesresolvers.le.acme.storage=/letsencrypt/acme.json"],
            |c| c.acme.as_ref().unwrap().storage == std::path::Path::new("/letsencrypt/acme.json"),
        ),
        (
            &["--certificatesresolvers.le.acme.httpchallenge.entrypoint=web"],
            |c| c.acme.is_some(),
        ),
        (
            &["--certificatesresolvers.le.acme.tlschallenge=true"],
            |c| c.acme.is_some(),
        ),
        (
            &["--certificatesresolvers.le.acme.certificatesduration=720"],
            |c| c.acme.as_ref().unwrap().renew_before == Duration::from_secs(240 * 3600),
        ),
        (&["--certificatesresolvers.le.acme.keytype=EC384"], |c| {
            !c.notes.is_empty()
        }),
        (
            &["--certificatesresolvers.le.acme.cacertificates=/ca.pem"],
            |c| c.acme.as_ref().unwrap().ca_file.is_some(),
        ),
        (&["--api=true"], |c| {
            c.api.as_ref().is_some_and(|a| a.dashboard && !a.insecure)
        }),
        (&["--api.insecure=true"], |c| {
            c.api.as_ref().unwrap().insecure && c.entry_point("traefik").is_some()
        }),
        (&["--api.dashboard=false"], |c| {
            !c.api.as_ref().unwrap().dashboard
        }),
        (&["--api.basepath=/"], |c| c.api.is_some()),
        (&["--ping=true"], |c| {
            c.ping
                .as_ref()
                .is_some_and(|p| p.entry_point == "traefik" && p.terminating_status == 503)
        }),
        (&["--ping.entrypoint=web"], |c| {
            c.ping.as_ref().unwrap().entry_point == "web"
        }),
        (&["--ping.manualrouting=true"], |c| {
            c.ping.as_ref().unwrap().manual_routing
        }),
        (&["--ping.terminatingstatuscode=0"], |c| {
            c.ping.as_ref().unwrap().terminating_status == 0
        }),
        (&["--ping.terminatingstatuscode=204"], |c| {
            c.ping.as_ref().unwrap().terminating_status == 204
        }),
        (&["--metrics.prometheus=true"], |c| c.prometheus.is_some()),
        (
            &[
                "--metrics.prometheus.entrypoint=web",
                "--metrics.prometheus.manualrouting=true",
            ],
            |c| {
                let p = c.prometheus.as_ref().unwrap();
                p.entry_point == "web" && p.manual_routing
            },
        ),
        (
            &[
                "--metrics.prometheus.addrouterslabels=true",
                "--metrics.prometheus.buckets=0.1,0.3",
            ],
            |c| c.prometheus.is_some(),
        ),
        (&["--log.level=DEBUG"], |c| c.log_level.starts_with("debug")),
        (&["--log.level=fatal"], |c| c.log_level.starts_with("error")),
        (&["--log.format=common"], |c| {
            c.log_format == LogFormat::Text
        }),
        (&["--log.nocolor=true"], |_| true),
        (&["--accesslog=true"], |c| c.access_log),
        // Traefik's defaults: internal routers neither logged nor counted.
        (&["--accesslog=true"], |c| {
            !c.access_log_internals && !c.metrics_internals
        }),
        (&["--accesslog.addinternals=true"], |c| {
            c.access_log && c.access_log_internals && !c.metrics_internals
        }),
        (&["--metrics.addinternals=true"], |c| {
            c.metrics_internals && !c.access_log_internals
        }),
        (
            &["--accesslog.format=json", "--accesslog.bufferingsize=100"],
            |c| c.access_log,
        ),
        (&["--log.filepath=/var/log/traefik.log"], |c| {
            c.log_file.is_some()
        }),
        (
            &[
                "--tracing.otlp.http.endpoint=http://jaeger:4318/v1/traces",
                "--tracing.samplerate=1.0",
            ],
            |c| c.notes.iter().any(|n| n.contains("sends no traces")),
        ),
        (
            &[
                "--experimental.plugins.fail2ban.modulename=github.com/tomMoulard/fail2ban",
                "--experimental.plugins.fail2ban.version=v0.8.1",
            ],
            |c| c.notes.iter().any(|n| n.contains("plugins are not loaded")),
        ),
        (&["--metrics.prometheus=true"], |c| {
            c.prometheus.as_ref().unwrap().traefik == crate::metrics_traefik::Options::default()
        }),
        (
            &[
                "--metrics.prometheus.addrouterslabels=true",
                "--metrics.prometheus.addentrypointslabels=false",
                "--metrics.prometheus.buckets=1,0.5",
            ],
            |c| {
                let t = &c.prometheus.as_ref().unwrap().traefik;
                t.routers && !t.entry_points && t.services && t.buckets == [0.5, 1.0]
            },
        ),
        (
            &[
                "--accesslog.filepath=/var/log/access.log",
                "--accesslog.filters.statuscodes=400-499",
            ],
            |c| {
                c.traefik_access_log.as_ref().is_some_and(|a| {
                    a.file_path.is_some()
                        && a.filters.as_ref().unwrap().status_codes == [(400, 499)]
                })
            },
        ),
        (&["--core.defaultrulesyntax=v2"], |c| {
            c.default_rule_syntax == crate::model::rule::Syntax::V2
        }),
        (
            &[
                "--global.checknewversion=false",
                "--global.sendanonymoususage=false",
            ],
            |_| true,
        ),
        (&["--serverstransport.insecureskipverify=true"], |c| {
            c.default_transport.insecure_skip_verify
        }),
        (&["--serverstransport.rootcas=/ca.pem,/other.pem"], |c| {
            c.default_transport.root_cas == ["/ca.pem", "/other.pem"]
        }),
    ];
    for (flags, check) in rows {
        let c = ok(flags);
        assert!(check(&c), "{flags:?} did not give its setting: {c:#?}");
    }
}

#[test]
fn docker_tls_is_traefiks_client_tls() {
    let ca = rcgen::generate_simple_self_signed(vec!["guard".to_string()]).unwrap();
    let dir = std::env::temp_dir().join(format!("router-docker-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, ca.cert.pem()).unwrap();
    std::fs::write(&key, ca.signing_key.serialize_pem()).unwrap();
    let flags = [
        format!("--providers.docker.tls.ca={}", cert.display()),
        format!("--providers.docker.tls.cert={}", cert.display()),
        format!("--providers.docker.tls.key={}", key.display()),
        "--providers.docker.endpoint=tcp://guard:2376".to_owned(),
    ];
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let c = ok(&flags);
    let tls = c.docker.as_ref().unwrap().tls.as_ref().unwrap();
    assert_eq!(tls.ca, cert.display().to_string());
    assert!(!tls.insecure_skip_verify);
    // insecureSkipVerify alone is Traefik's (no CA, no client certificate).
    let c = ok(&["--providers.swarm.tls.insecureskipverify=true"]);
    assert!(
        c.swarm
            .as_ref()
            .unwrap()
            .tls
            .as_ref()
            .unwrap()
            .insecure_skip_verify
    );
    // A certificate without its key, or a key that is not the certificate's.
    for bad in [
        vec![format!("--providers.docker.tls.cert={}", cert.display())],
        vec![
            format!("--providers.docker.tls.cert={}", cert.display()),
            "--providers.docker.tls.key=/no/such/key.pem".to_owned(),
        ],
    ] {
        let flags: Vec<&str> = bad.iter().map(String::as_str).collect();
        let e = load(&flags).expect_err("refused");
        assert!(e.to_string().contains("providers.docker.tls"), "{e}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_refused_value_names_its_key() {
    let rows: &[(&[&str], &str)] = &[
        (&["--entrypoints.x.address=nope"], "entrypoints.x.address"),
        (
            &["--entrypoints.x.address=:53/sctp"],
            "entryPoints.x.address",
        ),
        (
            &[
                "--entrypoints.x.address=:53/udp",
                "--entrypoints.x.udp.timeout=0s",
            ],
            "entrypoints.x.udp.timeout",
        ),
        (&["--entrypoints.web.asdefault=maybe"], "asdefault"),
        (
            &["--entrypoints.web.http.redirections.entrypoint.to=nowhere"],
            "redirections.entryPoint.to",
        ),
        (
            &[
                "--entrypoints.web.http.redirections.entrypoint.to=https",
                "--entrypoints.web.http.redirections.entrypoint.scheme=1http",
            ],
            "scheme",
        ),
        (
            &["--entrypoints.web.http.maxheaderbytes=10"],
            "maxheaderbytes",
        ),
        (
            &["--entrypoints.web.forwardedheaders.trustedips=not-an-ip"],
            "trustedips",
        ),
        (
            &["--entrypoints.web.transport.respondingtimeouts.readtimeout=soon"],
            "readtimeout",
        ),
        (
            &["--entrypoints.web.transport.respondingtimeouts.writetimeout=soon"],
            "writetimeout",
        ),
        (
            &["--entrypoints.web.transport.keepalivemaxrequests=many"],
            "keepalivemaxrequests",
        ),
        (
            &["--entrypoints.web.http3.advertisedport=high"],
            "advertisedport",
        ),
        (
            &["--entrypoints.web.transport.lifecycle.requestacceptgracetimeout=5s"],
            "requestacceptgracetimeout",
        ),
        (
            &["--entrypoints.web.http.encodedcharacters.allowencodedslash=maybe"],
            "allowencodedslash",
        ),
        (
            &["--entrypoints.web.http.encodedcharacters.allowencodedspace=false"],
            "allowencodedspace",
        ),
        (
            &["--entrypoints.web.http.sanitizepath=maybe"],
            "sanitizepath",
        ),
        (
            &["--entrypoints.web.http.underscoreheadersstrategy=Delete"],
            "underscoreheadersstrategy",
        ),
        (&["--entrypoints.web.reuseport=perhaps"], "reuseport"),
        (
            &["--entrypoints.web.http2.maxdecoderheadertablesize=-1"],
            "maxdecoderheadertablesize",
        ),
        (
            &["--providers.docker.endpoint=unix:///var/run/docker.sock"],
            "providers.docker.endpoint",
        ),
        (
            &["--providers.docker.exposedbydefault=perhaps"],
            "exposedbydefault",
        ),
        (&["--providers.docker.usebindportip=maybe"], "usebindportip"),
        (&["--providers.docker.constraints=Label(`a`"], "constraints"),
        // Only the empty expression is none (Traefik's `MatchLabels`): spaces do not parse.
        (
            &["--providers.docker.constraints=   "],
            "providers.docker.constraints",
        ),
        (
            &["--providers.swarm.constraints= "],
            "providers.swarm.constraints",
        ),
        (
            &["--providers.docker.tls.ca=/ca.pem"],
            "providers.docker.tls",
        ),
        (&["--providers.swarm.refreshseconds=soon"], "refreshseconds"),
        (&["--providers.file.watch=true"], "providers.file"),
        (
            &[
                "--providers.file.filename=/a.yml",
                "--providers.file.directory=/d",
            ],
            "providers.file",
        ),
        (
            &["--providers.kubernetescrd=true"],
            "providers.kubernetescrd",
        ),
        (
            &["--providers.redis.sentinel.mastername=m"],
            "providers.redis.sentinel",
        ),
        (&["--providers.etcd.endpoints=nohost"], "endpoints"),
        (&["--providers.etcd.endpoints="], "endpoints"),
        (&["--providers.etcd.password=p"], "providers.etcd.password"),
        (&["--providers.etcd.rootkey=/"], "rootkey"),
        (&["--providers.redis.db=-1"], "providers.redis.db"),
        (&["--providers.redis.db=two"], "providers.redis.db"),
        (&["--providers.etcd.bogus=1"], "bogus"),
        (
            &["--providers.etcd.tls.ca=/nonexistent/ca.pem"],
            "providers.etcd.tls",
        ),
        (
            &["--providers.consul.endpoints=127.0.0.1:8500"],
            "providers.consul",
        ),
        (&["--providers.zookeeper=true"], "providers.zookeeper"),
        (
            &["--providers.ecs.refreshseconds=0"],
            "providers.ecs.refreshseconds",
        ),
        (
            &["--providers.ecs.refreshseconds=15s"],
            "providers.ecs.refreshseconds",
        ),
        (
            &["--providers.ecs.ecsanywhere=true"],
            "providers.ecs.ecsanywhere",
        ),
        (
            &["--providers.ecs.accesskeyid=AKID"],
            "providers.ecs.secretAccessKey",
        ),
        (
            &["--providers.ecs.constraints=Label(`a`"],
            "providers.ecs.constraints",
        ),
        (
            &["--providers.ecs.constraints=  "],
            "providers.ecs.constraints",
        ),
        (
            &["--providers.ecs.endpoint=ecs.local:4566"],
            "providers.ecs.endpoint",
        ),
        (
            &["--certificatesresolvers.le.acme.dnschallenge.provider=cloudflare"],
            "dnsChallenge",
        ),
        (
            &["--certificatesresolvers.le.acme.httpchallenge.entrypoint=nope"],
            "httpChallenge.entryPoint",
        ),
        (&["--certificatesresolvers.le.acme.keytype=DSA"], "keytype"),
        (
            &["--certificatesresolvers.le.acme.certificatesduration=0"],
            "certificatesduration",
        ),
        (&["--certificatesresolvers.le.acme.eab.kid=x"], "eab"),
        (
            &["--certificatesresolvers.le.tailscale=true"],
            "certificatesresolvers.le",
        ),
        (&["--api.basepath=/traefik"], "basepath"),
        (
            &["--ping.terminatingstatuscode=abc"],
            "terminatingstatuscode",
        ),
        (
            &["--ping.terminatingstatuscode=1000"],
            "terminatingstatuscode",
        ),
        (&["--metrics.datadog=true"], "metrics.datadog"),
        (&["--log.level=loud"], "log.level"),
        (
            &["--accesslog.addinternals=perhaps"],
            "accesslog.addinternals",
        ),
        (&["--metrics.addinternals=perhaps"], "metrics.addinternals"),
        (&["--log.format=xml"], "log.format"),
        (&["--log.maxsize=big"], "log.maxsize"),
        (
            &["--accesslog.filters.statuscodes=4xx"],
            "accesslog.filters.statuscodes",
        ),
        (&["--accesslog.otlp=true"], "accesslog.otlp"),
        (&["--core.defaultrulesyntax=v4"], "defaultrulesyntax"),
        (
            &["--serverstransport.servername=x"],
            "serverstransport.servername",
        ),
        (
            &[
                "--experimental.plugins.x.modulename=y",
                "--experimental.abortonpluginfailure=true",
            ],
            "abortonpluginfailure",
        ),
        (&["--experimental.fastproxy=true"], "experimental.fastproxy"),
        (&["--hostresolver=true"], "hostresolver"),
        (&["--nosuchkey=1"], "nosuchkey"),
    ];
    for (flags, key) in rows {
        let all = with_eps(flags);
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        match load(&refs) {
            Ok(_) => panic!("{flags:?} was accepted"),
            Err(e) => assert!(
                e.var
                    .to_ascii_lowercase()
                    .contains(&key.to_ascii_lowercase()),
                "{flags:?}: the error does not name {key:?}: {e}"
            ),
        }
    }
}

/// A `constraints` of spaces is an error naming the key and the value (Traefik's
/// `MatchLabels` returns `true` for the empty expression only); the empty one is none.
#[test]
fn constraints_of_spaces_are_refused_and_the_empty_one_is_none() {
    for flag in [
        "--providers.docker.constraints=   ",
        "--providers.ecs.constraints=   ",
    ] {
        let e = load(
            &with_eps(&[flag])
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        )
        .expect_err(flag);
        let text = e.to_string();
        assert!(text.contains("constraints=\"   \""), "{text}");
    }
    let c = ok(&["--providers.docker.constraints="]);
    assert!(c.docker.as_ref().unwrap().constraints.is_none());
}
