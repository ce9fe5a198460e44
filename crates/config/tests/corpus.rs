//! The fixture corpus: every `fixtures/configs/*.conf` and `fixtures/seed/*.conf` is read on a
//! described host (interfaces lo, eth0..eth3) and must give the exit code and the diagnostics
//! its `.expect` file lists (the format is in fixtures/README.md).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use keepalived_config::{FakeHost, LoadOptions, load};

/// One expected diagnostic: the file (relative to the fixture's directory), line and text.
#[derive(Debug)]
struct Expected {
    file: Option<String>,
    line: u32,
    text: String,
}

struct Expectation {
    exit: i32,
    diagnostics: Vec<Expected>,
    exit_differs: bool,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixtures() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in ["fixtures/configs", "fixtures/seed"] {
        let Ok(entries) = std::fs::read_dir(repo_root().join(dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "conf") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn parse_expect(path: &Path) -> Expectation {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: cannot read: {e}", path.display()));
    let mut exit = None;
    let mut diagnostics = Vec::new();
    let mut exit_differs = false;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(comment) = line.strip_prefix('#') {
            exit_differs |=
                comment.trim().starts_with("differs:") && comment.contains("missing file");
            continue;
        }
        if let Some(code) = line.strip_prefix("exit ") {
            exit = code.trim().parse().ok();
            continue;
        }
        let (place, message) = line.split_once(' ').unwrap_or((line, ""));
        let (file, number) = match place.rsplit_once(':') {
            Some((file, number)) => (Some(file.to_string()), number),
            None => (None, place),
        };
        let line_no = number
            .parse()
            .unwrap_or_else(|_| panic!("{}: bad line '{line}'", path.display()));
        diagnostics.push(Expected {
            file,
            line: line_no,
            text: message.trim().to_string(),
        });
    }
    Expectation {
        exit: exit.unwrap_or_else(|| panic!("{}: no 'exit N' line", path.display())),
        diagnostics,
        exit_differs,
    }
}

/// The words of a fixture's `# args: …` line.
fn args(text: &str) -> Vec<String> {
    let line = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("# args:"))
        .unwrap_or("");
    line.split_whitespace().map(str::to_string).collect()
}

/// The value that follows `flag` in `args`.
fn arg_value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    args.windows(2)
        .find(|w| w[0] == flag)
        .map(|w| w[1].as_str())
}

