//! nf_tables over netlink (NETLINK_NETFILTER, subsystem NFNL_SUBSYS_NFTABLES): tables, base
//! and regular chains, sets and their elements, and rules made of the few expressions the
//! VRRP firewall needs (payload, cmp, bitwise, meta, lookup, counter, verdict).
//!
//! What to send is described as plain data ([`Msg`], [`Expr`]); [`encode_batch`] turns a list
//! of messages into one nfnetlink transaction (`NFNL_MSG_BATCH_BEGIN` … `NFNL_MSG_BATCH_END`),
//! which the kernel applies whole or not at all, and [`Nftables`] sends it and reads the
//! acknowledgements. The attribute numbers are those of the kernel's
//! `include/uapi/linux/netfilter/nf_tables.h`; every integer attribute is big-endian, as the
//! kernel expects.
//!
//! No crate on crates.io fits: the pure-Rust `rustables` is GPL-3.0 (this project is MIT), and
//! `nftnl` binds the C libnftnl. The messages are few and small, so they are built here.

use std::io;
use std::os::fd::OwnedFd;
use std::time::Duration;

use rustix::net::netlink::SocketAddrNetlink;
use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketType, netlink};

/// `NFNL_SUBSYS_NFTABLES`.
const SUBSYS_NFTABLES: u16 = 10;
/// `NFNL_MSG_BATCH_BEGIN` / `NFNL_MSG_BATCH_END`.
const MSG_BATCH_BEGIN: u16 = 16;
const MSG_BATCH_END: u16 = 17;
/// `NFT_MSG_*`.
const NEWTABLE: u16 = 0;
const GETTABLE: u16 = 1;
const DELTABLE: u16 = 2;
const NEWCHAIN: u16 = 3;
const NEWRULE: u16 = 6;
const NEWSET: u16 = 9;
const NEWSETELEM: u16 = 12;
const DELSETELEM: u16 = 14;
/// Netlink flags.
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_CREATE: u16 = 0x400;
const NLM_F_APPEND: u16 = 0x800;
/// `NLMSG_ERROR`.
const NLMSG_ERROR: u16 = 2;
/// `NLA_F_NESTED`.
const NESTED: u16 = 0x8000;
/// `NFTA_LIST_ELEM`.
const LIST_ELEM: u16 = 1;
/// `NFTA_DATA_VALUE` / `NFTA_DATA_VERDICT`.
const DATA_VALUE: u16 = 1;
const DATA_VERDICT: u16 = 2;

/// The address family of a table (`NFPROTO_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// `ip` (NFPROTO_IPV4).
    Ipv4,
    /// `ip6` (NFPROTO_IPV6).
    Ipv6,
}

impl Family {
    fn number(self) -> u8 {
        match self {
            Family::Ipv4 => 2,
            Family::Ipv6 => 10,
        }
    }
}

/// The netfilter hook of a base chain (`NF_INET_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    /// `input` (NF_INET_LOCAL_IN).
    Input,
    /// `output` (NF_INET_LOCAL_OUT).
    Output,
}

impl Hook {
    fn number(self) -> u32 {
        match self {
            Hook::Input => 1,
            Hook::Output => 3,
        }
    }
}

/// Where a payload expression reads (`NFT_PAYLOAD_*_HEADER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadBase {
    /// The network header (IPv4 or IPv6).
    Network,
    /// The transport header (here ICMPv6).
    Transport,
}

/// What a meta expression loads (`NFT_META_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaKey {
    /// The input interface's index (`iif`).
    Iif,
    /// The output interface's index (`oif`).
    Oif,
    /// The transport protocol (`meta l4proto`).
    L4proto,
    /// The output interface's kind (`oifkind`, e.g. `macvlan`).
    OifKind,
}

/// What a rule ends with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// `accept` (NF_ACCEPT).
    Accept,
    /// `drop` (NF_DROP).
    Drop,
    /// `goto CHAIN` (NFT_GOTO).
    Goto(String),
}

