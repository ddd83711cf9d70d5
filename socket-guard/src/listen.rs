//! Binding listeners: TCP and mutual TLS (IPv6 with `IPV6_V6ONLY`, so `0.0.0.0` and `[::]` can both be
//! listed) and unix sockets (a stale socket file is replaced; the new one gets
//! `GUARD_SOCKET_MODE`, `0660` unless set, and `GUARD_SOCKET_GROUP`'s group when set).

use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};

use socket2::{Domain, Socket, Type};
use tokio::net::{TcpListener, UnixListener};
use tokio_rustls::TlsAcceptor;

use crate::config::{ListenAddr, SocketPerms};
use crate::server::Listener;

/// Binds one address; a unix socket gets `perms`, a `tls://` one `tls` (which it needs).
pub fn bind(
    addr: &ListenAddr,
    perms: &SocketPerms,
    tls: Option<&TlsAcceptor>,
) -> io::Result<Listener> {
    match addr {
        ListenAddr::Tcp(sa) => Ok(Listener::Tcp(tcp(sa)?)),
        ListenAddr::Tls(sa) => {
            let acceptor = tls.ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "no TLS certificate (GUARD_TLS_CERT)",
                )
            })?;
            Ok(Listener::Tls(tcp(sa)?, acceptor.clone()))
        }
        ListenAddr::Unix(path) => {
            if let Ok(meta) = std::fs::symlink_metadata(path) {
                if meta.file_type().is_socket() {
                    std::fs::remove_file(path)?;
                }
            }
            let l = UnixListener::bind(path)?;
            // The group first, then the mode: the socket is never open to a group it was
            // not meant for.
            if let Some(gid) = perms.group {
                std::os::unix::fs::chown(path, None, Some(gid)).map_err(|e| {
                    io::Error::new(e.kind(), format!("GUARD_SOCKET_GROUP={gid}: {e}"))
                })?;
            }
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(perms.mode))?;
            Ok(Listener::Unix(l))
        }
    }
}

fn tcp(sa: &std::net::SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(*sa), Type::STREAM, None)?;
    if sa.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&(*sa).into())?;
    socket.listen(1024)?;
    TcpListener::from_std(socket.into())
}

/// Whether a bind error means the address family is missing (no IPv6 stack), which is not
/// fatal when other listeners are bound.
pub fn is_missing_family(addr: &ListenAddr, e: &io::Error) -> bool {
    matches!(addr, ListenAddr::Tcp(sa) | ListenAddr::Tls(sa) if sa.is_ipv6())
        && matches!(
            e.raw_os_error(),
            Some(97 /* EAFNOSUPPORT */ | 99 /* EADDRNOTAVAIL */)
        )
}
