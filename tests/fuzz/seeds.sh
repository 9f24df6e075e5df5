#!/usr/bin/env bash
# Builds the seed corpora into build/fuzz/corpus/<harness>/ (build/ is not
# versioned). Each seed is named by its SHA-1, as libFuzzer names what it
# adds, so running this again adds nothing twice. Sources:
#   request    tests/fuzz/seeds/request/*.json; every JSON request body the
#              unit tests write (test_validate.c, test_anthropic.c, ...: the
#              C string literals after the preprocessor, ' read as "); the
#              one-line jq bodies of tests/e2e/run.sh, evaluated with sample
#              values; the Claude SDK's recorded requests;
#   sse        every .sse transcript of ../shared/fixtures and
#              ../shared/spec/recorded, behind the 3 bytes fuzz_sse.c reads
#              first (chunking seed, settings), in a few chunkings and caps;
#   anthropic  the Anthropic transcripts, bodies and error bodies of the
#              fixtures, behind fuzz_anthropic.c's 2 bytes of flags, plus
#              tests/fuzz/seeds/anthropic/ (named FLAGS-BYTE-name, in hex);
#   openai     the recorded OpenAI and vLLM streams, plus
#              tests/fuzz/seeds/openai/ (named as above);
#   config     tests/fuzz/seeds/config/*.conf and etc/axon.conf.example, each
#              with etc/models.conf or the seeds' models file, the keys file
#              and the secret, NUL-separated as fuzz_config.c reads them;
#   conv       tests/fuzz/seeds/conv/*.jsonl and the request seeds' message
#              lists, as the RESP of conv_load's script reply and of an HMGET.
#   seal       tests/fuzz/seeds/seal/ (a mode byte, then an encrypted_content
#              sealed with fuzz_seal.c's keys, or plaintext), as they are.
# Usage: tests/fuzz/seeds.sh [harness...]  (default: all)
set -euo pipefail
cd "$(dirname "$0")/../.."
export LC_ALL=C
SEEDS=tests/fuzz/seeds
FIXTURES=${AXON_FIXTURES:-../shared/fixtures}
[[ -d $FIXTURES ]] || FIXTURES=tests/data/fixtures
RECORDED=../shared/spec/recorded
[[ -d $RECORDED ]] || RECORDED=tests/data/spec/recorded
OUT=${FUZZ_CORPUS_DIR:-build/fuzz/corpus} # where the corpora go
TENANT=0123456789abcdef # fuzz_conv.c's

# add HARNESS < bytes: one seed, named by its content.
add() {
  local tmp sum
  tmp=$(mktemp "$OUT/$1/.new.XXXXXX")
  cat >"$tmp"
  sum=$(sha1sum "$tmp" | cut -c1-40)
  mv "$tmp" "$OUT/$1/$sum"
}

# hexbyte XX: that byte on stdout.
hexbyte() { printf "\\x$1"; }

