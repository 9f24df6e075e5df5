/* test_resp_in.c - the Responses parser: each CreateResponse field becomes
 * the chat request docs/responses.md (Request mapping) says, each refusal
 * has OpenAI's status, code, param and words, and every request it builds
 * passes oai_validate_chat and reaches Claude (anthropic_request, for
 * models of etc/models.conf) and an OpenAI-compatible upstream. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anthropic.h"
#include "buf.h"
#include "jsonv.h"
#include "models.h"
#include "oai_validate.h"
#include "openai.h"
#include "resp_in.h"

static struct model_table table;
static char ctx[700];

/* Test JSON is written with ' for ". Returns new. */
static json_object *q(const char *text)
{
    char *s = xstrdup(text);
    for (char *p = s; *p; p++)
        if (*p == '\'')
            *p = '"';
    json_object *o = NULL;
    if (jsonv_parse(s, strlen(s), JSONV_MAX_DEPTH, &o) != AXON_OK)
        fail_msg("test JSON does not parse: %s", s);
    free(s);
    return o;
}

/* ---- a store and a seal for the lookups ---- */

/* Stored chains by response id, and items by id. A "sealed" reasoning blob
 * here is "SEALED:" followed by the blocks' JSON; anything else is
 * "tampered". */
struct fake {
    const char *prev_id;
    const char *prev_items; /* q notation */
    const char *items;      /* q notation: an object of stored items by id */
    int prev_rc;            /* forced error of previous, 0 for none */
    int calls;              /* lookups made */
};

static int fake_previous(void *c, const char *id, json_object **items, struct api_error *e)
{
    struct fake *f = c;
    f->calls++;
    if (f->prev_rc) {
        api_error_set(e, 503, ERR_SERVER, NULL, NULL, "Valkey is down.");
        return f->prev_rc;
    }
    if (!f->prev_id || strcmp(id, f->prev_id))
        return AXON_ENOTFOUND;
    *items = q(f->prev_items);
    return AXON_OK;
}

static int fake_item(void *c, const char *id, json_object **item, struct api_error *e)
{
    (void)e;
    struct fake *f = c;
    f->calls++;
    json_object *all = q(f->items), *it = NULL;
    if (json_object_object_get_ex(all, id, &it))
        *item = json_object_get(it);
    json_object_put(all);
    return it ? AXON_OK : AXON_ENOTFOUND;
}

static int fake_open(void *c, const char *sealed, size_t n, json_object **blocks, char *why,
                     size_t whylen)
{
    struct fake *f = c;
    f->calls++;
    if (n < 7 || memcmp(sealed, "SEALED:", 7)) {
        snprintf(why, whylen, "it was changed");
        return AXON_EINVAL;
    }
    *blocks = q(sealed + 7);
    return AXON_OK;
}

static struct fake fk;
static const struct resp_lookup LK = {&fk, fake_previous, fake_item, fake_open};

/* ---- what every built request must pass ---- */

/* Through oai_validate_chat, then to Claude (two rule sets of
 * etc/models.conf) and to an OpenAI-compatible model. */
static void reaches_upstreams(json_object *req)
{
    struct api_error e;
    memset(&e, 0, sizeof e);
    if (oai_validate_chat(req, false, &e))
        fail_msg("%s: chat refuses the built request: %s %s: %s\n%s", ctx,
                 e.code ? e.code : "null", e.param, e.message,
                 json_object_to_json_string_ext(req, JSONV_OUT));
    static const char *const models[] = {"claude-sonnet-5", "claude-sonnet-4-6", "qwen"};
    for (size_t i = 0; i < 3; i++) {
        const struct model *m = models_find(&table, models[i]);
        assert_non_null(m);
        struct buf b = BUF_INIT(1u << 24);
        struct chat_plan plan;
        memset(&e, 0, sizeof e);
        int rc = m->provider == PROVIDER_ANTHROPIC ? anthropic_request(req, m, &b, &plan, &e)
                                                   : openai_request(req, m, &b, &plan, &e);
        /* Claude's own refusals (logprobs) are the provider's, not the parser's. */
        bool claude_refuses_logprobs = rc && e.param[0] && !strcmp(e.param, "logprobs");
        if (rc && !claude_refuses_logprobs)
            fail_msg("%s: %s refuses the built request: %s %s: %s\n%s", ctx, models[i],
                     e.code ? e.code : "null", e.param, e.message,
                     json_object_to_json_string_ext(req, JSONV_OUT));
        buf_free(&b);
    }
}

static json_object *parse_ok(const char *body, struct resp_meta *meta)
{
    snprintf(ctx, sizeof ctx, "%.650s", body);
    json_object *b = q(body), *req = NULL;
    struct api_error e;
    memset(&e, 0, sizeof e);
    int rc = resp_parse(b, &LK, &req, meta, &e);
    json_object_put(b);
    if (rc)
        fail_msg("%s: refused (%d): %d %s param=%s: %s", ctx, rc, e.status,
                 e.code ? e.code : "null", e.param, e.message);
    reaches_upstreams(req);
    return req;
}

/* ---- mappings ---- */

struct mapping {
    const char *body;
    const char *chat; /* the whole chat request built */
};

