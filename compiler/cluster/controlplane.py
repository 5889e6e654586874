"""`ControlPlane`: one local cluster (etcd + kube-apiserver + kube-controller-manager, and
with `scheduler=True` kube-scheduler + kwok) per state dir.

This is the API tests and other modules call directly; `tenantc cluster` is a thin CLI on
top. Every method reads and writes `state.json`, so a cluster started by one process (the
CLI, a pytest session) can be inspected, restarted or stopped by another.
"""
from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from compiler.cluster import crds as crd_install
from compiler.cluster import process
from compiler.cluster.binaries import COMPONENTS, SCHEDULING, find_binaries, find_kwok
from compiler.cluster.components import (
    APISERVER,
    AUDIT_POLICY,
    CONTROLLER_MANAGER,
    ETCD,
    KWOK,
    KWOK_CONFIG,
    PORTS,
    SCHEDULER,
    Component,
    apiserver_endpoint,
    build_components,
    order,
    port_names,
)
from compiler.cluster.errors import ClusterError, ComponentError
from compiler.cluster.kubeconfig import build_kubeconfig, cert_user, write_kubeconfig
from compiler.cluster.pki import Pki, ensure_pki, issue_client_certificate
from compiler.cluster.ports import LOOPBACK, is_free, outside_ephemeral, pick_ports
from compiler.cluster.process import ProcessRecord
from compiler.cluster.readiness import wait_ready
from compiler.cluster.state import Layout, ensure_token_file, load_state, locked, save_state

CRD_TIMEOUT = 120.0
START_ATTEMPTS = 3
PORT_TAKEN = "address already in use"  # what etcd and the API server log when a bind fails


