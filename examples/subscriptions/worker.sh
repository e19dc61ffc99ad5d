#!/usr/bin/env bash
# A pull-wake worker with curl and jq: subscribes to every stream under
# events/, waits for wake events on its wake stream, claims the wake, reads
# each pending stream from its acknowledged offset, prints what is new and
# acknowledges it. Run several: only one holds a wake at a time.
#
#   examples/subscriptions/worker.sh http://127.0.0.1:4437/v1/stream [WORKER-NAME] [--once]
#
# --once: exit after the first wake is processed (used by the tests).
# The server needs no flag for pull-wake subscriptions (webhooks need --webhooks).
set -euo pipefail
base=${1:?usage: worker.sh STREAM-ROOT-URL [WORKER-NAME] [--once]}
worker=${2:-worker-$$}
once=${3:-}
sub=events-worker
wake=workers/wake
json='Content-Type: application/json'

# The wake stream (an existing one is fine) and the subscription (a re-PUT
# with the same configuration answers 200).
curl -fsS -o /dev/null -X PUT -H "$json" -d '[]' "$base/$wake"
curl -fsS -o /dev/null -X PUT -H "$json" "$base/__ds/subscriptions/$sub" \
  -d "{\"type\":\"pull-wake\",\"pattern\":\"events/**\",\"wake_stream\":\"$wake\",\"lease_ttl_ms\":30000}"

# Reads one stream from `from` up to `tail`, printing each chunk; echoes the offset reached.
read_stream() {
  local path=$1 from=$2 tail=$3 headers body
  headers=$(mktemp)
  while [ "$from" \< "$tail" ]; do
    body=$(curl -fsS -D "$headers" "$base/$path?offset=$from")
    echo "$path: $body" >&2
    from=$(tr -d '\r' <"$headers" | awk -F': ' 'tolower($1)=="stream-next-offset" {print $2}')
  done
  rm -f "$headers"
  echo "$from"
}

# Claims the pending work, processes every stream, acks with done. False when there is nothing to do.
process_wake() {
  local answer status claim acks="[]" path from tail reached
  answer=$(curl -sS -w '\n%{http_code}' -X POST -H "$json" -d "{\"worker\":\"$worker\"}" \
    "$base/__ds/subscriptions/$sub/claim")
  status=${answer##*$'\n'}
  claim=${answer%$'\n'*}
  if [ "$status" != 200 ]; then
    echo "$worker: no claim ($(jq -r .error.code <<<"$claim"))" >&2
    return 1
  fi
  while read -r path from tail; do
    reached=$(read_stream "$path" "$from" "$tail")
    acks=$(jq -c --arg s "$path" --arg o "$reached" '. + [{stream: $s, offset: $o}]' <<<"$acks")
  done < <(jq -r '.streams[] | select(.has_pending) | "\(.path) \(.acked_offset) \(.tail_offset)"' <<<"$claim")
  jq -c --argjson acks "$acks" '{wake_id, generation, acks: $acks, done: true}' <<<"$claim" |
    curl -fsS -o /dev/null -X POST -H "$json" -H "Authorization: Bearer $(jq -r .token <<<"$claim")" \
      --data-binary @- "$base/__ds/subscriptions/$sub/ack"
  echo "$worker: acked generation $(jq -r .generation <<<"$claim"): $acks" >&2
}

# Work left from before we started, then every wake event as it arrives
# (long-poll from the wake stream's tail as it was before the first claim,
# so no event that arrives meanwhile is missed).
offset=$(curl -fsS -I "$base/$wake" | tr -d '\r' | awk -F': ' 'tolower($1)=="stream-next-offset" {print $2}')
while true; do
  if process_wake && [ "$once" = --once ]; then
    exit 0
  fi
  headers=$(mktemp)
  curl -sS -o /dev/null -D "$headers" --max-time 60 "$base/$wake?offset=$offset&live=long-poll" || sleep 1
  next=$(tr -d '\r' <"$headers" | awk -F': ' 'tolower($1)=="stream-next-offset" {print $2}')
  rm -f "$headers"
  offset=${next:-$offset}
done
