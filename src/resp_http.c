/* resp_http.c - GET and DELETE /v1/responses/{id}, and
 * GET /v1/responses/{id}/input_items (resp_store.h does the reads).
 *
 * The words of the errors are OpenAI's: an id that does not begin with
 * "resp" is a 400 ("Invalid 'response_id': ..."), any other id Axon does not
 * have for the caller's key (unknown, expired, deleted, another key's, or
 * one Axon cannot have made) the same 404 ("Response with id '...' not
 * found."), so the ids of others cannot be probed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "errors.h"
#include "errors_http.h"
#include "fcgi_io.h"
#include "handlers.h"
#include "jsonv.h"
#include "resp_store.h"
#include "text.h"

#define ID_ECHO_MAX 128          /* bytes of a path's id echoed in an error */
#define INPUT_ITEMS "/input_items"
#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* The id of the path (the route's argument up to a '/', or all of it) into
 * id (ID_ECHO_MAX + 1 bytes, cut: a longer one is no id of ours anyway);
 * *sub the rest ("" or "/input_items" or anything else). */
static void split_path(const char *arg, char *id, const char **sub)
{
    const char *slash = strchr(arg, '/');
    size_t n = slash ? (size_t)(slash - arg) : strlen(arg);
    *sub = slash ? slash : "";
    if (n > ID_ECHO_MAX)
        n = ID_ECHO_MAX;
    memcpy(id, arg, n);
    id[n] = '\0';
}

/* The answer to a store error for response id. */
static int send_error(struct axon_req *r, int rc, const char *id)
{
    struct api_error e;
    if (rc == AXON_ENOTFOUND)
        api_error_set(&e, 404, ERR_INVALID_REQUEST, NULL, NULL,
                      "Response with id '%s' not found.", id);
    else if (rc == AXON_EIO) {
        api_error_set(&e, 503, ERR_SERVER, "valkey_unavailable", NULL,
                      "The response store is unavailable. Please retry shortly.");
        snprintf(e.retry_after, sizeof e.retry_after, "1"); /* the breaker's first cool-down */
    } else /* AXON_EPROTO, AXON_EREPLY: what Valkey holds is not a record of ours */
        api_error_set(&e, 500, ERR_SERVER, "response_corrupt", NULL,
                      "Response %s could not be read back.", id);
    return errors_send_api(r, &e);
}

/* True when id may name a response; otherwise the 400 was sent. */
static bool id_usable(struct axon_req *r, const char *id, int *rc)
{
    if (!strncmp(id, "resp", 4))
        return true;
    *rc = errors_send(r, 400, ERR_INVALID_REQUEST, "response_id", "invalid_id_prefix", NULL,
                      "Invalid 'response_id': '%s'. Expected an ID that begins with 'resp'.", id);
    return false;
}

static int send_object(struct axon_req *r, json_object *o)
{
    size_t n = 0;
    const char *s = json_object_to_json_string_length(o, JSON_FLAGS, &n);
    return io_send_json(r, 200, s, n, NULL);
}