seed_request() {
  local f
  for f in "$SEEDS"/request/*.json; do jq -c . "$f" | tr -d '\n' | add request; done
  # The unit tests' bodies: C literals joined after the preprocessor.
  local t
  for t in tests/unit/test_validate.c tests/unit/test_anthropic.c tests/unit/test_openai.c \
           tests/unit/test_json.c tests/unit/test_http.c; do
    [[ -f $t ]] || continue
    cc -E -P -Iinclude -Itests/unit -D_GNU_SOURCE "$t" 2>/dev/null | node -e '
      const src = require("fs").readFileSync(0, "utf8");
      const lit = /"((?:[^"\\\n]|\\.)*)"/g;
      const unC = (s) => s.replace(/\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)/g, (m, e) =>
        e[0] === "x" ? String.fromCharCode(parseInt(e.slice(1), 16)) :
        /^[0-7]/.test(e) ? String.fromCharCode(parseInt(e, 8)) :
        ({n: "\n", t: "\t", r: "\r", "0": "\0"})[e] ?? e);
      let m, joined = "", last = -1;
      const out = new Set();
      const flush = () => {
        let s = joined;
        if (s.startsWith("{\x27")) s = s.replace(/\x27/g, "\"");
        if (s.startsWith("{")) {
          try { const o = JSON.parse(s); if (o && typeof o === "object" && ("messages" in o || "model" in o)) out.add(JSON.stringify(o)); } catch (e) {}
        }
        joined = "";
      };
      while ((m = lit.exec(src))) {
        if (last >= 0 && !/^\s*$/.test(src.slice(last, m.index))) flush();
        joined += unC(m[1]);
        last = lit.lastIndex;
      }
      flush();
      for (const s of out) console.log(s);
    ' | while IFS= read -r line; do printf '%s' "$line" | add request; done
  done
  # tests/e2e/run.sh's one-line jq bodies, with sample values for their variables.
  local weather time
  weather=$(sed -n "s/^WEATHER_TOOL='\(.*\)'$/\1/p" tests/e2e/run.sh)
  time=$(sed -n "s/^TIME_TOOL='\(.*\)'$/\1/p" tests/e2e/run.sh)
  WEATHER=${weather:-null} TIME=${time:-null} node -e '
    const { spawnSync } = require("child_process");
    const src = require("fs").readFileSync("tests/e2e/run.sh", "utf8");
    const w = process.env.WEATHER, t = process.env.TIME;
    const vals = { m: "gpt-4o", s: "Be terse.", q: "Weather in Paris?", c: "conv-0123456789abcdef0123456789abcdef",
      id: "call_01", stopword: "STOP", tool: w, t: `[${w},${t}]`,
      a: JSON.stringify({ role: "assistant", content: null, tool_calls: [{ id: "call_01", type: "function", function: { name: "get_weather", arguments: "{\"city\":\"Paris\"}" } }] }) };
    const base = { model: "gpt-4o", messages: [{ role: "user", content: "Hi" }] };
    const re = /jq -nc((?:\s+--arg(?:json)?\s+\w+\s+"[^"]*")*)\s+\x27([^\x27]*)\x27/g;
    let m;
    while ((m = re.exec(src))) {
      const args = ["-nc"];
      for (const a of m[1].matchAll(/--(arg(?:json)?)\s+(\w+)/g)) args.push("--" + a[1], a[2], vals[a[2]] ?? "x");
      args.push(m[2]);
      const r = spawnSync("jq", args, { encoding: "utf8" });
      if (r.status !== 0) continue;
      try {
        const o = JSON.parse(r.stdout);
        if (!o || typeof o !== "object" || Array.isArray(o)) continue;
        console.log(JSON.stringify("messages" in o ? o : { ...base, ...o }));
      } catch (e) {}
    }
  ' | while IFS= read -r line; do printf '%s' "$line" | add request; done
  # What the Anthropic SDK sent, read as an OpenAI body: the shapes overlap.
  for f in "$FIXTURES"/anthropic-recorded-exchange-*.json; do
    [[ -f $f ]] || continue
    jq -c '.[].request.body | select(type == "object")' "$f" |
      while IFS= read -r line; do printf '%s' "$line" | add request; done
  done
}

seed_sse() {
  local f pre
  for f in "$FIXTURES"/*.sse "$RECORDED"/*.sse "$SEEDS"/anthropic/*.sse "$SEEDS"/openai/*.sse; do
    [[ -f $f ]] || continue
    # seed (2 bytes, little-endian: its low 2 bits pick the piece size), settings
    # (low 2 bits: the cap; the rest: stop at that event).
    for pre in '01 00 03' '02 00 03' '07 01 02' '03 00 0b'; do
      { for b in $pre; do hexbyte "$b"; done; cat "$f"; } | add sse
    done
    # CRLF and CR line endings.
    { hexbyte 02; hexbyte 00; hexbyte 03; sed 's/$/\r/' "$f"; } | add sse
    { hexbyte 01; hexbyte 00; hexbyte 03; tr '\n' '\r' <"$f"; } | add sse
  done
}

# translator FLAGS BYTE HARNESS < payload
translator() { { hexbyte "$1"; hexbyte "$2"; cat; } | add "$3"; }

seed_anthropic() {
  local f flags
  for f in "$FIXTURES"/anthropic-*.sse; do
    [[ -f $f ]] || continue
    for flags in 03 01 07 0b; do translator "$flags" 01 anthropic <"$f"; done
  done
  for f in "$FIXTURES"/anthropic-nonstream-*.json; do
    [[ -f $f ]] || continue
    translator 00 00 anthropic <"$f"
    translator 08 01 anthropic <"$f"
  done
  for f in "$FIXTURES"/anthropic-error-*.json; do
    [[ -f $f ]] || continue
    local status
    status=$(jq -r '.status_code' "$f")
    jq -c '.body' "$f" | tr -d '\n' | translator 10 "$(printf '%02x' $(((status - 400) & 255)))" anthropic
  done
  for f in "$FIXTURES"/anthropic-recorded-exchange-*.json; do
    [[ -f $f ]] || continue
    jq -r '.[].response.body | select(type == "string")' "$f" | translator 03 00 anthropic
    jq -c '.[].response.body | select(type == "object")' "$f" |
      while IFS= read -r line; do printf '%s' "$line" | translator 00 00 anthropic; done
  done
  seed_named anthropic
}

# tests/fuzz/seeds/<harness>/FLAGS-BYTE-name: the two bytes from the name.
seed_named() {
  local f base
  for f in "$SEEDS/$1"/*; do
    [[ -f $f ]] || continue
    base=$(basename "$f")
    translator "${base:0:2}" "${base:3:2}" "$1" <"$f"
  done
}

seed_openai() {
  local f flags
  for f in "$RECORDED"/*.sse "$FIXTURES"/vllm-*.sse; do
    [[ -f $f ]] || continue
    local g=00
    [[ $f == *n3* ]] && g=04
    for flags in 03 01 07 0b; do translator "$flags" "$g" openai <"$f"; done
  done
  seed_named openai
}

seed_config() {
  local conf models
  for conf in "$SEEDS"/config/*.conf etc/axon.conf.example; do
    [[ -f $conf && $conf != *models* ]] || continue
    for models in etc/models.conf "$SEEDS"/config/models-servers.conf; do
      { cat "$conf"; hexbyte 00; cat "$models"; hexbyte 00; cat "$SEEDS/config/keys"; hexbyte 00
        cat "$SEEDS/config/secret"; } | add config
    done
  done
}

# RESP helpers: a bulk string (byte length) and an array header.
bulk() { printf '$%d\r\n%s\r\n' "${#1}" "$1"; }
arr() { printf '*%d\r\n' "$1"; }

# conv_record < one JSON message per line: the EXEC reply, then an HMGET reply.
conv_record() {
  local -a msgs=()
  local line bytes=0
  while IFS= read -r line; do
    [[ -n $line ]] || continue
    msgs+=("$line")
    bytes=$((bytes + ${#line}))
  done
  local -a meta=(owner "$TENANT" model gpt-4o created 1770000000 updated "${1:-1770000600}"
                 message_count "${#msgs[@]}" bytes "$bytes")
  arr 2
  arr "${#meta[@]}"
  for line in "${meta[@]}"; do bulk "$line"; done
  arr "${#msgs[@]}"
  for line in "${msgs[@]}"; do bulk "$line"; done
  arr 6
  for ((i = 1; i < ${#meta[@]}; i += 2)); do bulk "${meta[i]}"; done
}

seed_conv() {
  local f
  for f in "$SEEDS"/conv/*.jsonl; do
    conv_record <"$f" | add conv
    conv_record 60 <"$f" | add conv # a small budget: conv_fit drops turns
  done
  for f in "$SEEDS"/request/*.json; do
    jq -c '.messages[]?' "$f" | conv_record | add conv
  done
  # Not ours: an empty hash, a WRONGTYPE error inside EXEC, another tenant.
  printf '*2\r\n*0\r\n*0\r\n' | add conv
  # A large history: the meta, and nil where the messages would be (read in parts).
  printf '*2\r\n*12\r\n$5\r\nowner\r\n$16\r\n0123456789abcdef\r\n$5\r\nmodel\r\n$1\r\nm\r\n$7\r\ncreated\r\n$1\r\n1\r\n$7\r\nupdated\r\n$1\r\n1\r\n$13\r\nmessage_count\r\n$3\r\n400\r\n$5\r\nbytes\r\n$7\r\n9000000\r\n$-1\r\n' | add conv
  printf '*2\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n*0\r\n' | add conv
  printf '*2\r\n*2\r\n$5\r\nowner\r\n$3\r\nabc\r\n*1\r\n$2\r\n{}\r\n' | add conv
}

seed_seal() {
  local f
  for f in "$SEEDS"/seal/*; do add seal <"$f"; done
}

# resp: tests/fuzz/seeds/resp/*.json, Responses bodies in the shapes Codex,
# the AI SDK and the openai SDK send.
seed_resp() {
  local f
  for f in "$SEEDS"/resp/*.json; do jq -c . "$f" | tr -d '\n' | add resp; done
}

harnesses=("$@")
[[ ${#harnesses[@]} -gt 0 ]] || harnesses=(request sse anthropic openai config conv seal resp)
for h in "${harnesses[@]}"; do
  mkdir -p "$OUT/$h"
  "seed_$h"
  echo "fuzz: corpus $h: $(find "$OUT/$h" -maxdepth 1 -type f | wc -l) inputs"
done
