/* conv_http.c - the conversation routes: GET /v1/conversations (Axon's
 * list) and OpenAI's Conversations API: POST /v1/conversations, GET, POST
 * (metadata) and DELETE /v1/conversations/{id}, GET and POST .../items,
 * GET and DELETE .../items/{item_id} (docs/conversations.md).
 *
 * Items are a view of the stored chat messages (items.h), their ids derived
 * from the positions (resp_ids.h); items sent in become chat messages here.
 *
 * Only an id that passed conv_id_check is ever echoed into a message; the
 * tenant is the authenticated caller's, so another tenant's conversation is
 * answered exactly like a missing one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "conv.h"
#include "errors.h"
#include "errors_http.h"
#include "fcgi_io.h"
#include "handlers.h"
#include "items.h"
#include "jsonv.h"
#include "oai_validate.h"
#include "resp_ids.h"
#include "resp_in.h"
#include "text.h"

#define CONV_HTTP_ENTRY_MAX (CONV_ID_MAX + 6 * CONV_MODEL_MAX + 256) /* one listed item, escaped */
#define CONV_HTTP_ID_FORM CONV_ID_FORM

/* True when id may be in the store; otherwise the 400 or 404 was sent. */
static bool id_usable(struct axon_req *r, const char *id, int *rc)
{
    enum conv_id_kind k = conv_id_check(id);
    if (k == CONV_ID_STORED)
        return true;
    struct api_error e;
    (void)conv_api_error(&e, k == CONV_ID_BAD ? AXON_EINVAL : AXON_ENOTFOUND, id, NULL);
    *rc = errors_send_api(r, &e);
    return false;
}

static int send_store_error(struct axon_req *r, int rc, const char *id)
{
    struct api_error e;
    (void)conv_api_error(&e, rc, id, NULL);
    return errors_send_api(r, &e);
}

/* The fields shared by a conversation and a list item, without the closing brace. */
static int meta_json(struct buf *b, const struct conv_meta *m)
{
    int rc = buf_printf(b,
                        "{\"id\":\"%s\",\"object\":\"conversation\",\"created\":%lld,"
                        "\"updated\":%lld,\"model\":",
                        m->id, m->created, m->updated);
    if (!rc)
        rc = buf_json_str(b, m->model, strlen(m->model));
    if (!rc)
        rc = buf_printf(b, ",\"message_count\":%lld", m->message_count);
    return rc;
}

/* The Conversations API's fields: created_at and metadata ({} when none). */
static int api_fields(struct buf *b, long long created, json_object *metadata)
{
    int rc = buf_printf(b, ",\"created_at\":%lld,\"metadata\":", created);
    if (!rc && metadata)
        rc = jsonv_write(b, metadata);
    else if (!rc)
        rc = buf_puts(b, "{}");
    return rc;
}

/* A ConversationResource: {id, object, created_at, metadata}. */
static int send_conversation(struct axon_req *r, const char *id, long long created,
                             json_object *metadata)
{
    struct buf b = BUF_INIT(CONV_METADATA_MAX + CONV_HTTP_ENTRY_MAX);
    int rc = buf_printf(&b, "{\"id\":\"%s\",\"object\":\"conversation\"", id);
    if (!rc)
        rc = api_fields(&b, created, metadata);
    if (!rc)
        rc = buf_puts(&b, "}");
    if (!rc)
        rc = io_send_json(r, 200, b.p, b.len, NULL);
    buf_free(&b);
    return rc;
}

static int conv_get_one(struct axon_req *r, const char *id)
{
    int rc = AXON_OK;
    if (!id_usable(r, id, &rc))
        return rc;
    json_object *msgs = NULL, *metadata = NULL;
    struct conv_meta m;
    rc = conv_load_positions(r->cfg, id, r->tenant, &msgs, &m, &metadata);
    if (rc)
        return send_store_error(r, rc, id);
    /* The messages go out as stored (deleted ones left out): the cap is
     * their own size. */
    size_t n = json_object_array_length(msgs), cap = CONV_HTTP_ENTRY_MAX + CONV_METADATA_MAX + 64;
    for (size_t i = 0; i < n; i++) {
        json_object *msg = json_object_array_get_idx(msgs, i);
        cap += msg ? conv_message_bytes(msg) + 1 : 0;
    }
    struct buf b = BUF_INIT(cap);
    rc = meta_json(&b, &m);
    if (!rc)
        rc = api_fields(&b, m.created, metadata);
    if (!rc)
        rc = buf_puts(&b, ",\"messages\":[");
    bool first = true;
    for (size_t i = 0; !rc && i < n; i++) {
        json_object *msg = json_object_array_get_idx(msgs, i);
        if (!msg)
            continue; /* a tombstone */
        size_t len = 0;
        const char *s = conv_message_text(msg, &len);
        rc = first ? AXON_OK : buf_append(&b, ",", 1);
        first = false;
        if (!rc)
            rc = buf_append(&b, s, len);
    }
    if (!rc)
        rc = buf_puts(&b, "]}");
    json_object_put(msgs);
    json_object_put(metadata);
    if (!rc)
        rc = io_send_json(r, 200, b.p, b.len, NULL);
    buf_free(&b);
    return rc;
}

