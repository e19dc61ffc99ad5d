/* The schema and every statement of the SQL engine, shared as text by the
 * SQLite adapter (prepared once, cached) and the Durable Object adapter
 * (ctx.storage.sql.exec). Stream ids, offsets and producer ids are TEXT
 * (binary collation: memcmp order, the order of ss_offset_cmp); message
 * bodies are BLOBs. See codec.c for the column rules. */
#include "sql_engine.h"

const char ss__sql_schema_v1[] =
    /* One row per stream. Absent optionals are NULL (see codec.c). */
    "CREATE TABLE streamsy_streams ("
    "  stream_id TEXT NOT NULL PRIMARY KEY,"
    "  content_type TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  ttl_seconds INTEGER,"
    "  expires_at TEXT,"
    "  expires_at_ms INTEGER,"
    "  current_offset TEXT NOT NULL,"
    "  counter INTEGER NOT NULL,"
    "  last_seq TEXT,"
    "  closed INTEGER NOT NULL DEFAULT 0,"
    "  closed_at INTEGER,"
    "  forked_from TEXT,"
    "  fork_offset TEXT,"
    "  fork_sub_offset INTEGER,"
    "  soft_deleted INTEGER NOT NULL DEFAULT 0"
    ") STRICT, WITHOUT ROWID;"
    /* Dependents of a parent (lineage is derived from forked_from). */
    "CREATE INDEX streamsy_streams_forked_from ON streamsy_streams (forked_from)"
    "  WHERE forked_from IS NOT NULL;"
    /* Deadlines to re-arm at start. */
    "CREATE INDEX streamsy_streams_expires_at_ms ON streamsy_streams (expires_at_ms)"
    "  WHERE expires_at_ms IS NOT NULL;"
    /* Messages clustered by (stream, offset): a range read or a tail probe
     * is one b-tree descent. "offset" is the position after the message. */
    "CREATE TABLE streamsy_messages ("
    "  stream_id TEXT NOT NULL,"
    "  \"offset\" TEXT NOT NULL,"
    "  timestamp INTEGER NOT NULL,"
    "  data BLOB NOT NULL,"
    "  PRIMARY KEY (stream_id, \"offset\")"
    ") STRICT, WITHOUT ROWID;"
    "CREATE TABLE streamsy_producers ("
    "  stream_id TEXT NOT NULL,"
    "  producer_id TEXT NOT NULL,"
    "  epoch INTEGER NOT NULL,"
    "  last_seq INTEGER NOT NULL,"
    "  PRIMARY KEY (stream_id, producer_id)"
    ") STRICT, WITHOUT ROWID;";

const char ss__sql_schema_v2[] =
    /* Small named documents beside the streams (subscriptions). */
    "CREATE TABLE streamsy_documents ("
    "  key TEXT NOT NULL PRIMARY KEY,"
    "  value BLOB NOT NULL"
    ") STRICT, WITHOUT ROWID;";

const char ss__sql_schema_v3[] =
    /* Appends land here in arrival order, with no per-stream index entry
     * (log.c): a transaction over many streams writes one log page, not a
     * page per stream. Once a stream has SS_SQL_CHUNK_MESSAGES rows here
     * they are packed into one streamsy_messages row whose "chunk" counts
     * them (NULL: a row of one message, as every row before version 3). */
    "CREATE TABLE streamsy_log ("
    "  seq INTEGER PRIMARY KEY,"
    "  stream_id TEXT NOT NULL,"
    "  \"offset\" TEXT NOT NULL,"
    "  timestamp INTEGER NOT NULL,"
    "  data BLOB NOT NULL"
    ") STRICT;"
    "ALTER TABLE streamsy_messages ADD COLUMN chunk INTEGER;";

/* Column order of GET_RECORD and INSERT_RECORD: see codec.c. */
#define RECORD_COLUMNS                                                                                            \
    "stream_id, content_type, created_at, ttl_seconds, expires_at, expires_at_ms, current_offset, "               \
    "counter, last_seq, closed, closed_at, forked_from, fork_offset, fork_sub_offset, soft_deleted"

