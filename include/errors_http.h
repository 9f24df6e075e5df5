/* errors_http.h - an error (errors.h) sent as a complete HTTP answer over
 * FastCGI (fcgi_io.h). Apart from errors.h so that the error value and its
 * envelope link without libfcgi. */
#ifndef AXON_ERRORS_HTTP_H
#define AXON_ERRORS_HTTP_H

#include "axon.h"
#include "errors.h"
#include "reqctx.h"

/* Sends e (borrowed) as a complete JSON answer, with its Retry-After and
 * x-should-retry headers. AXON_ESENT if the headers already went out (a
 * stream: its error is an error chunk, oai_out.h). */
int errors_send_api(struct axon_req *r, const struct api_error *e);

/* Sends a complete error answer (application/json) with a formatted message.
 * type, param (NULL: JSON null), code (NULL: JSON null) and extra_headers
 * (may be NULL; "Name: value\r\n" lines) are borrowed. If the headers
 * already went out (a stream), nothing can be sent this way: AXON_ESENT. */
int errors_send(struct axon_req *r, int status, const char *type, const char *param,
                const char *code, const char *extra_headers, const char *fmt, ...)
    AXON_PRINTF(7, 8);

#endif