/// One expression of a rule. Registers are the kernel's 16-byte ones (`NFT_REG_1` …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// Load `len` bytes at `offset` of the `base` header into register `dreg`.
    Payload {
        /// Which header.
        base: PayloadBase,
        /// Byte offset in it.
        offset: u32,
        /// How many bytes.
        len: u32,
        /// Destination register.
        dreg: u32,
    },
    /// Go on only if register `sreg` equals `data` (`NFT_CMP_EQ`).
    CmpEq {
        /// Source register.
        sreg: u32,
        /// The value compared with.
        data: Vec<u8>,
    },
    /// `reg = (reg & mask) ^ xor` over `mask.len()` bytes.
    Bitwise {
        /// Source and destination register.
        reg: u32,
        /// The mask.
        mask: Vec<u8>,
        /// The value xored after the mask.
        xor: Vec<u8>,
    },
    /// Load an interface index into register `dreg`.
    Meta {
        /// What is loaded.
        key: MetaKey,
        /// Destination register.
        dreg: u32,
    },
    /// Go on only if the key starting at register `sreg` is in the named set.
    Lookup {
        /// Source register.
        sreg: u32,
        /// The set's name.
        set: String,
    },
    /// Look the key at register `sreg` up in the named map, its value into `dreg`.
    MapLookup {
        /// Source register.
        sreg: u32,
        /// The map's name.
        set: String,
        /// Destination register.
        dreg: u32,
    },
    /// Send a copy of the packet to the address in `sreg_addr` through the interface whose
    /// index is in `sreg_dev`.
    Dup {
        /// The register holding the address.
        sreg_addr: u32,
        /// The register holding the interface index.
        sreg_dev: u32,
    },
    /// Count packets and bytes.
    Counter,
    /// The verdict.
    Verdict(Verdict),
}

/// A set's key type: nft's own type numbers (`TYPE_*` of nftables' datatype.h), which `nft
/// list` uses to print the set (`type ipv4_addr`), and the key's length in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetKey {
    /// `ipv4_addr` (type 7, 4 bytes).
    Ipv4Addr,
    /// `ipv6_addr` (type 8, 16 bytes).
    Ipv6Addr,
    /// `icmpv6_type` (type 29, 1 byte).
    Icmpv6Type,
    /// `ipv6_addr . iface_index` (8 << 6 | 20, 16 + 4 bytes).
    Ipv6AddrIfindex,
    /// `iface_index` (type 20, 4 bytes).
    Ifindex,
}

impl SetKey {
    fn type_and_len(self) -> (u32, u32) {
        match self {
            SetKey::Ipv4Addr => (7, 4),
            SetKey::Ipv6Addr => (8, 16),
            SetKey::Icmpv6Type => (29, 1),
            SetKey::Ipv6AddrIfindex => ((8 << 6) | 20, 20),
            SetKey::Ifindex => (20, 4),
        }
    }

    /// The key's byte order as nft records it in the set's user data
    /// (`NFTNL_UDATA_SET_KEYBYTEORDER`: 1 host, 2 big-endian).
    fn byte_order(self) -> u32 {
        match self {
            SetKey::Ipv4Addr | SetKey::Ipv6Addr => 2,
            SetKey::Icmpv6Type | SetKey::Ipv6AddrIfindex | SetKey::Ifindex => 1,
        }
    }
}

