//! A fake model provider on 127.0.0.1: an axum server that answers both OpenAI
//! (`/v1/chat/completions`) and Anthropic (`/v1/messages`) paths from a script of replies,
//! speaking the providers' real wire formats (JSON bodies, SSE streams), and records every
//! request it receives (path, headers, body).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum::Router;
use serde_json::Value;
use tokio::sync::Notify;

/// One scripted reply.
#[derive(Clone)]
#[allow(dead_code)] // each test binary uses its own subset
pub enum Reply {
    /// A JSON body with this status and these extra headers.
    Json(u16, Value, Vec<(&'static str, String)>),
    /// An SSE body sent piece by piece (each piece a raw chunk of the body), `gap` apart;
    /// `cut` breaks the connection in place of the last piece instead of ending the body.
    Sse {
        pieces: Vec<String>,
        gap: Duration,
        cut: bool,
    },
    /// Waits this long, then answers with the JSON body.
    Slow(Duration, Value),
    /// Never answers; counts in `dropped` when the server drops the request (the client hung
    /// up).
    Hang,
    /// An SSE body whose first pieces are sent, then it hangs until dropped.
    SseThenHang(Vec<String>),
}

/// A recorded request.
#[derive(Debug, Clone)]
#[allow(dead_code)] // each test binary reads its own subset of the fields
pub struct Seen {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Value,
    pub at: Instant,
}

#[derive(Default)]
struct Shared {
    script: Mutex<VecDeque<Reply>>,
    seen: Mutex<Vec<Seen>>,
    dropped: AtomicUsize,
    dropped_notify: Notify,
}

/// A running fake provider.
pub struct FakeProvider {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

/// Counts a hung-up request when the handler (or body) holding it is dropped.
struct DropGuard(Arc<Shared>);

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.0.dropped.fetch_add(1, Ordering::SeqCst);
        self.0.dropped_notify.notify_waiters();
    }
}

#[allow(dead_code)]
impl FakeProvider {
    /// Starts a server that gives these replies in order (then 500s).
    pub async fn start(replies: Vec<Reply>) -> FakeProvider {
        let shared = Arc::new(Shared::default());
        shared.script.lock().unwrap().extend(replies);
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            use axum::serve::ListenerExt;
            // Without TCP_NODELAY each answer waits on a delayed ACK (~40 ms).
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            axum::serve(listener, app).await.unwrap();
        });
        FakeProvider { addr, shared }
    }

    /// `http://127.0.0.1:PORT` + `suffix`.
    pub fn url(&self, suffix: &str) -> String {
        format!("http://{}{suffix}", self.addr)
    }

    /// The requests received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }

    /// How many requests were dropped by the server because the client went away.
    pub fn dropped(&self) -> usize {
        self.shared.dropped.load(Ordering::SeqCst)
    }

    /// Waits until at least `n` requests were dropped, or `limit` passed.
    pub async fn wait_dropped(&self, n: usize, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while self.dropped() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            let notified = self.shared.dropped_notify.notified();
            let _ = tokio::time::timeout(left.min(Duration::from_millis(50)), notified).await;
        }
        true
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    shared.seen.lock().unwrap().push(Seen {
        path: uri.path().to_owned(),
        headers,
        body,
        at: Instant::now(),
    });
    let reply = shared.script.lock().unwrap().pop_front();
    match reply {
        None => json(
            500,
            &serde_json::json!({"error": {"message": "no scripted reply"}}),
            &[],
        ),
        Some(Reply::Json(status, body, headers)) => json(status, &body, &headers),
        Some(Reply::Slow(wait, body)) => {
            tokio::time::sleep(wait).await;
            json(200, &body, &[])
        }
        Some(Reply::Hang) => {
            let _guard = DropGuard(shared.clone());
            std::future::pending::<()>().await;
            unreachable!()
        }
        Some(Reply::Sse { pieces, gap, cut }) => {
            let stream = async_stream(pieces, gap, cut);
            sse(Body::from_stream(stream))
        }
        Some(Reply::SseThenHang(pieces)) => {
            let guard = DropGuard(shared.clone());
            let stream = futures_util::stream::iter(
                pieces
                    .into_iter()
                    .map(|p| Ok::<_, std::io::Error>(Bytes::from(p))),
            )
            .chain(futures_util::stream::once(async move {
                let _guard = guard;
                std::future::pending::<()>().await;
                Ok(Bytes::new())
            }));
            sse(Body::from_stream(stream))
        }
    }
}

use futures_util::StreamExt;

fn async_stream(
    pieces: Vec<String>,
    gap: Duration,
    cut: bool,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send {
    let n = pieces.len();
    futures_util::stream::iter(pieces.into_iter().enumerate()).then(move |(i, piece)| async move {
        if i > 0 && !gap.is_zero() {
            tokio::time::sleep(gap).await;
        }
        if cut && i + 1 == n {
            // An error from the body stream makes the server abort the connection mid-body.
            return Err(std::io::Error::other("cut"));
        }
        Ok(Bytes::from(piece))
    })
}

fn sse(body: Body) -> Response {
    Response::builder()
        .status(200)
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(body)
        .unwrap()
}

fn json(status: u16, body: &Value, headers: &[(&'static str, String)]) -> Response {
    let mut builder = Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .header("content-type", "application/json");
    for (k, v) in headers {
        builder = builder.header(*k, v);
    }
    builder.body(Body::from(body.to_string())).unwrap()
}

/// One OpenAI SSE `data:` line.
#[allow(dead_code)]
pub fn openai_data(chunk: &Value) -> String {
    format!("data: {chunk}\n\n")
}

/// One Anthropic SSE event (named, as Anthropic sends them).
#[allow(dead_code)]
pub fn anthropic_event(data: &Value) -> String {
    let name = data["type"].as_str().unwrap_or("unknown");
    format!("event: {name}\ndata: {data}\n\n")
}
