#!/usr/bin/env bash
# Builds the cargo-fuzz targets of keepalived-vrrp and runs each one for a bounded time,
# seeded from the adverts captured from keepalived 2.2.7 in fixtures/packets.
#
#   crates/vrrp/fuzz/run.sh [SECONDS] [TARGET...]
#
# SECONDS defaults to 30 (or $FUZZ_SECONDS); TARGETs default to every target in fuzz_targets/
# (vrrp_decoder, vrrp_engine). Only stable Rust is needed: RUSTC_BOOTSTRAP=1 lets it accept the
# -Z flags cargo fuzz passes (sanitizer, coverage). Crashes are written to fuzz/artifacts/TARGET/;
# the corpus grows in fuzz/corpus/TARGET/ (both git-ignored). Exits 1 if any target found a
# crash. A crash is replayed with `cargo fuzz run --fuzz-dir crates/vrrp/fuzz TARGET FILE`.
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

# Writes the bytes spelt by the hex digits of file $1 (whitespace ignored) to stdout.
unhex() {
    local hex
    hex="$(tr -d ' \t\r\n' <"$1")"
    case "$hex" in
        *[!0-9a-fA-F]*) echo "run.sh: $1 is not hex" >&2; return 1 ;;
    esac
    # shellcheck disable=SC2059 # the format is built from checked hex digits only
    printf "$(printf '%s' "$hex" | sed 's/../\\x&/g')"
}

# Seeds under names that do not change from run to run.
#  vrrp_decoder: source 192.0.2.10 and destination 224.0.0.18 (the captures' addresses, which
#    the VRRPv3 checksum covers), then each captured VRRP message.
#  vrrp_engine: the input is read by arbitrary::Unstructured, so the captures are raw material
#    rather than exact encodings; each is used whole and behind a few configuration prefixes.
seed_corpus() {
    local target="$1" corpus="$FUZZ_DIR/corpus/$1" file name
    mkdir -p "$corpus" "$FUZZ_DIR/artifacts/$target"
    for file in "$REPO_DIR"/fixtures/packets/*.hex; do
        [ -f "$file" ] || continue
        case "$file" in *.frame.hex) continue ;; esac
        name="$(basename "$file" .hex)"
        case "$target" in
            vrrp_decoder)
                { printf '\300\000\002\012\340\000\000\022'; unhex "$file"; } >"$corpus/seed-$name"
                ;;
            vrrp_engine)
                unhex "$file" >"$corpus/seed-$name"
                { printf '\000\001\063\226\000\000\001\000'; unhex "$file"; unhex "$file"; } \
                    >"$corpus/seed-v2-$name"
                { printf '\001\000\144\065\226\001\000\000'; unhex "$file"; unhex "$file"; } \
                    >"$corpus/seed-v3-$name"
                ;;
        esac
    done
}

status=0
for target in "${TARGETS[@]}"; do
    seed_corpus "$target"
    echo "=== fuzzing $target for ${SECONDS_PER_TARGET}s ===" >&2
    if ! cargo fuzz run --fuzz-dir "$FUZZ_DIR" "$target" "$FUZZ_DIR/corpus/$target" -- \
        -max_total_time="$SECONDS_PER_TARGET" \
        -max_len=4096 \
        -timeout=10 \
        -rss_limit_mb=2048 \
        -print_final_stats=1; then
        echo "=== $target FAILED: see $FUZZ_DIR/artifacts/$target/ ===" >&2
        status=1
    fi
done
exit "$status"
