/* The request path without a web server: libfcgi's stream calls are wrapped
 * at link time (-Wl,--wrap), so a request is a table of CGI params plus a
 * body, and the answer is the bytes the responder wrote. This covers routing
 * (404/405), auth (401 forms), body limits (413) and the envelope. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "errors_http.h"
#include "fcgi_io.h"
#include "jsonv.h"
#include "router.h"
#include "sha256.h"
#include "text.h"

#include "fake_fcgi.h"

/* ---- helpers ---- */
static struct axon_config cfg;
static unsigned char key_hash[1][SHA256_LEN];

static int setup(void **state)
{
    (void)state;
    sha256("sk-test", 7, key_hash[0]);
    cfg.key_hashes = key_hash;
    cfg.n_keys = 1;
    cfg.max_body_bytes = 1024;
    cfg.max_inflight_bytes = 64u << 20;
    cfg.max_n = 8;
    cfg.default_model = (char *)"claude-sonnet-4-6";
    char err[200];
    /* No ANTHROPIC_API_KEY: Claude models answer 503 no_upstream. */
    return models_parse(&cfg.models,
                        "model claude-sonnet-4-6 provider=anthropic max_tokens=10 max_output=20\n"
                        "alias gpt-4o claude-sonnet-4-6\n",
                        "test", err, sizeof err);
}

static int teardown(void **state)
{
    (void)state;
    models_free(&cfg.models);
    return 0;
}

struct answer {
    int status;
    char head[1024];
    json_object *json; /* parsed body, or NULL */
};

static void request(const char *method, const char *uri, const char *auth, const char *b,
                    const char *content_length, struct answer *a)
{
    int i = 0;
    params[i][0] = "REQUEST_METHOD"; params[i++][1] = method;
    params[i][0] = "REQUEST_URI"; params[i++][1] = uri;
    if (auth) { params[i][0] = "HTTP_AUTHORIZATION"; params[i++][1] = auth; }
    if (content_length) { params[i][0] = "CONTENT_LENGTH"; params[i++][1] = content_length; }
    params[i][0] = NULL;
    body = b ? b : "";
    body_len = strlen(body);
    body_pos = 0;
    buf_reset(&out);
    out_error = 0;

    FCGX_Request fcgi = {0};
    fcgi.ipcFd = -1;
    struct axon_req r;
    io_req_init(&r, &fcgi, &cfg);
    router_handle(&r);

    memset(a, 0, sizeof *a);
    assert_non_null(out.p);
    assert_int_equal(sscanf(out.p, "Status: %d", &a->status), 1);
    char *sep = strstr(out.p, "\r\n\r\n");
    assert_non_null(sep);
    size_t hl = (size_t)(sep - out.p);
    assert_true(hl < sizeof a->head);
    memcpy(a->head, out.p, hl);
    /* Every answer carries a request id of the documented shape. */
    char *id = strstr(a->head, "x-request-id: req_");
    assert_non_null(id);
    for (int k = 0; k < 32; k++)
        assert_non_null(strchr("0123456789abcdef", id[18 + k]));
    const char *payload = sep + 4;
    if (strstr(a->head, "application/json"))
        assert_int_equal(jsonv_parse(payload, strlen(payload), 64, &a->json), 0);
    assert_int_equal(r.bytes_out, strlen(payload));
}

static const char *err_field(struct answer *a, const char *key)
{
    json_object *e = NULL, *v = NULL;
    assert_true(json_object_object_get_ex(a->json, "error", &e));
    assert_true(json_object_object_get_ex(e, key, &v)); /* present, maybe null */
    return v ? json_object_get_string(v) : NULL;
}

