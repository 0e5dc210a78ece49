#!/usr/bin/env bash
# Builds RelayGuard and runs a real Apache James 3.8.1 memory server with it, in the foreground.
#
#   ./run-james.sh            # Ctrl-C stops James cleanly
#
# Environment (all optional):
#   RELAYGUARD_MX_PORT          MX listener, no AUTH            (default 2525)
#   RELAYGUARD_SUBMISSION_PORT  submission, STARTTLS + AUTH     (default 5870)
#   RELAYGUARD_JMX_PORT         James JMX (RMI) registry        (default 9999)
#   RELAYGUARD_WEBADMIN_PORT    James WebAdmin, /metrics         (default 8000)
#   RELAYGUARD_DEMO_PASSWORD    password of demo@relayguard.test (default demo)
#   RELAYGUARD_RUN_DIR          James's working directory        (default run/james)
#   RELAYGUARD_FRESH=1          delete RELAYGUARD_RUN_DIR first: start over from conf-samples/single-node
#   RELAYGUARD_SKIP_BUILD=1     reuse the last build in target/
#
# The working directory is laid out at the first start and kept after: your edits to its conf/, the keystore,
# the JMX password and var/ (RelayGuard's suspensions file) survive a restart. Each start refreshes the jars in
# extensions-jars/ and writes the port variables into conf/ again (only the ports: bind addresses you edited stay).
# The memory server keeps its users in memory: the demo user is created at each start.
#
# The listeners, WebAdmin and the JMX registry bind to 127.0.0.1; James's JMX connector (RMI) also opens a random
# port on all interfaces (see README, "The two commands"). Needs only JDK 17 (or 11+) and Maven.
set -euo pipefail
cd "$(dirname "$0")"

MX_PORT="${RELAYGUARD_MX_PORT:-2525}"
SUBMISSION_PORT="${RELAYGUARD_SUBMISSION_PORT:-5870}"
JMX_PORT="${RELAYGUARD_JMX_PORT:-9999}"
WEBADMIN_PORT="${RELAYGUARD_WEBADMIN_PORT:-8000}"
DEMO_PASSWORD="${RELAYGUARD_DEMO_PASSWORD:-demo}"
RUN_DIR="${RELAYGUARD_RUN_DIR:-run/james}"
DEMO_USER="demo@relayguard.test"

for port in "$MX_PORT" "$SUBMISSION_PORT" "$JMX_PORT" "$WEBADMIN_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "run-james.sh: port $port on 127.0.0.1 is already in use (another James running?)." >&2
    echo "Choose others, e.g. RELAYGUARD_MX_PORT=2526 RELAYGUARD_SUBMISSION_PORT=5871 RELAYGUARD_JMX_PORT=9998 RELAYGUARD_WEBADMIN_PORT=8001 ./run-james.sh" >&2
    exit 1
  fi
done

if [ "${RELAYGUARD_SKIP_BUILD:-0}" != "1" ]; then
  echo "== Building RelayGuard (mvn package, tests skipped) ..."
  mvn -q -B -DskipTests package
fi

if [ "${RELAYGUARD_FRESH:-0}" = "1" ] && [ -e "$RUN_DIR" ]; then
  case "$(cd "$RUN_DIR" && pwd)" in
    /|"$HOME"|"$PWD") echo "run-james.sh: refusing to delete $RUN_DIR (RELAYGUARD_FRESH=1)" >&2; exit 1 ;;
  esac
  echo "== RELAYGUARD_FRESH=1: deleting $RUN_DIR"
  rm -rf "$RUN_DIR"
fi
mkdir -p "$RUN_DIR/conf" "$RUN_DIR/extensions-jars"
RUN_DIR="$(cd "$RUN_DIR" && pwd)"
if [ -f "$RUN_DIR/conf/smtpserver.xml" ]; then
  echo "== Reusing $RUN_DIR (conf, keystore, JMX password, var/ kept; RELAYGUARD_FRESH=1 starts over from conf-samples/single-node)"