static const struct mapping MAPPINGS[] = {
    /* input as a string: one user message */
    {"{'model':'m','input':'hi'}",
     "{'model':'m','messages':[{'role':'user','content':'hi'}]}"},
    /* instructions lead, as a system message; stream */
    {"{'model':'m','instructions':'be brief','input':'hi','stream':true}",
     "{'model':'m','stream':true,'messages':[{'role':'system','content':'be brief'},"
     "{'role':'user','content':'hi'}]}"},
    /* an empty instructions is no system message */
    {"{'model':'m','instructions':'','input':'hi'}",
     "{'model':'m','messages':[{'role':'user','content':'hi'}]}"},
    /* messages: roles, easy (no type) and typed, parts */
    {"{'model':'m','input':[{'role':'developer','content':'rules'},"
     "{'type':'message','role':'system','content':[{'type':'input_text','text':'sys'}]},"
     "{'role':'user','content':[{'type':'input_text','text':'look'},"
     "{'type':'input_image','image_url':'https://x/y.png','detail':'low'},"
     "{'type':'input_image','image_url':'data:image/png;base64,AA==','detail':'original'},"
     "{'type':'input_file','filename':'a.pdf','file_data':'data:application/pdf;base64,JVBE'}]}]}",
     "{'model':'m','messages':[{'role':'developer','content':'rules'},"
     "{'role':'system','content':[{'type':'text','text':'sys'}]},"
     "{'role':'user','content':[{'type':'text','text':'look'},"
     "{'type':'image_url','image_url':{'url':'https://x/y.png','detail':'low'}},"
     "{'type':'image_url','image_url':{'url':'data:image/png;base64,AA==','detail':'high'}},"
     "{'type':'file','file':{'filename':'a.pdf','file_data':'data:application/pdf;base64,JVBE'}}]}]}"},
    /* an assistant output message, echoed back with its id and status */
    {"{'model':'m','input':[{'role':'user','content':'hi'},"
     "{'type':'message','id':'msg_1','role':'assistant','status':'completed',"
     "'content':[{'type':'output_text','text':'hello','annotations':[]}]},"
     "{'role':'user','content':'again'}]}",
     "{'model':'m','messages':[{'role':'user','content':'hi'},"
     "{'role':'assistant','content':[{'type':'text','text':'hello'}]},"
     "{'role':'user','content':'again'}]}"},
    /* reasoning + text + two calls: one assistant turn; outputs: tool messages */
    {"{'model':'m','input':[{'role':'user','content':'weather?'},"
     "{'type':'reasoning','id':'rs_1','summary':[{'type':'summary_text','text':'hm'}],"
     "'encrypted_content':'SEALED:[{\\'type\\':\\'thinking\\',\\'thinking\\':\\'t\\',\\'signature\\':\\'s\\'}]'},"
     "{'type':'message','role':'assistant','content':[{'type':'output_text','text':'checking'}]},"
     "{'type':'function_call','id':'fc_1','call_id':'call_a','name':'w','arguments':'{}'},"
     "{'type':'function_call','call_id':'call_b','name':'w','arguments':'{\\'c\\':1}','status':'completed'},"
     "{'type':'function_call_output','call_id':'call_a','output':'sunny'},"
     "{'type':'function_call_output','call_id':'call_b','output':[{'type':'input_text','text':'rain'}]}],"
     "'tools':[{'type':'function','name':'w','parameters':{'type':'object'},'strict':false}]}",
     "{'model':'m','tools':[{'type':'function','function':{'name':'w','parameters':{'type':'object'},'strict':false}}],"
     "'messages':[{'role':'user','content':'weather?'},"
     "{'role':'assistant','thinking_blocks':[{'type':'thinking','thinking':'t','signature':'s'}],"
     "'content':[{'type':'text','text':'checking'}],"
     "'tool_calls':[{'id':'call_a','type':'function','function':{'name':'w','arguments':'{}'}},"
     "{'id':'call_b','type':'function','function':{'name':'w','arguments':'{\\'c\\':1}'}}]},"
     "{'role':'tool','tool_call_id':'call_a','content':'sunny'},"
     "{'role':'tool','tool_call_id':'call_b','content':[{'type':'text','text':'rain'}]}]}"},
    /* Codex's shape (openai/codex protocol/src/models.rs): no ids, a
     * reasoning item's content null, a developer message of input_text */
    {"{'model':'m','instructions':'sys','store':false,'include':['reasoning.encrypted_content'],"
     "'input':[{'type':'message','role':'developer','content':[{'type':'input_text','text':'env'}]},"
     "{'type':'message','role':'user','content':[{'type':'input_text','text':'ls'}]},"
     "{'type':'reasoning','summary':[{'type':'summary_text','text':'s'}],'content':null,"
     "'encrypted_content':'SEALED:[{\\'type\\':\\'thinking\\',\\'thinking\\':\\'t\\',\\'signature\\':\\'s\\'}]'},"
     "{'type':'function_call','name':'shell','arguments':'{}','call_id':'call_1'},"
     "{'type':'function_call_output','call_id':'call_1','output':'a b'}],"
     "'tools':[{'type':'function','name':'shell','description':'run','strict':false,"
     "'parameters':{'type':'object','properties':{}}}],'tool_choice':'auto',"
     "'parallel_tool_calls':false,'reasoning':{'effort':'medium','summary':'auto'},"
     "'stream':true,'prompt_cache_key':'sess'}",
     "{'model':'m','stream':true,'prompt_cache_key':'sess','parallel_tool_calls':false,"
     "'reasoning_effort':'medium','tool_choice':'auto','tools':[{'type':'function','function':"
     "{'name':'shell','description':'run','strict':false,'parameters':{'type':'object','properties':{}}}}],"
     "'messages':[{'role':'system','content':'sys'},"
     "{'role':'developer','content':[{'type':'text','text':'env'}]},"
     "{'role':'user','content':[{'type':'text','text':'ls'}]},"
     "{'role':'assistant','thinking_blocks':[{'type':'thinking','thinking':'t','signature':'s'}],"
     "'content':null,'tool_calls':[{'id':'call_1','type':'function','function':{'name':'shell','arguments':'{}'}}]},"
     "{'role':'tool','tool_call_id':'call_1','content':'a b'}]}"},
    /* prompt_cache_breakpoint stays on its part; an assistant's refusal
     * and empty text, as clients echo them */
    {"{'model':'m','input':[{'role':'user','content':[{'type':'input_text','text':'long',"
     "'prompt_cache_breakpoint':{'mode':'explicit'}}]},"
     "{'role':'assistant','content':[{'type':'refusal','refusal':'no'}]},"
     "{'role':'user','content':'please'},"
     "{'role':'assistant','content':[{'type':'output_text','text':''}]},"
     "{'type':'function_call','call_id':'c2','name':'f','arguments':''},"
     "{'type':'function_call_output','call_id':'c2','output':''}],"
     "'tools':[{'type':'function','name':'f'}]}",
     "{'model':'m','tools':[{'type':'function','function':{'name':'f'}}],"
     "'messages':[{'role':'user','content':[{'type':'text','text':'long',"
     "'prompt_cache_breakpoint':{'mode':'explicit'}}]},"
     "{'role':'assistant','content':[{'type':'refusal','refusal':'no'}]},"
     "{'role':'user','content':'please'},"
     "{'role':'assistant','content':[{'type':'text','text':''}],'tool_calls':"
     "[{'id':'c2','type':'function','function':{'name':'f','arguments':''}}]},"
     "{'role':'tool','tool_call_id':'c2','content':''}]}"},
    /* a reasoning item with a summary only is dropped */
    {"{'model':'m','input':[{'role':'user','content':'q'},"
     "{'type':'reasoning','id':'rs_2','summary':[]},"
     "{'type':'function_call','call_id':'c1','name':'f','arguments':'{}'},"
     "{'type':'function_call_output','call_id':'c1','output':'ok'}],"
     "'tools':[{'type':'function','name':'f','description':'d'}]}",
     "{'model':'m','tools':[{'type':'function','function':{'name':'f','description':'d'}}],"
     "'messages':[{'role':'user','content':'q'},"
     "{'role':'assistant','content':null,'tool_calls':[{'id':'c1','type':'function','function':{'name':'f','arguments':'{}'}}]},"
     "{'role':'tool','tool_call_id':'c1','content':'ok'}]}"},
    /* item_reference (typed, and untyped as the AI SDK sends it) */
    {"{'model':'m','input':[{'role':'user','content':'q'},{'type':'item_reference','id':'fc_9'},"
     "{'type':'function_call_output','call_id':'c9','output':'ok'},{'id':'fc_9'}]}",
     "{'model':'m','messages':[{'role':'user','content':'q'},"
     "{'role':'assistant','content':null,'tool_calls':[{'id':'c9','type':'function','function':{'name':'f','arguments':'{}'}}]},"
     "{'role':'tool','tool_call_id':'c9','content':'ok'},"
     "{'role':'assistant','content':null,'tool_calls':[{'id':'c9','type':'function','function':{'name':'f','arguments':'{}'}}]}]}"},
    /* the AI SDK's later steps (store on): the turn's reasoning and text by
     * reference, its calls and their outputs inline; one assistant turn */
    {"{'model':'m','input':[{'role':'user','content':[{'type':'input_text','text':'weather?'}]},"
     "{'type':'item_reference','id':'rs_9'},{'type':'item_reference','id':'msg_9'},"
     "{'type':'function_call','call_id':'c1','name':'f','arguments':'{}'},"
     "{'type':'function_call_output','call_id':'c1','output':'sunny'}],"
     "'tools':[{'type':'function','name':'f','parameters':{'type':'object','properties':{}},'strict':true}]}",
     "{'model':'m','tools':[{'type':'function','function':{'name':'f','parameters':{'type':'object',"
     "'properties':{}},'strict':true}}],'messages':[{'role':'user','content':[{'type':'text','text':'weather?'}]},"
     "{'role':'assistant','thinking_blocks':[{'type':'thinking','thinking':'plan','signature':'sig9'}],"
     "'content':[{'type':'text','text':'let me look'}],"
     "'tool_calls':[{'id':'c1','type':'function','function':{'name':'f','arguments':'{}'}}]},"
     "{'role':'tool','tool_call_id':'c1','content':'sunny'}]}"},
    /* previous_response_id: the stored items come first, after instructions
     * (which are not carried over: the stored chain holds none) */
    {"{'model':'m','previous_response_id':'resp_1','instructions':'new rules','input':'and then?'}",
     "{'model':'m','messages':[{'role':'system','content':'new rules'},"
     "{'role':'user','content':[{'type':'text','text':'first'}]},"
     "{'role':'assistant','thinking_blocks':[{'type':'thinking','thinking':'x','signature':'y'}],"
     "'content':[{'type':'text','text':'one'}]},"
     "{'role':'user','content':'and then?'}]}"},
    /* tool_choice, parallel_tool_calls, max_output_tokens, text, reasoning */
    {"{'model':'m','input':'x','tools':[{'type':'function','name':'f','parameters':{}}],"
     "'tool_choice':{'type':'function','name':'f'},'parallel_tool_calls':false,"
     "'max_output_tokens':500,'text':{'format':{'type':'json_schema','name':'s',"
     "'schema':{'type':'object'},'strict':true},'verbosity':'low'}}",
     "{'model':'m','tools':[{'type':'function','function':{'name':'f','parameters':{}}}],"
     "'tool_choice':{'type':'function','function':{'name':'f'}},'parallel_tool_calls':false,"
     "'max_completion_tokens':500,'verbosity':'low','response_format':{'type':'json_schema',"
     "'json_schema':{'name':'s','schema':{'type':'object'},'strict':true}},"
     "'messages':[{'role':'user','content':'x'}]}"},
    /* allowed_tools; json_object; text format "text" is chat's default */
    {"{'model':'m','input':'x','tools':[{'type':'function','name':'f'},{'type':'function','name':'g'}],"
     "'tool_choice':{'type':'allowed_tools','mode':'required','tools':[{'type':'function','name':'g'}]},"
     "'text':{'format':{'type':'json_object'}}}",
     "{'model':'m','tools':[{'type':'function','function':{'name':'f'}},{'type':'function','function':{'name':'g'}}],"
     "'tool_choice':{'type':'allowed_tools','allowed_tools':{'mode':'required','tools':"
     "[{'type':'function','function':{'name':'g'}}]}},'response_format':{'type':'json_object'},"
     "'messages':[{'role':'user','content':'x'}]}"},
    {"{'model':'m','input':'x','text':{'format':{'type':'text'}},'tool_choice':'auto','tools':[],"
     "'reasoning':{'effort':'high','summary':'auto'}}",
     "{'model':'m','reasoning_effort':'high','messages':[{'role':'user','content':'x'}]}"},
    /* shared parameters are copied; metadata, store, truncation,
     * service_tier 'ultrafast', max_tool_calls stay out */
    {"{'model':'m','input':'x','temperature':0.5,'top_p':0.9,'user':'u1','safety_identifier':'s1',"
     "'prompt_cache_key':'k','metadata':{'a':'b'},'store':false,'truncation':'auto',"
     "'service_tier':'flex','max_tool_calls':3,'include':['reasoning.encrypted_content']}",
     "{'model':'m','temperature':0.5,'top_p':0.9,'user':'u1','safety_identifier':'s1',"
     "'prompt_cache_key':'k','service_tier':'flex','messages':[{'role':'user','content':'x'}]}"},
    /* logprobs: asked by include, or by top_logprobs above 0 */
    {"{'model':'m','input':'x','include':['message.output_text.logprobs'],'top_logprobs':3}",
     "{'model':'m','logprobs':true,'top_logprobs':3,'messages':[{'role':'user','content':'x'}]}"},
    {"{'model':'m','input':'x','top_logprobs':0}",
     "{'model':'m','messages':[{'role':'user','content':'x'}]}"},
    /* conversation: Axon's conversation_id; the stored one holds the messages */
    {"{'model':'m','conversation':{'id':'conv_1'},'input':'x'}",
     "{'model':'m','conversation_id':'conv_1','messages':[{'role':'user','content':'x'}]}"},
    /* nulls are unset */
    {"{'model':'m','input':'x','instructions':null,'temperature':null,'reasoning':null,"
     "'text':null,'include':null,'store':null,'previous_response_id':null,'conversation':null,"
     "'background':null,'prompt':null,'max_output_tokens':null}",
     "{'model':'m','messages':[{'role':'user','content':'x'}]}"},
};

