/* Per-sample SGD (batch 1) of a fully connected ReLU net with a linear output
 * and MSE on one-hot targets, in float32: the compiled CPU reference of
 * `layerpipe bench` (layerpipe/scripts/cpu_reference.py builds and runs it).
 *
 * The training is the golden model's `sequential` mode in floating point
 * (sim/golden.py, FloatArithmetic): per sample, forward z_l = W_l a_{l-1} + b_l,
 * a_l = relu(z_l) (linear on the last layer); delta_L = a_L - y; then for
 * l = L..1: delta_l = g_l * f'(z_l), g_{l-1} = W_l^T delta_l (with W_l before
 * its update), W_l -= lr delta_l a_{l-1}^T, b_l -= lr delta_l.
 * The backward of a layer reads each weight once: g and the update share
 * one sweep over W (row-major, one row per output).
 *
 * Usage: cpu_sgd IN OUT
 *   IN  (little-endian): int32 L, int32 widths[L+1], float64 lr,
 *       int32 samples, int32 repeats, then per layer float32 W[n_out][n_in]
 *       and float32 b[n_out], then float32 x[samples][n_0], int32 label[samples].
 *   OUT the weights and biases after the last repeat, in IN's layer order.
 * Every repeat trains from IN's initial weights on all samples in order;
 * stdout gets one JSON line: {"seconds": [s_1, ..., s_repeats]}, each the
 * CLOCK_MONOTONIC time of one repeat (training only, no I/O).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <time.h>

static void die(const char *what) { fprintf(stderr, "cpu_sgd: %s\n", what); exit(2); }

static void *load(FILE *f, size_t bytes) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p) die("out of memory");
    if (bytes && fread(p, 1, bytes, f) != bytes) die("input file is too short");
    return p;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static void train_sample(int L, const int32_t *n, float **w, float **b, float **a, float **g,
                         const float *x, int label, float lr) {
    memcpy(a[0], x, sizeof(float) * n[0]);
    for (int l = 1; l <= L; l++) {
        const int ni = n[l - 1], no = n[l];
        const float *restrict in = a[l - 1];
        float *restrict out = a[l];
        const float *restrict W = w[l - 1];
        for (int j = 0; j < no; j++) {
            const float *restrict row = W + (size_t)j * ni;
            float z = b[l - 1][j];
            for (int i = 0; i < ni; i++) z += row[i] * in[i];
            out[j] = (l < L && z <= 0.0f) ? 0.0f : z;
        }
    }
    /* g[L] = a_L - y: the output error; g[l] holds dL/da_l for hidden layers */
    for (int j = 0; j < n[L]; j++) g[L][j] = a[L][j] - (j == label ? 1.0f : 0.0f);
    for (int l = L; l >= 1; l--) {
        const int ni = n[l - 1], no = n[l];
        float *restrict delta = g[l];
        const float *restrict in = a[l - 1];
        float *restrict W = w[l - 1];
        float *restrict bias = b[l - 1];
        if (l < L)                       /* f'(z) of ReLU: a_l > 0 exactly when z_l > 0 */
            for (int j = 0; j < no; j++) if (!(a[l][j] > 0.0f)) delta[j] = 0.0f;
        if (l > 1) {
            float *restrict back = g[l - 1];
            for (int i = 0; i < ni; i++) back[i] = 0.0f;
            for (int j = 0; j < no; j++) {
                const float d = delta[j], step = lr * d;
                float *restrict row = W + (size_t)j * ni;
                for (int i = 0; i < ni; i++) {
                    back[i] += row[i] * d;
                    row[i] -= step * in[i];
                }
                bias[j] -= step;
            }
        } else {
            for (int j = 0; j < no; j++) {
                const float step = lr * delta[j];
                float *restrict row = W + (size_t)j * ni;
                for (int i = 0; i < ni; i++) row[i] -= step * in[i];
                bias[j] -= step;
            }
        }
    }
}

int main(int argc, char **argv) {
    if (argc != 3) die("usage: cpu_sgd IN OUT");
    FILE *f = fopen(argv[1], "rb");
    if (!f) die("cannot open the input file");
    int32_t L;
    if (fread(&L, 4, 1, f) != 1 || L < 1 || L > 64) die("bad layer count");
    int32_t *n = load(f, sizeof(int32_t) * (L + 1));
    double lr;
    int32_t samples, repeats;
    if (fread(&lr, 8, 1, f) != 1 || fread(&samples, 4, 1, f) != 1 || fread(&repeats, 4, 1, f) != 1
        || samples < 1 || repeats < 1) die("bad header");
    float **w0 = malloc(sizeof(float *) * L), **b0 = malloc(sizeof(float *) * L);
    float **w = malloc(sizeof(float *) * L), **b = malloc(sizeof(float *) * L);
    float **a = malloc(sizeof(float *) * (L + 1)), **g = malloc(sizeof(float *) * (L + 1));
    for (int l = 0; l < L; l++) {
        size_t nw = (size_t)n[l] * n[l + 1];
        w0[l] = load(f, sizeof(float) * nw);
        b0[l] = load(f, sizeof(float) * n[l + 1]);
        w[l] = malloc(sizeof(float) * nw);
        b[l] = malloc(sizeof(float) * n[l + 1]);
        if (!w[l] || !b[l]) die("out of memory");
    }
    for (int l = 0; l <= L; l++) {
        a[l] = malloc(sizeof(float) * n[l]);
        g[l] = malloc(sizeof(float) * n[l]);
        if (!a[l] || !g[l]) die("out of memory");
    }
    float *x = load(f, sizeof(float) * (size_t)samples * n[0]);
    int32_t *label = load(f, sizeof(int32_t) * (size_t)samples);
    fclose(f);
    printf("{\"seconds\": [");
    for (int r = 0; r < repeats; r++) {
        for (int l = 0; l < L; l++) {
            memcpy(w[l], w0[l], sizeof(float) * (size_t)n[l] * n[l + 1]);
            memcpy(b[l], b0[l], sizeof(float) * n[l + 1]);
        }
        double t0 = now();
        for (int s = 0; s < samples; s++)
            train_sample(L, n, w, b, a, g, x + (size_t)s * n[0], label[s], (float)lr);
        printf("%s%.9f", r ? ", " : "", now() - t0);
    }
    printf("]}\n");
    FILE *o = fopen(argv[2], "wb");
    if (!o) die("cannot open the output file");
    for (int l = 0; l < L; l++) {
        fwrite(w[l], sizeof(float), (size_t)n[l] * n[l + 1], o);
        fwrite(b[l], sizeof(float), n[l + 1], o);
    }
    fclose(o);
    return 0;
}
