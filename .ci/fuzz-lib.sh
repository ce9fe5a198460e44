# The shared part of the cargo-fuzz run scripts (crates/config/fuzz/run.sh,
# crates/vrrp/fuzz/run.sh). A run script sets FUZZ_DIR and REPO_DIR, defines
# `seed_corpus TARGET` (fills $FUZZ_DIR/corpus/TARGET) and the array LIBFUZZER_FLAGS (flags
# of its own, such as -max_len), sources this file and calls `fuzz_main "$@"`:
#
#   run.sh [SECONDS] [TARGET...]
#
# SECONDS defaults to 30 (or $FUZZ_SECONDS); TARGETs default to every target in fuzz_targets/.
# Only stable Rust is needed: RUSTC_BOOTSTRAP=1 lets it accept the -Z flags cargo fuzz passes
# (sanitizer, coverage). Crashes are written to fuzz/artifacts/TARGET/; the corpus grows in
# fuzz/corpus/TARGET/ (both git-ignored). Returns 1 if any target found a crash.

fuzz_main() {
    local seconds="${1:-${FUZZ_SECONDS:-30}}"
    shift || true
    case "$seconds" in
        '' | *[!0-9]*) echo "run.sh: SECONDS must be a whole number, got '$seconds'" >&2; return 2 ;;
    esac
    if ! cargo fuzz --version >/dev/null 2>&1; then
        echo "run.sh: installing cargo-fuzz" >&2
        cargo install cargo-fuzz --locked
    fi
    local targets=() file target status=0
    if [ "$#" -gt 0 ]; then
        targets=("$@")
    else
        for file in "$FUZZ_DIR"/fuzz_targets/*.rs; do
            targets+=("$(basename "$file" .rs)")
        done
    fi
    export RUSTC_BOOTSTRAP=1
    cd "$FUZZ_DIR"
    cargo fuzz build --fuzz-dir "$FUZZ_DIR"
    for target in "${targets[@]}"; do
        mkdir -p "$FUZZ_DIR/corpus/$target" "$FUZZ_DIR/artifacts/$target"
        seed_corpus "$target"
        echo "=== fuzzing $target for ${seconds}s ===" >&2
        if ! cargo fuzz run --fuzz-dir "$FUZZ_DIR" "$target" "$FUZZ_DIR/corpus/$target" -- \
            -max_total_time="$seconds" \
            "${LIBFUZZER_FLAGS[@]}" \
            -timeout=10 \
            -rss_limit_mb=2048 \
            -print_final_stats=1; then
            echo "=== $target FAILED: see $FUZZ_DIR/artifacts/$target/ ===" >&2
            status=1
        fi
    done
    return "$status"
}
