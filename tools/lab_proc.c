/* sti lab: files, child processes and the background services. */
#include "cli.h"
#include "lab.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* How long a service may take to report its port, and to stop: the
 * services finish requests in progress for up to 5 s after SIGTERM. */
#define START_WAIT_MS 15000
#define TERM_WAIT_MS 8000
#define KILL_WAIT_MS 2000

static const char *const service_names[LAB_SERVICE_COUNT] = {"pa", "cr", "ca",
                                                             "serve"};
/* sti serve is the only service without TLS. */
static const char *const service_schemes[LAB_SERVICE_COUNT] = {"https", "https",
                                                               "https", "http"};

void lab_path(const struct lab *lab, char out[LAB_PATH_MAX], const char *fmt,
              ...)
{
    char rel[LAB_PATH_MAX];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(rel, sizeof(rel), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(rel) ||
        (size_t)snprintf(out, LAB_PATH_MAX, "%s/%s", lab->dir, rel) >=
            LAB_PATH_MAX) {
        cli_errorf("path under %s is too long", lab->dir);
        exit(CLI_EXIT_FAIL);
    }
}

int lab_exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

int lab_mkdir(const char *dir, unsigned int mode)
{
    if (mkdir(dir, mode) == 0 || errno == EEXIST)
        return 0;
    cli_errorf("cannot create directory %s: %s", dir, strerror(errno));
    return -1;
}

char *lab_read_text(const char *path)
{
    unsigned char *data;
    size_t len;
    struct sti_error err;

    if (sti_file_read(path, &data, &len, &err) != STI_OK)
        return NULL;
    while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
        data[--len] = '\0';
    return (char *)data;
}

int lab_write_text(const char *path, const char *text, unsigned int mode)
{
    struct sti_error err;

    if (sti_file_write(path, text, strlen(text), mode, 0, &err) != STI_OK) {
        cli_fail("cannot write file", &err);
        return -1;
    }
    return 0;
}

void lab_spc(int index, char out[16])
{
    snprintf(out, 16, "%d", 1001 + index % LAB_MAX_PROVIDERS);
}

void lab_orig_tn(int index, char out[16])
{
    snprintf(out, 16, "1202555%04d", 100 + index % LAB_MAX_PROVIDERS);
}

void lab_bin_path(const struct lab *lab, const char *name,
                  char out[LAB_PATH_MAX])
{
    if ((size_t)snprintf(out, LAB_PATH_MAX, "%s/%s", lab->bindir, name) >=
        LAB_PATH_MAX) {
        cli_errorf("path of %s is too long", name);
        exit(CLI_EXIT_FAIL);
    }
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Child side of a fork: redirects stdio and runs PATH; never returns. */
static void exec_child(const char *path, const char *const argv[], int out_fd,
                       int err_fd)
{
    int null_fd = open("/dev/null", O_RDONLY);

    if (null_fd >= 0)
        dup2(null_fd, STDIN_FILENO);
    if (out_fd >= 0)
        dup2(out_fd, STDOUT_FILENO);
    if (err_fd >= 0)
        dup2(err_fd, STDERR_FILENO);
    execv(path, (char *const *)argv);
    fprintf(stderr, "cannot run %s: %s\n", path, strerror(errno));
    _exit(127);
}

/* A temporary file for a child's output, unlinked at once. */
static int temp_fd(void)
{
    char name[] = "/tmp/sti-lab.XXXXXX";
    int fd = mkstemp(name);

    if (fd >= 0)
        unlink(name);
    return fd;
}

/* Reads everything from the start of FD into a new string. */
static char *slurp_fd(int fd)
{
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    ssize_t n;

    if (buf == NULL || lseek(fd, 0, SEEK_SET) < 0) {
        free(buf);
        return NULL;
    }
    while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
        len += (size_t)n;
        if (cap - len < 2) {
            char *grown = realloc(buf, cap * 2);

            if (grown == NULL)
                break;
            buf = grown;
            cap *= 2;
        }
    }
    buf[len] = '\0';
    return buf;
}