/// One nf_tables request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Msg {
    /// Make a table (no error if it exists).
    NewTable {
        /// Its family.
        family: Family,
        /// Its name.
        table: String,
    },
    /// Remove a table with everything in it.
    DelTable {
        /// Its family.
        family: Family,
        /// Its name.
        table: String,
    },
    /// Make a chain; a base chain when `hook` is given (type filter, policy accept).
    NewChain {
        /// The table's family.
        family: Family,
        /// The table.
        table: String,
        /// The chain's name.
        chain: String,
        /// The hook and the priority of a base chain.
        hook: Option<(Hook, i32)>,
    },
    /// Make a set.
    NewSet {
        /// The table's family.
        family: Family,
        /// The table.
        table: String,
        /// The set's name.
        set: String,
        /// Its key.
        key: SetKey,
        /// `flags constant` (NFT_SET_CONSTANT): its elements come with it, in the same batch.
        constant: bool,
        /// Its id in the batch, by which elements of the same batch find it.
        id: u32,
    },
    /// Make a map from `key` to `data` values (NFT_SET_MAP).
    NewMap {
        /// The table's family.
        family: Family,
        /// The table.
        table: String,
        /// The map's name.
        set: String,
        /// Its key.
        key: SetKey,
        /// Its values' type.
        data: SetKey,
        /// Its id in the batch.
        id: u32,
    },
    /// Add entries (key and value bytes) to a map.
    NewMapEntries {
        /// The table's family.
        family: Family,
        /// The table.
        table: String,
        /// The map's name.
        set: String,
        /// The map's id when it is made in the same batch.
        set_id: Option<u32>,
        /// The entries.
        entries: Vec<(Vec<u8>, Vec<u8>)>,
    },
    /// Add elements (keys as their bytes) to a set; no error for one already there.
    NewElements {
        /// The table's family.
        family: Family,
        /// The table.
        table: String,
        /// The set's name.
        set: String,
        /// The set's id when it is made in the same batch.
        set_id: Option<u32>,
        /// The keys.
        keys: Vec<Vec<u8>>,
    },
    /// Remove elements from a set.
    DelElements {
        /// The table's family.
        family: Family,
        /// The table.
        table: String,
        /// The set's name.
        set: String,
        /// The keys.
        keys: Vec<Vec<u8>>,
    },
    /// Append a rule to a chain.
    NewRule {
        /// The table's family.
        family: Family,
        /// The table.
        table: String,
        /// The chain.
        chain: String,
        /// Its expressions, in order.
        exprs: Vec<Expr>,
    },
}

/// Netlink attributes being written into a buffer.
struct Attrs<'a>(&'a mut Vec<u8>);

impl Attrs<'_> {
    fn raw(&mut self, kind: u16, data: &[u8]) {
        let len = 4 + data.len();
        self.0.extend_from_slice(&(len as u16).to_ne_bytes());
        self.0.extend_from_slice(&kind.to_ne_bytes());
        self.0.extend_from_slice(data);
        pad(self.0);
    }

    fn string(&mut self, kind: u16, s: &str) {
        let mut data = s.as_bytes().to_vec();
        data.push(0);
        self.raw(kind, &data);
    }

    fn u32(&mut self, kind: u16, value: u32) {
        self.raw(kind, &value.to_be_bytes());
    }

    fn nested(&mut self, kind: u16, body: impl FnOnce(&mut Attrs<'_>)) {
        let start = self.0.len();
        self.0.extend_from_slice(&[0, 0]);
        self.0.extend_from_slice(&(kind | NESTED).to_ne_bytes());
        body(&mut Attrs(self.0));
        let len = (self.0.len() - start) as u16;
        self.0[start..start + 2].copy_from_slice(&len.to_ne_bytes());
    }

    fn value(&mut self, kind: u16, data: &[u8]) {
        self.nested(kind, |a| a.raw(DATA_VALUE, data));
    }
}

fn pad(buf: &mut Vec<u8>) {
    while !buf.len().is_multiple_of(4) {
        buf.push(0);
    }
}

