//! Robustness of the configuration reader against hostile or unusual input: arbitrary text
//! must never panic, huge and deeply nested configurations must finish, include cycles and
//! unbalanced braces must be reported with a usable location.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use keepalived_config::{Diagnostic, FakeHost, LoadOptions, Loaded, load, load_str};
use proptest::prelude::*;

/// A name whose directory does not exist, so that relative `include`s match nothing.
const FAKE_NAME: &str = "/nonexistent/keepalived-rs-robustness/keepalived.conf";

fn load_text(text: &str) -> Loaded {
    let host = FakeHost::lab();
    load_str(text, Path::new(FAKE_NAME), &LoadOptions::for_host(&host))
}

/// Every diagnostic must be printable and, when it has a location, point at a real line.
fn check_diagnostics(loaded: &Loaded) {
    for diagnostic in &loaded.diagnostics {
        let shown = diagnostic.to_string();
        assert!(!shown.is_empty());
        if let Some(line) = diagnostic.line() {
            assert!(line >= 1, "line numbers are 1-based: {shown}");
        }
    }
    let code = loaded.exit_code();
    assert!(
        [0, 2, 4, 5, 6].contains(&code),
        "unexpected exit code {code}"
    );
}

/// Pieces that keepalived.conf is made of, including the awkward ones.
const PIECES: &[&str] = &[
    "vrrp_instance",
    "vrrp_script",
    "vrrp_sync_group",
    "global_defs",
    "virtual_server",
    "real_server",
    "virtual_ipaddress",
    "virtual_routes",
    "track_interface",
    "track_script",
    "authentication",
    "auth_type",
    "PASS",
    "auth_pass",
    "state",
    "MASTER",
    "BACKUP",
    "interface",
    "eth0",
    "eth1",
    "lo",
    "virtual_router_id",
    "priority",
    "advert_int",
    "nopreempt",
    "preempt_delay",
    "notify_master",
    "script",
    "group",
    "dev",
    "VI_1",
    "{",
    "}",
    "{}",
    "\"",
    "'",
    "\"a b\"",
    "#",
    "!",
    "\\",
    "$X=1",
    "$X=$X$X",
    "$Y={",
    "$EMPTY=",
    "${X}",
    "$X",
    "${",
    "$",
    "@testhost",
    "@^testhost",
    "@other",
    "@",
    "include",
    "include x.conf",
    "include *.conf",
    "include [",
    "0",
    "1",
    "100",
    "255",
    "256",
    "-1",
    "0.5",
    "18446744073709551616",
    "1e9",
    "192.0.2.1",
    "192.0.2.1/24",
    "198.51.100.7/33",
    "203.0.113.255",
    "2001:db8::1/64",
    "::",
    "/",
    "=",
    "\u{0}",
    "\u{feff}",
    "é",
    "\r",
    "\t",
];

fn piece() -> impl Strategy<Value = String> {
    prop::sample::select(PIECES).prop_map(str::to_string)
}

fn separator() -> impl Strategy<Value = &'static str> {
    prop::sample::select(&[" ", " ", " ", "\n", "\n", "", "\r\n", "\t"][..])
}

/// Text built from keepalived-ish pieces and separators.
fn keepalivedish() -> impl Strategy<Value = String> {
    prop::collection::vec((piece(), separator()), 0..160).prop_map(|parts| {
        let mut text = String::new();
        for (piece, sep) in parts {
            text.push_str(&piece);
            text.push_str(sep);
        }
        text
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,400}") {
        check_diagnostics(&load_text(&text));
    }

    #[test]
    fn arbitrary_lines_never_panic(lines in prop::collection::vec("[ -~\t]{0,60}", 0..40)) {
        check_diagnostics(&load_text(&lines.join("\n")));
    }

    #[test]
    fn keepalivedish_text_never_panics(text in keepalivedish()) {
        check_diagnostics(&load_text(&text));
    }

    #[test]
    fn brace_counts_are_reported(opens in 0usize..40, closes in 0usize..40) {
        let text = "a {\n".repeat(opens) + &"}\n".repeat(closes);
        let loaded = load_text(&text);
        check_diagnostics(&loaded);
        let brace_problem = loaded.diagnostics.iter().any(|d| {
            d.message.contains("missing '}'") || d.message.contains("Extra '}'")
        });
        prop_assert_eq!(brace_problem, opens != closes);
    }
}

/// A host with enough interfaces for `count` instances at 255 VRIDs per interface.
fn host_with_interfaces(count: usize) -> FakeHost {
    let mut host = FakeHost::lab();
    host.interfaces = (0..count).map(|i| format!("eth{i}")).collect();
    host.interfaces.insert("trk0".to_string());
    host
}