static int input_items(struct axon_req *r, const char *id)
{
    struct resp_page pg = {.limit = RESP_LIST_DEFAULT, .desc = true};
    size_t len;
    const char *v = text_query_get(r->query, "limit", &len);
    int64_t limit = RESP_LIST_DEFAULT;
    if (v && text_parse_i64_n(v, len, INT64_MIN, INT64_MAX, &limit))
        return errors_send(r, 400, ERR_INVALID_REQUEST, "limit", "invalid_type", NULL,
                           "Invalid 'limit': expected an integer, but got '%.*s' instead.",
                           (int)(len > ID_ECHO_MAX ? ID_ECHO_MAX : len), v);
    if (limit < 1 || limit > RESP_LIST_MAX)
        return errors_send(r, 400, ERR_INVALID_REQUEST, "limit",
                           limit < 1 ? "integer_below_min_value" : "integer_above_max_value",
                           NULL, "Invalid 'limit': integer %s value. Expected a value %s %d, "
                           "but got %lld instead.",
                           limit < 1 ? "below minimum" : "above maximum", limit < 1 ? ">=" : "<=",
                           limit < 1 ? 1 : RESP_LIST_MAX, (long long)limit);
    pg.limit = (int)limit;
    v = text_query_get(r->query, "order", &len);
    if (v && !(len == 3 && !memcmp(v, "asc", 3)) && !(len == 4 && !memcmp(v, "desc", 4)))
        return errors_send(r, 400, ERR_INVALID_REQUEST, "order", "invalid_value", NULL,
                           "Invalid value: '%.*s'. Supported values are: 'asc' and 'desc'.",
                           (int)(len > ID_ECHO_MAX ? ID_ECHO_MAX : len), v);
    pg.desc = !v || len == 4;
    char after[ID_ECHO_MAX + 1] = "";
    v = text_query_get(r->query, "after", &len);
    if (v) {
        if (len > ID_ECHO_MAX)
            len = ID_ECHO_MAX;
        memcpy(after, v, len);
        after[len] = '\0';
        pg.after = after;
    }
    json_object *list = NULL;
    int rc = resp_input_items(r->cfg, r->tenant, id, &pg, &list);
    if (rc == AXON_EINVAL) /* limit and order were checked: after is no item of it */
        return errors_send(r, 400, ERR_INVALID_REQUEST, "after", "invalid_value", NULL,
                           "Invalid 'after': '%s' is not an item of response '%s'.", after, id);
    if (rc)
        return send_error(r, rc, id);
    rc = send_object(r, list);
    json_object_put(list);
    return rc;
}

int resp_http_get(struct axon_req *r)
{
    char id[ID_ECHO_MAX + 1];
    const char *sub;
    int rc = AXON_OK;
    split_path(r->route_arg, id, &sub);
    if (strcmp(sub, "") && strcmp(sub, INPUT_ITEMS))
        return errors_send(r, 404, ERR_INVALID_REQUEST, NULL, NULL, NULL,
                           "Invalid URL (GET %s)", r->path);
    if (!id_usable(r, id, &rc))
        return rc;
    if (*sub)
        return input_items(r, id);
    size_t len;
    const char *v = text_query_get(r->query, "stream", &len);
    if (v && len == 4 && !memcmp(v, "true", 4))
        return errors_send(r, 400, ERR_INVALID_REQUEST, "stream", "unsupported_value", NULL,
                           "Axon does not stream stored responses again: retrieve them without "
                           "'stream'.");
    json_object *rec = NULL;
    rc = resp_get(r->cfg, r->tenant, id, &rec);
    if (rc)
        return send_error(r, rc, id);
    rc = send_object(r, jsonv_member(rec, "response"));
    json_object_put(rec);
    return rc;
}

int resp_http_delete(struct axon_req *r)
{
    char id[ID_ECHO_MAX + 1];
    const char *sub;
    int rc = AXON_OK;
    split_path(r->route_arg, id, &sub);
    if (*sub)
        return errors_send(r, 404, ERR_INVALID_REQUEST, NULL, NULL, NULL,
                           "Invalid URL (DELETE %s)", r->path);
    if (!id_usable(r, id, &rc))
        return rc;
    rc = resp_delete(r->cfg, r->tenant, id);
    if (rc)
        return send_error(r, rc, id);
    struct buf b = BUF_INIT(256);
    rc = buf_puts(&b, "{\"id\":");
    if (!rc)
        rc = buf_json_str(&b, id, strlen(id));
    if (!rc)
        rc = buf_puts(&b, ",\"object\":\"response\",\"deleted\":true}");
    if (!rc)
        rc = io_send_json(r, 200, b.p, b.len, NULL);
    buf_free(&b);
    return rc;
}