static int wait_child(pid_t pid)
{
    int status;

    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

int lab_run_path(const struct lab *lab, const char *path,
                 const char *const argv[], char **out, char **errout)
{
    int out_fd = temp_fd(), err_fd = temp_fd(), rc = -1;
    pid_t pid;

    (void)lab;
    if (out_fd < 0 || err_fd < 0) {
        cli_errorf("cannot create a temporary file: %s", strerror(errno));
        goto out;
    }
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        cli_errorf("cannot fork: %s", strerror(errno));
        goto out;
    }
    if (pid == 0)
        exec_child(path, argv, out_fd, err_fd);
    rc = wait_child(pid);
    if (out != NULL)
        *out = slurp_fd(out_fd);
    if (errout != NULL)
        *errout = slurp_fd(err_fd);
out:
    if (out_fd >= 0)
        close(out_fd);
    if (err_fd >= 0)
        close(err_fd);
    return rc;
}

/* Prints the command line, for failures. */
static void print_command(const char *const argv[])
{
    fprintf(stderr, "%s: command:", cli_prog);
    for (size_t i = 0; argv[i] != NULL; i++)
        fprintf(stderr, " %s", argv[i]);
    fputc('\n', stderr);
}

int lab_run(const struct lab *lab, const char *const argv[], char **out,
            int quiet)
{
    char path[LAB_PATH_MAX], *errtext = NULL;
    int rc;

    lab_bin_path(lab, argv[0], path);
    if (lab->verbose)
        print_command(argv);
    rc = lab_run_path(lab, path, argv, out, &errtext);
    if (rc != 0 && !quiet) {
        if (!lab->verbose)
            print_command(argv);
        fprintf(stderr, "%s", errtext != NULL ? errtext : "");
        cli_errorf("%s exited with status %d", argv[0], rc);
    }
    free(errtext);
    return rc;
}

const char *lab_service_name(int id)
{
    return service_names[id];
}

int lab_service_port(const struct lab *lab, int id)
{
    char path[LAB_PATH_MAX], *text;
    long port = 0;

    lab_path(lab, path, "run/%s.port", service_names[id]);
    text = lab_read_text(path);
    if (text == NULL || cli_parse_long(text, 1, 65535, &port) != 0)
        port = 0;
    free(text);
    return (int)port;
}

void lab_service_url(const struct lab *lab, int id, char out[256])
{
    int port = lab_service_port(lab, id);

    out[0] = '\0';
    if (port > 0)
        snprintf(out, 256, "%s://127.0.0.1:%d", service_schemes[id], port);
}

/* Returns 1 when PID runs a program whose command line names the lab
 * directory, so a recycled pid is never taken for a lab service. */
static int pid_is_ours(const struct lab *lab, pid_t pid)
{
    char path[64], buf[8192];
    size_t len = strlen(lab->dir);
    ssize_t n;
    int fd, found = 0;

    snprintf(path, sizeof(path), "/proc/%ld/cmdline", (long)pid);
    fd = open(path, O_RDONLY);
    if (fd < 0)
        return 0;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0; /* a zombie has an empty command line */
    buf[n] = '\0';
    for (ssize_t i = 0; i < n && !found; i += (ssize_t)strlen(buf + i) + 1)
        found = strncmp(buf + i, lab->dir, len) == 0 &&
                (buf[i + len] == '/' || buf[i + len] == '\0');
    return found;
}

/* Reaps PID when it is our child, so that a dead service is no zombie. */
static void reap(pid_t pid)
{
    int status;

    (void)waitpid(pid, &status, WNOHANG);
}

pid_t lab_service_pid(const struct lab *lab, int id)
{
    char path[LAB_PATH_MAX], *text;
    long pid = 0;

    lab_path(lab, path, "run/%s.pid", service_names[id]);
    text = lab_read_text(path);
    if (text == NULL || cli_parse_long(text, 1, 1L << 30, &pid) != 0)
        pid = 0;
    free(text);
    if (pid > 0)
        reap((pid_t)pid);
    if (pid > 0 && (kill((pid_t)pid, 0) != 0 || !pid_is_ours(lab, (pid_t)pid)))
        pid = 0;
    return (pid_t)pid;
}

/* Forks the service with its output appended to LOG; returns the pid. */
static pid_t spawn(const char *path, const char *const argv[], const char *log)
{
    int log_fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    pid_t pid;

    if (log_fd < 0) {
        cli_errorf("cannot open %s: %s", log, strerror(errno));
        return -1;
    }
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        /* A session of its own, so the service outlives the terminal's
         * Ctrl-C and `make lab`. */
        setsid();
        exec_child(path, argv, log_fd, log_fd);
    }
    close(log_fd);
    if (pid < 0)
        cli_errorf("cannot fork: %s", strerror(errno));
    return pid;
}

