#!/usr/bin/env bash
# Prepares the tokens docker-compose.yml mounts (AUTH=on in deploy/env/lathe.env), once,
# before the first `docker compose up`:
#   var/auth/tokens               the token file (hashes only), mounted read-only into every
#                                 daemon at /etc/lathe/auth; readable by the daemons' uid
#   var/auth/admin.secret         the secret of the token "admin" (scope admin), for you:
#                                 MLFLOW_TRACKING_TOKEN=$(cat var/auth/admin.secret)
#   var/auth/<service>.env        the own token of each daemon that calls its peers, named
#                                 after the service, as each *_TOKEN setting it has for
#                                 them (compose's env_file of that service):
#     model-registry  read   TRACKER_TOKEN
#     inference-api   read   TRACKER_TOKEN REGISTRY_TOKEN
#     drift-monitor   write  TRACKER_TOKEN REGISTRY_TOKEN DATA_REGISTRY_TOKEN TRAINER_TOKEN
#                            (write for the trainer's retraining jobs)
#     trainer         write  TRACKER_TOKEN REGISTRY_TOKEN DATA_REGISTRY_TOKEN DRIFT_TOKEN
#                            (write for runs, artifacts and model versions)
#   One token per daemon, with the largest scope it needs: every daemon accepts every
#   token in the file, so one token per peer would not narrow what a daemon may do.
# Run again, it keeps what exists and adds what is missing (a stack set up before a
# daemon had peers gets that daemon's file). More tokens: tools/lathe-token new NAME
# SCOPE var/auth/tokens (the daemons see them within a second).
# LATHE_AUTH_DIR (default var/auth) writes elsewhere: tests/integration/
# test_container_env.c checks the files against each daemon's settings.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${LATHE_AUTH_DIR:-var/auth}
mkdir -p "$dir"
chmod 0755 "$dir"
tokens=$dir/tokens
if [ ! -s "$dir/admin.secret" ]; then
	(umask 077 && tools/lathe-token new admin admin "$tokens" >"$dir/admin.secret")
fi

# service_token SERVICE SCOPE SETTING...: the daemon's token, written to its env file as
# each SETTING. A token of that name without its env file (an interrupted run) has a
# secret nobody kept: it is replaced.
service_token() {
	local service=$1 scope=$2 secret
	shift 2
	[ -s "$dir/$service.env" ] && return 0
	if [ -f "$tokens" ] && tools/lathe-token list "$tokens" | awk -v n="$service" '$1 == n { f = 1 } END { exit !f }'; then
		tools/lathe-token revoke "$service" "$tokens"
	fi
	secret=$(tools/lathe-token new "$service" "$scope" "$tokens")
	(umask 077 && for setting in "$@"; do printf '%s=%s\n' "$setting" "$secret"; done >"$dir/$service.env")
}
service_token model-registry read TRACKER_TOKEN
service_token inference-api read TRACKER_TOKEN REGISTRY_TOKEN
service_token drift-monitor write TRACKER_TOKEN REGISTRY_TOKEN DATA_REGISTRY_TOKEN TRAINER_TOKEN
service_token trainer write TRACKER_TOKEN REGISTRY_TOKEN DATA_REGISTRY_TOKEN DRIFT_TOKEN
# hashes only: the daemons run as uid 10001, not as you
chmod 0644 "$tokens"
echo "tokens in $tokens; your admin secret is in $dir/admin.secret"
