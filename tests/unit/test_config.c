/* Config parsing: defaults, ranges, the env-over-file rule, key sources, and
 * error messages that name the bad setting without echoing secrets. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
/* <syslog.h> beside our headers: its LOG_DEBUG, LOG_INFO ... must not clash with
 * Axon's own level names (AXON_LOG_*), which this include would break. */
#include <syslog.h>

#include "config.h"
#include "sha256.h"

static char err[512];

static void clear_env(void)
{
    for (const struct config_doc *d = config_docs; d->name; d++)
        unsetenv(d->name);
}

static char *write_tmp(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/axon-test-conf-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void defaults_with_one_key(void **state)
{
    (void)state;
    clear_env();
    setenv("AXON_API_KEYS", "sk-one", 1);
    struct axon_config c;
    assert_int_equal(config_load(&c, NULL, false, err, sizeof err), 0);
    assert_int_equal(c.threads, 16);
    assert_int_equal(c.max_threads, 2048);
    assert_int_equal(c.max_body_bytes, 16u << 20);
    assert_int_equal(c.max_inflight_bytes, (size_t)256 << 20);
    assert_int_equal(c.drain_s, 30);
    assert_int_equal(c.port, 8080);
    assert_string_equal(c.server, "lighttpd");
    assert_string_equal(c.valkey.host, "127.0.0.1");
    assert_int_equal(c.valkey.port, 6379);
    assert_int_equal(c.n_keys, 1);
    unsigned char d[SHA256_LEN];
    sha256("sk-one", 6, d);
    assert_memory_equal(c.key_hashes[0], d, SHA256_LEN);
    config_free(&c);
}

static void no_key_is_an_error_naming_the_variable(void **state)
{
    (void)state;
    clear_env();
    struct axon_config c;
    assert_int_equal(config_load(&c, NULL, false, err, sizeof err), AXON_EINVAL);
    assert_non_null(strstr(err, "AXON_API_KEYS"));
}

static void bad_values_name_the_setting(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"AXON_THREADS", "abc"},        {"AXON_THREADS", "0"},
        {"AXON_THREADS", "8193"},       {"AXON_THREADS", " 4"},
        {"AXON_MAX_THREADS", "0"},      {"AXON_MAX_THREADS", "9000"},
        {"AXON_THREADS", "+4"},         {"AXON_MAX_BODY_BYTES", "12x"},
        {"AXON_DRAIN_S", "-1"},         {"AXON_PORT", "70000"},
        {"AXON_SERVER", "caddy"},       {"AXON_LOG_LEVEL", "loud"},
        {"AXON_BASE_PATH", "axon"},     {"AXON_BASE_PATH", "/a//b"},
        {"AXON_BASE_PATH", "/a b"},     {"AXON_BASE_PATH", "/a?x"},
        {"AXON_VALKEY_URL", "http://x"}, {"AXON_VALKEY_URL", "redis://:pw@:6379"},
        {"AXON_TEST_ROUTES", "yes"},
        {"AXON_STORE", "sometimes"},    {"AXON_POOL_SIZE", "0"},
        {"AXON_CONVERSATION_TTL", "10"}, {"AXON_METRICS_PUBLIC", "true"},
        {"AXON_MAX_TURNS", "0"},        {"AXON_VALKEY_TIMEOUT_MS", "0"},
        {"ANTHROPIC_API_KEY_FILE", "/nonexistent/claude-key"},
        {"AXON_PROMPT_CACHE", "on"},    {"AXON_PROMPT_CACHE", "AUTO"},
        {"AXON_MAX_INFLIGHT_BYTES", "1023"}, {"AXON_MAX_INFLIGHT_BYTES", "64M"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        clear_env();
        setenv("AXON_API_KEYS", "sk-one", 1);
        setenv(cases[i][0], cases[i][1], 1);
        struct axon_config c;
        assert_int_equal(config_load(&c, NULL, false, err, sizeof err), AXON_EINVAL);
        assert_non_null(strstr(err, cases[i][0]));
    }
}

/* AXON_MAX_INFLIGHT_BYTES: taken as set, even below AXON_MAX_BODY_BYTES
 * (a body between the two then gets 413). */
