//! socket-guard: parse the configuration, set up tracing, bind, run.
//!
//! `socket-guard` serves; `socket-guard healthcheck` checks a running instance (for a Docker
//! HEALTHCHECK); `socket-guard policy` prints the effective allow-list the environment gives.
//! A configuration error names the variable and the value and exits with 64 (EX_USAGE).

use std::process::ExitCode;

use socket_guard::config::{Config, LogFormat};
use socket_guard::server::{self, State};
use socket_guard::{admin, healthcheck, listen};

/// The process environment as the configuration source.
struct ProcessEnv;

impl policies::config::Env for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
    fn names(&self) -> Vec<String> {
        std::env::vars_os()
            .filter_map(|(k, _)| k.into_string().ok())
            .collect()
    }
}

const USAGE: &str =
    "usage: socket-guard [healthcheck | policy | suggest [AUDIT_LOG] [--rules-file PATH] | --version]\n\
configuration is read from the environment; see README.md";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = args.first().map(String::as_str);
    if matches!(command, Some("--version" | "-V")) {
        println!("socket-guard {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    if command == Some("suggest") {
        return suggest(&args[1..]);
    }
    if matches!(command, Some("--help" | "-h")) || args.len() > 1 {
        println!("{USAGE}");
        return if args.len() > 1 {
            ExitCode::from(64)
        } else {
            ExitCode::SUCCESS
        };
    }
    let config = match read_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("socket-guard: invalid configuration: {e}");
            return ExitCode::from(64);
        }
    };
    match command {
        None => serve(config),
        Some("policy") => {
            let set = socket_guard::policy_set::PolicySet::new(config.policy, config.policies);
            print!("{}", set.render());
            ExitCode::SUCCESS
        }
        Some("healthcheck") => match healthcheck::check(&config) {
            Ok(line) => {
                println!("healthy: {line}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("unhealthy: {e}");
                ExitCode::FAILURE
            }
        },
        Some(other) => {
            eprintln!("socket-guard: unknown command {other:?}\n{USAGE}");
            ExitCode::from(64)
        }
    }
}

/// `socket-guard suggest [FILE] [--rules-file PATH]`: the least policy allowing what an audit
/// log (a file, or standard input) shows, as an environment file on standard output; rules that
/// need several lines are written to PATH.
fn suggest(args: &[String]) -> ExitCode {
    use std::io::Read;
    let mut file = None;
    let mut rules_path = None;
    let mut rest = args.iter();
    while let Some(a) = rest.next() {
        match a.as_str() {
            "--rules-file" => match rest.next() {
                Some(p) => rules_path = Some(p.clone()),
                None => {
                    eprintln!("socket-guard suggest: --rules-file needs a path\n{USAGE}");
                    return ExitCode::from(64);
                }
            },
            f if file.is_none() => file = Some(f.to_owned()),
            other => {
                eprintln!("socket-guard suggest: unexpected argument {other:?}\n{USAGE}");
                return ExitCode::from(64);
            }
        }
    }
    let mut text = String::new();
    let read = match file.as_deref() {
        Some("-") | None => std::io::stdin().read_to_string(&mut text).map(|_| ()),
        Some(path) => std::fs::read_to_string(path).map(|t| text = t),
    };
    if let Err(e) = read {
        let what = file.as_deref().unwrap_or("standard input");
        eprintln!("socket-guard suggest: cannot read {what}: {e}");
        return ExitCode::from(66);
    }
    let suggestion = policies::learn::suggest(text.lines());
    if suggestion.is_empty() {
        eprintln!("socket-guard suggest: no allowed or learned request in the audit log (GUARD_LOG_FORMAT=json lines with target \"audit\")");
        return ExitCode::from(65);
    }
    let mut env = suggestion.render();
    if let Some(rules) = suggestion.rules_file() {
        match &rules_path {
            Some(path) => {
                if let Err(e) = std::fs::write(path, rules) {
                    eprintln!("socket-guard suggest: cannot write {path}: {e}");
                    return ExitCode::from(73);
                }
                env = env.replace(
                    &format!("GUARD_RULES_FILE={}", policies::learn::RULES_FILE),
                    &format!("GUARD_RULES_FILE={path}"),
                );
            }
            None => eprintln!(
                "socket-guard suggest: the rules need a file: run again with --rules-file PATH, or save the commented rule lines as {}",
                policies::learn::RULES_FILE
            ),
        }
    }
    print!("{env}");
    ExitCode::SUCCESS
}

