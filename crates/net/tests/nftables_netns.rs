//! `keepalived_net::nftables` against the kernel, in a throwaway network namespace (root only):
//! a table, a set and its elements made in one transaction and seen by `nft`; a failing
//! transaction reported and applied not at all; a table found and removed.

use std::fs::File;
use std::process::Command;

use keepalived_net::nftables::{Expr, Family, Hook, Msg, Nftables, PayloadBase, SetKey, Verdict};
use nix::sched::{CloneFlags, setns};

/// A network namespace named with the pid, removed on drop.
struct Netns(String);

impl Netns {
    fn new() -> Netns {
        let name = format!("kanft-{}", std::process::id());
        let ok = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "ip netns add {name}");
        Netns(name)
    }

    fn nft(&self, args: &[&str]) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.0, "nft"])
            .args(args)
            .output()
            .expect("run nft");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn ready() -> bool {
    if !nix::unistd::Uid::effective().is_root() {
        println!("skipped: needs root");
        return false;
    }
    let nft = Command::new("nft").arg("--version").output();
    if !nft.is_ok_and(|o| o.status.success()) {
        println!("skipped: needs nft");
        return false;
    }
    true
}

fn table(name: &str) -> Vec<Msg> {
    vec![
        Msg::NewTable {
            family: Family::Ipv4,
            table: name.into(),
        },
        Msg::NewChain {
            family: Family::Ipv4,
            table: name.into(),
            chain: "in".into(),
            hook: Some((Hook::Input, -1)),
        },
        Msg::NewSet {
            family: Family::Ipv4,
            table: name.into(),
            set: "vips".into(),
            key: SetKey::Ipv4Addr,
            constant: false,
            id: 1,
        },
        Msg::NewRule {
            family: Family::Ipv4,
            table: name.into(),
            chain: "in".into(),
            exprs: vec![
                Expr::Payload {
                    base: PayloadBase::Network,
                    offset: 16,
                    len: 4,
                    dreg: 1,
                },
                Expr::Lookup {
                    sreg: 1,
                    set: "vips".into(),
                },
                Expr::Verdict(Verdict::Drop),
            ],
        },
        Msg::NewElements {
            family: Family::Ipv4,
            table: name.into(),
            set: "vips".into(),
            set_id: None,
            keys: vec![vec![192, 0, 2, 9]],
        },
    ]
}

#[test]
fn transactions_apply_whole_or_not_at_all() {
    if !ready() {
        return;
    }
    let ns = Netns::new();
    let path = format!("/var/run/netns/{}", ns.0);
    let result = std::thread::spawn(move || {
        let f = File::open(path).expect("open netns");
        setns(f, CloneFlags::CLONE_NEWNET).expect("setns");
        let mut nft = Nftables::open().expect("open");
        assert!(!nft.table_exists(Family::Ipv4, "kt").expect("query"));
        nft.apply(&table("kt")).expect("apply");
        assert!(nft.table_exists(Family::Ipv4, "kt").expect("query"));
        // Removing an element that is not there fails, and the whole transaction with it:
        // the table made before it in the same batch is not made.
        let mut failing = table("other");
        failing.push(Msg::DelElements {
            family: Family::Ipv4,
            table: "kt".into(),
            set: "vips".into(),
            keys: vec![vec![192, 0, 2, 77]],
        });
        let err = nft.apply(&failing).expect_err("a missing element");
        assert_eq!(err.raw_os_error(), Some(2), "{err}");
        assert!(!nft.table_exists(Family::Ipv4, "other").expect("query"));
        nft.table_exists(Family::Ipv4, "kt").expect("query")
    })
    .join()
    .expect("thread");
    assert!(result);
    let listed = ns.nft(&["list", "ruleset"]);
    assert!(
        listed.contains("ip daddr @vips drop") && listed.contains("elements = { 192.0.2.9 }"),
        "{listed}"
    );
    let path = format!("/var/run/netns/{}", ns.0);
    std::thread::spawn(move || {
        let f = File::open(path).expect("open netns");
        setns(f, CloneFlags::CLONE_NEWNET).expect("setns");
        let mut nft = Nftables::open().expect("open");
        nft.apply(&[Msg::DelTable {
            family: Family::Ipv4,
            table: "kt".into(),
        }])
        .expect("delete");
    })
    .join()
    .expect("thread");
    assert_eq!(ns.nft(&["list", "ruleset"]).trim(), "");
}