static void max_inflight_setting(void **state)
{
    (void)state;
    clear_env();
    setenv("AXON_API_KEYS", "sk-one", 1);
    setenv("AXON_MAX_INFLIGHT_BYTES", "4194304", 1);
    struct axon_config c;
    assert_int_equal(config_load(&c, NULL, false, err, sizeof err), 0);
    assert_int_equal(c.max_inflight_bytes, 4u << 20);
    assert_int_equal(c.max_body_bytes, 16u << 20);
    config_free(&c);
}

/* AXON_PROMPT_CACHE: auto by default, and each of its three words. */
static void prompt_cache_setting(void **state)
{
    (void)state;
    struct axon_config c;
    config_defaults(&c);
    assert_int_equal(c.prompt_cache, PROMPT_CACHE_AUTO);
    static const struct {
        const char *v;
        enum prompt_cache want;
    } t[] = {{"explicit", PROMPT_CACHE_EXPLICIT}, {"off", PROMPT_CACHE_OFF},
             {"auto", PROMPT_CACHE_AUTO}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        assert_int_equal(config_set(&c, "AXON_PROMPT_CACHE", t[i].v, err, sizeof err), 0);
        assert_int_equal(c.prompt_cache, t[i].want);
    }
    assert_int_equal(config_set(&c, "AXON_PROMPT_CACHE", "none", err, sizeof err), AXON_EINVAL);
    assert_non_null(strstr(err, "expected auto, explicit or off"));
    config_free(&c);
}

static void valkey_password_is_never_echoed(void **state)
{
    (void)state;
    clear_env();
    setenv("AXON_API_KEYS", "sk-one", 1);
    setenv("AXON_VALKEY_URL", "redis://:s3cret-pw@host:notaport", 1);
    struct axon_config c;
    assert_int_equal(config_load(&c, NULL, false, err, sizeof err), AXON_EINVAL);
    assert_null(strstr(err, "s3cret"));
}

static void valkey_urls(void **state)
{
    (void)state;
    struct axon_config c;
    config_defaults(&c);
    assert_int_equal(config_set(&c, "AXON_VALKEY_URL", "redis://:pw@10.0.0.5:6380/2", err,
                                sizeof err), 0);
    assert_string_equal(c.valkey.host, "10.0.0.5");
    assert_int_equal(c.valkey.port, 6380);
    assert_int_equal(c.valkey.db, 2);
    assert_string_equal(c.valkey.password, "pw");
    assert_int_equal(config_set(&c, "AXON_VALKEY_URL", "unix:///run/valkey.sock", err,
                                sizeof err), 0);
    assert_null(c.valkey.host);
    assert_string_equal(c.valkey.path, "/run/valkey.sock");
    assert_int_equal(config_set(&c, "AXON_VALKEY_URL", "redis://valkey", err, sizeof err), 0);
    assert_string_equal(c.valkey.host, "valkey");
    assert_int_equal(c.valkey.port, 6379);
    assert_int_equal(c.valkey.mode, VALKEY_SINGLE);

    assert_int_equal(config_set(&c, "AXON_VALKEY_URL",
                                "redis+cluster://:pw@10.0.0.1:7000,10.0.0.2:7001,node3", err,
                                sizeof err), 0);
    assert_int_equal(c.valkey.mode, VALKEY_CLUSTER);
    assert_int_equal(c.valkey.n_seeds, 3);
    assert_string_equal(c.valkey.seeds[0].host, "10.0.0.1");
    assert_int_equal(c.valkey.seeds[0].port, 7000);
    assert_string_equal(c.valkey.seeds[1].host, "10.0.0.2");
    assert_int_equal(c.valkey.seeds[1].port, 7001);
    assert_string_equal(c.valkey.seeds[2].host, "node3");
    assert_int_equal(c.valkey.seeds[2].port, 6379);
    assert_string_equal(c.valkey.password, "pw");
    assert_null(c.valkey.host);

    assert_int_equal(config_set(&c, "AXON_VALKEY_URL",
                                "redis+sentinel://127.0.0.1:26379,127.0.0.1:26380/mymaster/3", err,
                                sizeof err), 0);
    assert_int_equal(c.valkey.mode, VALKEY_SENTINEL);
    assert_int_equal(c.valkey.n_seeds, 2);
    assert_int_equal(c.valkey.seeds[1].port, 26380);
    assert_string_equal(c.valkey.master, "mymaster");
    assert_int_equal(c.valkey.db, 3);
    assert_null(c.valkey.password);

    struct valkey_addr copy;
    valkey_addr_copy(&copy, &c.valkey);
    assert_string_equal(copy.master, "mymaster");
    assert_ptr_not_equal(copy.seeds[0].host, c.valkey.seeds[0].host);
    valkey_addr_free(&copy);
    assert_int_equal(copy.n_seeds, 0);

    static const char *const refused[] = {
        "redis+cluster://",           "redis+cluster://a:1,",  "redis+cluster://a:1/2",
        "redis+cluster://a:99999",    "redis+sentinel://a:1",  "redis+sentinel://a:1/",
        "redis+sentinel://a:1/m m",   "redis+sentinel:///m",   "redis+sentinel://a:1/m/x",
        "redis+cluster://,a:1",
    };
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        assert_int_equal(config_set(&c, "AXON_VALKEY_URL", refused[i], err, sizeof err),
                         AXON_EINVAL);
        assert_non_null(strstr(err, "redis+sentinel://"));
    }
    /* A refused value leaves the last good one. */
    assert_string_equal(c.valkey.master, "mymaster");
    config_free(&c);
}

