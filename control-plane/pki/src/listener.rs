//! A TLS listener for axum: TCP connections are accepted in a task of their own and each
//! handshake runs in a task of its own (with a time limit), so that a client slow to
//! finish one holds up no one else; axum takes the connections whose handshakes are done.
//! The API server and the node endpoint both listen so.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::Subject;

/// How long a client may take to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How many finished handshakes may wait for the server to take them.
const ACCEPTED_BACKLOG: usize = 128;

pub struct TlsListener {
    accepted: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local_address: SocketAddr,
    /// Stopped when the listener is dropped, which closes the listening socket.
    accepting: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    /// Starts accepting on `tcp`; `what` names the server in the log ("the API server").
    pub fn new(
        tcp: TcpListener,
        config: Arc<rustls::ServerConfig>,
        what: &'static str,
    ) -> io::Result<Self> {
        let local_address = tcp.local_addr()?;
        let (sender, accepted) = mpsc::channel(ACCEPTED_BACKLOG);
        let accepting = tokio::spawn(accept_connections(
            tcp,
            TlsAcceptor::from(config),
            sender,
            what,
        ));
        Ok(Self {
            accepted,
            local_address,
            accepting,
        })
    }

    /// The subject of the client certificate a connection presented (verified against
    /// the cluster CA during the handshake), if any.
    pub fn client_certificate(stream: &TlsStream<TcpStream>) -> Option<Subject> {
        let (_, session) = stream.get_ref();
        crate::tls::peer_subject(session.peer_certificates())
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

async fn accept_connections(
    mut tcp: TcpListener,
    acceptor: TlsAcceptor,
    accepted: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
    what: &'static str,
) {
    while !accepted.is_closed() {
        // axum's own accept logs and retries errors such as running out of descriptors.
        let (stream, address) = axum::serve::Listener::accept(&mut tcp).await;
        // A connection's writes are small and answer nothing the client will send, so
        // Nagle's algorithm would hold each one until the last was acknowledged (up to
        // 40 ms with delayed ACKs). Go's net package, so kube-apiserver, turns it off too.
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "cannot turn off Nagle's algorithm on a connection");
        }
        let acceptor = acceptor.clone();
        let accepted = accepted.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => {
                    let _ = accepted.send((stream, address)).await;
                }
                Ok(Err(error)) => {
                    tracing::debug!(%address, %error, "a TLS handshake with a client of {what} failed");
                }
                Err(_) => {
                    tracing::debug!(%address, "a client of {what} did not finish its TLS handshake");
                }
            }
        });
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.accepted.recv().await {
            Some(connection) => connection,
            // The accepting task ends only with the listener; nothing more will come.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local_address)
    }
}
