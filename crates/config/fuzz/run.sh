#!/usr/bin/env bash
# Builds the cargo-fuzz targets of keepalived-config and runs each one for a bounded time,
# seeded from the fixture configurations.
#
#   crates/config/fuzz/run.sh [SECONDS] [TARGET...]
#
# Options and behaviour: .ci/fuzz-lib.sh.
set -euo pipefail

FUZZ_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$FUZZ_DIR/../../.." && pwd)"
LIBFUZZER_FLAGS=(-dict="$FUZZ_DIR/keepalived.dict" -max_len=65536)

# Seeds: every fixture configuration, under a name that does not change from run to run.
seed_corpus() {
    local target="$1" corpus="$FUZZ_DIR/corpus/$1" file
    for file in "$REPO_DIR"/fixtures/configs/*.conf "$REPO_DIR"/fixtures/configs/inc/*.conf \
        "$REPO_DIR"/fixtures/seed/*.conf; do
        [ -f "$file" ] || continue
        case "$target" in
            # First byte: how many lines form the parameter prelude (see the target).
            include_expansion) { printf '\003'; cat "$file"; } >"$corpus/seed-$(basename "$file")" ;;
            *) cp "$file" "$corpus/seed-$(basename "$file")" ;;
        esac
    done
    if [ "$target" = include_expansion ]; then
        printf '\004eth0\n192.0.2.1/24\n1\nx\nvrrp_instance VI_$A {\n interface $IF\n virtual_ipaddress {\n  $VIP\n  ${VIP} dev ${IF}\n }\n priority ${A}0$B\n}\n' \
            >"$corpus/seed-params"
        printf '\002{\n}\n@testhost global_defs $A # c\n@^testhost vrrp_script $B ! c\n"$A" \x27$B\x27\n' \
            >"$corpus/seed-braces-in-params"
    fi
}

# shellcheck source=../../../.ci/fuzz-lib.sh
source "$REPO_DIR/.ci/fuzz-lib.sh"
fuzz_main "$@"