static void assert_envelope(struct answer *a, int status, const char *code, const char *msg_start)
{
    assert_int_equal(a->status, status);
    assert_non_null(strstr(a->head, "Content-Type: application/json"));
    const char *c = err_field(a, "code");
    if (code)
        assert_string_equal(c, code);
    else
        assert_null(c);
    (void)err_field(a, "param");
    assert_non_null(err_field(a, "type"));
    const char *m = err_field(a, "message");
    assert_int_equal(strncmp(m, msg_start, strlen(msg_start)), 0);
    json_object_put(a->json);
}

static void health_needs_no_key(void **state)
{
    (void)state;
    struct answer a;
    request("GET", "/health", NULL, NULL, NULL, &a);
    assert_int_equal(a.status, 200);
    assert_string_equal(json_object_to_json_string_ext(a.json, JSON_C_TO_STRING_PLAIN),
                        "{\"status\":\"ok\"}");
    json_object_put(a.json);
}

/* AXON_BASE_PATH=/axon: /axon/v1/... routes as /v1/...; a URI without the
 * prefix too (a proxy may strip it); a look-alike prefix does not. */
static void a_base_path_is_stripped(void **state)
{
    (void)state;
    struct answer a;
    memcpy(cfg.base_path, "/axon", 6);
    request("GET", "/axon/health", NULL, NULL, NULL, &a);
    assert_int_equal(a.status, 200);
    json_object_put(a.json);
    request("GET", "/health?x=1", NULL, NULL, NULL, &a);
    assert_int_equal(a.status, 200);
    json_object_put(a.json);
    request("GET", "/axon/v1/models", NULL, NULL, NULL, &a);
    assert_envelope(&a, 401, NULL, "You didn't provide an API key");
    request("GET", "/axonx/health", NULL, NULL, NULL, &a);
    assert_envelope(&a, 404, NULL, "Invalid URL (GET /axonx/health)");
    request("GET", "/axon?y=1", NULL, NULL, NULL, &a);
    assert_envelope(&a, 404, NULL, "Invalid URL (GET /)");
    request("POST", "/axon/v1/nope", NULL, NULL, NULL, &a);
    assert_envelope(&a, 404, NULL, "Invalid URL (POST /v1/nope)");
    cfg.base_path[0] = '\0';
    request("GET", "/axon/health", NULL, NULL, NULL, &a);
    assert_envelope(&a, 404, NULL, "Invalid URL (GET /axon/health)");
}

static void unknown_paths_are_404_before_auth(void **state)
{
    (void)state;
    struct answer a;
    request("GET", "/x?y=1", NULL, NULL, NULL, &a);
    assert_envelope(&a, 404, NULL, "Invalid URL (GET /x)");
    request("POST", "/v1/nope", NULL, NULL, NULL, &a);
    assert_envelope(&a, 404, NULL, "Invalid URL (POST /v1/nope)");
    request("GET", "/v1/models/", "Bearer sk-test", NULL, NULL, &a);
    assert_envelope(&a, 404, NULL, "Invalid URL");
    /* Test-only routes do not exist unless enabled. */
    request("GET", "/v1/_test/sse", "Bearer sk-test", NULL, NULL, &a);
    assert_envelope(&a, 404, NULL, "Invalid URL");
}

static void wrong_method_is_405_with_allow(void **state)
{
    (void)state;
    struct answer a;
    request("GET", "/v1/chat/completions", NULL, NULL, NULL, &a);
    assert_non_null(strstr(a.head, "Allow: POST"));
    assert_envelope(&a, 405, NULL, "Invalid method for URL (GET /v1/chat/completions)");
    request("POST", "/health", NULL, NULL, NULL, &a);
    assert_envelope(&a, 405, NULL, "Invalid method");
}

static void auth_failures(void **state)
{
    (void)state;
    struct answer a;
    request("GET", "/v1/models", NULL, NULL, NULL, &a);
    assert_envelope(&a, 401, NULL, "You didn't provide an API key.");
    request("GET", "/v1/models", "Basic abc", NULL, NULL, &a);
    assert_envelope(&a, 401, NULL, "You didn't provide an API key.");
    request("GET", "/v1/models", "Bearer sk-wrong-key-1234", NULL, NULL, &a);
    assert_envelope(&a, 401, "invalid_api_key", "Incorrect API key provided: sk-***234.");
    request("GET", "/v1/models", "bearer sk-test", NULL, NULL, &a);
    assert_int_equal(a.status, 200);
    json_object_put(a.json);
}

