#!/usr/bin/env bash
# test_prebuild.sh — `tilejit prebuild` and `tilejit cache`, end to end.
#
#   tests/test_prebuild.sh path/to/tilejit
#
# Prints "PASS name" / "FAIL name" / "SKIP name" per test and a last line
# "N passed, N failed, N skipped", like tests/harness.h. Tests that compile
# skip when NVRTC is absent. Exits 1 when a test failed.
set -u

TJ=${1:?usage: test_prebuild.sh path/to/tilejit}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tilejit-prebuild.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
passed=0 failed=0 skipped=0
# Never touch the user's cache: every command gets a directory of its own.
export TILEJIT_CACHE_DIR="$WORK/default-cache"
unset TILEJIT_BUNDLES TILEJIT_NO_COMPILE

tj() {
    "$TJ" "$@" >"$WORK/out" 2>"$WORK/err"
    RC=$?
    OUT=$(cat "$WORK/out")
    ERR=$(cat "$WORK/err")
}
fail() {
    echo "  $*" >&2
    [ -s "$WORK/err" ] && sed 's/^/  stderr: /' "$WORK/err" | head -20 >&2
    return 1
}
expect_rc() { # expected, what
    [ "$RC" = "$1" ] || fail "$2: exit status $RC, wanted $1"
}
expect_out() { # substring, what
    case "$OUT" in *"$1"*) return 0 ;; esac
    fail "$2: stdout does not contain '$1'"
}
expect_err() { # substring
    case "$ERR" in *"$1"*) return 0 ;; esac
    fail "stderr does not mention '$1'"
}

# NVRTC present? (a compile of a tiny graph says)
"$TJ" dump softmax >"$WORK/probe.tj" 2>/dev/null
if "$TJ" compile "$WORK/probe.tj" --bind cols=64 -o "$WORK/probe.cubin" --in-process >/dev/null 2>&1; then
    HAVE_NVRTC=1
else
    HAVE_NVRTC=0
fi
need_nvrtc() { [ "$HAVE_NVRTC" = 1 ] || return 77; }

run_test() {
    local name=$1 rc
    ( set -u; "$name" )
    rc=$?
    if [ "$rc" = 0 ]; then
        echo "PASS $name"
        passed=$((passed + 1))
    elif [ "$rc" = 77 ]; then
        echo "SKIP $name (no NVRTC)"
        skipped=$((skipped + 1))
    else
        echo "FAIL $name"
        failed=$((failed + 1))
    fi
}

# Two recipes, three bindings.
write_manifest() {
    cat >"$WORK/m.txt" <<'EOF'
# two recipes
recipe rmsnorm
bind cols=1024,2048   # rows stays dynamic
recipe gemm act=relu
bind M=128 N=256 K=512
EOF
}

prebuild_cache() { # dir
    write_manifest
    tj prebuild "$WORK/m.txt" --arch sm_90a --cache-dir "$1"
    expect_rc 0 "prebuild --cache-dir"
}

# ---- tests -----------------------------------------------------------

test_prebuild_bundle_two_archs_verifies() {
    need_nvrtc || return 77
    write_manifest
    tj prebuild "$WORK/m.txt" --arch sm_90a,sm_80 -o "$WORK/k.tjb"
    expect_rc 0 "prebuild" || return 1
    expect_out "6 kernels" "summary" || return 1
    expect_out "6 compiled" "summary" || return 1
    expect_out "kernels/s" "summary" || return 1
    [ -s "$WORK/k.tjb" ] || { fail "no bundle written"; return 1; }
    [ "$(head -c 8 "$WORK/k.tjb")" = TJBUNDLE ] || { fail "not a bundle"; return 1; }
    tj cache verify --dir "$WORK/empty" --bundle "$WORK/k.tjb"
    expect_rc 0 "verify of the bundle" || return 1
    expect_out "6 ok, 0 bad" "verify" || return 1
    tj cache ls --dir "$WORK/empty" --bundle "$WORK/k.tjb"
    expect_rc 0 "ls of the bundle" || return 1
    for want in "rmsnorm  " "gemm  " sm_80 sm_90a "cols=2048" "M=128 N=256 K=512"; do
        expect_out "$want" "ls of the bundle" || return 1
    done
}

test_prebuild_same_key_compiles_once() {
    need_nvrtc || return 77
    # rows is dynamic: three values, one key.
    printf 'recipe rmsnorm\nbind rows=1,8,64 cols=1024\n' >"$WORK/dyn.txt"
    tj prebuild "$WORK/dyn.txt" --arch sm_90a -o "$WORK/dyn.tjb"
    expect_rc 0 "prebuild" || return 1
    expect_out "3 kernels" "summary" || return 1
    expect_out "1 distinct keys" "summary" || return 1
    expect_out "1 compiled" "summary"
}

