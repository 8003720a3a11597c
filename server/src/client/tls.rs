//! TLS for `https://` endpoints, for the checks (reqwest) and the measured streams (`http1`)
//! alike: rustls with the ring provider only. Trusted: the operating system's certificates
//! (`/etc/ssl/certs` on Debian, or `SSL_CERT_FILE`/`SSL_CERT_DIR`), or Mozilla's (webpki-roots)
//! where the system has none; plus, per endpoint, the PEM certificates given as its CA. Those are
//! trust anchors (a private CA) and also pins: a server presenting exactly one of them (its own
//! self-signed certificate) is accepted whatever names it holds.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::sync::{Arc, OnceLock};

fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| {
            crate::serve::install_tls_provider();
            Arc::new(rustls::crypto::ring::default_provider())
        })
        .clone()
}

/// The operating system's roots, or Mozilla's where it has none (loaded once).
fn system_roots() -> &'static RootCertStore {
    static ROOTS: OnceLock<RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        let mut store = RootCertStore::empty();
        let (added, _) = store.add_parsable_certificates(found.certs);
        if added == 0 {
            tracing::info!(
                "no CA certificates found on this system: trusting Mozilla's root certificates (webpki-roots) for https endpoints"
            );
            store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        store
    })
}

/// The client configuration for endpoints without a CA of their own (built once).
pub fn default_config() -> Arc<ClientConfig> {
    static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let config = ClientConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()
                .expect("ring supports the default TLS versions")
                .with_root_certificates(system_roots().clone())
                .with_no_client_auth();
            Arc::new(http1_only(config))
        })
        .clone()
}

/// The client configuration for an endpoint with its own CA certificate(s), PEM. The message
/// says what is wrong with the text without repeating it.
pub fn config_with_ca(pem: &str) -> Result<Arc<ClientConfig>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("the CA certificate is not valid PEM ({e})"))?;
    if certs.is_empty() {
        return Err("the CA certificate field holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into());
    }
    let mut roots = system_roots().clone();
    for c in &certs {
        roots
            .add(c.clone())
            .map_err(|e| format!("the CA certificate could not be read ({e})"))?;
    }
    let provider = provider();
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| format!("the CA certificate could not be used ({e})"))?;
    let verifier = Pinned {
        pinned: certs,
        webpki,
        provider: provider.clone(),
    };
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(Arc::new(http1_only(config)))
}

/// Bakeoff speaks HTTP/1.1 only (the measured streams' client, and reqwest without http2).
fn http1_only(mut config: ClientConfig) -> ClientConfig {
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config
}

/// Web PKI verification over the system's roots and the endpoint's certificates, except that a
/// server presenting exactly one of the endpoint's certificates is accepted as it is (pinned).
/// The handshake's signatures are verified either way, so the server must hold the key.
#[derive(Debug)]
struct Pinned {
    pinned: Vec<CertificateDer<'static>>,
    webpki: Arc<WebPkiServerVerifier>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.pinned.iter().any(|p| p.as_ref() == end_entity.as_ref()) {
            return Ok(ServerCertVerified::assertion());
        }
        self.webpki
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// What a TLS failure means for the person fixing the endpoint.
pub fn explain(e: &rustls::Error) -> String {
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer | CertificateError::BadSignature => {
                "the server's certificate is not signed by a CA this machine trusts: give the endpoint its CA certificate (PEM), or the server's own self-signed certificate to pin it".into()
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                "the server's certificate is not for this host name: use the name (or address) the certificate names, or pin the certificate as the endpoint's CA".into()
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => "the server's certificate has expired".into(),
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "the server's certificate is not valid yet (is this machine's clock right?)".into()
            }
            other => format!("the server's certificate was refused ({other:?})"),
        },
        rustls::Error::AlertReceived(a) => format!("the server refused the TLS handshake ({a:?})"),
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
            "the server does not speak TLS here: is it plain http://?".into()
        }
        other => format!("TLS failed: {other}"),
    }
}

/// A hint for a reqwest error's text, when it is about the server's certificate.
pub fn hint(text: &str) -> Option<&'static str> {
    if text.contains("UnknownIssuer") || text.contains("BadSignature") {
        Some("the server's certificate is not signed by a CA this machine trusts: give the endpoint its CA certificate (PEM), or the server's own self-signed certificate to pin it")
    } else if text.contains("NotValidForName") || text.contains("not valid for name") {
        Some("the server's certificate is not for this host name: use the name (or address) the certificate names, or pin the certificate as the endpoint's CA")
    } else if text.contains("Expired") || text.contains("certificate expired") {
        Some("the server's certificate has expired")
    } else if text.contains("InvalidContentType") || text.contains("CorruptMessage") {
        Some("the server does not speak TLS here: is it plain http://?")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CA: &str = include_str!("../../tests/fixtures/tls/ca.pem");
    const SERVER: &str = include_str!("../../tests/fixtures/tls/server.pem");

    #[test]
    fn the_default_configuration_trusts_some_roots_and_speaks_http1() {
        let c = default_config();
        assert_eq!(c.alpn_protocols, vec![b"http/1.1".to_vec()]);
        assert!(!system_roots().is_empty());
    }

    #[test]
    fn a_certificate_for_another_name_is_named_as_such_not_as_a_refused_connection() {
        // rustls' text as reqwest passes it on (QA: it read "connection refused or unreachable").
        let text = "client error (Connect): invalid peer certificate: certificate not valid for name \"localhost\"; certificate is only valid for DnsName(\"other.lan\")";
        assert!(hint(text).is_some_and(|h| h.contains("not for this host name")));
        assert!(hint("invalid peer certificate: UnknownIssuer").is_some_and(|h| h.contains("CA certificate")));
        assert_eq!(hint("tcp connect error: Connection refused (os error 111)"), None);
    }

    #[test]
    fn a_ca_is_read_from_pem_and_nonsense_is_named() {
        assert!(config_with_ca(CA).is_ok());
        assert!(config_with_ca(&format!("{CA}{SERVER}")).is_ok(), "several certificates");
        let e = config_with_ca("-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n").expect_err("bad");
        assert!(e.contains("PEM") || e.contains("CA certificate"), "{e}");
        assert!(config_with_ca("hello").expect_err("none").contains("no PEM certificate"));
    }

    #[test]
    fn certificate_failures_say_what_to_do() {
        let e = explain(&rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer));
        assert!(e.contains("CA certificate"), "{e}");
        assert!(hint("invalid peer certificate: UnknownIssuer").is_some());
        assert!(hint("connection refused").is_none());
    }
}