static void setup_store(void)
{
    fk = (struct fake){
        .prev_id = "resp_1",
        .prev_items = "[{'type':'message','role':'user','content':[{'type':'input_text','text':'first'}]},"
                      "{'type':'reasoning','id':'rs_s','summary':[],'thinking_blocks':"
                      "[{'type':'thinking','thinking':'x','signature':'y'}]},"
                      "{'type':'message','id':'msg_s','role':'assistant','status':'completed',"
                      "'content':[{'type':'output_text','text':'one','annotations':[]}]}]",
        .items = "{'fc_9':{'type':'function_call','id':'fc_9','call_id':'c9','name':'f','arguments':'{}'},"
                 "'rs_9':{'type':'reasoning','id':'rs_9','summary':[],'thinking_blocks':"
                 "[{'type':'thinking','thinking':'plan','signature':'sig9'}]},"
                 "'msg_9':{'type':'message','id':'msg_9','role':'assistant','status':'completed',"
                 "'content':[{'type':'output_text','text':'let me look','annotations':[]}]}}",
    };
}

static void mappings(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof MAPPINGS / sizeof MAPPINGS[0]; i++) {
        setup_store();
        struct resp_meta meta;
        json_object *req = parse_ok(MAPPINGS[i].body, &meta);
        json_object *want = q(MAPPINGS[i].chat);
        /* Claude and vLLM need a message; the mapping of a conversation
         * alone has none of its own. */
        if (!json_object_equal(req, want))
            fail_msg("%s:\n  built %s\n  want  %s", ctx, json_object_to_json_string_ext(req, JSONV_OUT),
                     json_object_to_json_string_ext(want, JSONV_OUT));
        json_object_put(want);
        json_object_put(req);
        resp_meta_free(&meta);
    }
}

