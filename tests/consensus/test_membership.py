"""The configuration rule of consensus/membership.py, and the journal that tracks it on append."""

from __future__ import annotations

from taskraft import commands as c
from taskraft.consensus.journal import DurableJournal
from taskraft.consensus.membership import ConfigLog, Configuration
from taskraft.consensus.pysyncobj_bridge import command_of, journaled_command

A, B, C, D = "a:1", "b:1", "c:1", "d:1"


def config_entry(voters, learners=(), *, term: int, base: int) -> bytes:
    op = {
        "op": c.OP_CONFIGURE,
        "rid": f"cfg-{term}-{base}-{len(voters)}-{len(learners)}",
        "fp": "x",
        "ts": 0,
        "origin": "n",
        "origin_addr": A,
        "args": {
            "configuration": {"voters": sorted(voters), "learners": sorted(learners)},
            "term": term,
            "base": base,
        },
    }
    return journaled_command(c.make_entry([op]))


def task_entry(title: str) -> bytes:
    op = c.make_op(c.OP_CREATE, origin="n", origin_addr=A, args={"title": title})
    return journaled_command(c.make_entry([op]))


def test_a_change_takes_effect_on_append_and_leaves_with_truncation():
    log = ConfigLog(decode=command_of)
    assert log.current is None
    assert log.appended(2, 1, config_entry([A, B, C], term=1, base=0))
    assert log.current == Configuration(frozenset([A, B, C]))
    assert log.appended(5, 1, config_entry([A, B, C], [D], term=1, base=2))
    assert log.current.learners == {D}
    assert log.pending(commit_index=4) and not log.pending(commit_index=5)
    assert log.truncated_from(5)
    assert log.current == Configuration(frozenset([A, B, C])) and log.current_index == 2


def test_a_change_appended_in_another_term_than_validated_is_inert():
    """A change queued on a deposed leader and forwarded to the next one must not take effect."""
    log = ConfigLog(decode=command_of)
    log.appended(2, 1, config_entry([A, B, C], term=1, base=0))
    assert not log.appended(7, 2, config_entry([A, B, C], [D], term=1, base=2))
    assert log.current_index == 2


def test_two_changes_on_one_base_cannot_both_take_effect():
    log = ConfigLog(decode=command_of)
    log.appended(2, 1, config_entry([A, B, C], term=1, base=0))
    assert log.appended(3, 1, config_entry([A, B, C], [D], term=1, base=2))
    assert not log.appended(4, 1, config_entry([A, B], term=1, base=2))
    assert log.current.learners == {D} and log.current.voters == {A, B, C}


def test_a_task_titled_like_the_marker_is_not_a_configuration():
    log = ConfigLog(decode=command_of)
    assert not log.appended(2, 1, task_entry(c.OP_CONFIGURE))
    assert log.current is None


def test_compaction_keeps_the_newest_dropped_configuration_as_the_base():
    log = ConfigLog(decode=command_of)
    log.appended(2, 1, config_entry([A, B, C], term=1, base=0))
    log.appended(6, 1, config_entry([A, B, C], [D], term=1, base=2))
    log.appended(9, 1, config_entry([A, B, C, D], term=1, base=6))
    assert log.compacted_below(8)
    assert (log.base_index, log.base.learners) == (6, {D})
    assert log.at(7) == (6, log.base) and log.at(9)[0] == 9


def test_the_journal_finds_its_configuration_again_after_a_restart_and_a_compaction(tmp_path):
    path = str(tmp_path / "journal")
    journal = DurableJournal(path, decode=command_of)
    changes = []
    journal.on_config_change = lambda: changes.append(journal.configs.current)
    journal.add(b"\x00", 1, 1)
    journal.add(config_entry([A, B, C], term=1, base=0), 2, 1)
    journal.add(task_entry("t"), 3, 1)
    journal.add(config_entry([A, B, C], [D], term=1, base=2), 4, 1)
    journal.add(task_entry("u"), 5, 1)
    assert [cfg.learners for cfg in changes] == [frozenset(), {D}]
    journal.deleteEntriesTo(3)  # drops indexes 1..3: the configuration of index 2 becomes the base
    journal._destroy()

    reopened = DurableJournal(path, decode=command_of)
    assert reopened.configs.base_index == 2 and reopened.configs.base.voters == {A, B, C}
    assert reopened.configs.current.learners == {D} and reopened.configs.current_index == 4
    reopened.deleteEntriesFrom(0)  # index 4 and above leave: back to the base
    assert reopened.configs.current_index == 2
    reopened._destroy()
    assert DurableJournal(path, decode=command_of).configs.current_index == 2
