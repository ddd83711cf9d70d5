//! Real-world compose files' `traefik.*` labels (public repositories, the source of each
//! group named by its corpus number in the case name), decoded as the Docker provider reads
//! them: each compose file's containers make one snapshot, whose only issues are the
//! [`EXPECTED`] ones (a difference the README states, or labels Traefik refuses too). Only
//! labels are kept (short facts); `${VAR}` references are replaced by sample values.

use std::collections::BTreeMap;

use super::container::{snapshot, ContainerInfo, ContainerSettings, Health, RunState};

type Labels = &'static [(&'static str, &'static str)];

/// (`<corpus number>/<compose service>`, labels): a compose file's containers share the number.
const CASES: &[(&str, Labels)] = &[
        ("01/traefik", &[
            ("traefik.enable", "true"),
            ("traefik.http.routers.traefik-rtr.entrypoints", "websecure"),
            ("traefik.http.routers.traefik-rtr.rule", "Host(`traefik.example.com`)"),
            ("traefik.http.routers.traefik-rtr.service", "api@internal"),
            ("traefik.http.routers.traefik-rtr.middlewares", "chain-oauth@file"),
        ]),
        ("14/traefik", &[
            ("traefik.enable", "true"),
            ("traefik.http.routers.api.rule", "Host(`traefik.example.com`)"),
            ("traefik.http.routers.api.service", "api@internal"),
            ("traefik.http.routers.api.middlewares", "local-ipwhitelist@file,basic-auth@file"),
        ]),
        ("15/traefik", &[
            ("traefik.enable", "true"),
            ("traefik.http.routers.api.rule", "Host(`traefik.example.com`)"),
            ("traefik.http.routers.api.service", "api@internal"),
            ("traefik.http.routers.api.middlewares", "local-ipwhitelist@file,basic-auth@file"),
        ]),
        ("18/traefik", &[
            ("traefik.enable", "true"),
            ("traefik.http.routers.dashboard.entrypoints", "websecure"),
            ("traefik.http.routers.dashboard.tls.certresolver", "letsencryptresolver"),
            ("traefik.http.routers.dashboard.service", "api@internal"),
            ("traefik.http.routers.dashboard.middlewares", "dashboard-auth,traefik-real-ip"),
            ("traefik.http.routers.dashboard.rule", "Host(`tr.example.com`)"),
            ("traefik.http.routers.dashboard.tls.domains[0].main", "example.com"),
            ("traefik.http.routers.dashboard.tls.domains[0].sans", "*.example.com"),
            ("traefik.http.services.dashboard.loadbalancer.server.port", "8080"),
            ("traefik.http.middlewares.dashboard-auth.basicauth.users", "admin:$apr1$76boeqjp$tVQUCSSQky300AS.kgbZX/"),
            ("traefik.http.middlewares.traefik-real-ip.plugin.traefik-real-ip.excludednets", "1.1.1.1/24"),
            ("traefik.http.middlewares.fail2ban.plugin.fail2ban.rules.enabled", "true"),
            ("traefik.http.middlewares.fail2ban.plugin.fail2ban.rules.bantime", "3m"),
            ("traefik.http.middlewares.fail2ban.plugin.fail2ban.rules.findtime", "1m"),
            ("traefik.http.middlewares.fail2ban.plugin.fail2ban.rules.maxretry", "60"),
            ("traefik.http.middlewares.fail2ban.plugin.fail2ban.rules.statuscode", "400,401,403-499"),
        ]),
        ("22/traefik", &[
            ("traefik.enable", "true\""),
            ("traefik.http.routers.traefik.rule", "Host(`traefik.example.com`)"),
            ("traefik.http.routers.traefik.tls", "true"),
            ("traefik.http.routers.traefik.tls.certresolver", "myresolver"),
            ("traefik.http.services.traefik.loadbalancer.server.port", "8080"),
        ]),
        ("22/whoami", &[
            ("traefik.enable", "true"),
            ("traefik.http.routers.whoami.rule", "Host(`whoami.example.com`)"),
            ("traefik.http.routers.whoami.tls", "true"),
            ("traefik.http.routers.whoami.tls.certresolver", "myresolver"),
        ]),
        ("31/authelia", &[
            ("traefik.enable", "true"),
            ("traefik.http.routers.authelia.rule", "Host(`authelia.example.com`)"),
            ("traefik.http.routers.authelia.entrypoints", "https"),
            ("traefik.http.routers.authelia.tls", "true"),
            ("traefik.http.routers.authelia.tls.options", "default"),
            ("traefik.http.middlewares.authelia.forwardAuth.address", "http://authelia:9091/api/authz/forward-auth"),
            ("traefik.http.middlewares.authelia.forwardAuth.trustForwardHeader", "true"),
            ("traefik.http.middlewares.authelia.forwardAuth.maxResponseBodySize", "8192"),
            ("traefik.http.middlewares.authelia.forwardAuth.authResponseHeaders", "Remote-User,Remote-Groups,Remote-Name,Remote-Email"),
        ]),
        ("31/traefik", &[
            ("traefik.enable", "true"),
            ("traefik.http.routers.api.rule", "Host(`traefik.example.com`)"),
            ("traefik.http.routers.api.entrypoints", "https"),
            ("traefik.http.routers.api.service", "api@internal"),
            ("traefik.http.routers.api.tls", "true"),
            ("traefik.http.routers.api.tls.options", "default"),
            ("traefik.http.routers.api.middlewares", "authelia@docker"),
        ]),
        ("31/secure", &[
            ("traefik.enable", "true"),
            ("traefik.http.routers.secure.rule", "Host(`secure.example.com`)"),
            ("traefik.http.routers.secure.entrypoints", "https"),
            ("traefik.http.routers.secure.tls", "true"),
            ("traefik.http.routers.secure.tls.options", "default"),
            ("traefik.http.routers.secure.middlewares", "authelia@docker"),
        ]),
        ("31/public", &[
            ("traefik.enable", "true"),
            ("traefik.http.routers.public.rule", "Host(`public.example.com`)"),
            ("traefik.http.routers.public.entrypoints", "https"),
            ("traefik.http.routers.public.tls", "true"),
            ("traefik.http.routers.public.tls.options", "default"),
            ("traefik.http.routers.public.middlewares", "authelia@docker"),
        ]),
        ("32/traefik", &[
            ("traefik.enable", "true"),
            ("traefik.http.routers.api.rule", "Host(`traefik.example.com`)"),
            ("traefik.http.routers.api.entrypoints", "https"),
            ("traefik.http.routers.api.service", "api@internal"),
            ("traefik.http.routers.api.tls", "true"),
            ("traefik.http.middlewares.authelia.forwardAuth.address", "https://authelia-backend:9091/api/authz/forward-auth"),
            ("traefik.http.middlewares.authelia.forwardAuth.tls.insecureSkipVerify", "true"),
            ("traefik.http.middlewares.authelia.forwardAuth.trustForwardHeader", "true"),
            ("traefik.http.middlewares.authelia.forwardAuth.maxResponseBodySize", "8192"),
            ("traefik.http.middlewares.authelia.forwardAuth.authResponseHeaders", "Authorization,Proxy-Authorization,Remote-User,Remote-Groups,Remote-Email,Remote-Name"),
        ]),
        ("38/gitea_server", &[
            ("traefik.enable", "true"),
            ("traefik.http.services.gitea.loadbalancer.server.port", "3000"),
            ("traefik.http.routers.gitea.rule", "Host(`git.example.com`)"),
            ("traefik.http.routers.gitea.entrypoints", "websecure"),
            ("traefik.http.routers.gitea.tls", "true"),
            ("traefik.http.routers.gitea.tls.domains[0].main", "example.com"),
            ("traefik.http.routers.gitea.tls.domains[0].sans", "*.example.com"),
            ("traefik.http.routers.gitea.tls.certresolver", "letsencryptresolver"),
            ("traefik.http.routers.gitea.middlewares", "traefik-real-ip,fail2ban"),
            ("traefik.tcp.services.gitea-ssh.loadbalancer.server.port", "2222"),
            ("traefik.tcp.routers.gitea-ssh.entrypoints", "ssh"),
            ("traefik.tcp.routers.gitea-ssh.service", "gitea-ssh"),
            ("traefik.tcp.routers.gitea-ssh.rule", "HostSNI(`*`)"),
        ]),
        ("39/adguard", &[
            ("traefik.enable", "true"),
            ("traefik.http.services.adguard.loadbalancer.server.port", "3000"),
            ("traefik.http.routers.adguard.rule", "Host(`ad.example.com`)"),
            ("traefik.http.routers.adguard.entrypoints", "websecure"),
            ("traefik.http.routers.adguard.tls.certresolver", "letsencryptresolver"),
            ("traefik.http.routers.adguard.tls.domains[0].main", "example.com"),
            ("traefik.http.routers.adguard.tls.domains[0].sans", "*.example.com"),
            ("traefik.udp.routers.adguard.service", "adguard"),
            ("traefik.udp.services.adguard.loadbalancer.server.port", "53"),
            ("traefik.http.routers.adguard.middlewares", "traefik-real-ip,dashboard-auth,fail2ban"),
        ]),
];

