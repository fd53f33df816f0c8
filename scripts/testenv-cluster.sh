# `scripts/testenv up DIR` and `down DIR`: a real Kubernetes control plane on loopback.
# Sourced by scripts/testenv (which sets $cache and $here). Everything lives in DIR:
#   DIR/kubeconfig   cluster-admin (client certificate in group system:masters)
#   DIR/pids         "name pid" of every process started here; `down` stops exactly these
#   DIR/logs/        each component's log;  DIR/pki/  the certificates made for this cluster
#   DIR/pods/        the pod runner's per-pod roots and container logs
#   DIR/env          shell assignments other tools may source (ports, pod CIDR, binaries)
# SKIPPER_TESTENV_OWNER_PID: when that process ends, a watchdog runs `down DIR` (the Rust
# harness sets it, so a test binary that exits or is killed leaves nothing running).
# SKIPPER_TESTENV_NODES: how many fake nodes (default 1).
# SKIPPER_TESTBED_GATEWAY_BIN: the skipper-gateway binary the pod runner runs for the
# gateway's image; nothing here filters the environment, so the runner inherits it.

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Starts "$@" in its own session (so `down` can stop it and its children as a group),
# logging to DIR/logs/NAME.log, and records its pid.
start() {
  local name="$1"; shift
  setsid "$@" >"$dir/logs/$name.log" 2>&1 </dev/null &
  echo "$name $!" >>"$dir/pids"
}

# Waits up to $2 seconds for the command "${@:3}" to succeed; names $1 on timeout.
wait_for() {
  local what="$1" seconds="$2"; shift 2
  local deadline=$((SECONDS + seconds)) component="${what%% *}" pid
  pid="$(awk -v n="$component" '$1 == n { print $2 }' "$dir/pids")"
  until "$@" >/dev/null 2>&1; do
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      log "$component exited; its log ends:"
      tail -n 20 "$dir/logs/$component.log" >&2 2>/dev/null || true
      return 1
    fi
    if [ $SECONDS -ge $deadline ]; then
      log "$what not ready after ${seconds}s; its log ends:"
      tail -n 20 "$dir/logs/${what%% *}.log" >&2 2>/dev/null || true
      return 1
    fi
    sleep 0.2
  done
}

make_pki() {
  local pki="$dir/pki"
  mkdir -p "$pki"
  (
    cd "$pki"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
      -subj "/CN=skipper-testenv-ca" -keyout ca.key -out ca.crt 2>/dev/null
    # The API server's serving certificate: the names in-cluster clients and this host use.
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=kube-apiserver" \
      -keyout apiserver.key -out apiserver.csr 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local\nextendedKeyUsage=serverAuth\n' >apiserver.ext
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
      -extfile apiserver.ext -out apiserver.crt 2>/dev/null
    # cluster-admin: group system:masters bypasses RBAC (the tests act as the cluster owner).
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/O=system:masters/CN=skipper-testenv-admin" \
      -keyout admin.key -out admin.csr 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' >admin.ext
    openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
      -extfile admin.ext -out admin.crt 2>/dev/null
    # kwok's kubelet-like server (log requests from the API server).
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=kwok" \
      -keyout kwok.key -out kwok.csr 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >kwok.ext
    openssl x509 -req -in kwok.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
      -extfile kwok.ext -out kwok.crt 2>/dev/null
    # Service-account token signing.
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out sa.key 2>/dev/null
    openssl pkey -in sa.key -pubout -out sa.pub 2>/dev/null
  )
}

write_kubeconfig() {
  local b64="base64 -w0"
  cat >"$dir/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: skipper-testenv
  cluster:
    server: https://127.0.0.1:$apiserver_port
    certificate-authority-data: $($b64 <"$dir/pki/ca.crt")
users:
- name: skipper-testenv-admin
  user:
    client-certificate-data: $($b64 <"$dir/pki/admin.crt")
    client-key-data: $($b64 <"$dir/pki/admin.key")
contexts:
- name: skipper-testenv
  context: { cluster: skipper-testenv, user: skipper-testenv-admin }
current-context: skipper-testenv
EOF
  chmod 600 "$dir/kubeconfig"
}

