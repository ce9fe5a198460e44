//! SSL_GET's TLS client (rustls): like keepalived 2.2.7, the server's certificate is not
//! verified (its handshake signatures are), an `SSL` block's CA file included; the block's
//! certificate and key are presented when the server asks for a client certificate (RFC
//! 8446 section 4.4.2); with `enable_sni` the virtualhost is sent as the server name (RFC
//! 6066 section 3).

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use keepalived_config::model::SslDef;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::time::timeout;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::probe::{Failure, connect};
use super::source::Source;

/// Accepts any certificate chain; checks the handshake's signatures with the provider.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The TLS client configuration of the running load (replaced at each load by
/// [`configure`]; the default one until then).
static CONFIG: RwLock<Option<Arc<ClientConfig>>> = RwLock::new(None);

/// Builds the client: any server certificate accepted (2.2.7 loads a CA file but never asks
/// OpenSSL to verify), the client certificate and key presented when given.
fn build(
    client: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
) -> Result<ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)));
    let mut config = match client {
        Some((certs, key)) => builder.with_client_auth_cert(certs, key)?,
        None => builder.with_no_client_auth(),
    };
    // Each check is a new session, as 2.2.7's (no resumption across attempts: a server
    // that restarted is not offered the old one's tickets).
    config.resumption = rustls::client::Resumption::disabled();
    Ok(config)
}

/// Reads the certificates of a PEM file (at least one).
fn read_certs(path: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| e.to_string())?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    if certs.is_empty() {
        return Err("no certificate in the file".into());
    }
    Ok(certs)
}

/// Reads the private key of a PEM file; an encrypted one cannot be read (the `password`
/// is not used).
fn read_key(path: &str) -> Result<PrivateKeyDer<'static>, String> {
    let text = std::fs::read(path).map_err(|e| e.to_string())?;
    if text.windows(9).any(|w| w == b"ENCRYPTED") {
        return Err("an encrypted key cannot be read by keepalived-rs".into());
    }
    PrivateKeyDer::from_pem_slice(&text).map_err(|e| e.to_string())
}

/// Sets up the SSL_GET client from the top-level `SSL` block (`None`: no block) and returns
/// the lines to log: 2.2.7's `SSL error : Cant load certificate file...` (key file, CA file)
/// and `Error Initialize SSL, ctx Instance` for a file that cannot be read, each with our
/// reason. Choice: the checks then run without a client certificate instead of stopping.
pub fn configure(ssl: Option<&SslDef>) -> Vec<String> {
    let mut lines = Vec::new();
    let mut client = None;
    if let Some(ssl) = ssl {
        let certs = ssl.certificate.as_deref().map(|p| (p, read_certs(p)));
        let key = ssl.key.as_deref().map(|p| (p, read_key(p)));
        let ca = ssl.ca.as_deref().map(|p| (p, read_certs(p)));
        let mut failed = false;
        for (what, path, error) in [
            (
                "certificate",
                certs
                    .as_ref()
                    .and_then(|(p, r)| r.as_ref().err().map(|e| (*p, e))),
            ),
            (
                "key",
                key.as_ref()
                    .and_then(|(p, r)| r.as_ref().err().map(|e| (*p, e))),
            ),
            (
                "CA",
                ca.as_ref()
                    .and_then(|(p, r)| r.as_ref().err().map(|e| (*p, e))),
            ),
        ]
        .into_iter()
        .filter_map(|(what, e)| e.map(|(p, e)| (what, p, e)))
        {
            lines.push(format!(
                "SSL error : Cant load {what} file... ({path}: {error})"
            ));
            failed = true;
        }
        if failed {
            lines.push("Error Initialize SSL, ctx Instance".into());
        } else if let (Some((_, Ok(certs))), Some((_, Ok(key)))) = (certs, key) {
            client = Some((certs, key));
        } else if ssl.certificate.is_some() != ssl.key.is_some() {
            lines.push(
                "SSL: a client certificate needs both certificate and key - not presenting one"
                    .into(),
            );
        }
    }
    let config = match build(client) {
        Ok(config) => Some(Arc::new(config)),
        Err(e) => {
            lines.push(format!("Error Initialize SSL, ctx Instance ({e})"));
            build(None).ok().map(Arc::new)
        }
    };
    if let Ok(mut slot) = CONFIG.write() {
        *slot = config;
    }
    lines
}

