//! router: parse the configuration (Traefik's static configuration and `ROUTER_*`), set up
//! logging, bind every entry point, start the providers, serve ([`router::run`]).
//! `router healthcheck` checks a running instance (for a Docker HEALTHCHECK); `router version`
//! prints the version; `router htpasswd USER` prints a `basicAuth.users` line (bcrypt) for the
//! password on its standard input (what `make up` protects the dashboard with).

use std::process::ExitCode;

/// mimalloc: the proxies allocate and free small buffers per request; glibc's allocator
/// showed up at a fifth of the CPU in profiles (see BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use router::config::sources::parse_args;
use router::config::{Config, LogFormat};

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

const USAGE: &str = "usage: router [healthcheck | version] [--<traefik static configuration flag>=<value> ...]\n       router htpasswd USER < password\n       router cluster-certs DIR [CONTROLLER_NAME ...]";

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if matches!(
        argv.first().map(String::as_str),
        Some("--version" | "-V" | "version")
    ) {
        println!("router {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    if argv.first().map(String::as_str) == Some("htpasswd") {
        return htpasswd(&argv[1..]);
    }
    if argv.first().map(String::as_str) == Some("cluster-certs") {
        return cluster_certs(&argv[1..]);
    }
    let args = match parse_args(&argv) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("router: invalid configuration: {e}\n{USAGE}");
            return ExitCode::from(64);
        }
    };
    let command = match args.positional.as_slice() {
        [] => None,
        [c] if c == "healthcheck" => Some(c.as_str()),
        _ => {
            eprintln!(
                "router: unexpected arguments {:?}\n{USAGE}",
                args.positional
            );
            return ExitCode::from(64);
        }
    };
    let config = match Config::load(&ProcessEnv, &args, true) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("router: invalid configuration: {e}");
            return ExitCode::from(64);
        }
    };
    match command {
        Some(_) => healthcheck(&config),
        None => serve(config),
    }
}

/// `router cluster-certs DIR [NAME ...]`: the cluster mode's CA and certificates
/// ([`router::cluster::certs`]).
fn cluster_certs(args: &[String]) -> ExitCode {
    let Some((dir, names)) = args.split_first() else {
        eprintln!("router: cluster-certs takes a directory\n{USAGE}");
        return ExitCode::from(64);
    };
    match router::cluster::certs::write(std::path::Path::new(dir), names) {
        Ok(made) if made.is_empty() => {
            println!("{dir}: the cluster's certificates are there already");
            ExitCode::SUCCESS
        }
        Ok(made) => {
            for p in made {
                println!("wrote {}", p.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("router: cluster-certs: {e}");
            ExitCode::from(64)
        }
    }
}

/// `router htpasswd USER`: `USER:<bcrypt hash>` of the first line of standard input.
fn htpasswd(args: &[String]) -> ExitCode {
    let [user] = args else {
        eprintln!("router: htpasswd takes one user name\n{USAGE}");
        return ExitCode::from(64);
    };
    let mut password = String::new();
    if let Err(e) = std::io::stdin().read_line(&mut password) {
        eprintln!("router: htpasswd: cannot read the password: {e}");
        return ExitCode::from(64);
    }
    let password = password.trim_end_matches(['\r', '\n']);
    match router::model::auth::users_line(user, password) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("router: htpasswd: {e}");
            ExitCode::from(64)
        }
    }
}

/// `GET /ping` on the admin listener when there is one, else on the ping entry point when
/// `ping` is on, else any answer from the first entry point (a 404 from an empty table still
/// proves it serves).
fn healthcheck(config: &Config) -> ExitCode {
    use std::io::{Read, Write};
    let (addr, path, any) = if let Some(a) = config.admin_listen {
        (a, "/ping", false)
    } else if let Some(ep) = config
        .ping
        .as_ref()
        .and_then(|p| config.entry_point(&p.entry_point))
    {
        (local(&ep.address), "/ping", false)
    } else if let Some(ep) = config.entry_points.first() {
        (local(&ep.address), "/", true)
    } else {
        eprintln!("unhealthy: no entry point to ask");
        return ExitCode::FAILURE;
    };
    let timeout = std::time::Duration::from_secs(3);
    let result = std::net::TcpStream::connect_timeout(&addr, timeout).and_then(|mut s| {
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
        Ok(resp) if resp.starts_with("HTTP/1.1 200") || (any && resp.starts_with("HTTP/1.1 ")) => {
            println!("healthy: {addr}{path}");
            ExitCode::SUCCESS
        }
        Ok(resp) => {
            eprintln!(
                "unhealthy: {addr}{path}: {}",
                resp.lines().next().unwrap_or("")
            );
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("unhealthy: {addr}{path}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Where a local client reaches an entry point: an unspecified address becomes loopback.
fn local(a: &router::config::Address) -> std::net::SocketAddr {
    use router::config::Address;
    let loopback = std::net::IpAddr::from([127, 0, 0, 1]);
    match a {
        Address::Socket(s) if !s.ip().is_unspecified() => *s,
        _ => std::net::SocketAddr::new(loopback, a.port()),
    }
}

fn serve(config: Config) -> ExitCode {
    // An access line per request: appended to a buffer that a thread of its own writes to
    // stderr in batches (the `log-writer` crate), so a request costs formatting and a copy,
    // not a write; no line is dropped. Dropping `_flush_on_exit` writes out the rest.
    let json = matches!(config.log_format, LogFormat::Json);
    let installed = match &config.log_file {
        // `log.filePath`: its directories made and the file appended to, as Traefik's.
        Some(path) => match router::access_log::open_append(path) {
            Ok(file) => log_writer::install_to("router-log", &config.log_level, json, file),
            Err(e) => {
                eprintln!("router: log.filePath={}: cannot open: {e}", path.display());
                return ExitCode::from(64);
            }
        },
        None => log_writer::install("router-log", &config.log_level, json),
    };
    let _flush_on_exit = match installed {
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
        let started =
            match router::start(config, &router::Listeners::default(), shutdown_signal).await {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("router: {e}");
                    return ExitCode::from(64);
                }
            };
        started.serve().await;
        ExitCode::SUCCESS
    })
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