# etcd and the API server for $dir (globals: dir, bin; sets etcd_port, apiserver_port),
# then DIR/kubeconfig; returns once the API server is ready.
start_api() {
  etcd_port=$(free_port); etcd_peer=$(free_port); apiserver_port=$(free_port)
  start etcd "$bin/etcd" --name testenv --data-dir "$dir/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$etcd_peer" --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer" \
    --initial-cluster "testenv=http://127.0.0.1:$etcd_peer" --unsafe-no-fsync --log-level warn
  wait_for etcd 30 curl -fsS "http://127.0.0.1:$etcd_port/health"

  # Roughly what controller-runtime's envtest passes, with admission left as a real
  # cluster has it (ServiceAccount and PodSecurity included): what a real API server
  # would refuse, this one refuses.
  start kube-apiserver "$bin/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$etcd_port" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$apiserver_port" \
    --tls-cert-file "$dir/pki/apiserver.crt" --tls-private-key-file "$dir/pki/apiserver.key" \
    --client-ca-file "$dir/pki/ca.crt" --authorization-mode RBAC \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$dir/pki/sa.pub" --service-account-signing-key-file "$dir/pki/sa.key" \
    --service-cluster-ip-range 10.96.0.0/16 --allow-privileged=true \
    --kubelet-client-certificate "$dir/pki/admin.crt" --kubelet-client-key "$dir/pki/admin.key" \
    --kubelet-preferred-address-types InternalIP \
    --endpoint-reconciler-type none \
    --profiling=false --v=1
  write_kubeconfig
  wait_for kube-apiserver 60 "$bin/kubectl" --kubeconfig "$dir/kubeconfig" get --raw /readyz
}

# SKIPPER_TESTENV_CRDS (directories, space-separated): CRDs every cluster starts with.
# Installing the ~60 the tests need takes the API server ~13 s, so it is done once: a
# seed cluster (etcd and the API server alone, nothing else writes) installs them, waits
# until each is Established, stops, and its etcd data becomes $cache/seeds/<hash of the
# CRD files>; each cluster's etcd then starts from a copy. Nothing in the seed depends on
# the seed's own certificates: the API server rewrites what it publishes at every start,
# and no controller (no ServiceAccount token, no CA ConfigMap) ever ran on it.
seed_etcd() {
  local target="$1" key crds
  crds="${SKIPPER_TESTENV_CRDS:-}"
  [ -n "$crds" ] || return 0
  # shellcheck disable=SC2086
  key="$( (echo "$RECIPE"; find $crds -type f \( -name '*.yaml' -o -name '*.yml' -o -name '*.json' \) -print0 | sort -z | xargs -0 sha256sum | awk '{print $1}') | sha256sum | cut -c1-16)"
  local seed="$cache/seeds/$key"
  if [ ! -d "$seed" ]; then
    log "seeding a cluster with the CRDs in $crds (once per CRD set)"
    local build="$cache/seeds/.build.$$"
    rm -rf "$build"; mkdir -p "$build/logs"
    (
      dir="$build"; : >"$dir/pids"
      trap 'cluster_down "$dir" keep-dir' EXIT
      make_pki
      start_api
      local d
      for d in $crds; do
        "$bin/kubectl" --kubeconfig "$dir/kubeconfig" apply --server-side --force-conflicts --recursive -f "$d" >"$dir/logs/crds.log" 2>&1 \
          || { log "installing the CRDs in $d failed:"; tail -n 20 "$dir/logs/crds.log" >&2; exit 1; }
      done
      "$bin/kubectl" --kubeconfig "$dir/kubeconfig" wait --for condition=Established --timeout 120s crd --all >/dev/null
    ) || { rm -rf "$build"; return 1; }
    mv "$build/etcd" "$build/seed-etcd" && mv -T "$build/seed-etcd" "$seed" 2>/dev/null || true
    rm -rf "$build"
  fi
  cp -a "$seed" "$target"
}

