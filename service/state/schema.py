"""Versioned, idempotent schema migrations. The same SQL runs on MySQL 8.4 and MariaDB 10.11+."""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (
        1,
        "nodes, tasks, raft_log, raft_meta",
        [
            """CREATE TABLE IF NOT EXISTS nodes (
                node_id VARCHAR(253) NOT NULL,
                raft_address VARCHAR(300) NOT NULL,
                api_url VARCHAR(300) NOT NULL DEFAULT '',
                first_seen DATETIME(3) NOT NULL,
                PRIMARY KEY (node_id)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin""",
            """CREATE TABLE IF NOT EXISTS tasks (
                task_id BIGINT NOT NULL,
                title VARCHAR(200) NOT NULL,
                description TEXT NOT NULL,
                task_status VARCHAR(16) NOT NULL,
                created_by VARCHAR(253) NOT NULL,
                created_at DATETIME(3) NOT NULL,
                updated_at DATETIME(3) NOT NULL,
                version BIGINT NOT NULL,
                PRIMARY KEY (task_id),
                KEY idx_tasks_status_id (task_status, task_id),
                CONSTRAINT fk_tasks_created_by FOREIGN KEY (created_by) REFERENCES nodes (node_id)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin""",
            # One row per operation carried by a log entry. An entry may carry several operations
            # (group commit), so the key is (log_index, op_seq); op_seq is 0 for a single-op entry.
            """CREATE TABLE IF NOT EXISTS raft_log (
                log_index BIGINT NOT NULL,
                op_seq INT NOT NULL,
                term BIGINT NOT NULL,
                op VARCHAR(32) NOT NULL,
                task_id BIGINT NULL,
                origin_node VARCHAR(253) NOT NULL,
                request_id VARCHAR(300) NOT NULL,
                fingerprint CHAR(64) NOT NULL,
                payload JSON NOT NULL,
                outcome VARCHAR(32) NOT NULL,
                result JSON NOT NULL,
                applied_at DATETIME(3) NOT NULL,
                PRIMARY KEY (log_index, op_seq),
                UNIQUE KEY uq_raft_log_request (request_id),
                KEY idx_raft_log_task (task_id, log_index, op_seq)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin""",
            """CREATE TABLE IF NOT EXISTS raft_meta (
                id TINYINT NOT NULL,
                applied_index BIGINT NOT NULL,
                applied_term BIGINT NOT NULL,
                next_task_id BIGINT NOT NULL,
                PRIMARY KEY (id)
            ) ENGINE=InnoDB""",
            "INSERT IGNORE INTO raft_meta (id, applied_index, applied_term, next_task_id) VALUES (1, 0, 0, 1)",
        ],
    ),
    (
        2,
        "raft_meta.cluster_id: the id the cluster committed when it first formed",
        ["ALTER TABLE raft_meta ADD COLUMN cluster_id VARCHAR(64) NULL"],
    ),
    (
        3,
        "members (the configuration the log set), raft_meta.config_index, nodes.member_role",
        [
            """CREATE TABLE IF NOT EXISTS members (
                raft_address VARCHAR(300) NOT NULL,
                member_role VARCHAR(16) NOT NULL,
                config_index BIGINT NOT NULL,
                PRIMARY KEY (raft_address)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin""",
            "ALTER TABLE raft_meta ADD COLUMN config_index BIGINT NOT NULL DEFAULT 0",
            "ALTER TABLE nodes ADD COLUMN member_role VARCHAR(16) NULL",
        ],
    ),
    (
        4,
        "users, api_tokens (hashes only); the acting user of tasks and raft_log rows",
        [
            # Usernames are never reused: a user is disabled, never deleted, so a name recorded on a
            # task or a raft_log row always means the same person.
            """CREATE TABLE IF NOT EXISTS users (
                user_id VARCHAR(64) NOT NULL,
                username VARCHAR(64) NOT NULL,
                email VARCHAR(254) NOT NULL DEFAULT '',
                user_role VARCHAR(16) NOT NULL,
                created_at DATETIME(3) NOT NULL,
                created_by_user VARCHAR(64) NULL,
                disabled TINYINT(1) NOT NULL DEFAULT 0,
                disabled_at DATETIME(3) NULL,
                PRIMARY KEY (user_id),
                UNIQUE KEY uq_users_username (username)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin""",
            # last_used is not here: it is kept by each node in memory (auth/verifier.py), so a request
            # never costs a Raft write.
            """CREATE TABLE IF NOT EXISTS api_tokens (
                token_id VARCHAR(64) NOT NULL,
                token_hash CHAR(64) NOT NULL,
                token_name VARCHAR(100) NOT NULL,
                user_id VARCHAR(64) NOT NULL,
                token_role VARCHAR(16) NOT NULL,
                created_at DATETIME(3) NOT NULL,
                expires_at DATETIME(3) NULL,
                revoked TINYINT(1) NOT NULL DEFAULT 0,
                revoked_at DATETIME(3) NULL,
                PRIMARY KEY (token_id),
                UNIQUE KEY uq_api_tokens_hash (token_hash),
                KEY idx_api_tokens_user (user_id, token_id),
                CONSTRAINT fk_api_tokens_user FOREIGN KEY (user_id) REFERENCES users (user_id)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin""",
            "ALTER TABLE tasks ADD COLUMN created_by_user VARCHAR(64) NULL,"
            " ADD COLUMN updated_by_user VARCHAR(64) NULL",
            "ALTER TABLE raft_log ADD COLUMN acting_user VARCHAR(64) NULL",
        ],
    ),
]

SCHEMA_VERSION = MIGRATIONS[-1][0]

# Tables in dependency order (parents first): used for snapshots and checksums.
REPLICATED_TABLES = ("nodes", "tasks", "raft_log", "raft_meta", "members", "users", "api_tokens")
# Each one's primary key: dumps and backups read rows in this order.
PRIMARY_KEYS = {
    "nodes": "node_id",
    "tasks": "task_id",
    "raft_log": "log_index, op_seq",
    "raft_meta": "id",
    "members": "raft_address",
    "users": "user_id",
    "api_tokens": "token_id",
}


def migrate(conn) -> int:
    """Apply every migration newer than the recorded version. Safe to run any number of times."""
    with conn.cursor() as cur:
        cur.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                version INT NOT NULL PRIMARY KEY,
                description VARCHAR(200) NOT NULL,
                applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
            ) ENGINE=InnoDB"""
        )
        cur.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
        current = cur.fetchone()[0]
        for version, description, statements in MIGRATIONS:
            if version <= current:
                continue
            for statement in statements:
                cur.execute(statement)
            cur.execute(
                "INSERT IGNORE INTO schema_migrations (version, description) VALUES (%s, %s)", (version, description)
            )
            conn.commit()
            current = version
    conn.commit()
    return current
