#!/bin/sh
# test_quantize_cli.sh EMBER MODELS_DIR — `ember quantize` as a user meets it
# (docs/language-models.md, "Quantised weights"): the per-tensor fallback for rows that
# are not whole blocks, the drift report, `ember info` of the result, and the refusals.
set -u
EMBER=$1
M=$2
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$EMBER" quantize "$M/stories260K.ember" -o "$OUT/q8.ember" --type q8_0 > "$OUT/q8.txt" 2>&1 || fail "q8_0: $(cat "$OUT/q8.txt")"
grep -q '^blk.0.ffn_down.weight .*float32 .*kept: rows of 172 are not whole blocks of 32' "$OUT/q8.txt" || fail "no fallback line for ffn_down"
grep -q '^blk.0.ffn_gate.weight .*q8_0x8' "$OUT/q8.txt" || fail "ffn_gate not quantised (q8_0x8)"
grep -q '^token_embd.weight .*q8_0x8' "$OUT/q8.txt" || fail "embedding not quantised"
grep -q '31 tensor(s) q8_0, 5 kept' "$OUT/q8.txt" || fail "summary: $(tail -2 "$OUT/q8.txt")"
grep -q 'greedy tokens equal for all 64 step(s)' "$OUT/q8.txt" || fail "drift line: $(tail -1 "$OUT/q8.txt")"
"$EMBER" info "$OUT/q8.ember" | grep -q 'q8_0x8 .*31 tensors' || fail "ember info does not list the q8_0x8 tensors"

"$EMBER" quantize "$M/stories260K.ember" -o "$OUT/q4.ember" --type q4_0 --steps 8 > "$OUT/q4.txt" 2>&1 || fail "q4_0: $(cat "$OUT/q4.txt")"
grep -q 'drift on "Once upon a time"' "$OUT/q4.txt" || fail "no q4_0 drift line"
grep -q '^blk.0.ffn_gate.weight .*q4_0x8' "$OUT/q4.txt" || fail "q4_0 matrices not stored as q4_0x8"
"$EMBER" quantize "$M/stories260K.ember" -o "$OUT/q4p.ember" --type q4_0 --plain --steps 8 > "$OUT/q4p.txt" 2>&1 || fail "q4_0 --plain: $(cat "$OUT/q4p.txt")"
grep -q '^blk.0.ffn_gate.weight .*q4_0 ' "$OUT/q4p.txt" || fail "--plain did not keep q4_0"
# The two layouts hold the same blocks: the same greedy text (sums differ in order only).
"$EMBER" generate "$OUT/q4.ember" --prompt "Once upon a time" -n 24 --json | tail -1 | sed 's/"prefill_tok_s.*//' > "$OUT/g1.txt"
"$EMBER" generate "$OUT/q4p.ember" --prompt "Once upon a time" -n 24 --json | tail -1 | sed 's/"prefill_tok_s.*//' > "$OUT/g2.txt"
cmp -s "$OUT/g1.txt" "$OUT/g2.txt" || fail "q4_0x8 and q4_0 generate differently: $(cat "$OUT/g1.txt") / $(cat "$OUT/g2.txt")"
grep -q '"ids":\[[0-9]' "$OUT/g1.txt" || fail "no ids: $(cat "$OUT/g1.txt")"

# Refusals: unknown type, missing -o, a tokenizer-only model, nothing left to quantise.
"$EMBER" quantize "$M/stories260K.ember" -o "$OUT/x.ember" --type q5_0 > "$OUT/e1.txt" 2>&1
[ $? -eq 2 ] && grep -q "unknown --type 'q5_0'" "$OUT/e1.txt" || fail "q5_0 not refused: $(cat "$OUT/e1.txt")"
"$EMBER" quantize "$M/stories260K.ember" --type q8_0 > /dev/null 2>&1
[ $? -eq 2 ] || fail "missing -o not refused"
"$EMBER" quantize "$M/llama-spm-vocab.ember" -o "$OUT/x.ember" --type q8_0 > "$OUT/e2.txt" 2>&1
[ $? -eq 1 ] && grep -q "no graph" "$OUT/e2.txt" || fail "tokenizer-only model: $(cat "$OUT/e2.txt")"
"$EMBER" quantize "$OUT/q8.ember" -o "$OUT/x.ember" --type q4_0 > "$OUT/e3.txt" 2>&1
[ $? -eq 1 ] && grep -q "stored as q8_0x8" "$OUT/e3.txt" && grep -q "no weight matrix" "$OUT/e3.txt" ||
    fail "re-quantising: $(cat "$OUT/e3.txt")"
[ ! -e "$OUT/x.ember" ] || fail "a refused run wrote its output"
echo "ok"
