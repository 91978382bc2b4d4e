/* Unit tests for lib/common.c and lib/sqlite.c. */
#include "support.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void escape_shows_raw_bytes(void **state)
{
    char buf[16];

    (void)state;
    assert_string_equal(sti_escape("a\xff\x01\\b", 5, buf, sizeof(buf)),
                        "a\\xff\\x01\\x5cb");
    /* A NUL inside LEN is shown, not taken as the end. */
    assert_string_equal(sti_escape("a\0b", 3, buf, sizeof(buf)), "a\\x00b");
    /* The copy stops before an escape that would not fit whole. */
    assert_string_equal(sti_escape("abc\xff", 4, buf, 6), "abc");
    assert_string_equal(sti_escape(NULL, 3, buf, sizeof(buf)), "");
}

static void b64url_round_trip(void **state)
{
    const unsigned char data[] = {0xfb, 0xff, 0x00, 0x10, 0x7e};
    unsigned char *out;
    size_t len;
    char *text;

    (void)state;
    for (size_t n = 0; n <= sizeof(data); n++) {
        text = sti_b64url_encode(data, n);
        assert_non_null(text);
        assert_null(strchr(text, '='));
        assert_int_equal(sti_b64url_decode(text, strlen(text), &out, &len),
                         STI_OK);
        assert_int_equal(len, n);
        assert_memory_equal(out, data, n);
        free(out);
        free(text);
    }
}

static void b64url_known_vector(void **state)
{
    char *text = sti_b64url_encode((const unsigned char *)"\xfb\xff", 2);

    (void)state;
    assert_string_equal(text, "-_8");
    free(text);
}

static void b64url_rejects_bad_input(void **state)
{
    static const char *bad[] = {"ab=c", "ab c", "a",   "ab+/",
                                "AB==", "-_9",  "ab\n"};
    unsigned char *out;
    size_t len;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(sti_b64url_decode(bad[i], strlen(bad[i]), &out, &len),
                         STI_ERR_INVALID);
}

static void b64_standard_padding(void **state)
{
    unsigned char *out;
    size_t len;
    char *text = sti_b64_encode((const unsigned char *)"818H", 4);

    (void)state;
    assert_string_equal(text, "ODE4SA==");
    assert_int_equal(sti_b64_decode(text, strlen(text), &out, &len), STI_OK);
    assert_int_equal(len, 4);
    assert_memory_equal(out, "818H", 4);
    free(out);
    free(text);
    assert_int_equal(sti_b64_decode("ODE4SA=", 7, &out, &len), STI_ERR_INVALID);
}

static void secret_sources(void **state)
{
    struct sti_error err;
    char *dir = test_tmpdir(), *path = test_path(dir, "pass");
    char source[4200], *secret;
    int fds[2];

    (void)state;
    setenv("STI_TEST_SECRET", "hunter2", 1);
    assert_int_equal(sti_secret_read("env:STI_TEST_SECRET", &secret, &err),
                     STI_OK);
    assert_string_equal(secret, "hunter2");
    sti_secret_free(secret);

    assert_int_equal(
        sti_file_write(path, "line one\nline two\n", 18, 0600, 1, &err),
        STI_OK);
    snprintf(source, sizeof(source), "file:%s", path);
    assert_int_equal(sti_secret_read(source, &secret, &err), STI_OK);
    assert_string_equal(secret, "line one");
    sti_secret_free(secret);

    assert_int_equal(pipe(fds), 0);
    assert_int_equal(write(fds[1], "piped", 5), 5);
    close(fds[1]);
    snprintf(source, sizeof(source), "fd:%d", fds[0]);
    assert_int_equal(sti_secret_read(source, &secret, &err), STI_OK);
    assert_string_equal(secret, "piped");
    sti_secret_free(secret);
    close(fds[0]);

    free(path);
    test_rmtree(dir);
}