cluster_up() {
  dir="$1"
  local bin
  bin="$cache/bin"
  for b in etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok; do
    [ -x "$bin/$b" ] || { log "$bin/$b is missing: run scripts/testenv install"; exit 1; }
  done
  [ -e "$dir/pids" ] && { log "$dir already holds a cluster (scripts/testenv down $dir)"; exit 1; }
  mkdir -p "$dir/logs" "$dir/pods"
  dir="$(cd "$dir" && pwd)"
  : >"$dir/pids"
  trap 'log "start failed; stopping what started"; cluster_down "$dir" keep-dir; exit 1' ERR

  local etcd_port etcd_peer apiserver_port kwok_port octet
  kwok_port=$(free_port)
  # Pod IPs: a /16 inside 127.0.0.0/8 (every address there is this host's loopback), its
  # second octet picked at random so two clusters on one machine rarely share addresses.
  octet=$((100 + RANDOM % 150))
  local pod_cidr="127.$octet.0.0/16"
  make_pki
  seed_etcd "$dir/etcd"

  start_api
  local kc=("$bin/kubectl" --kubeconfig "$dir/kubeconfig")

  # kwok's Logs resource: the pod runner names each container's log file in one, and
  # kwok's server answers the API server's log requests from it (`kubectl logs` works).
  "${kc[@]}" apply --server-side -f "$here/test-support/fixtures/crds/kwok/kwok.x-k8s.io_logs.yaml" >/dev/null
  "${kc[@]}" wait --for condition=Established --timeout 30s crd/logs.kwok.x-k8s.io >/dev/null

  start kube-controller-manager "$bin/kube-controller-manager" \
    --kubeconfig "$dir/kubeconfig" --leader-elect=false --secure-port 0 \
    --service-account-private-key-file "$dir/pki/sa.key" --root-ca-file "$dir/pki/ca.crt" \
    --use-service-account-credentials=false --controllers '*' --v=1
  start kube-scheduler "$bin/kube-scheduler" --kubeconfig "$dir/kubeconfig" --leader-elect=false --secure-port 0 --v=1
  start kwok "$bin/kwok" --kubeconfig "$dir/kubeconfig" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
    --cidr "$pod_cidr" --node-ip 127.0.0.1 --node-port "$kwok_port" --server-address "127.0.0.1:$kwok_port" \
    --tls-cert-file "$dir/pki/kwok.crt" --tls-private-key-file "$dir/pki/kwok.key" \
    --node-lease-duration-seconds 40 --enable-crds Logs \
    --config "$here/test-support/testbed/kwok-stages.yaml"

  local n nodes=()
  for n in $(seq 1 "${SKIPPER_TESTENV_NODES:-1}"); do
    nodes+=("testbed-node-$n")
    "${kc[@]}" apply --server-side -f - >/dev/null <<EOF
apiVersion: v1
kind: Node
metadata:
  name: testbed-node-$n
  annotations: { kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: "0" }
  labels:
    kubernetes.io/hostname: testbed-node-$n
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    type: kwok
EOF
  done

  start pod-runner python3 "$here/test-support/testbed/pod_runner.py" --kubeconfig "$dir/kubeconfig" \
    --pods "$dir/pods" --engine "$here/test-support/testbed/engine_double.py"

  cat >"$dir/env" <<EOF
TESTENV_BIN=$bin
TESTENV_APISERVER=https://127.0.0.1:$apiserver_port
TESTENV_ETCD=http://127.0.0.1:$etcd_port
TESTENV_POD_CIDR=$pod_cidr
TESTENV_NODES="${nodes[*]}"
EOF
  for n in "${nodes[@]}"; do
    wait_for "kwok (node $n Ready)" 30 "${kc[@]}" wait --for condition=Ready --timeout 1s "node/$n"
  done
  # The service-account controller makes each namespace's `default` ServiceAccount; until
  # it runs, the ServiceAccount admission plugin refuses pods.
  wait_for "kube-controller-manager (default ServiceAccount)" 30 "${kc[@]}" get serviceaccount default -n default
  trap - ERR

  if [ -n "${SKIPPER_TESTENV_OWNER_PID:-}" ]; then
    # Watchdog: stop the cluster when its owner is gone.
    setsid bash -c 'while kill -0 "$0" 2>/dev/null && [ -e "$2/pids" ]; do sleep 1; done; [ -e "$2/pids" ] && exec "$1" down "$2"' \
      "$SKIPPER_TESTENV_OWNER_PID" "$here/scripts/testenv" "$dir" >"$dir/logs/watchdog.log" 2>&1 </dev/null &
  fi
  echo "$dir/kubeconfig"
}

# Stops exactly the processes DIR/pids names (each with its session's other processes:
# the pod runner's engine doubles), then removes DIR unless $2 is keep-dir.
cluster_down() {
  local dir="$1" keep="${2:-}"
  [ -d "$dir" ] || { log "no cluster at $dir"; return 0; }
  if [ -e "$dir/pids" ]; then
    local name pid order
    # Reverse order of start: the pod runner and kwok before the API server, etcd last.
    order="$(tac "$dir/pids")"
    while read -r name pid; do
      [ -n "$pid" ] || continue
      # A recorded pid is ours only while it still leads its session (setsid), so a reused
      # pid of an unrelated process is never signalled.
      if [ "$(ps -o sid= -p "$pid" 2>/dev/null | tr -d ' ')" = "$pid" ]; then
        kill -TERM -- "-$pid" 2>/dev/null || true
      fi
    done <<<"$order"
    local deadline=$((SECONDS + 10))
    while read -r name pid; do
      [ -n "$pid" ] || continue
      while [ -n "$(ps -o pid= -s "$pid" 2>/dev/null)" ] && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
      [ -n "$(ps -o pid= -s "$pid" 2>/dev/null)" ] && kill -KILL -- "-$pid" 2>/dev/null || true
    done <<<"$order"
  fi
  if [ "$keep" = keep-dir ]; then
    rm -f "$dir/pids"
  else
    rm -rf "$dir"
  fi
}
