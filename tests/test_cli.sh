#!/usr/bin/env bash
# test_cli.sh — the tilejit command line, end to end.
#
#   tests/test_cli.sh path/to/tilejit
#
# Prints "PASS name" / "FAIL name" per test and a last line
# "N passed, N failed, N skipped", like tests/harness.h. Exits 1 when a
# test failed.
set -u

TJ=${1:?usage: test_cli.sh path/to/tilejit}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tilejit-cli.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
passed=0 failed=0 skipped=0

# Run the CLI capturing stdout, stderr and the exit status in OUT, ERR, RC.
tj() {
    "$TJ" "$@" >"$WORK/out" 2>"$WORK/err"
    RC=$?
    OUT=$(cat "$WORK/out")
    ERR=$(cat "$WORK/err")
}

# Each test is a function returning non-zero (after saying why) on failure.
fail() {
    echo "  $*" >&2
    [ -s "$WORK/err" ] && sed 's/^/  stderr: /' "$WORK/err" | head -20 >&2
    return 1
}
expect_rc() { # expected, what
    [ "$RC" = "$1" ] || fail "$2: exit status $RC, wanted $1"
}
# A crash (signal) is never an acceptable answer to bad input.
expect_no_crash() {
    [ "$RC" -lt 128 ] || fail "crashed with status $RC"
}
expect_err() { # substring
    case "$ERR" in *"$1"*) return 0 ;; esac
    fail "stderr does not mention '$1'"
}
# Names line $1 as a number of its own ("x.tj:7:", "line 7").
expect_err_line() {
    printf '%s\n' "$ERR" | grep -Eq "(^|[^0-9])$1([^0-9]|$)" || fail "stderr does not name line $1"
}

run_test() {
    local name=$1
    if ( set -u; "$name" ); then
        echo "PASS $name"
        passed=$((passed + 1))
    else
        echo "FAIL $name"
        failed=$((failed + 1))
    fi
}

# ---- tests -----------------------------------------------------------

test_cli_help_lists_commands() {
    tj --help
    expect_rc 0 "--help" || return 1
    for c in recipes dump check run-cpu demo emit compile help; do
        case "$OUT" in *"  $c "*) ;; *) fail "--help does not list '$c'"; return 1 ;; esac
    done
}

test_cli_help_for_each_command() {
    for c in recipes dump check run-cpu demo emit compile; do
        tj help "$c"
        expect_rc 0 "help $c" || return 1
        case "$OUT" in *"Usage: tilejit $c"*) ;; *) fail "help $c has no usage line"; return 1 ;; esac
        tj "$c" --help
        expect_rc 0 "$c --help" || return 1
    done
    tj help no-such-command
    expect_rc 2 "help no-such-command" && expect_err "no-such-command"
}

test_cli_version_prints_version() {
    tj --version
    expect_rc 0 "--version" || return 1
    printf '%s\n' "$OUT" | grep -Eq '^tilejit [0-9]+\.[0-9]+\.[0-9]+$' || fail "--version said '$OUT'"
}

test_cli_no_arguments_is_usage_error() {
    tj
    expect_rc 2 "no arguments" && expect_err "Usage"
}

test_cli_unknown_command_exits_2() {
    tj frobnicate
    expect_rc 2 "unknown command" && expect_err "unknown command 'frobnicate'"
}

test_cli_unknown_option_exits_2() {
    tj --frobnicate
    expect_rc 2 "unknown top-level option" || return 1
    tj recipes --frobnicate
    expect_rc 2 "unknown option to recipes" || return 1
    tj run-cpu --frobnicate x.tj
    expect_rc 2 "unknown option to run-cpu" && expect_err "--frobnicate"
}

test_cli_recipes_lists_every_recipe() {
    tj recipes
    expect_rc 0 "recipes" || return 1
    # The built-in recipes the design promises.
    for r in gemm attention rmsnorm layernorm softmax decode; do
        printf '%s\n' "$OUT" | grep -Eq "^$r " || { fail "recipes does not list '$r'"; return 1; }
    done
    # Every recipe listed builds and reads back.
    for r in $(printf '%s\n' "$OUT" | grep -Eo '^[a-z_0-9]+'); do
        "$TJ" dump "$r" >"$WORK/$r.tj" 2>"$WORK/err" || { fail "dump $r failed"; return 1; }
        "$TJ" check "$WORK/$r.tj" >/dev/null 2>"$WORK/err" || { fail "check of dump $r failed"; return 1; }
    done
}

test_cli_dump_pipes_into_check() {
    "$TJ" dump attention d=128 causal=1 2>"$WORK/err" | "$TJ" check - >"$WORK/out" 2>>"$WORK/err"
    local rc=("${PIPESTATUS[@]}")
    [ "${rc[0]}" = 0 ] || { fail "dump attention exited ${rc[0]}"; return 1; }
    [ "${rc[1]}" = 0 ] || { fail "check - exited ${rc[1]}"; return 1; }
    grep -q '<stdin>: ok' "$WORK/out" || fail "check did not say ok"
}

