//! The test PKI on disk.
//!
//! Everything lives under one directory `D` (see the crate documentation
//! for the file list). Writes go to a temporary file in the same directory
//! that is then renamed over the target, so a reader never sees half a key,
//! and private keys are created with mode 0600 from the start. Nothing is
//! overwritten unless the caller passes `force`.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::tpp::validate_name;
use crate::{
    CertificateAuthority, CertsError, IssuedCertificate, Lifetimes, TppBundle, TppSubject, util,
};

/// How close to its notAfter the CA or server certificate may get before
/// [`CaDir::check_validity`] reports it.
pub const EXPIRY_MARGIN: Duration = Duration::from_secs(24 * 60 * 60);

/// What [`CaDir::init`] creates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InitOptions {
    /// Replace existing files.
    pub force: bool,
    /// Certificate lifetimes.
    pub lifetimes: Lifetimes,
    /// Extra server names (DNS names or IP addresses) besides `localhost`,
    /// `127.0.0.1` and `::1`; the first one becomes the server's CN.
    pub server_names: Vec<String>,
    /// TPPs to create: `(name, self_signed)`.
    pub tpps: Vec<(String, bool)>,
}

/// What `subject.json` holds: the subject attributes, flattened, plus the
/// TPP name, the kind of transport certificate and, for people and other
/// tools, the RFC 4514 rendering of the subject (ignored when loading).
#[derive(Debug, Serialize, Deserialize)]
struct TppRecord {
    name: String,
    self_signed: bool,
    #[serde(flatten)]
    subject: TppSubject,
    #[serde(default)]
    subject_dn: String,
}

/// A handle on a test-PKI directory. Creating one touches nothing on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaDir {
    root: PathBuf,
}

impl CaDir {
    /// A handle on the directory `root` (which need not exist yet).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        CaDir { root: root.into() }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `D/ca.pem`: the root CA certificate (the trust anchor to install).
    pub fn ca_cert(&self) -> PathBuf {
        self.root.join("ca.pem")
    }

    /// `D/ca.key`: the root CA's PKCS#8 private key (mode 0600).
    pub fn ca_key(&self) -> PathBuf {
        self.root.join("ca.key")
    }

    /// `D/server.pem`: the server's TLS certificate.
    pub fn server_cert(&self) -> PathBuf {
        self.root.join("server.pem")
    }

    /// `D/server.key`: the server's PKCS#8 private key (mode 0600).
    pub fn server_key(&self) -> PathBuf {
        self.root.join("server.key")
    }

    /// `D/tpp`: parent of all TPP directories.
    pub fn tpps_dir(&self) -> PathBuf {
        self.root.join("tpp")
    }

    /// `D/tpp/<name>`.
    pub fn tpp_dir(&self, name: &str) -> PathBuf {
        self.tpps_dir().join(name)
    }

    /// `D/tpp/<name>/transport.pem`.
    pub fn tpp_transport_cert(&self, name: &str) -> PathBuf {
        self.tpp_dir(name).join("transport.pem")
    }

    /// `D/tpp/<name>/transport.key` (mode 0600).
    pub fn tpp_transport_key(&self, name: &str) -> PathBuf {
        self.tpp_dir(name).join("transport.key")
    }

    /// `D/tpp/<name>/private.jwks.json` (mode 0600).
    pub fn tpp_private_jwks(&self, name: &str) -> PathBuf {
        self.tpp_dir(name).join("private.jwks.json")
    }

    /// `D/tpp/<name>/public.jwks.json`.
    pub fn tpp_public_jwks(&self, name: &str) -> PathBuf {
        self.tpp_dir(name).join("public.jwks.json")
    }

    /// `D/tpp/<name>/subject.json`.
    pub fn tpp_subject(&self, name: &str) -> PathBuf {
        self.tpp_dir(name).join("subject.json")
    }

    /// Whether the CA exists (`D/ca.pem` is present).
    pub fn exists(&self) -> bool {
        self.ca_cert().is_file()
    }

    /// The command that recreates this directory from scratch.
    pub fn init_command(&self) -> String {
        format!(
            "fapilab certs init --dir {} --force",
            shell_quote(&self.root)
        )
    }