/// One valid vrrp_instance block: interfaces in turn take 255 VRIDs each.
fn instance_block(out: &mut String, index: usize) {
    let interface = index / 255;
    let vrid = index % 255 + 1;
    let net = ["192.0.2", "198.51.100", "203.0.113"][index % 3];
    let host_part = index % 250 + 1;
    let host_part2 = (index + 1) % 250 + 1;
    let priority = index % 254 + 1;
    let lines = [
        format!("vrrp_instance VI_{index} {{"),
        "    state BACKUP".to_string(),
        format!("    interface eth{interface}"),
        format!("    virtual_router_id {vrid}"),
        format!("    priority {priority}"),
        "    advert_int 1".to_string(),
        "    authentication {".to_string(),
        "        auth_type PASS".to_string(),
        format!("        auth_pass pw{vrid}"),
        "    }".to_string(),
        "    virtual_ipaddress {".to_string(),
        format!("        {net}.{host_part}/24"),
        format!("        {net}.{host_part2} dev eth{interface}"),
        "    }".to_string(),
        // Not the instance's own interface: keepalived ignores that one with a warning.
        "    track_interface {".to_string(),
        "        trk0".to_string(),
        "    }".to_string(),
        "}".to_string(),
    ];
    for line in lines {
        let _ = writeln!(out, "{line}");
    }
}

#[test]
fn ten_megabyte_config_completes() {
    let mut text = String::with_capacity(11 << 20);
    let mut count = 0;
    while text.len() < 10 << 20 {
        instance_block(&mut text, count);
        count += 1;
    }
    let host = host_with_interfaces(count / 255 + 1);
    let loaded = load_str(&text, Path::new(FAKE_NAME), &LoadOptions::for_host(&host));
    assert!(
        loaded.diagnostics.is_empty(),
        "{count} valid instances gave {:?}",
        first(&loaded.diagnostics)
    );
    assert_eq!(loaded.config.instances.len(), count);
    assert_eq!(loaded.exit_code(), 0);
}

#[test]
fn enormous_lines_complete() {
    // A 1 MB word, an unknown keyword of 64 KB (kept smaller because the "did you mean" hint
    // compares it with every known keyword), 2 MB of blocks on one line.
    let mut text = String::from("global_defs { router_id ");
    text.push_str(&"r".repeat(1 << 20));
    text.push_str(" }\n");
    text.push_str(&"x".repeat(1 << 16));
    text.push('\n');
    while text.len() < 3 << 20 {
        text.push_str("vrrp_instance V { priority 1 } ");
    }
    let loaded = load_text(&text);
    check_diagnostics(&loaded);
    assert!(
        loaded.diagnostics.iter().any(|d| d.line() == Some(2)),
        "the long keyword is reported"
    );
}

/// Runs `f` on a new thread with the default thread stack size (2 MiB), so a recursion that
/// depends on input depth overflows here rather than passing on the larger main stack.
fn on_default_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    match std::thread::Builder::new()
        .name("default-stack".into())
        .spawn(f)
    {
        Ok(handle) => match handle.join() {
            Ok(value) => value,
            Err(panic) => std::panic::resume_unwind(panic),
        },
        Err(err) => panic!("cannot spawn a thread: {err}"),
    }
}

/// The first few diagnostics, for assertion messages (a failing hostile input can produce
/// hundreds of thousands).
fn first(diagnostics: &[Diagnostic]) -> Vec<String> {
    diagnostics
        .iter()
        .take(5)
        .map(Diagnostic::to_string)
        .collect()
}

/// Opens `virtual_server` / `real_server` / `HTTP_GET`, then nests `host` blocks (a checker's
/// `host` opens another checker block, the only unbounded nesting in the grammar).
fn nested_hosts(depth: usize, separator: &str) -> String {
    let mut text = String::from("virtual_server 192.0.2.1 80 {");
    text.push_str(separator);
    text.push_str("real_server 192.0.2.2 80 {");
    text.push_str(separator);
    text.push_str("HTTP_GET {");
    text.push_str(separator);
    for _ in 0..depth {
        text.push_str("host {");
        text.push_str(separator);
    }
    text
}

#[test]
fn deep_nesting_is_reported_without_stack_overflow() {
    const DEPTH: usize = 100_000;
    let diagnostics = on_default_stack(|| load_text(&nested_hosts(DEPTH, "\n")).diagnostics);
    let nesting = diagnostics
        .iter()
        .find(|d| d.message.contains("nested deeper"));
    let nesting =
        nesting.unwrap_or_else(|| panic!("no nesting diagnostic: {:?}", first(&diagnostics)));
    let line = nesting
        .line()
        .unwrap_or_else(|| panic!("the nesting diagnostic has no line: {nesting}"));
    assert!((4..=DEPTH as u32 + 3).contains(&line), "{nesting}");
    let missing = diagnostics
        .iter()
        .find(|d| d.message.contains("missing '}'"));
    let missing = missing.unwrap_or_else(|| panic!("no missing-brace diagnostic"));
    assert!(
        missing.message.contains(&(DEPTH + 3).to_string()),
        "{missing}"
    );
}

#[test]
fn deep_nesting_on_one_line_and_closed_is_bounded() {
    const DEPTH: usize = 100_000;
    let diagnostics = on_default_stack(|| {
        let text = nested_hosts(DEPTH, " ") + &"} ".repeat(DEPTH + 3);
        load_text(&text).diagnostics
    });
    let nesting = diagnostics
        .iter()
        .find(|d| d.message.contains("nested deeper"));
    assert!(
        nesting.is_some_and(|d| d.line() == Some(1)),
        "{:?}",
        first(&diagnostics)
    );
    let missing = diagnostics
        .iter()
        .find(|d| d.message.contains("missing '}'"));
    assert!(missing.is_none(), "the braces balance: {missing:?}");
}

