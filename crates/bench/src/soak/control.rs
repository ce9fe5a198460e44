//! The chaos soak's control-socket side (issue 16): requests to our daemons' control sockets
//! (`status`, `show`, `drain`, `undrain` and malformed requests), what the answers must say,
//! and the bookkeeping of drained instances, whose invariant is that a drained instance never
//! becomes MASTER.
//!
//! The socket is a unix socket in the host's directory (a path on the shared filesystem, so the
//! soak reaches it from outside the host's network namespace), given to the daemon with
//! `--control-socket`. It lives in the VRRP child: after a SIGKILL or a restart the new child
//! opens it again, so a request retries its connection for [`CONNECT_WAIT`].

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// How long a request waits for the socket to accept a connection (a respawned VRRP child
/// opens it again).
pub const CONNECT_WAIT: Duration = Duration::from_secs(5);
/// How long a request waits for its answer.
pub const ANSWER_WAIT: Duration = Duration::from_secs(10);
/// After a drain is answered, how long the drained instance's VIP may still be seen on its
/// host: the daemon removes it before it answers, so this only covers a holder sample already
/// under way.
pub const DRAIN_GRACE: Duration = Duration::from_millis(500);

/// The name of VRID `vrid`'s instance in the soak's configurations.
pub fn instance_name(vrid: u8) -> String {
    format!("VI_{vrid}")
}

/// Sends one request line to the control socket at `socket` and returns the answer line,
/// parsed. Connecting is retried (bounded by [`CONNECT_WAIT`]).
pub fn request(socket: &Path, line: &[u8]) -> Result<Value> {
    let deadline = Instant::now() + CONNECT_WAIT;
    let mut stream = loop {
        match UnixStream::connect(socket) {
            Ok(stream) => break stream,
            Err(err) if Instant::now() >= deadline => {
                return Err(err).with_context(|| format!("connecting to {}", socket.display()));
            }
            Err(_) => thread::sleep(Duration::from_millis(100)),
        }
    };
    stream.set_read_timeout(Some(ANSWER_WAIT))?;
    stream.set_write_timeout(Some(ANSWER_WAIT))?;
    // The daemon answers an oversized line as soon as it has read past its limit and closes
    // the connection: the rest of the write then fails, and the answer is still there to read.
    let written = stream
        .write_all(line)
        .and_then(|()| stream.write_all(b"\n"));
    if let Err(err) = written
        && !matches!(
            err.kind(),
            std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
        )
    {
        return Err(err).with_context(|| format!("writing to {}", socket.display()));
    }
    let mut answer = String::new();
    BufReader::new(&stream)
        .read_line(&mut answer)
        .with_context(|| format!("reading the answer from {}", socket.display()))?;
    serde_json::from_str(&answer)
        .with_context(|| format!("the answer is not JSON: {:?}", answer.trim_end()))
}

/// The result of a request that must succeed; an error with the daemon's reason otherwise.
pub fn request_ok(socket: &Path, line: &str) -> Result<Value> {
    let answer = request(socket, line.as_bytes())?;
    if answer["ok"] != Value::Bool(true) {
        bail!("{line} was refused: {}", answer["error"]);
    }
    Ok(answer["result"].clone())
}

/// `{"command":"drain"|"undrain","instance":"VI_V"}`.
pub fn drain_line(vrid: u8, drain: bool) -> String {
    serde_json::json!({
        "command": if drain { "drain" } else { "undrain" },
        "instance": instance_name(vrid),
    })
    .to_string()
}

