//! `lvs_sync_daemon INTERFACE VRRP_INSTANCE [id SYNC_ID] [maxlen LEN] [port PORT] [ttl TTL]
//! [group IP]` (global_defs): its words read into a setting, with the messages keepalived
//! 2.2.7 prints for them (observed with `keepalived -t`). The configuration check reports the
//! messages; the VRRP child reads the setting.

use std::net::IpAddr;

use crate::values::read_unsigned;

/// `IP_VS_IFNAME_MAXLEN`: an interface name must be shorter.
const IFNAME_MAXLEN: usize = 16;

/// The sync daemon as configured; the settings left out are the kernel's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LvsSyncDaemon {
    /// The interface the daemons send and listen on.
    pub interface: String,
    /// The vrrp_instance whose state they follow (none when the line names none).
    pub instance: Option<String>,
    /// `id`: the sync id; the instance's virtual router id when not given.
    pub sync_id: Option<u8>,
    /// `maxlen`: the UDP payload size, 1 to 65507.
    pub maxlen: Option<u16>,
    /// `port`: the base port, 1 to 65535.
    pub port: Option<u16>,
    /// `ttl`: the multicast TTL, 1 to 255.
    pub ttl: Option<u8>,
    /// `group`: the multicast group (IPv4 or IPv6).
    pub group: Option<IpAddr>,
}

/// What reading one `lvs_sync_daemon` line gave.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Read {
    /// The setting; `None` when the line is refused as a whole.
    pub setting: Option<LvsSyncDaemon>,
    /// The messages about its words, in order, as 2.2.7 words them.
    pub messages: Vec<String>,
}

/// The option words of the line.
const OPTIONS: &[&str] = &["id", "maxlen", "port", "ttl", "group"];

/// Reads the words after the keyword.
pub fn read(words: &[&str]) -> Read {
    let mut read = Read::default();
    let Some(interface) = words.first() else {
        read.messages
            .push("lvs_sync_daemon requires interface".into());
        return read;
    };
    if interface.len() >= IFNAME_MAXLEN {
        read.messages.push(format!(
            "lvs_sync_daemon interface name '{interface}' too long - ignoring"
        ));
        return read;
    }
    let mut daemon = LvsSyncDaemon {
        interface: interface.to_string(),
        instance: words.get(1).map(|w| w.to_string()),
        sync_id: None,
        maxlen: None,
        port: None,
        ttl: None,
        group: None,
    };
    let mut i = 2;
    // The sync id given bare, as before the `id` option existed.
    if let Some(word) = words.get(2).filter(|w| !OPTIONS.contains(w)) {
        match read_unsigned(word, 0, 255) {
            Ok(id) => {
                read.messages
                    .push("Please use keyword \"id\" before lvs_sync_daemon SYNCID".into());
                daemon.sync_id = u8::try_from(id).ok();
            }
            Err(why) => {
                read.messages.push(why);
                read.messages
                    .push(format!("Invalid syncid ({word}) - defaulting to vrid"));
            }
        }
        i = 3;
    }
    while let Some(&option) = words.get(i) {
        if !OPTIONS.contains(&option) {
            read.messages.push(format!(
                "Unknown option {option} specified for lvs_sync_daemon"
            ));
            i += 1;
            continue;
        }
        let Some(&value) = words.get(i + 1) else {
            read.messages.push(if option == "id" {
                "No value specified for lvs_sync_daemon id, defaulting to vrid".into()
            } else {
                format!("No value specified for lvs_sync_daemon {option} - ignoring")
            });
            break;
        };
        i += 2;
        let ranged =
            |min: u32, max: u32, messages: &mut Vec<String>| match read_unsigned(value, min, max) {
                Ok(v) => Some(v),
                Err(why) => {
                    messages.push(why);
                    messages.push(if option == "id" {
                        format!("Invalid syncid ({value}) - defaulting to vrid")
                    } else {
                        format!("Invalid lvs_sync_daemon {option} ({value}) - ignoring")
                    });
                    None
                }
            };
        match option {
            "id" => {
                if let Some(v) = ranged(0, 255, &mut read.messages) {
                    daemon.sync_id = u8::try_from(v).ok();
                }
            }
            "maxlen" => {
                if let Some(v) = ranged(1, 65_507, &mut read.messages) {
                    daemon.maxlen = u16::try_from(v).ok();
                }
            }
            "port" => {
                if let Some(v) = ranged(1, 65_535, &mut read.messages) {
                    daemon.port = u16::try_from(v).ok();
                }
            }
            "ttl" => {
                if let Some(v) = ranged(1, 255, &mut read.messages) {
                    daemon.ttl = u8::try_from(v).ok();
                }
            }
            _ => match value.parse::<IpAddr>() {
                Ok(group) if group.is_multicast() => daemon.group = Some(group),
                Ok(group) => read.messages.push(format!(
                    "lvs_sync_daemon group address {group} is not multicast - ignoring"
                )),
                Err(_) => read.messages.push(format!(
                    "Invalid lvs_sync_daemon group ({value}) - ignoring"
                )),
            },
        }
    }
    read.setting = Some(daemon);
    read
}

