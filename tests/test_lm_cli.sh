#!/bin/sh
# test_lm_cli.sh EMBER MODELS_DIR LM_DIR — the language-model commands of the CLI:
#   - `ember generate --json` reproduces the golden greedy ids (prompt and BOS runs);
#   - `ember convert` refuses damaged checkpoints with a clear message and exit code 1;
#   - `ember generate` refuses a prompt longer than the context;
#   - `ember make-random-llama` + convert + bench-lm work end to end on a tiny shape;
#     bench-lm's weight bytes per token, --profile and ember bench-mem run.
set -eu
ember=$1 models=$2 lm=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# The golden ids as "a,b,c" (the JSON arrays flattened, spaces dropped).
golden_ids() { tr -d ' \n' <"$1" | sed 's/.*"greedy_ids":\[\([0-9,]*\)\].*/\1/'; }

out=$("$ember" generate "$models/stories260K.ember" --prompt "Once upon a time" -n 60 --temperature 0 --json)
json=$(printf '%s\n' "$out" | tail -n 1)
want=$(golden_ids "$lm/stories260K.prompt.golden.json")
case "$json" in
  *"\"prompt_ids\":[1,403,407,261,378],\"ids\":[$want],"*) echo "ok: prompt golden ids" ;;
  *) fail "prompt run: $json" ;;
esac
case "$json" in
  *'"text":"Once upon a time, there was a little girl named Lily.'*) echo "ok: prompt golden text" ;;
  *) fail "prompt text: $json" ;;
esac

json=$("$ember" generate "$models/stories260K.ember" -n 256 --temperature 0 --json --threads 2 | tail -n 1)
want=$(golden_ids "$lm/stories260K.golden.json")
case "$json" in
  *"\"ids\":[$want],"*) echo "ok: BOS golden ids (256 tokens)" ;;
  *) fail "BOS run: $json" ;;
esac

# Damaged checkpoints.
head -c 1000000 "$lm/stories260K.bin" >"$tmp/trunc.bin"
if "$ember" convert "$tmp/trunc.bin" --tokenizer "$lm/tok512.bin" -o "$tmp/x.ember" 2>"$tmp/err"; then
  fail "a truncated checkpoint converted"
fi
grep -q "implies a file of 1056540 bytes, but it has 1000000" "$tmp/err" || fail "truncated: $(cat "$tmp/err")"
echo "ok: truncated checkpoint refused: $(cat "$tmp/err")"
head -c 500000 "$lm/stories260K-f32.gguf" >"$tmp/trunc.gguf"
if "$ember" convert "$tmp/trunc.gguf" -o "$tmp/x.ember" 2>"$tmp/err"; then fail "a truncated GGUF converted"; fi
grep -q "GGUF: tensor .* past the end of the file" "$tmp/err" || fail "truncated gguf: $(cat "$tmp/err")"
echo "ok: truncated GGUF refused"
if "$ember" convert "$lm/stories260K.bin" --tokenizer "$lm/tokenizer.bin" -o "$tmp/x.ember" 2>"$tmp/err"; then
  fail "a mismatched tokenizer converted"
fi
grep -q "does not belong" "$tmp/err" || fail "mismatched tokenizer: $(cat "$tmp/err")"
echo "ok: mismatched tokenizer refused"

# A prompt longer than the context (aidreams: 128 positions).
long=$(yes "the dream of a long prompt" | head -n 40 | tr '\n' ' ')
if "$ember" generate "$models/aidreams260K.ember" --prompt "$long" -n 4 2>"$tmp/err" >/dev/null; then
  fail "a prompt longer than the context ran"
fi
grep -q "context overflow" "$tmp/err" || fail "long prompt: $(cat "$tmp/err")"
echo "ok: long prompt refused"

# Random weights end to end (tiny shape so the test stays fast).
"$ember" make-random-llama -o "$tmp/r.bin" --dim 64 --hidden 96 --layers 2 --heads 4 --kv-heads 2 --vocab 512 \
  --seq-len 64 --seed 3 >/dev/null
"$ember" convert "$tmp/r.bin" --tokenizer "$lm/tok512.bin" -o "$tmp/r.ember" >/dev/null
"$ember" bench-lm "$tmp/r.ember" --prompt-len 8 --gen 8 --runs 1 --json | grep -q '"decode_tok_s":' ||
  fail "bench-lm"
echo "ok: make-random-llama, convert, bench-lm"
# The benchmark tools run and say what they measured (their figures are not checked).
# The tiny model reads all its 94,528 float32 parameters per token (tied classifier).
"$ember" bench-lm "$tmp/r.ember" --prompt-len 8 --gen 8 --runs 1 --json --copy-on-load |
  grep -q '"weight_bytes_per_token":378112' || fail "bench-lm weight bytes per token"
"$ember" bench-lm "$tmp/r.ember" --prompt-len 8 --gen 8 --runs 1 --profile | grep -q "CacheAttention" ||
  fail "bench-lm --profile"
"$ember" bench-mem --size-mib 8 --passes 1 --threads 1,2 --json | grep -q '"threads":2,"gb_s":' ||
  fail "bench-mem"
if "$ember" bench-mem --threads 0 2>/dev/null; then fail "bench-mem --threads 0 accepted"; fi
echo "ok: bench-lm --json/--profile, bench-mem"