/// Appends one netlink message (header, nfgenmsg, attributes) to `buf`.
fn message(
    buf: &mut Vec<u8>,
    kind: u16,
    flags: u16,
    seq: u32,
    family: u8,
    res_id: u16,
    body: impl FnOnce(&mut Attrs<'_>),
) {
    let start = buf.len();
    buf.extend_from_slice(&[0; 4]);
    buf.extend_from_slice(&kind.to_ne_bytes());
    buf.extend_from_slice(&flags.to_ne_bytes());
    buf.extend_from_slice(&seq.to_ne_bytes());
    buf.extend_from_slice(&0u32.to_ne_bytes());
    buf.push(family);
    buf.push(0); // NFNETLINK_V0
    buf.extend_from_slice(&res_id.to_be_bytes());
    body(&mut Attrs(buf));
    let len = (buf.len() - start) as u32;
    buf[start..start + 4].copy_from_slice(&len.to_ne_bytes());
}

fn expr(a: &mut Attrs<'_>, e: &Expr) {
    let name = match e {
        Expr::Payload { .. } => "payload",
        Expr::CmpEq { .. } => "cmp",
        Expr::Bitwise { .. } => "bitwise",
        Expr::Meta { .. } => "meta",
        Expr::Lookup { .. } | Expr::MapLookup { .. } => "lookup",
        Expr::Dup { .. } => "dup",
        Expr::Counter => "counter",
        Expr::Verdict(_) => "immediate",
    };
    a.nested(LIST_ELEM, |a| {
        a.string(1, name); // NFTA_EXPR_NAME
        a.nested(2, |a| match e {
            // NFTA_EXPR_DATA
            Expr::Payload {
                base,
                offset,
                len,
                dreg,
            } => {
                a.u32(1, *dreg);
                a.u32(
                    2,
                    match base {
                        PayloadBase::Network => 1,
                        PayloadBase::Transport => 2,
                    },
                );
                a.u32(3, *offset);
                a.u32(4, *len);
            }
            Expr::CmpEq { sreg, data } => {
                a.u32(1, *sreg);
                a.u32(2, 0); // NFT_CMP_EQ
                a.value(3, data);
            }
            Expr::Bitwise { reg, mask, xor } => {
                a.u32(1, *reg);
                a.u32(2, *reg);
                a.u32(3, mask.len() as u32);
                a.value(4, mask);
                a.value(5, xor);
            }
            Expr::Meta { key, dreg } => {
                a.u32(
                    2,
                    match key {
                        MetaKey::Iif => 4,
                        MetaKey::Oif => 5,
                        MetaKey::L4proto => 16,
                        MetaKey::OifKind => 27,
                    },
                );
                a.u32(1, *dreg);
            }
            Expr::Lookup { sreg, set } => {
                a.u32(2, *sreg);
                a.string(1, set);
            }
            Expr::MapLookup { sreg, set, dreg } => {
                a.u32(2, *sreg);
                a.string(1, set);
                a.u32(3, *dreg);
            }
            Expr::Dup {
                sreg_addr,
                sreg_dev,
            } => {
                a.u32(1, *sreg_addr);
                a.u32(2, *sreg_dev);
            }
            Expr::Counter => {}
            Expr::Verdict(v) => {
                a.u32(1, 0); // NFT_REG_VERDICT
                a.nested(2, |a| {
                    a.nested(DATA_VERDICT, |a| match v {
                        Verdict::Accept => a.u32(1, 1),
                        Verdict::Drop => a.u32(1, 0),
                        Verdict::Goto(chain) => {
                            a.u32(1, (-4i32) as u32); // NFT_GOTO
                            a.string(2, chain);
                        }
                    });
                });
            }
        });
    });
}

fn elements(a: &mut Attrs<'_>, keys: &[Vec<u8>]) {
    a.nested(3, |a| {
        // NFTA_SET_ELEM_LIST_ELEMENTS
        for key in keys {
            a.nested(LIST_ELEM, |a| a.value(1, key)); // NFTA_SET_ELEM_KEY
        }
    });
}

fn encode_one(buf: &mut Vec<u8>, seq: u32, msg: &Msg) {
    let kind = |t: u16| (SUBSYS_NFTABLES << 8) | t;
    let req = NLM_F_REQUEST | NLM_F_ACK;
    match msg {
        Msg::NewTable { family, table } => {
            message(
                buf,
                kind(NEWTABLE),
                req | NLM_F_CREATE,
                seq,
                family.number(),
                0,
                |a| a.string(1, table),
            );
        }
        Msg::DelTable { family, table } => {
            message(buf, kind(DELTABLE), req, seq, family.number(), 0, |a| {
                a.string(1, table)
            });
        }
        Msg::NewChain {
            family,
            table,
            chain,
            hook,
        } => message(
            buf,
            kind(NEWCHAIN),
            req | NLM_F_CREATE,
            seq,
            family.number(),
            0,
            |a| {
                a.string(1, table);
                a.string(3, chain);
                if let Some((hook, priority)) = hook {
                    a.nested(4, |a| {
                        a.u32(1, hook.number());
                        a.u32(2, *priority as u32);
                    });
                    a.u32(5, 1); // NFTA_CHAIN_POLICY: NF_ACCEPT
                    a.string(7, "filter");
                }
            },
        ),
        Msg::NewSet {
            family,
            table,
            set,
            key,
            constant,
            id,
        } => message(
            buf,
            kind(NEWSET),
            req | NLM_F_CREATE,
            seq,
            family.number(),
            0,
            |a| {
                let (key_type, key_len) = key.type_and_len();
                a.string(1, table);
                a.string(2, set);
                if *constant {
                    a.u32(3, 0x2); // NFT_SET_CONSTANT
                }
                a.u32(4, key_type);
                a.u32(5, key_len);
                a.u32(0xa, *id);
                // NFTA_SET_USERDATA: one TLV, NFTNL_UDATA_SET_KEYBYTEORDER (type 0, 4 bytes).
                let mut udata = vec![0u8, 4];
                udata.extend_from_slice(&key.byte_order().to_ne_bytes());
                a.raw(0xd, &udata);
            },
        ),
        Msg::NewMap {
            family,
            table,
            set,
            key,
            data,
            id,
        } => message(
            buf,
            kind(NEWSET),
            req | NLM_F_CREATE,
            seq,
            family.number(),
            0,
            |a| {
                let (key_type, key_len) = key.type_and_len();
                let (data_type, data_len) = data.type_and_len();
                a.string(1, table);
                a.string(2, set);
                a.u32(3, 0x8); // NFT_SET_MAP
                a.u32(4, key_type);
                a.u32(5, key_len);
                a.u32(6, data_type);
                a.u32(7, data_len);
                a.u32(0xa, *id);
                // NFTNL_UDATA_SET_KEYBYTEORDER and _DATABYTEORDER.
                let mut udata = vec![0u8, 4];
                udata.extend_from_slice(&key.byte_order().to_ne_bytes());
                udata.extend_from_slice(&[1, 4]);
                udata.extend_from_slice(&data.byte_order().to_ne_bytes());
                a.raw(0xd, &udata);
            },
        ),
        Msg::NewMapEntries {
            family,
            table,
            set,
            set_id,
            entries,
        } => message(
            buf,
            kind(NEWSETELEM),
            req | NLM_F_CREATE,
            seq,
            family.number(),
            0,
            |a| {
                a.string(2, set);
                if let Some(id) = set_id {
                    a.u32(4, *id);
                }
                a.string(1, table);
                a.nested(3, |a| {
                    for (key, value) in entries {
                        a.nested(LIST_ELEM, |a| {
                            a.value(1, key); // NFTA_SET_ELEM_KEY
                            a.value(2, value); // NFTA_SET_ELEM_DATA
                        });
                    }
                });
            },
        ),
        Msg::NewElements {
            family,
            table,
            set,
            set_id,
            keys,
        } => message(
            buf,
            kind(NEWSETELEM),
            req | NLM_F_CREATE,
            seq,
            family.number(),
            0,
            |a| {
                a.string(2, set);
                if let Some(id) = set_id {
                    a.u32(4, *id);
                }
                a.string(1, table);
                elements(a, keys);
            },
        ),
        Msg::DelElements {
            family,
            table,
            set,
            keys,
        } => message(buf, kind(DELSETELEM), req, seq, family.number(), 0, |a| {
            a.string(2, set);
            a.string(1, table);
            elements(a, keys);
        }),
        Msg::NewRule {
            family,
            table,
            chain,
            exprs,
        } => message(
            buf,
            kind(NEWRULE),
            req | NLM_F_CREATE | NLM_F_APPEND,
            seq,
            family.number(),
            0,
            |a| {
                a.string(1, table);
                a.string(2, chain);
                a.nested(4, |a| {
                    for e in exprs {
                        expr(a, e);
                    }
                });
            },
        ),
    }
}

/// `msgs` as one nfnetlink transaction whose messages are numbered from `seq`: the bytes, and
/// the sequence numbers of the first and last message that asks for an acknowledgement.
pub fn encode_batch(msgs: &[Msg], seq: u32) -> (Vec<u8>, u32, u32) {
    let mut buf = Vec::new();
    message(
        &mut buf,
        MSG_BATCH_BEGIN,
        NLM_F_REQUEST,
        seq,
        0,
        SUBSYS_NFTABLES,
        |_| {},
    );
    let mut n = seq;
    for msg in msgs {
        n = n.wrapping_add(1);
        encode_one(&mut buf, n, msg);
    }
    message(
        &mut buf,
        MSG_BATCH_END,
        NLM_F_REQUEST,
        n.wrapping_add(1),
        0,
        SUBSYS_NFTABLES,
        |_| {},
    );
    (buf, seq.wrapping_add(1), n)
}

/// An nf_tables netlink socket in the network namespace it was opened in. It blocks: the
/// kernel answers a transaction at once (well under a millisecond for the firewall's), and a
/// silent kernel is given up after two seconds.
#[derive(Debug)]
pub struct Nftables {
    fd: OwnedFd,
    seq: u32,
}

/// How long an answer from the kernel may take.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(2);

impl Nftables {
    /// Opens the socket.
    pub fn open() -> io::Result<Nftables> {
        let fd = rustix::net::socket(
            AddressFamily::NETLINK,
            SocketType::RAW,
            Some(netlink::NETFILTER),
        )?;
        rustix::net::bind(&fd, &SocketAddrNetlink::new(0, 0))?;
        rustix::net::sockopt::set_socket_timeout(
            &fd,
            rustix::net::sockopt::Timeout::Recv,
            Some(ANSWER_TIMEOUT),
        )?;
        let seq = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_secs() as u32);
        Ok(Nftables { fd, seq })
    }

    /// Applies `msgs` as one transaction: all of them or, on the first error, none.
    pub fn apply(&mut self, msgs: &[Msg]) -> io::Result<()> {
        if msgs.is_empty() {
            return Ok(());
        }
        let (bytes, first, last) = encode_batch(msgs, self.seq);
        self.seq = last.wrapping_add(2);
        self.send(&bytes)?;
        self.acks(first, last)
    }

    /// Whether table `table` of `family` exists.
    pub fn table_exists(&mut self, family: Family, table: &str) -> io::Result<bool> {
        let seq = self.seq;
        self.seq = seq.wrapping_add(1);
        let mut buf = Vec::new();
        message(
            &mut buf,
            (SUBSYS_NFTABLES << 8) | GETTABLE,
            NLM_F_REQUEST | NLM_F_ACK,
            seq,
            family.number(),
            0,
            |a| a.string(1, table),
        );
        self.send(&buf)?;
        match self.acks(seq, seq) {
            Ok(_) => Ok(true),
            Err(e) if e.raw_os_error() == Some(libc_enoent()) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn send(&self, bytes: &[u8]) -> io::Result<()> {
        let sent = rustix::net::sendto(
            &self.fd,
            bytes,
            SendFlags::empty(),
            &SocketAddrNetlink::new(0, 0),
        )?;
        if sent != bytes.len() {
            return Err(io::Error::other("netlink message sent in part"));
        }
        Ok(())
    }

    /// Reads answers until the acknowledgement of `last`, or the first error of a message in
    /// `first..=last` (the kernel then drops the whole transaction).
    fn acks(&self, first: u32, last: u32) -> io::Result<()> {
        let timed_out = || io::Error::new(io::ErrorKind::TimedOut, "no answer from nf_tables");
        let deadline = std::time::Instant::now() + ANSWER_TIMEOUT;
        let mut buf = vec![0u8; 65536];
        loop {
            if std::time::Instant::now() >= deadline {
                return Err(timed_out());
            }
            let (n, _) = match rustix::net::recv(&self.fd, &mut buf[..], RecvFlags::empty()) {
                Ok(r) => r,
                Err(e) if e == rustix::io::Errno::AGAIN => return Err(timed_out()),
                Err(e) => return Err(e.into()),
            };
            let mut at = 0;
            let data = &buf[..n.min(buf.len())];
            while at + 16 <= data.len() {
                let len = u32::from_ne_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]])
                    as usize;
                if len < 16 || at + len > data.len() {
                    break;
                }
                let kind = u16::from_ne_bytes([data[at + 4], data[at + 5]]);
                let seq =
                    u32::from_ne_bytes([data[at + 8], data[at + 9], data[at + 10], data[at + 11]]);
                let in_range = if first <= last {
                    (first..=last).contains(&seq)
                } else {
                    seq >= first || seq <= last
                };
                if kind == NLMSG_ERROR && in_range && len >= 20 {
                    let code = i32::from_ne_bytes([
                        data[at + 16],
                        data[at + 17],
                        data[at + 18],
                        data[at + 19],
                    ]);
                    if code != 0 {
                        // The transaction is aborted at its first error.
                        return Err(io::Error::from_raw_os_error(-code));
                    }
                    if seq == last {
                        return Ok(());
                    }
                }
                at += (len + 3) & !3;
            }
        }
    }
}