#[test]
fn unknown_keyword_braces_nest_nothing() {
    // keepalived ignores a '{' after an unknown keyword; 100,000 of them must neither nest
    // nor overflow, and each is reported on its own line.
    const DEPTH: usize = 100_000;
    let diagnostics = on_default_stack(|| load_text(&"a {\n".repeat(DEPTH)).diagnostics);
    let unexpected: Vec<&Diagnostic> = diagnostics
        .iter()
        .filter(|d| d.message.contains("Unexpected '{'"))
        .collect();
    assert_eq!(unexpected.len(), DEPTH, "{:?}", first(&diagnostics));
    assert_eq!(unexpected[DEPTH - 1].line(), Some(DEPTH as u32));
    let missing = diagnostics
        .iter()
        .find(|d| d.message.contains("missing '}'"));
    let missing = missing.unwrap_or_else(|| panic!("no missing-brace diagnostic"));
    assert!(missing.message.contains(&DEPTH.to_string()), "{missing}");
}

/// A directory under the temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!(
            "keepalived-rs-{tag}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        TempDir(dir)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn include_cycle_is_reported_with_file_and_line() {
    let dir = TempDir::new("include-cycle");
    let main = dir.write("main.conf", "# top\ninclude a.conf\n");
    dir.write("a.conf", "! a\n\ninclude b.conf\n");
    dir.write("b.conf", "global_defs {\n}\ninclude a.conf\n");
    let host = FakeHost::lab();
    let loaded = on_default_stack(move || load(&main, &LoadOptions::for_host(&host)));
    let cycle = loaded
        .diagnostics
        .iter()
        .find(|d| d.message.contains("cycle"));
    let cycle =
        cycle.unwrap_or_else(|| panic!("no cycle diagnostic: {:?}", first(&loaded.diagnostics)));
    let location = cycle
        .location
        .as_ref()
        .unwrap_or_else(|| panic!("no location: {cycle}"));
    assert!(
        location.path().ends_with("b.conf"),
        "reported in the including file: {cycle}"
    );
    assert_eq!(location.line, 3, "{cycle}");
    assert!(
        cycle.message.contains("a.conf"),
        "names the file read twice: {cycle}"
    );
    assert_ne!(loaded.exit_code(), 0);
}

#[test]
fn self_include_is_reported() {
    let dir = TempDir::new("self-include");
    let main = dir.write("main.conf", "include main.conf\ninclude *.conf\n");
    let host = FakeHost::lab();
    let loaded = on_default_stack(move || load(&main, &LoadOptions::for_host(&host)));
    let cycles: Vec<&Diagnostic> = loaded
        .diagnostics
        .iter()
        .filter(|d| d.message.contains("cycle"))
        .collect();
    assert_eq!(cycles.len(), 2, "{:?}", loaded.diagnostics);
    assert_eq!(cycles[0].line(), Some(1));
    assert_eq!(cycles[1].line(), Some(2));
}

#[test]
fn unbalanced_braces_are_reported() {
    let loaded = load_text("vrrp_instance VI_1 {\n    state MASTER\n");
    assert!(
        loaded
            .diagnostics
            .iter()
            .any(|d| d.message.contains("1 missing '}'")),
        "{:?}",
        loaded.diagnostics
    );
    assert_ne!(loaded.exit_code(), 0);

    let loaded = load_text("global_defs {\n}\n}\n");
    let extra = loaded
        .diagnostics
        .iter()
        .find(|d| d.message.contains("Extra '}'"));
    let extra = extra.unwrap_or_else(|| panic!("no extra-brace diagnostic"));
    assert_eq!(extra.line(), Some(3));
    assert_ne!(loaded.exit_code(), 0);
}

/// Each `$A=${A}${A}` line doubles the value, so a few hundred bytes ask for gigabytes (32
/// doublings once aborted the process on an allocation failure). Expansion is capped: the
/// line that would pass the cap is reported and ignored.
#[test]
fn parameter_expansion_is_bounded() {
    let text = "$A=xxxxxxxx\n".to_string()
        + &"$A=${A}${A}\n".repeat(32)
        + "global_defs {\n    router_id $A\n}\n";
    assert!(text.len() < 500);
    let loaded = load_text(&text);
    check_diagnostics(&loaded);
    let capped = loaded
        .diagnostics
        .iter()
        .find(|d| d.message.contains("longer than"));
    let capped = capped.unwrap_or_else(|| panic!("no expansion diagnostic"));
    assert!(capped.line().is_some(), "{capped}");
    let router_id = loaded
        .config
        .global
        .router_id
        .as_deref()
        .unwrap_or_default();
    assert!(
        router_id.len() <= 1 << 20,
        "a {}-byte config expanded to a {}-byte router_id",
        text.len(),
        router_id.len()
    );
}
