// What sharing data between the two cores costs on this VM: the round trip of a cache line between two threads pinned to
// cores 0 and 1 (each waits for the other's store), and how fast core 0 reads a buffer core 1 has just written, against
// one it wrote itself. The SIMD backend's threads hand each layer's output to the next layer this way.
//
//   gcc -O2 -mavx512f -pthread tests/DslResNet.Benchmarks/Probes/core_to_core.c -o /tmp/core_to_core && /tmp/core_to_core
//
// (gcc, not part of the build or the tests; a diagnostic of the machine, as `microkernel` is of the kernels.)
#define _GNU_SOURCE
#include <immintrin.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TRIPS 2000000

static _Atomic long flag __attribute__((aligned(64)));
static float *buffer;
static size_t floats;
static volatile float sink;

static void pin(int core)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(core, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void *echo(void *unused)
{
    pin(1);
    for (long i = 0; i < TRIPS; i++)
    {
        while (atomic_load_explicit(&flag, memory_order_acquire) != 2 * i + 1)
        {
        }

        atomic_store_explicit(&flag, 2 * i + 2, memory_order_release);
    }

    return unused;
}

static void fill(float value)
{
    for (size_t i = 0; i < floats; i++)
    {
        buffer[i] = value;
    }
}

static double read_all(void)
{
    double t0 = now();
    __m512 a = _mm512_setzero_ps(), b = a;
    for (size_t i = 0; i < floats; i += 32)
    {
        a = _mm512_add_ps(a, _mm512_load_ps(buffer + i));
        b = _mm512_add_ps(b, _mm512_load_ps(buffer + i + 16));
    }

    sink = _mm512_reduce_add_ps(_mm512_add_ps(a, b));
    return now() - t0;
}

static void *writer(void *unused)
{
    pin(1);
    for (int r = 0; r < 20; r++)
    {
        while (atomic_load(&flag) != 2 * r + 1)
        {
        }

        fill((float)r);
        atomic_store(&flag, 2 * r + 2);
    }

    return unused;
}

int main(void)
{
    pthread_t thread;
    pin(0);
    atomic_store(&flag, 0);
    pthread_create(&thread, NULL, echo, NULL);
    double t0 = now();
    for (long i = 0; i < TRIPS; i++)
    {
        atomic_store_explicit(&flag, 2 * i + 1, memory_order_release);
        while (atomic_load_explicit(&flag, memory_order_acquire) != 2 * i + 2)
        {
        }
    }

    double t1 = now();
    pthread_join(thread, NULL);
    printf("cache line round trip between cores 0 and 1: %.0f ns\n", (t1 - t0) / TRIPS * 1e9);

    size_t sizes[] = {128, 512, 2048, 16384, 262144};
    for (int s = 0; s < 5; s++)
    {
        floats = sizes[s] * 256;
        buffer = aligned_alloc(64, floats * sizeof(float));
        memset(buffer, 0, floats * sizeof(float));
        atomic_store(&flag, 0);
        pthread_create(&thread, NULL, writer, NULL);
        double remote = 1e9, local = 1e9;
        for (int r = 0; r < 20; r++)
        {
            atomic_store(&flag, 2 * r + 1);
            while (atomic_load(&flag) != 2 * r + 2)
            {
            }

            double d = read_all();
            remote = d < remote ? d : remote;
            fill((float)r);
            d = read_all();
            local = d < local ? d : local;
        }

        pthread_join(thread, NULL);
        printf("%7zu KB read by core 0: written by core 1 %5.1f GB/s, by core 0 %5.1f GB/s\n", sizes[s], floats * 4 / remote / 1e9, floats * 4 / local / 1e9);
        free(buffer);
    }

    return 0;
}
