//! On a kernel without IPVS (this project's build machines), opening the family fails with
//! ENOENT, the error keepalived 2.2.7 reports as `IPVS: Can't initialize ipvs: No such file or
//! directory`. With IPVS present, the table reads back.

use keepalived_ipvs::{Ipvs, IpvsError};

#[test]
fn open_reports_a_missing_family_or_reads_the_table() {
    let has_ipvs = std::path::Path::new("/proc/net/ip_vs").exists();
    match Ipvs::open() {
        Err(IpvsError::Unavailable(e)) => {
            assert!(
                !has_ipvs,
                "IPVS is loaded but the family did not resolve: {e}"
            );
            assert_eq!(e.raw_os_error(), Some(2), "{e}");
            assert_eq!(
                e.to_string().split(" (os").next(),
                Some("No such file or directory")
            );
        }
        Err(other) => panic!("unexpected error: {other}"),
        Ok(mut ipvs) => {
            assert!(has_ipvs || std::path::Path::new("/proc/net/ip_vs").exists());
            let info = ipvs.info().expect("GET_INFO");
            assert!(
                info.version >= 0x010200,
                "version {}",
                info.version_string()
            );
            // Only root may read the table.
            if nix_is_root() {
                ipvs.services().expect("GET_SERVICE dump");
            }
        }
    }
}

fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}
