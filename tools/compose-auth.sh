#!/usr/bin/env bash
# Prepares the tokens docker-compose.yml mounts (AUTH=on in deploy/env/lathe.env), once,
# before the first `docker compose up`:
#   var/auth/tokens               the token file (hashes only), mounted read-only into every
#                                 daemon at /etc/lathe/auth; readable by the daemons' uid
#   var/auth/admin.secret         the secret of the token "admin" (scope admin), for you:
#                                 MLFLOW_TRACKING_TOKEN=$(cat var/auth/admin.secret)
#   var/auth/model-registry.env   TRACKER_TOKEN=<secret> of the token "model-registry"
#                                 (scope read): the registry's own, for its tracker calls
# Run again, it keeps what exists. More tokens: tools/lathe-token new NAME SCOPE
# var/auth/tokens (the daemons see them within a second).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=var/auth
mkdir -p "$dir"
chmod 0755 "$dir"
tokens=$dir/tokens
if [ ! -s "$dir/admin.secret" ]; then
	(umask 077 && tools/lathe-token new admin admin "$tokens" >"$dir/admin.secret")
fi
if [ ! -s "$dir/model-registry.env" ]; then
	secret=$(tools/lathe-token new model-registry read "$tokens")
	(umask 077 && printf 'TRACKER_TOKEN=%s\n' "$secret" >"$dir/model-registry.env")
fi
# hashes only: the daemons run as uid 10001, not as you
chmod 0644 "$tokens"
echo "tokens in $tokens; your admin secret is in $dir/admin.secret"