const char *const ss__sql_text[SS_SQL__COUNT] = {
    [SS_SQL_GET_RECORD] = "SELECT " RECORD_COLUMNS " FROM streamsy_streams WHERE stream_id = ?1",
    [SS_SQL_INSERT_RECORD] = "INSERT INTO streamsy_streams (" RECORD_COLUMNS ") "
                             "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    [SS_SQL_UPDATE_RECORD] = "UPDATE streamsy_streams SET current_offset = ?2, counter = ?3, last_seq = ?4, "
                             "closed = ?5, closed_at = ?6, expires_at_ms = ?7, soft_deleted = ?8 "
                             "WHERE stream_id = ?1",
    [SS_SQL_SOFT_DELETE] = "UPDATE streamsy_streams SET soft_deleted = 1 WHERE stream_id = ?1",
    [SS_SQL_DELETE_RECORD] = "DELETE FROM streamsy_streams WHERE stream_id = ?1",
    [SS_SQL_DELETE_MESSAGES] = "DELETE FROM streamsy_messages WHERE stream_id = ?1",
    [SS_SQL_DELETE_PRODUCERS] = "DELETE FROM streamsy_producers WHERE stream_id = ?1",
    /* A chunk's "offset" is its last message's: "> ?2" finds every row
     * holding a message after ?2. */
    [SS_SQL_INSERT_MESSAGE] = "INSERT INTO streamsy_messages (stream_id, \"offset\", timestamp, data, chunk) "
                              "VALUES (?1, ?2, ?3, ?4, ?5)",
    [SS_SQL_LIST_MESSAGES] = "SELECT \"offset\", timestamp, data, chunk FROM streamsy_messages "
                             "WHERE stream_id = ?1 AND \"offset\" > ?2 ORDER BY \"offset\"",
    /* The engine numbers the rows itself (log.c), so that the insert is a
     * plain one: on a full disk SQLite handles it as it did the clustered
     * insert before version 3. */
    [SS_SQL_INSERT_LOG] = "INSERT INTO streamsy_log (seq, stream_id, \"offset\", timestamp, data) "
                          "VALUES (?5, ?1, ?2, ?3, ?4)",
    [SS_SQL_LOG_HEAD] = "SELECT coalesce(max(seq), 0) FROM streamsy_log",
    /* ?2 is a JSON array of seqs. */
    [SS_SQL_LOG_ROWS] = "SELECT \"offset\", timestamp, data FROM streamsy_log "
                        "WHERE stream_id = ?1 AND seq IN (SELECT value FROM json_each(?2)) ORDER BY seq",
    [SS_SQL_LOG_ROW] = "SELECT \"offset\", timestamp, data FROM streamsy_log WHERE stream_id = ?1 AND seq = ?2",
    [SS_SQL_DELETE_LOG] = "DELETE FROM streamsy_log WHERE stream_id = ?1",
    [SS_SQL_CUT_LOG] = "DELETE FROM streamsy_log WHERE seq < ?1",
    /* The rows not yet packed: a crash between packing and the cut leaves
     * packed rows behind, and a packed row's offset is not past its
     * stream's last stored one. */
    [SS_SQL_UNPACKED_LOG] = "SELECT l.seq, l.stream_id FROM streamsy_log AS l WHERE l.\"offset\" > "
                            "coalesce((SELECT max(m.\"offset\") FROM streamsy_messages AS m "
                            "WHERE m.stream_id = l.stream_id), '') ORDER BY l.seq",
    [SS_SQL_GET_PRODUCER] = "SELECT epoch, last_seq FROM streamsy_producers "
                            "WHERE stream_id = ?1 AND producer_id = ?2",
    [SS_SQL_UPSERT_PRODUCER] = "INSERT INTO streamsy_producers (stream_id, producer_id, epoch, last_seq) "
                               "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (stream_id, producer_id) "
                               "DO UPDATE SET epoch = excluded.epoch, last_seq = excluded.last_seq",
    [SS_SQL_COUNT_CHILDREN] = "SELECT count(*) FROM streamsy_streams WHERE forked_from = ?1",
    [SS_SQL_COUNT_PRODUCERS] = "SELECT count(*) FROM streamsy_producers WHERE stream_id = ?1",
    [SS_SQL_EXPIRIES] = "SELECT stream_id, expires_at_ms FROM streamsy_streams "
                        "WHERE expires_at_ms IS NOT NULL ORDER BY expires_at_ms",
    [SS_SQL_PUT_DOCUMENT] = "INSERT INTO streamsy_documents (key, value) VALUES (?1, ?2) "
                            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    [SS_SQL_REMOVE_DOCUMENT] = "DELETE FROM streamsy_documents WHERE key = ?1",
    /* ?1 is the prefix: substr keeps the comparison binary (no LIKE escapes). */
    [SS_SQL_LIST_DOCUMENTS] = "SELECT key, value FROM streamsy_documents "
                              "WHERE substr(key, 1, length(?1)) = ?1 ORDER BY key",
    [SS_SQL_LIST_STREAMS] = "SELECT stream_id FROM streamsy_streams WHERE soft_deleted = 0",
};