static int conv_delete_one(struct axon_req *r, const char *id)
{
    int rc = AXON_OK;
    if (!id_usable(r, id, &rc))
        return rc;
    rc = conv_delete(id, r->tenant);
    if (rc)
        return send_store_error(r, rc, id);
    char body[128];
    int n = snprintf(body, sizeof body,
                     "{\"id\":\"%s\",\"object\":\"conversation.deleted\",\"deleted\":true}", id);
    return io_send_json(r, 200, body, (size_t)n, NULL);
}

int conv_http_list(struct axon_req *r)
{
    int64_t limit = CONV_LIST_DEFAULT;
    size_t len;
    const char *v = text_query_get(r->query, "limit", &len);
    if (v && text_parse_i64_n(v, len, 1, CONV_LIST_MAX, &limit))
        return errors_send(r, 400, ERR_INVALID_REQUEST, "limit", "invalid_value", NULL,
                           "limit must be a whole number from 1 to %d.", CONV_LIST_MAX);
    char after[CONV_ID_MAX + 1] = "";
    v = text_query_get(r->query, "after", &len);
    if (v) {
        enum conv_id_kind k = CONV_ID_BAD;
        if (len <= CONV_ID_MAX) {
            memcpy(after, v, len);
            after[len] = '\0';
            k = conv_id_check(after);
        }
        if (k == CONV_ID_BAD)
            return errors_send(r, 400, ERR_INVALID_REQUEST, "after", "invalid_conversation_id",
                               NULL, "Invalid 'after': expected a conversation id, "
                               CONV_HTTP_ID_FORM ".");
    }
    struct conv_meta *list = xcalloc((size_t)limit, sizeof *list);
    int n = 0;
    bool more = false;
    int rc = conv_id_check(after) == CONV_ID_UNSTORED
                 ? AXON_ENOTFOUND /* never stored, so never listed */
                 : conv_list(r->tenant, (int)limit, v ? after : NULL, list, &n, &more);
    if (rc == AXON_ENOTFOUND) {
        free(list);
        return errors_send(r, 400, ERR_INVALID_REQUEST, "after", "invalid_value", NULL,
                           "Conversation %s is not in your list of conversations (it may have "
                           "expired or been deleted).",
                           after);
    }
    if (rc) {
        free(list);
        return send_store_error(r, rc, "");
    }
    struct buf b = BUF_INIT((size_t)limit * CONV_HTTP_ENTRY_MAX + 256);
    rc = buf_puts(&b, "{\"object\":\"list\",\"data\":[");
    for (int i = 0; !rc && i < n; i++) {
        rc = i ? buf_puts(&b, ",") : AXON_OK;
        if (!rc)
            rc = meta_json(&b, &list[i]);
        if (!rc)
            rc = buf_puts(&b, "}");
    }
    if (!rc && n)
        rc = buf_printf(&b, "],\"first_id\":\"%s\",\"last_id\":\"%s\"", list[0].id,
                        list[n - 1].id);
    else if (!rc)
        rc = buf_puts(&b, "],\"first_id\":null,\"last_id\":null");
    if (!rc)
        rc = buf_printf(&b, ",\"has_more\":%s}", more ? "true" : "false");
    if (!rc)
        rc = io_send_json(r, 200, b.p, b.len, NULL);
    buf_free(&b);
    free(list);
    return rc;
}

/* ---- the Conversations API ------------------------------------------------ */

#define CONV_API_ITEMS_MAX 20 /* items one create or append takes (the spec's maxItems) */
#define CONV_METADATA_PAIRS 16

