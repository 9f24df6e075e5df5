/* errors.h - the OpenAI error envelope, built in one place:
 *   {"error":{"message":"…","type":"…","param":null|"…","code":null|"…"}}
 * All four keys are always present, as the OpenAI spec requires.
 *
 * This is the error as a value: filling it and writing its JSON need no
 * request and no I/O, so the validator and the translators link only this.
 * Sending it as an HTTP answer is errors_http.h's. */
#ifndef AXON_ERRORS_H
#define AXON_ERRORS_H

#include <stdbool.h>

#include "axon.h"
#include "buf.h"

#define ERR_INVALID_REQUEST "invalid_request_error"
#define ERR_SERVER "server_error"

/* OpenAI's own words, which clients and their tests match on. */
#define ERR_MSG_BAD_JSON                                                                    \
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't " \
    "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was " \
    "sent was not valid JSON. If you have trouble figuring out how to fix this, please "     \
    "contact us through our help center at help.openai.com.)"
#define ERR_MSG_NO_KEY                                                                       \
    "You didn't provide an API key. You need to provide your API key in an Authorization "    \
    "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password "     \
    "field (with blank username) if you're accessing the API from your browser and are "      \
    "prompted for a username and password. You can obtain an API key from "                   \
    "https://platform.openai.com/account/api-keys."

/* One API error, filled where it is found (validation, model lookup, the
 * upstream) and answered once, by errors_send_api (errors_http.h) or as a
 * stream's error chunk. Fixed-size: filling it never allocates. */
struct api_error {
    int status;           /* HTTP status, 0 while unset */
    const char *type;     /* static string: ERR_INVALID_REQUEST, ... */
    const char *code;     /* static string or NULL (JSON null) */
    char param[256];      /* JSON path such as "messages[0].content"; "" is null */
    char message[2048];
    char retry_after[24]; /* passed on as Retry-After when not "" */
    bool no_retry;        /* adds x-should-retry: false */
};

/* Fills e (param may be NULL); the message is formatted and cut to fit. */
void api_error_set(struct api_error *e, int status, const char *type, const char *code,
                   const char *param, const char *fmt, ...) AXON_PRINTF(6, 7);
/* Appends e's envelope to out (for a stream's error chunk). */
int errors_envelope_api(struct buf *out, const struct api_error *e) AXON_MUST_CHECK;

/* Appends the envelope to out. param and code may be NULL (JSON null);
 * message is borrowed. */
int errors_envelope(struct buf *out, const char *message, const char *type, const char *param,
                    const char *code) AXON_MUST_CHECK;

#endif
