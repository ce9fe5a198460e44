//! Which keywords open a `{ … }` block, and what kind of block. keepalived decides whether a
//! `{` opens a block from the keyword before it: after an unknown keyword the `{` is ignored
//! ("Unexpected '{' - ignoring") and the next `}` closes the enclosing block. The tree builder
//! follows the same rule, so brace problems land on the same lines as keepalived's.

/// The kinds of block in keepalived.conf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    /// The top level of the file.
    Top,
    /// `global_defs`.
    GlobalDefs,
    /// `vrrp_script NAME`.
    Script,
    /// `vrrp_instance NAME`.
    Instance,
    /// `authentication` inside an instance.
    Authentication,
    /// `vrrp_sync_group NAME`.
    SyncGroup,
    /// `vrrp_track_file NAME`.
    TrackFile,
    /// `vrrp_track_process NAME`.
    TrackProcess,
    /// `bfd_instance NAME`.
    Bfd,
    /// `garp_group`.
    GarpGroup,
    /// `track_group NAME`: vrrp instances tracking static addresses, routes and rules.
    TrackGroup,
    /// `virtual_server …`.
    VirtualServer,
    /// `real_server ADDR PORT`.
    RealServer,
    /// A health check (`TCP_CHECK`, `HTTP_GET`, …).
    Checker,
    /// `url` inside HTTP_GET / SSL_GET.
    Url,
    /// A list of data lines (`virtual_ipaddress`, `track_script`, `unicast_peer`, …).
    List,
}

/// The block that `keyword` opens inside a block of kind `parent`, if it opens one.
pub fn child_block(parent: BlockKind, keyword: &str) -> Option<BlockKind> {
    use BlockKind::*;
    Some(match (parent, keyword) {
        (Top, "global_defs") => GlobalDefs,
        (Top, "vrrp_script") => Script,
        (Top, "vrrp_instance") => Instance,
        (Top, "vrrp_sync_group") => SyncGroup,
        (Top, "vrrp_track_file" | "track_file") => TrackFile,
        (Top, "vrrp_track_process") => TrackProcess,
        (Top, "bfd_instance") => Bfd,
        (Top, "garp_group") => GarpGroup,
        (Top, "track_group") => TrackGroup,
        (Top, "virtual_server") => VirtualServer,
        (
            Top,
            "static_ipaddress"
            | "static_routes"
            | "static_rules"
            | "virtual_server_group"
            | "linkbeat_interfaces"
            | "SSL",
        ) => List,
        (GlobalDefs, "notification_email") => List,
        (Instance, "authentication") => Authentication,
        (
            Instance,
            "virtual_ipaddress"
            | "virtual_ipaddress_excluded"
            | "virtual_routes"
            | "virtual_rules"
            | "track_interface"
            | "track_script"
            | "track_file"
            | "track_process"
            | "track_bfd"
            | "unicast_peer",
        ) => List,
        (
            SyncGroup,
            "group" | "track_interface" | "track_script" | "track_file" | "track_process"
            | "track_bfd",
        ) => List,
        (GarpGroup, "interfaces") => List,
        (TrackGroup, "group") => List,
        (VirtualServer, "real_server") => RealServer,
        (
            RealServer,
            "TCP_CHECK" | "HTTP_GET" | "SSL_GET" | "MISC_CHECK" | "SMTP_CHECK" | "DNS_CHECK"
            | "UDP_CHECK" | "PING_CHECK" | "FILE_CHECK" | "BFD_CHECK",
        ) => Checker,
        (Checker, "url") => Url,
        (Checker, "host") => Checker,
        _ => return None,
    })
}
