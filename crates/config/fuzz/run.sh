#!/usr/bin/env bash
# Builds the cargo-fuzz targets of keepalived-config and runs each one for a bounded time,
# seeded from the fixture configurations.
#
#   crates/config/fuzz/run.sh [SECONDS] [TARGET...]
#
# SECONDS defaults to 30 (or $FUZZ_SECONDS); TARGETs default to every target in fuzz_targets/.
# Only stable Rust is needed: RUSTC_BOOTSTRAP=1 lets it accept the -Z flags cargo fuzz passes
# (sanitizer, coverage). Crashes are written to fuzz/artifacts/TARGET/; the corpus grows in
# fuzz/corpus/TARGET/ (both git-ignored). Exits 1 if any target found a crash.
set -euo pipefail

FUZZ_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$FUZZ_DIR/../../.." && pwd)"
SECONDS_PER_TARGET="${1:-${FUZZ_SECONDS:-30}}"
shift || true

case "$SECONDS_PER_TARGET" in
    '' | *[!0-9]*) echo "run.sh: SECONDS must be a whole number, got '$SECONDS_PER_TARGET'" >&2; exit 2 ;;
esac

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "run.sh: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

if [ "$#" -gt 0 ]; then
    TARGETS=("$@")
else
    TARGETS=()
    for file in "$FUZZ_DIR"/fuzz_targets/*.rs; do
        TARGETS+=("$(basename "$file" .rs)")
    done
fi

export RUSTC_BOOTSTRAP=1
cd "$FUZZ_DIR"
cargo fuzz build --fuzz-dir "$FUZZ_DIR"

# Seeds: every fixture configuration, under a name that does not change from run to run.
seed_corpus() {
    local target="$1" corpus="$FUZZ_DIR/corpus/$1" file
    mkdir -p "$corpus" "$FUZZ_DIR/artifacts/$target"
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

status=0
for target in "${TARGETS[@]}"; do
    seed_corpus "$target"
    echo "=== fuzzing $target for ${SECONDS_PER_TARGET}s ===" >&2
    if ! cargo fuzz run --fuzz-dir "$FUZZ_DIR" "$target" "$FUZZ_DIR/corpus/$target" -- \
        -max_total_time="$SECONDS_PER_TARGET" \
        -dict="$FUZZ_DIR/keepalived.dict" \
        -max_len=65536 \
        -timeout=10 \
        -rss_limit_mb=2048 \
        -print_final_stats=1; then
        echo "=== $target FAILED: see $FUZZ_DIR/artifacts/$target/ ===" >&2
        status=1
    fi
done
exit "$status"
