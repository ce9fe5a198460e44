//! The metrics endpoint (`--metrics-listen ADDR:PORT`): HTTP/1.1 from hyper on the VRRP child's
//! current-thread runtime; `GET /metrics` answers [`crate::metrics::render`] of a fresh
//! snapshot, anything else 404 (or 405 for another method).

use std::convert::Infallible;
use std::net::SocketAddr;

use anyhow::Context;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

use crate::logger::Logger;
use crate::metrics;
use crate::vrrp::driver::Control;

/// Binds `addr`.
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} for metrics"))
}

/// A plain-text answer.
fn text(status: StatusCode, body: String, content_type: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(value) = hyper::header::HeaderValue::from_str(content_type) {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}

/// One request.
async fn handle(
    request: Request<Incoming>,
    controls: mpsc::Sender<Control>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if request.uri().path() != "/metrics" {
        return Ok(text(
            StatusCode::NOT_FOUND,
            "not found: metrics are at /metrics\n".into(),
            "text/plain",
        ));
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return Ok(text(
            StatusCode::METHOD_NOT_ALLOWED,
            "GET only\n".into(),
            "text/plain",
        ));
    }
    let (reply, answer) = oneshot::channel();
    let snapshot = match controls.send(Control::Snapshot(reply)).await {
        Ok(()) => answer.await.ok(),
        Err(_) => None,
    };
    Ok(match snapshot {
        Some(snapshot) => text(
            StatusCode::OK,
            metrics::render(&snapshot),
            metrics::CONTENT_TYPE,
        ),
        None => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "the VRRP engine is stopping\n".into(),
            "text/plain",
        ),
    })
}

/// Serves `listener` until the process ends.
pub async fn serve(listener: TcpListener, controls: mpsc::Sender<Control>, logger: Logger) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(err) => {
                logger.info(&format!("metrics: accept failed: {err}"));
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let controls = controls.clone();
        tokio::task::spawn_local(async move {
            let service =
                hyper::service::service_fn(move |request| handle(request, controls.clone()));
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            // A scrape takes milliseconds; a client that holds the connection longer is cut.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(30), connection).await;
        });
    }
}