static void keys_are_trimmed_and_empty_entries_skipped(void **state)
{
    (void)state;
    clear_env();
    setenv("AXON_API_KEYS", " sk-a , ,sk-b,", 1);
    struct axon_config c;
    assert_int_equal(config_load(&c, NULL, false, err, sizeof err), 0);
    assert_int_equal(c.n_keys, 2);
    unsigned char d[SHA256_LEN];
    sha256("sk-b", 4, d);
    assert_memory_equal(c.key_hashes[1], d, SHA256_LEN);
    config_free(&c);
}

static void keys_file_and_env_add_up(void **state)
{
    (void)state;
    clear_env();
    char *path = write_tmp("# comment\nsk-file-1\r\n\n  sk-file-2  \n");
    setenv("AXON_API_KEYS_FILE", path, 1);
    setenv("AXON_API_KEYS", "sk-env", 1);
    struct axon_config c;
    assert_int_equal(config_load(&c, NULL, false, err, sizeof err), 0);
    assert_int_equal(c.n_keys, 3);
    config_free(&c);
    unlink(path);
    setenv("AXON_API_KEYS_FILE", "/nonexistent/keys", 1);
    assert_int_equal(config_load(&c, NULL, false, err, sizeof err), AXON_EINVAL);
    assert_non_null(strstr(err, "AXON_API_KEYS_FILE"));
}

/* The Claude key from a file (a mounted Secret): trimmed, it wins over
 * ANTHROPIC_API_KEY, and an empty or multi-line file is refused. The pool
 * name follows the file, not the key in it, so a rotation keeps the pool. */
static void claude_key_file(void **state)
{
    (void)state;
    clear_env();
    setenv("AXON_API_KEYS", "sk-one", 1);
    setenv("ANTHROPIC_API_KEY", "sk-ant-env", 1);
    char *path = write_tmp("  sk-ant-from-file \n");
    setenv("ANTHROPIC_API_KEY_FILE", path, 1);
    struct axon_config c;
    int lrc = config_load(&c, NULL, false, err, sizeof err);
    if (lrc) print_error("%s\n", err);
    assert_int_equal(lrc, 0);
    assert_string_equal(c.anthropic_key, "sk-ant-from-file");
    char pool[sizeof c.endpoints[0].pool];
    memcpy(pool, c.endpoints[0].pool, sizeof pool);
    assert_int_equal(strlen(pool), 16);
    config_free(&c);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("sk-ant-rotated\n", f);
    fclose(f);
    assert_int_equal(config_load(&c, NULL, false, err, sizeof err), 0);
    assert_string_equal(c.anthropic_key, "sk-ant-rotated");
    assert_string_equal(c.endpoints[0].pool, pool);
    config_free(&c);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("sk-a\nsk-b\n", f);
    fclose(f);
    assert_int_equal(config_load(&c, NULL, false, err, sizeof err), AXON_EINVAL);
    assert_non_null(strstr(err, "ANTHROPIC_API_KEY_FILE"));
    assert_null(strstr(err, "sk-a"));
    unlink(path);
}

