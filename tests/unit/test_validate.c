/* The request validator: what the OpenAI spec accepts passes, and each kind
 * of mistake gets OpenAI's status, code, param and words, naming the first
 * fault by its JSON path. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "errors.h"
#include "jsonv.h"
#include "oai_validate.h"

/* Bodies are written with ' for " to stay readable; no body needs a '. */
static json_object *parse(const char *body)
{
    char *s = xstrdup(body);
    for (char *p = s; *p; p++)
        if (*p == '\'')
            *p = '"';
    json_object *o = NULL;
    if (jsonv_parse(s, strlen(s), JSONV_MAX_DEPTH, &o) != AXON_OK)
        fail_msg("test body is not JSON: %s", s);
    free(s);
    return o;
}

static int run(const char *body, bool allow_unknown, struct api_error *e)
{
    json_object *o = parse(body);
    memset(e, 0, sizeof *e);
    int rc = oai_validate_chat(o, allow_unknown, e);
    json_object_put(o);
    return rc;
}

static void expect_ok(const char *body, bool allow_unknown)
{
    struct api_error e;
    if (run(body, allow_unknown, &e) != AXON_OK)
        fail_msg("refused: %s\n  -> %s | %s | %s", body, e.code ? e.code : "null", e.param,
                 e.message);
    assert_int_equal(e.status, 0); /* untouched on success */
}

/* code and param NULL mean JSON null. */
static void expect_bad(const char *body, bool allow_unknown, const char *code, const char *param,
                       const char *message)
{
    struct api_error e;
    int rc = run(body, allow_unknown, &e);
    bool same = rc == AXON_EINVAL && e.status == 400 && e.type &&
                strcmp(e.type, ERR_INVALID_REQUEST) == 0 &&
                (code ? e.code && strcmp(e.code, code) == 0 : !e.code) &&
                strcmp(e.param, param ? param : "") == 0 && strcmp(e.message, message) == 0;
    if (!same)
        fail_msg("body: %s\n  want: %s | %s | %s\n  got:  rc %d, %d %s | %s | %s", body,
                 code ? code : "null", param ? param : "null", message, rc, e.status,
                 e.code ? e.code : "null", e.param, e.message);
    /* What goes on the wire is valid JSON (and so valid UTF-8). */
    struct buf b = BUF_INIT(8192);
    json_object *o = NULL;
    assert_int_equal(errors_envelope_api(&b, &e), 0);
    assert_int_equal(jsonv_parse(b.p, b.len, JSONV_MAX_DEPTH, &o), AXON_OK);
    json_object_put(o);
    buf_free(&b);
}

#define BASE "{'model':'gpt-4o','messages':[{'role':'user','content':'hi'}]"
#define MSGS(m) "{'model':'gpt-4o','messages':[" m "]}"
#define USER_PARTS(p) MSGS("{'role':'user','content':[" p "]}")
#define CALL(c) MSGS("{'role':'assistant','content':null,'tool_calls':[" c "]}")
#define TOOL(t) BASE ",'tools':[" t "]}"

static const char RICH[] =
    "{'model':'gpt-4o',"
    "'messages':["
    "{'role':'developer','content':'Be brief.','name':'ops'},"
    "{'role':'system','content':[{'type':'text','text':'You help.',"
    "'prompt_cache_breakpoint':{'mode':'explicit'}}]},"
    "{'role':'user','name':'ann','content':["
    "{'type':'text','text':'Look'},"
    "{'type':'image_url','image_url':{'url':'https://x.test/a.png','detail':'high'}},"
    "{'type':'image_url','image_url':{'url':'data:image/png;base64,iVBORw0KGgo='}},"
    "{'type':'input_audio','input_audio':{'data':'UklGRg==','format':'wav'}},"
    "{'type':'file','file':{'file_data':'data:application/pdf;base64,JVBE','filename':'a.pdf'}},"
    "{'type':'file','file':{'file_id':'file-abc'}}]},"
    "{'role':'assistant','content':null,'tool_calls':["
    "{'id':'call_1','type':'function','function':{'name':'get_weather',"
    "'arguments':'{\\\"city\\\":\\\"Paris\\\"}'}},"
    "{'id':'call_2','type':'custom','custom':{'name':'sql','input':'SELECT 1'}}]},"
    "{'role':'tool','tool_call_id':'call_1','content':'18C'},"
    "{'role':'tool','tool_call_id':'call_2','content':[{'type':'text','text':'1'}]},"
    "{'role':'assistant','content':[{'type':'text','text':'It is'},"
    "{'type':'refusal','refusal':'no'}],'refusal':null,'name':'bot','audio':{'id':'audio_1'}},"
    "{'role':'assistant','content':null,'function_call':{'name':'f','arguments':'{}'}},"
    "{'role':'function','name':'f','content':null},"
    "{'role':'user','content':'Thanks'}],"
    "'audio':{'voice':'alloy','format':'mp3'},"
    "'conversation_id':'c_123',"
    "'frequency_penalty':-2,"
    "'logit_bias':{'50256':-100,'15':100},"
    "'logprobs':true,"
    "'max_completion_tokens':1024,"
    "'max_tokens':1,"
    "'metadata':{'team':'a','k2':'v'},"
    "'modalities':['text','audio'],"
    "'moderation':{'model':'omni-moderation-latest','policy':{'input':{'mode':'score'},"
    "'output':null}},"
    "'n':128,"
    "'parallel_tool_calls':false,"
    "'prediction':{'type':'content','content':[{'type':'text','text':'old'}]},"
    "'presence_penalty':2,"
    "'prompt_cache_key':'k',"
    "'prompt_cache_options':{'ttl':'30m','mode':'explicit'},"
    "'prompt_cache_retention':'24h',"
    "'reasoning_effort':'xhigh',"
    "'response_format':{'type':'json_schema','json_schema':{'name':'Weather_v-2',"
    "'description':'d','schema':{'type':'object'},'strict':true}},"
    "'safety_identifier':'user-1',"
    "'seed':-9223372036854775808,"
    "'service_tier':'flex',"
    "'stop':['\\n','END','a','b'],"
    "'store':true,"
    "'stream':true,"
    "'stream_options':{'include_usage':true,'include_obfuscation':false},"
    "'temperature':2,"
    "'thinking':{'type':'enabled','budget_tokens':1024},"
    "'tool_choice':{'type':'allowed_tools','allowed_tools':{'mode':'required',"
    "'tools':[{'type':'function','function':{'name':'get_weather'}}]}},"
    "'tools':[{'type':'function','function':{'name':'get_weather','description':'d',"
    "'parameters':{'type':'object'},'strict':null}},"
    "{'type':'custom','custom':{'name':'sql','format':{'type':'grammar',"
    "'grammar':{'definition':'start: x','syntax':'lark'}}}},"
    "{'type':'custom','custom':{'name':'free','format':{'type':'text'}}}],"
    "'top_k':0,"
    "'top_logprobs':20,"
    "'top_p':0.95,"
    "'user':'u-1',"
    "'verbosity':'low',"
    "'web_search_options':{'user_location':{'type':'approximate','approximate':{"
    "'country':'FR','city':'Paris','region':'IDF','timezone':'Europe/Paris'}},"
    "'search_context_size':'high'}}";

