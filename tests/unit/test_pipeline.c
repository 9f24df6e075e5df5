/* test_pipeline.c - the order of a chat request's stages, through the router
 * with a fake libfcgi and a real redis-server: every check that needs no
 * Valkey (the body's JSON, the model, OpenAI's rules, n, and the provider's
 * own translation) runs before the conversation, the thinking store and the
 * session pool are asked. So an invalid request makes no Valkey round trip
 * at all, and gets its 400 at once even while every pool session is held;
 * before the pipeline it waited AXON_POOL_WAIT_MS for the pool, then got a
 * 429 (issue 19). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "fcgi_io.h"
#include "jsonv.h"
#include "pool.h"
#include "router.h"
#include "valkey.h"

#include "fake_fcgi.h"
#include "redis_srv.h"

#define WAIT_MS 1000 /* AXON_POOL_WAIT_MS: what a request that reaches the pool waits */

static struct axon_config cfg;
/* The web server's end of the FastCGI connection, kept open: a request
 * that waits for the pool asks whether its client is still there. */
static int conn[2] = {-1, -1};

/* A Claude upstream that is configured but never reached (nothing here
 * gets past the pool), a pool of one session, and Valkey on the test's
 * server. */
static int setup(void **state)
{
    if (setup_plain(state))
        return -1;
    struct srv *s = *state;
    char host[32], err[256];
    struct valkey_addr a = tcp_addr(s, host, sizeof host);
    valkey_init(&a, 1000);
    config_defaults(&cfg);
    static const char *const set[][2] = {
        {"AXON_API_KEYS", "sk-test"},
        {"ANTHROPIC_API_KEY", "sk-ant-test"},
        {"ANTHROPIC_BASE_URL", "http://127.0.0.1:9"},
        {"AXON_POOL_SIZE", "1"},
        {"AXON_MAX_N", "4"},
    };
    for (size_t i = 0; i < sizeof set / sizeof set[0]; i++)
        if (config_set(&cfg, set[i][0], set[i][1], err, sizeof err)) {
            print_error("%s\n", err);
            return -1;
        }
    if (config_finish(&cfg, err, sizeof err)) {
        print_error("%s\n", err);
        return -1;
    }
    cfg.valkey_timeout_ms = 1000; /* as given to valkey_init: the acquire deadline */
    cfg.pool_wait_ms = WAIT_MS;
    return socketpair(AF_UNIX, SOCK_STREAM, 0, conn);
}

static int teardown_all(void **state)
{
    config_free(&cfg);
    buf_free(&out);
    for (int i = 0; i < 2; i++)
        if (conn[i] >= 0)
            close(conn[i]);
    return teardown(state);
}

struct answer {
    int status;
    char code[64];      /* error.code, "" when null or absent */
    unsigned long rt;   /* Valkey round trips the request made */
    double ms;          /* how long it took */
};

static void post(const char *b, struct answer *a)
{
    static const char *const p[][2] = {
        {"REQUEST_METHOD", "POST"},
        {"REQUEST_URI", "/v1/chat/completions"},
        {"HTTP_AUTHORIZATION", "Bearer sk-test"},
        {"CONTENT_TYPE", "application/json"},
    };
    size_t i = 0;
    for (; i < sizeof p / sizeof p[0]; i++) {
        params[i][0] = p[i][0];
        params[i][1] = p[i][1];
    }
    char len[24];
    snprintf(len, sizeof len, "%zu", strlen(b));
    params[i][0] = "CONTENT_LENGTH";
    params[i++][1] = len;
    params[i][0] = NULL;
    body = b;
    body_len = strlen(b);
    body_pos = 0;
    buf_reset(&out);
    out_error = 0;

    FCGX_Request fcgi = {0};
    fcgi.ipcFd = conn[0];
    struct axon_req r;
    io_req_init(&r, &fcgi, &cfg);
    unsigned long rt0 = valkey_round_trips();
    double t0 = now_ms();
    router_handle(&r);
    a->ms = now_ms() - t0;
    a->rt = valkey_round_trips() - rt0;

    assert_non_null(out.p);
    assert_int_equal(sscanf(out.p, "Status: %d", &a->status), 1);
    a->code[0] = '\0';
    const char *sep = strstr(out.p, "\r\n\r\n");
    assert_non_null(sep);
    json_object *o = NULL, *e = NULL, *c = NULL;
    if (jsonv_parse(sep + 4, strlen(sep + 4), 64, &o) == 0 &&
        json_object_object_get_ex(o, "error", &e) && json_object_object_get_ex(e, "code", &c) &&
        json_object_is_type(c, json_type_string))
        snprintf(a->code, sizeof a->code, "%s", json_object_get_string(c));
    json_object_put(o);
}