/* What follows "/v1/conversations/": "ID", "ID/items" or "ID/items/ITEM". */
enum conv_path { CP_CONV, CP_ITEMS, CP_ITEM, CP_NONE };

/* Splits arg (borrowed) into id (CONV_ID_MAX + 1 bytes; a longer one is cut
 * to one byte more than an id, so that conv_id_check refuses it) and
 * *item (borrowed from arg). */
static enum conv_path path_split(const char *arg, char *id, const char **item)
{
    const char *slash = strchr(arg, '/');
    size_t n = slash ? (size_t)(slash - arg) : strlen(arg);
    size_t keep = n < CONV_ID_MAX ? n : CONV_ID_MAX;
    memcpy(id, arg, keep);
    id[keep] = '\0';
    if (n > CONV_ID_MAX)
        id[CONV_ID_MAX - 1] = '!'; /* never an id */
    *item = NULL;
    if (!slash)
        return CP_CONV;
    if (strcmp(slash, "/items") == 0)
        return CP_ITEMS;
    if (strncmp(slash, "/items/", 7) == 0 && slash[7] && !strchr(slash + 7, '/')) {
        *item = slash + 7;
        return CP_ITEM;
    }
    return CP_NONE;
}

/* The 400 of a helper, sent: the helper then returns AXON_EINVAL, so that
 * its caller stops (errors_send returns how the sending went). */
static int refused(int sent)
{
    (void)sent;
    return AXON_EINVAL;
}

static int no_route(struct axon_req *r)
{
    return errors_send(r, 404, ERR_INVALID_REQUEST, NULL, NULL, NULL, "Invalid URL (%s %s)",
                       r->method, r->path);
}

/* An API write refused: over a cap is the client's 400; the rest as a read's. */
static int send_write_error(struct axon_req *r, int rc, const char *id)
{
    if (rc == AXON_ETOOBIG)
        return errors_send(r, 400, ERR_INVALID_REQUEST, "items", "conversation_too_large", NULL,
                           "The conversation would hold more than AXON_CONV_MAX_MESSAGES=%d "
                           "items or AXON_CONV_MAX_BYTES=%zu bytes.",
                           r->cfg->conv_max_messages, r->cfg->conv_max_bytes);
    return send_store_error(r, rc == AXON_ETIMEDOUT ? AXON_EIO : rc, id);
}

/* Refuses any member of body but the names given (NULL-terminated), in
 * the Responses family's words. */
static int only_fields(struct axon_req *r, json_object *body, const char *const *names)
{
    struct json_object_iter it;
    json_object_object_foreachC(body, it)
    {
        bool known = false;
        for (size_t i = 0; names[i] && !known; i++)
            known = strcmp(it.key, names[i]) == 0;
        if (!known) {
            size_t n = strnlen(it.key, 64);
            return refused(errors_send(r, 400, ERR_INVALID_REQUEST, it.key[n] ? NULL : it.key,
                                       "unknown_parameter", NULL, "Unknown parameter: '%.*s%s'.",
                                       (int)n, it.key, it.key[n] ? "..." : ""));
        }
    }
    return AXON_OK;
}

/* metadata (borrowed: absent or null is none) checked as chat's (16 pairs,
 * 64-character keys, 512-character strings: oai_validate's words) and
 * printed compact into out (CONV_METADATA_MAX + 1 bytes; "" for none). */