/* ---- refusals ---- */

struct refusal {
    const char *body;
    int status;
    const char *code;  /* NULL: null */
    const char *param; /* NULL: null */
    const char *message;
};

static const struct refusal REFUSALS[] = {
    {"{'input':'x'}", 400, "missing_required_parameter", "model",
     "Missing required parameter: 'model'."},
    {"{'model':'m','input':'x','foo':1}", 400, "unknown_parameter", "foo",
     "Unknown parameter: 'foo'."},
    {"{'model':'m','input':'x','messages':[]}", 400, "unknown_parameter", "messages",
     "Unknown parameter: 'messages'."},
    {"{'model':'m'}", 400, "missing_required_parameter", "input",
     "Missing required parameter: 'input'."},
    {"{'model':'m','conversation':'conv_2'}", 400, "missing_required_parameter", "input",
     "Missing required parameter: 'input'."},
    {"{'model':'m','input':[]}", 400, "missing_required_parameter", "input",
     "Missing required parameter: 'input'."},
    {"{'model':'m','input':5}", 400, "invalid_type", "input",
     "Invalid type for 'input': expected one of a string or array of objects, but got an "
     "integer instead."},
    {"{'model':7,'input':'x'}", 400, "invalid_type", "model",
     "Invalid type for 'model': expected a string, but got an integer instead."},
    /* items */
    {"{'model':'m','input':[{'type':'message','role':'user','content':'x','status':'completed','extra':1}]}",
     400, "unknown_parameter", "input[0].extra", "Unknown parameter: 'input[0].extra'."},
    {"{'model':'m','input':[{'role':'bot','content':'x'}]}", 400, "invalid_value",
     "input[0].role",
     "Invalid value: 'bot'. Supported values are: 'user', 'assistant', 'system', and "
     "'developer'."},
    {"{'model':'m','input':[{'role':'user'}]}", 400, "missing_required_parameter",
     "input[0].content", "Missing required parameter: 'input[0].content'."},
    {"{'model':'m','input':[{'content':'x'}]}", 400, "missing_required_parameter",
     "input[0].type", "Missing required parameter: 'input[0].type'."},
    {"{'model':'m','input':[{'type':'massage','role':'user','content':'x'}]}", 400,
     "invalid_value", "input[0].type", NULL},
    {"{'model':'m','input':['hi']}", 400, "invalid_type", "input[0]",
     "Invalid type for 'input[0]': expected an object, but got a string instead."},
    {"{'model':'m','input':[{'role':'user','content':[{'type':'text','text':'x'}]}]}", 400,
     "invalid_value", "input[0].content[0].type",
     "Invalid value: 'text'. Supported values are: 'input_text', 'input_image', and "
     "'input_file'."},
    {"{'model':'m','input':[{'role':'user','content':[{'type':'input_text'}]}]}", 400,
     "missing_required_parameter", "input[0].content[0].text",
     "Missing required parameter: 'input[0].content[0].text'."},
    {"{'model':'m','input':[{'role':'user','content':[{'type':'input_image','file_id':'file-1'}]}]}",
     400, "unsupported_value", "input[0].content[0].file_id",
     "Axon keeps no files: send the image in 'image_url' (an https URL or a data: URL) instead "
     "of 'file_id'."},
    {"{'model':'m','input':[{'role':'user','content':[{'type':'input_image','detail':'auto'}]}]}",
     400, "missing_required_parameter", "input[0].content[0].image_url",
     "Missing required parameter: 'input[0].content[0].image_url'."},
    {"{'model':'m','input':[{'role':'user','content':[{'type':'input_file','file_id':'file-1'}]}]}",
     400, "unsupported_value", "input[0].content[0].file_id",
     "Axon keeps no files: send the file's content in 'file_data' instead of 'file_id'."},
    {"{'model':'m','input':[{'role':'user','content':[{'type':'input_file','file_url':'https://x/a.pdf'}]}]}",
     400, "unsupported_value", "input[0].content[0].file_url",
     "Axon does not fetch files: send the file's content in 'file_data' instead of 'file_url'."},
    {"{'model':'m','input':[{'role':'system','content':[{'type':'input_image','image_url':'https://x'}]}]}",
     400, "unsupported_value", "input[0].content[0].type", NULL},
    {"{'model':'m','input':[{'type':'function_call','name':'f','arguments':'{}'}]}", 400,
     "missing_required_parameter", "input[0].call_id",
     "Missing required parameter: 'input[0].call_id'."},
    {"{'model':'m','input':[{'type':'function_call','call_id':'c','name':'f','arguments':{}}]}",
     400, "invalid_type", "input[0].arguments",
     "Invalid type for 'input[0].arguments': expected a string, but got an object instead."},
    {"{'model':'m','input':[{'type':'function_call_output','call_id':'c'}]}", 400,
     "missing_required_parameter", "input[0].output",
     "Missing required parameter: 'input[0].output'."},
    {"{'model':'m','input':[{'type':'function_call_output','call_id':'c','output':[{'type':'input_image','image_url':'https://x'}]}]}",
     400, "unsupported_value", "input[0].output[0].type", NULL},
    {"{'model':'m','input':[{'role':'user','content':'x'},{'type':'reasoning','summary':[],'encrypted_content':'x','content':null}]}",
     400, "invalid_encrypted_content", "input[1].encrypted_content",
     "The encrypted content could not be verified. Reason: it was changed."},
    {"{'model':'m','input':[{'type':'reasoning','id':'rs_1'}]}", 400,
     "missing_required_parameter", "input[0].summary",
     "Missing required parameter: 'input[0].summary'."},
    {"{'model':'m','input':[{'role':'user','content':'x'},{'type':'reasoning','id':'rs_1','summary':[],'encrypted_content':'gAAAA-forged'}]}",
     400, "invalid_encrypted_content", "input[1].encrypted_content",
     "The encrypted content for item rs_1 could not be verified. Reason: it was changed."},
    {"{'model':'m','input':[{'type':'reasoning','id':'rs_1','summary':[],'thinking_blocks':[]}]}",
     400, "unknown_parameter", "input[0].thinking_blocks",
     "Unknown parameter: 'input[0].thinking_blocks'."},
    {"{'model':'m','input':[{'type':'reasoning','id':'rs_1','summary':[{'type':'summary_text'}]}]}",
     400, "missing_required_parameter", "input[0].summary[0].text",
     "Missing required parameter: 'input[0].summary[0].text'."},
    {"{'model':'m','input':[{'type':'item_reference','id':'msg_gone'}]}", 404, NULL,
     "input[0].id", "Item with id 'msg_gone' not found."},
    {"{'model':'m','input':[{'type':'web_search_call','id':'ws_1','status':'completed'}]}", 400,
     "unsupported_value", "input[0].type",
     "Items of type 'web_search_call' cannot be served: Axon runs no hosted tools and takes "
     "function tools only."},
    /* tools */
    {"{'model':'m','input':'x','tools':[{'type':'web_search'}]}", 400, "unsupported_value",
     "tools[0].type",
     "Tools of type 'web_search' cannot be served: Axon runs no hosted tools and takes "
     "function tools only."},
    {"{'model':'m','input':'x','tools':[{'type':'function'}]}", 400,
     "missing_required_parameter", "tools[0].name",
     "Missing required parameter: 'tools[0].name'."},
    {"{'model':'m','input':'x','tools':[{'type':'function','function':{'name':'f'}}]}", 400,
     "unknown_parameter", "tools[0].function", "Unknown parameter: 'tools[0].function'."},
    {"{'model':'m','input':'x','tools':[{'type':'tool'}]}", 400, "invalid_value",
     "tools[0].type", NULL},
    {"{'model':'m','input':'x','tool_choice':'any'}", 400, "invalid_value", "tool_choice",
     "Invalid value: 'any'. Supported values are: 'none', 'auto', and 'required'."},
    {"{'model':'m','input':'x','tool_choice':{'type':'function'}}", 400,
     "missing_required_parameter", "tool_choice.name",
     "Missing required parameter: 'tool_choice.name'."},
    {"{'model':'m','input':'x','tool_choice':{'type':'file_search'}}", 400, "unsupported_value",
     "tool_choice.type",
     "tool_choice of type 'file_search' cannot be served: Axon takes function tools only."},
    {"{'model':'m','input':'x','tool_choice':'required','tools':[]}", 400, "invalid_value",
     "tool_choice",
     "Invalid value for 'tool_choice': 'required' needs at least one tool in 'tools'."},
    {"{'model':'m','input':'x','tool_choice':{'type':'function','name':'f'}}", 400,
     "invalid_value", "tool_choice",
     "Invalid value for 'tool_choice': no function named 'f' in 'tools'."},
    {"{'model':'m','input':'x','tools':[{'type':'function','name':'g'}],'tool_choice':{'type':'function','name':'f'}}",
     400, "invalid_value", "tool_choice",
     "Invalid value for 'tool_choice': no function named 'f' in 'tools'."},
    /* numbers and enums */
    {"{'model':'m','input':'x','max_output_tokens':10}", 400, "integer_below_min_value",
     "max_output_tokens",
     "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but "
     "got 10 instead."},
    {"{'model':'m','input':'x','max_output_tokens':100.5}", 400, "invalid_type",
     "max_output_tokens",
     "Invalid type for 'max_output_tokens': expected an integer, but got a decimal number "
     "instead."},
    {"{'model':'m','input':'x','top_logprobs':21}", 400, "integer_above_max_value",
     "top_logprobs",
     "Invalid 'top_logprobs': integer above maximum value. Expected a value <= 20, but got 21 "
     "instead."},
    {"{'model':'m','input':'x','temperature':3}", 400, "decimal_above_max_value", "temperature",
     "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got 3 "
     "instead."},
    {"{'model':'m','input':'x','top_p':'1'}", 400, "invalid_type", "top_p",
     "Invalid type for 'top_p': expected a decimal, but got a string instead."},
    {"{'model':'m','input':'x','truncation':'middle'}", 400, "invalid_value", "truncation",
     "Invalid value: 'middle'. Supported values are: 'auto' and 'disabled'."},
    {"{'model':'m','input':'x','reasoning':{'effort':'huge'}}", 400, "invalid_value",
     "reasoning.effort",
     "Invalid value: 'huge'. Supported values are: 'none', 'minimal', 'low', 'medium', "
     "'high', 'xhigh', and 'max'."},
    {"{'model':'m','input':'x','reasoning':{'summary':'short'}}", 400, "invalid_value",
     "reasoning.summary",
     "Invalid value: 'short'. Supported values are: 'auto', 'concise', and 'detailed'."},
    {"{'model':'m','input':'x','reasoning':{'budget':1}}", 400, "unknown_parameter",
     "reasoning.budget", "Unknown parameter: 'reasoning.budget'."},
    {"{'model':'m','input':'x','text':{'format':{'type':'json_schema','schema':{}}}}", 400,
     "missing_required_parameter", "text.format.name",
     "Missing required parameter: 'text.format.name'."},
    {"{'model':'m','input':'x','text':{'format':{'type':'json_schema','name':'s'}}}", 400,
     "missing_required_parameter", "text.format.schema",
     "Missing required parameter: 'text.format.schema'."},
    {"{'model':'m','input':'x','text':{'format':{'type':'yaml'}}}", 400, "invalid_value",
     "text.format.type",
     "Invalid value: 'yaml'. Supported values are: 'text', 'json_schema', and 'json_object'."},
    {"{'model':'m','input':'x','text':{'verbosity':'max'}}", 400, "invalid_value",
     "text.verbosity", "Invalid value: 'max'. Supported values are: 'low', 'medium', and 'high'."},
    {"{'model':'m','input':'x','include':['reasoning.summary']}", 400, "invalid_value",
     "include[0]", NULL},
    {"{'model':'m','input':'x','metadata':{'k':5}}", 400, "invalid_type", "metadata.k",
     "Invalid type for 'metadata.k': expected a string, but got an integer instead."},
    {"{'model':'m','input':'x','metadata':{'a':'1','b':'1','c':'1','d':'1','e':'1','f':'1','g':'1','h':'1','i':'1','j':'1','k':'1','l':'1','m':'1','n':'1','o':'1','p':'1','q':'1'}}",
     400, "object_above_max_properties", "metadata",
     "Invalid 'metadata': too many properties. Expected an object with at most 16 properties, "
     "but got an object with 17 properties instead."},
    {"{'model':'m','input':'x','safety_identifier':'0123456789012345678901234567890123456789012345678901234567890123456789'}",
     400, "string_above_max_length", "safety_identifier", NULL},
    {"{'model':'m','input':'x','store':'yes'}", 400, "invalid_type", "store",
     "Invalid type for 'store': expected a boolean, but got a string instead."},
    /* what Axon cannot do */
    {"{'model':'m','input':'x','background':true}", 400, "unsupported_value", "background",
     "Background responses are not supported by Axon: send the request without 'background' "
     "(or stream it)."},
    {"{'model':'m','input':'x','prompt':{'id':'pmpt_1'}}", 400, "unsupported_value", "prompt",
     "Stored prompts are not supported by Axon: send the prompt's text in 'instructions' and "
     "'input'."},
    /* state */
    {"{'model':'m','input':'x','previous_response_id':'resp_gone'}", 404,
     "previous_response_not_found", "previous_response_id",
     "Previous response with id 'resp_gone' not found."},
    {"{'model':'m','input':'x','previous_response_id':'resp_1','conversation':'conv_1'}", 400,
     "mutually_exclusive_parameters", NULL,
     "Mutually exclusive parameters: Ensure you are only providing one of: "
     "'previous_response_id' or 'conversation'."},
    {"{'model':'m','input':'x','previous_response_id':''}", 404, "previous_response_not_found",
     "previous_response_id", "Previous response with id '' not found."},
    {"{'model':'m','input':'x','conversation':{'name':'c'}}", 400, "unknown_parameter",
     "conversation.name", "Unknown parameter: 'conversation.name'."},
    {"{'model':'m','input':'x','conversation':''}", 400, "invalid_value", "conversation",
     "Invalid 'conversation': '' is not an id Axon gave."},
};

