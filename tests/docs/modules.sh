#!/usr/bin/env bash
# Every module in src/ has a row in docs/architecture.md's module table (a
# cell naming it in backticks), so the table cannot fall behind the code.
set -euo pipefail
cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.."
missing=0
for f in src/*.c; do
    m=$(basename "$f" .c)
    if ! grep -q "^| .*\`$m\`" docs/architecture.md; then
        echo "docs/architecture.md: no row names the module \`$m\` ($f)"
        missing=1
    fi
done
exit "$missing"
