/* Messages, number parsing, configuration files and signals for the tools. */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

const char *cli_prog = "sti";

void cli_errorf(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", cli_prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int cli_fail(const char *what, const struct sti_error *err)
{
    if (err != NULL && err->message[0] != '\0')
        fprintf(stderr, "%s: %s: %s\n", cli_prog, what, err->message);
    else if (err != NULL)
        fprintf(stderr, "%s: %s: %s\n", cli_prog, what,
                sti_status_str(err->code));
    else
        fprintf(stderr, "%s: %s\n", cli_prog, what);
    return CLI_EXIT_FAIL;
}

int cli_usage_error(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", cli_prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry '%s --help'.\n", cli_prog);
    return CLI_EXIT_USAGE;
}

int cli_parse_long(const char *text, long min, long max, long *out)
{
    char *end;
    long v;

    if (text == NULL || *text == '\0')
        return -1;
    errno = 0;
    v = strtol(text, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

struct cli_config {
    char *path; /* the file, for messages */
    size_t count;
    char **keys;
    char **values;
    size_t *lines; /* the line number of each key */
};

static char *trim(char *s)
{
    char *end;

    while (isspace((unsigned char)*s))
        s++;
    end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

static int config_add(struct cli_config *cfg, const char *key,
                      const char *value, size_t lineno)
{
    char **k = realloc(cfg->keys, (cfg->count + 1) * sizeof(*k));
    char **v;
    size_t *l;

    if (k == NULL)
        return -1;
    cfg->keys = k;
    l = realloc(cfg->lines, (cfg->count + 1) * sizeof(*l));
    if (l == NULL)
        return -1;
    cfg->lines = l;
    cfg->lines[cfg->count] = lineno;
    v = realloc(cfg->values, (cfg->count + 1) * sizeof(*v));
    if (v == NULL)
        return -1;
    cfg->values = v;
    cfg->keys[cfg->count] = strdup(key);
    cfg->values[cfg->count] = strdup(value);
    if (cfg->keys[cfg->count] == NULL || cfg->values[cfg->count] == NULL) {
        free(cfg->keys[cfg->count]);
        free(cfg->values[cfg->count]);
        return -1;
    }
    cfg->count++;
    return 0;
}

int cli_config_load(const char *path, struct cli_config **out,
                    struct sti_error *err)
{
    unsigned char *data;
    size_t len, lineno = 0;
    struct cli_config *cfg;
    char *line, *save = NULL;
    struct sti_error scratch;
    int rc;

    if (err == NULL)
        err = &scratch;
    *out = NULL;
    rc = sti_file_read(path, &data, &len, err);
    if (rc != STI_OK)
        return rc;
    cfg = calloc(1, sizeof(*cfg));
    if (cfg != NULL && (cfg->path = strdup(path)) == NULL) {
        free(cfg);
        cfg = NULL;
    }
    if (cfg == NULL) {
        free(data);
        err->code = STI_ERR_NOMEM;
        snprintf(err->message, sizeof(err->message), "out of memory");
        return STI_ERR_NOMEM;
    }
    for (line = strtok_r((char *)data, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        char *eq, *key, *value, *hash;

        lineno++;
        hash = strchr(line, '#');
        if (hash != NULL)
            *hash = '\0';
        line = trim(line);
        if (*line == '\0')
            continue;
        eq = strchr(line, '=');
        if (eq == NULL) {
            snprintf(err->message, sizeof(err->message),
                     "%s: line %zu: expected 'key = value', got '%.60s'", path,
                     lineno, line);
            err->code = STI_ERR_INVALID;
            free(data);
            cli_config_free(cfg);
            return STI_ERR_INVALID;
        }
        *eq = '\0';
        key = trim(line);
        value = trim(eq + 1);
        if (config_add(cfg, key, value, lineno) != 0) {
            free(data);
            cli_config_free(cfg);
            err->code = STI_ERR_NOMEM;
            snprintf(err->message, sizeof(err->message), "out of memory");
            return STI_ERR_NOMEM;
        }
    }
    free(data);
    *out = cfg;
    return STI_OK;
}

int cli_config_check_keys(const struct cli_config *cfg,
                          const char *const *known, size_t count,
                          struct sti_error *err)
{
    for (size_t i = 0; cfg != NULL && i < cfg->count; i++) {
        size_t j = 0;

        while (j < count && strcmp(cfg->keys[i], known[j]) != 0)
            j++;
        if (j < count)
            continue;
        if (err != NULL) {
            err->code = STI_ERR_INVALID;
            snprintf(err->message, sizeof(err->message),
                     "%s: line %zu: unknown key '%.60s'; remove it or "
                     "fix its spelling",
                     cfg->path, cfg->lines[i], cfg->keys[i]);
        }
        return -1;
    }
    return 0;
}

const char *cli_config_get(const struct cli_config *cfg, const char *key)
{
    /* The last assignment wins, as in most configuration formats. */
    for (size_t i = cfg->count; i > 0; i--)
        if (strcmp(cfg->keys[i - 1], key) == 0)
            return cfg->values[i - 1];
    return NULL;
}

void cli_config_free(struct cli_config *cfg)
{
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < cfg->count; i++) {
        free(cfg->keys[i]);
        free(cfg->values[i]);
    }
    free(cfg->keys);
    free(cfg->values);
    free(cfg->lines);
    free(cfg->path);
    free(cfg);
}

static volatile sig_atomic_t *stop_flag;

static void on_stop(int sig)
{
    (void)sig;
    if (stop_flag != NULL)
        *stop_flag = 1;
}

void cli_handle_stop_signals(volatile sig_atomic_t *flag)
{
    struct sigaction sa;

    stop_flag = flag;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

char *cli_path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);

    if (p != NULL)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

void cli_longopts(struct option *opts, const struct cli_string_option *strings,
                  size_t count, int val, const struct option *flags)
{
    for (size_t i = 0; i < count; i++) {
        opts[i].name = strings[i].name;
        opts[i].has_arg = required_argument;
        opts[i].flag = NULL;
        opts[i].val = val;
    }
    for (size_t i = 0;; i++) {
        opts[count + i] = flags[i];
        if (flags[i].name == NULL)
            break;
    }
}

void cli_set_string_option(void *opts, const struct cli_string_option *option,
                           const char *value)
{
    *(const char **)((char *)opts + option->offset) = value;
}

static void print_usage(FILE *out, const struct cli_program *prog)
{
    int width = 0;

    /* The name column is one wider than the longest name, so that at least
     * two spaces separate the columns. */
    for (size_t i = 0; i < prog->count; i++) {
        int len = (int)strlen(prog->commands[i].name) + 1;

        width = len > width ? len : width;
    }
    fprintf(out, "usage: %s %s\n\nCommands:\n", prog->name, prog->synopsis);
    for (size_t i = 0; i < prog->count; i++)
        fprintf(out, "  %-*s %s\n", width, prog->commands[i].name,
                prog->commands[i].summary);
    fprintf(out,
            "\nRun '%s COMMAND --help' for a command's options; "
            "see %s(1).\n",
            prog->name, prog->name);
}

int cli_run_command(const struct cli_program *prog, int argc, char **argv)
{
    static char name[64];

    cli_prog = prog->name;
    if (argc < 2) {
        print_usage(stderr, prog);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        print_usage(stdout, prog);
        return CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("%s %s\n", prog->name, sti_version());
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < prog->count; i++) {
        if (strcmp(argv[1], prog->commands[i].name) == 0) {
            snprintf(name, sizeof(name), "%s %s", prog->name,
                     prog->commands[i].name);
            cli_prog = name;
            /* getopt_long prefixes its messages with argv[0]. */
            argv[1] = name;
            return prog->commands[i].run(argc - 1, argv + 1);
        }
    }
    return cli_usage_error("unknown command '%s'", argv[1]);
}