    /// Names of the TPPs on disk (directories under `D/tpp` holding a
    /// `subject.json`), sorted.
    pub fn tpp_names(&self) -> Result<Vec<String>, CertsError> {
        let dir = self.tpps_dir();
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(CertsError::io("list", dir, e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| CertsError::io("list", &dir, e))?;
            if let Some(name) = entry.file_name().to_str()
                && validate_name(name).is_ok()
                && self.tpp_subject(name).is_file()
            {
                names.push(name.to_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    /// Create the root CA, the server certificate and the TPPs listed in
    /// `opts`.
    ///
    /// Without `force`, fails before writing anything if any of those files
    /// exists, naming it. With `force`, everything listed is replaced, and
    /// TPPs already on disk but not listed are reissued too (keeping their
    /// `self_signed` choice) so none is left signed by the replaced CA.
    pub fn init(&self, opts: &InitOptions) -> Result<(), CertsError> {
        let mut tpps: BTreeMap<String, bool> = BTreeMap::new();
        for (name, self_signed) in &opts.tpps {
            validate_name(name)?;
            tpps.insert(name.clone(), *self_signed);
        }
        if opts.force {
            for name in self.tpp_names()? {
                if let std::collections::btree_map::Entry::Vacant(slot) = tpps.entry(name) {
                    // An unreadable record is about to be replaced anyway.
                    let self_signed = self
                        .read_record(slot.key())
                        .map(|r| r.self_signed)
                        .unwrap_or(false);
                    slot.insert(self_signed);
                }
            }
        } else {
            let mut planned = vec![
                self.ca_cert(),
                self.ca_key(),
                self.server_cert(),
                self.server_key(),
            ];
            for name in tpps.keys() {
                planned.extend(self.tpp_files(name));
            }
            refuse_existing(&planned)?;
        }

        // Build everything in memory first, so a failure leaves no half-made
        // directory behind.
        let ca = CertificateAuthority::generate(&opts.lifetimes)?;
        let server = ca.issue_server(&opts.server_names, opts.lifetimes.leaf_days)?;
        let bundles = tpps
            .iter()
            .map(|(name, self_signed)| {
                TppBundle::generate(&ca, name, *self_signed, opts.lifetimes.leaf_days)
            })
            .collect::<Result<Vec<_>, _>>()?;

        create_dir(&self.root)?;
        write_file(&self.ca_key(), ca.key_pem().as_bytes(), true)?;
        write_file(&self.ca_cert(), ca.cert_pem().as_bytes(), false)?;
        write_file(&self.server_key(), server.key_pem.as_bytes(), true)?;
        write_file(&self.server_cert(), server.cert_pem.as_bytes(), false)?;
        for bundle in &bundles {
            self.write_tpp(bundle)?;
        }
        Ok(())
    }

    /// Issue a TPP with the default subject for `name`, using the CA on
    /// disk, and write its files. Without `force`, fails if any of them
    /// exists.
    pub fn issue_tpp(
        &self,
        name: &str,
        self_signed: bool,
        leaf_days: u32,
        force: bool,
    ) -> Result<TppBundle, CertsError> {
        validate_name(name)?;
        if !force {
            refuse_existing(&self.tpp_files(name))?;
        }
        let ca = self.load_ca()?;
        let bundle = TppBundle::generate(&ca, name, self_signed, leaf_days)?;
        self.write_tpp(&bundle)?;
        Ok(bundle)
    }

    /// Load the TPP `name` if it exists, otherwise issue it. An existing TPP
    /// whose `self_signed` differs from the request is an error.
    pub fn ensure_tpp(
        &self,
        name: &str,
        self_signed: bool,
        leaf_days: u32,
    ) -> Result<TppBundle, CertsError> {
        validate_name(name)?;
        if self.tpp_subject(name).is_file() {
            let bundle = self.load_tpp(name)?;
            if bundle.self_signed != self_signed {
                return Err(CertsError::TppConflict {
                    path: self.tpp_subject(name),
                    on_disk: bundle.self_signed,
                    requested: self_signed,
                });
            }
            return Ok(bundle);
        }
        self.issue_tpp(name, self_signed, leaf_days, false)
    }

    /// Load the root CA from `D/ca.pem` and `D/ca.key`.
    pub fn load_ca(&self) -> Result<CertificateAuthority, CertsError> {
        let hint = self.missing_ca_hint();
        let cert_path = self.ca_cert();
        let key_path = self.ca_key();
        let cert_pem = read_text(&cert_path, &hint)?;
        let key_pem = read_text(&key_path, &hint)?;
        CertificateAuthority::from_pem_named(
            &cert_pem,
            &key_pem,
            &cert_path.display().to_string(),
            &key_path.display().to_string(),
        )
    }

    /// Load the server certificate and key.
    pub fn load_server(&self) -> Result<IssuedCertificate, CertsError> {
        let hint = self.missing_ca_hint();
        let cert_path = self.server_cert();
        let cert_pem = read_text(&cert_path, &hint)?;
        let key_pem = read_text(&self.server_key(), &hint)?;
        IssuedCertificate::from_pem(&cert_pem, &key_pem, &cert_path.display().to_string())
    }

    /// Load the TPP `name` from `D/tpp/<name>/`.
    pub fn load_tpp(&self, name: &str) -> Result<TppBundle, CertsError> {
        validate_name(name)?;
        let record = self.read_record(name)?;
        if record.name != name {
            return Err(CertsError::Certificate {
                source_name: self.tpp_subject(name).display().to_string(),
                reason: format!(
                    "it describes TPP {:?}, not {name:?}; reissue the TPP with --force",
                    record.name
                ),
            });
        }
        let hint = self.missing_tpp_hint(name);
        let cert_path = self.tpp_transport_cert(name);
        let cert_pem = read_text(&cert_path, &hint)?;
        let key_pem = read_text(&self.tpp_transport_key(name), &hint)?;
        let transport =
            IssuedCertificate::from_pem(&cert_pem, &key_pem, &cert_path.display().to_string())?;
        let jwks_path = self.tpp_private_jwks(name);
        let jwks_text = read_text(&jwks_path, &hint)?;
        let jwks: serde_json::Value =
            serde_json::from_str(&jwks_text).map_err(|source| CertsError::Json {
                path: jwks_path.clone(),
                source,
            })?;
        TppBundle::from_parts(
            name,
            record.subject,
            transport,
            record.self_signed,
            &jwks,
            &jwks_path.display().to_string(),
        )
    }

    /// Check that the directory is usable at `now`: the CA and server
    /// certificates exist, neither has expired or expires within
    /// [`EXPIRY_MARGIN`], the server certificate was issued by the CA, and
    /// no TPP transport certificate has expired (CA-issued ones must also
    /// chain to the CA). Every failure names the file and the command that
    /// fixes it, `fapilab certs init --dir <D> --force`.
    pub fn check_validity(&self, now: SystemTime) -> Result<(), CertsError> {
        let fix = self.init_command();
        let ca = self.load_ca()?;
        let ca_file = self.ca_cert();
        expiry_check(&ca_file, ca.not_after(), now + EXPIRY_MARGIN, &fix)?;

        let server = self.load_server()?;
        expiry_check(
            &self.server_cert(),
            server.not_after(),
            now + EXPIRY_MARGIN,
            &fix,
        )?;
        if ca
            .verify_issued(&server.cert_der, &self.server_cert().display().to_string())
            .is_err()
        {
            return Err(CertsError::NotIssuedByCa {
                file: self.server_cert(),
                ca: ca_file,
                fix,
            });
        }

        for name in self.tpp_names()? {
            let record = self.read_record(&name)?;
            let file = self.tpp_transport_cert(&name);
            let pem = read_text(&file, &self.missing_tpp_hint(&name))?;
            let der = util::cert_der_from_pem(&pem, &file.display().to_string())?;
            let info = crate::inspect::inspect_named(&der, &file.display().to_string())?;
            expiry_check(&file, info.not_after, now, &fix)?;
            if !record.self_signed && ca.verify_issued(&der, "").is_err() {
                return Err(CertsError::NotIssuedByCa {
                    file,
                    ca: ca_file,
                    fix,
                });
            }
        }
        Ok(())
    }

    fn tpp_files(&self, name: &str) -> Vec<PathBuf> {
        vec![
            self.tpp_transport_cert(name),
            self.tpp_transport_key(name),
            self.tpp_private_jwks(name),
            self.tpp_public_jwks(name),
            self.tpp_subject(name),
        ]
    }

    fn write_tpp(&self, bundle: &TppBundle) -> Result<(), CertsError> {
        let name = &bundle.name;
        create_dir(&self.tpp_dir(name))?;
        write_file(
            &self.tpp_transport_key(name),
            bundle.transport.key_pem.as_bytes(),
            true,
        )?;
        write_file(
            &self.tpp_transport_cert(name),
            bundle.transport.cert_pem.as_bytes(),
            false,
        )?;
        write_json(&self.tpp_private_jwks(name), &bundle.private_jwks(), true)?;
        write_json(&self.tpp_public_jwks(name), &bundle.public_jwks(), false)?;
        let record = TppRecord {
            name: name.clone(),
            self_signed: bundle.self_signed,
            subject: bundle.subject.clone(),
            subject_dn: bundle.subject.rfc4514(),
        };
        let path = self.tpp_subject(name);
        let value = serde_json::to_value(&record).map_err(|source| CertsError::Json {
            path: path.clone(),
            source,
        })?;
        write_json(&path, &value, false)
    }

    fn read_record(&self, name: &str) -> Result<TppRecord, CertsError> {
        let path = self.tpp_subject(name);
        let text = read_text(&path, &self.missing_tpp_hint(name))?;
        serde_json::from_str(&text).map_err(|source| CertsError::Json { path, source })
    }

    fn missing_ca_hint(&self) -> String {
        format!(
            "create the test PKI with `fapilab certs init --dir {}`",
            shell_quote(&self.root)
        )
    }

    fn missing_tpp_hint(&self, name: &str) -> String {
        format!(
            "issue TPP {name:?} first, or recreate everything with `{}`",
            self.init_command()
        )
    }
}

fn expiry_check(
    file: &Path,
    not_after: SystemTime,
    deadline: SystemTime,
    fix: &str,
) -> Result<(), CertsError> {
    if not_after <= deadline {
        return Err(CertsError::Expired {
            file: file.to_path_buf(),
            not_after: util::format_utc(not_after),
            fix: fix.to_owned(),
        });
    }
    Ok(())
}

fn refuse_existing(paths: &[PathBuf]) -> Result<(), CertsError> {
    match paths.iter().find(|p| p.exists()) {
        Some(path) => Err(CertsError::AlreadyExists { path: path.clone() }),
        None => Ok(()),
    }
}

fn read_text(path: &Path, hint: &str) -> Result<String, CertsError> {
    fs::read_to_string(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            CertsError::Missing {
                path: path.to_path_buf(),
                hint: hint.to_owned(),
            }
        } else {
            CertsError::io("read", path, e)
        }
    })
}

fn create_dir(dir: &Path) -> Result<(), CertsError> {
    fs::create_dir_all(dir).map_err(|e| CertsError::io("create directory", dir, e))
}

fn write_json(path: &Path, value: &serde_json::Value, private: bool) -> Result<(), CertsError> {
    let mut text = serde_json::to_string_pretty(value).map_err(|source| CertsError::Json {
        path: path.to_path_buf(),
        source,
    })?;
    text.push('\n');
    write_file(path, text.as_bytes(), private)
}

/// Write `contents` to `path` through a temporary sibling and a rename.
/// Private files get mode 0600 when the temporary file is created, so the
/// key is never readable by others, not even briefly.
fn write_file(path: &Path, contents: &[u8], private: bool) -> Result<(), CertsError> {
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{file_name}.tmp-{}", std::process::id()));
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(CertsError::io("remove stale temporary file", &tmp, e)),
    }
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(if private { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = private;
    let result = options
        .open(&tmp)
        .and_then(|mut f| {
            f.write_all(contents)?;
            f.sync_all()
        })
        .map_err(|e| CertsError::io("write", &tmp, e))
        .and_then(|()| fs::rename(&tmp, path).map_err(|e| CertsError::io("replace", path, e)));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Quote a path for a copy-pasteable shell command, only when needed.
fn shell_quote(path: &Path) -> String {
    let s = path.display().to_string();
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:@%=,".contains(c));
    if plain {
        s
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(label: &str) -> Self {
            use std::sync::atomic::{AtomicUsize, Ordering};
            static COUNTER: AtomicUsize = AtomicUsize::new(0);
            let nanos = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            let path = std::env::temp_dir().join(format!(
                "fapilab-certs-{label}-{}-{nanos}-{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            ));
            TempDir(path)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn opts() -> InitOptions {
        InitOptions {
            tpps: vec![("alpha".to_owned(), false), ("beta".to_owned(), true)],
            server_names: vec!["as.fapilab.test".to_owned()],
            ..InitOptions::default()
        }
    }

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt as _;
        fs::metadata(path).expect("metadata").permissions().mode() & 0o777
    }

    #[test]
    fn init_writes_the_documented_layout() {
        let tmp = TempDir::new("layout");
        let dir = CaDir::new(tmp.0.join("pki"));
        assert!(!dir.exists());
        dir.init(&opts()).expect("init");
        assert!(dir.exists());
        for name in ["alpha", "beta"] {
            for file in dir.tpp_files(name) {
                assert!(file.is_file(), "{}", file.display());
            }
        }
        assert_eq!(dir.tpp_names().expect("names"), vec!["alpha", "beta"]);
        #[cfg(unix)]
        {
            for private in [
                dir.ca_key(),
                dir.server_key(),
                dir.tpp_transport_key("alpha"),
                dir.tpp_private_jwks("alpha"),
                dir.tpp_transport_key("beta"),
                dir.tpp_private_jwks("beta"),
            ] {
                assert_eq!(mode(&private), 0o600, "{}", private.display());
            }
            assert_eq!(mode(&dir.ca_cert()), 0o644);
            assert_eq!(mode(&dir.tpp_public_jwks("alpha")), 0o644);
        }
        // No temporary files are left behind.
        let leftovers: Vec<_> = fs::read_dir(dir.root())
            .expect("read_dir")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
            .collect();
        assert!(leftovers.is_empty());

        dir.check_validity(SystemTime::now())
            .expect("fresh PKI is valid");

        let ca = dir.load_ca().expect("load ca");
        let server = dir.load_server().expect("load server");
        ca.verify_issued(&server.cert_der, "server")
            .expect("chains");
        let info = crate::inspect_der(&server.cert_der).expect("inspect");
        assert_eq!(info.dns_names, vec!["localhost", "as.fapilab.test"]);

        let alpha = dir.load_tpp("alpha").expect("alpha");
        assert!(!alpha.self_signed);
        assert_eq!(alpha.subject, TppSubject::for_name("alpha"));
        ca.verify_issued(&alpha.transport.cert_der, "alpha")
            .expect("chains");
        assert_eq!(
            crate::subject_dn_of(&alpha.transport.cert_der).expect("dn"),
            alpha.subject.rfc4514()
        );
        let on_disk: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(dir.tpp_public_jwks("alpha")).expect("read"))
                .expect("json");
        assert_eq!(on_disk, alpha.public_jwks());
        let record: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(dir.tpp_subject("alpha")).expect("read"))
                .expect("json");
        assert_eq!(record["self_signed"], false);
        assert_eq!(record["subject_dn"], alpha.subject.rfc4514());
        assert_eq!(record["software_id"], alpha.subject.software_id);

        let beta = dir.load_tpp("beta").expect("beta");
        assert!(beta.self_signed);
        assert!(ca.verify_issued(&beta.transport.cert_der, "beta").is_err());
    }

    #[test]
    fn init_refuses_to_overwrite_without_force() {
        let tmp = TempDir::new("force");
        let dir = CaDir::new(&tmp.0);
        dir.init(&opts()).expect("first init");
        let before = fs::read_to_string(dir.ca_cert()).expect("read");

        let err = dir.init(&opts()).expect_err("second init must fail");
        let message = err.to_string();
        assert!(matches!(err, CertsError::AlreadyExists { .. }));
        assert!(
            message.contains(&dir.ca_cert().display().to_string()),
            "{message}"
        );
        assert!(message.contains("use --force"), "{message}");
        assert_eq!(fs::read_to_string(dir.ca_cert()).expect("read"), before);

        let forced = InitOptions {
            force: true,
            tpps: vec![("alpha".to_owned(), false)],
            ..InitOptions::default()
        };
        dir.init(&forced).expect("forced init");
        assert_ne!(fs::read_to_string(dir.ca_cert()).expect("read"), before);
        #[cfg(unix)]
        assert_eq!(mode(&dir.ca_key()), 0o600);
        // The unlisted TPP "beta" was reissued too, still self-signed, and
        // everything is consistent with the new CA.
        assert!(dir.load_tpp("beta").expect("beta").self_signed);
        dir.check_validity(SystemTime::now())
            .expect("consistent after force");
    }

    #[test]
    fn issue_and_ensure_tpp() {
        let tmp = TempDir::new("issue");
        let dir = CaDir::new(&tmp.0);
        let err = dir
            .issue_tpp("gamma", false, 5, false)
            .expect_err("no CA yet");
        assert!(matches!(err, CertsError::Missing { .. }), "{err}");
        assert!(
            err.to_string().contains("fapilab certs init --dir"),
            "{err}"
        );

        dir.init(&InitOptions::default()).expect("init");
        assert!(dir.issue_tpp("Bad_Name", false, 5, false).is_err());
        let gamma = dir.issue_tpp("gamma", false, 5, false).expect("issue");
        let err = dir.issue_tpp("gamma", false, 5, false).expect_err("exists");
        assert!(err.to_string().contains("transport.pem"), "{err}");
        let reissued = dir.issue_tpp("gamma", false, 5, true).expect("forced");
        assert_ne!(reissued.transport.cert_der, gamma.transport.cert_der);

        let ensured = dir.ensure_tpp("gamma", false, 5).expect("ensure existing");
        assert_eq!(ensured.transport.cert_der, reissued.transport.cert_der);
        let err = dir.ensure_tpp("gamma", true, 5).expect_err("conflict");
        assert!(matches!(err, CertsError::TppConflict { .. }));
        let delta = dir.ensure_tpp("delta", true, 5).expect("ensure new");
        assert!(delta.self_signed);
        assert!(dir.tpp_subject("delta").is_file());
    }

    #[test]
    fn expired_ca_is_reported_with_the_fix() {
        let tmp = TempDir::new("expired");
        let dir = CaDir::new(&tmp.0);
        let expired = InitOptions {
            lifetimes: Lifetimes {
                ca_days: 0,
                leaf_days: 0,
            },
            ..InitOptions::default()
        };
        dir.init(&expired).expect("init");
        let err = dir
            .check_validity(SystemTime::now())
            .expect_err("expired CA");
        let CertsError::Expired { file, fix, .. } = &err else {
            panic!("unexpected error {err}");
        };
        assert_eq!(file, &dir.ca_cert());
        let expected_fix = format!("fapilab certs init --dir {} --force", tmp.0.display());
        assert_eq!(fix, &expected_fix);
        let message = err.to_string();
        assert!(message.contains(&expected_fix), "{message}");
        assert!(message.contains("ca.pem"), "{message}");

        // A CA that is valid now but expires tomorrow is reported too.
        let short = InitOptions {
            force: true,
            lifetimes: Lifetimes {
                ca_days: 1,
                leaf_days: 1,
            },
            ..InitOptions::default()
        };
        dir.init(&short).expect("init");
        assert!(matches!(
            dir.check_validity(SystemTime::now()),
            Err(CertsError::Expired { .. })
        ));
        // With the defaults it is fine now, but not in 90 days.
        dir.init(&InitOptions {
            force: true,
            ..InitOptions::default()
        })
        .expect("init");
        dir.check_validity(SystemTime::now()).expect("valid");
        let later = SystemTime::now() + Duration::from_secs(31 * 86_400);
        let err = dir.check_validity(later).expect_err("server expired");
        assert!(
            matches!(&err, CertsError::Expired { file, .. } if file == &dir.server_cert()),
            "{err}"
        );
    }

    #[test]
    fn server_from_another_ca_is_detected() {
        let tmp = TempDir::new("mismatch");
        let dir = CaDir::new(&tmp.0);
        dir.init(&InitOptions::default()).expect("init");
        let other = CertificateAuthority::generate(&Lifetimes::default()).expect("ca");
        let foreign = other.issue_server(&[], 30).expect("server");
        write_file(&dir.server_cert(), foreign.cert_pem.as_bytes(), false).expect("write");
        write_file(&dir.server_key(), foreign.key_pem.as_bytes(), true).expect("write");
        let err = dir.check_validity(SystemTime::now()).expect_err("mismatch");
        assert!(matches!(err, CertsError::NotIssuedByCa { .. }), "{err}");
        assert!(err.to_string().contains("--force"));
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(shell_quote(Path::new("/tmp/pki")), "/tmp/pki");
        assert_eq!(shell_quote(Path::new("/tmp/my pki")), "'/tmp/my pki'");
        assert_eq!(shell_quote(Path::new("it's")), r"'it'\''s'");
    }
}
