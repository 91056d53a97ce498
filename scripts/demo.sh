#!/usr/bin/env bash
# reach demo: runs a built-in AI-agent-like workload in its own cgroup while
# reachd observes it, then prints the reach it observed. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" -eq 0 ] || { echo "demo: needs root (loads BPF programs)" >&2; exit 1; }
CG_ROOT=$(awk '$3 == "cgroup2" {print $2; exit}' /proc/self/mounts)
[ -n "$CG_ROOT" ] || { echo "demo: no cgroup2 mount found" >&2; exit 1; }

CG="$CG_ROOT/reach-demo-$$"
WORK=$(mktemp -d /tmp/reach-demo.XXXXXX)
PORT=18090
# the interpreter itself, not a version-manager shim that would show up as tools
PYTHON=$(python3 -c 'import os, sys; print(os.path.realpath(sys.executable))')
DNS_IP=127.0.0.77
AGENT_PID=""
HTTP_PID=""
DNS_PID=""

cleanup() {
	[ -n "$AGENT_PID" ] && kill "$AGENT_PID" 2>/dev/null || true
	[ -n "$HTTP_PID" ] && kill "$HTTP_PID" 2>/dev/null || true
	[ -n "$DNS_PID" ] && kill "$DNS_PID" 2>/dev/null || true
	if [ -d "$CG" ]; then
		for p in $(cat "$CG/cgroup.procs" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
		rmdir "$CG" 2>/dev/null || true
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT

# What the pod would have mounted: a service-account token, an API key, an app dir.
mkdir -p "$WORK/sa" "$WORK/keys" "$WORK/app"
printf 'eyJhbGciOiJSUzI1NiJ9.demo.token' > "$WORK/sa/token"
printf 'sk-demo-not-a-real-key' > "$WORK/keys/openai.key"
printf 'OPENAI_BASE_URL=http://127.0.0.1:%s\n' "$PORT" > "$WORK/app/.env"

# A stand-in LLM endpoint on loopback, and a resolver that sends the
# provider's name there (the workload sees it through its resolv.conf).
python3 -m http.server "$PORT" --bind 127.0.0.1 --directory "$WORK/app" >/dev/null 2>&1 &
HTTP_PID=$!
dnsmasq --no-daemon --no-resolv --no-hosts --bind-interfaces --listen-address="$DNS_IP" --port=53 \
	--local-ttl=300 --address=/api.llm-provider.example/127.0.0.1 --user=root >/dev/null 2>&1 &
DNS_PID=$!
printf 'nameserver %s\n' "$DNS_IP" > "$WORK/resolv.conf"

mkdir "$CG"
echo "reach demo: starting reachd on cgroup ${CG#$CG_ROOT} ..."
./build/reachd --cgroup "$CG" --ready-file "$WORK/ready" --state-dir "$WORK/state" --socket "$WORK/reachd.sock" \
	--identity-rule "cgroup:${CG#$CG_ROOT} host/ai-agent" --policy scripts/demo-policy.yaml \
	> "$WORK/reach.txt" 2> "$WORK/reachd.log" &
AGENT_PID=$!
for _ in $(seq 100); do [ -f "$WORK/ready" ] && break; kill -0 "$AGENT_PID" 2>/dev/null || break; sleep 0.1; done
[ -f "$WORK/ready" ] || { echo "demo: reachd did not become ready:" >&2; cat "$WORK/reachd.log" >&2; exit 1; }

echo "reach demo: running the agent workload (reads its token and API key, calls tools) ..."
# In a private mount namespace, the files are where a pod has them, and
# nothing is created on the host: /run (so /var/run/secrets) and /srv are
# private tmpfs mounts there, and /etc an overlay whose changes land in
# $WORK. Only the workload sees the fake service-account token.
mkdir -p "$WORK/etc-upper" "$WORK/etc-work"
unshare -m sh -c "
	set -e
	mount --make-rprivate /
	resolv=\$(readlink -f /etc/resolv.conf)
	mount -t tmpfs -o size=1m,mode=0755 reach-demo /run
	[ -L /var/run ] || mount -t tmpfs -o size=1m,mode=0755 reach-demo /var/run
	[ -d /srv ] && mount -t tmpfs -o size=1m,mode=0755 reach-demo /srv
	mount -t overlay reach-demo -o lowerdir=/etc,upperdir='$WORK/etc-upper',workdir='$WORK/etc-work' /etc
	mkdir -p /var/run/secrets/kubernetes.io/serviceaccount /etc/llm/keys /srv/agent
	mount --bind '$WORK/sa' /var/run/secrets/kubernetes.io/serviceaccount
	mount --bind '$WORK/keys' /etc/llm/keys
	mount --bind '$WORK/app' /srv/agent
	# resolv.conf may be a symlink into /run (systemd-resolved): its target is in the tmpfs now
	case \$resolv in /run/*|/var/run/*) mkdir -p \$(dirname \$resolv); : > \$resolv; mount --bind '$WORK/resolv.conf' \$resolv ;;
	*) mount --bind '$WORK/resolv.conf' /etc/resolv.conf ;; esac
	echo \$\$ > '$CG/cgroup.procs'
	exec $PYTHON scripts/demo-agent.py $PORT
"

echo
echo "reach demo: the agent's reach ledger, per identity (reachctl reach):"
for _ in $(seq 30); do
	./build/reachctl reach --socket "$WORK/reachd.sock" --identity host/ai-agent > "$WORK/ledger.txt" 2>&1 &&
		grep -q openai.key "$WORK/ledger.txt" && break
	sleep 0.2
done
cat "$WORK/ledger.txt"
# REACH_DEMO_DOT=FILE: the same reach as a Graphviz graph (how docs/reach-demo.svg
# is drawn: REACH_DEMO_DOT=x.dot make demo; dot -Tsvg x.dot > docs/reach-demo.svg)
if [ -n "${REACH_DEMO_DOT:-}" ]; then
	./build/reachctl reach -o dot --socket "$WORK/reachd.sock" --identity host/ai-agent > "$REACH_DEMO_DOT"
fi
echo
echo "reach demo: verification against scripts/demo-policy.yaml (reachctl verify):"
set +e
./build/reachctl verify --socket "$WORK/reachd.sock" --identity host/ai-agent
echo "(reachctl verify exit code: $?; 0 pass, 1 findings, 2 could not verify)"
set -e
kill -TERM "$AGENT_PID"
wait "$AGENT_PID" || true
AGENT_PID=""
cat "$WORK/reach.txt"
grep -E 'warning|error' "$WORK/reachd.log" >&2 || true
