//! Certificates for the mutual-TLS tests, made with rcgen.

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, SanType,
};

/// A CA, a server certificate it signs for `localhost` and `127.0.0.1`, a client certificate it
/// signs, and a client certificate from a CA nobody trusts: PEM text.
pub struct Pki {
    /// The CA certificate.
    pub ca: String,
    /// The server's certificate and key (`localhost`, `127.0.0.1`).
    pub server: (String, String),
    /// A client certificate the CA signed (`router.example`, CN `router`) and its key.
    pub client: (String, String),
    /// A client certificate from another CA, and its key.
    pub rogue: (String, String),
    /// A client certificate the CA signed with no subject (no common name) and its key: etcd's
    /// JSON gateway refuses a certificate with one when users are enabled.
    pub anonymous: (String, String),
}

pub fn pki() -> Pki {
    let ca = |cn: &str| {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, cn);
        CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
    };
    let (good, bad) = (ca("guard test CA"), ca("someone else's CA"));
    let mut sp = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    sp.subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    let skey = KeyPair::generate().unwrap();
    let server = sp.signed_by(&skey, &good).unwrap();
    let client = |issuer: &CertifiedIssuer<'_, KeyPair>| {
        let mut cp = CertificateParams::new(vec!["router.example".to_string()]).unwrap();
        cp.distinguished_name.push(DnType::CommonName, "router");
        cp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let key = KeyPair::generate().unwrap();
        let cert = cp.signed_by(&key, issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let anonymous = {
        let mut cp = CertificateParams::new(vec!["router.example".to_string()]).unwrap();
        cp.distinguished_name = rcgen::DistinguishedName::new();
        cp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let key = KeyPair::generate().unwrap();
        let cert = cp.signed_by(&key, &good).unwrap();
        (cert.pem(), key.serialize_pem())
    };
    Pki {
        ca: good.pem(),
        server: (server.pem(), skey.serialize_pem()),
        client: client(&good),
        rogue: client(&bad),
        anonymous,
    }
}

/// [`Pki`]'s PEMs written to files: their paths.
#[derive(Debug, Clone)]
pub struct PkiFiles {
    /// `ca.pem`.
    pub ca: String,
    /// `server.pem`, `server-key.pem`.
    pub server: (String, String),
    /// `client.pem`, `client-key.pem`.
    pub client: (String, String),
    /// `rogue.pem`, `rogue-key.pem`.
    pub rogue: (String, String),
    /// `anonymous.pem`, `anonymous-key.pem`.
    pub anonymous: (String, String),
}

impl Pki {
    /// Writes every PEM into `dir`.
    pub fn write(&self, dir: &std::path::Path) -> PkiFiles {
        let file = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            path.display().to_string()
        };
        let pair = |name: &str, (cert, key): &(String, String)| {
            (
                file(&format!("{name}.pem"), cert),
                file(&format!("{name}-key.pem"), key),
            )
        };
        PkiFiles {
            ca: file("ca.pem", &self.ca),
            server: pair("server", &self.server),
            client: pair("client", &self.client),
            rogue: pair("rogue", &self.rogue),
            anonymous: pair("anonymous", &self.anonymous),
        }
    }
}
