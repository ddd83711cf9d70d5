//! The PROXY protocol header (HAProxy's specification, versions 1 and 2) a load balancer in
//! front of an entry point may send first (`entryPoints.<name>.proxyProtocol`). Pure: the
//! header is parsed from bytes peeked at, so that exactly its length is then consumed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Version 2's signature.
pub const V2_SIGNATURE: [u8; 12] = [
    0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
];
/// The longest version 1 header (spec 2.1).
const V1_MAX: usize = 107;

/// What the first bytes of a connection say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// No PROXY header: the connection starts with its own protocol.
    Absent,
    /// More bytes are needed to tell.
    Incomplete,
    /// A header of this many bytes, naming the original client (none for `UNKNOWN` or
    /// `LOCAL`).
    Header {
        /// Its length, to be consumed.
        len: usize,
        /// The client it names.
        source: Option<SocketAddr>,
    },
    /// A header that is malformed.
    Invalid(&'static str),
}

/// Parses the start of a connection.
pub fn parse(buf: &[u8]) -> Parsed {
    if buf.is_empty() {
        return Parsed::Incomplete;
    }
    let v1 = b"PROXY ";
    let n = buf.len().min(V2_SIGNATURE.len());
    if buf[..n.min(6)] == v1[..n.min(6)] {
        return if buf.len() < 6 {
            Parsed::Incomplete
        } else {
            v1_header(buf)
        };
    }
    if buf[..n] == V2_SIGNATURE[..n] {
        return if buf.len() < 16 {
            Parsed::Incomplete
        } else {
            v2_header(buf)
        };
    }
    Parsed::Absent
}

fn v1_header(buf: &[u8]) -> Parsed {
    let Some(end) = buf.windows(2).position(|w| w == b"\r\n") else {
        return if buf.len() >= V1_MAX {
            Parsed::Invalid("PROXY v1 header without CRLF")
        } else {
            Parsed::Incomplete
        };
    };
    let Ok(line) = std::str::from_utf8(&buf[..end]) else {
        return Parsed::Invalid("PROXY v1 header is not text");
    };
    let parts: Vec<&str> = line.split(' ').collect();
    let len = end + 2;
    match parts.as_slice() {
        ["PROXY", "UNKNOWN", ..] => Parsed::Header { len, source: None },
        ["PROXY", proto @ ("TCP4" | "TCP6"), src, _dst, sport, _dport] => {
            let ip = match (*proto, src.parse::<IpAddr>()) {
                ("TCP4", Ok(ip @ IpAddr::V4(_))) | ("TCP6", Ok(ip @ IpAddr::V6(_))) => ip,
                _ => return Parsed::Invalid("PROXY v1 header: bad source address"),
            };
            match sport.parse::<u16>() {
                Ok(p) => Parsed::Header {
                    len,
                    source: Some(SocketAddr::new(ip, p)),
                },
                Err(_) => Parsed::Invalid("PROXY v1 header: bad source port"),
            }
        }
        _ => Parsed::Invalid("PROXY v1 header: bad fields"),
    }
}

fn v2_header(buf: &[u8]) -> Parsed {
    let ver_cmd = buf[12];
    if ver_cmd >> 4 != 2 {
        return Parsed::Invalid("PROXY v2 header: bad version");
    }
    let body = u16::from_be_bytes([buf[14], buf[15]]) as usize;
    let len = 16 + body;
    if buf.len() < len {
        return Parsed::Incomplete;
    }
    let addr = &buf[16..len];
    match ver_cmd & 0x0f {
        0 => return Parsed::Header { len, source: None },
        1 => {}
        _ => return Parsed::Invalid("PROXY v2 header: bad command"),
    }
    let source = match buf[13] >> 4 {
        1 if addr.len() >= 12 => {
            let ip = Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3]);
            Some(SocketAddr::new(
                ip.into(),
                u16::from_be_bytes([addr[8], addr[9]]),
            ))
        }
        2 if addr.len() >= 36 => {
            let mut o = [0u8; 16];
            o.copy_from_slice(&addr[..16]);
            Some(SocketAddr::new(
                Ipv6Addr::from(o).into(),
                u16::from_be_bytes([addr[32], addr[33]]),
            ))
        }
        1 | 2 => return Parsed::Invalid("PROXY v2 header: address block too short"),
        _ => None,
    };
    Parsed::Header { len, source }
}

