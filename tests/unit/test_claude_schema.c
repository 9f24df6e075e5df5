/* claude_schema: the schemas OpenAI clients send (pydantic, zod, hand
 * written) rewritten into what Claude takes, and answers checked against
 * the original. Schemas are written with single quotes for legibility. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "claude_schema.h"
#include "jsonv.h"

/* 'x' → "x": returns new (json_object_put). */
static json_object *J(const char *s)
{
    char *d = xstrdup(s);
    for (char *p = d; *p; p++)
        if (*p == '\'')
            *p = '"';
    json_object *o = NULL;
    if (jsonv_parse(d, strlen(d), JSONV_MAX_DEPTH, &o))
        fail_msg("test JSON does not parse: %s", s);
    free(d);
    return o;
}

/* The rewrite of s in mode; fails the test unless it succeeds. */
static json_object *rewrite(const char *s, enum cs_mode mode, int *moved)
{
    json_object *in = J(s), *out = NULL;
    struct cs_info ci;
    int rc = claude_schema_rewrite(in, mode, &out, &ci);
    if (rc)
        fail_msg("rewrite refused (%d): %s", rc, ci.err);
    if (moved)
        *moved = ci.moved;
    json_object_put(in);
    return out;
}

static void expect_eq(json_object *got, const char *want)
{
    json_object *w = J(want);
    if (!json_object_equal(got, w))
        fail_msg("got:  %s\nwant: %s", json_object_to_json_string_ext(got, JSONV_OUT),
                 json_object_to_json_string_ext(w, JSONV_OUT));
    json_object_put(w);
}

/* The member at a dotted path ("properties.age.description"). */
static json_object *at(json_object *o, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save)) {
        json_object *v = NULL;
        if (!json_object_object_get_ex(o, k, &v))
            return NULL;
        o = v;
    }
    return o;
}

static void expect_str(json_object *o, const char *path, const char *want)
{
    json_object *v = at(o, path);
    if (!json_object_is_type(v, json_type_string) || strcmp(json_object_get_string(v), want))
        fail_msg("%s: got %s, want %s", path, v ? json_object_to_json_string(v) : "(absent)", want);
}

static void expect_absent(json_object *o, const char *path)
{
    if (at(o, path))
        fail_msg("%s should be absent: %s", path, json_object_to_json_string(at(o, path)));
}

/* pydantic: conint(ge=0, le=120) / Field(ge=, le=) */
static void pydantic_bounds(void **state)
{
    (void)state;
    int moved = 0;
    json_object *o = rewrite(
        "{'title':'Person','type':'object','properties':{'age':{'title':'Age','type':'integer',"
        "'minimum':0,'maximum':120},'score':{'type':'number','exclusiveMinimum':0,"
        "'exclusiveMaximum':1,'multipleOf':0.5}},'required':['age','score']}",
        CS_STRICT, &moved);
    expect_eq(o, "{'title':'Person','type':'object','additionalProperties':false,"
                 "'required':['age','score'],'properties':{"
                 "'age':{'title':'Age','type':'integer','description':'{minimum: 0, maximum: 120}'},"
                 "'score':{'type':'number','description':"
                 "'{exclusiveMinimum: 0, exclusiveMaximum: 1, multipleOf: 0.5}'}}}");
    assert_int_equal(moved, 5);
    json_object_put(o);
}

/* zod: z.string().min(1).max(20), z.array(...).min(2).max(5), .min(1) kept */
static void zod_strings_arrays(void **state)
{
    (void)state;
    json_object *o = rewrite(
        "{'type':'object','properties':{'name':{'type':'string','minLength':1,'maxLength':20,"
        "'description':'Full name'},'tags':{'type':'array','items':{'type':'string','maxLength':8},"
        "'minItems':2,'maxItems':5},'one':{'type':'array','items':{'type':'integer'},'minItems':1}},"
        "'required':['name','tags','one'],'additionalProperties':false,"
        "'$schema':'http://json-schema.org/draft-07/schema#'}",
        CS_STRICT, NULL);
    expect_str(o, "properties.name.description", "Full name\n\n{minLength: 1, maxLength: 20}");
    expect_absent(o, "properties.name.minLength");
    expect_str(o, "properties.tags.description", "{minItems: 2, maxItems: 5}");
    expect_absent(o, "properties.tags.minItems");
    expect_str(o, "properties.tags.items.description", "{maxLength: 8}");
    expect_eq(at(o, "properties.one"), "{'type':'array','items':{'type':'integer'},'minItems':1}");
    expect_absent(o, "$schema");
    json_object_put(o);
}

