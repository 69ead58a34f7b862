#!/usr/bin/env bash
# Downsampling-aware training: LR trained on a 10%-negatives sample, with the
# intercept refit on the un-sampled validation split, is calibrated within 2%
# (Σp/Σy) on the un-sampled test split; without the refit the correction alone
# leaves a regularised model's scores low, which this test also shows.
set -euo pipefail
: "${LEAP:?set LEAP to the leap binary}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
fail() { echo "FAIL: $*" >&2; exit 1; }
calib() { "$LEAP" eval --model "$1" --data s.test.lds --json | sed -n 's/.*"calibration": *\([0-9.]*\).*/\1/p' | head -1; }

"$LEAP" datagen --rows 300000 --seed 21 -o d.lds >/dev/null
"$LEAP" split d.lds --fractions 0.6,0.2,0.2 --neg-rate 0.1 -o s >/dev/null
"$LEAP" train --model lr --train s.train.lds --valid s.valid.lds -o cal.leap --quiet
"$LEAP" inspect cal.leap | grep -q "^calibration.logit_shift" || fail "no logit shift recorded"
c=$(calib cal.leap)
echo "calibration with the intercept refit: $c"
awk -v c="$c" 'BEGIN{exit !(c >= 0.98 && c <= 1.02)}' || fail "calibration $c not within 2% of 1"
"$LEAP" train --model lr --train s.train.lds --valid s.valid.lds -o raw.leap --set recalibrate=false --quiet
c0=$(calib raw.leap)
echo "calibration with the correction alone: $c0"
awk -v a="$c" -v b="$c0" 'BEGIN{da=a-1; if(da<0)da=-da; db=b-1; if(db<0)db=-db; exit !(da < db)}' \
    || fail "the refit did not bring calibration closer to 1 ($c vs $c0)"
echo "test_downsampling: ok"
