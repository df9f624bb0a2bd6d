//! `--tls`: HTTPS with a self-signed certificate made at start (Jira Cloud speaks only
//! https, and some clients force `https://` onto any base URL). The certificate names
//! `localhost` and the address served; its PEM is what a client trusts
//! ([`crate::SimHandle::certificate_pem`], `--tls-cert-out FILE`).

use std::net::SocketAddr;
use std::sync::Arc;

use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

/// A server's TLS: the acceptor and the certificate clients must trust.
#[derive(Clone)]
pub(crate) struct Tls {
    pub(crate) acceptor: TlsAcceptor,
    pub(crate) certificate_pem: String,
}

impl Tls {
    /// A fresh self-signed certificate for `addr` (and `localhost`), served over TLS 1.2
    /// and 1.3 with HTTP/1.1 and HTTP/2 offered by ALPN.
    pub(crate) fn self_signed(addr: SocketAddr) -> std::io::Result<Tls> {
        let names = vec![
            "localhost".to_owned(),
            addr.ip().to_string(),
            "127.0.0.1".to_owned(),
        ];
        let certified = rcgen::generate_simple_self_signed(names).map_err(std::io::Error::other)?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            certified.signing_key.serialize_der(),
        ));
        let mut config = ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(vec![certified.cert.der().clone()], key)
            .map_err(std::io::Error::other)?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Tls {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            certificate_pem: certified.cert.pem(),
        })
    }
}