static void refusals(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof REFUSALS / sizeof REFUSALS[0]; i++) {
        const struct refusal *r = &REFUSALS[i];
        setup_store();
        snprintf(ctx, sizeof ctx, "%.650s", r->body);
        json_object *b = q(r->body), *req = (json_object *)1;
        struct resp_meta meta;
        struct api_error e;
        memset(&e, 0, sizeof e);
        int rc = resp_parse(b, &LK, &req, &meta, &e);
        json_object_put(b);
        bool same = rc == AXON_EINVAL && !req && e.status == r->status && e.type &&
                    !strcmp(e.type, ERR_INVALID_REQUEST) &&
                    (r->code ? e.code && !strcmp(e.code, r->code) : !e.code) &&
                    !strcmp(e.param, r->param ? r->param : "") &&
                    (!r->message || !strcmp(e.message, r->message));
        if (!same)
            fail_msg("%s:\n  got  %d %d %s param=%s: %s\n  want %d %s param=%s: %s", ctx, rc,
                     e.status, e.code ? e.code : "null", e.param, e.message, r->status,
                     r->code ? r->code : "null", r->param ? r->param : "",
                     r->message ? r->message : "(any)");
        resp_meta_free(&meta);
    }
}

/* ---- meta ---- */

static json_object *at(json_object *o, const char *key)
{
    json_object *v = NULL;
    json_object_object_get_ex(o, key, &v);
    return v;
}