static void accepts_every_field(void **state)
{
    (void)state;
    json_object *o = parse(RICH);
    /* 37 from the spec, 3 Axon's, less functions and function_call, which
     * may not come with tools (accepts_valid_requests has them) */
    assert_int_equal(json_object_object_length(o), 38);
    json_object_put(o);
    expect_ok(RICH, false);
}

static void accepts_valid_requests(void **state)
{
    (void)state;
    static const char *const ok[] = {
        MSGS("{'role':'user','content':'Hi'}"),
        /* null is unset for every nullable field */
        BASE ",'audio':null,'conversation_id':null,'frequency_penalty':null,'logit_bias':null,"
             "'logprobs':null,'max_completion_tokens':null,'max_tokens':null,'metadata':null,"
             "'modalities':null,'moderation':null,'n':null,'prediction':null,"
             "'presence_penalty':null,'prompt_cache_key':null,'prompt_cache_retention':null,"
             "'reasoning_effort':null,'safety_identifier':null,'seed':null,'service_tier':null,"
             "'stop':null,'store':null,'stream':null,'stream_options':null,'temperature':null,"
             "'thinking':null,'top_k':null,'top_logprobs':null,'top_p':null,'verbosity':null}",
        /* an assistant message as openai-python's model_dump() writes it back, and
         * the extras clients send on nested objects */
        MSGS("{'role':'user','content':[{'type':'text','text':'a','cache_control':{'type':'x'}}]},"
             "{'role':'assistant','content':'x','refusal':null,'tool_calls':null,"
             "'function_call':null,'audio':null,'annotations':[],'reasoning_content':'r'},"
             "{'role':'assistant','content':null,'tool_calls':[{'id':'c','type':'function',"
             "'index':0,'function':{'name':'f','arguments':''}}]},"
             "{'role':'tool','tool_call_id':'c','content':'ok','name':'f'},"
             "{'role':'user','content':''}"),
        BASE ",'tool_choice':'auto','tools':[]}",
        BASE ",'tool_choice':{'type':'function','function':{'name':'f'}}}",
        BASE ",'tool_choice':{'type':'custom','custom':{'name':'sql'}}}",
        BASE ",'function_call':'none','functions':[{'name':'f'}]}",
        BASE ",'function_call':{'name':'f'},'parallel_tool_calls':true,"
             "'functions':[{'name':'f','description':'d','parameters':{'type':'object'}}]}",
        BASE ",'functions':[{'name':'f'}]}",
        BASE ",'response_format':{'type':'text'}}",
        BASE ",'response_format':{'type':'json_object'}}",
        BASE ",'stop':'END','seed':9223372036854775807}",
        BASE ",'thinking':true}",
        BASE ",'thinking':false}",
        BASE ",'thinking':{'type':'disabled'}}",
        BASE ",'thinking':{'type':'adaptive','display':'omitted'}}",
        BASE ",'thinking':{'type':'enabled'}}",
        BASE ",'audio':{'voice':{'id':'voice_1234'},'format':'pcm16'},'modalities':['audio']}",
        BASE ",'prediction':{'type':'content','content':'old text'}}",
        BASE ",'temperature':0,'top_p':1,'frequency_penalty':2.0,'presence_penalty':-2}",
        BASE ",'temperature':1.5e0,'top_p':0.0}",
        BASE ",'logprobs':true,'top_logprobs':0,'n':1}",
        BASE ",'stream':true,'stream_options':null}",
        BASE ",'stream_options':null}",
        BASE ",'modalities':['text'],'web_search_options':{}}",
        BASE ",'user':'','store':false,'parallel_tool_calls':true}",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        expect_ok(ok[i], false);
}

struct bad {
    const char *body;
    const char *code;  /* NULL: null */
    const char *param; /* NULL: null */
    const char *message;
};

#define MISSING(p) "missing_required_parameter", p, "Missing required parameter: '" p "'."

static const struct bad BAD[] = {
    /* required, then unknown, then each field */
    {"{'messages':[{'role':'user','content':'hi'}]}", MISSING("model")},
    {"{'model':'m'}", MISSING("messages")},
    {"{'foo':1}", MISSING("model")},
    {"{'model':'m','foo':1}", MISSING("messages")},
    {"{'model':'m','messages':[],'foo':1}", NULL, NULL,
     "Unrecognized request argument supplied: foo"},
    {BASE ",'n':'x','reasoning':{}}", NULL, NULL,
     "Unrecognized request argument supplied: reasoning"},
    {BASE ",'n':0,'temperature':3}", "integer_below_min_value", "n",
     "Invalid 'n': integer below minimum value. Expected a value >= 1, but got 0 instead."},
    {MSGS("{'role':'tool','content':5}"), MISSING("messages[0].tool_call_id")},

    /* model and messages */
    {"{'model':5,'messages':[]}", "invalid_type", "model",
     "Invalid type for 'model': expected a string, but got an integer instead."},
    {"{'model':null,'messages':[]}", "invalid_type", "model",
     "Invalid type for 'model': expected a string, but got null instead."},
    {"{'model':'m','messages':'hi'}", "invalid_type", "messages",
     "Invalid type for 'messages': expected an array of objects, but got a string instead."},
    {"{'model':'m','messages':[]}", "empty_array", "messages",
     "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an "
     "empty array instead."},
    {MSGS("'hi'"), "invalid_type", "messages[0]",
     "Invalid type for 'messages[0]': expected an object, but got a string instead."},
    {MSGS("{'content':'hi'}"), MISSING("messages[0].role")},
    {MSGS("{'role':'robot','content':'hi'}"), "invalid_value", "messages[0].role",
     "Invalid value: 'robot'. Supported values are: 'system', 'assistant', 'user', 'function', "
     "'tool', and 'developer'."},
    {MSGS("{'role':5,'content':'hi'}"), "invalid_type", "messages[0].role",
     "Invalid type for 'messages[0].role': expected one of 'system', 'assistant', 'user', "
     "'function', 'tool', or 'developer', but got an integer instead."},
    {MSGS("{'role':'user\\u0000x','content':'hi'}"), "invalid_value", "messages[0].role",
     "Invalid value: 'user'. Supported values are: 'system', 'assistant', 'user', 'function', "
     "'tool', and 'developer'."},
    {MSGS("{'role':'user'}"), MISSING("messages[0].content")},
    {MSGS("{'role':'user','content':7}"), "invalid_type", "messages[0].content",
     "Invalid type for 'messages[0].content': expected one of a string or array of objects, but "
     "got an integer instead."},
    {MSGS("{'role':'system','content':null}"), "invalid_type", "messages[0].content",
     "Invalid type for 'messages[0].content': expected one of a string or array of objects, but "
     "got null instead."},
    {MSGS("{'role':'user','content':[]}"), "empty_array", "messages[0].content",
     "Invalid 'messages[0].content': empty array. Expected an array with minimum length 1, but "
     "got an empty array instead."},
    {MSGS("{'role':'user','content':'hi','name':5}"), "invalid_type", "messages[0].name",
     "Invalid type for 'messages[0].name': expected a string, but got an integer instead."},

    /* content parts */
    {USER_PARTS("{'text':'a'}"), MISSING("messages[0].content[0].type")},
    {USER_PARTS("{'type':'text'}"), MISSING("messages[0].content[0].text")},
    {USER_PARTS("'a'"), "invalid_type", "messages[0].content[0]",
     "Invalid type for 'messages[0].content[0]': expected an object, but got a string instead."},
    {USER_PARTS("{'type':'text','text':5}"), "invalid_type", "messages[0].content[0].text",
     "Invalid type for 'messages[0].content[0].text': expected a string, but got an integer "
     "instead."},
    {USER_PARTS("{'type':'text','text':'a'},{'type':'image_url','image_url':{'url':42}}"),
     "invalid_type", "messages[0].content[1].image_url.url",
     "Invalid type for 'messages[0].content[1].image_url.url': expected a string, but got an "
     "integer instead."},
    {USER_PARTS("{'type':'image_url','image_url':'https://x.test/a.png'}"), "invalid_type",
     "messages[0].content[0].image_url",
     "Invalid type for 'messages[0].content[0].image_url': expected an object, but got a string "
     "instead."},
    {USER_PARTS("{'type':'image_url','image_url':{}}"),
     MISSING("messages[0].content[0].image_url.url")},
    {USER_PARTS("{'type':'image_url','image_url':{'url':'u','detail':'ultra'}}"), "invalid_value",
     "messages[0].content[0].image_url.detail",
     "Invalid value: 'ultra'. Supported values are: 'auto', 'low', and 'high'."},
    {USER_PARTS("{'type':'input_audio','input_audio':{'data':'AA==','format':'ogg'}}"),
     "invalid_value", "messages[0].content[0].input_audio.format",
     "Invalid value: 'ogg'. Supported values are: 'wav' and 'mp3'."},
    {USER_PARTS("{'type':'input_audio','input_audio':{'format':'mp3'}}"),
     MISSING("messages[0].content[0].input_audio.data")},
    {USER_PARTS("{'type':'file','file':'abc'}"), "invalid_type", "messages[0].content[0].file",
     "Invalid type for 'messages[0].content[0].file': expected an object, but got a string "
     "instead."},
    {USER_PARTS("{'type':'file','file':{'file_id':5}}"), "invalid_type",
     "messages[0].content[0].file.file_id",
     "Invalid type for 'messages[0].content[0].file.file_id': expected a string, but got an "
     "integer instead."},
    {USER_PARTS("{'type':'video','video':{}}"), "invalid_value", "messages[0].content[0].type",
     "Invalid value: 'video'. Supported values are: 'text', 'image_url', 'input_audio', and "
     "'file'."},
    {USER_PARTS("{'type':'text','text':'a','prompt_cache_breakpoint':{'mode':'implicit'}}"),
     "invalid_value", "messages[0].content[0].prompt_cache_breakpoint.mode",
     "Invalid value: 'implicit'. Supported values are: 'explicit'."},
    {MSGS("{'role':'system','content':[{'type':'image_url','image_url':{'url':'u'}}]}"),
     "invalid_value", "messages[0].content[0].type",
     "Invalid value: 'image_url'. Supported values are: 'text'."},
    {MSGS("{'role':'developer','content':[{'type':5}]}"), "invalid_type",
     "messages[0].content[0].type",
     "Invalid type for 'messages[0].content[0].type': expected 'text', but got an integer "
     "instead."},
    {MSGS("{'role':'assistant','content':[{'type':'image_url','image_url':{'url':'u'}}]}"),
     "invalid_value", "messages[0].content[0].type",
     "Invalid value: 'image_url'. Supported values are: 'text' and 'refusal'."},
    {MSGS("{'role':'assistant','content':[{'type':'refusal'}]}"),
     MISSING("messages[0].content[0].refusal")},

    /* assistant, tool and function messages */
    {MSGS("{'role':'user','content':'hi'},{'role':'assistant'}"), MISSING("messages[1].content")},
    {MSGS("{'role':'user','content':'hi'},{'role':'assistant','content':null,'tool_calls':[]}"),
     MISSING("messages[1].content")},
    {MSGS("{'role':'user','content':'hi'},{'role':'tool','content':'18C'}"),
     MISSING("messages[1].tool_call_id")},
    {MSGS("{'role':'tool','content':'18C','tool_call_id':5}"), "invalid_type",
     "messages[0].tool_call_id",
     "Invalid type for 'messages[0].tool_call_id': expected a string, but got an integer "
     "instead."},
    {MSGS("{'role':'function','content':'x'}"), MISSING("messages[0].name")},
    {MSGS("{'role':'function','name':'f'}"), MISSING("messages[0].content")},
    {MSGS("{'role':'assistant','content':'x','audio':{}}"), MISSING("messages[0].audio.id")},
    {MSGS("{'role':'assistant','content':'x','tool_calls':'f'}"), "invalid_type",
     "messages[0].tool_calls",
     "Invalid type for 'messages[0].tool_calls': expected an array of objects, but got a string "
     "instead."},
    {CALL("{'type':'function','function':{'name':'f','arguments':'{}'}}"),
     MISSING("messages[0].tool_calls[0].id")},
    {CALL("{'id':'c','type':'function','function':{'name':'f','arguments':{}}}"), "invalid_type",
     "messages[0].tool_calls[0].function.arguments",
     "Invalid type for 'messages[0].tool_calls[0].function.arguments': expected a string, but got "
     "an object instead."},
    {CALL("{'id':'c','type':'fn','function':{'name':'f','arguments':'{}'}}"), "invalid_value",
     "messages[0].tool_calls[0].type",
     "Invalid value: 'fn'. Supported values are: 'function' and 'custom'."},
    {CALL("{'id':'c','type':null,'function':{'name':'f','arguments':'{}'}}"), "invalid_type",
     "messages[0].tool_calls[0].type",
     "Invalid type for 'messages[0].tool_calls[0].type': expected one of 'function' or 'custom', "
     "but got null instead."},
    {CALL("{'id':'c','type':'custom','custom':{'name':'sql'}}"),
     MISSING("messages[0].tool_calls[0].custom.input")},

    /* decimals */
    {BASE ",'temperature':3}", "decimal_above_max_value", "temperature",
     "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got 3 "
     "instead."},
    {BASE ",'temperature':2.5}", "decimal_above_max_value", "temperature",
     "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got 2.5 "
     "instead."},
    {BASE ",'temperature':'hot'}", "invalid_type", "temperature",
     "Invalid type for 'temperature': expected a decimal, but got a string instead."},
    {BASE ",'top_p':-0.5}", "decimal_below_min_value", "top_p",
     "Invalid 'top_p': decimal below minimum value. Expected a value >= 0, but got -0.5 "
     "instead."},
    {BASE ",'top_p':1.0000001}", "decimal_above_max_value", "top_p",
     "Invalid 'top_p': decimal above maximum value. Expected a value <= 1, but got 1.0000001 "
     "instead."},
    {BASE ",'presence_penalty':-3}", "decimal_below_min_value", "presence_penalty",
     "Invalid 'presence_penalty': decimal below minimum value. Expected a value >= -2, but got "
     "-3 instead."},
    {BASE ",'frequency_penalty':1e400}", "decimal_above_max_value", "frequency_penalty",
     "Invalid 'frequency_penalty': decimal above maximum value. Expected a value <= 2, but got "
     "1e400 instead."},

    /* integers */
    {BASE ",'n':0}", "integer_below_min_value", "n",
     "Invalid 'n': integer below minimum value. Expected a value >= 1, but got 0 instead."},
    {BASE ",'n':129}", "integer_above_max_value", "n",
     "Invalid 'n': integer above maximum value. Expected a value <= 128, but got 129 instead."},
    {BASE ",'n':2.0}", "invalid_type", "n",
     "Invalid type for 'n': expected an integer, but got a decimal number instead."},
    {BASE ",'n':'2'}", "invalid_type", "n",
     "Invalid type for 'n': expected an integer, but got a string instead."},
    {BASE ",'max_tokens':0}", "integer_below_min_value", "max_tokens",
     "Invalid 'max_tokens': integer below minimum value. Expected a value >= 1, but got 0 "
     "instead."},
    {BASE ",'max_completion_tokens':9223372036854775808}", "integer_above_max_value",
     "max_completion_tokens",
     "Invalid 'max_completion_tokens': integer above maximum value. Expected a value <= "
     "9223372036854775807, but got 9223372036854775808 instead."},
    {BASE ",'seed':1.5}", "invalid_type", "seed",
     "Invalid type for 'seed': expected an integer, but got a decimal number instead."},
    {BASE ",'seed':18446744073709551615}", "integer_above_max_value", "seed",
     "Invalid 'seed': integer above maximum value. Expected a value <= 9223372036854775807, but "
     "got 18446744073709551615 instead."},
    {BASE ",'logprobs':true,'top_logprobs':21}", "integer_above_max_value", "top_logprobs",
     "Invalid 'top_logprobs': integer above maximum value. Expected a value <= 20, but got 21 "
     "instead."},
    {BASE ",'top_k':-1}", "integer_below_min_value", "top_k",
     "Invalid 'top_k': integer below minimum value. Expected a value >= 0, but got -1 instead."},
    {BASE ",'top_k':1.5}", "invalid_type", "top_k",
     "Invalid type for 'top_k': expected an integer, but got a decimal number instead."},

    /* booleans, strings, objects that may not be null */
    {BASE ",'stream':'true'}", "invalid_type", "stream",
     "Invalid type for 'stream': expected a boolean, but got a string instead."},
    {BASE ",'logprobs':1}", "invalid_type", "logprobs",
     "Invalid type for 'logprobs': expected a boolean, but got an integer instead."},
    {BASE ",'parallel_tool_calls':null}", "invalid_type", "parallel_tool_calls",
     "Invalid type for 'parallel_tool_calls': expected a boolean, but got null instead."},
    {BASE ",'user':null}", "invalid_type", "user",
     "Invalid type for 'user': expected a string, but got null instead."},
    {BASE ",'user':{'a':1}}", "invalid_type", "user",
     "Invalid type for 'user': expected a string, but got an object instead."},
    {BASE ",'conversation_id':5}", "invalid_type", "conversation_id",
     "Invalid type for 'conversation_id': expected a string, but got an integer instead."},
    {BASE ",'prompt_cache_key':[]}", "invalid_type", "prompt_cache_key",
     "Invalid type for 'prompt_cache_key': expected a string, but got an array instead."},
    {BASE ",'web_search_options':null}", "invalid_type", "web_search_options",
     "Invalid type for 'web_search_options': expected an object, but got null instead."},

    /* rules across fields */
    {BASE ",'stream_options':{'include_usage':true}}", "invalid_value", "stream_options",
     "The 'stream_options' parameter is only allowed when 'stream' is enabled."},
    {BASE ",'stream':false,'stream_options':{}}", "invalid_value", "stream_options",
     "The 'stream_options' parameter is only allowed when 'stream' is enabled."},
    {BASE ",'top_logprobs':5}", NULL, "top_logprobs",
     "The 'top_logprobs' parameter is only allowed when 'logprobs' is enabled."},
    {BASE ",'logprobs':false,'top_logprobs':5}", NULL, "top_logprobs",
     "The 'top_logprobs' parameter is only allowed when 'logprobs' is enabled."},
    {BASE ",'modalities':['text','audio']}", MISSING("audio")},
    {BASE ",'stream':true,'stream_options':{'include_usage':'yes'}}", "invalid_type",
     "stream_options.include_usage",
     "Invalid type for 'stream_options.include_usage': expected a boolean, but got a string "
     "instead."},
    {BASE ",'stream':true,'stream_options':'yes'}", "invalid_type", "stream_options",
     "Invalid type for 'stream_options': expected an object, but got a string instead."},

    /* stop */
    {BASE ",'stop':[]}", "empty_array", "stop",
     "Invalid 'stop': empty array. Expected an array with minimum length 1, but got an empty "
     "array instead."},
    {BASE ",'stop':['a','b','c','d','e']}", "array_above_max_length", "stop",
     "Invalid 'stop': array too long. Expected an array with maximum length 4, but got an array "
     "with length 5 instead."},
    {BASE ",'stop':['a',1]}", "invalid_type", "stop[1]",
     "Invalid type for 'stop[1]': expected a string, but got an integer instead."},
    {BASE ",'stop':5}", "invalid_type", "stop",
     "Invalid type for 'stop': expected one of a string or array of strings, but got an integer "
     "instead."},

    /* logit_bias and metadata */
    {BASE ",'logit_bias':{'50256':101}}", "integer_above_max_value", "logit_bias.50256",
     "Invalid 'logit_bias.50256': integer above maximum value. Expected a value <= 100, but got "
     "101 instead."},
    {BASE ",'logit_bias':{'1':-101}}", "integer_below_min_value", "logit_bias.1",
     "Invalid 'logit_bias.1': integer below minimum value. Expected a value >= -100, but got "
     "-101 instead."},
    {BASE ",'logit_bias':{'7':0.5}}", "invalid_type", "logit_bias.7",
     "Invalid type for 'logit_bias.7': expected an integer, but got a decimal number instead."},
    {BASE ",'logit_bias':{'abc':1}}", "invalid_value", "logit_bias",
     "Invalid key in 'logit_bias': abc. You should only be submitting non-negative integers."},
    {BASE ",'logit_bias':[]}", "invalid_type", "logit_bias",
     "Invalid type for 'logit_bias': expected an object, but got an array instead."},
    {BASE ",'metadata':{'k':7}}", "invalid_type", "metadata.k",
     "Invalid type for 'metadata.k': expected a string, but got an integer instead."},
    {BASE ",'metadata':'x'}", "invalid_type", "metadata",
     "Invalid type for 'metadata': expected an object, but got a string instead."},

    /* tools and functions */
    {BASE ",'tools':'none'}", "invalid_type", "tools",
     "Invalid type for 'tools': expected an array of objects, but got a string instead."},
    {TOOL("{'type':'function'}"), MISSING("tools[0].function")},
    {TOOL("{'function':{'name':'f'}}"), MISSING("tools[0].type")},
    {TOOL("{'type':'function','function':{'parameters':{}}}"), MISSING("tools[0].function.name")},
    {TOOL("{'type':'function','function':{'name':'get.weather'}}"), "invalid_value",
     "tools[0].function.name",
     "Invalid 'tools[0].function.name': string does not match pattern. Expected a string that "
     "matches the pattern '^[a-zA-Z0-9_-]+$'."},
    {TOOL("{'type':'function','function':{'name':''}}"), "invalid_value",
     "tools[0].function.name",
     "Invalid 'tools[0].function.name': string does not match pattern. Expected a string that "
     "matches the pattern '^[a-zA-Z0-9_-]+$'."},
    {TOOL("{'type':'retrieval'}"), "invalid_value", "tools[0].type",
     "Invalid value: 'retrieval'. Supported values are: 'function' and 'custom'."},
    {TOOL("{'type':'function','function':{'name':'f','parameters':'x'}}"), "invalid_type",
     "tools[0].function.parameters",
     "Invalid type for 'tools[0].function.parameters': expected an object, but got a string "
     "instead."},
    {TOOL("{'type':'function','function':{'name':'f','strict':'yes'}}"), "invalid_type",
     "tools[0].function.strict",
     "Invalid type for 'tools[0].function.strict': expected a boolean, but got a string "
     "instead."},
    {TOOL("{'type':'custom','custom':{}}"), MISSING("tools[0].custom.name")},
    {TOOL("{'type':'custom','custom':{'name':'g','format':{'type':'grammar',"
          "'grammar':{'definition':'x','syntax':'peg'}}}}"),
     "invalid_value", "tools[0].custom.format.grammar.syntax",
     "Invalid value: 'peg'. Supported values are: 'lark' and 'regex'."},
    {TOOL("{'type':'custom','custom':{'name':'g','format':{'type':'text','extra':1}}}"),
     "unknown_parameter", "tools[0].custom.format.extra",
     "Unknown parameter: 'tools[0].custom.format.extra'."},
    {TOOL("{'type':'custom','custom':{'name':'g','format':{'type':'json'}}}"), "invalid_value",
     "tools[0].custom.format.type",
     "Invalid value: 'json'. Supported values are: 'text' and 'grammar'."},
    {BASE ",'functions':[]}", "empty_array", "functions",
     "Invalid 'functions': empty array. Expected an array with minimum length 1, but got an "
     "empty array instead."},
    {BASE ",'functions':[{'description':'d'}]}", MISSING("functions[0].name")},

    /* tool_choice and function_call */
    {BASE ",'tool_choice':'bogus'}", "invalid_value", "tool_choice",
     "Invalid value: 'bogus'. Supported values are: 'none', 'auto', and 'required'."},
    {BASE ",'tool_choice':7}", "invalid_type", "tool_choice",
     "Invalid type for 'tool_choice': expected one of one of 'none', 'auto', or 'required' or "
     "object, but got an integer instead."},
    {BASE ",'tool_choice':null}", "invalid_type", "tool_choice",
     "Invalid type for 'tool_choice': expected one of one of 'none', 'auto', or 'required' or "
     "object, but got null instead."},
    {BASE ",'tool_choice':{'type':'function'}}", MISSING("tool_choice.function")},
    {BASE ",'tool_choice':{'type':'function','function':{}}}", MISSING("tool_choice.function.name")},
    {BASE ",'tool_choice':{'type':'auto'}}", "invalid_value", "tool_choice.type",
     "Invalid value: 'auto'. Supported values are: 'function', 'custom', and 'allowed_tools'."},
    {BASE ",'tool_choice':{'type':'allowed_tools','allowed_tools':{'mode':'any','tools':[]}}}",
     "invalid_value", "tool_choice.allowed_tools.mode",
     "Invalid value: 'any'. Supported values are: 'auto' and 'required'."},
    {BASE ",'tool_choice':{'type':'allowed_tools','allowed_tools':{'mode':'auto',"
          "'tools':['f']}}}",
     "invalid_type", "tool_choice.allowed_tools.tools[0]",
     "Invalid type for 'tool_choice.allowed_tools.tools[0]': expected an object, but got a "
     "string instead."},
    {BASE ",'function_call':{}}", MISSING("function_call.name")},
    {BASE ",'function_call':'always'}", "invalid_value", "function_call",
     "Invalid value: 'always'. Supported values are: 'none' and 'auto'."},
    {BASE ",'function_call':5}", "invalid_type", "function_call",
     "Invalid type for 'function_call': expected one of one of 'none' or 'auto' or object, but "
     "got an integer instead."},
    /* the deprecated pair does not mix with tools (oai_legacy.h) */
    {BASE ",'function_call':'auto'}", NULL, "function_call",
     "Invalid value for 'function_call': 'function_call' is only allowed when 'functions' are "
     "specified."},
    {BASE ",'function_call':'auto','tools':[{'type':'function','function':{'name':'f'}}]}", NULL,
     "function_call",
     "Invalid value for 'function_call': 'function_call' is only allowed when 'functions' are "
     "specified."},
    {BASE ",'functions':[{'name':'f'}],'tools':[{'type':'function','function':{'name':'g'}}]}",
     NULL, "functions",
     "Invalid value for 'functions': 'functions' and 'tools' cannot both be specified. "
     "'functions' is deprecated: send every function as a tool, and use 'tool_choice' instead "
     "of 'function_call'."},
    {BASE ",'functions':[{'name':'f'}],'tool_choice':'auto'}", NULL, "tool_choice",
     "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are "
     "specified."},

    /* response_format */
    {BASE ",'response_format':'json'}", "invalid_type", "response_format",
     "Invalid type for 'response_format': expected an object, but got a string instead."},
    {BASE ",'response_format':{}}", MISSING("response_format.type")},
    {BASE ",'response_format':{'type':'bogus'}}", "invalid_value", "response_format.type",
     "Invalid value: 'bogus'. Supported values are: 'json_object', 'json_schema', and 'text'."},
    {BASE ",'response_format':{'type':'json_schema'}}", MISSING("response_format.json_schema")},
    {BASE ",'response_format':{'type':'json_schema','json_schema':{'schema':{}}}}",
     MISSING("response_format.json_schema.name")},
    {BASE ",'response_format':{'type':'json_schema','json_schema':{'name':'my schema'}}}",
     "invalid_value", "response_format.json_schema.name",
     "Invalid 'response_format.json_schema.name': string does not match pattern. Expected a "
     "string that matches the pattern '^[a-zA-Z0-9_-]+$'."},
    {BASE ",'response_format':{'type':'json_schema','json_schema':{'name':'s','strict':'yes'}}}",
     "invalid_type", "response_format.json_schema.strict",
     "Invalid type for 'response_format.json_schema.strict': expected a boolean, but got a "
     "string instead."},
    {BASE ",'response_format':{'type':'json_schema','json_schema':{'name':'s','schema':5}}}",
     "invalid_type", "response_format.json_schema.schema",
     "Invalid type for 'response_format.json_schema.schema': expected an object, but got an "
     "integer instead."},

    /* audio and modalities */
    {BASE ",'audio':{'voice':'alloy'}}", MISSING("audio.format")},
    {BASE ",'audio':{'format':'mp3'}}", MISSING("audio.voice")},
    {BASE ",'audio':{'voice':'alloy','format':'ogg'}}", "invalid_value", "audio.format",
     "Invalid value: 'ogg'. Supported values are: 'wav', 'aac', 'mp3', 'flac', 'opus', and "
     "'pcm16'."},
    {BASE ",'audio':{'voice':{'id':'v','x':1},'format':'mp3'}}", "unknown_parameter",
     "audio.voice.x", "Unknown parameter: 'audio.voice.x'."},
    {BASE ",'audio':{'voice':{},'format':'mp3'}}", MISSING("audio.voice.id")},
    {BASE ",'audio':{'voice':5,'format':'mp3'}}", "invalid_type", "audio.voice",
     "Invalid type for 'audio.voice': expected one of a string or object, but got an integer "
     "instead."},
    {BASE ",'modalities':['text','video']}", "invalid_value", "modalities[1]",
     "Invalid value: 'video'. Supported values are: 'text' and 'audio'."},
    {BASE ",'modalities':'text'}", "invalid_type", "modalities",
     "Invalid type for 'modalities': expected an array of strings, but got a string instead."},

    /* enums */
    {BASE ",'reasoning_effort':'extreme'}", "invalid_value", "reasoning_effort",
     "Invalid value: 'extreme'. Supported values are: 'none', 'minimal', 'low', 'medium', "
     "'high', 'xhigh', and 'max'."},
    {BASE ",'verbosity':'bogus'}", "invalid_value", "verbosity",
     "Invalid value: 'bogus'. Supported values are: 'low', 'medium', and 'high'."},
    {BASE ",'service_tier':'bogus'}", "invalid_value", "service_tier",
     "Invalid value: 'bogus'. Supported values are: 'auto', 'default', 'fast', 'flex', "
     "'priority', and 'scale'."},
    {BASE ",'service_tier':{'a':1}}", "invalid_type", "service_tier",
     "Invalid type for 'service_tier': expected one of 'auto', 'default', 'fast', 'flex', "
     "'priority', or 'scale', but got an object instead."},
    {BASE ",'prompt_cache_retention':{'a':1}}", "invalid_type", "prompt_cache_retention",
     "Invalid type for 'prompt_cache_retention': expected one of 'in_memory' or '24h', but got "
     "an object instead."},
    {BASE ",'prompt_cache_options':{'ttl':'1h'}}", "invalid_value", "prompt_cache_options.ttl",
     "Invalid value: '1h'. Supported values are: '30m'."},

    /* moderation, web search, prediction */
    {BASE ",'moderation':{}}", MISSING("moderation.model")},
    {BASE ",'moderation':{'model':'m','policy':{'input':{'mode':'warn'}}}}", "invalid_value",
     "moderation.policy.input.mode",
     "Invalid value: 'warn'. Supported values are: 'score' and 'block'."},
    {BASE ",'web_search_options':{'user_location':{'type':'exact','approximate':{}}}}",
     "invalid_value", "web_search_options.user_location.type",
     "Invalid value: 'exact'. Supported values are: 'approximate'."},
    {BASE ",'web_search_options':{'user_location':{'type':'approximate'}}}",
     MISSING("web_search_options.user_location.approximate")},
    {BASE ",'web_search_options':{'user_location':{'type':'approximate',"
          "'approximate':{'city':5}}}}",
     "invalid_type", "web_search_options.user_location.approximate.city",
     "Invalid type for 'web_search_options.user_location.approximate.city': expected a string, "
     "but got an integer instead."},
    {BASE ",'web_search_options':{'search_context_size':'huge'}}", "invalid_value",
     "web_search_options.search_context_size",
     "Invalid value: 'huge'. Supported values are: 'low', 'medium', and 'high'."},
    {BASE ",'prediction':{'type':'content'}}", MISSING("prediction.content")},
    {BASE ",'prediction':{'type':'content','content':[]}}", "empty_array", "prediction.content",
     "Invalid 'prediction.content': empty array. Expected an array with minimum length 1, but got "
     "an empty array instead."},
    {BASE ",'prediction':{'type':'diff','content':'x'}}", "invalid_value", "prediction.type",
     "Invalid value: 'diff'. Supported values are: 'content'."},

    /* Axon's thinking */
    {BASE ",'thinking':'on'}", "invalid_type", "thinking",
     "Invalid type for 'thinking': expected one of a boolean or object, but got a string "
     "instead."},
    {BASE ",'thinking':{'type':'enabled','budget_tokens':512}}", "integer_below_min_value",
     "thinking.budget_tokens",
     "Invalid 'thinking.budget_tokens': integer below minimum value. Expected a value >= 1024, "
     "but got 512 instead."},
    {BASE ",'thinking':{'type':'enabled','budget_tokens':2048.5}}", "invalid_type",
     "thinking.budget_tokens",
     "Invalid type for 'thinking.budget_tokens': expected an integer, but got a decimal number "
     "instead."},
    {BASE ",'thinking':{'type':'sometimes'}}", "invalid_value", "thinking.type",
     "Invalid value: 'sometimes'. Supported values are: 'enabled', 'disabled', and 'adaptive'."},
    {BASE ",'thinking':{}}", MISSING("thinking.type")},
};

static void refuses_with_openai_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++)
        expect_bad(BAD[i].body, false, BAD[i].code, BAD[i].param, BAD[i].message);
}