static void a_key_with_a_space_is_refused(void **state)
{
    (void)state;
    clear_env();
    setenv("AXON_API_KEYS", "sk-a b", 1);
    struct axon_config c;
    assert_int_equal(config_load(&c, NULL, false, err, sizeof err), AXON_EINVAL);
    assert_null(strstr(err, "sk-a"));
}

static void file_values_and_env_precedence(void **state)
{
    (void)state;
    clear_env();
    char *path = write_tmp("# axon.conf\nAXON_API_KEYS=sk-file\nAXON_THREADS = 4\n"
                           "AXON_DRAIN_S=\"7\"\nAXON_SERVER=nginx\n");
    setenv("AXON_THREADS", "8", 1);
    struct axon_config c;
    assert_int_equal(config_load(&c, path, true, err, sizeof err), 0);
    assert_int_equal(c.threads, 8); /* the environment wins */
    assert_int_equal(c.max_threads, 2048);
    assert_int_equal(c.drain_s, 7);
    assert_string_equal(c.server, "nginx");
    assert_int_equal(c.n_keys, 1);
    config_free(&c);
    unlink(path);

    /* AXON_THREADS above the ceiling raises it: that many always run. */
    setenv("AXON_API_KEYS", "sk-one", 1);
    setenv("AXON_THREADS", "3000", 1);
    assert_int_equal(config_load(&c, NULL, false, err, sizeof err), 0);
    assert_int_equal(c.max_threads, 3000);
    config_free(&c);
    setenv("AXON_THREADS", "4", 1);
    setenv("AXON_MAX_THREADS", "64", 1);
    assert_int_equal(config_load(&c, NULL, false, err, sizeof err), 0);
    assert_int_equal(c.threads, 4);
    assert_int_equal(c.max_threads, 64);
    config_free(&c);
}

static void file_typos_and_garbage_are_errors(void **state)
{
    (void)state;
    clear_env();
    setenv("AXON_API_KEYS", "sk-one", 1);
    char *path = write_tmp("AXON_THREDS=4\n");
    struct axon_config c;
    assert_int_equal(config_load(&c, path, true, err, sizeof err), AXON_EINVAL);
    assert_non_null(strstr(err, "AXON_THREDS"));
    unlink(path);
    path = write_tmp("just words\n");
    assert_int_equal(config_load(&c, path, true, err, sizeof err), AXON_EINVAL);
    assert_non_null(strstr(err, "line 1"));
    unlink(path);
    assert_int_equal(config_load(&c, "/nonexistent.conf", true, err, sizeof err), AXON_EINVAL);
    assert_int_equal(config_load(&c, "/nonexistent.conf", false, err, sizeof err), 0);
    config_free(&c);
}