static void secret_bad_sources(void **state)
{
    static const char *bad[] = {"hunter2", "env:", "fd:x", "fd:-1", "pass:x"};
    struct sti_error err;
    char *secret;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(sti_secret_read(bad[i], &secret, &err),
                         STI_ERR_INVALID);
        assert_null(secret);
        assert_non_null(strstr(err.message, bad[i]));
    }
    unsetenv("STI_TEST_UNSET");
    assert_int_equal(sti_secret_read("env:STI_TEST_UNSET", &secret, &err),
                     STI_ERR_NOTFOUND);
    assert_int_equal(sti_secret_read("file:/nonexistent/x", &secret, &err),
                     STI_ERR_IO);
}

static void file_write_mode_and_exclusive(void **state)
{
    struct sti_error err;
    char *dir = test_tmpdir(), *path = test_path(dir, "key.pem");
    unsigned char *data;
    size_t len;
    struct stat st;

    (void)state;
    assert_int_equal(sti_file_write(path, "abc", 3, 0600, 1, &err), STI_OK);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(sti_file_write(path, "xyz", 3, 0600, 1, &err),
                     STI_ERR_EXISTS);
    assert_int_equal(sti_file_read(path, &data, &len, &err), STI_OK);
    assert_int_equal(len, 3);
    assert_memory_equal(data, "abc", 3);
    free(data);
    assert_int_equal(sti_file_write(path, "xyz", 3, 0644, 0, &err), STI_OK);
    assert_int_equal(sti_file_read(path, &data, &len, &err), STI_OK);
    assert_memory_equal(data, "xyz", 3);
    free(data);
    assert_int_equal(sti_file_read("/nonexistent/file", &data, &len, &err),
                     STI_ERR_NOTFOUND);
    /* fopen() opens a directory for reading; the read gives the reason. */
    assert_int_equal(sti_file_read(dir, &data, &len, &err), STI_ERR_IO);
    assert_non_null(strstr(err.message, "Is a directory"));
    free(path);
    test_rmtree(dir);
}

static void file_read_max_limits(void **state)
{
    struct sti_error err;
    char *dir = test_tmpdir(), *path = test_path(dir, "data");
    char text[100];
    unsigned char *data;
    size_t len;

    (void)state;
    memset(text, 'a', sizeof(text));
    assert_int_equal(sti_file_write(path, text, 100, 0644, 0, &err), STI_OK);
    assert_int_equal(sti_file_read_max(path, 100, &data, &len, &err), STI_OK);
    assert_int_equal(len, 100);
    free(data);
    assert_int_equal(sti_file_read_max(path, 99, &data, &len, &err),
                     STI_ERR_INVALID);
    assert_null(data);
    assert_non_null(strstr(err.message, path));
    assert_non_null(strstr(err.message, "99 bytes"));
    assert_int_equal(sti_file_read_max("/dev/zero", 1000, &data, &len, &err),
                     STI_ERR_INVALID);
    free(path);
    test_rmtree(dir);
}

static void uuid4_format(void **state)
{
    char a[37], b[37];

    (void)state;
    assert_int_equal(sti_uuid4(a), STI_OK);
    assert_int_equal(sti_uuid4(b), STI_OK);
    assert_int_equal(strlen(a), 36);
    assert_int_equal(a[14], '4');
    assert_non_null(strchr("89ab", a[19]));
    assert_string_not_equal(a, b);
}

static void uuid_valid_cases(void **state)
{
    static const char *const good[] = {
        "123e4567-e89b-42d3-a456-426614174000",
        "DE305D54-75B4-431B-ADB2-EB6B9E546014",
        "00000000-0000-0000-0000-000000000000",
    };
    static const char *const bad[] = {
        "",
        "abc",
        "123e4567e89b42d3a456426614174000",
        "123e4567-e89b-42d3-a456-42661417400",
        "123e4567-e89b-42d3-a456-4266141740000",
        "123e4567-e89b-42d3-a456_426614174000",
        "g23e4567-e89b-42d3-a456-426614174000",
        "{123e4567-e89b-42d3-a456-426614174000}",
        " 123e4567-e89b-42d3-a456-426614174000",
    };
    char fresh[37];

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_true(sti_uuid_valid(good[i]));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(sti_uuid_valid(bad[i]));
    assert_false(sti_uuid_valid(NULL));
    assert_int_equal(sti_uuid4(fresh), STI_OK);
    assert_true(sti_uuid_valid(fresh));
}