static const char *str(json_object *o, const char *key)
{
    json_object *v = at(o, key);
    return v ? json_object_get_string(v) : NULL;
}

static void meta_defaults(void **state)
{
    (void)state;
    setup_store();
    struct resp_meta meta;
    json_object *req = parse_ok("{'model':'m','input':'hi'}", &meta);
    assert_true(meta.store);
    assert_false(meta.stream);
    assert_int_equal(meta.include, 0);
    assert_int_equal(meta.summary, RESP_SUMMARY_NONE);
    assert_string_equal(meta.previous_id, "");
    assert_string_equal(meta.ignored, "");
    /* The Response object's echo, with OpenAI's defaults. */
    json_object *want = q("{'model':'m','tools':[],'tool_choice':'auto','parallel_tool_calls':true,"
                          "'temperature':1.0,'top_p':1.0,'top_logprobs':0,'truncation':'disabled',"
                          "'metadata':{},'service_tier':'auto','background':false,"
                          "'instructions':null,'max_output_tokens':null,'max_tool_calls':null,"
                          "'previous_response_id':null,'safety_identifier':null,"
                          "'prompt_cache_key':null,'text':{'format':{'type':'text'},"
                          "'verbosity':'medium'},'reasoning':{'effort':null,'summary':null},"
                          "'store':true}");
    if (!json_object_equal(meta.echo, want))
        fail_msg("echo %s", json_object_to_json_string_ext(meta.echo, JSONV_OUT));
    json_object_put(want);
    /* The input as one listed message with an id. */
    assert_int_equal(json_object_array_length(meta.input_items), 1);
    json_object *it = json_object_array_get_idx(meta.input_items, 0);
    assert_string_equal(str(it, "type"), "message");
    assert_string_equal(str(it, "role"), "user");
    assert_string_equal(str(it, "status"), "completed");
    assert_int_equal(strlen(str(it, "id")), 4 + 48);
    assert_memory_equal(str(it, "id"), "msg_", 4);
    json_object *part = json_object_array_get_idx(at(it, "content"), 0);
    assert_string_equal(str(part, "type"), "input_text");
    assert_string_equal(str(part, "text"), "hi");
    json_object_put(req);
    resp_meta_free(&meta);
}

static void meta_flags_and_items(void **state)
{
    (void)state;
    setup_store();
    struct resp_meta meta;
    json_object *req = parse_ok(
        "{'model':'m','store':false,'stream':true,'include':['reasoning.encrypted_content',"
        "'message.output_text.logprobs','message.input_image.image_url','file_search_call.results'],"
        "'reasoning':{'generate_summary':'detailed','context':'all_turns'},'metadata':{'a':'b'},"
        "'max_tool_calls':2,'service_tier':'ultrafast','conversation':'conv_7','temperature':0.2,"
        "'truncation':'auto',"
        "'input':[{'role':'assistant','content':'hello'},{'id':'fc_9'},"
        "{'type':'function_call_output','call_id':'c9','output':'ok'},"
        "{'type':'function_call','id':'fc_mine','call_id':'c10','name':'f','arguments':'{}'}]}",
        &meta);
    assert_false(meta.store);
    assert_true(meta.stream);
    assert_int_equal(meta.include, RESP_INC_ENCRYPTED | RESP_INC_LOGPROBS | RESP_INC_IMAGE_URL);
    assert_int_equal(meta.summary, RESP_SUMMARY_DETAILED); /* the deprecated alias */
    assert_string_equal(meta.conversation, "conv_7");
    assert_string_equal(meta.ignored,
                        "reasoning.context, service_tier, truncation, max_tool_calls");
    assert_string_equal(str(at(meta.echo, "metadata"), "a"), "b");
    assert_string_equal(str(at(meta.echo, "conversation"), "id"), "conv_7");
    assert_false(json_object_get_boolean(at(meta.echo, "store")));
    assert_string_equal(str(at(meta.echo, "reasoning"), "summary"), "detailed");
    assert_null(at(req, "metadata")); /* the response's, not the model's */
    /* Items: ids given kept, missing ones made with the type's prefix;
     * the reference resolved to the stored item. */
    json_object *items = meta.input_items;
    assert_int_equal(json_object_array_length(items), 4);
    json_object *a = json_object_array_get_idx(items, 0);
    assert_memory_equal(str(a, "id"), "msg_", 4);
    assert_string_equal(str(json_object_array_get_idx(at(a, "content"), 0), "type"), "output_text");
    assert_string_equal(str(json_object_array_get_idx(items, 1), "id"), "fc_9");
    assert_string_equal(str(json_object_array_get_idx(items, 1), "name"), "f");
    assert_memory_equal(str(json_object_array_get_idx(items, 2), "id"), "fco_", 4);
    assert_string_equal(str(json_object_array_get_idx(items, 3), "id"), "fc_mine");
    json_object_put(req);
    resp_meta_free(&meta);
}