/// The TLS connector of the running load.
fn connector() -> Result<TlsConnector, Failure> {
    let current = CONFIG.read().ok().and_then(|slot| slot.clone());
    let config = match current {
        Some(config) => Some(config),
        None => build(None).ok().map(Arc::new),
    };
    config
        .map(TlsConnector::from)
        .ok_or_else(|| Failure::Io("Cannot initialize SSL context.".into()))
}

/// Connects and completes a TLS handshake within `limit`. The server name is `sni` when given,
/// else the address (rustls sends no SNI for an address).
pub async fn connect_tls(
    target: SocketAddr,
    source: &Source,
    sni: Option<&str>,
    limit: Duration,
) -> Result<TlsStream<tokio::net::TcpStream>, Failure> {
    let tcp = connect(target, source, limit).await?;
    let name = match sni.map(|n| ServerName::try_from(n.to_string())) {
        Some(Ok(name)) => name,
        _ => ServerName::IpAddress(target.ip().into()),
    };
    match timeout(limit, connector()?.connect(name, tcp)).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) => Err(Failure::Io(format!("SSL handshake: {e}"))),
        Err(_) => Err(Failure::Io("SSL handshake timeout".into())),
    }
}

#[cfg(test)]
mod tests {
    use std::process::{Command, Stdio};

    use super::*;
    use crate::checker::plan::HttpProtocol;
    use crate::checker::probe::{exchange, http_request, parse_response};

    /// Runs openssl with `args` in `dir`; false when it cannot.
    fn openssl(dir: &std::path::Path, args: &[&str]) -> bool {
        Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// An `SSL` block's certificate and key are presented to a server that requires a client
    /// certificate (`openssl s_server -Verify`); without them its page cannot be fetched. A
    /// missing file gives 2.2.7's lines.
    #[tokio::test]
    async fn the_ssl_block_presents_a_client_certificate() {
        let dir = std::env::temp_dir().join(format!("ka-tls-client-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let made = openssl(
            &dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=ca.example",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
            ],
        ) && ["srv", "cli"].iter().all(|n| {
            openssl(
                &dir,
                &[
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-days",
                    "2",
                    "-subj",
                    &format!("/CN={n}.example"),
                    "-CA",
                    "ca.pem",
                    "-CAkey",
                    "ca.key",
                    "-keyout",
                    &format!("{n}.key"),
                    "-out",
                    &format!("{n}.pem"),
                ],
            )
        });
        if !made {
            println!("skipped: openssl cannot make certificates here");
            let _ = std::fs::remove_dir_all(&dir);
            return;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port();
        let mut server = Command::new("openssl")
            .args([
                "s_server",
                "-quiet",
                "-accept",
                &format!("127.0.0.1:{port}"),
                "-cert",
                "srv.pem",
                "-key",
                "srv.key",
                "-CAfile",
                "ca.pem",
                "-Verify",
                "1",
                "-www",
            ])
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("s_server");
        let target: SocketAddr = ([127, 0, 0, 1], port).into();
        let t = Duration::from_secs(3);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(target).is_err() && std::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let path = |n: &str| Some(dir.join(n).display().to_string());
        let fetch = || async {
            let request = http_request("/", target, None, HttpProtocol::V10);
            let stream = connect_tls(target, &Source::default(), None, t).await?;
            let response = exchange(stream, &request, t).await?;
            parse_response(&response)
                .map(|(status, _)| status)
                .ok_or(Failure::Io("no response".into()))
        };
        let with = SslDef {
            ca: path("ca.pem"),
            certificate: path("cli.pem"),
            key: path("cli.key"),
            ..SslDef::default()
        };
        assert!(configure(Some(&with)).is_empty());
        let presented = fetch().await;
        assert!(configure(None).is_empty());
        let without = fetch().await;
        let broken = SslDef {
            key: path("missing.key"),
            ..with.clone()
        };
        let lines = configure(Some(&broken));
        let _ = server.kill();
        let _ = server.wait();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(presented, Ok(200));
        assert!(without.is_err(), "{without:?}");
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(
            lines[0].starts_with("SSL error : Cant load key file... ("),
            "{lines:?}"
        );
        assert_eq!(lines[1], "Error Initialize SSL, ctx Instance");
    }
}