test_prebuild_cache_dir_then_ls_lists_entries() {
    need_nvrtc || return 77
    prebuild_cache "$WORK/c" || return 1
    expect_out "3 compiled" "first prebuild" || return 1
    tj prebuild "$WORK/m.txt" --arch sm_90a --cache-dir "$WORK/c"
    expect_rc 0 "second prebuild" || return 1
    expect_out "3 already cached" "second prebuild" || return 1
    tj cache ls --dir "$WORK/c"
    expect_rc 0 "cache ls" || return 1
    [ "$(printf '%s\n' "$OUT" | grep -c ' sm_90a ')" = 3 ] || { fail "ls lists not 3 entries"; return 1; }
    expect_out "3 entries" "cache ls"
}

test_cache_stats_counts_entries() {
    need_nvrtc || return 77
    prebuild_cache "$WORK/c" || return 1
    tj cache stats --dir "$WORK/c"
    expect_rc 0 "cache stats" || return 1
    printf '%s\n' "$OUT" | grep -Eq '^entries +3$' || { fail "stats: not 3 entries"; return 1; }
    printf '%s\n' "$OUT" | grep -Eq '^temp files +0$' || fail "stats: temporary files left"
}

test_cache_verify_detects_corrupted_entry() {
    need_nvrtc || return 77
    prebuild_cache "$WORK/c" || return 1
    tj cache verify --dir "$WORK/c"
    expect_rc 0 "verify of a good cache" || return 1
    local f
    f=$(find "$WORK/c" -name '*.tjc' | head -1)
    # Flip one byte of the payload (past the header).
    local size
    size=$(stat -c %s "$f")
    printf '\377' | dd of="$f" bs=1 seek=$((size - 7)) conv=notrunc 2>/dev/null
    tj cache verify --dir "$WORK/c"
    expect_rc 1 "verify of a corrupted cache" || return 1
    expect_out "BAD $f" "verify" || return 1
    expect_out "2 ok, 1 bad" "verify" || return 1
    tj cache verify --dir "$WORK/c" --repair
    expect_rc 1 "verify --repair reports it" || return 1
    [ ! -e "$f" ] || { fail "--repair left the damaged entry"; return 1; }
    tj cache verify --dir "$WORK/c"
    expect_rc 0 "verify after --repair"
}

test_cache_verify_detects_corrupted_bundle() {
    need_nvrtc || return 77
    write_manifest
    tj prebuild "$WORK/m.txt" --arch sm_80 -o "$WORK/k.tjb"
    expect_rc 0 "prebuild" || return 1
    local size
    size=$(stat -c %s "$WORK/k.tjb")
    # Flip every bit of one byte (writing a constant would change nothing
    # where the byte already holds it).
    local old
    old=$(od -An -tu1 -j $((size - 5)) -N1 "$WORK/k.tjb" | tr -d ' ')
    printf "\\$(printf '%03o' $((255 - old)))" |
        dd of="$WORK/k.tjb" bs=1 seek=$((size - 5)) conv=notrunc 2>/dev/null
    tj cache verify --dir "$WORK/empty" --bundle "$WORK/k.tjb"
    expect_rc 1 "verify of a damaged bundle" || return 1
    expect_out "BAD $WORK/k.tjb" "verify"
}

test_cache_clear_empties() {
    need_nvrtc || return 77
    prebuild_cache "$WORK/c" || return 1
    tj cache clear --dir "$WORK/c"
    expect_rc 0 "cache clear" || return 1
    expect_out "removed 3 entries" "cache clear" || return 1
    tj cache ls --dir "$WORK/c"
    expect_out "0 entries" "ls after clear" || return 1
    [ -z "$(find "$WORK/c" -name '*.tjc')" ] || fail "entries left on disk"
}

test_cache_explain_names_differing_component() {
    need_nvrtc || return 77
    prebuild_cache "$WORK/c" || return 1
    tj cache explain recipe gemm act=relu --bind M=128,N=256,K=512 --arch sm_90a --dir "$WORK/c"
    expect_rc 0 "explain of a hit" || return 1
    expect_out "hit: " "explain of a hit" || return 1
    tj cache explain recipe gemm act=relu --bind M=384,N=256,K=512 --arch sm_90a --dir "$WORK/c"
    expect_rc 0 "explain of a miss" || return 1
    expect_out "miss: " "explain (binding)" || return 1
    expect_out "symbols: M wanted 384, entry has 128" "explain (binding)" || return 1
    tj cache explain recipe gemm act=relu --bind M=128,N=256,K=512 --arch sm_80 --dir "$WORK/c"
    expect_out "arch: wanted sm_80, entry has sm_90a" "explain (arch)" || return 1
    # The same from a graph file on stdin.
    "$TJ" dump rmsnorm >"$WORK/r.tj"
    tj cache explain "$WORK/r.tj" --bind cols=4096 --dir "$WORK/c"
    expect_rc 0 "explain of a file" || return 1
    expect_out "cols wanted 4096" "explain (file)"
}

