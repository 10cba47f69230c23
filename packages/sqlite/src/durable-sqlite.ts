import Database from 'better-sqlite3';

/**
 * Opens (creating when absent) a SQLite database that one process owns and whose commits survive a crash,
 * and applies `schema` (idempotent DDL). Shared by the embedded store's item table and the ingest job table.
 *
 * - EXCLUSIVE locking, set before WAL: no shared-memory index, and the lock taken by the first write is held
 *   until close (the OS drops it if the process dies, so a crash never leaves the database locked). A second
 *   opener fails with SQLITE_BUSY once `timeoutMs` has passed; callers turn that into their own error.
 * - WAL with synchronous=FULL: a commit returns only after the WAL is fsynced, so an acknowledged write
 *   survives kill -9 and power loss alike (NORMAL would survive kill -9 only).
 *
 * The connection is closed again if any of this fails.
 */
export function openDurableDatabase(file: string, schema: string, timeoutMs: number): Database.Database {
  const db = new Database(file, { timeout: timeoutMs });
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec(schema);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}