/* /metrics wants a key unless AXON_METRICS_PUBLIC: a property of its route,
 * so the router answers 401 before the handler reads anything. */
static void metrics_wants_a_key(void **state)
{
    (void)state;
    struct answer a;
    request("GET", "/metrics", NULL, NULL, NULL, &a);
    assert_envelope(&a, 401, NULL, "You didn't provide an API key.");
    request("GET", "/metrics", "Bearer sk-wrong-key-1234", NULL, NULL, &a);
    assert_envelope(&a, 401, "invalid_api_key", "Incorrect API key provided: sk-***234.");
}

/* What a caller is told: a refused key is AXON_EDENIED (the 401 already
 * answered), and an error once the headers went out is AXON_ESENT, with
 * nothing more written. */
static void refusals_and_late_errors_say_so(void **state)
{
    (void)state;
    params[0][0] = "REQUEST_METHOD", params[0][1] = "GET";
    params[1][0] = "REQUEST_URI", params[1][1] = "/v1/models";
    params[2][0] = NULL;
    buf_reset(&out);
    out_error = 0;
    FCGX_Request fcgi = {0};
    fcgi.ipcFd = -1;
    struct axon_req r;
    io_req_init(&r, &fcgi, &cfg);
    assert_int_equal(router_authenticate(&r), AXON_EDENIED);
    assert_int_equal(r.status, 401);
    assert_string_equal(r.tenant, "");
    size_t sent = out.len;
    assert_int_equal(errors_send(&r, 500, ERR_SERVER, NULL, NULL, NULL, "late"), AXON_ESENT);
    struct api_error e = {0};
    api_error_set(&e, 502, ERR_SERVER, NULL, NULL, "late too");
    assert_int_equal(errors_send_api(&r, &e), AXON_ESENT);
    assert_int_equal(out.len, sent);
}

static void bodies(void **state)
{
    (void)state;
    struct answer a;
    const char *k = "Bearer sk-test";
    request("POST", "/v1/chat/completions", k, "{\"model\":", "9", &a);
    assert_envelope(&a, 400, NULL, "We could not parse the JSON body of your request.");
    request("POST", "/v1/chat/completions", k, "[1]", "3", &a);
    assert_envelope(&a, 400, "invalid_type", "Invalid type for the request body");
    request("POST", "/v1/chat/completions", k, "{\"model\":\"m\"}", "13", &a);
    assert_envelope(&a, 400, "missing_required_parameter",
                    "Missing required parameter: 'messages'.");
    static const char known[] = "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    request("POST", "/v1/chat/completions", k, known, NULL, &a);
    assert_envelope(&a, 503, "no_upstream", "The model `gpt-4o` is served by Claude, but no");
    assert_non_null(strstr(a.head, "x-should-retry: false"));
    static const char unknown[] = "{\"model\":\"gpt-5\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    request("POST", "/v1/chat/completions", k, unknown, NULL, &a);
    assert_envelope(&a, 404, "model_not_found", "The model `gpt-5` does not exist");
    /* Over the cap by the declared length: refused before reading. */
    request("POST", "/v1/chat/completions", k, "{}", "1025", &a);
    assert_envelope(&a, 413, "request_too_large", "Request body too large");
    assert_int_equal(body_pos, 0);
    /* Over the cap by the bytes actually sent, whatever the header claimed. */
    char big[2000];
    memset(big, ' ', sizeof big - 3);
    memcpy(big + sizeof big - 3, "{}", 3);
    request("POST", "/v1/chat/completions", k, big, "10", &a);
    assert_envelope(&a, 413, "request_too_large", "Request body too large");
    request("POST", "/v1/chat/completions", k, big, NULL, &a);
    assert_envelope(&a, 413, "request_too_large", "Request body too large");
    /* Exactly at the cap is fine. */
    char edge[1025];
    memset(edge, ' ', 1024);
    edge[0] = '{';
    edge[1023] = '}';
    edge[1024] = '\0';
    request("POST", "/v1/chat/completions", k, edge, "1024", &a);
    assert_envelope(&a, 400, "missing_required_parameter", "Missing required parameter: 'messages'");
}