/// Requests the daemon must refuse, each with a word its error must contain. None of them may
/// change anything.
pub fn bad_requests() -> Vec<(Vec<u8>, &'static str)> {
    vec![
        (b"not json".to_vec(), "not JSON"),
        (b"[1,2]".to_vec(), "object"),
        (br#"{"command":"explode"}"#.to_vec(), "unknown command"),
        (br#"{"command":"drain"}"#.to_vec(), "instance"),
        (
            br#"{"command":"drain","instance":"VI_99"}"#.to_vec(),
            "VI_99",
        ),
        (
            br#"{"command":"undrain","instance":"VI_1","all":true}"#.to_vec(),
            "not both",
        ),
        (br#"{"command":"status","extra":1}"#.to_vec(), "unexpected"),
        (vec![0xff, 0xfe, b'{'], "UTF-8"),
        (br#"{"command":"show"}"#.to_vec(), "instance"),
        (
            format!(r#"{{"command":"show","instance":"{}"}}"#, "x".repeat(5000)).into_bytes(),
            "longer",
        ),
    ]
}

/// Checks a refusal: `ok` false and an error naming `word`.
pub fn check_refusal(answer: &Value, word: &str) -> Option<String> {
    let error = answer["error"].as_str().unwrap_or_default();
    if answer["ok"] == Value::Bool(false) && error.contains(word) {
        None
    } else {
        Some(format!("expected a refusal naming {word:?}, got {answer}"))
    }
}

/// What a `status` result says that the soak checks: per instance (by VRID), its state and
/// whether it is drained; problems with the result's shape are returned as text.
pub fn instance_states(status: &Value) -> Result<Vec<(u8, String, bool)>, String> {
    let Some(instances) = status["instances"].as_array() else {
        return Err(format!("status has no instances: {status}"));
    };
    let mut out = Vec::new();
    for i in instances {
        let name = i["name"].as_str().unwrap_or_default();
        let Some(vrid) = name.strip_prefix("VI_").and_then(|v| v.parse::<u8>().ok()) else {
            return Err(format!("unexpected instance {name:?} in status"));
        };
        let state = i["state"].as_str().unwrap_or_default().to_string();
        let Some(drained) = i["drained"].as_bool() else {
            return Err(format!("{name} has no \"drained\" in status"));
        };
        out.push((vrid, state, drained));
    }
    Ok(out)
}

/// The problems of one host's `status` against the soak's records: every VRID present once,
/// drained exactly when the soak drained it, and no drained instance in MASTER.
pub fn check_status(host: &str, status: &Value, vrids: u8, drained: &BTreeSet<u8>) -> Vec<String> {
    let states = match instance_states(status) {
        Ok(states) => states,
        Err(problem) => return vec![format!("{host}: {problem}")],
    };
    let mut out = Vec::new();
    let seen: BTreeSet<u8> = states.iter().map(|(v, _, _)| *v).collect();
    if seen.len() != states.len() || seen != (1..=vrids).collect() {
        out.push(format!(
            "{host}: status lists {} instances, not VI_1..VI_{vrids} once each",
            states.len()
        ));
    }
    for (vrid, state, is_drained) in states {
        if is_drained != drained.contains(&vrid) {
            out.push(format!(
                "{host}: status says VI_{vrid} drained={is_drained}, the soak {} it",
                if drained.contains(&vrid) {
                    "drained"
                } else {
                    "did not drain"
                }
            ));
        }
        if is_drained && state == "MASTER" {
            out.push(format!("{host}: drained VI_{vrid} is MASTER (status)"));
        }
    }
    out
}

/// One drained instance, from the soak's side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drain {
    /// The host (index).
    pub host: usize,
    /// The VRID.
    pub vrid: u8,
    /// When the daemon answered the drain.
    pub since: Instant,
    /// The length of the host's log when the drain was answered: a `(VI_V) Entering MASTER
    /// STATE` line after it means the drained instance became MASTER.
    pub log_from: usize,
}

impl Drain {
    /// Whether the holder samples may hold it against the instance at `at`.
    pub fn settled(&self, at: Instant) -> bool {
        at >= self.since + DRAIN_GRACE
    }
}

/// Whether `log` (the whole log of the drained instance's daemon) says that VRID `vrid`
/// entered MASTER after byte `from`.
pub fn became_master_after(log: &str, from: usize, vrid: u8) -> bool {
    let needle = format!("({}) Entering MASTER STATE", instance_name(vrid));
    log.get(from..).is_some_and(|tail| tail.contains(&needle))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn drain_lines_are_the_protocol_s() {
        assert_eq!(
            drain_line(7, true),
            r#"{"command":"drain","instance":"VI_7"}"#
        );
        assert_eq!(
            drain_line(50, false),
            r#"{"command":"undrain","instance":"VI_50"}"#
        );
    }

    #[test]
    fn refusals_are_checked() {
        let refused = json!({"ok": false, "error": "unknown command \"explode\""});
        assert_eq!(check_refusal(&refused, "unknown command"), None);
        assert!(check_refusal(&refused, "instance").is_some());
        assert!(check_refusal(&json!({"ok": true, "result": {}}), "x").is_some());
        assert!(bad_requests().iter().all(|(_, word)| !word.is_empty()));
    }

    #[test]
    fn status_is_checked_against_the_drains() {
        let status = json!({"instances": [
            {"name": "VI_1", "state": "BACKUP", "drained": true},
            {"name": "VI_2", "state": "MASTER", "drained": false},
        ]});
        let drained: BTreeSet<u8> = [1].into_iter().collect();
        assert!(check_status("a", &status, 2, &drained).is_empty());
        let none = BTreeSet::new();
        let problems = check_status("a", &status, 2, &none);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("VI_1 drained=true"));
        let bad = json!({"instances": [
            {"name": "VI_1", "state": "MASTER", "drained": true},
        ]});
        let problems = check_status("b", &bad, 2, &drained);
        assert!(problems.iter().any(|p| p.contains("not VI_1..VI_2")));
        assert!(
            problems
                .iter()
                .any(|p| p.contains("drained VI_1 is MASTER"))
        );
        assert!(!check_status("c", &json!({}), 2, &drained).is_empty());
    }

    #[test]
    fn master_lines_after_the_drain_are_found() {
        let log = "(VI_1) Entering MASTER STATE\n(VI_1) drained by the operator\n";
        let from = log.find("(VI_1) drained").unwrap_or(0);
        assert!(!became_master_after(log, from, 1));
        let later = format!("{log}(VI_1) Entering MASTER STATE\n");
        assert!(became_master_after(&later, from, 1));
        assert!(!became_master_after(&later, from, 10));
        assert!(!became_master_after(&later, later.len() + 5, 1));
    }
}
