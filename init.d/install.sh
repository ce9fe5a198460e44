#!/bin/bash
# Installs keepalived-rs as a drop-in replacement for keepalived:
#
#   bash init.d/install.sh [--prefix P] [--destdir D] [--binary PATH]
#
#   --binary PATH  the keepalived binary to install (keepalivedctl is taken from the same
#                  directory when it is there); without it this script runs a static build
#                  (profile dist, `-C target-feature=+crt-static`) in the repository and
#                  installs target/HOST/dist/keepalived and keepalivedctl
#   --prefix P     where the binary goes: P/sbin/keepalived (default /usr, so
#                  /usr/sbin/keepalived); the init script and unit are pointed at it
#   --destdir D    a staging root put in front of every path (packaging, tests)
#
# What goes where (under D when given):
#   P/sbin/keepalived                      the daemon (mode 0755)
#   P/sbin/keepalivedctl                   its control client (mode 0755)
#   /etc/init.d/keepalived                 the SysV init script (mode 0755), also
#   /etc/rc.d/init.d/keepalived            where that directory exists and is not the same
#   /etc/sysconfig/keepalived              KEEPALIVED_OPTIONS, only if absent
#   /lib/systemd/system/keepalived.service the systemd unit
#   /etc/keepalived/keepalived.conf        the commented sample, only if no config exists
#
# Enabling the service at boot is left to you: see init.d/README.md.

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")

prefix=/usr
destdir=
binary=

usage() {
    echo "usage: bash init.d/install.sh [--prefix P] [--destdir D] [--binary PATH]" >&2
    exit 2
}

while [ $# -gt 0 ]; do
    case $1 in
        --prefix)
            [ $# -ge 2 ] || usage
            prefix=$2
            shift 2
            ;;
        --prefix=*)
            prefix=${1#*=}
            shift
            ;;
        --destdir)
            [ $# -ge 2 ] || usage
            destdir=$2
            shift 2
            ;;
        --destdir=*)
            destdir=${1#*=}
            shift
            ;;
        --binary)
            [ $# -ge 2 ] || usage
            binary=$2
            shift 2
            ;;
        --binary=*)
            binary=${1#*=}
            shift
            ;;
        -h | --help)
            sed -n '2,22s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
            exit 0
            ;;
        *)
            echo "install.sh: unknown argument '$1'" >&2
            usage
            ;;
    esac
done

case $prefix in
    /*) ;;
    *)
        echo "install.sh: --prefix must be an absolute path, not '$prefix'" >&2
        exit 2
        ;;
esac
prefix=${prefix%/}
[ -n "$prefix" ] || prefix=/
destdir=${destdir%/}
if [ -n "$destdir" ]; then
    mkdir -p "$destdir"
    destdir=$(cd "$destdir" && pwd)
fi

if [ -z "$binary" ]; then
    target=$(rustc -vV | sed -n 's/^host: //p')
    echo "install.sh: building keepalived (static, profile dist, target $target)"
    (cd "$repo" && RUSTFLAGS="-C target-feature=+crt-static" \
        cargo build --profile dist -p keepalived --target "$target")
    binary=${CARGO_TARGET_DIR:-$repo/target}/$target/dist/keepalived
    case $binary in
        /*) ;;
        *) binary=$repo/$binary ;;
    esac
fi
if [ ! -f "$binary" ] || [ ! -x "$binary" ]; then
    echo "install.sh: $binary is not an executable file" >&2
    exit 1
fi

sbin=${prefix%/}/sbin
daemon_path=$sbin/keepalived

# Copies $1 to $2 with mode $3 through a temporary file in the same directory (so a reader never
# sees half a file), pointing the text at the daemon's path when the prefix is not /usr.
put() {
    local src=$1 dst=$2 mode=$3 dir tmp
    dir=$(dirname "$dst")
    install -d -m 0755 "$dir"
    tmp=$(mktemp "$dir/.install.XXXXXX")
    if [ "$daemon_path" = /usr/sbin/keepalived ]; then
        cat "$src" >"$tmp"
    else
        local escaped
        escaped=$(printf '%s' "$daemon_path" | sed 's/[\\|&]/\\&/g')
        sed "s|/usr/sbin/keepalived|$escaped|g" "$src" >"$tmp"
    fi
    chmod "$mode" "$tmp"
    mv -f "$tmp" "$dst"
    echo "installed $dst"
}

# Like put, but leaves an existing file alone.
put_new() {
    if [ -e "$2" ]; then
        echo "kept      $2 (already there)"
    else
        put "$@"
    fi
}

install -d -m 0755 "$destdir$sbin"
install -m 0755 "$binary" "$destdir$daemon_path.new"
mv -f "$destdir$daemon_path.new" "$destdir$daemon_path"
echo "installed $destdir$daemon_path"
ctl=$(dirname "$binary")/keepalivedctl
if [ -f "$ctl" ] && [ -x "$ctl" ]; then
    install -m 0755 "$ctl" "$destdir$sbin/keepalivedctl.new"
    mv -f "$destdir$sbin/keepalivedctl.new" "$destdir$sbin/keepalivedctl"
    echo "installed $destdir$sbin/keepalivedctl"
else
    echo "skipped   keepalivedctl (not found beside $binary)"
fi

put "$here/keepalived" "$destdir/etc/init.d/keepalived" 0755
if [ -d "$destdir/etc/rc.d/init.d" ] && ! [ "$destdir/etc/rc.d/init.d" -ef "$destdir/etc/init.d" ]; then
    put "$here/keepalived" "$destdir/etc/rc.d/init.d/keepalived" 0755
fi
put_new "$here/keepalived.sysconfig" "$destdir/etc/sysconfig/keepalived" 0644
put "$here/keepalived.service" "$destdir/lib/systemd/system/keepalived.service" 0644
put_new "$here/keepalived.conf.sample" "$destdir/etc/keepalived/keepalived.conf" 0644

if [ -z "$destdir" ]; then
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
        systemctl daemon-reload || true
        echo "next: systemctl enable --now keepalived"
    elif command -v chkconfig >/dev/null 2>&1; then
        echo "next: chkconfig --add keepalived && chkconfig --level 2345 keepalived on && service keepalived start"
    elif command -v update-rc.d >/dev/null 2>&1; then
        echo "next: update-rc.d keepalived defaults && /etc/init.d/keepalived start"
    fi
fi
