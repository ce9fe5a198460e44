//! The control socket of a running daemon: [`protocol`] (line-delimited JSON, shared with
//! `keepalivedctl`) and [`server`] (the unix socket the VRRP child listens on).

pub mod protocol;
pub mod server;