else
  echo "== Installing into $RUN_DIR (conf from conf-samples/single-node)"
  cp conf-samples/single-node/* "$RUN_DIR/conf/"
fi
echo "== Refreshing $RUN_DIR/extensions-jars from target/extensions-jars"
rm -f "$RUN_DIR"/extensions-jars/*.jar
cp target/extensions-jars/* "$RUN_DIR/extensions-jars/"

# The port of the <bind> of each listener (by its jmxName), whatever port it had; the address stays as it is.
set_listener_port() { # file jmxName port
  awk -v name="$2" -v port="$3" '
    /<jmxName>/ { inside = index($0, "<jmxName>" name "</jmxName>") > 0 }
    inside && /<bind>[^<]*:[0-9]+<\/bind>/ { sub(/:[0-9]+<\/bind>/, ":" port "</bind>"); inside = 0 }
    { print }' "$1" > "$1.tmp" && mv "$1.tmp" "$1"
}
set_listener_port "$RUN_DIR/conf/smtpserver.xml" smtp-mx "$MX_PORT"
set_listener_port "$RUN_DIR/conf/smtpserver.xml" smtp-submission "$SUBMISSION_PORT"
sed -i "s#^jmx.port=.*#jmx.port=${JMX_PORT}#" "$RUN_DIR/conf/jmx.properties"
sed -i "s#^port=.*#port=${WEBADMIN_PORT}#" "$RUN_DIR/conf/webadmin.properties"
if [ ! -f "$RUN_DIR/conf/keystore" ]; then
  keytool -genkeypair -alias james -keyalg RSA -keysize 2048 -storetype PKCS12 \
    -keystore "$RUN_DIR/conf/keystore" -storepass james72laBalle -keypass james72laBalle \
    -dname "CN=localhost" -validity 365 >/dev/null 2>&1
fi

CLASSPATH_FILE=target/james-classpath.txt
JAVA_OPTS=(-Xmx512m
  "-Dworking.directory=$RUN_DIR"
  "-Dlogback.configurationFile=$RUN_DIR/conf/logback.xml"
  "-Dextra.props=$RUN_DIR/conf/jvm.properties")

# The previous start's log (the directory is kept) must not answer "started" for this one.
if [ -f "$RUN_DIR/james.log" ]; then mv -f "$RUN_DIR/james.log" "$RUN_DIR/james.log.1"; fi
echo "== Starting James 3.8.1 (log also in $RUN_DIR/james.log)"
java "${JAVA_OPTS[@]}" -cp "$(cat "$CLASSPATH_FILE")" org.apache.james.MemoryJamesServerMain \
  > >(tee "$RUN_DIR/james.log") 2>&1 &
JAMES_PID=$!

stop_james() {
  trap - INT TERM
  echo
  echo "== Stopping James (pid $JAMES_PID) ..."
  kill -TERM "$JAMES_PID" 2>/dev/null || true
  wait "$JAMES_PID" 2>/dev/null || true
  echo "== James stopped."
  exit 0
}
trap stop_james INT TERM

for _ in $(seq 1 600); do
  if grep -q "JAMES server started" "$RUN_DIR/james.log" 2>/dev/null; then break; fi
  if ! kill -0 "$JAMES_PID" 2>/dev/null; then
    echo "run-james.sh: James exited during startup; see the log above." >&2
    wait "$JAMES_PID" || exit $?
    exit 1
  fi
  sleep 0.5
done
grep -q "JAMES server started" "$RUN_DIR/james.log" || { echo "run-james.sh: James did not start in 300 s" >&2; stop_james; }

JMX_USER="$(awk '{print $1}' "$RUN_DIR/conf/jmxremote.password")"
JMX_PASSWORD="$(awk '{print $2}' "$RUN_DIR/conf/jmxremote.password")"
james_cli() {  # James's own CLI over JMX: james_cli Command args...
  java -cp "$(cat "$CLASSPATH_FILE")" -Dlogback.configurationFile="$RUN_DIR/conf/logback.xml" \
    org.apache.james.cli.ServerCmd -h 127.0.0.1 -p "$JMX_PORT" -username "$JMX_USER" -password "$JMX_PASSWORD" "$@" 2>&1
}
# The memory server starts without users; a persistent one (or a second run against the same James) has it already.
if ! ADD_USER_OUTPUT="$(james_cli AddUser "$DEMO_USER" "$DEMO_PASSWORD")"; then
  if printf '%s' "$ADD_USER_OUTPUT" | grep -qi "already exist"; then
    echo "== $DEMO_USER already exists (its password is unchanged)"
  else
    echo "run-james.sh: could not create $DEMO_USER over JMX (James keeps running): $ADD_USER_OUTPUT" >&2
  fi
fi
# RFC 5321 section 4.5.1: postmaster@ must be deliverable. James's ValidRcptHandler (in the sample, after RelayGuard's
# handler) refuses recipients that are neither users nor mapped, so postmaster@relayguard.test goes to the demo user.
if ! MAPPING_OUTPUT="$(james_cli AddAddressMapping postmaster relayguard.test "$DEMO_USER")"; then
  if ! printf '%s' "$MAPPING_OUTPUT" | grep -qi "already"; then
    echo "run-james.sh: could not map postmaster@relayguard.test to $DEMO_USER over JMX (James keeps running): $MAPPING_OUTPUT" >&2
  fi
fi

cat <<BANNER

==============================================================================================
 RelayGuard is guarding Apache James 3.8.1 (memory server; listeners, WebAdmin, JMX registry on 127.0.0.1)

   MX listener          127.0.0.1:${MX_PORT}     anyone may deliver to @relayguard.test; no AUTH
   Submission listener  127.0.0.1:${SUBMISSION_PORT}     STARTTLS, then AUTH PLAIN/LOGIN to relay
   Demo user            ${DEMO_USER} / ${DEMO_PASSWORD}  (mail to postmaster@relayguard.test is delivered to it)
   JMX                  service:jmx:rmi:///jndi/rmi://127.0.0.1:${JMX_PORT}/jmxrmi
                        user/password:  cat ${RUN_DIR}/conf/jmxremote.password
   Policy               ${RUN_DIR}/conf/relayguard.xml
   Refusal counter      metrics:name=relayguard.refused.relay.unauthenticated,type=meters (Count)
   Management bean      org.apache.james:type=extension,name=RelayGuard (usage, suspend, reload, bans, ...)
   Management routes    curl -s http://127.0.0.1:${WEBADMIN_PORT}/relayguard/health (WebAdmin: the same operations)
   Prometheus metrics   curl -s http://127.0.0.1:${WEBADMIN_PORT}/metrics | grep relayguard

 Try it (curl speaks SMTP):
   # 1. Relay attempt from a stranger: refused with 550 5.7.1
   printf 'Subject: relay test\r\n\r\nhi\r\n' | curl -sS smtp://127.0.0.1:${MX_PORT} \\
        --mail-from probe@example.org --mail-rcpt victim@remote.example -T -
   # 2. Local delivery: accepted (curl prints nothing and exits 0)
   printf 'Subject: hello\r\n\r\nhi\r\n' | curl -sS smtp://127.0.0.1:${MX_PORT} \\
        --mail-from friend@example.org --mail-rcpt ${DEMO_USER} -T - && echo accepted

 Prove it with the open-relay battery (24 cases; exit code 1 if any relay is accepted):
   java -jar target/extensions-jars/relayguard-*.jar probe --port ${MX_PORT} \\
        --relay-domain remote.example --local-domain relayguard.test
 (After 10 refused relays in 10 minutes, the MX listener answers 421 at connect for an hour: RelayGuard's
  probe ban. List and lift it over WebAdmin: curl -s http://127.0.0.1:${WEBADMIN_PORT}/relayguard/bans, then
  curl -X DELETE http://127.0.0.1:${WEBADMIN_PORT}/relayguard/bans/127.0.0.1; or over JMX: bean
  org.apache.james:type=extension,name=RelayGuard, operation lift.)

 Ctrl-C stops James.
==============================================================================================

BANNER

wait "$JAMES_PID"
