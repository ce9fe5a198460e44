//! The seed's story as a demo: `seed-demo` replays the article keepalived-rs grew from (a
//! dual-master MySQL pair moving a VIP) with real MariaDB servers, keepalived-rs started by its
//! init script, and a client reading `@@server_id` through the VIP, in network namespaces.
//! [`story`] is the scenario, shared with the end-to-end test.

pub mod story;
