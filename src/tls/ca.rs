//! wstap's own certificate authority, for terminating TLS from clients.
//!
//! Created on first use in the user's configuration directory
//! ([`config_dir`]: `$WSTAP_CONFIG_DIR`, else `$XDG_CONFIG_HOME/wstap`, else
//! `~/.config/wstap`) as `ca.pem` (the certificate, to be trusted by
//! clients) and `ca.key` (its private key, mode 0600). Leaf certificates
//! are minted in memory for each server name a client asks for (SNI), or
//! for the listen address when it asks for none, and cached for the run;
//! they are valid for [`LEAF_DAYS`] days (browsers refuse long-lived leaves).
//!
//! The CA's issuer data is rebuilt from the same parameters it was created
//! with plus its stored key, so no X.509 parser is needed: the subject and
//! the key identifier come out the same and leaves chain to `ca.pem`.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::sign::CertifiedKey;
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The CA certificate's common name.
pub const CA_NAME: &str = "wstap local CA";
/// Validity of a minted leaf certificate.
pub const LEAF_DAYS: i64 = 30;
/// Validity of the CA certificate.
const CA_YEARS: i64 = 10;

/// The directory wstap keeps its CA in.
pub fn config_dir() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("WSTAP_CONFIG_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("wstap"));
    }
    match std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".config").join("wstap")),
        None => Err("no configuration directory: set WSTAP_CONFIG_DIR (or HOME)".into()),
    }
}

/// The loaded (or just created) CA.
pub struct Ca {
    /// `ca.pem`.
    pub cert_path: PathBuf,
    /// The certificate, PEM.
    pub cert_pem: String,
    cert_der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
    leaves: Mutex<HashMap<String, Arc<CertifiedKey>>>,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca").field("cert_path", &self.cert_path).finish_non_exhaustive()
    }
}

fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "wstap");
    dn.push(DnType::CommonName, CA_NAME);
    params.distinguished_name = dn;
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    params
}

impl Ca {
    /// Loads the CA from `dir`, creating it (and `dir`) on first use.
    /// Errors name the file and what was expected.
    pub fn load_or_create(dir: &Path) -> Result<Ca, String> {
        let (cert_path, key_path) = (dir.join("ca.pem"), dir.join("ca.key"));
        if !cert_path.exists() {
            create(dir, &cert_path, &key_path)?;
        }
        let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()));
        let (cert_pem, key_pem) = (read(&cert_path)?, read(&key_path)?);
        let key =
            KeyPair::from_pem(&key_pem).map_err(|e| format!("{}: not a PEM private key: {e}", key_path.display()))?;
        use rustls::pki_types::pem::PemObject;
        let cert_der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|e| format!("{}: not a PEM certificate: {e}", cert_path.display()))?;
        Ok(Ca { cert_path, cert_pem, cert_der, issuer: Issuer::new(ca_params(), key), leaves: Mutex::default() })
    }

    /// A certificate for `name` (a DNS name or an IP address) signed by this
    /// CA, minted once per name.
    pub fn leaf(&self, name: &str) -> Result<Arc<CertifiedKey>, String> {
        let mut leaves = self.leaves.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(found) = leaves.get(name) {
            return Ok(found.clone());
        }
        let made = Arc::new(self.mint(name).map_err(|e| format!("cannot make a certificate for {name:?}: {e}"))?);
        leaves.insert(name.to_string(), made.clone());
        Ok(made)
    }

    fn mint(&self, name: &str) -> Result<CertifiedKey, String> {
        let mut params = CertificateParams::default();
        let san = match name.parse::<IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName(name.try_into().map_err(|e: rcgen::Error| e.to_string())?),
        };
        params.subject_alt_names = vec![san];
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, name);
        params.distinguished_name = dn;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::hours(1);
        params.not_after = now + time::Duration::days(LEAF_DAYS);
        let key = KeyPair::generate().map_err(|e| e.to_string())?;
        let cert = params.signed_by(&key, &self.issuer).map_err(|e| e.to_string())?;
        let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let signing = super::provider().key_provider.load_private_key(der).map_err(|e| e.to_string())?;
        Ok(CertifiedKey::new(vec![cert.der().clone(), self.cert_der.clone()], signing))
    }
}

fn create(dir: &Path, cert_path: &Path, key_path: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let key = KeyPair::generate().map_err(|e| format!("cannot make the CA key: {e}"))?;
    let mut params = ca_params();
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(365 * CA_YEARS);
    let cert = params.self_signed(&key).map_err(|e| format!("cannot make the CA certificate: {e}"))?;
    write_private(key_path, key.serialize_pem().as_bytes())?;
    std::fs::write(cert_path, cert.pem()).map_err(|e| format!("cannot write {}: {e}", cert_path.display()))?;
    tracing::info!("created wstap's CA in {}", dir.display());
    Ok(())
}

/// Writes a file only its owner can read (mode 0600 on Unix).
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    file.write_all(bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// How to trust the CA, for `wstap ca`.
pub fn trust_instructions(path: &Path) -> String {
    let p = path.display();
    format!(
        "Trust it in the client under test:\n\
         \x20 python (ssl):  ssl.create_default_context(cafile=\"{p}\")  (websockets: connect(url, ssl=context)),\n\
         \x20                or SSL_CERT_FILE={p} for the whole process\n\
         \x20 node:          NODE_EXTRA_CA_CERTS={p} node client.js   (or ws: new WebSocket(url, {{ ca }}))\n\
         \x20 curl:          curl --cacert {p} https://...\n\
         \x20 Debian/Ubuntu: cp {p} /usr/local/share/ca-certificates/wstap.crt && update-ca-certificates\n\
         \x20 browsers:      Chrome/Edge: Settings > Privacy and security > Security > Manage certificates >\n\
         \x20                Authorities > Import; Firefox: Settings > Privacy & Security > Certificates >\n\
         \x20                View Certificates > Authorities > Import, and tick \"trust this CA to identify websites\".\n\
         Anyone with {key} can impersonate any site to a client that trusts this CA: keep it private.\n",
        key = path.with_file_name("ca.key").display()
    )
}
