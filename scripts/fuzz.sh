#!/usr/bin/env bash
# fuzz.sh SECONDS — builds every fuzz/fuzz_*.c as a libFuzzer target with clang
# (-fsanitize=fuzzer,address,undefined) against all library sources under src/
# except src/cli/, into build-fuzz/, then runs each for SECONDS with its seed
# corpus fuzz/corpus/<name>/ (new inputs go to build-fuzz/corpus/<name>/, the
# seeds in the repository are never modified). Exits non-zero if a target
# fails to build or finds a crash (artifacts in build-fuzz/).
set -euo pipefail
secs=${1:?usage: scripts/fuzz.sh SECONDS}
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/build-fuzz
CC=${CC:-clang}
mkdir -p "$out/obj"
flags=(-std=gnu11 -g -O1 -fno-omit-frame-pointer -I"$root/include" -I"$root/src" -ULEAP_HAVE_MPI
       $(pkg-config --cflags openblas))
libs=(-lzstd -lxxhash -lcyaml -lyaml -lcjson -lsqlite3 -lcivetweb -lz -lm -lpthread
      $(pkg-config --libs openblas))

# library objects once, instrumented for coverage but without libFuzzer's main
objs=()
while IFS= read -r src; do
    rel=${src#"$root"/src/}
    obj=$out/obj/${rel//\//_}.o
    "$CC" "${flags[@]}" -fsanitize=fuzzer-no-link,address,undefined -c "$src" -o "$obj"
    objs+=("$obj")
done < <(find "$root/src" -name '*.c' -not -path "$root/src/cli/*" | sort)

status=0
for target in "$root"/fuzz/fuzz_*.c; do
    name=$(basename "$target" .c)
    echo "== $name: build"
    "$CC" "${flags[@]}" -fsanitize=fuzzer,address,undefined "$target" "${objs[@]}" "${libs[@]}" \
        -o "$out/$name"
    mkdir -p "$out/corpus/$name"
    seeds=()
    [ -d "$root/fuzz/corpus/$name" ] && seeds=("$root/fuzz/corpus/$name")
    echo "== $name: run ${secs}s"
    if ! "$out/$name" -max_total_time="$secs" -artifact_prefix="$out/$name-" -print_final_stats=1 \
        "$out/corpus/$name" "${seeds[@]}" > "$out/$name.log" 2>&1; then
        echo "FAIL: $name (see $out/$name.log)"
        tail -40 "$out/$name.log"
        status=1
    else
        grep -E "stat::number_of_executed_units|Done" "$out/$name.log" | head -2
    fi
done
exit $status
