//! The Linux side of VRRP: raw IPPROTO 112 sockets with multicast membership, gratuitous ARP
//! on AF_PACKET, virtual addresses and link state over rtnetlink.