/* 40 draws of 16 bytes cross a refill of the 512-byte pool. */
static void id_bytes_distinct(void **state)
{
    unsigned char ids[40][16];

    (void)state;
    for (int i = 0; i < 40; i++)
        assert_int_equal(sti_random_id_bytes(ids[i], 16), STI_OK);
    for (int i = 0; i < 40; i++)
        for (int j = i + 1; j < 40; j++)
            assert_memory_not_equal(ids[i], ids[j], 16);
}

/* A forked child must not hand out the bytes left in its parent's pool. */
static void id_bytes_differ_after_fork(void **state)
{
    unsigned char first[16], parent[16], child[16];
    int fds[2], status;
    pid_t pid;

    (void)state;
    assert_int_equal(sti_random_id_bytes(first, 16), STI_OK);
    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int ok = sti_random_id_bytes(child, 16) == STI_OK &&
                 write(fds[1], child, 16) == 16;

        _exit(ok ? 0 : 1);
    }
    close(fds[1]);
    assert_int_equal(sti_random_id_bytes(parent, 16), STI_OK);
    assert_int_equal(read(fds[0], child, 16), 16);
    close(fds[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_memory_not_equal(parent, child, 16);
}

static void sqlite_open_uses_wal(void **state)
{
    struct sti_error err;
    char *dir = test_tmpdir(), *path = test_path(dir, "t.db");
    sqlite3 *db;
    sqlite3_stmt *st;
    struct stat sb;

    (void)state;
    assert_int_equal(
        sti_sqlite_open(path, "CREATE TABLE IF NOT EXISTS t(x);", &db, &err),
        STI_OK);
    assert_int_equal(
        sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(sti_sqlite_exec(db, "INSERT INTO nosuch VALUES(1)", &err),
                     STI_ERR_DB);
    assert_non_null(strstr(err.message, "nosuch"));
    sqlite3_close(db);
    free(path);
    test_rmtree(dir);
}

static void status_names(void **state)
{
    (void)state;
    assert_string_equal(sti_status_str(STI_OK), "success");
    assert_string_equal(sti_status_str(STI_ERR_INVALID), "invalid input");
    assert_string_equal(sti_status_str(999), "unknown status");
    assert_string_equal(sti_version(), STI_VERSION);
}

static void log_escapes_control_bytes(void **state)
{
    int fds[2], saved;
    char buf[512];
    ssize_t n;

    (void)state;
    assert_int_equal(pipe(fds), 0);
    saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_int_equal(dup2(fds[1], STDERR_FILENO), STDERR_FILENO);
    sti_log_init("test", STI_LOG_INFO);
    sti_log(STI_LOG_INFO, "user %s", "evil\x1b[31m\nnext\r");
    sti_log(STI_LOG_DEBUG, "not shown");
    assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
    close(saved);
    close(fds[1]);
    n = read(fds[0], buf, sizeof(buf) - 1);
    close(fds[0]);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_non_null(strstr(buf, "<6>"));
    assert_non_null(strstr(buf, "test: user evil?[31m?next?\n"));
    assert_null(strchr(buf, 0x1b));
    assert_null(strstr(buf, "not shown"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(b64url_round_trip),
        cmocka_unit_test(b64url_known_vector),
        cmocka_unit_test(b64url_rejects_bad_input),
        cmocka_unit_test(b64_standard_padding),
        cmocka_unit_test(secret_sources),
        cmocka_unit_test(secret_bad_sources),
        cmocka_unit_test(file_write_mode_and_exclusive),
        cmocka_unit_test(file_read_max_limits),
        cmocka_unit_test(uuid4_format),
        cmocka_unit_test(uuid_valid_cases),
        cmocka_unit_test(id_bytes_distinct),
        cmocka_unit_test(id_bytes_differ_after_fork),
        cmocka_unit_test(sqlite_open_uses_wal),
        cmocka_unit_test(status_names),
        cmocka_unit_test(log_escapes_control_bytes),
        cmocka_unit_test(escape_shows_raw_bytes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