/// (corpus number, label, level): the issues the corpus should give, and why.
const EXPECTED: &[(&str, &str, &str)] = &[
    // Plugin middlewares are not supported (README, "Not supported").
    ("18", "traefik.http.middlewares.fail2ban", "error"),
    ("18", "traefik.http.middlewares.traefik-real-ip", "error"),
    // `traefik.enable=true"` (a stray quote in the source): Traefik's `label.Decode` fails on
    // the boolean too, and skips the container.
    ("22", "traefik.enable", "error"),
];

fn container(name: &str, labels: Labels) -> ContainerInfo {
    ContainerInfo {
        id: format!("{name}-id"),
        name: name.replace('/', "-"),
        labels: labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>(),
        state: RunState::Running,
        health: Health::None,
        networks: [("proxy".to_owned(), Some([127, 0, 0, 1].into()))].into(),
        bindings: Default::default(),
        network_mode: "proxy".into(),
        exposed_ports: [80].into(),
    }
}

#[test]
fn real_world_labels_read_as_traefik_reads_them() {
    let mut settings = ContainerSettings::traefik_defaults("docker");
    settings.exposed_by_default = false;
    let mut files: BTreeMap<&str, Vec<ContainerInfo>> = BTreeMap::new();
    for (name, labels) in CASES {
        let file = name.split('/').next().unwrap();
        files.entry(file).or_default().push(container(name, labels));
    }
    let mut unexpected = Vec::new();
    let mut seen = Vec::new();
    for (file, containers) in &files {
        let snap = snapshot(containers, &settings);
        for i in &snap.issues {
            let key = i.key.as_deref().unwrap_or("");
            match EXPECTED
                .iter()
                .find(|(f, k, l)| f == file && *k == key && *l == i.level)
            {
                Some(e) => seen.push(*e),
                None => unexpected.push(format!(
                    "{file}: {} {} {key}: {}",
                    i.source, i.level, i.message
                )),
            }
        }
    }
    assert!(unexpected.is_empty(), "issues:\n{}", unexpected.join("\n"));
    for e in EXPECTED {
        assert!(seen.contains(e), "{e:?} was not reported");
    }
}
