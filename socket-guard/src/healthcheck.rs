//! `socket-guard healthcheck`: a Docker HEALTHCHECK for a scratch image (no curl there).
//!
//! Asks the admin listener's `/health` when there is one (it checks the daemon too), else
//! `GET /_ping` on the first proxy listener. Exit 0 when the answer is 200, 1 otherwise.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use crate::config::{Config, ListenAddr};

const TIMEOUT: Duration = Duration::from_secs(5);

/// Runs the check; `Ok` with a short status line, or `Err` with why it failed.
pub fn check(config: &Config) -> Result<String, String> {
    let (addr, path) = match &config.admin_listen {
        Some(a) => (a.clone(), "/health"),
        // A `tls://` listener wants a client certificate this check does not have.
        None => (
            config
                .listen
                .iter()
                .find(|a| !matches!(a, ListenAddr::Tls(_)))
                .cloned()
                .ok_or("only tls:// listeners: set GUARD_ADMIN_LISTEN for the healthcheck")?,
            "/_ping",
        ),
    };
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    let response = match &addr {
        ListenAddr::Tcp(sa) | ListenAddr::Tls(sa) => {
            let target = SocketAddr::new(loopback_for(sa.ip()), sa.port());
            let mut s = TcpStream::connect_timeout(&target, TIMEOUT)
                .map_err(|e| format!("{target}: {e}"))?;
            exchange(&mut s, &request)
        }
        ListenAddr::Unix(p) => {
            let mut s = UnixStream::connect(p).map_err(|e| format!("{}: {e}", p.display()))?;
            s.set_read_timeout(Some(TIMEOUT))
                .map_err(|e| e.to_string())?;
            s.set_write_timeout(Some(TIMEOUT))
                .map_err(|e| e.to_string())?;
            exchange(&mut s, &request)
        }
    }
    .map_err(|e| format!("{addr}{path}: {e}"))?;
    let status_line = response.lines().next().unwrap_or_default().to_owned();
    if status_line.split_whitespace().nth(1) == Some("200") {
        Ok(format!("{addr}{path}: {status_line}"))
    } else {
        Err(format!("{addr}{path}: {status_line}"))
    }
}

fn loopback_for(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        other => other,
    }
}

fn exchange<S: Read + Write>(s: &mut S, request: &str) -> Result<String, String> {
    s.write_all(request.as_bytes()).map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    s.take(64 * 1024)
        .read_to_end(&mut buf)
        .map_err(|e| e.to_string())?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}
