#!/bin/sh
# Container entrypoint: render lighttpd's config, check axon's settings, then
# become lighttpd (PID 1), which spawns axon with the FastCGI socket on fd 0.
#
# The root file system is read-only, so the rendered config goes to the
# writable run directory (an emptyDir in the chart). Placeholders filled here,
# from the environment:
#   AXON_BASE_PATH  URL prefix, "" or /seg[/seg...] of letters, digits and
#                   -._~ (what axon accepts); it also goes into regular
#                   expressions, with each . written [.]
#   AXON_DRAIN_S    seconds of graceful stop (default 30, as in axon)
#   AXON_PASS_ENV   extra names for bin-copy-environment, comma separated
#
# tests/chart/run.sh renders with the same script: AXON_ENTRYPOINT_RENDER_ONLY=1
# prints the config path and stops; AXON_CONF_IN and AXON_RUN_DIR move the files.
set -eu

conf_in=${AXON_CONF_IN:-/etc/axon/lighttpd.conf.in}
run_dir=${AXON_RUN_DIR:-/run/axon}
conf=$run_dir/lighttpd.conf

die() { echo "axon-entrypoint: $*" >&2; exit 2; }

base=${AXON_BASE_PATH:-}
if [ -n "$base" ]; then
    printf '%s' "$base" | grep -Eqx '(/[A-Za-z0-9._~-]+)+' ||
        die "AXON_BASE_PATH must be empty or like /axon (segments of letters, digits and -._~, no trailing slash): '$base'"
fi
base_re=$(printf '%s' "$base" | sed 's/[.]/[.]/g')

drain=${AXON_DRAIN_S:-30}
printf '%s' "$drain" | grep -Eqx '[0-9]{1,5}' || die "AXON_DRAIN_S must be a number of seconds: '$drain'"

pass=""
if [ -n "${AXON_PASS_ENV:-}" ]; then
    for name in $(printf '%s' "$AXON_PASS_ENV" | tr ',' ' '); do
        printf '%s' "$name" | grep -Eqx '[A-Za-z_][A-Za-z0-9_]*' ||
            die "AXON_PASS_ENV: '$name' is not a variable name"
        pass="$pass\"$name\", "
    done
fi

mkdir -p "$run_dir"
# The values are checked above, so they hold no sed or lighttpd metacharacters.
sed -e "s|\${AXON_BASE_PATH}|$base|g" \
    -e "s|\${AXON_BASE_PATH_RE}|$base_re|g" \
    -e "s|\${AXON_DRAIN_S}|$drain|g" \
    -e "s|\${AXON_PASS_ENV}|$pass|g" \
    "$conf_in" > "$conf"
# shellcheck disable=SC2016  # a literal ${NAME}
if grep -q '\${[A-Z_]*}' "$conf"; then
    die "$conf_in has placeholders this script does not fill: $(grep -o '\${[A-Z_]*}' "$conf" | sort -u | tr '\n' ' ')"
fi

if [ -n "${AXON_ENTRYPOINT_RENDER_ONLY:-}" ]; then
    echo "$conf"
    exit 0
fi

# A bad setting stops the pod here with axon's own message (CrashLoopBackOff
# with a reason in kubectl logs), instead of lighttpd respawning a failing axon.
/usr/local/bin/axon --check-config >&2 || die "axon rejected its configuration (message above)"

exec /usr/sbin/lighttpd -D -f "$conf"
