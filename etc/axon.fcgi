#!/bin/sh
# axon.fcgi: what mod_fcgid starts (etc/htaccess-fcgid). It sets Axon's
# environment and replaces itself with the axon binary, which inherits the
# listening socket on fd 0. Keep the binary and the settings file OUTSIDE the
# document root: the settings hold the API keys.
#   cp build/axon ~/axon/bin/axon
#   cp etc/axon.conf.example ~/axon/axon.conf   # keys, Valkey, upstream key
#   cp etc/axon.fcgi etc/htaccess-fcgid www/* ~/public_html/axon/
#   mv ~/public_html/axon/htaccess-fcgid ~/public_html/axon/.htaccess
#   chmod 755 ~/public_html/axon/axon.fcgi; chmod 600 ~/axon/axon.conf

# mod_fcgid sends one request at a time to a process: one worker thread is
# all it can use (concurrency comes from FcgidMaxProcessesPerClass).
export AXON_THREADS=1 AXON_MAX_THREADS=1
# The directory of this file, as the client sees it (the part before /v1/).
export AXON_BASE_PATH=/axon
export AXON_CONFIG="$HOME/axon/axon.conf"
exec "$HOME/axon/bin/axon"
