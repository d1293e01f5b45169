/* The page's entry points into pocketfft's real transforms (numpy 1.26's numpy/fft/_pocketfft.c
 * without its CPython wrapper, included here as pocketfft.c by build.sh).
 *
 * float32 in and out as the page's arrays, double inside (pocketfft's C version is double only).
 * The spectrum is interleaved complex (re, im) for bins 0..n/2, numpy's layout: the same copies
 * around FFTPACK's half-complex order as numpy's execute_real_forward/_backward. */
#include <assert.h> /* Python.h brought it in numpy */
#include "pocketfft.c"

typedef struct real_fft {
  rfft_plan plan;
  size_t n;
  double *buf; /* n + 2 doubles */
} real_fft;

real_fft *real_fft_new(int n) {
  if (n < 2 || n % 2) return NULL;
  real_fft *f = malloc(sizeof(real_fft));
  if (!f) return NULL;
  f->n = (size_t)n;
  f->plan = make_rfft_plan(f->n);
  f->buf = malloc((f->n + 2) * sizeof(double));
  if (!f->plan || !f->buf) {
    if (f->plan) destroy_rfft_plan(f->plan);
    free(f->buf);
    free(f);
    return NULL;
  }
  return f;
}

void real_fft_free(real_fft *f) {
  if (!f) return;
  destroy_rfft_plan(f->plan);
  free(f->buf);
  free(f);
}

/* freq (n + 2 floats: bins 0..n/2 as re, im) = the unnormalised transform of time (n floats). */
int real_fft_forward(real_fft *f, const float *time, float *freq) {
  size_t n = f->n;
  double *r = f->buf;
  for (size_t i = 0; i < n; i++) r[i + 1] = time[i];
  if (rfft_forward(f->plan, r + 1, 1.0) != 0) return -1;
  r[0] = r[1];
  r[1] = 0.0;
  r[n + 1] = 0.0; /* n even: the Nyquist bin is real */
  for (size_t i = 0; i < n + 2; i++) freq[i] = (float)r[i];
  return 0;
}

/* time (n floats) = the inverse transform of freq (n + 2 floats), divided by n; the imaginary
 * parts of bins 0 and n/2 are ignored. */
int real_fft_inverse(real_fft *f, const float *freq, float *time) {
  size_t n = f->n;
  double *r = f->buf;
  r[0] = freq[0];
  for (size_t i = 1; i < n; i++) r[i] = freq[i + 1];
  if (rfft_backward(f->plan, r, 1.0 / (double)n) != 0) return -1;
  for (size_t i = 0; i < n; i++) time[i] = (float)r[i];
  return 0;
}
