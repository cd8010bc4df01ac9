"""Separate hosts on one machine: network namespaces on a private bridge, with hosts-file DNS names.

Layout (everything lives inside namespaces this module creates; nothing is added to the root one):
    <tag>-sw        a "switch" namespace holding the bridge br0
    <tag>-<host>    one namespace per host, with eth0 (a veth into the switch) and its own loopback
Each host gets /etc/netns/<namespace>/hosts, which `ip netns exec` bind-mounts over /etc/hosts, so
processes started in it resolve the names given here (StatefulSet-style names, for instance).
Partitions are iptables DROP rules inside the hosts' namespaces. `NetnsLab.destroy()` removes it
all; `sweep(tag)` removes leftovers of a run that was killed.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

CLONE_NEWNET = 0x40000000
NETNS_ETC = Path("/etc/netns")
_libc = ctypes.CDLL("libc.so.6", use_errno=True)


def _run(*cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {result.stderr.strip()}")
    return result


def available() -> tuple[bool, str]:
    """Whether network namespaces can be made here, and if not, why."""
    if os.geteuid() != 0:
        return False, "network namespaces need root"
    for tool in ("ip", "iptables"):
        if not shutil.which(tool):
            return False, f"`{tool}` is not installed (apt-get install iproute2 iptables)"
    probe = f"trprobe{os.getpid()}"
    result = _run("ip", "netns", "add", probe, check=False)
    if result.returncode != 0:
        return False, f"ip netns add failed: {result.stderr.strip()}"
    try:
        if _run("ip", "netns", "exec", probe, "iptables", "-L", "-n", check=False).returncode != 0:
            return False, "iptables does not work inside a network namespace here"
    finally:
        _run("ip", "netns", "del", probe, check=False)
    return True, ""


def sweep(tag: str) -> None:
    """Delete namespaces and hosts files whose name starts with `tag` (leftovers of a killed run)."""
    listing = _run("ip", "netns", "list", check=False).stdout
    for line in listing.splitlines():
        name = line.split()[0] if line.strip() else ""
        if name.startswith(f"{tag}-"):  # not another run's tag that merely starts like this one
            _run("ip", "netns", "del", name, check=False)
    if NETNS_ETC.is_dir():
        for path in NETNS_ETC.glob(f"{tag}-*"):
            shutil.rmtree(path, ignore_errors=True)


@dataclass
class Host:
    name: str
    namespace: str
    ip: str
    names: list[str] = field(default_factory=list)

    @property
    def prefix(self) -> list[str]:
        """Prepend to a command to run it on this host."""
        return ["ip", "netns", "exec", self.namespace]


class NetnsLab:
    def __init__(self, tag: str, subnet: str = "10.213.7"):
        self.tag = tag
        self.subnet = subnet
        self.switch = f"{tag}-sw"
        self.hosts: dict[str, Host] = {}
        self._created = False
        self._blocked: set[tuple[str, str]] = set()

    def create(self) -> NetnsLab:
        sweep(self.tag)
        _run("ip", "netns", "add", self.switch)
        self._created = True
        atexit.register(self.destroy)
        _run("ip", "-n", self.switch, "link", "set", "lo", "up")
        _run("ip", "-n", self.switch, "link", "add", "br0", "type", "bridge")
        _run("ip", "-n", self.switch, "link", "set", "br0", "up")
        return self

    def add_host(self, name: str, last_octet: int, names: list[str] | None = None) -> Host:
        namespace = f"{self.tag}-{name}"
        host = Host(name, namespace, f"{self.subnet}.{last_octet}", list(names or []))
        port = f"p{len(self.hosts)}"
        _run("ip", "netns", "add", namespace)
        _run("ip", "-n", namespace, "link", "set", "lo", "up")
        _run("ip", "-n", self.switch, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", namespace)
        _run("ip", "-n", self.switch, "link", "set", port, "master", "br0")
        _run("ip", "-n", self.switch, "link", "set", port, "up")
        _run("ip", "-n", namespace, "addr", "add", f"{host.ip}/24", "dev", "eth0")
        _run("ip", "-n", namespace, "link", "set", "eth0", "up")
        self.hosts[name] = host
        self.write_hosts_files()
        return host

    def set_ip(self, name: str, last_octet: int) -> Host:
        """Give a host a new address (a rescheduled pod) and update every host's name table."""
        host = self.hosts[name]
        _run("ip", "-n", host.namespace, "addr", "flush", "dev", "eth0")
        host.ip = f"{self.subnet}.{last_octet}"
        _run("ip", "-n", host.namespace, "addr", "add", f"{host.ip}/24", "dev", "eth0")
        self.write_hosts_files()
        return host

    def write_hosts_files(self) -> None:
        lines = ["127.0.0.1 localhost"]
        for host in self.hosts.values():
            lines.append(" ".join([host.ip, host.name, *host.names]))
        text = "\n".join(lines) + "\n"
        for host in self.hosts.values():
            directory = NETNS_ETC / host.namespace
            directory.mkdir(parents=True, exist_ok=True)
            path = directory / "hosts"
            # in place, not by rename: running processes see this file through a bind mount
            with open(path, "a+") as f:
                f.seek(0)
                f.truncate()
                f.write(text)

    # -- faults ------------------------------------------------------------------------------

    def block(self, a: str, b: str) -> None:
        """Drop all traffic between hosts a and b (both directions, on both sides)."""
        for src, dst in ((a, b), (b, a)):
            if (src, dst) in self._blocked:
                continue
            ns, peer = self.hosts[src].namespace, self.hosts[dst].ip
            _run("ip", "netns", "exec", ns, "iptables", "-I", "INPUT", "-s", peer, "-j", "DROP")
            _run("ip", "netns", "exec", ns, "iptables", "-I", "OUTPUT", "-d", peer, "-j", "DROP")
            self._blocked.add((src, dst))

    def isolate(self, name: str, among: list[str]) -> None:
        for other in among:
            if other != name:
                self.block(name, other)

    def heal(self) -> None:
        for host in self.hosts.values():
            _run("ip", "netns", "exec", host.namespace, "iptables", "-F", check=False)
        self._blocked.clear()

    def destroy(self) -> None:
        if not self._created:
            return
        self._created = False
        for host in self.hosts.values():
            _run("ip", "netns", "del", host.namespace, check=False)
            shutil.rmtree(NETNS_ETC / host.namespace, ignore_errors=True)
        _run("ip", "netns", "del", self.switch, check=False)


class InNamespace:
    """Move the CALLING THREAD into a host's network namespace (and back on exit).

    Network namespaces are per thread on Linux, so a test thread can act as a client host while
    subprocesses it starts through `ip netns exec` still land where they are told.
    """

    def __init__(self, host: Host):
        self.host = host
        self._saved: int | None = None

    def __enter__(self) -> InNamespace:
        tid = threading.get_native_id()
        self._saved = os.open(f"/proc/self/task/{tid}/ns/net", os.O_RDONLY)
        target = os.open(f"/run/netns/{self.host.namespace}", os.O_RDONLY)
        try:
            if _libc.setns(target, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns failed")
        finally:
            os.close(target)
        return self

    def __exit__(self, *exc) -> None:
        if self._saved is not None:
            _libc.setns(self._saved, CLONE_NEWNET)
            os.close(self._saved)
            self._saved = None