/// A version 1 header for `source` -> `dest` (what a sender writes).
pub fn v1(source: SocketAddr, dest: SocketAddr) -> String {
    let proto = if source.is_ipv4() && dest.is_ipv4() {
        "TCP4"
    } else {
        "TCP6"
    };
    let ip = |a: SocketAddr| match (proto, a.ip()) {
        ("TCP6", IpAddr::V4(v4)) => v4.to_ipv6_mapped().to_string(),
        (_, ip) => ip.to_string(),
    };
    format!(
        "PROXY {proto} {} {} {} {}\r\n",
        ip(source),
        ip(dest),
        source.port(),
        dest.port()
    )
}

/// A version 2 header for `source` -> `dest` (`PROXY` command over TCP; IPv4 when both are,
/// else IPv6 with IPv4 addresses mapped).
pub fn v2(source: SocketAddr, dest: SocketAddr) -> Vec<u8> {
    let mut out = V2_SIGNATURE.to_vec();
    out.push(0x21);
    match (source.ip(), dest.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            out.extend_from_slice(&[0x11, 0, 12]);
            out.extend_from_slice(&s.octets());
            out.extend_from_slice(&d.octets());
        }
        (s, d) => {
            let six = |ip: IpAddr| match ip {
                IpAddr::V4(v4) => v4.to_ipv6_mapped(),
                IpAddr::V6(v6) => v6,
            };
            out.extend_from_slice(&[0x21, 0, 36]);
            out.extend_from_slice(&six(s).octets());
            out.extend_from_slice(&six(d).octets());
        }
    }
    out.extend_from_slice(&source.port().to_be_bytes());
    out.extend_from_slice(&dest.port().to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_headers_parse_back() {
        for (src, dst) in [
            ("203.0.113.7:51000", "10.0.0.1:443"),
            ("[2001:db8::7]:51000", "[2001:db8::1]:443"),
        ] {
            let (src, dst): (SocketAddr, SocketAddr) = (src.parse().unwrap(), dst.parse().unwrap());
            let h = v2(src, dst);
            assert_eq!(
                parse(&h),
                Parsed::Header {
                    len: h.len(),
                    source: Some(src)
                }
            );
            let h = v1(src, dst);
            assert_eq!(
                parse(h.as_bytes()),
                Parsed::Header {
                    len: h.len(),
                    source: Some(src)
                }
            );
        }
        // Mixed families: IPv6 with the IPv4 address mapped.
        let h = v2("10.0.0.7:1".parse().unwrap(), "[::1]:2".parse().unwrap());
        assert_eq!(h[13], 0x21);
        assert_eq!(h.len(), 16 + 36);
    }

    #[test]
    fn version_1() {
        let h = b"PROXY TCP4 203.0.113.7 10.0.0.1 51000 443\r\nGET / HTTP/1.1\r\n";
        assert_eq!(
            parse(h),
            Parsed::Header {
                len: 43,
                source: Some("203.0.113.7:51000".parse().unwrap())
            }
        );
        assert_eq!(parse(b"PROXY TCP4 1.2.3.4"), Parsed::Incomplete);
        assert_eq!(parse(b"PROX"), Parsed::Incomplete);
        assert_eq!(
            parse(b"PROXY UNKNOWN\r\n"),
            Parsed::Header {
                len: 15,
                source: None
            }
        );
        assert!(matches!(
            parse(b"PROXY TCP4 ::1 1.2.3.4 1 2\r\n"),
            Parsed::Invalid(_)
        ));
        assert_eq!(parse(b"GET / HTTP/1.1\r\n"), Parsed::Absent);
        assert_eq!(parse(&[0x16, 3, 1]), Parsed::Absent);
        let round = v1(
            "[2001:db8::1]:4000".parse().unwrap(),
            "10.0.0.1:443".parse().unwrap(),
        );
        assert!(
            matches!(parse(round.as_bytes()), Parsed::Header { source: Some(s), .. } if s.port() == 4000)
        );
    }

    #[test]
    fn version_2() {
        let mut h = V2_SIGNATURE.to_vec();
        h.extend([0x21, 0x11, 0, 12]);
        h.extend([198, 51, 100, 9, 10, 0, 0, 1]);
        h.extend(40000u16.to_be_bytes());
        h.extend(443u16.to_be_bytes());
        h.extend(b"rest");
        assert_eq!(
            parse(&h),
            Parsed::Header {
                len: 28,
                source: Some("198.51.100.9:40000".parse().unwrap())
            }
        );
        assert_eq!(parse(&h[..20]), Parsed::Incomplete);
        let mut local = V2_SIGNATURE.to_vec();
        local.extend([0x20, 0x00, 0, 0]);
        assert_eq!(
            parse(&local),
            Parsed::Header {
                len: 16,
                source: None
            }
        );
    }
}