static int metadata_take(struct axon_req *r, json_object *md, char *out)
{
    out[0] = '\0';
    if (!md || json_object_is_type(md, json_type_null))
        return AXON_OK;
    /* The chat request's metadata rules, checked in a request made for it. */
    json_object *req = json_object_new_object();
    json_object *msgs = json_object_new_array();
    json_object *u = json_object_new_object();
    json_object_object_add(u, "role", json_object_new_string("user"));
    json_object_object_add(u, "content", json_object_new_string("-"));
    json_object_array_add(msgs, u);
    json_object_object_add(req, "model", json_object_new_string("-"));
    json_object_object_add(req, "messages", msgs);
    json_object_object_add(req, "metadata", json_object_get(md));
    struct api_error e;
    int rc = oai_validate_chat(req, true, &e);
    json_object_put(req);
    if (rc)
        return refused(errors_send_api(r, &e));
    if (json_object_object_length(md) == 0)
        return AXON_OK;
    size_t len = 0;
    const char *s = json_object_to_json_string_length(
        md, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    if (len > CONV_METADATA_MAX) /* cannot happen within the checks above */
        return refused(errors_send(r, 400, ERR_INVALID_REQUEST, "metadata", "invalid_value", NULL,
                           "Invalid 'metadata': too large."));
    memcpy(out, s, len);
    out[len] = '\0';
    return AXON_OK;
}

/* ---- items sent in, as chat messages ---- */

/* The Responses parser's words name the input ("input[2].content"): here
 * the same things sit in "items". */
static void name_items(char *s, size_t cap)
{
    char out[2048];
    size_t o = 0;
    for (const char *p = s; *p && o + 1 < sizeof out;) {
        if (!strncmp(p, "input", 5) && (p[5] == '[' || p[5] == '\'' || p[5] == '\0' ||
                                        p[5] == '.')) {
            o += (size_t)snprintf(out + o, sizeof out - o, "items");
            p += 5;
        } else {
            out[o++] = *p++;
        }
    }
    out[o < sizeof out ? o : sizeof out - 1] = '\0';
    snprintf(s, cap, "%s", out);
}

/* items (a JSON array, borrowed) as chat messages appended to out, by the
 * Responses parser (resp_in.h): the same mapping and refusals as the input
 * of POST /v1/responses, so what one takes the other takes. Without
 * lookups: an item_reference is a 404 and a sealed reasoning item a 400
 * (a conversation holds what was said, not references to it). */
static int items_to_messages(json_object *items, json_object *out, struct api_error *e)
{
    json_object *body = json_object_new_object(), *req = NULL;
    json_object_object_add(body, "model", json_object_new_string("stored"));
    json_object_object_add(body, "input", json_object_get(items));
    struct resp_meta meta;
    memset(&meta, 0, sizeof meta);
    int rc = resp_parse(body, NULL, &req, &meta, e);
    json_object_put(body);
    resp_meta_free(&meta);
    if (rc) {
        name_items(e->param, sizeof e->param);
        name_items(e->message, sizeof e->message);
        return rc;
    }
    json_object *msgs = jsonv_member(req, "messages");
    for (size_t i = 0; i < json_object_array_length(msgs); i++)
        json_object_array_add(out, json_object_get(json_object_array_get_idx(msgs, i)));
    json_object_put(req);
    return AXON_OK;
}

/* The body's items (absent or null: none; else an array of at most 20) as
 * chat messages: *out new (json_object_put), or NULL after the 400 was sent. */
static int body_items(struct axon_req *r, json_object *body, bool required, json_object **out)
{
    *out = NULL;
    json_object *items = jsonv_member(body, "items");
    if ((!items || json_object_is_type(items, json_type_null)) && required)
        return refused(errors_send(r, 400, ERR_INVALID_REQUEST, "items", "missing_required_parameter",
                           NULL, "Missing required parameter: 'items'."));
    json_object *msgs = json_object_new_array();
    if (!items || json_object_is_type(items, json_type_null)) {
        *out = msgs;
        return AXON_OK;
    }
    if (!json_object_is_type(items, json_type_array)) {
        json_object_put(msgs);
        return refused(errors_send(r, 400, ERR_INVALID_REQUEST, "items", "invalid_type", NULL,
                           "Invalid type for 'items': expected an array of input items."));
    }
    size_t n = json_object_array_length(items);
    if (n > CONV_API_ITEMS_MAX) {
        json_object_put(msgs);
        return refused(errors_send(r, 400, ERR_INVALID_REQUEST, "items", "array_above_max_length", NULL,
                           "Invalid 'items': array too long. Expected an array with maximum "
                           "length %d, but got an array with length %zu instead.",
                           CONV_API_ITEMS_MAX, n));
    }
    struct api_error e;
    if (items_to_messages(items, msgs, &e)) {
        json_object_put(msgs);
        return refused(errors_send_api(r, &e));
    }
    *out = msgs;
    return AXON_OK;
}

/* ---- POST /v1/conversations ---- */

int conv_http_create(struct axon_req *r)
{
    json_object *body = NULL;
    int rc = chat_read_json_object(r, &body);
    if (rc)
        return rc;
    static const char *const fields[] = {"items", "metadata", NULL};
    char *md = xcalloc(1, CONV_METADATA_MAX + 1);
    json_object *msgs = NULL;
    rc = only_fields(r, body, fields);
    if (!rc)
        rc = metadata_take(r, jsonv_member(body, "metadata"), md);
    if (!rc)
        rc = body_items(r, body, false, &msgs);
    if (!rc) {
        char id[CONV_ID_MAX + 1];
        conv_new_id(id, true);
        long long created = 0;
        rc = conv_create_api(r->cfg, id, r->tenant, md, msgs, &created);
        if (rc) {
            rc = send_write_error(r, rc, id);
        } else {
            json_object *mdo = NULL;
            if (md[0] && jsonv_parse(md, strlen(md), 2, &mdo))
                mdo = NULL;
            rc = send_conversation(r, id, created, mdo);
            json_object_put(mdo);
        }
    }
    json_object_put(msgs);
    json_object_put(body);
    free(md);
    return rc;
}

/* ---- POST /v1/conversations/{id}: the metadata ---- */

static int conv_update(struct axon_req *r, const char *id)
{
    int rc = AXON_OK;
    if (!id_usable(r, id, &rc))
        return rc;
    json_object *body = NULL;
    rc = chat_read_json_object(r, &body);
    if (rc)
        return rc;
    static const char *const fields[] = {"metadata", NULL};
    char *md = xcalloc(1, CONV_METADATA_MAX + 1);
    json_object *v = jsonv_member(body, "metadata");
    rc = only_fields(r, body, fields);
    if (!rc && !v)
        rc = refused(errors_send(r, 400, ERR_INVALID_REQUEST, "metadata",
                                 "missing_required_parameter", NULL,
                                 "Missing required parameter: 'metadata'."));
    if (!rc)
        rc = metadata_take(r, v, md);
    if (!rc) {
        long long created = 0;
        rc = conv_set_metadata(id, r->tenant, md, &created);
        if (rc) {
            rc = send_store_error(r, rc, id);
        } else {
            json_object *mdo = NULL;
            if (md[0] && jsonv_parse(md, strlen(md), 2, &mdo))
                mdo = NULL;
            rc = send_conversation(r, id, created, mdo);
            json_object_put(mdo);
        }
    }
    json_object_put(body);
    free(md);
    return rc;
}

/* ---- items out ---- */

/* The most an answer of items takes: a view repeats little of what is
 * stored (ids, types, empty annotations), and what is stored is capped. */
static size_t view_cap(const struct axon_req *r)
{
    return 2 * r->cfg->conv_max_bytes + ((size_t)1 << 20);
}

/* A list object of items (borrowed, in the order given) from `from`, at
 * most limit of them; has_more when more follow. */
static int send_item_list(struct axon_req *r, json_object *items, size_t from, size_t limit)
{
    size_t n = json_object_array_length(items);
    size_t end = from + limit < n ? from + limit : n;
    struct buf b = BUF_INIT(view_cap(r));
    int rc = buf_puts(&b, "{\"object\":\"list\",\"data\":[");
    for (size_t i = from; !rc && i < end; i++) {
        rc = i > from ? buf_puts(&b, ",") : AXON_OK;
        if (!rc)
            rc = jsonv_write(&b, json_object_array_get_idx(items, i));
    }
    const char *fid = from < end ? jsonv_member_str(json_object_array_get_idx(items, from), "id")
                                 : NULL;
    const char *lid = from < end ? jsonv_member_str(json_object_array_get_idx(items, end - 1), "id")
                                 : NULL;
    /* The spec requires first_id and last_id as strings: "" for an empty page
     * would not name an item, so null, as the list route does. */
    if (!rc && fid && lid)
        rc = buf_printf(&b, "],\"first_id\":\"%s\",\"last_id\":\"%s\"", fid, lid);
    else if (!rc)
        rc = buf_puts(&b, "],\"first_id\":null,\"last_id\":null");
    if (!rc)
        rc = buf_printf(&b, ",\"has_more\":%s}", end < n ? "true" : "false");
    if (!rc)
        rc = io_send_json(r, 200, b.p, b.len, NULL);
    buf_free(&b);
    return rc;
}

/* The items of msgs (positions; nulls are tombstones), oldest first. */
static int view_items(json_object *msgs, const char *id, long first_pos, json_object **out)
{
    *out = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(msgs); i++) {
        json_object *m = json_object_array_get_idx(msgs, i);
        if (m && items_from_message(m, id, first_pos + (long)i, *out)) {
            json_object_put(*out);
            *out = NULL;
            return AXON_EPROTO;
        }
    }
    return AXON_OK;
}

