//! The control socket: a unix stream socket (mode 0600, root only: the peer's credentials are
//! checked on every connection), one JSON request per line, one JSON answer per line. It runs
//! in the VRRP child, beside the driver, and asks the driver for what only it knows (a
//! snapshot, a drain) through [`Control`] messages; a reload is checked here, off the protocol
//! loop, and applied as SIGHUP applies it, to the whole daemon.

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};

use super::protocol::{self, MAX_REQUEST, Request};
use crate::dump;
use crate::logger::Logger;
use crate::status_view;
use crate::vrrp::driver::Control;

/// How long a connection may stay idle.
const IDLE: Duration = Duration::from_secs(60);
/// Connections served at once; more wait in the listen queue.
const MAX_CONNECTIONS: usize = 16;

/// Checks the configuration file as a reload would read it: the problems found (`Ok`, the
/// file can be applied) or the reasons it cannot be (`Err`). Blocking.
pub type Check = Arc<dyn Fn() -> Result<Vec<String>, Vec<String>> + Send + Sync>;

/// What a connection needs.
#[derive(Clone)]
pub struct Handler {
    /// The driver.
    pub controls: mpsc::Sender<Control>,
    /// The reload check.
    pub check: Check,
    /// Applies a checked reload (signals the parent, as `kill -HUP` would).
    pub apply: Arc<dyn Fn() -> Result<(), String> + Send + Sync>,
    /// The log.
    pub logger: Logger,
}

/// Why the socket could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    /// Another daemon answers on it (several keepalived can run with different pid files):
    /// it is left alone.
    #[error("{0} is in use by another running daemon")]
    InUse(String),
    /// Anything else.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// Binds the socket at `path`: its directory is created (mode 0755) if missing, a socket left
/// by an earlier run is replaced, one another daemon still answers on is left alone, any
/// other file there is an error.
pub fn bind(path: &Path) -> Result<UnixListener, BindError> {
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        return Err(BindError::InUse(path.display().to_string()));
    }
    Ok(bind_free(path)?)
}

/// [`bind`], once no daemon answers at `path`.
fn bind_free(path: &Path) -> anyhow::Result<UnixListener> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.exists()
    {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("cannot set the mode of {}", dir.display()))?;
    }
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => std::fs::remove_file(path)
            .with_context(|| format!("cannot remove the old socket {}", path.display()))?,
        Ok(_) => anyhow::bail!("{} exists and is not a socket", path.display()),
        Err(_) => {}
    }
    let listener =
        UnixListener::bind(path).with_context(|| format!("cannot bind {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot set the mode of {}", path.display()))?;
    Ok(listener)
}

/// Serves `listener` until the process ends.
pub async fn serve(listener: UnixListener, handler: Handler) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(err) => {
                handler
                    .logger
                    .info(&format!("control socket: accept failed: {err}"));
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let handler = handler.clone();
        tokio::task::spawn_local(async move {
            let _ = connection(stream, &handler).await;
            drop(permit);
        });
    }
}

/// One connection: requests answered in order until the peer closes or stays idle.
async fn connection(stream: UnixStream, handler: &Handler) -> std::io::Result<()> {
    let root = stream.peer_cred().is_ok_and(|cred| cred.uid() == 0);
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut line = String::new();
    loop {
        line.clear();
        let limit = u64::try_from(MAX_REQUEST + 2).unwrap_or(u64::MAX);
        let mut limited = (&mut reader).take(limit);
        let read = tokio::time::timeout(IDLE, limited.read_line(&mut line)).await;
        let n = match read {
            Ok(Ok(n)) => n,
            Ok(Err(err)) if err.kind() == std::io::ErrorKind::InvalidData => {
                let answer = protocol::error("request is not UTF-8");
                write.write_all(format!("{answer}\n").as_bytes()).await?;
                return Ok(());
            }
            Ok(Err(err)) => return Err(err),
            Err(_) => return Ok(()),
        };
        if n == 0 {
            return Ok(());
        }
        if !line.ends_with('\n') && n > MAX_REQUEST {
            let answer = protocol::error(&format!("request longer than {MAX_REQUEST} bytes"));
            write.write_all(format!("{answer}\n").as_bytes()).await?;
            return Ok(());
        }
        if !root {
            // The request is read first, so the client sees the answer, not a broken pipe.
            let answer = protocol::error("permission denied: the control socket is for root only");
            write.write_all(format!("{answer}\n").as_bytes()).await?;
            return Ok(());
        }
        let answer = match Request::parse(line.trim_end_matches(['\n', '\r'])) {
            Ok(request) => answer(request, handler).await,
            Err(err) => protocol::error(&err),
        };
        write.write_all(format!("{answer}\n").as_bytes()).await?;
    }
}

/// The driver's snapshot.
async fn snapshot(handler: &Handler) -> Result<dump::Snapshot, String> {
    let (reply, answer) = oneshot::channel();
    handler
        .controls
        .send(Control::Snapshot(reply))
        .await
        .map_err(|_| "the VRRP engine is stopping".to_string())?;
    answer
        .await
        .map_err(|_| "the VRRP engine is stopping".to_string())
}

/// The answer line to `request`.
async fn answer(request: Request, handler: &Handler) -> String {
    match result(request, handler).await {
        Ok(value) => protocol::ok(value),
        Err(err) => protocol::error(&err),
    }
}

async fn result(request: Request, handler: &Handler) -> Result<Value, String> {
    match request {
        Request::Status => Ok(status_view::status(&snapshot(handler).await?)),
        Request::Show(name) => {
            let snapshot = snapshot(handler).await?;
            let instance = snapshot
                .instances
                .iter()
                .find(|i| i.name == name)
                .ok_or_else(|| format!("no instance named \"{name}\""))?;
            Ok(status_view::instance(instance, &snapshot.scripts))
        }
        Request::Dump => {
            let snapshot = snapshot(handler).await?;
            let json: Value = serde_json::from_str(&dump::render_json(&snapshot))
                .map_err(|e| format!("cannot render the JSON dump: {e}"))?;
            Ok(json!({
                "data": dump::render_data(&snapshot),
                "stats": dump::render_stats(&snapshot),
                "json": json,
            }))
        }
        Request::Drain(target) => drain(handler, target, true).await,
        Request::Undrain(target) => drain(handler, target, false).await,
        Request::Reload => {
            let check = handler.check.clone();
            let checked = tokio::task::spawn_blocking(move || check())
                .await
                .map_err(|e| format!("the configuration check failed: {e}"))?;
            match checked {
                Ok(problems) => {
                    (handler.apply)()?;
                    handler
                        .logger
                        .info("Reload requested on the control socket");
                    Ok(json!({"applied": true, "problems": problems}))
                }
                Err(problems) => Err(format!(
                    "the configuration cannot be used, the running one stays:\n{}",
                    problems.join("\n")
                )),
            }
        }
    }
}

/// Drains or undrains through the driver.
async fn drain(
    handler: &Handler,
    target: super::protocol::Target,
    drain: bool,
) -> Result<Value, String> {
    let (reply, answer) = oneshot::channel();
    handler
        .controls
        .send(Control::Drain(target, drain, reply))
        .await
        .map_err(|_| "the VRRP engine is stopping".to_string())?;
    let names = answer
        .await
        .map_err(|_| "the VRRP engine is stopping".to_string())??;
    let key = if drain { "drained" } else { "undrained" };
    Ok(json!({ key: names }))
}
