"""Test servers take ports the kernel never hands to outgoing connections.

CI once lost a node's HTTP port between the free-port check and gunicorn's bind: the port lay in the
ephemeral range and an unrelated client connection took it as its source port.
"""

from tests.helpers import DB_OFFSET, RAFT_OFFSET, ephemeral_low, free_port, free_port_base, port_free


def test_every_port_of_a_base_lies_below_the_ephemeral_range_and_is_free():
    low = ephemeral_low()
    for _ in range(200):  # more than one lap around the range
        base = free_port_base(5)
        ports = [base + off + i for off in (0, RAFT_OFFSET, DB_OFFSET) for i in range(5)]
        assert max(ports) < low
        assert all(port_free(p) for p in ports)


def test_single_ports_lie_below_the_ephemeral_range_and_differ():
    low = ephemeral_low()
    ports = [free_port() for _ in range(400)]
    assert max(ports) < low
    assert len(set(ports)) == len(ports)