/* The OpenAI-compatible upstreams: endpoints, their routing, AXON_PROVIDER. */
static void vllm_endpoints(void **state)
{
    (void)state;
    clear_env();
    setenv("AXON_API_KEYS", "sk-one", 1);
    setenv("AXON_PROVIDER", "vllm", 1);
    struct axon_config c;
    assert_int_equal(config_load(&c, NULL, false, err, sizeof err), AXON_EINVAL);
    assert_non_null(strstr(err, "AXON_PROVIDER=vllm needs AXON_VLLM_BASE_URL"));
    setenv("AXON_VLLM_BASE_URL", "http://gpu:8000/v1/", 1);
    setenv("AXON_VLLM_API_KEY", "sk-vllm-secret", 1);
    assert_int_equal(config_load(&c, NULL, false, err, sizeof err), 0);
    assert_int_equal(c.n_endpoints, 2);
    assert_string_equal(c.endpoints[0].name, "anthropic");
    assert_string_equal(c.endpoints[1].name, "vllm");
    assert_string_equal(c.endpoints[1].base_url, "http://gpu:8000"); /* /v1 is Axon's to add */
    assert_string_equal(c.endpoints[1].key, "sk-vllm-secret");
    assert_string_equal(c.endpoints[1].health, "/health");
    assert_int_equal(strlen(c.endpoints[1].pool), 16);
    assert_string_not_equal(c.endpoints[1].pool, c.endpoints[0].pool);
    assert_string_equal(c.default_model, "qwen3-coder"); /* AXON_PROVIDER picks the default */
    config_free(&c);
    /* models.conf servers: a key_env that is unset is an error naming it. */
    char *path = write_tmp("server gpu2 url=http://gpu2:8000 key_env=AXON_TEST_GPU2_KEY\n"
                           "model llama provider=openai server=gpu2\n");
    setenv("AXON_MODELS_FILE", path, 1);
    unsetenv("AXON_TEST_GPU2_KEY");
    assert_int_equal(config_load(&c, NULL, false, err, sizeof err), AXON_EINVAL);
    assert_non_null(strstr(err, "key_env=AXON_TEST_GPU2_KEY is not set"));
    setenv("AXON_TEST_GPU2_KEY", "sk-gpu2", 1);
    assert_int_equal(config_load(&c, NULL, false, err, sizeof err), 0);
    assert_int_equal(c.n_endpoints, 3);
    assert_string_equal(c.endpoints[2].key, "sk-gpu2");
    assert_int_equal(models_find(&c.models, "llama")->endpoint, 2);
    config_free(&c);
    /* A model on the vllm server needs that server. */
    unlink(path);
    path = write_tmp("model coder provider=openai\n");
    setenv("AXON_MODELS_FILE", path, 1);
    unsetenv("AXON_VLLM_BASE_URL");
    unsetenv("AXON_PROVIDER");
    setenv("AXON_DEFAULT_MODEL", "coder", 1);
    assert_int_equal(config_load(&c, NULL, false, err, sizeof err), AXON_EINVAL);
    assert_non_null(strstr(err, "model coder: server vllm is not configured"));
    unlink(path);
    unsetenv("AXON_TEST_GPU2_KEY");
    clear_env();
}

/* The prefix is compared byte for byte with REQUEST_URI, so its trailing
 * slashes go and "/" alone means none. */
static void base_path_is_normalised(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"/axon", "/axon"}, {"/axon/", "/axon"}, {"/a/b-1.x~y//", "/a/b-1.x~y"}, {"/", ""}, {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        clear_env();
        setenv("AXON_API_KEYS", "sk-one", 1);
        setenv("AXON_BASE_PATH", cases[i][0], 1);
        struct axon_config c;
        assert_int_equal(config_load(&c, NULL, false, err, sizeof err), 0);
        assert_string_equal(c.base_path, cases[i][1]);
        config_free(&c);
    }
    clear_env();
    setenv("AXON_API_KEYS", "sk-one", 1);
    setenv("AXON_SERVER", "apache", 1);
    struct axon_config c;
    assert_int_equal(config_load(&c, NULL, false, err, sizeof err), 0);
    assert_string_equal(c.server, "apache");
    config_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_with_one_key),
        cmocka_unit_test(no_key_is_an_error_naming_the_variable),
        cmocka_unit_test(bad_values_name_the_setting),
        cmocka_unit_test(valkey_password_is_never_echoed),
        cmocka_unit_test(valkey_urls),
        cmocka_unit_test(keys_are_trimmed_and_empty_entries_skipped),
        cmocka_unit_test(keys_file_and_env_add_up),
        cmocka_unit_test(a_key_with_a_space_is_refused),
        cmocka_unit_test(claude_key_file),
        cmocka_unit_test(file_values_and_env_precedence),
        cmocka_unit_test(file_typos_and_garbage_are_errors),
        cmocka_unit_test(vllm_endpoints),
        cmocka_unit_test(base_path_is_normalised),
        cmocka_unit_test(prompt_cache_setting),
        cmocka_unit_test(max_inflight_setting),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