class ControlPlane:
    """A local control plane rooted at `state_dir`.

    `crd_dirs`: folders whose CRDs (*.yaml, recursive) are installed unchanged by `up`.
    `name`: kubeconfig context/cluster name (default: the state dir's basename).
    `binaries`: folder with the three binaries (default: `find_binaries()`, building them).
    `extra_args`: extra flags per component, e.g. {"kube-apiserver": ["--v=4"]}.
    `bind_to_parent`: the processes die with this Python process (test fixtures; Linux only).
    `scheduler`: also run kube-scheduler and kwok (fake kubelets for the Nodes a caller creates
    with the annotation `kwok.x-k8s.io/node: fake`), and the controllers scheduling needs
    (statefulset, node lifecycle, PV binder). None: as the state dir recorded (default off).
    `kwok_binaries`: folder with the kwok binary (default: `find_kwok()`, building it).
    """

    def __init__(self, state_dir: str | Path, crd_dirs: Sequence[str | Path] = (), name: str | None = None,
                 binaries: str | Path | None = None, extra_args: dict[str, list[str]] | None = None,
                 bind_to_parent: bool = False, scheduler: bool | None = None,
                 kwok_binaries: str | Path | None = None):
        self.state_dir = Path(state_dir).expanduser().resolve()  # recorded paths must not depend on cwd
        self.layout = Layout(self.state_dir)
        self.crd_dirs = [Path(d).expanduser().resolve() for d in crd_dirs]
        self._name = name
        self._binaries = Path(binaries) if binaries else None
        self._extra_args = {k: list(v) for k, v in (extra_args or {}).items()}
        self._bind_to_parent = bind_to_parent
        self._scheduler = scheduler
        self._kwok_binaries = Path(kwok_binaries) if kwok_binaries else None
        self.pki = Pki(self.layout.pki)
        self.timings: dict[str, float] = {}  # step -> seconds after the last `up` began starting processes

    # -- what callers read -------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._name or load_state(self.layout).get("name") or self.state_dir.name

    @property
    def kubeconfig_path(self) -> str:
        return str(self.layout.kubeconfig)

    @property
    def server(self) -> str | None:
        """https://127.0.0.1:PORT of the API server, or None before the first `up`."""
        port = load_state(self.layout).get("ports", {}).get("apiserver")
        return f"https://{LOOPBACK}:{port}" if port else None

    @property
    def audit_log_path(self) -> str:
        return str(self.layout.audit_log)

    @property
    def scheduling(self) -> bool:
        """True when this cluster runs (or will run) kube-scheduler and kwok."""
        recorded = bool(load_state(self.layout).get("scheduler"))
        return recorded if self._scheduler is None else self._scheduler

    def is_running(self) -> bool:
        """True when all recorded components are alive."""
        state = load_state(self.layout)
        records = self._records(state)
        return all(process.is_running(records.get(name)) for name in _order(state))

    def status(self) -> dict:
        """What runs where: per component pid/running/log, ports, server URL, kubeconfig."""
        state = load_state(self.layout)
        records = self._records(state)
        components = {}
        names = _order(state) if state else order(bool(self._scheduler))
        for name in names:
            record = records.get(name)
            components[name] = {"running": process.is_running(record),
                                "pid": record.pid if record else None,
                                "ports": {p: state.get("ports", {}).get(p) for p in PORTS[name]},
                                "log": str(self.layout.log(name))}
        running = [n for n in names if components[n]["running"]]
        return {
            "name": self.name,
            "state_dir": str(self.state_dir),
            "state": "running" if len(running) == len(names) else "partial" if running else "stopped",
            "scheduler": bool(state.get("scheduler")),
            "server": self.server,
            "kubeconfig": self.kubeconfig_path if self.layout.kubeconfig.exists() else None,
            "ports": state.get("ports", {}),
            "components": components,
            "crds": len(state.get("crds", [])),
            "crd_dirs": state.get("crd_dirs", []),
            "audit_log": self.audit_log_path,
        }

    # -- lifecycle ------------------------------------------------------------------------
    def up(self) -> ControlPlane:
        """Start whatever is not running, install CRDs, write the kubeconfig; fast when already up."""
        self.timings = {}
        with locked(self.layout):
            state = load_state(self.layout)
            records = {n: r for n, r in self._records(state).items() if process.is_running(r)}
            installed = set(state.get("crd_dirs", []))
            pending_dirs = [d for d in self.crd_dirs if str(d) not in installed]
            for folder in pending_dirs:  # fail on a wrong path before starting anything
                if not folder.is_dir():
                    raise ClusterError(f"CRD folder {folder} does not exist")
            if self._must_start_fresh(state, records):  # else resume as recorded
                state = self._fresh_state(state, preferred_ports=state.get("ports"))
            state["name"] = self.name
            state["processes"] = {n: r.to_json() for n, r in records.items()}
            with ThreadPoolExecutor(max_workers=1) as pool:
                # Parsing ~4 MB of CRD YAML overlaps with the API server's own start.
                parsed = pool.submit(crd_install.find_crds, pending_dirs)
                state = self._start_with_retries(state, records, parsed)
            state["crd_dirs"] = sorted(installed | {str(d) for d in pending_dirs})
            save_state(self.layout, state)
            self._write_admin_kubeconfig(state)
            return self

    def down(self) -> list[int]:
        """Stop exactly the recorded processes (SIGTERM, then SIGKILL); returns the pids stopped."""
        with locked(self.layout):
            state = load_state(self.layout)
            stopped = _stop_in_order(self._records(state))
            if state:
                state["processes"] = {}
                save_state(self.layout, state)
            return stopped

    def stop_component(self, component: str) -> None:
        """Stop one component (e.g. the API server, to test behaviour while it is away)."""
        with locked(self.layout):
            state = load_state(self.layout)
            self._check_component(component, state)
            record = self._records(state).get(component)
            if record:
                process.stop([record])
                state["processes"].pop(component)
                save_state(self.layout, state)

    def start_component(self, component: str) -> None:
        """(Re)start one component with its recorded flags and ports, and wait until it is ready."""
        with locked(self.layout):
            state = load_state(self.layout)
            self._check_component(component, state)
            if not state.get("ports"):
                raise ClusterError(f"{self.state_dir} has no cluster to start {component} in; run up first")
            records = {n: r for n, r in self._records(state).items() if process.is_running(r)}
            already = set(records)
            if component not in records:
                taken = [f"{p} {state['ports'][p]}" for p in PORTS[component] if not is_free(state["ports"][p])]
                if taken:
                    raise ClusterError(f"cannot restart {component} on its port: {', '.join(taken)} is taken by "
                                       f"another process; `up` on {self.state_dir} moves it to a free port")
            try:
                self._wait(self._launch(state, records, (component,)), records, time.monotonic())
            except BaseException:
                self._roll_back(state, records, already)
                raise

    def add_static_token(self, user: str, groups: Sequence[str] = (), uid: str | None = None,
                         restart: bool = True) -> str:
        """A new bearer token for `user` (in `groups`), added to the API server's static token file
        (`S/config/tokens.csv`, its --token-auth-file). The API server reads that file when it starts:
        a running one is restarted (unless `restart` is False, to add several first)."""
        token = secrets.token_urlsafe(32)
        for value in (user, uid or user, *groups):
            if any(c in value for c in ',"\n'):
                raise ClusterError(f"{value!r}: a static token's user, uid and groups cannot hold commas or quotes")
        line = f'{token},{user},{uid or user},"{",".join(groups)}"\n'
        with locked(self.layout):
            path = ensure_token_file(self.layout)
            with open(path, "a") as fh:
                fh.write(line)
            running = process.is_running(self._records(load_state(self.layout)).get(APISERVER))
        if running and restart:
            self.stop_component(APISERVER)
            self.start_component(APISERVER)
        return token

    def client_certificate(self, name: str, user: str, groups: Sequence[str] = ()) -> tuple[Path, Path]:
        """(certificate, key) files of a client certificate for `user` in `groups`, signed by the
        cluster's CA (made once per `name`, under S/pki/)."""
        with locked(self.layout):
            ensure_pki(self.layout.pki)
            return issue_client_certificate(self.pki, name, user, list(groups))

    def __enter__(self) -> ControlPlane:
        return self.up()

    def __exit__(self, *exc) -> None:
        self.down()

    # -- internals ------------------------------------------------------------------------
    def _fresh_state(self, old: dict, preferred_ports: dict[str, int] | None) -> dict:
        """Nothing runs: choose binaries and ports, and write certificates and config files."""
        scheduling = bool(old.get("scheduler")) if self._scheduler is None else self._scheduler
        binaries = self._binaries or find_binaries(components=COMPONENTS + (SCHEDULING if scheduling else ()))
        kwok_binaries = (self._kwok_binaries or find_kwok()) if scheduling else None
        ensure_pki(self.layout.pki)
        # Ports recorded inside the ephemeral range (by older versions) are moved out of it.
        preferred = {k: v for k, v in (preferred_ports or {}).items() if outside_ephemeral(v)}
        ports = pick_ports(port_names(scheduling), preferred=preferred)
        for folder in (self.layout.config, self.layout.logs, self.layout.etcd_data):
            folder.mkdir(parents=True, exist_ok=True)
        self.layout.etcd_data.chmod(0o700)  # etcd refuses a data dir others can read
        self.layout.audit_policy.write_text(AUDIT_POLICY)
        server = f"https://{LOOPBACK}:{ports['apiserver']}"
        write_kubeconfig(self.layout.controller_manager_kubeconfig, build_kubeconfig(
            "local", server, self.pki.ca,
            cert_user(self.pki.cert("controller-manager"), self.pki.key("controller-manager")),
            user_name="kube-controller-manager"))
        if scheduling:
            for user, path in (("scheduler", self.layout.scheduler_kubeconfig), ("kwok", self.layout.kwok_kubeconfig)):
                write_kubeconfig(path, build_kubeconfig(
                    "local", server, self.pki.ca, cert_user(self.pki.cert(user), self.pki.key(user)), user_name=user))
            self.layout.kwok_config.write_text(KWOK_CONFIG)
        return {**old, "binaries": str(binaries), "ports": ports, "extra_args": self._extra_args,
                "scheduler": scheduling, "kwok_binaries": str(kwok_binaries) if kwok_binaries else None}

    def _must_start_fresh(self, state: dict, records: dict[str, ProcessRecord]) -> bool:
        """True when nothing runs (choose ports, write config), or when another program took a port a
        stopped component needs (its neighbours point at it): then the rest is stopped too, to start
        over on new ports for the taken ones."""
        if not records:
            return True
        if self._scheduler is not None and self._scheduler != bool(state.get("scheduler")):
            has = "runs" if state.get("scheduler") else "does not run"
            raise ClusterError(f"the cluster in {self.state_dir} {has} kube-scheduler and kwok; "
                               "stop it (down) and start it again to change that")
        if self._busy_ports(state, records):
            self._stop_all(state, records)
            return True
        return False

    def _start_with_retries(self, state: dict, records: dict[str, ProcessRecord], parsed: Future) -> dict:
        """Start what is missing, retrying two transient failures (returns the state as finally started):

        * a component finds its port taken (another process bound it between our check and its
          bind): stop everything and start again on new ports for the taken ones;
        * a component exits while starting. kube-controller-manager does when the API server
          restarts while it builds its controllers (the restarted server denies its requests until
          its RBAC caches are filled: "cannot get resource serviceaccounts"), and it exits by design
          on such errors; started again against a ready server it comes up.
        """
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                self._start_missing(state, records, parsed)
                return state
            except ComponentError as exc:
                last = attempt == START_ATTEMPTS
                if not last and PORT_TAKEN in str(exc):
                    self._stop_all(state, records)
                    kept = {p: v for p, v in state["ports"].items() if is_free(v)}
                    state = self._fresh_state(state, preferred_ports=kept)
                elif not last and exc.exited:
                    self._forget_exited(state, records)
                else:
                    raise
        raise AssertionError("unreachable")

    def _forget_exited(self, state: dict, records: dict[str, ProcessRecord]) -> None:
        """Drop the records of processes that died, so the next start launches them again."""
        for name in [n for n, r in records.items() if not process.is_running(r)]:
            records.pop(name)
        state["processes"] = {n: r.to_json() for n, r in records.items()}
        save_state(self.layout, state)

    def _busy_ports(self, state: dict, records: dict[str, ProcessRecord]) -> list[str]:
        """Ports of the components that must start which another program holds."""
        missing = [n for n in _order(state) if n not in records]
        recorded = state.get("ports", {})
        return [p for n in missing for p in PORTS[n] if recorded.get(p) and not is_free(recorded[p])]

    def _stop_all(self, state: dict, records: dict[str, ProcessRecord]) -> None:
        _stop_in_order(records)
        records.clear()
        state["processes"] = {}
        save_state(self.layout, state)

    def _components(self, state: dict) -> dict[str, Component]:
        ensure_token_file(self.layout)  # state dirs made before the file existed get an empty one
        kwok = state.get("kwok_binaries") if state.get("scheduler") else None
        return build_components(Path(state["binaries"]), self.layout, self.pki, state["ports"],
                                state.get("extra_args"), kwok_binaries=Path(kwok) if kwok else None)

    def _start_missing(self, state: dict, records: dict[str, ProcessRecord], parsed: Future) -> None:
        """Start missing components and install CRDs, overlapping what does not depend on each other.

        etcd and the API server start together (the API server retries etcd); the controller
        manager (and kube-scheduler and kwok) need a ready API server, and start while the CRDs
        are installed. On any failure the processes started by this call are stopped again, so a failed `up` leaves
        nothing running that it started. `self.timings` records when each step was done.
        """
        already, started = set(records), time.monotonic()
        try:
            self._wait(self._launch(state, records, (ETCD, APISERVER)), records, started)
            clients = self._launch(state, records, _order(state)[2:])
            crds = parsed.result()
            if crds:
                crd_install.install(apiserver_endpoint(self.pki, state["ports"]["apiserver"]), crds,
                                    timeout=CRD_TIMEOUT)
                self.timings[f"{len(crds)} CRDs established"] = round(time.monotonic() - started, 2)
            self._wait(clients, records, started)
        except BaseException:
            self._roll_back(state, records, already)
            raise
        state["crds"] = sorted(set(state.get("crds", [])) | {c.name for c in crds})

    def _launch(self, state: dict, records: dict[str, ProcessRecord], names: tuple[str, ...]) -> list[Component]:
        """Spawn those of `names` that are not running; each is recorded at once, so `down`
        finds it even if `up` is interrupted."""
        components = self._components(state)
        missing = [components[n] for n in names if n not in records]
        for component in missing:
            records[component.name] = process.spawn(
                component.argv, self.layout.log(component.name), env=component.env,
                bind_to_parent=self._bind_to_parent)
            state.setdefault("processes", {})[component.name] = records[component.name].to_json()
            save_state(self.layout, state)
        return missing

    def _wait(self, components: list[Component], records: dict[str, ProcessRecord], started: float) -> None:
        for component in components:
            wait_ready(component.name, component.probe, records, component.timeout)
            self.timings[f"{component.name} ready"] = round(time.monotonic() - started, 2)

    def _roll_back(self, state: dict, records: dict[str, ProcessRecord], keep: set[str]) -> None:
        """Stop what this call started (all but `keep`) and record what still runs."""
        _stop_in_order({n: records.pop(n) for n in list(records) if n not in keep})
        state["processes"] = {n: r.to_json() for n, r in records.items()}
        save_state(self.layout, state)

    def _write_admin_kubeconfig(self, state: dict) -> None:
        server = f"https://{LOOPBACK}:{state['ports']['apiserver']}"
        write_kubeconfig(self.layout.kubeconfig, build_kubeconfig(
            self.name, server, self.pki.ca, cert_user(self.pki.cert("admin"), self.pki.key("admin"))))

    @staticmethod
    def _records(state: dict) -> dict[str, ProcessRecord]:
        return {n: ProcessRecord.from_json(r) for n, r in state.get("processes", {}).items()}

    @staticmethod
    def _check_component(component: str, state: dict) -> None:
        names = _order(state)
        if component not in names:
            raise ClusterError(f"unknown component {component!r}; one of {', '.join(names)}")


def _order(state: dict) -> tuple[str, ...]:
    return order(bool(state.get("scheduler")))


def _stop_in_order(records: dict[str, ProcessRecord]) -> list[int]:
    """Stop the API clients before etcd, so the API server shuts down cleanly instead of
    retrying a vanished etcd until its grace period ends."""
    clients = (KWOK, SCHEDULER, CONTROLLER_MANAGER, APISERVER)
    stopped = process.stop([records[n] for n in clients if n in records])
    return stopped + process.stop([records[ETCD]] if ETCD in records else [])
