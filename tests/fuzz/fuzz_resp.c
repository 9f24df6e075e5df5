/* fuzz_resp.c - a client's POST /v1/responses body, as the Responses
 * ingress takes it: jsonv_parse, then resp_parse (resp_in.h) with a small
 * store and seal behind its lookups, then the upstream bodies
 * anthropic_request and openai_request build from the chat request.
 *
 * The input is the request body. The lookups answer: previous_response_id
 * "resp_1" (a stored chain of a user message, a reasoning item with signed
 * blocks and an assistant message), item ids starting "fc_", "rs_" or
 * "msg_" (a stored item of that kind), any other id not found; an
 * encrypted_content "SEALED:" followed by JSON opens to that JSON, any other
 * does not open.
 *
 * Invariants checked besides the sanitizers (leaks included):
 *   - resp_parse changes nothing in the body;
 *   - a refusal fills its error (status, type, message, a valid envelope)
 *     and builds nothing;
 *   - resp_map_error keeps an error an error (a valid envelope) whatever
 *     path it maps;
 *   - what it accepts is a chat request oai_validate_chat accepts strictly,
 *     with meta's echo an object and every listed input item an object
 *     with a string id; both upstream bodies built from it are JSON objects
 *     (or a filled error: Claude refuses what chat's Claude path refuses);
 *   - every text of the chat request that holds a \u0000 reaches both
 *     upstream bodies whole (fuzz_check_nul_kept). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anthropic.h"
#include "jsonv.h"
#include "oai_validate.h"
#include "openai.h"
#include "resp_in.h"

#include "fuzz_fcgi.h"

/* As fuzz_request.c builds them. */
static struct model claude = {
    .id = (char *)"gpt-4o",
    .upstream_id = (char *)"claude-sonnet-4-6",
    .provider = PROVIDER_ANTHROPIC,
    .max_tokens = 8192,
    .max_output = 64000,
    .context = 200000,
};
static struct model qwen = {
    .id = (char *)"coder",
    .upstream_id = (char *)"Qwen/Qwen3-Coder",
    .provider = PROVIDER_OPENAI,
    .max_tokens = 4096,
    .max_output = 32768,
};

static json_object *parse(const char *s)
{
    json_object *o = NULL;
    if (jsonv_parse(s, strlen(s), JSONV_MAX_DEPTH, &o))
        fuzz_fail("a harness constant does not parse: %s", s);
    return o;
}

static int previous(void *ctx, const char *id, json_object **items, struct api_error *e)
{
    (void)ctx;
    (void)e;
    if (strcmp(id, "resp_1"))
        return AXON_ENOTFOUND;
    *items = parse("[{\"type\":\"message\",\"role\":\"user\",\"content\":\"first\"},"
                   "{\"type\":\"reasoning\",\"id\":\"rs_s\",\"summary\":[],\"thinking_blocks\":"
                   "[{\"type\":\"thinking\",\"thinking\":\"t\",\"signature\":\"s\"}]},"
                   "{\"type\":\"message\",\"role\":\"assistant\",\"id\":\"msg_s\","
                   "\"content\":[{\"type\":\"output_text\",\"text\":\"one\"}]}]");
    return AXON_OK;
}

static int item(void *ctx, const char *id, json_object **out, struct api_error *e)
{
    (void)ctx;
    (void)e;
    if (!strncmp(id, "fc_", 3))
        *out = parse("{\"type\":\"function_call\",\"id\":\"fc_1\",\"call_id\":\"c1\","
                     "\"name\":\"f\",\"arguments\":\"{}\"}");
    else if (!strncmp(id, "rs_", 3))
        *out = parse("{\"type\":\"reasoning\",\"id\":\"rs_1\",\"summary\":[],\"thinking_blocks\":"
                     "[{\"type\":\"redacted_thinking\",\"data\":\"x\"}]}");
    else if (!strncmp(id, "msg_", 4))
        *out = parse("{\"type\":\"message\",\"id\":\"msg_1\",\"role\":\"assistant\","
                     "\"content\":[{\"type\":\"output_text\",\"text\":\"hi\"}]}");
    else
        return AXON_ENOTFOUND;
    return AXON_OK;
}