test_prebuild_manifest_errors_name_the_line() {
    local cases=(
        "recipe rmsnorm\nbind cols=64\nbogus x\n|3|unknown directive"
        "bind cols=64\n|1|before any"
        "recipe rmsnorm\n\n# c\nbind colz=64\n|4|no symbol 'colz'"
        "recipe rmsnorm\nbind cols=64,x\n|2|not a positive integer"
        "recipe rmsnorm\nbind cols=64\nbind cols=128\n|3|already bound on line 2"
        "recipe rmsnorm\nbind cols=64,64\n|2|listed twice"
        "recipe no_such_recipe\n|1|no_such_recipe"
        "recipe rmsnorm\nfile $WORK/missing.tj\n|2|cannot read"
        "recipe rmsnorm\nbind cols\n|2|not SYM=V1"
    )
    local c text line word
    for c in "${cases[@]}"; do
        IFS='|' read -r text line word <<<"$c"
        printf "$text" >"$WORK/bad.txt"
        tj prebuild "$WORK/bad.txt" --arch sm_90a -o "$WORK/bad.tjb"
        expect_rc 1 "manifest '$text'" || return 1
        expect_err "bad.txt:$line:" || return 1
        expect_err "$word" || return 1
        [ ! -e "$WORK/bad.tjb" ] || { fail "a bundle was written for '$text'"; return 1; }
    done
    printf '# nothing\n' >"$WORK/empty.txt"
    tj prebuild "$WORK/empty.txt" --arch sm_90a -o "$WORK/bad.tjb"
    expect_rc 1 "empty manifest" && expect_err "no graphs"
}

test_prebuild_relative_file_from_manifest_folder() {
    need_nvrtc || return 77
    mkdir -p "$WORK/sub"
    "$TJ" dump softmax >"$WORK/sub/s.tj"
    printf 'file s.tj\nbind cols=256\n' >"$WORK/sub/m.txt"
    tj prebuild "$WORK/sub/m.txt" --arch sm_90a -o "$WORK/s.tjb"
    expect_rc 0 "prebuild of a file graph" && expect_out "1 compiled" "summary"
}

test_prebuild_failed_compile_writes_no_bundle() {
    need_nvrtc || return 77
    # softmax with cols unbound: the emitter refuses it (cols sizes a tile).
    printf 'recipe softmax\nbind rows=8\n' >"$WORK/unb.txt"
    tj prebuild "$WORK/unb.txt" --arch sm_90a -o "$WORK/unb.tjb"
    expect_rc 1 "prebuild of a failing graph" || return 1
    expect_err "unb.txt:1 (softmax)" || return 1
    [ ! -e "$WORK/unb.tjb" ] || fail "a bundle was written"
}

test_prebuild_bad_args_exit_2() {
    write_manifest
    local args
    for args in "" "$WORK/m.txt" "$WORK/m.txt --arch sm_90a" \
        "$WORK/m.txt --arch sm_90a -o a.tjb --cache-dir d" "$WORK/m.txt --arch sm_90a,,sm_80 -o a.tjb" \
        "$WORK/m.txt --arch sm_90a,sm_90a -o a.tjb" "$WORK/m.txt --arch sm_90a -o a.tjb -j 0" \
        "$WORK/m.txt --arch sm_90a -o a.tjb --frobnicate" "$WORK/m.txt extra --arch sm_90a -o a.tjb" \
        "$WORK/m.txt --arch"; do
        # shellcheck disable=SC2086
        tj prebuild $args
        expect_rc 2 "prebuild $args" || return 1
    done
    if [ "$HAVE_NVRTC" = 1 ]; then
        tj prebuild "$WORK/m.txt" --arch sm_70 -o "$WORK/a.tjb"
        expect_rc 2 "prebuild for sm_70" || return 1
    fi
    for args in "" "frob" "ls extra" "ls --frob" "stats --bundle x" "explain" \
        "explain recipe" "explain recipe no_such" "clear --repair" "--dir"; do
        # shellcheck disable=SC2086
        tj cache $args
        expect_rc 2 "cache $args" || return 1
    done
    "$TJ" dump gemm >"$WORK/g.tj"
    tj cache explain "$WORK/g.tj" --bind Q=1 --dir "$WORK/c"
    expect_rc 2 "explain with a bad binding"
}

test_prebuild_help() {
    for c in prebuild cache; do
        tj help "$c"
        expect_rc 0 "help $c" || return 1
        expect_out "Usage: tilejit $c" "help $c" || return 1
    done
}

for t in $(declare -F | awk '{ print $3 }' | grep -E '^test_(prebuild|cache)_'); do
    rm -rf "$WORK/c" "$WORK/empty"
    run_test "$t"
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