/* Every object is closed, however deep and whatever the client said. */
static void nested_objects_closed(void **state)
{
    (void)state;
    json_object *o = rewrite(
        "{'type':'object','additionalProperties':true,'properties':{'a':{'type':'object',"
        "'properties':{'b':{'type':['object','null'],'properties':{'c':{'type':'string'}}}}},"
        "'map':{'type':'object','additionalProperties':{'type':'integer'}},"
        "'list':{'type':'array','items':{'type':'object','properties':{'x':{'type':'boolean'}}}}}}",
        CS_STRICT, NULL);
    json_object *f = json_object_new_boolean(0);
    assert_true(json_object_equal(at(o, "additionalProperties"), f));
    assert_true(json_object_equal(at(o, "properties.a.additionalProperties"), f));
    assert_true(json_object_equal(at(o, "properties.a.properties.b.additionalProperties"), f));
    assert_true(json_object_equal(at(o, "properties.map.additionalProperties"), f));
    assert_true(json_object_equal(at(o, "properties.list.items.additionalProperties"), f));
    expect_eq(at(o, "properties.map.properties"), "{}");
    json_object_put(f);
    /* properties without a type: an object (the SDK would throw) */
    json_object *u = rewrite("{'properties':{'n':{'type':'integer','minimum':1}}}", CS_STRICT, NULL);
    expect_str(u, "type", "object");
    expect_str(u, "properties.n.description", "{minimum: 1}");
    json_object_put(u);
    json_object_put(o);
}

static void one_of_any_of(void **state)
{
    (void)state;
    json_object *o = rewrite(
        "{'type':'object','properties':{'v':{'oneOf':[{'type':'string','maxLength':3},"
        "{'type':'object','properties':{'k':{'type':'integer'}}}]},"
        "'w':{'anyOf':[{'type':'integer','maximum':9},{'type':'null'}],'default':null}}}",
        CS_STRICT, NULL);
    expect_absent(o, "properties.v.oneOf");
    expect_eq(at(o, "properties.v.anyOf"),
              "[{'type':'string','description':'{maxLength: 3}'},{'type':'object',"
              "'properties':{'k':{'type':'integer'}},'additionalProperties':false}]");
    expect_eq(at(o, "properties.w"), "{'anyOf':[{'type':'integer','description':'{maximum: 9}'},"
                                     "{'type':'null'}],'description':'{default: null}'}");
    /* beside a combinator, type goes, as the SDK drops it */
    json_object *t = rewrite("{'type':['string','integer'],'anyOf':[{'type':'string'},"
                             "{'type':'integer','minimum':1}]}",
                             CS_STRICT, NULL);
    expect_eq(t, "{'anyOf':[{'type':'string'},{'type':'integer','description':'{minimum: 1}'}]}");
    json_object_put(t);
    json_object_put(o);
}

/* pydantic v2 ($defs) and v1 / zod-to-json-schema (definitions) */
static void defs_and_refs(void **state)
{
    (void)state;
    json_object *o = rewrite(
        "{'$defs':{'Pet':{'type':'object','properties':{'legs':{'type':'integer','minimum':0}}}},"
        "'definitions':{'Tag':{'type':'string','maxLength':5}},'type':'object','properties':{"
        "'pet':{'$ref':'#/$defs/Pet','description':'the pet'},'tag':{'$ref':'#/definitions/Tag'}}}",
        CS_STRICT, NULL);
    expect_eq(at(o, "properties.pet"), "{'$ref':'#/$defs/Pet'}");
    expect_eq(at(o, "$defs.Pet"), "{'type':'object','additionalProperties':false,'properties':{"
                                  "'legs':{'type':'integer','description':'{minimum: 0}'}}}");
    expect_eq(at(o, "definitions.Tag"), "{'type':'string','description':'{maxLength: 5}'}");
    json_object_put(o);
}

static void formats(void **state)
{
    (void)state;
    json_object *o = rewrite(
        "{'type':'object','properties':{'at':{'type':'string','format':'date-time'},"
        "'id':{'type':'string','format':'uuid'},'ref':{'type':'string','format':'uri-reference'},"
        "'p':{'type':'string','pattern':'^[a-z]+$'}}}",
        CS_STRICT, NULL);
    expect_eq(at(o, "properties.at"), "{'type':'string','format':'date-time'}");
    expect_eq(at(o, "properties.id"), "{'type':'string','format':'uuid'}");
    expect_eq(at(o, "properties.ref"), "{'type':'string','description':'{format: \\'uri-reference\\'}'}");
    expect_str(o, "properties.p.description", "{pattern: \"^[a-z]+$\"}");
    json_object_put(o);
}