/// The line's words as the configuration model keeps them.
pub fn read_args(args: &[String]) -> Read {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    read(&words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(line: &str) -> Read {
        read(&line.split_whitespace().collect::<Vec<_>>())
    }

    #[test]
    fn every_option_is_read() {
        let r = of("eth0 VI_1 id 7 maxlen 1400 port 8850 ttl 2 group 224.0.0.90");
        assert!(r.messages.is_empty(), "{:?}", r.messages);
        assert_eq!(
            r.setting,
            Some(LvsSyncDaemon {
                interface: "eth0".into(),
                instance: Some("VI_1".into()),
                sync_id: Some(7),
                maxlen: Some(1400),
                port: Some(8850),
                ttl: Some(2),
                group: Some("224.0.0.90".parse().expect("group")),
            })
        );
        let r = of("eth0 VI_1 group ff02::1234 id +5");
        assert_eq!(
            r.setting.as_ref().and_then(|s| s.group),
            Some("ff02::1234".parse().expect("group"))
        );
        assert_eq!(r.setting.and_then(|s| s.sync_id), Some(5));
    }

    /// The messages 2.2.7 prints for bad values (observed with `keepalived -t`); the line
    /// stays, without the bad value.
    #[test]
    fn bad_values_are_worded_as_2_2_7() {
        let cases: &[(&str, &[&str])] = &[
            (
                "eth0 VI_1 id 256",
                &[
                    "number '256' outside range [0, 255]",
                    "Invalid syncid (256) - defaulting to vrid",
                ],
            ),
            (
                "eth0 VI_1 id -1",
                &[
                    "negative number '-1'",
                    "Invalid syncid (-1) - defaulting to vrid",
                ],
            ),
            (
                "eth0 VI_1 maxlen 65508",
                &[
                    "number '65508' outside range [1, 65507]",
                    "Invalid lvs_sync_daemon maxlen (65508) - ignoring",
                ],
            ),
            (
                "eth0 VI_1 port 0",
                &[
                    "number '0' outside range [1, 65535]",
                    "Invalid lvs_sync_daemon port (0) - ignoring",
                ],
            ),
            (
                "eth0 VI_1 ttl abc",
                &[
                    "invalid number 'abc'",
                    "Invalid lvs_sync_daemon ttl (abc) - ignoring",
                ],
            ),
            (
                "eth0 VI_1 group 10.0.0.1",
                &["lvs_sync_daemon group address 10.0.0.1 is not multicast - ignoring"],
            ),
            (
                "eth0 VI_1 group abc",
                &["Invalid lvs_sync_daemon group (abc) - ignoring"],
            ),
            (
                "eth0 VI_1 maxlen",
                &["No value specified for lvs_sync_daemon maxlen - ignoring"],
            ),
            (
                "eth0 VI_1 id",
                &["No value specified for lvs_sync_daemon id, defaulting to vrid"],
            ),
            (
                "eth0 VI_1 id 100 foo",
                &["Unknown option foo specified for lvs_sync_daemon"],
            ),
            (
                "eth0 VI_1 foo 3",
                &[
                    "invalid number 'foo'",
                    "Invalid syncid (foo) - defaulting to vrid",
                    "Unknown option 3 specified for lvs_sync_daemon",
                ],
            ),
            (
                "eth0 VI_1 9",
                &["Please use keyword \"id\" before lvs_sync_daemon SYNCID"],
            ),
        ];
        for (line, expected) in cases {
            let r = of(line);
            assert_eq!(&r.messages, expected, "{line}");
            let s = r.setting.expect("the line stays");
            assert_eq!(
                (s.maxlen, s.port, s.ttl, s.group),
                (None, None, None, None),
                "{line}"
            );
        }
        assert_eq!(of("eth0 VI_1 9").setting.and_then(|s| s.sync_id), Some(9));
        assert_eq!(of("eth0 VI_1 id 256").setting.and_then(|s| s.sync_id), None);
    }

    #[test]
    fn a_line_without_a_usable_interface_is_refused() {
        assert_eq!(of("").messages, vec!["lvs_sync_daemon requires interface"]);
        let r = of("eth0123456789012345 VI_1");
        assert_eq!(
            r.messages,
            vec!["lvs_sync_daemon interface name 'eth0123456789012345' too long - ignoring"]
        );
        assert_eq!(r.setting, None);
        let r = of("eth0");
        assert!(r.messages.is_empty());
        assert_eq!(r.setting.and_then(|s| s.instance), None);
    }

    /// Through the configuration check: the messages on the line, and a second line
    /// refused while the first stands.
    #[test]
    fn the_check_reports_the_messages_and_a_second_line() {
        let text = "global_defs {\n lvs_sync_daemon eth0 VI_1 ttl 0\n \
                    lvs_sync_daemon eth1 VI_2\n}\n";
        let loaded = crate::load_str(
            text,
            std::path::Path::new("/k.conf"),
            &crate::LoadOptions::for_host(&crate::FakeHost::lab()),
        );
        let messages: Vec<&str> = loaded
            .diagnostics
            .iter()
            .map(|d| d.message.as_str())
            .collect();
        assert_eq!(
            messages,
            vec![
                "number '0' outside range [1, 255]",
                "Invalid lvs_sync_daemon ttl (0) - ignoring",
                "lvs_sync_daemon has already been specified as eth0 VI_1 - ignoring",
            ]
        );
    }
}
