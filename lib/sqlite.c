/* SQLite connection helpers shared by every store in libsti. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

int sti_sqlite_err(struct sti_error *err, sqlite3 *db, const char *what)
{
    return sti_seterr(err, STI_ERR_DB, "%s: %s", what,
                      db ? sqlite3_errmsg(db) : "no database handle");
}

int sti_sqlite_exec(sqlite3 *db, const char *sql, struct sti_error *err)
{
    char *msg = NULL;

    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int rc = sti_seterr(err, STI_ERR_DB, "SQL failed: %s",
                            msg ? msg : sqlite3_errmsg(db));

        sqlite3_free(msg);
        return rc;
    }
    return STI_OK;
}

int sti_sqlite_open(const char *path, const char *schema, sqlite3 **out,
                    struct sti_error *err)
{
    sqlite3 *db = NULL;
    int rc;

    *out = NULL;
    /* Databases hold password and token hashes: create them owner-only.
     * SQLite gives the -wal and -shm files the database file's mode. */
    if (strcmp(path, ":memory:") != 0 && path[0] != '\0') {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

        if (fd < 0)
            return sti_seterr(err, STI_ERR_DB, "cannot open database %s: %s",
                              path, strerror(errno));
        close(fd);
    }
    rc = sqlite3_open_v2(path, &db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                             SQLITE_OPEN_FULLMUTEX,
                         NULL);
    if (rc != SQLITE_OK) {
        rc = sti_seterr(err, STI_ERR_DB, "cannot open database %s: %s", path,
                        db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return rc;
    }
    sqlite3_busy_timeout(db, 5000);
    rc = sti_sqlite_exec(db,
                         "PRAGMA journal_mode=WAL;"
                         "PRAGMA synchronous=NORMAL;"
                         "PRAGMA foreign_keys=ON;",
                         err);
    if (rc == STI_OK && schema != NULL)
        rc = sti_sqlite_exec(db, schema, err);
    if (rc != STI_OK) {
        sqlite3_close(db);
        return rc;
    }
    *out = db;
    return STI_OK;
}