/* A plain tool's schema keeps its constraints: only $schema/$id go. */
static void plain_mode(void **state)
{
    (void)state;
    json_object *o = rewrite("{'$schema':'x','type':'object','properties':{'n':{'type':'integer',"
                             "'minimum':1,'$id':'y'},'$id':{'type':'string'}}}",
                             CS_PLAIN, NULL);
    expect_eq(o, "{'type':'object','properties':{'n':{'type':'integer','minimum':1},"
                 "'$id':{'type':'string'}}}");
    json_object_put(o);
}

/* Network-fed: nesting, node count and the moved text are capped. */
static void caps(void **state)
{
    (void)state;
    struct buf b = BUF_INIT(1u << 22);
    for (int i = 0; i <= CS_MAX_DEPTH + 1; i++)
        assert_int_equal(buf_puts(&b, "{\"type\":\"array\",\"items\":"), 0);
    assert_int_equal(buf_puts(&b, "{\"type\":\"string\"}"), 0);
    for (int i = 0; i <= CS_MAX_DEPTH + 1; i++)
        assert_int_equal(buf_puts(&b, "}"), 0);
    json_object *in = NULL, *out = NULL;
    struct cs_info ci;
    assert_int_equal(jsonv_parse(b.p, b.len, 200, &in), 0);
    assert_int_equal(claude_schema_rewrite(in, CS_STRICT, &out, &ci), AXON_ETOODEEP);
    assert_null(out);
    assert_non_null(strstr(ci.err, "deep"));
    json_object_put(in);

    buf_reset(&b);
    assert_int_equal(buf_puts(&b, "{\"type\":\"object\",\"properties\":{"), 0);
    for (int i = 0; i <= CS_MAX_NODES; i++)
        assert_int_equal(buf_printf(&b, "%s\"p%d\":{\"type\":\"integer\"}", i ? "," : "", i), 0);
    assert_int_equal(buf_puts(&b, "}}"), 0);
    assert_int_equal(jsonv_parse(b.p, b.len, JSONV_MAX_DEPTH, &in), 0);
    assert_int_equal(claude_schema_rewrite(in, CS_STRICT, &out, &ci), AXON_ETOOBIG);
    json_object_put(in);

    /* a huge `examples` is cut, on a character boundary, and marked */
    buf_reset(&b);
    assert_int_equal(buf_puts(&b, "{\"type\":\"string\",\"examples\":[\""), 0);
    for (int i = 0; i < CS_MAX_MOVED; i++)
        assert_int_equal(buf_puts(&b, "\xc3\xa9"), 0);
    assert_int_equal(buf_puts(&b, "\"]}"), 0);
    assert_int_equal(jsonv_parse(b.p, b.len, JSONV_MAX_DEPTH, &in), 0);
    assert_int_equal(claude_schema_rewrite(in, CS_STRICT, &out, &ci), 0);
    const char *d = json_object_get_string(at(out, "description"));
    size_t n = strlen(d);
    assert_true(n <= CS_MAX_MOVED + 4);
    assert_string_equal(d + n - 4, "...}");
    /* json-c checks UTF-8 when it parses: the text sent stays valid */
    json_object *back = NULL;
    const char *js = json_object_to_json_string_ext(out, JSONV_OUT);
    assert_int_equal(jsonv_parse(js, strlen(js), 8, &back), 0);
    json_object_put(back);
    json_object_put(out);
    json_object_put(in);
    buf_free(&b);
}

/* ---- the validator ---- */

static const char *SCHEMA =
    "{'$defs':{'Pet':{'type':'object','properties':{'legs':{'type':'integer','minimum':0,"
    "'maximum':8}}}},'type':'object','properties':{"
    "'age':{'type':'integer','minimum':0,'maximum':120},"
    "'ratio':{'type':'number','exclusiveMinimum':0,'multipleOf':0.25},"
    "'name':{'type':'string','minLength':2,'maxLength':4},"
    "'tags':{'type':'array','items':{'type':'string','maxLength':3},'minItems':1,'maxItems':3,"
    "'uniqueItems':true},"
    "'pet':{'$ref':'#/$defs/Pet'},"
    "'v':{'anyOf':[{'type':'string','maxLength':2},{'type':'integer','minimum':10}]},"
    "'a/b':{'type':'integer','maximum':1},"
    "'opt':{'type':['string','null'],'maxLength':1}}}";

