/* fake_fcgi.h - libfcgi without a web server, for unit tests that drive the
 * responder's I/O. The stream calls fcgi_io.c makes are wrapped at link time
 * (-Wl,--wrap, FCGI_WRAP in the Makefile): a request is a table of CGI params
 * plus a body, and the answer is the bytes the responder wrote, kept in `out`.
 *
 * Include it in exactly one file of a test program (it defines the wrappers
 * and the state), after <cmocka.h> and "buf.h". Before each request set
 * params (NULL-terminated), body/body_len/body_pos, out_error, and
 * buf_reset(&out); free out with buf_free at the end. */
#ifndef AXON_TEST_FAKE_FCGI_H
#define AXON_TEST_FAKE_FCGI_H

#include <string.h>
#include <fcgiapp.h>

#include "buf.h"

static const char *params[16][2];
static const char *body;
static size_t body_len, body_pos;
static struct buf out = BUF_INIT(1 << 20);
static int out_error;

char *__wrap_FCGX_GetParam(const char *name, FCGX_ParamArray envp);
char *__wrap_FCGX_GetParam(const char *name, FCGX_ParamArray envp)
{
    (void)envp;
    for (int i = 0; params[i][0]; i++)
        if (!strcmp(params[i][0], name))
            return (char *)params[i][1];
    return NULL;
}
int __wrap_FCGX_GetStr(char *str, int n, FCGX_Stream *s);
int __wrap_FCGX_GetStr(char *str, int n, FCGX_Stream *s)
{
    (void)s;
    size_t left = body_len - body_pos, take = left < (size_t)n ? left : (size_t)n;
    if (take) /* no body at all: body may be NULL */
        memcpy(str, body + body_pos, take);
    body_pos += take;
    return (int)take;
}
int __wrap_FCGX_PutStr(const char *str, int n, FCGX_Stream *s);
int __wrap_FCGX_PutStr(const char *str, int n, FCGX_Stream *s)
{
    (void)s;
    assert_int_equal(buf_append(&out, str, (size_t)n), 0);
    return n;
}
int __wrap_FCGX_PutS(const char *str, FCGX_Stream *s);
int __wrap_FCGX_PutS(const char *str, FCGX_Stream *s)
{
    return __wrap_FCGX_PutStr(str, (int)strlen(str), s);
}
int __wrap_FCGX_FFlush(FCGX_Stream *s);
int __wrap_FCGX_FFlush(FCGX_Stream *s)
{
    (void)s;
    return 0;
}
int __wrap_FCGX_GetError(FCGX_Stream *s);
int __wrap_FCGX_GetError(FCGX_Stream *s)
{
    (void)s;
    return out_error;
}

#endif
