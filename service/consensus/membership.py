"""The cluster's configuration (voters and learners) as the Raft log holds it.

A configuration change is an ordinary log entry carrying one `configure` op (commands.py) with the
whole new configuration. Every node tracks the configuration entries of its log as they are
*appended* (and forgets those a truncation removes), and uses the newest one at once, as Raft's
single-server changes require. A change is **effective** only if

  - the entry's Raft term is the term the leader validated it in (`args.term`): a change queued on a
    leader that lost its leadership, and forwarded by PySyncObj to the next leader, is inert; so every
    effective change was appended by the leader that checked, in its term, that an entry of that term
    was committed and that no other change was pending (the 2015 single-server rule);
  - it names the newest effective configuration entry before it as its base (`args.base`): two changes
    appended in one term cannot both take effect.

The rule reads only the log, so every node (and the state machine, state/machine.py) decides it the
same way. Entries compacted away leave their configuration as the log's *base* (persisted with the
journal's meta, and carried in every snapshot header). A log that never held a configuration uses
the seed: the peers of the environment, for a brand-new cluster only (see docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Callable

from .. import commands as c
from ..configuration import Configuration, configure_op, effective_change

__all__ = ["MARKER", "ConfigLog", "Configuration"]

MARKER = c.OP_CONFIGURE.encode()  # cheap pre-check on journal bytes before decoding an entry


class ConfigLog:
    """The configuration entries of this node's log; `current` is the newest (appended, not committed)."""

    def __init__(
        self, base_index: int = 0, base: Configuration | None = None, decode: Callable[[bytes], object] | None = None
    ):
        self._decode = decode  # a journal entry's command (pysyncobj_bridge.command_of); None: no decoding
        self.base_index = base_index
        self.base = base
        self._entries: list[tuple[int, Configuration]] = []  # effective entries above the base, in order

    @property
    def current(self) -> Configuration | None:
        return self._entries[-1][1] if self._entries else self.base

    @property
    def current_index(self) -> int:
        return self._entries[-1][0] if self._entries else self.base_index

    def at(self, index: int) -> tuple[int, Configuration | None]:
        """The configuration in force at log index `index` (its entry's index, and itself)."""
        for entry_index, config in reversed(self._entries):
            if entry_index <= index:
                return entry_index, config
        return self.base_index, self.base

    def appended(self, index: int, term: int, command: bytes) -> bool:
        """Note an appended journal entry; True if it changed the current configuration."""
        if index <= self.current_index or MARKER not in command or self._decode is None:
            return False  # at or below the newest configuration: already counted (a journal reopened)
        op = configure_op(self._decode(command))
        if op is None:
            return False
        config = effective_change(op, term, self.current_index)
        if config is None:
            return False
        self._entries.append((index, config))
        return True

    def truncated_from(self, index: int) -> bool:
        """Entries at `index` and above left the log; True if the current configuration changed."""
        before = len(self._entries)
        self._entries = [(i, cfg) for i, cfg in self._entries if i < index]
        return len(self._entries) != before

    def compacted_below(self, first_kept: int) -> bool:
        """Entries below `first_kept` left the log: the newest of them becomes the base. True if the base moved."""
        dropped = [(i, cfg) for i, cfg in self._entries if i < first_kept]
        if not dropped:
            return False
        self.base_index, self.base = dropped[-1]
        self._entries = self._entries[len(dropped) :]
        return True

    def reset(self, base_index: int, base: Configuration | None) -> None:
        """A snapshot replaced the log: its configuration is the base."""
        self.base_index, self.base = base_index, base
        self._entries = []

    def pending(self, commit_index: int) -> bool:
        """Whether the newest configuration entry is not yet committed."""
        return self.current_index > commit_index