/* GET /v1/conversations/{id}/items?after&limit&order&include[] */
static int items_list(struct axon_req *r, const char *id)
{
    int rc = AXON_OK;
    if (!id_usable(r, id, &rc))
        return rc;
    int64_t limit = 20;
    size_t len;
    const char *v = text_query_get(r->query, "limit", &len);
    if (v && text_parse_i64_n(v, len, 1, 100, &limit))
        return errors_send(r, 400, ERR_INVALID_REQUEST, "limit", "integer_out_of_range", NULL,
                           "Invalid 'limit': expected an integer from 1 to 100.");
    bool asc = false; /* OpenAI's default: desc, newest first */
    v = text_query_get(r->query, "order", &len);
    if (v && len == 3 && !memcmp(v, "asc", 3))
        asc = true;
    else if (v && !(len == 4 && !memcmp(v, "desc", 4)))
        return errors_send(r, 400, ERR_INVALID_REQUEST, "order", "invalid_value", NULL,
                           "Invalid value for 'order': expected one of 'asc' or 'desc'.");
    char after[RESP_ITEM_ID_MAX + 1] = "";
    v = text_query_get(r->query, "after", &len);
    if (v && len <= RESP_ITEM_ID_MAX) {
        memcpy(after, v, len);
        after[len] = '\0';
    } else if (v) {
        after[0] = '!'; /* names no item: refused below */
        after[1] = '\0';
    }
    json_object *msgs = NULL, *items = NULL;
    struct conv_meta m;
    rc = conv_load_positions(r->cfg, id, r->tenant, &msgs, &m, NULL);
    if (rc)
        return send_store_error(r, rc, id);
    rc = view_items(msgs, id, 0, &items);
    json_object_put(msgs);
    if (rc)
        return send_store_error(r, rc, id);
    size_t n = json_object_array_length(items);
    if (!asc) {
        for (size_t i = 0; i < n / 2; i++) {
            json_object *a = json_object_get(json_object_array_get_idx(items, i));
            json_object *b = json_object_get(json_object_array_get_idx(items, n - 1 - i));
            json_object_array_put_idx(items, i, b);
            json_object_array_put_idx(items, n - 1 - i, a);
        }
    }
    size_t from = 0;
    if (v) {
        while (from < n && strcmp(jsonv_member_str(json_object_array_get_idx(items, from), "id"),
                                  after) != 0)
            from++;
        if (from == n) {
            json_object_put(items);
            return errors_send(r, 404, ERR_INVALID_REQUEST, "after", NULL, NULL,
                               "Item with id '%s' not found.",
                               after[0] == '!' ? "(too long)" : after);
        }
        from++;
    }
    rc = send_item_list(r, items, from, (size_t)limit);
    json_object_put(items);
    return rc;
}