static void allow_unknown_keeps_the_other_checks(void **state)
{
    (void)state;
    expect_ok(BASE ",'min_p':0.1,'chat_template_kwargs':{'enable_thinking':false}}", true);
    expect_bad(BASE ",'min_p':0.1,'temperature':3}", true, "decimal_above_max_value",
               "temperature",
               "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but "
               "got 3 instead.");
    expect_bad("{'min_p':0.1,'messages':[]}", true, MISSING("model"));
}

static void refuses_a_body_that_is_not_an_object(void **state)
{
    (void)state;
    expect_bad("[]", false, "invalid_type", NULL,
               "Invalid type for the request body: expected an object, but got an array "
               "instead.");
}

/* Builds BASE + "," + fill + "}" where fill comes from a generator. */
static char *with(const char *fmt, ...) AXON_PRINTF(1, 2);
static char *with(const char *fmt, ...)
{
    char part[16384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(part, sizeof part, fmt, ap);
    va_end(ap);
    struct buf b = BUF_INIT(1 << 20);
    assert_int_equal(buf_printf(&b, "%s,%s}", BASE, part), 0);
    return buf_take(&b);
}

/* n copies of item, each formatted with its index, comma-separated. */
static char *items(const char *item, int n)
{
    struct buf b = BUF_INIT(1 << 20);
    for (int i = 0; i < n; i++) {
        assert_int_equal(buf_puts(&b, i ? "," : ""), 0);
        assert_int_equal(buf_printf(&b, item, i), 0);
    }
    return buf_take(&b);
}

static char *repeat(const char *s, int n)
{
    struct buf b = BUF_INIT(1 << 20);
    for (int i = 0; i < n; i++)
        assert_int_equal(buf_puts(&b, s), 0);
    return buf_take(&b);
}

/* Caps that need long inputs: counts, lengths in characters, and text the
 * client chose, cut to fit without breaking UTF-8. */
static void enforces_sizes(void **state)
{
    (void)state;
    char *s, *body;

    /* metadata: 16 pairs pass, 17 do not */
    s = items("'k%d':'v'", 17);
    body = with("'metadata':{%s}", s);
    expect_bad(body, false, "object_above_max_properties", "metadata",
               "Invalid 'metadata': too many properties. Expected an object with at most 16 "
               "properties, but got an object with 17 properties instead.");
    free(body);
    free(s);
    s = items("'k%d':'v'", 16);
    body = with("'metadata':{%s}", s);
    expect_ok(body, false);
    free(body);
    free(s);

    /* metadata values: 512 characters, counted as characters */
    s = repeat("\xc3\xa9", 512);
    body = with("'metadata':{'k':'%s'}", s);
    expect_ok(body, false);
    free(body);
    free(s);
    s = repeat("x", 600);
    body = with("'metadata':{'k':'%s'}", s);
    expect_bad(body, false, "string_above_max_length", "metadata.k",
               "Invalid 'metadata.k': string too long. Expected a string with maximum length "
               "512, but got a string with length 600 instead.");
    free(body);
    free(s);

    /* metadata keys: 64 characters; a longer one is shortened in the message */
    s = repeat("k", 64);
    body = with("'metadata':{'%s':'v'}", s);
    expect_ok(body, false);
    free(body);
    free(s);
    s = repeat("k", 70);
    body = with("'metadata':{'%s':'v'}", s);
    char param[256];
    snprintf(param, sizeof param, "metadata.%s", s);
    expect_bad(body, false, "property_name_above_max_length", param,
               "Invalid property name in 'metadata': 'kkk...kkk' is too long. Expected a string "
               "with maximum length 64, but got a string with length 70 instead.");
    free(body);
    free(s);

    /* tools: 128 pass, 129 do not; functions likewise */
    s = items("{'type':'function','function':{'name':'f%d'}}", 129);
    body = with("'tools':[%s]", s);
    expect_bad(body, false, "array_above_max_length", "tools",
               "Invalid 'tools': array too long. Expected an array with maximum length 128, but "
               "got an array with length 129 instead.");
    free(body);
    free(s);
    s = items("{'type':'function','function':{'name':'f%d'}}", 128);
    body = with("'tools':[%s]", s);
    expect_ok(body, false);
    free(body);
    free(s);
    s = items("{'name':'f%d'}", 129);
    body = with("'functions':[%s]", s);
    expect_bad(body, false, "array_above_max_length", "functions",
               "Invalid 'functions': array too long. Expected an array with maximum length 128, "
               "but got an array with length 129 instead.");
    free(body);
    free(s);

    /* names: 64 characters */
    s = repeat("a", 64);
    body = with("'tools':[{'type':'function','function':{'name':'%s'}}]", s);
    expect_ok(body, false);
    free(body);
    free(s);
    s = repeat("a", 65);
    body = with("'tools':[{'type':'function','function':{'name':'%s'}}]", s);
    expect_bad(body, false, "string_above_max_length", "tools[0].function.name",
               "Invalid 'tools[0].function.name': string too long. Expected a string with "
               "maximum length 64, but got a string with length 65 instead.");
    free(body);
    body = with("'safety_identifier':'%s'", s);
    expect_bad(body, false, "string_above_max_length", "safety_identifier",
               "Invalid 'safety_identifier': string too long. Expected a string with maximum "
               "length 64, but got a string with length 65 instead.");
    free(body);
    free(s);

    /* An unknown top-level name is quoted up to 120 bytes, cut before a
     * character that would not fit whole: "a" and 39 three-byte euros. */
    char *euros = repeat("\xe2\x82\xac", 300);
    body = with("'a%s':1", euros);
    char want[512];
    s = repeat("\xe2\x82\xac", 39);
    snprintf(want, sizeof want, "Unrecognized request argument supplied: a%s", s);
    expect_bad(body, false, NULL, NULL, want);
    free(body);
    free(s);

    /* A path past 255 bytes is cut the same way: 12 + 1 + 80 * 3 bytes. */
    body = with("'audio':{'format':'mp3','voice':{'id':'v','a%s':1}}", euros);
    s = repeat("\xe2\x82\xac", 80);
    snprintf(param, sizeof param, "audio.voice.a%s", s);
    assert_int_equal(strlen(param), 253);
    snprintf(want, sizeof want, "Unknown parameter: '%s'.", param);
    expect_bad(body, false, "unknown_parameter", param, want);
    free(body);
    free(s);
    free(euros);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepts_every_field),
        cmocka_unit_test(accepts_valid_requests),
        cmocka_unit_test(refuses_with_openai_errors),
        cmocka_unit_test(allow_unknown_keeps_the_other_checks),
        cmocka_unit_test(refuses_a_body_that_is_not_an_object),
        cmocka_unit_test(enforces_sizes),
    };
    return cmocka_run_group_tests_name("validate", tests, NULL, NULL);
}