fn serve(config: Config) -> ExitCode {
    // An audit line per request at `info`: appended to a buffer that a thread of its own
    // writes to stderr in batches (the `log-writer` crate), so a request costs formatting and
    // a copy, not a write; no line is dropped. Dropping `_flush_on_exit` writes out the rest.
    let json = matches!(config.log_format, LogFormat::Json);
    let _flush_on_exit = match log_writer::install("socket-guard-log", &config.log_level, json) {
        Ok(flush) => flush,
        Err(e) => {
            eprintln!("socket-guard: cannot start the log writer: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("socket-guard: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let tls = match config.tls.as_ref().map(socket_guard::tls::acceptor) {
        None => None,
        Some(Ok(acceptor)) => Some(acceptor),
        Some(Err(e)) => {
            eprintln!("socket-guard: invalid configuration: {e}");
            return ExitCode::from(64);
        }
    };
    runtime.block_on(async move {
        let mut listeners = Vec::new();
        for addr in &config.listen {
            match listen::bind(addr, &config.socket_perms, tls.as_ref()) {
                Ok(l) => {
                    tracing::info!(listen = %addr, "listening");
                    listeners.push((addr.clone(), l));
                }
                Err(e) if listen::is_missing_family(addr, &e) => {
                    tracing::warn!(listen = %addr, error = %e, "no IPv6 on this host; skipping this listener");
                }
                Err(e) => {
                    eprintln!("socket-guard: GUARD_LISTEN={addr}: cannot bind: {e}");
                    return ExitCode::from(64);
                }
            }
        }
        if listeners.is_empty() {
            eprintln!("socket-guard: GUARD_LISTEN: no listener could be bound");
            return ExitCode::from(64);
        }
        if !config.socket_path.exists() {
            tracing::warn!(socket = %config.socket_path.display(), "the Docker socket does not exist yet; requests get 502 until it does");
        }
        let admin_listener = match &config.admin_listen {
            Some(addr) => match listen::bind(addr, &config.socket_perms, None) {
                Ok(l) => Some(l),
                Err(e) => {
                    eprintln!("socket-guard: GUARD_ADMIN_LISTEN={addr}: cannot bind: {e}");
                    return ExitCode::from(64);
                }
            },
            None => None,
        };
        let state = State::new(config);
        if state.config.policy.learns() {
            tracing::warn!("LEARN MODE (GUARD_LEARN=1): requests the policy refuses are forwarded and audited as `learn`; for deriving a policy with `socket-guard suggest`, never in production");
        }
        if state.policies().any_warns() {
            tracing::warn!("WARN MODE (GUARD_MODE=warn): requests a policy would refuse are forwarded, audited as `warn` and counted in socket_guard_would_deny_total; for rolling a policy out");
        }
        tracing::info!(policy = %state.policies().render().replace('\n', "; "), "policy in force");
        tokio::spawn(socket_guard::reload::on_sighup(state.clone(), read_config));
        if let Some(l) = admin_listener {
            tokio::spawn(admin::run_admin(l, state.clone(), shutdown_signal()));
        }
        server::run(listeners, state, shutdown_signal()).await;
        ExitCode::SUCCESS
    })
}

/// The configuration from the process environment and the files it names.
fn read_config() -> Result<Config, policies::config::ConfigError> {
    Config::from_env(&ProcessEnv, |p| {
        std::fs::read_to_string(p).map_err(|e| e.to_string())
    })
}

/// Completes on SIGTERM or SIGINT.
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