#[test]
fn every_fixture_gives_its_expected_exit_code_and_lines() {
    let host = FakeHost::lab();
    let mut failures = Vec::new();
    let all = fixtures();
    assert!(
        all.len() >= 40,
        "the corpus has only {} fixtures",
        all.len()
    );
    for fixture in &all {
        let expect = parse_expect(&fixture.with_extension("expect"));
        let text = std::fs::read_to_string(fixture).unwrap_or_default();
        let args = args(&text);
        let mut options = LoadOptions::for_host(&host);
        if let Some(id) = arg_value(&args, "-i") {
            options.config_id = id.to_string();
        }
        options.all_config = args.iter().any(|a| a == "-e");
        // A later -f wins, as on keepalived's command line.
        let path = arg_value(&args, "-f").map_or_else(|| fixture.clone(), PathBuf::from);
        let loaded = load(&path, &options);
        let name = fixture
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let ours: Vec<String> = loaded
            .diagnostics
            .iter()
            .filter(|d| d.shown_by_config_test())
            .map(ToString::to_string)
            .collect();

        if loaded.exit_code() != expect.exit {
            failures.push(format!(
                "{name}: exit {} (expected {})\n    {}",
                loaded.exit_code(),
                expect.exit,
                ours.join("\n    ")
            ));
        }
        let dir = fixture.parent().unwrap_or(Path::new("."));
        for want in &expect.diagnostics {
            let file = want
                .file
                .as_ref()
                .map_or_else(|| fixture.clone(), |f| dir.join(f));
            let found = loaded.diagnostics.iter().any(|d| {
                d.location.as_ref().is_some_and(|l| {
                    l.line == want.line
                        && same_file(l.path(), &file)
                        && d.message.to_lowercase().contains(&want.text.to_lowercase())
                })
            });
            if !found {
                failures.push(format!(
                    "{name}: no diagnostic at line {} containing '{}'\n    {}",
                    want.line,
                    want.text,
                    ours.join("\n    ")
                ));
            }
        }
        // Every line we report in the fixture itself must be one keepalived reports too.
        let expected_lines: BTreeSet<u32> = expect
            .diagnostics
            .iter()
            .filter(|d| d.file.is_none())
            .map(|d| d.line)
            .collect();
        let our_lines: BTreeSet<u32> = loaded
            .diagnostics
            .iter()
            .filter(|d| d.shown_by_config_test())
            .filter_map(|d| d.location.as_ref())
            .filter(|l| same_file(l.path(), fixture))
            .map(|l| l.line)
            .collect();
        if our_lines != expected_lines && !expect.exit_differs {
            failures.push(format!(
                "{name}: lines {our_lines:?}, expected {expected_lines:?}\n    {}",
                ours.join("\n    ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} problems:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

#[test]
fn seed_configs_load_with_their_instances() {
    let host = FakeHost::lab();
    for (file, name, priority) in [
        ("keepalived-A.conf", "VI_23", 100),
        ("keepalived-B.conf", "VI_22", 90),
    ] {
        let loaded = load(
            &repo_root().join("fixtures/seed").join(file),
            &LoadOptions::for_host(&host),
        );
        let inst = loaded
            .config
            .instances
            .first()
            .unwrap_or_else(|| panic!("{file}: no instance"));
        assert_eq!(inst.name, name);
        assert_eq!(inst.priority, priority);
        assert_eq!(inst.virtual_router_id, 23);
        assert!(inst.nopreempt);
        assert_eq!(inst.advert_int, 5.0);
        assert_eq!(inst.interface.as_deref(), Some("eth0"));
        assert_eq!(inst.virtual_ipaddresses.len(), 1);
        assert_eq!(
            inst.virtual_ipaddresses[0].address.to_string(),
            "192.168.91.100"
        );
        let auth = inst.authentication.as_ref().expect("authentication");
        assert_eq!(&*auth.password, b"1111");
        assert_eq!(loaded.config.scripts[0].interval, 60.0);
        assert_eq!(
            loaded.config.scripts[0]
                .command
                .as_ref()
                .map(|c| c.argv.len()),
            Some(5)
        );
    }
}

/// The VIPs 2.2.7 keeps of parser-vip-peer-and-flags.conf, with what each line's words made of
/// them: peers with the full prefix, refused peers leaving the address as it was, lines
/// without an option's value dropped, flags kept for the daemon.
#[test]
fn vip_peers_and_flags_are_read_as_keepalived() {
    let host = FakeHost::lab();
    let loaded = load(
        &repo_root().join("fixtures/corpus/parser-vip-peer-and-flags.conf"),
        &LoadOptions::for_host(&host),
    );
    let inst = loaded.config.instances.first().expect("instance");
    let vips: Vec<(String, u8, Option<String>)> = inst
        .virtual_ipaddresses
        .iter()
        .chain(&inst.excluded_ipaddresses)
        .map(|a| {
            (
                a.address.to_string(),
                a.prefix_len,
                a.peer.map(|p| p.to_string()),
            )
        })
        .collect();
    let peer = |a: &str, len: u8, p: Option<&str>| (a.to_string(), len, p.map(str::to_string));
    assert_eq!(
        vips,
        [
            peer("192.0.2.104", 32, Some("192.0.2.105")),
            peer("192.0.2.106", 32, None),
            peer("192.0.2.107", 32, None),
            peer("192.0.2.108", 32, Some("192.0.2.109")),
            peer("192.0.2.111", 24, None),
            peer("192.0.2.112", 32, None),
            peer("2001:db8::5", 128, Some("2001:db8::6")),
            peer("2001:db8::7", 64, None),
        ]
    );
    let flags = &inst.virtual_ipaddresses[4].other;
    assert_eq!(flags.as_slice(), ["noprefixroute", "no_track", "home"]);
}

/// What parser-track-list-options.conf's entries are once read: the ones kept, with the
/// weight and reverse 2.2.7 gives them.
#[test]
fn track_list_entries_keep_2_2_7_weights() {
    let host = FakeHost::lab();
    let loaded = load(
        &repo_root().join("fixtures/corpus/parser-track-list-options.conf"),
        &LoadOptions::for_host(&host),
    );
    let config = &loaded.config;
    let entries = |list: &[keepalived_config::model::TrackRef]| {
        list.iter()
            .map(|t| (t.name.to_string(), t.weight, t.reverse))
            .collect::<Vec<_>>()
    };
    let entry = |n: &str, w: Option<i32>, r: Option<bool>| (n.to_string(), w, r);
    let a = &config.instances[0];
    assert_eq!(
        entries(&a.track_interfaces),
        [
            entry("eth1", Some(3), None),
            entry("eth2", Some(0), None),
            entry("eth3", Some(253), Some(true)),
        ]
    );
    let b = &config.instances[1];
    // `chk weight 300 noreverse extra`: the script's own weight, noreverse read before the
    // word after it is refused.
    assert_eq!(entries(&b.track_scripts), [entry("chk", None, Some(false))]);
    // `tf weight 254 noreverse`: files take ±254.
    assert_eq!(
        entries(&b.track_files),
        [entry("tf", Some(254), Some(false))]
    );
    let c = &config.instances[2];
    assert_eq!(entries(&c.track_processes), [entry("tp", Some(3), None)]);
    assert_eq!(entries(&c.track_bfds), [entry("b", None, None)]);
}

/// `vrrp_min_garp` puts the announcement settings still at their defaults to one gratuitous
/// ARP and no second burst; one set before it is kept, one set after it wins (2.2.7).
#[test]
fn vrrp_min_garp_sets_only_the_defaults_left() {
    let host = FakeHost::lab();
    let global = |defs: &str| {
        let text = format!("global_defs {{\n{defs}\n}}\n");
        keepalived_config::load_str(&text, Path::new("t.conf"), &LoadOptions::for_host(&host))
            .config
            .global
    };
    let g = global("vrrp_min_garp");
    assert_eq!(
        (
            g.vrrp_garp_master_repeat,
            g.vrrp_garp_master_delay,
            g.vrrp_garp_master_refresh_repeat
        ),
        (1, 0, 0)
    );
    let g = global("vrrp_garp_master_repeat 3\nvrrp_min_garp\nvrrp_garp_master_delay 7");
    assert_eq!(
        (g.vrrp_garp_master_repeat, g.vrrp_garp_master_delay),
        (3, 7)
    );
    let g = global("vrrp_min_garp false");
    assert_eq!(g.vrrp_garp_master_repeat, 5);
}

/// `brd +` / `brd -` give the prefix's last / first address, a scope given by number is kept
/// (the named ones by name), as `ip address` and 2.2.7 add them (checked with `ip address
/// show` beside 2.2.7).
#[test]
fn vip_broadcast_signs_and_numeric_scopes_are_resolved() {
    use keepalived_config::model::Scope;
    let host = FakeHost::lab();
    let text = "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n\
                192.0.2.104/24 brd +\n198.51.100.5/25 brd -\n203.0.113.7/24 scope 253\n\
                203.0.113.8/24 scope 100\n }\n}\n";
    let loaded =
        keepalived_config::load_str(text, Path::new("t.conf"), &LoadOptions::for_host(&host));
    let vips = &loaded.config.instances[0].virtual_ipaddresses;
    let brd: Vec<Option<String>> = vips
        .iter()
        .map(|a| a.broadcast.map(|b| b.to_string()))
        .collect();
    assert_eq!(
        brd,
        [
            Some("192.0.2.255".to_string()),
            Some("198.51.100.0".to_string()),
            None,
            None
        ]
    );
    assert_eq!(vips[2].scope, Some(Scope::Link));
    assert_eq!(vips[3].scope, Some(Scope::Number(100)));
    assert!(vips.iter().all(|a| a.other.is_empty()), "{vips:?}");
}

/// A virtual server's `weight` is the weight of its real servers that give none (2.2.7's
/// default of a real server's weight).
#[test]
fn a_virtual_servers_weight_is_its_real_servers_default() {
    let host = FakeHost::lab();
    let text = "virtual_server 192.0.2.5 80 {\n protocol TCP\n real_server 192.0.2.6 80 {\n \
                weight 2\n }\n real_server 192.0.2.7 80 {\n }\n weight 3\n}\n\
                virtual_server 192.0.2.8 80 {\n protocol TCP\n real_server 192.0.2.6 80 {\n }\n}\n";
    let loaded =
        keepalived_config::load_str(text, Path::new("t.conf"), &LoadOptions::for_host(&host));
    let weights: Vec<Vec<i32>> = loaded
        .config
        .virtual_servers
        .iter()
        .map(|vs| vs.real_servers.iter().map(|rs| rs.weight).collect())
        .collect();
    assert_eq!(weights, [vec![2, 3], vec![1]]);
}