/* POST /v1/conversations/{id}/items */
static int items_create(struct axon_req *r, const char *id)
{
    int rc = AXON_OK;
    if (!id_usable(r, id, &rc))
        return rc;
    json_object *body = NULL;
    rc = chat_read_json_object(r, &body);
    if (rc)
        return rc;
    static const char *const fields[] = {"items", NULL};
    json_object *msgs = NULL, *items = NULL;
    rc = only_fields(r, body, fields);
    if (!rc)
        rc = body_items(r, body, true, &msgs);
    if (!rc && json_object_array_length(msgs) == 0)
        rc = refused(errors_send(r, 400, ERR_INVALID_REQUEST, "items", "empty_array", NULL,
                                 "Invalid 'items': empty array. Expected an array with minimum "
                                 "length 1, but got an empty array instead."));
    long first = 0;
    if (!rc && (rc = conv_items_append(r->cfg, id, r->tenant, msgs, &first)) != AXON_OK)
        rc = send_write_error(r, rc, id);
    else if (!rc && (rc = view_items(msgs, id, first, &items)) != AXON_OK)
        rc = send_store_error(r, rc, id);
    else if (!rc)
        rc = send_item_list(r, items, 0, json_object_array_length(items));
    json_object_put(items);
    json_object_put(msgs);
    json_object_put(body);
    return rc;
}