static int open_reasoning(void *ctx, const char *sealed, size_t n, json_object **blocks,
                          char *why, size_t whylen)
{
    (void)ctx;
    if (n < 7 || memcmp(sealed, "SEALED:", 7) ||
        jsonv_parse(sealed + 7, n - 7, JSONV_MAX_DEPTH, blocks)) {
        snprintf(why, whylen, "not sealed here");
        return AXON_EINVAL;
    }
    return AXON_OK;
}

static const struct resp_lookup LK = {NULL, previous, item, open_reasoning};

typedef int (*request_fn)(json_object *, const struct model *, struct buf *, struct chat_plan *,
                          struct api_error *);

static void translate(json_object *req, const struct resp_meta *meta, request_fn fn,
                      const struct model *m, const char *who)
{
    struct buf body = BUF_INIT(64u << 20);
    struct chat_plan plan;
    struct api_error e;
    memset(&e, 0, sizeof e);
    memset(&plan, 0, sizeof plan);
    if (fn(req, m, &body, &plan, &e) == AXON_OK) {
        fuzz_check_json(body.p ? body.p : "", body.len, who);
        fuzz_check_nul_kept(req, body.p ? body.p : "", body.len, who);
    } else {
        resp_map_error(meta, &e); /* the refusal in the Responses request's names */
        fuzz_check_error(&e);
    }
    buf_free(&body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_object *body = NULL;
    if (jsonv_parse((const char *)data, size, JSONV_MAX_DEPTH, &body))
        return 0;
    char *before = strdup(json_object_to_json_string_ext(body, JSONV_OUT));
    json_object *req = NULL;
    struct resp_meta meta;
    struct api_error e;
    memset(&e, 0, sizeof e);
    int rc = resp_parse(body, &LK, &req, &meta, &e);
    if (strcmp(before, json_object_to_json_string_ext(body, JSONV_OUT)))
        fuzz_fail("resp_parse changed the body");
    free(before);
    if (rc) {
        if (req)
            fuzz_fail("resp_parse refused (%d) but built a request", rc);
        fuzz_check_error(&e);
    } else {
        struct api_error ev;
        memset(&ev, 0, sizeof ev);
        if (oai_validate_chat(req, false, &ev))
            fuzz_fail("chat refuses the request resp_parse built: %s: %s", ev.param, ev.message);
        if (!json_object_is_type(meta.echo, json_type_object) ||
            !json_object_is_type(meta.input_items, json_type_array))
            fuzz_fail("meta without its echo or its input items");
        for (size_t i = 0; i < json_object_array_length(meta.input_items); i++) {
            json_object *it = json_object_array_get_idx(meta.input_items, i), *id = NULL;
            if (!json_object_object_get_ex(it, "id", &id) || !json_object_is_type(id, json_type_string))
                fuzz_fail("input item %zu has no id", i);
        }
        translate(req, &meta, anthropic_request, &claude, "anthropic_request");
        translate(req, &meta, openai_request, &qwen, "openai_request");
        /* Every message's path, mapped back: an error envelope still. */
        for (size_t i = 0; i <= json_object_array_length(jsonv_get(req, "messages")); i++) {
            struct api_error me;
            char param[64];
            snprintf(param, sizeof param, "messages[%zu].tool_calls[0].function.arguments", i);
            api_error_set(&me, 400, ERR_INVALID_REQUEST, NULL, param, "Invalid '%s'.", param);
            resp_map_error(&meta, &me);
            fuzz_check_error(&me);
        }
    }
    json_object_put(req);
    resp_meta_free(&meta);
    json_object_put(body);
    return 0;
}
