/* python-soxr's csoxr_divide_proc (soxr.resample's path) for interleaved float32, HQ. */
#include <stddef.h>
#include "soxr.h"
size_t resample_f32(double in_rate, double out_rate, unsigned channels,
                    const float *x, size_t ilen, float *y, size_t olen) {
  soxr_error_t err = NULL;
  soxr_io_spec_t io_spec = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
  soxr_t s = soxr_create(in_rate, out_rate, channels, &err, &io_spec, &q, NULL);
  if (err) return (size_t)-1;
  size_t div_len = 48000 * in_rate / out_rate; if (div_len < 1000) div_len = 1000;
  size_t out_pos = 0, odone = 0;
  for (size_t idx = 0; idx < ilen; idx += div_len) {
    size_t n = ilen - idx < div_len ? ilen - idx : div_len;
    err = soxr_process(s, x + idx * channels, n, NULL, y + out_pos * channels, olen - out_pos, &odone);
    out_pos += odone;
  }
  err = soxr_process(s, NULL, 0, NULL, y + out_pos * channels, olen - out_pos, &odone);
  out_pos += odone;
  soxr_delete(s);
  return err ? (size_t)-1 : out_pos;
}
