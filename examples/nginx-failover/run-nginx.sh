#!/bin/sh
# Renders nginx.conf.template for this run and runs nginx in the foreground. `exec`: the harness's
# SIGTERM (and a fault's SIGKILL or SIGSTOP) reach nginx's master process itself.
set -eu
prefix="$RUN_DIR/logs/$HARNESS_SERVICE-nginx"  # kept with the logs: the rendered config is evidence too
mkdir -p "$prefix"
sed -e "s|@PREFIX@|$prefix|g" -e "s|@HOST@|$HOST|g" -e "s|@PORT@|$PORT|g" \
    -e "s|@UPSTREAM_A@|$UPSTREAM_A|g" -e "s|@UPSTREAM_B@|$UPSTREAM_B|g" \
    -e "s|@NEXT_UPSTREAM@|$NEXT_UPSTREAM|g" -e "s|@READ_TIMEOUT@|$READ_TIMEOUT|g" \
    -e "s|@FAIL_TIMEOUT@|$FAIL_TIMEOUT|g" \
    "$(dirname "$0")/nginx.conf.template" > "$prefix/nginx.conf"
# Debian installs nginx in /usr/sbin, which a non-root PATH may lack; $NGINX names another binary.
exec "${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}" -e stderr -p "$prefix" -c "$prefix/nginx.conf" -g 'daemon off;'
