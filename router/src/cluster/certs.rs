//! `router cluster-certs DIR [NAME ...]`: a cluster CA and the certificates of a controller and
//! of data planes, for the controller channel. The CA's key stays in DIR (the operator's):
//! the controller gets `ca.pem`, `controller.pem`, `controller-key.pem`; each data plane
//! `ca.pem`, `data-plane.pem`, `data-plane-key.pem`. NAMEs are the names data planes reach the
//! controller by (default `controller`). Files already there are kept: the command makes only
//! what is missing, so running it again changes nothing.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};

const FILES: [&str; 6] = [
    "ca.pem",
    "ca-key.pem",
    "controller.pem",
    "controller-key.pem",
    "data-plane.pem",
    "data-plane-key.pem",
];

/// Makes the files missing in `dir`; returns the ones it wrote.
pub fn write(dir: &Path, names: &[String]) -> Result<Vec<PathBuf>, String> {
    let paths: Vec<PathBuf> = FILES.iter().map(|f| dir.join(f)).collect();
    let present = paths.iter().filter(|p| p.exists()).count();
    if present == FILES.len() {
        return Ok(Vec::new());
    }
    if present != 0 {
        return Err(format!(
            "{}: some of {FILES:?} exist and some do not; remove them all to make new ones",
            dir.display()
        ));
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let names: Vec<String> = if names.is_empty() {
        vec!["controller".into()]
    } else {
        names.to_vec()
    };
    let err = |e: rcgen::Error| e.to_string();
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.distinguished_name
        .push(DnType::CommonName, "router cluster CA");
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().map_err(err)?).map_err(err)?;
    let leaf = |sans: Vec<String>, cn: &str, usage: ExtendedKeyUsagePurpose| {
        let mut p = CertificateParams::new(sans).map_err(err)?;
        p.distinguished_name.push(DnType::CommonName, cn);
        p.extended_key_usages = vec![usage];
        let key = KeyPair::generate().map_err(err)?;
        let cert = p.signed_by(&key, &ca).map_err(err)?;
        Ok::<_, String>((cert.pem(), key.serialize_pem()))
    };
    let (ccert, ckey) = leaf(names, "controller", ExtendedKeyUsagePurpose::ServerAuth)?;
    let (pcert, pkey) = leaf(
        vec!["data-plane".into()],
        "data-plane",
        ExtendedKeyUsagePurpose::ClientAuth,
    )?;
    let texts = [ca.pem(), ca.key().serialize_pem(), ccert, ckey, pcert, pkey];
    for (path, text) in paths.iter().zip(texts) {
        write_file(path, &text)?;
    }
    Ok(paths)
}

/// Writes `text` to `path`: keys readable by their owner only, certificates by all; the
/// routers run as uid 65534 and read them through a bind mount, so the files are made
/// readable to that uid (keys owned by it when this runs as root).
fn write_file(path: &Path, text: &str) -> Result<(), String> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let secret = path.to_string_lossy().ends_with("-key.pem");
    let mode = if secret { 0o600 } else { 0o644 };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    std::io::Write::write_all(&mut f, text.as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let is_ca_key = path.file_name().is_some_and(|n| n == "ca-key.pem");
    if secret && !is_ca_key && rustix::process::geteuid().is_root() {
        let nobody = Some(rustix::fs::Uid::from_raw(65534));
        rustix::fs::chown(path, nobody, None).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn makes_what_is_missing_once_and_refuses_a_partial_set() {
        let dir = tempfile::tempdir().unwrap();
        let made = write(dir.path(), &[]).unwrap();
        assert_eq!(made.len(), 6);
        let ca = std::fs::read_to_string(dir.path().join("ca.pem")).unwrap();
        assert!(write(dir.path(), &[]).unwrap().is_empty(), "kept");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("ca.pem")).unwrap(),
            ca
        );
        std::fs::remove_file(dir.path().join("data-plane.pem")).unwrap();
        assert!(write(dir.path(), &[]).is_err());
        // The files make a working channel: server and client configurations load.
        let other = tempfile::tempdir().unwrap();
        write(other.path(), &["controller".into(), "10.0.0.1".into()]).unwrap();
        let files = |who: &str| crate::config::ControllerTls {
            ca: other.path().join("ca.pem"),
            cert: other.path().join(format!("{who}.pem")),
            key: other.path().join(format!("{who}-key.pem")),
        };
        crate::cluster::tls::server(&files("controller")).unwrap();
        crate::cluster::tls::client(&files("data-plane")).unwrap();
    }
}
