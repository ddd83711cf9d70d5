//! router: parse the configuration, set up tracing, bind, start discovery, serve.
//! `router healthcheck` checks a running instance (for a Docker HEALTHCHECK).

use std::process::ExitCode;

/// mimalloc: the proxies allocate and free small buffers per request; glibc's allocator
/// showed up at a fifth of the CPU in profiles (see BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use router::config::{Config, LogFormat};
use router::server::{self, Shared};
use router::{admin, discovery};

struct ProcessEnv;

impl router::config::Env for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
    fn names(&self) -> Vec<String> {
        std::env::vars_os()
            .filter_map(|(k, _)| k.into_string().ok())
            .collect()
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if matches!(args.first().map(String::as_str), Some("--version" | "-V")) {
        println!("router {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let config = match Config::from_env(&ProcessEnv) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("router: invalid configuration: {e}");
            return ExitCode::from(64);
        }
    };
    match args.first().map(String::as_str) {
        None => serve(config),
        Some("healthcheck") => healthcheck(&config),
        Some(other) => {
            eprintln!("router: unknown command {other:?}\nusage: router [healthcheck | --version]");
            ExitCode::from(64)
        }
    }
}

/// GET /ping on the admin listener when there is one, else any answer from the web entry
/// point (a 404 from an empty table still proves it serves).
fn healthcheck(config: &Config) -> ExitCode {
    use std::io::{Read, Write};
    let (addr, path) = match config.admin_listen {
        Some(a) => (a, "/ping"),
        None => (config.web_listen, "/"),
    };
    let ip = if addr.ip().is_unspecified() {
        std::net::IpAddr::from([127, 0, 0, 1])
    } else {
        addr.ip()
    };
    let target = std::net::SocketAddr::new(ip, addr.port());
    let timeout = std::time::Duration::from_secs(3);
    let result = std::net::TcpStream::connect_timeout(&target, timeout).and_then(|mut s| {
        s.set_read_timeout(Some(timeout))?;
        s.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )?;
        let mut buf = String::new();
        s.take(4096).read_to_string(&mut buf)?;
        Ok(buf)
    });
    match result {
        Ok(resp)
            if resp.starts_with("HTTP/1.1 200")
                || (path == "/" && resp.starts_with("HTTP/1.1 ")) =>
        {
            println!("healthy: {target}{path}");
            ExitCode::SUCCESS
        }
        Ok(resp) => {
            eprintln!(
                "unhealthy: {target}{path}: {}",
                resp.lines().next().unwrap_or("")
            );
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("unhealthy: {target}{path}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(config: Config) -> ExitCode {
    // An access line per request by default: appended to a buffer that a thread of its own
    // writes to stderr in batches (the `log-writer` crate), so a request costs formatting and
    // a copy, not a write; no line is dropped. Dropping `_flush_on_exit` writes out the rest.
    let json = matches!(config.log_format, LogFormat::Json);
    let _flush_on_exit = match log_writer::install("router-log", &config.log_level, json) {
        Ok(flush) => flush,
        Err(e) => {
            eprintln!("router: cannot start the log writer: {e}");
            return ExitCode::FAILURE;
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("router: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async move {
        let web = match tokio::net::TcpListener::bind(config.web_listen).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("router: ROUTER_WEB_LISTEN={}: cannot bind: {e}", config.web_listen);
                return ExitCode::from(64);
            }
        };
        let admin_listener = match config.admin_listen {
            Some(a) => match tokio::net::TcpListener::bind(a).await {
                Ok(l) => Some(l),
                Err(e) => {
                    eprintln!("router: ROUTER_ADMIN_LISTEN={a}: cannot bind: {e}");
                    return ExitCode::from(64);
                }
            },
            None => None,
        };
        let shared = Shared::new(config);
        let docker = match discovery::connect(&shared) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("router: DOCKER_HOST: {e}");
                return ExitCode::from(64);
            }
        };
        let websecure = match setup_tls(&shared).await {
            Ok(w) => w,
            Err(e) => {
                eprintln!("router: {e}");
                return ExitCode::from(64);
            }
        };
        tracing::info!(web = %shared.config.web_listen, websecure = ?shared.config.websecure_listen, docker_host = %shared.config.docker_host, "router starting");
        let secure = {
            let shared = shared.clone();
            async move {
                if let Some((listener, acceptor)) = websecure {
                    server::run_tls(listener, acceptor, shared, shutdown_signal()).await;
                }
            }
        };
        if shared.config.swarm_mode {
            tokio::spawn(router::swarm::run(shared.clone(), docker));
        } else {
            tokio::spawn(discovery::run(shared.clone(), docker));
        }
        if let Some(l) = admin_listener {
            tokio::spawn(admin::run(l, shared.clone(), shutdown_signal()));
        }
        // Both entry points stop accepting on SIGTERM and drain their connections.
        tokio::join!(server::run(web, "web", shared, shutdown_signal()), secure);
        ExitCode::SUCCESS
    })
}

/// Binds websecure and builds its TLS acceptor, the certificate directory watcher and ACME.
async fn setup_tls(
    shared: &std::sync::Arc<Shared>,
) -> Result<Option<(tokio::net::TcpListener, tokio_rustls::TlsAcceptor)>, String> {
    let Some(addr) = shared.config.websecure_listen else {
        return Ok(None);
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("ROUTER_WEBSECURE_LISTEN={addr}: cannot bind: {e}"))?;
    let provider = router::tls::provider(shared.config.tls_ciphers.as_deref())
        .map_err(|e| format!("ROUTER_TLS_CIPHERS: {e}"))?;
    let resolver = router::tls::CertResolver::new(provider.clone());
    if let Some(dir) = &shared.config.certs_dir {
        if !dir.is_dir() {
            return Err(format!(
                "ROUTER_CERTS_DIR={}: not a directory",
                dir.display()
            ));
        }
        tokio::spawn(router::tls::watch_dir(dir.clone(), resolver.clone()));
    }
    if let Some(acme) = &shared.config.acme {
        router::acme::start(shared.clone(), acme.clone(), resolver.clone()).await?;
    }
    let config = router::tls::server_config(provider, resolver)?;
    Ok(Some((listener, tokio_rustls::TlsAcceptor::from(config))))
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