/* What Claude receives for a stored tool turn resent by reference: the
 * signed thinking first and unchanged, then the text, then the tool use
 * (Claude refuses a tool turn whose thinking is missing or moved). */
static void claude_turn_order(void **state)
{
    (void)state;
    setup_store();
    struct resp_meta meta;
    json_object *req = parse_ok(
        "{'model':'m','reasoning':{'effort':'low'},'input':[{'role':'user','content':'weather?'},"
        "{'type':'item_reference','id':'rs_9'},{'type':'item_reference','id':'msg_9'},"
        "{'type':'function_call','call_id':'c1','name':'f','arguments':'{\\'city\\':\\'Paris\\'}'},"
        "{'type':'function_call_output','call_id':'c1','output':'sunny'}],"
        "'tools':[{'type':'function','name':'f','parameters':{'type':'object'}}]}",
        &meta);
    const struct model *m = models_find(&table, "claude-sonnet-4-6");
    struct buf b = BUF_INIT(1u << 20);
    struct chat_plan plan;
    struct api_error e;
    memset(&e, 0, sizeof e);
    assert_int_equal(anthropic_request(req, m, &b, &plan, &e), AXON_OK);
    json_object *body = NULL;
    assert_int_equal(jsonv_parse(b.p, b.len, JSONV_MAX_DEPTH, &body), AXON_OK);
    json_object *msgs = at(body, "messages");
    assert_int_equal(json_object_array_length(msgs), 3);
    json_object *turn = json_object_array_get_idx(msgs, 1);
    assert_string_equal(str(turn, "role"), "assistant");
    json_object *blocks = at(turn, "content");
    assert_int_equal(json_object_array_length(blocks), 3);
    json_object *b0 = json_object_array_get_idx(blocks, 0);
    assert_string_equal(str(b0, "type"), "thinking");
    assert_string_equal(str(b0, "thinking"), "plan");
    assert_string_equal(str(b0, "signature"), "sig9");
    assert_string_equal(str(json_object_array_get_idx(blocks, 1), "type"), "text");
    json_object *b2 = json_object_array_get_idx(blocks, 2);
    assert_string_equal(str(b2, "type"), "tool_use");
    assert_string_equal(str(at(b2, "input"), "city"), "Paris");
    json_object *result = json_object_array_get_idx(at(json_object_array_get_idx(msgs, 2), "content"), 0);
    assert_string_equal(str(result, "type"), "tool_result");
    assert_string_equal(str(result, "tool_use_id"), str(b2, "id"));
    assert_non_null(at(body, "thinking")); /* reasoning.effort asked Claude to think */
    json_object_put(body);
    buf_free(&b);
    json_object_put(req);
    resp_meta_free(&meta);
}

/* A provider's refusal of the chat request, told in the Responses
 * request's own names and paths. */
struct mapped {
    const char *model, *body, *param, *message;
};

static const struct mapped MAPPED[] = {
    {"claude-sonnet-4-6", "{'model':'m','reasoning':{'effort':'high'},'max_output_tokens':100,'input':'x'}",
     "max_output_tokens",
     "Thinking needs max_output_tokens above 2048 (Claude's smallest thinking budget is 1024 "
     "tokens, and the answer needs room too)."},
    {"claude-sonnet-4-6", "{'model':'m','instructions':'s','input':[{'role':'user','content':'q'},"
     "{'type':'message','role':'assistant','content':'a'},"
     "{'type':'function_call','call_id':'c0','name':'f','arguments':'{}'},"
     "{'type':'function_call','call_id':'c1','name':'f','arguments':'not json'},"
     "{'type':'function_call_output','call_id':'c0','output':'ok'},"
     "{'type':'function_call_output','call_id':'c1','output':'ok'}]}",
     "input[3].arguments", "Tool call arguments must be a JSON object encoded as a string."},
    {"claude-sonnet-4-6", "{'model':'m','include':['message.output_text.logprobs'],'input':'x'}",
     "include", "Unsupported parameter: 'include' is not supported with this model."},
};

static void errors_in_responses_names(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof MAPPED / sizeof MAPPED[0]; i++) {
        setup_store();
        snprintf(ctx, sizeof ctx, "%s", MAPPED[i].body);
        json_object *b = q(MAPPED[i].body), *req = NULL;
        struct resp_meta meta;
        struct api_error e;
        memset(&e, 0, sizeof e);
        assert_int_equal(resp_parse(b, &LK, &req, &meta, &e), AXON_OK);
        struct buf out = BUF_INIT(1u << 20);
        struct chat_plan plan;
        assert_int_not_equal(anthropic_request(req, models_find(&table, MAPPED[i].model), &out,
                                               &plan, &e), AXON_OK);
        resp_map_error(&meta, &e);
        if (strcmp(e.param, MAPPED[i].param) || strcmp(e.message, MAPPED[i].message))
            fail_msg("%s:\n  got  %s: %s\n  want %s: %s", ctx, e.param, e.message,
                     MAPPED[i].param, MAPPED[i].message);
        buf_free(&out);
        json_object_put(req);
        json_object_put(b);
        resp_meta_free(&meta);
    }
    /* Paths as chat's validator writes them. */
    static const char *const paths[][2] = {
        {"messages[0].content", "instructions"},
        {"messages[1].content[0].image_url.url", "input[0].content[0].image_url"},
        {"messages[1].content[1].text", "input[0].content[1].text"},
        {"messages[2].content", "input[1].content"},
        {"messages[2].tool_calls[1].function.name", "input[3].name"},
        {"messages[2].tool_calls[0]", "input[2]"},
        {"messages[2].thinking_blocks", "input[1]"},
        {"messages[3].content[0].text", "input[4].output[0].text"},
        {"messages[3].tool_call_id", "input[4]"},
        {"messages[9].content", "messages[9].content"},
        {"tools[2].function.parameters", "tools[2].parameters"},
        {"tool_choice.function.name", "tool_choice.name"},
        {"response_format.json_schema.name", "text.format.json_schema.name"},
        {"temperature", "temperature"},
    };
    setup_store();
    struct resp_meta meta;
    json_object *req = parse_ok("{'model':'m','instructions':'s','input':[{'role':'user','content':["
                                "{'type':'input_image','image_url':'https://x/a.png'},"
                                "{'type':'input_text','text':'t'}]},"
                                "{'role':'assistant','content':'a'},"
                                "{'type':'function_call','call_id':'c0','name':'f','arguments':'{}'},"
                                "{'type':'function_call','call_id':'c1','name':'f','arguments':'{}'},"
                                "{'type':'function_call_output','call_id':'c0','output':'ok'},"
                                "{'type':'function_call_output','call_id':'c1','output':'ok'}]}",
                                &meta);
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        struct api_error e;
        api_error_set(&e, 400, ERR_INVALID_REQUEST, "invalid_value", paths[i][0],
                      "Invalid '%s': no.", paths[i][0]);
        resp_map_error(&meta, &e);
        char want[300];
        snprintf(want, sizeof want, "Invalid '%s': no.", paths[i][1]);
        if (strcmp(e.param, paths[i][1]) || strcmp(e.message, want))
            fail_msg("%s -> %s: %s (want %s)", paths[i][0], e.param, e.message, paths[i][1]);
    }
    json_object_put(req);
    resp_meta_free(&meta);

    char list[RESP_IGNORED_MAX] = "reasoning_effort, temperature, thinking, max_tokens";
    resp_map_names(list, sizeof list);
    assert_string_equal(list, "reasoning.effort, temperature, reasoning, max_output_tokens");
}

