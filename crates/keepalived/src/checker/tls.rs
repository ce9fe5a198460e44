//! SSL_GET's TLS client (rustls): like keepalived 2.2.7 without an `SSL` block, the server's
//! certificate is not verified (its handshake signatures are); with `enable_sni` the
//! virtualhost is sent as the server name (RFC 6066 section 3).

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::time::timeout;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::probe::{Failure, connect};

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

/// The process's TLS client configuration, built once.
fn connector() -> Result<TlsConnector, Failure> {
    static CONFIG: OnceLock<Option<Arc<ClientConfig>>> = OnceLock::new();
    let config = CONFIG.get_or_init(|| {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .ok()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth();
        Some(Arc::new(config))
    });
    config
        .clone()
        .map(TlsConnector::from)
        .ok_or_else(|| Failure::Io("Cannot initialize SSL context.".into()))
}

/// Connects and completes a TLS handshake within `limit`. The server name is `sni` when given,
/// else the address (rustls sends no SNI for an address).
pub async fn connect_tls(
    target: SocketAddr,
    sni: Option<&str>,
    limit: Duration,
) -> Result<TlsStream<tokio::net::TcpStream>, Failure> {
    let tcp = connect(target, limit).await?;
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