fn libc_enoent() -> i32 {
    rustix::io::Errno::NOENT.raw_os_error()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The attributes of a rule `ip daddr @vips drop` as keepalived 2.2.7 sends them
    /// (captured with strace): payload, lookup, immediate.
    #[test]
    fn a_drop_rule_is_encoded_as_keepalived_sends_it() {
        let mut buf = Vec::new();
        encode_one(
            &mut buf,
            7,
            &Msg::NewRule {
                family: Family::Ipv4,
                table: "mytab".into(),
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
                    Expr::Counter,
                    Expr::Verdict(Verdict::Drop),
                ],
            },
        );
        // Header: length 204, NEWRULE of subsystem 10, REQUEST|ACK|CREATE|APPEND.
        assert_eq!(buf.len(), 204);
        assert_eq!(u16::from_ne_bytes([buf[4], buf[5]]), (10 << 8) | 6);
        assert_eq!(
            u16::from_ne_bytes([buf[6], buf[7]]),
            0x1 | 0x4 | 0x400 | 0x800
        );
        // nfgenmsg: AF_INET, version 0, res_id 0.
        assert_eq!(hex(&buf[16..20]), "02000000");
        // The expressions, byte for byte as captured.
        let captured = "34000180 0c000100 7061796c 6f616400 24000280 08000100 00000001 \
                        08000200 00000001 08000300 00000010 08000400 00000004 28000180 \
                        0b000100 6c6f6f6b 75700000 18000280 08000200 00000001 09000100 \
                        76697073 00000000 14000180 0c000100 636f756e 74657200 04000280 \
                        30000180 0e000100 696d6d65 64696174 65000000 1c000280 08000100 \
                        00000000 10000280 0c000280 08000100 00000000"
            .replace([' ', '\n'], "");
        let exprs_at = buf.len() - captured.len() / 2;
        assert_eq!(hex(&buf[exprs_at..]), captured);
    }

    /// A set element of `vips_link_local`: the address and the interface index (host order).
    #[test]
    fn a_link_local_element_is_encoded_as_keepalived_sends_it() {
        let mut key = "fe80::100"
            .parse::<std::net::Ipv6Addr>()
            .expect("address")
            .octets()
            .to_vec();
        key.extend_from_slice(&3u32.to_ne_bytes());
        let mut buf = Vec::new();
        encode_one(
            &mut buf,
            1,
            &Msg::NewElements {
                family: Family::Ipv6,
                table: "mytab".into(),
                set: "vips_link_local".into(),
                set_id: None,
                keys: vec![key],
            },
        );
        assert_eq!(buf.len(), 88);
        assert_eq!(
            hex(&buf[buf.len() - 36..]),
            "24000380200001801c00018018000100fe80000000000000000000000000010003000000"
        );
    }

    #[test]
    fn a_batch_is_framed_and_numbered() {
        let msgs = [
            Msg::NewTable {
                family: Family::Ipv6,
                table: "keepalived".into(),
            },
            Msg::DelTable {
                family: Family::Ipv6,
                table: "keepalived".into(),
            },
        ];
        let (bytes, first, last) = encode_batch(&msgs, 100);
        assert_eq!((first, last), (101, 102));
        // BATCH_BEGIN with res_id NFNL_SUBSYS_NFTABLES (big-endian).
        assert_eq!(u16::from_ne_bytes([bytes[4], bytes[5]]), 16);
        assert_eq!(hex(&bytes[16..20]), "0000000a");
        let end = &bytes[bytes.len() - 20..];
        assert_eq!(u16::from_ne_bytes([end[4], end[5]]), 17);
        assert_eq!(u32::from_ne_bytes([end[8], end[9], end[10], end[11]]), 103);
    }

    #[test]
    fn a_base_chain_carries_its_hook_priority_and_policy() {
        let mut buf = Vec::new();
        encode_one(
            &mut buf,
            1,
            &Msg::NewChain {
                family: Family::Ipv4,
                table: "mytab".into(),
                chain: "out".into(),
                hook: Some((Hook::Output, -5)),
            },
        );
        assert_eq!(buf.len(), 80);
        assert!(hex(&buf).contains("14000480080001000000000308000200fffffffb"));
        assert!(hex(&buf).contains("0800050000000001")); // policy accept
    }
}
