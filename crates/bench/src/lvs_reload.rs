//! The configuration of the checker's reload benchmark (issue 13): 2,000 virtual servers with
//! 37,000 real servers between them, and a second version of it where one real server's weight
//! changed. Both the lab benchmark (a real kernel's IPVS) and the native one (the reload's own
//! work, no kernel) read these files.

use std::fmt::Write as _;

/// Virtual servers of the reload benchmark.
pub const RELOAD_VS: u32 = 2_000;
/// Real servers of the reload benchmark, spread over the virtual servers.
pub const RELOAD_RS: u32 = 37_000;
/// The virtual server (index) and real server (last octet) whose weight the reload changes.
pub const CHANGED: (u32, u32) = (1_000, 10);

/// Address and port of virtual server `i`: 198.51.100.1-8, ports 1000-1249.
pub fn reload_vs(i: u32) -> (String, u32) {
    (format!("198.51.100.{}", i / 250 + 1), 1_000 + i % 250)
}

/// 2,000 virtual servers, 18 or 19 real servers each (37,000 in all, no checker: always up);
/// `changed` gives the one real server of [`CHANGED`] weight 2 instead of 1.
pub fn reload_config(changed: bool) -> String {
    let mut c = String::with_capacity(4 << 20);
    let per = RELOAD_RS / RELOAD_VS;
    let extra = RELOAD_RS % RELOAD_VS;
    for v in 0..RELOAD_VS {
        let (addr, port) = reload_vs(v);
        let _ = writeln!(
            c,
            "virtual_server {addr} {port} {{\n    lb_algo wrr\n    lb_kind DR\n    protocol TCP"
        );
        let count = per + u32::from(v < extra);
        for r in 1..=count {
            let weight = if changed && (v, r) == CHANGED { 2 } else { 1 };
            let _ = writeln!(
                c,
                "    real_server 203.0.113.{r} {port} {{\n        weight {weight}\n    }}"
            );
        }
        c.push_str("}\n");
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_two_files_differ_in_one_weight_of_the_changed_real_server() {
        let (a, b) = (reload_config(false), reload_config(true));
        assert_eq!(a.matches("real_server ").count(), RELOAD_RS as usize);
        assert_eq!(a.matches("virtual_server ").count(), RELOAD_VS as usize);
        let differing: Vec<(&str, &str)> =
            a.lines().zip(b.lines()).filter(|(x, y)| x != y).collect();
        assert_eq!(differing, vec![("        weight 1", "        weight 2")]);
        // The changed line belongs to the changed real server of the changed virtual server.
        let at = b.find("weight 2").expect("changed");
        let (addr, port) = reload_vs(CHANGED.0);
        let vs_at = b[..at]
            .rfind("virtual_server ")
            .expect("its virtual server");
        assert!(b[vs_at..].starts_with(&format!("virtual_server {addr} {port} {{")));
        let rs_at = b[..at].rfind("real_server ").expect("its real server");
        assert!(b[rs_at..].starts_with(&format!("real_server 203.0.113.{} {port}", CHANGED.1)));
    }
}