/* Two ids made are not the same. */
static void ids_are_random(void **state)
{
    (void)state;
    char a[64], b[64];
    resp_new_id("resp_", a, sizeof a);
    resp_new_id("resp_", b, sizeof b);
    assert_int_equal(strlen(a), 5 + 48);
    assert_string_not_equal(a, b);
}

/* The lookups: one per previous_response_id and per reference; a store
 * error is passed on as it is; no lookups at all without state. */
static void lookups(void **state)
{
    (void)state;
    setup_store();
    struct resp_meta meta;
    json_object *req = parse_ok("{'model':'m','input':'x'}", &meta);
    assert_int_equal(fk.calls, 0);
    json_object_put(req);
    resp_meta_free(&meta);

    req = parse_ok("{'model':'m','previous_response_id':'resp_1','input':[{'id':'fc_9'},"
                   "{'type':'function_call_output','call_id':'c9','output':'ok'}]}",
                   &meta);
    assert_int_equal(fk.calls, 2);
    assert_string_equal(meta.previous_id, "resp_1");
    /* the stored items are not this request's input */
    assert_int_equal(json_object_array_length(meta.input_items), 2);
    json_object_put(req);
    resp_meta_free(&meta);

    fk.prev_rc = AXON_EIO;
    json_object *b = q("{'model':'m','previous_response_id':'resp_1','input':'x'}");
    struct api_error e;
    memset(&e, 0, sizeof e);
    assert_int_equal(resp_parse(b, &LK, &req, &meta, &e), AXON_EIO);
    assert_null(req);
    assert_int_equal(e.status, 503);
    json_object_put(b);
    resp_meta_free(&meta);

    /* Without lookups, an id is not found and a sealed item cannot open. */
    b = q("{'model':'m','previous_response_id':'resp_1','input':'x'}");
    memset(&e, 0, sizeof e);
    assert_int_equal(resp_parse(b, NULL, &req, &meta, &e), AXON_EINVAL);
    assert_int_equal(e.status, 404);
    json_object_put(b);
    resp_meta_free(&meta);
}

/* A body that is not an object; an array of items too long. */
static void shapes(void **state)
{
    (void)state;
    struct resp_meta meta;
    struct api_error e;
    json_object *req = NULL, *b = q("[1]");
    memset(&e, 0, sizeof e);
    assert_int_equal(resp_parse(b, &LK, &req, &meta, &e), AXON_EINVAL);
    assert_string_equal(e.message, "Invalid type for the request body: expected an object, but "
                                   "got an array instead.");
    json_object_put(b);
    resp_meta_free(&meta);

    b = q("{'model':'m','input':[]}");
    json_object *in = at(b, "input");
    for (int i = 0; i <= RESP_MAX_ITEMS; i++)
        json_object_array_add(in, q("{'role':'user','content':'x'}"));
    memset(&e, 0, sizeof e);
    assert_int_equal(resp_parse(b, &LK, &req, &meta, &e), AXON_EINVAL);
    assert_string_equal(e.code, "array_above_max_length");
    assert_string_equal(e.param, "input[65536]");
    json_object_put(b);
    resp_meta_free(&meta);

    /* References are lookups: fewer of them. */
    b = q("{'model':'m','input':[]}");
    in = at(b, "input");
    for (int i = 0; i <= RESP_MAX_REFS; i++)
        json_object_array_add(in, q("{'type':'item_reference','id':'fc_9'}"));
    memset(&e, 0, sizeof e);
    setup_store();
    assert_int_equal(resp_parse(b, &LK, &req, &meta, &e), AXON_EINVAL);
    assert_string_equal(e.code, "array_above_max_length");
    assert_string_equal(e.param, "input[1024]");
    assert_string_equal(e.message, "Too many item references: Axon resolves at most 1024 in one "
                                   "request.");
    assert_int_equal(fk.calls, RESP_MAX_REFS);
    json_object_put(b);
    resp_meta_free(&meta);
}

/* The references a caller fetches in one round trip before parsing. */
static void item_refs(void **state)
{
    (void)state;
    json_object *b = q("{'model':'m','input':[{'role':'user','content':'x'},"
                       "{'type':'item_reference','id':'a'},{'id':'b'},{'type':null,'id':'c'},"
                       "{'type':'message','id':'d','role':'user','content':'y'},"
                       "{'type':'reasoning','id':'e','summary':[]},{'type':'item_reference'}]}");
    const char *ids[2];
    assert_int_equal(resp_item_refs(b, ids, 2), 3);
    assert_string_equal(ids[0], "a");
    assert_string_equal(ids[1], "b");
    json_object_put(b);
    b = q("{'model':'m','input':'x'}");
    assert_int_equal(resp_item_refs(b, ids, 2), 0);
    json_object_put(b);
}

/* etc/models.conf, plus an OpenAI-compatible model as vLLM serves one. */
static int setup(void **state)
{
    (void)state;
    char err[256] = "";
    FILE *f = fopen(AXON_MODELS_DEFAULT, "r");
    if (!f)
        return -1;
    struct buf text = BUF_INIT(1u << 20);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (buf_append(&text, chunk, n))
            break;
    fclose(f);
    int rc = buf_puts(&text, "\nmodel qwen provider=openai max_output=32768\n");
    if (!rc)
        rc = models_parse(&table, text.p, "models.conf", err, sizeof err);
    if (rc)
        fprintf(stderr, "models: %s\n", err);
    buf_free(&text);
    return rc;
}

static int teardown(void **state)
{
    (void)state;
    models_free(&table);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mappings),
        cmocka_unit_test(refusals),
        cmocka_unit_test(meta_defaults),
        cmocka_unit_test(meta_flags_and_items),
        cmocka_unit_test(claude_turn_order),
        cmocka_unit_test(errors_in_responses_names),
        cmocka_unit_test(ids_are_random),
        cmocka_unit_test(lookups),
        cmocka_unit_test(shapes),
        cmocka_unit_test(item_refs),
    };
    return cmocka_run_group_tests_name("resp_in", tests, setup, teardown);
}