static void expect_answer(const char *answer, const char *want)
{
    json_object *s = J(SCHEMA);
    char where[160] = "";
    int rc = claude_schema_check(s, answer, strlen(answer), where, sizeof where);
    json_object_put(s);
    if (!want && rc)
        fail_msg("%s: refused at %s", answer, where);
    if (want && (rc != AXON_EINVAL || strcmp(where, want)))
        fail_msg("%s: got %d '%s', want '%s'", answer, rc, where, want);
}

static void check_conforming(void **state)
{
    (void)state;
    expect_answer("{\"age\":120,\"ratio\":0.75,\"name\":\"\xc3\xa9t\xc3\xa9\",\"tags\":[\"a\",\"b\"],"
                 "\"pet\":{\"legs\":4},\"v\":12,\"a/b\":1,\"opt\":null}",
                 NULL);
    expect_answer("{\"v\":\"ab\",\"age\":0}", NULL);
    expect_answer("  {}  ", NULL);
}

static void check_violations(void **state)
{
    (void)state;
    expect_answer("{\"age\":121}", "#/age maximum");
    expect_answer("{\"age\":-1}", "#/age minimum");
    expect_answer("{\"age\":1.5}", "#/age type");
    expect_answer("{\"ratio\":0}", "#/ratio exclusiveMinimum");
    expect_answer("{\"ratio\":0.3}", "#/ratio multipleOf");
    expect_answer("{\"name\":\"\xc3\xa9\"}", "#/name minLength"); /* one character, two bytes */
    expect_answer("{\"name\":\"abcde\"}", "#/name maxLength");
    expect_answer("{\"tags\":[]}", "#/tags minItems");
    expect_answer("{\"tags\":[\"a\",\"b\",\"c\",\"d\"]}", "#/tags maxItems");
    expect_answer("{\"tags\":[\"a\",\"a\"]}", "#/tags uniqueItems");
    expect_answer("{\"tags\":[\"a\",\"long\"]}", "#/tags/1 maxLength");
    expect_answer("{\"pet\":{\"legs\":9}}", "#/pet/legs maximum");
    expect_answer("{\"v\":\"abc\"}", "#/v maxLength");
    expect_answer("{\"v\":3}", "#/v minimum");
    expect_answer("{\"a/b\":2}", "#/a~1b maximum");
    expect_answer("{\"opt\":\"xy\"}", "#/opt maxLength");
    expect_answer("{\"age\":", "# json");
}

/* A recursive $ref with no data under it ends; a name that would break a
 * header is shown with '?'. */
static void check_edges(void **state)
{
    (void)state;
    json_object *s = J("{'$defs':{'a':{'$ref':'#/$defs/a'}},'$ref':'#/$defs/a'}");
    char where[64];
    assert_int_equal(claude_schema_check(s, "1", 1, where, sizeof where), AXON_OK);
    json_object_put(s);
    s = J("{'type':'object','properties':{'x\\r\\nSet-Cookie: a':{'type':'integer','maximum':0}}}");
    const char *ans = "{\"x\\r\\nSet-Cookie: a\":1}";
    assert_int_equal(claude_schema_check(s, ans, strlen(ans), where, sizeof where), AXON_EINVAL);
    assert_string_equal(where, "#/x??Set-Cookie: a maximum");
    json_object_put(s);
    /* a small where buffer is cut, never overrun */
    s = J("{'type':'integer','maximum':0}");
    char tiny[4];
    assert_int_equal(claude_schema_check(s, "5", 1, tiny, sizeof tiny), AXON_EINVAL);
    assert_string_equal(tiny, "# m");
    json_object_put(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pydantic_bounds),  cmocka_unit_test(zod_strings_arrays),
        cmocka_unit_test(nested_objects_closed), cmocka_unit_test(one_of_any_of),
        cmocka_unit_test(defs_and_refs),    cmocka_unit_test(formats),
        cmocka_unit_test(plain_mode),       cmocka_unit_test(caps),
        cmocka_unit_test(check_conforming), cmocka_unit_test(check_violations),
        cmocka_unit_test(check_edges),
    };
    return cmocka_run_group_tests_name("claude_schema", tests, NULL, NULL);
}
