//! Binding listeners: TCP (IPv6 with `IPV6_V6ONLY`, so `0.0.0.0` and `[::]` can both be
//! listed) and unix sockets (a stale socket file is replaced, the new one is `0660`).

use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};

use socket2::{Domain, Socket, Type};
use tokio::net::{TcpListener, UnixListener};

use crate::config::ListenAddr;
use crate::server::Listener;

/// Binds one address.
pub fn bind(addr: &ListenAddr) -> io::Result<Listener> {
    match addr {
        ListenAddr::Tcp(sa) => {
            let socket = Socket::new(Domain::for_address(*sa), Type::STREAM, None)?;
            if sa.is_ipv6() {
                socket.set_only_v6(true)?;
            }
            socket.set_reuse_address(true)?;
            socket.set_nonblocking(true)?;
            socket.bind(&(*sa).into())?;
            socket.listen(1024)?;
            Ok(Listener::Tcp(TcpListener::from_std(socket.into())?))
        }
        ListenAddr::Unix(path) => {
            if let Ok(meta) = std::fs::symlink_metadata(path) {
                if meta.file_type().is_socket() {
                    std::fs::remove_file(path)?;
                }
            }
            let l = UnixListener::bind(path)?;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
            Ok(Listener::Unix(l))
        }
    }
}

/// Whether a bind error means the address family is missing (no IPv6 stack), which is not
/// fatal when other listeners are bound.
pub fn is_missing_family(addr: &ListenAddr, e: &io::Error) -> bool {
    matches!(addr, ListenAddr::Tcp(sa) if sa.is_ipv6())
        && matches!(
            e.raw_os_error(),
            Some(97 /* EAFNOSUPPORT */ | 99 /* EADDRNOTAVAIL */)
        )
}