test_cli_dump_is_deterministic() {
    "$TJ" dump gemm bias=1 >"$WORK/a.tj" && "$TJ" dump gemm bias=1 >"$WORK/b.tj" ||
        { fail "dump gemm failed"; return 1; }
    cmp -s "$WORK/a.tj" "$WORK/b.tj" || fail "two dumps differ"
}

test_cli_dump_rejects_bad_parameters() {
    tj dump no_such_recipe
    expect_rc 2 "unknown recipe" && expect_err "no_such_recipe" || return 1
    tj dump attention no_such_key=1
    expect_rc 2 "unknown parameter" && expect_err "no_such_key" || return 1
    tj dump attention d=banana
    expect_rc 2 "bad parameter value" && expect_err "banana" || return 1
    tj dump attention d128
    expect_rc 2 "parameter without =" && expect_err "d128" || return 1
    tj dump
    expect_rc 2 "dump without a recipe"
}

test_cli_check_names_mutated_line() {
    "$TJ" dump softmax >"$WORK/s.tj" || { fail "dump softmax failed"; return 1; }
    local total line
    total=$(wc -l <"$WORK/s.tj")
    # A value definition in the middle of the body.
    line=$(grep -n '^ *%' "$WORK/s.tj" | sed -n "$(($(grep -c '^ *%' "$WORK/s.tj") / 2 + 1))p" | cut -d: -f1)
    [ -n "$line" ] || { fail "no value line in the softmax dump"; return 1; }
    sed "${line}s/.*/%mutant = frobnicate %mutant : f32/" "$WORK/s.tj" >"$WORK/bad.tj"
    tj check "$WORK/bad.tj"
    expect_rc 1 "check of a file mutated at line $line of $total" && expect_err_line "$line" || return 1
    expect_err "bad.tj"
}

test_cli_check_reads_stdin() {
    "$TJ" dump rmsnorm >"$WORK/r.tj" || { fail "dump rmsnorm failed"; return 1; }
    "$TJ" check - <"$WORK/r.tj" >"$WORK/out" 2>"$WORK/err" || { fail "check - failed"; return 1; }
    grep -q '^graph ' "$WORK/out" || fail "check - did not describe the graph"
    # A broken graph from stdin names <stdin> and the line.
    sed '3s/.*/this is not a statement/' "$WORK/r.tj" | "$TJ" check - >/dev/null 2>"$WORK/err"
    RC=$?
    ERR=$(cat "$WORK/err")
    expect_rc 1 "check - of a broken graph" && expect_err "<stdin>" && expect_err_line 3
}

test_cli_check_missing_file_fails() {
    tj check "$WORK/no-such-file.tj"
    expect_rc 1 "missing file" && expect_err "no-such-file.tj" || return 1
    tj check "$WORK"
    expect_rc 1 "a directory" && expect_no_crash || return 1
    tj check /dev/null
    expect_rc 1 "an empty file" || return 1
    tj check
    expect_rc 2 "check without a file" || return 1
    tj check a.tj b.tj
    expect_rc 2 "check with two files"
}

test_cli_check_binary_garbage_fails_cleanly() {
    head -c 4096 /dev/urandom >"$WORK/garbage.tj" 2>/dev/null ||
        printf 'tilejit 1\ngraph \001\002\377\n' >"$WORK/garbage.tj"
    tj check "$WORK/garbage.tj"
    expect_no_crash && expect_rc 1 "random bytes"
}

# rows and cols are softmax's symbols.
test_cli_run_cpu_same_seed_same_checksum() {
    "$TJ" dump softmax >"$WORK/s.tj" || { fail "dump softmax failed"; return 1; }
    tj run-cpu "$WORK/s.tj" --bind rows=10 --bind cols=64 --seed 7
    expect_rc 0 "run-cpu" || return 1
    local first second other
    first=$(printf '%s\n' "$OUT" | grep -v '^interpreted in')
    printf '%s\n' "$first" | grep -Eq '^y +' || { fail "no checksum line for output y: $OUT"; return 1; }
    printf '%s\n' "$OUT" | grep -Eq '^interpreted in [0-9.]+ ms$' || { fail "no time line"; return 1; }
    tj run-cpu --seed=7 --bind rows=10,cols=64 - <"$WORK/s.tj"
    expect_rc 0 "run-cpu from stdin" || return 1
    second=$(printf '%s\n' "$OUT" | grep -v '^interpreted in')
    [ "$first" = "$second" ] || { fail "same seed, different output:"$'\n'"$first"$'\n'"$second"; return 1; }
    tj run-cpu "$WORK/s.tj" --bind rows=10 --bind cols=64 --seed 8
    other=$(printf '%s\n' "$OUT" | grep -v '^interpreted in')
    [ "$first" != "$other" ] || fail "seeds 7 and 8 gave the same checksums"
}

