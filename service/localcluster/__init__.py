"""The local cluster: N nodes and N MariaDB/MySQL servers on one machine, for development and tests."""
