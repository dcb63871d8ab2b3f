"""Two hosts on one machine: a network namespace of their own for the robots, joined to the
test's (where Redis, the API and the dispatcher run) by a veth pair, with addresses that exist
only on that pair. Needs root (CAP_NET_ADMIN) and `ip` (iproute2)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


class Unavailable(Exception):
    """Namespaces cannot be made here (not root, no `ip`, a container without the right)."""


@dataclass
class Link:
    namespace: str
    # The veth end in the test's namespace; the other end is inside `namespace`.
    device: str
    orchestrator_ip: str
    robot_ip: str

    @property
    def wrap(self) -> list[str]:
        """argv prefix that runs a command inside the robots' namespace."""
        return ['ip', 'netns', 'exec', self.namespace]

    def cut(self) -> None:
        _ip('link', 'set', self.device, 'down')

    def mend(self) -> None:
        _ip('link', 'set', self.device, 'up')


def _ip(*args: str, namespace: str | None = None, check: bool = True) -> None:
    argv = ['ip', *(['-n', namespace] if namespace else []), *args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    if done.returncode and check:
        raise Unavailable(f'{" ".join(argv)}: {done.stderr.strip()}')


def _remove(link: Link) -> None:
    """The pair and the namespace, if they are there."""
    _ip('link', 'del', link.device, check=False)
    _ip('netns', 'del', link.namespace, check=False)


@contextmanager
def robots_apart(tag: int) -> Iterator[Link]:
    """A namespace and veth pair named and addressed after `tag` (0-255, e.g. the run's DDS
    domain, so that parallel runs do not collide); removed on exit (once the processes inside
    are gone)."""
    if os.geteuid() != 0 or shutil.which('ip') is None:
        raise Unavailable('needs root and iproute2 (`ip`)')
    link = Link(f'rdrobots{tag}', f'rdveth{tag}', f'10.213.{tag}.1', f'10.213.{tag}.2')
    inner = f'rdvethr{tag}'
    _remove(link)  # left over by a run that was killed
    _ip('netns', 'add', link.namespace)
    try:
        _ip('link', 'add', link.device, 'type', 'veth', 'peer', 'name', inner)
        _ip('link', 'set', inner, 'netns', link.namespace)
        _ip('addr', 'add', f'{link.orchestrator_ip}/24', 'dev', link.device)
        _ip('link', 'set', link.device, 'up')
        _ip('addr', 'add', f'{link.robot_ip}/24', 'dev', inner, namespace=link.namespace)
        _ip('link', 'set', inner, 'up', namespace=link.namespace)
        _ip('link', 'set', 'lo', 'up', namespace=link.namespace)
        yield link
    finally:
        _remove(link)