/* An item id of conversation id: its position (the 404 sent otherwise). */
static bool item_of(struct axon_req *r, const char *id, const char *item, long *pos, int *rc)
{
    char cid[RESP_CONV_ID_LEN + 1];
    enum resp_item_kind kind;
    int part;
    size_t n = strnlen(item, RESP_ITEM_ID_MAX + 1);
    bool ours = n <= RESP_ITEM_ID_MAX && !resp_item_id_parse(item, n, &kind, cid, pos, &part);
    if (ours && strcmp(cid, id) == 0)
        return true;
    /* Another conversation's item is not found in this one. A string that
     * is no item id Axon gives is not echoed (as a malformed conversation
     * id is not): it came from the path. */
    if (ours)
        *rc = errors_send(r, 404, ERR_INVALID_REQUEST, NULL, NULL, NULL,
                          "Item with id '%s' not found.", item);
    else
        *rc = errors_send(r, 404, ERR_INVALID_REQUEST, NULL, NULL, NULL,
                          "Item not found: item ids are msg_, rs_, fc_ or fco_ followed by %d "
                          "lowercase hexadecimal digits.",
                          RESP_ID_HEX + RESP_POS_HEX + RESP_PART_HEX);
    return false;
}

/* GET /v1/conversations/{id}/items/{item_id} */
static int item_get(struct axon_req *r, const char *id, const char *item)
{
    int rc = AXON_OK;
    long pos = 0;
    if (!id_usable(r, id, &rc) || !item_of(r, id, item, &pos, &rc))
        return rc;
    json_object *msg = NULL, *it = NULL;
    rc = conv_item_get(id, r->tenant, pos, &msg);
    if (rc == AXON_ENOTFOUND) /* the item, or its conversation (another tenant's too) */
        return errors_send(r, 404, ERR_INVALID_REQUEST, NULL, NULL, NULL,
                           "Item with id '%s' not found.", item);
    if (rc)
        return send_store_error(r, rc, id);
    rc = items_pick(msg, id, pos, item, 0, &it);
    json_object_put(msg);
    if (rc == AXON_ENOTFOUND)
        return errors_send(r, 404, ERR_INVALID_REQUEST, NULL, NULL, NULL,
                           "Item with id '%s' not found.", item);
    if (rc)
        return send_store_error(r, rc, id);
    struct buf b = BUF_INIT(view_cap(r));
    rc = jsonv_write(&b, it);
    json_object_put(it);
    if (!rc)
        rc = io_send_json(r, 200, b.p, b.len, NULL);
    buf_free(&b);
    return rc;
}

/* DELETE /v1/conversations/{id}/items/{item_id}: the stored message the
 * item is part of becomes a tombstone (all its items go: docs). */
static int item_delete(struct axon_req *r, const char *id, const char *item)
{
    int rc = AXON_OK;
    long pos = 0;
    if (!id_usable(r, id, &rc) || !item_of(r, id, item, &pos, &rc))
        return rc;
    /* The item must be one the message has (not only its position). */
    json_object *msg = NULL, *it = NULL;
    rc = conv_item_get(id, r->tenant, pos, &msg);
    if (!rc) {
        rc = items_pick(msg, id, pos, item, 0, &it);
        json_object_put(it);
        json_object_put(msg);
    }
    long long created = 0;
    json_object *md = NULL;
    if (!rc)
        rc = conv_item_delete(id, r->tenant, pos, &created, &md);
    if (rc == AXON_ENOTFOUND)
        return errors_send(r, 404, ERR_INVALID_REQUEST, NULL, NULL, NULL,
                           "Item with id '%s' not found.", item);
    if (rc)
        return send_store_error(r, rc, id);
    rc = send_conversation(r, id, created, md);
    json_object_put(md);
    return rc;
}

/* ---- the routes under /v1/conversations/ ---- */

int conv_http_get(struct axon_req *r)
{
    char id[CONV_ID_MAX + 1];
    const char *item;
    switch (path_split(r->route_arg, id, &item)) {
    case CP_CONV: return conv_get_one(r, id);
    case CP_ITEMS: return items_list(r, id);
    case CP_ITEM: return item_get(r, id, item);
    default: return no_route(r);
    }
}

int conv_http_post(struct axon_req *r)
{
    char id[CONV_ID_MAX + 1];
    const char *item;
    switch (path_split(r->route_arg, id, &item)) {
    case CP_CONV: return conv_update(r, id);
    case CP_ITEMS: return items_create(r, id);
    default: return no_route(r);
    }
}

int conv_http_delete(struct axon_req *r)
{
    char id[CONV_ID_MAX + 1];
    const char *item;
    switch (path_split(r->route_arg, id, &item)) {
    case CP_CONV: return conv_delete_one(r, id);
    case CP_ITEM: return item_delete(r, id, item);
    default: return no_route(r);
    }
}