/* Waits until PORT_FILE holds a port; 1 when it does, 0 when the child
 * exited, -1 on timeout. */
static int wait_port(pid_t pid, const char *port_file)
{
    for (long waited = 0; waited < START_WAIT_MS; waited += 50) {
        char *text = lab_read_text(port_file);
        int ready = text != NULL && text[0] != '\0';
        int status;

        free(text);
        if (ready)
            return 1;
        if (waitpid(pid, &status, WNOHANG) == pid)
            return 0;
        sleep_ms(50);
    }
    return -1;
}

/* Builds ARGV plus --listen and --port-file into FULL (64 entries). */
static void add_listen(const char *const argv[], const char *full[64],
                       char listen[32], const char *port_file, int port)
{
    size_t n = 0;

    while (n < 59 && argv[n] != NULL) {
        full[n] = argv[n];
        n++;
    }
    snprintf(listen, 32, "127.0.0.1:%d", port);
    full[n++] = "--listen";
    full[n++] = listen;
    full[n++] = "--port-file";
    full[n++] = port_file;
    full[n] = NULL;
}

/* One attempt on PORT; 1 started, 0 the program exited, -1 failure. */
static int start_on(const struct lab *lab, int id, const char *const argv[],
                    int port)
{
    char path[LAB_PATH_MAX], port_file[LAB_PATH_MAX], log[LAB_PATH_MAX];
    char pid_file[LAB_PATH_MAX], listen[32], pid_text[32];
    const char *full[64];
    pid_t pid;
    int rc;

    lab_path(lab, port_file, "run/%s.port", service_names[id]);
    lab_path(lab, log, "run/%s.log", service_names[id]);
    lab_path(lab, pid_file, "run/%s.pid", service_names[id]);
    lab_bin_path(lab, argv[0], path);
    add_listen(argv, full, listen, port_file, port);
    unlink(port_file);
    if (lab->verbose)
        print_command(full);
    pid = spawn(path, full, log);
    if (pid < 0)
        return -1;
    snprintf(pid_text, sizeof(pid_text), "%ld\n", (long)pid);
    if (lab_write_text(pid_file, pid_text, 0644) != 0)
        return -1;
    rc = wait_port(pid, port_file);
    if (rc < 0) {
        cli_errorf("%s did not report its port within %d s; see %s",
                   service_names[id], START_WAIT_MS / 1000, log);
        lab_service_stop(lab, id);
    }
    if (rc == 0)
        unlink(pid_file);
    return rc;
}

int lab_service_start(const struct lab *lab, int id, const char *const argv[])
{
    int port = lab_service_port(lab, id), rc;
    char log[LAB_PATH_MAX];

    /* The recorded port keeps URLs stable; if another program took it in
     * the meantime, any free port will do. */
    rc = start_on(lab, id, argv, port);
    if (rc == 0 && port != 0)
        rc = start_on(lab, id, argv, 0);
    if (rc == 0) {
        lab_path(lab, log, "run/%s.log", service_names[id]);
        cli_errorf("%s exited at start; see %s", service_names[id], log);
    }
    return rc == 1 ? 0 : -1;
}

/* Waits up to MS for PID to end; 1 when it did. */
static int wait_gone(const struct lab *lab, pid_t pid, long ms)
{
    for (long waited = 0; waited <= ms; waited += 50) {
        reap(pid);
        if (kill(pid, 0) != 0 || !pid_is_ours(lab, pid))
            return 1;
        sleep_ms(50);
    }
    return 0;
}

int lab_service_stop(const struct lab *lab, int id)
{
    char pid_file[LAB_PATH_MAX];
    pid_t pid = lab_service_pid(lab, id);
    int rc = 0;

    lab_path(lab, pid_file, "run/%s.pid", service_names[id]);
    if (pid > 0) {
        kill(pid, SIGTERM);
        if (!wait_gone(lab, pid, TERM_WAIT_MS)) {
            cli_errorf("%s (pid %ld) ignored SIGTERM for %d s; killing it",
                       service_names[id], (long)pid, TERM_WAIT_MS / 1000);
            kill(pid, SIGKILL);
            if (!wait_gone(lab, pid, KILL_WAIT_MS)) {
                cli_errorf("%s (pid %ld) is still running", service_names[id],
                           (long)pid);
                rc = -1;
            }
        }
    }
    if (rc == 0)
        unlink(pid_file);
    return rc;
}
