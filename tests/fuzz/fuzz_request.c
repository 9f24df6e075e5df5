/* fuzz_request.c - a client's POST /v1/chat/completions body, as the
 * pipeline takes it (chat.c's read and validate, then translate):
 * jsonv_parse (strict JSON, the depth cap), oai_validate_chat, then the
 * upstream bodies anthropic_request and openai_request build.
 *
 * The input is the request body. Invariants checked besides the sanitizers:
 *   - jsonv_parse accepts only what jsonv_check accepts, and the depth cap
 *     only ever refuses more as it gets lower;
 *   - validation changes nothing in the request, fills the error it returns,
 *     and what it accepts strictly (the Claude route) it also accepts with
 *     unknown fields allowed (the OpenAI-compatible route);
 *   - a request that passes gives upstream bodies that are JSON objects, and
 *     a plan the pipeline can run (1 <= calls <= n, n a multiple of calls);
 *   - every text of the request that holds a \u0000 reaches both upstream
 *     bodies whole (fuzz_check_nul_kept). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "anthropic.h"
#include "jsonv.h"
#include "oai_validate.h"
#include "openai.h"

#include "fuzz_fcgi.h"

/* As the unit tests build them (tests/unit/test_anthropic.c, test_openai.c). */
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

static void check_plan(const struct chat_plan *plan, const char *who)
{
    if (plan->n < 1 || plan->n > fuzz_cfg()->max_n || plan->calls < 1 || plan->calls > plan->n ||
        plan->n % plan->calls || plan->calls > 128)
        fuzz_fail("%s: a plan the pipeline cannot run: n %d, calls %d", who, plan->n, plan->calls);
}

typedef int (*request_fn)(json_object *, const struct model *, struct buf *, struct chat_plan *,
                          struct api_error *);

static void translate(json_object *req, request_fn fn, const struct model *m, const char *who)
{
    struct buf body = BUF_INIT(64u << 20); /* pipeline.c's cap (txn_init) */
    struct chat_plan plan;
    struct api_error e;
    memset(&e, 0, sizeof e);
    if (fn(req, m, &body, &plan, &e) == AXON_OK) {
        fuzz_check_json(body.p ? body.p : "", body.len, who);
        fuzz_check_nul_kept(req, body.p ? body.p : "", body.len, who);
        check_plan(&plan, who);
    } else {
        fuzz_check_error(&e);
    }
    buf_free(&body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    json_object *req = NULL;
    int rc = jsonv_parse(p, size, JSONV_MAX_DEPTH, &req);
    int check = jsonv_check(p, size, JSONV_MAX_DEPTH);
    if (rc == AXON_OK && check != AXON_OK)
        fuzz_fail("jsonv_parse took what jsonv_check refuses (%d)", check);
    if (check == AXON_ETOODEEP && rc != AXON_ETOODEEP)
        fuzz_fail("too deep for jsonv_check but jsonv_parse said %d", rc);
    int shallow = jsonv_check(p, size, 4);
    if (shallow == AXON_OK && check != AXON_OK)
        fuzz_fail("accepted at depth 4 but refused at %d", JSONV_MAX_DEPTH);
    if (rc)
        return 0;
    if (!json_object_is_type(req, json_type_object)) {
        json_object_put(req);
        return 0;
    }
    /* txn_route: a request without a model gets the default. */
    json_object *mv = NULL;
    if (!json_object_object_get_ex(req, "model", &mv) || json_object_is_type(mv, json_type_null))
        json_object_object_add(req, "model", json_object_new_string("gpt-4o"));

    char *before = strdup(json_object_to_json_string_ext(req, JSONV_OUT));
    struct api_error es, el;
    memset(&es, 0, sizeof es);
    memset(&el, 0, sizeof el);
    int strict = oai_validate_chat(req, false, &es);
    int loose = oai_validate_chat(req, true, &el);
    if (strcmp(before, json_object_to_json_string_ext(req, JSONV_OUT)))
        fuzz_fail("oai_validate_chat changed the request");
    free(before);
    if (strict)
        fuzz_check_error(&es);
    if (loose)
        fuzz_check_error(&el);
    if (!strict && loose)
        fuzz_fail("accepted strictly but refused with unknown fields allowed: %s", el.message);

    /* chat_validate refuses n above AXON_MAX_N before translating. */
    json_object *nv = NULL;
    bool n_ok = !(json_object_object_get_ex(req, "n", &nv) && json_object_is_type(nv, json_type_int) &&
                  json_object_get_int64(nv) > fuzz_cfg()->max_n);
    if (!strict && n_ok)
        translate(req, anthropic_request, &claude, "anthropic_request");
    if (!loose && n_ok)
        translate(req, openai_request, &qwen, "openai_request");
    json_object_put(req);
    return 0;
}
