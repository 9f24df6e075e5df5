/* test_memcap.c - the request-bytes-in-flight count: a reservation fits or
 * is refused as too big (alone above the cap) or busy (not beside the
 * others), a release makes room again, and threads racing for the last
 * room never pass the cap together. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "memcap.h"

#define MiB ((size_t)1 << 20)

static void test_fits_refuses_and_releases(void **state)
{
    (void)state;
    assert_int_equal(memcap_in_use(), 0);
    /* Three 15 MiB bodies under 48 MiB; a fourth is busy, not too big. */
    for (int i = 0; i < 3; i++)
        assert_int_equal(memcap_reserve(48 * MiB, 15 * MiB), AXON_OK);
    assert_int_equal(memcap_in_use(), 45 * MiB);
    assert_int_equal(memcap_reserve(48 * MiB, 15 * MiB), AXON_EBUSY);
    assert_int_equal(memcap_in_use(), 45 * MiB); /* a refusal reserves nothing */
    /* Exactly up to the cap fits. */
    assert_int_equal(memcap_reserve(48 * MiB, 3 * MiB), AXON_OK);
    assert_int_equal(memcap_reserve(48 * MiB, 1), AXON_EBUSY);
    memcap_release(3 * MiB);
    /* A release makes room for the next one. */
    memcap_release(15 * MiB);
    assert_int_equal(memcap_reserve(48 * MiB, 15 * MiB), AXON_OK);
    for (int i = 0; i < 3; i++)
        memcap_release(15 * MiB);
    memcap_release(0);
    assert_int_equal(memcap_in_use(), 0);
}

static void test_too_big_alone(void **state)
{
    (void)state;
    /* Above the cap with nothing else in flight: it can never fit (413). */
    assert_int_equal(memcap_reserve(4 * MiB, 5 * MiB), AXON_ETOOBIG);
    assert_int_equal(memcap_reserve(4 * MiB, 4 * MiB), AXON_OK);
    /* Too big stays too big whatever else is reserved. */
    assert_int_equal(memcap_reserve(4 * MiB, 5 * MiB), AXON_ETOOBIG);
    /* No wrap-around near SIZE_MAX. */
    assert_int_equal(memcap_reserve(SIZE_MAX, SIZE_MAX), AXON_EBUSY);
    memcap_release(4 * MiB);
    assert_int_equal(memcap_in_use(), 0);
}

#define RACERS 8
#define ROUNDS 20000
#define CAP (10 * MiB)
#define EACH (3 * MiB)
static atomic_size_t peak;
static atomic_int refused;

static void *racer(void *arg)
{
    (void)arg;
    for (int i = 0; i < ROUNDS; i++) {
        if (memcap_reserve(CAP, EACH) != AXON_OK) {
            atomic_fetch_add(&refused, 1);
            continue;
        }
        size_t now = memcap_in_use(), p = atomic_load(&peak);
        while (now > p && !atomic_compare_exchange_weak(&peak, &p, now)) {
        }
        memcap_release(EACH);
    }
    return NULL;
}

static void test_racing_threads_never_pass_the_cap(void **state)
{
    (void)state;
    pthread_t t[RACERS];
    for (int i = 0; i < RACERS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, racer, NULL), 0);
    for (int i = 0; i < RACERS; i++)
        pthread_join(t[i], NULL);
    assert_true(atomic_load(&peak) <= CAP);
    assert_true(atomic_load(&peak) >= EACH);
    assert_int_equal(memcap_in_use(), 0); /* every reservation came back */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fits_refuses_and_releases),
        cmocka_unit_test(test_too_big_alone),
        cmocka_unit_test(test_racing_threads_never_pass_the_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