#define MSGS "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]"

/* Invalid requests, one per stage that can refuse without Valkey. */
static const struct {
    const char *what, *body;
    int status;
    const char *code;
} invalid[] = {
    {"bad JSON (read)", "{\"model\":", 400, ""},
    {"unknown model (validate)", "{\"model\":\"no-such-model\"," MSGS "}", 404, "model_not_found"},
    {"no messages (validate: OpenAI's rules)", "{\"model\":\"claude-sonnet-4-6\"}", 400,
     "missing_required_parameter"},
    {"n above AXON_MAX_N (validate)", "{\"model\":\"claude-sonnet-4-6\",\"n\":5," MSGS "}", 400,
     "integer_above_max_value"},
    {"logprobs to Claude (translate)",
     "{\"model\":\"claude-sonnet-4-6\",\"logprobs\":true," MSGS "}", 400, "unsupported_parameter"},
    {"max_tokens above the model's (translate)",
     "{\"model\":\"claude-sonnet-4-6\",\"max_tokens\":999999," MSGS "}", 400, "invalid_value"},
    {"an image URL that is not http(s) or data (messages)",
     "{\"model\":\"claude-sonnet-4-6\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},"
     "{\"role\":\"assistant\",\"content\":\"a\"},{\"role\":\"user\",\"content\":"
     "[{\"type\":\"image_url\",\"image_url\":{\"url\":\"ftp://x/y.png\"}}]}]}",
     400, NULL},
};

static void check_invalid(const char *when)
{
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        struct answer a;
        post(invalid[i].body, &a);
        if (a.status != invalid[i].status || (invalid[i].code && strcmp(a.code, invalid[i].code)) || a.rt != 0 ||
            a.ms >= WAIT_MS / 2)
            fail_msg("%s, %s: got %d %s after %lu Valkey round trips and %.0f ms; want %d %s, "
                     "none, at once", when, invalid[i].what, a.status, a.code, a.rt, a.ms,
                     invalid[i].status, invalid[i].code ? invalid[i].code : "(any code)");
    }
}

/* With the pool free, and with its one session held by another request:
 * the same answers, no round trip, no wait. */
static void an_invalid_request_never_reaches_valkey(void **state)
{
    (void)state;
    check_invalid("pool free");
    struct pool_lease held;
    assert_int_equal(pool_acquire(&cfg, cfg.endpoints[0].pool, &held, NULL, NULL), AXON_OK);
    check_invalid("pool fully leased");
    /* The control: a valid request does reach the pool, waits and is
     * refused for want of a session, so the ones above were not spared by
     * accident. */
    struct answer a;
    post("{\"model\":\"claude-sonnet-4-6\"," MSGS "}", &a);
    assert_int_equal(a.status, 429);
    assert_string_equal(a.code, "rate_limit_exceeded");
    assert_true(a.rt > 0);
    assert_true(a.ms >= WAIT_MS * 0.9);
    assert_int_equal(pool_release(&cfg, &held, POOL_DONE, NULL), AXON_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(an_invalid_request_never_reaches_valkey, setup,
                                        teardown_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
