//! The API server's listener. Every connection is TLS (rustls, through
//! `wasmkube_pki::listener`), with the client's certificate checked against the cluster
//! CA when it presents one. Each connection then
//! speaks HTTP/1.1 or, when it opens with the HTTP/2 preface (ALPN "h2"), HTTP/2; axum's
//! `serve` tells them apart.
//!
//! An HTTP/2 connection carries many watches, and one event wakes them all. Each watch
//! hands its event to the connection, and hyper would write each one out at once: one
//! `writev` per event per watch, as costly as a connection per watch. So the writes of an
//! HTTP/2 connection are gathered while the runtime runs the tasks that are ready (the
//! other watches), and written together once that is done. Nothing waits for a timer or
//! for a frame to fill: the bytes leave as soon as the watches woken with them are done.

use std::future::Future;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker, ready};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::server::TlsStream;
use wasmkube_pki::Subject;
use wasmkube_pki::listener::TlsListener;

/// Past this many gathered bytes, they are written before more are taken, so that a client
/// that reads slowly holds the server back instead of growing a buffer.
const MAX_GATHERED: usize = 256 * 1024;

/// How many passes of the runtime over its ready tasks the bytes of an HTTP/2 connection
/// may wait for. Gathering stops earlier, after the first pass that adds nothing. A pass
/// ends when the worker runs out of ready tasks, or at tokio's maintenance, every 61 task
/// polls, so the wait is bounded even under a steady flow. With 1,000 watches over 10
/// connections (100 each), 1 pass gathers about 2 events per write and 32 passes about
/// 20; more passes gained little in `wasmkube bench`.
const MAX_PASSES: u32 = 32;

/// The first bytes of the HTTP/2 connection preface.
const HTTP2_PREFACE: &[u8] = b"PRI * HTTP/2.0";

pub struct ApiListener {
    tls: TlsListener,
}

impl ApiListener {
    pub fn new(tcp: TcpListener, tls: Arc<rustls::ServerConfig>) -> io::Result<Self> {
        Ok(Self {
            tls: TlsListener::new(tcp, tls, "the API server")?,
        })
    }
}

impl axum::serve::Listener for ApiListener {
    type Io = ApiConnection;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (stream, address) = self.tls.accept().await;
        (ApiConnection::new(stream), address)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.tls.local_addr()
    }
}

/// Who is at the other end of a connection: its address, and the subject of the client
/// certificate it presented (already verified against the cluster CA), if any.
#[derive(Clone, Debug)]
pub struct ConnectionInfo {
    pub remote_address: SocketAddr,
    pub client_certificate: Option<Subject>,
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, ApiListener>>
    for ConnectionInfo
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, ApiListener>) -> Self {
        Self {
            remote_address: *stream.remote_addr(),
            client_certificate: TlsListener::client_certificate(&stream.io().stream),
        }
    }
}

/// Set once the runtime has run the tasks that were ready when the wait began.
struct PassEnd {
    ended: AtomicBool,
    task: Waker,
}

impl Wake for PassEnd {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.ended.store(true, Ordering::Release);
        self.task.wake_by_ref();
    }
}

impl PassEnd {
    /// Starts waiting for the end of the runtime's current pass. `yield_now` hands its
    /// waker to the runtime, which wakes it only at the end of the pass; any other wake of
    /// the connection meanwhile (each watch that hands over an event wakes it) leaves
    /// `ended` unset.
    fn start(cx: &Context<'_>) -> Arc<Self> {
        let pass_end = Arc::new(Self {
            ended: AtomicBool::new(false),
            task: cx.waker().clone(),
        });
        let waker = Waker::from(Arc::clone(&pass_end));
        let mut yielding = std::pin::pin!(tokio::task::yield_now());
        // The first poll hands over the waker and is always pending; the future is not
        // needed after that.
        let _ = yielding.as_mut().poll(&mut Context::from_waker(&waker));
        pass_end
    }

    fn has_ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }
}

/// Gathered bytes waiting for the end of a pass.
struct Wait {
    pass_end: Arc<PassEnd>,
    /// How many bytes were gathered when this pass began.
    gathered_before: usize,
    passes: u32,
}

pub struct ApiConnection {
    stream: TlsStream<TcpStream>,
    /// `None` until the first bytes arrive. Taking an HTTP/1.1 connection for HTTP/2
    /// would only change when its bytes leave, never which bytes or in what order.
    http2: Option<bool>,
    /// HTTP/2 bytes taken but not yet written, in order.
    gathered: BytesMut,
    wait: Option<Wait>,
}

impl ApiConnection {
    fn new(stream: TlsStream<TcpStream>) -> Self {
        Self {
            stream,
            http2: None,
            gathered: BytesMut::new(),
            wait: None,
        }
    }

    fn gathers(&self) -> bool {
        self.http2 == Some(true)
    }

    /// Writes every gathered byte, or says why not yet.
    fn poll_write_gathered(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.gathered.is_empty() {
            let written = ready!(Pin::new(&mut self.stream).poll_write(cx, &self.gathered))?;
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.gathered.advance(written);
        }
        self.wait = None;
        Poll::Ready(Ok(()))
    }

    /// Takes bytes to write later, once there is room for them.
    fn poll_gather(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.gathered.len() >= MAX_GATHERED {
            ready!(self.poll_write_gathered(cx))?;
        }
        let mut taken = 0;
        for buf in bufs {
            self.gathered.extend_from_slice(buf);
            taken += buf.len();
        }
        Poll::Ready(Ok(taken))
    }

    /// Whether the gathered bytes should wait for (another) pass to end; if so, the
    /// connection is woken when it does.
    fn keeps_waiting(&mut self, cx: &Context<'_>) -> bool {
        let passes = match &self.wait {
            None => 0,
            Some(wait) if !wait.pass_end.has_ended() => return true,
            Some(wait) if self.gathered.len() > wait.gathered_before => wait.passes,
            // The last pass added nothing: this connection's share of the work is done.
            Some(_) => return false,
        };
        if passes == MAX_PASSES {
            return false;
        }
        self.wait = Some(Wait {
            pass_end: PassEnd::start(cx),
            gathered_before: self.gathered.len(),
            passes: passes + 1,
        });
        true
    }
}

impl AsyncRead for ApiConnection {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.stream).poll_read(cx, buf))?;
        let read = &buf.filled()[before..];
        if this.http2.is_none() && !read.is_empty() {
            let compared = read.len().min(HTTP2_PREFACE.len());
            this.http2 = Some(read[..compared] == HTTP2_PREFACE[..compared]);
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for ApiConnection {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.gathers() {
            this.poll_gather(cx, &[IoSlice::new(buf)])
        } else {
            Pin::new(&mut this.stream).poll_write(cx, buf)
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.gathers() {
            this.poll_gather(cx, bufs)
        } else {
            Pin::new(&mut this.stream).poll_write_vectored(cx, bufs)
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.gathered.is_empty() {
            if this.keeps_waiting(cx) {
                return Poll::Pending;
            }
            ready!(this.poll_write_gathered(cx))?;
        }
        Pin::new(&mut this.stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_write_gathered(cx))?;
        Pin::new(&mut this.stream).poll_shutdown(cx)
    }
}