static void long_paths_are_414(void **state)
{
    (void)state;
    static char uri[REQ_MAX_PATH + 10];
    memset(uri, 'a', sizeof uri - 1);
    uri[0] = '/';
    uri[sizeof uri - 1] = '\0';
    struct answer a;
    request("GET", uri, NULL, NULL, NULL, &a);
    assert_envelope(&a, 414, NULL, "The request URL is longer");
}

/* A path that is not UTF-8 (nginx passes the bytes as they came) is echoed
 * with each bad byte as %XX: the envelope stays valid UTF-8 and JSON, and
 * names the URL the client sent in the form a URL carries it. */
static void paths_not_utf8_are_escaped(void **state)
{
    (void)state;
    struct answer a;
    request("GET", "/v1/\xff\xfe", NULL, NULL, NULL, &a);
    assert_true(text_utf8_valid(out.p, out.len));
    assert_envelope(&a, 404, NULL, "Invalid URL (GET /v1/%FF%FE)");
    /* Well-formed UTF-8 stays; a lone continuation byte, a cut sequence, an
     * overlong form and a surrogate do not. */
    request("GET", "/v1/caf\xc3\xa9/\x80/\xe2\x82/\xc0\xaf/\xed\xa0\x80", "Bearer sk-test", NULL,
            NULL, &a);
    assert_true(text_utf8_valid(out.p, out.len));
    assert_envelope(&a, 404, NULL,
                    "Invalid URL (GET /v1/caf\xc3\xa9/%80/%E2%82/%C0%AF/%ED%A0%80)");
    request("GET", "/v1/models/x\xe9", "Bearer sk-test", NULL, NULL, &a);
    assert_true(text_utf8_valid(out.p, out.len));
    assert_envelope(&a, 404, "model_not_found", "The model `x%E9` does not exist");
    /* The cap holds for the escaped form: 2,000 bad bytes are 6,000. */
    static char uri[2001];
    memset(uri, 0xff, sizeof uri - 1);
    uri[0] = '/';
    uri[sizeof uri - 1] = '\0';
    request("GET", uri, NULL, NULL, NULL, &a);
    assert_envelope(&a, 414, NULL, "The request URL is longer");
}

static void model_lookup_is_404_model_not_found(void **state)
{
    (void)state;
    struct answer a;
    request("GET", "/v1/models/ft:gpt-4o:org/x", "Bearer sk-test", NULL, NULL, &a);
    assert_envelope(&a, 404, "model_not_found", "The model `ft:gpt-4o:org/x` does not exist");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(health_needs_no_key),
        cmocka_unit_test(unknown_paths_are_404_before_auth),
        cmocka_unit_test(wrong_method_is_405_with_allow),
        cmocka_unit_test(auth_failures),
        cmocka_unit_test(metrics_wants_a_key),
        cmocka_unit_test(refusals_and_late_errors_say_so),
        cmocka_unit_test(bodies),
        cmocka_unit_test(long_paths_are_414),
        cmocka_unit_test(a_base_path_is_stripped),
        cmocka_unit_test(model_lookup_is_404_model_not_found),
        cmocka_unit_test(paths_not_utf8_are_escaped),
    };
    int rc = cmocka_run_group_tests_name("http", tests, setup, teardown);
    buf_free(&out);
    return rc;
}
