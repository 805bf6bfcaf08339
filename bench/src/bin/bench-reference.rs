//! The reference server: a minimal axum server that answers every request with the status,
//! headers and body captured from roster for one scenario, so the comparison measures
//! what roster adds on top of serving those bytes.

use std::net::SocketAddr;

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Response, StatusCode};
use bytes::Bytes;
use clap::Parser;

// The same allocator as roster, so the comparison is of the work done, not of allocators.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
struct Args {
    #[arg(long)]
    listen: SocketAddr,
    /// A capture: the status on the first line, then `name: value` header lines, a blank
    /// line, and the body.
    #[arg(long)]
    capture: std::path::PathBuf,
}

#[derive(Clone)]
struct Capture {
    status: StatusCode,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Bytes,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let capture = read_capture(&std::fs::read(&args.capture)?)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen).await?;
        // The body is read, as roster reads it: an unread body would also cost the
        // connection its keep-alive.
        let app = axum::Router::new().fallback(move |_body: Bytes| {
            let capture = capture.clone();
            async move {
                let mut response = Response::new(Body::from(capture.body));
                *response.status_mut() = capture.status;
                response.headers_mut().extend(capture.headers);
                response
            }
        });
        axum::serve(listener, app).await?;
        anyhow::Ok(())
    })
}

fn read_capture(raw: &[u8]) -> anyhow::Result<Capture> {
    let split = raw
        .windows(2)
        .position(|w| w == b"\n\n")
        .ok_or_else(|| anyhow::anyhow!("no blank line"))?;
    let head = std::str::from_utf8(&raw[..split])?;
    let body = Bytes::copy_from_slice(&raw[split + 2..]);
    let mut lines = head.lines();
    let status = StatusCode::from_u16(lines.next().unwrap_or_default().trim().parse()?)?;
    let mut headers = Vec::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = HeaderName::from_bytes(name.trim().as_bytes())?;
        // The server writes these itself.
        if name == "content-length"
            || name == "date"
            || name == "connection"
            || name == "transfer-encoding"
        {
            continue;
        }
        headers.push((name, HeaderValue::from_str(value.trim())?));
    }
    Ok(Capture {
        status,
        headers,
        body,
    })
}