test_cli_run_cpu_softmax_rows_sum_to_one() {
    # Each softmax row sums to 1, so the output's sum is the number of rows
    # (to bf16 rounding).
    "$TJ" dump softmax dtype=f32 >"$WORK/s.tj" || { fail "dump softmax failed"; return 1; }
    tj run-cpu "$WORK/s.tj" --bind rows=10,cols=64 --f64
    expect_rc 0 "run-cpu --f64" || return 1
    local sum
    sum=$(printf '%s\n' "$OUT" | awk '$1 == "y" { print $4 }')
    awk -v s="$sum" 'BEGIN { exit !(s > 9.999 && s < 10.001) }' || fail "softmax rows sum to $sum, not 10"
}

test_cli_run_cpu_rejects_bad_bindings() {
    "$TJ" dump softmax >"$WORK/s.tj" || { fail "dump softmax failed"; return 1; }
    tj run-cpu "$WORK/s.tj" --bind rows=10 --bind cols=64 --bind nosuch=3
    expect_rc 2 "unknown symbol" && expect_err "nosuch" || return 1
    tj run-cpu "$WORK/s.tj" --bind rows=ten --bind cols=64
    expect_rc 2 "non-number" && expect_err "ten" || return 1
    tj run-cpu "$WORK/s.tj" --bind rows=0 --bind cols=64
    expect_rc 2 "zero size" || return 1
    tj run-cpu "$WORK/s.tj" --bind rows=10
    expect_rc 2 "unbound symbol" && expect_err "cols" || return 1
    tj run-cpu "$WORK/s.tj" --bind
    expect_rc 2 "--bind without a value" || return 1
    tj run-cpu "$WORK/s.tj" --bind rows=10,cols=64 --seed -1
    expect_rc 2 "negative seed" || return 1
    tj run-cpu "$WORK/s.tj" --bind rows=10,cols=64 --scalar nosuch=1
    expect_rc 2 "unknown scalar" && expect_err "nosuch" || return 1
    # Declare rows a multiple of 64; 100 is not one.
    sed 's/^\(sym rows .*\)$/\1 div 64/' "$WORK/s.tj" >"$WORK/div.tj"
    "$TJ" check "$WORK/div.tj" >/dev/null 2>&1 || { fail "the div 64 variant does not check"; return 1; }
    tj run-cpu "$WORK/div.tj" --bind rows=100 --bind cols=64
    expect_rc 2 "rows=100 with div 64" && expect_err "64" || return 1
    tj run-cpu "$WORK/div.tj" --bind rows=128 --bind cols=64
    expect_rc 0 "rows=128 with div 64"
}

test_cli_run_cpu_missing_file_fails() {
    tj run-cpu "$WORK/no-such-file.tj" --bind n=1
    expect_rc 1 "missing file" && expect_err "no-such-file.tj" || return 1
    tj run-cpu --bind n=1
    expect_rc 2 "no file"
}

test_cli_run_cpu_sets_scalars() {
    "$TJ" dump rmsnorm dtype=f32 >"$WORK/r.tj" || { fail "dump rmsnorm failed"; return 1; }
    local scalar
    scalar=$(grep -m1 '^scalar ' "$WORK/r.tj" | awk '{ print $2 }')
    [ -n "$scalar" ] || { echo "  rmsnorm has no scalar argument" >&2; return 0; }
    tj run-cpu "$WORK/r.tj" --bind rows=4,cols=64 --scalar "$scalar=0.5"
    expect_rc 0 "--scalar $scalar=0.5" || return 1
    local a=$OUT
    tj run-cpu "$WORK/r.tj" --bind rows=4,cols=64 --scalar "$scalar=0.25"
    [ "$(printf '%s\n' "$a" | grep -v interpreted)" != "$(printf '%s\n' "$OUT" | grep -v interpreted)" ] ||
        fail "--scalar did not change the result"
    tj run-cpu "$WORK/r.tj" --bind rows=4,cols=64 --scalar "$scalar=abc"
    expect_rc 2 "--scalar with a non-number"
}

test_cli_demo_runs_every_recipe() {
    tj demo --bundle "$WORK/demo.bundle"
    expect_rc 0 "demo" || return 1
    for r in $("$TJ" recipes | grep -Eo '^[a-z_0-9]+'); do
        printf '%s\n' "$OUT" | grep -Eq "^$r +[0-9]+ +[0-9]+ +[0-9a-f]{12} " ||
            { fail "demo has no row for '$r'"; return 1; }
    done
    printf '%s\n' "$OUT" | grep -q FAILED && fail "a demo row failed"
    # The second part: a GPU table, a bundle, or why neither.
    if printf '%s\n' "$OUT" | grep -q '^prebuilt [0-9]* kernels for sm_90a'; then
        [ -s "$WORK/demo.bundle" ] || { fail "demo said it prebuilt but wrote no bundle"; return 1; }
    else
        printf '%s\n' "$OUT" | grep -Eq '^(JIT on |NVRTC is not available)' ||
            { fail "demo printed neither a GPU table nor a prebuild line"; return 1; }
    fi
    return 0
}

test_cli_demo_cpu_only_skips_gpu_part() {
    tj demo --cpu-only --bundle "$WORK/cpu.bundle"
    expect_rc 0 "demo --cpu-only" || return 1
    printf '%s\n' "$OUT" | grep -Eq '^(prebuilt|JIT on|No GPU)' && { fail "--cpu-only ran the GPU part"; return 1; }
    [ ! -e "$WORK/cpu.bundle" ] || fail "--cpu-only wrote a bundle"
}

test_cli_emit_prints_cuda_for_bound_graph() {
    "$TJ" dump softmax >"$WORK/s.tj" || { fail "dump softmax failed"; return 1; }
    local hash
    hash=$("$TJ" check "$WORK/s.tj" | awk '$1 == "hash" { print $2 }')
    tj emit "$WORK/s.tj" --bind cols=64
    expect_rc 0 "emit" || return 1
    case "$OUT" in *"__global__"*) ;; *) fail "emit printed no kernel"; return 1 ;; esac
    case "$OUT" in *"$hash"*) ;; *) fail "the kernel does not name the graph hash $hash"; return 1 ;; esac
    # cols is exact: it sizes a tile, so it must be bound.
    tj emit "$WORK/s.tj"
    expect_rc 2 "emit with cols unbound" && expect_err "cols" || return 1
    tj emit "$WORK/s.tj" --bind cols=64 --arch sm_70
    expect_rc 2 "emit for sm_70" && expect_err "sm_70" || return 1
    tj emit "$WORK/no-such-file.tj" --bind cols=64
    expect_rc 1 "emit of a missing file"
}

# Without NVRTC on the machine compile must fail with a message, not crash.
test_cli_compile_writes_cubin_or_says_why() {
    "$TJ" dump softmax >"$WORK/s.tj" || { fail "dump softmax failed"; return 1; }
    tj compile "$WORK/s.tj" --bind cols=64
    expect_rc 2 "compile without -o" || return 1
    tj compile "$WORK/s.tj" --bind cols=64 -o "$WORK/s.cubin"
    expect_no_crash || return 1
    if [ "$RC" = 0 ]; then
        [ "$(head -c 4 "$WORK/s.cubin" | od -An -c | tr -d ' ')" = '177ELF' ] ||
            fail "compile wrote no ELF cubin"
    else
        expect_rc 1 "compile with no NVRTC" || return 1
        printf '%s\n' "$ERR" | grep -qi nvrtc || fail "the compile failure does not mention NVRTC"
    fi
}

test_cli_tune_model_ranks_tiles_without_a_gpu() {
    tj tune gemm trans_b=1 --shape 128x4096x4096 --shape 4096x4096x4096 --model
    expect_rc 0 "tune --model" || return 1
    # each shape's first row is the model's pick
    local picks
    picks=$(printf '%s\n' "$OUT" | awk '/^  tile/ { getline; print $1 }' | tr '\n' ' ')
    [ "$picks" = "64x64x128 128x128x64 " ] || fail "the model picked '$picks'"
}

test_cli_tune_without_a_gpu_says_it_needs_one() {
    tj tune gemm trans_b=1 --shape 64x64x64 --reps 5 --top 1 --no-store --dir "$WORK/tune"
    expect_no_crash || return 1
    [ "$RC" = 0 ] && return 0   # a GPU is here: it tuned
    expect_rc 1 "tune with no GPU" && expect_err "needs a CUDA GPU"
}

test_cli_tune_rejects_bad_usage() {
    tj tune
    expect_rc 2 "tune with no recipe" || return 1
    tj tune attention --shape 1x2x3
    expect_rc 2 "tune attention" && expect_err "tune takes gemm" || return 1
    tj tune gemm
    expect_rc 2 "tune with no shape" && expect_err "--shape" || return 1
    tj tune gemm --shape 12x0x5
    expect_rc 2 "tune of a zero dim" && expect_err "12x0x5" || return 1
    tj tune gemm trans_c=1 --shape 64x64x64 --model
    expect_rc 2 "tune with a bad parameter" && expect_err "trans_c" || return 1
    tj tune gemm bm=96 --shape 64x64x64 --model
    expect_rc 2 "tune with a bad tile" && expect_err "bm"
}

for t in $(declare -F | awk '{ print $3 }' | grep '^test_cli_'); do
    run_test "$t"
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
